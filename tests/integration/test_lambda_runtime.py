#!/usr/bin/python3
"""The Lambda custom runtime (`ridepred lambda`, also the binary named
`bootstrap`) driven end to end by a Lambda Runtime API written here
(issue 5; docs/lambda.md).

The server (http.server, threaded, HTTP/1.1 keep-alive, 127.0.0.1, a random
port) follows the published Runtime API 2018-06-01:
  GET  /2018-06-01/runtime/invocation/next blocks until an event is queued
       and answers it with Lambda-Runtime-Aws-Request-Id,
       Lambda-Runtime-Deadline-Ms, Lambda-Runtime-Invoked-Function-Arn,
       Lambda-Runtime-Trace-Id;
  POST .../invocation/{id}/response and .../error: 202; 400 for an unknown
       or already answered request id; 413 for a body over 6 MiB, which
       ends the invocation (Lambda fails it as Function.ResponseSizeTooLarge):
       a later post for it is refused with 403, as the Runtime Interface
       Emulator's "State transition is not allowed";
  POST /2018-06-01/runtime/init/error: 202.

Cases:
  - 50+ invocations in a row (the fixture events, generated Kinesis events
    with good and bad records, direct events) on one runtime process: every
    /response body equals what `ridepred invoke` prints for the same event
    with TEST_RUN=True, byte for byte; one EMF line per invocation;
  - an InvalidEvent lands on /error with Lambda-Runtime-Function-Error-Type;
    an event over 6 MiB too (the handler's size error), and the loop goes on;
  - a bad model, no model, a bad margin: /init/error, non-zero exit;
  - a deadline already near, publishing to a local stream store: every
    record in batchItemFailures, nothing published (and, as a control, the
    same event with time to spare is published); a deadline reached while
    a large batch publishes: the watchdog stops publishing mid-batch, what
    was published and what is reported as failed add up exactly;
  - the API going away (server stopped): bounded retries, then a non-zero
    exit whose message names AWS_LAMBDA_RUNTIME_API; nothing listening at
    all: the same;
  - the binary run through a symlink named bootstrap;
  - the request id in every JSON log line of an invocation; the trace id in
    a debug log line and passed on as _X_AMZN_TRACE_ID;
  - an already answered request id is refused (400): logged, the loop goes
    on; a response over 6 MiB is refused (413): that is final, logged, and
    no /error is posted after it.
With the argument `measure` (or RIDEPRED_LAMBDA_MEASURE=1) it also measures
invocations per second with 100-record and 1-record events, the runtime's
CPU per invocation, and the cold start (exec to the first /next).

Environment: RIDEPRED_BIN, RIDEPRED_SOURCE_DIR, RIDEPRED_FIXTURES_DIR.
Without the fixtures it prints SKIP and exits 77, except when CI is set.
"""

import base64
import http.server
import json
import os
import queue
import random
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

BIN, FIXTURES = rptest.BIN, rptest.FIXTURES
MODEL_DIR = os.path.join(FIXTURES, "course-model")
EVENTS_DIR = os.path.join(FIXTURES, "events")
MAX_PAYLOAD = 6 * 1024 * 1024
API = "/2018-06-01/runtime"


def check(label, cond, detail=""):
    return rptest.check(cond, label, detail)


# ---- the Runtime API ---------------------------------------------------------------


class Invocation:
    def __init__(self, body, deadline_ms, trace_id, request_id):
        self.body = body
        self.deadline_ms = deadline_ms          # absolute, or a callable of the delivery time
        self.trace_id = trace_id
        self.request_id = request_id
        self.delivered_at = None
        self.answer_kind = None                  # "response" or "error"
        self.answer_body = None
        self.answer_headers = None
        self.already_answered = False            # the server takes it as answered on delivery
        self.done = threading.Event()


