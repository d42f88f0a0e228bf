#!/usr/bin/python3
"""`ridepred serve`'s POST /predict: the course's Flask API (issue 16,
docs/serve.md "/predict (the course's Flask API)").

The course's 04-deployment web-service/predict.py (and web-service-mlflow,
which adds "model_version": RUN_ID) answers a ride
{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40} with
jsonify({"duration": PREDICTION}).  Checks, against `ridepred serve` with the
course's MLflow model (TEST_RUN=True):

  - course_test_py: the course's test.py (requests.post(url, json=ride)),
    with only its URL's port changed, prints the duration; the answer is
    byte for byte what Flask's jsonify writes: {"duration":X,"model_version":
    "Test123"} and a newline, application/json, X the handler's prediction
    for the same ride (`ridepred invoke`) and scikit-learn's on the pickled
    pipeline (repr of the float);
  - no_run_id: without RUN_ID, {"duration":X} only; MODEL_VERSION (with
    RUN_ID) is the version reported, as on the invoke route;
  - bad_input: not JSON, not an object, missing and mistyped fields, the
    Lambda event instead of a ride, nesting past the limit, non-finite and
    out-of-range distances, trailing bytes: 400 {"error": "..."} naming what
    is wrong; over 6 MiB: 413; a 1 MiB location string is served;
  - methods: GET/HEAD/PUT/DELETE /predict 405 with Allow: POST; /predict/
    404; a query string ignored;
  - keeps_serving: 300 bad requests in a row on one keep-alive connection,
    then a good one on it; 16 concurrent clients x 40 requests mixing 20
    distinct rides and bad bodies, every answer equal to the handler's;
  - metrics: ridepred_predict_requests_total by outcome and the latency
    histogram equal to what was sent; a 405 counted as rejected;
  - monitoring: with --monitor-reference, every ride answered by /predict
    is in ridepred_prediction_minutes.

Environment: RIDEPRED_BIN, RIDEPRED_FIXTURES_DIR (CTest sets them); as
test_serve.py, SKIP (77) without them unless CI is set.
"""

import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import threading
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402
import test_serve as ts  # noqa: E402

