#!/usr/bin/env bash
# One bounded fuzzing run: run-fuzzer.sh HARNESS SEED-CORPUS SECONDS
# The harness works on a copy of the checked-in corpus, so the tree is never
# modified. A crashing input is kept in fuzz-crashes/ under the current
# directory (meson's build directory) and shown as a hex dump.
set -uo pipefail

harness=$1 seeds=$2 seconds=$3
name=$(basename "$harness")
work=$(mktemp -d "${TMPDIR:-/tmp}/nearby-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p "$work/corpus" "$work/artifacts"
cp -- "$seeds"/* "$work/corpus/"

# The planner's repository lives in a temporary directory the harness makes;
# no other state is kept between inputs.
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" 2>"$work/log"
rc=$?
tail -n 20 "$work/log"
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  echo "$name: failed (exit $rc)"
  grep -m1 -A30 'ERROR:\|runtime error' "$work/log" || true
  mkdir -p fuzz-crashes
  for f in "$work/artifacts"/*; do
    [ -e "$f" ] || continue
    cp -- "$f" "fuzz-crashes/$name-$(basename "$f")"
    echo "input kept as fuzz-crashes/$name-$(basename "$f"):"
    od -A d -c "$f" | head -n 40
  done
  exit 1
fi
# A harness that ran no inputs proves nothing.
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
echo "$name: $runs inputs in $seconds s, no crash"
[ "${runs:-0}" -gt 0 ]
