#!/usr/bin/python3
"""`consume --checkpoint-store dynamodb:TABLE` (issue 14): what the lease
table costs.

    bench/lease_bench.py BUILD_DIR [--seconds S] [--rate R] [--lease-ms MS]

One `ridepred consume` on an 8-shard local stream IN (so that the stream is
not the bottleneck: kinesalite tops out below 10,000 records/s here) to a
local OUT, with its checkpoint store in dynalite (npm, 127.0.0.1, in memory,
tests/tools/dynamodb_peer.mjs), then the same with the SQLite store:

  idle        S seconds (default 10) with no rides: lease table calls per
              second (ridepred_consume_lease_table_requests_total from
              /metrics: renewals every lease/3, scans every
              min(lease/5, 500 ms))
  loaded      R rides/s (default 10,000; bench/consume_bench.c's producer,
              PutRecords of 100, ride ids spread over the 8 shards) for S
              seconds: lease table calls per second, checkpoints per second,
              and the consumer's CPU (user + system, /proc/PID/stat) per
              ride, for the DynamoDB store and the SQLite store side by side

The consumer runs on one core (taskset -c 0) with --lease-ms MS (default
10000, the default of consume).  Prints a Markdown table and one JSON line.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import consume_bench as cb  # noqa: E402  (build_tool, write_model)

DYNAMODB_PEER = ROOT / "tests" / "tools" / "dynamodb_peer.mjs"
SHARDS = 8
TICK = os.sysconf("SC_CLK_TCK")


def pinned(cmd):
    return (["taskset", "-c", "0"] if shutil.which("taskset") else []) + cmd


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_dynalite(tmp):
    log = open(os.path.join(tmp, "dynalite.log"), "w")
    p = subprocess.Popen(["node", str(DYNAMODB_PEER), "--port", "0", "--watch-stdin"], stdin=subprocess.PIPE,
                         stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in open(log.name):
            if line.startswith("DYNAMODB_PEER_READY "):
                return p, "http://127.0.0.1:%d" % json.loads(line.split(" ", 1)[1])["port"]
        if p.poll() is not None:
            raise SystemExit("dynalite did not start: " + open(log.name).read()[-2000:])
        time.sleep(0.05)
    raise SystemExit("dynalite did not start")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("ridepred_consume_") and " " in line:
            name, value = line.rsplit(" ", 1)
            name = name.split("{", 1)[0]  # labels (stream, group): one consumer, summed
            out[name] = out.get(name, 0.0) + float(value)
    return out


class Consumer:
    """One `ridepred consume` between PREFIX+IN and PREFIX+OUT."""

    def __init__(self, build, env, tmp, prefix, store, args):
        self.port = free_port()
        self.p = subprocess.Popen(pinned([str(build / "ridepred"), "consume", "--from", f"local:{prefix}IN", "--to",
                                          f"local:{prefix}OUT", "--model", os.path.join(tmp, "linear.json"),
                                          "--checkpoint-store", store, "--lease-ms", str(args.lease_ms),
                                          "--batch-window-ms", str(args.batch_window_ms),
                                          "--checkpoint-interval-ms", str(args.checkpoint_interval_ms),
                                          "--metrics-listen", f"127.0.0.1:{self.port}", "--log-level", "warn"]),
                                  env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if metrics(self.port).get("ridepred_consume_shards_held", 0) >= SHARDS:
                    break
            except OSError:
                pass
            if self.p.poll() is not None or time.monotonic() > deadline:
                self.p.kill()
                self.p.wait()
                raise SystemExit(f"consume ({store}) did not take its {SHARDS} shards")
            time.sleep(0.1)

    def sample(self):
        m = metrics(self.port)
        return {"t": time.monotonic(), "cpu": cpu_seconds(self.p.pid),
                "requests": m.get("ridepred_consume_lease_table_requests_total", 0.0),
                "throttles": m.get("ridepred_consume_lease_table_throttles_total", 0.0),
                "checkpoints": m.get("ridepred_consume_checkpoints_total", 0.0)}

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(60)
        if rc != 0:
            raise SystemExit(f"consume exited {rc}")


def rates(a, b, rides=0):
    dt = b["t"] - a["t"]
    out = {"seconds": round(dt, 2), "lease_table_calls_per_s": (b["requests"] - a["requests"]) / dt,
           "checkpoints_per_s": (b["checkpoints"] - a["checkpoints"]) / dt,
           "throttles": b["throttles"] - a["throttles"], "cpu_s": b["cpu"] - a["cpu"]}
    if rides:
        out["rides"] = rides
        out["cpu_us_per_ride"] = out["cpu_s"] / rides * 1e6
    return out


def run(build, tool, tmp, env, prefix, store, args):
    sh = lambda a: subprocess.run(a, check=True, capture_output=True, text=True, env=env).stdout  # noqa: E731
    sh([str(build / "ridepred"), "streams", "create", f"{prefix}IN", "--shards", str(SHARDS)])
    sh([str(build / "ridepred"), "streams", "create", f"{prefix}OUT", "--shards", "1"])
    c = Consumer(build, env, tmp, prefix, store, args)
    res = {}
    try:
        time.sleep(1.0)  # past the first scans and takes
        a = c.sample()
        time.sleep(args.seconds)
        res["idle"] = rates(a, c.sample())
        n = args.rate * args.seconds
        a = c.sample()
        prof = None
        if args.perf and store.startswith("dynamodb:"):
            prof = subprocess.Popen(["perf", "record", "-F", "2000", "-g", "-o", args.perf, "-p", str(c.p.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = json.loads(sh([str(tool), "e2e", f"local:{prefix}IN", f"local:{prefix}OUT", str(n), str(args.rate),
                             "100"]))
        res["loaded"] = rates(a, c.sample(), rides=n)
        if prof:
            prof.send_signal(signal.SIGINT)
            prof.wait(30)
        res["loaded"]["put_per_s"] = out["put_per_s"]
        res["loaded"]["p50_ms"], res["loaded"]["p99_ms"] = out["p50_ms"], out["p99_ms"]
    finally:
        c.stop()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--lease-ms", type=int, default=10_000)
    ap.add_argument("--batch-window-ms", type=int, default=0, help="consume's --batch-window-ms (default 0)")
    ap.add_argument("--checkpoint-interval-ms", type=int, default=0,
                    help="consume's --checkpoint-interval-ms, for both stores (default 0: every batch)")
    ap.add_argument("--perf", help="perf record the DynamoDB run's loaded phase into this file")
    args = ap.parse_args()
    build = args.build.resolve()
    if not shutil.which("node") or not (ROOT / "tests" / "tools" / "node_modules" / "dynalite").is_dir():
        print("lease table: not measured: needs node and dynalite (npm ci in tests/tools)", file=sys.stderr)
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="rp-lease-bench-")
    results = {"load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "shards": SHARDS,
               "rate": args.rate, "lease_ms": args.lease_ms, "batch_window_ms": args.batch_window_ms,
               "checkpoint_interval_ms": args.checkpoint_interval_ms}
    peer = None
    try:
        tool = Path(tmp) / "consume_bench"
        cb.build_tool(build, tool)
        cb.write_model(os.path.join(tmp, "linear.json"))
        peer, endpoint = start_dynalite(tmp)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "streams.db"),
               "RUN_ID": "bench", "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ACCESS_KEY_ID": "AKIDBENCH",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
        results["dynamodb"] = run(build, tool, tmp, env, "d", "dynamodb:bench_leases", args)
        results["sqlite"] = run(build, tool, tmp, env, "s", os.path.join(tmp, "ck.db"), args)
    finally:
        if peer:
            peer.stdin.close()
            try:
                peer.wait(15)
            except subprocess.TimeoutExpired:
                peer.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    d, s = results["dynamodb"], results["sqlite"]
    ratio = d["loaded"]["cpu_us_per_ride"] / s["loaded"]["cpu_us_per_ride"]
    results["cpu_ratio"] = ratio
    print(f"| lease table, {SHARDS} shards, --lease-ms {args.lease_ms}, --batch-window-ms {args.batch_window_ms}, "
          f"--checkpoint-interval-ms {args.checkpoint_interval_ms} (load average "
          f"{results['load_average']:.1f} on {results['cpus']} CPUs) | DynamoDB store (dynalite) | SQLite store |")
    print("| --- | --- | --- |")
    print(f"| lease table calls/s, idle | {d['idle']['lease_table_calls_per_s']:.1f} | - |")
    print(f"| lease table calls/s at {args.rate:,} rides/s | {d['loaded']['lease_table_calls_per_s']:.1f} "
          f"(of which checkpoints {d['loaded']['checkpoints_per_s']:.1f}/s) | - |")
    print(f"| checkpoints/s at {args.rate:,} rides/s | {d['loaded']['checkpoints_per_s']:.1f} | "
          f"{s['loaded']['checkpoints_per_s']:.1f} |")
    print(f"| consume CPU per ride at {args.rate:,} rides/s | {d['loaded']['cpu_us_per_ride']:.2f} us | "
          f"{s['loaded']['cpu_us_per_ride']:.2f} us (DynamoDB / SQLite: {ratio:.2f}) |")
    print(f"| consume CPU idle, % of a core | {100 * d['idle']['cpu_s'] / d['idle']['seconds']:.2f} | "
          f"{100 * s['idle']['cpu_s'] / s['idle']['seconds']:.2f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
