#!/usr/bin/python3
"""Parity: `ridepred invoke` answers exactly as the Python Lambda reference.

Trains a linear regression and a random forest (max_depth 20, 100 trees,
min_samples_leaf 10, random_state 0, n_jobs 1) on the prepared rides of
2021-01 with scikit-learn, exports both as JSON models (docs/model-format.md), converts
each to the native format with `ridepred model convert`, then runs

    RUN_ID=... TEST_RUN=True $RIDEPRED_BIN invoke --model M EVENT_FILE

on Kinesis events of 100 real rides of 2021-02 each (ride_id = the ride's row
number in the file), on a few direct events, on an event of edge-case rides,
and on the fixture events, and compares its stdout (minus one trailing
newline) byte for byte with the reference handler's `json.dumps` on the same
event (tests/tools/ridepy.py).  Predictions are also compared as numbers: the
forest must be bit-exact, the linear model within 1e-9 relative (an output that
differs from the reference only by linear predictions within that tolerance
passes, and is reported as such).

Before that, a self-check: a pure-Python evaluator of the exported JSON model
(`ridepy.json_model_predict`) must reproduce scikit-learn bit for bit (trees)
or within 1e-9 (linear), so a mismatch below is the C program's, not the
export's.

Environment: RIDEPRED_BIN (the binary; default build/ridepred),
RIDEPRED_DATA_DIR (the TLC files; missing: SKIP, exit 77, or a failure when
CI is set), RIDEPRED_FIXTURES_DIR (fixture events; optional),
RIDEPRED_BUILD_DIR (cache and temporary files), RIDEPRED_PARITY_RECORDS
(Kinesis records to check per model, default 10000), RIDEPRED_KEEP_TMP=1
(keep the event files and outputs).

Ends with `N passed, N failed`; exits 1 on any failure.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))

import ridepy  # noqa: E402
import rptest  # noqa: E402

RUN_ID = "5e2c0c1a9b7d4f3e8a6b1c2d3e4f5a6b"
RECORDS_PER_EVENT = 100
LINEAR_RTOL = 1e-9
INVOKE_TIMEOUT = 120  # seconds, per invocation
say = rptest.say


# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------

def invoke_env():
    """The environment of every invocation: TEST_RUN, our RUN_ID, no other version."""
    env = dict(os.environ)
    for k in ("MODEL_VERSION", "MODEL_LOCATION", "MODEL_BUCKET", "MLFLOW_EXPERIMENT_ID"):
        env.pop(k, None)
    env["RUN_ID"] = RUN_ID
    env["TEST_RUN"] = "True"
    return env


def run(cmd, env=None, timeout=INVOKE_TIMEOUT):
    """Run *cmd*; return (returncode, stdout bytes, stderr text)."""
    try:
        p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, b"", "timed out after %d s" % timeout
    except OSError as exc:
        return None, b"", "could not start: %s" % exc
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

def edge_rides(rides):
    """Valid rides that exercise formatting and vectorisation corners (docs/handler.md §4).

    Each is ``(PU, DO, trip_distance, ride_id)``; all must be served.
    """
    pu, do, dist, row = rides[0]
    return [
        (pu, do, dist, "ride-%d" % row),            # string ride_id
        (pu, do, 3, row + 1),                       # integer trip_distance
        (pu, do, 0.0, 0),                           # zero distance, ride_id 0
        (999, 998, dist, 7),                        # unseen PU_DO: contributes nothing
        (float(pu), do, dist, 8),                   # PU as float: PU_DO like "130.0_205"
        (str(pu), str(do), dist, 9),                # PU/DO as strings
        (pu, do, 1e17, 10),                         # huge distance: exponent output
        (pu, do, 1e-300, 11),                       # tiny distance
        (pu, do, -2.5, 12),                         # negative distance
        (pu, do, dist, "caf\u00e9-\u65e5\u672c"),   # non-ASCII ride_id: \\u escapes
        (pu, do, dist, 12345678901234567890123),    # integer beyond 64 bits, echoed
        (pu, do, dist, -42),                        # negative integer ride_id
    ]


def build_events(tmp, rides, n_records):
    """Write the events; return a list of case dicts {name, path, event, kind}."""
    evdir = tmp / "events"
    evdir.mkdir()
    cases = []
    recs = rides[:n_records]
    if len(recs) < n_records:
        raise SystemExit("only %d prepared rides, wanted %d" % (len(recs), n_records))
    for k in range(0, len(recs), RECORDS_PER_EVENT):
        ev = ridepy.kinesis_event(recs[k:k + RECORDS_PER_EVENT], seq_start=k)
        path = evdir / ("kinesis-%05d.json" % (k // RECORDS_PER_EVENT))
        ridepy.write_json(path, ev)
        cases.append({"name": path.name, "path": path, "event": ev, "kind": "kinesis"})

    # Direct events: a few real rides, then the edge cases one by one.
    direct = list(rides[n_records:n_records + 5]) + edge_rides(rides)
    for i, r in enumerate(direct):
        ev = ridepy.direct_event(*r)
        path = evdir / ("direct-%02d.json" % i)
        ridepy.write_json(path, ev)
        cases.append({"name": path.name, "path": path, "event": ev, "kind": "direct"})

    # The edge cases again, together in one Kinesis event.
    ev = ridepy.kinesis_event(edge_rides(rides), seq_start=10 ** 6)
    path = evdir / "kinesis-edge.json"
    ridepy.write_json(path, ev)
    cases.append({"name": path.name, "path": path, "event": ev, "kind": "kinesis"})

    # The fixture events, as they are (their own formatting, whitespace).
    fx = os.environ.get("RIDEPRED_FIXTURES_DIR")
    if fx and (Path(fx) / "events").is_dir():
        for f in sorted((Path(fx) / "events").glob("*.json")):
            with open(f, encoding="utf-8") as fh:
                ev = json.load(fh)
            kind = "kinesis" if "Records" in ev else "direct"
            cases.append({"name": "fixture " + f.name, "path": f, "event": ev, "kind": kind})
    else:
        say("note: RIDEPRED_FIXTURES_DIR not set or has no events/: fixture events not checked")
    return cases


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

def first_difference(a, b, width=60):
    """Where strings *a* (got) and *b* (expected) first differ, with context."""
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    lo = max(0, i - width)
    return "at byte %d: got ...%r... expected ...%r... (lengths %d vs %d)" % (
        i, a[lo:i + width], b[lo:i + width], len(a), len(b))


def durations(result, kind):
    """The (ride_id, ride_duration) pairs of a handler result."""
    if kind == "kinesis":
        return [(e["prediction"]["ride_id"], e["prediction"]["ride_duration"])
                for e in result["predictions"]]
    return [(result["ride_id"], result["ride_duration"])]


def substitute(result, kind, values):
    """A copy of the reference *result* with the C program's durations put in."""
    result = json.loads(json.dumps(result))
    if kind == "kinesis":
        for e, v in zip(result["predictions"], values):
            e["prediction"]["ride_duration"] = v
    else:
        result["ride_duration"] = values[0]
    return result


