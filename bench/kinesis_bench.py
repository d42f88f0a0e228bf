#!/usr/bin/python3
"""Kinesis client CPU per record, against kinesalite on 127.0.0.1.

    bench/kinesis_bench.py BUILD_DIR [--records N] [--shards S]

Starts kinesalite (tests/tools/kinesis_peer.mjs, in memory, 127.0.0.1 only)
and puts the same N ride events ({"ride": {...}, "ride_id": i}, partition key
str(i)) with three clients, each into a stream of its own:

  ridepred  `ridepred put kinesis:STREAM -`, the records on stdin;
  boto3     put_records in batches of 500, in a child python process;
  AWS CLI   `/usr/bin/aws kinesis put-records --records file://batch.json`,
            one process per 500-record batch;

then reads them all back with `ridepred read`, boto3 (get_records) and the
AWS CLI (get-shard-iterator + get-records).

Every figure is CPU time (user + sys) of the client processes only, from
os.wait4 (kinesalite, a separate node process, is not counted).  For boto3
"loop" is time.process_time() around the put/get loop only (no imports, no
client construction); "process" is the whole child.  Wall times are reported
too; ridepred's put wall rate is in practice kinesalite's ceiling (the server
is the bottleneck).

Prints one JSON line per figure on stdout.  Needs node with
tests/tools/node_modules (scripts/deps test), /usr/bin/aws and python3-boto3;
exits 77 with a SKIP line on stderr when one is missing.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOOLS = ROOT / "tests" / "tools"
LAUNCHER = TOOLS / "kinesis_peer.mjs"
AWS = "/usr/bin/aws"
PY = "/usr/bin/python3"
BATCH = 500
LOCATIONS = (130, 205, 43, 236, 161, 237, 142, 48, 79, 170)


def skip(why):
    print("SKIP: kinesis_bench: %s" % why, file=sys.stderr)
    sys.exit(77)


def ride_lines(n):
    out = []
    for i in range(n):
        ride = {"PULocationID": LOCATIONS[i % 10], "DOLocationID": LOCATIONS[(i * 7 + 3) % 10],
                "trip_distance": round(0.5 + (i % 97) * 0.137, 2)}
        out.append(json.dumps({"ride": ride, "ride_id": i}))
    return out


def run_measured(cmd, env, stdin=None, stdout=subprocess.DEVNULL):
    """Run one child; (returncode, user+sys CPU seconds, wall seconds, stdout bytes or None)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                         stdout=stdout, stderr=subprocess.PIPE)
    out = None
    if stdout == subprocess.PIPE:
        out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if p.returncode != 0:
        raise SystemExit("kinesis_bench: %s exited %d: %s"
                         % (" ".join(map(str, cmd))[:200], p.returncode, err.decode(errors="replace")[-2000:]))
    return ru.ru_utime + ru.ru_stime, wall, out


