"""Headless Chromium driven through the DevTools protocol, with nothing but
the Python standard library (a minimal WebSocket client, RFC 6455).

For pages that must run in real time (polls 2 s apart), where
--virtual-time-budget would run their timers at once:

    with Browser(tmp) as b:                # chromium --headless=new ... about:blank
        b.open("http://127.0.0.1:8080/dashboard", width=1200, height=900)
        time.sleep(7)                      # the page polls in real time
        html = b.evaluate("document.documentElement.outerHTML")
        open("shot.png", "wb").write(b.screenshot())

Chromium runs as root only with --no-sandbox (given).  Raises RuntimeError
when Chromium does not start or the protocol answers an error.
"""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time


class _WebSocket:
    def __init__(self, url, timeout=60):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)$", url)
        if not m:
            raise RuntimeError(f"not a ws:// URL: {url}")
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("DevTools closed the connection during the handshake")
            head += chunk
        head, self.rest = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"DevTools refused the WebSocket: {head[:200]!r}")

    def _read(self, n):
        while len(self.rest) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("DevTools closed the connection")
            self.rest += chunk
        out, self.rest = self.rest[:n], self.rest[n:]
        return out

    def send(self, text):
        data = text.encode()
        n = len(data)
        head = bytes([0x81])  # FIN, text
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """The next text message (fragments joined; pings ignored)."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            op = b0 & 0x0F
            if op == 8:
                raise RuntimeError("DevTools closed the WebSocket")
            if op in (9, 10):
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self):
        self.sock.close()


class Browser:
    def __init__(self, tmp, chromium=None):
        self.tmp = tmp
        self.chromium = chromium or shutil.which("chromium")
        self.proc = self.ws = None
        self.next_id = 0

    def __enter__(self):
        profile = os.path.join(self.tmp, f"chromium-{time.monotonic_ns()}")
        self.log = open(os.path.join(self.tmp, "chromium.log"), "wb+")
        self.proc = subprocess.Popen(
            [self.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.log,
            env={"PATH": "/usr/bin:/bin", "HOME": self.tmp, "LANG": "C.UTF-8"})
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited {self.proc.returncode}: {self._log()}")
            m = re.search(rb"DevTools listening on ws://[^:]+:(\d+)/", open(self.log.name, "rb").read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        if not port:
            raise RuntimeError(f"chromium did not start its DevTools server: {self._log()}")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/json/list")
        pages = [t for t in json.loads(c.getresponse().read()) if t.get("type") == "page"]
        c.close()
        if not pages:
            raise RuntimeError("chromium has no page target")
        self.ws = _WebSocket(pages[0]["webSocketDebuggerUrl"])
        return self

    def _log(self):
        return open(self.log.name, "rb").read().decode(errors="replace")[-1500:]

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def open(self, url, width=1200, height=900):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.navigate", url=url)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self):
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def __exit__(self, *exc):
        if self.ws:
            self.ws.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return False
