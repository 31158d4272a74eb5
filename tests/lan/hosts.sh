#!/usr/bin/env bash
# Names on several hosts: the same name on alice and carol, ambiguous ends,
# and two servers on one host publishing the same name (an instance-name
# collision, renamed by Avahi's rules).
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 || { not_ok "hosts come up"; done_testing; exit 1; }
for h in alice bob carol; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done
ok "three hosts"

for h in alice carol; do
  mkdir -p "$T/$h/srv"
  make_repo "$T/$h/srv/proj"
  echo "$h" > "$T/$h/srv/proj/owner.txt"
  git -C "$T/$h/srv/proj" add owner.txt && git -C "$T/$h/srv/proj" commit -q -m "$h's work"
  (cd "$T/$h/srv/proj" && on "$h" git nearby advertise demo >/dev/null)
  git -C "$T/$h/srv/proj" branch fix
  (cd "$T/$h/srv/proj" && on "$h" git nearby advertise "$h/fix" --branch fix >/dev/null)
  serve_on "$h" || { not_ok "server starts on $h"; done_testing; exit 1; }
done

check "bob sees demo on both hosts" wait_until 8 eval '[ "$(browse_on bob | grep -c "\"name\": \"demo\"")" = 2 ]'
check_eq "bob's browse lists demo twice, once per host" "alice carol" "$(browse_on bob | grep '"name": "demo"' | grep -o '"host": "[a-z]*"' | sed 's/"host": "//; s/"//' | sort | tr '\n' ' ' | sed 's/ $//')"
ACODE=$(short_code "$(pin_seen_from bob 10.77.0.1 "$(cat "$T/alice.port")")")
CCODE=$(short_code "$(pin_seen_from bob 10.77.0.3 "$(cat "$T/carol.port")")")
choices="nearby://demo@$ACODE (Alice on alice, \"alice's work\"), nearby://demo@$CCODE (Carol on carol, \"carol's work\")"
out=$(on bob git nearby resolve demo 2>&1); rc=$?
check_eq "resolve of a name on two hosts fails listing both choices, by key" \
  "1:git nearby: 'demo' is advertised by 2 servers; pick one: $choices" "$rc:$out"
out=$(on bob git clone nearby://demo "$T/bob/ambiguous" 2>&1); rc=$?
check_exit "clone of such a name fails with the same choices" nonzero "$rc" "fatal: 'demo' is advertised by 2 servers; pick one: $choices" "$out"
check_eq "resolve NAME@HOST picks one" "http://10.77.0.3:$(cat "$T/carol.port")/demo" "$(on bob git nearby resolve demo@carol)"
check_eq "the host may be written with .local" "http://10.77.0.3:$(cat "$T/carol.port")/demo" "$(on bob git nearby resolve nearby://demo@carol.local)"
check "clone nearby://demo@carol" on bob git clone -q nearby://demo@carol "$T/bob/carol"
check_eq "gets carol's branch" "carol" "$(cat "$T/bob/carol/owner.txt")"
check "and exactly its history" same_history "$T/bob/carol" "$T/carol/srv/proj" main

out=$(on bob git nearby resolve fix 2>&1); rc=$?
check_eq "a name ending several advertised names is ambiguous" "1:git nearby: 'fix' is ambiguous; say which: alice/fix, carol/fix" "$rc:$out"
check_eq "a host narrows the end match" "http://10.77.0.1:$(cat "$T/alice.port")/alice/fix" "$(on bob git nearby resolve fix@alice)"

# A second user on alice (a session bus of their own, so their server is
# the one announcing server of that session) publishing the same name: same
# instance name on the same host, so Avahi's collision rules rename it.
mkdir -p "$T/alice2/srv"
make_repo "$T/alice2/srv/other"
(cd "$T/alice2/srv/other" && on alice git nearby advertise demo >/dev/null)
on alice dbus-daemon --session --address=unix:path=/run/session-bus-2 --fork --nopidfile >/dev/null
rm -f "$T/alice2.port"
on alice env DBUS_SESSION_BUS_ADDRESS=unix:path=/run/session-bus-2 \
  git-nearby serve --port 0 --port-file "$T/alice2.port" -v "$T/alice2/srv" > "$T/alice2.log" 2>&1 &
check "the second server's instance is renamed" wait_until 8 grep -q "the service name 'demo on alice' is taken on the network; using 'demo on alice #2'" "$T/alice2.log"
check "both are visible on bob as separate services" wait_until 8 eval '[ "$(browse_on bob | grep -c "\"name\": \"demo\", \"host\": \"alice\"")" = 2 ]'

done_testing
