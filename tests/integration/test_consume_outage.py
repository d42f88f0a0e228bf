#!/usr/bin/python3
"""`ridepred consume` through outages (issue 11): an unavailable stream is
never a reason to drop a ride.

While a producer puts rides at a steady 1,000 rides/s, the infrastructure
goes away and comes back; afterwards every ride put from the start of the
outage on (during it, and after it) has a prediction in the output stream,
the consumer never discarded, dead-lettered or expired a record, its
/metrics showed the stalled shards while it waited, and it logged why.

  local-out-2s / -10s      local store, IN with 1 and 4 shards: the output
                           stream deleted, recreated 2 s / 10 s later
  kinesalite-out-2s / -10s the same against kinesalite
  sigterm-in-stall         SIGTERM while the output is missing: exit 0 at
                           once, no checkpoint past the unpublished rides
  max-record-age           the one way to drop records: too old, each logged
                           and counted; bad values refused
  kinesalite-late          consume started while kinesalite is down: it
                           waits (logged), then serves every ride once
  kinesalite-down-10s      kinesalite stopped (its data kept on disk) for
                           10 s and started again on the same port: reads,
                           publishing and the producer all wait
  soak (test_consume_soak.py, its own CTest test so that it runs beside these)
                           2,000 rides/s for about 2 minutes from the local
                           store to kinesalite, consume SIGKILLed every 20 s
                           and restarted, kinesalite (the output) stopped
                           for 3 s every 30 s: every ride predicted,
                           duplicates counted and reported, nothing
                           discarded

Rides put before the outage whose predictions were already in the deleted
output stream are gone with it (that is what deleting a stream does); the
checks start once the deletion has returned.

Environment: as test_consume.py (RIDEPRED_BIN, RIDEPRED_SOURCE_DIR);
RIDEPRED_TEST_ONLY=TEXT runs the tests whose label contains TEXT.  Without
node and kinesalite the Kinesis tests SKIP (exit 77) unless CI is set.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_consume as tc  # noqa: E402  (Env, Kinesalite, rides, waits)
import rptest  # noqa: E402  (on the path test_consume put it)


# ---- a producer at a steady rate -------------------------------------------------

class Producer:
    """Makes `rate` rides a second, in slices of 50 ms, and puts them with
    `ridepred put` (a batch per call, at most 500).  A ride's birth time is
    when it was made; a put that fails (the stream or its server is away) is
    retried until the ride is stored, so rides made during an outage are put
    after it.  Records the birth time of every ride."""

    def __init__(self, env, stream, rate, start_id=1):
        self.env, self.stream, self.rate = env, stream, rate
        self.next_id = start_id
        self.born = {}          # json(ride_id) -> monotonic birth time
        self.pending = []       # (ride_id, line) made, not yet stored
        self.stop_flag = threading.Event()
        self.failed_puts = 0
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(300)
        assert not self.thread.is_alive(), "the producer did not finish"
        if self.error:
            raise self.error

    def make(self, n):
        now = time.monotonic()
        for _ in range(n):
            rid = self.next_id
            self.next_id += 1
            r = tc.make_rides(1, start=rid, seed=rid)[0]
            self.born[json.dumps(r[0])] = now
            self.pending.append(r)

    def put_pending(self):
        while self.pending:
            chunk = self.pending[:500]
            data = b"".join(l.encode() + b"\n" for _, l in chunk)
            p = subprocess.run([tc.BIN, "put", self.stream, "-"], input=data, capture_output=True,
                               env=self.env.env, timeout=120)
            if p.returncode == 0:
                del self.pending[:len(chunk)]
                continue
            self.failed_puts += 1
            # Keep the refused ones (all of them when nothing was printed).
            out = [json.loads(l) for l in p.stdout.decode().splitlines() if l.startswith("{")]
            if len(out) == len(chunk):
                self.pending = [r for r, o in zip(chunk, out) if "ErrorCode" in o] + self.pending[len(chunk):]
            return False
        return True

    def run(self):
        try:
            t0 = time.monotonic()
            made = 0
            while not self.stop_flag.is_set():
                due = int((time.monotonic() - t0) * self.rate)
                if due > made:
                    self.make(due - made)
                    made = due
                if not self.put_pending():
                    time.sleep(0.1)
                    continue
                time.sleep(0.05)
            while self.pending:  # what was made is stored, however long it takes
                if not self.put_pending():
                    time.sleep(0.2)
        except Exception as e:  # noqa: BLE001 (reported by stop())
            self.error = e


# ---- checks ----------------------------------------------------------------------------

def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(ridepred_consume_[a-z_]+)\{[^}]*\} (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def metrics_port(p):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"metrics at /metrics.*port=(\d+)", tc.log_text(p))
        if m:
            return int(m.group(1))
        if p.poll() is not None:
            raise AssertionError(f"consume exited {p.returncode}: {tc.log_text(p)[-2000:]}")
        time.sleep(0.1)
    raise AssertionError("no metrics port logged")


class Watch:
    """Samples /metrics every 250 ms: the most shards seen stalled, and the
    iterator age while they were."""

    def __init__(self, port):
        self.port, self.max_stalled, self.ages = port, 0, []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                m = metrics(self.port)
                s = m.get("ridepred_consume_shards_stalled", 0)
                self.max_stalled = max(self.max_stalled, s)
                if s:
                    self.ages.append(m.get("ridepred_consume_iterator_age_milliseconds", 0))
            except OSError:
                pass
            time.sleep(0.25)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(10)


def summaries(text):
    """Every summary line's counters (text logs: key=value)."""
    out = []
    for line in text.splitlines():
        if "consume: summary" in line or "consume: stopped" in line:
            out.append(dict(kv.split("=", 1) for kv in line.split() if "=" in kv))
    return out