class Kinesalite:
    def __init__(self, workdir):
        self.log = Path(workdir) / "kinesalite.log"
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(["node", str(LAUNCHER), "kinesalite", "--port", "0", "--watch-stdin"],
                                     stdin=subprocess.PIPE, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=workdir)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for line in open(self.log, errors="replace"):
                if line.startswith("KINESIS_PEER_READY "):
                    info = json.loads(line.split(" ", 1)[1])
                    self.endpoint = "http://127.0.0.1:%d" % info["port"]
                    return
            if self.proc.poll() is not None:
                raise SystemExit("kinesis_bench: kinesalite exited: %s" % self.log.read_text()[-2000:])
            time.sleep(0.05)
        self.stop()
        raise SystemExit("kinesis_bench: kinesalite did not start: %s" % self.log.read_text()[-2000:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


BOTO3_CHILD = r'''
import json, resource, sys, time, base64
import boto3
from botocore.config import Config
mode, endpoint, stream, path, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
client = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 10, "mode": "standard"}))
if mode == "put":
    lines = open(path, "rb").read().splitlines()
    t0, w0 = time.process_time(), time.perf_counter()
    failed = 0
    for i in range(0, len(lines), 500):
        recs = [{"Data": d, "PartitionKey": str(i + j)} for j, d in enumerate(lines[i:i + 500])]
        while recs:
            r = client.put_records(StreamName=stream, Records=recs)
            recs = [rec for rec, res in zip(recs, r["Records"]) if "ErrorCode" in res]
    loop, wall = time.process_time() - t0, time.perf_counter() - w0
    count = len(lines)
else:
    t0, w0 = time.process_time(), time.perf_counter()
    count = 0
    shards = client.list_shards(StreamName=stream)["Shards"]
    for sh in sorted(shards, key=lambda s: s["ShardId"]):
        it = client.get_shard_iterator(StreamName=stream, ShardId=sh["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = client.get_records(ShardIterator=it, Limit=10000)
            for rec in page["Records"]:
                json.loads(rec["Data"])
            count += len(page["Records"])
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    loop, wall = time.process_time() - t0, time.perf_counter() - w0
print(json.dumps({"loop_cpu_s": loop, "loop_wall_s": wall, "records": count}))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args()
    n = args.records
    bin_ = args.build.resolve() / "ridepred"
    if not os.access(bin_, os.X_OK):
        skip("no ridepred binary at %s" % bin_)
    if not shutil.which("node"):
        skip("node is not installed (scripts/deps test)")
    if not (TOOLS / "node_modules" / "kinesalite").is_dir():
        skip("npm package kinesalite missing (scripts/deps test)")
    if not os.access(AWS, os.X_OK):
        skip("Debian's AWS CLI (/usr/bin/aws) is missing")
    if subprocess.run([PY, "-c", "import boto3"], capture_output=True).returncode != 0:
        skip("python3-boto3 is missing")

    tmp = tempfile.mkdtemp(prefix="ridepred-kinesis-bench-")
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    peer = Kinesalite(tmp)
    try:
        base = {
            "PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "AKIDRIDEPREDBENCH", "AWS_SECRET_ACCESS_KEY": "ridepred-bench-secret",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
            "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "unused.db"),
        }
        env = dict(base, KINESIS_ENDPOINT_URL=peer.endpoint)
        aws = [AWS, "--no-cli-pager", "--endpoint-url", peer.endpoint, "--output", "json", "kinesis"]
        lines = ride_lines(n)
        data = Path(tmp) / "records.jsonl"
        data.write_text("\n".join(lines) + "\n")
        figures = []

        def emit(**f):
            f = dict(f, records=n)
            for k in ("cpu_s", "wall_s", "process_cpu_s", "process_wall_s"):
                if k in f:
                    f[k] = round(f[k], 4)
            if "cpu_s" in f:
                f["cpu_us_per_record"] = round(f["cpu_s"] / n * 1e6, 2)
            if "wall_s" in f:
                f["records_per_s_wall"] = round(n / f["wall_s"], 1)
            figures.append(f)
            print(json.dumps(f), flush=True)

        def create(name):
            subprocess.run([str(bin_), "streams", "create", "kinesis:" + name, "--shards", str(args.shards)],
                           env=env, check=True, capture_output=True)
            for _ in range(200):
                d = subprocess.run([str(bin_), "streams", "describe", "kinesis:" + name],
                                   env=env, capture_output=True, text=True)
                if d.returncode == 0 and "ACTIVE" in d.stdout:
                    return
                time.sleep(0.05)
            raise SystemExit("kinesis_bench: stream %s did not become ACTIVE" % name)

        for name in ("bench-warmup", "bench-ridepred", "bench-boto3", "bench-cli"):
            create(name)
        # Warm kinesalite up (node's JIT) so that the first client measured
        # does not pay for it in wall time.
        with open(data, "rb") as f:
            run_measured([str(bin_), "put", "kinesis:bench-warmup", "-"], env, stdin=f)

        # ---- put ---------------------------------------------------------------
        with open(data, "rb") as f:
            cpu, wall, out = run_measured([str(bin_), "put", "kinesis:bench-ridepred", "-"], env,
                                          stdin=f, stdout=subprocess.PIPE)
        acks = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
        bad = sum(1 for a in acks if "SequenceNumber" not in a)
        if len(acks) != n or bad:
            raise SystemExit("kinesis_bench: ridepred put acknowledged %d of %d records (%d failed)"
                             % (len(acks) - bad, n, bad))
        emit(what="put", client="ridepred", cpu_s=cpu, wall_s=wall)

        cpu, wall, out = run_measured([PY, "-c", BOTO3_CHILD, "put", peer.endpoint, "bench-boto3", str(data),
                                       str(n)], base, stdout=subprocess.PIPE)
        child = json.loads(out.decode().strip().splitlines()[-1])
        emit(what="put", client="boto3", cpu_s=child["loop_cpu_s"], wall_s=child["loop_wall_s"],
             process_cpu_s=cpu, process_cpu_us_per_record=round(cpu / n * 1e6, 2), process_wall_s=wall)

        cpu_sum = wall_sum = 0.0
        for i in range(0, n, BATCH):
            batch = Path(tmp) / "batch.json"
            batch.write_text(json.dumps([{"Data": base64.b64encode(l.encode()).decode(),
                                          "PartitionKey": str(i + j)}
                                         for j, l in enumerate(lines[i:i + BATCH])]))
            cpu, wall, out = run_measured(aws + ["put-records", "--stream-name", "bench-cli",
                                                 "--records", "file://%s" % batch], base,
                                          stdout=subprocess.PIPE)
            if json.loads(out).get("FailedRecordCount", 0):
                raise SystemExit("kinesis_bench: aws put-records: some records failed")
            cpu_sum += cpu
            wall_sum += wall
        emit(what="put", client="aws-cli", cpu_s=cpu_sum, wall_s=wall_sum, processes=(n + BATCH - 1) // BATCH)

        # ---- read --------------------------------------------------------------
        cpu, wall, out = run_measured([str(bin_), "read", "kinesis:bench-ridepred"], env,
                                      stdout=subprocess.PIPE)
        got = sum(1 for l in out.splitlines() if l.strip())
        if got != n:
            raise SystemExit("kinesis_bench: ridepred read %d of %d records" % (got, n))
        emit(what="read", client="ridepred", cpu_s=cpu, wall_s=wall)

        cpu, wall, out = run_measured([PY, "-c", BOTO3_CHILD, "read", peer.endpoint, "bench-boto3", "-",
                                       str(n)], base, stdout=subprocess.PIPE)
        child = json.loads(out.decode().strip().splitlines()[-1])
        if child["records"] != n:
            raise SystemExit("kinesis_bench: boto3 read %d of %d records" % (child["records"], n))
        emit(what="read", client="boto3", cpu_s=child["loop_cpu_s"], wall_s=child["loop_wall_s"],
             process_cpu_s=cpu, process_cpu_us_per_record=round(cpu / n * 1e6, 2), process_wall_s=wall)

        cpu_sum = wall_sum = 0.0
        calls = 0

        def aws_call(*a):
            nonlocal cpu_sum, wall_sum, calls
            cpu, wall, out = run_measured(aws + list(a), base, stdout=subprocess.PIPE)
            cpu_sum += cpu
            wall_sum += wall
            calls += 1
            return json.loads(out)

        got = 0
        for sh in sorted(aws_call("list-shards", "--stream-name", "bench-cli")["Shards"],
                         key=lambda s: s["ShardId"]):
            it = aws_call("get-shard-iterator", "--stream-name", "bench-cli", "--shard-id", sh["ShardId"],
                          "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
            while it:
                page = aws_call("get-records", "--shard-iterator", it, "--limit", "10000")
                got += len(page["Records"])
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        if got != n:
            raise SystemExit("kinesis_bench: aws get-records read %d of %d records" % (got, n))
        emit(what="read", client="aws-cli", cpu_s=cpu_sum, wall_s=wall_sum, processes=calls)

        put = next(f for f in figures if f["what"] == "put" and f["client"] == "ridepred")
        print(json.dumps({"what": "kinesalite_ceiling", "records": n, "shards": args.shards,
                          "records_per_s_wall": put["records_per_s_wall"],
                          "note": "wall rate of the ridepred put; kinesalite is the bottleneck"}), flush=True)
    finally:
        peer.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
