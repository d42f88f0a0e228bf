#!/usr/bin/python3
"""`ridepred serve`, the local invoke endpoint (issue 5, docs/serve.md).

Starts `ridepred serve --listen 127.0.0.1:<free port>` with the course's
MLflow model (RUN_ID=Test123, TEST_RUN=True) and checks it answers as the
Lambda container image does for the course's test_docker.py:

  - the course event -> exactly the course's expected response;
  - function errors (InvalidEvent, ...) -> 200, X-Amz-Function-Error:
    Unhandled, the body `ridepred invoke` prints;
  - a 6 MiB body is served, 6 MiB + 1 gets 413 (Content-Length, Expect:
    100-continue, chunked), and the server stays healthy;
  - 404 for other paths, 405 for other methods, /healthz, /metrics parsed
    as Prometheus text with counters equal to what was sent;
  - 50 concurrent keep-alive clients x 20 events: every answer equals
    `ridepred invoke`'s for the same event;
  - a slow client and too many connections do not block the others; idle
    connections time out; oversized headers are refused;
  - issue 11: one client holding 1,024 connections that each send a header
    line every 2 s leaves /healthz answering within 1 s (>= 9 of 10 probes
    from another client address), its heads are cut at the 10 s deadline;
    slow heads and bodies get 408; the per-client connection cap;
  - framing errors (conflicting or malformed Content-Length, Content-Length
    with Transfer-Encoding, 2^64, -5, bare LF, ...) answered with exactly one
    response, a JSON body, and the connection closed, read from raw bytes;
  - SIGTERM: the request in flight completes, exit 0, a summary is logged;
  - bad options and a port in use: clear errors, exit 2 / 3.

Environment: RIDEPRED_BIN, RIDEPRED_FIXTURES_DIR (CTest sets them).
Without the binary or the fixtures it prints SKIP and exits 77, except
when CI is set: then it fails.  RIDEPRED_TEST_ONLY=TEXT runs only the tests
whose name contains TEXT.  Prints "N passed, N failed"; exits 1 on failure.
"""

import base64
import errno
import http.client
import json
import math
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

SRC, BIN, FIXTURES = rptest.SRC, rptest.BIN, rptest.FIXTURES
MODEL = os.path.join(FIXTURES, "course-model")
COURSE_EVENT = os.path.join(FIXTURES, "events", "course-event.json")
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LIMIT = 6 * 1024 * 1024

# The course's tests/test_docker.py expectation.
EXPECTED = {"predictions": [{"model": "ride_duration_prediction_model", "version": "Test123",
                             "prediction": {"ride_duration": 21.294545348333408, "ride_id": 256}}]}
EXPECTED_BYTES = json.dumps(EXPECTED).encode()


def check_prerequisites():
    rptest.need_bin()
    rptest.need_fixtures(os.path.join("course-model", "MLmodel"), os.path.join("events", "course-event.json"))


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def base_env(tmp, **extra):
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8", "RUN_ID": "Test123",
           "TEST_RUN": "True", "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "must-stay-unused.db")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


class Server:
    """A `ridepred serve` process on 127.0.0.1:<free port>."""

    def __init__(self, tmp, args=(), env=None, host="127.0.0.1"):
        self.tmp, self.host = tmp, host
        self.port = free_port()
        bracket = f"[{host}]" if ":" in host else host
        self.log = os.path.join(tmp, f"serve-{self.port}.log")
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", f"{bracket}:{self.port}", "--model", MODEL]
                                     + list(args), stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=env or base_env(tmp))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "serving" in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.output()[-2000:]}")
            time.sleep(0.02)
        raise AssertionError(f"serve did not start: {self.output()[-2000:]}")

    def output(self):
        return open(self.log, "rb").read().decode(errors="replace")

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def invoke(self, body):
        return self.request("POST", INVOKE_PATH, body)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"serve did not stop on {sig!r}: {self.output()[-2000:]}")
        self.logf.close()
        return self.proc.returncode


def invoke_cli(tmp, event_bytes):
    """What `ridepred invoke` prints for the event (the reference answer)."""
    path = os.path.join(tmp, f"event-{time.monotonic_ns()}.json")
    with open(path, "wb") as f:
        f.write(event_bytes)
    p = subprocess.run([BIN, "invoke", "--model", MODEL, path], capture_output=True, env=base_env(tmp),
                       timeout=60)
    expect(p.returncode in (0, 1), f"invoke exited {p.returncode}: {p.stderr[-1000:]}")
    expect(p.stdout.endswith(b"\n"), p.stdout)
    return p.stdout[:-1], p.returncode == 1


