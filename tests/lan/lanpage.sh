#!/usr/bin/env bash
# The page of the whole network (issue 12): GET /nearby on any server lists
# every branch advertised on the LAN, grouped by root commit, with owner,
# key code and clone lines that work; the first request waits for the
# first browse (and no longer than ~3 s); what is unadvertised leaves the
# page; a stranger's record shows as text, never as markup or a link of
# theirs; the watch stops when nobody looks; without avahi-daemon the page
# says so and the rest is served.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 && host_add mallory 4 && host_add dave 5 \
  || { not_ok "hosts come up"; done_testing; exit 1; }
# dave has no avahi-daemon.
for h in alice bob carol mallory; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done

# webapp on alice (and a branch of it advertised as "nearby", the name of
# the page); carol's clone of it with two branches of her own, and an
# unrelated tool of hers.
mkdir -p "$T/alice/srv" "$T/carol/srv" "$T/bob" "$T/dave/srv"
make_repo "$T/alice/srv/webapp"
(cd "$T/alice/srv/webapp" && on alice git nearby advertise >/dev/null)
git -C "$T/alice/srv/webapp" branch nb main~1
(cd "$T/alice/srv/webapp" && on alice git nearby advertise nearby --branch nb >/dev/null)
git clone -q "$T/alice/srv/webapp" "$T/carol/srv/webapp"
git -C "$T/carol/srv/webapp" checkout -q -b dark-mode
echo dark > "$T/carol/srv/webapp/style.css"
git -C "$T/carol/srv/webapp" add style.css
GIT_COMMITTER_DATE="$(( $(date +%s) - 3 * 3600 )) +0000" git -C "$T/carol/srv/webapp" commit -q -m "Dark mode for the login page"
(cd "$T/carol/srv/webapp" && on carol git nearby advertise >/dev/null)
git -C "$T/carol/srv/webapp" branch experiment main
(cd "$T/carol/srv/webapp" && on carol git nearby advertise carol/experiment --branch experiment >/dev/null)
git init -q -b main "$T/carol/srv/tool"
echo "a tool" > "$T/carol/srv/tool/README"
git -C "$T/carol/srv/tool" add README
git -C "$T/carol/srv/tool" commit -q -m "A tool of carol's, another project"
(cd "$T/carol/srv/tool" && on carol git nearby advertise >/dev/null)
make_repo "$T/dave/srv/notes"
(cd "$T/dave/srv/notes" && on dave git nearby advertise >/dev/null)
# alice's watch stops after 4 s without a request (5 minutes by default).
export GIT_NEARBY_LAN_IDLE_MS=4000
serve_on alice || { not_ok "server starts on alice"; done_testing; exit 1; }
unset GIT_NEARBY_LAN_IDLE_MS
for h in carol dave; do serve_on "$h" || { not_ok "server starts on $h"; done_testing; exit 1; }; done
check "bob sees the five branches" wait_until 10 eval \
  'visible_on bob webapp/main && visible_on bob nearby && visible_on bob webapp/dark-mode && visible_on bob carol/experiment && visible_on bob tool/main'
A="http://10.77.0.1:$(cat "$T/alice.port")"
PC=$(cat "$T/carol.port")
ROOT=$(rev "$T/alice/srv/webapp" main~2)
TOOLROOT=$(rev "$T/carol/srv/tool" main)
DARK=$(rev "$T/carol/srv/webapp" dark-mode)
PIN_A=$(pin_seen_from bob 10.77.0.1 "$(cat "$T/alice.port")")
PIN_C=$(pin_seen_from bob 10.77.0.3 "$PC")

# page URL FILE: GET URL from bob into FILE.
page () { on bob curl -s -m 10 -o "$2" "$1"; }
# groups FILE: "project root name name...|" per group of the JSON.
groups () {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
print("".join("%s %s %s|" % (p["project"], p["repo"], " ".join(b["name"] for b in p["branches"])) for p in d["projects"]))' "$1"
}
# field FILE NAME KEY: KEY of the branch NAME in the JSON.
field () {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
print("".join(str(b[sys.argv[3]]) for p in d["projects"] for b in p["branches"] if b["name"] == sys.argv[2]))' "$@"
}

