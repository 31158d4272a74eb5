#!/usr/bin/env bash
# One announcing server per session: a second `git nearby serve` in the same
# session refuses, naming the running one, so no branch is announced twice
# ("... #2") and every name still resolves to one service; a --no-publish
# server runs beside it without taking its name. advertise says what the
# running server does with the branch. serve prints the URLs people can use.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 || { not_ok "hosts come up"; done_testing; exit 1; }
avahi_start alice && avahi_start bob || { not_ok "avahi-daemons start"; done_testing; exit 1; }
ok "two hosts with their own avahi-daemon, system and session buses"

mkdir -p "$T/alice/srv" "$T/bob"
make_repo "$T/alice/srv/proj"
(cd "$T/alice/srv/proj" && on alice git nearby advertise >/dev/null)
serve_on alice || { not_ok "alice's server starts"; done_testing; exit 1; }
PORT=$(cat "$T/alice.port")
APID=$(server_pid_on alice)

# The URLs serve prints: the .local name first, then the interface
# addresses (link-local with its zone), loopback last; never 0.0.0.0 or [::].
urls=$(sed -n '/listening on port/,$p' "$T/alice.log" | grep '^git nearby serve:   ' | sed 's/^git nearby serve:   //')
check_eq "serve prints the host's .local URL first" "http://alice.local:$PORT/" "$(printf '%s\n' "$urls" | head -n 1)"
check_contains "then its IPv4 address" "http://10.77.0.1:$PORT/" "$urls"
check "and its link-local IPv6 address with the zone" eval "printf '%s\n' \"\$urls\" | grep -qE '^http://\[fe80::[0-9a-f:]+%25eth0\]:$PORT/\$'"
check_eq "loopback comes last, marked" "http://[::1]:$PORT/ (this machine only)" "$(printf '%s\n' "$urls" | tail -n 1)"
check_not_contains "no unspecified address" "0.0.0.0" "$(cat "$T/alice.log")"
check_not_contains "no [::]" "[::]" "$(cat "$T/alice.log")"
LL=$(printf '%s\n' "$urls" | grep fe80)
check "the link-local URL is one bob can use" on bob git ls-remote -q "${LL}proj/main"

check "bob sees proj/main" wait_until 8 visible_on bob proj/main

# A second serve in the same session: refused before it binds anything.
rm -f "$T/alice2.port"
on alice git nearby serve --port 0 --port-file "$T/alice2.port" "$T/alice/srv" > "$T/alice2.log" 2>&1 &
P2=$!
wait_until 10 eval '! kill -0 $P2'
if kill -0 "$P2" 2>/dev/null; then rc=running; else wait "$P2"; rc=$?; fi
check_eq "a second serve in the session refuses, naming the running one" \
  "1:git nearby serve: a server is already running in this session (pid $APID, port $PORT, serving $T/alice/srv); stop it first (kill $APID), or run this one with --no-publish to serve without announcing" "$rc:$(cat "$T/alice2.log")"
check "it bound nothing" test ! -e "$T/alice2.port"

# A --no-publish server may run beside it: it announces nothing and leaves
# the name (and so advertise's questions) to the running one.
mkdir -p "$T/alice3/srv"
make_repo "$T/alice3/srv/side"
(cd "$T/alice3/srv/side" && on alice git nearby advertise proj/main >/dev/null)
on alice git-nearby serve --no-publish --port 0 --port-file "$T/alice3.port" "$T/alice3/srv" > "$T/alice3.log" 2>&1 &
check "a --no-publish server starts beside it" wait_until 10 test -s "$T/alice3.port"
check_contains "and says who has the session" "another server runs in this session (pid $APID, port $PORT, serving $T/alice/srv)" "$(cat "$T/alice3.log")"
owner=$(on alice gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetConnectionUnixProcessID org.gitnearby.Server1)
check_eq "the name stays with the announcing server" "(uint32 $APID,)" "$owner"

