#!/usr/bin/env bash
# The export boundary, attacked with raw protocol requests in both versions.
# Nothing outside main's history may leave the server, and no answer may
# depend on whether a private object exists.
. "$(dirname "$0")/lib.sh"

R="$T/srv/proj"
make_repo "$R"
# secret: a private branch with a private blob that main later nearly repeats,
# so that a thin pack built on a private "have" would delta against it.
git -C "$R" checkout -q -b secret
seq 1 400 | sed 's/^/private line /' > "$R/big.txt"
echo "secret" > "$R/secret.txt"
git -C "$R" add big.txt secret.txt && git -C "$R" commit -q -m "private work"
git -C "$R" tag -a -m "private tag" v-secret
git -C "$R" checkout -q main
git -C "$R" show secret:big.txt | sed 's/^private line 200$/public line 200/' > "$R/big.txt"
git -C "$R" add big.txt && git -C "$R" commit -q -m "public big file"
git -C "$R" tag -a -m "public release" v1
(cd "$R" && git nearby advertise >/dev/null)

TIP=$(rev "$R" main)
BASE=$(rev "$R" main~1)
P_COMMIT=$(rev "$R" secret)
P_TREE=$(rev "$R" 'secret^{tree}')
P_BLOB=$(rev "$R" secret:secret.txt)
P_BIG=$(rev "$R" secret:big.txt)
P_TAG=$(rev "$R" v-secret)
PUB_BLOB=$(rev "$R" main:file.txt)
PUB_TREE=$(rev "$R" 'main^{tree}')
PUB_TAG=$(rev "$R" v1)
NONE=0123456789abcdef0123456789abcdef01234567
PRIVATE="$P_COMMIT $P_TREE $P_BLOB $P_BIG $P_TAG"
N=proj/main

start_server "$T/srv" || { not_ok "server starts"; done_testing; exit 1; }

v2_fetch () { # lines after the delim, then flush; progress off, so that
  # answers from the pack cache and from a fresh pack-objects read alike
  { printf 'command=fetch\nagent=test\nobject-format=sha1\nDELIM\nno-progress\n'; printf '%s\n' "$@"; echo FLUSH; } | post_v2 "$N"
}
v0_fetch () { # the first line carries capabilities
  { printf 'want %s multi_ack_detailed side-band-64k thin-pack ofs-delta no-progress agent=test\n' "$1"; shift
    printf '%s\n' "$@"; } | post_v0 "$N"
}
resp () { cat "$T/resp.txt"; }
# A pack arrived, stands alone, holds the tip that was asked for, and holds
# no private object.
no_private_in_pack () {
  local objs; objs=$(pack_objects)
  [ -n "$objs" ] || { echo "no pack arrived"; return 1; }
  [ "$objs" != "UNINDEXABLE" ] || { echo "pack does not stand alone (thin delta?)"; return 1; }
  printf '%s\n' "$objs" | grep -qx "$TIP" || { echo "the pack lacks the wanted tip $TIP"; return 1; }
  for id in $PRIVATE; do
    if printf '%s\n' "$objs" | grep -qx "$id"; then echo "private object $id in pack"; return 1; fi
  done
}
no_pack () { [ ! -s "$T/resp.pack" ] && ! grep -q PACK "$T/resp.bin"; }

# --- wants outside the boundary, v2 and v0 ---
for kind in commit tree blob big tag; do
  case $kind in commit) id=$P_COMMIT;; tree) id=$P_TREE;; blob) id=$P_BLOB;; big) id=$P_BIG;; tag) id=$P_TAG;; esac
  v2_fetch "want $id" done
  check_eq "v2: want of a private $kind is refused" "ERR upload-pack: not our ref $id" "$(resp)"
  check "v2: and no pack is sent" no_pack
  v0_fetch "$id" FLUSH done
  check_eq "v0: want of a private $kind is refused" "ERR upload-pack: not our ref $id" "$(resp)"
  check "v0: and no pack is sent" no_pack
