#!/usr/bin/python3
"""The DynamoDB client (src/aws/dynamodb.h) against its real peer, dynalite.

dynalite (npm dynalite: DynamoDB's API on LevelDB, started on 127.0.0.1 by
tests/tools/dynamodb_peer.mjs) answers tests/tools/dynamodb_cli, a thin
driver of the client.  botocore (Debian's python3-botocore) and the AWS CLI
(/usr/bin/aws) read and write the same tables, so that what the C client
writes is checked by AWS's own code, attribute by attribute and type by type,
and what they write the C client reads back the same.

Checked: CreateTable (a HASH S key, PAY_PER_REQUEST, ACTIVE when the call
returns; "existed" the second time), DescribeTable, DeleteTable (then
ResourceNotFoundException, RP_ERR_NOT_FOUND); PutItem / UpdateItem /
DeleteItem with conditions that hold and that do not, the latter reported
as their own outcome (exit 3, never retried) and leaving the item as it
was, as botocore reads it; every attribute type both ways (S with escapes,
non-ASCII and NUL, N of 38 digits kept as text, BOOL, NULL, SS, NS, and L /
M / B kept raw); Scan over more items than a page (Limit honoured: the same
pages as botocore's), with a filter; throttling
(ProvisionedThroughputExceededException, ThrottlingException,
RequestLimitExceeded), 500 / 503 and a dropped connection retried by the
client and then written for real, through a small fault-injecting proxy
that also verifies every request's SigV4 signature (service dynamodb) with
botocore; too many failures a retriable error; an unreachable endpoint a
retriable error naming it; one connection for many calls; dynalite stopped
and restarted on the same port and store while one handle waits: the
handle fails retriably during the outage and then reads the same data.

Environment: RIDEPRED_BUILD_DIR (CTest sets it).  Without node, dynalite,
botocore or the AWS CLI it prints SKIP and exits 77, except when CI is set.
Prints "N passed, N failed"; exits 1 on any failure.  RIDEPRED_TEST_ONLY=TEXT
runs the tests whose name has TEXT.
"""

import base64
import http.client
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

try:
    import botocore.auth
    import botocore.session
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
except ImportError:
    botocore = None

CLI = os.path.join(rptest.BUILD, "dynamodb_cli")
LAUNCHER = os.path.join(rptest.TOOLS, "dynamodb_peer.mjs")
AWS_CLI = "/usr/bin/aws"
AK, SECRET, REGION = "AKIDDYNAMOCLIENT", "dynamodb-client-secret", "eu-west-1"


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


# ---- the peer ------------------------------------------------------------------------

