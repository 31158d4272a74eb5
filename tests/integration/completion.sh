#!/usr/bin/env bash
# bash completion in a real bash with bash-completion and git's own
# completion: nearby:// names after git clone, fetch, pull, ls-remote and
# remote add; names for resolve and unadvertise; git's other completions
# unharmed. The names nearby come from the completion cache (no mDNS here):
# that is what `git nearby browse --names` reads while it is fresh.
. "$(dirname "$0")/lib.sh"

BC=/usr/share/bash-completion/bash_completion
if [ ! -r "$BC" ] || [ ! -r /usr/share/bash-completion/completions/git ]; then
  not_ok "bash-completion and git's completion are not installed here (apt-get install bash-completion)"
  done_testing; exit 1
fi
FILE="$NEARBY_SOURCE_DIR/data/completion/git-nearby.bash"
# As installed: read at start (compat directory), and on demand (completions).
mkdir -p "$T/compat" "$T/share/bash-completion/completions" "$T/empty"
cp "$FILE" "$T/compat/git-nearby"
cp "$FILE" "$T/share/bash-completion/completions/git-nearby"

CACHE="$XDG_RUNTIME_DIR/git-nearby/names"
# The list stays for as long as the test runs, however slow the machine.
export GIT_NEARBY_COMPLETE_CACHE=86400
fresh_cache () { # fresh_cache LINE...: what a browse saw just now ("NAME<tab>HOST")
  mkdir -p "${CACHE%/*}" && chmod 700 "${CACHE%/*}"
  printf '%s\n' "$@" > "$CACHE" && chmod 600 "$CACHE"
}

# tab SETUP -- WORD...: what bash offers for the last word (see
# tests/complete-tab.sh), our file read at start unless COMPAT says otherwise.
tab () {
  local setup=$1; shift 2
  BASH_COMPLETION_COMPAT_DIR=${COMPAT-$T/compat} XDG_DATA_DIRS="$T/share:/usr/share" \
    bash --norc --noprofile "$NEARBY_SOURCE_DIR/tests/complete-tab.sh" "$setup" "$@"
}

fresh_cache $'myproj/fix-login\talice' $'alpha/main\tcarol' $'myproj/main\talice' \
  $'myproj/fix-login\tcarol' $'alpha/main\t$(touch${IFS}pwned)' \
  '$(touch${IFS}pwned)' '`touch${IFS}pwned`' 'x;touch${IFS}pwned' 'with space' $'esc\e[2J' 'a=b' \
  '-rf'
cd "$T"

# Read at start, before git's completion is loaded: the first TAB on a git
# command line loads it and the names are there at once.
check_eq "git clone nearby://<TAB>: each name once, sorted, after the ':' bash splits at" \
  "[//alpha/main ][//myproj/fix-login ][//myproj/main ]" "$(tab '' -- git clone nearby://)"
check_eq "git clone nearby://my<TAB>: those that start so" \
  "[//myproj/fix-login ][//myproj/main ]" "$(tab '' -- git clone nearby://my)"
check_eq "git clone nearby://myproj/fix<TAB>: the one" \
  "[//myproj/fix-login ]" "$(tab '' -- git clone nearby://myproj/fix)"
check_eq "git clone nearby://zz<TAB>: nothing" "" "$(tab '' -- git clone nearby://zz)"
check_eq "git clone nearby://myproj/fix-login@<TAB>: who advertises it" \
  "[//myproj/fix-login@alice ][//myproj/fix-login@carol ]" \
  "$(tab '' -- git clone nearby://myproj/fix-login@)"
check_eq "git clone nearby://alpha/main@<TAB>: not a host that is shell code" \
  "[//alpha/main@carol ]" "$(tab '' -- git clone nearby://alpha/main@)"
check_eq "git clone nearby:<TAB>" "[//alpha/main ][//myproj/fix-login ][//myproj/main ]" \
  "$(tab '' -- git clone nearby:)"
check_eq "after options too: git clone --depth 1 nearby://a<TAB>" "[//alpha/main ]" \
  "$(tab '' -- git clone --depth 1 nearby://a)"
check_eq "git fetch nearby://a<TAB>" "[//alpha/main ]" "$(tab '' -- git fetch nearby://a)"
check_eq "git pull nearby://a<TAB>" "[//alpha/main ]" "$(tab '' -- git pull nearby://a)"
check_eq "git ls-remote nearby://a<TAB>" "[//alpha/main ]" "$(tab '' -- git ls-remote nearby://a)"
check_eq "git remote add bob nearby://a<TAB>" "[//alpha/main ]" \
  "$(tab '' -- git remote add bob nearby://a)"
check "no name from the network ran anything" test ! -e "$T/pwned"
check_not_contains "nor reached the command line" "touch" "$(tab '' -- git clone nearby://)"

