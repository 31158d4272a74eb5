#!/usr/bin/env bash
# The HTTP surface: pages, refusals, path tricks, malformed and oversized
# requests, hang-ups. After each, the server keeps serving and nothing in
# the repository changes.
. "$(dirname "$0")/lib.sh"

R="$T/srv/proj"
make_repo "$R"
git -C "$R" checkout -q -b secret
echo secret > "$R/secret.txt" && git -C "$R" add secret.txt && git -C "$R" commit -q -m "private"
git -C "$R" checkout -q main
echo '<b>x</b>' >> "$R/file.txt" && git -C "$R" commit -qam 'fix <script>alert(1)</script> & more'
(cd "$R" && git nearby advertise >/dev/null)
# A large incompressible file, so that pack-objects takes a while.
# Random text, so that pack-objects has to deflate it afresh: that takes it
# long enough (about a second) for the tests below to catch it running.
head -c 15000000 /dev/urandom | base64 > "$T/srv/blob.bin"
git init -q "$T/srv/heavy"
cp "$T/srv/blob.bin" "$T/srv/heavy/blob.bin"
git -C "$T/srv/heavy" add blob.bin && git -C "$T/srv/heavy" commit -q -m "heavy"
(cd "$T/srv/heavy" && git nearby advertise >/dev/null)
rm "$T/srv/blob.bin"

# Keepalives every 20 ms of silence, so that a short pack-objects run shows them.
export GIT_NEARBY_KEEPALIVE_MS=20
before=$(cd "$R" && git for-each-ref --format='%(objectname) %(refname)'; cat .git/config; git count-objects -v)

