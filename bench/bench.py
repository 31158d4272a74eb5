#!/usr/bin/env python3
"""git-nearby's benchmark: git-nearby against git daemon and git http-backend
(behind lighttpd), on one repository, over loopback, in one run.

Every figure is a median over --rounds rounds; within a round the servers take
turns. Absolute times on a shared machine are noise: the ratios are the
figures. Server CPU is the CPU time of the server's whole process tree, reaped
children included; peak RSS is the largest sum of the tree's resident
sets, sampled every 20 ms."""

import argparse
import base64
import http.client
import os
import random
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SIZES = {  # commits, files, lines per file
    "small": (1500, 150, 80),
    "medium": (6000, 600, 120),
    "large": (20000, 2000, 150),
    "huge": (500000, 8, 4),  # a long history: see make_long_history
}
MERGE_EVERY = 50  # --size huge: a short side branch merged about every 50 commits


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def run(*argv, cwd=None, env=None):
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a deterministic repository of realistic shape -------------------------

WORDS = ("the of and to in is that for it as with was on be by this are or "
         "from at which but not have an they one all were can there been if "
         "more when will would who so no out up into than them only other new "
         "some could time these two may then first any my now such like our "
         "over man me even most made after also did many before must through "
         "years where much your way well down should because each just those "
         "people how too little state good very make world still own see men "
         "work long get here between both life being under never day same "
         "another know while last might us great old year off come since "
         "against go came right used take three").split()


def make_repo(path, size, seed=1):
    if size == "huge":
        make_long_history(path, *SIZES[size], seed=seed)
        return
    commits, nfiles, nlines = SIZES[size]
    rnd = random.Random(seed)

    def line():
        return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 12)))

    files = {f"src/mod{i // 50:03d}/file{i:05d}.txt": [line() for _ in range(nlines)]
             for i in range(nfiles)}
    run("git", "init", "-q", "--bare", "-b", "main", path)
    fi = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=path, stdin=subprocess.PIPE)
    out = fi.stdin
    when = 1600000000
    names = sorted(files)

    def blob(content):
        data = ("\n".join(content) + "\n").encode()
        out.write(b"data %d\n" % len(data) + data + b"\n")

    for c in range(commits):
        when += rnd.randint(60, 7200)
        changed = names if c == 0 else rnd.sample(names, rnd.randint(1, 4))
        for name in changed:
            if c > 0:
                content = files[name]
                for _ in range(rnd.randint(1, 6)):
                    i = rnd.randrange(len(content))
                    op = rnd.random()
                    if op < 0.5:
                        content[i] = line()
                    elif op < 0.8:
                        content.insert(i, line())
                    elif len(content) > 10:
                        del content[i]
        out.write(b"commit refs/heads/main\n")
        out.write(b"committer Bench <bench@example.invalid> %d +0000\n" % when)
        msg = f"change {c}: {line()}".encode()
        out.write(b"data %d\n" % len(msg) + msg + b"\n")
        for name in changed:
            out.write(f"M 100644 inline {name}\n".encode())
            blob(files[name])
        out.write(b"\n")
    out.close()
    if fi.wait() != 0:
        raise SystemExit("git fast-import failed")
    run("git", "repack", "-adf", "-q", cwd=path)
    run("git", "gc", "-q", "--prune=now", cwd=path)


