#!/usr/bin/env bash
# The server on a real session bus: the advertise signal reaches it at once,
# and its org.gitnearby.Server1 object answers.
. "$(dirname "$0")/lib.sh"

start_session_bus || { not_ok "a private session bus starts"; done_testing; exit 1; }
ok "a private session bus starts"

make_repo "$T/srv/proj"
out=$(cd "$T/srv/proj" && git nearby advertise 2>&1)
check_eq "with a bus but no server, advertise says how to start one" "Advertising branch 'main' as 'proj/main'.
No git-nearby server is running; start one with: git nearby serve" "$out"

start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }
has_name () { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.NameHasOwner org.gitnearby.Server1 | grep -q true; }
check "the server owns org.gitnearby.Server1" wait_for has_name

out=$(gdbus call --session --dest org.gitnearby.Server1 --object-path /org/gitnearby/Server1 --method org.gitnearby.Server1.List)
check_eq "List says what is served" "([('proj/main', 'main', '$(rev "$T/srv/proj" main)', '$T/srv/proj/.git')],)" "$out"
out=$(gdbus introspect --session --dest org.gitnearby.Server1 --object-path /org/gitnearby/Server1 --only-properties)
check_contains "Port is the port listened on" "readonly q Port = $(cat "$T/port");" "$out"

out=$(cd "$T/srv/proj" && git checkout -q -b second && git nearby advertise 2>&1)
check_eq "with a server running, advertise says where it is served, and that it is not announced" \
  "Advertising branch 'second' as 'proj/second'.
Served at $URL/proj/second, but not announced on the LAN: the server runs with --no-publish." "$out"

# A repository created after the server started is not watched; the signal
# from advertise makes the server look for it at once, without SIGHUP.
make_repo "$T/srv/newer"
(cd "$T/srv/newer" && git nearby advertise >/dev/null)
check "the advertise signal makes the server find a new repository" wait_for is_served newer/main
check "the server says why" grep -q "a new repository opted in ($T/srv/newer/.git); looking again" "$T/server.log"
check "and it clones" git clone -q "$URL/newer/main" "$T/newer-clone"

make_repo "$T/srv/later"
git -C "$T/srv/later" config branch.main.nearby true
# Then an opt-in written by hand where the server does watch: once List shows
# it, the server has had the new repository's events too.
listed () { gdbus call --session --dest org.gitnearby.Server1 --object-path /org/gitnearby/Server1 \
  --method org.gitnearby.Server1.List | grep -qF "('$1', "; }
git -C "$T/srv/proj" branch marker main
git -C "$T/srv/proj" config branch.marker.nearby true
check "an opt-in written by hand in a served repository is seen" wait_for listed proj/marker
check "an opt-in written by hand in a new repository is not seen by itself" not_served later/main
gdbus call --session --dest org.gitnearby.Server1 --object-path /org/gitnearby/Server1 --method org.gitnearby.Server1.Rescan >/dev/null
check "Rescan finds it" is_served later/main

(cd "$T/srv/newer" && git nearby unadvertise >/dev/null)
check "unadvertise reaches the server too" wait_for not_served newer/main

# A signal about a repository outside the served directories changes nothing.
make_repo "$T/elsewhere"
(cd "$T/elsewhere" && git nearby advertise >/dev/null)
check "the server hears the signal about a repository outside" \
  wait_for grep -qF "$T/elsewhere/.git opted in, but is not under a served directory" "$T/server.log"
check "a repository outside the served directories is ignored" not_served elsewhere/main
gdbus emit --session --object-path /org/gitnearby/OptIn1 --signal org.gitnearby.OptIn1.Changed "'$T/srv/../../../etc'" >/dev/null
gdbus emit --session --object-path /org/gitnearby/OptIn1 --signal org.gitnearby.OptIn1.Changed 42 >/dev/null 2>&1
check "the server ignores odd signals and keeps serving" git clone -q "$URL/proj/main" "$T/after"
check "still running" server_alive

# --- advertise asks the server and says why a branch is not served ---
adv_out () { (cd "$1" && shift && git nearby advertise "$@" 2>&1); }
PID=$SERVER_PID
make_repo "$T/away"
check_eq "outside the served directories: says so, with the command that would serve it" \
  "Advertising branch 'main' as 'away/main'.
Not served: $T/away is outside the directories the running server serves ($T/srv). To serve it, stop that server (kill $PID) and start it again with: git nearby serve $T/srv $T/away" \
  "$(adv_out "$T/away")"
make_repo "$T/srv/a/b/c/deep"
check_eq "too deep: says how deep, and the --max-depth that would reach it" \
  "Advertising branch 'main' as 'deep/main'.
Not served: $T/srv/a/b/c/deep is 4 directories below $T/srv, deeper than the running server looks (--max-depth 3). To serve it, restart that server (kill $PID) with --max-depth 4." \
  "$(adv_out "$T/srv/a/b/c/deep")"
make_repo "$T/srv/proj/vendor/inner"
check_eq "nested: names the repository whose tree holds it" \
  "Advertising branch 'main' as 'inner/main'.
Not served: $T/srv/proj/vendor/inner is inside the working tree of $T/srv/proj, where the running server does not look. To serve it, restart that server (kill $PID) with --nested." \
  "$(adv_out "$T/srv/proj/vendor/inner")"
make_repo "$T/srv/.hidden/h"
check_eq "hidden: names the hidden directory" \
  "Advertising branch 'main' as 'h/main'.
