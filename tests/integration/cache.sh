#!/usr/bin/env bash
# The pack cache and the bound on pack-objects: repeated requests are served
# from disk, identical concurrent ones share one producer, one reader leaving
# does not stop the others, a failed producer leaves nothing, the size cap
# evicts the least recently used, and --max-jobs queues the rest (a queued
# request whose client leaves leaves the line).
. "$(dirname "$0")/lib.sh"

PACKS="$XDG_CACHE_HOME/git-nearby/packs"
S="$T/srv"
make_repo "$S/proj"
(cd "$S/proj" && git nearby advertise >/dev/null)
# Three branches with 700 kB of incompressible data each, for big packs.
for b in one two three; do
  git init -q "$S/$b"
  head -c 700000 /dev/urandom > "$S/$b/data.bin"
  git -C "$S/$b" add data.bin && git -C "$S/$b" commit -q -m "$b"
  (cd "$S/$b" && git nearby advertise >/dev/null)
done
# 40 MB of random data takes pack-objects a second or so to compress.
git init -q "$S/heavy"
head -c 40000000 /dev/urandom > "$S/heavy/big.bin"
git -C "$S/heavy" add big.bin && git -C "$S/heavy" commit -q -m heavy
(cd "$S/heavy" && git nearby advertise >/dev/null)
packs () { ls "$PACKS" 2>/dev/null | grep -c '\.pack$'; }
tmps () { ls "$PACKS" 2>/dev/null | grep -c '\.tmp'; }
pack_objects_running () { pgrep -P "$SERVER_PID" -f "pack-objects" | wc -l; }
slow_fetch () { # slow_fetch NAME OUT [EXTRA-ARG] &: a rate-limited v2 fetch of NAME's tip; $! is curl
  local name=$1 out=$2 tip
  tip=$(curl -s "$URL/?format=json" | grep -o "\"name\": \"$name\"[^}]*" | grep -o '"head": "[0-9a-f]*"' | cut -d'"' -f4)
  printf 'command=fetch\nDELIM\nno-progress\n%swant %s\ndone\nFLUSH\n' "${3:-}" "$tip" | "$PKT" encode > "$out.req"
  exec curl -s --limit-rate "${RATE:-50k}" -o "$out" -H 'Git-Protocol: version=2' \
    -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$out.req" "$URL/$name/git-upload-pack"
}
good_pack () { "$PKT" decode "$1.pack" < "$1" > "$1.txt" && git index-pack -o "$1.idx" "$1.pack" >/dev/null 2>&1; }

start_server --cache-size 100 "$S" || { not_ok "server starts"; done_testing; exit 1; }

# --- repeated requests ---
check "a clone" git clone -q "$URL/proj/main" "$T/c1"
check_eq "leaves its pack in the cache" "1" "$(packs)"
check "the same clone again" git clone -q "$URL/proj/main" "$T/c2"
check "is served from the cache" grep -q "proj/main (v2, from 127.0.0.1): pack from the cache" "$T/server.log"
check "and is whole" same_history "$T/c2" "$S/proj" main
check_eq "no new pack was made" "1" "$(packs)"
echo more >> "$S/proj/file.txt"; git -C "$S/proj" commit -qam more
check "after a new commit the clone is a new request" git clone -q "$URL/proj/main" "$T/c3"
check "with the new history" same_history "$T/c3" "$S/proj" main

# --- identical concurrent requests share one producer ---
for i in 1 2 3; do RATE=20M slow_fetch heavy/main "$T/r$i" & eval "R$i=\$!"; done
check "identical concurrent requests share one producer" \
  wait_for bash -c "[ \$(grep -c 'heavy/main (v2, from 127.0.0.1): sharing the pack being made for an identical request' '$T/server.log') = 2 ]"
check_eq "one pack-objects runs for them" "1" "$(pack_objects_running)"
check_contains "with its delta window memory bounded" "git -c pack.windowMemory=256m pack-objects --revs --stdout" \
  "$(pgrep -a -P "$SERVER_PID" -f pack-objects)"
kill "$R1"; wait "$R1" 2>/dev/null
check "one reader hangs up" wait_for grep -q "heavy/main (v2, from 127.0.0.1): the client hung up" "$T/server.log"
check "the producer finishes anyway" wait_for grep -q "heavy/main (v2, from 127.0.0.1): pack of [0-9]* bytes done" "$T/server.log"
hung=$(grep -n "heavy/main (v2, from 127.0.0.1): the client hung up" "$T/server.log" | head -1 | cut -d: -f1)
done_at=$(grep -n "heavy/main (v2, from 127.0.0.1): pack of [0-9]* bytes done" "$T/server.log" | head -1 | cut -d: -f1)
check "...after the hang-up, not cut short by it" test "$hung" -lt "$done_at"
check "it was not stopped" bash -c "! grep -q 'heavy/main.*stopping pack-objects' '$T/server.log'"
wait "$R2" "$R3"
check "the other readers get a whole pack" good_pack "$T/r2"
check "both of them" good_pack "$T/r3"
check "byte for byte the same" cmp "$T/r2.pack" "$T/r3.pack"
rm -f "$T"/r?.pack "$T"/r? "$T"/r?.idx

