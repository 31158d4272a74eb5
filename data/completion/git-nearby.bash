# bash completion for git nearby (git's completion calls _git_nearby).

_git_nearby ()
{
	local subcommands="serve advertise unadvertise status browse resolve fetch id"
	local subcommand
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
	advertise,*|unadvertise,*)
		case "$prev" in
		--branch|-b) __gitcomp_nl "$(__git_heads)" ;;
		esac ;;
	browse,--*)
		__gitcomp "--json --watch --project --timeout= --help" ;;
	resolve,--*)
		__gitcomp "--timeout= --help" ;;
	fetch,--*)
		__gitcomp "--prune --timeout= --help" ;;
	id,--*)
		__gitcomp "--help" ;;
	resolve,*)
		# Names nearby, when browsing is quick.
		__gitcomp_nl "$(git nearby browse --json --timeout 1 2>/dev/null | sed -n 's/.*"name": "\([^"]*\)".*/\1/p')" ;;
	esac
}