# The first request: alice's server has not browsed yet, and answers when
# its first browse is over, with everything on it.
t0=$(ms_now)
page "$A/nearby?format=json" "$T/lan.json"
t1=$(ms_now)
echo "# the first /nearby took $((t1 - t0)) ms"
check "the JSON parses" python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$T/lan.json"
check_eq "the first request lists every branch, grouped by root commit, named for most of its names" \
  "tool $TOOLROOT tool/main|webapp $ROOT carol/experiment nearby webapp/dark-mode webapp/main|" \
  "$(groups "$T/lan.json")"
check "and it did not wait for more than the bound" test $((t1 - t0)) -lt 4500
check_eq "the JSON says it browsed, completely" "True True None" \
  "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["browsing"], d["complete"], d["error"])' "$T/lan.json")"
check_eq "carol's branch: owner, key and its code, host, subject, date" \
  "Carol|$PIN_C|$(short_code "$PIN_C")|carol|Dark mode for the login page|$(git -C "$T/carol/srv/webapp" log -1 --format=%ct dark-mode)|False" \
  "$(for k in owner key code host subject date self; do printf '%s|' "$(field "$T/lan.json" webapp/dark-mode "$k")"; done | sed 's/|$//')"
check_eq "alice's own branches are marked as this server's" "True True False" \
  "$(field "$T/lan.json" webapp/main self) $(field "$T/lan.json" nearby self) $(field "$T/lan.json" tool/main self)"
check_eq "the branch advertised as 'nearby' links to /nearby/" "$A/nearby/" "$(field "$T/lan.json" nearby page)"

page "$A/nearby" "$T/lan.html"
html=$(cat "$T/lan.html")
check "the page is UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/lan.html"
check_eq "its project headings, in order" \
  "tool root ${TOOLROOT:0:7}|webapp root ${ROOT:0:7}|" \
  "$(grep -o '<h2 class="project">.*</h2>' "$T/lan.html" | sed 's/<[^>]*>//g' | tr '\n' '|')"
row=$(grep 'webapp/dark-mode</a>' "$T/lan.html")
check_contains "carol's row links to her server's page of the branch" \
  "<a href=\"http://10.77.0.3:$PC/webapp/dark-mode\">webapp/dark-mode</a>" "$row"
check_contains "with host, owner and key code" \
  "on carol</span></td><td><span class=\"owner\">Carol</span><br>key <code class=\"code\">$(short_code "$PIN_C")</code>" "$row"
check_contains "with head, subject and age" \
  "<code>${DARK:0:7}</code> <span class=\"subject\">Dark mode for the login page</span> <span class=\"age\">3 hours ago</span>" "$row"
LINE=$(field "$T/lan.json" webapp/dark-mode clone)
check_eq "the nearby:// line pins carol's key" "git clone nearby://webapp/dark-mode@$(url_form "$PIN_C") dark-mode" "$LINE"
check_contains "and is on the page, next to the http:// line" \
  "<code class=\"clone\">$LINE</code><br><code class=\"clone\">git clone http://10.77.0.3:$PC/webapp/dark-mode</code>" "$row"
check_eq "two rows are marked as this server's" 2 "$(grep -c '<tr class="self">' "$T/lan.html")"
check_contains "the index page links to the page" '<a href="/nearby">' "$(on bob curl -s -m 5 "$A/")"
page "$(field "$T/lan.json" nearby page)" "$T/nb.html"
check_contains "the 'nearby' branch's link is its branch page" "<h1>nearby</h1>" "$(cat "$T/nb.html")"

# The clone lines work from a host that has not run anything yet.
out=$(on bob bash -c "cd '$T/bob' && $LINE" 2>&1); rc=$?
check_eq "bob runs the nearby:// line from the page: a clone of carol's branch" \
  "0 $DARK" "$rc $(git -C "$T/bob/dark-mode" rev-parse HEAD 2>&1)"