Not served: $T/srv/.hidden/h is inside the hidden directory $T/srv/.hidden, where the running server does not look. To serve it, stop that server (kill $PID) and start it again with: git nearby serve $T/srv $T/srv/.hidden/h" \
  "$(adv_out "$T/srv/.hidden/h")"
make_repo "$T/srv/zzz"
check_eq "a name another repository's branch has: names that repository" \
  "Advertising branch 'main' as 'proj/main'.
Not served: 'proj/main' is already served from branch main of $T/srv/proj/.git. Choose another name: git nearby advertise NAME --branch main" \
  "$(adv_out "$T/srv/zzz" proj/main)"
check "the server warns, naming both" grep -qF "warning: 'proj/main' is advertised by both $T/srv/proj/.git (branch main) and $T/srv/zzz/.git (branch main); serving the first only" "$T/server.log"
check_eq "the name still leads to the first repository" "$(rev "$T/srv/proj" main)" "$(git ls-remote "$URL/proj/main" refs/heads/main | cut -f1)"
make_repo "$T/srv/aaa"
echo aaa > "$T/srv/aaa/aaa.txt" && git -C "$T/srv/aaa" add aaa.txt && git -C "$T/srv/aaa" commit -q -m aaa
check_eq "a repository earlier in path order takes the name, and advertise says whose branch lost it" \
  "Advertising branch 'main' as 'proj/main'.
Served at $URL/proj/main, but not announced on the LAN: the server runs with --no-publish.
Note: branch main of $T/srv/proj/.git is advertised as 'proj/main' too, and is not served under that name: the first path wins." \
  "$(adv_out "$T/srv/aaa" proj/main)"
check_eq "which is so" "$(rev "$T/srv/aaa" main)" "$(git ls-remote "$URL/proj/main" refs/heads/main | cut -f1)"
check "and the server warns about that one" grep -qF "warning: 'proj/main' is advertised by both $T/srv/aaa/.git (branch main) and $T/srv/proj/.git (branch main)" "$T/server.log"
out=$(cd "$T/srv/aaa" && git nearby unadvertise 2>&1)
check_eq "unadvertise says the server stopped serving it" "No longer advertising branch 'main' (was 'proj/main').
The running server no longer serves it." "$out"
check_eq "and the name is the first repository's again" "$(rev "$T/srv/proj" main)" "$(git ls-remote "$URL/proj/main" refs/heads/main | cut -f1)"

# --- one announcing server per session ---
# No system bus here, so a publishing server cannot reach any avahi-daemon.
NOSYS="unix:path=$T/no-system-bus"
owner_pid () { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetConnectionUnixProcessID org.gitnearby.Server1 | sed 's/^(uint32 \([0-9]*\),)$/\1/'; }
DBUS_SYSTEM_BUS_ADDRESS=$NOSYS git-nearby serve --bind 127.0.0.1 --port 0 --port-file "$T/pub1.port" "$T/srv" > "$T/pub1.log" 2>&1 &
PUB1=$!
check "a publishing server starts beside the --no-publish one" wait_for test -s "$T/pub1.port"
check "and takes the name from it" wait_for eval '[ "$(owner_pid)" = "$PUB1" ]'
check "the --no-publish server says so and keeps serving" wait_for grep -q "a server that announces on the LAN took org.gitnearby.Server1; this one keeps serving" "$T/server.log"
check "still serving" git ls-remote -q "$URL/proj/main"
out=$(DBUS_SYSTEM_BUS_ADDRESS=$NOSYS timeout 10 git-nearby serve --bind 127.0.0.1 --port 0 --port-file "$T/pub2.port" "$T/srv" "$T/away" 2>&1); rc=$?
check_eq "a second publishing server refuses, naming the running one" \
  "1:git nearby serve: a server is already running in this session (pid $PUB1, port $(cat "$T/pub1.port"), serving $T/srv); stop it first (kill $PUB1), or run this one with --no-publish to serve without announcing" "$rc:$out"
check "before binding anything" test ! -e "$T/pub2.port"
out=$(adv_out "$T/srv/proj")
check_contains "advertise now asks the publishing server" "Served at http://127.0.0.1:$(cat "$T/pub1.port")/proj/second" "$out"
kill "$PUB1"; wait "$PUB1" 2>/dev/null
check "when it stops, the --no-publish server takes the name again" wait_for eval '[ "$(owner_pid)" = "$SERVER_PID" ]'
check "and says so" grep -q "the other server in this session stopped; this one now answers advertise" "$T/server.log"
out=$(adv_out "$T/srv/proj")
check_contains "advertise asks it" "Served at $URL/proj/second, but not announced" "$out"

# Several publishing servers started at once: exactly one stays.
for i in 1 2 3; do
  DBUS_SYSTEM_BUS_ADDRESS=$NOSYS git-nearby serve --bind 127.0.0.1 --port 0 --port-file "$T/race$i.port" "$T/srv" > "$T/race$i.log" 2>&1 &
  eval "RACE$i=\$!"
done
wait_for eval '[ "$(cat "$T"/race*.log | grep -c "a server is already running in this session")" = 2 ]'
check_eq "three publishing servers started at once: two refuse" "2" "$(cat "$T"/race*.log | grep -c "a server is already running in this session")"
check_eq "one serves" "1" "$(ls "$T"/race*.port 2>/dev/null | wc -l)"
kill "$RACE1" "$RACE2" "$RACE3" 2>/dev/null; wait "$RACE1" "$RACE2" "$RACE3" 2>/dev/null
done_testing
