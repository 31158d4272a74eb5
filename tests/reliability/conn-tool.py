#!/usr/bin/env python3
"""Raw connections to a git-nearby server on loopback, for the reliability
tests: clients that close keep-alive connections, hold idle or slowloris
connections, send partial or oversized bodies. Every loop is bounded in count
and time; every address is on loopback (127.0.0.0/8)."""

import argparse
import select
import socket
import ssl
import sys
import time


def connect(port, source=None, timeout=5.0, rcvbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def sources(spec, n):
    """127.0.1.1-50 -> n addresses, round robin."""
    base, _, last = spec.rpartition(".")
    first, _, end = last.partition("-")
    first, end = int(first), int(end or first)
    span = end - first + 1
    return ["%s.%d" % (base, first + i % span) for i in range(n)]


def read_response(s, deadline):
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError as e:
            return data, "error: %s" % e.strerror
        if not chunk:
            return data, "closed"
        data += chunk
    return data, "timeout"


def keepalive_closes(args):
    """Requests on keep-alive connections that the client closes, and
    connections closed before they said anything."""
    request = b"GET /?format=json HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n"
    ok = 0
    deadline = time.monotonic() + args.seconds
    for i in range(args.count):
        if time.monotonic() > deadline:
            break
        s = connect(args.port)
        if i % 2 == 0:
            s.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            if head.startswith(b"HTTP/1.1 200"):
                ok += 1
        else:
            ok += 1  # said nothing at all
        s.close()
    print("%d of %d" % (ok, args.count))


class Responses:
    """Reads responses with a Content-Length off one connection, keeping
    what arrives past one for the next (pipelined answers come together)."""

    def __init__(self, s, slow=False):
        self.s, self.data, self.slow = s, b"", slow

    def _more(self):
        chunk = self.s.recv(4096 if self.slow else 65536)
        self.data += chunk
        return bool(chunk)

    def next(self, deadline):
        """(status line, headers in lower case, whole), or None once the
        connection is closed."""
        while b"\r\n\r\n" not in self.data and time.monotonic() < deadline:
            if not self._more():
                return None
        head, _, rest = self.data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(l.lower().split(": ", 1) for l in lines[1:] if ": " in l)
        if headers.get("transfer-encoding", "") == "chunked":
            self.data = rest
            return lines[0], headers, self._chunked(deadline)
        length = int(headers.get("content-length", "0"))
        while len(rest) < length and time.monotonic() < deadline:
            if not self._more():
                return None
            rest = self.data.partition(b"\r\n\r\n")[2]
        self.data = rest[length:]
        return lines[0], headers, len(rest) >= length

    def _chunked(self, deadline):
        """Reads a chunked body (slowly, with --slow); whether it was whole.
        Its size is left in self.body_size."""
        self.body_size = 0
        while time.monotonic() < deadline:
            while b"\r\n" not in self.data:
                if not self._more():
                    return False
            line, _, self.data = self.data.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            while len(self.data) < size + 2:
                if self.slow:
                    time.sleep(0.001)
                if not self._more():
                    return False
            self.data = self.data[size + 2:]
            self.body_size += size
            if size == 0:
                return True
        return False


def pkt(text):
    return b"%04x%s" % (len(text) + 4, text.encode())


def big_request(spec):
    """A protocol v0 fetch of REPO/BRANCH@TIP (a whole clone's pack)."""
    path, _, tip = spec.rpartition("@")
    body = pkt("want %s side-band-64k ofs-delta\n" % tip) + b"0000" + pkt("done\n")
    return (("POST /%s/git-upload-pack HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: application/x-git-upload-pack-request\r\n"
             "Content-Length: %d\r\n\r\n") % (path, len(body))).encode() + body


def keepalive_idle(args):
    """Requests one after another on one connection (TLS with --tls), as the
    request line and Connection header given, or all sent at once with
    --pipeline (for the web page and its JSON in turn, so that an answer out
    of order does not count; each --size bytes; --half-close: then says it
    has sent all; --big REPO/BRANCH@TIP: the first a clone, read slowly
    through a small receive buffer); then waits (sending a TLS close_notify
    first with --close-notify) for the server to close the
    connection, and says after how long."""
    s = connect(args.port, timeout=args.seconds, rcvbuf=16384 if args.big else 0)
    if args.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    deadline = time.monotonic() + args.seconds
    answered, said_close = 0, False
    def request(i):
        if args.big and i == 0:
            return big_request(args.big)
        path = "/" if args.pipeline and i % 2 else "/?format=json"
        text = "GET %s %s\r\nHost: t\r\n%s" % (
            path, args.version, "Connection: %s\r\n" % args.connection if args.connection else "")
        pad = args.size - len(text) - len("X-Pad: \r\n\r\n")
        return (text + ("X-Pad: %s\r\n" % ("p" * pad) if pad > 0 else "") + "\r\n").encode()

    def expected(i):
        if args.big and i == 0:
            return "application/x-git-upload-pack-result"
        return "text/html" if args.pipeline and i % 2 else "application/json"

    responses = Responses(s, slow=bool(args.big))
    if args.pipeline:
        s.sendall(b"".join(request(i) for i in range(args.requests)))
        if args.half_close:
            s.shutdown(socket.SHUT_WR)
    for i in range(args.requests):
        try:
            if not args.pipeline:
                s.sendall(request(i))
            got = responses.next(deadline)
        except OSError:
            got = None
        if got is None:
            break
        status, headers, whole = got
        if (status.endswith(" 200 OK") and whole
                and headers.get("content-type", "").startswith(expected(i))
                and (not args.big or i > 0 or responses.body_size > 4 << 20)):
            answered += 1
        said_close = "close" in headers.get("connection", "")
        if said_close:
            break
    t0 = time.monotonic()
    closed = "open"
    try:
        if args.close_notify:
            # Says it is done, over TLS, and waits for the server's end.
            try:
                s.unwrap()
            except ssl.SSLError:
                pass
            closed = "closed"
        while closed == "open" and time.monotonic() < deadline:
            if not s.recv(4096):
                closed = "closed"
                break
    except (socket.timeout, ssl.SSLError):
        pass
    except OSError:
        closed = "closed"
    print("%d of %d answered on one connection%s; %s after %.1f s" % (
        answered, args.requests, " (the last said close)" if said_close else "", closed,
        time.monotonic() - t0))
    s.close()


def hold(args):
    """Idle connections (no byte) and slowloris ones (a request line, then a
    header byte a second), from the given source addresses; reports how many
    the server closed."""
    n = args.idle + args.slow
    conns = {}
    refused = 0
    for i, src in enumerate(sources(args.sources, n)):
        try:
            s = connect(args.port, src)
        except OSError:
            refused += 1
            continue
        slow = i >= args.idle
        if slow:
            s.sendall(b"GET / HTTP/1.1\r\n")
        s.setblocking(False)
        conns[s.fileno()] = {"s": s, "slow": slow, "closed": False}
    start = time.monotonic()
    print("holding %d (%d not connected)" % (len(conns), refused), flush=True)
    poll = select.poll()
    for fd in conns:
        poll.register(fd, select.POLLIN)
    busy = 0
    next_drip = start + 1.0
    while time.monotonic() - start < args.seconds and any(not c["closed"] for c in conns.values()):
        if time.monotonic() >= next_drip:
            for c in conns.values():
                if c["slow"] and not c["closed"]:
                    try:
                        c["s"].send(b"X")
                    except OSError:
                        pass
            next_drip += 1.0
        for fd, _ in poll.poll(200):
            c = conns[fd]
            try:
                data = c["s"].recv(4096)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 503"):
                busy += 1
            c["closed"] = True
            poll.unregister(fd)
    closed = sum(1 for c in conns.values() if c["closed"])
    print("closed %d of %d after %.1f s (%d with 503)" % (closed, len(conns), time.monotonic() - start, busy))
    for c in conns.values():
        c["s"].close()


def partial_bodies(args):
    """N bodies of SIZE bytes announced, all but the last byte sent; prints the
    status each connection got back within the time given."""
    conns = []
    head = ("POST /x/git-upload-pack HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/x-git-upload-pack-request\r\n"
            "Content-Length: %d\r\n\r\n" % args.size).encode()
    for src in sources(args.sources, args.count):
        s = connect(args.port, src)
        s.sendall(head)
        s.setblocking(False)
        conns.append({"s": s, "left": args.size - 1, "status": None})
    block = b"\0" * 65536
    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        writers = [c["s"] for c in conns if c["left"] > 0 and c["status"] is None]
        readers = [c["s"] for c in conns if c["status"] is None]
        if not readers:
            break
        r, w, _ = select.select(readers, writers, [], 0.2)
        for c in conns:
            if c["s"] in w:
                try:
                    c["left"] -= c["s"].send(block[: min(len(block), c["left"])])
                except OSError:
                    c["status"] = "reset"
            if c["s"] in r:
                try:
                    data = c["s"].recv(4096)
                    c["status"] = data.split(b"\r\n")[0].decode() if data else "closed"
                except OSError:
                    c["status"] = "reset"
    if args.hold:
        print(" ".join(sorted(str(c["status"]) for c in conns)), flush=True)
        time.sleep(args.hold)
    else:
        print(" ".join(sorted(str(c["status"]) for c in conns)))
    for c in conns:
        c["s"].close()


def oversize(args):
    """A body announced over the cap, sent on regardless (as curl would, up to
    SENT bytes): the answer must still be readable."""
    s = connect(args.port, timeout=10)
    s.sendall(("POST /x/git-upload-pack HTTP/1.1\r\nHost: t\r\n"
               "Content-Type: application/x-git-upload-pack-request\r\n"
               "Content-Length: %d\r\n\r\n" % (40 << 20)).encode())
    block = b"\0" * 65536
    try:
        for _ in range(args.sent // len(block)):
            s.sendall(block)
    except OSError as e:
        pass  # the server stopped reading; what it said is still to be read
    data, how = read_response(s, time.monotonic() + 10)
    print(data.split(b"\r\n")[0].decode(errors="replace") or how)
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    print(body.decode(errors="replace").strip())


def exhaust(args):
    """Opens COUNT idle connections from the source addresses, holds them
    SECONDS, closes them; prints how many connected."""
    conns = []
    for src in sources(args.sources, args.count):
        try:
            conns.append(connect(args.port, src, timeout=1))
        except OSError:
            pass
    print("connected %d" % len(conns), flush=True)
    time.sleep(args.seconds)
    for s in conns:
        s.close()


def client_hello():
    """A real ClientHello, as Python's OpenSSL would send it first."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_hold(args):
    """TLS clients that stall: --partial ones send the record header and a
    part of a ClientHello, --stall ones a whole ClientHello and then never
    answer the server's; --garbage ones 0x16 and then what is not the start
of a ClientHello.
    Reports how many the server closed, and when."""
    hello = client_hello()
    kinds = ["partial"] * args.partial + ["stall"] * args.stall + ["garbage"] * args.garbage
    conns = {}
    refused = 0
    for kind, src in zip(kinds, sources(args.sources, len(kinds))):
        try:
            s = connect(args.port, src)
        except OSError:
            refused += 1
            continue
        if kind == "partial":
            s.sendall(hello[: 5 + 20])
        elif kind == "stall":
            s.sendall(hello)
        elif len(conns) % 2:
            s.sendall(b"\x16GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # not a TLS record
        else:
            s.sendall(b"\x16\x03\x01\x00\x40\x02" + b"junk" * 15 + b"\xff\xff\xff")  # not a ClientHello
        s.setblocking(False)
        conns[s.fileno()] = {"s": s, "kind": kind, "closed": None}
    start = time.monotonic()
    print("holding %d (%d not connected)" % (len(conns), refused), flush=True)
    poll = select.poll()
    for fd in conns:
        poll.register(fd, select.POLLIN)
    busy = 0
    while time.monotonic() - start < args.seconds and any(c["closed"] is None for c in conns.values()):
        for fd, _ in poll.poll(200):
            c = conns[fd]
            try:
                data = c["s"].recv(65536)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 503"):
                busy += 1  # refused before its first byte was looked at
            elif data:
                continue  # the server's half of the handshake; we never answer it
            c["closed"] = time.monotonic() - start
            poll.unregister(fd)
    for kind in ("partial", "stall", "garbage"):
        mine = [c for c in conns.values() if c["kind"] == kind]
        if not mine:
            continue
        closed = [c["closed"] for c in mine if c["closed"] is not None]
        print("%s: closed %d of %d, the last after %.1f s"
              % (kind, len(closed), len(mine), max(closed) if closed else 0.0))
    print("%d with 503" % busy)
    for c in conns.values():
        c["s"].close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("keepalive-closes")
    a.add_argument("port", type=int)
    a.add_argument("count", type=int)
    a.add_argument("--seconds", type=float, default=120)
    a.set_defaults(func=keepalive_closes)
    a = sub.add_parser("keepalive-idle")
    a.add_argument("port", type=int)
    a.add_argument("--requests", type=int, default=3)
    a.add_argument("--tls", action="store_true")
    a.add_argument("--version", default="HTTP/1.1")
    a.add_argument("--connection", default="")
    a.add_argument("--pipeline", action="store_true")
    a.add_argument("--size", type=int, default=0)
    a.add_argument("--half-close", action="store_true")
    a.add_argument("--big", default="")
    a.add_argument("--close-notify", action="store_true")
    a.add_argument("--seconds", type=float, default=30)
    a.set_defaults(func=keepalive_idle)
    a = sub.add_parser("hold")
    a.add_argument("port", type=int)
    a.add_argument("--idle", type=int, default=0)
    a.add_argument("--slow", type=int, default=0)
    a.add_argument("--sources", default="127.0.1.1-50")
    a.add_argument("--seconds", type=float, default=30)
    a.set_defaults(func=hold)
    a = sub.add_parser("partial-bodies")
    a.add_argument("port", type=int)
    a.add_argument("count", type=int)
    a.add_argument("size", type=int)
    a.add_argument("--sources", default="127.0.2.1-8")
    a.add_argument("--seconds", type=float, default=20)
    a.add_argument("--hold", type=float, default=0)
    a.set_defaults(func=partial_bodies)
    a = sub.add_parser("oversize")
    a.add_argument("port", type=int)
    a.add_argument("--sent", type=int, default=8 << 20)
    a.set_defaults(func=oversize)
    a = sub.add_parser("exhaust")
    a.add_argument("port", type=int)
    a.add_argument("count", type=int)
    a.add_argument("--sources", default="127.0.3.1-8")
    a.add_argument("--seconds", type=float, default=3)
    a.set_defaults(func=exhaust)
    a = sub.add_parser("tls-hold")
    a.add_argument("port", type=int)
    a.add_argument("--partial", type=int, default=0)
    a.add_argument("--stall", type=int, default=0)
    a.add_argument("--garbage", type=int, default=0)
    a.add_argument("--sources", default="127.0.5.1-10")
    a.add_argument("--seconds", type=float, default=20)
    a.set_defaults(func=tls_hold)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
