#!/usr/bin/env bash
# The server's identity and TLS: a key made on first start and kept 0600,
# the same pin after a restart, real git over https pinned to it (v0 and
# v2), a wrong pin refused before any data, plain http on the same port, the
# export boundary over TLS, and one-line refusals for a key file others may
# read and for a config directory that cannot be written.
. "$(dirname "$0")/lib.sh"

R="$T/srv/proj"
make_repo "$R"
git -C "$R" checkout -q -b secret
echo "secret" > "$R/secret.txt"
git -C "$R" add secret.txt && git -C "$R" commit -q -m "private work"
git -C "$R" checkout -q main
(cd "$R" && git nearby advertise >/dev/null)
P_COMMIT=$(rev "$R" secret)
N=proj/main
ID="$XDG_CONFIG_HOME/git-nearby/identity.pem"
git config --global nearby.owner "Alice Example"

mode () { stat -c %a "$1"; }
# The pin of the certificate the server at PORT presents, computed by
# openssl alone.
openssl_pin () {
  echo "sha256//$(openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
    openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
}
# The key and owner are fields of each branch in the JSON list.
json_key () { wait_for is_served "$N"; curl -s "$URL/?format=json" | grep -o '"key": "[^"]*"' | cut -d'"' -f4 | sort -u; }
# pinned_git PIN GIT-ARGS...: git with the pin and sslVerify=false scoped to
# the https URL of this server, as git-remote-nearby hands them over.
pinned_git () {
  local pin=$1; shift
  git -c "http.$HTTPS/.sslVerify=false" -c "http.$HTTPS/.pinnedPubkey=$pin" "$@"
}

# The short code and URL form of a pin, computed here from their
# definitions (identity.h): the first 40 bits of the hash in Crockford's
# base32, and the hash in unpadded base64url.
short_code () {
  python3 -c 'import base64, sys
d = base64.b64decode(sys.argv[1][len("sha256//"):])
n = int.from_bytes(d[:5], "big")
a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
c = "".join(a[(n >> (35 - 5 * i)) & 31] for i in range(8))
print(c[:4] + "-" + c[4:])' "$1"
}
url_form () { printf '%s' "${1#sha256//}" | tr '+/' '-_' | tr -d '='; }

# --- the identity file ---
[ ! -e "$ID" ] || rm -f "$ID"
start_session_bus || { not_ok "a private session bus starts"; done_testing; exit 1; }
start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }
PORT=$(cat "$T/port")
HTTPS="https://127.0.0.1:$PORT"
check "the first start made $ID" test -f "$ID"
check_eq "mode 0600" 600 "$(mode "$ID")"
check_eq "in a 0700 directory" 700 "$(mode "$(dirname "$ID")")"
PIN=$(openssl_pin "$PORT")
check_contains "the TLS certificate's key (openssl) is a pin" "sha256//" "$PIN"
check_eq "the web page's JSON names that key" "$PIN" "$(json_key)"
check_eq "each branch in the JSON list carries it" "$(served_names | wc -l)" "$(curl -s "$URL/?format=json" | grep -c '"key": "sha256//')"
check "the JSON is still a list of branches, as before identities" python3 -c 'import json, sys, urllib.request
d = json.loads(urllib.request.urlopen(sys.argv[1] + "/?format=json").read())
assert isinstance(d, list) and d and all(b["key"] == sys.argv[2] for b in d), d' "$URL" "$PIN"
check_contains "the JSON names the owner (nearby.owner)" '"owner": "Alice Example"' "$(curl -s "$URL/?format=json")"
check "the log shows the key" grep -qF -- "$PIN" "$T/server.log"
check "and the owner" grep -q "owner Alice Example" "$T/server.log"

CODE=$(short_code "$PIN")
check "the log shows the short code" grep -qF -- "identity $CODE ($PIN)" "$T/server.log"