done
for kind in blob tree tag; do
  case $kind in blob) id=$PUB_BLOB;; tree) id=$PUB_TREE;; tag) id=$PUB_TAG;; esac
  v2_fetch "want $id" done
  check_eq "v2: want of a reachable $kind is refused too (only commits)" "ERR upload-pack: not our ref $id" "$(resp)"
  v0_fetch "$id" FLUSH done
  check_eq "v0: want of a reachable $kind is refused too" "ERR upload-pack: not our ref $id" "$(resp)"
done
v2_fetch "want $NONE" done
check_eq "v2: a missing object gets the very same answer" "ERR upload-pack: not our ref $NONE" "$(resp)"
v0_fetch "$NONE" FLUSH done
check_eq "v0: a missing object gets the very same answer" "ERR upload-pack: not our ref $NONE" "$(resp)"
v2_fetch "want $TIP" "want $P_COMMIT" done
check_eq "v2: a private want beside a good one still refuses all" "ERR upload-pack: not our ref $P_COMMIT" "$(resp)"

# --- haves outside the boundary ---
v2_fetch "want $TIP" "have $P_COMMIT"
check_eq "v2: a private have is not acknowledged" "acknowledgments NAK FLUSH" "$(resp | tr '\n' ' ' | sed 's/ $//')"
priv=$(resp)
v2_fetch "want $TIP" "have $NONE"
check_eq "v2: ...exactly as for an object that does not exist" "$priv" "$(resp)"
v2_fetch no-progress "want $TIP" "have $BASE"
check_eq "v2: a reachable have is acknowledged" "acknowledgments ACK $BASE ready DELIM packfile FLUSH" \
  "$(resp | tr '\n' ' ' | sed 's/ $//')"
v0_fetch "$TIP" FLUSH "have $P_COMMIT" FLUSH
check_eq "v0: a private have is not acknowledged" "NAK" "$(resp)"
v0_fetch "$TIP" FLUSH "have $NONE" FLUSH
check_eq "v0: ...exactly as for an object that does not exist" "NAK" "$(resp)"
v0_fetch "$TIP" FLUSH "have $P_BLOB" "have $P_TAG" "have $BASE" FLUSH
check_eq "v0: among private haves only the reachable commit is ACKed" "ACK $BASE common
NAK" "$(resp)"
v0_fetch "$TIP" FLUSH "have $BASE" FLUSH
check_eq "v0: a reachable have alone makes the server ready" "ACK $BASE common
ACK $BASE ready
NAK" "$(resp)"

v2_fetch thin-pack ofs-delta "want $TIP" "have $P_COMMIT" done
check "v2: a pack for a private have is whole: no thin delta on a private object" no_private_in_pack
check_contains "v2: ...and it holds the public big file" "$(rev "$R" main:big.txt)" "$(pack_objects)"
v0_fetch "$TIP" FLUSH "have $P_COMMIT" done
check "v0: a pack for a private have is whole: no thin delta on a private object" no_private_in_pack

# --- include-tag never brings tags ---
# v1 is an annotated tag of main's tip: git's include-tag would send it.
check_eq "the public tag v1 is annotated and points into main's history" "tag yes" \
  "$(git -C "$R" cat-file -t v1) $(git -C "$R" merge-base --is-ancestor 'v1^{}' main && echo yes)"
# A whole pack whose objects git sees, and not one of them a tag.
pack_without_tags () {
  local types; types=$(pack_types)
  printf '%s\n' "$types" | grep -qx "$TIP commit" || { echo "no usable pack with the tip: $types"; return 1; }
  ! printf '%s\n' "$types" | grep -q ' tag$' || { echo "tag object(s) in the pack: $(printf '%s\n' "$types" | grep ' tag$')"; return 1; }
}
v2_fetch thin-pack ofs-delta include-tag "want $TIP" done
check "v2: include-tag is ignored: no tag object in the pack" pack_without_tags
check "v2: the full pack holds nothing private" no_private_in_pack
{ printf 'want %s multi_ack_detailed side-band-64k ofs-delta include-tag agent=test\n' "$TIP"; printf 'FLUSH\ndone\n'; } | post_v0 "$N"
check "v0: include-tag is ignored: no tag object in the pack" pack_without_tags

