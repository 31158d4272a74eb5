#!/usr/bin/env bash
# Reach sets walked ahead: when the server starts, when a branch is opted
# in and when a tip moves, the history is walked in the background, so the
# next fetch finds the set at hand instead of walking first. Unadvertised
# branches are never walked; the walks run at nice +10; a branch's first set
# starts from another branch's only without a commit-graph.
. "$(dirname "$0")/../integration/lib.sh"

# 6,000 commits on main; "feature" 20 commits on top of main~100; "secret"
# 5 commits on top of main, never advertised.
R="$T/srv/long"
git init -q "$R"
awk 'BEGIN {
  t = 1000000000
  for (i = 1; i <= 6000; i++) {
    printf "commit refs/heads/main\nmark :%d\ncommitter T <t@example.invalid> %d +0000\n", i, t + i
    printf "data %d\nc %d\n", length("c " i), i
    if (i > 1) printf "from :%d\n", i - 1
    printf "M 644 inline f.txt\ndata %d\nc %d\n\n", length("c " i), i
  }
}' | git -C "$R" fast-import --quiet
git -C "$R" reset -q --hard main
git -C "$R" branch feature main~100
git -C "$R" branch secret main
git -C "$R" checkout -q feature
for i in $(seq 1 20); do git -C "$R" commit -q --allow-empty -m "feature $i"; done
git -C "$R" checkout -q secret
for i in $(seq 1 5); do git -C "$R" commit -q --allow-empty -m "secret $i"; done
git -C "$R" checkout -q main
(cd "$R" && git nearby advertise >/dev/null && git nearby advertise --branch feature >/dev/null)
MAIN=$(rev "$R" main)
FEATURE=$(rev "$R" feature)
SECRET=$(rev "$R" secret)

walks_of () { grep -c "one walk of the history of $1 starts" "$T/server.log"; }
walked () { grep -q "commits reachable from $1" "$T/server.log"; }
# fetch_new NAME TIP HAVE: one v0 fetch of TIP from HAVE, through the server.
fetch_new () {
  printf 'want %s multi_ack_detailed side-band-64k ofs-delta no-progress agent=test\nFLUSH\nhave %s\ndone\n' \
    "$2" "$3" | "$PKT" encode > "$T/fetch.bin"
  curl -s -o "$T/fetch.out" --max-time 60 -H 'Content-Type: application/x-git-upload-pack-request' \
    --data-binary @"$T/fetch.bin" "$URL/$1/git-upload-pack"
  rm -f "$T/fetch.pack"
  "$PKT" decode "$T/fetch.pack" < "$T/fetch.out" > /dev/null 2>&1
  test -s "$T/fetch.pack"
}

start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }

# At start, before any request.
check "main's history is walked at start, with no request" wait_for walked "$MAIN"
check "feature's too" wait_for walked "$FEATURE"
check_contains "one of the two starts from the other's set" "from the set of another branch" \
  "$(grep "one walk of the history of \($MAIN\|$FEATURE\) starts" "$T/server.log")"