def kinesis_event(rides, bad=()):
    recs = []
    for i, ride in enumerate(rides):
        data = base64.b64encode(json.dumps(ride).encode()).decode()
        if i in bad:
            data = "!!not base64!!"
        recs.append({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": str(i),
                                 "sequenceNumber": f"4963008166608487929058118563032477039860870488080252{i:04d}",
                                 "data": data, "approximateArrivalTimestamp": 1654161514.132},
                     "eventSource": "aws:kinesis", "eventVersion": "1.0",
                     "eventID": f"shardId-000000000000:{i}", "eventName": "aws:kinesis:record",
                     "awsRegion": "eu-west-1"})
    return json.dumps({"Records": recs}).encode()


def ride(ride_id, pu=130, do=205, dist=3.66):
    return {"ride": {"PULocationID": pu, "DOLocationID": do, "trip_distance": dist}, "ride_id": ride_id}


def varied_events():
    """20 distinct events: direct rides, Kinesis batches, failures, errors."""
    ev = [open(COURSE_EVENT, "rb").read()]
    for i in range(6):
        ev.append(json.dumps(ride(1000 + i, 10 + i, 200 - i, 0.5 + i * 1.7)).encode())
    for n in (1, 3, 10, 25):
        ev.append(kinesis_event([ride(2000 + n * 100 + k, 40 + k, 140 + k, 1.0 + k / 3) for k in range(n)]))
    ev.append(kinesis_event([ride(3000 + k) for k in range(5)], bad={1, 3}))
    ev.append(kinesis_event([{"ride_id": 7}]))                       # a record without its ride
    ev.append(b'{"Records": []}')
    ev.append(b"not json at all")
    ev.append(b"")
    ev.append(b'{"x": 1}')
    ev.append(b'[1, 2, 3]')
    ev.append('{"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1e400}, "ride_id": "é"}'.encode())
    ev.append(b'{"ride": {"PULocationID": 130}, "ride_id": 1}')
    expect(len(ev) == 20 and len(set(ev)) == 20, "20 distinct events")
    return ev


# ---- strict reading of one answer (issue 11) -----------------------------------

def read_until_close(s, timeout=5.0):
    """Every byte the server sends until it closes; (bytes, closed)."""
    s.settimeout(timeout)
    buf, closed = b"", False
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    return buf, closed


FIELD = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+): ?(.*?) ?$")


def parse_answer(raw):
    """Exactly one HTTP/1.1 response: a status line, one header block, a
    body of exactly Content-Length bytes, nothing after it.  Returns
    (status, {lower name: [values]}, body)."""
    m = re.match(rb"HTTP/1\.1 (\d{3}) [^\r\n]*\r\n", raw)
    expect(m, f"no status line: {raw[:200]!r}")
    head, sep, rest = raw.partition(b"\r\n\r\n")
    expect(sep, f"no end of the header block: {raw[:300]!r}")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        f = FIELD.match(line)
        expect(f, f"malformed header line {line!r} in {raw[:300]!r}")
        headers.setdefault(f.group(1).decode().lower(), []).append(f.group(2).decode())
    lengths = headers.get("content-length", [])
    expect(len(lengths) == 1 and lengths[0].isdigit(), f"one Content-Length: {head!r}")
    n = int(lengths[0])
    expect(len(rest) >= n, f"body cut short: {len(rest)} of {n}")
    body, after = rest[:n], rest[n:]
    expect(after == b"", f"bytes after the answer (a second response?): {after[:200]!r}")
    expect(not re.search(rb"HTTP/1\.[01] \d{3} ", body), f"a status line inside the body: {body[:200]!r}")
    return int(m.group(1)), headers, body


def strict_error(port, request, status, close=True, host="127.0.0.1"):
    """Sends raw bytes; checks the answer is one response with that status
    and a JSON object body, and that the server closed the connection when
    it must.  Returns the decoded body."""
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(request)
        raw, closed = read_until_close(s, timeout=3 if close else 1)
    finally:
        s.close()
    got, headers, body = parse_answer(raw)
    expect(got == status, f"{request[:120]!r}: status {got}, wanted {status}: {raw[:300]!r}")
    expect(headers.get("content-type") == ["application/json"], f"{request[:80]!r}: {headers}")
    doc = json.loads(body)
    expect(isinstance(doc, dict) and isinstance(doc.get("message"), str) and doc["message"], doc)
    if close:
        expect(headers.get("connection") == ["close"], f"{request[:80]!r}: no Connection: close: {headers}")
        expect(closed, f"{request[:80]!r}: the connection was left open")
    return doc


