#!/usr/bin/env bash
# Negotiation on a long history: no request shape may hold the server (or
# GET /) for more than a moment, the answers stay right, and concurrent
# first fetches of a new tip share one history walk.
. "$(dirname "$0")/../integration/lib.sh"

# Two lines of 8,000 commits from one root, merged: main's history has
# 16,002 commits. Commit times interleave (a_i, then b_i), so that a search
# from one line towards the other's commits has to go a long way down.
LINE=8000
R="$T/srv/long"
git init -q "$R"
awk -v n="$LINE" 'BEGIN {
  t = 1000000000
  printf "commit refs/heads/main\nmark :1\ncommitter T <t@example.invalid> %d +0000\ndata 4\nroot\n", t
  printf "M 644 inline root.txt\ndata 5\nroot\n\n"
  for (l = 0; l < 2; l++) {
    name = l == 0 ? "a" : "b"
    for (i = 1; i <= n; i++) {
      mark = 2 + l * n + i
      from = i == 1 ? 1 : mark - 1
      printf "commit refs/heads/%s\nmark :%d\ncommitter T <t@example.invalid> %d +0000\n", name, mark, t + 2 * i + l
      msg = name " " i
      printf "data %d\n%s\nfrom :%d\nM 644 inline %s.txt\ndata %d\n%s\n\n", length(msg), msg, from, name, length(msg), msg
    }
  }
  printf "commit refs/heads/main\nmark :2\ncommitter T <t@example.invalid> %d +0000\ndata 5\nmerge\n", t + 2 * n + 2
  printf "from :%d\nmerge :%d\n\n", 2 + n, 2 + 2 * n
}' | git -C "$R" fast-import --quiet
git -C "$R" update-ref -d refs/heads/a
git -C "$R" update-ref -d refs/heads/b
git -C "$R" reset -q --hard main
(cd "$R" && git nearby advertise >/dev/null)
N=long/main
check_eq "a history of 16,002 commits" 16002 "$(git -C "$R" rev-list --count main)"

TIP=$(rev "$R" main)
A=$(rev "$R" main^1) # the head of line a
NONE=0123456789abcdef0123456789abcdef01234567
# line_commit LINE I: the I-th commit of a line (1 is the oldest)
line_commit () { rev "$R" "main^$([ "$1" = a ] && echo 1 || echo 2)~$((LINE - $2))"; }
# B_RECENT: 64 recent commits of line b, newest first
B_RECENT=$(git -C "$R" rev-list --max-count=64 main^2)
A_OLD=$(line_commit a 100)
unknowns () { local i; for i in $(seq 1 "$1"); do printf 'have %040x\n' "$i"; done; }

start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }

# Wants and haves, timed; the answer in $T/resp.txt, seconds in $T/time.
post_timed () {
  local proto=$1
  "$PKT" encode > "$T/req.bin"
  curl -s -o "$T/resp.bin" -w '%{time_total}' --max-time 20 \
    ${proto:+-H "Git-Protocol: $proto"} \
    -H 'Content-Type: application/x-git-upload-pack-request' \
    --data-binary @"$T/req.bin" "$URL/$N/git-upload-pack" > "$T/time"
  "$PKT" decode "$T/resp.pack" < "$T/resp.bin" > "$T/resp.txt"
}
v0_round () { # WANT then have lines: one stateless round, no done
  local want=$1; shift
  { printf 'want %s multi_ack_detailed side-band-64k ofs-delta no-progress agent=test\nFLUSH\n' "$want"
    printf '%s\n' "$@"; echo FLUSH; } | post_timed ""
}
v2_round () {
  local want=$1; shift
  { printf 'command=fetch\nagent=test\nobject-format=sha1\nDELIM\nno-progress\nwant %s\n' "$want"
    printf '%s\n' "$@"; echo FLUSH; } | post_timed "version=2"
}
# below SECONDS: whether $T/time is under the bound
below () { awk -v t="$(cat "$T/time")" -v b="$1" 'BEGIN { exit !(t < b) }'; }

# GET / in a loop (bounded) while the requests run; each time in $T/get.times.
get_loop_start () {
  rm -f "$T/get.stop" "$T/get.times"
  (for i in $(seq 1 3000); do
     [ -e "$T/get.stop" ] && break
     curl -s -o /dev/null --max-time 10 -w '%{time_total}\n' "$URL/" >> "$T/get.times"
   done) &
  GET_PID=$!
}
get_loop_stop () {
  touch "$T/get.stop"
  wait "$GET_PID"
  GET_MAX=$(sort -g "$T/get.times" | tail -n 1)
  GET_N=$(wc -l < "$T/get.times")
}

