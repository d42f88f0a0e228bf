#!/usr/bin/python3
"""Lambda's Kafka events (docs/handler.md §2, §3.1), end to end through
`ridepred invoke` with the course model:

  - the rides of every course fixture event (the Kinesis events' records
    and the direct events), sent as one Kinesis event and as one Kafka
    event (Amazon MSK's shape, its records spread over three
    topic-partitions in the same order; and self-managed Kafka's shape),
    answer byte for byte the same, every ride served;
  - published (no TEST_RUN, the local store), both put the same records on
    the predictions stream: the same data bytes and partition keys;
  - a tombstone (null value), a missing value and a value that is not
    base64 fail alone, named by topic-partition and offset in
    batchItemFailures; the other rides answer what the Kinesis event
    answers;
  - a malformed Kafka event (records not an object, a record without an
    offset, a topic-partition named twice) is a function error
    (InvalidEvent, exit 1) whose message names the problem.

Environment: RIDEPRED_BIN, RIDEPRED_FIXTURES_DIR.  Skips (exit 77) without
the binary or the fixtures, and fails when CI is set.
"""

import base64
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

BIN = rptest.need_bin()
MODEL, EVENTS = rptest.need_fixtures("course-model", "events")


def fixture_rides():
    """The ride payloads (bytes) of every fixture event, in file order:
    each Kinesis record's decoded data, each direct event as it is."""
    rides = []
    names = sorted(n for n in os.listdir(EVENTS) if n.endswith(".json"))
    for n in names:
        with open(os.path.join(EVENTS, n), "rb") as f:
            raw = f.read()
        ev = json.loads(raw)
        if "Records" in ev:
            rides += [base64.b64decode(r["kinesis"]["data"]) for r in ev["Records"]]
        else:
            rides.append(raw)
    assert len(rides) >= 4, f"expected the course fixture events in {EVENTS}, found {names}"
    return rides


def b64(data):
    return base64.b64encode(data).decode("ascii") if data is not None else None


def kinesis_event(payloads):
    """Lambda's Kinesis event of the payloads, sequence numbers 1, 2, ..."""
    return json.dumps({"Records": [
        {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": str(i + 1),
                     "data": b64(p), "approximateArrivalTimestamp": 1654161514.132},
         "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000000:%d" % (i + 1),
         "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/ridepred",
         "awsRegion": "eu-west-1", "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/ride_events"}
        for i, p in enumerate(payloads)]}).encode()


