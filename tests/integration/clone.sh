#!/usr/bin/env bash
# The real git client against the real server: clone, fetch and pull in
# every shape the issue lists. Each clone must hold exactly the advertised
# branch's history and pass git fsck --strict.
. "$(dirname "$0")/lib.sh"

SRV="$T/srv"
mkdir -p "$SRV"

# myproj: main is advertised; secret, with a tag, is not.
make_repo "$SRV/myproj"
git -C "$SRV/myproj" checkout -q -b secret
echo "do not share" > "$SRV/myproj/secret.txt"
git -C "$SRV/myproj" add secret.txt && git -C "$SRV/myproj" commit -q -m "private work"
git -C "$SRV/myproj" tag -a -m "private tag" v-secret
git -C "$SRV/myproj" checkout -q main
git -C "$SRV/myproj" tag -a -m "release" v1 main
(cd "$SRV/myproj" && git nearby advertise >/dev/null)
git -C "$SRV/myproj" branch fix-login main~1
(cd "$SRV/myproj" && git nearby advertise team/fix-login --branch fix-login >/dev/null)
git -C "$SRV/myproj" branch unicode main~2
(cd "$SRV/myproj" && git nearby advertise "héllo wörld/ünï" --branch unicode >/dev/null)

# A bare repository.
git clone -q --bare "$SRV/myproj" "$SRV/shared.git"
(cd "$SRV/shared.git" && git nearby advertise >/dev/null)

# A new repository with no commits.
git init -q "$SRV/fresh"
(cd "$SRV/fresh" && git nearby advertise >/dev/null)

# A linked worktree whose main repository is outside the served directory.
make_repo "$T/elsewhere/wtmain"
git -C "$T/elsewhere/wtmain" branch wtbranch
git -C "$T/elsewhere/wtmain" worktree add -q "$SRV/wt" wtbranch
(cd "$SRV/wt" && echo wt > wt.txt && git add wt.txt && git commit -q -m "worktree commit" && git nearby advertise >/dev/null)

# Commits with fixed dates, for --shallow-since.
git init -q "$SRV/dated"
for year in 2019 2020 2021 2022; do
  echo "$year" > "$SRV/dated/year.txt"
  git -C "$SRV/dated" add year.txt
  GIT_COMMITTER_DATE="$year-01-01T00:00:00Z" GIT_AUTHOR_DATE="$year-01-01T00:00:00Z" \
    git -C "$SRV/dated" commit -q -m "year $year"
done
(cd "$SRV/dated" && git nearby advertise >/dev/null)

# Two repositories advertising the same name: the first in path order wins.
make_repo "$SRV/dup-a"; (cd "$SRV/dup-a" && git nearby advertise same >/dev/null)
make_repo "$SRV/dup-b"; echo b >> "$SRV/dup-b/file.txt"; git -C "$SRV/dup-b" commit -qam "b"
(cd "$SRV/dup-b" && git nearby advertise same >/dev/null)

start_server "$SRV" || { not_ok "server starts"; done_testing; exit 1; }
ok "server starts on 127.0.0.1 port 0 and writes the port file"

C="$T/clones"
mkdir -p "$C"

# --- clone in both protocol versions ---
check "clone (protocol v2, git's default)" git clone -q "$URL/myproj/main" "$C/v2"
check "v2 clone holds exactly main's history and passes fsck --strict" same_history "$C/v2" "$SRV/myproj" main
check_eq "v2 clone checks out main" "refs/heads/main" "$(git -C "$C/v2" symbolic-ref HEAD)"
check_eq "v2 clone's origin/HEAD follows the symref" "refs/remotes/origin/main" "$(git -C "$C/v2" symbolic-ref refs/remotes/origin/HEAD)"

check "clone with -c protocol.version=0" git -c protocol.version=0 clone -q "$URL/myproj/main" "$C/v0"
check "v0 clone holds exactly main's history and passes fsck --strict" same_history "$C/v0" "$SRV/myproj" main
check_eq "v0 clone checks out main" "refs/heads/main" "$(git -C "$C/v0" symbolic-ref HEAD)"