stop_server

# --- the size cap: 1 MiB holds one 700 kB pack ---
rm -rf "$XDG_CACHE_HOME/git-nearby"
start_server --cache-size 1 "$S" || { not_ok "server starts"; done_testing; exit 1; }
(RATE=10M slow_fetch one/main "$T/t1")
(RATE=10M slow_fetch two/main "$T/t2")
check "a big pack arrives whole" good_pack "$T/t2"
check_eq "the cap keeps only the most recent big pack" "1" "$(packs)"
check "the evicted one is named in the log" grep -q "pack cache: evicted" "$T/server.log"

# --- a failed producer leaves no entry ---
blob=$(git -C "$S/three" rev-parse HEAD:data.bin)
mv "$S/three/.git/objects/${blob:0:2}/${blob:2}" "$T/saved-blob"
(RATE=10M slow_fetch three/main "$T/f")
"$PKT" decode < "$T/f" > "$T/f.txt"
check_contains "a pack-objects that fails sends the reason on band 3" "ERROR: git-nearby: pack-objects failed:" "$(cat "$T/f.txt")"
check_eq "and leaves no file behind" "0" "$(tmps)"
check "nor an entry: the next request runs pack-objects again" bash -c "! grep -q 'three/main (v2, from 127.0.0.1): pack from the cache' '$T/server.log'"
mv "$T/saved-blob" "$S/three/.git/objects/${blob:0:2}/${blob:2}"
check "once the object is back, the branch clones" git clone -q "$URL/three/main" "$T/three"
check "the server is still running" server_alive
stop_server

# --- at most --max-jobs pack-objects at once ---
rm -rf "$XDG_CACHE_HOME/git-nearby"
start_server --max-jobs 1 "$S" || { not_ok "server starts"; done_testing; exit 1; }
RATE=20M slow_fetch heavy/main "$T/q1" & Q1=$!
wait_for bash -c "[ \$(pgrep -P $SERVER_PID -f pack-objects | wc -l) = 1 ]"
RATE=20M slow_fetch two/main "$T/q2" & Q2=$!
check "a second request waits for its turn" wait_for grep -q "two/main (v2, from 127.0.0.1): 1 pack-objects running; waiting for a turn" "$T/server.log"
check_eq "while one pack-objects runs" "1" "$(pack_objects_running)"
wait "$Q1" "$Q2"
check "the first gets its pack" good_pack "$T/q1"
check "and so does the queued one, kept alive meanwhile" good_pack "$T/q2"

rm -rf "$XDG_CACHE_HOME/git-nearby"
check "the cache directory removed while serving is made again" git clone -q "$URL/proj/main" "$T/after-rm"
check "and the clone is whole" same_history "$T/after-rm" "$S/proj" main
stop_server

# --- a queued request whose client hangs up leaves the line ---
rm -rf "$XDG_CACHE_HOME/git-nearby"
# Keepalives while it waits, so that the server sees the hang-up.
GIT_NEARBY_KEEPALIVE_MS=100 start_server --max-jobs 1 "$S" || { not_ok "server starts"; done_testing; exit 1; }
RATE=20M slow_fetch heavy/main "$T/h1" & H1=$!
wait_for bash -c "[ \$(pgrep -P $SERVER_PID -f pack-objects | wc -l) = 1 ]"
PO=$(pgrep -P "$SERVER_PID" -f pack-objects | head -1)
# Paused, it holds the one slot for as long as this test wants.
kill -STOP "$PO"
slow_fetch one/main "$T/w1" & W1=$!
check "a request waits for the slot" wait_for grep -q "one/main (v2, from 127.0.0.1): 1 pack-objects running; waiting for a turn" "$T/server.log"
kill "$W1"; wait "$W1" 2>/dev/null
check "its client hangs up while it waits" wait_for grep -q "one/main (v2, from 127.0.0.1): the client hung up" "$T/server.log"
kill -CONT "$PO"
wait "$H1"
check "the pack being made is whole" good_pack "$T/h1"
check_not_contains "the request that left never runs pack-objects" "one/main (v2, from 127.0.0.1): pack-objects started" \
  "$(cat "$T/server.log")"
check "a new request for it gets its pack" git clone -q "$URL/one/main" "$T/one-after"
stop_server

rm -rf "$XDG_CACHE_HOME/git-nearby"
start_server --cache-size 0 "$S" || { not_ok "server starts"; done_testing; exit 1; }
check "with --cache-size 0 clones work" git clone -q "$URL/proj/main" "$T/nc"
check_eq "and no pack is kept" "0" "$(packs)"
done_testing