# --- want-ref, deepen-not, shallow ---
v2_fetch "want-ref refs/heads/secret" done
check_eq "v2: want-ref of a private branch is refused" "ERR unknown ref refs/heads/secret" "$(resp)"
v2_fetch "want-ref refs/heads/nosuch" done
check_eq "v2: ...as a ref that does not exist" "ERR unknown ref refs/heads/nosuch" "$(resp)"
v2_fetch "want-ref refs/tags/v-secret" done
check_eq "v2: want-ref of a tag is refused" "ERR unknown ref refs/tags/v-secret" "$(resp)"
v2_fetch "want-ref refs/heads/main" done
check_contains "v2: want-ref of the advertised branch works" "wanted-refs $TIP refs/heads/main DELIM packfile" "$(resp | tr '\n' ' ')"

v2_fetch "want $TIP" "deepen-not secret" done
check_eq "v2: deepen-not naming a private branch is refused" "ERR deepen-not: unknown ref 'secret'" "$(resp)"
v2_fetch "want $TIP" "deepen-not nosuch" done
check_eq "v2: ...as a ref that does not exist" "ERR deepen-not: unknown ref 'nosuch'" "$(resp)"
v0_fetch "$TIP" "deepen-not refs/tags/v-secret" FLUSH done
check_eq "v0: deepen-not naming a private tag is refused" "ERR deepen-not: unknown ref 'refs/tags/v-secret'" "$(resp)"

v2_fetch "want $TIP" "shallow $P_COMMIT" "deepen 1" done
a=$(resp); check "v2: a private shallow line changes nothing in the pack" no_private_in_pack
v2_fetch "want $TIP" "shallow $NONE" "deepen 1" done
check_eq "v2: ...and the answer is the same as for a missing object" "$a" "$(resp)"
check_not_contains "v2: no unshallow line names the private commit" "$P_COMMIT" "$a"
v0_fetch "$TIP" "shallow $P_COMMIT" "deepen 1" FLUSH done
a=$(resp); check "v0: a private shallow line changes nothing in the pack" no_private_in_pack
v0_fetch "$TIP" "shallow $NONE" "deepen 1" FLUSH done
check_eq "v0: ...and the answer is the same as for a missing object" "$a" "$(resp)"

# --- commands and features that are not offered ---
{ printf 'command=object-info\nagent=test\nDELIM\nsize\noid %s\nFLUSH\n' "$P_BLOB"; } | post_v2 "$N"
check_eq "v2: object-info is not a command here" "ERR unknown command 'object-info'" "$(resp)"
v2_fetch "want $TIP" "filter blob:none" done
check_eq "v2: filter is refused" "ERR fetch: unexpected argument 'filter blob:none'" "$(resp)"
v2_fetch "want $TIP" "packfile-uris https" done
check_eq "v2: packfile-uris is refused" "ERR fetch: unexpected argument 'packfile-uris https'" "$(resp)"
{ printf 'command=ls-refs\nagent=test\nserver-option=x\nDELIM\nFLUSH\n'; } | post_v2 "$N"
check_eq "v2: an unknown capability is refused" "ERR unknown capability 'server-option=x'" "$(resp)"