def expect_nothing_dropped(text):
    sums = summaries(text)
    assert sums, "no summary line in the log"
    for s in sums:
        for k in ("discarded", "dead_lettered", "expired"):
            assert s.get(k) == "0", f"{k}={s.get(k)} in a summary line: {s}"
    assert "record discarded" not in text, "a record was discarded"
    return sums


def expect_predicted(env, prod, since, what, timeout=120, procs=(), out="OUT"):
    """Every ride born at or after `since` has a prediction in `out`."""
    want = {k for k, t in prod.born.items() if t >= since}
    assert want, "no ride was made after the outage began"
    state = {}

    def done():
        have = set(json.dumps(i) for i in env.ride_ids(out))
        state["missing"] = want - have
        return not state["missing"]

    try:
        tc.wait_until(what, done, timeout, procs)
    except AssertionError:
        m = sorted(state.get("missing", ()), key=lambda k: prod.born[k])
        raise AssertionError(f"{len(m)} of {len(want)} rides made since the outage began have no prediction, "
                             f"e.g. {m[:5]}")
    return len(want)


# ---- the outage scenarios ---------------------------------------------------------------

def run_outage(tmp, env, shards, outage, kind, peer=None):
    """kind: 'delete' (OUT deleted, recreated `outage` s later) or 'down'
    (the Kinesis server stopped for `outage` s)."""
    env.create("IN", shards)
    env.create("OUT", 1)
    p = env.consume(["--from", "IN", "--to", "OUT", "--batch-size", "100", "--group", "g",
                     "--metrics-listen", "127.0.0.1:0"], "consume.log")
    port = metrics_port(p)
    prod = Producer(env, "IN", 1000)
    prod.start()
    time.sleep(2.0)
    watch = Watch(port) if kind == "delete" else None
    t_out = time.monotonic()
    if kind == "delete":
        env.rp(["streams", "delete", "OUT"])
        t_out = time.monotonic()  # rides made from now on cannot be in the deleted stream
        time.sleep(outage)
        env.create("OUT", 1)
    else:
        peer.stop_server()
        time.sleep(outage)
        peer.start_server()
        watch = Watch(port)  # the age keeps growing until the shards catch up
    t_back = time.monotonic()
    time.sleep(3.0)
    prod.stop()
    n = expect_predicted(env, prod, t_out, "every ride since the outage began in OUT", 180, [p])
    if watch:
        watch.stop()
    rc = tc.stop(p)
    assert rc == 0, f"SIGTERM: exit {rc}: {tc.log_text(p)[-2000:]}"
    text = tc.log_text(p)
    expect_nothing_dropped(text)
    if kind == "delete":
        assert "cannot publish predictions; the shard waits and retries" in text, text[-3000:]
        assert "the output stream takes predictions again" in text, text[-3000:]
        assert watch.max_stalled >= 1, "/metrics never showed a stalled shard during the outage"
        assert watch.ages and max(watch.ages) >= 1000 * outage * 0.5, \
            f"the iterator age did not grow during the outage: {watch.ages[:5]}...{watch.ages[-5:]}"
    else:
        assert "the shard waits and retries" in text, text[-3000:]
    ids = env.ride_ids("OUT")
    dups = len(ids) - len(set(json.dumps(i) for i in ids))
    print(f"    {shards} shard(s), {kind} {outage:g}s: {n} rides made since the outage began all predicted "
          f"({len(prod.born)} rides in all, {prod.failed_puts} producer puts retried, {dups} duplicates, "
          f"back after {t_back - t_out:.1f}s)")