out=$(git ls-remote "$URL/myproj/main")
check_eq "ls-remote (v2) shows exactly HEAD and the branch" \
  "$(rev "$SRV/myproj" main)	HEAD
$(rev "$SRV/myproj" main)	refs/heads/main" "$out"
out=$(git -c protocol.version=0 ls-remote "$URL/myproj/main")
check_eq "ls-remote (v0) shows exactly HEAD and the branch" \
  "$(rev "$SRV/myproj" main)	HEAD
$(rev "$SRV/myproj" main)	refs/heads/main" "$out"

# --- shallow ---
check "clone --depth 1" git clone -q --depth 1 "$URL/myproj/main" "$C/shallow"
check_eq "the shallow clone has one commit" "1" "$(git -C "$C/shallow" rev-list --count HEAD)"
check_eq "and it is shallow at the tip" "$(rev "$SRV/myproj" main)" "$(cat "$C/shallow/.git/shallow")"
git clone -q --no-local --depth 1 --single-branch --no-tags "file://$SRV/myproj" "$C/ref-shallow"
check "the depth-1 pack has exactly the objects git upload-pack sends" same_objects "$C/shallow" "$C/ref-shallow"
check "fetch --deepen 1" git -C "$C/shallow" fetch -q --deepen 1
check_eq "the clone now has two commits" "2" "$(git -C "$C/shallow" rev-list --count HEAD)"
git -C "$C/ref-shallow" fetch -q --deepen 1
check "deepening sent exactly the objects git upload-pack sends" same_objects "$C/shallow" "$C/ref-shallow"
check "fetch --unshallow" git -C "$C/shallow" fetch -q --unshallow
check "the unshallowed clone holds main's full history" same_history "$C/shallow" "$SRV/myproj" main
check "it is no longer shallow" test ! -e "$C/shallow/.git/shallow"

check "v0 clone --depth 2" git -c protocol.version=0 clone -q --depth 2 "$URL/myproj/main" "$C/shallow0"
check_eq "the v0 shallow clone has two commits" "2" "$(git -C "$C/shallow0" rev-list --count HEAD)"
git -c protocol.version=0 clone -q --no-local --depth 2 --single-branch --no-tags "file://$SRV/myproj" "$C/ref-shallow0"
check "the v0 depth-2 pack has exactly the objects git upload-pack sends" same_objects "$C/shallow0" "$C/ref-shallow0"
check "v0 fetch --unshallow" git -c protocol.version=0 -C "$C/shallow0" fetch -q --unshallow
check "the v0 unshallowed clone holds main's full history" same_history "$C/shallow0" "$SRV/myproj" main

check "clone --shallow-since" git clone -q --shallow-since=2020-06-01 "$URL/dated/main" "$C/since"
check_eq "only the commits since then came" "year 2022
year 2021" "$(git -C "$C/since" log --format=%s)"
git clone -q --no-local --shallow-since=2020-06-01 --single-branch --no-tags "file://$SRV/dated" "$C/ref-since"
check "the --shallow-since pack has exactly the objects git upload-pack sends" same_objects "$C/since" "$C/ref-since"
check "v0 clone --shallow-since" git -c protocol.version=0 clone -q --shallow-since=2021-06-01 "$URL/dated/main" "$C/since0"
check_eq "v0: only the commits since then came" "year 2022" "$(git -C "$C/since0" log --format=%s)"
out=$(git clone --shallow-since=2030-01-01 "$URL/dated/main" "$C/since-none" 2>&1); rc=$?
check_exit "--shallow-since after every commit fails cleanly" nonzero "$rc" "no commits selected for shallow requests" "$out"
out=$(git clone --shallow-exclude=main "$URL/dated/main" "$C/exclude" 2>&1); rc=$?
check_exit "--shallow-exclude of the branch itself selects nothing" nonzero "$rc" "no commits selected for shallow requests" "$out"
out=$(git clone --shallow-exclude=secret "$URL/myproj/main" "$C/exclude2" 2>&1); rc=$?
check_exit "--shallow-exclude of a private branch is an unknown ref" nonzero "$rc" "deepen-not: unknown ref 'secret'" "$out"