def rel_err(got, want):
    if got == want:
        return 0.0
    return abs(got - want) / max(abs(want), 1e-300)


class ModelStats:
    """Per-model results: events and records matched, worst relative error."""

    def __init__(self, label, exact_required):
        self.label = label
        self.exact_required = exact_required
        self.events = 0
        self.events_identical = 0
        self.events_tolerance = 0
        self.records = 0
        self.records_identical = 0
        self.records_close = 0
        self.max_rel = 0.0
        self.worst = None

    def summary(self):
        s = "%s: %d/%d events byte-identical" % (self.label, self.events_identical, self.events)
        if self.events_tolerance:
            s += " (+%d equal within %.0e relative)" % (self.events_tolerance, LINEAR_RTOL)
        s += ", %d/%d records bit-identical" % (self.records_identical, self.records)
        if self.records_close:
            s += " (+%d not bit-identical but within %.0e relative)" % (self.records_close, LINEAR_RTOL)
        s += ", max relative error %.3g" % self.max_rel
        if self.worst:
            s += " (ride_id %r: got %r, expected %r)" % self.worst
        return s


def compare(tally, stats, case, ref_result, got_bytes, rc, err):
    """Compare one invocation with the reference; count it in *tally* and *stats*."""
    what = "%s %s" % (stats.label, case["name"])
    expected = json.dumps(ref_result)
    want_pairs = durations(ref_result, case["kind"])
    stats.events += 1
    stats.records += len(want_pairs)
    if rc != 0:
        tally.fail(what, "exit status %s; stderr: %s" % (rc, err.strip()[-600:] or "(empty)"))
        return
    try:
        got = got_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        tally.fail(what, "stdout is not UTF-8 (%s)" % exc)
        return
    if got.endswith("\n"):
        got = got[:-1]
    if got == expected:
        stats.events_identical += 1
        stats.records_identical += len(want_pairs)
        tally.ok(what, quiet=True)  # summarised per model at the end
        return

    # Not byte-identical: find out whether only the numbers differ.
    try:
        got_result = json.loads(got)
        got_pairs = durations(got_result, case["kind"])
    except (ValueError, KeyError, TypeError) as exc:
        tally.fail(what, "output is not the expected shape (%s); %s" % (exc, first_difference(got, expected)))
        return
    if len(got_pairs) != len(want_pairs):
        tally.fail(what, "%d predictions, expected %d; %s"
                   % (len(got_pairs), len(want_pairs), first_difference(got, expected)))
        return
    bad_ids = []
    values = []
    tol_ok = True
    for (gid, gv), (wid, wv) in zip(got_pairs, want_pairs):
        if gid != wid or type(gid) is not type(wid):
            bad_ids.append((gid, wid))
        if not isinstance(gv, float):
            tol_ok = False
            values.append(gv)
            continue
        values.append(gv)
        e = rel_err(gv, wv)
        if e > stats.max_rel:
            stats.max_rel, stats.worst = e, (wid, gv, wv)
        if gv == wv:
            stats.records_identical += 1
        elif e <= LINEAR_RTOL:
            stats.records_close += 1
        else:
            tol_ok = False
    if bad_ids:
        tally.fail(what, "ride_id differs, e.g. got %r expected %r" % bad_ids[0])
        return
    numbers_only = json.dumps(substitute(ref_result, case["kind"], values)) == got
    if not numbers_only:
        tally.fail(what, "output differs beyond the predictions: %s" % first_difference(got, expected))
        return
    diffs = [(wid, gv, wv) for (_, gv), (wid, wv) in zip(got_pairs, want_pairs) if gv != wv]
    example = "e.g. ride_id %r: got %r, expected %r" % diffs[0]
    if stats.exact_required:
        tally.fail(what, "%d/%d predictions not bit-exact, %s" % (len(diffs), len(want_pairs), example))
    elif tol_ok:
        stats.events_tolerance += 1
        tally.ok(what + " (%d predictions differ within %.0e relative, %s)" % (len(diffs), LINEAR_RTOL, example))
    else:
        tally.fail(what, "predictions differ by more than %.0e relative, %s" % (LINEAR_RTOL, example))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def self_check(tally, pipes, docs, dicts):
    """The JSON models, evaluated in pure Python, must equal scikit-learn."""
    for kind in ("linear", "forest"):
        sk = pipes[kind].predict(dicts)
        worst, n_exact, example = 0.0, 0, None
        for f, want in zip(dicts, sk):
            got = ridepy.json_model_predict(docs[kind], f)
            want = float(want)
            n_exact += got == want
            e = rel_err(got, want)
            if e > worst or (example is None and got != want):
                worst, example = max(worst, e), (f, got, want)
        ok = n_exact == len(dicts) if kind == "forest" else worst <= LINEAR_RTOL
        tally.check(ok, "self-check %s JSON model == scikit-learn on %d rides (%d bit-identical, max rel %.3g)"
                    % (kind, len(dicts), n_exact, worst),
                    "exporter/evaluator disagree with scikit-learn, e.g. %r: evaluator %r, sklearn %r" % example
                    if example else "")


