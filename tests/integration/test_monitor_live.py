#!/usr/bin/python3
"""Monitoring while serving (issue 15, docs/monitoring.md "While serving"):
`consume`, `serve` and `lambda` compare each closed window of the rides they
predict with a reference sample.

  consume-window   3,000 rides through `consume --monitor-window 2
                   --monitor-cap 100000` (the cap above the rides: the window
                   is exact) with a reference of 2,000 rides: the window that
                   holds them (its JSON log line) has the figures SciPy
                   computes from the same rides (pu, do and distance as put,
                   predictions as read back from OUT) by Evidently's rules
                   (wasserstein / std, jensenshannon; n_ref > 1000), to 1e-9;
                   /metrics: the histogram counts every ride, windows_total
                   >= 1, and the gauges equal the figures of the window the
                   counter says closed last.  A window that straddles two
                   windows' boundary is retried with fresh streams (at most 3
                   times)
  consume-off      no reference: one info line says monitoring is off and
                   /metrics has no monitoring gauge; --no-monitor likewise
  consume-bad      a reference without DOLocationID, a missing file: exit 3
                   naming them; a bad --monitor-window / --monitor-cap: exit 2
  consume-default-reference
                   a model directory (the course's MLflow fixture, copied)
                   holding ridepred-reference.csv: monitored without
                   --monitor-reference
  consume-db-down  --monitor-db at a closed port: every ride still predicted,
                   a warning names the failure, db_failures_total > 0
  consume-db       --monitor-db on a real PostgreSQL (pgtemp.py): one row per
                   closed window equal to its log line; after a restart of
                   the server, rows keep coming (500 rides in all)
  serve            `serve --monitor-reference`: after invocations, /metrics
                   has the histogram (one count per ride) and, once a window
                   closed, the gauges
  lambda           `lambda` with RIDEPRED_MONITOR_REFERENCE and
                   RIDEPRED_MONITOR_WINDOW against the Runtime API test
                   server: an invocation after a window closed logs an EMF
                   line with PredictionDrift, DriftedColumns,
                   ShareMissingValues and DatasetDrift equal to the window's
                   log line

Environment: RIDEPRED_BIN, RIDEPRED_SOURCE_DIR (CTest sets them).  SciPy
(Debian python3-scipy) is needed for consume-window: SKIP (exit 77) without
it unless CI is set.
"""

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
sys.path.insert(0, HERE)
import rptest  # noqa: E402
import test_consume as tc  # noqa: E402

BIN = rptest.BIN
COLUMNS = [("num", "trip_distance"), ("cat", "PULocationID"), ("cat", "DOLocationID"), ("num", "prediction")]


def model_predict(model, pu, do, dist):
    """The linear model of test_consume.write_model, as the handler computes it."""
    feats = model["features"]
    coef = model["estimator"]["coef"]
    idx = {f: i for i, f in enumerate(feats)}
    s = 0.0
    k = idx.get(f"PU_DO={pu}_{do}")
    if k is not None:
        s += coef[k]
    s += dist * coef[idx["trip_distance"]]
    return s + model["estimator"]["intercept"]


def write_reference(path, model_path, n=2000, seed=99):
    """n rides of test_consume.make_rides (another seed) and the model's predictions."""
    with open(model_path) as f:
        model = json.load(f)
    rows = []
    for _, text in tc.make_rides(n, seed=seed):
        r = json.loads(text)["ride"]
        rows.append((r["trip_distance"], r["PULocationID"], r["DOLocationID"],
                     model_predict(model, r["PULocationID"], r["DOLocationID"], r["trip_distance"])))
    with open(path, "w") as f:
        f.write(",".join(f"{k}:{n}" for k, n in COLUMNS) + "\n")
        for row in rows:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return rows


def log_lines(p):
    out = []
    for line in tc.log_text(p).splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def windows(p):
    return [l for l in log_lines(p) if l.get("message") == "monitoring window closed"]


def metrics_port(p):
    port = None
    deadline = time.monotonic() + 15
    while port is None and time.monotonic() < deadline:
        for l in log_lines(p):
            if l.get("message") == "metrics at /metrics":
                port = int(l["port"])
        time.sleep(0.1)
    assert port, f"no metrics port logged: {tc.log_text(p)[-1000:]}"
    return port


