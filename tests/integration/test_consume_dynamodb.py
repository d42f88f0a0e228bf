#!/usr/bin/python3
"""`ridepred consume --checkpoint-store dynamodb:TABLE` (issue 14): shard
leases and checkpoints in a DynamoDB table in the shape the Kinesis Client
Library 2.x writes, shared by consumers that could run on many machines.

The peers are real: dynalite (DynamoDB on LevelDB, tests/tools/dynamodb_peer.mjs)
and kinesalite (tests/tools/kinesis_peer.mjs); boto3 and the AWS CLI
(/usr/bin/aws) read and write the lease table.

Step by step (tests/tools/lease_cli: several lease stores in one process on
one table, an injected clock, the test deciding who syncs and when time
passes):

  fence          a worker that stops renewing ("paused") keeps its lease
                 until its counter has not moved for the lease time as the
                 other observes it, then loses it (ownerSwitchesSinceCheckpoint
                 1); its checkpoint is then refused by the conditional write
                 and the table keeps the successor's; the successor's
                 checkpoint resets ownerSwitchesSinceCheckpoint
  steal-release  a second worker steals one lease a sync (maxLeasesToStealAtOneTime)
                 until 2/2, the victim learns it at its next renewal (refused);
                 a released lease is taken at the next sync, without waiting
  shard-end      children (a split, then a merge) only after their parents'
                 SHARD_END, from TRIM_HORIZON; childShardIds on the parent,
                 parentShardId on the child, the owner removed at SHARD_END
  kcl-table      a table written in KCL's shape by someone else (a dead
                 worker's lease mid-shard, a sub-sequence number, a pending
                 checkpoint, attributes of KCL 3): read, taken (after the
                 lease time for the owned one), resumed from, and the
                 checkpoint written as KCL writes it
  lost-answer    a write that went through but whose answer was lost (the
                 proxy forwards it and drops the answer; the client retries
                 and the condition fails): read back and counted as done,
                 for a checkpoint and a renewal

With consumers (kinesalite, 8 shards, lease 1.5 s):

  group          three consumers settle at 3/3/2; kill -9 of one: its shards
                 are taken within the lease time + 1 s; a fourth joins and
                 steals until 3/3/2; SIGTERM of one: its shards are taken by
                 the others within 1 s; SIGSTOP of one past its lease, then
                 SIGCONT: its writes are refused (logged) and it lets go;
                 20,000 rides, every one predicted, duplicates counted and
                 bounded by one batch per lease that moved; `aws dynamodb
                 scan` shows KCL's attributes and types
  reshard        a split and a merge while two consumers run: children after
                 their parents (per partition key, the first prediction of
                 each ride in put order), nothing lost
  outage         dynalite stopped for 10 s (its data kept on disk) under two
                 consumers and a producer: no checkpoint ever goes back, nothing
                 lost, both carry on by themselves
  interval       --checkpoint-interval-ms 1500: far fewer checkpoints than
                 batches; the latest checkpoint written once the shard idles
                 and at SIGTERM; a restart reads nothing again
  kcl-resume     a consumer on a table pre-written in KCL's shape resumes
                 shard 0 after its checkpoint (taken from the dead owner after
                 the lease time) and shard 1 at its checkpoint's record (a
                 sub-sequence number: part of an aggregated record); through a
                 proxy that throttles scans, counted in /metrics

Environment: RIDEPRED_BIN, RIDEPRED_BUILD_DIR (CTest sets them).  Without
node, dynalite, kinesalite or boto3 the tests SKIP (exit 77) unless CI is
set.  RIDEPRED_TEST_ONLY=TEXT runs the tests whose label contains TEXT.
"""

import http.client
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_consume as tc  # noqa: E402  (Env, Kinesalite, rides, waits)
import test_consume_outage as tco  # noqa: E402  (Producer)
import test_dynamodb_client as tdc  # noqa: E402  (Dynalite)
import rptest  # noqa: E402

try:
    import boto3
except ImportError:
    boto3 = None

LEASE_CLI = os.path.join(rptest.BUILD, "lease_cli")
AWS_CLI = "/usr/bin/aws"
AK, SECRET, REGION = "AKIDRIDEPREDTEST", "ridepred-test-secret", "us-east-1"
KCL_TYPES = {"leaseKey": "S", "leaseOwner": "S", "leaseCounter": "N", "checkpoint": "S",
             "checkpointSubSequenceNumber": "N", "ownerSwitchesSinceCheckpoint": "N", "parentShardId": "SS",
             "childShardIds": "SS", "startingHashKey": "S", "endingHashKey": "S"}


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def ddb_client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=AK,
                        aws_secret_access_key=SECRET)


