# bash completion for git nearby, and for nearby:// URLs after git clone,
# fetch, pull, ls-remote and remote add/set-url.
#
# git's completion calls _git_nearby for `git nearby`, and loads this file
# (installed as completions/git-nearby) for that only: never for `git clone`.
# So the same file is also installed in bash-completion's directory of files
# read at start (/etc/bash_completion.d): read there, it wraps git's
# __git_complete_command as soon as git's completion is loaded, loading it
# itself at the first `git <TAB>` if it is not yet. Read a second time (or
# after git's completion), it wraps nothing twice.
#
# Names come from anyone on the network, so they never reach compgen -W,
# which would run a "$(...)" found in one: `git nearby ... --names PREFIX`
# matches the prefix and prints only names that are plain words on a
# command line, and they go into COMPREPLY as they are.

# __git_nearby_reply SHOWN WORD COMMAND...: COMPREPLY is SHOWN followed by
# each name `git nearby COMMAND... --names WORD` prints (those starting
# with WORD), where $cur is SHOWN WORD.
__git_nearby_reply ()
{
	local shown=$1 word=$2 strip="" name
	shift 2
	COMPREPLY=()
	while IFS= read -r name; do
		COMPREPLY+=("$shown$name ")
	done < <(
		if declare -F __git >/dev/null; then
			__git nearby "$@" --names -- "$word"
		else
			git nearby "$@" --names -- "$word" 2>/dev/null
		fi)
	# bash replaces only what follows the last ':' of the word (when ':'
	# breaks words, as it does by default): offer only that part.
	if [[ $COMP_WORDBREAKS == *:* && $cur == *:* ]]; then
		strip=${cur%"${cur##*:}"}
		COMPREPLY=("${COMPREPLY[@]#"$strip"}")
	fi
}

# Completes $cur if it is a nearby:// URL in an argument of git command $1
# that takes one; fails otherwise, for git's own completion to go on.
__git_nearby_url ()
{
	case "$1" in
	clone|fetch|pull|ls-remote) ;;
	remote) [ -n "$(__git_find_on_cmdline "add set-url")" ] || return 1 ;;
	*) return 1 ;;
	esac
	case "$cur" in
	nearby://*) __git_nearby_reply nearby:// "${cur#nearby://}" browse ;;
	nearby:|nearby:/) __git_nearby_reply nearby:// "" browse ;;
	*) return 1 ;;
	esac
}

# Puts __git_nearby_url in front of git's __git_complete_command, once.
__git_nearby_wrap ()
{
	local def
	def=$(declare -f __git_complete_command) || return 1
	[[ $def == *__git_nearby_url* ]] && return 0
	eval "__git_nearby_git_complete_command ${def#__git_complete_command}"
	__git_complete_command ()
	{
		__git_nearby_url "$1" || __git_nearby_git_complete_command "$@"
	}
}

_git_nearby ()
{
	local subcommands="serve advertise unadvertise status browse resolve fetch id"
	local subcommand
	__git_nearby_wrap
	subcommand="$(__git_find_on_cmdline "$subcommands")"
	if [ -z "$subcommand" ]; then
		__gitcomp "$subcommands --help --version"
		return
	fi
	case "$subcommand,$cur" in
	serve,--*)
		__gitcomp "--port= --bind= --port-file= --no-publish --max-depth= --nested --cache-size= --max-jobs= --from-config --verbose --help" ;;
	serve,*)
		_filedir -d ;;
	advertise,--*|unadvertise,--*)
		__gitcomp "--branch= --help" ;;
	advertise,*)
		case "$prev" in
		--branch|-b) __gitcomp_nl "$(__git_heads)" ;;
		esac ;;
	unadvertise,*)
		case "$prev" in
		--branch|-b) __gitcomp_nl "$(__git_heads)" ;;
		*) __git_nearby_reply "" "$cur" status ;; # this repository's names
		esac ;;
	status,--*)
		__gitcomp "--names --help" ;;
	browse,--*)
		__gitcomp "--json --watch --project --timeout= --names --help" ;;
	resolve,--*)
		__gitcomp "--timeout= --help" ;;
	fetch,--*)
		__gitcomp "--prune --timeout= --help" ;;
	id,--*)
		__gitcomp "--help" ;;
	resolve,*)
		__git_nearby_reply "" "$cur" browse ;; # the names nearby, each once
	esac
}

if declare -F __git_complete_command >/dev/null; then
	__git_nearby_wrap
elif declare -F _completion_loader >/dev/null && ! complete -p git >/dev/null 2>&1; then
	# Read at start, before bash-completion has loaded git's completion
	# (which it does at the first `git <TAB>`): at that TAB, load it, wrap
	# it, and have bash try again with git's own (124).
	__git_nearby_load_git ()
	{
		complete -r git
		_completion_loader git
		__git_nearby_wrap
		return 124
	}
	complete -F __git_nearby_load_git git
fi
