#!/usr/bin/env bash
# Avahi comes and goes: a server started before avahi-daemon serves anyway
# and publishes once it starts; a restarted daemon gets the branches again
# with current TXT records; a server stopped with SIGTERM says goodbye, and
# comes back when restarted.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 || { not_ok "hosts come up"; done_testing; exit 1; }
avahi_start bob || { not_ok "avahi-daemon starts on bob"; done_testing; exit 1; }
mkdir -p "$T/alice/srv"
make_repo "$T/alice/srv/proj"
(cd "$T/alice/srv/proj" && on alice git nearby advertise >/dev/null)

# No avahi-daemon on alice yet.
serve_on alice || { not_ok "alice's server starts without avahi-daemon"; done_testing; exit 1; }
ok "alice's server starts without avahi-daemon"
PORT=$(cat "$T/alice.port")
check "it serves anyway" on bob git clone -q "http://10.77.0.1:$PORT/proj/main" "$T/bob/direct"
check_eq "and says so once" "1" "$(grep -c "avahi-daemon is not running: serving without announcing on the LAN until it starts" "$T/alice.log")"
check "bob does not see it" invisible_on bob proj/main
out=$(on alice git nearby browse 2>&1); rc=$?
check_eq "browse without avahi-daemon is a one-line error" \
  "1:git nearby: cannot look for branches nearby: Daemon not running (is avahi-daemon running?)" "$rc:$out"
out=$(on alice git nearby resolve proj/main 2>&1); rc=$?
check_eq "so is resolve" "1:git nearby: cannot look for branches nearby: Daemon not running (is avahi-daemon running?)" "$rc:$out"
out=$(on alice git ls-remote nearby://proj/main 2>&1); rc=$?
check_eq "and a nearby:// URL" "128:fatal: cannot look for branches nearby: Daemon not running (is avahi-daemon running?)" "$rc:$out"

avahi_start alice || { not_ok "avahi-daemon starts on alice"; done_testing; exit 1; }
check "once alice's avahi-daemon starts, the branch is announced" wait_until 8 visible_on bob proj/main
check_eq "with one warning in all" "1" "$(grep -c "avahi-daemon is not running" "$T/alice.log")"

# The daemon goes away and comes back; a commit lands meanwhile.
avahi_stop alice
check "when alice's avahi-daemon stops, bob no longer sees the branch" wait_until 8 invisible_on bob proj/main
check "alice's server notices" wait_until 5 grep -q "lost avahi-daemon; announcing again when it is back" "$T/alice.log"
check "and keeps serving" on bob git clone -q "http://10.77.0.1:$PORT/proj/main" "$T/bob/while-down"
echo "while down" >> "$T/alice/srv/proj/file.txt"
git -C "$T/alice/srv/proj" commit -qam "committed while avahi-daemon was down"
avahi_start alice
new=$(rev "$T/alice/srv/proj" main)
check "after the restart the branch returns on bob with the current head" \
  wait_until 10 visible_on bob proj/main "\"head\": \"$new\""
check "by name, too" on bob git clone -q nearby://proj/main "$T/bob/after-restart"
check_eq "at the new head" "$new" "$(rev "$T/bob/after-restart" HEAD)"

# SIGTERM: goodbye packets; a restart brings the branch back.
stop_server_on alice
check "a server stopped with SIGTERM withdraws its branches at once" wait_until 3 invisible_on bob proj/main
check "and says it stopped" grep -q "stopped" "$T/alice.log"
serve_on alice || not_ok "alice's server starts again"
check "restarted, its branches return" wait_until 8 visible_on bob proj/main

# No system bus at all (so Avahi cannot even be waited for): one warning,
# however long it serves, and it still serves. (Alice's server stops first:
# one announcing server per session.)
stop_server_on alice
mkdir -p "$T/nobus/srv"
make_repo "$T/nobus/srv/lonely"
(cd "$T/nobus/srv/lonely" && on alice git nearby advertise >/dev/null)
on alice env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/no-such-bus git-nearby serve --port 0 \
  --port-file "$T/nobus.port" "$T/nobus/srv" > "$T/nobus.log" 2>&1 &
check "a server without a system bus starts" wait_until 5 test -s "$T/nobus.port"
sleep 4
check_eq "without a system bus the server warns once in 4 s" "1" "$(grep -c "avahi-daemon is not running" "$T/nobus.log")"
check "and serves" on bob git clone -q "http://10.77.0.1:$(cat "$T/nobus.port")/lonely/main" "$T/bob/lonely"
done_testing
