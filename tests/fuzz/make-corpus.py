#!/usr/bin/env python3
"""Writes the seed corpora in corpus/ (run once; the output is checked in).

Requests are those git 2.39 sends, with the ids of the repository that
fuzz-upload-pack.c makes (fixed dates, so fixed ids)."""
import os

here = os.path.dirname(os.path.abspath(__file__))
TIP = "8075bc61acbe0d457dc971e7756de072c89fe933"      # main: e
MERGE = "cec186e26a411a3fa0203b4216dac7e54400c507"
D = "a7bce9c658b8f198d4016d79f951bc9d9fef17df"
SIDE = "34f38a5b750789991faab767e83b2709df667e2e"     # c, merged
B = "f0581c4804ade305892693cb74344a991eaf59c4"
A = "97989e8b0a9a0214513004a619a6899bbe0e7b7a"
SECRET = "8ca16e8ecb1c67918c14a14877532e71e08537f6"   # private branch
TAG = "acd33591ba1602d976c78e5f7948a14da68625a0"      # annotated v1 -> a
TREE = "b0106f008c6d4c528e0acf4f6a40b887596487ef"
UNKNOWN = "1" * 40
V0CAPS = "multi_ack_detailed no-done side-band-64k thin-pack include-tag ofs-delta deepen-since deepen-not agent=git/2.39.5"


def pkt(s):
    b = s.encode() if isinstance(s, str) else s
    return b"%04x" % (len(b) + 4) + b


FLUSH, DELIM = b"0000", b"0001"


def v0(*parts):
    return b"\x00" + b"".join(parts)


def v2(*parts):
    return b"\x01" + b"".join(parts)


V2HEAD = pkt("command=fetch\n") + pkt("agent=git/2.39.5\n") + pkt("object-format=sha1\n") + DELIM

upload = {
    "v0-clone": v0(pkt(f"want {TIP} {V0CAPS}\n"), FLUSH, pkt("done\n")),
    "v0-fetch-haves": v0(pkt(f"want {TIP} {V0CAPS}\n"), FLUSH,
                         pkt(f"have {D}\n"), pkt(f"have {B}\n"), pkt(f"have {UNKNOWN}\n"), pkt("done\n")),
    "v0-round": v0(pkt(f"want {TIP} {V0CAPS}\n"), FLUSH,
                   pkt(f"have {UNKNOWN}\n"), pkt(f"have {SIDE}\n"), FLUSH),
    "v0-shallow": v0(pkt(f"want {TIP} {V0CAPS}\n"), pkt("deepen 1\n"), FLUSH, pkt("done\n")),
    "v0-deepen": v0(pkt(f"want {TIP} {V0CAPS}\n"), pkt(f"shallow {MERGE}\n"), pkt("deepen 2\n"),
                    FLUSH, pkt(f"have {MERGE}\n"), pkt("done\n")),
    "v0-since-not": v0(pkt(f"want {TIP} {V0CAPS}\n"), pkt("deepen-since 1600000000\n"),
                       pkt("deepen-not refs/heads/main\n"), FLUSH, pkt("done\n")),
    "v0-private": v0(pkt(f"want {SECRET} {V0CAPS}\n"), pkt(f"want {TAG}\n"), FLUSH, pkt("done\n")),
    "v0-old-want": v0(pkt(f"want {B} multi_ack side-band\n"), FLUSH, pkt(f"have {A}\n"), FLUSH),
    "v2-ls-refs": v2(pkt("command=ls-refs\n"), pkt("agent=git/2.39.5\n"), pkt("object-format=sha1\n"),
                     DELIM, pkt("peel\n"), pkt("symrefs\n"), pkt("unborn\n"),
                     pkt("ref-prefix HEAD\n"), pkt("ref-prefix refs/heads/\n"), pkt("ref-prefix refs/tags/\n"), FLUSH),
    "v2-clone": v2(V2HEAD, pkt("thin-pack\n"), pkt("ofs-delta\n"), pkt(f"want {TIP}\n"),
                   pkt(f"want {TIP}\n"), pkt("done\n"), FLUSH),
    "v2-fetch-tags": v2(V2HEAD, pkt("thin-pack\n"), pkt("include-tag\n"), pkt("ofs-delta\n"),
                        pkt(f"want {TIP}\n"), pkt(f"have {B}\n"), pkt(f"have {SECRET}\n"), pkt("done\n"), FLUSH),
    "v2-round": v2(V2HEAD, pkt("thin-pack\n"), pkt("no-progress\n"), pkt(f"want {TIP}\n"),
                   pkt(f"have {UNKNOWN}\n"), pkt(f"have {D}\n"), FLUSH),
    "v2-shallow": v2(V2HEAD, pkt("ofs-delta\n"), pkt(f"want {TIP}\n"), pkt(f"shallow {D}\n"),
                     pkt("deepen 3\n"), pkt("deepen-relative\n"), pkt("done\n"), FLUSH),
    "v2-deepen-not": v2(V2HEAD, pkt(f"want {TIP}\n"), pkt(f"deepen-not {B}\n"), pkt("deepen-since 1\n"), pkt("done\n"), FLUSH),
    "v2-want-ref": v2(V2HEAD, pkt("want-ref refs/heads/main\n"), pkt("sideband-all\n"), pkt("done\n"), FLUSH),
    "v2-private": v2(V2HEAD, pkt(f"want {TREE}\n"), pkt(f"want {SECRET}\n"), pkt("filter blob:none\n"), pkt("done\n"), FLUSH),
    "v2-unborn-ls-refs": b"\x05" + pkt("command=ls-refs\n") + DELIM + pkt("symrefs\n") + pkt("unborn\n") + FLUSH,
    "v2-reach-asked": b"\x03" + V2HEAD + pkt(f"want {D}\n") + pkt(f"have {A}\n") + pkt("done\n") + FLUSH,
    "v0-reach-fails": b"\x0a" + v0(pkt(f"want {TIP} {V0CAPS}\n"), pkt(f"shallow {MERGE}\n"), pkt("deepen 2\n"),
                                  FLUSH, pkt(f"have {B}\n"), pkt("done\n"))[1:],
}

