#!/usr/bin/env bash
# browse --watch on a LAN that changes: one "appeared" per service, with its
# IPv4 address although link-local IPv6 copies come too; a host that drops
# off without a goodbye "vanished" within 10 s, and appears again when it is
# back; a new address is "changed"; a restarted local avahi-daemon is
# waited for, not a reason to stop.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 || { not_ok "hosts come up"; done_testing; exit 1; }
for h in alice bob carol; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done
for h in alice carol; do
  mkdir -p "$T/$h/srv"
  make_repo "$T/$h/srv/$h-proj"
  (cd "$T/$h/srv/$h-proj" && on "$h" git nearby advertise >/dev/null)
  serve_on "$h" || { not_ok "server starts on $h"; done_testing; exit 1; }
done
APORT=$(cat "$T/alice.port") CPORT=$(cat "$T/carol.port")
check "bob sees both branches" wait_until 10 eval 'visible_on bob alice-proj/main && visible_on bob carol-proj/main'
check "alice announces on IPv6 (link-local) as well" eval \
  'on bob avahi-browse -prt _git-http._tcp 2>/dev/null | grep "^=;eth0;IPv6;alice-proj" | grep -q ";fe80::"'

WATCH_LOG="$T/watch.log"
on bob git nearby browse --watch --json > "$WATCH_LOG" 2> "$T/watch.err" &
WATCH=$!
events () { grep -c "\"event\": \"$1\", \"name\": \"$2\"" "$WATCH_LOG"; }
check "the watch reports both" wait_until 10 eval '[ "$(events appeared alice-proj/main)" = 1 ] && [ "$(events appeared carol-proj/main)" = 1 ]'
sleep 2
check_eq "exactly one appeared per service, and nothing else" "1 1 2" \
  "$(events appeared alice-proj/main) $(events appeared carol-proj/main) $(wc -l < "$WATCH_LOG")"
check_contains "with the IPv4 address" "\"url\": \"http://10.77.0.1:$APORT/alice-proj/main\"" \
  "$(grep alice-proj "$WATCH_LOG")"
check "the lines are JSON" python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$WATCH_LOG"

# Carol's link goes down: no goodbye, her records stay in bob's cache.
ip -n "$LAN-lan" link set vcarol down
start=$(ms_now)
check "carol's branch vanishes within 10 s" wait_until 10 eval '[ "$(events vanished carol-proj/main)" = 1 ]'
echo "# vanished after $(( $(ms_now) - start )) ms"
check_eq "alice's does not" "0" "$(events vanished alice-proj/main)"
ip -n "$LAN-lan" link set vcarol up
check "carol's branch appears again when she is back" wait_until 15 eval '[ "$(events appeared carol-proj/main)" = 2 ]'

# Alice's address changes.
on alice ip addr del 10.77.0.1/24 dev eth0
on alice ip addr add 10.77.0.11/24 dev eth0
check "alice's new address is reported as changed" wait_until 15 eval \
  'grep "\"event\": \"changed\", \"name\": \"alice-proj/main\"" "$WATCH_LOG" | grep -q "http://10.77.0.11:$APORT/"'
check_eq "without a vanished" "0" "$(events vanished alice-proj/main)"

# bob's avahi-daemon restarts under the running watch.
gone_before="$(events vanished alice-proj/main) $(events vanished carol-proj/main)"
avahi_stop bob
avahi_start bob || not_ok "avahi-daemon restarts on bob"
check "the watch is still running" kill -0 "$WATCH"
check_contains "and said why it waits" "lost avahi-daemon; watching again when it is back" "$(cat "$T/watch.err")"
git -C "$T/alice/srv/alice-proj" branch later
(cd "$T/alice/srv/alice-proj" && on alice git nearby advertise --branch later >/dev/null)
check "it reports a branch advertised after the restart" wait_until 15 eval '[ "$(events appeared alice-proj/later)" = 1 ]'
sleep 3
check_eq "and the branches it knew stayed, without vanishing" "$gone_before" \
  "$(events vanished alice-proj/main) $(events vanished carol-proj/main)"
kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null
sed 's/^/# /' "$T/watch.err"
done_testing
