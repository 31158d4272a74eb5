#!/usr/bin/env bash
# A host with only IPv6 link-local addresses: the URL carries the zone
# (%25<ifname>), and git clones through it, by URL and by name.
. "$(dirname "$0")/lib.sh"

host_add dana 4 ipv6-only && host_add bob 2 || { not_ok "hosts come up"; done_testing; exit 1; }
avahi_start dana && avahi_start bob || { not_ok "avahi-daemons start"; done_testing; exit 1; }
mkdir -p "$T/dana/srv"
make_repo "$T/dana/srv/v6proj"
(cd "$T/dana/srv/v6proj" && on dana git nearby advertise >/dev/null)
serve_on dana || { not_ok "dana's server starts"; done_testing; exit 1; }
PORT=$(cat "$T/dana.port")
addr=$(on dana ip -6 -o addr show dev eth0 scope link | awk '{print $4}' | cut -d/ -f1)

check "bob sees dana's branch" wait_until 8 visible_on bob v6proj/main
check_eq "at dana's link-local address, with the zone in the URL" \
  "http://[$addr%25eth0]:$PORT/v6proj/main" "$(on bob git nearby resolve v6proj/main)"
check "git clones that URL" on bob git clone -q "http://[$addr%25eth0]:$PORT/v6proj/main" "$T/bob/by-url"
check "and by name" on bob git clone -q nearby://v6proj/main "$T/bob/by-name"
check "with exactly the branch's history" same_history "$T/bob/by-name" "$T/dana/srv/v6proj" main
done_testing
