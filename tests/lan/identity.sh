#!/usr/bin/env bash
# Branches that follow their owner (DESIGN.md §9): a nearby:// remote pins
# the key of the server it first used and from then on fetches from that
# key's server only — across address and port changes — and refuses, with
# nothing changed, when the owner is gone, when someone else claims the
# name, when the key changes, or when an impostor copies the owner's whole
# announcement. Four hosts with real avahi-daemons; real git, curl and TLS.
. "$(dirname "$0")/lib.sh"

host_add alice 1 && host_add bob 2 && host_add carol 3 && host_add mallory 4 \
  || { not_ok "hosts come up"; done_testing; exit 1; }
for h in alice bob carol mallory; do
  avahi_start $h || { not_ok "avahi-daemon starts on $h"; done_testing; exit 1; }
done
ok "four hosts with their own avahi-daemon, buses and home"

# Alice and Carol work on the same project (Carol cloned it), so both
# advertise the default name webapp/fix-login.
mkdir -p "$T/alice/srv" "$T/carol/srv" "$T/mallory/srv" "$T/bob"
make_repo "$T/alice/srv/webapp"
git -C "$T/alice/srv/webapp" checkout -q -b fix-login
echo fixed > "$T/alice/srv/webapp/login.txt"
git -C "$T/alice/srv/webapp" add login.txt && git -C "$T/alice/srv/webapp" commit -q -m "Fix the login form"
git clone -q "$T/alice/srv/webapp" "$T/carol/srv/webapp"
git -C "$T/carol/srv/webapp" checkout -q fix-login
echo "carol was here" > "$T/carol/srv/webapp/carol.txt"
git -C "$T/carol/srv/webapp" add carol.txt && git -C "$T/carol/srv/webapp" commit -q -m "Carol's experiment"
(cd "$T/alice/srv/webapp" && on alice git nearby advertise >/dev/null)

serve_on alice || { not_ok "alice's server starts"; done_testing; exit 1; }
APORT=$(cat "$T/alice.port")
check "alice's identity file is 0600" test "$(stat -c %a "$T/home-alice/.config/git-nearby/identity.pem")" = 600
ALICE=$(pin_seen_from bob 10.77.0.1 "$APORT")
check "alice's server speaks TLS on its one port" test -n "$ALICE"
ACODE=$(short_code "$ALICE")
check "bob's browse lists alice's branch with her key" wait_until 5 visible_on bob webapp/fix-login "\"key\": \"$ALICE\""
line=$(browse_on bob | grep -F '"name": "webapp/fix-login"')
check_contains "and her owner name" '"owner": "Alice"' "$line"
table=$(on bob git nearby browse)
check_contains "the table has OWNER and KEY columns" "OWNER" "$table"
check_contains "with alice's short code" "$ACODE" "$table"
id=$(on alice git nearby id 2>&1)
check_contains "git nearby id shows alice's key" "$ALICE" "$id"
check_contains "and its short code" "$ACODE" "$id"

# First contact: bob clones and is pinned to the key he first used.
check "bob clones nearby://webapp/fix-login" on bob git clone -q nearby://webapp/fix-login "$T/bob/webapp"
check "and gets alice's branch" same_history "$T/bob/webapp" "$T/alice/srv/webapp" fix-login
check_eq "the remote is pinned to alice's key" "$ALICE" "$(git -C "$T/bob/webapp" config remote.origin.nearbykey)"
check_eq "and remembers her name" "Alice" "$(git -C "$T/bob/webapp" config remote.origin.nearbyowner)"
check_eq "the remote stays nearby://" "nearby://webapp/fix-login" "$(git -C "$T/bob/webapp" remote get-url origin)"
trace=$(cd "$T/bob/webapp" && on bob env GIT_TRACE_CURL=1 git fetch -q 2>&1)
check_contains "fetches run over TLS" "SSL connection using TLS" "$trace"
check_contains "and curl checks alice's key" "public key hash: $ALICE" "$trace"
table=$(cd "$T/bob/webapp" && on bob git nearby browse)
check_contains "browse in bob's clone marks the service origin is pinned to" "origin" "$(printf '%s\n' "$table" | grep -F webapp/fix-login)"
line=$(cd "$T/bob/webapp" && browse_on bob | grep -F '"name": "webapp/fix-login"')
check_contains "in JSON too" '"pinned": ["origin"]' "$line"