def scrape(port, path="/metrics"):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read().decode()
    vals = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, v = line.rsplit(" ", 1)
            vals[name] = float(v)
    return vals, body


def evidently(ref_rows, cur_rows):
    """The figures of one window by Evidently's rules with SciPy (n_ref > 1000:
    wasserstein normed by the reference's std for numerical columns,
    jensenshannon over value frequencies for categorical ones)."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance
    out = {}
    for j, (kind, name) in enumerate(COLUMNS):
        ref = np.array([r[j] for r in ref_rows], dtype=float)
        cur = np.array([r[j] for r in cur_rows], dtype=float)
        if kind == "num" and len(set(ref) | set(cur)) > 5:
            score = wasserstein_distance(ref, cur) / np.std(ref)
            test = "wasserstein"
        else:
            keys = sorted(set(ref) | set(cur))
            rc = {k: 0 for k in keys}
            cc = {k: 0 for k in keys}
            for v in ref:
                rc[v] += 1
            for v in cur:
                cc[v] += 1
            score = float(jensenshannon([rc[k] for k in keys], [cc[k] for k in keys]))
            test = "jensenshannon"
        out[name] = (test, float(score), score >= 0.1)
    return out


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(1.0, abs(b))


def need_scipy():
    try:
        import numpy  # noqa: F401
        import scipy  # noqa: F401
    except ImportError:
        raise rptest.Skip("python3-scipy is not installed (apt-get install python3-scipy)")


def test_consume_window(tmp):
    need_scipy()
    for attempt in range(3):
        sub = os.path.join(tmp, f"try{attempt}")
        os.makedirs(sub)
        env = tc.Env(sub)
        ref_path = os.path.join(sub, "ref.csv")
        ref_rows = write_reference(ref_path, env.model)
        env.create("IN", 2)
        env.create("OUT", 1)
        rides = tc.make_rides(3000, seed=5)
        env.put_lines("IN", [r[1] for r in rides])
        p = env.consume(["--from", "IN", "--to", "OUT", "--metrics-listen", "127.0.0.1:0", "--log-format", "json",
                         "--monitor-reference", ref_path, "--monitor-window", "2", "--monitor-cap", "100000"],
                        "consume.log")
        try:
            port = metrics_port(p)
            tc.wait_until("3000 predictions", lambda: len(env.read("OUT")) >= 3000, 60, [p])
            tc.wait_until("the rides' windows closed", lambda: sum(int(w["rides"]) for w in windows(p)) >= 3000,
                          30, [p])
            vals, body = scrape(port)
            time.sleep(0.5)
            closed = windows(p)
        finally:
            assert tc.stop(p) == 0
        rptest.check(vals.get("ridepred_prediction_minutes_count") == 3000,
                     "the histogram counts every ride predicted", body[-3000:])
        n = int(vals.get("ridepred_monitor_windows_total", 0))
        rptest.check(n >= 1 and len(closed) >= n, "windows_total >= 1, one log line per closed window",
                     f"{n} {len(closed)}")
        if n >= 1 and len(closed) >= n:
            last = closed[n - 1]
            g = vals.get("ridepred_monitor_drifted_columns")
            rptest.check(g == float(last["num_drifted_columns"]), "drifted_columns gauge = the last window's",
                         f"{g} {last}")
            gd = vals.get("ridepred_monitor_prediction_drift")
            want = float(last["prediction_drift"])
            rptest.check(gd == want or (gd != gd and want != want), "prediction_drift gauge = the last window's",
                         f"{gd} {want}")
        full = [w for w in closed if int(w["rides"]) == 3000]
        if not full:
            print(f"    attempt {attempt + 1}: the rides straddled two windows "
                  f"({[w['rides'] for w in closed]}); again with fresh streams")
            continue
        w = full[0]
        # The window's rides: inputs as put, predictions as published.
        preds = {json.dumps(r["data"]["prediction"]["ride_id"]): r["data"]["prediction"]["ride_duration"]
                 for r in env.read("OUT")}
        cur_rows = []
        for rid, text in rides:
            r = json.loads(text)["ride"]
            cur_rows.append((r["trip_distance"], r["PULocationID"], r["DOLocationID"], preds[json.dumps(rid)]))
        want = evidently(ref_rows, cur_rows)
        drifted = 0
        for kind, name in COLUMNS:
            test, score, d = want[name]
            drifted += d
            rptest.check(w[f"test_{name}"] == test, f"{name}: {test}", str(w))
            rptest.check(close(float(w[f"score_{name}"]), score), f"{name}: score = SciPy's to 1e-9",
                         f"{w[f'score_{name}']} vs {score!r}")
        rptest.check(int(w["num_drifted_columns"]) == drifted, "num_drifted_columns = SciPy's count",
                     f"{w['num_drifted_columns']} vs {drifted}")
        rptest.check(close(float(w["prediction_drift"]), want["prediction"][1]), "prediction_drift = SciPy's")
        rptest.check(float(w["share_missing_values"]) == 0.0, "no missing values")
        rptest.check((w["dataset_drift"] == "true") == (drifted >= 2), "dataset_drift: at least half the columns")
        print(f"    one window of 3000 rides: prediction_drift {w['prediction_drift']}, "
              f"{drifted} drifted columns, as SciPy")
        return
    raise AssertionError("the rides straddled two windows three times")


def test_consume_off(tmp):
    env = tc.Env(tmp)
    env.create("IN", 1)
    env.create("OUT", 1)
    env.put_lines("IN", [r[1] for r in tc.make_rides(100, seed=3)])
    for extra, why in (([], "no reference"), (["--no-monitor", "--monitor-reference", "/nonexistent"],
                                               "--no-monitor")):
        p = env.consume(["--from", "IN", "--to", "OUT", "--metrics-listen", "127.0.0.1:0", "--log-format", "json",
                         "--group", why.replace(" ", "-")] + extra, "off.log")
        try:
            port = metrics_port(p)
            vals, body = scrape(port)
        finally:
            assert tc.stop(p) == 0
        off = [l for l in log_lines(p) if l.get("message", "").startswith("monitoring: off")]
        rptest.check(len(off) >= 1 and why in off[-1]["message"], f"{why}: one info line says monitoring is off",
                     tc.log_text(p)[-1500:])
        rptest.check(not any(k.startswith("ridepred_monitor_") or k.startswith("ridepred_prediction_minutes")
                             for k in vals), f"{why}: no monitoring metrics", body[-1500:])
        os.unlink(p.log_path)


def test_consume_bad(tmp):
    env = tc.Env(tmp)
    env.create("IN", 1)
    env.create("OUT", 1)
    bad = os.path.join(tmp, "nocol.csv")
    with open(bad, "w") as f:
        f.write("num:trip_distance,cat:PULocationID,num:prediction\n1.0,2,3.0\n")
    base = ["consume", "--model", env.model, "--from", "IN", "--to", "OUT", "--checkpoint-store", env.ckpt]
    for args, code, needle in (
            (["--monitor-reference", bad], 3, "DOLocationID"),
            (["--monitor-reference", os.path.join(tmp, "missing.csv")], 3, "missing.csv"),
            (["--monitor-reference", bad, "--monitor-window", "0"], 2, "--monitor-window"),
            (["--monitor-reference", bad, "--monitor-window", "1w"], 2, "--monitor-window"),
            (["--monitor-reference", bad, "--monitor-cap", "0"], 2, "--monitor-cap")):
        p = env.rp(base + args, ok=False, timeout=60)
        err = p.stderr.decode(errors="replace")
        rptest.check(p.returncode == code and needle in err, f"{' '.join(args[-2:])}: exit {code} naming {needle}",
                     f"exit {p.returncode}: {err[-600:]}")


def test_default_reference(tmp):
    """A model directory holding ridepred-reference.csv is monitored without
    --monitor-reference (an MLflow directory: the course's fixture, copied)."""
    import shutil
    src = os.path.join(rptest.FIXTURES, "course-model")
    if not os.path.isdir(src):
        raise rptest.Skip(f"fixture not found: {src} (set RIDEPRED_FIXTURES_DIR)")
    env = tc.Env(tmp)
    model_dir = os.path.join(tmp, "model")
    shutil.copytree(src, model_dir)
    write_reference(os.path.join(model_dir, "ridepred-reference.csv"), env.model)
    env.create("IN", 1)
    env.create("OUT", 1)
    env.put_lines("IN", [r[1] for r in tc.make_rides(50, seed=4)])
    env.model = model_dir
    p = env.consume(["--from", "IN", "--to", "OUT", "--log-format", "json", "--monitor-window", "1"], "dir.log")
    try:
        tc.wait_until("a window with rides", lambda: any(int(w["rides"]) > 0 for w in windows(p)), 30, [p])
    finally:
        assert tc.stop(p) == 0
    on = [l for l in log_lines(p) if l.get("message") == "monitoring: on"]
    rptest.check(on and on[0]["reference"] == os.path.join(model_dir, "ridepred-reference.csv")
                 and on[0]["window_seconds"] == "1",
                 "the reference in the model's directory is the default", str(on))


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_consume_db_down(tmp):
    env = tc.Env(tmp)
    ref = os.path.join(tmp, "ref.csv")
    write_reference(ref, env.model)
    env.create("IN", 1)
    env.create("OUT", 1)
    rides = tc.make_rides(500, seed=8)
    env.put_lines("IN", [r[1] for r in rides])
    url = f"postgresql://u:secret@127.0.0.1:{closed_port()}/db?connect_timeout=2"
    p = env.consume(["--from", "IN", "--to", "OUT", "--metrics-listen", "127.0.0.1:0", "--log-format", "json",
                     "--monitor-reference", ref, "--monitor-window", "1", "--monitor-db", url], "db.log")
    try:
        port = metrics_port(p)
        tc.wait_until("500 predictions", lambda: len(env.read("OUT")) >= 500, 60, [p])
        tc.wait_until("a failed database write", lambda: scrape(port)[0].get(
            "ridepred_monitor_db_failures_total", 0) > 0, 30, [p])
        more = tc.make_rides(200, start=1000, seed=9)
        env.put_lines("IN", [r[1] for r in more])
        tc.wait_until("700 predictions", lambda: len(env.read("OUT")) >= 700, 60, [p])
        rptest.check(p.poll() is None, "consume keeps serving while the database is down")
    finally:
        assert tc.stop(p) == 0
    warns = [l for l in log_lines(p) if "could not be written to the database" in l.get("message", "")]
    rptest.check(len(warns) >= 1 and warns[0].get("level") in ("WARN", "warn", "WARNING"),
                 "a warning names the failure", tc.log_text(p)[-1500:])
    rptest.check("secret" not in tc.log_text(p), "the password is not logged")
    tc.expect_all(env, "OUT", rides + more, exactly_once=True)


def kinesis_event(texts):
    import base64
    return json.dumps({"Records": [{"kinesis": {"data": base64.b64encode(t.encode()).decode(),
                                                "sequenceNumber": str(i + 1), "partitionKey": "k"},
                                    "eventSource": "aws:kinesis"} for i, t in enumerate(texts)]}).encode()


def test_serve(tmp):
    model = os.path.join(tmp, "model.json")
    tc.write_model(model)
    ref = os.path.join(tmp, "ref.csv")
    write_reference(ref, model)
    port = closed_port()
    log = open(os.path.join(tmp, "serve.log"), "wb")
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.Popen([BIN, "serve", "--model", model, "--test-run", "--listen", f"127.0.0.1:{port}",
                          "--log-format", "json", "--monitor-reference", ref, "--monitor-window", "1"],
                         stdout=subprocess.DEVNULL, stderr=log, env=env)
    p.log_path = log.name
    log.close()
    try:
        url = f"http://127.0.0.1:{port}"
        tc.wait_until("serve listening", lambda: any(l.get("message") == "serving" for l in log_lines(p)), 15, [p])
        rides = tc.make_rides(250, seed=21)
        texts = [t for _, t in rides]
        for chunk in (texts[:100], texts[100:249]):
            req = urllib.request.Request(url + "/2015-03-31/functions/function/invocations",
                                         data=kinesis_event(chunk), method="POST")
            body = json.loads(urllib.request.urlopen(req, timeout=10).read())
            rptest.check(len(body["predictions"]) == len(chunk), "a Kinesis event answered")
        req = urllib.request.Request(url + "/2015-03-31/functions/function/invocations", data=texts[249].encode(),
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        vals, body = scrape(port)
        rptest.check(vals.get("ridepred_prediction_minutes_count") == 250,
                     "serve: the histogram counts every ride of every invocation", body[-2000:])
        tc.wait_until("the windows of the rides closed", lambda: sum(int(w["rides"]) for w in windows(p)) >= 250,
                      15, [p])
        vals, body = scrape(port)
        time.sleep(0.3)
        closed = windows(p)
        n = int(vals.get("ridepred_monitor_windows_total", 0))
        rptest.check(n >= 1 and len(closed) >= n, "serve: windows_total counts the closed windows",
                     f"{n} {len(closed)}")
        if n >= 1 and len(closed) >= n:
            rptest.check(vals.get("ridepred_monitor_drifted_columns") == float(closed[n - 1]["num_drifted_columns"]),
                         "serve: the drifted_columns gauge is the last window's")
        rptest.check(sum(int(w["rides"]) for w in closed) == 250, "serve: the closed windows hold every ride",
                     str([w["rides"] for w in closed]))
        for g in ("prediction_drift", "prediction_drifted", "drifted_columns", "dataset_drift",
                  "share_missing_values", "window_rides", "db_failures_total"):
            rptest.check(f"ridepred_monitor_{g}" in vals, f"serve: /metrics has ridepred_monitor_{g}")
    finally:
        p.send_signal(15)
        rc = p.wait(30)
    rptest.check(rc == 0, "serve stops cleanly", tc.log_text(p)[-1000:])


def test_lambda(tmp):
    import test_lambda_runtime as tl
    model = os.path.join(tmp, "model.json")
    tc.write_model(model)
    ref = os.path.join(tmp, "ref.csv")
    write_reference(ref, model)
    env = tl.base_env(MODEL_LOCATION=model, RIDEPRED_MONITOR_REFERENCE=ref, RIDEPRED_MONITOR_WINDOW="1",
                      RIDEPRED_MONITOR_DB=None)
    api = tl.RuntimeAPI()
    rt = tl.Runtime(api, env, ["--max-invocations", "2", "--log-format", "json"])
    rides = [t for _, t in tc.make_rides(100, seed=31)]
    first = api.enqueue(kinesis_event(rides))
    ok1 = first.done.wait(30)
    time.sleep(1.2)  # the first invocation's window ends
    second = api.enqueue(tc.make_rides(1, start=500, seed=32)[0][1].encode())
    ok2 = second.done.wait(30)
    rc = rt.wait(30)
    api.stop()
    rptest.check(ok1 and ok2 and rc == 0, "lambda: two invocations answered", rt.stderr()[-1500:])
    emf = tl.emf_lines(rt.stdout())
    closed = [json.loads(l) for l in rt.stderr().splitlines()
              if l.startswith("{") and '"monitoring window closed"' in l]
    rptest.check(len(emf) == 2 and len(closed) == 1, "lambda: two EMF lines, one window closed",
                 f"{len(emf)} {len(closed)}: {rt.stderr()[-1500:]}")
    if len(emf) == 2 and len(closed) == 1:
        e1, e2, w = emf[0], emf[1], closed[0]
        names1 = [m["Name"] for m in e1["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        names2 = [m["Name"] for m in e2["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        mon = ["PredictionDrift", "DriftedColumns", "ShareMissingValues", "DatasetDrift"]
        rptest.check(not set(mon) & set(names1) and "PredictionDrift" not in e1,
                     "lambda: no figures before a window closed", str(e1))
        rptest.check(set(mon) <= set(names2) and {"Records", "HandlerMs"} <= set(names2),
                     "lambda: the EMF directive of the closing invocation lists the figures", str(names2))
        rptest.check(int(w["rides"]) == 100 and e2.get("MonitorRides") == 100,
                     "lambda: the window holds the first invocation's 100 rides", f"{w} {e2}")
        rptest.check(e2.get("PredictionDrift") == float(w["prediction_drift"])
                     and e2.get("DriftedColumns") == int(w["num_drifted_columns"])
                     and e2.get("ShareMissingValues") == float(w["share_missing_values"])
                     and e2.get("DatasetDrift") == (1 if w["dataset_drift"] == "true" else 0),
                     "lambda: the EMF figures are the window's", f"{e2} vs {w}")
    # A bad reference: an init error, exit 3.
    bad = os.path.join(tmp, "nocol.csv")
    with open(bad, "w") as f:
        f.write("num:trip_distance,cat:PULocationID,num:prediction\n1.0,2,3.0\n")
    api = tl.RuntimeAPI()
    rt = tl.Runtime(api, tl.base_env(MODEL_LOCATION=model, RIDEPRED_MONITOR_REFERENCE=bad), ["--max-invocations", "1"])
    rc = rt.wait(30)
    api.stop()
    rptest.check(rc == 3 and api.init_errors and b"DOLocationID" in api.init_errors[0][1],
                 "lambda: a bad reference is an init error naming the column, exit 3",
                 f"rc={rc} {api.init_errors[:1]} {rt.stderr()[-800:]}")
    for var, value in (("RIDEPRED_MONITOR_WINDOW", "1w"), ("RIDEPRED_MONITOR_CAP", "0")):
        api = tl.RuntimeAPI()
        rt = tl.Runtime(api, tl.base_env(MODEL_LOCATION=model, RIDEPRED_MONITOR_REFERENCE=ref, **{var: value}),
                        ["--max-invocations", "1"])
        rc = rt.wait(30)
        api.stop()
        rptest.check(rc == 3 and api.init_errors and var.encode() in api.init_errors[0][1],
                     f"lambda: {var}={value} is an init error naming it, exit 3",
                     f"rc={rc} {api.init_errors[:1]} {rt.stderr()[-800:]}")


def test_consume_db(tmp):
    """--monitor-db on a real PostgreSQL (tests/tools/pgtemp.py): a row per
    closed window, source consume, with the window's log figures; after a
    server restart (connections dropped) rows keep coming."""
    import pgtemp
    why = pgtemp.missing()
    if why:
        raise rptest.Skip(why)
    env = tc.Env(tmp)
    ref = os.path.join(tmp, "ref.csv")
    write_reference(ref, env.model)
    env.create("IN", 1)
    env.create("OUT", 1)
    env.put_lines("IN", [r[1] for r in tc.make_rides(400, seed=12)])
    with pgtemp.server() as pg:
        p = env.consume(["--from", "IN", "--to", "OUT", "--log-format", "json", "--monitor-reference", ref,
                         "--monitor-window", "1", "--monitor-db", pg.url], "pg.log")

        def rows():
            try:
                return pg.query("SELECT to_char(\"timestamp\", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), rides, "
                                "prediction_drift, num_drifted_columns, share_missing_values FROM ridepred_monitor "
                                "WHERE source = 'consume' ORDER BY 1")
            except RuntimeError:
                return []  # the table is not created yet
        try:
            tc.wait_until("the rides' rows", lambda: sum(int(r[1]) for r in rows()) >= 400, 30, [p])
            pg.restart()
            env.put_lines("IN", [r[1] for r in tc.make_rides(100, start=2000, seed=13)])
            tc.wait_until("rows after the restart", lambda: sum(int(r[1]) for r in rows()) >= 500, 30, [p])
            time.sleep(0.3)
            got = rows()
            closed = {w["start"]: w for w in windows(p)}
        finally:
            assert tc.stop(p) == 0
    bad = [(r, closed.get(r[0])) for r in got if r[0] not in closed or int(r[1]) != int(closed[r[0]]["rides"])
           or int(r[3]) != int(closed[r[0]]["num_drifted_columns"])
           or (r[2] is not None and not close(float(r[2]), float(closed[r[0]]["prediction_drift"])))]
    rptest.check(got and not bad, "each row is its window's log line (rides, drift, drifted columns)",
                 str(bad[:3]))
    rptest.check(sum(int(r[1]) for r in got) == 500, "the rows hold every ride, before and after the restart",
                 str(got))


def main():
    rptest.need_bin()
    rptest.run([("consume-window", test_consume_window), ("consume-off", test_consume_off),
                ("consume-bad", test_consume_bad), ("consume-default-reference", test_default_reference), ("consume-db-down", test_consume_db_down),
                ("consume-db", test_consume_db),
                ("serve", test_serve), ("lambda", test_lambda)],
               tmp_prefix="rp-monitor-live-")


if __name__ == "__main__":
    main()
