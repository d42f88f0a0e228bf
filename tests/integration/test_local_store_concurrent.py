"""Several processes on one local stream store at once.

Two producer processes put 50,000 records each (100,000 in all; PutRecords
batches of 500 and of 137) into a 4-shard stream while a reader process walks
every shard from TRIM_HORIZON, following its iterators until it has read
100,000 records.  Then a second walk reads the finished stream again.  For
each walk:

  - every record is read exactly once (no loss, no duplicate);
  - within each shard, sequence numbers strictly increase, arrival times never
    decrease, and each producer's records appear in the order it put them;
  - every record is in the shard whose hash-key range holds the MD5 of its
    partition key (computed here with hashlib, ranges as Kinesis lays them
    out: floor(2^128 / 4) keys each);
  - a sequence number encodes its shard (digits 2-13 are the shard index).

Driver: $RIDEPRED_BUILD_DIR/local_store_tool (default: build/ under the source
tree).  Prints "N passed, N failed" (one per check); exits 1 on any failure.
Run as: /usr/bin/python3 tests/integration/test_local_store_concurrent.py
"""

import collections
import hashlib
import os
import subprocess
import sys
import tempfile
import time

PRODUCERS = (("A", 50_000, 500), ("B", 50_000, 137))
TOTAL = sum(n for _, n, _ in PRODUCERS)
SHARDS = 4
TIMEOUT_S = 600

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def expected_shard(key):
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    size = 2**128 // SHARDS
    return min(h // size, SHARDS - 1)


def verify(label, lines):
    """Checks one walk's output lines: SHARD SEQ ARRIVAL PK DATA."""
    records = [ln.split(" ") for ln in lines if ln]
    check(all(len(r) == 5 for r in records), f"{label}: malformed lines")
    records = [r for r in records if len(r) == 5]
    check(len(records) == TOTAL, f"{label}: read {len(records)} records, want {TOTAL}")

    seen = collections.Counter(r[4] for r in records)
    want = {f"{p}-{i}" for p, n, _ in PRODUCERS for i in range(n)}
    dups = [k for k, c in seen.items() if c > 1]
    check(not dups, f"{label}: {len(dups)} records read more than once, e.g. {dups[:5]}")
    missing = want - seen.keys()
    check(not missing, f"{label}: {len(missing)} records missing, e.g. {sorted(missing)[:5]}")
    extra = seen.keys() - want
    check(not extra, f"{label}: {len(extra)} unexpected records, e.g. {sorted(extra)[:5]}")
    check(all(r[3] == r[4] for r in records), f"{label}: partition key differs from data")

    by_shard = collections.defaultdict(list)
    for r in records:
        by_shard[r[0]].append(r)
    check(len(by_shard) == SHARDS, f"{label}: records in {len(by_shard)} shards, want {SHARDS}")
    bad_order = bad_arrival = bad_producer = bad_place = bad_seq_shard = 0
    for shard, recs in by_shard.items():
        index = int(shard.split("-")[1])
        last_seq, last_arrival = "", -1
        last_i = {p: -1 for p, _, _ in PRODUCERS}
        for s, seq, arrival, key, data in recs:
            if not (len(seq) == 33 and seq > last_seq and int(seq) > int(last_seq or 0)):
                bad_order += 1
            last_seq = seq
            if int(arrival) < last_arrival:
                bad_arrival += 1
            last_arrival = int(arrival)
            p, i = data.split("-")
            if int(i) <= last_i[p]:
                bad_producer += 1
            last_i[p] = int(i)
            if expected_shard(key) != index:
                bad_place += 1
            if int(seq[1:13]) != index:
                bad_seq_shard += 1
    check(bad_order == 0, f"{label}: {bad_order} sequence numbers out of order")
    check(bad_arrival == 0, f"{label}: {bad_arrival} arrival times going back")
    check(bad_producer == 0, f"{label}: {bad_producer} records out of their producer's order")
    check(bad_place == 0, f"{label}: {bad_place} records in the wrong shard for their MD5")
    check(bad_seq_shard == 0, f"{label}: {bad_seq_shard} sequence numbers of another shard")
    return sum(sum(1 for a, b in zip(recs, recs[1:]) if a[4][0] != b[4][0])
               for recs in by_shard.values())


def main():
    src = os.environ.get("RIDEPRED_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.environ.get("RIDEPRED_BUILD_DIR") or os.path.join(src, "build")
    tool = os.path.join(build, "local_store_tool")
    if not os.access(tool, os.X_OK):
        print(f"{tool} is not built", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="rp_local_concurrent.") as tmp:
        store = os.path.join(tmp, "streams.db")
        subprocess.run([tool, "create", store, "s", str(SHARDS)], check=True)

        out_path = os.path.join(tmp, "reader.out")
        t0 = time.monotonic()
        with open(out_path, "w") as out:
            reader = subprocess.Popen(
                [tool, "read", store, "s", "--until", str(TOTAL), "--timeout", str(TIMEOUT_S)],
                stdout=out, stderr=subprocess.PIPE, text=True)
            producers = [
                subprocess.Popen([tool, "put", store, "s", str(n), prefix, str(batch)],
                                 stdout=subprocess.DEVNULL)
                for prefix, n, batch in PRODUCERS]
            for p, (prefix, _, _) in zip(producers, PRODUCERS):
                check(p.wait(timeout=TIMEOUT_S) == 0, f"producer {prefix} failed")
            t_put = time.monotonic() - t0
            _, reader_err = reader.communicate(timeout=TIMEOUT_S)
            check(reader.returncode == 0, f"concurrent reader failed: {reader_err.strip()}")
        t_all = time.monotonic() - t0
        with open(out_path) as f:
            switches = verify("concurrent walk", f.read().split("\n"))
        # The run really was concurrent: the producers' records interleave
        # within shards, and the reader found records in several passes.
        check(switches > 0, f"producers did not overlap ({switches} switches between them)")
        rounds = int(reader_err.split()[-2]) if reader_err.startswith("read ") else 0
        check(rounds > 1, f"the reader read everything in {rounds} round(s): not concurrent")

        again = subprocess.run([tool, "read", store, "s"], capture_output=True, text=True,
                               timeout=TIMEOUT_S)
        check(again.returncode == 0, f"second walk failed: {again.stderr.strip()}")
        verify("second walk", again.stdout.split("\n"))

    print(f"producers done in {t_put:.2f} s, concurrent reader in {t_all:.2f} s"
          f" ({rounds} rounds with records, {switches} producer switches within shards)",
          file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