# --- where people see it: the pages and D-Bus ---
page=$(curl -s "$URL/")
check_contains "the index page shows the owner" '<strong class="owner">Alice Example</strong>' "$page"
check_contains "the key's short code" "key <code class=\"code\">$CODE</code>" "$page"
check_contains "the whole pin, to copy" "<code>$PIN</code>" "$page"
check_contains "and the nearby:// clone line pinned to the key" "git clone nearby://proj/main@$(url_form "$PIN") main" "$page"
page=$(curl -s "$URL/$N")
check_contains "the branch page shows the owner" '<strong class="owner">Alice Example</strong>' "$page"
check_contains "the short code" "$CODE" "$page"
check_contains "the pin" "$PIN" "$page"
check_contains "the nearby:// clone line" "<pre class=\"clone\">git clone nearby://proj/main@$(url_form "$PIN") main</pre>" "$page"
check_contains "and the plain one" "<pre>git clone $URL/$N</pre>" "$page"
check_eq "the TLS page is the same page" "$(curl -s "$URL/$N")" "$(curl -sk "https://127.0.0.1:$PORT/$N")"
has_name () { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.NameHasOwner org.gitnearby.Server1 | grep -q true; }
wait_for has_name
out=$(gdbus introspect --session --dest org.gitnearby.Server1 --object-path /org/gitnearby/Server1 --only-properties)
check_contains "D-Bus: Key is the pin" "readonly s Key = '$PIN';" "$out"
check_contains "D-Bus: Owner is the owner" "readonly s Owner = 'Alice Example';" "$out"
check_contains "D-Bus: Port is still there" "readonly q Port = $PORT;" "$out"

stop_server
start_server "$T/srv" || { not_ok "server restarts"; done_testing; exit 1; }
PORT=$(cat "$T/port")
HTTPS="https://127.0.0.1:$PORT"
check_eq "a restart presents the same key" "$PIN" "$(openssl_pin "$PORT")"
check_eq "and the same pin in its JSON" "$PIN" "$(json_key)"
check_eq "the file is still 0600" 600 "$(mode "$ID")"

# --- git over TLS, pinned ---
out=$(pinned_git "$PIN" clone "$HTTPS/$N" "$T/tls" 2>&1)
check_exit "git clone https://... pinned to the key works" 0 $? "" "$out"
git clone -q "$URL/$N" "$T/plain" 2>/dev/null
check "plain http on the same port still clones" test -d "$T/plain/.git"
check_eq "the TLS clone equals the plain one (HEAD)" "$(rev "$T/plain" HEAD)" "$(rev "$T/tls" HEAD)"
check_eq "(refs)" "$(git -C "$T/plain" for-each-ref --format='%(refname) %(objectname)')" \
  "$(git -C "$T/tls" for-each-ref --format='%(refname) %(objectname)' | sed "s|$HTTPS|$URL|")"
check "and its history is main's" same_history "$T/tls" "$R" main
check_eq "the TLS clone's remote is the https URL" "$HTTPS/$N" "$(git -C "$T/tls" config remote.origin.url)"

v0=$(grep -c "(v0, from 127.0.0.1)" "$T/server.log")
out=$(pinned_git "$PIN" -c protocol.version=0 clone "$HTTPS/$N" "$T/tls-v0" 2>&1)
check_exit "protocol v0 over TLS clones" 0 $? "" "$out"
check "and was v0" test "$(grep -c "(v0, from 127.0.0.1)" "$T/server.log")" -gt "$v0"
v2=$(grep -c "(v2, from 127.0.0.1)" "$T/server.log")
out=$(pinned_git "$PIN" -c protocol.version=2 clone "$HTTPS/$N" "$T/tls-v2" 2>&1)
check_exit "protocol v2 over TLS clones" 0 $? "" "$out"
check "and was v2" test "$(grep -c "(v2, from 127.0.0.1)" "$T/server.log")" -gt "$v2"
echo "line 4" >> "$R/file.txt" && git -C "$R" commit -qam "commit 4 on main"
out=$(pinned_git "$PIN" -C "$T/tls" pull -q 2>&1)
check_exit "a pull over TLS fetches the new commit" 0 $? "" "$out"
check_eq "(the new tip)" "$(rev "$R" main)" "$(rev "$T/tls" HEAD)"

