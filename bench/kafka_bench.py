#!/usr/bin/python3
"""`ridepred consume` Kafka -> Kafka end to end, beside kcat on the same cluster.

    bench/kafka_bench.py BUILD_DIR [--records N] [--partitions P] [--batch-size B]

The cluster is librdkafka's mock cluster (BUILD_DIR/kafka_mock, 3 brokers on
127.0.0.1, in this machine's memory: it shares the two cores with the
clients).  In one run:

  kcat produce   N rides (the real 2021-02 rides of bench/make_events.py when
                 present, else synthetic ones), key = ride_id, into IN
                 (P partitions): kcat -P's rate (whole process)
  kcat consume   kcat -C of IN from the beginning until the N rides are
                 read (-c N): kcat's consume-only rate (whole process, the
                 best of three)
  ridepred       `consume --from kafka:IN --to kafka:OUT` with the linear
                 model: the rate from the first record handled to the last
                 prediction acknowledged by the cluster (/metrics polled
                 every 10 ms; the group join before it is not counted), then
                 the same with --exactly-once (transactions per batch) and
                 with --max-in-flight 1 (no batches in flight)

100,000 rides by default: the mock cluster keeps only so much of each
partition (about 7 MB here) and drops the oldest messages beyond it, so a
200,000-ride run on 4 partitions loses its first ~1,300 a partition before
anyone reads them.

Prints a Markdown table and one JSON line (bench/run reads it).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def write_model(path):
    feats = [f"PU_DO={a}_{b}" for a in range(1, 266, 13) for b in range(1, 266, 11)]
    with open(path, "w") as f:
        json.dump({"format": "ridepred.model/1", "version": "bench", "features": feats + ["trip_distance"],
                   "estimator": {"type": "linear", "coef": [0.01 * (i % 7) for i in range(len(feats))] + [2.9],
                                 "intercept": 8.5}}, f)


def rides(n):
    """kcat -K'\\t' lines: ride_id TAB the ride event."""
    import random
    rnd = random.Random(5)
    out = []
    for i in range(1, n + 1):
        ev = {"ride": {"PULocationID": rnd.randint(1, 265), "DOLocationID": rnd.randint(1, 265),
                       "trip_distance": round(rnd.lognormvariate(0.9, 0.7), 2)}, "ride_id": i}
        out.append("%d\t%s\n" % (i, json.dumps(ev)))
    return "".join(out)


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def metric(port, name):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def consume_rate(build, brokers, src, dst, model, n, batch, extra, tmp):
    port = free_port()
    env = dict(os.environ, RIDEPRED_KAFKA_BROKERS=brokers, XDG_STATE_HOME=tmp)
    cmd = [str(build / "ridepred"), "consume", "--from", "kafka:" + src, "--to", "kafka:" + dst, "--model",
           str(model), "--batch-size", str(batch), "--metrics-listen", "127.0.0.1:%d" % port, "--log-level", "warn",
           "--group", "bench-" + dst] + extra
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t_first = None
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            handled = metric(port, "ridepred_consume_records_handled_total")
            if handled and t_first is None:
                t_first = time.perf_counter()
            pub = metric(port, "ridepred_consume_predictions_published_total")
            if pub is not None and pub >= n:
                t_end = time.perf_counter()
                break
            time.sleep(0.01)
        else:
            raise SystemExit("kafka_bench: consume did not publish %d predictions in time" % n)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    if p.returncode != 0:
        raise SystemExit("kafka_bench: consume exited %d: %s" % (p.returncode, err[-2000:]))
    return n / (t_end - t_first)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=1000)
    a = ap.parse_args()
    build = Path(a.build).resolve()
    kcat = shutil.which("kcat")
    if not kcat:
        print("kafka_bench: kcat is not installed (Debian: kcat)", file=sys.stderr)
        sys.exit(77)
    n, parts = a.records, a.partitions
    tmp = tempfile.mkdtemp(prefix="rp-kbench-")
    model = Path(tmp) / "model.json"
    write_model(model)
    cluster = subprocess.Popen([str(build / "kafka_mock"), "--topic", "rides:%d" % parts, "--topic",
                                "preds:%d" % parts, "--topic", "preds_eos:%d" % parts, "--topic",
                                "preds_seq:%d" % parts],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        brokers = cluster.stdout.readline().strip()
        data = rides(n)
        t0 = time.perf_counter()
        subprocess.run([kcat, "-b", brokers, "-P", "-t", "rides", "-K", "\t", "-X", "enable.idempotence=true"],
                       input=data, text=True, check=True)
        kcat_produce = n / (time.perf_counter() - t0)
        # kcat's consume-only rate: the best of three reads of the whole
        # topic (on this shared machine one read in five or so is several
        # times slower; the best is the bar ridepred is held to).
        # -c N: until the N rides are read (-e, "to the end of every
        # partition", can stop early on the mock cluster, whose high
        # watermark lags the acknowledged offsets).
        kcat_consume = 0
        for _ in range(3):
            t0 = time.perf_counter()
            out = subprocess.run([kcat, "-b", brokers, "-C", "-t", "rides", "-o", "beginning", "-c", str(n), "-q"],
                                 capture_output=True, text=True, check=True, timeout=600).stdout
            kcat_consume = max(kcat_consume, n / (time.perf_counter() - t0))
            got = out.count("\n")
            if got != n:
                raise SystemExit("kafka_bench: kcat read %d of %d" % (got, n))
        rate = consume_rate(build, brokers, "rides", "preds", model, n, a.batch_size, [], tmp)
        eos = consume_rate(build, brokers, "rides", "preds_eos", model, n, a.batch_size, ["--exactly-once"], tmp)
        seq = consume_rate(build, brokers, "rides", "preds_seq", model, n, a.batch_size, ["--max-in-flight", "1"],
                           tmp)
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    res = {"records": n, "partitions": parts, "batch_size": a.batch_size, "kcat_produce_per_s": kcat_produce,
           "kcat_consume_per_s": kcat_consume, "ridepred_e2e_per_s": rate, "ridepred_e2e_eos_per_s": eos,
           "ridepred_e2e_one_in_flight_per_s": seq,
           "ratio_to_kcat_consume": rate / kcat_consume}
    print("| figure (mock cluster, %d rides, %d partitions) | records/s |" % (n, parts))
    print("| --- | --- |")
    print("| kcat produce (idempotent), whole process | {:,.0f} |".format(kcat_produce))
    print("| kcat consume only, whole process | {:,.0f} |".format(kcat_consume))
    print("| ridepred consume Kafka -> Kafka end to end, batches of %d | {:,.0f} |".format(rate) % a.batch_size)
    print("| ridepred consume --max-in-flight 1 (each batch waits for its acknowledgements) | {:,.0f} |".format(seq))
    print("| ridepred consume --exactly-once end to end | {:,.0f} |".format(eos))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
