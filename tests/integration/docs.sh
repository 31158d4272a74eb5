#!/usr/bin/env bash
# --help and the man page agree: every command and every option is in both.
. "$(dirname "$0")/lib.sh"

MAN="$NEARBY_SOURCE_DIR/man/git-nearby.1"
man_text=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$MAN")

commands=$(git nearby -h | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')
check "git nearby -h lists commands" test -n "$commands"
for c in $commands; do
  check_contains "the man page documents 'git nearby $c'" "git nearby $c" "$man_text"
  for opt in $(git-nearby "$c" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+' | grep -v -- '--help'); do
    check_contains "the man page documents '$c $opt'" "$opt" "$man_text"
  done
done
for opt in $(grep -oE '^\\fB(\\-[a-z], )?\\-\\-[a-z\\-]+' "$MAN" | sed 's/\\-/-/g; s/\\fB//' | grep -oE -- '--[a-z-]+' | sort -u); do
  found=0
  for c in $commands; do git-nearby "$c" --help | grep -q -- "$opt" && found=1; done
  check_eq "option $opt of the man page is in some --help" "1" "$found"
done
# The pages the server serves are in the man page and the README, each
# route on its own (GET /nearby, not only as the start of GET /nearby/).
documents () { printf '%s' "$1" | python3 -c 'import re, sys; sys.exit(not re.search(re.escape(sys.argv[1]) + r"(?![\w/<])", sys.stdin.read()))' "$2"; }
readme=$(cat "$NEARBY_SOURCE_DIR/README.md")
for route in 'GET /' 'GET /NAME' 'GET /NAME/commit/ID' 'GET /nearby' 'GET /nearby/'; do
  check "the man page documents $route" documents "$man_text" "$route"
done
for route in 'GET /' 'GET /<name>' 'GET /<name>/commit/<id>' 'GET /nearby' '/nearby/'; do
  check "the README documents $route" documents "$readme" "$route"
done
done_testing
