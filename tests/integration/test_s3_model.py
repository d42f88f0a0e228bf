#!/usr/bin/python3
"""Models from S3 (issue 4, "Where the model comes from"; docs/models.md,
"Models in S3"), against s3rver (npm) on 127.0.0.1.

Starts s3rver through tests/tools/s3_peer.mjs (bound to 127.0.0.1, port 0,
the port read from its ready line), uploads the course's MLflow model
directory with boto3 (Debian's python3-boto3) under
BUCKET/1/RUN_ID/artifacts/model/, and checks with `ridepred invoke`:

  - the model found by MODEL_BUCKET + RUN_ID (the Python version's default
    location), the exact answer, the version = RUN_ID;
  - the same, given as MODEL_LOCATION=s3://... and as --model s3://...;
  - s3rver stopped: served again from the cache, without any request;
  - cache bypass (RIDEPRED_MODEL_CACHE=off) with s3rver down: a clear
    error, non-zero exit;
  - cache bypass with s3rver up: downloads again and answers;
  - a prefix with no objects, a prefix without MLmodel (lists what is
    there), an unknown bucket, a wrong secret (access denied / signature):
    clear errors naming them;
  - the cache holds the complete marker and no staging directory;
  - keys with "." , ".." or empty components below the prefix (which real S3
    keeps and s3rver normalises away: a minimal listing server on 127.0.0.1
    answers with them) are refused, naming the key, never fetched, and
    nothing is written for them.

Environment: RIDEPRED_BIN, RIDEPRED_SOURCE_DIR, RIDEPRED_FIXTURES_DIR.
Without node, s3rver, boto3 or the fixtures it prints SKIP and exits 77,
except when CI is set: then it fails.  Prints "N passed, N failed"; exits 1
on any failure.
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

BIN, FIXTURES, TOOLS = rptest.BIN, rptest.FIXTURES, rptest.TOOLS
LAUNCHER = os.path.join(TOOLS, "s3_peer.mjs")

MODEL_DIR = os.path.join(FIXTURES, "course-model")
EVENT = os.path.join(FIXTURES, "events", "course-event.json")
BUCKET = "mlflow-models"
RUN_ID = "e1efc53e9bd149078b0c12aeaa6365df"
PREFIX = f"1/{RUN_ID}/artifacts/model"
WANT = {"predictions": [{"model": "ride_duration_prediction_model", "version": RUN_ID,
                         "prediction": {"ride_duration": 21.294545348333408, "ride_id": 256}}]}


def check(label, cond, detail=""):
    rptest.check(cond, label, detail)


class Peer:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.proc = None
        self.port = None

    def start(self):
        self.out = open(os.path.join(self.data_dir, "peer.out"), "w+")
        self.proc = subprocess.Popen(
            ["node", LAUNCHER, "--dir", os.path.join(self.data_dir, "s3"), "--watch-stdin"],
            cwd=TOOLS, stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.out.name) as f:
                for line in f:
                    if line.startswith("S3_PEER_READY "):
                        info = json.loads(line.split(" ", 1)[1])
                        assert info["host"] == "127.0.0.1", info
                        self.port = info["port"]
                        return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.out.name) as f:
            raise RuntimeError("s3_peer.mjs did not start: " + f.read()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def s3_client(url):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=url, aws_access_key_id="S3RVER",
                        aws_secret_access_key="S3RVER", region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def upload(s3, bucket, prefix, directory):
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, directory)
            with open(path, "rb") as f:
                s3.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=f.read())


class ListingServer:
    """Answers ListObjectsV2 for BUCKET with the given keys below prefix
    (and GetObject with a few bytes), on 127.0.0.1; records the GETs."""

    def __init__(self, prefix, names):
        import http.server
        import threading
        from xml.sax.saxutils import escape
        outer = self
        self.gets = []
        listing = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>%s</Name>"
                   "<IsTruncated>false</IsTruncated>%s</ListBucketResult>" % (
                       BUCKET, "".join("<Contents><Key>%s</Key><Size>1</Size></Contents>" % escape(prefix + n)
                                       for n in names))).encode()

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.gets.append(self.path)
                body = listing if "list-type=2" in self.path else b"flavors: {}\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.srv.shutdown()
        self.srv.server_close()


def run(env_extra, args, unset=()):
    env = dict(os.environ)
    for k in ("MODEL_LOCATION", "MODEL_VERSION", "MODEL_BUCKET", "RUN_ID", "MLFLOW_EXPERIMENT_ID",
              "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
              "AWS_SECURITY_TOKEN", "RIDEPRED_MODEL_CACHE", "http_proxy", "https_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy") + tuple(unset):
        env.pop(k, None)
    env.update(env_extra)
    t0 = time.time()
    p = subprocess.run([BIN] + args, env=env, capture_output=True, text=True, timeout=120)
    if os.environ.get("RIDEPRED_TEST_VERBOSE"):
        print(f"  rc={p.returncode} stderr: {p.stderr.strip()}")
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def parsed(out):
    try:
        return json.loads(out)
    except ValueError:
        return None


def main():
    rptest.need_node("s3rver")
    try:
        import boto3  # noqa: F401
    except ImportError:
        rptest.skip("python3-boto3 not installed")
    rptest.need_fixtures(os.path.join("course-model", "MLmodel"), os.path.join("events", "course-event.json"))
    rptest.need_bin()
    rptest.run([("s3 model", test_s3_model)], tmp_prefix="rp-s3-test-")


def test_s3_model(tmp):
    peer = Peer(tmp)
    try:
        peer.start()
        s3 = s3_client(peer.url)
        s3.create_bucket(Bucket=BUCKET)
        upload(s3, BUCKET, PREFIX, MODEL_DIR)
        # A run directory without MLmodel, for the error that lists what is there.
        s3.put_object(Bucket=BUCKET, Key="1/nomlmodel/artifacts/model/model.pkl", Body=b"\x80\x04.")
        s3.put_object(Bucket=BUCKET, Key="1/nomlmodel/artifacts/model/conda.yaml", Body=b"x: 1\n")

        cache = os.path.join(tmp, "cache")
        base = {"TEST_RUN": "True", "AWS_ENDPOINT_URL_S3": peer.url, "AWS_ACCESS_KEY_ID": "S3RVER",
                "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1",
                "RIDEPRED_MODEL_CACHE_DIR": cache, "RIDEPRED_LOCAL_STORE": os.path.join(tmp, "st.db")}
        by_run = dict(base, MODEL_BUCKET=BUCKET, RUN_ID=RUN_ID)

        def answers(label, env, args):
            rc, out, err, _ = run(env, args)
            check(label, rc == 0 and parsed(out) == WANT, f"rc={rc} out={out!r} err={err[-800:]!r}")

        answers("MODEL_BUCKET + RUN_ID: downloaded and served", by_run, ["invoke", EVENT])
        model_cache = os.path.join(cache, BUCKET)
        entries = os.listdir(model_cache) if os.path.isdir(model_cache) else []
        check("cache: one directory, no staging left", len(entries) == 1 and not entries[0].startswith("."),
              f"{entries}")
        if entries:
            d = os.path.join(model_cache, entries[0])
            check("cache: complete marker and every file",
                  sorted(os.listdir(d)) == sorted(os.listdir(MODEL_DIR) + [".ridepred-complete"]),
                  f"{sorted(os.listdir(d))}")
            with open(os.path.join(d, "model.pkl"), "rb") as a, \
                    open(os.path.join(MODEL_DIR, "model.pkl"), "rb") as b:
                check("cache: model.pkl bytes equal", a.read() == b.read())

        uri = f"s3://{BUCKET}/{PREFIX}"
        answers("MODEL_LOCATION=s3://... (cached)", dict(base, MODEL_LOCATION=uri, RUN_ID=RUN_ID), ["invoke", EVENT])
        answers("--model s3://.../ (trailing slash)", dict(base, RUN_ID=RUN_ID), ["invoke", "--model", uri + "/", EVENT])
        answers("cache bypass with s3rver up downloads again", dict(by_run, RIDEPRED_MODEL_CACHE="off"),
                ["invoke", EVENT])

        # Errors while the server is up (cache bypassed where it matters).
        rc, out, err, _ = run(dict(base, MODEL_BUCKET=BUCKET, RUN_ID="nosuchrun"), ["invoke", EVENT])
        check("missing prefix: clear error naming it",
              rc != 0 and out == "" and "no objects under that prefix" in err and "1/nosuchrun/artifacts/model/" in err,
              f"rc={rc} err={err!r}")
        rc, out, err, _ = run(dict(base, MODEL_BUCKET=BUCKET, RUN_ID="nomlmodel"), ["invoke", EVENT])
        check("no MLmodel: lists what is there",
              rc != 0 and "no MLmodel under s3://mlflow-models/1/nomlmodel/artifacts/model/" in err
              and "model.pkl" in err and "conda.yaml" in err, f"rc={rc} err={err!r}")
        rc, out, err, _ = run(dict(base, MODEL_BUCKET="no-such-bucket", RUN_ID=RUN_ID), ["invoke", EVENT])
        check("unknown bucket: clear error naming it",
              rc != 0 and "bucket 'no-such-bucket' does not exist" in err, f"rc={rc} err={err!r}")
        # s3rver checks the access key id but not SigV4 signatures (the
        # signer is checked against botocore in test_aws_sigv4.py).
        rc, out, err, _ = run(dict(by_run, AWS_ACCESS_KEY_ID="AKIAWRONG", AWS_SECRET_ACCESS_KEY="topsecret",
                                   RIDEPRED_MODEL_CACHE="off"), ["invoke", EVENT])
        check("unknown access key: credentials refused, no secret in the message",
              rc != 0 and "credentials (from environment) were refused: InvalidAccessKeyId" in err
              and "topsecret" not in err, f"rc={rc} err={err!r}")
        rc, out, err, _ = run(dict(base, RUN_ID=RUN_ID), ["invoke", "--model", "s3://x", EVENT])
        check("malformed s3:// location", rc != 0 and "bucket name" in err, f"rc={rc} err={err!r}")

        # A missing object named by MLmodel is the loader's error, after the
        # download; a missing key at GetObject time is named by the client.
        s3.put_object(Bucket=BUCKET, Key="1/badref/artifacts/model/MLmodel",
                      Body=b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n")
        rc, out, err, _ = run(dict(base, MODEL_BUCKET=BUCKET, RUN_ID="badref"), ["invoke", EVENT])
        check("MLmodel naming a file that is not there: clear error",
              rc != 0 and "model.pkl" in err, f"rc={rc} err={err!r}")

        # Keys that would land outside the model's cache directory (a ".."
        # or empty component) are refused before anything is fetched or
        # written.  s3rver normalises such keys away, but real S3 keeps
        # them: a minimal listing server answers ListObjectsV2 with them.
        for bad in ("sub/../../../../escaped.txt", "a//escaped.txt", "../escaped.txt", "./escaped.txt"):
            with ListingServer(f"1/evil/artifacts/model/", ["MLmodel", bad]) as ls:
                rc, out, err, _ = run(dict(base, AWS_ENDPOINT_URL_S3=ls.url, MODEL_BUCKET=BUCKET, RUN_ID="evil",
                                           RIDEPRED_MODEL_CACHE="off"), ["invoke", EVENT])
                check(f"S3 key {bad!r} below the model: refused, named",
                      rc != 0 and "does not name a file inside the model directory" in err and bad in err,
                      f"rc={rc} err={err!r}")
                check(f"S3 key {bad!r}: never fetched", not any("escaped" in g for g in ls.gets), f"{ls.gets}")
        escaped = [os.path.join(r, f) for r, _d, fs in os.walk(tmp) for f in fs if f == "escaped.txt"]
        check("no file written for a refused key", escaped == [], f"{escaped}")

        peer.stop()
        rc, out, err, secs = run(by_run, ["invoke", EVENT])
        check("s3rver stopped: served from the cache", rc == 0 and parsed(out) == WANT,
              f"rc={rc} out={out!r} err={err[-800:]!r}")
        check("from the cache: logged as such", "local cache" in err, err[-400:])
        native = os.path.join(tmp, "course.rpm")
        rc, out, err, _ = run(base, ["model", "convert", uri, native])
        check("model convert s3://... (from the cache)", rc == 0 and os.path.getsize(native) > 0,
              f"rc={rc} err={err[-400:]!r}")
        rc, out, err, _ = run(dict(by_run, RIDEPRED_MODEL_CACHE="off"), ["invoke", EVENT])
        check("cache bypass with s3rver down: clear error, non-zero exit",
              rc != 0 and out == "" and "cannot reach" in err and peer.url in err
              and f"s3://{BUCKET}/{PREFIX}/" in err, f"rc={rc} out={out!r} err={err!r}")
        after = os.listdir(model_cache)
        check("failed bypass leaves the cached copy and no staging",
              entries[0] in after and not any(e.startswith(".") for e in after), f"{after}")
        rc, out, err, _ = run(by_run, ["invoke", EVENT])
        check("the cache still serves after a failed bypass", rc == 0 and parsed(out) == WANT,
              f"rc={rc} err={err[-400:]!r}")
    finally:
        peer.stop()


if __name__ == "__main__":
    main()
