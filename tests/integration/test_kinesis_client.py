#!/usr/bin/python3
"""The Kinesis client against a scripted Kinesis on 127.0.0.1.

What the real peers (test_kinesis_peers.py) cannot show, because they never
throttle, never expire credentials and answer in one page: a fake Kinesis
(http.server, keep-alive) answers each request as the test scripts it,
checks every request's shape (POST /, Content-Type
application/x-amz-json-1.1, X-Amz-Target Kinesis_20131202.<Op>) and verifies
its SigV4 signature with botocore (Debian's python3-botocore), as AWS would.
`ridepred` is the client, run as users run it.

Checked: signatures (region from the variables, the profile and --region;
session tokens); PutRecords entries refused with
ProvisionedThroughputExceededException / InternalFailure sent again (only
those), other codes not, attempts bounded by AWS_MAX_ATTEMPTS; requests of at
most 500 records / 5 MiB; invalid entries refused locally; whole requests
retried on 500, throttling and a dropped connection; ExpiredTokenException
and expiring credentials resolved again (container credentials endpoint);
ListStreams and ListShards pagination; waiting for ACTIVE / deletion;
GetRecords decoding (escapes, timestamps, empty pages behind the tip, closed
shards); endpoint and region precedence and their errors; malformed answers;
one connection per command; libcurl loaded only when a request is made, and
a clear error without it.

Environment: RIDEPRED_BIN (CTest sets it).  Without botocore it prints SKIP
and exits 77, except when CI is set.  Prints "N passed, N failed"; exits 1
on any failure.  RIDEPRED_TEST_ONLY=TEXT runs the tests whose name has TEXT.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

BIN, CI = rptest.BIN, rptest.CI

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    botocore = None

AK, SECRET = "AKIDKINESISCLIENT", "kinesis-client-secret"
MAX_HASH = 2**128 - 1


# ---- the fake Kinesis ------------------------------------------------------------

class Reset(Exception):
    """Raised by a script: drop the connection without an answer."""


class Fake:
    def __init__(self):
        self.lock = threading.Lock()
        self.secrets = {AK: SECRET}
        self.region = "eu-west-3"
        self.calls = []        # (op, request JSON, access key id, headers)
        self.problems = []
        self.connections = 0
        self.creds_fetches = 0
        self.creds = None      # callable -> container credentials JSON
        self.script = None     # callable(op, req) -> (status, obj | bytes)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self, script, region="eu-west-3"):
        with self.lock:
            self.calls, self.problems, self.connections, self.creds_fetches = [], [], 0, 0
            self.script, self.region, self.creds = script, region, None

    def ops(self):
        return [c[0] for c in self.calls]

    def verify(self, headers, body):
        auth = headers.get("authorization", "")
        algo, _, rest = auth.partition(" ")
        try:
            fields = dict(p.strip().split("=", 1) for p in rest.split(","))
            ak, date, region, service, term = fields["Credential"].split("/")
        except (ValueError, KeyError):
            return None, f"bad Authorization: {auth!r}"
        if algo != "AWS4-HMAC-SHA256" or service != "kinesis" or term != "aws4_request":
            return ak, f"bad credential scope: {auth}"
        if region != self.region:
            return ak, f"signed for region {region}, expected {self.region}"
        if ak not in self.secrets:
            return ak, f"unknown access key {ak}"
        req = AWSRequest(method="POST", url=f"http://127.0.0.1:{self.port}/", data=body)
        signed = fields["SignedHeaders"].split(";")
        for n, v in headers.items():
            if n in signed:
                req.headers[n] = v
        signer = botocore.auth.SigV4Auth(Credentials(ak, self.secrets[ak], headers.get("x-amz-security-token")),
                                          "kinesis", region)
        req.context["timestamp"] = headers.get("x-amz-date", "")
        if signer.signed_headers(signer.headers_to_sign(req)) != fields["SignedHeaders"]:
            return ak, f"SignedHeaders {fields['SignedHeaders']} for headers {sorted(headers)}"
        canonical = signer.canonical_request(req)
        if signer.signature(signer.string_to_sign(req, canonical), req) != fields["Signature"]:
            return ak, "signature mismatch:\n" + canonical
        return ak, None

    def handler_class(self):
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with fake.lock:
                    fake.connections += 1

            def answer(self, status, body, ctype="application/x-amz-json-1.1"):
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # the container credentials endpoint
                with fake.lock:
                    fake.creds_fetches += 1
                    n = fake.creds_fetches
                self.answer(200, fake.creds(n), "application/json")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                target = headers.get("x-amz-target", "")
                problems = []
                if self.path != "/":
                    problems.append(f"path {self.path}")
                if headers.get("content-type") != "application/x-amz-json-1.1":
                    problems.append(f"Content-Type {headers.get('content-type')}")
                if not target.startswith("Kinesis_20131202."):
                    problems.append(f"X-Amz-Target {target}")
                ak, why = fake.verify(headers, body)
                if why:
                    problems.append(why)
                op = target.split(".", 1)[-1]
                try:
                    req = json.loads(body)
                except ValueError:
                    req, _ = None, problems.append("body is not JSON")
                with fake.lock:
                    fake.calls.append((op, req, ak, headers))
                    fake.problems += [f"{op}: {p}" for p in problems]
                if problems:
                    return self.answer(400, {"__type": "InvalidSignatureException", "message": "; ".join(problems)})
                try:
                    status, out = fake.script(op, req)
                except Reset:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.answer(status, out)

        return H


def err(code, message, status=400):
    return status, {"__type": code, "message": message}


def summary(name, status="ACTIVE", shards=1):
    return 200, {"StreamDescriptionSummary": {
        "StreamName": name, "StreamARN": f"arn:aws:kinesis:eu-west-3:123456789012:stream/{name}",
        "StreamStatus": status, "RetentionPeriodHours": 24, "StreamCreationTimestamp": 1700000000.5,
        "EnhancedMonitoring": [], "EncryptionType": "NONE", "OpenShardCount": shards}}


def shard(i, lo=0, hi=MAX_HASH, parent=None, closed=False):
    s = {"ShardId": f"shardId-{i:012d}", "HashKeyRange": {"StartingHashKey": str(lo), "EndingHashKey": str(hi)},
         "SequenceNumberRange": {"StartingSequenceNumber": f"{i + 1}000"}}
    if parent is not None:
        s["ParentShardId"] = f"shardId-{parent:012d}"
    if closed:
        s["SequenceNumberRange"]["EndingSequenceNumber"] = f"{i + 1}999"
    return s


class Store:
    """A minimal in-memory PutRecords: numbers the records it keeps."""

    def __init__(self):
        self.records = []

    def put(self, req, refuse=lambda i, rec: None):
        out, failed = [], 0
        for i, rec in enumerate(req["Records"]):
            code = refuse(i, rec)
            if code:
                failed += 1
                out.append({"ErrorCode": code, "ErrorMessage": f"{code} for {rec['PartitionKey']}"})
            else:
                self.records.append((rec["PartitionKey"], base64.b64decode(rec["Data"])))
                out.append({"ShardId": "shardId-000000000000", "SequenceNumber": str(1000 + len(self.records))})
        return 200, {"FailedRecordCount": failed, "Records": out, "EncryptionType": "NONE"}


# ---- running ridepred -------------------------------------------------------------

class Env:
    def __init__(self, fake, tmp):
        self.fake, self.tmp = fake, tmp
        self.home = os.path.join(tmp, "home")
        os.makedirs(self.home, exist_ok=True)
        self.base = {"PATH": "/usr/bin:/bin", "HOME": self.home, "LANG": "C.UTF-8",
                     "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "eu-west-3",
                     "KINESIS_ENDPOINT_URL": fake.url,
                     "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "unused.db")}
        # Sanitizer settings pass through (make asan, valgrind runs).
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.base[k] = os.environ[k]

    def rp(self, args, input=None, env=None, drop=(), timeout=120):
        e = dict(self.base)
        for k in drop:
            e.pop(k, None)
        e.update(env or {})
        return subprocess.run([BIN] + args, input=input, capture_output=True, env=e, timeout=timeout)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def ok(p, what="ridepred"):
    expect(p.returncode == 0, f"{what} exited {p.returncode}: {p.stderr.decode(errors='replace')[-1500:]}")
    return p


def lines(p):
    return [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- tests -------------------------------------------------------------------------

def t_wire_and_signature(e):
    f = e.fake

    def script(op, req):
        if op == "DescribeStreamSummary":
            return summary(req["StreamName"])
        if op == "ListShards":
            return 200, {"Shards": [shard(0)]}
        return err("UnknownOperationException", op)

    f.reset(script)
    p = ok(e.rp(["streams", "describe", "kinesis:s1"]))
    d = json.loads(p.stdout)
    expect(d["StreamCreationTimestamp"] == 1700000000.5 and d["OpenShardCount"] == 1, d)
    expect(f.ops() == ["DescribeStreamSummary", "ListShards"] and not f.problems, (f.ops(), f.problems))
    expect(f.calls[0][1] == {"StreamName": "s1"} and f.calls[1][1] == {"StreamName": "s1"}, f.calls)
    expect(f.connections == 1, f"{f.connections} connections")
    # Session credentials: X-Amz-Security-Token sent and signed.
    f.reset(script)
    ok(e.rp(["streams", "describe", "kinesis:s1"], env={"AWS_SESSION_TOKEN": "tok/en+=="}))
    expect(not f.problems, f.problems)
    h = f.calls[0][3]
    expect(h.get("x-amz-security-token") == "tok/en+==" and "x-amz-security-token" in h["authorization"], h)
    # Region from the profile, and --region over AWS_REGION.
    with open(os.path.join(e.home, ".aws-config"), "w") as fh:
        fh.write("[default]\nregion = ap-south-1\n")
    f.reset(script, region="ap-south-1")
    ok(e.rp(["streams", "describe", "kinesis:s1"], drop=["AWS_REGION"],
            env={"AWS_CONFIG_FILE": os.path.join(e.home, ".aws-config")}))
    expect(not f.problems, f.problems)
    f.reset(script, region="sa-east-1")
    ok(e.rp(["streams", "describe", "kinesis:s1", "--region", "sa-east-1"]))
    expect(not f.problems, f.problems)


def t_put_entry_retries(e):
    f = e.fake
    store = Store()
    seen = {}

    def refuse(i, rec):
        pk = rec["PartitionKey"]
        seen[pk] = seen.get(pk, 0) + 1
        n = seen[pk]
        if pk == "k1" and n <= 2:
            return "ProvisionedThroughputExceededException"
        if pk == "k2" and n == 1:
            return "InternalFailure"
        if pk == "k3":
            return "KMSAccessDeniedException"
        if pk == "k4":
            return "ProvisionedThroughputExceededException"
        return None

    f.reset(lambda op, req: store.put(req, refuse))
    docs = [json.dumps({"ride_id": f"k{i}", "n": i}) for i in range(10)]
    t0 = time.monotonic()
    p = e.rp(["put", "kinesis:s", "-"], input=("\n".join(docs) + "\n").encode(), env={"AWS_MAX_ATTEMPTS": "4"})
    took = time.monotonic() - t0
    expect(p.returncode == 1, f"exit {p.returncode} (1: some refused): {p.stderr}")
    out = lines(p)
    expect(len(out) == 10, out)
    for i, r in enumerate(out):
        if i == 3:
            expect(r.get("ErrorCode") == "KMSAccessDeniedException", r)
        elif i == 4:
            expect(r.get("ErrorCode") == "ProvisionedThroughputExceededException", r)
        else:
            expect("SequenceNumber" in r, (i, r))
    sent = [[rec["PartitionKey"] for rec in c[1]["Records"]] for c in f.calls]
    expect(sent == [[f"k{i}" for i in range(10)], ["k1", "k2", "k4"], ["k1", "k4"], ["k4"]], sent)
    expect([pk for pk, _ in store.records] == ["k0", "k5", "k6", "k7", "k8", "k9", "k2", "k1"], store.records)
    expect(dict(store.records)["k6"] == docs[6].encode(), "data changed on the way")
    expect(took < 5, f"took {took:.1f} s (full-jitter delays are at most 0.1 + 0.2 + 0.4 s)")
    expect(not f.problems, f.problems)


def t_chunks(e):
    f = e.fake
    store = Store()
    f.reset(lambda op, req: store.put(req))
    docs = [json.dumps({"ride_id": i}) for i in range(1201)]
    ok(e.rp(["put", "kinesis:s", "-"], input=("\n".join(docs) + "\n").encode()))
    expect([len(c[1]["Records"]) for c in f.calls] == [500, 500, 201], [len(c[1]["Records"]) for c in f.calls])
    expect(f.connections == 1, f"{f.connections} connections for one put")
    # Big records: at most 5 MiB of data and keys per request; one over
    # 1 MiB and one with a 257-character key refused here, not sent.
    f.reset(lambda op, req: store.put(req))
    big = [json.dumps({"ride_id": i, "pad": "x" * 999_000}) for i in range(11)]
    big.insert(3, json.dumps({"ride_id": 99, "pad": "y" * (1 << 20)}))
    big.insert(5, json.dumps({"ride_id": "p" * 257}))
    p = e.rp(["put", "kinesis:s", "-"], input=("\n".join(big) + "\n").encode())
    expect(p.returncode == 1, f"exit {p.returncode}")
    out = lines(p)
    expect(out[3].get("ErrorCode") == "ValidationException" and out[5].get("ErrorCode") == "ValidationException", out[3:6])
    expect(sum("SequenceNumber" in r for r in out) == 11, out)
    sizes = [sum(len(base64.b64decode(r["Data"])) + len(r["PartitionKey"].encode()) for r in c[1]["Records"])
             for c in f.calls]
    expect(all(s <= 5 * 1024 * 1024 for s in sizes) and sum(len(c[1]["Records"]) for c in f.calls) == 11, sizes)
    expect(max(len(c[1]["Records"]) for c in f.calls) == 5, [len(c[1]["Records"]) for c in f.calls])


def t_request_retries(e):
    f = e.fake
    state = {"n": 0}

    def script(op, req):
        if op == "ListShards":
            return 200, {"Shards": [shard(0)]}
        state["n"] += 1
        n = state["n"]
        if n == 1:
            return err("InternalFailure", "boom", 500)
        if n == 2:
            return err("ThrottlingException", "Rate exceeded")
        if n == 3:
            raise Reset()
        return summary(req["StreamName"])

    f.reset(script)
    p = ok(e.rp(["streams", "describe", "kinesis:s"]))
    expect(f.ops() == ["DescribeStreamSummary"] * 4 + ["ListShards"], f.ops())
    # Attempts run out: the last error, the attempts, exit 3.
    f.reset(lambda op, req: err("InternalFailure", "still broken", 500))
    p = e.rp(["streams", "describe", "kinesis:s"], env={"AWS_MAX_ATTEMPTS": "3"})
    expect(p.returncode == 3 and b"InternalFailure: still broken (3 attempts)" in p.stderr, p.stderr)
    expect(len(f.calls) == 3, f.ops())
    # Not retried: a client error.
    f.reset(lambda op, req: err("ValidationException", "1 validation error detected"))
    p = e.rp(["streams", "describe", "kinesis:s"])
    expect(p.returncode == 3 and len(f.calls) == 1 and b"ValidationException: 1 validation" in p.stderr, p.stderr)


def t_credentials_refresh(e):
    f = e.fake
    f.secrets.update({"AKIDFIRST": "s1", "AKIDSECOND": "s2", "AKIDSOON": "s3"})
    drop = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{f.url}/creds"}

    def creds_script(n):
        ak = "AKIDFIRST" if n == 1 else "AKIDSECOND"
        return {"AccessKeyId": ak, "SecretAccessKey": f.secrets[ak], "Token": f"token{n}",
                "Expiration": "2099-01-01T00:00:00Z"}

    def script(op, req):
        if f.calls[-1][2] == "AKIDFIRST":
            return err("ExpiredTokenException", "The security token included in the request is expired")
        if op == "ListShards":
            return 200, {"Shards": [shard(0)]}
        return summary(req["StreamName"])

    f.reset(script)
    f.creds = creds_script
    ok(e.rp(["streams", "describe", "kinesis:s"], drop=drop, env=env))
    expect([c[2] for c in f.calls] == ["AKIDFIRST", "AKIDSECOND", "AKIDSECOND"], [c[2] for c in f.calls])
    expect(f.creds_fetches == 2 and not f.problems, (f.creds_fetches, f.problems))
    # Credentials expiring within ten minutes are resolved again before each call.
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    store = Store()
    f.reset(lambda op, req: store.put(req))
    f.creds = lambda n: {"AccessKeyId": "AKIDSOON", "SecretAccessKey": "s3", "Token": "t", "Expiration": soon}
    docs = [json.dumps({"ride_id": i}) for i in range(1500)]
    ok(e.rp(["put", "kinesis:s", "-"], input=("\n".join(docs) + "\n").encode(), drop=drop, env=env))
    expect(len(f.calls) == 3 and f.creds_fetches == 4, (len(f.calls), f.creds_fetches))
    expect(not f.problems, f.problems)


def t_pagination(e):
    f = e.fake
    names = ["e5", "a1", "c3", "b2", "d4"]

    def by_name(op, req):  # kinesalite's way: HasMoreStreams + ExclusiveStartStreamName
        if "NextToken" in req:
            return err("ValidationException", "no tokens here")
        rest = sorted(n for n in names if n > req.get("ExclusiveStartStreamName", ""))
        return 200, {"StreamNames": rest[:2], "HasMoreStreams": len(rest) > 2}

    f.reset(by_name)
    p = ok(e.rp(["streams", "list", "--backend", "kinesis"]))
    expect(p.stdout.decode().split() == [f"kinesis:{n}" for n in sorted(names)], p.stdout)
    expect([c[1].get("ExclusiveStartStreamName") for c in f.calls] == [None, "b2", "d4"], f.calls)

    def by_token(op, req):  # AWS's: NextToken and StreamSummaries
        page = int(req.get("NextToken", "t0")[1:])
        if page and set(req) != {"NextToken", "Limit"}:
            return err("InvalidArgumentException", "NextToken and other parameters")
        chunk = sorted(names)[page * 2:page * 2 + 2]
        out = {"StreamNames": chunk, "HasMoreStreams": page < 2,
               "StreamSummaries": [{"StreamName": n, "StreamStatus": "ACTIVE",
                                    "StreamARN": "arn:x", "StreamCreationTimestamp": 1.5} for n in chunk]}
        if page < 2:
            out["NextToken"] = f"t{page + 1}"
        return 200, out

    f.reset(by_token)
    p = ok(e.rp(["streams", "list", "--backend", "kinesis"]))
    expect(p.stdout.decode().split() == [f"kinesis:{n}" for n in sorted(names)], p.stdout)
    expect(len(f.calls) == 3, f.ops())

    def shards_paged(op, req):
        if op == "DescribeStreamSummary":
            return summary("s", shards=5)
        page = int(req.get("NextToken", "p0")[1:])
        if page and "StreamName" in req:
            return err("InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
        step = 2**128 // 5
        sh = [shard(i, i * step, MAX_HASH if i == 4 else (i + 1) * step - 1) for i in range(5)]
        out = {"Shards": sh[page * 2:page * 2 + 2]}
        if page < 2:
            out["NextToken"] = f"p{page + 1}"
        return 200, out

    f.reset(shards_paged)
    d = json.loads(ok(e.rp(["streams", "describe", "kinesis:s"])).stdout)
    expect([s["ShardId"] for s in d["Shards"]] == [f"shardId-{i:012d}" for i in range(5)], d["Shards"])
    expect(not f.problems, f.problems)


def t_waits(e):
    f = e.fake
    st = {"describes": 0}

    def creating(op, req):
        if op == "CreateStream":
            expect(req == {"StreamName": "w", "ShardCount": 3}, req)
            return 200, b""
        st["describes"] += 1
        if st["describes"] == 1:
            return err("ResourceNotFoundException", "Stream w under account 123456789012 not found.")
        return summary("w", "CREATING" if st["describes"] < 4 else "ACTIVE", 3)

    f.reset(creating)
    p = ok(e.rp(["streams", "create", "kinesis:w", "--shards", "3"]))
    expect(p.stdout == b"created kinesis:w (3 shards)\n" and f.ops() == ["CreateStream"] + ["DescribeStreamSummary"] * 4, f.ops())

    st["describes"] = 0

    def deleting(op, req):
        if op == "DeleteStream":
            return 200, b""
        st["describes"] += 1
        if st["describes"] <= 2:
            return summary("w", "DELETING")
        return err("ResourceNotFoundException", "Stream w under account 123456789012 not found.")

    f.reset(deleting)
    ok(e.rp(["streams", "delete", "kinesis:w"]))
    expect(f.ops() == ["DeleteStream"] + ["DescribeStreamSummary"] * 3, f.ops())

    st["describes"] = 0
    st["updated"] = False

    def updating(op, req):
        if op == "UpdateShardCount":
            expect(req == {"StreamName": "w", "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"}, req)
            st["updated"], st["describes"] = True, 0
            return 200, {"StreamName": "w", "CurrentShardCount": 1, "TargetShardCount": 2}
        st["describes"] += 1
        if not st["updated"]:
            return summary("w", "UPDATING" if st["describes"] == 1 else "ACTIVE", 1)
        return summary("w", "UPDATING" if st["describes"] <= 2 else "ACTIVE", 2)

    f.reset(updating)
    ok(e.rp(["streams", "update-shard-count", "kinesis:w", "2"]))
    expect(f.ops() == ["DescribeStreamSummary"] * 2 + ["UpdateShardCount"] + ["DescribeStreamSummary"] * 3, f.ops())
    # Already at the target: nothing to do.
    f.reset(lambda op, req: summary("w", "ACTIVE", 2))
    ok(e.rp(["streams", "update-shard-count", "kinesis:w", "2"]))
    expect(f.ops() == ["DescribeStreamSummary"], f.ops())


RECORD1 = b'{"ride_id": 1, "x": "\xc3\xbc", "y": "???"}'  # base64 with "/" in it


def t_get_records(e):
    f = e.fake
    pages = {
        "it0": {"Records": [], "NextShardIterator": "it1", "MillisBehindLatest": 1000},
        "it1": {"Records": [
            {"SequenceNumber": "1001", "ApproximateArrivalTimestamp": 1700000000.123,
             "Data": base64.b64encode(RECORD1).decode(), "PartitionKey": "k\u00fc1",
             "EncryptionType": "NONE"},
            {"SequenceNumber": "1002", "ApproximateArrivalTimestamp": 1700000001,
             "Data": base64.b64encode(b"\xff\x00 not json").decode(), "PartitionKey": "k2"}],
            "NextShardIterator": "it2", "MillisBehindLatest": 500},
        "it2": {"Records": [], "NextShardIterator": "it3", "MillisBehindLatest": 0},
        "c0": {"Records": [{"SequenceNumber": "2001", "ApproximateArrivalTimestamp": 1700000002.5,
                            "Data": base64.b64encode(b"closed").decode(), "PartitionKey": "c"}],
               "MillisBehindLatest": 0},
    }

    def script(op, req):
        if op == "ListShards":
            return 200, {"Shards": [shard(0), shard(1, closed=True)]}
        if op == "GetShardIterator":
            expect(req["ShardIteratorType"] == "TRIM_HORIZON", req)
            return 200, {"ShardIterator": "it0" if req["ShardId"] == "shardId-000000000000" else "c0"}
        if op == "GetRecords":
            it = req["ShardIterator"]
            if it == "it1":  # escape every "/" and non-ASCII character, as JSON allows
                body = json.dumps(pages[it]).replace("/", "\\/").encode()
                expect(b"\\/" in body and b"\\u00fc" in body, body)
                return 200, body
            return 200, pages[it]
        return err("UnknownOperationException", op)

    f.reset(script)
    out = lines(ok(e.rp(["read", "kinesis:s"])))
    expect(out == [
        {"shard": "shardId-000000000000", "sequence_number": "1001", "partition_key": "kü1",
         "arrival": "2023-11-14T22:13:20.123Z", "data": {"ride_id": 1, "x": "ü", "y": "???"}},
        {"shard": "shardId-000000000000", "sequence_number": "1002", "partition_key": "k2",
         "arrival": "2023-11-14T22:13:21.000Z", "data": "\udcff\x00 not json"},
        {"shard": "shardId-000000000001", "sequence_number": "2001", "partition_key": "c",
         "arrival": "2023-11-14T22:13:22.500Z", "data": "closed"}], out)
    gets = [c[1]["ShardIterator"] for c in f.calls if c[0] == "GetRecords"]
    expect(gets == ["it0", "it1", "it2", "c0"], gets)
    # --from time: sends the timestamp in seconds.
    f.reset(lambda op, req: (200, {"Shards": [shard(0)]}) if op == "ListShards" else
            (200, {"ShardIterator": "it2"}) if op == "GetShardIterator" else (200, pages["it2"]))
    ok(e.rp(["read", "kinesis:s", "--from", "time:2023-11-14T22:13:20.250Z"]))
    gsi = next(c[1] for c in f.calls if c[0] == "GetShardIterator")
    expect(gsi["ShardIteratorType"] == "AT_TIMESTAMP" and gsi["Timestamp"] == 1700000000.25, gsi)


def t_endpoints_and_config(e):
    f = e.fake
    f.reset(lambda op, req: (200, {"Shards": [shard(0)]}) if op == "ListShards" else summary("s"))
    dead = f"http://127.0.0.1:{dead_port()}"
    cases = [
        ({"KINESIS_ENDPOINT_URL": f.url, "AWS_ENDPOINT_URL_KINESIS": dead, "AWS_ENDPOINT_URL": dead}, []),
        ({"AWS_ENDPOINT_URL_KINESIS": f.url, "AWS_ENDPOINT_URL": dead}, []),
        ({"AWS_ENDPOINT_URL": f.url + "/"}, []),
        ({"KINESIS_ENDPOINT_URL": dead, "AWS_ENDPOINT_URL": dead}, ["--endpoint-url", f.url]),
    ]
    for env, flags in cases:
        before = len(f.calls)
        p = e.rp(["streams", "describe", "s"] + flags, env=env, drop=["KINESIS_ENDPOINT_URL"],
                 timeout=60)
        ok(p, f"endpoint case {env} {flags}")
        expect(len(f.calls) == before + 2, f"{env}: requests went elsewhere")
    # No region anywhere.
    p = e.rp(["streams", "list", "--backend", "kinesis"], drop=["AWS_REGION"])
    expect(p.returncode == 3 and b"set AWS_REGION" in p.stderr, p.stderr)
    # No credentials anywhere.
    p = e.rp(["streams", "list", "--backend", "kinesis"], drop=["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    expect(p.returncode == 3 and b"no AWS credentials found" in p.stderr, p.stderr)
    # A bad endpoint says which setting is wrong.
    p = e.rp(["streams", "list"], env={"KINESIS_ENDPOINT_URL": "ftp://example.com"})
    expect(p.returncode == 3 and b"Kinesis endpoint (KINESIS_ENDPOINT_URL)" in p.stderr, p.stderr)
    expect(SECRET.encode() not in p.stderr, "secret in an error message")


def t_malformed_answers(e):
    f = e.fake
    f.reset(lambda op, req: (200, b"<html>proxy error</html>"))
    p = e.rp(["streams", "describe", "kinesis:s"])
    expect(p.returncode == 3 and b"Kinesis answered DescribeStreamSummary with" in p.stderr, p.stderr)
    f.reset(lambda op, req: (200, {"FailedRecordCount": 0, "Records": [{"ShardId": "shardId-000000000000",
                                                                         "SequenceNumber": "1"}]}))
    p = e.rp(["put", "kinesis:s", "-"], input=b'{"ride_id": 1}\n{"ride_id": 2}\n')
    expect(p.returncode == 3 and b"1 results for 2 records" in p.stderr, p.stderr)
    expect(all(r.get("ErrorCode") for r in lines(p)), lines(p))
    f.reset(lambda op, req: (200, {"Shards": [shard(0)]}) if op == "ListShards" else
            (200, {"ShardIterator": "x" * 1100}))
    p = e.rp(["read", "kinesis:s"])
    expect(p.returncode == 3 and b"shard iterator of 1100 characters" in p.stderr, p.stderr)


def t_libcurl_on_demand(e):
    f = e.fake
    f.reset(lambda op, req: (200, {"StreamNames": [], "HasMoreStreams": False}))
    # No HTTP: libcurl is never loaded.
    model = os.path.join(e.tmp, "m.json")
    with open(model, "w") as fh:
        json.dump({"format": "ridepred.model/1", "features": ["trip_distance"],
                   "estimator": {"type": "linear", "coef": [2.0], "intercept": 1.0}}, fh)
    p = ok(e.rp(["invoke", "--model", model, "--test-run", "-"], input=b'{"ride": {"PULocationID": 1, '
            b'"DOLocationID": 2, "trip_distance": 3.0}, "ride_id": 7}', env={"LD_DEBUG": "libs"}))
    expect(b"libcurl" not in p.stderr, "libcurl loaded without a request")
    p = ok(e.rp(["streams", "list", "--backend", "kinesis"], env={"LD_DEBUG": "libs"}))
    expect(b"libcurl.so.4" in p.stderr, "libcurl not loaded for a request")
    # Without libcurl: a clear error.
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        expect(not CI, "no C compiler to build the dlopen shim")
        print("   (no C compiler: the missing-libcurl case is not checked)")
        return
    shim_c, shim = os.path.join(e.tmp, "nocurl.c"), os.path.join(e.tmp, "nocurl.so")
    with open(shim_c, "w") as fh:
        fh.write('#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <string.h>\n'
                 'void *dlopen(const char *f, int m) {\n'
                 '  static void *(*real)(const char *, int);\n'
                 '  if (f && strstr(f, "libcurl")) return NULL;\n'
                 '  if (!real) real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");\n'
                 '  return real(f, m);\n}\n')
    subprocess.run([cc, "-shared", "-fPIC", "-o", shim, shim_c], check=True)
    p = e.rp(["streams", "list", "--backend", "kinesis"], env={"LD_PRELOAD": shim})
    expect(p.returncode == 3 and b"libcurl is not available" in p.stderr and b"install libcurl4" in p.stderr,
           p.stderr)


TESTS = [
    ("wire format and signatures", t_wire_and_signature),
    ("PutRecords entries retried", t_put_entry_retries),
    ("PutRecords chunks and local refusals", t_chunks),
    ("whole requests retried", t_request_retries),
    ("credentials resolved again", t_credentials_refresh),
    ("ListStreams / ListShards pagination", t_pagination),
    ("waiting for ACTIVE and deletion", t_waits),
    ("GetRecords decoding", t_get_records),
    ("endpoints, region, credentials: precedence and errors", t_endpoints_and_config),
    ("malformed answers", t_malformed_answers),
    ("libcurl loaded on demand", t_libcurl_on_demand),
]


def main():
    rptest.need_bin()
    if botocore is None:
        rptest.skip("botocore is not installed (Debian: python3-botocore)")
    fake = Fake()
    tmp = tempfile.mkdtemp(prefix="rp-kinesis-client-")
    try:
        rptest.run(TESTS, Env(fake, tmp), finish=False)
    finally:
        fake.server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    rptest.tally.finish()


if __name__ == "__main__":
    main()