def make_long_history(path, commits, nfiles, nlines, seed=1):
    """A long history on a small tree: commits in all on main (side branches
    included), each changing one line of one of nfiles short files, and about
    every MERGE_EVERY commits a merge of a side branch of 1 to 3 commits that
    forked 2 to 6 commits earlier and changed side.txt only, which main does
    not touch. Written by git fast-import, which deltifies each blob against
    the blob before it (so four commits in five change the file the one
    before changed) and each tree against its last version; then repacked
    once (reusing those deltas) with a bitmap, and a commit-graph, as git gc
    would write them."""
    rnd = random.Random(seed)
    words = WORDS

    def line():
        return " ".join(rnd.choice(words) for _ in range(rnd.randint(4, 8)))

    names = [f"file{i:02d}.txt" for i in range(nfiles)]
    files = {name: [line() for _ in range(nlines)] for name in names}
    side = [line() for _ in range(nlines)]
    name = names[0]
    run("git", "init", "-q", "--bare", "-b", "main", path)
    fi = subprocess.Popen(["git", "fast-import", "--quiet", "--depth=50"], cwd=path,
                          stdin=subprocess.PIPE, bufsize=1 << 20)
    chunks = []
    when = 1000000000
    mark = 0
    made = 0
    tips = []  # marks of main's last commits, to fork side branches from
    merge_at = MERGE_EVERY

    def data(text):
        raw = text.encode()
        return b"data %d\n%s\n" % (len(raw), raw)

    def commit(ref, parent, merge, msg, changes):
        nonlocal mark, when, made
        mark += 1
        made += 1
        when += rnd.randint(30, 3600)
        out = [b"commit %s\nmark :%d\ncommitter Bench <bench@example.invalid> %d +0000\n"
               % (ref, mark, when), data(msg)]
        if parent:
            out.append(b"from :%d\n" % parent)
        if merge:
            out.append(b"merge :%d\n" % merge)
        for name, content in changes:
            out.append(b"M 100644 inline %s\n" % name.encode())
            out.append(data("\n".join(content) + "\n"))
        out.append(b"\n")
        chunks.append(b"".join(out))
        if len(chunks) >= 2000:
            fi.stdin.write(b"".join(chunks))
            chunks.clear()
        return mark

    head = commit(b"refs/heads/main", 0, 0, "start",
                  [(n, files[n]) for n in names] + [("side.txt", side)])
    tips.append(head)
    while made < commits:
        if made >= merge_at and len(tips) > 6 and made + 4 <= commits:
            merge_at = made + rnd.randint(MERGE_EVERY * 3 // 4, MERGE_EVERY * 5 // 4)
            fork = tips[-rnd.randint(3, 7)]
            parent = fork
            for _ in range(rnd.randint(1, 3)):
                side[rnd.randrange(nlines)] = line()
                parent = commit(b"refs/heads/side", parent, 0, f"side {made}: {line()}",
                                [("side.txt", side)])
            head = commit(b"refs/heads/main", head, parent, f"Merge side {made}",
                          [("side.txt", side)])
        else:
            if rnd.random() < 0.2:  # mostly several commits in a row on one file
                name = rnd.choice(names)
            files[name][rnd.randrange(nlines)] = line()
            head = commit(b"refs/heads/main", head, 0, f"change {made}: {line()}",
                          [(name, files[name])])
        tips.append(head)
        if len(tips) > 16:
            del tips[:8]
    chunks.append(b"reset refs/heads/side\nfrom 0000000000000000000000000000000000000000\n\n")
    fi.stdin.write(b"".join(chunks))
    fi.stdin.close()
    if fi.wait() != 0:
        raise SystemExit("git fast-import failed")
    t = time.monotonic()
    run("git", "repack", "-adb", "-q", cwd=path)
    run("git", "commit-graph", "write", "--reachable", cwd=path)
    run("git", "prune-packed", cwd=path)
    log(f"repacked in {time.monotonic() - t:.0f} s")


# --- process trees ----------------------------------------------------------

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def cpu_seconds(pid):
    """CPU time of the tree: each live process's own, in nanoseconds (from
    the schedstat of each of its threads: /proc/PID/schedstat is the main
    thread's only), or its utime+stime if more (that counts threads that
    ended too, in clock ticks), plus its reaped children's (cutime+cstime,
    in clock ticks: the same resolution for every server, whose work is done
    by children)."""
    total = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            own_ns = 0
            for t in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{t}/schedstat") as f:
                        own_ns += int(f.read().split()[0])
                except OSError:
                    pass
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        total += max(own_ns / 1e9, (utime + stime) / TICK) + (cutime + cstime) / TICK
    return total


def rss_bytes(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def wait_idle(pid, limit=120.0):
    """Waits until the server's start is over (its walks ahead of the
    requests: git daemon has no start to speak of), as a server that has
    been up a while; returns (seconds, CPU seconds) it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        before = cpu_seconds(pid)
        time.sleep(0.3)
        if cpu_seconds(pid) - before < 0.005:
            break
    return time.monotonic() - t0, cpu_seconds(pid)


def settle(pid, limit=10.0):
    """Waits until the server has reaped every child of the last request."""
    end = time.monotonic() + limit
    while children(pid) and time.monotonic() < end:
        time.sleep(0.005)


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self.stop.wait(0.02)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


# --- the servers ------------------------------------------------------------

class Server:
    name = ""
    tls = False

    def url(self):
        raise NotImplementedError

    def git(self):
        """git's argv prefix for this server's URLs."""
        return ["git", "-c", "protocol.version=2"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def clear_cache(self):
        pass


class Nearby(Server):
    name = "git-nearby"

    def __init__(self, build, root, work):
        self.cache = os.path.join(work, "nearby-cache")
        port_file = os.path.join(work, "nearby.port")
        env = dict(os.environ, XDG_CACHE_HOME=self.cache)
        self.proc = subprocess.Popen(
            [os.path.join(build, "server", "git-nearby-serve"), "--bind", "127.0.0.1",
             "--port", "0", "--port-file", port_file, "--no-publish", "-v", root],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "nearby.log"), "w"))
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        else:
            raise SystemExit("git-nearby did not start")
        self.port = int(open(port_file).read())
        self.start = wait_idle(self.proc.pid)

    def url(self):
        return f"http://127.0.0.1:{self.port}/bench/main"

    def clear_cache(self):
        shutil.rmtree(os.path.join(self.cache, "git-nearby"), ignore_errors=True)


class NearbyTls(Server):
    """The same git-nearby server, reached over TLS on its one port, pinned
    the way git-remote-nearby pins it: http.<url>.pinnedPubkey with
    sslVerify off for that URL only."""
    name = "git-nearby TLS"
    tls = True

    def __init__(self, plain):
        self.plain = plain
        self.proc = plain.proc
        self.port = plain.port
        self.pin = pin_of(plain.port)

    def url(self):
        return f"https://127.0.0.1:{self.port}/bench/main"

    def git(self):
        return pinned(super().git(), self.url(), self.pin)

    def stop(self):
        pass  # the plain one's

    def clear_cache(self):
        self.plain.clear_cache()


def pinned(argv, url, pin):
    """argv (git's, from "git" on) for url as git-remote-nearby runs it:
    the pin, and no CA store to parse."""
    return ["env", "GIT_SSL_CAINFO=/dev/null", "GIT_SSL_CAPATH=/dev/null", *argv,
            "-c", f"http.{url}.pinnedPubkey={pin}", "-c", f"http.{url}.sslVerify=false"]


def pin_of(port):
    """The pin of the key the server at port shows, as openssl computes it."""
    cert = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=30).stdout
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=cert,
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der,
                            capture_output=True, check=True).stdout
    return "sha256//" + base64.b64encode(digest).decode()


class Daemon(Server):
    name = "git daemon"

    def __init__(self, root, work):
        self.port = free_port()
        # git-daemon itself, not the `git daemon` wrapper: its tree is the server's.
        self.proc = subprocess.Popen(
            [exec_path() + "/git-daemon", "--reuseaddr", "--export-all", f"--base-path={root}",
             "--listen=127.0.0.1", f"--port={self.port}", root],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"))
        wait_port(self.port)

    def url(self):
        return f"git://127.0.0.1:{self.port}/bench.git"


class HttpBackend(Server):
    """git http-backend behind lighttpd; with tls, over TLS (ECDSA P-256, as
    git-nearby's key) and reached the way git-nearby TLS is: pinned, no CA
    store. The TLS one is the fair baseline for what TLS costs a git server."""

    def __init__(self, root, work, tls=False):
        self.tls = tls
        self.name = "http-backend TLS" if tls else "http-backend"
        tag = "lighttpd-tls" if tls else "lighttpd"
        self.port = free_port()
        backend = exec_path() + "/git-http-backend"
        ssl_conf = ""
        if tls:
            pem = os.path.join(work, tag + ".pem")
            key = os.path.join(work, tag + ".key")
            run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", pem, "-days", "30", "-subj", "/CN=bench")
            with open(pem, "a") as out, open(key) as k:
                out.write(k.read())
            ssl_conf = f'ssl.engine = "enable"\nssl.pemfile = "{pem}"\n'
        conf = os.path.join(work, tag + ".conf")
        with open(conf, "w") as f:
            f.write(f"""
server.modules = ("mod_alias", "mod_setenv", "mod_cgi"{', "mod_openssl"' if tls else ''})
server.document-root = "{work}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = "{work}/{tag}.err"
server.max-request-size = 65536
{ssl_conf}alias.url = ("/git/" => "{backend}/")
$HTTP["url"] =~ "^/git/" {{
  cgi.assign = ("" => "")
  setenv.add-environment = ("GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "1")
}}
""")
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(work, tag + ".log"), "w"))
        wait_port(self.port)
        self.pin = pin_of(self.port) if tls else None

    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/git/bench.git"

    def git(self):
        return pinned(super().git(), self.url(), self.pin) if self.tls else super().git()


def exec_path():
    return subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                          check=True).stdout.strip()


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


# --- measurements -------------------------------------------------------------

def measured(server, action):
    """Runs action(); returns (wall seconds, server CPU seconds, peak RSS).
    The CPU of the clients it ran (git and its helpers, reaped) is left in
    measured.client."""
    pid = server.proc.pid
    settle(pid)
    cpu0 = cpu_seconds(pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with RssSampler(pid) as sampler:
        t0 = time.monotonic()
        action()
        wall = time.monotonic() - t0
        settle(pid)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured.client = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return wall, cpu_seconds(pid) - cpu0, sampler.peak


def clone(server, dest):
    run(*server.git(), "clone", "-q", "--bare", "--no-tags", server.url(), dest)


def pkt(line):
    data = line.encode()
    return b"%04x" % (len(data) + 4) + data


def fetch_request(tip):
    return (pkt("command=fetch\n") + pkt("agent=bench\n") + pkt("object-format=sha1\n") + b"0001"
            + pkt("thin-pack\n") + pkt("ofs-delta\n") + pkt("no-progress\n")
            + pkt(f"want {tip}\n") + pkt("done\n") + b"0000")


def until_pack(read):
    """Reads a v2 fetch response until the first pack byte; returns when."""
    buf = b""
    while True:
        chunk = read(65536)
        if not chunk:
            raise RuntimeError("response ended before the pack")
        buf += chunk
        if b"PACK" in buf:
            return time.monotonic()
        buf = buf[-8:]


# One client TLS context: the pin was checked by openssl, and making a
# context loads the CA store, which is the client's cost, not the server's.
CLIENT_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT_TLS.check_hostname = False
CLIENT_TLS.verify_mode = ssl.CERT_NONE


def connection(server, timeout):
    """An HTTP(S) connection to server, as its URLs say."""
    if server.tls:
        return http.client.HTTPSConnection("127.0.0.1", server.port, timeout=timeout,
                                           context=CLIENT_TLS)
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)


def first_byte(server, tip):
    """Seconds from sending a clone's fetch request to the first pack byte."""
    body = fetch_request(tip)
    if isinstance(server, Daemon):
        # From the connection, which starts upload-pack: over HTTP, the
        # request does.
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(pkt("git-upload-pack /bench.git\0host=127.0.0.1\0\0version=2\0"))
        # the capability advertisement ends with a flush
        buf = b""
        while not buf.endswith(b"0000"):
            buf += s.recv(4096)
        s.sendall(body)
        t1 = until_pack(s.recv)
        s.close()
        return t1 - t0
    path = server.url().split(str(server.port), 1)[1] + "/git-upload-pack"
    conn = connection(server, 120)
    t0 = time.monotonic()
    conn.request("POST", path, body, {"Git-Protocol": "version=2",
                                      "Content-Type": "application/x-git-upload-pack-request"})
    resp = conn.getresponse()
    t1 = until_pack(resp.read1)
    conn.close()
    return t1 - t0


def page_requests(server, count):
    """count sequential GET / requests, each on a new connection (git-nearby
    answers every request with Connection: close): the cost of a connection,
    and over TLS of a full handshake."""
    for _ in range(count):
        conn = connection(server, 30)
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status != 200:
            raise SystemExit(f"GET / from {server.name}: {resp.status}")


def git_out(*argv):
    return subprocess.run(["git", *argv], capture_output=True, text=True, check=True).stdout.strip()


def move_tip(bare, tip, serial):
    """Commits on main in the served repository: a new commit on top of
    tip (the run's main), with tip's tree and a message of its own, so that
    every move is a new tip, one commit ahead of the last one the servers
    saw. Returns the new commit."""
    new = subprocess.run(["git", "-C", bare, "commit-tree", tip + "^{tree}", "-p", tip, "-m",
                          f"tip move {serial}"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, GIT_COMMITTER_DATE=f"{2000000000 + serial} +0000",
                                  GIT_AUTHOR_DATE=f"{2000000000 + serial} +0000")).stdout.strip()
    run("git", "-C", bare, "update-ref", "refs/heads/main", new, tip)
    return new


def post(server, body, deadline):
    """One raw protocol v2 request to server's upload-pack, over HTTP, read
    up to the first pack byte or the end of the answer; returns its bytes."""
    path = server.url().split(str(server.port), 1)[1] + "/git-upload-pack"
    conn = connection(server, deadline)
    try:
        conn.request("POST", path, body, {"Git-Protocol": "version=2",
                                          "Content-Type": "application/x-git-upload-pack-request"})
        resp = conn.getresponse()
        buf = b""
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            buf += chunk
            if b"PACK" in buf:
                break
        if resp.status != 200:
            raise RuntimeError(f"{server.name}: {resp.status}")
        return buf
    finally:
        conn.close()


def negotiation_requests(tip, since, have_one, haves):
    """Two negotiation-heavy fetches: deepen-since (a walk over every commit
    newer than since; the client has have_one, so the pack is small), and
    5,000 have lines without done (the server checks them all and decides
    whether it can give up)."""
    head = (pkt("command=fetch\n") + pkt("agent=bench\n") + pkt("object-format=sha1\n") + b"0001"
            + pkt("thin-pack\n") + pkt("ofs-delta\n") + pkt("no-progress\n") + pkt(f"want {tip}\n"))
    deepen = head + pkt(f"have {have_one}\n") + pkt(f"deepen-since {since}\n") + pkt("done\n") + b"0000"
    many = head + b"".join(pkt(f"have {h}\n") for h in haves) + b"0000"
    return deepen, many


def latency_under_load(server, path, loads, count):
    """GET path count times, each on a new connection, while each body in
    loads is POSTed in a loop of its own; returns the latencies (ms) and
    how many load requests were answered meanwhile."""
    stop = threading.Event()
    answered = [0] * len(loads)
    errors = []

    def loop(i, body):
        while not stop.is_set():
            try:
                post(server, body, 120)
                answered[i] += 1
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))
                stop.wait(0.05)

    threads = [threading.Thread(target=loop, args=(i, b), daemon=True) for i, b in enumerate(loads)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # the load requests are on their way
    times = []
    try:
        for _ in range(count):
            conn = connection(server, 60)
            t0 = time.monotonic()
            conn.request("GET", path, headers={"Git-Protocol": "version=2"})
            resp = conn.getresponse()
            resp.read()
            times.append((time.monotonic() - t0) * 1000)
            conn.close()
            if resp.status != 200:
                raise SystemExit(f"GET {path} from {server.name}: {resp.status}")
            time.sleep(0.002)
    finally:
        stop.set()
        for t in threads:
            t.join(130)
    if errors:
        log(f"{server.name}: {len(errors)} load requests failed, e.g. {errors[0]}")
    return times, answered


def send_floor(size, pem, key, rounds=5):
    """The least CPU any server pays to send size bytes over loopback: a
    thread writing them from memory in 1 MiB blocks, over plain TCP and
    over TLS (Python's ssl, that is OpenSSL, with the ECDSA P-256 key of
    http-backend TLS), each sender's own CPU (user and system). Medians of
    rounds; returns (plain seconds, TLS seconds, TLS cipher)."""
    data = memoryview(os.urandom(1 << 20))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pem, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    out = {"plain": [], "tls": []}
    cipher = ""
    for _ in range(rounds):
        for kind in ("plain", "tls"):
            listener = socket.create_server(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            spent = []

            def sender():
                conn, _ = listener.accept()
                t0 = time.thread_time()
                if kind == "tls":
                    conn = server_ctx.wrap_socket(conn, server_side=True)
                left = size
                while left > 0:
                    n = min(left, len(data))
                    conn.sendall(data[:n])
                    left -= n
                spent.append(time.thread_time() - t0)
                conn.close()

            thread = threading.Thread(target=sender)
            thread.start()
            sock = socket.create_connection(("127.0.0.1", port), 30)
            if kind == "tls":
                sock = client_ctx.wrap_socket(sock)
                cipher = sock.cipher()[0]
            got = 0
            while got < size:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
            sock.close()
            thread.join(60)
            listener.close()
            if got != size or not spent:
                raise SystemExit(f"the {kind} floor transfer failed")
            out[kind].append(spent[0])
    return statistics.median(out["plain"]), statistics.median(out["tls"]), cipher


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", help="benchmark this repository's HEAD branch (it is not changed)")
    ap.add_argument("--size", choices=SIZES, default="medium",
                    help="size of the generated repository (default medium)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds to take medians over (default 5)")
    ap.add_argument("--concurrent", type=int, default=6, help="clones at once (default 6)")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"), help="git-nearby build dir")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--lan", choices=("yes", "no", "only"), default="yes",
                    help="the LAN section on simulated hosts (needs root): yes (default), no, "
                         "or only")
    ap.add_argument("--many-repos", action="store_true",
                    help="only this: 1,000 repositories with 100 advertised branches each, the "
                         "time until git-nearby serves them all and its idle RSS then")
    args = ap.parse_args()
    if args.many_repos:
        # The README's "1,000 repositories with 100 advertised branches" read
        # both ways: 100 in all, and 100 in each.
        many_repos(args, 1000, 1, 100)
        print()
        many_repos(args, 1000, 100, 1000)
        return
    if args.lan != "no" and os.geteuid() != 0:
        if args.lan == "only":
            raise SystemExit("the LAN section needs root: it makes network namespaces")
        log("the LAN section needs root (network namespaces): left out")
        args.lan = "no"
    if args.lan == "only":
        lan_section(args)
        return

    work = tempfile.mkdtemp(prefix="nearby-bench.")
    root = os.path.join(work, "root")
    os.makedirs(root)
    bare = os.path.join(root, "bench.git")
    env_home = os.path.join(work, "home")
    os.makedirs(env_home)
    os.environ.update(HOME=env_home, GIT_CONFIG_NOSYSTEM="1", XDG_CONFIG_HOME=env_home)
    run("git", "config", "--global", "user.name", "Bench")
    run("git", "config", "--global", "user.email", "bench@example.invalid")

    t = time.monotonic()
    if args.repo:
        head = subprocess.run(["git", "-C", args.repo, "symbolic-ref", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        run("git", "clone", "-q", "--bare", "--single-branch", "-b", head, args.repo, bare)
        run("git", "-C", bare, "branch", "-m", head, "main")
        run("git", "-C", bare, "symbolic-ref", "HEAD", "refs/heads/main")
        what = args.repo
    else:
        log(f"making a {args.size} repository ...")
        make_repo(bare, args.size)
        what = f"generated, {args.size}"
    run("git", "-C", bare, "config", "branch.main.nearby", "bench/main")
    run("git", "-C", bare, "update-ref", "refs/heads/base", "main~5")
    tip = subprocess.run(["git", "-C", bare, "rev-parse", "main"], capture_output=True, text=True,
                         check=True).stdout.strip()
    count = subprocess.run(["git", "-C", bare, "count-objects", "-v"], capture_output=True,
                           text=True, check=True).stdout
    commits = subprocess.run(["git", "-C", bare, "rev-list", "--count", "main"], capture_output=True,
                             text=True, check=True).stdout.strip()
    pack_kib = [l for l in count.splitlines() if l.startswith("size-pack")][0].split()[1]
    log(f"repository ready in {time.monotonic() - t:.0f} s: {commits} commits, {pack_kib} KiB packed")

    # The client's starting point for incremental fetches: main~5.
    base = os.path.join(work, "base.git")
    run("git", "clone", "-q", "--bare", "--no-local", "--single-branch", "-b", "base",
        "file://" + bare, base)

    # Negotiation load: deepen-since half the history back (the client has
    # main~10), and the first 5,000 commits of main~10's history as haves.
    since = int(git_out("-C", bare, "log", "-1", "--format=%ct", f"main~{int(commits) // 2}"))
    have_one = git_out("-C", bare, "rev-parse", "main~10")
    haves = git_out("-C", bare, "rev-list", "--max-count=5000", "main~10").split()
    loads = negotiation_requests(tip, since, have_one, haves)
    moves = 0

    # Each started at once; those started are stopped if a later one fails
    # to start (lighttpd missing, say), as they are at the end.
    servers = []
    try:
        nearby = Nearby(args.build, root, work)
        servers.append(nearby)
        for make in (lambda: NearbyTls(nearby), lambda: Daemon(root, work),
                     lambda: HttpBackend(root, work), lambda: HttpBackend(root, work, tls=True)):
            servers.append(make())
    except BaseException:
        for s in servers:
            s.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        raise
    results = {s.name: {} for s in servers}

    def record(server, key, value):
        results[server.name].setdefault(key, []).append(value)

    try:
        for rnd in range(args.rounds):
            log(f"round {rnd + 1} of {args.rounds}")
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for s in order:
                s.clear_cache()
                d = os.path.join(work, "c")
                shutil.rmtree(d, ignore_errors=True)
                wall, cpu, rss = measured(s, lambda: clone(s, d))
                record(s, "clone wall", wall)
                record(s, "clone cpu", cpu)
                record(s, "peak rss", rss / 2**20)
                shutil.rmtree(d)
                wall, cpu, _ = measured(s, lambda: clone(s, d))
                record(s, "repeat wall", wall)
                record(s, "repeat cpu", cpu)
                shutil.rmtree(d)

                inc = os.path.join(work, "inc.git")
                shutil.rmtree(inc, ignore_errors=True)
                shutil.copytree(base, inc, symlinks=True)
                wall, cpu, _ = measured(s, lambda: run(*s.git(), "-C", inc, "fetch", "-q", s.url(),
                                                       "+HEAD:refs/heads/base"))
                record(s, "fetch wall", wall)
                record(s, "fetch cpu", cpu)
                record(s, "fetch client cpu", measured.client)
                shutil.rmtree(inc)

                s.clear_cache()
                record(s, "first byte", first_byte(s, tip))

                if isinstance(s, (Nearby, NearbyTls)):
                    n = 300
                    wall, cpu, _ = measured(s, lambda: page_requests(s, n))
                    record(s, "page wall", wall / n * 1000)
                    record(s, "page cpu", cpu / n * 1000)

                dests = [os.path.join(work, f"cc{i}") for i in range(args.concurrent)]

                def concurrent():
                    procs = [subprocess.Popen([*s.git(), "clone", "-q",
                                               "--bare", "--no-tags", s.url(), d],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                             for d in dests]
                    if any(p.wait() != 0 for p in procs):
                        raise SystemExit(f"a concurrent clone from {s.name} failed")
                s.clear_cache()
                wall, cpu, rss = measured(s, concurrent)
                record(s, "concurrent wall", wall)
                record(s, "concurrent cpu", cpu)
                record(s, "concurrent rss", rss / 2**20)
                for d in dests:
                    shutil.rmtree(d)

                if s.name in ("git-nearby", "http-backend"):
                    path = "/" if s.name == "git-nearby" else \
                        "/git/bench.git/info/refs?service=git-upload-pack"
                    times, _ = latency_under_load(s, path, [], 300)
                    record(s, "idle p50", percentile(times, 50))
                    record(s, "idle p99", percentile(times, 99))
                    times, answered = latency_under_load(s, path, loads, 300)
                    record(s, "load p50", percentile(times, 50))
                    record(s, "load p99", percentile(times, 99))
                    record(s, "load deepen", answered[0])
                    record(s, "load haves", answered[1])

            # Last in the round, as it moves main: each server right after
            # its own tip move, from a client 5 commits behind the old tip
            # (6 behind the new one). Before it, an untimed fetch of the
            # current tip, as a client that fetches often would have made;
            # after it, main goes back, so that every move is a fast-forward
            # by one commit and the next round's measures see the same main.
            for s in order:
                warm = os.path.join(work, "warm.git")
                inc = os.path.join(work, "inc.git")
                for d in (warm, inc):
                    shutil.rmtree(d, ignore_errors=True)
                    shutil.copytree(base, d, symlinks=True)
                run(*s.git(), "-C", warm, "fetch", "-q", s.url(), "+HEAD:refs/heads/base")
                moves += 1
                new = move_tip(bare, tip, moves)
                wall, cpu, _ = measured(s, lambda: run(*s.git(), "-C", inc, "fetch", "-q", s.url(),
                                                       "+HEAD:refs/heads/base"))
                got = git_out("-C", inc, "rev-parse", "refs/heads/base")
                run("git", "-C", bare, "update-ref", "refs/heads/main", tip, new)
                if got != new:
                    raise SystemExit(f"{s.name} sent {got}, not the new tip {new}")
                record(s, "moved wall", wall)
                record(s, "moved cpu", cpu)
                shutil.rmtree(inc)
                shutil.rmtree(warm)
            # git-nearby keeps the reach set of each branch's last tip: let
            # it see main again, untimed, as the round began.
            warm = os.path.join(work, "warm.git")
            shutil.copytree(base, warm, symlinks=True)
            run(*nearby.git(), "-C", warm, "fetch", "-q", nearby.url(), "+HEAD:refs/heads/base")
            shutil.rmtree(warm)
        floor = send_floor(int(pack_kib) * 1024, os.path.join(work, "lighttpd-tls.pem"),
                           os.path.join(work, "lighttpd-tls.key"))
    finally:
        for s in servers:
            s.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")

    rows = [
        ("full clone, wall (s)", "clone wall"),
        ("full clone, server CPU (s)", "clone cpu"),
        ("repeated clone, wall (s)", "repeat wall"),
        ("repeated clone, server CPU (s)", "repeat cpu"),
        ("incremental fetch (5 commits), wall (s)", "fetch wall"),
        ("incremental fetch, server CPU (s)", "fetch cpu"),
        ("incremental fetch, client CPU (s)", "fetch client cpu"),
        (f"{args.concurrent} concurrent clones, wall (s)", "concurrent wall"),
        (f"{args.concurrent} concurrent clones, server CPU (s)", "concurrent cpu"),
        ("request to first pack byte (s)", "first byte"),
        ("GET / on a new connection, wall (ms)", "page wall"),
        ("GET / on a new connection, server CPU (ms)", "page cpu"),
        ("server peak RSS, one clone (MiB)", "peak rss"),
        (f"server peak RSS, {args.concurrent} clones (MiB)", "concurrent rss"),
        ("fetch right after the tip moved (6 commits behind), wall (s)", "moved wall"),
        ("fetch right after the tip moved, server CPU (s)", "moved cpu"),
        ("page, idle, p50 (ms)", "idle p50"),
        ("page, idle, p99 (ms)", "idle p99"),
        ("page during deepen-since + 5,000-have fetches, p50 (ms)", "load p50"),
        ("page during deepen-since + 5,000-have fetches, p99 (ms)", "load p99"),
        ("deepen-since fetches answered meanwhile (count)", "load deepen"),
        ("5,000-have fetches answered meanwhile (count)", "load haves"),
    ]
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    uname = os.uname()
    print(f"git-nearby benchmark, {time.strftime('%Y-%m-%d')}, {uname.sysname} {uname.machine}, "
          f"{os.cpu_count()} cores; repository: {what}, {commits} commits, {pack_kib} KiB packed; "
          f"medians of {args.rounds} rounds\n")
    print("git-nearby serves plain HTTP and TLS on one port; \"TLS\" is the same server reached "
          "over https with the key pinned, as nearby:// remotes reach it; http-backend TLS is "
          "lighttpd with an ECDSA P-256 certificate, reached the same way.\n")
    print("\"page\": 300 requests on a new connection each, for git-nearby GET /, for "
          "http-backend (the baseline) GET info/refs?service=git-upload-pack (protocol v2), idle "
          "and while the same server answers two loops of raw v2 fetches: deepen-since "
          f"{since} (half of main's history newer; the client has main~10) and 5,000 have lines "
          "(main~10's history, no done).\n")
    print("| measure | git-nearby | git-nearby TLS | git daemon | http-backend | http-backend TLS "
          "| nearby / daemon | TLS / daemon | nearby / http-backend | TLS / http-backend TLS "
          "| TLS / plain |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, key in rows:
        n, t, d, h, ht = (med[name].get(key)
                          for name in ("git-nearby", "git-nearby TLS", "git daemon", "http-backend",
                                       "http-backend TLS"))

        def ratio(a, b):
            return f"{a / b:.2f}" if a is not None and b else "n/a"

        def value(a):
            if a is None:
                return "n/a"
            return f"{a:.0f}" if key in ("load deepen", "load haves") else f"{a:.3f}"
        print(f"| {label} | {value(n)} | {value(t)} | {value(d)} | {value(h)} | {value(ht)} "
              f"| {ratio(n, d)} | {ratio(t, d)} | {ratio(n, h)} | {ratio(t, ht)} | {ratio(t, n)} |")
    daemon_repeat = med["git daemon"].get("repeat cpu")
    plain_floor, tls_floor, cipher = floor
    print(f"\nThe floor: sending the {int(pack_kib) / 1024:.1f} MiB a clone gets, from memory in "
          f"1 MiB writes, costs the sender {plain_floor:.3f} s of CPU over TCP and "
          f"{tls_floor:.3f} s over TLS ({cipher}, Python's ssl with OpenSSL), "
          f"{plain_floor / daemon_repeat:.2f} and {tls_floor / daemon_repeat:.2f} of git "
          "daemon's repeated clone: no server can go below that here.")
    start_wall, start_cpu = nearby.start
    print(f"\ngit-nearby's start (it walks each advertised branch's history ahead of the requests) "
          f"took {start_wall:.1f} s and {start_cpu:.3f} s of CPU; the measures begin after it.")
    if args.lan == "yes":
        print()
        lan_section(args)


def many_repos(args, repos, branches, opted):
    """repos repositories under one directory, each with branches branches,
    all of them opted in (branch.<b>.nearby = true) in the first opted
    repositories: the time from starting git-nearby
    serve until GET /?format=json lists every branch, and the server's RSS
    after 2 s idle then (and when it wrote its port file, before any
    request). Medians of --rounds starts, after one start on an empty
    directory that makes the server's identity."""
    import json
    work = tempfile.mkdtemp(prefix="nearby-bench.")
    home = os.path.join(work, "home")
    os.makedirs(home)
    os.environ.update(HOME=home, GIT_CONFIG_NOSYSTEM="1", XDG_CONFIG_HOME=home)
    root = os.path.join(work, "root")
    empty = os.path.join(work, "empty")
    os.makedirs(root)
    os.makedirs(empty)
    t = time.monotonic()
    tmpl = os.path.join(work, "template.git")
    run("git", "init", "-q", "--bare", "-b", "b000", tmpl)
    shutil.rmtree(os.path.join(tmpl, "hooks"), ignore_errors=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
               GIT_AUTHOR_DATE="1600000000 +0000", GIT_COMMITTER_DATE="1600000000 +0000")
    tree = subprocess.run(["git", "-C", tmpl, "mktree"], input="", capture_output=True, text=True,
                          check=True).stdout.strip()
    commit = subprocess.run(["git", "-C", tmpl, "commit-tree", tree, "-m", "start"], env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    names = [f"b{i:03d}" for i in range(branches)]
    with open(os.path.join(tmpl, "packed-refs"), "w") as f:
        f.write("# pack-refs with: peeled fully-peeled sorted \n")
        f.writelines(f"{commit} refs/heads/{b}\n" for b in names)
    for i in range(repos):
        shutil.copytree(tmpl, os.path.join(root, f"r{i:04d}.git"), symlinks=True)
        if i < opted:
            with open(os.path.join(root, f"r{i:04d}.git", "config"), "a") as f:
                f.writelines(f'[branch "{b}"]\n\tnearby = true\n' for b in names)
    want = opted * branches
    log(f"{repos} repositories with {branches} branches each, {want} opted in, made in "
        f"{time.monotonic() - t:.1f} s")
    serve = os.path.join(args.build, "server", "git-nearby-serve")
    port_file = os.path.join(work, "port")
    results = {"port": [], "all": [], "rss port": [], "rss idle": [], "json": []}

    def rss_kib(pid):
        with open(f"/proc/{pid}/status") as f:
            return int([l for l in f if l.startswith("VmRSS:")][0].split()[1])

    def start(directory):
        if os.path.exists(port_file):
            os.unlink(port_file)
        t0 = time.monotonic()
        proc = subprocess.Popen([serve, "--bind", "127.0.0.1", "--port", "0", "--port-file",
                                 port_file, "--no-publish", directory],
                                env=dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache")),
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(work, "serve.log"), "a"))
        end = t0 + 120
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.monotonic() > end or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"git-nearby serve did not start (see {work}/serve.log)")
            time.sleep(0.005)
        return proc, t0, time.monotonic() - t0

    try:
        proc, _, _ = start(empty)
        proc.terminate()
        proc.wait(10)
        for rnd in range(args.rounds):
            log(f"round {rnd + 1} of {args.rounds}")
            proc, t0, port_s = start(root)
            try:
                rss_port = rss_kib(proc.pid)
                port = int(open(port_file).read())
                end = t0 + 120
                while True:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    t1 = time.monotonic()
                    conn.request("GET", "/?format=json")
                    resp = conn.getresponse()
                    listed = json.loads(resp.read())
                    conn.close()
                    if len(listed) >= want or time.monotonic() > end:
                        break
                    time.sleep(0.05)
                done = time.monotonic()
                if len(listed) != want:
                    raise SystemExit(f"GET /?format=json lists {len(listed)} branches, not {want}")
                time.sleep(2)
                results["port"].append(port_s)
                results["all"].append(done - t0)
                results["json"].append(done - t1)
                results["rss port"].append(rss_port / 1024)
                results["rss idle"].append(rss_kib(proc.pid) / 1024)
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    uname = os.uname()
    print(f"git-nearby benchmark, {time.strftime('%Y-%m-%d')}, {uname.sysname} {uname.machine}, "
          f"{os.cpu_count()} cores; {repos:,} repositories of {branches} branches in one "
          f"directory, {want:,} branches advertised (all of {opted:,} repositories'), git nearby serve --no-publish; medians of "
          f"{args.rounds} starts\n")
    print("| measure | git-nearby |")
    print("|---|---:|")
    for label, key, fmt in (
            ("start to port file written (s)", "port", "{:.2f}"),
            (f"start to GET /?format=json listing all {want:,} branches (s)", "all", "{:.2f}"),
            ("of which that GET / (s)", "json", "{:.2f}"),
            ("RSS when the port file is written (MiB)", "rss port", "{:.1f}"),
            ("RSS 2 s idle after the listing (MiB)", "rss idle", "{:.1f}")):
        print(f"| {label} | {fmt.format(statistics.median(results[key]))} |")


def lan_section(args):
    """bench/lan.sh: nearby:// against the direct URL on simulated hosts."""
    sys.stdout.flush()
    done = subprocess.run(["bash", os.path.join(HERE, "lan.sh"), args.build,
                           str(max(args.rounds, 9))])
    if done.returncode != 0:
        raise SystemExit(f"the LAN section failed ({done.returncode})")


if __name__ == "__main__":
    main()
