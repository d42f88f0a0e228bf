#!/usr/bin/python3
"""The Kinesis backend against real peers (docs/streams.md, issue 3's Proof).

Starts the peers itself, on 127.0.0.1 only (tests/tools/kinesis_peer.mjs,
which prints the port it bound; this test also checks, from /proc, that
every socket a peer listens on is bound to 127.0.0.1):

  kinesalite     npm kinesalite, through its Node API, in memory, and on
                 disk (--path) for the test that kills it in the middle of
                 a put and starts it again;
  kinesis-local  npm kinesis-local (kinesis-mock), its listen() rewritten to
                 127.0.0.1.

and drives them with `ridepred` and with Debian's AWS CLI (/usr/bin/aws,
awscli 2.x; another `aws` may be first on PATH) as the independent client:
streams create/list/describe/delete, put -> aws get-records (same bytes),
the seed's `aws kinesis put-record` -> ridepred read, invoke publishing to
ride_predictions, unknown streams, a server that is down, a server killed
during a large put, a 10,000-record round trip, resharding, and connection
reuse.

Environment: RIDEPRED_BIN, RIDEPRED_SOURCE_DIR, RIDEPRED_FIXTURES_DIR
(CTest and the Makefile set them).  Without node, the npm packages, the AWS
CLI or the fixtures it prints SKIP and exits 77, except when CI is set: then
it fails.  Prints "N passed, N failed"; exits 1 on any failure.
RIDEPRED_TEST_ONLY=TEXT runs only the tests whose label contains TEXT.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

BIN, FIXTURES, TOOLS = rptest.BIN, rptest.FIXTURES, rptest.TOOLS
LAUNCHER = os.path.join(TOOLS, "kinesis_peer.mjs")
AWS = "/usr/bin/aws"

SEED_RIDE = '{"ride": {"PULocationID": 130, "DOLocationID": 205, "trip_distance": 3.66}, "ride_id": 156}'
MODEL = {"format": "ridepred.model/1", "features": ["PU_DO=130_205", "trip_distance"],
         "estimator": {"type": "linear", "coef": [1.5, 3.25], "intercept": 10.1}}


def check_prerequisites():
    rptest.need_bin()
    rptest.need_node("kinesalite", "kinesis-local")
    if not os.access(AWS, os.X_OK):
        rptest.skip("Debian's AWS CLI (/usr/bin/aws) is missing: apt-get install awscli")
    rptest.need_fixtures(os.path.join("events", "course-event.json"))


# ---- peers -------------------------------------------------------------------

def listening_addresses(pid):
    """(address, port) of every TCP socket the process listens on."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
                continue
            addr, port = f[1].split(":")
            raw = bytes.fromhex(addr)
            if v6:
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                text = socket.inet_ntop(socket.AF_INET6, words)
            else:
                text = socket.inet_ntop(socket.AF_INET, raw[::-1])
            found.append((text, int(port, 16)))
    return found