def run_models(tally, binary, pipes, models, cases):
    """Invoke the binary on every case for every model; compare; print a summary.

    The invocations run in a worker thread (subprocesses: the GIL is free)
    while this thread computes the reference results, the forest's being the
    slow part (~100 records/s), so the two use both cores.
    """
    outputs, t_c = {}, {}
    env = invoke_env()

    def run_all():
        for label, (_, mpath) in models.items():
            t0 = time.monotonic()
            for c in cases:
                outputs[(label, c["name"])] = run([binary, "invoke", "--model", mpath, c["path"]], env=env)
            t_c[label] = time.monotonic() - t0

    worker = threading.Thread(target=run_all, daemon=True)
    worker.start()
    refs = {}
    for kind in sorted({k for k, _ in models.values()}):
        pipe = pipes[kind]
        t0 = time.monotonic()
        for c in cases:
            refs[(kind, c["name"])] = ridepy.reference_result(pipe, c["event"], RUN_ID)
        say("reference %s: %d events in %.1f s" % (kind, len(cases), time.monotonic() - t0))
    worker.join()
    for label in models:
        say("ridepred %s: %d invocations in %.1f s" % (label, len(cases), t_c.get(label, 0.0)))

    all_stats = []
    for label, (kind, _) in models.items():
        stats = ModelStats(label, exact_required=(kind != "linear"))
        for c in cases:
            rc, out, err = outputs[(label, c["name"])]
            compare(tally, stats, c, refs[(kind, c["name"])], out, rc, err)
        all_stats.append(stats)
    say()
    for stats in all_stats:
        say(stats.summary())