BIN, MODEL, expect = ts.BIN, ts.MODEL, ts.expect
COURSE_RIDE = {"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}
# The course's 04-deployment/web-service/test.py, as it is but for the port.
COURSE_TEST_PY = '''import requests

ride = {
    "PULocationID": 10,
    "DOLocationID": 50,
    "trip_distance": 40
}

url = 'http://127.0.0.1:9696/predict'

response = requests.post(url, json=ride)
print(response.json())
'''


def handler_durations(tmp, rides):
    """The handler's prediction of each ride as the bytes it writes
    (`ridepred invoke` on a Kinesis event of them, in order)."""
    out, is_error = ts.invoke_cli(tmp, ts.kinesis_event([{"ride": r, "ride_id": i} for i, r in enumerate(rides)]))
    expect(not is_error, out)
    found = re.findall(rb'"ride_duration": ([^,}]+), "ride_id": (\d+)', out)
    expect(len(found) == len(rides), out[:500])
    by_id = {int(i): d for d, i in found}
    return [by_id[i] for i in range(len(rides))]


def direct_duration(tmp, ride):
    """The handler's prediction of one ride as a direct event (no Kinesis
    record limit)."""
    out, is_error = ts.invoke_cli(tmp, json.dumps({"ride": ride, "ride_id": 1}).encode())
    expect(not is_error, out[:500])
    m = re.fullmatch(rb'\{"ride_duration": ([^,}]+), "ride_id": 1\}', out)
    expect(m, out[:500])
    return m.group(1)


def sklearn_duration(ride):
    """repr(float) of the course's pipeline's prediction, as predict.py
    computes it; raises rptest.Skip without scikit-learn."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise rptest.Skip("python3-sklearn is not installed (apt-get install python3-sklearn)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickled by scikit-learn 1.0.2
        with open(os.path.join(MODEL, "model.pkl"), "rb") as f:
            pipe = pickle.load(f)
        # The course's forest has n_jobs=-1: its threads add the trees in
        # the order they finish, so the last bit varies from call to call
        # (21.294545348333408 or ...415 for this ride).  n_jobs=1 adds them
        # in order, as ridepred does (docs/models.md).
        if hasattr(pipe.steps[-1][1], "n_jobs"):
            pipe.steps[-1][1].n_jobs = 1
        features = {"PU_DO": "%s_%s" % (ride["PULocationID"], ride["DOLocationID"]),
                    "trip_distance": ride["trip_distance"]}
        return repr(float(pipe.predict([features])[0])).encode()


def post(srv, body, path="/predict", headers=None):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return srv.request("POST", path, body, dict({"Content-Type": "application/json"}, **(headers or {})))


def t_course_test_py(tmp, srv):
    want = handler_durations(tmp, [COURSE_RIDE])[0]
    expect(direct_duration(tmp, COURSE_RIDE) == want, "a direct event and a Kinesis record")
    expect(sklearn_duration(COURSE_RIDE) == want, f"scikit-learn {sklearn_duration(COURSE_RIDE)!r} != {want!r}")
    status, headers, body = post(srv, COURSE_RIDE)
    expect(status == 200, (status, body))
    expect(headers.get("content-type") == "application/json", headers)
    # Flask's jsonify: sorted keys, separators (",", ":"), a newline.
    expect(body == b'{"duration":' + want + b',"model_version":"Test123"}\n', body)
    expect(body == (json.dumps({"duration": float(want), "model_version": "Test123"}, sort_keys=True,
                               separators=(",", ":")) + "\n").encode(), "jsonify's bytes")
    # The course's test.py itself (requests), pointed at this server.
    script = os.path.join(tmp, "test.py")
    with open(script, "w") as f:
        f.write(COURSE_TEST_PY.replace("9696", str(srv.port)))
    p = subprocess.run(["/usr/bin/python3", script], capture_output=True, timeout=60)
    expect(p.returncode == 0, p.stderr[-2000:])
    expect(p.stdout == ("{'duration': %s, 'model_version': 'Test123'}\n" % want.decode()).encode(), p.stdout)


def t_no_run_id(tmp, _srv):
    want = handler_durations(tmp, [COURSE_RIDE])[0]
    env = ts.base_env(tmp)
    del env["RUN_ID"]
    srv = ts.Server(tmp, env=env)
    try:
        status, _, body = post(srv, COURSE_RIDE)
        expect(status == 200 and body == b'{"duration":' + want + b'}\n', (status, body))
    finally:
        expect(srv.stop() == 0, "exit status")
    # MODEL_VERSION overrides the version reported by every route.
    srv = ts.Server(tmp, env=ts.base_env(tmp, MODEL_VERSION="v7 é"))
    try:
        status, _, body = post(srv, COURSE_RIDE)
        expect(status == 200 and body == b'{"duration":' + want + b',"model_version":"v7 \\u00e9"}\n', body)
        _, _, inv = srv.invoke(ts.kinesis_event([{"ride": COURSE_RIDE, "ride_id": 1}]))
        expect(json.loads(inv)["predictions"][0]["version"] == "v7 é", inv)
        expect(json.loads(srv.request("GET", "/healthz")[2])["version"] == "v7 é", "healthz")
    finally:
        expect(srv.stop() == 0, "exit status")


BAD = [
    (b"", "the body is not valid JSON"),
    (b"not json", "the body is not valid JSON"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40} x', "the body is not valid JSON"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40', "the body is not valid JSON"),
    (b"[10, 50, 40]", "the body is an array; expected a ride object such as {"),
    (b'"ride"', "the body is a string; expected a ride object"),
    (b"null", "the body is null; expected a ride object"),
    (b"{}", "PULocationID is missing; expected a ride such as {"),
    (json.dumps({"ride": COURSE_RIDE, "ride_id": 256}).encode(), "PULocationID is missing; expected a ride"),
    (b'{"PULocationID": 10, "trip_distance": 40}', "DOLocationID is missing"),
    (b'{"PULocationID": 10, "DOLocationID": 50}', "trip_distance is missing"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": "40"}',
     "trip_distance is a string; expected a number"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": null}', "trip_distance is null"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": [40]}', "trip_distance is an array"),
    (b'{"PULocationID": {"id": 10}, "DOLocationID": 50, "trip_distance": 40}',
     "PULocationID is an object; expected an integer, a float or a string"),
    (b'{"PULocationID": 10, "DOLocationID": true, "trip_distance": 40}', "DOLocationID is a boolean"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 1e400}', "trip_distance is not a finite number"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": NaN}', "trip_distance is not a finite number"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": -Infinity}', "trip_distance is not a finite"),
    (b'{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 1e300}', "float32"),
    (b'{"PULocationID": ' + b"[" * 100 + b"]" * 100 + b', "DOLocationID": 50, "trip_distance": 40}',
     "the body is not valid JSON"),
    (b"{" * 100, "the body is not valid JSON"),
]


def t_bad_input(tmp, srv):
    for body, want in BAD:
        status, headers, answer = post(srv, body)
        expect(status == 400, f"{body[:80]!r}: {status} {answer[:300]!r}")
        expect(headers.get("content-type") == "application/json" and answer.endswith(b"}\n"), (headers, answer))
        doc = json.loads(answer)
        expect(list(doc) == ["error"] and want in doc["error"], f"{body[:80]!r}: {doc!r} lacks {want!r}")
    status, _, answer = post(srv, ts.padded_ride(ts.LIMIT + 1))
    expect(status == 413 and "6291456 bytes" in json.loads(answer)["error"], (status, answer))
    # A long location is not an error: '%s_%s' makes an unknown PU_DO.
    long_ride = dict(COURSE_RIDE, PULocationID="x" * (1 << 20))
    want = direct_duration(tmp, long_ride)
    status, _, answer = post(srv, long_ride)
    expect(status == 200 and answer == b'{"duration":' + want + b',"model_version":"Test123"}\n', answer[:200])
    expect(status == 200 and sklearn_duration(long_ride) == want, "scikit-learn on the long location")


def t_methods(tmp, srv):
    for method in ("GET", "HEAD", "PUT", "DELETE"):
        status, headers, body = srv.request(method, "/predict", b"{}" if method == "PUT" else None)
        expect(status == 405 and headers.get("allow") == "POST", f"{method}: {status} {headers}")
        if method != "HEAD":
            expect("POST" in json.loads(body)["error"], body)
    status, _, _ = post(srv, COURSE_RIDE, path="/predict/")
    expect(status == 404, f"/predict/: {status}")
    status, _, body = post(srv, COURSE_RIDE, path="/predict?x=1")
    expect(status == 200 and json.loads(body)["model_version"] == "Test123", (status, body))


def varied_rides():
    rides = [dict(COURSE_RIDE)]
    for i in range(19):
        pu = 10 + 7 * i if i % 3 else str(100 + i)
        rides.append({"PULocationID": pu, "DOLocationID": 200 - 5 * i, "trip_distance": 0.3 + 1.9 * i})
    return rides


def t_keeps_serving(tmp, srv):
    rides = varied_rides()
    want = [b'{"duration":' + d + b',"model_version":"Test123"}\n' for d in handler_durations(tmp, rides)]
    c = srv.conn()
    try:
        for i in range(300):
            body, _ = BAD[i % len(BAD)]
            c.request("POST", "/predict", body=body)
            r = c.getresponse()
            r.read()
            expect(r.status == 400, f"bad request {i}: {r.status}")
        c.request("POST", "/predict", body=json.dumps(COURSE_RIDE).encode())
        r = c.getresponse()
        expect(r.status == 200 and r.read() == want[0], "the good ride after 300 bad ones, same connection")
    finally:
        c.close()

    errors, answered = [], [0]
    lock = threading.Lock()

    def client(k):
        try:
            conn = srv.conn()
            for j in range(40):
                i = (k * 11 + j) % (len(rides) + 5)
                if i < len(rides):
                    conn.request("POST", "/predict", body=json.dumps(rides[i]).encode())
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200 or body != want[i]:
                        raise AssertionError(f"client {k} ride {i}: {r.status} {body!r} != {want[i]!r}")
                else:
                    conn.request("POST", "/predict", body=BAD[i % len(BAD)][0])
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 400 or "error" not in json.loads(body):
                        raise AssertionError(f"client {k} bad body {i}: {r.status} {body!r}")
                with lock:
                    answered[0] += 1
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    expect(not errors, errors[:3])
    expect(answered[0] == 16 * 40, answered[0])


def t_metrics(tmp, _srv):
    srv = ts.Server(tmp)
    try:
        for _ in range(5):
            expect(post(srv, COURSE_RIDE)[0] == 200, "ok")
        for body, _ in BAD[:7]:
            expect(post(srv, body)[0] == 400, "bad")
        expect(post(srv, ts.padded_ride(ts.LIMIT + 1))[0] == 413, "too large")
        expect(srv.request("GET", "/predict")[0] == 405, "GET")
        expect(srv.invoke(open(ts.COURSE_EVENT, "rb").read())[0] == 200, "an invocation")
        status, _, body = srv.request("GET", "/metrics")
        fams = ts.parse_prometheus(body.decode())
        expect(fams["ridepred_predict_requests_total"]["type"] == "counter", fams.keys())
        expect(fams["ridepred_predict_duration_seconds"]["type"] == "histogram", fams.keys())
        for outcome, n in (("ok", 5), ("bad_request", 7), ("too_large", 1), ("internal_error", 0)):
            got = ts.metric(fams, "ridepred_predict_requests_total", outcome=outcome)
            expect(got == n, f"{outcome}: {got} != {n}")
        expect(ts.metric(fams, "ridepred_predict_duration_seconds_count") == 5, "the histogram counts the 200s")
        expect(0 < ts.metric(fams, "ridepred_predict_duration_seconds_sum") < 5, "latency sum")
        expect(ts.metric(fams, "ridepred_http_rejected_total", code="405") == 1, "GET /predict: a 405")
        # The invoke route's counters are its own.
        expect(ts.metric(fams, "ridepred_invocations_total", outcome="ok") == 1, "invocations")
        expect(ts.metric(fams, "ridepred_invocation_duration_seconds_count") == 1, "invocation histogram")
    finally:
        expect(srv.stop() == 0, "exit status")
    expect(re.search(r"predict_requests=13\b.*predict_ok=5\b", srv.output()), srv.output()[-1000:])


def t_monitoring(tmp, _srv):
    ref = os.path.join(tmp, "ref.csv")
    with open(ref, "w") as f:
        f.write("num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n")
        for i in range(200):
            f.write("%r,%r,%r,%r\n" % (0.5 + i % 17, float(10 + i % 40), float(50 + i % 30), 5.0 + i % 25))
    srv = ts.Server(tmp, args=["--monitor-reference", ref])
    try:
        rides = varied_rides()
        for r in rides:
            expect(post(srv, r)[0] == 200, "ride")
        for body, _ in BAD[:5]:
            expect(post(srv, body)[0] == 400, "bad")
        fams = ts.parse_prometheus(srv.request("GET", "/metrics")[2].decode())
        got = ts.metric(fams, "ridepred_prediction_minutes_count")
        expect(got == len(rides), f"ridepred_prediction_minutes_count {got} != {len(rides)}")
    finally:
        expect(srv.stop() == 0, "exit status")


TESTS = [t_course_test_py, t_no_run_id, t_bad_input, t_methods, t_keeps_serving, t_metrics, t_monitoring]


def main():
    ts.check_prerequisites()
    with tempfile.TemporaryDirectory(prefix="rp-serve-predict-") as tmp:
        srv = ts.Server(tmp)
        try:
            rptest.run(TESTS, tmp, srv, finish=False)
        finally:
            code = srv.stop()
            rptest.check(code == 0, "the shared server exits 0", f"exit {code}: {srv.output()[-2000:]}")
    rptest.tally.finish()


if __name__ == "__main__":
    main()
