#!/usr/bin/env bash
# browse knows where you are: inside a repository, the branches of this
# project (the same root commit) come first, then the rest; --project shows
# only those; every row has the owner, the head's subject and its age.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 || { not_ok "hosts come up"; done_testing; exit 1; }
for h in alice bob carol; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done

# webapp on alice; carol's clone of it with a branch of her own, and an
# unrelated tool of hers.
mkdir -p "$T/alice/srv" "$T/carol/srv" "$T/bob"
make_repo "$T/alice/srv/webapp"
(cd "$T/alice/srv/webapp" && on alice git nearby advertise >/dev/null)
git clone -q "$T/alice/srv/webapp" "$T/carol/srv/webapp"
git -C "$T/carol/srv/webapp" checkout -q -b dark-mode
echo dark > "$T/carol/srv/webapp/style.css"
git -C "$T/carol/srv/webapp" add style.css
GIT_COMMITTER_DATE="$(( $(date +%s) - 3 * 3600 )) +0000" git -C "$T/carol/srv/webapp" commit -q -m "Dark mode for the login page"
(cd "$T/carol/srv/webapp" && on carol git nearby advertise carol/webapp-dark >/dev/null)
git init -q -b main "$T/carol/srv/tool"
echo "a tool" > "$T/carol/srv/tool/README"
git -C "$T/carol/srv/tool" add README
git -C "$T/carol/srv/tool" commit -q -m "A tool of carol's, another project"
(cd "$T/carol/srv/tool" && on carol git nearby advertise >/dev/null)
for h in alice carol; do serve_on "$h" || { not_ok "server starts on $h"; done_testing; exit 1; }; done
check "bob sees the three branches" wait_until 10 eval \
  'visible_on bob webapp/main && visible_on bob carol/webapp-dark && visible_on bob tool/main'
git clone -q "$T/alice/srv/webapp" "$T/bob/webapp"
ROOT=$(rev "$T/alice/srv/webapp" main~2)
DARK=$(rev "$T/carol/srv/webapp" dark-mode)

names () { sed -n 's/^\([^ ]*\) .*/\1/p' | grep -v '^NAME$' | tr '\n' ' ' | sed 's/ $//'; }

out=$(cd "$T/bob/webapp" && on bob git nearby browse --timeout 5); rc=$?
check_eq "inside the project, its branches first (by name), then a blank line and the rest" \
  "0:carol/webapp-dark webapp/main tool/main" "$rc:$(printf '%s\n' "$out" | names)"
check_eq "(the blank line between them)" "" "$(printf '%s\n' "$out" | sed -n 4p)"
check_contains "the header names owner, age and subject" \
  "NAME               HOST   OWNER  KEY        BRANCH     HEAD     AGE  SUBJECT" "$out"
row=$(printf '%s\n' "$out" | grep '^carol/webapp-dark ')
check "carol's row: owner, key, branch, head, age, subject, URL" eval "printf '%s\n' \"\$row\" | grep -qE \
  '^carol/webapp-dark +carol +Carol +[0-9A-Z]{4}-[0-9A-Z]{4} +dark-mode +$(echo "$DARK" | cut -c1-7) +3 h +Dark mode for the login page +http://10\.77\.0\.3:[0-9]+/carol/webapp-dark\$'"

out=$(cd "$T/bob/webapp" && on bob git nearby browse --project --timeout 5); rc=$?
check_eq "--project shows only this project's branches" \
  "0:carol/webapp-dark webapp/main" "$rc:$(printf '%s\n' "$out" | names)"

json=$(cd "$T/bob/webapp" && on bob git nearby browse --json --timeout 5)
check_contains "JSON: this project's branch says so, with its date" \
  "\"repo\": \"$ROOT\", \"key\": \"$(pin_seen_from bob 10.77.0.3 "$(cat "$T/carol.port")")\", \"owner\": \"Carol\", \"subject\": \"Dark mode for the login page\", \"date\": $(git -C "$T/carol/srv/webapp" log -1 --format=%ct dark-mode), \"project\": true" \
  "$(printf '%s\n' "$json" | grep '"carol/webapp-dark"')"
check_contains "and another project's says it is not" '"project": false' \
  "$(printf '%s\n' "$json" | grep '"tool/main"')"