# The first request that needs the reach set walks the history (in a worker
# thread); this one is not timed, the next ones are.
v0_round "$A_OLD" "have $(line_commit b 10)"
check_contains "a warm-up round is answered" "NAK" "$(cat "$T/resp.txt")"

# The 6 KB give-up request: an old want, 64 common haves, 60 unknown ones.
get_loop_start
worst=0
for attempt in 1 2 3; do
  { printf 'want %s multi_ack_detailed side-band-64k ofs-delta no-progress agent=test\nFLUSH\n' "$A_OLD"
    printf 'have %s\n' $B_RECENT; unknowns 60; echo FLUSH; } | post_timed ""
  t=$(cat "$T/time")
  worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
done
get_loop_stop
echo "# the 6 KB give-up request: worst of 3 took ${worst} s; GET / meanwhile: $GET_N requests, worst ${GET_MAX} s"
check "the 6 KB give-up request answers in under 2 s (took ${worst} s)" \
  awk -v t="$worst" 'BEGIN { exit !(t < 2) }'
check "GET / stays under 0.5 s meanwhile (worst ${GET_MAX} s of $GET_N)" \
  awk -v t="$GET_MAX" 'BEGIN { exit !(t < 0.5) }'
resp=$(cat "$T/resp.txt")
check_eq "every common have is acknowledged" 64 "$(grep -c ' common$' "$T/resp.txt")"
check_not_contains "an old want reaches none of them: not ready" "ready" "$resp"
check_contains "the round ends in NAK" "NAK" "$(tail -n 2 "$T/resp.txt")"

# The same in v2.
get_loop_start
{ printf 'command=fetch\nagent=test\nobject-format=sha1\nDELIM\nno-progress\nwant %s\n' "$A_OLD"
  printf 'have %s\n' $B_RECENT; unknowns 60; echo FLUSH; } | post_timed "version=2"
get_loop_stop
echo "# v2 give-up request: $(cat "$T/time") s; GET / meanwhile: worst ${GET_MAX} s"
check "v2: the give-up request answers in under 2 s ($(cat "$T/time") s)" below 2
check "v2: GET / stays under 0.5 s meanwhile (worst ${GET_MAX} s)" \
  awk -v t="$GET_MAX" 'BEGIN { exit !(t < 0.5) }'
check_contains "v2: acknowledgments, no ready" "acknowledgments" "$(cat "$T/resp.txt")"
check_not_contains "v2: not ready" "ready" "$(cat "$T/resp.txt")"

# The answers stay right: a want that reaches a common have is ready.
v0_round "$A" "have $(line_commit a 5000)" "have $NONE"
check_contains "v0: a want above a common have is ready" "ready" "$(cat "$T/resp.txt")"
v2_round "$A" "have $(line_commit a 7000)"
check_contains "v2: a want above a common have is ready" "ready" "$(cat "$T/resp.txt")"
v2_round "$A" "have $(line_commit b 7000)"
check_not_contains "v2: a want on the other line is not" "ready" "$(cat "$T/resp.txt")"

# The expensive shape: a want on line a, then every commit of line b from
# the newest down, each followed by an unknown have. Each common lowers the
# date cutoff, so each unknown have asks again and searches further down
# line a: 32 M commit visits if each asking walked again (git's own
# upload-pack takes seconds here); one walk for the request visits each
# commit once. The last of line b's commons is the root, which the want
# reaches: only the unknown have after it gets "ready", as from git.
git -C "$R" rev-list main^2 | awk '{ printf "have %s\nhave %040x\n", $1, NR }' > "$T/haves"
get_loop_start
{ printf 'want %s multi_ack_detailed side-band-64k ofs-delta no-progress agent=test\nFLUSH\n' "$A"
  cat "$T/haves"; echo FLUSH; } | post_timed ""
get_loop_stop
echo "# 16,002 interleaved haves ($(wc -c < "$T/req.bin") bytes): $(cat "$T/time") s; GET / meanwhile: worst ${GET_MAX} s"
searched=$(grep -o 'negotiation: [0-9]* have(s), [0-9]* common, [0-9]* commits searched' "$T/server.log" | tail -n 1 | awk '{ print $6 }')
check "one walk: each commit visited at most once (${searched:-?} commits visited)" \
  test "${searched:-99999999}" -le 16002
check "interleaved haves answer in under 2 s ($(cat "$T/time") s)" below 2
check "GET / stays under 0.5 s meanwhile (worst ${GET_MAX} s)" \
  awk -v t="$GET_MAX" 'BEGIN { exit !(t < 0.5) }'