# --- incremental fetch and pull ---
git clone -q --no-local --single-branch --no-tags "file://$SRV/myproj" "$C/ref-inc"
echo "line 4" >> "$SRV/myproj/file.txt"
git -C "$SRV/myproj" commit -qam "commit 4 on main"
git -C "$C/ref-inc" fetch -q
for r in ref-inc v2; do git -C "$C/$r" repack -qad; done
check "fetch after a new commit" git -C "$C/v2" fetch -q
check "and the clone has exactly the objects git upload-pack gave" same_objects "$C/v2" "$C/ref-inc"
check_eq "origin/main moved to the new tip" "$(rev "$SRV/myproj" main)" "$(rev "$C/v2" origin/main)"
check "pull" git -C "$C/v0" -c protocol.version=0 pull -q --ff-only
check_eq "v0 pull fast-forwarded to the new tip" "$(rev "$SRV/myproj" main)" "$(rev "$C/v0" HEAD)"
check "after fetching, the clone still holds exactly main's history" same_history "$C/v2" "$SRV/myproj" main
check "the shallow clone fetches the new commit too" git -C "$C/shallow0" -c protocol.version=0 fetch -q
check "and passes fsck" git -C "$C/shallow0" fsck --strict --no-dangling

# --- a force-updated branch ---
git -C "$SRV/myproj" reset -q --hard main~2
echo rewritten > "$SRV/myproj/other.txt"
git -C "$SRV/myproj" add other.txt && git -C "$SRV/myproj" commit -q -m "rewritten history"
check "fetch after a force update (the default refspec has +)" git -C "$C/v2" fetch -q
check_eq "origin/main is the rewritten tip" "$(rev "$SRV/myproj" main)" "$(rev "$C/v2" origin/main)"
check "fsck passes after the rewrite" git -C "$C/v2" fsck --strict --no-dangling
check "a v0 fetch after the force update" git -C "$C/v0" -c protocol.version=0 fetch -q
check_eq "v0: origin/main is the rewritten tip" "$(rev "$SRV/myproj" main)" "$(rev "$C/v0" origin/main)"
check "a shallow clone fetches across the force update" git -C "$C/shallow0" -c protocol.version=0 fetch -q
check_eq "the shallow clone's origin/main is the rewritten tip" "$(rev "$SRV/myproj" main)" "$(rev "$C/shallow0" origin/main)"

# --- names with '/' and non-ASCII, bare repositories, linked worktrees, unborn ---
check "a name with '/' (team/fix-login)" git clone -q "$URL/team/fix-login" "$C/slash"
check "it holds fix-login's history" same_history "$C/slash" "$SRV/myproj" fix-login
check_eq "and checks out fix-login" "refs/heads/fix-login" "$(git -C "$C/slash" symbolic-ref HEAD)"
uurl=$(curl -sf "$URL/?format=json" | grep -o '"url": "[^"]*w%C3%B6rld[^"]*"' | sed 's/"url": "//; s/"$//')
check_eq "the JSON gives the percent-encoded URL of a non-ASCII name" "$URL/h%C3%A9llo%20w%C3%B6rld/%C3%BCn%C3%AF" "$uurl"
check "a non-ASCII name clones" git clone -q "$uurl" "$C/unicode"
check "it holds the unicode branch's history" same_history "$C/unicode" "$SRV/myproj" unicode

check "a bare repository's branch clones" git clone -q "$URL/shared/main" "$C/bare"
check "it holds main's history" same_history "$C/bare" "$SRV/shared.git" main

check "a linked worktree's branch clones" git clone -q "$URL/wtmain/wtbranch" "$C/wt"
check "it holds the worktree branch's history" same_history "$C/wt" "$T/elsewhere/wtmain" wtbranch