def local_case(shards, outage):
    def t(tmp):
        run_outage(tmp, tc.Env(tmp), shards, outage, "delete")
    return t


class RestartableKinesalite(tc.Kinesalite):
    """kinesalite on disk that can be stopped and started on the same port."""

    def __init__(self, tmp):
        self.tmp = tmp
        super().__init__(tmp)
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def stop_server(self):
        self.stop()

    def start_server(self):
        path = os.path.join(self.tmp, "kinesalite-data")
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen(["node", tc.LAUNCHER, "kinesalite", "--port", str(self.port), "--path", path,
                                      "--watch-stdin", "--update-ms", "200"],
                                     stdin=subprocess.PIPE, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=self.tmp)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if open(self.log, errors="replace").read().count("KINESIS_PEER_READY ") >= 2:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"kinesalite did not start again: {open(self.log).read()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError("kinesalite did not start again")


def kinesalite_case(shards, outage, kind):
    def t(tmp):
        peer = RestartableKinesalite(tmp)
        try:
            run_outage(tmp, tc.kinesis_env(tmp, peer), shards, outage, kind, peer)
        finally:
            peer.stop()
    return t


# ---- stopping and expiring during a stall -----------------------------------------------

def test_sigterm_in_stall(tmp):
    """SIGTERM while the output stream is missing: exit 0 at once, nothing
    checkpointed past the unpublished rides; the next start publishes them."""
    env = tc.Env(tmp)
    env.create("IN", 2)
    env.create("OUT", 1)
    args = ["--from", "IN", "--to", "OUT", "--group", "g"]
    p = env.consume(args, "stall.log")
    tc.wait_until("the leases", lambda: tc.log_text(p).count("shard lease taken") >= 2, 30, [p])
    env.rp(["streams", "delete", "OUT"])
    rides = tc.make_rides(500, seed=21)
    env.put_lines("IN", [r[1] for r in rides])
    tc.wait_until("a stalled publish", lambda: "cannot publish predictions" in tc.log_text(p), 30, [p])
    time.sleep(1.0)
    t0 = time.monotonic()
    rc = tc.stop(p, timeout=30)
    took = time.monotonic() - t0
    assert rc == 0, f"SIGTERM in a stall: exit {rc}: {tc.log_text(p)[-2000:]}"
    assert took < 10, f"SIGTERM in a stall took {took:.1f}s"
    leases = env.leases("g")
    assert all(not l["checkpoint"] for l in leases.values()), f"checkpointed past unpublished rides: {leases}"
    expect_nothing_dropped(tc.log_text(p))
    env.create("OUT", 1)
    p = env.consume(args, "stall2.log")
    tc.wait_until("500 predictions", lambda: len(env.read("OUT")) >= 500, 60, [p])
    assert tc.stop(p) == 0
    tc.expect_all(env, "OUT", rides, exactly_once=True)
    print(f"    SIGTERM in a stall: exit 0 in {took:.2f}s, no checkpoint; the restart published all 500 once")


