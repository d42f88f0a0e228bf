#!/usr/bin/python3
"""The live page (issue 15, docs/monitoring.md "Live page") in a real
browser: headless Chromium (Debian `chromium`) loads GET /dashboard, lets
it poll /dashboard.json, and the test reads the figures of the DOM (each
element's data-value) back with --dump-dom.

  consume     `ridepred consume --metrics-listen 127.0.0.1:0` from a local
              stream with rides and poison records (dead letters): the
              page's rides handled, failures and uptime equal /metrics,
              its p50/p90/p99 equal this test's own histogram_quantile on a
              scrape before and after the page ran (between the two);
              "monitoring is off" shown; /dashboard.json's "metrics" are
              the series of /metrics with the same values; 405 / 404
  serve       the same against `ridepred serve` (records, record failures
              and function errors, its latency histogram); the page served
              is src/monitor/dashboard.html byte for byte
  page        the page against a scripted dashboard.json (contract 3 of
              issue 15, with "monitor" set): rides/s from two polls 2 s
              apart, a p99 in the +Inf bucket, the monitor's figures, the
              prediction histogram's normalised bars, the drift chart's
              drifted windows and threshold
  realtime    the same page in real time, driven through the DevTools
              protocol (tests/tools/cdp.py): polls 2 s apart, a screenshot

Chromium runs with --virtual-time-budget, so its 2 s polls run at once in
real time (each fetch holds virtual time until it is answered).

Environment: RIDEPRED_BIN, RIDEPRED_SOURCE_DIR (CTest sets them).  Without
chromium the routes and the JSON are checked and the browser parts print
SKIP (exit 77), except when CI is set: then they fail.
"""

import html.parser
import http.server
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
sys.path.insert(0, HERE)
import cdp  # noqa: E402
import rptest  # noqa: E402
import test_consume as tc  # noqa: E402  (its Env, rides and model)
import test_monitor_live as tml  # noqa: E402  (its reference sample)

SRC, BIN = rptest.SRC, rptest.BIN
PAGE = os.path.join(SRC, "src", "monitor", "dashboard.html")
CHROMIUM = shutil.which("chromium")
FIGURES = ("rides-per-s", "records-total", "latency-p50", "latency-p90", "latency-p99", "failures-total",
           "uptime", "prediction-drift", "drifted-columns", "missing-share", "windows-total", "window-rides")


# ---- Prometheus text and histogram_quantile ------------------------------------------

def scrape(port):
    """{series: value} of GET /metrics (series as written: name{labels})."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, v = line.rsplit(" ", 1)
            out[series] = float(v)
    return out


def total(vals, name, **labels):
    """The sum of the series of one name (with these labels)."""
    s = 0.0
    for series, v in vals.items():
        n, _, rest = series.partition("{")
        if n == name and all(f'{k}="{x}"' in rest for k, x in labels.items()):
            s += v
    return s


def buckets(vals, name):
    """[(le, cumulative)] of a histogram, its series summed by le."""
    by_le = {}
    for series, v in vals.items():
        m = re.match(re.escape(name) + r'_bucket\{.*le="([^"]+)"\}$', series)
        if m:
            le = float(m.group(1))  # "+Inf" -> inf
            by_le[le] = by_le.get(le, 0) + v
    return sorted(by_le.items())


def histogram_quantile(q, bk):
    """Prometheus' bucketQuantile (promql/quantile.go), written from its
    source independently of the page's JavaScript."""
    if len(bk) < 2 or not math.isinf(bk[-1][0]):
        return math.nan
    n = bk[-1][1]
    if n == 0:
        return math.nan
    rank = q * n
    b = next(i for i, (_, c) in enumerate(bk) if c >= rank)
    if b == len(bk) - 1:
        return bk[-2][0]
    if b == 0 and bk[0][0] <= 0:
        return bk[0][0]
    start, end, count = 0.0, bk[b][0], bk[b][1]
    if b > 0:
        start = bk[b - 1][0]
        count -= bk[b - 1][1]
        rank -= bk[b - 1][1]
    return start + (end - start) * (rank / count)