class Peer:
    def __init__(self, kind, workdir, path=None, port=0):
        self.kind, self.workdir, self.path = kind, workdir, path
        self.proc = None
        self.start(port)

    def start(self, port=0):
        self.log = os.path.join(self.workdir, f"{self.kind}-{time.monotonic_ns()}.log")
        args = ["node", LAUNCHER, self.kind, "--port", str(port), "--watch-stdin"]
        if self.path:
            args += ["--path", self.path]
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for line in open(self.log, errors="replace"):
                if line.startswith("KINESIS_PEER_READY "):
                    info = json.loads(line.split(" ", 1)[1])
                    self.port = info["port"]
                    self.endpoint = f"http://127.0.0.1:{self.port}"
                    addrs = listening_addresses(self.proc.pid)
                    bad = [a for a in addrs if a[0] != "127.0.0.1"]
                    if bad or not addrs:
                        raise AssertionError(f"{self.kind} listens on {addrs}, not only 127.0.0.1")
                    self.addresses = addrs
                    return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited: {open(self.log).read()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{self.kind} did not start: {open(self.log).read()[-2000:]}")

    def connections(self):
        return sum(1 for line in open(self.log, errors="replace")
                   if line.startswith("KINESIS_PEER_CONNECTION"))

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdin:
            self.proc.stdin.close()
        self.logf.close()


# ---- clients -----------------------------------------------------------------

class Ctx:
    def __init__(self, peer, tmp):
        self.peer, self.tmp = peer, tmp
        home = os.path.join(tmp, "home")
        os.makedirs(home, exist_ok=True)
        # A clean environment: dummy credentials and region, no profile, no
        # user AWS files, a local store that must stay unused.
        self.base = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "AKIDRIDEPREDTEST",
            "AWS_SECRET_ACCESS_KEY": "ridepred-test-secret",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "must-stay-unused.db"),
        }
        # Sanitizer settings pass through (make asan, valgrind runs).
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.base[k] = os.environ[k]
        self.env = dict(self.base, KINESIS_ENDPOINT_URL=peer.endpoint)

    def rp(self, args, input=None, env=None, timeout=300, ok=True):
        p = subprocess.run([BIN] + args, input=input, capture_output=True, timeout=timeout,
                           env=env or self.env)
        if ok and p.returncode != 0:
            raise AssertionError(f"ridepred {' '.join(args)[:200]} exited {p.returncode}: "
                                 f"{p.stderr.decode(errors='replace')[-2000:]}")
        return p

    def aws(self, *args, ok=True):
        p = subprocess.run([AWS, "--no-cli-pager", "--endpoint-url", self.peer.endpoint,
                            "--output", "json", "kinesis"] + list(args),
                           capture_output=True, timeout=120, env=self.base)
        if ok and p.returncode != 0:
            raise AssertionError(f"aws kinesis {' '.join(args)[:200]} exited {p.returncode}: "
                                 f"{p.stderr.decode(errors='replace')[-2000:]}")
        out = p.stdout.decode()
        return json.loads(out) if ok and out.strip() else p

    def aws_records(self, stream):
        """Every record of every shard, through the AWS CLI."""
        shards = self.aws("list-shards", "--stream-name", stream)["Shards"]
        out = []
        for sh in sorted(shards, key=lambda s: s["ShardId"]):
            it = self.aws("get-shard-iterator", "--stream-name", stream, "--shard-id", sh["ShardId"],
                          "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
            while it:
                page = self.aws("get-records", "--shard-iterator", it, "--limit", "10000")
                for r in page["Records"]:
                    out.append({"shard": sh["ShardId"], "seq": r["SequenceNumber"],
                                "pk": r["PartitionKey"], "data": base64.b64decode(r["Data"])})
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        return out


def lines_json(b):
    return [json.loads(line) for line in b.decode().splitlines() if line.strip()]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


# ---- tests -------------------------------------------------------------------

def t_streams_commands(c):
    name = "t_cmds"
    # --endpoint-url flag, no endpoint variable: kinesis: names go to the flag.
    env = dict(c.base)
    p = c.rp(["streams", "create", f"kinesis:{name}", "--shards", "2", "--endpoint-url",
              c.peer.endpoint], env=env)
    expect(p.stdout.decode() == f"created kinesis:{name} (2 shards)\n", p.stdout)
    # create waits for ACTIVE: the AWS CLI sees it ACTIVE at once.
    s = c.aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
    expect(s["StreamStatus"] == "ACTIVE" and s["OpenShardCount"] == 2, s)
    p = c.rp(["streams", "list", "--backend", "kinesis"])
    expect(f"kinesis:{name}" in p.stdout.decode().splitlines(), p.stdout)
    expect(name in c.aws("list-streams")["StreamNames"], "aws list-streams misses the stream")
    d = json.loads(c.rp(["streams", "describe", f"kinesis:{name}"]).stdout)
    expect(d["StreamName"] == name and d["Backend"] == "kinesis" and d["StreamStatus"] == "ACTIVE"
           and d["OpenShardCount"] == 2 and d["RetentionPeriodHours"] == 24, d)
    ours = [(x["ShardId"], x["HashKeyRange"]["StartingHashKey"], x["HashKeyRange"]["EndingHashKey"])
            for x in d["Shards"]]
    theirs = [(x["ShardId"], x["HashKeyRange"]["StartingHashKey"], x["HashKeyRange"]["EndingHashKey"])
              for x in c.aws("list-shards", "--stream-name", name)["Shards"]]
    expect(ours == sorted(theirs), f"{ours} != {theirs}")
    expect(ours[0][1] == "0" and ours[-1][2] == str(2**128 - 1), ours)
    # Creating it again: Kinesis's error, exit 3.
    p = c.rp(["streams", "create", f"kinesis:{name}"], ok=False)
    expect(p.returncode == 3 and b"ResourceInUseException" in p.stderr, p.stderr)
    p = c.rp(["streams", "delete", f"kinesis:{name}"])
    expect(p.stdout.decode() == f"deleted kinesis:{name}\n", p.stdout)
    # delete waits until the stream is gone: the name is free again.
    expect(name not in c.aws("list-streams")["StreamNames"], "still listed after delete")
    p = c.rp(["streams", "describe", f"kinesis:{name}"], ok=False)
    expect(p.returncode == 3 and b"ResourceNotFoundException" in p.stderr, p.stderr)
    c.rp(["streams", "create", f"kinesis:{name}"])
    c.rp(["streams", "delete", f"kinesis:{name}"])
    expect(not os.path.exists(c.env["RIDEPRED_LOCAL_STORE"]), "the local store was touched")


def t_put_then_aws_get_records(c):
    name = "t_bytes"
    c.rp(["streams", "create", f"kinesis:{name}", "--shards", "2"])
    records = [
        SEED_RIDE.encode(),
        '{"ride": {"PULocationID": "Köln ✓", "DOLocationID": 1}, "ride_id": "ü-7"}'.encode(),
        b'{"ride_id": 12, "pad": "' + b"x" * 100000 + b'"}',
        b'not json at all, "ride_id": 3',
        b'{"ride_id": -0, "nested": {"a": [1, 2.50, 1e400, null]}}',
    ]
    # One record from the argument, with an explicit key...
    p = c.rp(["put", f"kinesis:{name}", "--partition-key", "pk-arg", records[0].decode()])
    results = lines_json(p.stdout)
    # ... and the rest from stdin (keys from ride_id; the non-JSON line gets --partition-key).
    p = c.rp(["put", f"kinesis:{name}", "-"], input=b"\n".join(records[1:3] + records[4:5]) + b"\n")
    results += lines_json(p.stdout)
    p = c.rp(["put", f"kinesis:{name}", "--partition-key", "raw", "-"], input=records[3] + b"\n")
    results += lines_json(p.stdout)
    sent = [(records[0], "pk-arg"), (records[1], "ü-7"), (records[2], "12"), (records[4], "0"),
            (records[3], "raw")]
    expect(len(results) == 5 and all("SequenceNumber" in r for r in results), results)
    got = {(r["shard"], r["seq"]): r for r in c.aws_records(name)}
    expect(len(got) == 5, f"aws get-records returned {len(got)} records")
    for (data, pk), res in zip(sent, results):
        r = got.get((res["ShardId"], res["SequenceNumber"]))
        expect(r is not None, f"record {res} not found by aws get-records")
        expect(r["data"] == data, f"bytes differ: {r['data'][:80]!r} != {data[:80]!r}")
        expect(r["pk"] == pk, f"partition key {r['pk']!r} != {pk!r}")
    c.rp(["streams", "delete", f"kinesis:{name}"])


def t_seed_put_record_then_read(c):
    c.aws("create-stream", "--stream-name", "ride_events", "--shard-count", "1")
    deadline = time.monotonic() + 30
    while c.aws("describe-stream-summary", "--stream-name", "ride_events")[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        expect(time.monotonic() < deadline, "ride_events never became ACTIVE")
        time.sleep(0.2)
    # The seed's exact command.
    put = c.aws("put-record", "--stream-name", "ride_events", "--partition-key", "1",
                "--cli-binary-format", "raw-in-base64-out", "--data", SEED_RIDE)
    # Bare name, KINESIS_ENDPOINT_URL set: the Kinesis backend.
    p = c.rp(["read", "ride_events"])
    out = lines_json(p.stdout)
    expect(len(out) == 1, out)
    r = out[0]
    expect(r["data"] == json.loads(SEED_RIDE), r)
    expect(r["partition_key"] == "1" and r["shard"] == put["ShardId"]
           and r["sequence_number"] == put["SequenceNumber"], r)
    expect(r["arrival"].endswith("Z") and abs(time.time() - time.mktime(
        time.strptime(r["arrival"][:19], "%Y-%m-%dT%H:%M:%S")) + time.timezone) < 3600, r)
    # The reading positions of `read`.
    p = c.rp(["read", "ride_events", "--from", "latest"])
    expect(p.stdout == b"", p.stdout)
    p = c.rp(["read", "ride_events", "--from", "at:" + put["SequenceNumber"], "--shard", "0"])
    expect(len(lines_json(p.stdout)) == 1, p.stdout)
    p = c.rp(["read", "ride_events", "--from", "after:" + put["SequenceNumber"]])
    expect(p.stdout == b"", p.stdout)
    p = c.rp(["read", "ride_events", "--from", "time:2000-01-01T00:00:00Z"])
    expect(len(lines_json(p.stdout)) == 1, p.stdout)
    c.rp(["streams", "delete", "ride_events"])


def t_invoke_publishes(c):
    c.rp(["streams", "create", "ride_predictions"])
    model = os.path.join(c.tmp, "model.json")
    with open(model, "w") as f:
        json.dump(MODEL, f)
    event = os.path.join(FIXTURES, "events", "course-event.json")
    env = dict(c.env, RUN_ID="Test123")
    env.pop("TEST_RUN", None)
    p = c.rp(["invoke", "--model", model, event], env=env)
    resp = json.loads(p.stdout)
    expect(len(resp["predictions"]) == 1, resp)
    pred = resp["predictions"][0]
    # What the Python reference would print and publish.
    expected = {"model": "ride_duration_prediction_model", "version": "Test123",
                "prediction": {"ride_duration": pred["prediction"]["ride_duration"], "ride_id": 256}}
    expect(p.stdout == (json.dumps({"predictions": [expected]}) + "\n").encode(), p.stdout)
    reference = 1.0 * 1.5 + 3.66 * 3.25 + 10.1
    expect(abs(pred["prediction"]["ride_duration"] - reference) <= 1e-9 * reference, pred)
    recs = c.aws_records("ride_predictions")
    expect(len(recs) == 1, recs)
    expect(recs[0]["data"] == json.dumps(expected).encode(),
           f"{recs[0]['data']!r} != {json.dumps(expected)!r}")
    expect(recs[0]["pk"] == "256", recs[0]["pk"])
    # TEST_RUN=True publishes nothing.
    c.rp(["invoke", "--model", model, event], env=dict(env, TEST_RUN="True"))
    expect(len(c.aws_records("ride_predictions")) == 1, "TEST_RUN=True published")
    c.rp(["streams", "delete", "ride_predictions"])


def t_unknown_stream(c):
    for args in (["put", "kinesis:no_such_stream", '{"ride_id": 1}'],
                 ["read", "kinesis:no_such_stream"],
                 ["streams", "describe", "kinesis:no_such_stream"],
                 ["streams", "delete", "kinesis:no_such_stream"]):
        t0 = time.monotonic()
        p = c.rp(args, ok=False)
        err = p.stderr.decode()
        expect(p.returncode == 3, f"{args}: exit {p.returncode}")
        expect("ResourceNotFoundException" in err and "no_such_stream" in err, f"{args}: {err}")
        expect("attempts" not in err and time.monotonic() - t0 < 10, f"{args} was retried: {err}")
    p = c.rp(["put", "kinesis:no_such_stream", '{"ride_id": 1}'], ok=False)
    out = lines_json(p.stdout)
    expect(len(out) == 1 and out[0]["ErrorCode"] == "ResourceNotFoundException", out)


def t_server_down(c):
    port = free_port()
    env = dict(c.env, KINESIS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    for args, attempts in ((["put", "ride_events", SEED_RIDE], 5),
                           (["streams", "list"], 5),
                           (["read", "ride_events"], 5)):
        t0 = time.monotonic()
        p = c.rp(args, env=env, ok=False, timeout=120)
        took = time.monotonic() - t0
        err = p.stderr.decode()
        expect(p.returncode == 3, f"{args}: exit {p.returncode}: {err}")
        expect(f"Kinesis endpoint http://127.0.0.1:{port}" in err and f"({attempts} attempts)" in err,
               f"{args}: {err}")
        expect(took < 30, f"{args} took {took:.1f} s")
    p = c.rp(["put", "ride_events", SEED_RIDE], env=dict(env, AWS_MAX_ATTEMPTS="2"), ok=False)
    expect(p.returncode == 3 and b"(2 attempts)" in p.stderr, p.stderr)
    out = lines_json(p.stdout)
    expect(len(out) == 1 and out[0].get("ErrorCode") == "ServiceUnavailable", out)
    # invoke: an unpublished prediction is a batch item failure (docs/handler.md §8).
    model = os.path.join(c.tmp, "model-down.json")
    with open(model, "w") as f:
        json.dump(MODEL, f)
    event = os.path.join(FIXTURES, "events", "course-event.json")
    seq = json.load(open(event))["Records"][0]["kinesis"]["sequenceNumber"]
    p = c.rp(["invoke", "--model", model, event], env=dict(env, RUN_ID="Test123"))
    expect(json.loads(p.stdout) == {"predictions": [], "batchItemFailures": [{"itemIdentifier": seq}]},
           p.stdout)
    expect(b"not published: ServiceUnavailable: Kinesis endpoint" in p.stderr, p.stderr)


def t_roundtrip_10000(c):
    name = "t_10k"
    c.rp(["streams", "create", f"kinesis:{name}", "--shards", "4"])
    n = 10000
    docs = [json.dumps({"ride": {"PULocationID": i % 265, "DOLocationID": (i * 7) % 265,
                                 "trip_distance": i / 100}, "ride_id": i}) for i in range(n)]
    before = c.peer.connections()
    p = c.rp(["put", f"kinesis:{name}", "-"], input=("\n".join(docs) + "\n").encode())
    put = lines_json(p.stdout)
    # 20 PutRecords requests (500 records each) over one connection.
    expect(c.peer.connections() - before == 1,
           f"{c.peer.connections() - before} connections for one put")
    expect(len(put) == n and all("SequenceNumber" in r for r in put), "not every record stored")
    before = c.peer.connections()
    p = c.rp(["read", f"kinesis:{name}"])
    expect(c.peer.connections() - before == 1,
           f"{c.peer.connections() - before} connections for one read")
    got = lines_json(p.stdout)
    expect(len(got) == n, f"read {len(got)} of {n}")
    by_key = {(r["shard"], r["sequence_number"]): r for r in got}
    expect(len(by_key) == n, "duplicates in the read")
    per_shard_put, per_shard_read = {}, {}
    for i, r in enumerate(put):
        rec = by_key.get((r["ShardId"], r["SequenceNumber"]))
        expect(rec is not None, f"record {i} not read back")
        expect(rec["data"] == json.loads(docs[i]) and rec["partition_key"] == str(i), rec)
        per_shard_put.setdefault(r["ShardId"], []).append(r["SequenceNumber"])
    for r in got:
        per_shard_read.setdefault(r["shard"], []).append(r["sequence_number"])
    expect(len(per_shard_put) == 4, f"records went to {len(per_shard_put)} shards")
    for sh, seqs in per_shard_put.items():
        expect(per_shard_read[sh] == seqs, f"{sh}: read order differs from put order")
        expect(all(int(a) < int(b) for a, b in zip(seqs, seqs[1:])), f"{sh}: sequence numbers not increasing")
    # Shards are read one after the other, in shard-id order.
    order = [r["shard"] for r in got]
    expect(order == sorted(order), "shards interleaved in the read")
    p = c.rp(["read", f"kinesis:{name}", "--limit", "7"])
    expect(len(lines_json(p.stdout)) == 7, p.stdout)
    c.rp(["streams", "delete", f"kinesis:{name}"])


def t_reshard(c):
    name = "t_reshard"
    c.rp(["streams", "create", f"kinesis:{name}", "--shards", "1"])
    first = [json.dumps({"ride_id": i, "phase": "before"}) for i in range(200)]
    second = [json.dumps({"ride_id": i, "phase": "after"}) for i in range(200, 400)]
    c.rp(["put", f"kinesis:{name}", "-"], input=("\n".join(first) + "\n").encode())
    p = c.rp(["streams", "update-shard-count", f"kinesis:{name}", "2"])
    expect(p.stdout.decode() == f"kinesis:{name} now has 2 open shards\n", p.stdout)
    # update-shard-count waits for ACTIVE: a put may follow at once.
    p = c.rp(["put", f"kinesis:{name}", "-"], input=("\n".join(second) + "\n").encode())
    put2 = lines_json(p.stdout)
    d = json.loads(c.rp(["streams", "describe", f"kinesis:{name}"]).stdout)
    expect(d["OpenShardCount"] == 2, d)
    closed = [s for s in d["Shards"] if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    open_ = [s for s in d["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    expect(len(open_) == 2 and len(closed) >= 1, d["Shards"])
    parent = "shardId-000000000000"
    expect(any(s["ShardId"] == parent for s in closed), closed)
    # The children cover the hash space in two equal halves (UNIFORM_SCALING).
    rng = sorted((int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
                 for s in open_)
    expect(rng[0][0] == 0 and rng[1][1] == 2**128 - 1 and rng[0][1] + 1 == rng[1][0]
           and abs(rng[1][0] - 2**127) <= 2, rng)
    aws_open = [s["ShardId"] for s in c.aws("list-shards", "--stream-name", name)["Shards"]
                if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    expect(sorted(aws_open) == sorted(s["ShardId"] for s in open_), aws_open)
    expect(all(r["ShardId"] in aws_open for r in put2), "a record went to a closed shard")
    got = lines_json(c.rp(["read", f"kinesis:{name}"]).stdout)
    expect(len(got) == 400, f"read {len(got)} of 400")
    phases = [r["data"]["phase"] for r in got]
    # Parents before children: every record of the parent first.
    expect(phases == ["before"] * 200 + ["after"] * 200, "children read before their parent")
    expect([r["data"]["ride_id"] for r in got[:200]] == list(range(200)), "parent out of order")
    expect(all(r["shard"] == parent for r in got[:200]), "parent records in another shard")
    c.rp(["streams", "delete", f"kinesis:{name}"])


def t_reshard_up_and_down(c):
    """2 -> 3 -> 2: splits and merges (kinesalite has no UpdateShardCount:
    the client reaches the uniform layout with SplitShard and MergeShards),
    records only in open shards, every record read back, every shard read
    after its parents."""
    name = "t_reshard3"
    c.rp(["streams", "create", f"kinesis:{name}", "--shards", "2"])
    sent = []
    open_ids = {"a": {"shardId-000000000000", "shardId-000000000001"}}
    for phase, target, nxt in (("a", 3, "b"), ("b", 2, "c"), ("c", None, None)):
        docs = [json.dumps({"ride_id": f"{phase}{i}"}) for i in range(300)]
        c.rp(["put", f"kinesis:{name}", "-"], input=("\n".join(docs) + "\n").encode())
        sent += docs
        if target is None:
            break
        c.rp(["streams", "update-shard-count", f"kinesis:{name}", str(target)])
        d = json.loads(c.rp(["streams", "describe", f"kinesis:{name}"]).stdout)
        opened = [x for x in d["Shards"] if "EndingSequenceNumber" not in x["SequenceNumberRange"]]
        open_ids[nxt] = {x["ShardId"] for x in opened}
        ranges = sorted((int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"]))
                        for x in opened)
        expect(d["OpenShardCount"] == target and len(ranges) == target, d)
        expect(ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1 and
               all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:])), f"open ranges {ranges}")
        # Equal ranges where our client lays them out (kinesalite: SplitShard /
        # MergeShards).  kinesis-local's own UpdateShardCount is not uniform
        # (2 -> 3 splits one shard in two: a quarter, a quarter, a half).
        if c.peer.kind == "kinesalite":
            width = 2**128 // target
            expect(all(abs((hi - lo + 1) - width) <= 1 for lo, hi in ranges), f"not uniform: {ranges}")
    got = lines_json(c.rp(["read", f"kinesis:{name}"]).stdout)
    expect(sorted(json.dumps(r["data"]) for r in got) == sorted(sent), f"read {len(got)} of {len(sent)}")
    for r in got:
        phase = r["data"]["ride_id"][0]
        expect(r["shard"] in open_ids[phase], f"phase {phase} record in {r['shard']}, not open then")
    # Every record of a shard's parents is read before any record of it.
    shards = json.loads(c.rp(["streams", "describe", f"kinesis:{name}"]).stdout)["Shards"]
    first, last = {}, {}
    for i, r in enumerate(got):
        first.setdefault(r["shard"], i)
        last[r["shard"]] = i
    for x in shards:
        for parent in (x.get("ParentShardId"), x.get("AdjacentParentShardId")):
            if parent in last and x["ShardId"] in first:
                expect(last[parent] < first[x["ShardId"]], f"{x['ShardId']} read before its parent {parent}")
    c.rp(["streams", "delete", f"kinesis:{name}"])


def t_killed_during_large_put(c, tmp):
    """kinesalite on disk, killed (SIGKILL) while `ridepred put` sends 40
    requests: every acknowledged record is there after a restart, every
    other one is reported, none is silently dropped."""
    path = os.path.join(tmp, "kinesalite-disk")
    peer = Peer("kinesalite", tmp, path=path)
    try:
        env = dict(c.env, KINESIS_ENDPOINT_URL=peer.endpoint)
        name = "t_kill"
        c.rp(["streams", "create", f"kinesis:{name}", "--shards", "2"], env=env)
        n = 20000
        pad = "r" * 1500
        docs = [json.dumps({"ride_id": i, "pad": pad}) for i in range(n)]
        inp = os.path.join(tmp, "big.jsonl")
        with open(inp, "w") as f:
            f.write("\n".join(docs) + "\n")
        out_path, err_path = os.path.join(tmp, "put.out"), os.path.join(tmp, "put.err")
        with open(inp, "rb") as fin, open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            proc = subprocess.Popen([BIN, "put", f"kinesis:{name}", "-"], stdin=fin, stdout=fout,
                                    stderr=ferr, env=env)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                with open(out_path, "rb") as f:
                    if f.read().count(b"\n") >= 2000:
                        break
                time.sleep(0.005)
            expect(proc.poll() is None, "the put finished before the kill: make it larger")
            peer.stop(signal.SIGKILL)
            t0 = time.monotonic()
            rc = proc.wait(120)
            took = time.monotonic() - t0
        err = open(err_path, "rb").read().decode(errors="replace")
        expect(rc == 3, f"put exited {rc} after the kill: {err}")
        expect(took < 30, f"put took {took:.1f} s to give up")
        expect("Kinesis endpoint" in err, err)
        results = lines_json(open(out_path, "rb").read())
        expect(len(results) == n, f"{len(results)} results for {n} records: some silently dropped")
        acked = [(i, r) for i, r in enumerate(results) if "SequenceNumber" in r]
        failed = [(i, r) for i, r in enumerate(results) if "ErrorCode" in r]
        expect(len(acked) + len(failed) == n, "a result that is neither stored nor failed")
        expect(len(acked) >= 2000 and len(failed) >= 500, f"{len(acked)} acked, {len(failed)} failed")
        # Acknowledged records come first (requests are sent in order).
        expect(max(i for i, _ in acked) < min(i for i, _ in failed), "acks after failures")
        codes = {r["ErrorCode"] for _, r in failed}
        expect(codes <= {"ServiceUnavailable", "NotAttempted"}, codes)
        # Restart on the same directory (another port) and read everything back.
        peer.start()
        env = dict(c.env, KINESIS_ENDPOINT_URL=peer.endpoint)
        got = lines_json(c.rp(["read", f"kinesis:{name}"], env=env).stdout)
        by_key = {(r["shard"], r["sequence_number"]): r for r in got}
        for i, r in acked:
            rec = by_key.get((r["ShardId"], r["SequenceNumber"]))
            expect(rec is not None, f"acknowledged record {i} lost")
            expect(rec["data"]["ride_id"] == i, f"record {i} has other data")
        ids = [r["data"]["ride_id"] for r in got]
        expect(len(set(ids)) == len(ids) and set(ids) <= set(range(n)), "unexpected records stored")
        print(f"   killed after {len(acked)} acknowledged records; {len(failed)} reported failed; "
              f"{len(got) - len(acked)} of those were stored anyway")
    finally:
        peer.stop()


TESTS = [
    ("streams create/list/describe/delete", t_streams_commands),
    ("ridepred put -> aws get-records (same bytes)", t_put_then_aws_get_records),
    ("aws put-record (the seed's command) -> ridepred read", t_seed_put_record_then_read),
    ("invoke publishes to ride_predictions", t_invoke_publishes),
    ("unknown stream", t_unknown_stream),
    ("server down", t_server_down),
    ("10,000-record round trip, one connection", t_roundtrip_10000),
    ("resharding 1 -> 2, parents before children", t_reshard),
    ("resharding 2 -> 3 -> 2, uniform ranges", t_reshard_up_and_down),
]


def run(label, fn, *args):
    rptest.run_one(label, fn, *args)


def main():
    check_prerequisites()
    tmp = tempfile.mkdtemp(prefix="rp-kinesis-peers-")
    try:
        for kind in ("kinesalite", "kinesis-local"):
            work = os.path.join(tmp, kind)
            os.makedirs(work)
            try:
                peer = Peer(kind, work)
            except Exception:
                run(f"[{kind}] start on 127.0.0.1", lambda: (_ for _ in ()).throw(
                    AssertionError(traceback.format_exc())))
                continue
            print(f"== {kind} on {peer.endpoint} (listening: {peer.addresses})", flush=True)
            c = Ctx(peer, work)
            try:
                for label, fn in TESTS:
                    run(f"[{kind}] {label}", fn, c)
                if kind == "kinesalite":
                    run(f"[{kind}] server killed during a large put", t_killed_during_large_put,
                        c, work)
            finally:
                peer.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rptest.tally.finish()


if __name__ == "__main__":
    main()
