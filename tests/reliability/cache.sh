#!/usr/bin/env bash
# The pack cache is an optimisation, never a dependency: clones succeed with
# a full or read-only cache directory, damaged entries are dropped and made
# afresh, a failing pack-objects leaves nothing, a second server sharing the
# cache does not take the first one's packs away, and nothing the client
# receives names a local path or the server's pid. Needs root (mounts).
. "$(dirname "$0")/../integration/lib.sh"

PACKS="$XDG_CACHE_HOME/git-nearby/packs"
MNT=""
B_PID=""
if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP needs root to mount a tmpfs"
  exit 0
fi
rel_cleanup () {
  [ -n "$B_PID" ] && kill "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null
  [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
  cleanup
}
trap rel_cleanup EXIT

S="$T/srv"
mkdir -p "$S"
# 700 kB of incompressible data: a pack far beyond a 64 kB tmpfs.
git init -q "$S/mid"
head -c 700000 /dev/urandom > "$S/mid/data.bin"
git -C "$S/mid" add data.bin && git -C "$S/mid" commit -q -m mid
(cd "$S/mid" && git nearby advertise >/dev/null)
# 20 MB: more than the 8 MiB the server keeps in memory without a file.
git init -q "$S/big"
head -c 20000000 /dev/urandom > "$S/big/big.bin"
git -C "$S/big" add big.bin && git -C "$S/big" commit -q -m big
(cd "$S/big" && git nearby advertise >/dev/null)
packs () { ls "$PACKS" 2>/dev/null | grep -c '\.pack$'; }
the_pack () { ls "$PACKS"/*.pack 2>/dev/null | head -1; }
valid_pack () { git index-pack -o "$T/check.idx" "$1" >/dev/null 2>&1; }
clone_ok () { # clone_ok NAME DEST: clones, and the clone is fsck clean and whole
  rm -rf "$2"
  git clone -q "$URL/$1/main" "$2" && git -C "$2" fsck --full --strict --no-progress >/dev/null 2>&1 \
    && [ "$(git -C "$2" rev-parse HEAD)" = "$(git -C "$S/${1%%/*}" rev-parse HEAD)" ]
}
fresh_cache () { rm -rf "$XDG_CACHE_HOME/git-nearby"; mkdir -p "$PACKS"; }

# --- a full cache directory ---
fresh_cache
MNT="$PACKS"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$MNT"
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
check "a clone with a full cache directory succeeds" clone_ok mid "$T/full1"
check "the server said why it streamed from memory" grep -q "mid/main.*cannot take the pack (No space left on device); streaming it from memory" "$T/server.log"
check "a pack of 20 MB, beyond what is kept in memory, too" clone_ok big "$T/full2"
check "two at once" bash -c "(git clone -q '$URL/big/main' '$T/full3') & (git clone -q '$URL/big/main' '$T/full4'); wait; git -C '$T/full3' fsck --no-progress && git -C '$T/full4' fsck --no-progress"
check_eq "no temporaries are left" "" "$(ls "$PACKS")"
stop_server

# --- a read-only cache directory ---
mount -o remount,ro "$MNT"
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
check "a clone with a read-only cache directory succeeds" clone_ok mid "$T/ro1"
check "the server said why" grep -q "mid/main.*cannot take the pack (Read-only file system)" "$T/server.log"
out=$(git clone "$URL/big/main" "$T/ro2" 2>&1)
check "so does a big one" git -C "$T/ro2" fsck --no-progress
check_not_contains "and the client is told nothing of the cache" "$XDG_CACHE_HOME" "$out"
stop_server
umount "$MNT"; MNT=""

# --- a file system without splice(2) (ecryptfs): the pack is copied in ---
without_splice () {
  LD_PRELOAD="$NEARBY_NO_SPLICE" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    start_server "$S"
}
fresh_cache
without_splice || { not_ok "server starts"; done_testing; exit 1; }
check "without splice, a clone succeeds" clone_ok big "$T/ns1"
check "the server could not splice" grep -q "big/main.*cannot splice; copying" "$T/server.log"
check_eq "it cached the pack all the same" 1 "$(packs)"
check "a whole one" valid_pack "$(the_pack)"
check_not_contains "not through memory" "streaming it from memory" "$(cat "$T/server.log")"
check "the next clone is served from it" bash -c "git clone -q '$URL/big/main' '$T/ns2' && git -C '$T/ns2' fsck --no-progress && grep -q 'big/main.*pack from the cache' '$T/server.log'"
stop_server
# And a disk that fills up partway: what the file did not take goes on from memory.
fresh_cache
MNT="$PACKS"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$MNT"
without_splice || { not_ok "server starts"; done_testing; exit 1; }
check "without splice, on a full disk, a clone succeeds" clone_ok big "$T/ns3"
check "the rest went through memory" grep -q "big/main.*cannot take the pack (No space left on device); streaming it from memory" "$T/server.log"
check_eq "no temporaries are left" "" "$(ls "$PACKS")"
stop_server
umount "$MNT"; MNT=""

# --- damaged entries are dropped and made afresh ---
fresh_cache
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
check "a clone fills the cache" clone_ok mid "$T/d0"
P=$(the_pack)
check "with a whole pack" valid_pack "$P"
size=$(stat -c %s "$P")
damaged_then_clone () { # damaged_then_clone DESC: the next clone works and replaced the entry
  local before
  before=$(grep -c "dropping a bad pack from the cache" "$T/server.log")
  check "$1: the next clone succeeds" clone_ok mid "$T/d1"
  check_eq "$1: the bad entry was dropped" "$((before + 1))" "$(grep -c "dropping a bad pack from the cache" "$T/server.log")"
  check "$1: and replaced by a whole pack" valid_pack "$(the_pack)"
  check_eq "$1: of the right size" "$size" "$(stat -c %s "$(the_pack)" 2>/dev/null)"
}
truncate -s $((size - 1000)) "$P"
damaged_then_clone "truncated"
: > "$(the_pack)"
damaged_then_clone "emptied"
# One byte in the middle, in place, while the server runs.
flip () { # flip FILE: inverts one byte in the middle, keeping the mtime
  local f=$1 at b
  at=$(($(stat -c %s "$f") / 2))
  b=$(od -An -tu1 -j "$at" -N1 "$f" | tr -d ' ')
  printf "\\$(printf '%03o' $((255 - b)))" | dd of="$f" bs=1 seek="$at" conv=notrunc status=none
}
cp -p "$(the_pack)" "$T/ref.pack"
flip "$(the_pack)"; touch -r "$T/ref.pack" "$(the_pack)"
damaged_then_clone "bit-flipped"
check "a good entry is served from the cache" bash -c "clone_ok () { :; }; git clone -q '$URL/mid/main' '$T/d2' && [ \$(grep -c 'mid/main.*pack from the cache' '$T/server.log') -ge 1 ]"
stop_server
# Damaged while no server ran, the mtime kept: the first use checks it all.
flip "$(the_pack)"; touch -r "$T/ref.pack" "$(the_pack)"
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
damaged_then_clone "bit-flipped before a start"
stop_server
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
git clone -q "$URL/mid/main" "$T/d3"
check_eq "a good entry is checked in full once after a start" 1 "$(grep -c "mid/main.*checked the cached pack" "$T/server.log")"
git clone -q "$URL/mid/main" "$T/d4"
check_eq "and not again on the next hit" 1 "$(grep -c "mid/main.*checked the cached pack" "$T/server.log")"
check_eq "both from the cache" 2 "$(grep -c "mid/main.*pack from the cache" "$T/server.log")"
stop_server

# --- a repository with a corrupt object ---
fresh_cache
git init -q "$S/bad"
printf 'one\n' > "$S/bad/a.txt"; head -c 100000 /dev/urandom > "$S/bad/b.bin"
git -C "$S/bad" add a.txt b.bin && git -C "$S/bad" commit -q -m bad
(cd "$S/bad" && git nearby advertise >/dev/null)
blob=$(git -C "$S/bad" rev-parse HEAD:b.bin)
obj="$S/bad/.git/objects/${blob:0:2}/${blob:2}"
cp -p "$obj" "$T/saved-obj"
chmod u+w "$obj"
flip "$obj"
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
out=$(git clone "$URL/bad/main" "$T/bad1" 2>&1); rc=$?
check_exit "a clone of a repository with a corrupt object fails" nonzero "$rc" \
  "remote: git-nearby: pack-objects failed: the server could not make the pack" "$out"
# (git adds its own "early EOF" after the server's line.)
check_eq "with a one-line error from the server" 1 "$(printf '%s\n' "$out" | grep -c '^remote:')"
check_eq "and nothing is cached" "0" "$(packs)"
check_eq "nor left half-written" "" "$(ls "$PACKS")"
check "the server logs the details" grep -q "bad/main.*pack-objects.*$blob" "$T/server.log"
# The raw response of a v2 fetch, band by band.
tip=$(rev "$S/bad" main)
printf 'command=fetch\nDELIM\nwant %s\ndone\nFLUSH\n' "$tip" | "$PKT" encode > "$T/bad.req"
curl -s -o "$T/bad.resp" -H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
  --data-binary @"$T/bad.req" "$URL/bad/main/git-upload-pack"
check_contains "the raw response says so on band 3" "ERROR: git-nearby: pack-objects failed" "$("$PKT" decode < "$T/bad.resp" 2>&1)"
# What the server sent: the raw bytes, and git's "remote:" lines.
resp=$(tr -c '[:print:]\n' '.' < "$T/bad.resp"; printf '%s\n' "$out" | grep '^remote:'; git clone "$URL/nosuch/main" "$T/none" 2>&1 | grep '^remote:')
check_not_contains "no local path reaches the client" "$T" "$resp"
check_not_contains "nor the cache's" "git-nearby/packs" "$resp"
check_not_contains "nor the server's pid" "$SERVER_PID" "$resp"
cp -p "$T/saved-obj" "$obj"
check "once the object is repaired, the clone works" bash -c "git clone -q '$URL/bad/main' '$T/bad2' && git -C '$T/bad2' fsck --no-progress"
stop_server

# --- a request arriving as the last reader of a job hangs up ---
fresh_cache
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
tip=$(rev "$S/big" main)
printf 'command=fetch\nDELIM\nno-progress\nwant %s\ndone\nFLUSH\n' "$tip" | "$PKT" encode > "$T/big.req"
curl -s --limit-rate 1M -o /dev/null -H 'Git-Protocol: version=2' \
  -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/big.req" \
  "$URL/big/main/git-upload-pack" & L_CURL=$!
wait_for bash -c "pgrep -P $SERVER_PID -f pack-objects"
PO=$(pgrep -P "$SERVER_PID" -f pack-objects | head -1)
# Holding pack-objects' stdout open keeps its job stopping, not finished,
# for as long as this test wants.
# (Paused first, so that it cannot finish before; the server's SIGKILL
# ends it all the same.)
check "pack-objects runs" test -n "$PO"
kill -STOP "$PO"
exec 9>"/proc/$PO/fd/1"
kill "$L_CURL"; wait "$L_CURL" 2>/dev/null
check "the last reader hangs up: the job stops" wait_for grep -q "big/main.*stopping pack-objects" "$T/server.log"
# The same request, so the same job.
(curl -s --max-time 60 -o "$T/late.resp" -H 'Git-Protocol: version=2' \
  -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/big.req" \
  "$URL/big/main/git-upload-pack"; echo $? > "$T/late.rc") &
LATE=$!
for i in $(seq 1 300); do kill -0 "$LATE" 2>/dev/null || break; sleep 0.1; done
exec 9>&-
wait "$LATE"
check_eq "a request arriving as the last reader leaves gets a fresh job" 0 "$(cat "$T/late.rc")"
check "and a whole pack" bash -c "'$PKT' decode '$T/late.pack' < '$T/late.resp' >/dev/null && git index-pack -o '$T/late.idx' '$T/late.pack' >/dev/null 2>&1"
stop_server

# --- two servers sharing one cache directory ---
fresh_cache
start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
tip=$(rev "$S/big" main)
printf 'command=fetch\nDELIM\nno-progress\nwant %s\ndone\nFLUSH\n' "$tip" | "$PKT" encode > "$T/big.req"
# Slow enough (20 MB at 4 MB/s) that server B starts while A still writes.
curl -s --limit-rate 4M -o "$T/a.resp" -H 'Git-Protocol: version=2' \
  -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/big.req" \
  "$URL/big/main/git-upload-pack" & A_CURL=$!
check "server A writes a temporary" wait_for bash -c "ls '$PACKS' | grep -q '\.tmp'"
tmp_a=$(ls "$PACKS" | grep '\.tmp' | head -1)
# Paused, A's pack-objects is still writing while B starts.
PO=$(pgrep -P "$SERVER_PID" -f pack-objects | head -1)
[ -n "$PO" ] && kill -STOP "$PO"
git-nearby serve --bind 127.0.0.1 --port 0 --port-file "$T/port-b" --no-publish -v "$S" > "$T/server-b.log" 2>&1 &
B_PID=$!
check "server B starts on the same cache" wait_for test -s "$T/port-b"
check "and leaves A's temporary alone" test -e "$PACKS/$tmp_a"
[ -n "$PO" ] && kill -CONT "$PO"
ok_a=1
for i in $(seq 1 300); do kill -0 "$A_CURL" 2>/dev/null || { ok_a=0; break; }; sleep 0.1; done
check_eq "A's client finishes within 30 s" 0 "$ok_a"
kill "$A_CURL" 2>/dev/null; wait "$A_CURL" 2>/dev/null
check "with a whole pack" bash -c "'$PKT' decode '$T/a.pack' < '$T/a.resp' >/dev/null && git index-pack -o '$T/a.idx' '$T/a.pack' >/dev/null 2>&1"
check_eq "which A keeps" 1 "$(packs)"
check "server B serves from it" bash -c "git clone -q http://127.0.0.1:\$(cat '$T/port-b')/big/main '$T/b1' && git -C '$T/b1' fsck --no-progress"
check "the log stays quiet" test "$(wc -l < "$T/server.log")" -lt 200
# A temporary of a dead writer (no flock) is removed by the next start.
touch "$PACKS/$(printf '%064d' 0).pack.tmp-1-dead-1"
kill "$B_PID"; wait "$B_PID" 2>/dev/null
git-nearby serve --bind 127.0.0.1 --port 0 --port-file "$T/port-c" --no-publish -v "$S" > "$T/server-c.log" 2>&1 &
B_PID=$!
wait_for test -s "$T/port-c"
check_eq "an abandoned temporary is removed at start" "" "$(ls "$PACKS" | grep '\.tmp')"
kill "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=""
check "server A is still running" server_alive
stop_server
done_testing
