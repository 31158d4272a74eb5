#!/usr/bin/env bash
# 10,000 advertised branches: the server announces the first 900 by name
# (within avahi-daemon's per-client object limit), says so once, serves all
# of them, and a tip move updates that branch's TXT record only, without
# stalling the server.
. "$(dirname "$0")/lib.sh"

host_add alice 1 || { not_ok "host comes up"; done_testing; exit 1; }
# IPv4 only: half the records, so that 900 services are announced sooner.
sed -i 's/^use-ipv6=yes$/use-ipv6=no/' "$T/avahi-alice.conf"
avahi_start alice || { not_ok "avahi-daemon starts on alice"; done_testing; exit 1; }

R="$T/alice/srv/many"
mkdir -p "$T/alice/srv"
make_repo "$R"
TIP=$(rev "$R" main)
for i in $(seq 0 9999); do printf 'create refs/heads/b%05d %s\n' "$i" "$TIP"; done | git -C "$R" update-ref --stdin
git -C "$R" pack-refs --all
for i in $(seq 0 9999); do printf '[branch "b%05d"]\n\tnearby = true\n' "$i"; done >> "$R/.git/config"
check_eq "10,000 opted-in branches" 10000 "$(git -C "$R" config --get-regexp '^branch\..*\.nearby$' | wc -l)"

serve_on alice || { not_ok "the server starts"; done_testing; exit 1; }
PORT=$(cat "$T/alice.port")
announced () { on alice avahi-browse -t -p -k _git-http._tcp 2>/dev/null | grep -c '^+;eth0;IPv4;many'; }
all_announced () { test "$(announced)" -eq 900; }
check "900 branches are announced" wait_until 120 all_announced || {
  echo "# announced: $(announced); the server's log ends:"; tail -n 5 "$T/alice.log" | sed 's/^/#   /'; }
WARNING="announcing 900 of 10000 advertised branches on the LAN (Avahi's limit); all are served"
check_eq "with one warning" 1 "$(grep -cF "$WARNING" "$T/alice.log")"
check_eq "and no failures" 0 "$(grep -c "cannot publish" "$T/alice.log")"
instances=$(on alice avahi-browse -t -p -k _git-http._tcp 2>/dev/null | grep '^+;eth0;IPv4;' | cut -d';' -f4 | sort -u)
check_eq "the first 900 by name" "$(seq 0 899 | xargs printf 'many/b%05d on alice\n')" \
  "$(printf '%s\n' "$instances" | sed 's/\\032/ /g; s/\\047/\//g')"
check "an unannounced branch is served" \
  on alice git ls-remote "http://10.77.0.1:$PORT/many/b09999"

# A tip move on an announced branch, with GET / in a loop meanwhile.
rm -f "$T/get.stop" "$T/get.times"
(for i in $(seq 1 600); do
   [ -e "$T/get.stop" ] && break
   on alice curl -s -o /dev/null --max-time 10 -w '%{time_total}\n' "http://10.77.0.1:$PORT/" >> "$T/get.times"
 done) &
GET_PID=$!
sleep 0.5
NEW=$(git -C "$R" commit-tree -p "$TIP" -m "a move" "$TIP^{tree}")
git -C "$R" update-ref refs/heads/b00000 "$NEW"
NEW2=$(git -C "$R" commit-tree -p "$TIP" -m "a move beyond the cap" "$TIP^{tree}")
git -C "$R" update-ref refs/heads/b09999 "$NEW2"
check "the server notices" wait_until 10 grep -q "updated the TXT record of 'many/b00000'" "$T/alice.log"
sleep 0.5
touch "$T/get.stop"; wait "$GET_PID"
worst=$(sort -g "$T/get.times" | tail -n 1)
echo "# GET / around the tip moves: $(wc -l < "$T/get.times") requests, worst ${worst} s"
echo "# $(grep -o 'tips: .*' "$T/alice.log" | tail -n 1)"
check "GET / stays under 0.5 s meanwhile (worst $worst s)" awk -v t="$worst" 'BEGIN { exit !(t < 0.5) }'
txt_of_b0 () { on alice avahi-browse -t -r -p _git-http._tcp 2>/dev/null | grep -F '=;eth0;IPv4;many\047b00000\032on\032alice;' | grep -q "head=$NEW"; }
check "the moved branch's TXT record names its new head" wait_until 30 txt_of_b0
check_eq "the warning is not repeated" 1 "$(grep -cF "$WARNING" "$T/alice.log")"
check_eq "one TXT record updated" 1 "$(grep -c "updated the TXT record of" "$T/alice.log")"
check_eq "still 900 announced" 900 "$(announced)"
check_eq "still no failures" 0 "$(grep -c "cannot publish" "$T/alice.log")"

# advertise tells which side of the cap a branch is on.
out=$(cd "$R" && on alice git nearby advertise --branch b00001 2>&1)
check_eq "advertise of one of the first 900: served and announced" "Advertising branch 'b00001' as 'many/b00001'.
Served at http://alice.local:$PORT/many/b00001 and announced on the LAN." "$out"
out=$(cd "$R" && on alice git nearby advertise --branch b09998 2>&1)
check_eq "advertise of a branch past them: served, not announced, and why" "Advertising branch 'b09998' as 'many/b09998'.
Served at http://alice.local:$PORT/many/b09998, but not announced on the LAN: the server announces the first 900 advertised branches by name (Avahi's limit)." "$out"

done_testing