pkt_line = {
    "request": upload["v0-fetch-haves"][1:],
    "v2": upload["v2-fetch-tags"][1:],
    "specials": b"0000" + b"0001" + b"0002" + b"0004" + pkt("x\n"),
    "sideband": pkt(b"\x01PACK\x00\x00\x00\x02") + pkt(b"\x02Counting objects\r") + b"0000",
    "truncated": b"00ffwant",
}

txt = {
    "record": "\0".join(["txtvers=1", "name=myproj/fix-login", "path=/myproj/fix-login",
                         "ref=refs/heads/fix-login", f"head={TIP}", f"repo={A}"]),
    "unborn": "\0".join(["txtvers=1", "name=new", "path=/new", "ref=refs/heads/main"]),
    "escaped": "\0".join(["txtvers=1", "name=h\u00e9llo w\u00f6rld/x", "path=/h%C3%A9llo%20w%C3%B6rld/x",
                          "ref=refs/heads/x", "owner=someone", "NAME=second"]),
    "hostile": "\0".join(["txtvers=1", "name=a/b", "path=/admin/shutdown?now=1#",
                          "ref=refs/heads/\x1b]0;title\x07", "head=NOTANID"]),
    "version": "\0".join(["txtvers=2", "name=x", "path=/x"]),
    "identity": "\0".join(["txtvers=1", "name=webapp/fix-login", "path=/webapp/fix-login",
                           "ref=refs/heads/fix-login",
                           "key=sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw=",
                           f"head={TIP}", f"repo={A}", "owner=Alice \u00c9lise",
                           "subject=Fix the \x1b[31mlogin\x1b[0m form"]),
}

names = {
    "plain": "myproj/fix-login",
    "with-host": "myproj/fix-login\0alice-laptop",
    "spaces": "my proj/fix login on bob\0bob",
    "dots": "x/../y\0host",
    "invisible": "myproj/fix\u200b-login\0h\u202eost",
    "long": "a" * 40 + "/" + "\u00e9" * 15 + "\0" + "very-long-host-name-" * 3,
    "path": "myproj/fix%20login",
    "bad-escape": "a%2",
}

urls = {
    "nearby": "nearby://myproj/fix-login",
    "host": "nearby://myproj/fix-login@alice-laptop/",
    "escaped": "nearby://h%C3%A9llo%40x@bob.local",
    "bare": "fix-login@bob",
    "http": "http://10.0.0.2:9419/p/main",
    "v4": "10.0.0.2\0eth0",
    "v6": "2001:db8::1\0eth0",
    "link-local": "fe80::1:2\0wlp2s0",
    "loopback": "::ffff:127.0.0.1",
    "any": "0.0.0.0",
    "owner": "nearby://webapp/fix-login@Alice%20Smith",
    "code": "nearby://webapp/fix-login@TVJS-3GCF",
    "key": "nearby://webapp/fix-login@1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw",
    "direct": "nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw@10.0.0.2:9419/webapp/fix-login",
    "direct-zone": "nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw@[fe80::1%25eth0]:9419/a/b",
    "direct-name": "nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw@alice.local:1/x",
}


def write(harness, cases):
    d = os.path.join(here, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    for name, data in cases.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)


write("upload-pack", upload)
write("pkt-line", pkt_line)
write("txt", txt)
write("name", names)
write("url", urls)