class RuntimeAPI:
    """A Lambda Runtime API on 127.0.0.1 (port 0)."""

    def __init__(self):
        self.queue = queue.Queue()
        self.lock = threading.Lock()
        self.delivered = {}       # request id -> Invocation, delivered and not answered
        self.answered = {}        # request id -> Invocation
        self.init_errors = []     # (headers, body)
        self.next_calls = []      # time.monotonic() of each /next request
        self.refused = []         # (path, status)
        self.posts = []           # (path, status) of every POST, in order
        self.too_large = set()    # request ids whose /response got 413: final
        self.connections = 0      # TCP connections accepted
        self.stopping = False
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this,
            # Nagle's algorithm holds the body until the client's delayed
            # ACK (40 ms per answer).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with api.lock:
                    api.connections += 1

            def reply(self, status, obj=None, headers=()):
                data = json.dumps(obj).encode() if obj is not None else b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path != API + "/invocation/next":
                    return self.reply(404, {"errorMessage": "not found", "errorType": "NotFound"})
                with api.lock:
                    api.next_calls.append(time.monotonic())
                while True:
                    if api.stopping:
                        # The API goes away: drop the connection without an answer.
                        self.close_connection = True
                        try:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
                    try:
                        inv = api.queue.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    break
                now_ms = int(time.time() * 1000)
                deadline = inv.deadline_ms(now_ms) if callable(inv.deadline_ms) else inv.deadline_ms
                inv.delivered_at = time.monotonic()
                with api.lock:
                    if inv.already_answered:
                        api.answered[inv.request_id] = inv
                    else:
                        api.delivered[inv.request_id] = inv
                headers = [("Lambda-Runtime-Aws-Request-Id", inv.request_id),
                           ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                           ("Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:eu-west-1:123456789012:function:ride-duration-prediction")]
                if inv.trace_id:
                    headers.append(("Lambda-Runtime-Trace-Id", inv.trace_id))
                self.send_response(200)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(inv.body)))
                self.end_headers()
                try:
                    self.wfile.write(inv.body)
                except OSError:
                    pass  # an oversized event: the runtime stops reading

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.path == API + "/init/error":
                    with api.lock:
                        api.init_errors.append((dict(self.headers), body))
                        api.posts.append((self.path, 202))
                    return self.reply(202, {"status": "OK"})
                m = re.fullmatch(re.escape(API) + r"/invocation/([^/]+)/(response|error)", self.path)
                if not m:
                    return self.reply(404, {"errorMessage": "not found", "errorType": "NotFound"})
                rid, kind = m.group(1), m.group(2)
                with api.lock:
                    if rid in api.too_large:
                        api.posts.append((self.path, 403))
                        api.refused.append((self.path, 403))
                        return self.reply(403, {"errorMessage": "State transition is not allowed",
                                                "errorType": "InvalidStateTransition"})
                    inv = api.delivered.get(rid)
                    if inv is None:
                        api.posts.append((self.path, 400))
                        api.refused.append((self.path, 400))
                        return self.reply(400, {"errorMessage": "Invalid request ID",
                                                "errorType": "InvalidRequestID"})
                    if n > MAX_PAYLOAD:
                        # Final: Lambda fails the invocation itself.
                        api.posts.append((self.path, 413))
                        api.refused.append((self.path, 413))
                        api.too_large.add(rid)
                        del api.delivered[rid]
                        inv.answer_kind = "too_large"
                        api.answered[rid] = inv
                        self.reply(413, {"errorMessage": "Exceeded maximum allowed payload size (%d bytes)."
                                         % MAX_PAYLOAD, "errorType": "RequestEntityTooLarge"})
                        inv.done.set()
                        return
                    api.posts.append((self.path, 202))
                    del api.delivered[rid]
                    inv.answer_kind = kind
                    inv.answer_body = body
                    inv.answer_headers = dict(self.headers)
                    api.answered[rid] = inv
                self.reply(202, {"status": "OK"})
                inv.done.set()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def enqueue(self, body, deadline_ms=None, trace_id=None, request_id=None):
        if isinstance(body, str):
            body = body.encode()
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + 900_000
        inv = Invocation(body, deadline_ms, trace_id, request_id or str(uuid.uuid4()))
        self.queue.put(inv)
        return inv

    def stop(self):
        self.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- helpers ------------------------------------------------------------------------


def base_env(**extra):
    env = dict(os.environ)
    for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "RIDEPRED_LOG_LEVEL", "MODEL_LOCATION",
              "MODEL_BUCKET", "RUN_ID", "MODEL_VERSION", "TEST_RUN", "PREDICTIONS_STREAM_NAME",
              "RIDEPRED_DEADLINE_MARGIN_MS", "RIDEPRED_METRICS", "_X_AMZN_TRACE_ID",
              "AWS_LAMBDA_RUNTIME_API", "KINESIS_ENDPOINT_URL", "AWS_ENDPOINT_URL",
              "AWS_ENDPOINT_URL_KINESIS", "AWS_LAMBDA_FUNCTION_NAME"):
        env.pop(k, None)
    env.update({"MODEL_LOCATION": MODEL_DIR, "RUN_ID": "Test123", "TEST_RUN": "True"})
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


class Runtime:
    def __init__(self, api, env, args=(), argv0=None, tmp=None):
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        cmd = [argv0] if argv0 else [BIN, "lambda"]
        cmd += list(args)
        e = dict(env)
        if api is not None:
            e["AWS_LAMBDA_RUNTIME_API"] = api.address
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=e, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stdout(self):
        self.out.seek(0)
        return self.out.read().decode("utf-8", "replace")

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")


def invoke_cli(event_bytes, env):
    p = subprocess.run([BIN, "invoke", "-"], input=event_bytes, env=env, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def kinesis_record(payload, seq):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": str(seq),
                        "data": base64.b64encode(data).decode(), "approximateArrivalTimestamp": 1654161514.132},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": "shardId-000000000000:%s" % seq, "eventName": "aws:kinesis:record",
            "awsRegion": "eu-west-1", "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/ride_events"}


