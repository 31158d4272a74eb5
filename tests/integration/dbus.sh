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
check_eq "with a server running, advertise says nothing more" "Advertising branch 'second' as 'proj/second'." "$out"

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
done_testing