out=$(curl -vsk --http2 -o /dev/null "$HTTPS/" 2>&1)
check_contains "offered h2 and http/1.1, the server picks http/1.1 (one request a connection)" "ALPN: server accepted http/1.1" "$out"

WRONG="sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
requests=$(grep -c "ref advertisement" "$T/server.log")
out=$(pinned_git "$WRONG" clone "$HTTPS/$N" "$T/wrong" 2>&1)
check_exit "a wrong pin fails in the handshake" 128 $? "does not match pinned public key" "$out"
check "and writes nothing" test ! -e "$T/wrong"
check_eq "no request reached the server" "$requests" "$(grep -c "ref advertisement" "$T/server.log")"
out=$(git clone "$HTTPS/$N" "$T/unpinned" 2>&1)
check_exit "without sslVerify=false the self-signed certificate is refused" 128 $? "certificate" "$out"

# --- the export boundary holds over TLS: the same checks, the same answers ---
post_tls () { # NAME PROTO < lines
  "$PKT" encode > "$T/req.bin"
  curl -s --insecure -o "$T/resp.bin" ${2:+-H "Git-Protocol: $2"} \
    -H 'Content-Type: application/x-git-upload-pack-request' \
    --data-binary @"$T/req.bin" "$HTTPS/$1/git-upload-pack"
  rm -f "$T/resp.pack"
  "$PKT" decode "$T/resp.pack" < "$T/resp.bin" > "$T/resp.txt"
}
{ printf 'command=fetch\nagent=test\nobject-format=sha1\nDELIM\nno-progress\nwant %s\ndone\nFLUSH\n' "$P_COMMIT"; } | post_tls "$N" version=2
check_eq "v2 over TLS: want of a private commit is refused" "ERR upload-pack: not our ref $P_COMMIT" "$(cat "$T/resp.txt")"
check "and no pack is sent" test ! -s "$T/resp.pack"
{ printf 'want %s side-band-64k no-progress agent=test\nFLUSH\ndone\n' "$P_COMMIT"; } | post_tls "$N" ""
check_eq "v0 over TLS: likewise" "ERR upload-pack: not our ref $P_COMMIT" "$(cat "$T/resp.txt")"
refs=$(curl -s --insecure "$HTTPS/$N/info/refs?service=git-upload-pack" | "$PKT" decode /dev/null)
check_not_contains "the TLS ref advertisement names no private branch" "secret" "$refs"
code=$(curl -s --insecure -o /dev/null -w '%{http_code}' "$HTTPS/proj/secret/info/refs?service=git-upload-pack")
check_eq "an unadvertised branch is 404 over TLS too" 404 "$code"
code=$(curl -s --insecure -o /dev/null -w '%{http_code}' -X POST "$HTTPS/$N/git-receive-pack")
check_eq "push is 403 over TLS too" 403 "$code"
check "the server is still up" server_alive
stop_server

# --- the owner: nearby.owner, else user.name, from the user's config only ---
git -C "$R" config nearby.owner "Mallory"
git -C "$R" config user.name "Mallory"
git config --global --unset nearby.owner
start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }
wait_for is_served "$N"
json=$(curl -s "$URL/?format=json")
check_contains "without nearby.owner the owner is user.name (Test User)" '"owner": "Test User"' "$json"
check_not_contains "a served repository's config never names the owner" "Mallory" "$json$(cat "$T/server.log")"
stop_server
git config --global --unset user.name
git config --global nearby.owner '  <b>Eve</b> & "co" '"$(printf '\377')"
start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }
wait_for is_served "$N"
check_contains "an owner is shown escaped on the page" '<strong class="owner">&lt;b&gt;Eve&lt;/b&gt; &amp; &quot;co&quot; '"$(printf '\357\277\275')"'</strong>' "$(curl -s "$URL/")"
check "and the JSON is valid UTF-8 JSON" python3 -c 'import json, sys, urllib.request
d = json.loads(urllib.request.urlopen(sys.argv[1] + "/?format=json").read().decode("utf-8", "strict"))
assert d[0]["owner"] == "<b>Eve</b> & \"co\" \ufffd", d' "$URL"
stop_server
git config --global --unset nearby.owner
start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }
wait_for is_served "$N"
check_contains "no owner at all: null in the JSON" '"owner": null' "$(curl -s "$URL/?format=json")"
check "and never the e-mail address" test -z "$(grep -l "test@example.invalid" "$T/server.log"; curl -s "$URL/" | grep -F "test@example.invalid")"
wait_for has_name
out=$(gdbus introspect --session --dest org.gitnearby.Server1 --object-path /org/gitnearby/Server1 --only-properties)
check_contains "D-Bus: Owner is empty" "readonly s Owner = '';" "$out"
stop_server
git config --global user.name "Test User"