json=$(on bob git nearby browse --json --timeout 5)
check_contains "outside a repository there is no project" '"project": null' \
  "$(printf '%s\n' "$json" | grep '"webapp/main"')"
out=$(on bob git nearby browse --timeout 5)
check_eq "and the order is by name" "carol/webapp-dark tool/main webapp/main" "$(printf '%s\n' "$out" | names)"
out=$(on bob git nearby browse --project 2>&1); rc=$?
check_eq "--project outside a repository is an error" \
  "1:git nearby: --project: not in a repository with commits; run it inside the project" "$rc:$out"

# --watch --project: only this project's events.
(cd "$T/bob/webapp" && on bob git nearby browse --watch --json --project > "$T/watch.json" 2>/dev/null) &
WATCH=$!
check "the watch reports this project's branches" wait_until 10 grep -q '"carol/webapp-dark"' "$T/watch.json"
git -C "$T/carol/srv/tool" branch extra
(cd "$T/carol/srv/tool" && on carol git nearby advertise --branch extra >/dev/null)
git -C "$T/carol/srv/webapp" branch dark-2 dark-mode
(cd "$T/carol/srv/webapp" && on carol git nearby advertise carol/webapp-dark-2 --branch dark-2 >/dev/null)
check "and a new branch of it" wait_until 10 grep -q '"carol/webapp-dark-2"' "$T/watch.json"
check_not_contains "but none of the other project's" '"tool/' "$(cat "$T/watch.json")"
kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null

# git nearby fetch: everyone's branches of this project, by owner.
check "carol's new branch is visible" wait_until 10 visible_on bob carol/webapp-dark-2
out=$(cd "$T/bob/webapp" && on bob git nearby fetch 2>&1); rc=$?
check_contains "git nearby fetch fetches this project's branches, and says what was new" \
  "git nearby fetch: 3 branches of this project nearby: 3 new, 0 updated, 0 up to date" "$out"
check_eq "(exit 0)" 0 "$rc"
refs=$(git -C "$T/bob/webapp" for-each-ref --format='%(refname) %(objectname)' refs/remotes/nearby/)
check_eq "into refs/remotes/nearby/OWNER/NAME, with the right tips" \
  "refs/remotes/nearby/Alice/webapp/main $(rev "$T/alice/srv/webapp" main)
refs/remotes/nearby/Carol/carol/webapp-dark $DARK
refs/remotes/nearby/Carol/carol/webapp-dark-2 $DARK" "$refs"
check_contains "and git log --all shows everyone's work" "Dark mode for the login page" \
  "$(git -C "$T/bob/webapp" log --all --format=%s)"
echo more >> "$T/alice/srv/webapp/file.txt"
git -C "$T/alice/srv/webapp" commit -q -am "More from Alice"
check "alice's new commit is announced" wait_until 10 visible_on bob webapp/main "$(rev "$T/alice/srv/webapp" main)"
out=$(cd "$T/bob/webapp" && on bob git nearby fetch 2>&1)
check_contains "a second fetch: one updated, the rest up to date" \
  "3 branches of this project nearby: 0 new, 1 updated, 2 up to date" "$out"
check_eq "alice's ref follows" "$(rev "$T/alice/srv/webapp" main)" "$(git -C "$T/bob/webapp" rev-parse refs/remotes/nearby/Alice/webapp/main)"
(cd "$T/carol/srv/webapp" && on carol git nearby unadvertise carol/webapp-dark-2 >/dev/null)
check "carol's branch is withdrawn" wait_until 10 invisible_on bob carol/webapp-dark-2
out=$(cd "$T/bob/webapp" && on bob git nearby fetch --prune 2>&1)
check_contains "--prune drops the branch that is gone" "Pruned refs/remotes/nearby/Carol/carol/webapp-dark-2" "$out"
check_contains "and counts it" "2 branches of this project nearby: 0 new, 0 updated, 2 up to date; 1 pruned" "$out"
check "the ref is gone" eval "! git -C '$T/bob/webapp' rev-parse -q --verify refs/remotes/nearby/Carol/carol/webapp-dark-2"
out=$(on bob git nearby fetch 2>&1); rc=$?
check_eq "outside a repository it says where to run it" \
  "1:git nearby: not in a repository with commits; run git nearby fetch inside the project" "$rc:$out"
done_testing
