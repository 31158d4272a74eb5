#!/usr/bin/env python3
"""Loads URL in headless Chromium at each WIDTH and reports whether anything
overflows sideways (the page's scroll width beyond the device's), talking
the DevTools protocol over a pipe (--remote-debugging-pipe: no port, no
network beyond the URL). Saves a screenshot per width as PREFIX-WIDTH.png.

    layout.py URL PREFIX WIDTH...

Prints one line per width, "390 ok 390/390" or "390 overflow 612/390", and
exits 1 if any overflows, 2 if Chromium cannot be driven."""

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TIMEOUT = 20.0  # seconds for any one answer


class Chromium:
    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="nearby-chromium.")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # Out of the way of 3 and 4 (and under 10: sh takes one digit) before
        # the shell moves them there.
        for name in ("to_child_r", "from_child_w"):
            fd = locals()[name]
            high = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
            os.close(fd)
            if name == "to_child_r":
                to_child_r = high
            else:
                from_child_w = high
        # The protocol is on the child's fds 3 (in) and 4 (out).
        redirect = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        # A session of its own, so that close() ends every process Chromium
        # started, and its temporary files in the profile: nothing is left.
        self.proc = subprocess.Popen(
            ["sh", "-c", redirect, binary, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w), start_new_session=True,
            env=dict(os.environ, TMPDIR=self.profile))
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.buffer = b""

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self.next_id)

    def wait(self, match):
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if match(message):
                    if "error" in message:
                        raise RuntimeError(message["error"])
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.from_child, 65536)
            if not chunk:
                raise RuntimeError("Chromium exited")
            self.buffer += chunk

    def close(self):
        """Asks Chromium to quit, then ends what is left of its process
        group (all of it started here), then removes its profile."""
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for _ in range(50):
            self.proc.poll()  # ours to reap; the rest of the group is init's
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    url, outdir, widths = sys.argv[1], sys.argv[2], [int(w) for w in sys.argv[3:]]
    binary = next((b for b in ("chromium", "chromium-browser") if
                   subprocess.run(["sh", "-c", f"command -v {b}"], capture_output=True).returncode == 0),
                  None)
    if binary is None:
        print("chromium is not installed")
        return 2
    browser = Chromium(binary)
    overflow = False
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
        session = browser.send("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["result"]["sessionId"]
        browser.send("Page.enable", session=session)
        for width in widths:
            browser.send("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": 900, "deviceScaleFactor": 1,
                          "mobile": width < 600}, session=session)
            browser.send("Page.navigate", {"url": url}, session=session)
            browser.wait(lambda m: m.get("method") == "Page.loadEventFired")
            value = browser.send("Runtime.evaluate", {
                "expression": "[document.documentElement.scrollWidth, window.innerWidth]",
                "returnByValue": True}, session=session)["result"]["result"]["value"]
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
            with open(f"{outdir}-{width}.png", "wb") as f:
                f.write(base64.b64decode(shot["result"]["data"]))
            # Against the device's width: a page without a viewport tag is
            # laid out 980 px wide on a phone, and that is an overflow too.
            scroll, inner = value
            ok = scroll <= width and inner <= width
            overflow |= not ok
            print(f"{width} {'ok' if ok else 'overflow'} {max(scroll, inner)}/{width}")
    except (RuntimeError, TimeoutError, KeyError, OSError) as e:
        print(f"cannot drive chromium: {e}")
        return 2
    finally:
        browser.close()
    return 1 if overflow else 0


if __name__ == "__main__":
    sys.exit(main())
