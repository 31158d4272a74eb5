#!/usr/bin/env bash
# advertise, unadvertise, status: what they write and what they say.
. "$(dirname "$0")/lib.sh"

make_repo "$T/myproj"
cd "$T/myproj"
git branch fix-login

out=$(git nearby advertise 2>&1 | head -n 1)
check_eq "advertise defaults to <repo>/<current branch>" "Advertising branch 'main' as 'myproj/main'." "$out"
check_eq "the opt-in is branch.main.nearby=true in the repository's own config" "true" "$(git config --local branch.main.nearby)"

out=$(git nearby advertise demo --branch fix-login 2>&1 | head -n 1)
check_eq "advertise NAME --branch" "Advertising branch 'fix-login' as 'demo'." "$out"
check_eq "an explicit name is stored as the value" "demo" "$(git config --local branch.fix-login.nearby)"

out=$(git nearby status)
check_contains "status lists the default name" "myproj/main	branch main	" "$out"
check_contains "status lists the explicit name" "demo	branch fix-login	" "$out"

out=$(git nearby advertise demo 2>&1); rc=$?
check_eq "a duplicate name within the repository fails" "1:git nearby: the name 'demo' is already advertised for branch 'fix-login'; choose another name" "$rc:$out"

out=$(git nearby advertise 'a//b' 2>&1); rc=$?
check_eq "an invalid name fails" "1:git nearby: name 'a//b' has an empty, '.' or '..' part between slashes" "$rc:$out"

out=$(git nearby advertise "$(printf 'x%.0s' $(seq 64))" 2>&1); rc=$?
check_exit "a 64-byte name fails" 1 "$rc" "is 64 bytes long; the limit is 63" "$out"

out=$(git nearby advertise "$(printf 'bad\tname')" 2>&1); rc=$?
check_exit "a name with a control character fails" 1 "$rc" "contains a control character" "$out"

out=$(git nearby advertise true 2>&1); rc=$?
check_eq "a name git would read as a boolean fails" "1:git nearby: 'true' reads as a boolean in git config; choose another name" "$rc:$out"

out=$(git nearby advertise --branch nope 2>&1); rc=$?
check_eq "an unknown branch fails (exit 2)" "2:git nearby: there is no branch 'nope' in this repository" "$rc:$out"

git checkout -q --detach HEAD
out=$(git nearby advertise 2>&1); rc=$?
check_eq "a detached HEAD fails" "1:git nearby: HEAD is detached; name the branch to share with --branch BRANCH" "$rc:$out"
git checkout -q main

out=$(cd "$T" && git nearby advertise 2>&1); rc=$?
check_eq "outside a repository fails" "1:git nearby: not in a git repository; run this inside the repository whose branch you want to share" "$rc:$out"

out=$(git nearby advertise "héllo wörld" --branch fix-login 2>&1 | head -n 1)
check_eq "re-advertising a branch renames it; non-ASCII names work" "Advertising branch 'fix-login' as 'héllo wörld'." "$out"

out=$(git nearby unadvertise "héllo wörld" 2>&1 | head -n 1)
check_eq "unadvertise NAME" "No longer advertising branch 'fix-login' (was 'héllo wörld')." "$out"
check "the key is gone" test -z "$(git config --local --get branch.fix-login.nearby)"

out=$(git nearby unadvertise --branch fix-login 2>&1); rc=$?
check_eq "unadvertising a branch that is not advertised fails" "2:git nearby: branch 'fix-login' is not advertised" "$rc:$out"

out=$(git nearby unadvertise nosuchname 2>&1); rc=$?
check_eq "unadvertising an unknown name fails" "2:git nearby: no branch of this repository is advertised as 'nosuchname'" "$rc:$out"

out=$(git nearby unadvertise 2>&1 | head -n 1)
check_eq "unadvertise defaults to the current branch" "No longer advertising branch 'main' (was 'myproj/main')." "$out"

out=$(git nearby advertise 2>&1)
check_eq "without a session bus, advertise says when servers will see it" "Advertising branch 'main' as 'myproj/main'.
No D-Bus session bus: running servers will see this at their next rescan." "$out"
git nearby unadvertise >/dev/null
out=$(git nearby status)
check_eq "status with nothing advertised" "No branch of this repository is advertised. Share one with: git nearby advertise" "$out"

