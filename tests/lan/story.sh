#!/usr/bin/env bash
# The hackathon story of DESIGN.md, between two simulated hosts with real
# avahi-daemons: A serves and advertises, B browses, clones nearby://NAME,
# sees A's new commit and pulls it; branches come and go while A serves.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 || { not_ok "hosts come up"; done_testing; exit 1; }
avahi_start alice && avahi_start bob || { not_ok "avahi-daemons start"; done_testing; exit 1; }
ok "two hosts with their own avahi-daemon, system and session buses"

mkdir -p "$T/alice/srv" "$T/bob"
make_repo "$T/alice/srv/myproj"
git -C "$T/alice/srv/myproj" branch fix-login
(cd "$T/alice/srv/myproj" && on alice git nearby advertise --branch fix-login >/dev/null)
serve_on alice || { not_ok "alice's server starts"; done_testing; exit 1; }
PORT=$(cat "$T/alice.port")
check "alice's server announces on the LAN" wait_until 5 grep -q "announcing on the LAN as alice" "$T/alice.log"

check "bob's browse lists alice's branch" wait_until 5 visible_on bob myproj/fix-login
line=$(browse_on bob | grep -F '"name": "myproj/fix-login"')
KEY=$(pin_seen_from bob 10.77.0.1 "$PORT")
check_eq "with alice's address, port, branch, head, root commit, key, owner and subject" \
  "{\"name\": \"myproj/fix-login\", \"host\": \"alice\", \"address\": \"10.77.0.1\", \"port\": $PORT, \"url\": \"http://10.77.0.1:$PORT/myproj/fix-login\", \"branch\": \"fix-login\", \"head\": \"$(rev "$T/alice/srv/myproj" fix-login)\", \"repo\": \"$(rev "$T/alice/srv/myproj" main~2)\", \"key\": \"$KEY\", \"owner\": \"Alice\", \"subject\": \"$(git -C "$T/alice/srv/myproj" log -1 --format=%s fix-login)\", \"date\": $(git -C "$T/alice/srv/myproj" log -1 --format=%ct fix-login), \"project\": null, \"pinned\": []}" "$line"
table=$(on bob git nearby browse)
SUBJECT=$(git -C "$T/alice/srv/myproj" log -1 --format=%s fix-login)
check_contains "the table has a header" "NAME              HOST   OWNER  KEY        BRANCH     HEAD     AGE  SUBJECT           URL" "$table"
check_contains "and a row for the branch" "myproj/fix-login  alice  Alice  $(short_code "$KEY")  fix-login  $(rev "$T/alice/srv/myproj" fix-login | cut -c1-7)  now  $SUBJECT  http://10.77.0.1:$PORT/myproj/fix-login" "$table"

check_eq "resolve prints the URL" "http://10.77.0.1:$PORT/myproj/fix-login" "$(on bob git nearby resolve myproj/fix-login)"
check_eq "resolve finds a unique name by its end" "http://10.77.0.1:$PORT/myproj/fix-login" "$(on bob git nearby resolve fix-login)"
check_eq "resolve NAME@HOST" "http://10.77.0.1:$PORT/myproj/fix-login" "$(on bob git nearby resolve nearby://myproj/fix-login@alice)"
out=$(on bob git nearby resolve nosuch 2>&1); rc=$?
check_eq "an unknown name fails with exit 2" "2:git nearby: no branch named 'nosuch' is advertised nearby; see 'git nearby browse'" "$rc:$out"
out=$(on bob git nearby resolve myproj/fix-login@carol 2>&1); rc=$?
check_eq "a host that does not advertise it fails" "2:git nearby: no branch named 'myproj/fix-login' is advertised by carol; see 'git nearby browse'" "$rc:$out"