# snapshot DIR: everything a fetch or pull could change.
snapshot () {
  git -C "$1" for-each-ref --format='%(refname) %(objectname)'
  git -C "$1" rev-parse HEAD
  git -C "$1" status --porcelain --untracked-files=all
  git -C "$1" config --local --list
  git -C "$1" count-objects -v | grep -v size
}

# The hijack: alice leaves, carol advertises the same name.
stop_server_on alice
(cd "$T/carol/srv/webapp" && on carol git nearby advertise >/dev/null)
serve_on carol || { not_ok "carol's server starts"; done_testing; exit 1; }
CPORT=$(cat "$T/carol.port")
CAROL=$(pin_seen_from bob 10.77.0.3 "$CPORT")
CCODE=$(short_code "$CAROL")
check "carol has a key of her own" test -n "$CAROL" -a "$CAROL" != "$ALICE"
check "bob sees carol's webapp/fix-login" wait_until 5 visible_on bob webapp/fix-login "\"key\": \"$CAROL\""
wait_until 5 invisible_on bob webapp/fix-login '"owner": "Alice"'
before=$(snapshot "$T/bob/webapp")
out=$(cd "$T/bob/webapp" && on bob git pull 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
check_exit "bob's pull fails: the pinned owner is not on the network" nonzero $rc "not on the network" "$out"
check_contains "the message names alice and her key" "Alice (key $ACODE)" "$out"
check_eq "bob's HEAD, refs, tree and config are unchanged" "$before" "$(snapshot "$T/bob/webapp")"
check "carol's commit is nowhere in bob's clone" test -z "$(git -C "$T/bob/webapp" rev-list --all | grep -F "$(rev "$T/carol/srv/webapp" fix-login)")"

# Both advertise it: the pinned clone keeps fetching from alice.
serve_on alice || { not_ok "alice's server starts again"; done_testing; exit 1; }
APORT=$(cat "$T/alice.port")
check_eq "alice's server comes back with the same key" "$ALICE" "$(pin_seen_from bob 10.77.0.1 "$APORT")"
echo more > "$T/alice/srv/webapp/login.txt"
git -C "$T/alice/srv/webapp" commit -qam "Check the password too"
check "bob sees both" wait_until 5 visible_on bob webapp/fix-login "\"head\": \"$(rev "$T/alice/srv/webapp" fix-login)\""
check "bob's pinned pull works with both there" on bob git -C "$T/bob/webapp" pull -q --ff-only
check_eq "and brings alice's new commit" "$(rev "$T/alice/srv/webapp" fix-login)" "$(rev "$T/bob/webapp" HEAD)"
out=$(on bob git clone nearby://webapp/fix-login "$T/bob/fresh" 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
check_exit "a fresh clone without an owner fails" 128 $rc "advertised by 2 servers" "$out"
check_contains "listing alice with her key" "nearby://webapp/fix-login@$ACODE (Alice on alice" "$out"
check_contains "and carol with hers" "nearby://webapp/fix-login@$CCODE (Carol on carol" "$out"
check_contains "with each head's subject" '"Carol'"'"'s experiment"' "$out"
check "and clones nothing" test ! -e "$T/bob/fresh"
check "nearby://NAME@OWNER picks carol" on bob git clone -q nearby://webapp/fix-login@Carol "$T/bob/carol"
check_eq "and pins carol's key" "$CAROL" "$(git -C "$T/bob/carol" config remote.origin.nearbykey)"
check "nearby://NAME@SHORTCODE picks alice" on bob git clone -q "nearby://webapp/fix-login@$ACODE" "$T/bob/bycode"
check_eq "and pins alice's key" "$ALICE" "$(git -C "$T/bob/bycode" config remote.origin.nearbykey)"
check "nearby://NAME@KEY (URL form) picks alice" on bob git clone -q "nearby://webapp/fix-login@$(url_form "$ALICE")" "$T/bob/bykey"
check "the clones have each owner's branch" same_history "$T/bob/carol" "$T/carol/srv/webapp" fix-login
git -C "$T/bob/webapp" remote add carol nearby://webapp/fix-login@carol
check "git remote add + fetch pins that remote at its first use" on bob git -C "$T/bob/webapp" fetch -q carol
check_eq "to carol's key" "$CAROL" "$(git -C "$T/bob/webapp" config remote.carol.nearbykey)"
stop_server_on carol

# Alice moves: a new address and, after a restart, a new port. bob's
# remote follows her key.
stop_server_on alice
ip -n "$LAN-alice" addr del 10.77.0.1/24 dev eth0
ip -n "$LAN-alice" addr add 10.77.0.11/24 dev eth0
serve_on alice || { not_ok "alice's server starts on her new address"; done_testing; exit 1; }
APORT=$(cat "$T/alice.port")
echo again > "$T/alice/srv/webapp/login.txt"
git -C "$T/alice/srv/webapp" commit -qam "Remember the user"
check "bob sees alice at her new address" wait_until 10 visible_on bob webapp/fix-login '"address": "10.77.0.11"'
check "bob's pull still works" on bob git -C "$T/bob/webapp" pull -q --ff-only
check_eq "from alice" "$(rev "$T/alice/srv/webapp" fix-login)" "$(rev "$T/bob/webapp" HEAD)"

# The no-mDNS form: with bob's avahi-daemon off, the pasteable line from
# alice's `git nearby id` clones.
id=$(on alice git nearby id 2>&1)
direct=$(printf '%s\n' "$id" | grep -o "nearby://[^ ]*@10.77.0.11:$APORT/webapp/fix-login" | head -n 1)
check_eq "git nearby id prints the no-mDNS line for alice's new address" \
  "nearby://$(url_form "$ALICE")@10.77.0.11:$APORT/webapp/fix-login" "$direct"
avahi_stop bob
check "with mDNS off, the direct form clones" on bob git clone -q "$direct" "$T/bob/direct"
check "alice's branch" same_history "$T/bob/direct" "$T/alice/srv/webapp" fix-login
wrong="nearby://$(url_form "$CAROL")@10.77.0.11:$APORT/webapp/fix-login"
out=$(on bob git clone "$wrong" "$T/bob/wrong" 2>&1); rc=$?
check_exit "the direct form with another key fails in the handshake" 128 $rc "pinned public key" "$out"
check "and leaves nothing" test ! -e "$T/bob/wrong"
check "plain git clone http:// still works" on bob git clone -q "http://10.77.0.11:$APORT/webapp/fix-login" "$T/bob/plain"
avahi_start bob

# The key changes (alice reinstalled; or someone calling themselves Alice):
# refused like ssh refuses a changed host key, with the command to re-pin.
stop_server_on alice
mv "$T/home-alice/.config/git-nearby/identity.pem" "$T/alice-old.pem"
serve_on alice || { not_ok "alice's server starts with a new key"; done_testing; exit 1; }
APORT=$(cat "$T/alice.port")
NEW=$(pin_seen_from bob 10.77.0.11 "$APORT")
NCODE=$(short_code "$NEW")
check "alice has a new key" test -n "$NEW" -a "$NEW" != "$ALICE"
check "bob sees it" wait_until 5 visible_on bob webapp/fix-login "\"key\": \"$NEW\""
before=$(snapshot "$T/bob/webapp")
out=$(cd "$T/bob/webapp" && on bob git fetch 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
check_exit "bob's fetch refuses the changed key" nonzero $rc "has changed" "$out"
check_contains "naming both short codes" "$ACODE" "$out"
check_contains "the new one too" "$NCODE" "$out"
check_contains "and the command that re-pins it" "git config remote.origin.nearbykey '$NEW'" "$out"
check_eq "nothing in bob's clone changed" "$before" "$(snapshot "$T/bob/webapp")"
git -C "$T/bob/webapp" config remote.origin.nearbykey "$NEW"
check "after re-pinning, the fetch works" on bob git -C "$T/bob/webapp" fetch -q
stop_server_on alice
mv "$T/alice-old.pem" "$T/home-alice/.config/git-nearby/identity.pem"
git -C "$T/bob/webapp" config remote.origin.nearbykey "$ALICE"

# The impostor: mallory serves her own webapp/fix-login and announces it
# with alice's whole TXT record, key included. curl refuses the handshake.
make_repo "$T/mallory/srv/webapp"
git -C "$T/mallory/srv/webapp" checkout -q -b fix-login
(cd "$T/mallory/srv/webapp" && on mallory git nearby advertise >/dev/null)
serve_on mallory --no-publish || { not_ok "mallory's server starts"; done_testing; exit 1; }
MPORT=$(cat "$T/mallory.port")
mapfile -t txt < <(python3 - "$ALICE" "$(rev "$T/alice/srv/webapp" fix-login)" "$(rev "$T/alice/srv/webapp" main~2)" <<'PY'
import sys
key, head, root = sys.argv[1:]
for s in ["txtvers=1", "name=webapp/fix-login", "path=/webapp/fix-login", "ref=refs/heads/fix-login",
          "key=" + key, "head=" + head, "repo=" + root, "owner=Alice", "subject=Remember the user"]:
    print(s)
PY
)
# Under a host name that sorts before alice's, so that a resolver taking
# the first of two records with the key would take mallory's.
on mallory avahi-publish -a -R a.local 10.77.0.4 >/dev/null 2>&1 &
PUBLISH_A=$!
on mallory avahi-publish -s "webapp/fix-login on alice" -H a.local _git-http._tcp "$MPORT" "${txt[@]}" >/dev/null 2>&1 &
PUBLISH=$!
check "bob sees mallory's copy of alice's record" wait_until 10 visible_on bob webapp/fix-login '"address": "10.77.0.4"'
before=$(snapshot "$T/bob/webapp")
out=$(cd "$T/bob/webapp" && on bob git fetch 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
# The helper's own handshake finds the key is not there (curl would refuse
# too: the direct form above shows it does).
check_exit "bob's pinned fetch fails in the TLS handshake" 128 $rc "announces key $ACODE but does not hold it" "$out"
check_eq "nothing in bob's clone changed" "$before" "$(snapshot "$T/bob/webapp")"
out=$(on bob git clone nearby://webapp/fix-login "$T/bob/impostor" 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
check_exit "a fresh clone is refused before pinning: the server does not hold the key" 128 $rc \
  "announces key $ACODE but does not hold it" "$out"
check "and leaves nothing" test ! -e "$T/bob/impostor"
git -C "$T/bob/webapp" remote add copy nearby://webapp/fix-login
before=$(snapshot "$T/bob/webapp")
out=$(cd "$T/bob/webapp" && on bob git fetch copy 2>&1); rc=$?
check_exit "a first fetch of a new remote is refused the same way" 128 $rc "does not hold it" "$out"
check_eq "and pins nothing: the config is as it was" "$before" "$(snapshot "$T/bob/webapp")"

# Alice comes back while the copy is still announced, first in order.
serve_on alice || { not_ok "alice's server starts again"; done_testing; exit 1; }
check "bob sees alice and the copy" wait_until 10 eval '[ "$(browse_on bob | grep -c "\"key\": \"$ALICE\"")" = 2 ]'
echo back > "$T/alice/srv/webapp/login.txt"
git -C "$T/alice/srv/webapp" commit -qam "Back again"
check "bob sees alice's new head" wait_until 10 visible_on bob webapp/fix-login "\"head\": \"$(rev "$T/alice/srv/webapp" fix-login)\""
check "bob's pinned pull works: the copy does not hold the key" on bob git -C "$T/bob/webapp" pull -q --ff-only
check_eq "and it is alice's branch" "$(rev "$T/alice/srv/webapp" fix-login)" "$(rev "$T/bob/webapp" HEAD)"
kill "$PUBLISH" "$PUBLISH_A" 2>/dev/null; wait "$PUBLISH" "$PUBLISH_A" 2>/dev/null

check "mallory's server is still running" kill -0 "$(server_pid_on mallory)"
done_testing
