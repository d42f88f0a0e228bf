#!/usr/bin/python3
"""ridepred replay: the rides of a TLC file as ride events, in file order.

Every row of green_tripdata_2021-02 is replayed into a local stream and read
back; each record must be byte for byte what Python's json.dumps writes for
{"ride": {"PULocationID": P, "DOLocationID": Q, "trip_distance": X},
"ride_id": N} with the row's values as hyparquet reads them (an independent
Parquet reader), N the row number, partition key str(N), in file order per
partition.  Also: --start/--limit, --rate pacing, a CSV file, a stream
deleted for 2 s mid-replay (waited out, no ride dropped), clear errors.

Env: RIDEPRED_BIN, RIDEPRED_DATA_DIR (missing: SKIP, exit 77; failure when CI
is set).  Prints `N passed, N failed`.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import ridepy  # noqa: E402
import rptest  # noqa: E402

BIN = rptest.BIN
result = rptest.check
rptest.tally.quiet = True  # only failures are printed


def rp(args, env, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=env, timeout=300, **kw)


def expected(i, row):
    _, _, pu, do, dist = row
    return json.dumps({"ride": {"PULocationID": pu, "DOLocationID": do, "trip_distance": dist}, "ride_id": i})


def raw_data(line):
    """The record's bytes as `ridepred read` embeds them (its last member)."""
    k = line.index('"data": ')
    return line[k + 8:-1]