check_eq "the unadvertised branch is never walked" 0 "$(grep -c "$SECRET" "$T/server.log")"
nice_of_warm () {
  local task
  for task in /proc/"$SERVER_PID"/task/*; do
    [ "$(cat "$task/comm" 2>/dev/null)" = nearby-warm ] || continue
    # Field 19 of stat is the nice value; comm (field 2) has no space here.
    awk '{ print $19 }' "$task/stat"
    return 0
  done
  return 1
}
server_nice=$(awk '{ print $19 }' "/proc/$SERVER_PID/stat")
want_nice=$((server_nice + 10 > 19 ? 19 : server_nice + 10))
check_eq "the walks run 10 below the server (nice $server_nice)" "$want_nice" "$(nice_of_warm)"

# A fetch now finds the set at hand.
check "a fetch of main gets its pack" fetch_new long/main "$MAIN" "$(rev "$R" main~5)"
check_eq "without walking again" 1 "$(walks_of "$MAIN")"
check_contains "the set was at hand" "the reach set of $MAIN is at hand" "$(cat "$T/server.log")"

# A commit: walked ahead, from the last set, before anyone asks.
echo new > "$R/new.txt" && git -C "$R" add new.txt && git -C "$R" commit -q -m "a new tip"
NEW=$(rev "$R" main)
check "a new tip is walked ahead" wait_for walked "$NEW"
check_contains "from the branch's last set" "one walk of the history of $NEW starts, from the set of the branch's last tip" \
  "$(cat "$T/server.log")"
check "a fetch of the new tip gets its pack" fetch_new long/main "$NEW" "$MAIN"
check_eq "with that one walk only" 1 "$(walks_of "$NEW")"

# A force-push (a rewind and a new commit): walked ahead too.
git -C "$R" reset -q --hard main~3
echo other > "$R/other.txt" && git -C "$R" add other.txt && git -C "$R" commit -q -m "rewritten"
REWRITTEN=$(rev "$R" main)
check "a rewritten tip is walked ahead" wait_for walked "$REWRITTEN"

# A branch opted in while the server runs.
git -C "$R" branch later main~50
(cd "$R" && git nearby advertise --branch later >/dev/null)
LATER=$(rev "$R" later)
check "a branch opted in later is walked ahead" wait_for walked "$LATER"
check "and is served" fetch_new long/later "$LATER" "$(rev "$R" main~60)"
check_eq "from that walk" 1 "$(walks_of "$LATER")"
check_eq "still nothing of the unadvertised branch" 0 "$(grep -c "$SECRET" "$T/server.log")"

# With a commit-graph, a branch's first walk reads the graph rather than
# commits one by one down to another branch's set.
git -C "$R" commit-graph write --reachable
git -C "$R" branch graphed main~70
(cd "$R" && git nearby advertise --branch graphed >/dev/null)
GRAPHED=$(rev "$R" graphed)
check "with a commit-graph, a branch opted in is walked ahead" wait_for walked "$GRAPHED"
check_contains "as a whole walk" "a whole walk)" "$(grep "commits reachable from $GRAPHED" "$T/server.log")"
check_not_contains "not from another branch's set" "another branch" "$(grep "history of $GRAPHED starts" "$T/server.log")"

# It stops at once when asked.
kill "$SERVER_PID"
stopped () { ! kill -0 "$SERVER_PID" 2>/dev/null; }
check "the server stops on SIGTERM" wait_for stopped
wait "$SERVER_PID"
check_eq "cleanly" 0 "$?"
SERVER_PID=""
check_eq "and said nothing alarming" "" "$(grep -E 'CRITICAL|WARNING|ERROR|leak' "$T/server.log")"

# A fetch that comes while its tip is walked ahead (held open here) does
# not wait behind that low-priority walk, nor walk beside it: the walk
# ahead stops, and the fetch walks once, at its own priority.
GIT_NEARBY_TEST_AHEAD_HOLD_MS=20000 start_server "$T/srv" || { not_ok "server restarts"; done_testing; exit 1; }
held () { grep -q "one walk of the history of [0-9a-f]* starts" "$T/server.log"; }
check "a walk ahead begins" wait_for held
TIP=$(grep -o "one walk of the history of [0-9a-f]* starts" "$T/server.log" | head -n 1 | awk '{ print $7 }')
B=$(git -C "$R" for-each-ref --points-at "$TIP" --format '%(refname:short)' refs/heads | grep -vx secret | head -n 1)
t0=$(date +%s%N)
check "a fetch of its branch ($B) meanwhile gets its pack" fetch_new "long/$B" "$TIP" "$(rev "$R" "$B~5")"
t1=$(date +%s%N)
check "without waiting for the walk ahead ($(((t1 - t0) / 1000000)) ms; it is held 20 s)" test $((t1 - t0)) -lt 10000000000
check "which stopped for it" grep -q "the walk ahead to $TIP stops: a request walks it" "$T/server.log"
check_eq "one walk of that tip was made" 1 "$(grep -c "commits reachable from $TIP (" "$T/server.log")"

done_testing