# A new repository: its branch is unborn, and may still be advertised.
git init -q "$T/fresh"
out=$(cd "$T/fresh" && git nearby advertise 2>&1 | head -n 1)
check_eq "the unborn current branch can be advertised" "Advertising branch 'main' as 'fresh/main'." "$out"
check_contains "status shows it has no commits" "no commits yet" "$(cd "$T/fresh" && git nearby status)"

# A linked worktree writes to the common config.
git -C "$T/myproj" worktree add -q "$T/wt" fix-login
out=$(cd "$T/wt" && git nearby advertise 2>&1 | head -n 1)
check_eq "advertise in a linked worktree names it after the main repository" "Advertising branch 'fix-login' as 'myproj/fix-login'." "$out"
check_eq "and writes the common config" "true" "$(git -C "$T/myproj" config --local branch.fix-login.nearby)"

# advertise NAME where NAME is also a branch: most likely --branch was meant.
out=$(cd "$T/myproj" && git nearby advertise fix-login 2>&1); rc=$?
check_eq "advertise NAME, NAME a branch too: it still advertises, and hints at --branch" "0:Advertising branch 'main' as 'fix-login'.
No D-Bus session bus: running servers will see this at their next rescan.
hint: 'fix-login' is also a branch of this repository; to advertise that branch instead,
hint: run: git nearby unadvertise 'fix-login' && git nearby advertise --branch 'fix-login'" "$rc:$out"
check_eq "what it wrote is what it said" "fix-login" "$(git -C "$T/myproj" config --local branch.main.nearby)"
(cd "$T/myproj" && git nearby unadvertise fix-login >/dev/null)
out=$(cd "$T/myproj" && git nearby advertise other-name 2>&1)
check_not_contains "a NAME that is no branch gets no hint" "hint:" "$out"
out=$(cd "$T/myproj" && git nearby advertise main --branch fix-login 2>&1)
check_not_contains "nor does an explicit --branch" "hint:" "$out"
(cd "$T/myproj" && git nearby unadvertise other-name >/dev/null && git nearby unadvertise main >/dev/null)

# The dispatcher.
out=$(git nearby advertize 2>&1); rc=$?
check_eq "an unknown command suggests the closest" "1:git nearby: 'advertize' is not a command. Did you mean 'advertise'?" "$rc:$out"
out=$(git nearby $'advert\033ise' 2>&1); rc=$?
check_eq "an unknown command is shown escaped" "1:git nearby: 'advert\\x1Bise' is not a command. Did you mean 'advertise'?" "$rc:$out"
out=$(git nearby browse --timeout $'1\033]0;pwned\007' 2>&1); rc=$?
check_contains "so is an option's error" 'for --timeout' "$out"
no_control () { ! printf '%s' "$1" | tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]'; }
check "with no control character left" no_control "$out"
out=$(git nearby -h)
check_contains "-h lists the commands" "advertise     Share a branch of this repository" "$out"
out=$(git-nearby advertise --help)
check_contains "a command's --help shows its usage" "git nearby advertise [OPTION" "$out"
out=$(git nearby browse --timeout -1 2>&1); rc=$?
check_eq "browse checks --timeout before looking" "1:git nearby: --timeout -1: not a number of seconds" "$rc:$out"
out=$(git nearby browse extra 2>&1); rc=$?
check_eq "browse takes no arguments (but --names a PREFIX)" "1:git nearby: usage: git nearby browse [--json] [--watch] [--project] [--timeout SECONDS], or browse --names [--timeout SECONDS] [PREFIX]" "$rc:$out"
out=$(git nearby resolve 2>&1); rc=$?
check_eq "resolve needs a name" "1:git nearby: usage: git nearby resolve NAME[@HOST]" "$rc:$out"
out=$(git nearby resolve 'a//b' 2>&1); rc=$?
check_eq "resolve checks the name before looking" "1:git nearby: 'a//b' does not name a branch: name 'a//b' has an empty, '.' or '..' part between slashes" "$rc:$out"
out=$(git ls-remote nearby://x@ 2>&1); rc=$?
check_eq "a malformed nearby:// URL fails before looking" "128:fatal: 'nearby://x@': expected NAME@HOST; write an '@' inside a name as %40" "$rc:$out"
out=$(git-nearby serve --help)
check_contains "serve --help comes from the server" "--port-file=FILE" "$out"

done_testing
