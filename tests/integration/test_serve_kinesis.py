#!/usr/bin/python3
"""The course's integration test (test_docker.py + test_kinesis.py),
reproduced without Docker: `ridepred serve` instead of the container image,
kinesalite instead of localstack.

  1. kinesalite on 127.0.0.1 (tests/tools/kinesis_peer.mjs, as the other
     Kinesis tests start it); `aws kinesis create-stream ride_predictions`;
  2. `ridepred serve` with the course's MLflow model, RUN_ID=Test123,
     PREDICTIONS_STREAM_NAME=ride_predictions, KINESIS_ENDPOINT_URL, fake
     credentials (no TEST_RUN);
  3. POST the course's Kinesis event -> the course's expected response;
  4. `aws kinesis get-shard-iterator` / `get-records` on ride_predictions ->
     exactly one record, equal to the expected prediction event.

Then: a direct ride event is answered and not published; 8 concurrent
clients publish every prediction exactly once (one stream connection per
pool thread); TEST_RUN=True publishes nothing; a missing predictions stream
turns records into batchItemFailures, counted on /metrics.

Environment and skips as in test_serve.py, plus node, the npm package
kinesalite (tests/tools) and Debian's AWS CLI (/usr/bin/aws).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_serve as ts  # noqa: E402
import rptest  # noqa: E402  (on the path test_serve put it)
from test_kinesis_peers import Peer  # noqa: E402

AWS = "/usr/bin/aws"
# The course's test_kinesis.py expectation.
EXPECTED_RECORD = {"model": "ride_duration_prediction_model", "version": "Test123",
                   "prediction": {"ride_duration": 21.294545348333408, "ride_id": 256}}


def check_prerequisites():
    ts.check_prerequisites()
    rptest.need_node("kinesalite")
    if not os.access(AWS, os.X_OK):
        rptest.skip("Debian's AWS CLI (/usr/bin/aws) is missing: apt-get install awscli")


class Kinesis:
    def __init__(self, peer, tmp):
        self.peer = peer
        self.env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8",
                    "AWS_ACCESS_KEY_ID": "abc", "AWS_SECRET_ACCESS_KEY": "xyz",
                    "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""}

    def aws(self, *args):
        p = subprocess.run([AWS, "--no-cli-pager", "--endpoint-url", self.peer.endpoint, "--output", "json",
                            "kinesis"] + list(args), capture_output=True, timeout=120, env=self.env)
        if p.returncode != 0:
            raise AssertionError(f"aws kinesis {' '.join(args)} exited {p.returncode}: {p.stderr.decode()}")
        out = p.stdout.decode()
        return json.loads(out) if out.strip() else {}

    def create(self, name, shards=1):
        """As the course's run.sh creates it: aws kinesis create-stream."""
        self.aws("create-stream", "--stream-name", name, "--shard-count", str(shards))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = self.aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
            if s["StreamStatus"] == "ACTIVE":
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} did not become ACTIVE")

    def create_quick(self, tmp, name, shards=1):
        """ridepred streams create (waits for ACTIVE; no AWS CLI start-up)."""
        p = subprocess.run([ts.BIN, "streams", "create", f"kinesis:{name}", "--shards", str(shards)],
                           capture_output=True, timeout=60, env=self.serve_env(tmp))
        ts.expect(p.returncode == 0, p.stderr)

    def records_boto3(self, name):
        """Every record, read with boto3 (quicker than one AWS CLI run per page)."""
        import boto3
        c = boto3.client("kinesis", endpoint_url=self.peer.endpoint, region_name="eu-west-1",
                         aws_access_key_id="abc", aws_secret_access_key="xyz")
        out = []
        for sh in c.list_shards(StreamName=name)["Shards"]:
            it = c.get_shard_iterator(StreamName=name, ShardId=sh["ShardId"],
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                page = c.get_records(ShardIterator=it, Limit=10000)
                out += [(r["PartitionKey"], r["Data"]) for r in page["Records"]]
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        return out

    def records(self, name):
        """Every record, read as the course's test_kinesis.py reads them."""
        out = []
        for sh in self.aws("list-shards", "--stream-name", name)["Shards"]:
            it = self.aws("get-shard-iterator", "--stream-name", name, "--shard-id", sh["ShardId"],
                          "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
            while it:
                page = self.aws("get-records", "--shard-iterator", it, "--limit", "10000")
                out += [(r["PartitionKey"], base64.b64decode(r["Data"])) for r in page["Records"]]
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        return out

    def serve_env(self, tmp, **extra):
        env = ts.base_env(tmp, **self.env)
        env.pop("TEST_RUN")
        env.update(KINESIS_ENDPOINT_URL=self.peer.endpoint, PREDICTIONS_STREAM_NAME="ride_predictions")
        env.update(extra)
        return env


def metrics(srv):
    status, _, body = srv.request("GET", "/metrics")
    ts.expect(status == 200, status)
    return ts.parse_prometheus(body.decode())


def t_course(k, tmp):
    k.create("ride_predictions")
    srv = ts.Server(tmp, env=k.serve_env(tmp))
    try:
        # test_docker.py
        status, headers, body = srv.invoke(open(ts.COURSE_EVENT, "rb").read())
        ts.expect(status == 200 and "x-amz-function-error" not in headers, (status, headers))
        ts.expect(body == ts.EXPECTED_BYTES, body)
        # test_kinesis.py
        recs = k.records("ride_predictions")
        ts.expect(len(recs) == 1, recs)
        ts.expect(json.loads(recs[0][1]) == EXPECTED_RECORD, recs[0][1])
        ts.expect(recs[0][1] == json.dumps(EXPECTED_RECORD).encode(), recs[0][1])
        ts.expect(recs[0][0] == "256", recs[0][0])
        h = json.loads(srv.request("GET", "/healthz")[2])
        ts.expect(h["publishes"] is True and h["predictions_stream"] == "kinesis:ride_predictions", h)
        # A direct ride event is answered, never published.
        status, _, body = srv.invoke(json.dumps(ts.ride(777)).encode())
        ts.expect(status == 200 and json.loads(body)["ride_id"] == 777, body)
        ts.expect(len(k.records_boto3("ride_predictions")) == 1, "a direct event was published")
        ts.expect(ts.metric(metrics(srv), "ridepred_published_records_total") == 1, "published counter")
    finally:
        ts.expect(srv.stop() == 0, "exit status")


def t_concurrent_publishing(k, tmp):
    k.create_quick(tmp, "ride_predictions_many", shards=2)
    srv = ts.Server(tmp, ["--threads", "2"], env=k.serve_env(tmp, PREDICTIONS_STREAM_NAME="ride_predictions_many"))
    errors = []
    try:
        def client(c):
            try:
                conn = srv.conn()
                for i in range(5):
                    rides = [ts.ride(10000 + c * 100 + i * 10 + j, 100 + j, 200 + i, 1.0 + c) for j in range(3)]
                    conn.request("POST", ts.INVOKE_PATH, body=ts.kinesis_event(rides))
                    r = conn.getresponse()
                    resp = json.loads(r.read())
                    if r.status != 200 or len(resp["predictions"]) != 3:
                        raise AssertionError(f"{r.status} {resp}")
                conn.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        ts.expect(not errors, errors[:3])
        recs = k.records_boto3("ride_predictions_many")
        ids = sorted(json.loads(d)["prediction"]["ride_id"] for _, d in recs)
        want = sorted(10000 + c * 100 + i * 10 + j for c in range(8) for i in range(5) for j in range(3))
        ts.expect(ids == want, f"{len(ids)} records, {len(set(ids))} distinct, want {len(want)}")
        ts.expect(all(pk == str(json.loads(d)["prediction"]["ride_id"]) for pk, d in recs), "partition keys")
        m = metrics(srv)
        ts.expect(ts.metric(m, "ridepred_published_records_total") == 120, "published counter")
        ts.expect(ts.metric(m, "ridepred_records_total") == 120, "records counter")
    finally:
        ts.expect(srv.stop() == 0, "exit status")


def t_test_run(k, tmp):
    k.create_quick(tmp, "ride_predictions_test_run")
    srv = ts.Server(tmp, env=k.serve_env(tmp, PREDICTIONS_STREAM_NAME="ride_predictions_test_run",
                                         TEST_RUN="True"))
    try:
        status, _, body = srv.invoke(open(ts.COURSE_EVENT, "rb").read())
        ts.expect(status == 200 and body == ts.EXPECTED_BYTES, body)
        ts.expect(k.records_boto3("ride_predictions_test_run") == [], "TEST_RUN=True published")
    finally:
        ts.expect(srv.stop() == 0, "exit status")


def t_missing_stream(k, tmp):
    srv = ts.Server(tmp, env=k.serve_env(tmp, PREDICTIONS_STREAM_NAME="no_such_stream"))
    try:
        status, headers, body = srv.invoke(open(ts.COURSE_EVENT, "rb").read())
        resp = json.loads(body)
        ts.expect(status == 200 and "x-amz-function-error" not in headers, (status, headers))
        ts.expect(resp["predictions"] == [] and len(resp["batchItemFailures"]) == 1, resp)
        m = metrics(srv)
        ts.expect(ts.metric(m, "ridepred_record_failures_total") == 1, "failures counter")
        ts.expect(ts.metric(m, "ridepred_published_records_total") == 0, "published counter")
    finally:
        ts.expect(srv.stop() == 0, "exit status")


TESTS = [t_course, t_concurrent_publishing, t_test_run, t_missing_stream]


def main():
    check_prerequisites()
    tmp = tempfile.mkdtemp(prefix="rp-serve-kinesis-")
    try:
        peer = Peer("kinesalite", tmp)
        try:
            rptest.run(TESTS, Kinesis(peer, tmp), tmp, finish=False)
        finally:
            peer.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rptest.tally.finish()


if __name__ == "__main__":
    main()