class Dynalite:
    """dynalite on 127.0.0.1, in memory or on disk (path), stoppable and
    restartable on the same port."""

    def __init__(self, tmp, path=None):
        self.tmp, self.path, self.port = tmp, path, 0
        self.log = os.path.join(tmp, "dynalite.log")
        self.proc = None
        self.starts = 0
        self.start()

    def start(self):
        args = ["node", LAUNCHER, "--port", str(self.port), "--watch-stdin"]
        if self.path:
            args += ["--path", self.path]
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=self.tmp)
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = [ln for ln in open(self.log, errors="replace") if ln.startswith("DYNAMODB_PEER_READY ")]
            if len(ready) >= self.starts:
                self.port = json.loads(ready[-1].split(" ", 1)[1])["port"]
                self.endpoint = f"http://127.0.0.1:{self.port}"
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"dynalite did not start: {open(self.log).read()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError("dynalite did not start in 60 s")

    def connections(self):
        return sum(1 for ln in open(self.log, errors="replace") if ln.startswith("DYNAMODB_PEER_CONNECTION"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()  # --watch-stdin: it closes its store and exits
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        self.proc = None


# ---- a fault-injecting proxy that checks signatures --------------------------------------

class Proxy:
    """Forwards to dynalite, after verifying the request's SigV4 signature
    (service dynamodb) with botocore.  script(op, n) (n counts the requests
    of that op from 0) answers None to forward, "drop" to close the
    connection without an answer, or (status, body) to answer itself."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.script = lambda op, n: None
        self.counts, self.problems, self.ops = {}, [], []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self, script):
        with self.lock:
            self.script, self.counts, self.problems, self.ops = script, {}, [], []

    def verify(self, path, headers, body):
        auth = headers.get("authorization", "")
        algo, _, rest = auth.partition(" ")
        try:
            fields = dict(p.strip().split("=", 1) for p in rest.split(","))
            ak, _date, region, service, term = fields["Credential"].split("/")
        except (ValueError, KeyError):
            return f"bad Authorization: {auth!r}"
        if (algo, ak, region, service, term) != ("AWS4-HMAC-SHA256", AK, REGION, "dynamodb", "aws4_request"):
            return f"bad credential scope: {auth}"
        req = AWSRequest(method="POST", url=self.url + path, data=body)
        for n, v in headers.items():
            if n in fields["SignedHeaders"].split(";"):
                req.headers[n] = v
        signer = botocore.auth.SigV4Auth(Credentials(AK, SECRET), "dynamodb", REGION)
        req.context["timestamp"] = headers.get("x-amz-date", "")
        canonical = signer.canonical_request(req)
        if signer.signature(signer.string_to_sign(req, canonical), req) != fields["Signature"]:
            return "signature mismatch:\n" + canonical
        return None

    def handler_class(self):
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                target = headers.get("x-amz-target", "")
                op = target.split(".", 1)[-1]
                with proxy.lock:
                    problem = proxy.verify(self.path, headers, body)
                    if problem:
                        proxy.problems.append(problem)
                    if target != f"DynamoDB_20120810.{op}" or \
                            headers.get("content-type") != "application/x-amz-json-1.0" or self.path != "/":
                        proxy.problems.append(f"bad request line or headers: {self.path} {headers}")
                    n = proxy.counts.get(op, 0)
                    proxy.counts[op] = n + 1
                    proxy.ops.append(op)
                    action = proxy.script(op, n)
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action is not None:
                    status, answer = action
                    self.reply(status, json.dumps(answer).encode(), "application/x-amz-json-1.0")
                    return
                up = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=30)
                try:
                    up.request("POST", "/", body=body, headers={k: v for k, v in self.headers.items()})
                    r = up.getresponse()
                    self.reply(r.status, r.read(), r.getheader("Content-Type", "application/x-amz-json-1.0"))
                finally:
                    up.close()

            def reply(self, status, data, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return H


def aws_error(code, message="injected by the test"):
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}


# ---- the clients ---------------------------------------------------------------------

class Env:
    def __init__(self, tmp, peer):
        self.tmp, self.peer = tmp, peer
        home = os.path.join(tmp, "home")
        os.makedirs(home, exist_ok=True)
        self.env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "AWS_ACCESS_KEY_ID": AK,
                    "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                    "AWS_CONFIG_FILE": os.path.join(home, "none"),
                    "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        session = botocore.session.Session()
        session.set_credentials(AK, SECRET)
        self.boto = session.create_client("dynamodb", region_name=REGION, endpoint_url=peer.endpoint)

    def cli(self, args, endpoint=None, opts=(), env=None, timeout=120):
        e = dict(self.env)
        e.update(env or {})
        argv = [CLI, "--endpoint", endpoint or self.peer.endpoint, *opts, *args]
        p = subprocess.run(argv, capture_output=True, env=e, timeout=timeout)
        p.out, p.err = p.stdout.decode(), p.stderr.decode(errors="replace")
        return p

    def ok(self, args, **kw):
        p = self.cli(args, **kw)
        expect(p.returncode == 0, f"dynamodb_cli {args[:2]} exited {p.returncode}: {p.err[-1500:]}")
        return p

    def items(self, p):
        return [json.loads(x) for x in p.out.splitlines() if x.startswith("{")]

    def table(self, name):
        self.ok(["create", name, "leaseKey"])
        return name


def attempts(p):
    return int([ln for ln in p.err.splitlines() if ln.startswith("attempts=")][-1].split("=")[1])


def table_names(e):
    return e.boto.list_tables()["TableNames"]


# ---- tests -------------------------------------------------------------------------

def t_tables(e):
    p = e.ok(["create", "leases_t", "leaseKey"])
    expect(p.out.strip() == "created", p.out)
    d = json.loads(e.ok(["describe", "leases_t"]).out)
    expect(d["status"] == "ACTIVE" and d["hash_key"] == "leaseKey" and d["hash_key_type"] == "S" and
           d["billing_mode"] == "PAY_PER_REQUEST" and d["item_count"] == 0, d)
    t = e.boto.describe_table(TableName="leases_t")["Table"]
    expect(t["TableStatus"] == "ACTIVE", t)
    expect(t["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}], t["KeySchema"])
    expect(t["AttributeDefinitions"] == [{"AttributeName": "leaseKey", "AttributeType": "S"}], t)
    expect(t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", t)
    expect(abs(t["CreationDateTime"].timestamp() * 1000 - d["created_ms"]) < 2, (t, d))
    p = e.ok(["create", "leases_t", "leaseKey"])
    expect(p.out.strip() == "existed", p.out)
    e.ok(["delete-table", "leases_t"])
    expect("leases_t" not in table_names(e), table_names(e))
    p = e.cli(["describe", "leases_t"])
    expect(p.returncode == 1 and "error: not_found: ResourceNotFoundException" in p.err and
           "retriable: no" in p.err and "last_code: ResourceNotFoundException" in p.err, p.err)
    p = e.cli(["put", "leases_t", '{"leaseKey": {"S": "a"}}'])
    expect(p.returncode == 1 and "not_found" in p.err, p.err)
    p = e.cli(["create", "x", "leaseKey"])  # refused before any request
    expect(p.returncode == 1 and "3 to 255" in p.err and "attempts=0" in p.err, p.err)


def t_conditions(e):
    t = e.table("leases_c")
    lease = '{"leaseKey": {"S": "shardId-000000000000"}, "leaseCounter": {"N": "1"}, ' \
            '"leaseOwner": {"S": "w1"}, "checkpoint": {"S": "TRIM_HORIZON"}}'
    key = '{"leaseKey": {"S": "shardId-000000000000"}}'
    boto_key = {"leaseKey": {"S": "shardId-000000000000"}}
    create = ["--cond", "attribute_not_exists(leaseKey)"]
    e.ok(["put", t, lease, *create])
    p = e.cli(["put", t, lease.replace('"w1"', '"w2"'), *create])
    expect(p.returncode == 3 and "condition-failed: ConditionalCheckFailedException" in p.err, p.err)
    expect(attempts(p) == 1, f"a failed condition is not retried: {p.err}")
    expect(e.boto.get_item(TableName=t, Key=boto_key, ConsistentRead=True)["Item"]["leaseOwner"] == {"S": "w1"},
           "the failed put changed the item")

    # Take the lease as KCL does: counter must be what was read; owner set, counter + 1.
    take = ["SET #o = :o ADD #c :one", "--cond", "#c = :c", "--names", '{"#o": "leaseOwner", "#c": "leaseCounter"}',
            "--values", '{":o": {"S": "w2"}, ":one": {"N": "1"}, ":c": {"N": "1"}}']
    p = e.ok(["update", t, key, *take, "--return-new"])
    new = e.items(p)[0]
    expect(new["leaseOwner"] == {"S": "w2"} and new["leaseCounter"] == {"N": "2"}, new)
    p = e.cli(["update", t, key, *take, "--return-new"])  # the same, stale counter: refused
    expect(p.returncode == 3 and "ConditionalCheckFailedException" in p.err and not e.items(p), (p.out, p.err))
    item = e.boto.get_item(TableName=t, Key=boto_key, ConsistentRead=True)["Item"]
    expect(item["leaseCounter"] == {"N": "2"} and item["leaseOwner"] == {"S": "w2"}, item)

    # Checkpoint under the owner's condition; someone else's condition fails.
    ckpt = ["SET checkpoint = :s", "--cond", "leaseOwner = :me"]
    e.ok(["update", t, key, *ckpt, "--values", '{":s": {"S": "49590338271490256608559692538361571095921575989136588898"},'
                                            ' ":me": {"S": "w2"}}'])
    p = e.cli(["update", t, key, *ckpt, "--values", '{":s": {"S": "0"}, ":me": {"S": "w1"}}'])
    expect(p.returncode == 3, p.err)
    item = e.boto.get_item(TableName=t, Key=boto_key, ConsistentRead=True)["Item"]
    expect(item["checkpoint"] == {"S": "49590338271490256608559692538361571095921575989136588898"}, item)

    # Delete under a condition that fails, then one that holds.
    p = e.cli(["delete", t, key, "--cond", "leaseOwner = :me", "--values", '{":me": {"S": "w1"}}'])
    expect(p.returncode == 3, p.err)
    expect("Item" in e.boto.get_item(TableName=t, Key=boto_key), "deleted under a false condition")
    e.ok(["delete", t, key, "--cond", "leaseOwner = :me", "--values", '{":me": {"S": "w2"}}'])
    expect("Item" not in e.boto.get_item(TableName=t, Key=boto_key, ConsistentRead=True), "not deleted")
    p = e.cli(["get", t, key])
    expect(p.returncode == 3 and p.out == "", (p.returncode, p.out))
    # Deleting what is not there: fine without a condition, a failed condition with one.
    e.ok(["delete", t, key])
    p = e.cli(["delete", t, key, "--cond", "attribute_exists(leaseKey)"])
    expect(p.returncode == 3, p.err)
    # A malformed expression is DynamoDB's ValidationException: an error, not a failed condition.
    p = e.cli(["put", t, lease, "--cond", "attribute_not_exists("])
    expect(p.returncode == 1 and "ValidationException" in p.err and "retriable: no" in p.err, p.err)


# Every type, as botocore's low-level client shows DynamoDB JSON.
ALL_TYPES = {
    "leaseKey": {"S": "types"},
    "s": {"S": "q\"b\\n\n\t\u0001/\u00e9\U0001F600 \u0000 end"},
    "empty": {"S": ""},
    "n": {"N": "12345678901234567890123456789012345678"},
    "neg": {"N": "-0.000123"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "z": {"NULL": True},
    "ss": {"SS": ["shardId-000000000001", "shardId-000000000002", "\u00e9"]},
    "ns": {"NS": ["1", "2.5", "-3"]},
    "l": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"k": {"BOOL": True}}}]},
    "m": {"M": {"a": {"S": "b"}, "c": {"NULL": True}}},
    "b": {"B": base64.b64encode(b"\x00\x01\xff").decode()},
    "\u00e9t\u00e9": {"S": "name not ASCII"},
}


def same_item(got, want):
    """Items equal, sets compared as sets (DynamoDB keeps no order)."""
    if set(got) != set(want):
        return False
    for k, v in want.items():
        g = got[k]
        t = next(iter(v))
        if t in ("SS", "NS", "BS"):
            if set(g.get(t, [])) != set(v[t]):
                return False
        elif g != v:
            return False
    return True


def t_types_cross_checked(e):
    t = e.table("leases_types")
    # The C client writes; botocore and the AWS CLI read.
    e.ok(["put", t, json.dumps(ALL_TYPES)])
    got = e.boto.get_item(TableName=t, Key={"leaseKey": {"S": "types"}}, ConsistentRead=True)["Item"]
    # botocore decodes B to bytes
    got["b"] = {"B": base64.b64encode(got["b"]["B"]).decode()}
    expect(same_item(got, ALL_TYPES), f"botocore read {got}")
    cli = subprocess.run([AWS_CLI, "dynamodb", "scan", "--table-name", t, "--consistent-read", "--endpoint-url",
                          e.peer.endpoint, "--output", "json"], capture_output=True, env=e.env, timeout=120)
    expect(cli.returncode == 0, cli.stderr.decode()[-1500:])
    items = json.loads(cli.stdout)["Items"]
    expect(len(items) == 1 and same_item(items[0], ALL_TYPES), f"aws dynamodb scan read {items}")

    # botocore writes; the C client reads (get and scan) the same.
    other = dict(ALL_TYPES, leaseKey={"S": "from-botocore"})
    boto_item = dict(other, b={"B": b"\x00\x01\xff"})
    e.boto.put_item(TableName=t, Item=boto_item)
    p = e.ok(["get", t, '{"leaseKey": {"S": "from-botocore"}}'])
    expect(same_item(e.items(p)[0], other), f"C read {p.out}")
    p = e.ok(["scan", t])
    expect(sorted(i["leaseKey"]["S"] for i in e.items(p)) == ["from-botocore", "types"], p.out)
    expect(all(same_item(i, dict(ALL_TYPES, leaseKey=i["leaseKey"])) for i in e.items(p)), p.out)
    # The 38-digit N as an int64: refused (it does not fit), the text kept.
    p = e.cli(["i64", json.dumps({"n": ALL_TYPES["n"]}), "n"])
    expect(p.returncode == 3, p.out)
    p = e.ok(["i64", json.dumps({"n": {"N": "-9223372036854775808"}}), "n"])
    expect(p.out.strip() == "-9223372036854775808", p.out)


def count_boto_pages(e, **kw):
    pages, start = 0, None
    while True:
        r = e.boto.scan(**kw, **({"ExclusiveStartKey": start} if start else {}))
        pages += 1
        start = r.get("LastEvaluatedKey")
        if not start:
            return pages


def t_scan_pages(e):
    t = e.table("leases_scan")
    keys = [f"shardId-{i:012d}" for i in range(25)]
    e.boto.batch_write_item(RequestItems={t: [
        {"PutRequest": {"Item": {"leaseKey": {"S": k}, "leaseOwner": {"S": f"w{j % 3}"},
                                 "leaseCounter": {"N": str(j)}}}}
        for j, k in enumerate(keys)]})
    p = e.ok(["scan", t, "--limit", "4"])
    got = [i["leaseKey"]["S"] for i in e.items(p)]
    expect(sorted(got) == keys and len(got) == 25, got)
    # botocore's pages with the same Limit.
    boto_pages = count_boto_pages(e, Limit=4, TableName=t, ConsistentRead=True)
    expect(f"pages={boto_pages} items=25" in p.out and boto_pages >= 7, (boto_pages, p.out[-200:]))
    p = e.ok(["scan", t])
    expect("pages=1 items=25" in p.out, p.out[-100:])
    p = e.ok(["scan", t, "--limit", "5", "--filter", "#o = :o", "--names", '{"#o": "leaseOwner"}',
              "--values", '{":o": {"S": "w1"}}', "--eventual"])
    want = sorted(k for j, k in enumerate(keys) if j % 3 == 1)
    expect(sorted(i["leaseKey"]["S"] for i in e.items(p)) == want, p.out)
    # Limit counts the items read, before the filter: the same pages as botocore's.
    boto_pages = count_boto_pages(e, TableName=t, Limit=5, FilterExpression="#o = :o",
                                  ExpressionAttributeNames={"#o": "leaseOwner"},
                                  ExpressionAttributeValues={":o": {"S": "w1"}})
    expect(f"pages={boto_pages} items=8" in p.out and boto_pages >= 5, (boto_pages, p.out[-100:]))


def t_faults_retried(e, proxy):
    t = e.table("leases_faults")
    codes = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
    for code in codes:
        proxy.reset(lambda op, n, code=code: (400, aws_error(code)) if op == "PutItem" and n < 2 else None)
        item = json.dumps({"leaseKey": {"S": code}, "leaseCounter": {"N": "1"}})
        p = e.ok(["put", t, item], endpoint=proxy.url, opts=["--attempts", "3", "--base-ms", "5"])
        expect(attempts(p) == 3 and proxy.counts.get("PutItem") == 3, (code, p.err, proxy.counts))
        got = e.boto.get_item(TableName=t, Key={"leaseKey": {"S": code}}, ConsistentRead=True)
        expect("Item" in got, f"{code}: retried put not stored")
        expect(not proxy.problems, proxy.problems)
    for status in (500, 503):
        proxy.reset(lambda op, n, s=status: (s, aws_error("InternalServerError")) if n == 0 else None)
        p = e.ok(["get", t, '{"leaseKey": {"S": "ThrottlingException"}}'], endpoint=proxy.url,
                 opts=["--attempts", "3", "--base-ms", "5"])
        expect(attempts(p) == 2 and e.items(p)[0]["leaseKey"] == {"S": "ThrottlingException"}, (status, p.err))
    # A connection dropped without an answer: retried.
    proxy.reset(lambda op, n: "drop" if op == "UpdateItem" and n == 0 else None)
    p = e.ok(["update", t, '{"leaseKey": {"S": "RequestLimitExceeded"}}', "ADD leaseCounter :one",
              "--values", '{":one": {"N": "1"}}', "--return-new"], endpoint=proxy.url,
             opts=["--attempts", "3", "--base-ms", "5"])
    expect(attempts(p) == 2 and e.items(p)[0]["leaseCounter"] == {"N": "2"}, (p.out, p.err))
    # Throttled on every attempt: a retriable error after them.
    proxy.reset(lambda op, n: (400, aws_error("ProvisionedThroughputExceededException")))
    p = e.cli(["put", t, '{"leaseKey": {"S": "never"}}'], endpoint=proxy.url,
              opts=["--attempts", "2", "--base-ms", "5"])
    expect(p.returncode == 1 and "error: io: ProvisionedThroughputExceededException" in p.err and
           "(2 attempts)" in p.err and "retriable: yes" in p.err, p.err)
    # A failed condition through the proxy: once, not retried.
    proxy.reset(lambda op, n: None)
    p = e.cli(["put", t, '{"leaseKey": {"S": "ThrottlingException"}}', "--cond", "attribute_not_exists(leaseKey)"],
              endpoint=proxy.url, opts=["--attempts", "5", "--base-ms", "5"])
    expect(p.returncode == 3 and attempts(p) == 1 and proxy.counts == {"PutItem": 1}, (p.err, proxy.counts))
    expect(not proxy.problems, proxy.problems)


def t_unreachable(e):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t0 = time.monotonic()
    p = e.cli(["get", "leases_x", '{"leaseKey": {"S": "a"}}'], endpoint=f"http://127.0.0.1:{port}",
              opts=["--attempts", "3", "--base-ms", "10"])
    expect(p.returncode == 1 and f"error: io: DynamoDB endpoint http://127.0.0.1:{port}:" in p.err and
           "retriable: yes" in p.err and attempts(p) == 3, p.err)
    expect(time.monotonic() - t0 < 30, "took too long")


def t_one_connection_and_restart(e):
    """One handle through an outage: dynalite on disk, stopped, then started
    again on the same port and store."""
    tmp = os.path.join(e.tmp, "restart")
    os.makedirs(tmp, exist_ok=True)
    peer = Dynalite(tmp, path=os.path.join(tmp, "dynalite-data"))
    env = Env(tmp, peer)
    proc = subprocess.Popen([CLI, "--endpoint", peer.endpoint, "--attempts", "2", "--base-ms", "10",
                             "--timeout-ms", "2000", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env.env, text=True)

    def run(*args):
        proc.stdin.write(json.dumps(list(args)) + "\n")
        proc.stdin.flush()
        out = []
        while True:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"dynamodb_cli ended: {proc.stderr.read()[-1500:]}")
            if line.startswith("done "):
                return int(line.split()[1]), out
            out.append(line)

    try:
        before = peer.connections()
        expect(run("create", "leases_r", "leaseKey")[0] == 0, "create")
        for i in range(5):
            rc, _ = run("put", "leases_r", json.dumps({"leaseKey": {"S": f"k{i}"}, "leaseCounter": {"N": str(i)}}))
            expect(rc == 0, f"put {i}")
        rc, out = run("get", "leases_r", '{"leaseKey": {"S": "k3"}}')
        expect(rc == 0 and json.loads(out[0])["leaseCounter"] == {"N": "3"}, out)
        expect(peer.connections() - before == 1,
               f"{peer.connections() - before} connections for 7 calls of one handle (want 1)")
        peer.stop()
        rc, _ = run("get", "leases_r", '{"leaseKey": {"S": "k3"}}')
        expect(rc == 1, "a call during the outage did not fail")
        peer.start()
        expect(peer.endpoint == env.peer.endpoint, "restarted on another port")
        rc, out = run("scan", "leases_r", "--limit", "2")
        expect(rc == 0 and sum(1 for ln in out if ln.startswith("{")) == 5 and "pages=3 items=5" in out[-1], out)
        rc, _ = run("update", "leases_r", '{"leaseKey": {"S": "k3"}}', "ADD leaseCounter :one", "--cond",
                    "leaseCounter = :c", "--values", '{":one": {"N": "1"}, ":c": {"N": "3"}}')
        expect(rc == 0, "update after the restart")
        proc.stdin.close()
        err = proc.stderr.read()
        expect(proc.wait(timeout=30) == 0, err)
        expect("error: io: DynamoDB endpoint" in err and "retriable: yes" in err, err)
        got = env.boto.get_item(TableName="leases_r", Key={"leaseKey": {"S": "k3"}}, ConsistentRead=True)["Item"]
        expect(got["leaseCounter"] == {"N": "4"}, got)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        peer.stop()


def t_endpoint_from_env(e):
    """AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL (no --endpoint)."""
    e.table("leases_env")
    argv = [CLI, "describe", "leases_env"]
    for var in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"):
        p = subprocess.run(argv, capture_output=True, env=dict(e.env, **{var: e.peer.endpoint}), timeout=60)
        expect(p.returncode == 0 and json.loads(p.stdout)["name"] == "leases_env", (var, p.stderr))
    p = subprocess.run(argv, capture_output=True, timeout=60,
                       env=dict(e.env, AWS_ENDPOINT_URL="http://127.0.0.1:1", AWS_ENDPOINT_URL_DYNAMODB=e.peer.endpoint))
    expect(p.returncode == 0, f"AWS_ENDPOINT_URL_DYNAMODB did not win: {p.stderr}")
    p = subprocess.run(argv, capture_output=True, timeout=60, env=dict(e.env, AWS_ENDPOINT_URL_DYNAMODB="nope"))
    expect(p.returncode == 1 and b"DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB)" in p.stderr, p.stderr)


def main():
    if not os.access(CLI, os.X_OK):
        rptest.skip(f"{CLI} is not built (make)")
    if botocore is None:
        rptest.skip("botocore is not installed (Debian: python3-botocore)")
    if not os.access(AWS_CLI, os.X_OK):
        rptest.skip("the AWS CLI is not installed (Debian: awscli)")
    rptest.need_node("dynalite")
    tmp = tempfile.mkdtemp(prefix="rp-dynamodb-client-")
    peer = Dynalite(tmp)
    proxy = Proxy(peer.port)
    try:
        e = Env(tmp, peer)
        for label, fn in [
            ("tables: create, describe, delete", lambda: t_tables(e)),
            ("conditional writes: held, failed, not retried", lambda: t_conditions(e)),
            ("every type, cross-checked with botocore and the AWS CLI", lambda: t_types_cross_checked(e)),
            ("scan pages (Limit) and filter", lambda: t_scan_pages(e)),
            ("throttling, 5xx and dropped connections retried (signed for dynamodb)",
             lambda: t_faults_retried(e, proxy)),
            ("unreachable endpoint: retriable", lambda: t_unreachable(e)),
            ("endpoint from the environment", lambda: t_endpoint_from_env(e)),
            ("one connection; dynalite restarted under a handle", lambda: t_one_connection_and_restart(e)),
        ]:
            rptest.run_one(label, fn)
    finally:
        proxy.server.shutdown()
        peer.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rptest.tally.finish()


if __name__ == "__main__":
    main()
