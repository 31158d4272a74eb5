# Shared by the integration tests: TAP output, a private HOME, a real
# git-nearby server on 127.0.0.1 port 0, raw protocol requests, cleanup.
# Every wait is bounded.

set -u
export LC_ALL=C.UTF-8
: "${NEARBY_BUILD_DIR:?run me through meson test}"
PKT="${NEARBY_PKT_TOOL:-$NEARBY_BUILD_DIR/tests/pkt-tool}"
export PATH="$NEARBY_BUILD_DIR/client:$PATH"

T=$(mktemp -d "${TMPDIR:-/tmp}/nearby-test.XXXXXX")
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_CACHE_HOME="$T/home/.cache"
export XDG_DATA_HOME="$T/home/.local/share" XDG_RUNTIME_DIR="$T/run"
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_ASKPASS=/bin/false
unset GIT_DIR GIT_WORK_TREE GIT_PROTOCOL DISPLAY
# No session bus unless a test starts one (start_session_bus).
export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-session-bus"
SESSION_BUS_PID=""
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
git config --global user.name "Test User"
git config --global user.email "test@example.invalid"
git config --global init.defaultBranch main
git config --global protocol.version 2
git config --global advice.detachedHead false

TAP_N=0
TAP_FAILED=0
SERVER_PID=""
URL=""

cleanup () {
  stop_server
  [ -n "$SESSION_BUS_PID" ] && kill "$SESSION_BUS_PID" 2>/dev/null
  rm -rf "$T"
}

# A private session bus (a real dbus-daemon) for this test.
start_session_bus () {
  local out
  out=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 --address="unix:path=$T/session-bus") || return 1
  export DBUS_SESSION_BUS_ADDRESS=$(printf '%s\n' "$out" | sed -n 1p)
  SESSION_BUS_PID=$(printf '%s\n' "$out" | sed -n 2p)
}
trap cleanup EXIT