def test_kinesalite_late(tmp):
    """consume started while kinesalite is down: it starts, says it waits for
    the streams, and serves once kinesalite is up (nothing to fix but wait)."""
    peer = RestartableKinesalite(tmp)
    try:
        env = tc.kinesis_env(tmp, peer)
        env.create("IN", 2)
        env.create("OUT", 1)
        peer.stop_server()
        p = env.consume(["--from", "IN", "--to", "OUT", "--group", "g"], "late.log")
        tc.wait_until("the wait for the source", lambda: "waiting for the stream" in tc.log_text(p), 60, [p])
        text = tc.log_text(p)
        assert "cannot reach a stream yet" in text, text[-2000:]
        time.sleep(1.0)
        peer.start_server()
        rides = tc.make_rides(500, seed=31)
        env.put_lines("IN", [r[1] for r in rides])
        tc.wait_until("500 predictions", lambda: len(env.read("OUT")) >= 500, 120, [p])
        assert tc.stop(p) == 0
        tc.expect_all(env, "OUT", rides, exactly_once=True)
        print("    consume started with kinesalite down: waited, then served all 500 rides once")
    finally:
        peer.stop()


def test_max_record_age(tmp):
    """--max-record-age drops what waited too long (each logged and
    counted); without it nothing is ever dropped.  Bad values are refused."""
    env = tc.Env(tmp)
    env.create("IN", 1)
    env.create("OUT", 1)
    for bad in ("0", "-2", "604801", "x"):
        r = env.rp(["consume", "--from", "IN", "--to", "OUT", "--model", env.model, "--max-record-age", bad],
                   ok=False)
        assert r.returncode == 2 and b"--max-record-age" in r.stderr, (bad, r.returncode, r.stderr)
    p = env.consume(["--from", "IN", "--to", "OUT", "--group", "g", "--max-record-age", "2"], "age.log")
    tc.wait_until("the lease", lambda: "shard lease taken" in tc.log_text(p), 30, [p])
    env.rp(["streams", "delete", "OUT"])
    old = tc.make_rides(300, seed=22)
    env.put_lines("IN", [r[1] for r in old])
    tc.wait_until("300 expired predictions",
                  lambda: tc.log_text(p).count("older than --max-record-age") >= 300,
                  60, [p])
    env.create("OUT", 1)
    new = tc.make_rides(200, start=1000, seed=23)
    env.put_lines("IN", [r[1] for r in new])
    tc.wait_until("200 new predictions", lambda: len(env.read("OUT")) >= 200, 60, [p])
    assert tc.stop(p) == 0
    tc.expect_all(env, "OUT", new, exactly_once=True)
    last = summaries(tc.log_text(p))[-1]
    assert last["expired"] == "300" and last["discarded"] == "0", last
    # Records already too old when read are dropped before the handler runs.
    env2 = tc.Env(os.path.join(tmp, "2"))
    env2.create("IN", 1)
    env2.create("OUT", 1)
    env2.put_lines("IN", [r[1] for r in old[:50]])
    time.sleep(2.2)
    p = env2.consume(["--from", "IN", "--to", "OUT", "--group", "g", "--max-record-age", "1"], "age2.log")
    tc.wait_until("50 dropped records", lambda: tc.log_text(p).count("record dropped: older than") >= 50, 30, [p])
    assert "prediction dropped unpublished" not in tc.log_text(p)
    assert tc.stop(p) == 0
    assert not env2.read("OUT"), "expired records were predicted"
    print("    --max-record-age: 300 rides that waited out an outage and 50 stale records dropped, each logged")


# ---- the soak ------------------------------------------------------------------------------

