#!/usr/bin/env bash
# Where the server looks for repositories: bounded depth, no symbolic links,
# no hidden directories, not inside a working tree unless --nested.
. "$(dirname "$0")/lib.sh"

S="$T/srv"
adv () { make_repo "$1"; (cd "$1" && git nearby advertise "$2" >/dev/null); }
adv "$S/top" top
adv "$S/a/b/three" three               # 3 levels down: the default limit
adv "$S/a/b/c/four" four               # 4 levels down: too deep by default
adv "$S/.hidden/inside" hidden         # under a hidden directory
adv "$T/outside" linked                # reached only through a symbolic link
ln -s "$T/outside" "$S/link"
adv "$S/top/vendor/nested" nested      # inside top's working tree
echo "vendor/" > "$S/top/.git/info/exclude"

start_server "$S" || { not_ok "server starts"; done_testing; exit 1; }
names=$(served_names | sort | tr '\n' ' ')
check_eq "by default: the top repository and the one 3 levels down" "three top " "$names"
check_contains "the log lists each served name" "serving 'three' (branch main of $S/a/b/three/.git)" "$(cat "$T/server.log")"
stop_server

start_server --max-depth 4 --nested "$S" || { not_ok "server starts"; done_testing; exit 1; }
names=$(served_names | sort | tr '\n' ' ')
check_eq "--max-depth 4 --nested: also four and the nested one, never hidden or linked" "four nested three top " "$names"
stop_server

start_server "$S/top" "$S/a/b/three" || { not_ok "server starts"; done_testing; exit 1; }
check_eq "several DIRs, each a repository itself" "three top " "$(served_names | sort | tr '\n' ' ')"
stop_server

start_server "$T/outside" || { not_ok "server starts"; done_testing; exit 1; }
check_eq "a DIR given by the user is served even when linked to" "linked" "$(served_names)"
stop_server

# A DIR that is not there fails at once, before anything is bound.
rm -f "$T/port-missing"
out=$(timeout 10 git-nearby serve --port 0 --port-file "$T/port-missing" --no-publish "$S/top" "$T/nonexistent" 2>&1); rc=$?
check_eq "a DIR that does not exist: exit 1, one line" "1:git nearby serve: cannot serve '$T/nonexistent': no such directory" "$rc:$out"
check "and nothing was bound" test ! -e "$T/port-missing"
out=$(timeout 10 git-nearby serve --port 0 --no-publish "$S/top/file.txt" 2>&1); rc=$?
check_eq "a DIR that is a file: exit 1, one line" "1:git nearby serve: cannot serve '$S/top/file.txt': not a directory" "$rc:$out"
out=$(timeout 10 git nearby serve --port 0 --no-publish "$T/nonexistent" 2>&1); rc=$?
check_eq "the same through git nearby" "1:git nearby serve: cannot serve '$T/nonexistent': no such directory" "$rc:$out"

# What serve prints people can use: never 0.0.0.0 or [::]; with --bind, what is bound.
start_server "$S/top" || { not_ok "server starts"; done_testing; exit 1; }
check_contains "serve prints the address it is bound to" "git nearby serve:   http://127.0.0.1:$(cat "$T/port")/ (this machine only)" "$(cat "$T/server.log")"
check_not_contains "and no unspecified address" "0.0.0.0" "$(cat "$T/server.log")"
stop_server
out=$(git-nearby serve --port 70000 2>&1); rc=$?
check_eq "a bad port is a one-line error" "1:git nearby serve: --port 70000: not a port number" "$rc:$out"
out=$(git-nearby serve --bind nonsense --port 0 2>&1); rc=$?
check_exit "a bad --bind is a one-line error" 1 "$rc" "git nearby serve: --bind nonsense: not an IP address" "$out"
out=$(git-nearby serve --bogus 2>&1); rc=$?
check_eq "an unknown option is a one-line error" "1:git nearby serve: Unknown option --bogus" "$rc:$out"

# Two servers cannot share a port; the second says so and how to avoid it.
start_server "$S/top" || { not_ok "server starts"; done_testing; exit 1; }
port=$(cat "$T/port")
out=$(git-nearby serve --bind 127.0.0.1 --port "$port" --no-publish "$S/top" 2>&1); rc=$?
check_exit "a port in use is a one-line error" 1 "$rc" "git nearby serve: cannot listen on 127.0.0.1 port $port:" "$out"
check "the first server is unaffected" server_alive
stop_server

# --from-config (the systemd user unit): the directories of nearby.serve.
out=$(git-nearby serve --from-config --port 0 2>&1); rc=$?
check_eq "--from-config without nearby.serve says how to set it" \
  "1:git nearby serve: --from-config: nearby.serve is not set; add the directories to serve with: git config --global --add nearby.serve ~/src" "$rc:$out"
mkdir -p "$HOME/code"
adv "$HOME/code/mine" mine
git config --global --add nearby.serve "$S/a/b"
git config --global --add nearby.serve "~/code"
start_server --from-config || { not_ok "server starts from its config"; done_testing; exit 1; }
check_eq "--from-config serves every nearby.serve directory, ~ expanded" "four mine three " \
  "$(served_names | sort | tr '\n' ' ')"
stop_server
out=$(git-nearby serve --from-config --port 0 "$S/top" 2>&1); rc=$?
check_eq "not both" "1:git nearby serve: give DIR or --from-config, not both" "$rc:$out"
git config --global --add nearby.serve "$T/nowhere"
out=$(git-nearby serve --from-config --port 0 2>&1); rc=$?
check_eq "a configured directory that is missing fails as a DIR would" \
  "1:git nearby serve: cannot serve '$T/nowhere': no such directory" "$rc:$out"
git config --global --unset-all nearby.serve
done_testing