# ---- the browser ---------------------------------------------------------------------

class Dom(html.parser.HTMLParser):
    """The elements of a dumped DOM by id: their attributes, text, and the
    SVG shapes inside the charts."""

    def __init__(self, text):
        super().__init__()
        self.by_id, self.text, self.shapes = {}, {}, {}
        self.stack = []  # ids of the open elements that have one
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.by_id[a["id"]] = a
            self.text[a["id"]] = ""
        for i in self.stack:
            self.shapes.setdefault(i, []).append((tag, a))
        if tag not in ("br", "meta", "link", "input", "img", "hr"):
            self.stack.append(a.get("id"))

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.by_id[a["id"]] = a
        for i in self.stack:
            if i:
                self.shapes.setdefault(i, []).append((tag, a))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.text[i] = self.text.get(i, "") + data

    def value(self, fid):
        v = self.by_id[fid].get("data-value", "")
        return float(v) if v != "" else None


def browse(tmp, url, budget_ms=5000, screenshot=None):
    """Chromium's DOM of url after budget_ms of virtual time."""
    if not CHROMIUM:
        raise rptest.Skip("chromium is not installed (Debian: apt-get install chromium; scripts/deps test)")
    profile = os.path.join(tmp, f"chromium-{time.monotonic_ns()}")
    args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}"]
    args += [f"--screenshot={screenshot}", "--window-size=1200,900"] if screenshot else ["--dump-dom"]
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}
    p = subprocess.run(args + [url], capture_output=True, timeout=90, env=env)
    if p.returncode != 0:
        raise AssertionError(f"chromium exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return Dom(p.stdout.decode())


def check(cond, label, detail=""):
    rptest.check(cond, label, detail)


def check_serving(dom, before, after, records_name, latency_name, failures, what):
    """The page's serving figures against two scrapes around its run."""
    st = dom.text.get("status", "")
    check(st.startswith("updated"), f"{what}: the page polled", st)
    rec = dom.value("records-total")
    check(rec == total(before, records_name) == total(after, records_name), f"{what}: records-total",
          f"page {rec}, /metrics {total(before, records_name)} / {total(after, records_name)}")
    check(dom.value("rides-per-s") is not None and dom.value("rides-per-s") >= 0,
          f"{what}: rides-per-s shown after two polls", str(dom.by_id["rides-per-s"]))
    for q, fid in ((0.5, "latency-p50"), (0.9, "latency-p90"), (0.99, "latency-p99")):
        a = histogram_quantile(q, buckets(before, latency_name))
        b = histogram_quantile(q, buckets(after, latency_name))
        v = dom.value(fid)
        lo, hi = min(a, b), max(a, b)
        check(v is not None and lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12), f"{what}: {fid}",
              f"page {v}, histogram_quantile {a} / {b}")
    f_before = sum(total(before, n, **lab) for n, lab in failures)
    f_after = sum(total(after, n, **lab) for n, lab in failures)
    fv = dom.value("failures-total")
    check(fv is not None and f_before <= fv <= f_after and fv > 0, f"{what}: failures-total",
          f"page {fv}, /metrics {f_before} / {f_after}")
    start = total(after, "process_start_time_seconds")
    up = dom.value("uptime")
    check(up is not None and 0 <= up <= time.time() - start + 1, f"{what}: uptime", f"{up} (start {start})")
    check("hidden" not in dom.by_id["monitor-off"] and "hidden" in dom.by_id["monitor-on"],
          f"{what}: monitoring is off", str(dom.by_id["monitor-off"]))
    check("Monitoring is off" in dom.text.get("monitor-off", "") and
          "--monitor-reference" in dom.text.get("monitor-off", ""), f"{what}: says how to turn it on")
    for fid in FIGURES:
        check(fid in dom.by_id, f"{what}: #{fid} present")