check_eq "pinned to carol's key" "$PIN_C" "$(git -C "$T/bob/dark-mode" config remote.origin.nearbykey)"
out=$(on bob git clone -q "$(field "$T/lan.json" tool/main url)" "$T/bob/tool-http" 2>&1); rc=$?
check_eq "and the http:// URL from the page clones too" "0 $TOOLROOT" "$rc $(git -C "$T/bob/tool-http" rev-parse HEAD 2>&1)"

# From a phone's width to a desktop's, nothing overflows.
SHOTS="$NEARBY_BUILD_DIR/meson-logs/pages"
mkdir -p "$SHOTS"
out=$(on bob python3 "$NEARBY_SOURCE_DIR/tests/integration/layout.py" "$A/nearby" "$SHOTS/lan-nearby" 390 1200 2>&1); rc=$?
printf '%s\n' "$out" | sed 's|^|# /nearby at |'
if [ "$rc" = 2 ]; then
  not_ok "the layout of /nearby cannot be checked: $out (apt-get install chromium)"
else
  check_eq "/nearby fits 390 px and 1200 px without scrolling sideways" 0 "$rc"
fi

# Unadvertised, a branch leaves the page.
(cd "$T/carol/srv/webapp" && on carol git nearby unadvertise webapp/dark-mode >/dev/null)
gone () { page "$A/nearby?format=json" "$T/gone.json" && ! grep -q '"webapp/dark-mode"' "$T/gone.json"; }
check "an unadvertised branch disappears from the page" wait_until 10 gone
check_contains "and the rest stays" "$ROOT carol/experiment nearby webapp/main|" "$(groups "$T/gone.json")"

# A stranger's records: markup in name, owner and subject, a name that
# looks like a scheme, bytes that are not UTF-8. Something takes
# connections at port 9 on mallory, or the watch would drop them as gone.
cat > "$T/accept.py" <<'PY'
import socket
s = socket.create_server(("", 9), family=socket.AF_INET6, dualstack_ipv6=True, backlog=64)
while True:
    s.accept()[0].close()
PY
(exec nsenter -t "${HOSTPID[mallory]}" -n -m -u python3 "$T/accept.py" > "$T/accept.log" 2>&1) &
EVIL='<script>alert(1)</script>'
EVILPATH=$(python3 -c 'import sys, urllib.parse; print("/" + urllib.parse.quote(sys.argv[1], safe="/"))' "$EVIL")
FAKE=$(printf 'x%.0s' $(seq 32) | base64 | sed 's/^/sha256\/\//')
(exec nsenter -t "${HOSTPID[mallory]}" -n -m -u avahi-publish -s "evil on mallory" _git-http._tcp 9 \
  txtvers=1 "name=$EVIL" "path=$EVILPATH" ref=refs/heads/x head=0123456789abcdef0123456789abcdef01234567 \
  repo=0123456789abcdef0123456789abcdef01234567 "key=$FAKE" 'owner=<img src=x onerror=alert(2)>' \
  $'subject="><script>alert(3)</script> caf\351' > "$T/pub-evil.log" 2>&1) &
(exec nsenter -t "${HOSTPID[mallory]}" -n -m -u avahi-publish -s "js on mallory" _git-http._tcp 9 \
  txtvers=1 'name=javascript:alert(4)' 'path=/javascript%3Aalert%284%29' ref=refs/heads/x \
  "owner=\" onmouseover=\"alert(5)" > "$T/pub-js.log" 2>&1) &