def random_ride(rng, ride_id):
    return {"ride": {"PULocationID": rng.randint(1, 265), "DOLocationID": rng.randint(1, 265),
                     "trip_distance": round(rng.uniform(0.1, 30), rng.randint(0, 4))}, "ride_id": ride_id}


def kinesis_event(rng, n, bad_every=0, start_seq=10**20):
    recs = []
    for i in range(n):
        seq = start_seq + i
        if bad_every and i % bad_every == bad_every - 1:
            kind = rng.randrange(4)
            if kind == 0:
                recs.append(kinesis_record(b"not json", seq))
            elif kind == 1:
                r = random_ride(rng, i)
                del r["ride"]["trip_distance"]
                recs.append(kinesis_record(r, seq))
            elif kind == 2:
                r = random_ride(rng, i)
                r["ride"]["trip_distance"] = "3.5"
                recs.append(kinesis_record(r, seq))
            else:
                rec = kinesis_record(random_ride(rng, i), seq)
                rec["kinesis"]["data"] = "@@@not base64@@@"
                recs.append(rec)
        else:
            rid = i if rng.random() < 0.5 else "ride-%d-\u00e9" % i
            recs.append(kinesis_record(random_ride(rng, rid), seq))
    return json.dumps({"Records": recs}).encode()


def emf_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            out.append(json.loads(line))
    return out


# ---- cases ------------------------------------------------------------------------------


def test_many_invocations(tmp):
    rng = random.Random(5)
    events = []
    for name in sorted(os.listdir(EVENTS_DIR)):
        if name.endswith(".json"):
            with open(os.path.join(EVENTS_DIR, name), "rb") as f:
                events.append(f.read())
    while len(events) < 46:
        n = rng.choice([1, 2, 5, 10, 50, 100])
        events.append(kinesis_event(rng, n, bad_every=rng.choice([0, 0, 3, 7])))
    events.append(json.dumps(random_ride(rng, 42)).encode())                      # direct
    events.append(json.dumps(random_ride(rng, "abc")).encode())                   # direct, string id
    events.append(json.dumps({"Records": []}).encode())                            # empty batch
    events.append(kinesis_event(rng, 500, bad_every=11))
    env = base_env()
    api = RuntimeAPI()
    rt = Runtime(api, env, ["--max-invocations", str(len(events))])
    invs = [api.enqueue(e) for e in events]
    all_done = all(inv.done.wait(60) for inv in invs)
    rc = rt.wait(30)
    api.stop()
    check("50 invocations in a row answered", all_done and rc == 0,
          f"rc={rc}, answered {sum(i.done.is_set() for i in invs)}/{len(invs)}; {rt.stderr()[-2000:]}")
    check("one keep-alive connection for all of them (100 requests)", api.connections == 1,
          f"{api.connections} connections")
    mismatches = []
    kinds_ok = True
    for i, (ev, inv) in enumerate(zip(events, invs)):
        code, out, err = invoke_cli(ev, env)
        want_kind = "response" if code == 0 else "error"
        if inv.answer_kind != want_kind:
            kinds_ok = False
        if inv.answer_body != out.rstrip(b"\n"):
            mismatches.append((i, inv.answer_body[:200] if inv.answer_body else None, out[:200]))
    check("every answer equals `ridepred invoke` with TEST_RUN=True, byte for byte", not mismatches and kinds_ok,
          mismatches[:3])
    some_failures = any(inv.answer_body and b"batchItemFailures" in inv.answer_body for inv in invs)
    check("generated events include batchItemFailures answers (the comparison covers them)", some_failures)
    course = invs[events.index(open(os.path.join(EVENTS_DIR, "course-event.json"), "rb").read())]
    check("course event: the course's expected prediction, version Test123",
          course.answer_body == b'{"predictions": [{"model": "ride_duration_prediction_model", "version": "Test123", '
                                b'"prediction": {"ride_duration": 21.294545348333408, "ride_id": 256}}]}',
          course.answer_body)
    emf = emf_lines(rt.stdout())
    check("one EMF line per invocation on stdout", len(emf) == len(events), f"{len(emf)} lines")
    if emf:
        e = emf[-1]
        want = json.loads(events[-1])
        body = json.loads(invs[-1].answer_body)
        cw = e["_aws"]["CloudWatchMetrics"][0]
        names = [m["Name"] for m in cw["Metrics"]]
        check("EMF line: namespace, dimension, metrics, values",
              cw["Namespace"] == "ridepred" and cw["Dimensions"] == [["FunctionName"]]
              and {"Records", "Failures", "HandlerMs"} <= set(names)
              and e["FunctionName"] == "ridepred" and e["Records"] == len(want["Records"])
              and e["Failures"] == len(body.get("batchItemFailures", [])) and e["Failures"] > 0
              and isinstance(e["HandlerMs"], float) and e["requestId"] == invs[-1].request_id
              and abs(e["_aws"]["Timestamp"] - time.time() * 1000) < 600_000, e)