check_eq "all 8,001 commons acknowledged" 8001 "$(grep -c ' common$' "$T/resp.txt")"
check_eq "ready only once the root is had" "ACK $(printf %040x 8001) ready" \
  "$(grep ready "$T/resp.txt")"

# Many shallow lines with deepen-relative: the new boundary is checked
# against the client's shallows by set, not one list against the other.
for i in 1 2 3 4 5 6 7 8; do git -C "$R" rev-list main^2 | sed 's/^/shallow /'; done > "$T/shallows"
get_loop_start
{ printf 'command=fetch\nagent=test\nobject-format=sha1\nDELIM\nno-progress\nwant %s\n' "$TIP"
  cat "$T/shallows"; printf 'deepen 1\ndeepen-relative\ndone\n'; echo FLUSH; } | post_timed "version=2"
get_loop_stop
echo "# $(wc -l < "$T/shallows") shallow lines, deepen-relative: $(cat "$T/time") s; GET / meanwhile: worst ${GET_MAX} s"
check_contains "many shallow lines: the answer has shallow-info" "shallow-info" "$(cat "$T/resp.txt")"
check "and comes in under 2 s ($(cat "$T/time") s)" below 2

# 30 concurrent first fetches of a new tip: one walk, shared.
rss () { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
hwm () { awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status"; }
rss_before=$(rss)
hwm_before=$(hwm)
OLD_TIP=$TIP
echo new > "$R/new.txt" && git -C "$R" add new.txt && git -C "$R" commit -q -m "a new tip"
TIP=$(rev "$R" main)
printf 'want %s multi_ack_detailed side-band-64k ofs-delta no-progress agent=test\nFLUSH\nhave %s\ndone\n' \
  "$TIP" "$OLD_TIP" | "$PKT" encode > "$T/fetch.bin"
pids=""
for i in $(seq 1 30); do
  curl -s -o "$T/fetch.$i" --max-time 120 -H 'Content-Type: application/x-git-upload-pack-request' \
    --data-binary @"$T/fetch.bin" "$URL/$N/git-upload-pack" &
  pids="$pids $!"
done
for p in $pids; do wait "$p"; done
packs=0
for i in $(seq 1 30); do
  "$PKT" decode "$T/pack.$i" < "$T/fetch.$i" > /dev/null 2>&1
  [ -s "$T/pack.$i" ] && packs=$((packs + 1))
done
check_eq "30 concurrent first fetches of a new tip get their packs" 30 "$packs"
# A walk ahead that a request overtook stops (logged), and is not counted.
walks () { grep -c "commits reachable from $TIP (" "$T/server.log"; }
at_hand=$(grep -c "the reach set of $TIP is at hand" "$T/server.log")
stopped=$(grep -c "the walk ahead to $TIP stops" "$T/server.log")
check_eq "they share one history walk (the set was at hand for $at_hand; walks ahead stopped: $stopped)" 1 "$(walks)"
hwm_after=$(hwm)
echo "# RSS around the 30 fetches: ${rss_before} kB -> $(rss) kB; peak ${hwm_before} kB -> ${hwm_after} kB"
# One walk of this history costs a few MB; thirty cost some 180 MB.
check "the peak RSS grows by less than 100 MB ($(((hwm_after - hwm_before) / 1024)) MB)" \
  test $((hwm_after - hwm_before)) -lt 102400
check "the server is alive" server_alive

# A rescan (SIGHUP) keeps the repositories that are still there as they
# were: the tip's reach set is not walked again.
# The start's own scan logged a line too: wait for one more.
scans=$(grep -c "rescan: " "$T/server.log")
kill -HUP "$SERVER_PID"
rescanned () { [ "$(grep -c "rescan: " "$T/server.log")" -gt "$scans" ]; }
for i in $(seq 1 50); do rescanned && break; sleep 0.1; done
check_contains "after SIGHUP every repository is kept as it was" "rescan: 1 repositories, 1 of them kept as they were" \
  "$(grep 'rescan: ' "$T/server.log" | tail -n 1)"
curl -s -o "$T/fetch.after" --max-time 60 -H 'Content-Type: application/x-git-upload-pack-request' \
  --data-binary @"$T/fetch.bin" "$URL/$N/git-upload-pack"
"$PKT" decode "$T/pack.after" < "$T/fetch.after" > /dev/null 2>&1
check "a fetch after it gets its pack" test -s "$T/pack.after"
check_eq "without walking the history again" 1 "$(walks)"

done_testing
