#!/usr/bin/env bash
# A stranger on the LAN (issue 8, items 11-17): mallory publishes crafted
# records with avahi-publish next to alice's genuine branch, and bob's
# browse, resolve and clone must neither act on them nor be misled by them:
# escapes stay text, output stays UTF-8, look-alike names are ignored, the
# bare name does not take over the unique end match, another's record does
# not stand in for alice's, loopback answers are never used, and a flood of
# 600 services (1,200 instances) does not crowd the real name out.
. "$(dirname "$0")/lib.sh"

T0=$(ms_now)
host_add alice 1 && host_add bob 2 && host_add mallory 3 || { not_ok "hosts come up"; done_testing; exit 1; }
# mallory's static services (the flood, below) live on a tmpfs of its own
# mount namespace; this machine's /etc/avahi/services is never written.
on mallory mount -t tmpfs tmpfs /etc/avahi/services || { not_ok "a private /etc/avahi/services on mallory"; done_testing; exit 1; }
# bob's cache must hold the flood: each service is several records.
sed -i 's/^\[server\]$/[server]\ncache-entries-max=16384/' "$T/avahi-bob.conf"
for h in alice bob mallory; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done

# Something takes connections at port 9 on mallory, where her crafted
# records point: a record whose server does not answer is left out of
# browse (a host that left), and these must be shown, escaped.
cat > "$T/accept.py" <<'PY'
import socket
s = socket.create_server(("", 9), family=socket.AF_INET6, dualstack_ipv6=True, backlog=64)
while True:
    s.accept()[0].close()
PY
(exec nsenter -t "${HOSTPID[mallory]}" -n -m -u python3 "$T/accept.py" > "$T/accept.log" 2>&1) &

mkdir -p "$T/alice/srv" "$T/bob"
make_repo "$T/alice/srv/myproj"
git -C "$T/alice/srv/myproj" branch fix-login
(cd "$T/alice/srv/myproj" && on alice git nearby advertise --branch fix-login >/dev/null)
serve_on alice || { not_ok "alice's server starts"; done_testing; exit 1; }
PORT=$(cat "$T/alice.port")
GENUINE="http://10.77.0.1:$PORT/myproj/fix-login"
check "bob sees alice's branch" wait_until 8 visible_on bob myproj/fix-login

# publish TAG ARGS...: avahi-publish ARGS on mallory until unpublish TAG.
declare -A PUB
publish_nowait () {
  local tag=$1; shift
  # exec, so that $! is avahi-publish itself (nsenter execs it) and unpublish
  # ends it: its goodbye packets take the records off bob's cache.
  (exec nsenter -t "${HOSTPID[mallory]}" -n -m -u avahi-publish "$@" > "$T/pub-$tag.log" 2>&1) &
  PUB[$tag]=$!
}
published () { local tag; for tag in "$@"; do wait_until 5 grep -q "Established under name" "$T/pub-$tag.log" || return 1; done; }
publish () { publish_nowait "$@"; published "$1"; }
unpublish () {
  local tag pid
  for tag in "$@"; do
    pid=${PUB[$tag]}
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    unset "PUB[$tag]"
  done
}
service () { local tag=$1; shift; publish "$tag" -s "$@"; }