check "bob clones nearby://myproj/fix-login" on bob git clone -q nearby://myproj/fix-login "$T/bob/clone"
check "and gets the branch's history" same_history "$T/bob/clone" "$T/alice/srv/myproj" fix-login
check_eq "the remote stays nearby://, resolved at each use" "nearby://myproj/fix-login" "$(git -C "$T/bob/clone" remote get-url origin)"
check_eq "ls-remote works by name" "$(rev "$T/alice/srv/myproj" fix-login)	HEAD" "$(on bob git ls-remote nearby://fix-login HEAD)"
out=$(on bob git clone nearby://nosuch "$T/bob/none" 2>&1); rc=$?
check_eq "a name that resolves to nothing fails with the resolver's message" "128:fatal: no branch named 'nosuch' is advertised nearby; see 'git nearby browse'" "$rc:$(printf '%s\n' "$out" | grep -v '^Cloning into')"

# A commits: B's browse shows the new head, and B pulls it.
echo "from alice" > "$T/alice/srv/myproj/new.txt"
git -C "$T/alice/srv/myproj" checkout -q fix-login
git -C "$T/alice/srv/myproj" add new.txt && git -C "$T/alice/srv/myproj" commit -q -m "new work"
new=$(rev "$T/alice/srv/myproj" fix-login)
start=$(ms_now)
check "bob's browse shows the new head" wait_until 5 visible_on bob myproj/fix-login "\"head\": \"$new\""
echo "# new head visible on bob after $(( $(ms_now) - start )) ms"
check "bob pulls it" on bob git -C "$T/bob/clone" pull -q --ff-only
check_eq "bob's branch is alice's" "$new" "$(rev "$T/bob/clone" HEAD)"
git -C "$T/bob/clone" remote add alice2 nearby://myproj/fix-login@alice
check "git remote add with a nearby:// URL, then fetch" on bob git -C "$T/bob/clone" fetch -q alice2
check_eq "the fetched branch is alice's" "$new" "$(rev "$T/bob/clone" alice2/fix-login)"

# Advertise a second branch while A serves, then unadvertise it: bob sees
# each within 3 seconds. bob watches; each event carries its arrival time.
on bob git nearby browse --watch --json > "$T/bob.watch" 2>&1 &
WATCH=$!
wait_until 5 grep -q '"event": "appeared", "name": "myproj/fix-login"' "$T/bob.watch"
start=$(ms_now)
(cd "$T/alice/srv/myproj" && on alice git nearby advertise --branch main >/dev/null)
if wait_until 3 grep -q '"event": "appeared", "name": "myproj/main"' "$T/bob.watch"; then
  ok "an advertised branch appears on bob within 3 s ($(( $(ms_now) - start )) ms)"
else
  not_ok "an advertised branch appears on bob within 3 s" "$(cat "$T/bob.watch")"
fi
echo "# advertise -> visible on another host: $(( $(ms_now) - start )) ms"
start=$(ms_now)
(cd "$T/alice/srv/myproj" && on alice git nearby unadvertise --branch main >/dev/null)
if wait_until 3 grep -q '"event": "vanished", "name": "myproj/main"' "$T/bob.watch"; then
  ok "an unadvertised branch vanishes on bob within 3 s ($(( $(ms_now) - start )) ms)"
else
  not_ok "an unadvertised branch vanishes on bob within 3 s" "$(cat "$T/bob.watch")"
fi
echo "# unadvertise -> gone on another host: $(( $(ms_now) - start )) ms"
echo again >> "$T/alice/srv/myproj/new.txt"
git -C "$T/alice/srv/myproj" commit -qam "more work"
check "--watch reports a moved head as a change" \
  wait_until 5 grep -q "\"event\": \"changed\", \"name\": \"myproj/fix-login\".*\"head\": \"$(rev "$T/alice/srv/myproj" fix-login)\"" "$T/bob.watch"
# A deleted branch is withdrawn even while its opt-in stays in config.
git -C "$T/alice/srv/myproj" checkout -q main
git -C "$T/alice/srv/myproj" update-ref -d refs/heads/fix-login
if wait_until 3 grep -q '"event": "vanished", "name": "myproj/fix-login"' "$T/bob.watch"; then
  ok "a deleted branch vanishes on bob within 3 s"
else
  not_ok "a deleted branch vanishes on bob within 3 s" "$(cat "$T/bob.watch")"
fi
git -C "$T/alice/srv/myproj" branch fix-login "$new"
check "re-created, it appears again" wait_until 5 grep -q '"event": "appeared", "name": "myproj/fix-login".*"head": "'"$new"'"' "$T/bob.watch"
kill "$WATCH"; wait "$WATCH" 2>/dev/null

check "alice's server is still running" kill -0 "$(server_pid_on alice)"
done_testing
