#!/usr/bin/env bash
# The pages are valid whatever a repository holds: a commit in Latin-1 (with
# its encoding header, as git writes it with i18n.commitEncoding) is shown in
# UTF-8, the JSON parses, the HTML is UTF-8; commits are listed as git log
# lists them, children before parents, whatever their clocks say.
. "$(dirname "$0")/lib.sh"

R="$T/srv/latin"
git init -q -b main "$R"
echo a > "$R/a.txt" && git -C "$R" add a.txt
printf 'Zo\353 fixed the caf\351\n' > "$T/msg"
git -C "$R" -c i18n.commitEncoding=ISO-8859-1 commit -q -F "$T/msg"
# A commit of invalid UTF-8 that says nothing of its encoding (git commit
# would have converted it: written by hand).
echo b > "$R/b.txt" && git -C "$R" add b.txt
{ printf 'tree %s\nparent %s\n' "$(git -C "$R" write-tree)" "$(git -C "$R" rev-parse HEAD)"
  printf 'author T <t@example.invalid> 1700000000 +0000\ncommitter T <t@example.invalid> 1700000000 +0000\n\n'
  printf 'bad \377\376 bytes\n'; } > "$T/raw"
git -C "$R" update-ref refs/heads/main "$(git -C "$R" hash-object -t commit -w "$T/raw")"
# After a rebase the child may be older than its parent.
echo c > "$R/c.txt" && git -C "$R" add c.txt
GIT_COMMITTER_DATE="2020-01-02T00:00:00" git -C "$R" commit -q -m "the parent, committed later"
echo d > "$R/d.txt" && git -C "$R" add d.txt
GIT_COMMITTER_DATE="2020-01-01T00:00:00" git -C "$R" commit -q -m "the child, committed earlier"
(cd "$R" && git nearby advertise >/dev/null)
# A branch whose ref name is Latin-1 (git takes any bytes there), advertised
# under a UTF-8 name: its "branch" must still be valid UTF-8 in the JSON.
git -C "$R" branch "$(printf 'caf\351')" main
git -C "$R" config "branch.$(printf 'caf\351').nearby" latin/cafe
# A branch advertised as "nearby", the name of the page of the LAN.
git -C "$R" branch nb main~1
git -C "$R" config branch.nb.nearby nearby

start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }

utf8 () { python3 -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' < "$1"; }
curl -s -o "$T/list.json" "$URL/?format=json"
check "the JSON list is valid JSON" python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$T/list.json"
check_eq "with the head's subject" "the child, committed earlier" \
  "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["subject"])' "$T/list.json" 2>&1)"
check_eq "a Latin-1 branch name is U+FFFD in it" "latin/cafe caf�" \
  "$(python3 -c 'import json, sys; print(" ".join(b["name"] + " " + b["branch"] for b in json.load(open(sys.argv[1])) if b["name"] == "latin/cafe"))' "$T/list.json" 2>&1)"
curl -s -o "$T/cafe.json" "$URL/latin/cafe?format=json"
check_eq "and in its branch page's JSON" "caf�" \
  "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))["branch"])' "$T/cafe.json" 2>&1)"
curl -s -o "$T/cafe.html" "$URL/latin/cafe"
check "and its HTML page is UTF-8" utf8 "$T/cafe.html"
check_contains "showing it as U+FFFD" "<code>caf�</code>" "$(cat "$T/cafe.html")"
curl -s -o "$T/list.html" "$URL/"
check "the list page is UTF-8" utf8 "$T/list.html"
check_contains "its title names the owner and the host" "<title>Test User on $(hostname) — git-nearby</title>" "$(cat "$T/list.html")"
check_contains "and so does its heading" "<h1>Branches Test User shares from $(hostname)</h1>" "$(cat "$T/list.html")"
curl -s -o "$T/branch.html" "$URL/latin/main"
check "the branch page is UTF-8" utf8 "$T/branch.html"
check_contains "the Latin-1 subject is shown converted" "Zoë fixed the café" "$(cat "$T/branch.html")"
check_contains "invalid bytes show as U+FFFD" "bad �� bytes" "$(cat "$T/branch.html")"
order=$(grep -o 'the [a-z]*, committed [a-z]*' "$T/branch.html" | tr '\n' '|')
check_eq "the child comes before its parent, as in git log" \
  "the child, committed earlier|the parent, committed later|" "$order"
curl -s -o "$T/branch.json" "$URL/latin/main?format=json"
check "the branch page has JSON too, valid" python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$T/branch.json"
check_eq "its commits in git log's order, in UTF-8" \
  "$(git -C "$R" log --format=%H | head -n 4 | tr '\n' ' ')| the child, committed earlier|the parent, committed later|bad �� bytes|Zoë fixed the café" \
  "$(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
print(" ".join(c["id"] for c in b["commits"]) + " |", "|".join(c["subject"] for c in b["commits"]))' "$T/branch.json")"
check_contains "with the nearby:// clone line" '"clone": "git clone nearby://latin/main@' "$(cat "$T/branch.json")"
# /nearby is the page of the LAN; a --no-publish server (as every test
# server on loopback is) browses nothing and says so. The branch named
# "nearby" is at /nearby/.
t0=$(date +%s%N)
curl -s -m 10 -o "$T/lan.html" "$URL/nearby"
t1=$(date +%s%N)
check_contains "/nearby is the page of the network" "<h1>Branches advertised on this network</h1>" "$(cat "$T/lan.html")"
check_contains "a --no-publish server does not browse, and says so" \
  '<p class="error">Browsing the network is not possible here: this server runs with --no-publish' "$(cat "$T/lan.html")"
check "(at once)" test $(( (t1 - t0) / 1000000 )) -lt 1000
check_not_contains "(nor did it try)" "browsing the LAN" "$(cat "$T/server.log")"
check "its JSON parses" python3 -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); assert set(d) == {"browsing", "error", "complete", "projects"}' \
  <(curl -s -m 10 "$URL/nearby?format=json")