def aws_env(extra=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
           "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra or {})
    return env


def scan(ddb, table):
    """The lease table as {leaseKey: item in DynamoDB JSON}."""
    items, kw = {}, {"TableName": table, "ConsistentRead": True}
    while True:
        try:
            r = ddb.scan(**kw)
        except ddb.exceptions.ResourceNotFoundException:
            return {}  # the consumers have not created it yet
        for it in r["Items"]:
            items[it["leaseKey"]["S"]] = it
        if "LastEvaluatedKey" not in r:
            return items
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def owner(item):
    return item.get("leaseOwner", {}).get("S")


def num(item, name):
    return int(item[name]["N"])


# ---- the step-by-step driver ---------------------------------------------------------------

class Driver:
    """lease_cli on one table; .cmd(words) -> its JSON answer."""

    def __init__(self, tmp, endpoint, table):
        self.log = os.path.join(tmp, f"lease_cli-{table}.log")
        self.logf = open(self.log, "w")
        self.p = subprocess.Popen([LEASE_CLI, f"dynamodb:{table}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.logf, env=aws_env({"AWS_ENDPOINT_URL_DYNAMODB": endpoint}),
                                  text=True)

    def cmd(self, *words):
        self.p.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError(f"lease_cli ended: {self.text()[-2000:]}")
        return json.loads(line)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(30)
        self.logf.close()
        expect(rc == 0, f"lease_cli exited {rc}: {self.text()[-2000:]}")


class Worker:
    """One store of the driver, tracking the leases it holds."""

    def __init__(self, drv, name, lease_ms, max_steal=None):
        self.drv, self.name, self.held = drv, name, set()
        r = drv.cmd("open", name, name, lease_ms, *([max_steal] if max_steal else []))
        expect(r["rc"] == 0, f"open {name}: {r}")

    def sync(self, shards):
        r = self.drv.cmd("sync", self.name, shards, ",".join(sorted(self.held)) or "-")
        expect(r["rc"] == 0, f"sync {self.name}: {r}")
        self.held -= set(r["lost"])
        self.held |= {a["shard"] for a in r["acquired"]}
        return r

    def commit(self, shard, seq, ended=False):
        r = self.drv.cmd("commit", self.name, shard, seq, *(["ended"] if ended else []))
        if r["rc"] != 0:
            self.held.discard(shard)
        return r["rc"]

    def release(self, shard):
        r = self.drv.cmd("release", self.name, shard)
        self.held.discard(shard)
        return r["rc"]


def t_fence(tmp, peer, ddb):
    d = Driver(tmp, peer.endpoint, "fence")
    try:
        a, b = Worker(d, "worker-a", 3000), Worker(d, "worker-b", 3000)
        r = a.sync("s0")
        expect([x["shard"] for x in r["acquired"]] == ["s0"] and r["workers"] == 1, f"A alone: {r}")
        expect(a.commit("s0", "1000") == 0, "A's first checkpoint")
        c0 = num(scan(ddb, "fence")["s0"], "leaseCounter")
        # B sees A's lease; A stops renewing (paused).  Before the lease time
        # has passed since B first saw the counter, B takes nothing.
        r = b.sync("s0")
        expect(not r["acquired"] and r["workers"] == 2, f"B took a live lease: {r}")
        d.cmd("clock", 2000)
        r = b.sync("s0")
        expect(not r["acquired"], f"B took the lease 2 s into a 3 s lease: {r}")
        d.cmd("clock", 1001)
        r = b.sync("s0")
        expect([x["shard"] for x in r["acquired"]] == ["s0"] and r["stolen"] == 0, f"B after 3.001 s: {r}")
        expect(r["acquired"][0]["checkpoint"] == "1000", f"B resumes from A's checkpoint: {r}")
        it = scan(ddb, "fence")["s0"]
        expect(owner(it) == "worker-b" and num(it, "leaseCounter") == c0 + 1 and
               num(it, "ownerSwitchesSinceCheckpoint") == 1, f"the take as KCL writes it: {it}")
        expect(b.commit("s0", "2000") == 0, "B's checkpoint")
        # A wakes up: its checkpoint is refused by the fence; the table keeps B's.
        expect(a.commit("s0", "1500") == 1, "A's checkpoint after losing the lease was not refused")
        it = scan(ddb, "fence")["s0"]
        expect(owner(it) == "worker-b" and it["checkpoint"]["S"] == "2000" and
               num(it, "ownerSwitchesSinceCheckpoint") == 0, f"after A's refused checkpoint: {it}")
        expect("checkpoint refused by the lease table (the conditional write failed)" in d.text(),
               d.text()[-2000:])
        m = re.search(r"checkpoint refused.*shard=s0 expected_lease_counter=(\d+) table_lease_counter=(\d+) "
                      r"table_lease_owner=worker-b", d.text())
        expect(m and int(m.group(1)) < int(m.group(2)), f"the refusal names the counters: {d.text()[-1500:]}")
        a.held.add("s0")  # as the consumer still believes until its sync
        r = a.sync("s0")
        expect(r["lost"] == ["s0"] and not r["acquired"], f"A's sync after the refusal: {r}")
    finally:
        d.close()
    print("    fence: B took A's lease only after 3 s unrenewed; A's late checkpoint refused "
          f"(counter {m.group(1)} vs {m.group(2)}), the table kept B's")


def t_steal_release(tmp, peer, ddb):
    d = Driver(tmp, peer.endpoint, "steal")
    shards = "s0,s1,s2,s3"
    try:
        a, b = Worker(d, "worker-a", 3000), Worker(d, "worker-b", 3000)
        r = a.sync(shards)
        expect(len(r["acquired"]) == 4, f"A alone takes all four: {r}")
        steals = []
        for _ in range(4):
            d.cmd("clock", 1000)
            a.sync(shards)
            r = b.sync(shards)
            steals.append(r["stolen"])
            expect(r["stolen"] <= 1, f"more than one lease stolen in a sync: {r}")
        expect(len(a.held) == 2 and len(b.held) == 2, f"not 2/2: A {a.held}, B {b.held}")
        expect(sum(steals) == 2, f"steals per sync: {steals}")
        t = scan(ddb, "steal")
        expect(sorted(owner(t[s]) for s in t) == ["worker-a"] * 2 + ["worker-b"] * 2, f"table: {t}")
        expect("lease renewal refused by the lease table" in d.text(), "the victim did not learn by its renewal")
        # A hands its leases back (a SIGTERM): B takes them at its next
        # sync, no time passing.
        gone = sorted(a.held)
        for s in gone:
            expect(a.release(s) == 0, "release")
            it = scan(ddb, "steal")[s]
            expect(owner(it) is None, f"released lease still owned: {it}")
        r = b.sync(shards)
        expect(sorted(x["shard"] for x in r["acquired"]) == gone and r["stolen"] == 0 and r["workers"] == 1,
               f"B after the release: {r}")
    finally:
        d.close()
    print(f"    steal-release: steals per sync {steals} until 2/2; released leases taken at the next sync")


def t_shard_end(tmp, peer, ddb):
    d = Driver(tmp, peer.endpoint, "reshard")
    split = "s0,s1,s2<s0,s3<s0"
    try:
        a = Worker(d, "worker-a", 3000)
        r = a.sync(split)
        expect(sorted(x["shard"] for x in r["acquired"]) == ["s0", "s1"] and r["eligible"] == 2,
               f"children taken before their parent ended: {r}")
        t = scan(ddb, "reshard")
        expect(t["s2"]["parentShardId"]["SS"] == ["s0"] and t["s2"]["checkpoint"]["S"] == "TRIM_HORIZON",
               f"a child's lease: {t['s2']}")
        expect(a.commit("s0", "777") == 0 and a.commit("s0", "-", ended=True) == 0, "SHARD_END")
        it = scan(ddb, "reshard")["s0"]
        expect(it["checkpoint"]["S"] == "SHARD_END" and owner(it) is None, f"the parent at SHARD_END: {it}")
        r = a.sync(split)
        expect(sorted(x["shard"] for x in r["acquired"]) == ["s2", "s3"], f"children after SHARD_END: {r}")
        expect(all(x["start"] == "TRIM_HORIZON" and not x["checkpoint"] for x in r["acquired"]), r)
        expect(set(scan(ddb, "reshard")["s0"]["childShardIds"]["SS"]) == {"s2", "s3"}, "childShardIds")
        # A merge of s1 and s2 into s4: only once both ended.
        merge = split + ",s4<s1+s2"
        r = a.sync(merge)
        expect(not r["acquired"], f"s4 before its parents ended: {r}")
        expect(a.commit("s1", "-", ended=True) == 0, "s1 SHARD_END")
        r = a.sync(merge)
        expect(not r["acquired"], f"s4 with s2 still open: {r}")
        expect(a.commit("s2", "-", ended=True) == 0, "s2 SHARD_END")
        r = a.sync(merge)
        expect([x["shard"] for x in r["acquired"]] == ["s4"], f"s4 after both parents: {r}")
        expect(set(scan(ddb, "reshard")["s4"]["parentShardId"]["SS"]) == {"s1", "s2"}, "the merge's parents")
    finally:
        d.close()
    print("    shard-end: split children and a merge child each taken only after their parents' SHARD_END")


def t_kcl_table(tmp, peer, ddb):
    table = "kcl_written"
    ddb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
    rows = [
        {"leaseKey": {"S": "shardId-000000000000"}, "leaseOwner": {"S": "kcl-worker-7f3a"},
         "leaseCounter": {"N": "57"}, "checkpoint": {"S": "49590338271490256608559692538361571095921575989136588898"},
         "checkpointSubSequenceNumber": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "2"},
         "pendingCheckpoint": {"S": "49590338271490256608559692540000000000000000000000000000"},
         "pendingCheckpointSubSequenceNumber": {"N": "0"}, "checkpointOwner": {"S": "kcl-worker-7f3a"},
         "throughputKBps": {"N": "1.5"}, "startingHashKey": {"S": "0"}, "endingHashKey": {"S": "99"}},
        {"leaseKey": {"S": "shardId-000000000001"}, "leaseCounter": {"N": "3"}, "checkpoint": {"S": "LATEST"},
         "checkpointSubSequenceNumber": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "0"}},
        {"leaseKey": {"S": "shardId-000000000002"}, "leaseCounter": {"N": "9"},
         "checkpoint": {"S": "49590338271490256608559692538361571095921575989136500000"},
         "checkpointSubSequenceNumber": {"N": "4"}, "ownerSwitchesSinceCheckpoint": {"N": "0"}},
        {"leaseKey": {"S": "shardId-000000000003"}, "leaseCounter": {"N": "20"}, "checkpoint": {"S": "SHARD_END"},
         "checkpointSubSequenceNumber": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "0"},
         "childShardIds": {"SS": ["shardId-000000000004"]}},
        {"leaseKey": {"S": "not-a-lease"}, "note": {"S": "no leaseCounter"}},
    ]
    for it in rows:
        ddb.put_item(TableName=table, Item=it)
    shards = "shardId-000000000000,shardId-000000000001,shardId-000000000002,shardId-000000000003"
    d = Driver(tmp, peer.endpoint, table)
    try:
        a = Worker(d, "ridepred-a", 3000)
        r = a.sync(shards)
        got = {x["shard"]: x for x in r["acquired"]}
        expect(set(got) == {"shardId-000000000001", "shardId-000000000002"}, f"the free leases at once: {r}")
        expect(got["shardId-000000000001"]["start"] == "LATEST" and not got["shardId-000000000001"]["checkpoint"],
               got)
        expect(got["shardId-000000000002"]["at"] and got["shardId-000000000002"]["checkpoint"].endswith("500000"),
               f"a sub-sequence checkpoint resumes at its record: {got}")
        expect(r["eligible"] == 3, f"SHARD_END is not eligible: {r}")
        d.cmd("clock", 3001)
        r = a.sync(shards)
        expect([x["shard"] for x in r["acquired"]] == ["shardId-000000000000"], f"the dead owner's lease: {r}")
        expect(r["acquired"][0]["checkpoint"] == "49590338271490256608559692538361571095921575989136588898", r)
        it = scan(ddb, table)["shardId-000000000000"]
        expect(owner(it) == "ridepred-a" and num(it, "leaseCounter") == 58 and
               num(it, "ownerSwitchesSinceCheckpoint") == 3, f"taken as KCL takes: {it}")
        expect(a.commit("shardId-000000000000", "49590338271490256608559692538361571095921575989136599999") == 0,
               "checkpoint")
        it = scan(ddb, table)["shardId-000000000000"]
        expect(num(it, "leaseCounter") == 59 and num(it, "ownerSwitchesSinceCheckpoint") == 0 and
               num(it, "checkpointSubSequenceNumber") == 0 and "pendingCheckpoint" not in it and
               "pendingCheckpointSubSequenceNumber" not in it, f"the checkpoint as KCL writes it: {it}")
        expect(it["throughputKBps"] == {"N": "1.5"} and it["startingHashKey"] == {"S": "0"},
               f"attributes of others kept: {it}")
        expect("items of the lease table that are not KCL leases are ignored" in d.text(), d.text()[-1500:])
    finally:
        d.close()
    print("    kcl-table: free leases taken at once, the dead owner's after 3 s (counter 57 -> 58, owner switches 3),"
          " checkpoint 59 with the pending checkpoint removed; a non-lease item ignored")