# git's own completion goes on as before.
make_repo "$T/repo"
git -C "$T/repo" remote add origin "$T/elsewhere"
git -C "$T/repo" branch fix-login
cd "$T/repo"
check_contains "git clone --dep<TAB> is git's" "[--depth=]" "$(tab '' -- git clone --dep)"
check_eq "git fetch or<TAB> is git's: the remote" "[origin ]" "$(tab '' -- git fetch or)"
check_eq "git remote ad<TAB> is git's" "[add ]" "$(tab '' -- git remote ad)"
check_eq "git checkout fix<TAB> is git's" "[fix-login ]" "$(tab '' -- git checkout fix)"
check_eq "git log nearby://<TAB> is git's (no names)" "" "$(tab '' -- git log nearby://)"
check_eq "git nearby adv<TAB>" "[advertise ]" "$(tab '' -- git nearby adv)"
check_eq "git nearby status --<TAB>" "[--names ][--help ]" "$(tab '' -- git nearby status --)"

check_eq "git nearby resolve <TAB>: each name once" \
  "[alpha/main ][myproj/fix-login ][myproj/main ]" "$(tab '' -- git nearby resolve '')"
check_eq "git nearby resolve myproj/m<TAB>" "[myproj/main ]" \
  "$(tab '' -- git nearby resolve myproj/m)"

git nearby advertise >/dev/null 2>&1
git nearby advertise --branch fix-login shared/fix >/dev/null 2>&1
git config branch.main.nearby '$(touch${IFS}pwned)'
git branch evil
git config branch.evil.nearby 'ok/evil'
check_eq "git nearby unadvertise <TAB>: this repository's names, the unsafe one left out" \
  "[ok/evil ][shared/fix ]" "$(tab '' -- git nearby unadvertise '')"
check_eq "git nearby unadvertise sh<TAB>" "[shared/fix ]" "$(tab '' -- git nearby unadvertise sh)"
check_eq "git nearby unadvertise --branch f<TAB>: branches" "[fix-login ]" \
  "$(tab '' -- git nearby unadvertise --branch f)"
check "still nothing ran" test ! -e "$T/repo/pwned"
cd "$T"

# Other orders: git's completion loaded before this file is read (from
# ~/.bash_completion, say), and this file only on demand (no compat copy).
check_eq "read after git's completion" "[//alpha/main ]" \
  "$(COMPAT=$T/empty tab "_completion_loader git; . '$T/compat/git-nearby'" -- git clone nearby://a)"
check_eq "read twice after git's completion: wrapped once, and git's completion still works" \
  "[origin ]" \
  "$(cd "$T/repo" && COMPAT=$T/empty tab "_completion_loader git; . '$T/compat/git-nearby'
    . '$T/compat/git-nearby'"'
    [[ $(declare -f __git_nearby_git_complete_command) != *__git_nearby_url* ]] || exit 1' \
    -- git fetch or)"
check_eq "only on demand: git clone nearby:// completes no name before git nearby did" "" \
  "$(COMPAT=$T/empty tab '' -- git clone nearby://a)"
check_eq "only on demand: after git nearby <TAB>, it does" "[//alpha/main ]" \
  "$(COMPAT=$T/empty tab 'COMP_WORDS=(git nearby ""); COMP_CWORD=2; _completion_loader git
    __git_wrap__git_main; COMPREPLY=()' -- git clone nearby://a)"

# The cache: stale, it is not used; a browse (no avahi-daemon here: nothing
# found) writes a new one, 0600 in a 0700 directory.
touch -d '2 days ago' "$CACHE"
check_eq "a stale cache is not used" "" "$(tab '' -- git clone nearby://a)"
check_eq "nor one written just now when GIT_NEARBY_COMPLETE_CACHE=0" "" \
  "$(fresh_cache alpha/main; GIT_NEARBY_COMPLETE_CACHE=0 tab '' -- git clone nearby://a)"
check_eq "the browse wrote the cache anew, 0600" "600:0" "$(stat -c %a "$CACHE"):$(wc -c < "$CACHE")"
check_eq "its directory 0700" "700" "$(stat -c %a "${CACHE%/*}")"
fresh_cache "myproj/main"
chmod 666 "$CACHE"
check_eq "a cache others may write is not used" "" "$(git nearby browse --names)"
fresh_cache "myproj/main"
check_eq "git nearby browse --names" "myproj/main" "$(git nearby browse --names)"
check_eq "git nearby browse --names my" "myproj/main" "$(git nearby browse --names my)"
check_eq "git nearby browse --names -- x" "" "$(git nearby browse --names -- x)"
out=$(git nearby browse my 2>&1); rc=$?
check_exit "browse takes no PREFIX without --names" 1 "$rc" "git nearby: usage: git nearby browse" "$out"
done_testing