start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }
N=proj/main
get () { curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$@"; }
body () { cat "$T/body"; }

# --- pages ---
code=$(get "$URL/")
check_eq "GET / is a page" "200" "$code"
check_contains "it lists the branch with its clone command" "<code>git clone $URL/proj/main</code>" "$(body)"
check_contains "and the head commit's subject, escaped" "fix &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" "$(body)"
check_not_contains "no raw markup from a commit subject" "<script>" "$(body)"
check_not_contains "no private branch" "secret" "$(body)"
code=$(get -H 'Accept: application/json' "$URL/")
check_eq "GET / with Accept: application/json" "200" "$code"
check_contains "gives JSON with name, branch, url and head" "\"name\": \"proj/main\", \"branch\": \"main\", \"url\": \"$URL/proj/main\", \"head\": \"$(rev "$R" main)\"" "$(body)"
check_contains "and the subject, JSON-escaped" '"subject": "fix <script>alert(1)</script> & more"' "$(body)"
# The page's URLs come from the Host the client sent, when it is one.
get -H 'Host: alice-laptop.local:9419' "$URL/?format=json" >/dev/null
check_contains "the URLs use the Host sent" '"url": "http://alice-laptop.local:9419/proj/main"' "$(body)"
# A Host that is no authority of ours (userinfo would make the URL's host
# another one, "alice.local@evil") gives the server's own address.
get -H 'Host: alice.local@evil:9419' "$URL/?format=json" >/dev/null
check_contains "a Host with userinfo gives the server's own address" "\"url\": \"$URL/proj/main\"" "$(body)"
get -H 'Host: [::1]:9419' "$URL/?format=json" >/dev/null
check_contains "an IPv6 Host keeps its brackets" '"url": "http://[::1]:9419/proj/main"' "$(body)"
code=$(get "$URL/proj/main")
check_eq "GET /<name> is the branch page" "200" "$code"
check_contains "with recent commits" "commit 2 on main" "$(body)"
check_contains "and the clone command" "git clone $URL/proj/main" "$(body)"
code=$(get "$URL/nosuch")
check_eq "an unknown name is 404" "404:git-nearby: no branch is advertised as 'nosuch' here" "$code:$(body)"

# --- refusals ---
code=$(get "$URL/$N/info/refs?service=git-receive-pack")
check_eq "receive-pack advertisement is refused" "403:git-nearby is read-only: pushing is not possible" "$code:$(body)"
code=$(get -X POST -H 'Content-Type: application/x-git-receive-pack-request' --data-binary 0000 "$URL/$N/git-receive-pack")
check_eq "receive-pack POST is refused" "403:git-nearby is read-only: pushing is not possible" "$code:$(body)"
git clone -q "$URL/$N" "$T/clone"
echo more >> "$T/clone/file.txt"; git -C "$T/clone" commit -qam "try to push"
out=$(git -C "$T/clone" push origin HEAD:main 2>&1); rc=$?
check_exit "git push fails with the reason" nonzero "$rc" "read-only" "$out"
code=$(get "$URL/$N/info/refs")
check_eq "dumb HTTP is refused" "403:git-nearby speaks smart HTTP only; dumb HTTP is not served" "$code:$(body)"
for p in HEAD objects/info/packs "objects/$(rev "$R" main | cut -c1-2)/$(rev "$R" main | cut -c3-)"; do
  code=$(get "$URL/$N/$p")
  check_eq "dumb path $p is not found" "404" "$code"
done
code=$(get "$URL/$N/info/refs?service=git-frobnicate")
check_eq "an unknown service is refused" "403:git-nearby: unknown service" "$code:$(body)"
code=$(get "$URL/$N/git-upload-pack")
check_eq "GET of git-upload-pack is not allowed" "405" "$code"
code=$(get -X DELETE "$URL/$N")
check_eq "other methods are not allowed" "405" "$code"
code=$(get -X POST -H 'Content-Type: text/plain' --data-binary 0000 "$URL/$N/git-upload-pack")
check_eq "a wrong Content-Type is refused" "415" "$code"

# --- path tricks ---
for p in "/../proj/.git/config" "/%2e%2e/proj/.git/config" "/proj/main/../../.git/config" \
         "//proj/main/info/refs?service=git-upload-pack" "/proj//main/info/refs?service=git-upload-pack" \
         "/proj/.git/config" "/.git/config" "/proj/main/.git/config" "$T/srv/proj/.git/config" \
         "/etc/passwd" "/proj/main/%00/info/refs?service=git-upload-pack" \
         "/proj/secret/info/refs?service=git-upload-pack" "/proj%2fsecret/info/refs?service=git-upload-pack"; do
  code=$(get "$URL$p")
  b=$(body)
  if [[ "$code" = 40[04] ]] && [[ "$b" != *"[core]"* ]] && [[ "$b" != *"root:"* ]] && [[ "$b" != *"$(rev "$R" secret)"* ]]; then
    ok "path trick $p is refused ($code)"
  else
    not_ok "path trick $p is refused" "status $code" "$b"
  fi
done

# --- malformed requests ---
raw () { # raw BYTES [curl options]: POST them as an upload-pack request
  local bytes=$1; shift
  printf '%b' "$bytes" > "$T/raw.req"
  curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/x-git-upload-pack-request' "$@" \
    --data-binary @"$T/raw.req" "$URL/$N/git-upload-pack"
}
resp () { "$PKT" decode < "$T/body"; }
code=$(raw '0032want ' -H 'Git-Protocol: version=2')
check_eq "v2: a truncated pkt-line" "200:ERR truncated pkt-line" "$code:$(resp)"
code=$(raw '0032want ')
check_eq "v0: a truncated pkt-line" "200:ERR truncated pkt-line" "$code:$(resp)"
code=$(raw '0012command=fetch\n0001003' -H 'Git-Protocol: version=2')
check_eq "v2: a truncated length" "200:ERR malformed pkt-line length" "$code:$(resp)"
code=$(raw 'zzzzwant' -H 'Git-Protocol: version=2')
check_eq "v2: a length that is not hex" "200:ERR malformed pkt-line length" "$code:$(resp)"
code=$(raw 'fff1want')
check_eq "v0: an oversize length" "200:ERR pkt-line too long" "$code:$(resp)"
code=$(raw '0012command=fetch\n0001000cwant \0x\n0000' -H 'Git-Protocol: version=2')
check_eq "v2: a NUL byte in a line" "200:ERR NUL byte in pkt-line" "$code:$(resp)"
code=$(raw '' -H 'Git-Protocol: version=2')
check_eq "v2: an empty body" "200:ERR protocol error: expected a command" "$code:$(resp)"
code=$(raw '0012command=fetch\n')
check_eq "v0: a v2 request without the v2 header" "200:ERR protocol error: unexpected 'command=fetch'" "$code:$(resp)"
code=$(raw "0032want $(rev "$R" main)\n")
check_eq "v0: wants without a flush" "200:ERR protocol error: unexpected end of request" "$code:$(resp)"
code=$(raw "0032want $(rev "$R" main)\n00000009done\n0009done\n")
check_eq "v0: data after done" "200:ERR protocol error: data after 'done'" "$code:$(resp)"
code=$(raw "000ewant 1234\n0000")
check_eq "v0: a short object id" "200:ERR protocol error: expected an object id after 'want'" "$code:$(resp)"
code=$(raw "0032want $(rev "$R" main | tr a-f A-F)\n0000")
check_eq "v0: an upper-case object id" "200:ERR protocol error: expected an object id after 'want'" "$code:$(resp)"
code=$(raw "0032want $(rev "$R" main)\n000edeepen -1\n00000009done\n")
check_eq "v0: a negative depth" "200:ERR protocol error: invalid depth '-1'" "$code:$(resp)"
code=$(raw "0013command=nosuch\n0000" -H 'Git-Protocol: version=2')
check_eq "v2: an unknown command" "200:ERR unknown command 'nosuch'" "$code:$(resp)"

# --- compressed and oversized bodies ---
printf 'garbage, not gzip' > "$T/bad.gz"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Encoding: gzip' -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/bad.gz" "$URL/$N/git-upload-pack")
check_eq "a body that is not gzip is a bad request" "400" "$code"
head -c 200000000 /dev/zero | gzip -1 > "$T/bomb.gz"
code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 60 -H 'Content-Encoding: gzip' -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/bomb.gz" "$URL/$N/git-upload-pack")
check_eq "a gzip bomb (200 MB of zeros in $(($(stat -c %s "$T/bomb.gz") / 1024)) KiB) is refused" "413:git-nearby: the request inflates to more than 32 MiB" "$code:$(body)"
check "the server logged the refusal" grep -q "refused a request body: the request inflates" "$T/server.log"
head -c 40000000 /dev/zero > "$T/huge"
code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/huge" "$URL/$N/git-upload-pack")
check_eq "a body announced at over 32 MiB is refused unread" "413:git-nearby: requests are limited to 32 MiB" "$code:$(body)"
curl -s -o /dev/null --max-time 60 -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/huge" "$URL/$N/git-upload-pack"
rc=$?
# curl says 52 (nothing came back), 55 or 56 (a reset met it sending or
# receiving) as the close finds it: each is a cut.
case $rc in
  52|55|56) ok "a chunked body growing over 32 MiB is cut off (curl: $rc)" ;;
  *) not_ok "a chunked body growing over 32 MiB is cut off" "curl exit status $rc, expected 52, 55 or 56" ;;