# --- what the refs say ---
{ printf 'command=ls-refs\nagent=test\nDELIM\npeel\nsymrefs\nFLUSH\n'; } | post_v2 "$N"
check_eq "v2: ls-refs lists HEAD and the branch only, no tags" "$TIP HEAD symref-target:refs/heads/main
$TIP refs/heads/main
FLUSH" "$(resp)"
{ printf 'command=ls-refs\nagent=test\nDELIM\nref-prefix refs/heads/secret\nref-prefix refs/tags/\nFLUSH\n'; } | post_v2 "$N"
check_eq "v2: ls-refs with the prefix of a private ref lists nothing" "FLUSH" "$(resp)"
adv=$(curl -s "$URL/$N/info/refs?service=git-upload-pack" | "$PKT" decode)
check_eq "v0: the advertisement has exactly HEAD and the branch" \
  "2" "$(printf '%s\n' "$adv" | grep -c "^$TIP ")"
check_not_contains "v0: no capability invites unadvertised wants" "allow-" "$adv"
check_not_contains "v0: include-tag is not offered" "include-tag" "$adv"
check_not_contains "v0: filter is not offered" "filter" "$adv"
check_not_contains "v0: no private id is in the advertisement" "$P_COMMIT" "$adv"

# --- 100,000 have lines ---
awk 'BEGIN { srand(1); for (i = 0; i < 100000; i++) { s = ""; for (j = 0; j < 5; j++) s = s sprintf("%08x", int(rand() * 4294967295)); print "have " s } }' > "$T/haves"
{ printf 'command=fetch\nagent=test\nDELIM\nno-progress\nwant %s\n' "$TIP"; cat "$T/haves"; printf 'have %s\ndone\nFLUSH\n' "$BASE"; } | "$PKT" encode > "$T/big.req"
start=$(date +%s%N)
curl -s --max-time 60 -o "$T/resp.bin" -H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
  --data-binary @"$T/big.req" "$URL/$N/git-upload-pack"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
"$PKT" decode "$T/resp.pack" < "$T/resp.bin" > "$T/resp.txt"
check_contains "100,000 haves are answered with a pack" "packfile" "$(resp)"
check "the pack is good and holds nothing private" no_private_in_pack
echo "# 100,000 haves took $ms ms"
gzip -c "$T/big.req" > "$T/big.req.gz"
curl -s --max-time 60 -o "$T/resp.bin" -H 'Git-Protocol: version=2' -H 'Content-Encoding: gzip' \
  -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$T/big.req.gz" "$URL/$N/git-upload-pack"
"$PKT" decode "$T/resp.pack" < "$T/resp.bin" > "$T/resp.txt"
check_contains "the same request gzip-encoded works too" "packfile" "$(resp)"

# --- pages: /NAME/commit/ID holds to the same boundary ---
page () { # page ID [ACCEPT]: status, content type and body, byte for byte
  curl -s -o "$T/page.body" -w '%{http_code} %{content_type}\n' -H "Accept: ${2:-text/html}" \
    "$URL/$N/commit/$1" > "$T/page.head"
  cat "$T/page.head" "$T/page.body"
}
out=$(page "$BASE")
check_contains "a commit of main has a page" "200 text/html" "$out"
check_contains "with its message" "commit 3 on main" "$out"
check_contains "and its patch" "+line 3" "$out"
check_contains "the tip's page has the patch of the public big file" "+public line 200" "$(page "$TIP")"
json=$(page "$TIP" application/json)
check "its JSON parses" python3 -c 'import json, sys; json.loads(sys.stdin.read().split("\n", 1)[1])' <<<"$json"
none=$(page "$NONE")
check_contains "an id that is nothing is 404" "404" "$none"
for id in $PRIVATE $PUB_BLOB $PUB_TREE $PUB_TAG; do
  check_eq "the page of $id is the same 404, byte for byte" "$none" "$(page "$id")"
  check_eq "(in JSON too)" "$(page "$NONE" application/json)" "$(page "$id" application/json)"
done
check_not_contains "nothing private on the branch page" "private" "$(curl -s "$URL/$N")"

# --- after all that ---
check "the server is still running" server_alive
check "a normal clone still works" git clone -q "$URL/$N" "$T/after"
check "and holds exactly main's history" same_history "$T/after" "$R" main
done_testing