# Bytes a terminal would act on: C0 controls but LF, DEL, and the C1
# controls as UTF-8 (c2 80..c2 9f).
raw_controls () { LC_ALL=C grep -caP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"; }

echo "# $(( $(ms_now) - T0 )) ms"
# 11: escapes and CR/LF in values print as text.
service esc "evil on mallory" _git-http._tcp 9 txtvers=1 name=evil path=/evil \
  $'ref=refs/heads/x\e[2J\e]0;owned\a\r\nfake  row\302\23331m'
service escpath "escpath on mallory" _git-http._tcp 9 txtvers=1 name=escpath $'path=/escpath\e[2J'
check "bob sees mallory's crafted branch" wait_until 8 visible_on bob evil
on bob git nearby browse > "$T/table" 2>&1
check_eq "the browse table holds no raw control character" 0 "$(raw_controls "$T/table")"
check_contains "the escape shows as text, on one row" \
  'evil              mallory  -      -          x\x1B[2J\x1B]0;owned\x07\x0D\x0Afake  row\x9B31m  -        -    -                 http://10.77.0.3:9/evil' "$(cat "$T/table")"
check_eq "and the table has a header and two rows" 3 "$(wc -l < "$T/table")"
on bob timeout 10 git nearby browse --watch --timeout 3 > "$T/watch" 2>&1
check_eq "--watch prints no raw control character" 0 "$(raw_controls "$T/watch")"
check_contains "and shows it on one line" 'evil on mallory  -  http://10.77.0.3:9/evil' "$(cat "$T/watch")"
out=$(on bob git nearby resolve escpath 2>&1); rc=$?
check_eq "a path that is not the name's is ignored" "2:git nearby: no branch named 'escpath' is advertised nearby; see 'git nearby browse'" "$rc:$out"
on bob git nearby browse --json > "$T/json" 2>&1
check_eq "the JSON holds no raw control character" 0 "$(raw_controls "$T/json")"
unpublish esc escpath

echo "# $(( $(ms_now) - T0 )) ms"
# 11b: an owner and a subject with escapes, in the list of candidates an
# ambiguous name prints (that list quotes both), and a key that is no key.
service hid1 "hid on mallory" _git-http._tcp 9 txtvers=1 name=hid path=/hid \
  "key=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" $'owner=Al\e[2Jice' $'subject=x\e]0;t\a\r\nfatal: fake'
# The second one names another host (mallory answers for it too), so that
# the two are candidates on two hosts, not twins on one.
publish hidhost -a -R evilhost.local 10.77.0.3
service hid2 "hid on evilhost" -H evilhost.local _git-http._tcp 9 txtvers=1 name=hid path=/hid \
  "key=sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw=" owner=Bob subject=fine
service nokey "nokey on mallory" _git-http._tcp 9 txtvers=1 name=nokey path=/nokey "key=sha256//not-a-key" owner=Eve
check "bob sees both candidates" wait_until 8 eval '[ "$(browse_on bob | grep -c "\"name\": \"hid\"")" = 2 ]'
on bob git clone nearby://hid "$T/bob/hid" > "$T/hid" 2>&1
check_eq "the candidates' list holds no raw control character" 0 "$(raw_controls "$T/hid")"
check_contains "and shows the owner's escape as text" 'Al\x1B[2Jice on mallory' "$(cat "$T/hid")"
check_contains "and the subject's" '"x\x1B]0;t\x07\x0D\x0Afatal: fake"' "$(cat "$T/hid")"
check_eq "on one fatal line" 1 "$(grep -c '^fatal' "$T/hid")"
check "nothing was cloned" test ! -e "$T/bob/hid"
check "bob sees the record with a bad key" wait_until 8 visible_on bob nokey
on bob git nearby browse > "$T/table" 2>&1
check_eq "the table holds no raw control character" 0 "$(raw_controls "$T/table")"
check "a key that is no key shows as none" grep -qE '^nokey +mallory +Eve +- ' "$T/table"
unpublish hid1 hid2 hidhost nokey

echo "# $(( $(ms_now) - T0 )) ms"
# 12: invalid UTF-8 from the network.
service utf8 "bad utf8 on mallory" _git-http._tcp 9 txtvers=1 name=badutf8 path=/badutf8 \
  $'ref=refs/heads/\377\376\303'
check "bob sees the branch with a broken ref" wait_until 8 visible_on bob badutf8
on bob git nearby browse --json > "$T/json" 2>&1
check "browse --json is valid UTF-8 JSON" python3 -c '
import json, sys
services = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
assert [s["branch"] for s in services if s["name"] == "badutf8"] == ["\ufffd\ufffd\ufffd"], services
' "$T/json"
on bob git nearby browse > "$T/table" 2>&1
check "the table is valid UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/table"
check_contains "with U+FFFD for the bad bytes" "badutf8           mallory  -      -          $(printf '\357\277\275\357\277\275\357\277\275')" "$(cat "$T/table")"
unpublish utf8

echo "# $(( $(ms_now) - T0 )) ms"
# 13: a look-alike name with a zero-width space, and one with a bidi override.
service zw "zero width on mallory" _git-http._tcp "$PORT" txtvers=1 \
  $'name=myproj/fix\342\200\213-login' "path=/myproj/fix%E2%80%8B-login"
service bidi "bidi on mallory" _git-http._tcp "$PORT" txtvers=1 \
  $'name=myproj/\342\200\256nigol-xif' "path=/myproj/%E2%80%AEnigol-xif"
sleep 1.5 # the records are out (avahi-publish said so); give bob's cache a moment
check_eq "names with invisible characters are not listed" "myproj/fix-login" \
  "$(on bob git nearby browse --json | python3 -c 'import json, sys; print(" ".join(s["name"] for s in json.load(sys.stdin) if s["name"].startswith("myproj/")))')"
check_eq "the genuine name still resolves" "$GENUINE" "$(on bob git nearby resolve fix-login)"
unpublish zw bidi

echo "# $(( $(ms_now) - T0 )) ms"
# 14: the bare name next to the unique end match.
service bare "fix-login on mallory" _git-http._tcp 9 txtvers=1 name=fix-login path=/fix-login
check "bob sees the bare name" wait_until 8 visible_on bob fix-login
out=$(on bob git clone nearby://fix-login "$T/bob/hijack" 2>&1); rc=$?
check_eq "nearby://fix-login is ambiguous, listing both" \
  "128:fatal: 'fix-login' is ambiguous: it is one advertised name and the end of another; pick one: nearby://fix-login@mallory, nearby://myproj/fix-login@$(short_code "$(pin_seen_from bob 10.77.0.1 "$PORT")") (Alice on alice, \"$(git -C "$T/alice/srv/myproj" log -1 --format=%s fix-login)\")" \
  "$rc:$(printf '%s\n' "$out" | grep -v '^Cloning into')"
check "nothing was cloned" test ! -e "$T/bob/hijack"
check_eq "the choice nearby://myproj/fix-login@alice works" "$GENUINE" "$(on bob git nearby resolve nearby://myproj/fix-login@alice)"
unpublish bare

echo "# $(( $(ms_now) - T0 )) ms"
# 15: another's records naming alice's host: another path (same port), and
# the genuine path on another port.
service path "myproj/fix-login on alice #9" _git-http._tcp -H alice.local "$PORT" txtvers=1 \
  name=myproj/fix-login "path=/admin/shutdown?now=1#"
service dots "myproj/fix-login on alice #8" _git-http._tcp -H alice.local "$PORT" txtvers=1 \
  name=myproj/fix-login "path=/myproj/fix-login/../../other"
sleep 1.5
check_eq "a path override is ignored: one row, the genuine URL" "$GENUINE" \
  "$(on bob git nearby browse --json | python3 -c 'import json, sys; print(" ".join(s["url"] for s in json.load(sys.stdin) if s["name"] == "myproj/fix-login"))')"
check_eq "and the branch resolves to it" "$GENUINE" "$(on bob git nearby resolve myproj/fix-login)"
check "and clones from alice" on bob git clone -q nearby://myproj/fix-login "$T/bob/clone"
check "with alice's history" same_history "$T/bob/clone" "$T/alice/srv/myproj" fix-login
unpublish path dots
# Same name, host, port and path, but another instance: not a copy of
# alice's service, so its head does not replace alice's; it shows beside it.
service twin "myproj/fix-login on alice #6" _git-http._tcp -H alice.local "$PORT" txtvers=1 \
  name=myproj/fix-login path=/myproj/fix-login ref=refs/heads/evil head=0000000000000000000000000000000000000000
check "bob lists the twin as a service of its own" wait_until 8 eval '[ "$(browse_on bob | grep -c "\"name\": \"myproj/fix-login\"")" = 2 ]'
check "alice's own row keeps alice's head" visible_on bob myproj/fix-login "\"branch\": \"fix-login\", \"head\": \"$(rev "$T/alice/srv/myproj" fix-login)\""
unpublish twin
service port "myproj/fix-login on alice #7" _git-http._tcp -H alice.local 9 txtvers=1 \
  name=myproj/fix-login path=/myproj/fix-login
check "bob's Avahi has the copy on another port" wait_until 8 eval \
  'on bob avahi-browse -prt _git-http._tcp 2>/dev/null | grep -q "^=;eth0;IPv4;.*;alice.local;10.77.0.1;9;"'
check_eq "browse leaves it out: nothing answers there" "$GENUINE" \
  "$(on bob git nearby browse --json 2>/dev/null | python3 -c 'import json, sys; print(" ".join(s["url"] for s in json.load(sys.stdin) if s["name"] == "myproj/fix-login"))')"
check_eq "a record naming alice's host with a port nobody serves at does not hide the branch" \
  "$GENUINE" "$(on bob git nearby resolve myproj/fix-login)"
check "and git clones it" on bob git clone -q nearby://fix-login "$T/bob/clone2"
# Something does answer at the other port, but it is not alice's branch.
publish_nowait port2 -s "myproj/fix-login on alice #5" _git-http._tcp -H alice.local 22 txtvers=1 \
  name=myproj/fix-login path=/myproj/fix-login
cat > "$T/answer404.py" <<'PY'
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.1", 22))
s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 404 Not Found\r\n\r\n")
    c.close()
PY
(exec nsenter -t "${HOSTPID[alice]}" -n -m -u python3 "$T/answer404.py" > "$T/port22.log" 2>&1) &
PORT22=$!
check "bob lists a copy at a port where something answers (not the one where nothing does)" \
  wait_until 8 eval '[ "$(browse_on bob | grep -c "\"name\": \"myproj/fix-login\"")" = 2 ]'
check_eq "a server that does not serve the branch there is no choice either" \
  "$GENUINE" "$(on bob git nearby resolve myproj/fix-login)"
kill "$PORT22"; wait "$PORT22" 2>/dev/null
unpublish port port2

echo "# $(( $(ms_now) - T0 )) ms"
# 16: host names that resolve to loopback or unspecified addresses.
publish_nowait a-lo -a -R loopy.local 127.0.0.1
publish_nowait a-any -a -R anyhost.local 0.0.0.0
publish_nowait a-lo6 -a -R loopy6.local ::1
publish_nowait lo -s "loopy on loopy" _git-http._tcp -H loopy.local "$PORT" txtvers=1 name=loopy path=/loopy
publish_nowait any -s "anyhost on anyhost" _git-http._tcp -H anyhost.local "$PORT" txtvers=1 name=anyhost path=/anyhost
publish_nowait lo6 -s "loopy6 on loopy6" _git-http._tcp -H loopy6.local "$PORT" txtvers=1 name=loopy6 path=/loopy6
check "mallory publishes hosts at 127.0.0.1, 0.0.0.0 and ::1" published a-lo a-any a-lo6 lo any lo6
sleep 1.5
# (--timeout: the resolver of each copy on the other protocol never answers.)
on bob git nearby browse --json --timeout 3 > "$T/json" 2>&1
check_not_contains "no loopback URL is listed" "127.0.0.1" "$(cat "$T/json")"
check_not_contains "no unspecified address is listed" "0.0.0.0" "$(cat "$T/json")"
check_not_contains "no IPv6 loopback is listed" "[::1]" "$(cat "$T/json")"
for n in loopy anyhost loopy6; do
  out=$(on bob git nearby resolve --timeout 2 $n 2>&1); rc=$?
  # Its other copy has no address at all: honestly, a host that does not answer.
  check_eq "nearby://$n is never resolved" "2:git nearby: '$n' may be the branch advertised as '$n on $n', but its host does not answer (it may have left the network)" "$rc:$out"
done
unpublish lo any lo6 a-lo a-any a-lo6

echo "# $(( $(ms_now) - T0 )) ms"
# 17: a flood of 600 services from mallory's avahi-daemon (static service
# files, one daemon and no client: cheap to publish). Seen over IPv4 and IPv6
# they are 1,200 instances to resolve, more than the 1,024 objects Avahi
# grants a client (1,500 services, as in the issue, take mallory's daemon
# 20-30 s to announce and do not always all arrive on these shared
# machines). 300 have long instance names that no filter can rule out, so
# that the bound on resolvers is what keeps those within Avahi's limit.
long=$(printf 'fix-login-%047d' 0)
for i in $(seq 1 600); do
  if [ "$i" -le 300 ]; then inst="${long}${i}"; else inst="flood-$i"; fi
  printf '<service-group><name>%s</name><service><type>_git-http._tcp</type><port>9</port><txt-record>txtvers=1</txt-record><txt-record>name=flood/%s</txt-record><txt-record>path=/flood/%s</txt-record></service></service-group>\n' \
    "$inst" "$i" "$i" > "$T/flood-$i.service"
done
on mallory sh -c "cp '$T'/flood-*.service /etc/avahi/services/" && on mallory avahi-daemon -r
count_flood () { on bob timeout 10 avahi-browse -pt _git-http._tcp 2>/dev/null | grep -c '^+;eth0;IPv4;\(flood\|fix-login-0\)'; }
check "bob's avahi-daemon sees the flood" wait_until 30 eval '[ "$(count_flood)" -ge 600 ]'
echo "# bob's avahi-browse counts $(count_flood) flood services"; on bob timeout 10 avahi-browse -pt _git-http._tcp 2>&1 | head -3 | sed 's/^/# /'
start=$(ms_now)
out=$(on bob git nearby resolve myproj/fix-login 2>&1); rc=$?
echo "# resolve under the flood took $(( $(ms_now) - start )) ms"
check_eq "the real name still resolves under the flood" "0:$GENUINE" "$rc:$out"
out=$(on bob git ls-remote nearby://fix-login HEAD 2>&1); rc=$?
check_eq "and git ls-remote nearby://fix-login works" "0:$(rev "$T/alice/srv/myproj" fix-login)	HEAD" "$rc:$out"
start=$(ms_now)
on bob git nearby browse --json --timeout 20 > "$T/json" 2> "$T/browse.err"; rc=$?
echo "# browse of 601 services took $(( $(ms_now) - start )) ms"
check_eq "browse lists all 601, nothing refused" "0:601:" \
  "$rc:$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$T/json"):$(cat "$T/browse.err")"
# Watching keeps an object per service: Avahi refuses some, and says so once.
(exec nsenter -t "${HOSTPID[bob]}" -n -m -u git nearby browse --watch --timeout 20 > "$T/watch" 2> "$T/watch.err") &
WATCH=$!
wait_until 20 grep -q refused "$T/watch.err"
sleep 1 # would it say so again?
kill "$WATCH"; wait "$WATCH" 2>/dev/null
check_eq "when Avahi refuses, --watch says so in one line" \
  "git-nearby: warning: avahi-daemon refused to resolve a service (Too many objects); some branches may not show" \
  "$(cat "$T/watch.err")"

done_testing
