#!/usr/bin/env bash
# complete-tab.sh SETUP WORD...: what bash offers when TAB is pressed after
# the command line WORD... (its last word is completed; "" for a new word),
# each offer between [ ], in a bash that read bash-completion as a shell
# does (the caller sets BASH_COMPLETION_COMPAT_DIR and XDG_DATA_DIRS to say
# where it finds our file). SETUP is shell code run after that. As bash
# calls a completion: COMP_WORDS split at ':' (git's completion keeps ':' in
# COMP_WORDBREAKS), the command's compspec, again after a 124.
. /usr/share/bash-completion/bash_completion
eval "$1"
shift
words=()
for p in "$@"; do
  [ -n "$p" ] || { words+=(""); continue; }
  while [[ $p == *:* ]]; do
    [ -n "${p%%:*}" ] && words+=("${p%%:*}")
    words+=(":"); p=${p#*:}
  done
  [ -n "$p" ] && words+=("$p")
done
COMP_WORDS=("${words[@]}"); COMP_CWORD=$((${#words[@]} - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9; COMP_KEY=9
for try in 1 2 3; do
  spec=$(complete -p "$1" 2>/dev/null || complete -p -D)
  func=${spec##*-F }; func=${func%% *}
  COMPREPLY=()
  "$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  [ $? -eq 124 ] || break
done
[ ${#COMPREPLY[@]} -eq 0 ] || printf "[%s]" "${COMPREPLY[@]}"