def test_errors_and_limits(tmp):
    env = base_env(AWS_LAMBDA_FUNCTION_NAME="ride-duration-prediction")
    api = RuntimeAPI()
    rt = Runtime(api, env, ["--max-invocations", "6"])
    bad = api.enqueue(b'{"Records": [{"kinesis": {"data": "e30="}}]}')      # no sequenceNumber
    notjson = api.enqueue(b"not json at all")
    big = api.enqueue(b'{"Records": [' + b" " * (MAX_PAYLOAD + 100) + b"]}")
    exact = api.enqueue(b'{"Records": []' + b" " * (MAX_PAYLOAD - 15) + b"}")  # exactly 6 MiB: served
    ok = api.enqueue(open(os.path.join(EVENTS_DIR, "course-event.json"), "rb").read())
    last = api.enqueue(b"[]")
    done = all(i.done.wait(60) for i in (bad, notjson, big, exact, ok, last))
    rc = rt.wait(30)
    api.stop()
    check("error cases answered, then exit 0 after --max-invocations", done and rc == 0,
          f"rc={rc} {rt.stderr()[-1500:]}")
    for label, inv in (("event without sequenceNumber", bad), ("not JSON", notjson), ("a JSON array", last)):
        body = json.loads(inv.answer_body or b"{}")
        check(f"InvalidEvent ({label}) lands on /error with Lambda-Runtime-Function-Error-Type",
              inv.answer_kind == "error"
              and inv.answer_headers.get("Lambda-Runtime-Function-Error-Type") == "InvalidEvent"
              and body.get("errorType") == "InvalidEvent" and body.get("errorMessage")
              and inv.answer_body == invoke_cli(inv.body, base_env())[1].rstrip(b"\n"),
              (inv.answer_kind, inv.answer_headers, inv.answer_body))
    body = json.loads(big.answer_body or b"{}")
    check("an event over 6 MiB: the handler's size error on /error, no crash",
          big.answer_kind == "error" and body.get("errorType") == "InvalidEvent"
          and "larger than" in body.get("errorMessage", ""), (big.answer_kind, big.answer_body))
    check("an event of exactly 6 MiB is served", exact.answer_kind == "response"
          and exact.answer_body == b'{"predictions": []}', (exact.answer_kind, exact.answer_body))
    check("the loop goes on after errors", ok.answer_kind == "response" and b"21.294545348333408" in ok.answer_body,
          ok.answer_body)
    emf = emf_lines(rt.stdout())
    check("EMF FunctionName from AWS_LAMBDA_FUNCTION_NAME; FunctionErrors counted",
          len(emf) == 6 and all(e["FunctionName"] == "ride-duration-prediction" for e in emf)
          and [e["FunctionErrors"] for e in emf] == [1, 1, 1, 0, 0, 1], emf[:2])


def test_init_errors(tmp):
    cases = [
        ("bad model", base_env(MODEL_LOCATION=os.path.join(tmp, "no-such-model")), [], "Runtime.InitError",
         "no-such-model"),
        ("corrupt model", base_env(MODEL_LOCATION=os.path.join(tmp, "corrupt.json")), [], "Runtime.InitError",
         "corrupt.json"),
        ("no model", base_env(MODEL_LOCATION=None, RUN_ID=None), [], "Runtime.InvalidConfiguration",
         "MODEL_LOCATION"),
        ("bad deadline margin", base_env(RIDEPRED_DEADLINE_MARGIN_MS="soon"), [], "Runtime.InvalidConfiguration",
         "RIDEPRED_DEADLINE_MARGIN_MS"),
        ("bad predictions stream", base_env(TEST_RUN=None, PREDICTIONS_STREAM_NAME="bad name!"), [],
         "Runtime.InitError", "stream"),
    ]
    with open(os.path.join(tmp, "corrupt.json"), "w") as f:
        f.write('{"format": "ridepred.model/1", "features": ["x"], "estimator": {"type": "linear"}}')
    for label, env, args, etype, needle in cases:
        api = RuntimeAPI()
        rt = Runtime(api, env, args)
        rc = rt.wait(30)
        time.sleep(0.05)
        api.stop()
        errs = api.init_errors
        ok = rc not in (None, 0) and len(errs) == 1 and not api.next_calls
        if ok:
            h, body = errs[0]
            doc = json.loads(body)
            ok = (h.get("Lambda-Runtime-Function-Error-Type") == etype and doc.get("errorType") == etype
                  and needle in doc.get("errorMessage", "") and list(doc) == ["errorMessage", "errorType"])
        check(f"init failure ({label}): /init/error ({etype}), no /next, exit {rc}", ok,
              (rc, errs, api.next_calls, rt.stderr()[-800:]))


