# The lan suite: simulated hosts on one machine (DESIGN.md §7). Each host is
# a network namespace on a private bridge (itself in a namespace of its own,
# so this machine's own network is never touched), with its own /run, system
# bus, session bus and avahi-daemon. Nothing here ever runs an mDNS responder
# in this machine's own network namespace. Every wait is bounded; cleanup
# removes every namespace and process the test made.

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "Bail out! the lan suite needs root: it makes network namespaces (run ./run test as root)"
  exit 1
fi
for tool in ip unshare nsenter avahi-daemon dbus-daemon; do
  command -v "$tool" >/dev/null || { echo "Bail out! the lan suite needs $tool"; exit 1; }
done

# Outside any repository (the build directory may be inside this one's
# checkout), so that browse has no project of its own unless a test cd's
# into one.
cd "$T" || exit 1

LAN="nb$$"
HOSTS=""
declare -A HOSTPID

lan_cleanup () {
  local h pid
  for h in $HOSTS; do
    for pid in $(ip netns pids "$LAN-$h" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  done
  sleep 0.2
  for h in $HOSTS; do
    for pid in $(ip netns pids "$LAN-$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$LAN-$h" 2>/dev/null
  done
  ip netns del "$LAN-lan" 2>/dev/null
  cleanup
}
trap lan_cleanup EXIT

cat > "$T/system-bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
XML

ip netns add "$LAN-lan" || { echo "Bail out! cannot make network namespaces"; exit 1; }
ip -n "$LAN-lan" link add br0 type bridge
ip -n "$LAN-lan" link set br0 type bridge mcast_snooping 0
ip -n "$LAN-lan" link set br0 up

# host_add NAME NUMBER [ipv6-only]: a host on the LAN, 10.77.0.NUMBER. Each
# host has a home of its own, so its server makes a key of its own; its
# owner is NAME capitalised ("alice" is Alice), or $OWNER.
host_add () {
  local h=$1 n=$2 mode=${3:-}
  local ns="$LAN-$h"
  HOSTS="$HOSTS $h"
  mkdir -p "$T/home-$h"
  cp "$HOME/.gitconfig" "$T/home-$h/.gitconfig"
  git config --file "$T/home-$h/.gitconfig" nearby.owner "${OWNER:-${h^}}"
  ip netns add "$ns"
  ip -n "$LAN-lan" link add "v$h" type veth peer name eth0 netns "$ns"
  ip -n "$LAN-lan" link set "v$h" master br0 up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  [ "$mode" = ipv6-only ] || ip -n "$ns" addr add "10.77.0.$n/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  cat > "$T/avahi-$h.conf" <<CONF
[server]
host-name=$h
use-ipv4=$([ "$mode" = ipv6-only ] && echo no || echo yes)
use-ipv6=yes
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no
CONF
  ip netns exec "$ns" unshare --mount --uts --propagation private sh -c "
    mount -t tmpfs tmpfs /run && mkdir -p /run/dbus /run/avahi-daemon && hostname $h &&
    dbus-daemon --config-file='$T/system-bus.conf' --fork --nopidfile &&
    dbus-daemon --session --address=unix:path=/run/session-bus --fork --nopidfile &&
    exec sleep 86400" &
  HOSTPID[$h]=$!
  local i
  for i in $(seq 1 50); do
    on "$h" test -S /run/dbus/system_bus_socket && on "$h" test -S /run/session-bus && return 0
    sleep 0.1
  done
  echo "# host $h did not come up"
  return 1
}

# on HOST COMMAND...: runs COMMAND inside HOST (its network, /run and buses).
on () {
  local h=$1; shift
  nsenter -t "${HOSTPID[$h]}" -n -m -u --wd="$PWD" env DBUS_SESSION_BUS_ADDRESS=unix:path=/run/session-bus \
    HOME="$T/home-$h" XDG_CONFIG_HOME="$T/home-$h/.config" XDG_CACHE_HOME="$T/home-$h/.cache" \
    XDG_DATA_HOME="$T/home-$h/.local/share" "$@"
}

avahi_start () {
  on "$1" avahi-daemon -f "$T/avahi-$1.conf" --no-drop-root --no-chroot -D >/dev/null 2>&1
  local i
  for i in $(seq 1 50); do
    on "$1" avahi-daemon --check 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# avahi-daemon did not start on $1"
  return 1
}

avahi_stop () {
  on "$1" avahi-daemon --kill >/dev/null 2>&1
  local i
  for i in $(seq 1 50); do
    on "$1" avahi-daemon --check 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# serve_on HOST [ARGS...]: git nearby serve in HOST's $T/HOST/srv, log in $T/HOST.log.
declare -A SERVEPID
serve_on () {
  local h=$1; shift
  rm -f "$T/$h.port"
  on "$h" git-nearby serve --port 0 --port-file "$T/$h.port" -v "$@" "$T/$h/srv" > "$T/$h.log" 2>&1 &
  SERVEPID[$h]=$!
  local i
  for i in $(seq 1 100); do
    [ -s "$T/$h.port" ] && return 0
    sleep 0.1
  done
  echo "# server on $h did not start:"; sed 's/^/#   /' "$T/$h.log"
  return 1
}

# The pid of HOST's server process (not the subshell that started it).
server_pid_on () { pgrep -f -n "git-nearby-serve --port 0 --port-file $T/$1.port"; }

stop_server_on () {
  local pid; pid=$(server_pid_on "$1")
  [ -n "$pid" ] && kill "$pid"
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "${SERVEPID[$1]}" 2>/dev/null; return 0; }
    sleep 0.1
  done
  return 1
}

# browse_on HOST: the JSON browse from HOST, one object per line.
browse_on () { on "$1" git nearby browse --json --timeout 5 | grep '"name"' | sed 's/^ *//; s/,$//'; }

# visible_on HOST NAME [TEXT]: HOST's browse lists NAME (with TEXT on its line).
visible_on () { browse_on "$1" | grep -F "\"name\": \"$2\"" | grep -qF -- "${3:-}"; }
invisible_on () { ! browse_on "$1" | grep -qF "\"name\": \"$2\""; }

# wait_until SECONDS COMMAND...: bounded retry.
wait_until () {
  local limit=$1; shift
  local end=$(( $(date +%s%N) + limit * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

ms_now () { echo $(( $(date +%s%N) / 1000000 )); }

# pin_seen_from HOST ADDRESS PORT: the pin of the key the server at
# ADDRESS:PORT shows in its TLS handshake, as openssl computes it from
# HOST: what git would have to be pinned to.
pin_seen_from () {
  local b64
  b64=$(on "$1" timeout 5 openssl s_client -connect "$2:$3" </dev/null 2>/dev/null \
    | openssl x509 -pubkey -noout 2>/dev/null | openssl pkey -pubin -outform der 2>/dev/null \
    | openssl dgst -sha256 -binary | base64)
  [ "$b64" = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" ] && return 1 # sha256 of nothing
  echo "sha256//$b64"
}

# short_code PIN: the short code people read aloud, computed here by hand
# (Crockford's base32 of the first 40 bits) to check the tools' own.
short_code () {
  python3 -c 'import base64,sys
d = base64.b64decode(sys.argv[1][8:]); b = int.from_bytes(d[:5], "big")
a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; s = "".join(a[(b >> (35 - 5 * i)) & 31] for i in range(8))
print(s[:4] + "-" + s[4:])' "$1"
}

# url_form PIN: the key as it is written in nearby:// URLs (base64url).
url_form () { python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(base64.b64decode(sys.argv[1][8:])).decode().rstrip("="))' "$1"; }
