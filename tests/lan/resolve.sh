#!/usr/bin/env bash
# Resolving on a LAN that changes: a pinned remote resolves as soon as its
# owner's service is there (no wait for Avahi's ALL_FOR_NOW); a record whose
# host never answers does not hold up anyone else's names; a host that left
# without a goodbye is reported as not answering, never picked; a search
# that ran out of time says so, apart from "not found".
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 && host_add dave 4 \
  || { not_ok "hosts come up"; done_testing; exit 1; }
for h in alice bob carol dave; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done
for h in alice carol; do
  mkdir -p "$T/$h/srv"
  make_repo "$T/$h/srv/$h-proj"
  (cd "$T/$h/srv/$h-proj" && on "$h" git nearby advertise >/dev/null)
  serve_on "$h" || { not_ok "server starts on $h"; done_testing; exit 1; }
done
APORT=$(cat "$T/alice.port") CPORT=$(cat "$T/carol.port")
check "bob sees both branches" wait_until 10 eval 'visible_on bob alice-proj/main && visible_on bob carol-proj/main'
check "bob clones alice's branch by name (and pins her key)" \
  on bob git clone -q nearby://alice-proj/main "$T/bob/alice"
check "the clone is pinned" git -C "$T/bob/alice" config remote.origin.nearbykey

# No other browser runs on bob, so Avahi's ALL_FOR_NOW comes a second after
# a browse starts: a pinned remote must not wait for it.
out=$(cd "$T/bob/alice" && on bob env GIT_NEARBY_DEBUG=1 git ls-remote origin 2>&1); rc=$?
check_exit "a pinned ls-remote works" 0 $rc "refs/heads/main" "$out"
check_contains "without waiting for ALL_FOR_NOW" "holds the key (ALL_FOR_NOW not waited for)" "$out"
out=$(cd "$T/bob/alice" && on bob env GIT_NEARBY_DEBUG=1 git ls-remote nearby://alice-proj/main 2>&1); rc=$?
check_exit "first contact (no remote) works" 0 $rc "refs/heads/main" "$out"
check_contains "and waits for ALL_FOR_NOW, to see every candidate" "browse over: ALL_FOR_NOW seen" "$out"
out=$(on bob env GIT_NEARBY_DEBUG=1 git ls-remote nearby://alice-proj/main@alice 2>&1); rc=$?
check_exit "so does first contact with @HOST" 0 $rc "refs/heads/main" "$out"

# A record whose host name has no address: its resolver would wait 5 s
# (Avahi's own timeout), as one would for a host that left long ago.
mapfile -t ghost_txt < <(printf '%s\n' txtvers=1 name=ghost/main path=/ghost/main ref=refs/heads/main)
on dave avahi-publish -s "ghost/main on ghost-host" -H ghost-host.local _git-http._tcp 9419 "${ghost_txt[@]}" >/dev/null 2>&1 &
GHOST=$!
check "bob's Avahi has the ghost's record" wait_until 10 eval \
  'on bob avahi-browse -pt _git-http._tcp 2>/dev/null | grep -q "ghost-host"'
start=$(ms_now)
out=$(on bob git nearby browse 2>&1); rc=$?
took=$(( $(ms_now) - start ))
check_exit "browse still lists everyone else" 0 $rc "alice-proj/main" "$out"
check "without waiting for the ghost's resolver (took ${took} ms; Avahi's is 5000)" test "$took" -lt 3500
start=$(ms_now)
out=$(cd "$T/bob/alice" && on bob git ls-remote origin 2>&1); rc=$?
took=$(( $(ms_now) - start ))
check_exit "a pinned ls-remote works with the ghost there" 0 $rc "refs/heads/main" "$out"
check "and is not slowed by it (took ${took} ms)" test "$took" -lt 1000
out=$(on bob git nearby resolve ghost/main 2>&1); rc=$?
check_eq "resolving the ghost's own name says its host does not answer" \
  "2:git nearby: 'ghost/main' may be the branch advertised as 'ghost/main on ghost-host', but its host does not answer (it may have left the network)" "$rc:$out"
kill "$GHOST" 2>/dev/null; wait "$GHOST" 2>/dev/null

# Carol's link goes down: no goodbye, her records stay in bob's cache.
ip -n "$LAN-lan" link set vcarol down
start=$(ms_now)
out=$(cd "$T/bob/alice" && on bob git ls-remote origin 2>&1); rc=$?
took=$(( $(ms_now) - start ))
check_exit "with carol gone, alice's pinned branch still resolves" 0 $rc "refs/heads/main" "$out"
check "well under a second (took ${took} ms)" test "$took" -lt 1000
out=$(on bob git nearby resolve alice-proj/main 2>&1); rc=$?
check_eq "and so does a first contact" "0:http://10.77.0.1:$APORT/alice-proj/main" "$rc:$out"
out=$(on bob git ls-remote nearby://carol-proj/main 2>&1); rc=$?
check_exit "carol's branch is not picked: her server does not answer" 128 $rc \
  "fatal: 'carol-proj/main' is advertised by carol at http://10.77.0.3:$CPORT/carol-proj/main, but that server does not answer (its host may have left the network)" "$out"
out=$(on bob git nearby browse 2>&1); rc=$?
check_exit "browse leaves carol's branch out" 0 $rc "alice-proj/main" "$out"
check_not_contains "(it is not in the list)" "carol-proj/main" "$out"
check_contains "and says so" "not listed: 1 branch(es) whose server does not answer" "$out"
ip -n "$LAN-lan" link set vcarol up

# Out of time is not "not found"; a bad timeout is an error.
out=$(on bob git nearby resolve --timeout 0.001 alice-proj/main 2>&1); rc=$?
check_eq "a resolve that runs out of time says so" \
  "1:git nearby: timed out after 0.001 s looking for 'alice-proj/main': avahi-daemon did not finish answering; try again, or wait longer with GIT_NEARBY_TIMEOUT or --timeout" "$rc:$out"
out=$(on bob git nearby resolve no-such-name 2>&1); rc=$?
check_eq "not found is not a timeout" \
  "2:git nearby: no branch named 'no-such-name' is advertised nearby; see 'git nearby browse'" "$rc:$out"
out=$(on bob env GIT_NEARBY_TIMEOUT=soon git ls-remote nearby://alice-proj/main 2>&1); rc=$?
check_eq "a GIT_NEARBY_TIMEOUT that is not a number is an error" \
  "128:fatal: GIT_NEARBY_TIMEOUT='soon' is not a number of seconds (more than 0, at most 3600)" "$rc:$out"
out=$(on bob env GIT_NEARBY_TIMEOUT=0.001 git ls-remote nearby://alice-proj/main 2>&1); rc=$?
check_exit "and one that is short times out, saying so" 128 $rc "fatal: timed out after 0.001 s looking for 'alice-proj/main'" "$out"
out=$(on bob git nearby resolve $'esc\x1b[31mape' 2>&1); rc=$?
check_not_contains "a name with control characters is echoed escaped" $'\x1b' "$out"
done_testing