class LossyProxy:
    """Forwards to dynalite.  drop: markers; the first request whose body
    holds one is forwarded (the write goes through) and its answer dropped.
    throttle: {operation: n}; the next n requests of that operation are
    answered ProvisionedThroughputExceededException, not forwarded."""

    def __init__(self, upstream_port):
        self.upstream, self.lock, self.drop = upstream_port, threading.Lock(), []
        self.dropped, self.throttle, self.throttled = [], {}, 0
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                op = self.headers.get("X-Amz-Target", "").split(".")[-1]
                with proxy.lock:
                    throttle = proxy.throttle.get(op, 0) > 0
                    if throttle:
                        proxy.throttle[op] -= 1
                        proxy.throttled += 1
                if throttle:
                    data = json.dumps(tdc.aws_error("ProvisionedThroughputExceededException")).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                up = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=30)
                try:
                    up.request("POST", "/", body=body, headers={k: v for k, v in self.headers.items()})
                    r = up.getresponse()
                    data = r.read()
                finally:
                    up.close()
                with proxy.lock:
                    marker = next((m for m in proxy.drop if m.encode() in body), None)
                    if marker:
                        proxy.drop.remove(marker)
                        proxy.dropped.append(marker)
                if marker:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(r.status)
                self.send_header("Content-Type", r.getheader("Content-Type", "application/x-amz-json-1.0"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def t_lost_answer(tmp, peer, ddb):
    proxy = LossyProxy(peer.port)
    d = Driver(tmp, proxy.url, "lossy")
    try:
        a = Worker(d, "worker-a", 3000)
        a.sync("s0")
        # The checkpoint's first answer is lost; the retry fails its condition.
        proxy.drop.append('"UpdateExpression": "SET #cp = :cp')
        expect(a.commit("s0", "4242") == 0, f"a checkpoint whose answer was lost: {d.text()[-1500:]}")
        expect(proxy.dropped, "the proxy dropped nothing")
        it = scan(ddb, "lossy")["s0"]
        expect(it["checkpoint"]["S"] == "4242" and owner(it) == "worker-a", it)
        # The same for a renewal.
        proxy.drop.append('"UpdateExpression": "SET #c = :n"')
        d.cmd("clock", 1000)
        r = a.sync("s0")
        expect(not r["lost"] and len(proxy.dropped) == 2, f"a renewal whose answer was lost: {r}")
        expect(a.commit("s0", "4243") == 0, "the counter after the lost answers")
        expect("refused" not in d.text(), d.text()[-1500:])
    finally:
        d.close()
        proxy.stop()
    print("    lost-answer: a checkpoint and a renewal whose answers were dropped after they went through: "
          "read back, counted as done")


# ---- with consumers ---------------------------------------------------------------------------

BATCH = 50
LEASE_MS = 1500
RIDES, RATE = 20_000, 700


def consumer_env(tmp, kin, dyn, table):
    env = tc.kinesis_env(tmp, kin)
    env.env["AWS_ENDPOINT_URL_DYNAMODB"] = dyn.endpoint
    env.ckpt = f"dynamodb:{table}"
    return env


def start(env, name, extra=()):
    return env.consume(["--from", "IN", "--to", "OUT", "--batch-size", str(BATCH), "--poll-ms", "100",
                        "--lease-ms", str(LEASE_MS), "--group", "g"] + list(extra), f"{name}.log")


def by_pid(ddb, table, procs):
    """{name: shards it owns} from the table (owners are host:pid:random)."""
    t = scan(ddb, table)
    out = {n: set() for n in procs}
    for k, it in t.items():
        o = owner(it)
        for n, p in procs.items():
            if o and f":{p.pid}:" in o:
                out[n].add(k)
    return out


def wait_split(ddb, table, procs, want, timeout, live):
    state = {}

    def ok():
        got = by_pid(ddb, table, procs)
        state["got"] = got
        return sorted(len(v) for v in got.values()) == sorted(want)

    try:
        tc.wait_until(f"the leases at {want}", ok, timeout, live)
    except AssertionError:
        raise AssertionError(f"leases not at {want}: {state.get('got')}")
    return state["got"]


def moved_leases(texts):
    """Takes of a lease another worker owned (from the consumers' logs)."""
    return sum(len(re.findall(r"lease (?:taken|stolen from a busier worker to balance the group) shard=\S+ "
                              r"previous_owner=(?!\(none\))", t)) for t in texts)


def t_group(tmp, kin, dyn, ddb):
    env = consumer_env(tmp, kin, dyn, "group")
    env.create("IN", 8)
    env.create("OUT", 1)
    procs = {n: start(env, n) for n in ("c1", "c2", "c3")}
    prod = tco.Producer(env, "IN", RATE)
    prod.start()
    live = lambda: [p for p in procs.values() if p.poll() is None]  # noqa: E731
    report = []
    try:
        wait_split(ddb, "group", procs, [3, 3, 2], 30, live())
        report.append("3 consumers settled at 3/3/2")
        # kill -9: its shards taken within the lease time + 1 s.
        dead = procs["c1"]
        gone = by_pid(ddb, "group", procs)["c1"]
        t0 = time.monotonic()
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        tc.wait_until("c1's shards taken", lambda: not by_pid(ddb, "group", procs)["c1"], 10, live())
        took = time.monotonic() - t0
        expect(took <= LEASE_MS / 1000 + 1.0, f"c1's {len(gone)} shards taken {took:.2f}s after kill -9")
        report.append(f"kill -9: its {len(gone)} shards taken in {took:.2f}s (lease {LEASE_MS / 1000:g}s)")
        del procs["c1"]
        wait_split(ddb, "group", procs, [4, 4], 10, live())
        # A fourth joins and steals until balanced.
        procs["c4"] = start(env, "c4")
        t0 = time.monotonic()
        wait_split(ddb, "group", procs, [3, 3, 2], 30, live())
        report.append(f"a 4th joined: 3/3/2 after {time.monotonic() - t0:.1f}s")
        # SIGTERM: handed over within 1 s.
        leaving = procs["c2"]
        its = by_pid(ddb, "group", procs)["c2"]
        t0 = time.monotonic()
        leaving.send_signal(signal.SIGTERM)
        others = {n: p for n, p in procs.items() if n != "c2"}

        def handed():
            t = scan(ddb, "group")
            return all(owner(t[s]) and any(f":{p.pid}:" in owner(t[s]) for p in others.values()) for s in its)

        tc.wait_until("c2's shards with the others", handed, 10, [p for p in others.values()])
        took = time.monotonic() - t0
        expect(leaving.wait(20) == 0, f"c2 exit: {tc.log_text(leaving)[-1500:]}")
        expect(took <= 1.0, f"SIGTERM: c2's {len(its)} shards with the others after {took:.2f}s")
        report.append(f"SIGTERM: its {len(its)} shards with the others in {took:.2f}s")
        del procs["c2"]
        wait_split(ddb, "group", procs, [4, 4], 10, live())
        # SIGSTOP past the lease, then SIGCONT: its writes are refused and it lets go.
        paused = procs["c3"]
        paused.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        tc.wait_until("the paused consumer's shards taken", lambda: not by_pid(ddb, "group", procs)["c3"], 10,
                      [procs["c4"]])
        time.sleep(0.5)
        paused.send_signal(signal.SIGCONT)
        tc.wait_until("the paused consumer to let go",
                      lambda: "stopping this shard's worker" in tc.log_text(paused) or
                      "lease lost: stopping the shard's worker" in tc.log_text(paused), 10, live())
        text = tc.log_text(paused)
        refused = re.findall(r"(checkpoint|lease renewal) refused by the lease table \(the conditional write failed\)",
                             text)
        expect(refused, f"no refused conditional write in the paused consumer's log: {text[-3000:]}")
        report.append(f"SIGSTOP {time.monotonic() - t0:.1f}s: after SIGCONT {len(refused)} writes refused "
                      f"({', '.join(sorted(set(refused)))})")
        wait_split(ddb, "group", procs, [4, 4], 30, live())
        tc.wait_until(f"{RIDES} rides made", lambda: len(prod.born) >= RIDES, RIDES / RATE + 60, live())
        prod.stop()
        tco.expect_predicted(env, prod, 0, "every ride", 180, live())
        texts = [tc.log_text(p) for p in procs.values()] + [tc.log_text(dead), tc.log_text(leaving)]
        for p in list(procs.values()):
            expect(tc.stop(p) == 0, f"SIGTERM exit: {tc.log_text(p)[-1500:]}")
        texts = [tc.log_text(p) for p in procs.values()] + [tc.log_text(dead), tc.log_text(leaving)]
        ids = env.ride_ids("OUT")
        counts = tc.count(ids)
        dups = sum(v - 1 for v in counts.values())
        moves = moved_leases(texts)
        expect(set(counts) == set(prod.born), "rides missing or unexpected in OUT")
        expect(dups <= moves * BATCH, f"{dups} duplicates > {moves} moved leases x batch {BATCH}")
        report.append(f"{len(prod.born)} rides all predicted, {dups} duplicates (bound: {moves} leases moved "
                      f"from a live or dead owner x batch {BATCH} = {moves * BATCH})")
        for t in texts:
            sums = [l for l in t.splitlines() if "consume: summary" in l or "consume: stopped" in l]
            for k in ("discarded=0", "dead_lettered=0", "expired=0"):
                expect(not sums or k in sums[-1], f"{k}: {t[-1500:]}")
        # The table as the AWS CLI reads it: KCL's attributes and types.
        out = subprocess.run([AWS_CLI, "dynamodb", "scan", "--table-name", "group", "--consistent-read",
                              "--output", "json", "--endpoint-url", dyn.endpoint], capture_output=True, text=True,
                             env=aws_env(), timeout=60)
        expect(out.returncode == 0, f"aws dynamodb scan: {out.stderr[-1000:]}")
        items = json.loads(out.stdout)["Items"]
        expect(len(items) == 8, f"{len(items)} items")
        for it in items:
            for name, v in it.items():
                expect(name in KCL_TYPES, f"an attribute KCL does not write: {name}")
                expect(list(v) == [KCL_TYPES[name]], f"{name} is {list(v)}, KCL writes {KCL_TYPES[name]}")
            for name in ("leaseKey", "leaseCounter", "checkpoint", "checkpointSubSequenceNumber",
                         "ownerSwitchesSinceCheckpoint", "startingHashKey", "endingHashKey"):
                expect(name in it, f"{name} missing from {it}")
            expect(re.fullmatch(r"\d+", it["checkpoint"]["S"]), f"checkpoint {it['checkpoint']}")
            expect("leaseOwner" not in it, f"a lease still owned after every consumer stopped: {it}")
        report.append("aws dynamodb scan: every attribute a KCL attribute of KCL's type")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
        prod.stop_flag.set()
    for r in report:
        print("    " + r)


def t_reshard(tmp, kin, dyn, ddb):
    import boto3 as b3
    env = consumer_env(tmp, kin, dyn, "resharded")
    env.create("IN", 3)
    env.create("OUT", 1)
    kin_c = b3.client("kinesis", endpoint_url=kin.endpoint, region_name=REGION, aws_access_key_id=AK,
                      aws_secret_access_key=SECRET)
    rides = tc.make_rides(9000, seed=21)
    keys = [f"pk-{i % 60}" for i in range(len(rides))]

    def put(lo, hi):
        for i in range(lo, hi, 250):
            recs = [{"Data": rides[j][1].encode(), "PartitionKey": keys[j]} for j in range(i, min(hi, i + 250))]
            r = kin_c.put_records(StreamName="IN", Records=recs)
            expect(not r.get("FailedRecordCount"), f"kinesalite refused entries: {r}")
            time.sleep(0.05)

    def wait_active():
        tc.wait_until("IN active", lambda: kin_c.describe_stream_summary(StreamName="IN")
                      ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", 30)

    procs = [start(env, "r1"), start(env, "r2")]
    try:
        put(0, 3000)
        shards = kin_c.list_shards(StreamName="IN")["Shards"]
        s0 = shards[0]
        mid = (int(s0["HashKeyRange"]["StartingHashKey"]) + int(s0["HashKeyRange"]["EndingHashKey"])) // 2
        kin_c.split_shard(StreamName="IN", ShardToSplit=s0["ShardId"], NewStartingHashKey=str(mid))
        wait_active()
        put(3000, 6000)
        kin_c.merge_shards(StreamName="IN", ShardToMerge=shards[1]["ShardId"],
                           AdjacentShardToMerge=shards[2]["ShardId"])
        wait_active()
        put(6000, 9000)
        tc.wait_until("every ride", lambda: len(set(json.dumps(i) for i in env.ride_ids("OUT"))) >= len(rides), 150,
                      procs)
        for p in procs:
            expect(tc.stop(p) == 0, "SIGTERM")
        ids = env.ride_ids("OUT")
        n, dups = tc.expect_all(env, "OUT", rides, exactly_once=False)
        pos = {json.dumps(r[0]): j for j, r in enumerate(rides)}
        last, seen = {}, set()
        for rid in ids:
            k = json.dumps(rid)
            if k in seen:
                continue  # a duplicate of a moved lease's batch
            seen.add(k)
            j = pos[k]
            expect(last.get(keys[j], -1) < j, f"partition key {keys[j]}: ride #{j} after #{last.get(keys[j])}")
            last[keys[j]] = j
        t = scan(ddb, "resharded")
        parents = [s0["ShardId"], shards[1]["ShardId"], shards[2]["ShardId"]]
        for p in parents:
            expect(t[p]["checkpoint"]["S"] == "SHARD_END" and "childShardIds" in t[p], f"parent {p}: {t[p]}")
        kids = [k for k, it in t.items() if "parentShardId" in it]
        expect(len(kids) == 3, f"children: {kids}")
        texts = [tc.log_text(p) for p in procs]
        ended = sum(x.count("shard read to its end") for x in texts)
        expect(ended >= 3, f"{ended} shards read to their end")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"    reshard: split + merge under two consumers: {len(rides)} rides, none lost, {dups} duplicates, "
          "per-key order kept, 3 parents at SHARD_END with childShardIds, 3 children with parentShardId")


def checkpoints(ddb, table):
    try:
        return {k: it["checkpoint"]["S"] for k, it in scan(ddb, table).items()}
    except Exception:  # noqa: BLE001 (dynalite down)
        return None


def t_outage(tmp, kin, dyn, ddb):
    env = consumer_env(tmp, kin, dyn, "outage")
    env.create("IN", 4)
    env.create("OUT", 1)
    procs = [start(env, "o1"), start(env, "o2")]
    prod = tco.Producer(env, "IN", 400)
    prod.start()
    history = {}
    stop_watch = threading.Event()

    def watch():
        while not stop_watch.is_set():
            cps = checkpoints(ddb, "outage")
            for k, v in (cps or {}).items():
                if v.isdigit() and (not history.get(k) or history[k][-1] != v):
                    history.setdefault(k, []).append(v)
            time.sleep(0.2)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    try:
        time.sleep(4)
        dyn.stop()
        t0 = time.monotonic()
        time.sleep(10)
        dyn.start()
        back = time.monotonic() - t0
        time.sleep(4)
        prod.stop()
        tco.expect_predicted(env, prod, 0, "every ride", 180, procs)
        stop_watch.set()
        w.join(5)
        for p in procs:
            expect(tc.stop(p) == 0, f"SIGTERM exit: {tc.log_text(p)[-1500:]}")
        for k, seq in history.items():
            expect([int(s) for s in seq] == sorted(int(s) for s in seq), f"{k}: a checkpoint went back: {seq}")
        texts = [tc.log_text(p) for p in procs]
        expect(any("cannot reach the lease table" in t or "cannot scan the lease table" in t or
                   "cannot renew a lease" in t for t in texts), "no consumer noticed the outage")
        ids = env.ride_ids("OUT")
        dups = len(ids) - len(set(json.dumps(i) for i in ids))
        for t in texts:
            tco.expect_nothing_dropped(t)
    finally:
        stop_watch.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        prod.stop_flag.set()
    print(f"    outage: dynalite down {back:.1f}s under 2 consumers: {len(prod.born)} rides all predicted, "
          f"{dups} duplicates, checkpoints never went back ({sum(len(v) for v in history.values())} seen)")


def t_kcl_resume(tmp, kin, dyn, ddb):
    env = consumer_env(tmp, kin, dyn, "kcl_app")
    env.create("IN", 2)
    env.create("OUT", 1)
    rides = tc.make_rides(1000, seed=31)
    res = env.put_lines("IN", [r[1] for r in rides])
    s0 = [i for i, r in enumerate(res) if r["ShardId"] == "shardId-000000000000"]
    s1 = [i for i, r in enumerate(res) if r["ShardId"] == "shardId-000000000001"]
    cut = s0[len(s0) // 3]
    cut1 = s1[len(s1) // 2]
    ddb.create_table(TableName="kcl_app", AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName="kcl_app", WaiterConfig={"Delay": 0.2})
    ddb.put_item(TableName="kcl_app", Item={
        "leaseKey": {"S": "shardId-000000000000"}, "leaseOwner": {"S": "kcl-worker-gone"},
        "leaseCounter": {"N": "41"}, "checkpoint": {"S": res[cut]["SequenceNumber"]},
        "checkpointSubSequenceNumber": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "0"}})
    # Shard 1: a checkpoint inside a KPL-aggregated record (sub-sequence 3):
    # that record is read again, at least once.
    ddb.put_item(TableName="kcl_app", Item={
        "leaseKey": {"S": "shardId-000000000001"}, "leaseCounter": {"N": "12"},
        "checkpoint": {"S": res[cut1]["SequenceNumber"]}, "checkpointSubSequenceNumber": {"N": "3"},
        "ownerSwitchesSinceCheckpoint": {"N": "0"}})
    want = [rides[i] for i in range(len(rides)) if (i > cut if i in s0 else i >= cut1)]
    # Through a proxy that throttles the first scans: the metrics count them.
    proxy = LossyProxy(dyn.port)
    proxy.throttle["Scan"] = 4
    env.env["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.url
    p = start(env, "k1", ["--metrics-listen", "127.0.0.1:0"])
    try:
        port = tco.metrics_port(p)
        tc.wait_until("the rides after the checkpoints", lambda: len(env.read("OUT")) >= len(want), 60, [p])
        time.sleep(1.0)
        m = tco.metrics(port)
        expect(tc.stop(p) == 0, "SIGTERM")
        expect(proxy.throttled == 4 and m.get("ridepred_consume_lease_table_throttles_total") == 4,
               f"throttles: proxy {proxy.throttled}, metrics {m}")
        expect(m.get("ridepred_consume_lease_table_requests_total", 0) > 10 and
               m.get("ridepred_consume_leases_taken_total") == 2 and
               m.get("ridepred_consume_leases_stolen_total") == 0 and m.get("ridepred_consume_shards_held") == 2,
               f"lease metrics: {m}")
        tc.expect_all(env, "OUT", want, exactly_once=True)
        t = scan(ddb, "kcl_app")["shardId-000000000000"]
        expect(num(t, "leaseCounter") > 41 and t["checkpoint"]["S"] == res[s0[-1]]["SequenceNumber"], t)
        text = tc.log_text(p)
        expect("previous_owner=kcl-worker-gone" in text, text[-1500:])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        proxy.stop()
    print(f"    kcl-resume: shard 0 resumed after the KCL checkpoint (record {s0.index(cut) + 1} of {len(s0)}), "
          f"shard 1 at its record {s1.index(cut1) + 1} of {len(s1)} (sub-sequence 3): {len(want)} rides predicted "
          "once, none before the checkpoints; 4 throttled scans counted in /metrics")


def t_interval(tmp, kin, dyn, ddb):
    """--checkpoint-interval-ms: a shard's checkpoint written at most every
    interval (not after each of its many batches), the latest one written
    once the shard idles and at SIGTERM, so that a restart reads nothing
    again."""
    env = consumer_env(tmp, kin, dyn, "interval")
    env.create("IN", 2)
    env.create("OUT", 1)
    interval = 1500
    p = start(env, "i1", ["--checkpoint-interval-ms", str(interval), "--metrics-listen", "127.0.0.1:0"])
    p2 = None
    try:
        port = tco.metrics_port(p)
        tc.wait_until("both shards held", lambda: tco.metrics(port).get("ridepred_consume_shards_held") == 2, 30, [p])
        rides = tc.make_rides(1200, seed=47)
        res = []
        t0 = time.monotonic()
        for k in range(8):  # 8 puts of 150 over ~3 s: many batches of up to 50 a shard
            res += env.put_lines("IN", [r[1] for r in rides[k * 150:(k + 1) * 150]])
            time.sleep(0.4)
        tc.wait_until("every ride predicted", lambda: len(env.read("OUT")) >= len(rides), 60, [p])
        busy = time.monotonic() - t0
        last = {}
        for r in res:
            last[r["ShardId"]] = r["SequenceNumber"]
        # Idle: the deferred checkpoints are written within the interval.
        time.sleep(interval / 1000 + 1.0)
        t = scan(ddb, "interval")
        expect({k: t[k]["checkpoint"]["S"] for k in last} == last, f"idle flush: table {t}, last {last}")
        m = tco.metrics(port)
        ck, batches = m.get("ridepred_consume_checkpoints_total", 0), m.get("ridepred_consume_batches_total", 0)
        bound = 2 * (busy * 1000 / interval + 2)
        expect(ck <= bound and batches >= 3 * ck, f"checkpoints {ck} (bound {bound:.0f}), batches {batches}")
        # More rides, then SIGTERM as soon as they are predicted: the
        # deferred checkpoint is written before the lease is released.
        more = tc.make_rides(300, start=1201, seed=48)
        res2 = env.put_lines("IN", [r[1] for r in more])
        for r in res2:
            last[r["ShardId"]] = r["SequenceNumber"]
        tc.wait_until("the last rides predicted", lambda: len(env.read("OUT")) >= len(rides) + len(more), 60, [p])
        expect(tc.stop(p) == 0, "SIGTERM")
        t = scan(ddb, "interval")
        expect({k: t[k]["checkpoint"]["S"] for k in last} == last and all(owner(t[k]) is None for k in last),
               f"at SIGTERM: table {t}, last {last}")
        # A restart reads nothing again.
        p2 = start(env, "i2", ["--checkpoint-interval-ms", str(interval)])
        time.sleep(3.0)
        expect(tc.stop(p2) == 0, "SIGTERM of the restart")
        tc.expect_all(env, "OUT", rides + more, exactly_once=True)
    finally:
        for q in (p, p2):
            if q and q.poll() is None:
                q.kill()
                q.wait()
    # A Kafka source commits offsets per batch: the option is refused at
    # once (no broker is contacted: none listens on port 9).
    r = subprocess.run([rptest.BIN, "consume", "--from", "kafka:ki", "--to", "kafka:ko", "--model", env.model,
                        "--checkpoint-interval-ms", "1000"], capture_output=True, text=True, timeout=60,
                       env=dict(env.env, RIDEPRED_KAFKA_BROKERS="127.0.0.1:9"))
    expect(r.returncode == 3 and "--checkpoint-interval-ms is for checkpoint stores" in r.stderr,
           f"a Kafka source with --checkpoint-interval-ms: exit {r.returncode}: {r.stderr[-1000:]}")
    print(f"    interval: {batches:.0f} batches, {ck:.0f} checkpoints written (--checkpoint-interval-ms {interval}, "
          f"{busy:.1f} s of rides on 2 shards); the latest written once idle and at SIGTERM; a restart read "
          "nothing again; refused for a Kafka source")


# ---- running --------------------------------------------------------------------------------

def missing():
    why = rptest.node_missing("dynalite", "kinesalite")
    if why:
        return why
    if boto3 is None:
        return "boto3 is not installed (Debian python3-boto3)"
    if not os.access(LEASE_CLI, os.X_OK):
        return f"{LEASE_CLI} is not built"
    if not os.access(AWS_CLI, os.X_OK):
        return "the AWS CLI (/usr/bin/aws) is not installed"
    return None


def with_dynalite(fn):
    def t(tmp):
        peer = tdc.Dynalite(tmp, path=os.path.join(tmp, "dynalite-data"))
        try:
            fn(tmp, peer, ddb_client(peer.endpoint))
        finally:
            peer.stop()
    return t


def with_peers(fn):
    def t(tmp):
        kin = tc.Kinesalite(tmp)
        dyn = tdc.Dynalite(tmp, path=os.path.join(tmp, "dynalite-data"))
        try:
            fn(tmp, kin, dyn, ddb_client(dyn.endpoint))
        finally:
            dyn.stop()
            kin.stop()
    return t


def main():
    rptest.need_bin()
    why = missing()
    if why:
        rptest.skip(why)
    tests = [("fence", with_dynalite(t_fence)), ("steal-release", with_dynalite(t_steal_release)),
             ("shard-end", with_dynalite(t_shard_end)), ("kcl-table", with_dynalite(t_kcl_table)),
             ("lost-answer", with_dynalite(t_lost_answer)),
             ("group", with_peers(t_group)), ("reshard", with_peers(t_reshard)), ("outage", with_peers(t_outage)),
             ("kcl-resume", with_peers(t_kcl_resume)), ("interval", with_peers(t_interval))]
    rptest.run(tests, tmp_prefix="rp-consume-ddb-")


if __name__ == "__main__":
    main()