out=$(git clone "$URL/fresh/main" "$C/fresh" 2>&1); rc=$?
check_eq "an unborn branch clones as an empty repository" "0" "$rc"
check_contains "git says so" "You appear to have cloned an empty repository." "$out"
check_eq "the empty clone's HEAD is the branch (v2 unborn)" "refs/heads/main" "$(git -C "$C/fresh" symbolic-ref HEAD)"
out=$(git -c protocol.version=0 clone "$URL/fresh/main" "$C/fresh0" 2>&1); rc=$?
check_eq "v0: an unborn branch clones as an empty repository" "0" "$rc"
check_contains "v0: git says so" "You appear to have cloned an empty repository." "$out"
echo first > "$SRV/fresh/first.txt"
git -C "$SRV/fresh" add first.txt && git -C "$SRV/fresh" commit -q -m "first commit"
check "the first commit of a once-unborn branch fetches" git -C "$C/fresh" fetch -q origin main
check_eq "and is that commit" "$(rev "$SRV/fresh" main)" "$(rev "$C/fresh" FETCH_HEAD)"

# --- duplicates ---
check "a name advertised twice clones" git clone -q "$URL/same" "$C/same"
check "the first repository in path order wins" same_history "$C/same" "$SRV/dup-a" main
check_eq "the conflict is reported once" "1" "$(grep -c "'same' is advertised by both" "$T/server.log")"

# --- deleted branches ---
git -C "$SRV/myproj" branch temp main
(cd "$SRV/myproj" && git nearby advertise --branch temp >/dev/null)
check "a newly advertised branch is served without a restart" wait_for is_served myproj/temp
check "and clones" git clone -q "$URL/myproj/temp" "$C/temp"
git -C "$SRV/myproj" update-ref -d refs/heads/temp
out=$(git clone "$URL/myproj/temp" "$C/temp2" 2>&1); rc=$?
check_exit "a branch deleted while served is cleanly not found" nonzero "$rc" "not found" "$out"
check "the server logs why" grep -q "branch 'temp' of .* no longer exists" "$T/server.log"
git -C "$SRV/myproj" branch temp main
check "a branch re-created under its opt-in is served again" git clone -q "$URL/myproj/temp" "$C/temp3"
git -C "$SRV/myproj" branch -q -D temp
check "git branch -D (which drops its config) unadvertises it" wait_for not_served myproj/temp

# --- opt-ins edited by hand ---
git -C "$SRV/myproj" config branch.secret.nearby handmade
check "an opt-in added by hand in config is picked up" wait_for is_served handmade
check "and clones" git clone -q "$URL/handmade" "$C/handmade"
check "with the secret branch's history" same_history "$C/handmade" "$SRV/myproj" secret
git -C "$SRV/myproj" config --unset branch.secret.nearby
check "an opt-in removed by hand is dropped" wait_for not_served handmade
out=$(git clone "$URL/handmade" "$C/handmade2" 2>&1); rc=$?
check_exit "and no longer clones" nonzero "$rc" "not found" "$out"

# --- SIGHUP finds new repositories ---
make_repo "$SRV/later"
(cd "$SRV/later" && git nearby advertise >/dev/null)
# Then a change the server does watch: once it shows, the server has had the
# events of the new repository too, and a scan of its own would have run.
git -C "$SRV/myproj" branch marker main
git -C "$SRV/myproj" config branch.marker.nearby true
check "an opt-in in a served repository made after it shows" wait_for is_served myproj/marker
check "a repository created after start is not scanned on its own" not_served later/main
kill -HUP "$SERVER_PID"
check "SIGHUP rescans and serves it" wait_for is_served later/main

# --- nothing private came along ---
for c in "$C"/*; do
  [ -d "$c/.git" ] || continue
  if git -C "$c" cat-file -e "$(rev "$SRV/myproj" secret)" 2>/dev/null && [ "$(basename "$c")" != handmade ]; then
    not_ok "no clone but the hand-advertised one holds the private commit ($c)"
  fi
done
ok "no clone of another branch holds the private commit"

check "the server is still running" server_alive
done_testing