def main():
    t_start = time.monotonic()
    rptest.need_data(ridepy.data_file(1), ridepy.data_file(2))
    tally = rptest.tally
    binary = Path(rptest.BIN)
    n_records = int(os.environ.get("RIDEPRED_PARITY_RECORDS", "10000"))

    # 1. Train on 2021-01 (cached after the first run), prepare 2021-02.
    t = time.monotonic()
    d1, y1, _ = ridepy.prepare(ridepy.load_rides(ridepy.data_file(1)))
    d2, _, rides2 = ridepy.prepare(ridepy.load_rides(ridepy.data_file(2)))
    pipes = {kind: ridepy.train(kind, d1, y1) for kind in ("linear", "forest")}
    say("trained/loaded linear and forest on %d rides of 2021-01 in %.1f s; %d prepared rides of 2021-02"
        % (len(d1), time.monotonic() - t, len(d2)))

    tmp = Path(tempfile.mkdtemp(prefix="ridepred-parity-", dir=os.environ.get("RIDEPRED_BUILD_DIR") or None))

    # 2. Export; self-check the export with the pure-Python evaluator.
    models, docs = {}, {}
    for kind, pipe in pipes.items():
        path = tmp / ("%s.json" % kind)
        docs[kind] = ridepy.export_model(pipe, path, version="parity-%s" % kind)
        models["%s.json" % kind] = (kind, path)
    self_check(tally, pipes, docs, d2[:2000])

    # 3. Convert each JSON model to the native format.
    if not binary.is_file() or not os.access(binary, os.X_OK):
        tally.fail("binary", "%s is not an executable file (build first, or set RIDEPRED_BIN)" % binary)
        return finish(tally, tmp, t_start)
    # Run a private copy: a rebuild during the run must not change (or lock
    # out, ETXTBSY) the binary under test halfway through.
    say("binary under test: %s" % binary)
    binary = Path(shutil.copy2(binary, tmp / "ridepred"))
    for kind in pipes:
        src, dst = tmp / ("%s.json" % kind), tmp / ("%s.rpm" % kind)
        rc, _, err = run([binary, "model", "convert", src, dst])
        if tally.check(rc == 0 and dst.is_file() and dst.stat().st_size > 0,
                       "model convert %s.json -> %s.rpm" % (kind, kind),
                       "exit %s, output file %s; stderr: %s"
                       % (rc, "present" if dst.exists() else "missing", err.strip()[-400:])):
            models["%s.rpm" % kind] = (kind, dst)

    # 4. Events, 5. invocations and comparison.
    cases = build_events(tmp, rides2, n_records)
    n_kinesis = sum(1 for c in cases if c["kind"] == "kinesis")
    say("%d events (%d Kinesis, %d direct; %d real 2021-02 rides in %d-record events) x %d models"
        % (len(cases), n_kinesis, len(cases) - n_kinesis, n_records, RECORDS_PER_EVENT, len(models)))
    run_models(tally, binary, pipes, models, cases)
    return finish(tally, tmp, t_start)


def finish(tally, tmp, t_start):
    keep = os.environ.get("RIDEPRED_KEEP_TMP") == "1" or tally.failed
    if keep:
        say("event files and models kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    say("parity test took %.1f s" % (time.monotonic() - t_start))
    tally.finish()


if __name__ == "__main__":
    main()
