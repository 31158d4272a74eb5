#!/usr/bin/env bash
# Fails when a C file under the source tree is not formatted as .clang-format says.
set -u
cd "${1:-.}" || exit 1
command -v clang-format >/dev/null || { echo "clang-format is not installed"; exit 1; }
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find shared server client tests -name '*.[ch]'); do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=1
  fi
done
exit $bad
