#!/usr/bin/env bash
# The benchmark's LAN section (root): simulated hosts, each a network
# namespace with its own avahi-daemon (the lan test suite's hosts, DESIGN.md
# §7), and what nearby:// costs over the direct URL, measured in the same run.
#
#   bench/lan.sh BUILD_DIR [ROUNDS]
#
# Prints a Markdown table on stdout, progress on stderr. Every figure is a
# median over ROUNDS (default 9) runs, taken in turns. Nothing here runs an
# mDNS responder outside the namespaces it makes, and cleanup removes them.
set -u
BUILD=$(cd "${1:?usage: bench/lan.sh BUILD_DIR [ROUNDS]}" && pwd)
ROUNDS=${2:-9}
export NEARBY_BUILD_DIR="$BUILD"
# The lan suite's library gives hosts, servers and cleanup; its TAP counters
# are not used here.
. "$(dirname "$0")/../tests/lan/lib.sh"

say () { echo "lan: $*" >&2; }
fail () { echo "lan: $*" >&2; exit 1; }

host_add alice 1 && host_add bob 2 && host_add carol 3 || fail "the simulated hosts did not come up"
for h in alice bob carol; do avahi_start "$h" >/dev/null || fail "avahi-daemon did not start on $h"; done
for h in alice carol; do
  mkdir -p "$T/$h/srv"
  make_repo "$T/$h/srv/$h-proj"
  (cd "$T/$h/srv/$h-proj" && on "$h" git nearby advertise >/dev/null)
  serve_on "$h" >/dev/null || fail "the server did not start on $h"
done
APORT=$(cat "$T/alice.port")
wait_until 10 eval 'visible_on bob alice-proj/main && visible_on bob carol-proj/main' \
  || fail "bob does not see the branches"
mkdir -p "$T/bob"
on bob git clone -q nearby://alice-proj/main "$T/bob/pinned" || fail "bob's clone failed"
on bob git clone -q nearby://alice-proj/main@alice "$T/bob/pinned-host" || fail "bob's clone @alice failed"
PIN=$(git -C "$T/bob/pinned" config remote.origin.nearbykey) || fail "the clone is not pinned"
HTTP="http://10.77.0.1:$APORT/alice-proj/main"
HTTPS="https://10.77.0.1:$APORT/alice-proj/main"