def test_soak(tmp):
    """IN on the local store, OUT on kinesalite (on disk): an output outage
    is kinesalite stopped and started again, which keeps what it stored, so
    every ride of the run must be predicted."""
    peer = RestartableKinesalite(tmp)
    try:
        soak(tmp, peer)
    finally:
        peer.stop()


def soak(tmp, peer):
    env = tc.Env(tmp, {"AWS_ACCESS_KEY_ID": "AKIDRIDEPREDTEST", "AWS_SECRET_ACCESS_KEY": "ridepred-test-secret",
                       "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                       "KINESIS_ENDPOINT_URL": peer.endpoint})
    env.create("local:IN", 4)
    env.create("kinesis:OUT", 1)
    seconds = float(os.environ.get("RIDEPRED_SOAK_SECONDS", "120"))
    args = ["--from", "local:IN", "--to", "kinesis:OUT", "--batch-size", "200", "--group", "soak",
            "--lease-ms", "1500"]
    prod = Producer(env, "local:IN", 2000)
    t0 = time.monotonic()
    prod.start()
    p = env.consume(args, "soak.log")
    kills = outages = 0
    next_kill, next_outage = t0 + 20, t0 + 30
    while time.monotonic() - t0 < seconds:
        now = time.monotonic()
        if now >= next_kill:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            p = env.consume(args, "soak.log")
            next_kill += 20
        if now >= next_outage:
            peer.stop_server()
            time.sleep(3.0)
            peer.start_server()
            outages += 1
            next_outage += 30
        if p.poll() is not None:
            raise AssertionError(f"consume exited {p.returncode} on its own: {tc.log_text(p)[-3000:]}")
        time.sleep(0.1)
    prod.stop()
    n = expect_predicted(env, prod, 0, "every ride of the soak in OUT", 300, [p], out="kinesis:OUT")
    rc = tc.stop(p)
    assert rc == 0, f"SIGTERM after the soak: exit {rc}"
    text = tc.log_text(p)
    sums = expect_nothing_dropped(text)
    assert "cannot publish predictions; the shard waits and retries" in text, "no output outage was seen"
    ids = env.ride_ids("kinesis:OUT")
    dups = len(ids) - len(set(json.dumps(i) for i in ids))
    bound = kills * 4 * 200 + outages * 4 * 200
    print(f"    soak {seconds:.0f}s at 2,000 rides/s: {n} rides, {kills} SIGKILLs, {outages} output outages "
          f"of 3 s: every ride predicted, {dups} duplicates (bound: a batch per shard per kill or outage = "
          f"{bound}), {len(sums)} summary lines, discarded=0 in each")
    assert dups <= bound, f"{dups} duplicates exceed {bound}"


# ---- main ---------------------------------------------------------------------------------

def run_tests(tests):
    rptest.need_bin()
    rptest.run(tests, tmp_prefix="rp-outage-",
               unavailable=lambda label: tc.kinesalite_missing()
               if label.startswith("kinesalite") or label == "soak" else None)


OUTAGES = [("sigterm-in-stall", test_sigterm_in_stall), ("max-record-age", test_max_record_age),
           ("kinesalite-late", test_kinesalite_late),
           ("local-out-2s-1", local_case(1, 2)), ("local-out-2s-4", local_case(4, 2)),
           ("local-out-10s-1", local_case(1, 10)), ("local-out-10s-4", local_case(4, 10)),
           ("kinesalite-out-2s-1", kinesalite_case(1, 2, "delete")),
           ("kinesalite-out-2s-4", kinesalite_case(4, 2, "delete")),
           ("kinesalite-out-10s-1", kinesalite_case(1, 10, "delete")),
           ("kinesalite-out-10s-4", kinesalite_case(4, 10, "delete")),
           ("kinesalite-down-10s-1", kinesalite_case(1, 10, "down")),
           ("kinesalite-down-10s-4", kinesalite_case(4, 10, "down"))]


if __name__ == "__main__":
    run_tests(OUTAGES)
