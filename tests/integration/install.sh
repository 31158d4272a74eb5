#!/usr/bin/env bash
# `meson install` puts everything where git finds it, and the installed
# git-nearby works: staged into a DESTDIR, run from there.
. "$(dirname "$0")/lib.sh"

meson install -C "$NEARBY_BUILD_DIR" --no-rebuild --destdir "$T/dest" > "$T/install.log" 2>&1
check_eq "meson install succeeds" "0" "$?"
bin=$(find "$T/dest" -path '*/bin/git-nearby' -type f | head -n 1)
check "git-nearby is installed in a bin directory" test -x "$bin"
prefix=$(dirname "$(dirname "$bin")")
check "the server is installed in libexec/git-nearby" test -x "$prefix/libexec/git-nearby/git-nearby-serve"
check "the man page is installed" test -f "$prefix/share/man/man1/git-nearby.1"
check "the page style is installed" test -f "$prefix/share/git-nearby/style.css"
check "git-remote-nearby is installed beside git-nearby" test -x "$prefix/bin/git-remote-nearby"
check "its man page too" test -f "$prefix/share/man/man1/git-remote-nearby.1"
check "the D-Bus interface is installed" test -f "$prefix/share/dbus-1/interfaces/org.gitnearby.Server1.xml"
unit="$prefix/lib/systemd/user/git-nearby.service"
check "the systemd user unit is installed" test -f "$unit"
check_contains "it runs the installed git-nearby with the configured directories" \
  "ExecStart=${prefix#"$T/dest"}/bin/git-nearby serve --from-config" "$(cat "$unit")"
if command -v systemd-analyze >/dev/null; then
  # Verified as installed, its command pointed at the staged copy; any
  # warning (an unknown key, say) fails it.
  sed "s|^ExecStart=[^ ]*|ExecStart=$prefix/bin/git-nearby|" "$unit" > "$T/git-nearby.service"
  out=$(systemd-analyze --man=no verify "$T/git-nearby.service" 2>&1); rc=$?
  check_eq "systemd-analyze verify passes it, silently" "0:" "$rc:$out"
else
  not_ok "systemd-analyze is not installed here: the unit cannot be verified (apt-get install systemd)"
fi
comp="$prefix/share/bash-completion/completions/git-nearby"
check "bash completion is installed where git's completion loads it" test -f "$comp"
complete_words () { # complete_words WORD...: what git's completion offers for the last word
  bash -c 'source /usr/share/bash-completion/completions/git; source "$1"; shift
    _filedir () { :; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    __git_wrap__git_main; echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
check_eq "git nearby <TAB> completes subcommands" "advertise" "$(complete_words git nearby adv | xargs)"
check_eq "git nearby browse --<TAB> completes its options" "--json --watch --project --timeout= --names --help" "$(complete_words git nearby browse -- | xargs)"
# git clone nearby://<TAB>: git's completion never loads completions/git-nearby
# for clone, so the same file goes where bash-completion reads files at start.
compat=$(find "$T/dest" -path '*/bash_completion.d/git-nearby' -type f | head -n 1)
check "the completion is also installed in a bash_completion.d" test -n "$compat"
check "the same file" cmp "$comp" "$compat"
if [ "$prefix" = "$T/dest/usr" ]; then
  check_eq "with the prefix /usr, in /etc/bash_completion.d, which bash-completion reads at start" \
    "$T/dest/etc/bash_completion.d/git-nearby" "$compat"
fi
if [ -r /usr/share/bash-completion/bash_completion ]; then
  mkdir -p "$XDG_RUNTIME_DIR/git-nearby" && chmod 700 "$XDG_RUNTIME_DIR/git-nearby"
  printf 'myproj/fix-login\nmyproj/fix-login\n' > "$XDG_RUNTIME_DIR/git-nearby/names"
  chmod 600 "$XDG_RUNTIME_DIR/git-nearby/names"
  # bash-completion started as a shell does, reading the installed
  # directory at start; then one TAB.
  out=$(GIT_NEARBY_COMPLETE_CACHE=86400 BASH_COMPLETION_COMPAT_DIR="${compat%/*}" \
    XDG_DATA_DIRS="$prefix/share:/usr/share" \
    bash --norc --noprofile "$NEARBY_SOURCE_DIR/tests/complete-tab.sh" '' git clone nearby://my 2>&1)
  check_eq "installed, git clone nearby://my<TAB> completes a name seen twice once" \
    "[//myproj/fix-login ]" "$out"
else
  not_ok "bash-completion is not installed here: git clone nearby://<TAB> cannot be tried (apt-get install bash-completion)"
fi

export PATH="$(dirname "$bin"):${PATH#"$NEARBY_BUILD_DIR/client:"}"
check_eq "git finds the installed git-nearby" "$bin" "$(command -v git-nearby)"
check_contains "git nearby --version" "git-nearby 0.1.0" "$(git nearby --version)"
out=$(MANPATH="$prefix/share/man" MANPAGER=cat PAGER=cat git help -m nearby 2>&1)
check_contains "git help nearby shows the man page" "git-nearby - share git branches on the local network" "$out"

make_repo "$T/srv/proj"
(cd "$T/srv/proj" && git nearby advertise >/dev/null)
start_server "$T/srv" || { not_ok "the installed server starts"; done_testing; exit 1; }
ok "the installed server starts"
check "the installed server's pid is the installed binary" bash -c "readlink /proc/$SERVER_PID/exe | grep -q '^$prefix/libexec/git-nearby/git-nearby-serve'"
check "a branch clones from the installed server" git clone -q "$URL/proj/main" "$T/clone"
check "with exactly its history" same_history "$T/clone" "$T/srv/proj" main
done_testing
