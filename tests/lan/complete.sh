#!/usr/bin/env bash
# Completion on a LAN: names that alice and carol both advertise are offered
# once, with everyone else's, sorted; a name that would run as shell code is
# advertised for real and never offered; a TAB in bob's bash completes
# git clone nearby://... from what bob's avahi-daemon sees.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 || { not_ok "hosts come up"; done_testing; exit 1; }
for h in alice bob carol; do avahi_start "$h" || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }; done
for h in alice carol; do
  mkdir -p "$T/$h/srv"
  make_repo "$T/$h/srv/shared"
  make_repo "$T/$h/srv/$h-proj"
  (cd "$T/$h/srv/shared" && on "$h" git nearby advertise >/dev/null)
  (cd "$T/$h/srv/$h-proj" && on "$h" git nearby advertise >/dev/null)
done
# Carol's third branch has a name that is valid, and shell code.
git -C "$T/carol/srv/shared" branch evil
(cd "$T/carol/srv/shared" && on carol git nearby advertise --branch evil 'x$(touch${IFS}pwned)' >/dev/null)
for h in alice carol; do serve_on "$h" || { not_ok "server starts on $h"; done_testing; exit 1; }; done
check "bob sees all five branches" wait_until 15 eval \
  '[ "$(browse_on bob | grep -c "\"name\"")" = 5 ]'
check_contains "the evil name is advertised, as it is" '"name": "x$(touch${IFS}pwned)"' "$(browse_on bob)"

# Each TAB of bob's browses (no cache: GIT_NEARBY_COMPLETE_CACHE=0), in a
# runtime directory of bob's own.
mkdir -p "$T/run-bob" && chmod 700 "$T/run-bob"
bob () { on bob env XDG_RUNTIME_DIR="$T/run-bob" GIT_NEARBY_COMPLETE_CACHE=0 "$@"; }
want=$'alice-proj/main\ncarol-proj/main\nshared/main'
out=$(bob git nearby browse --names --timeout 5 2>&1)
check_eq "browse --names: shared/main (on two hosts) once, sorted, the evil name left out" "$want" "$out"
check_eq "browse --names sh" "shared/main" "$(bob git nearby browse --names --timeout 5 sh 2>/dev/null)"
# The default browse is half a second: bob's avahi-daemon has it all by now.
check "in half a second too" wait_until 10 eval \
  '[ "$(bob git nearby browse --names 2>/dev/null)" = "$want" ]'
check_eq "a browse cut short for completion is no warning" "" \
  "$(bob git nearby browse --names --timeout 0.001 2>&1 >/dev/null)"

mkdir -p "$T/compat"
cp "$NEARBY_SOURCE_DIR/data/completion/git-nearby.bash" "$T/compat/git-nearby"
tab () {
  (cd "$T/run-bob" && bob env BASH_COMPLETION_COMPAT_DIR="$T/compat" \
    bash --norc --noprofile "$NEARBY_SOURCE_DIR/tests/complete-tab.sh" '' "$@")
}
check "bob's git clone nearby://<TAB> offers each name once" wait_until 10 eval \
  '[ "$(tab git clone nearby://)" = "[//alice-proj/main ][//carol-proj/main ][//shared/main ]" ]'
check_eq "git clone nearby://sh<TAB>" "[//shared/main ]" "$(tab git clone nearby://sh)"
check_eq "git clone nearby://shared/main@<TAB>: who advertises it" \
  "[//shared/main@alice ][//shared/main@carol ]" "$(tab git clone nearby://shared/main@)"
check_eq "git nearby resolve <TAB>" "[alice-proj/main ][carol-proj/main ][shared/main ]" \
  "$(tab git nearby resolve '')"
check "nothing ran on bob's side" test ! -e "$T/run-bob/pwned"
check "git clone of a completed name works" \
  on bob git clone -q nearby://carol-proj/main "$T/bob-clone"
check "and of a completed NAME@HOST" on bob git clone -q nearby://shared/main@carol "$T/bob-shared"
check "that is carol's" same_history "$T/bob-shared" "$T/carol/srv/shared" main
done_testing
