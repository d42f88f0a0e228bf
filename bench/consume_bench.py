#!/usr/bin/python3
"""`ridepred consume` end to end: put -> consume -> publish -> readable.

    bench/consume_bench.py BUILD_DIR [--records N] [--latency-seconds S] [--no-kinesalite]

Builds bench/consume_bench.c (the producer and the reader, one process, two
threads) against BUILD_DIR's libraries, starts `ridepred consume` between
two streams, and measures:

  throughput  N rides (default 200,000) put as fast as the producer can
              (PutRecords of 500); the rate is N over the time from the first
              put to the last prediction readable in OUT
  latency     1,000 rides/s for S seconds (default 10), PutRecords of 10
              every 10 ms; per ride, put -> its prediction readable in OUT
  monitoring  the throughput run with monitoring off, on (a reference of
              10,000 rides, the default 1 h window and cap of 100,000: the
              recording alone) and on with --monitor-window 1s (a window of up
              to 100,000 rides compared every second: the worst case),
              alternated --monitor-runs times (default 5) in the same run;
              the median rate and consume's CPU time (user + sys) of each
              (issue 15: on costs at most 5%)

on the local store (a linear model; IN of 1 shard for throughput, 2 for
latency; OUT of 1 shard), and against kinesalite (npm, 127.0.0.1, in
memory): kinesalite's own ceiling (the same producer putting only) beside
the consumer's end-to-end rate.  Prints a Markdown table and one JSON line.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LAUNCHER = ROOT / "tests" / "tools" / "kinesis_peer.mjs"


def build_tool(build, out):
    libs = subprocess.run(["pkg-config", "--libs", "sqlite3", "libcrypto", "libxxhash", "yaml-0.1"],
                          check=True, capture_output=True, text=True).stdout.split()
    cmd = ["cc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L",
           "-D_DEFAULT_SOURCE", f"-I{ROOT / 'include'}", f"-I{ROOT / 'src'}", str(HERE / "consume_bench.c"),
           str(build / "libridepred.a")] + libs + \
          ["-lm", "-ldl", "-lpthread", "-o", str(out)]
    subprocess.run(cmd, check=True)


def write_model(path):
    feats = [f"PU_DO={a}_{b}" for a in range(1, 266, 13) for b in range(1, 266, 11)]
    with open(path, "w") as f:
        json.dump({"format": "ridepred.model/1", "version": "bench", "features": feats + ["trip_distance"],
                   "estimator": {"type": "linear", "coef": [0.1] * len(feats) + [2.9], "intercept": 8.5}}, f)


class Run:
    def __init__(self, build, tool, tmp, env):
        self.rp = str(build / "ridepred")
        self.tool, self.tmp, self.env = str(tool), tmp, env
        self.model = os.path.join(tmp, "linear.json")
        write_model(self.model)

    def sh(self, args):
        return subprocess.run(args, check=True, capture_output=True, text=True, env=self.env).stdout

    def streams(self, prefix, in_shards, out_shards):
        self.sh([self.rp, "streams", "create", f"{prefix}IN", "--shards", str(in_shards)])
        self.sh([self.rp, "streams", "create", f"{prefix}OUT", "--shards", str(out_shards)])

    def e2e(self, backend, prefix, n, rate, batch, consume_args):
        ck = os.path.join(self.tmp, f"ck-{prefix}.db")
        p = subprocess.Popen([self.rp, "consume", "--from", f"{backend}:{prefix}IN", "--to",
                              f"{backend}:{prefix}OUT", "--model", self.model, "--checkpoint-store", ck,
                              "--log-level", "warn"] + consume_args, env=self.env)
        try:
            time.sleep(0.7)
            out = self.sh([self.tool, "e2e", f"{backend}:{prefix}IN", f"{backend}:{prefix}OUT", str(n),
                           str(rate), str(batch)])
        finally:
            p.send_signal(signal.SIGTERM)
            # consume's own CPU time (user + sys) over the run: steadier than a
            # rate on a shared machine.
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = rc = os.waitstatus_to_exitcode(status)
        if rc != 0:
            raise SystemExit(f"consume exited {rc}")
        res = json.loads(out)
        res["consume_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 4)
        return res

    def put_only(self, backend, prefix, n):
        return json.loads(self.sh([self.tool, "put", f"{backend}:{prefix}IN", str(n), "500"]))


def write_reference(path, n=10_000, seed=15):
    """A reference sample (src/monitor/monitor.h's CSV) of rides like the
    producer's and a linear model's predictions."""
    import random
    rnd = random.Random(seed)
    with open(path, "w") as f:
        f.write("num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n")
        for _ in range(n):
            d = round(rnd.lognormvariate(0.9, 0.7), 2)
            f.write(f"{d!r},{rnd.randint(1, 265)},{rnd.randint(1, 265)},{8.5 + 2.9 * d!r}\n")


def start_kinesalite(tmp):
    log = open(os.path.join(tmp, "kinesalite.log"), "w")
    p = subprocess.Popen(["node", str(LAUNCHER), "kinesalite", "--port", "0", "--watch-stdin"],
                         stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in open(log.name):
            if line.startswith("KINESIS_PEER_READY "):
                return p, "http://127.0.0.1:%d" % json.loads(line.split(" ", 1)[1])["port"]
        time.sleep(0.05)
    raise SystemExit("kinesalite did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--latency-seconds", type=int, default=10)
    ap.add_argument("--kinesalite-records", type=int, default=20_000)
    ap.add_argument("--no-kinesalite", action="store_true")
    ap.add_argument("--monitor-runs", type=int, default=5, help="monitoring off/on/on-1s rounds (0: none)")
    args = ap.parse_args()
    build = args.build.resolve()
    tmp = tempfile.mkdtemp(prefix="rp-consume-bench-")
    results = {"load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    try:
        tool = Path(tmp) / "consume_bench"
        build_tool(build, tool)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "streams.db"),
               "RUN_ID": "bench"}
        r = Run(build, tool, tmp, env)
        r.streams("t", 1, 1)
        results["local_throughput"] = r.e2e("local", "t", args.records, 0, 500, ["--batch-size", "1000"])
        if args.monitor_runs > 0:
            ref = os.path.join(tmp, "reference.csv")
            write_reference(ref)
            arms = (("off", []), ("on", ["--monitor-reference", ref]),
                    ("on_1s", ["--monitor-reference", ref, "--monitor-window", "1s"]))
            runs = {label: [] for label, _ in arms}
            for i in range(args.monitor_runs):
                for label, extra in arms:
                    prefix = f"m{label.replace('_', '')}{i}"
                    r.streams(prefix, 1, 1)
                    x = r.e2e("local", prefix, args.records, 0, 500, ["--batch-size", "1000"] + extra)
                    runs[label].append((x["e2e_per_s"], x["consume_cpu_s"]))
            mon = {"runs": runs}
            for label in runs:
                rates = sorted(x[0] for x in runs[label])
                cpus = sorted(x[1] for x in runs[label])
                mon[label] = {"best_per_s": rates[-1], "median_per_s": rates[len(rates) // 2],
                              "median_cpu_s": cpus[len(cpus) // 2]}
            for label in ("on", "on_1s"):
                mon[label]["cost"] = 1 - mon[label]["median_per_s"] / mon["off"]["median_per_s"]
                mon[label]["cpu_cost"] = mon[label]["median_cpu_s"] / mon["off"]["median_cpu_s"] - 1
            results["monitoring"] = mon
        r.streams("l", 2, 1)
        results["local_latency"] = r.e2e("local", "l", 1000 * args.latency_seconds, 1000, 10,
                                         ["--batch-size", "100"])
        if not args.no_kinesalite and shutil.which("node"):
            peer, endpoint = start_kinesalite(tmp)
            try:
                kenv = dict(env, KINESIS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="AKIDBENCH",
                            AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1")
                k = Run(build, tool, tmp, kenv)
                k.streams("c", 1, 1)
                results["kinesalite_ceiling"] = k.put_only("kinesis", "c", args.kinesalite_records)
                k.streams("t", 1, 1)
                results["kinesalite_throughput"] = k.e2e("kinesis", "t", args.kinesalite_records, 0, 500,
                                                         ["--batch-size", "1000", "--poll-ms", "50"])
                k.streams("l", 2, 1)
                results["kinesalite_latency"] = k.e2e("kinesis", "l", 200 * args.latency_seconds, 200, 10,
                                                      ["--batch-size", "100", "--poll-ms", "50"])
            finally:
                peer.terminate()
                peer.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lt, ll = results["local_throughput"], results["local_latency"]
    print(f"| consume, end to end (load average {results['load_average']:.1f} on {results['cpus']} CPUs) | value |")
    print("| --- | --- |")
    print(f"| local store: put -> consume -> publish -> readable, {lt['records']:,} rides | "
          f"{lt['e2e_per_s']:,.0f} records/s (producer alone put at {lt['put_per_s']:,.0f}/s) |")
    print(f"| local store: put -> readable latency at 1,000 rides/s | p50 {ll['p50_ms']:.1f} ms, "
          f"p99 {ll['p99_ms']:.1f} ms, max {ll['max_ms']:.1f} ms |")
    if "monitoring" in results:
        m = results["monitoring"]
        n = len(m["runs"]["off"])
        for label, what in (("off", "monitoring off"), ("on", "monitoring on (1 h windows: none closes)"),
                            ("on_1s", "monitoring on, --monitor-window 1s (a window compared every second)")):
            x = m[label]
            extra = "" if label == "off" else f" (rate {-100 * x['cost']:+.1f}%, CPU {100 * x['cpu_cost']:+.1f}%)"
            print(f"| local store, {lt['records']:,} rides, {what}: median of {n} | "
                  f"{x['median_per_s']:,.0f} records/s, consume's CPU {x['median_cpu_s']:.3f} s{extra} |")
    if "kinesalite_ceiling" in results:
        kc, kt, kl = results["kinesalite_ceiling"], results["kinesalite_throughput"], results["kinesalite_latency"]
        print(f"| kinesalite: its own ceiling (put only, PutRecords of 500) | {kc['records_per_s']:,.0f} records/s |")
        print(f"| kinesalite: put -> consume -> publish -> readable, {kt['records']:,} rides | "
              f"{kt['e2e_per_s']:,.0f} records/s (each ride is put twice: IN, then OUT) |")
        print(f"| kinesalite: latency at 200 rides/s (--poll-ms 50) | p50 {kl['p50_ms']:.1f} ms, "
              f"p99 {kl['p99_ms']:.1f} ms |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