def get(port, path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def check_json_against_metrics(port, what):
    """/dashboard.json's metrics are /metrics' series (same values; idle
    server so one scrape each); routes and methods."""
    status, headers, body = get(port, "/dashboard.json")
    check(status == 200 and headers.get("content-type") == "application/json" and
          headers.get("cache-control") == "no-store", f"{what}: /dashboard.json headers", str(headers))
    doc = json.loads(body)
    text = scrape(port)
    check(set(doc) == {"now", "metrics", "monitor"} and doc["monitor"] is None and
          abs(doc["now"] - time.time()) < 60, f"{what}: the JSON's members", str(doc)[:300])
    flat = {}
    for key, v in doc["metrics"].items():
        if isinstance(v, dict):
            name, _, labels = key.partition("{")
            labels = labels[:-1]
            for le, c in v["buckets"]:
                le_s = "+Inf" if le == "+Inf" else repr(float(le))
                flat[f'{name}_bucket{{{labels + "," if labels else ""}le="{le_s}"}}'] = c
            suffix = f"{{{labels}}}" if labels else ""
            flat[f"{name}_sum{suffix}"] = v["sum"]
            flat[f"{name}_count{suffix}"] = v["count"]
            check(v["count"] == v["buckets"][-1][1], f"{what}: {key} count is the +Inf bucket")
        else:
            flat[key] = v
    # The start time is the only figure that is not an integer count here.
    check(set(flat) == set(text), f"{what}: the JSON's series are /metrics'",
          f"{sorted(set(flat) ^ set(text))[:10]}")
    diff = [k for k in text if k in flat and not math.isclose(float(flat[k]), text[k], rel_tol=1e-15)]
    check(not diff, f"{what}: the JSON's values are /metrics'", str(diff[:5]))
    for path in ("/dashboard", "/dashboard.json"):
        status, headers, _ = get(port, path, "POST")
        check(status == 405 and headers.get("allow") == "GET, HEAD", f"{what}: POST {path} is 405",
              f"{status} {headers}")
    status, headers, body = get(port, "/dashboard")
    check(status == 200 and headers.get("content-type", "").startswith("text/html") and
          body == open(PAGE, "rb").read(), f"{what}: /dashboard is src/monitor/dashboard.html",
          f"{status} {headers}")
    status, headers, body = get(port, "/dashboard", "HEAD")
    check(status == 200 and body == b"" and int(headers.get("content-length", -1)) == os.path.getsize(PAGE),
          f"{what}: HEAD /dashboard", f"{status} {headers}")
    status, _, body = get(port, "/nope")
    check(status == 404 and b"/dashboard.json" in body, f"{what}: the 404 names the routes", body.decode())


# ---- consume ---------------------------------------------------------------------------

def test_consume(tmp):
    env = tc.Env(tmp)
    env.create("IN", 2)
    env.create("OUT", 1)
    env.create("DLQ", 1)
    rides = tc.make_rides(1500, seed=21)
    env.put_lines("IN", [r[1] for r in rides[:700]])
    env.put_lines("IN", [b"not json at all", b'{"ride_id": 77}'], key="poison")  # two dead letters
    env.put_lines("IN", [r[1] for r in rides[700:]])
    p = env.consume(["--from", "IN", "--to", "OUT", "--dead-letter", "DLQ", "--max-retries", "0",
                     "--metrics-listen", "127.0.0.1:0", "--group", "dash"], "consume.log")
    try:
        port = None
        deadline = time.monotonic() + 15
        while port is None and time.monotonic() < deadline:
            m = re.search(r"metrics at /metrics .*port=(\d+)", tc.log_text(p))
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        assert port, f"no metrics port logged: {tc.log_text(p)[-1000:]}"
        tc.wait_until("every record handled", lambda: total(scrape(port), "ridepred_consume_records_handled_total")
                      >= 1502, 30, [p])
        time.sleep(0.3)
        check_json_against_metrics(port, "consume")
        before = scrape(port)
        dom = browse(tmp, f"http://127.0.0.1:{port}/dashboard")
        after = scrape(port)
        check(total(after, "ridepred_consume_dead_lettered_total") == 2, "consume: two dead letters",
              str(total(after, "ridepred_consume_dead_lettered_total")))
        check_serving(dom, before, after, "ridepred_consume_records_handled_total",
                      "ridepred_consume_invocation_seconds",
                      [("ridepred_consume_item_failures_total", {}), ("ridepred_consume_function_errors_total", {}),
                       ("ridepred_consume_dead_lettered_total", {}), ("ridepred_consume_discarded_total", {})],
                      "consume")
        check(dom.text.get("source") == "ridepred consume", "consume: names the command", dom.text.get("source"))
    finally:
        check(tc.stop(p) == 0, "consume: exits 0 on SIGTERM", tc.log_text(p)[-1000:])


def test_consume_monitoring(tmp):
    """consume with monitoring on (a reference, 1 s windows): /dashboard.json
    carries the serving side's windows (contract 3) and the page shows them:
    monitoring on, windows-total between two scrapes, the reference's
    histogram bars to scale, a bar per window listed."""
    env = tc.Env(tmp)
    env.create("IN", 1)
    env.create("OUT", 1)
    ref = os.path.join(tmp, "reference.csv")
    tml.write_reference(ref, env.model, n=2000)
    rides = tc.make_rides(1500, seed=5)
    env.put_lines("IN", [r[1] for r in rides])
    p = env.consume(["--from", "IN", "--to", "OUT", "--metrics-listen", "127.0.0.1:0", "--group", "dash-mon",
                     "--monitor-reference", ref, "--monitor-window", "1"], "consume.log")
    try:
        port = None
        deadline = time.monotonic() + 15
        while port is None and time.monotonic() < deadline:
            m = re.search(r"metrics at /metrics .*port=(\d+)", tc.log_text(p))
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        assert port, f"no metrics port logged: {tc.log_text(p)[-1000:]}"
        tc.wait_until("every ride handled and a window closed",
                      lambda: total(scrape(port), "ridepred_consume_records_handled_total") >= 1500 and
                      total(scrape(port), "ridepred_monitor_windows_total") >= 1, 30, [p])
        doc_before = json.loads(get(port, "/dashboard.json")[2])
        before = scrape(port)
        dom = browse(tmp, f"http://127.0.0.1:{port}/dashboard")
        after = scrape(port)
        mon = doc_before["monitor"]
        check(mon is not None and mon["window_seconds"] == 1 and mon["reference_rides"] == 2000 and
              [c["name"] for c in mon["columns"]] == ["trip_distance", "PULocationID", "DOLocationID", "prediction"],
              "consume monitoring: /dashboard.json's monitor object", str(mon)[:400])
        if mon is None:
            return
        seen = sum(w["rides"] for w in mon["windows"]) + mon["current"]["rides"]
        check(seen == 1500, "consume monitoring: the windows listed and the current one hold every ride",
              f"{seen} of 1500")
        check(sum(mon["reference_histogram"]) == 2000 and
              len(mon["reference_histogram"]) == len(mon["prediction_bounds"]) + 1,
              "consume monitoring: the reference histogram counts the reference's rides")
        check("hidden" in dom.by_id["monitor-off"] and "hidden" not in dom.by_id["monitor-on"],
              "consume monitoring: the page shows monitoring on")
        wt = dom.value("windows-total")
        check(wt is not None and total(before, "ridepred_monitor_windows_total") <= wt <=
              total(after, "ridepred_monitor_windows_total"), "consume monitoring: windows-total between two scrapes",
              f"{wt} vs {total(before, 'ridepred_monitor_windows_total')}..{total(after, 'ridepred_monitor_windows_total')}")
        rects = [a for tag, a in dom.shapes.get("prediction-histogram", []) if tag == "rect"]
        refh = [float(a["height"]) for a in rects if a.get("class") == "ref"]
        shares = [c / 2000 for c in mon["reference_histogram"]]
        k = max(range(len(shares)), key=lambda i: shares[i])
        check(len(refh) == len(shares) and refh[k] > 0 and
              all(math.isclose(h, s_ * refh[k] / shares[k], rel_tol=1e-6, abs_tol=1e-6) for h, s_ in zip(refh, shares)),
              "consume monitoring: the reference's bars are its shares, to scale", f"{refh} {shares}")
        bars = [a for tag, a in dom.shapes.get("drift-chart", []) if tag == "rect"]
        check(len(bars) >= 1, "consume monitoring: the drift chart draws the windows", str(bars)[:300])
    finally:
        check(tc.stop(p) == 0, "consume monitoring: exits 0 on SIGTERM", tc.log_text(p)[-1000:])


# ---- serve -----------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kinesis_event(lines):
    import base64
    recs = [{"kinesis": {"partitionKey": str(i), "sequenceNumber": str(1000 + i),
                         "data": base64.b64encode(line.encode()).decode()},
             "eventSource": "aws:kinesis", "eventID": f"shardId-000000000000:{i}"} for i, line in enumerate(lines)]
    return json.dumps({"Records": recs}).encode()


def test_serve(tmp):
    model = os.path.join(tmp, "model.json")
    tc.write_model(model)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8", "RUN_ID": "dash", "TEST_RUN": "True",
           "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "unused.db")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    log = open(os.path.join(tmp, "serve.log"), "wb")
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--model", model],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        rides = [r[1] for r in tc.make_rides(400, seed=5)]
        invoke = "/2015-03-31/functions/function/invocations"
        for k in range(0, 400, 40):
            batch = rides[k:k + 40] + (["{not json"] if k % 80 == 0 else [])  # record failures
            req = urllib.request.Request(f"http://127.0.0.1:{port}{invoke}", data=kinesis_event(batch))
            urllib.request.urlopen(req, timeout=10).read()
        for _ in range(3):  # function errors
            req = urllib.request.Request(f"http://127.0.0.1:{port}{invoke}", data=b'{"Records": "nope"}')
            urllib.request.urlopen(req, timeout=10).read()
        check_json_against_metrics(port, "serve")
        rejected = scrape(port)
        check(total(rejected, "ridepred_http_rejected_total", code="405") == 2 and
              total(rejected, "ridepred_http_rejected_total", code="404") == 1,
              "serve: the page's 405s and the 404 counted as the invoke endpoint's", str(rejected)[:300])
        before = scrape(port)
        dom = browse(tmp, f"http://127.0.0.1:{port}/dashboard")
        after = scrape(port)
        check(total(after, "ridepred_record_failures_total") == 5 and
              total(after, "ridepred_invocations_total", outcome="function_error") == 3,
              "serve: five record failures, three function errors", str(after)[:400])
        check_serving(dom, before, after, "ridepred_records_total", "ridepred_invocation_duration_seconds",
                      [("ridepred_record_failures_total", {}),
                       ("ridepred_invocations_total", {"outcome": "function_error"}),
                       ("ridepred_invocations_total", {"outcome": "internal_error"})], "serve")
        check(dom.text.get("source") == "ridepred serve", "serve: names the command", dom.text.get("source"))
    finally:
        p.terminate()
        check(p.wait(30) == 0, "serve: exits 0 on SIGTERM")
        log.close()


# ---- the page against a scripted JSON ------------------------------------------------

LAT_BOUNDS = [0.001, 0.002, 0.004]


def scripted_docs():
    """Two polls 2 s apart, then the second again; contract 3's monitor."""
    lat = {"buckets": [[0.001, 10], [0.002, 60], [0.004, 97], ["+Inf", 100]], "sum": 0.5, "count": 100}
    windows = []
    for i, (drift, drifted) in enumerate(((0.03, False), (0.18, True), (0.07, False))):
        windows.append({"start": f"2026-12-07T1{i}:00:00Z", "end": f"2026-12-07T1{i + 1}:00:00Z", "rides": 500 + i,
                        "prediction_drift": drift, "prediction_drifted": drifted, "dataset_drift": False,
                        "share_missing_values": 0.0125 * i,
                        "columns": {"prediction": {"test": "wasserstein", "score": drift, "drifted": drifted,
                                                   "missing": 0},
                                    "trip_distance": {"test": "wasserstein", "score": 0.2 * i, "drifted": i > 0,
                                                      "missing": 10 * i},
                                    "PULocationID": {"test": "jensenshannon", "score": 0.05 * i, "drifted": i > 1,
                                                     "missing": 0}}})
        w = windows[-1]
        w["num_drifted_columns"] = sum(c["drifted"] for c in w["columns"].values())
        w["share_drifted_columns"] = w["num_drifted_columns"] / len(w["columns"])
    monitor = {"window_seconds": 3600,
               "columns": [{"name": "trip_distance", "kind": "num"}, {"name": "PULocationID", "kind": "cat"}],
               "reference_rides": 1000, "prediction_bounds": [5, 10, 20],
               "reference_histogram": [100, 500, 300, 100],
               "current": {"start": "2026-12-07T13:00:00Z", "rides": 42, "histogram": [2, 10, 20, 10]},
               "windows": windows}

    def doc(now, records):
        return {"now": now, "metrics": {"ridepred_records_total": records, "process_start_time_seconds": 900.0,
                                        "ridepred_invocation_duration_seconds": lat,
                                        "ridepred_monitor_windows_total": 3,
                                        "ridepred_record_failures_total": 4,
                                        'ridepred_invocations_total{outcome="function_error"}': 1,
                                        'ridepred_invocations_total{outcome="ok"}': 50},
                "monitor": monitor}
    return [doc(1000.0, 100), doc(1002.0, 300)], lat, monitor


class ScriptedServer:
    """The page and a scripted dashboard.json on 127.0.0.1 (a thread):
    the n-th poll gets docs[n] (the last one from then on); times[] holds
    when each poll arrived."""

    def __init__(self, docs):
        page = open(PAGE, "rb").read()
        served = self.times = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/dashboard":
                    body, ctype = page, "text/html; charset=utf-8"
                elif self.path == "/dashboard.json":
                    body, ctype = json.dumps(docs[min(len(served), len(docs) - 1)]).encode(), "application/json"
                    served.append(time.monotonic())
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/dashboard"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_page(tmp):
    docs, lat, monitor = scripted_docs()
    srv = ScriptedServer(docs)
    served = srv.times
    try:
        dom = browse(tmp, srv.url)
    finally:
        srv.close()
    check(len(served) >= 2, "page: polled at least twice", str(len(served)))
    check(dom.value("rides-per-s") == 100.0, "page: rides/s = (300 - 100) / 2 s", str(dom.by_id["rides-per-s"]))
    check(dom.value("records-total") == 300, "page: records-total")
    bk = [(math.inf if le == "+Inf" else le, c) for le, c in lat["buckets"]]
    for q, fid in ((0.5, "latency-p50"), (0.9, "latency-p90"), (0.99, "latency-p99")):
        want = histogram_quantile(q, bk)
        check(math.isclose(dom.value(fid), want, rel_tol=1e-12), f"page: {fid}", f"{dom.value(fid)} != {want}")
    check(dom.value("latency-p99") == 0.004, "page: p99 in the +Inf bucket is the largest bound")
    check(dom.value("failures-total") == 5, "page: failures-total = 4 record failures + 1 function error")
    check(dom.value("uptime") == 102.0, "page: uptime = now - process_start_time_seconds")
    check("hidden" in dom.by_id["monitor-off"] and "hidden" not in dom.by_id["monitor-on"], "page: monitoring on")
    last = monitor["windows"][-1]
    check(dom.value("prediction-drift") == last["prediction_drift"], "page: prediction-drift (last window)")
    check(dom.value("drifted-columns") == last["num_drifted_columns"] and
          dom.text.get("drifted-columns") == "2 of 3", "page: drifted-columns", dom.text.get("drifted-columns"))
    check(dom.value("missing-share") == last["share_missing_values"], "page: missing-share")
    check(dom.value("windows-total") == 3, "page: windows-total")
    check(dom.value("window-rides") == 42, "page: window-rides")
    # Histogram: reference and current bars, each normalised to its own total.
    rects = [a for tag, a in dom.shapes.get("prediction-histogram", []) if tag == "rect"]
    ref = [float(a["height"]) for a in rects if a.get("class") == "ref"]
    cur = [float(a["height"]) for a in rects if a.get("class") == "cur"]
    check(len(ref) == 4 and len(cur) == 4, "page: four bars a side", str(rects)[:300])
    if len(ref) == 4 and len(cur) == 4:
        rs = [c / 1000 for c in monitor["reference_histogram"]]
        cs = [c / 42 for c in monitor["current"]["histogram"]]
        scale = ref[1] / rs[1]
        check(all(math.isclose(h, s * scale, rel_tol=1e-6, abs_tol=1e-6) for h, s in zip(ref + cur, rs + cs)),
              "page: bar heights are the shares, on one scale", f"{ref} {cur}")
    bars = [a for tag, a in dom.shapes.get("drift-chart", []) if tag == "rect"]
    check([a.get("class") for a in bars] == ["steady", "drifted", "steady"], "page: the drifted window is marked",
          str(bars))
    if len(bars) == 3:
        hs = [float(a["height"]) for a in bars]
        check(math.isclose(hs[1] / hs[0], 0.18 / 0.03, rel_tol=1e-6), "page: drift bars to scale", str(hs))
    lines = [a for tag, a in dom.shapes.get("drift-chart", []) if tag == "line" and a.get("class") == "threshold"]
    check(len(lines) == 1, "page: the threshold line")
    check("wasserstein" in dom.text.get("drift-test", "") and "0.1" in dom.text.get("drift-test", ""),
          "page: names the test and its threshold", dom.text.get("drift-test", ""))


def test_realtime(tmp):
    """In real time (DevTools protocol, tests/tools/cdp.py): a poll every 2 s."""
    docs, _, _ = scripted_docs()
    srv = ScriptedServer(docs)
    try:
        with cdp.Browser(tmp, CHROMIUM) as b:
            b.open(srv.url, width=1200, height=900)
            time.sleep(5.0)
            rate = b.evaluate('document.getElementById("rides-per-s").getAttribute("data-value")')
            status = b.evaluate('document.getElementById("status").textContent')
            png = b.screenshot()
    finally:
        srv.close()
    gaps = [b - a for a, b in zip(srv.times, srv.times[1:])]
    check(len(srv.times) >= 2 and all(1.9 <= g <= 2.8 for g in gaps), "realtime: a poll every 2 s",
          f"gaps {gaps}")
    check(rate == "100", "realtime: rides/s after the second poll", str(rate))
    check(status.startswith("updated"), "realtime: the status line", status)
    check(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10000, "realtime: a screenshot")


def main():
    rptest.need_bin()
    # Without chromium the routes are still checked; the browser parts skip
    # (exit 77), or fail when CI is set.
    rptest.run([("consume", test_consume), ("consume monitoring", test_consume_monitoring), ("serve", test_serve), ("page", test_page), ("realtime", test_realtime)],
               tmp_prefix="rp-dashboard-",
               unavailable=lambda label: None if CHROMIUM or label not in ("page", "realtime", "consume monitoring") else
               "chromium is not installed (Debian: apt-get install chromium; scripts/deps test)")


if __name__ == "__main__":
    main()