curl -s -o "$T/nb.html" "$URL/nearby/"
check_contains "the branch advertised as 'nearby' has its page at /nearby/" "<h1>nearby</h1>" "$(cat "$T/nb.html")"
check_eq "(its JSON too)" "nearby $(rev "$R" main~1)" \
  "$(curl -s "$URL/nearby/?format=json" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["name"], d["head"])' 2>&1)"
check_contains "the index links the branch there" "<a href=\"$URL/nearby/\">nearby</a>" "$(cat "$T/list.html")"
check_contains "and links the page of the network" '<a href="/nearby">' "$(cat "$T/list.html")"
check "and git clones the branch at its usual URL" git clone -q "$URL/nearby" "$T/nb-clone"
check_eq "(the right one)" "$(rev "$R" main~1)" "$(git -C "$T/nb-clone" rev-parse HEAD 2>&1)"
curl -s -o "$T/nb-commit.html" "$URL/nearby/commit/$(rev "$R" main~1)"
check_contains "and its commit pages are there" "<h1>Commit <code>$(rev "$R" main~1 | cut -c1-7)</code></h1>" "$(cat "$T/nb-commit.html")"

# The pages from a phone's width to a desktop's, in a real browser: nothing
# may overflow sideways. Screenshots go to the build's meson-logs.
SHOTS="$NEARBY_BUILD_DIR/meson-logs/pages"
mkdir -p "$SHOTS" "$T/browser-tmp"
for page in "" latin/main "latin/main/commit/$(rev "$R" main)" nearby; do
  shot="$SHOTS/$(printf '%s' "${page:-index}" | cut -c1-40 | tr / _)"
  out=$(TMPDIR="$T/browser-tmp" python3 "$NEARBY_SOURCE_DIR/tests/integration/layout.py" "$URL/$page" "$shot" 390 1200 2>&1); rc=$?
  printf '%s\n' "$out" | sed "s|^|# /$page at |"
  if [ "$rc" = 2 ]; then
    not_ok "the layout of /$page cannot be checked: $out (apt-get install chromium)"
  else
    check_eq "/$page fits 390 px and 1200 px without scrolling sideways" 0 "$rc"
  fi
done
check_eq "Chromium left no process and no file behind" "" \
  "$(ls -A "$T/browser-tmp"; pgrep -f -- "--user-data-dir=$T/browser-tmp" || true)"
check "the server is alive" server_alive
done_testing