def main():
    feb = Path(rptest.need_data(ridepy.data_file(2)))
    rows = ridepy.load_rides(feb)
    with tempfile.TemporaryDirectory(prefix="rp-replay-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, RIDEPRED_STREAM_BACKEND="local", RIDEPRED_LOCAL_STORE=str(tmp / "s.db"))
        result(rp(["streams", "create", "rides", "--shards", "2"], env).returncode == 0, "create stream")

        # Every row, as json.dumps writes it.
        p = rp(["replay", str(feb), "--to", "rides"], env)
        result(p.returncode == 0, "replay exit %d: %s" % (p.returncode, p.stderr[-300:]))
        summary = json.loads(p.stdout or "{}")
        result(summary.get("rows") == len(rows) and summary.get("sent") == len(rows) and summary.get("failed") == 0,
               "summary %r for %d rows" % (summary, len(rows)))
        p = rp(["read", "rides", "--from", "trim-horizon"], env)
        result(p.returncode == 0, "read back: %s" % p.stderr[-300:])
        lines = p.stdout.splitlines()
        got = [json.loads(line) for line in lines]
        result(len(got) == len(rows), "%d records read for %d rows" % (len(got), len(rows)))
        bad, order_bad = 0, 0
        last = {}
        for line, rec in zip(lines, got):
            i = int(rec["partition_key"])
            data = raw_data(line)
            if data != expected(i, rows[i]):
                if bad < 3:
                    print("  row %d: got %s want %s" % (i, data, expected(i, rows[i])))
                bad += 1
            if rec["shard"] in last and last[rec["shard"]] > i:
                order_bad += 1
            last[rec["shard"]] = i
        result(bad == 0, "%d records differ from json.dumps of the row" % bad)
        result(order_bad == 0, "%d records out of file order within a shard" % order_bad)
        result(sorted(int(r["partition_key"]) for r in got) == list(range(len(rows))), "every row number once")

        # --start and --limit.
        rp(["streams", "create", "part", "--shards", "1"], env)
        p = rp(["replay", str(feb), "--to", "part", "--start", "100", "--limit", "50"], env)
        result(p.returncode == 0 and json.loads(p.stdout)["sent"] == 50, "start/limit: %s %s" % (p.stdout, p.stderr))
        p = rp(["read", "part", "--from", "trim-horizon"], env)
        ids = [json.loads(line)["data"]["ride_id"] for line in p.stdout.splitlines()]
        result(ids == list(range(100, 150)), "start/limit rows %r" % ids[:5])

        # --rate paces the puts.
        rp(["streams", "create", "paced", "--shards", "1"], env)
        t0 = time.monotonic()
        p = rp(["replay", str(feb), "--to", "paced", "--limit", "300", "--rate", "1000/s"], env)
        took = time.monotonic() - t0
        result(p.returncode == 0 and 0.25 <= took <= 5.0, "300 rides at 1000/s took %.2f s" % took)

        # A CSV file of the same columns gives the same events.
        csv = tmp / "rides.csv"
        with open(csv, "w") as f:
            f.write("VendorID,lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n")
            for r in rows[:20]:
                f.write("2,%s,%s,%d,%d,%r\n" % (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r[0] / 1e6)),
                                                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r[1] / 1e6)),
                                                r[2], r[3], r[4]))
        rp(["streams", "create", "csv", "--shards", "1"], env)
        p = rp(["replay", str(csv), "--to", "csv"], env)
        result(p.returncode == 0, "csv replay: %s" % p.stderr[-300:])
        p = rp(["read", "csv", "--from", "trim-horizon"], env)
        got = [raw_data(line) for line in p.stdout.splitlines()]
        result(got == [expected(i, rows[i]) for i in range(20)], "csv events %r" % got[:2])

        # An outage of the stream is waited out, never a reason to drop a ride:
        # the stream is deleted for 2 s in the middle of a paced replay and
        # created again.  The rides put before the deletion went with the old
        # stream; from the first ride in the new one on, every row is there,
        # none missing, and the summary counts no failure.
        result(rp(["streams", "create", "gone", "--shards", "1"], env).returncode == 0, "create gone")
        proc = subprocess.Popen([BIN, "replay", str(feb), "--to", "gone", "--limit", "5000", "--rate", "1000"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(1.5)
        result(rp(["streams", "delete", "gone"], env).returncode == 0, "delete gone")
        time.sleep(2.0)
        result(rp(["streams", "create", "gone", "--shards", "1"], env).returncode == 0, "create gone again")
        out, err = proc.communicate(timeout=120)
        summary = json.loads(out or "{}")
        result(proc.returncode == 0 and summary.get("sent") == 5000 and summary.get("failed") == 0,
               "replay through an outage: exit %d, %r, %s" % (proc.returncode, summary, err[-500:]))
        result("replay waits and retries" in err and "the stream takes rides again" in err,
               "the wait is logged: %s" % err[-500:])
        back = rp(["read", "gone"], env)
        ids = [json.loads(l)["data"]["ride_id"] for l in back.stdout.splitlines()]
        result(ids and ids == list(range(ids[0], 5000)) and ids[0] > 0,
               "after the outage every row in order, none missing: first %r, %d rows" % (ids[:1], len(ids)))

        # Errors.
        p = rp(["replay", str(tmp / "nope.parquet"), "--to", "rides"], env)
        result(p.returncode == 3 and "nope.parquet" in p.stderr, "missing file: %d %s" % (p.returncode, p.stderr))
        p = rp(["replay", str(tmp), "--to", "rides"], env)
        result(p.returncode == 3 and "not a regular file" in p.stderr, "a directory: %d %s" % (p.returncode, p.stderr))
        (tmp / "empty.csv").write_bytes(b"")
        p = rp(["replay", str(tmp / "empty.csv"), "--to", "rides"], env)
        result(p.returncode == 3 and "empty file" in p.stderr, "an empty file: %d %s" % (p.returncode, p.stderr))
        # A NUL byte in a CSV field would cut it short: refused, naming the line.
        (tmp / "nul.csv").write_bytes(b"lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,"
                                      b"trip_distance\n2021-02-01 00:00:00,2021-02-01 00:10:00,1,2,0.5\n"
                                      b"2021-02-01 00:00:00\x00junk,2021-02-01 00:10:00,1,2,1.5\n")
        p = rp(["replay", str(tmp / "nul.csv"), "--to", "rides"], env)
        result(p.returncode == 3 and "nul.csv:3: a NUL byte in a field" in p.stderr,
               "a NUL byte in a CSV field: %d %s" % (p.returncode, p.stderr))
        (tmp / "short.parquet").write_bytes(b"PAR1xx")
        p = rp(["replay", str(tmp / "short.parquet"), "--to", "rides"], env)
        result(p.returncode == 3 and "short.parquet" in p.stderr, "a truncated Parquet file: %d %s" % (p.returncode, p.stderr))
        p = rp(["replay", str(feb), "--to", "no_such_stream"], env)
        result(p.returncode == 3 and "no_such_stream" in p.stderr, "missing stream: %d %s" % (p.returncode, p.stderr))
        p = rp(["replay", str(feb)], env)
        result(p.returncode == 2 and "--to" in p.stderr, "no --to: %d" % p.returncode)
        for bad_rate in ("fast", "-5", "100/min"):
            p = rp(["replay", str(feb), "--to", "rides", "--rate", bad_rate], env)
            result(p.returncode == 2 and "--rate" in p.stderr, "bad rate %s: %d %s" % (bad_rate, p.returncode, p.stderr))
        p = rp(["replay", str(feb), "--to", "rides", "--start", "99999999"], env)
        result(p.returncode == 3 and "past the end" in p.stderr, "start past end: %d %s" % (p.returncode, p.stderr))
        result(rp(["replay", "--help"], env).returncode == 0, "--help")
    rptest.tally.finish()


if __name__ == "__main__":
    main()
