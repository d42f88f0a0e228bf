#!/usr/bin/python3
"""The Python side of `make bench`: the reference's figures (docs/PERFORMANCE.md), measured here.

    bench/python_ref.py --model-kind linear|forest [--events N] [--runs 3]

On one core (this process and its children are pinned to one CPU; BLAS/OpenMP
limited to one thread), with models trained on 2021-01 (ridepy's cache):

- handler: the reference Lambda handler (ridepy.reference_handler, TEST_RUN:
  base64 -> JSON -> DictVectorizer + predict per record -> json.dumps) over N
  Kinesis events of 100 real 2021-02 rides each; records/s;
- start to first answer: wall time of a fresh /usr/bin/python3 process that
  imports scikit-learn, unpickles the pipeline and answers a 1-record event
  (best of --runs; also its CPU time, less sensitive to a busy machine), and
  that process's peak RSS (ru_maxrss of the child, from wait4).  This is the pickle the Lambda's model.pkl would be, without
  MLflow's own import cost, so the figure is a lower bound of the Lambda's.

Prints one JSON object per line:

    {"what": "handler", "model": "linear", "records_per_s": ..., ...}
    {"what": "start_to_answer", "model": "linear", "seconds": ..., "peak_rss_kib": ..., ...}
    {"what": "peak_rss", "model": "linear", "process": "start_to_answer", "kib": ...}
"""

import os

# Before numpy is imported (by ridepy): one thread for every math library.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tools"))

import ridepy  # noqa: E402

PYTHON = "/usr/bin/python3"
RUN_ID = "bench"

# What the fresh process runs: the Lambda's work from a cold start, with the
# pipeline pickled as the course's model.pkl is (no ridepy, no numpy before
# the unpickling imports it).
COLD_START = r'''
import base64, json, pickle, sys
import sklearn
with open(sys.argv[1], "rb") as fh:
    model = pickle.load(fh)
with open(sys.argv[2]) as fh:
    event = json.load(fh)
predictions = []
for record in event["Records"]:
    ride_event = json.loads(base64.b64decode(record["kinesis"]["data"]).decode("utf-8"))
    ride, ride_id = ride_event["ride"], ride_event["ride_id"]
    features = {"PU_DO": "%s_%s" % (ride["PULocationID"], ride["DOLocationID"]),
                "trip_distance": ride["trip_distance"]}
    prediction = float(model.predict(features)[0])
    predictions.append({"model": "ride_duration_prediction_model", "version": "bench",
                        "prediction": {"ride_duration": prediction, "ride_id": ride_id}})
print(json.dumps({"predictions": predictions}))
'''


def emit(obj):
    print(json.dumps(obj), flush=True)


def pin_one_core():
    """Pin this process (and so its children) to one CPU; return its number."""
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1] if len(cpus) > 1 else cpus[0]
    os.sched_setaffinity(0, {cpu})
    return cpu


def bench_handler(kind, pipe, rides, n_events):
    """Records/s of the reference handler over *n_events* 100-record events."""
    events = ridepy.kinesis_events(rides, n_events, 100)
    ridepy.reference_handler(pipe, events[0], RUN_ID)  # warm-up (lazy imports, caches)
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for ev in events:
        ridepy.reference_handler(pipe, ev, RUN_ID)
        n += len(ev["Records"])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"what": "handler", "model": kind, "records_per_s": round(n / dt, 1),
            "records_per_cpu_s": round(n / cpu, 1),
            "records": n, "events": len(events), "seconds": round(dt, 4), "cpu_seconds": round(cpu, 4)}


def run_child(cmd):
    """Run *cmd*; return (wall seconds, CPU seconds, peak RSS in KiB, stdout).

    The child is reaped with os.wait4, which gives that one process's
    rusage (RUSAGE_CHILDREN would also count every earlier child, such as
    the Parquet reader).
    """
    # Through bench_rss (a small C parent) when it is built: a child forked
    # from this large Python process would count this process's pages in its
    # own peak RSS.
    rss_tool = Path(os.environ.get("RIDEPRED_BUILD_DIR", "")) / "bench_rss"
    wrapped = rss_tool.is_file()
    if wrapped:
        cmd = [str(rss_tool)] + list(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            raise RuntimeError("cold-start process failed (exit %d): %s"
                               % (p.returncode, err.read().decode("utf-8", "replace")[-500:]))
        maxrss = usage.ru_maxrss
        if wrapped:
            for line in err.read().decode("utf-8", "replace").splitlines():
                if line.startswith("bench_rss: "):
                    maxrss = json.loads(line[len("bench_rss: "):])["peak_rss_kib"]
        return dt, usage.ru_utime + usage.ru_stime, maxrss, out.read()


def bench_start(kind, pipe, pipe_pickle, rides, runs):
    """Best wall time of a fresh Python answering one 1-record event.

    *pipe_pickle* is the pickled *pipe*; the child's answer is checked
    against the reference handler's on *pipe*.
    """
    with tempfile.TemporaryDirectory(prefix="ridepred-bench-") as tmp:
        ev_path = Path(tmp) / "one-record.json"
        ridepy.write_json(ev_path, ridepy.kinesis_event(rides[:1]))
        script = Path(tmp) / "cold_start.py"
        script.write_text(COLD_START)
        times, cpus, rss, answer = [], [], [], None
        for _ in range(runs):
            dt, cpu, maxrss, out = run_child([PYTHON, str(script), str(pipe_pickle), str(ev_path)])
            times.append(round(dt, 4))
            cpus.append(round(cpu, 4))
            rss.append(maxrss)
            answer = out.decode().strip()
    expected = ridepy.reference_handler(pipe, ridepy.kinesis_event(rides[:1]), RUN_ID)
    if answer != expected:
        raise RuntimeError("cold-start answer %r differs from the reference %r" % (answer, expected))
    return ({"what": "start_to_answer", "model": kind, "seconds": min(times), "runs": times,
             "cpu_seconds": min(cpus), "peak_rss_kib": max(rss)},
            {"what": "peak_rss", "model": kind, "process": "start_to_answer", "kib": max(rss)})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-kind", required=True, choices=("linear", "forest"))
    ap.add_argument("--events", type=int, default=None,
                    help="100-record events for the handler figure (default: 100 linear, 10 forest)")
    ap.add_argument("--runs", type=int, default=3, help="cold starts; the best is reported (default 3)")
    args = ap.parse_args(argv)
    n_events = args.events if args.events is not None else (100 if args.model_kind == "linear" else 10)
    if n_events < 1 or args.runs < 1:
        ap.error("--events and --runs must be >= 1")
    for m in (1, 2):
        if not ridepy.data_file(m).is_file():
            sys.exit("python_ref: %s not found (set RIDEPRED_DATA_DIR)" % ridepy.data_file(m))

    cpu = pin_one_core()
    d1, y1, _ = ridepy.prepare(ridepy.load_rides(ridepy.data_file(1)))
    _, _, rides = ridepy.prepare(ridepy.load_rides(ridepy.data_file(2)))
    key = ridepy.data_key(d1, y1)
    pipe = ridepy.train(args.model_kind, d1, y1, key=key)
    pipe_pickle = ridepy.model_path_in_cache(args.model_kind, key)
    if not pipe_pickle.is_file():
        sys.exit("python_ref: the trained pipeline is not in the cache (%s)" % pipe_pickle)

    result = bench_handler(args.model_kind, pipe, rides, n_events)
    result["cpu"] = cpu
    emit(result)
    start, rss = bench_start(args.model_kind, pipe, pipe_pickle, rides, args.runs)
    emit(start)
    emit(rss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