def kafka_event(payloads, parts=3, msk=True, value_of=None):
    """Lambda's Kafka event of the payloads: consecutive runs of them under
    the keys ride_events-0, -1, ... (so key order, then list order, is the
    payloads' order); offsets 100, 101, ...  value_of(i, payload) may
    return a record's members in place of {"value": b64(payload)}."""
    records = {}
    per = -(-len(payloads) // parts)
    for i, p in enumerate(payloads):
        part = i // per
        rec = {"topic": "ride_events", "partition": part, "offset": 100 + i, "timestamp": 1545084650987,
               "timestampType": "CREATE_TIME", "key": b64(str(i).encode())}
        rec.update(value_of(i, p) if value_of else {"value": b64(p)})
        rec["headers"] = [{"headerKey": list(b"headerValue")}]
        records.setdefault("ride_events-%d" % part, []).append(rec)
    ev = {"eventSource": "aws:kafka" if msk else "SelfManagedKafka"}
    if msk:
        ev["eventSourceArn"] = ("arn:aws:kafka:eu-west-1:123456789012:cluster/rides/"
                                "751d2973-a626-431c-9d4e-d7975eb44dd7-2")
    ev["bootstrapServers"] = "b-1.rides.kafka.eu-west-1.amazonaws.com:9098,b-2.rides.kafka.eu-west-1.amazonaws.com:9098"
    ev["records"] = records
    return json.dumps(ev).encode()


def invoke(tmp, name, event, env=None, test_run=True):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(event)
    args = [BIN, "invoke", "--model", MODEL, "--model-version", "v1"] + (["--test-run"] if test_run else []) + [path]
    return subprocess.run(args, capture_output=True, timeout=120, env=env)


def t_kafka_answers_as_kinesis(tmp):
    rides = fixture_rides()
    kin = invoke(tmp, "kinesis.json", kinesis_event(rides))
    assert kin.returncode == 0, kin.stderr.decode()
    answer = json.loads(kin.stdout)
    assert len(answer["predictions"]) == len(rides) and "batchItemFailures" not in answer, kin.stdout
    for msk in (True, False):
        for parts in (1, 3):
            kaf = invoke(tmp, "kafka.json", kafka_event(rides, parts=parts, msk=msk))
            assert kaf.returncode == 0, kaf.stderr.decode()
            assert kaf.stdout == kin.stdout, (
                f"msk={msk} parts={parts}: the Kafka event answers\n{kaf.stdout!r}\nthe Kinesis event\n{kin.stdout!r}")


def read_stream(env, name):
    r = subprocess.run([BIN, "read", name], capture_output=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr.decode()
    return [(x["partition_key"], json.dumps(x["data"])) for x in map(json.loads, r.stdout.splitlines())]


def t_kafka_published_as_kinesis(tmp):
    rides = fixture_rides()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KINESIS_", "TEST_RUN", "MODEL_"))}
    env["RIDEPRED_LOCAL_STORE"] = os.path.join(tmp, "streams.db")
    env["RIDEPRED_STREAM_BACKEND"] = "local"
    read = {}
    for kind, event in (("kinesis", kinesis_event(rides)), ("kafka", kafka_event(rides))):
        stream = "predictions_" + kind
        r = subprocess.run([BIN, "streams", "create", stream], capture_output=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr.decode()
        r = invoke(tmp, kind + ".json", event, env=dict(env, PREDICTIONS_STREAM_NAME=stream), test_run=False)
        assert r.returncode == 0 and b"batchItemFailures" not in r.stdout, r.stdout + r.stderr
        read[kind] = read_stream(env, stream)
    assert len(read["kafka"]) == len(rides), read["kafka"]
    assert read["kafka"] == read["kinesis"], read


def t_kafka_partial_failures(tmp):
    rides = fixture_rides()
    bad = {1: {"value": None}, 2: {}, 4: {"value": "not base64!"}}

    def value_of(i, p):
        return bad.get(i, {"value": b64(p)})

    payloads = rides + rides[:2]  # at least six records over three keys
    kaf = invoke(tmp, "kafka.json", kafka_event(payloads, parts=3, value_of=value_of))
    assert kaf.returncode == 0, kaf.stderr.decode()
    good = [p for i, p in enumerate(payloads) if i not in bad]
    kin = invoke(tmp, "kinesis.json", kinesis_event(good))
    answer = json.loads(kaf.stdout)
    assert answer["predictions"] == json.loads(kin.stdout)["predictions"], kaf.stdout
    per = -(-len(payloads) // 3)
    want = [{"itemIdentifier": {"partition": "ride_events-%d" % (i // per), "offset": 100 + i}} for i in sorted(bad)]
    assert answer["batchItemFailures"] == want, answer["batchItemFailures"]
    # the keys of the answer, as json.dumps writes them
    assert kaf.stdout.rstrip(b"\n").endswith(json.dumps({"batchItemFailures": want})[1:].encode()), kaf.stdout
    log = kaf.stderr.decode()
    assert "value is null (a tombstone)" in log and "value is missing" in log and "bad base64" in log, log


def t_kafka_malformed_events(tmp):
    good = b64(fixture_rides()[0])
    for name, event, says in (
            ("records not an object", {"eventSource": "aws:kafka", "records": [good]}, "is not an object"),
            ("a record without offset", {"eventSource": "aws:kafka", "records": {"t-0": [{"value": good}]}},
             "has no offset"),
            ("a topic-partition twice", None, "twice")):
        raw = (json.dumps(event).encode() if event is not None else
               b'{"eventSource": "aws:kafka", "records": {"t-0": [], "t-0": [{"offset": 1, "value": "%s"}]}}'
               % good.encode())
        r = invoke(tmp, "bad.json", raw)
        assert r.returncode == 1, f"{name}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        body = json.loads(r.stdout)
        assert body["errorType"] == "InvalidEvent", f"{name}: {body}"
        assert says in body["errorMessage"], f"{name}: the message should say {says!r}: {body}"


def main():
    rptest.run([t_kafka_answers_as_kinesis, t_kafka_published_as_kinesis, t_kafka_partial_failures,
                t_kafka_malformed_events], tmp_prefix="kafka-event-")


if __name__ == "__main__":
    main()