def read_stream(env, name):
    p = subprocess.run([BIN, "read", name], env=env, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


def test_deadline(tmp):
    store = os.path.join(tmp, "deadline.db")
    env = base_env(TEST_RUN=None, RIDEPRED_STREAM_BACKEND="local", RIDEPRED_LOCAL_STORE=store,
                   PREDICTIONS_STREAM_NAME="ride_predictions", AWS_LAMBDA_LOG_FORMAT="JSON")
    p = subprocess.run([BIN, "streams", "create", "ride_predictions", "--shards", "2"], env=env,
                       capture_output=True, timeout=60)
    if not check("local predictions stream created", p.returncode == 0, p.stderr):
        return
    rng = random.Random(7)
    ev = kinesis_event(rng, 20)
    api = RuntimeAPI()
    rt = Runtime(api, env, ["--max-invocations", "2"])
    spare = api.enqueue(ev)                                                   # 15 minutes left
    near = api.enqueue(ev, deadline_ms=lambda now: now + 100)                 # 100 ms left, margin 500
    done = spare.done.wait(60) and near.done.wait(60)
    rc = rt.wait(30)
    api.stop()
    check("deadline cases answered", done and rc == 0, rt.stderr()[-1500:])
    published = read_stream(env, "ride_predictions")
    body1 = json.loads(spare.answer_body or b"{}")
    check("control: with time to spare the 20 predictions are published and answered",
          len(body1.get("predictions", [])) == 20 and "batchItemFailures" not in body1 and len(published) == 20,
          (len(published), spare.answer_body[:300]))
    body2 = json.loads(near.answer_body or b"{}")
    seqs = [r["kinesis"]["sequenceNumber"] for r in json.loads(ev)["Records"]]
    check("deadline near: every record in batchItemFailures, no prediction, nothing published",
          near.answer_kind == "response" and body2.get("predictions") == []
          and [f["itemIdentifier"] for f in body2.get("batchItemFailures", [])] == seqs
          and len(published) == 20, (len(published), near.answer_body[:300]))
    emf = emf_lines(rt.stdout())
    check("EMF Published: 20 with time to spare, 0 with the deadline near",
          [e.get("Published") for e in emf] == [20, 0] and [e.get("Failures") for e in emf] == [0, 20], emf)
    logs = [json.loads(line) for line in rt.stderr().splitlines() if line.startswith("{")]
    held = [x for x in logs if x.get("message", "").startswith("deadline near")]
    check("deadline near: logged with the request id", held and held[0].get("requestId") == near.request_id, held)
    reasons = [x.get("reason") for x in logs
               if x.get("message") == "record failed" and x.get("requestId") == near.request_id]
    check("deadline near: each record's reason says \"not published\" once",
          len(reasons) == 20 and set(reasons) == {
              "not published: DeadlineNear: too little time left before the invocation's deadline"}, reasons[:2])

    # A deadline that comes while a large batch is being published: the
    # watchdog holds publishing in the middle.  Timing decides where, so the
    # test measures the handler first and aims at the middle; what was
    # published and what was reported must add up exactly in every try.
    big = kinesis_event(rng, 6000, start_seq=5 * 10**20)
    big_seqs = [r["kinesis"]["sequenceNumber"] for r in json.loads(big)["Records"]]
    split_seen = False
    consistent = True
    detail = []
    margin = 5000
    fractions = [0.5, 0.5, 0.3, 0.7, 0.5, 0.9]
    for attempt, fraction in enumerate(fractions):
        name = f"mid_{attempt}"
        e2 = dict(env, PREDICTIONS_STREAM_NAME=name, AWS_LAMBDA_LOG_FORMAT="Text")
        subprocess.run([BIN, "streams", "create", name], env=e2, capture_output=True, timeout=60, check=True)
        api = RuntimeAPI()
        rt = Runtime(api, e2, ["--max-invocations", "2", "--deadline-margin-ms", str(margin)])
        first = api.enqueue(big)                                # measures the handler time
        first.done.wait(120)
        handler_ms = None
        for _ in range(1000):                              # the line follows the answer
            emf = emf_lines(rt.stdout())
            if emf:
                handler_ms = emf[0]["HandlerMs"]
                break
            time.sleep(0.01)
        if handler_ms is None:
            consistent = False
            detail.append("no EMF line")
            rt.kill()
            api.stop()
            break
        aim = max(1, int(handler_ms * fraction))
        second = api.enqueue(big.replace(b'"sequenceNumber": "5', b'"sequenceNumber": "6'),
                             deadline_ms=lambda now, aim=aim: now + margin + aim)
        second.done.wait(120)
        rt.wait(60)
        api.stop()
        emf = emf_lines(rt.stdout())
        pub = read_stream(e2, name)
        b = json.loads(second.answer_body or b"{}")
        fails = [f["itemIdentifier"] for f in b.get("batchItemFailures", [])]
        n_pred = len(b.get("predictions", []))
        pub_ids = {json.dumps(r["data"]["prediction"]["ride_id"]) for r in pub[6000:]}
        pred_ids = {json.dumps(x["prediction"]["ride_id"]) for x in b.get("predictions", [])}
        ok = (len(pub) == 6000 + n_pred and n_pred + len(fails) == 6000 and pub_ids == pred_ids
              and set(fails) == {s.replace("5", "6", 1) for s in big_seqs[n_pred:]}
              and fails == [s.replace("5", "6", 1) for s in big_seqs][n_pred:]
              and len(emf) == 2 and emf[1]["Published"] == n_pred and emf[1]["Failures"] == len(fails))
        consistent = consistent and ok
        detail.append((attempt, handler_ms, aim, n_pred, len(fails), len(pub)))
        if ok and 0 < n_pred < 6000:
            split_seen = True
            print(f"info: deadline {aim} ms after the margin, handler {handler_ms:.1f} ms: {n_pred} published, "
                  f"{len(fails)} reported as batchItemFailures")
            break
    check("deadline reached mid-batch: published and reported add up exactly (every try)", consistent, detail)
    check("deadline reached mid-batch: the watchdog stopped publishing in the middle of a batch", split_seen,
          detail)


def test_api_goes_away(tmp):
    env = base_env()
    api = RuntimeAPI()
    rt = Runtime(api, env, [])
    inv = api.enqueue(open(os.path.join(EVENTS_DIR, "course-event.json"), "rb").read())
    inv.done.wait(30)
    # Wait for the runtime's next /next, then stop the server under it.
    for _ in range(1000):
        if len(api.next_calls) >= 2:
            break
        time.sleep(0.01)
    t0 = time.monotonic()
    api.stop()
    rc = rt.wait(30)
    took = time.monotonic() - t0
    err = rt.stderr()
    check("API goes away: non-zero exit after bounded retries", rc not in (None, 0) and took < 10,
          (rc, took, err[-1500:]))
    check("API goes away: the message names AWS_LAMBDA_RUNTIME_API and the attempts",
          "AWS_LAMBDA_RUNTIME_API" in err and "after 5 attempts" in err and api.address in err, err[-1500:])
    check("API goes away: 4 retries logged", err.count("Runtime API unreachable, retrying") == 4, err[-1500:])

    # Nothing listening at all.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    e = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}")
    t0 = time.monotonic()
    p = subprocess.run([BIN, "lambda"], env=e, capture_output=True, timeout=60)
    took = time.monotonic() - t0
    err = p.stderr.decode()
    check("nothing listening: non-zero exit within the retry budget, clear message",
          p.returncode == 3 and took < 10 and "cannot reach the Lambda Runtime API" in err
          and "AWS_LAMBDA_RUNTIME_API" in err, (p.returncode, took, err[-800:]))

    # No address at all, and a malformed one.
    e = dict(env)
    e.pop("AWS_LAMBDA_RUNTIME_API", None)
    p = subprocess.run([BIN, "lambda"], env=e, capture_output=True, timeout=60)
    check("no AWS_LAMBDA_RUNTIME_API: exit 3, says so", p.returncode == 3
          and b"AWS_LAMBDA_RUNTIME_API is not set" in p.stderr, p.stderr)
    p = subprocess.run([BIN, "lambda", "--runtime-api", "http://127.0.0.1:9001/x"], env=e, capture_output=True,
                       timeout=60)
    check("malformed runtime API address: exit 3, says HOST:PORT", p.returncode == 3 and b"HOST:PORT" in p.stderr,
          p.stderr)


def test_bootstrap_logs_trace(tmp):
    link = os.path.join(tmp, "bootstrap")
    os.symlink(BIN, link)
    env = base_env(AWS_LAMBDA_LOG_FORMAT="JSON", AWS_LAMBDA_LOG_LEVEL="DEBUG")
    api = RuntimeAPI()
    rt = Runtime(api, env, ["--max-invocations", "3"], argv0=link)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    a = api.enqueue(open(os.path.join(EVENTS_DIR, "seed-two-records.json"), "rb").read(), trace_id=trace)
    bad_rec = kinesis_event(random.Random(1), 3, bad_every=2)
    b = api.enqueue(bad_rec)                                             # no trace header
    c = api.enqueue(b"{}", trace_id="Root=1-00000000-000000000000000000000001")
    done = all(i.done.wait(30) for i in (a, b, c))
    rc = rt.wait(30)
    api.stop()
    check("run as bootstrap (symlink): answers, exits 0 after --max-invocations", done and rc == 0
          and a.answer_kind == "response" and c.answer_kind == "error", (rc, rt.stderr()[-1000:]))
    lines = rt.stderr().splitlines()
    try:
        logs = [json.loads(x) for x in lines if x.strip()]
    except ValueError as exc:
        logs = []
        check("every log line is JSON under AWS_LAMBDA_LOG_FORMAT=JSON", False, (exc, lines[:5]))
    else:
        check("every log line is JSON under AWS_LAMBDA_LOG_FORMAT=JSON", bool(logs), lines[:5])
    by_id = {}
    for x in logs:
        by_id.setdefault(x.get("requestId"), []).append(x)
    for inv, label in ((a, "first"), (b, "second"), (c, "third")):
        mine = by_id.get(inv.request_id, [])
        check(f"request id in the JSON log lines of the {label} invocation", len(mine) >= 1, by_id.keys())
    inv_lines = [x for x in logs if x.get("message") == "invocation"]
    check("every invocation line carries a requestId", len(inv_lines) == 3
          and [x.get("requestId") for x in inv_lines] == [a.request_id, b.request_id, c.request_id], inv_lines)
    check("bad records logged with their invocation's request id",
          any(x.get("requestId") == b.request_id and x.get("level") == "WARN" for x in logs), by_id.get(b.request_id))
    check("lines outside invocations carry no requestId",
          any(x.get("message") == "runtime ready" and "requestId" not in x for x in logs), logs[:3])
    # The debug line shows the trace id the runtime hands on (cmd_lambda.c sets _X_AMZN_TRACE_ID from it).
    check("trace id passed on as _X_AMZN_TRACE_ID, unset without the header (debug lines)",
          inv_lines and inv_lines[0].get("traceId") == trace and inv_lines[1].get("traceId") == ""
          and inv_lines[2].get("traceId") == "Root=1-00000000-000000000000000000000001", inv_lines)
    check("deadline and function ARN seen (debug line)",
          inv_lines and 0 < int(inv_lines[0].get("remainingMs") or 0) <= 900_000
          and inv_lines[0].get("functionArn", "").endswith(":function:ride-duration-prediction"), inv_lines[:1])


def test_refused_answers(tmp):
    # An already answered request id is refused with 400: the runtime logs
    # it (with the request id) and goes on.  A response over 6 MiB is
    # refused with 413, which ends the invocation: the runtime logs it and
    # posts nothing more for it (an /error would be refused with 403).
    env = base_env(AWS_LAMBDA_LOG_FORMAT="JSON")
    api = RuntimeAPI()
    rt = Runtime(api, env, ["--max-invocations", "3"])
    direct = open(os.path.join(EVENTS_DIR, "seed-direct.json"), "rb").read()
    a = api.enqueue(direct)
    a.already_answered = True
    # 6,000 records whose ride ids are 250 x "\u00e9": 2 bytes each in the
    # event, 6 ("\\u00e9") in the response, which grows past 6 MiB.
    recs = []
    for i in range(6000):
        data = json.dumps({"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1.5},
                           "ride_id": "\u00e9" * 249 + chr(0x100 + i % 200)}, ensure_ascii=False).encode()
        recs.append({"kinesis": {"data": base64.b64encode(data).decode(), "sequenceNumber": str(10**20 + i)}})
    big = json.dumps({"Records": recs}).encode()
    big_inv = api.enqueue(big)
    b = api.enqueue(direct)
    b.done.wait(60)
    big_inv.done.wait(60)
    rc = rt.wait(30)
    api.stop()
    logs = [json.loads(x) for x in rt.stderr().splitlines() if x.startswith("{")]
    refused = [x for x in logs if "refused" in x.get("message", "")]
    check("an already answered request id: 400, logged with its request id, the loop goes on",
          rc == 0 and b.answer_kind == "response" and refused and refused[0].get("status") == "400"
          and refused[0].get("requestId") == a.request_id and api.refused[:1] == [(f"{API}/invocation/{a.request_id}/response", 400)],
          (rc, refused, api.refused, rt.stderr()[-800:]))
    mine = [(path, status) for path, status in api.posts if f"/invocation/{big_inv.request_id}/" in path]
    check("a response over 6 MiB: 413 is final, nothing is posted for the invocation after it",
          len(big) < MAX_PAYLOAD and mine == [(f"{API}/invocation/{big_inv.request_id}/response", 413)]
          and big_inv.answer_kind == "too_large", (len(big), mine, api.refused))
    too_large = [x for x in logs if x.get("status") == "413"]
    check("a response over 6 MiB: logged once at ERROR with its size and request id, the loop goes on",
          len(too_large) == 1 and too_large[0].get("level") == "ERROR"
          and "Function.ResponseSizeTooLarge" in too_large[0].get("message", "")
          and int(too_large[0].get("bytes", 0)) > MAX_PAYLOAD and too_large[0].get("requestId") == big_inv.request_id
          and not any(x.get("status") == "403" for x in logs) and b.answer_kind == "response",
          (too_large, refused))


def test_help_and_usage(tmp):
    p = subprocess.run([BIN, "lambda", "--help"], capture_output=True, timeout=30)
    out = p.stdout.decode()
    check("lambda --help lists the options", p.returncode == 0 and all(
        o in out for o in ("--model", "--preprocessor", "--predictions-stream", "--test-run", "--backend",
                           "--store", "--endpoint-url", "--log-format", "--log-level", "--max-invocations",
                           "--runtime-api", "--deadline-margin-ms", "AWS_LAMBDA_RUNTIME_API")), out)
    for args in (["--max-invocations", "0"], ["--max-invocations", "x"], ["--nope"], ["extra"]):
        p = subprocess.run([BIN, "lambda"] + args, capture_output=True, timeout=30,
                           env=base_env(AWS_LAMBDA_RUNTIME_API="127.0.0.1:1"))
        check(f"lambda {' '.join(args)}: usage error 2", p.returncode == 2, p.stderr)


# ---- measurements -------------------------------------------------------------------------


def measure(tmp):
    rng = random.Random(11)
    model = os.path.join(tmp, "course.rpm")
    subprocess.run([BIN, "model", "convert", MODEL_DIR, model], check=True, capture_output=True, timeout=60)
    # Throughput with 100-record events, then 1-record events (where the
    # handler is a few microseconds: the runtime's CPU is the loop's own),
    # as fast as the Python server hands them out.
    for size, n in ((100, 2000), (1, 3000)):
        events = [kinesis_event(rng, size) for _ in range(20)]
        env = base_env(MODEL_LOCATION=model, RIDEPRED_LOG_LEVEL="warn")
        api = RuntimeAPI()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rt = Runtime(api, env, ["--max-invocations", str(n)])
        invs = [api.enqueue(events[i % len(events)]) for i in range(n)]
        invs[0].done.wait(60)
        t0 = invs[0].delivered_at
        ok = invs[-1].done.wait(300)
        t1 = time.monotonic()
        rc = rt.wait(60)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        api.stop()
        emf = emf_lines(rt.stdout())
        handler_us = sum(e["HandlerMs"] for e in emf[1:]) / max(1, len(emf) - 1) * 1000
        user_us = (ru1.ru_utime - ru0.ru_utime) * 1e6 / n
        sys_us = (ru1.ru_stime - ru0.ru_stime) * 1e6 / n
        rate = (n - 1) / (t1 - t0) if ok else 0
        check(f"throughput run ({size}-record events) completed",
              ok and rc == 0 and all(i.answer_kind == "response" for i in invs), rt.stderr()[-500:])
        print(f"measure: {size}-record events: {rate:.0f} invocations/s ({rate * size:.0f} records/s) through "
              f"the loop against the Python Runtime API server; runtime CPU per invocation: user {user_us:.0f} us "
              f"+ system {sys_us:.0f} us, of which the handler {handler_us:.0f} us: loop "
              f"{user_us + sys_us - handler_us:.0f} us (two HTTP exchanges over loopback, the EMF line; "
              f"bench/bench_lambda.c measures it against a C server)")

    # Cold start: exec to the first /next request, for the course MLflow
    # directory (pickle) and the converted native model.
    for label, loc in (("course MLflow dir (pickle)", MODEL_DIR), ("native model", model)):
        times = []
        for _ in range(5):
            api = RuntimeAPI()
            e = base_env(MODEL_LOCATION=loc)
            e["AWS_LAMBDA_RUNTIME_API"] = api.address
            t0 = time.monotonic()
            p = subprocess.Popen([BIN, "lambda", "--max-invocations", "1"], env=e, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            for _ in range(5000):
                if api.next_calls:
                    break
                time.sleep(0.0005)
            if api.next_calls:
                times.append((api.next_calls[0] - t0) * 1000)
            api.enqueue(b"{}").done.wait(10)
            p.wait(10)
            api.stop()
        times.sort()
        print(f"measure: cold start (exec to first /next), {label}: median {times[len(times) // 2]:.1f} ms "
              f"(min {times[0]:.1f}, max {times[-1]:.1f}; includes Python's fork/exec and server latency)")


def main():
    rptest.need_fixtures("course-model", "events")
    rptest.need_bin()
    tests = [test_help_and_usage, test_many_invocations, test_errors_and_limits, test_init_errors, test_deadline,
             test_api_goes_away, test_bootstrap_logs_trace, test_refused_answers]
    if os.environ.get("RIDEPRED_LAMBDA_MEASURE") or "measure" in sys.argv[1:]:
        tests.append(measure)
    rptest.run(tests, tmp_prefix="rp-lambda-")


if __name__ == "__main__":
    main()