def probe_healthz(port, source="127.0.0.2", limit=1.0):
    """GET /healthz from another client address; seconds taken, or None
    when no 200 came within limit."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(limit)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf or not buf.endswith(b"}"):
            left = limit - (time.monotonic() - t0)
            if left <= 0:
                return None
            s.settimeout(left)
            chunk = s.recv(4096)
            if not chunk:
                return None
            buf += chunk
        took = time.monotonic() - t0
        return took if buf.startswith(b"HTTP/1.1 200 ") and took < limit else None
    except OSError:
        return None
    finally:
        s.close()


# ---- Prometheus text format ---------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_prometheus(text):
    """A strict reading of the text exposition format 0.0.4: every sample
    belongs to a family announced by # TYPE, values are floats, histogram
    buckets are cumulative and end with +Inf == _count.  Returns
    {family: {"type":, "samples": [(name, labels, value)]}}."""
    expect(text.endswith("\n"), "the exposition ends with a newline")
    fams, current = {}, None
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            expect(name not in fams or fams[name]["help"] is None, f"HELP twice for {name}")
            fams.setdefault(name, {"type": None, "samples": [], "help": None})["help"] = line
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            expect(typ in ("counter", "gauge", "histogram", "summary", "untyped"), line)
            f = fams.setdefault(name, {"type": None, "samples": [], "help": None})
            expect(f["type"] is None and not f["samples"], f"TYPE after samples or twice: {line}")
            f["type"], current = typ, name
            continue
        expect(not line.startswith("#") or line.startswith("# "), f"bad comment: {line!r}")
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE.match(line)
        expect(m, f"bad sample line: {line!r}")
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels, pos = {}, 0
        while pos < len(labels_text):
            lm = LABEL.match(labels_text, pos)
            expect(lm, f"bad labels in {line!r}")
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        v = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
        fam = name
        if current and fams[current]["type"] == "histogram":
            for suf in ("_bucket", "_sum", "_count"):
                if name == current + suf:
                    fam = current
        expect(fam == current, f"sample {name} outside its family (current {current})")
        fams[fam]["samples"].append((name, labels, v))
    for name, f in fams.items():
        expect(f["type"], f"{name} has no TYPE")
        if f["type"] == "counter":
            expect(all(v >= 0 and v == int(v) for _, _, v in f["samples"]), f"{name}: counters are counts")
        if f["type"] == "histogram":
            buckets = [(lab["le"], v) for n, lab, v in f["samples"] if n == name + "_bucket"]
            count = [v for n, _, v in f["samples"] if n == name + "_count"]
            expect(buckets and buckets[-1][0] == "+Inf" and len(count) == 1, f"{name}: +Inf and _count")
            bounds = [float(le.replace("+Inf", "inf")) for le, _ in buckets]
            expect(bounds == sorted(bounds) and len(set(bounds)) == len(bounds), f"{name}: le increasing")
            vals = [v for _, v in buckets]
            expect(vals == sorted(vals), f"{name}: buckets cumulative {vals}")
            expect(vals[-1] == count[0], f"{name}: +Inf bucket {vals[-1]} != _count {count[0]}")
    return fams


def metric(fams, name, **labels):
    for fam in fams.values():
        for n, lab, v in fam["samples"]:
            if n == name and all(lab.get(k) == val for k, val in labels.items()):
                return v
    raise AssertionError(f"no sample {name} {labels}")


# ---- tests -------------------------------------------------------------------

def t_course_event(tmp, srv):
    status, headers, body = srv.invoke(open(COURSE_EVENT, "rb").read())
    expect(status == 200, status)
    expect(body == EXPECTED_BYTES, body)
    expect(json.loads(body) == EXPECTED, body)
    expect(headers.get("content-type") == "application/json", headers)
    expect("x-amz-function-error" not in headers, headers)
    # The same answer as `ridepred invoke`, byte for byte.
    expect(invoke_cli(tmp, open(COURSE_EVENT, "rb").read()) == (EXPECTED_BYTES, False), "invoke differs")


def t_function_errors(tmp, srv):
    for event in (b'{"x": 1}', b"not json", b"", b'{"ride": {"PULocationID": 1}, "ride_id": 5}',
                  b'{"Records": "nope"}'):
        ref, is_error = invoke_cli(tmp, event)
        expect(is_error, f"invoke does not call {event!r} an error")
        status, headers, body = srv.invoke(event)
        expect(status == 200, f"{event!r}: {status}")
        expect(headers.get("x-amz-function-error") == "Unhandled", f"{event!r}: {headers}")
        expect(body == ref, f"{event!r}: {body!r} != {ref!r}")
        err = json.loads(body)
        expect(set(err) == {"errorMessage", "errorType"} and err["errorType"] == "InvalidEvent", err)


def padded_ride(size):
    """A valid direct ride event of exactly size bytes (trailing spaces)."""
    core = json.dumps(ride(4242)).encode()
    return core + b" " * (size - len(core))


def raw_request(port, data, read_timeout=30, host="127.0.0.1"):
    """Sends bytes as they are and returns the whole answer (until close or
    one complete response)."""
    s = socket.create_connection((host, port), timeout=read_timeout)
    try:
        s.sendall(data)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    expect(m, f"not an HTTP response: {raw[:200]!r}")
    return int(m.group(1))


def t_body_limit(tmp, srv):
    # Exactly 6 MiB is served, and answered as invoke answers it.
    event = padded_ride(LIMIT)
    ref, is_error = invoke_cli(tmp, event)
    expect(not is_error, ref[:300])
    status, headers, body = srv.invoke(event)
    expect(status == 200 and body == ref, f"6 MiB: {status} {body[:300]!r}")
    # One byte more: 413, with Content-Length (the body is read and dropped).
    status, headers, body = srv.invoke(padded_ride(LIMIT + 1))
    expect(status == 413, f"6 MiB + 1: {status}")
    expect(b"6291456" in body, body)
    # 7 MiB, the client waiting for 100-continue: 413 before any body byte.
    head = (f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {7 * 1024 * 1024}\r\n"
            f"Expect: 100-continue\r\n\r\n").encode()
    t0 = time.monotonic()
    expect(status_of(raw_request(srv.port, head)) == 413, "Expect: 100-continue")
    expect(time.monotonic() - t0 < 5, "413 came late")
    # 7 MiB chunked (no Content-Length: found too large while reading).
    c = srv.conn()
    chunks = (b"x" * (1024 * 1024) for _ in range(7))
    c.request("POST", INVOKE_PATH, body=chunks, encode_chunked=True)
    r = c.getresponse()
    expect(r.status == 413, f"chunked: {r.status}")
    r.read()
    c.close()
    # A declared length far beyond the limit: 413 at once, connection closed.
    head = f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {10 ** 12}\r\n\r\n".encode()
    expect(status_of(raw_request(srv.port, head)) == 413, "huge Content-Length")
    # The server is fine afterwards.
    expect(srv.invoke(open(COURSE_EVENT, "rb").read())[2] == EXPECTED_BYTES, "after 413")


def t_routes(tmp, srv):
    for method, path in (("GET", "/"), ("POST", "/2015-03-31/functions/other/invocations"),
                         ("POST", INVOKE_PATH + "/x"), ("GET", "/healthz/x"), ("POST", "/metricsz")):
        status, _, body = srv.request(method, path, b"{}" if method == "POST" else None)
        expect(status == 404, f"{method} {path}: {status}")
        expect("message" in json.loads(body), body)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        status, headers, _ = srv.request(method, INVOKE_PATH, b"{}" if method in ("PUT", "PATCH") else None)
        expect(status == 405 and headers.get("allow") == "POST", f"{method} invoke: {status} {headers}")
    for path in ("/healthz", "/metrics"):
        status, headers, _ = srv.request("POST", path, b"{}")
        expect(status == 405 and "GET" in headers.get("allow", ""), f"POST {path}: {status}")
    # A query string does not change the route.
    status, _, body = srv.request("POST", INVOKE_PATH + "?x=1", open(COURSE_EVENT, "rb").read())
    expect(status == 200 and body == EXPECTED_BYTES, f"with a query: {status}")


def t_healthz(tmp, srv):
    status, headers, body = srv.request("GET", "/healthz")
    expect(status == 200 and headers.get("content-type") == "application/json", (status, headers))
    h = json.loads(body)
    expect(h["status"] == "ok" and h["version"] == "Test123" and h["publishes"] is False, h)
    status, _, body = srv.request("HEAD", "/healthz")
    expect(status == 200 and body == b"", f"HEAD: {status} {body!r}")


def t_metrics(tmp, _srv):
    srv = Server(tmp)
    try:
        sent = {"ok": 0, "function_error": 0, "too_large": 0, "records": 0, "failures": 0}
        for event in varied_events():
            status, headers, body = srv.invoke(event)
            expect(status == 200, status)
            if "x-amz-function-error" in headers:
                sent["function_error"] += 1
            else:
                sent["ok"] += 1
                resp = json.loads(body)
                parsed = json.loads(event)
                sent["records"] += len(parsed["Records"]) if "Records" in parsed else 1
                sent["failures"] += len(resp.get("batchItemFailures", []))
        sent["too_large"] += srv.invoke(padded_ride(LIMIT + 10))[0] == 413
        srv.request("GET", "/nowhere")
        srv.request("GET", "/nowhere")
        srv.request("DELETE", INVOKE_PATH)
        status, headers, body = srv.request("GET", "/metrics")
        expect(status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4"), headers)
        fams = parse_prometheus(body.decode())
        types = {n: f["type"] for n, f in fams.items()}
        expect(types.get("ridepred_invocations_total") == "counter" and
               types.get("ridepred_invocation_duration_seconds") == "histogram" and
               types.get("process_start_time_seconds") == "gauge", types)
        for outcome in ("ok", "function_error", "too_large"):
            got = metric(fams, "ridepred_invocations_total", outcome=outcome)
            expect(got == sent[outcome], f"{outcome}: {got} != {sent[outcome]}")
        expect(metric(fams, "ridepred_invocations_total", outcome="internal_error") == 0, "internal")
        expect(metric(fams, "ridepred_records_total") == sent["records"],
               f"records {metric(fams, 'ridepred_records_total')} != {sent['records']}")
        expect(metric(fams, "ridepred_record_failures_total") == sent["failures"], "failures")
        expect(sent["failures"] >= 3, sent)
        expect(metric(fams, "ridepred_published_records_total") == 0, "TEST_RUN published")
        handled = sent["ok"] + sent["function_error"]
        expect(metric(fams, "ridepred_invocation_duration_seconds_count") == handled, "histogram count")
        total = metric(fams, "ridepred_invocation_duration_seconds_sum")
        expect(0 < total < 60, total)
        expect(metric(fams, "ridepred_http_rejected_total", code="404") == 2, "404s")
        expect(metric(fams, "ridepred_http_rejected_total", code="405") == 1, "405s")
        start = metric(fams, "process_start_time_seconds")
        expect(abs(start - time.time()) < 120, start)
    finally:
        expect(srv.stop() == 0, "exit status")


def t_concurrent(tmp, srv):
    events = varied_events()
    refs = [invoke_cli(tmp, e) for e in events]
    errors, answers = [], [0]
    lock = threading.Lock()

    def client(k):
        try:
            c = srv.conn()
            order = [(k * 7 + i) % len(events) for i in range(20)]
            for i in order:
                c.request("POST", INVOKE_PATH, body=events[i])
                r = c.getresponse()
                body = r.read()
                h = dict((a.lower(), b) for a, b in r.getheaders())
                ref, is_error = refs[i]
                if r.status != 200 or body != ref or ("x-amz-function-error" in h) != is_error:
                    raise AssertionError(f"client {k} event {i}: {r.status} {body[:200]!r} != {ref[:200]!r}")
                with lock:
                    answers[0] += 1
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(f"{e!r}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    expect(not errors, errors[:3])
    expect(answers[0] == 1000, answers[0])


def t_slow_client(tmp, _srv):
    # One pool thread: a slow client must still not hold up the others.
    srv = Server(tmp, ["--threads", "1"])
    try:
        slow = socket.create_connection(("127.0.0.1", srv.port))
        slow.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{{".encode())
        trickle = socket.create_connection(("127.0.0.1", srv.port))
        trickle.sendall(b"GET /hea")
        t0 = time.monotonic()
        for _ in range(50):
            status, _, body = srv.invoke(open(COURSE_EVENT, "rb").read())
            expect(status == 200 and body == EXPECTED_BYTES, status)
        expect(time.monotonic() - t0 < 10, "requests waited behind the slow clients")
        trickle.sendall(b"lthz HTTP/1.1\r\nHost: x\r\n\r\n")
        trickle.settimeout(10)
        expect(status_of(read_response(trickle)) == 200, "the trickled request")
        slow.close()
        trickle.close()
    finally:
        expect(srv.stop() == 0, "exit status")


def t_connection_limit(tmp, _srv):
    srv = Server(tmp, ["--threads", "1", "--max-connections", "4", "--idle-timeout", "2"])
    try:
        idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(4)]
        time.sleep(0.3)
        # The fifth is closed at once, not left waiting.
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        t0 = time.monotonic()
        try:
            extra.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            got = extra.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        expect(got == b"", f"over the limit: {got!r}")
        expect(time.monotonic() - t0 < 1.5, "the refused connection waited")
        extra.close()
        for s in idle:
            s.close()
        time.sleep(0.2)
        status, _, body = srv.invoke(open(COURSE_EVENT, "rb").read())
        expect(status == 200 and body == EXPECTED_BYTES, "after the idle ones left")
        # An idle connection is closed after --idle-timeout.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t0 = time.monotonic()
        expect(s.recv(10) == b"", "idle connection answered")
        waited = time.monotonic() - t0
        expect(1.5 <= waited < 6, f"idle timeout after {waited:.1f}s")
        s.close()
    finally:
        expect(srv.stop() == 0, "exit status")


def t_header_limit(tmp, srv):
    big = "a" * (64 * 1024)
    strict_error(srv.port, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n".encode(), 431)
    strict_error(srv.port, f"GET /{big} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 414)
    status, _, _ = srv.request("GET", "/healthz")
    expect(status == 200, "healthy after oversized headers")


# ---- issue 11: slow and ambiguous clients ------------------------------------------

def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n if hard == resource.RLIM_INFINITY else min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def slow_head_attacker(port, count, period, seconds):
    """Run in a child process (so that its work does not delay the probes
    of the test): one client, 127.0.0.1, tries to hold `count` connections,
    each sending a request line and then one header line every `period`
    seconds, never ending its head.  A connection the server closes is
    opened again on the next round.  Connections are opened without
    blocking (a blocking connect would wait a second each time a client
    port is still in TIME_WAIT on the server side).  Prints a JSON summary:
    per round, how many connections had survived since the last round."""
    raise_nofile(count + 64)
    socks = [None] * count        # connected and sending, or None
    pending = {}                  # i -> socket still connecting
    rounds, opened, cut_408, other_answers = [], 0, 0, 0
    start = time.monotonic()
    n = 0
    while True:
        survivors = 0
        # Connections that were being opened: connected now?
        if pending:
            poller = select.poll()
            by_fd = {}
            for i, sk in pending.items():
                poller.register(sk.fileno(), select.POLLOUT)
                by_fd[sk.fileno()] = i
            for fd, ev in poller.poll(0):
                i = by_fd[fd]
                sk = pending.pop(i)
                if sk.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    try:
                        sk.send(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\n".encode())
                        socks[i] = sk
                        opened += 1
                        continue
                    except OSError:
                        pass
                sk.close()
        for i in range(count):
            sk = socks[i]
            if sk is not None and i not in pending:
                try:
                    data = sk.recv(65536, socket.MSG_DONTWAIT)
                    if data.startswith(b"HTTP/1.1 408 "):
                        cut_408 += 1
                    elif data:
                        other_answers += 1
                    sk.close()
                    sk = socks[i] = None
                except BlockingIOError:
                    try:
                        sk.send(f"X-Slow-{n}: {'a' * 20}\r\n".encode())
                        survivors += 1
                    except OSError:
                        sk.close()
                        sk = socks[i] = None
                except OSError:
                    sk.close()
                    sk = socks[i] = None
            if sk is None and i not in pending and time.monotonic() - start < seconds:
                sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sk.setblocking(False)
                if sk.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS):
                    pending[i] = sk
                else:
                    sk.close()
        rounds.append({"t": round(time.monotonic() - start, 2), "held": survivors})
        n += 1
        if time.monotonic() - start >= seconds:
            break
        time.sleep(max(0.0, start + n * period - time.monotonic()))
    for sk in socks + list(pending.values()):
        if sk is not None:
            sk.close()
    print(json.dumps({"rounds": rounds, "opened": opened, "cut_408": cut_408, "other_answers": other_answers}))


def t_slow_head_attack(tmp, _srv):
    # The issue's attack on a server with the default limits: 1,024
    # connections from one client, a header line every 2 s on each.
    srv = Server(tmp, ["--threads", "2"])
    try:
        attacker = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--slow-head-attacker",
                                     str(srv.port), "1024", "2", "12.5"], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)  # the first round: 1,024 connections opened
            times = []
            for _ in range(10):
                t0 = time.monotonic()
                times.append(probe_healthz(srv.port))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
            out, _ = attacker.communicate(timeout=40)
        finally:
            if attacker.poll() is None:
                attacker.kill()
                attacker.wait()
        summary = json.loads(out.strip().splitlines()[-1])
        answered = [t for t in times if t is not None]
        print(f"  /healthz under attack: {len(answered)}/10 within 1 s "
              f"({', '.join('-' if t is None else f'{t * 1000:.0f} ms' for t in times)}); attacker: "
              f"held {[r['held'] for r in summary['rounds']]} per round, opened {summary['opened']}, "
              f"{summary['cut_408']} cut with 408")
        expect(len(answered) >= 9, f"/healthz answered within 1 s in {len(answered)} of 10 probes: {times}")
        # The attack was real: one client held its full share of connections...
        held = [r["held"] for r in summary["rounds"][1:]]
        expect(max(held) >= 200, f"the attacker held at most {max(held)} connections: {summary}")
        # ... no more than its share (the per-client cap: 256 by default) ...
        expect(max(held) <= 256, f"one client held {max(held)} connections (cap 256)")
        # ... and its heads were cut at the 10 s deadline with a 408 answer.
        expect(summary["cut_408"] >= 200, f"heads cut with 408: {summary['cut_408']}")
        expect(summary["other_answers"] == 0, summary)
        expect(probe_healthz(srv.port, source="127.0.0.1") is not None, "healthy after the attack")
    finally:
        expect(srv.stop() == 0, "exit status")


def t_slow_head_and_body_deadlines(tmp, _srv):
    srv = Server(tmp, ["--threads", "1", "--header-timeout", "1", "--body-timeout", "1",
                       "--body-min-rate", "1000", "--idle-timeout", "30"])
    try:
        # A head trickled one header line every 0.3 s: active, never idle,
        # yet cut at 1 s with a 408 (the idle timeout alone never fires).
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t0 = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        got = b""
        for i in range(20):
            time.sleep(0.3)
            try:
                s.sendall(f"X-Line-{i}: 1\r\n".encode())
            except OSError:
                break
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break
        raw, closed = read_until_close(s, timeout=3)
        took = time.monotonic() - t0
        s.close()
        status, headers, body = parse_answer(raw)
        expect(status == 408 and closed, f"slow head: {raw[:200]!r}")
        expect("head" in json.loads(body)["message"], body)
        expect(0.9 <= took < 2.5, f"slow head cut after {took:.2f} s (deadline 1 s)")
        # A connection that sent nothing is idle, not a slow head: still open.
        idle.setblocking(False)
        try:
            still_open = idle.recv(1) is None
        except BlockingIOError:
            still_open = True
        expect(still_open, "an idle connection was cut by the head deadline")
        idle.close()

        # A Content-Length body of 2,000 bytes at 10 bytes per 0.3 s: the
        # deadline is 1 s + 2,000 / 1,000 B/s = 3 s.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t0 = time.monotonic()
        s.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n".encode())
        for _ in range(30):
            time.sleep(0.3)
            try:
                s.sendall(b" " * 10)
            except OSError:
                break
            if select.select([s], [], [], 0)[0]:
                break
        raw, closed = read_until_close(s, timeout=3)
        took = time.monotonic() - t0
        s.close()
        status, _, body = parse_answer(raw)
        expect(status == 408 and closed and "body" in json.loads(body)["message"], raw[:300])
        expect(2.8 <= took < 4.5, f"slow body cut after {took:.2f} s (deadline 3 s)")

        # A chunked body trickled: its deadline moves on with what arrives
        # (1 s + bytes / 1,000 B/s), so 5 bytes per 0.3 s are cut soon after 1 s.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t0 = time.monotonic()
        s.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        for _ in range(30):
            time.sleep(0.3)
            try:
                s.sendall(b"1\r\n \r\n")
            except OSError:
                break
            if select.select([s], [], [], 0)[0]:
                break
        raw, closed = read_until_close(s, timeout=3)
        took = time.monotonic() - t0
        s.close()
        status, _, _ = parse_answer(raw)
        expect(status == 408 and closed, raw[:300])
        expect(0.9 <= took < 2.5, f"slow chunked body cut after {took:.2f} s")

        # A body at a good pace is not cut: 2,000 bytes in 0.5 s.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        event = padded_ride(2000)
        s.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n".encode())
        for k in range(0, 2000, 400):
            s.sendall(event[k:k + 400])
            time.sleep(0.1)
        raw = read_response(s)
        s.close()
        expect(status_of(raw) == 200, raw[:300])
    finally:
        expect(srv.stop() == 0, "exit status")


def t_client_connection_cap(tmp, _srv):
    srv = Server(tmp, ["--threads", "1", "--max-client-connections", "3"])
    try:
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(3)]
        time.sleep(0.3)
        # The fourth from the same address is closed at once...
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        t0 = time.monotonic()
        try:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = extra.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        extra.close()
        expect(got == b"" and time.monotonic() - t0 < 1.5, f"a fourth connection from one client: {got!r}")
        # ... while another client is served, and the held ones still work.
        expect(probe_healthz(srv.port, source="127.0.0.2") is not None, "another client refused")
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        expect(status_of(read_response(held[0])) == 200, "a held connection")
        for h in held:
            h.close()
        time.sleep(0.3)
        expect(probe_healthz(srv.port, source="127.0.0.1") is not None, "the client's slots came back")
    finally:
        expect(srv.stop() == 0, "exit status")


def t_framing_errors(tmp, srv):
    inv = INVOKE_PATH.encode()
    post = b"POST " + inv + b" HTTP/1.1\r\nHost: x\r\n"
    # Conflicting Content-Length: 400 and closed; the bytes after the first
    # length are not read as a second request (request smuggling).
    smuggle = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    strict_error(srv.port, post + b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}" + smuggle, 400)
    strict_error(srv.port, post + b"Content-Length: 40\r\nContent-Length: 2\r\n\r\n{}" + smuggle, 400)
    strict_error(srv.port, post + b"Content-Length: 2, 40\r\n\r\n{}" + smuggle, 400)
    # Content-Length with Transfer-Encoding (either order): 400, closed.
    strict_error(srv.port, post + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400)
    strict_error(srv.port, post + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400)
    # 2^64 and -5: one response (libmicrohttpd 0.9.75 sent two header blocks).
    doc = strict_error(srv.port, post + b"Content-Length: 18446744073709551616\r\n\r\nhello", 413)
    expect("6291456" in doc["message"], doc)
    for bad in (b"-5", b"+5", b"0x5", b"5 5", b"", b"1e3"):
        strict_error(srv.port, post + b"Content-Length: " + bad + b"\r\n\r\nhello", 400)
    # Other framing and syntax the server refuses by itself.
    strict_error(srv.port, post + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501)
    strict_error(srv.port, post + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400)
    strict_error(srv.port, b"POST " + inv + b" HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
    strict_error(srv.port, post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400)
    strict_error(srv.port, post + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400)
    strict_error(srv.port, b"GET /healthz HTTP/1.1\nHost: x\n\n", 400)             # bare LF
    strict_error(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400)
    strict_error(srv.port, b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400)      # space before colon
    strict_error(srv.port, b"GET /healthz HTTP/1.1\r\n\r\n", 400)                    # no Host
    strict_error(srv.port, b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
    strict_error(srv.port, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505)
    strict_error(srv.port, b"GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
    strict_error(srv.port, b"GET /healthz\r\nHost: x\r\n\r\n", 400)
    # Equal values are one value (RFC 9110 section 8.6): served, kept alive.
    event = open(COURSE_EVENT, "rb").read()
    n = str(len(event)).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(post + b"Content-Length: " + n + b"\r\nContent-Length: " + n + b", " + n + b"\r\n\r\n" + event)
    raw = read_response(s)
    status, headers, body = parse_answer(raw)
    expect(status == 200 and body == EXPECTED_BYTES and "connection" not in headers, raw[:300])
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    expect(status_of(read_response(s)) == 200, "the connection stays usable")
    s.close()
    # A chunked body with an extension and a trailer field is served.
    half = len(event) // 2
    chunked = (b"%x;name=value\r\n" % half + event[:half] + b"\r\n" + b"%X\r\n" % (len(event) - half)
               + event[half:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n")
    raw = raw_request(srv.port, post + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    expect(parse_answer(raw)[2] == EXPECTED_BYTES, raw[:300])
    # Healthy afterwards.
    expect(srv.request("GET", "/healthz")[0] == 200, "healthy after the framing errors")


def t_sigterm_in_flight(tmp, _srv):
    srv = Server(tmp)
    event = open(COURSE_EVENT, "rb").read()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(event)}\r\n\r\n".encode()
              + event[:100])
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    expect(srv.proc.poll() is None, "serve exited with a request in flight")
    s.sendall(event[100:])
    raw = read_response(s)
    s.close()
    expect(status_of(raw) == 200 and raw.endswith(b"\r\n\r\n" + EXPECTED_BYTES), raw[-300:])
    code = srv.stop()
    expect(code == 0, f"exit {code}")
    out = srv.output()
    expect(re.search(r"stopped .*signal=SIGTERM.*invocations=1 ok=1 .*abandoned_requests=0", out), out[-1000:])


def t_sigint(tmp, _srv):
    srv = Server(tmp)
    expect(srv.invoke(open(COURSE_EVENT, "rb").read())[0] == 200, "answer")
    expect(srv.stop(signal.SIGINT) == 0, "exit status on SIGINT")
    expect("signal=SIGINT" in srv.output(), srv.output()[-500:])


def t_ipv6(tmp, _srv):
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        print("  (no IPv6 loopback here: [::1] not checked)")
        return
    srv = Server(tmp, host="::1")
    try:
        status, _, body = srv.invoke(open(COURSE_EVENT, "rb").read())
        expect(status == 200 and body == EXPECTED_BYTES, status)
    finally:
        expect(srv.stop() == 0, "exit status")


def t_bad_usage(tmp, srv):
    env = base_env(tmp)
    for args, code, words in (
            (["--listen", "nonsense"], 2, "HOST:PORT"),
            (["--listen", "127.0.0.1:99999"], 2, "port"),
            (["--listen", "[::1:80"], 2, "[IPV6]:PORT"),
            (["--threads", "0"], 2, "--threads"),
            (["--max-connections", "x"], 2, "--max-connections"),
            (["--max-client-connections", "0"], 2, "--max-client-connections"),
            (["--header-timeout", "-1"], 2, "--header-timeout"),
            (["--body-timeout", "1.5"], 2, "--body-timeout"),
            (["--body-min-rate", "0"], 2, "--body-min-rate"),
            (["extra-argument"], 2, "unexpected argument"),
            (["--listen", f"127.0.0.1:{srv.port}"], 3, "cannot listen"),
    ):
        p = subprocess.run([BIN, "serve", "--model", MODEL] + args, capture_output=True, env=env, timeout=30)
        err = p.stderr.decode()
        expect(p.returncode == code and words in err, f"{args}: exit {p.returncode}: {err}")
    p = subprocess.run([BIN, "serve", "--model", os.path.join(tmp, "no-such-model")], capture_output=True,
                       env=env, timeout=30)
    expect(p.returncode == 3 and "no-such-model" in p.stderr.decode(), p.stderr)
    p = subprocess.run([BIN, "serve", "--help"], capture_output=True, env=env, timeout=30)
    expect(p.returncode == 0 and INVOKE_PATH.encode() in p.stdout, p.stdout[:200])
    for flag in (b"--max-client-connections", b"--header-timeout", b"--body-timeout", b"--body-min-rate"):
        expect(flag in p.stdout, f"--help does not name {flag}")


TESTS = [t_course_event, t_function_errors, t_body_limit, t_routes, t_healthz, t_metrics, t_concurrent,
         t_slow_client, t_connection_limit, t_header_limit, t_framing_errors, t_client_connection_cap,
         t_slow_head_and_body_deadlines, t_slow_head_attack, t_sigterm_in_flight, t_sigint, t_ipv6, t_bad_usage]


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--slow-head-attacker":
        slow_head_attacker(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
        return 0
    check_prerequisites()
    with tempfile.TemporaryDirectory(prefix="rp-serve-") as tmp:
        srv = Server(tmp)
        try:
            rptest.run(TESTS, tmp, srv, finish=False)
        finally:
            code = srv.stop()
            rptest.check(code == 0, "the shared server exits 0", f"exit {code}: {srv.output()[-2000:]}")
    rptest.tally.finish()


if __name__ == "__main__":
    main()