# Give a duplicate every chance to show up (the second serve, were it still
# running, would have announced within 2 s), then look.
sleep 2
# avahi-browse -p writes '#' as \035
check "no '#2' advert on the LAN" eval "! on bob avahi-browse -t -p _git-http._tcp 2>/dev/null | grep -qF -e '#2' -e '\\0352'"
check_eq "bob's browse lists proj/main once" "1" "$(browse_on bob | grep -c '"name": "proj/main"')"

check_eq "the name resolves to the one service" "http://10.77.0.1:$PORT/proj/main" "$(on bob git nearby resolve proj/main 2>&1)"
check "and clones from it" on bob git clone -q nearby://proj/main "$T/bob/clone"
check "alice's history" same_history "$T/bob/clone" "$T/alice/srv/proj" main

# advertise, answered by the running server.
git -C "$T/alice/srv/proj" branch feature
out=$(cd "$T/alice/srv/proj" && on alice git nearby advertise --branch feature 2>&1); rc=$?
check_eq "advertise says where the branch is served and that it is announced" \
  "0:Advertising branch 'feature' as 'proj/feature'.
Served at http://alice.local:$PORT/proj/feature and announced on the LAN." "$rc:$out"
check "which bob sees" wait_until 5 visible_on bob proj/feature
check_eq "at the .local name advertise printed" "10.77.0.1" "$(on bob avahi-resolve -4 -n alice.local 2>/dev/null | cut -f2)"

# A long history: its root commit (TXT repo=) is found off the main loop,
# and the record gets it once it is; a commit on top keeps it.
L="$T/alice/srv/long"
git init -q -b main "$L"
c=$(git -C "$L" commit-tree -m root "$(git -C "$L" write-tree)")
ROOT=$c
for i in $(seq 1 200); do c=$(git -C "$L" commit-tree -p "$c" -m "c$i" "$(git -C "$L" write-tree)"); done
git -C "$L" update-ref refs/heads/main "$c"
(cd "$L" && on alice git nearby advertise >/dev/null)
check "a branch 200 commits above its root is announced with its root commit" \
  wait_until 10 visible_on bob long/main "\"repo\": \"$ROOT\""
c=$(git -C "$L" commit-tree -p "$c" -m "one more" "$(git -C "$L" write-tree)")
git -C "$L" update-ref refs/heads/main "$c"
check "and after a commit, with the new head and the same root" \
  wait_until 10 visible_on bob long/main "\"head\": \"$c\", \"repo\": \"$ROOT\""

make_repo "$T/alice/elsewhere"
out=$(cd "$T/alice/elsewhere" && on alice git nearby advertise 2>&1); rc=$?
check_eq "advertise outside the served directories says so, and what would serve it" \
  "0:Advertising branch 'main' as 'elsewhere/main'.
Not served: $T/alice/elsewhere is outside the directories the running server serves ($T/alice/srv). To serve it, stop that server (kill $APID) and start it again with: git nearby serve $T/alice/srv $T/alice/elsewhere" "$rc:$out"

avahi_stop alice
git -C "$T/alice/srv/proj" branch later
out=$(cd "$T/alice/srv/proj" && on alice git nearby advertise --branch later 2>&1); rc=$?
check_eq "without avahi-daemon: served, not announced yet" \
  "0:Advertising branch 'later' as 'proj/later'.
Served at http://alice.local:$PORT/proj/later, but not announced on the LAN yet: avahi-daemon is not running." "$rc:$out"
avahi_start alice
check "once avahi-daemon is back the branch is announced" wait_until 10 visible_on bob proj/later

# Once the announcing server stops, a new one may start.
stop_server_on alice
check "the --no-publish server takes the name" wait_until 5 grep -q "the other server in this session stopped; this one now answers advertise" "$T/alice3.log"
serve_on alice || not_ok "a new server starts once the first stopped"
check "and announces" wait_until 8 visible_on bob proj/main
check_eq "once" "1" "$(browse_on bob | grep -c '"name": "proj/main"')"
done_testing