# ms COMMAND...: the wall time of COMMAND on bob, in ms; it must succeed.
ms () {
  local start end
  start=$(date +%s%N)
  on bob "$@" >/dev/null 2>&1 || fail "failed: $*"
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}
median () { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A SAMPLES
sample () { SAMPLES[$1]+="$2 "; }
med () { printf '%s\n' ${SAMPLES[$1]} | median; }

direct_http () { ms git ls-remote "$HTTP"; }
direct_https () { ms env GIT_SSL_CAINFO=/dev/null GIT_SSL_CAPATH=/dev/null \
  git -c "http.$HTTPS.pinnedPubkey=$PIN" -c "http.$HTTPS.sslVerify=false" ls-remote "$HTTPS"; }
pinned () { (cd "$T/bob/pinned" && ms git ls-remote origin); }
pinned_host () { (cd "$T/bob/pinned-host" && ms git ls-remote origin); }
first () { ms git ls-remote nearby://alice-proj/main; }
first_host () { ms git ls-remote nearby://alice-proj/main@alice; }

measure_round () { # SUFFIX
  sample "http$1" "$(direct_http)"
  sample "https$1" "$(direct_https)"
  sample "pinned$1" "$(pinned)"
  sample "pinned-host$1" "$(pinned_host)"
  sample "first$1" "$(first)"
  sample "first-host$1" "$(first_host)"
}

say "resolving through nearby:// and through the direct URL, $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do measure_round ""; done

# With a browser already running on bob (a `browse --watch`, another
# resolve), Avahi answers a first contact from its cache.
on bob git nearby browse --watch --json > "$T/watch.json" 2>/dev/null &
WATCH=$!
wait_until 10 grep -q '"alice-proj/main"' "$T/watch.json" || fail "bob's watch does not see alice"
for r in $(seq 1 "$ROUNDS"); do sample "first-cached" "$(first)"; done

# advertise on alice until bob's watch reports the branch.
say "advertise on alice until bob's browse --watch shows the branch, $ROUNDS times"
for r in $(seq 1 "$ROUNDS"); do
  b="adv$r"
  git -C "$T/alice/srv/alice-proj" branch "$b" main
  start=$(date +%s%N)
  (cd "$T/alice/srv/alice-proj" && on alice git nearby advertise --branch "$b" >/dev/null 2>&1) \
    || fail "advertise failed"
  seen=""
  for i in $(seq 1 1000); do # 10 s at most
    grep -q "\"alice-proj/$b\"" "$T/watch.json" && { seen=yes; break; }
    sleep 0.01
  done
  [ -n "$seen" ] || fail "bob never saw alice-proj/$b"
  sample "advertise" $(( ($(date +%s%N) - start) / 1000000 ))
done
kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null

# The same again, now that a browser ran for a while: Avahi keeps asking
# for the service type some time after its last browser went, so a first
# contact then is answered from the cache. This is the baseline for carol's
# departure below, taken in the same state.
say "the same measures after a browser ran, $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do measure_round "-there"; done

# Carol's link goes down without a goodbye: her records stay in bob's cache.
say "carol leaves without a goodbye; the same measures again"
ip -n "$LAN-lan" link set vcarol down
for r in $(seq 1 "$ROUNDS"); do measure_round "-gone"; done
ip -n "$LAN-lan" link set vcarol up

row () { # LABEL KEY BASELINE-KEY
  local v b
  v=$(med "$2"); b=$(med "$3")
  awk -v l="$1" -v v="$v" -v b="$b" \
    'BEGIN { printf "| %s | %.0f | %.0f | %+.0f | %.2f |\n", l, v, b, v - b, v / b }'
}
gone () { # LABEL KEY
  local v b
  v=$(med "$2-gone"); b=$(med "$2-there")
  awk -v l="$1" -v v="$v" -v b="$b" 'BEGIN { printf "| %s | %.0f | %.0f | %+.0f |\n", l, b, v, v - b }'
}

echo "LAN section: three simulated hosts (network namespaces on one bridge, an avahi-daemon each);"
echo "bob runs \`git ls-remote\` of a branch alice serves; medians of $ROUNDS runs, in ms."
echo "\"Pinned\" is a remote that a \`git clone nearby://\` made (it holds the server's key); \"first"
echo "contact\" is a nearby:// URL with no pin, which waits for Avahi's all-for-now to rule out"
echo "a second branch of that name: about a second when no browser ran on that machine for a"
echo 'while, at once while one runs (a `browse --watch`) or ran recently, as Avahi is still asking.'
echo "The direct https URL is pinned to the same key."
echo
echo "| git ls-remote | nearby:// (ms) | direct URL (ms) | overhead (ms) | ratio |"
echo "|---|---:|---:|---:|---:|"
row "pinned remote, nearby://NAME, against https" pinned https
row "pinned remote, nearby://NAME@HOST, against https" pinned-host https
row "first contact, nearby://NAME, against http" first http
row "first contact, nearby://NAME@HOST, against http" first-host http
row "first contact with a browser running, against http" first-cached http
row "first contact after a browser ran, against http" first-there http-there
echo "| https pinned, against http | $(med https) | $(med http) | $(( $(med https) - $(med http) )) | $(awk -v a="$(med https)" -v b="$(med http)" 'BEGIN { printf "%.2f", a / b }') |"
echo
echo "advertise on alice until bob's \`browse --watch\` shows the branch: $(med advertise) ms (median of $ROUNDS)."
echo
echo "Carol's link down without a goodbye (her records still in bob's Avahi cache), against the"
echo "same measures taken just before, in the same state (after a browser ran):"
echo
echo "| git ls-remote of alice's branch | carol there (ms) | carol gone (ms) | added (ms) |"
echo "|---|---:|---:|---:|"
gone "pinned remote, nearby://NAME" pinned
gone "pinned remote, nearby://NAME@HOST" pinned-host
gone "first contact, nearby://NAME" first
gone "first contact, nearby://NAME@HOST" first-host
gone "direct http" http