esac
check "and the server says so" grep -q "request body over 32 MiB; closing the connection" "$T/server.log"
rm -f "$T/huge" "$T/bomb.gz"

# --- what git responses carry ---
headers=$(curl -s -D - -o /dev/null "$URL/$N/info/refs?service=git-upload-pack")
check_contains "the advertisement is not to be cached" "Cache-Control: no-cache, max-age=0, must-revalidate" "$headers"
check_contains "...nor by HTTP/1.0 caches" "Pragma: no-cache" "$headers"
check_contains "and has git's content type" "Content-Type: application/x-git-upload-pack-advertisement" "$headers"
heavy_req () { printf 'command=fetch\nDELIM\n%swant %s\ndone\nFLUSH\n' "$1" "$(rev "$T/srv/heavy" main)" | "$PKT" encode; }
heavy_req $'no-progress\n' > "$T/heavy.req"
curl -s -D "$T/heavy.headers" -o "$T/heavy.resp" -H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
  --data-binary @"$T/heavy.req" "$URL/heavy/main/git-upload-pack"
"$PKT" decode "$T/heavy.pack" < "$T/heavy.resp" > "$T/heavy.txt"
check_contains "while pack-objects is silent, keepalives flow on band 1" "KEEPALIVE" "$(cat "$T/heavy.txt")"
check_not_contains "no-progress means no progress" "PROGRESS" "$(cat "$T/heavy.txt")"
check_contains "the pack response is not to be cached" "Cache-Control: no-cache" "$(cat "$T/heavy.headers")"
check_contains "and has git's content type" "Content-Type: application/x-git-upload-pack-result" "$(cat "$T/heavy.headers")"
heavy_req $'ofs-delta\n' > "$T/heavy.req" # not the request above: that pack is cached now
curl -s -o "$T/heavy.resp" -H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
  --data-binary @"$T/heavy.req" "$URL/heavy/main/git-upload-pack"
check_contains "without no-progress, pack-objects' progress comes on band 2" "PROGRESS" "$("$PKT" decode < "$T/heavy.resp")"
rm -f "$T/heavy.resp" "$T/heavy.pack"

# --- a client that hangs up kills pack-objects ---
server_children () { pgrep -P "$SERVER_PID" -f pack-objects; }
curl -s --limit-rate 20k -o /dev/null -H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
  --data-binary @<(printf 'command=fetch\nDELIM\nthin-pack\nwant %s\ndone\nFLUSH\n' "$(rev "$T/srv/heavy" main)" | "$PKT" encode) \
  "$URL/heavy/main/git-upload-pack" &
CURL=$!
# Looked for every 20 ms: a slower poll can miss a pack-objects that runs
# for a fraction of a second.
check "pack-objects runs for a slow client" \
  bash -c 'for i in $(seq 1 500); do pgrep -P "$1" -f pack-objects && exit 0; sleep 0.02; done; exit 1' - "$SERVER_PID"
kill "$CURL"; wait "$CURL" 2>/dev/null
check "when the client hangs up, pack-objects is gone" wait_for bash -c "! pgrep -P $SERVER_PID -f pack-objects"
check "and the server says why" grep -q "nobody waits for the pack any more; stopping pack-objects" "$T/server.log"
check "the heavy branch still clones in full" git clone -q "$URL/heavy/main" "$T/heavy-clone"
check "byte for byte" cmp "$T/heavy-clone/blob.bin" "$T/srv/heavy/blob.bin"

# --- after all that ---
check "the server is still running" server_alive
check "a normal clone still works" git clone -q "$URL/$N" "$T/after"
check "and holds exactly main's history" same_history "$T/after" "$R" main
after=$(cd "$R" && git for-each-ref --format='%(objectname) %(refname)'; cat .git/config; git count-objects -v)
check_eq "nothing in the repository changed" "$before" "$after"
done_testing