ok () { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
not_ok () {
  TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
  echo "not ok $TAP_N - $1"
  shift
  for line in "$@"; do printf '%s\n' "$line" | sed 's/^/# /'; done
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds; shows its output if not.
check () {
  local desc=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "command: $*" "$(printf '%s' "$out" | tail -n 15)"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq () {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}

# check_contains DESCRIPTION NEEDLE HAYSTACK
check_contains () {
  case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1" "expected to contain: $2" "actual: $(printf '%s' "$3" | head -c 2000)" ;; esac
}

# check_exit DESCRIPTION EXPECTED-STATUS STATUS NEEDLE OUTPUT: the command
# exited with exactly EXPECTED-STATUS (or any but 0 for "nonzero") and its
# output contains NEEDLE.
check_exit () {
  local desc=$1 want=$2 rc=$3 needle=$4 out=$5
  if [ "$want" = nonzero ] && [ "$rc" -eq 0 ]; then
    not_ok "$desc" "expected a failure, got exit status 0" "output: $(printf '%s' "$out" | head -c 2000)"
  elif [ "$want" != nonzero ] && [ "$rc" != "$want" ]; then
    not_ok "$desc" "expected exit status $want, got $rc" "output: $(printf '%s' "$out" | head -c 2000)"
  else
    check_contains "$desc" "$needle" "$out"
  fi
}

check_not_contains () {
  case "$3" in *"$2"*) not_ok "$1" "must not contain: $2" "actual: $(printf '%s' "$3" | head -c 2000)" ;; *) ok "$1" ;; esac
}

done_testing () {
  echo "1..$TAP_N"
  [ "$TAP_FAILED" -eq 0 ]
}

# start_server DIR... : serves on 127.0.0.1, sets URL. The log is $T/server.log.
start_server () {
  rm -f "$T/port"
  # git-nearby execs the server, so $! is the server itself
  git-nearby serve --bind 127.0.0.1 --port 0 --port-file "$T/port" --no-publish -v "$@" \
    > "$T/server.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    if [ -s "$T/port" ]; then URL="http://127.0.0.1:$(cat "$T/port")"; return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "# server did not start:"; sed 's/^/#   /' "$T/server.log"
  return 1
}

stop_server () {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    local i
    for i in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
  fi
}

server_alive () { kill -0 "$SERVER_PID" 2>/dev/null; }

# wait_for COMMAND...: retries COMMAND for up to 10 s (check DESCRIPTION wait_for COMMAND...).
wait_for () {
  local i
  for i in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

served_names () { curl -sf "$URL/?format=json" | grep -o '"name": "[^"]*"' | sed 's/"name": "//; s/"$//'; }
is_served () { served_names | grep -qxF -- "$1"; }
not_served () { ! served_names | grep -qxF -- "$1"; }

# make_repo DIR: a repository with three commits on main.
make_repo () {
  git init -q "$1"
  local i
  for i in 1 2 3; do
    echo "line $i" >> "$1/file.txt"
    git -C "$1" add file.txt
    git -C "$1" commit -q -m "commit $i on main"
  done
}

# rev REPO REV
rev () { git -C "$1" rev-parse "$2"; }

# Every commit of the clone's history is in the source branch's history and
# the other way round, the clone has no other refs, and fsck --strict passes.
same_history () {
  local clone=$1 source=$2 branch=$3
  local a b
  a=$(git -C "$clone" rev-list --all | sort)
  b=$(git -C "$source" rev-list "$branch" | sort)
  [ "$a" = "$b" ] || { echo "history differs"; return 1; }
  git -C "$clone" fsck --strict --no-dangling >/dev/null 2>&1 || { echo "fsck failed"; return 1; }
  [ -z "$(git -C "$clone" tag)" ] || { echo "tags came along"; return 1; }
}

# Raw protocol: post_v2 NAME < lines ; post_v0 NAME < lines
# Lines are encoded by pkt-tool; the response, decoded, is in $T/resp.txt and
# any pack in $T/resp.pack.
post_raw () {
  local name=$1 proto=$2
  "$PKT" encode > "$T/req.bin"
  curl -s -o "$T/resp.bin" -w '%{http_code}' \
    ${proto:+-H "Git-Protocol: $proto"} \
    -H 'Content-Type: application/x-git-upload-pack-request' \
    --data-binary @"$T/req.bin" "$URL/$name/git-upload-pack" > "$T/resp.code"
  rm -f "$T/resp.pack"
  "$PKT" decode "$T/resp.pack" < "$T/resp.bin" > "$T/resp.txt"
}
post_v2 () { post_raw "$1" "version=2"; }
post_v0 () { post_raw "$1" ""; }

# The object ids in $T/resp.pack (empty if there is none or it is unusable).
# The pack is indexed into $T/idx's object store, where git looks for objects
# (pack_types), not merely next to it.
pack_objects () {
  rm -rf "$T/idx"
  [ -s "$T/resp.pack" ] || return 0
  git init -q --bare "$T/idx"
  cp "$T/resp.pack" "$T/idx/objects/pack/x.pack"
  git -C "$T/idx" index-pack -o "$T/idx/objects/pack/x.idx" "$T/idx/objects/pack/x.pack" >/dev/null 2>&1 ||
    { echo "UNINDEXABLE"; return 0; }
  git show-index < "$T/idx/objects/pack/x.idx" | awk '{print $2}'
}

# "<id> <type>" of every object in $T/resp.pack, as git in a repository sees
# them (nothing if no usable pack arrived).
pack_types () {
  local objs; objs=$(pack_objects)
  [ -n "$objs" ] && [ "$objs" != "UNINDEXABLE" ] || return 0
  git -C "$T/idx" cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)'
}

# Every object in a repository, reachable or not, but annotated tags: git's
# upload-pack sends those along (include-tag) even to --no-tags clones.
all_objects () {
  git -C "$1" cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)' | grep -v ' tag$' | sort
}

# same_objects CLONE REFERENCE: the clone received exactly the objects that
# git's own upload-pack gave REFERENCE for the same request (the oracle).
same_objects () {
  local a b
  a=$(all_objects "$1"); b=$(all_objects "$2")
  [ "$a" = "$b" ] || { echo "objects differ: $(echo "$a" | wc -l) here, $(echo "$b" | wc -l) from git upload-pack"; return 1; }
  if git -C "$1" cat-file --batch-all-objects --batch-check='%(objecttype)' | grep -qx tag; then
    echo "a tag object came along"; return 1
  fi
}