shown () { page "$A/nearby" "$T/evil.html" && grep -q 'alert(4)' "$T/evil.html" && grep -q 'alert(3)' "$T/evil.html"; }
check "mallory's records reach the page" wait_until 10 shown
evil=$(cat "$T/evil.html")
check_contains "markup in a name shows as text" '&lt;script&gt;alert(1)&lt;/script&gt;</a>' "$evil"
check_contains "in an owner too" '&lt;img src=x onerror=alert(2)&gt;' "$evil"
check_contains "and in a subject, whose Latin-1 byte is U+FFFD" '&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt; caf�' "$evil"
check_contains "a quote in an owner cannot leave its text" '&quot; onmouseover=&quot;alert(5)' "$evil"
check_not_contains "no markup of theirs is on the page" '<script' "$evil"
check_not_contains "(nor an image)" '<img' "$evil"
check "the page is still UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/evil.html"
check_eq "every link is this server's own or an http:// URL of an address and port" "" \
  "$(grep -o 'href="[^"]*"' "$T/evil.html" | grep -vE '^href="(/|/nearby|http://10\.77\.0\.[0-9]+:[0-9]+/[A-Za-z0-9%/._~-]*)"$')"
check_contains "a name that looks like a scheme is a path on its server" \
  '<a href="http://10.77.0.4:9/javascript%3Aalert%284%29">javascript:alert(4)</a>' "$evil"
check_contains "the group of branches without a root is last" \
  'Other branches <span class="root">no root commit announced</span>' "$(grep -o '<h2 class="project">.*</h2>' "$T/evil.html" | tail -n 1)"
page "$A/nearby?format=json" "$T/evil.json"
check_eq "the JSON stays valid and holds the names as they are" "$EVIL|javascript:alert(4)" \
  "$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
print("|".join(b["name"] for p in d["projects"] for b in p["branches"] if "alert" in b["name"]))' "$T/evil.json")"

# Nobody looks for 4 s: alice stops browsing; the next request starts again.
check "with no request for a while, the watch stops" \
  wait_until 12 grep -q "not browsing the LAN any more" "$T/alice.log"
page "$A/nearby?format=json" "$T/again.json"
check_contains "and the next request browses again, and waits for it" \
  "$ROOT carol/experiment nearby webapp/main|tool $TOOLROOT tool/main|" "$(groups "$T/again.json")"

# alice's avahi-daemon goes away: her page says that what it lists was seen
# before, and keeps it; once the daemon is back, the page is whole again.
LOST='avahi-daemon went away; the branches listed were seen before it did'
avahi_stop alice || not_ok "avahi-daemon stops on alice"
lost () { page "$A/nearby?format=json" "$T/lost.json" && grep -qF "$LOST" "$T/lost.json"; }
check "without avahi-daemon, alice's page says its list was seen before" wait_until 10 lost
check_eq "its JSON: not browsing, the reason" "False $LOST" \
  "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["browsing"], d["error"])' "$T/lost.json")"
check_contains "and what it saw before" \
  "$ROOT carol/experiment nearby webapp/main|tool $TOOLROOT tool/main|" "$(groups "$T/lost.json")"
check_contains "the page says it above the list" \
  "<p class=\"error\">Browsing the network is not possible here: $LOST</p>" "$(on bob curl -s -m 5 "$A/nearby")"
check_contains "(the list is there)" "webapp/main</a>" "$(on bob curl -s -m 5 "$A/nearby")"
check_eq "the log says it once" 1 "$(grep -cF "/nearby cannot browse the network: $LOST" "$T/alice.log")"
avahi_start alice || not_ok "avahi-daemon starts on alice again"
back () {
  page "$A/nearby?format=json" "$T/back.json" \
    && [ "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["browsing"], d["error"])' "$T/back.json")" = "True None" ]
}
check "once it is back, the page browses again" wait_until 20 back
check_contains "with every branch" \
  "$ROOT carol/experiment nearby webapp/main|tool $TOOLROOT tool/main|" "$(groups "$T/back.json")"
check_contains "and the log says so" "/nearby browses the network again" "$(cat "$T/alice.log")"

# dave has no avahi-daemon: the page says so, the rest is served.
D="http://10.77.0.5:$(cat "$T/dave.port")"
check_contains "without avahi-daemon, the page says browsing is not possible" \
  '<p class="error">Browsing the network is not possible here: ' "$(on bob curl -s -m 5 "$D/nearby")"
check_contains "its JSON too" '"browsing": false, "error": "cannot look for branches nearby' \
  "$(on bob curl -s -m 5 "$D/nearby?format=json")"
check_contains "and the server serves the rest" 'notes/main' "$(on bob curl -s -m 5 "$D/")"
check "(clone included)" on bob git clone -q "$D/notes/main" "$T/bob/notes"
done_testing