# --- refusals, one line each, before serving ---
chmod 644 "$ID"
out=$(git nearby serve --bind 127.0.0.1 --port 0 --no-publish "$T/srv" 2>&1 </dev/null)
check_exit "a key file others may read: serve refuses" 1 $? "others may read it; run chmod 600" "$out"
check_eq "in one line" 1 "$(printf '%s\n' "$out" | wc -l)"
check_contains "naming the file" "$ID" "$out"
chmod 600 "$ID"

echo "not a key" > "$T/broken.pem" && chmod 600 "$T/broken.pem"
mkdir -p "$T/xdg-broken/git-nearby" && chmod 700 "$T/xdg-broken/git-nearby"
cp -p "$T/broken.pem" "$T/xdg-broken/git-nearby/identity.pem"
out=$(XDG_CONFIG_HOME="$T/xdg-broken" git nearby serve --bind 127.0.0.1 --port 0 --no-publish "$T/srv" 2>&1 </dev/null)
check_exit "a broken key file: serve refuses" 1 $? "is not a key and certificate" "$out"
check_eq "in one line" 1 "$(printf '%s\n' "$out" | wc -l)"

# Root may write anywhere it has permissions for; a directory that cannot
# exist (its parent is a file) is unwritable for anyone.
echo file > "$T/not-a-dir"
out=$(XDG_CONFIG_HOME="$T/not-a-dir/config" git nearby serve --bind 127.0.0.1 --port 0 --no-publish "$T/srv" 2>&1 </dev/null)
check_exit "no identity and an impossible config directory: serve refuses" 1 $? "git nearby serve: the server identity: cannot read $T/not-a-dir/config/git-nearby/identity.pem: Not a directory" "$out"
check_eq "in one line" 1 "$(printf '%s\n' "$out" | wc -l)"
# A read-only file system (root included), in a mount namespace of its own.
mkdir -p "$T/ro"
if unshare -m true 2>/dev/null; then
  out=$(unshare -m sh -c 'mount -t tmpfs -o ro,size=64k nearby-ro "$1" && shift && exec "$@"' sh "$T/ro" \
    env XDG_CONFIG_HOME="$T/ro" git nearby serve --bind 127.0.0.1 --port 0 --no-publish "$T/srv" 2>&1 </dev/null)
  check_exit "no identity and a read-only config directory: serve refuses" 1 $? "git nearby serve: the server identity: cannot create $T/ro/git-nearby: Read-only file system" "$out"
  check_eq "in one line" 1 "$(printf '%s\n' "$out" | wc -l)"
elif [ "$(id -u)" != 0 ]; then
  chmod 500 "$T/ro"
  out=$(XDG_CONFIG_HOME="$T/ro" git nearby serve --bind 127.0.0.1 --port 0 --no-publish "$T/srv" 2>&1 </dev/null)
  check_exit "no identity and a read-only config directory: serve refuses" 1 $? "git nearby serve: the server identity: cannot create $T/ro/git-nearby: Permission denied" "$out"
  chmod 700 "$T/ro"
else
  not_ok "a read-only config directory: neither a mount namespace nor a non-root user to try it with"
fi

done_testing
