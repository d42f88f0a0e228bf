#!/usr/bin/python3
"""The Parquet and CSV trip readers (src/data/parquet.c, src/data/trips.c),
through build/parquet_dump, against independent readers and writers:

1. Every row of the five course columns of the three TLC files in
   RIDEPRED_DATA_DIR equals what hyparquet (npm, tests/tools/rides.mjs) reads.
2. Files written at test time by parquet-wasm (arrow-rs; tests/tools/
   parquet_gen.mjs) in every codec (UNCOMPRESSED, SNAPPY, GZIP, ZSTD),
   dictionary on and off (with fallback to PLAIN mid-chunk), data pages v1
   and v2, several row groups and pages, nulls, ints of every width,
   floats, doubles (NaN, infinities), strings, booleans, timestamps in ms /
   us / ns: every value equals what was written.  Trip files in those
   shapes give microseconds, int32 ids and doubles; BROTLI, LZ4, LZ4_RAW,
   DELTA_*, BYTE_STREAM_SPLIT and nested columns are refused by name.
3. CSV: a month written as CSV by hyparquet (quoted fields, CRLF, a column
   with commas, quotes and line breaks; plain and gzip'd) gives the same
   trips as the Parquet file; hand-written CSVs for nulls, BOM, fractions
   of seconds and every refusal.
4. Damaged files (truncations, flipped bytes) are refused with a message,
   never a crash."""
import gzip
import json
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402

DATA, TOOLS = rptest.DATA, rptest.TOOLS
DUMP = os.path.join(rptest.BUILD, "parquet_dump")
MONTHS = ["green_tripdata_2021-%s.parquet" % m for m in ("01", "02", "03")]
check = rptest.check
rptest.tally.quiet = True  # thousands of checks: only failures are printed


def dump(*args, text=True):
    r = subprocess.run([DUMP] + [str(a) for a in args], capture_output=True)
    if text:
        r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode(errors="replace")
    return r


def node(script, *args):
    r = subprocess.run(["node", os.path.join(TOOLS, script)] + [str(a) for a in args], capture_output=True,
                       text=True, cwd=TOOLS)
    if r.returncode != 0:
        raise SystemExit("%s failed: %s" % (script, r.stderr[-2000:]))
    return r.stdout


def rows(text):
    return [json.loads(line) for line in text.splitlines() if line]


def same(a, b):
    """Equal values; floats bit-for-bit except that NaN equals NaN."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, str) != isinstance(b, str):
        return False
    if isinstance(a, float) and isinstance(b, int) and not isinstance(b, bool):
        return a == float(b)  # JavaScript prints 2.4e17 as an integer
    return a == b and (not isinstance(a, float) or not isinstance(b, float) or
                       math.copysign(1, a) == math.copysign(1, b) or a != 0)


def compare_rows(got, want, what):
    if not check(len(got) == len(want), "%s: %d rows, expected %d" % (what, len(got), len(want))):
        return
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if not same(g, w)]
    check(not bad, "%s: %d rows differ, first row %s: got %r, want %r" %
          (what, len(bad), bad[0] if bad else -1, got[bad[0]] if bad else None, want[bad[0]] if bad else None))


def refused(r, text, what):
    check(r.returncode == 1 and text in r.stderr,
          "%s: expected a refusal naming %r, got exit %d: %s" % (what, text, r.returncode, r.stderr.strip()[:300]))


def test_readers(tmp):
    # ---- 1. the TLC months against hyparquet -------------------------------------
    for m in MONTHS:
        path = os.path.join(DATA, m)
        want = rows(node("rides.mjs", path))
        r = dump(path, "--trips")
        if check(r.returncode == 0, "%s: %s" % (m, r.stderr)):
            got = rows(r.stdout)
            compare_rows(got, want, m)
            print("%s: %d rows, 5 columns equal hyparquet's" % (m, len(got)), file=sys.stderr)
        # the generic column reader agrees with the trip reader
        r = dump(path, "--columns", "lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance")
        check(r.returncode == 0 and same(rows(r.stdout), want), "%s: --columns differs from hyparquet" % m)
    r = dump(os.path.join(DATA, MONTHS[0]), "--trips", "--limit", "10")
    check(r.returncode == 0 and len(rows(r.stdout)) == 10, "--limit 10: %r" % r.stdout[:200])

    # ---- 2. generated files ----------------------------------------------------------
    gen = os.path.join(tmp, "gen")
    node("parquet_gen.mjs", gen)
    with open(os.path.join(gen, "manifest.json")) as f:
        manifest = json.load(f)
    kinds = set()
    for case in manifest:
        path = os.path.join(gen, case["file"])
        what = "%s %s" % (case["file"], ",".join(case.get("columns", ["--trips"])))
        if case["kind"] == "trips":
            r = dump(path, "--trips")
        else:
            r = dump(path, "--columns", ",".join(case["columns"]))
        if "error" in case:
            refused(r, case["error"], what)
            kinds.add("refused " + case["error"])
            continue
        if not check(r.returncode == 0, "%s: exit %d: %s" % (what, r.returncode, r.stderr.strip())):
            continue
        with open(os.path.join(gen, case["expected"])) as f:
            want = rows(f.read())
        compare_rows(rows(r.stdout), want, what)
        kinds.add(case["file"])
    print("generated: %d cases (%d files read, %d refusals)" %
          (len(manifest), len([k for k in kinds if not k.startswith("refused")]),
           len([k for k in kinds if k.startswith("refused")])), file=sys.stderr)

    # the schema: logical types as written, several row groups
    r = dump(os.path.join(gen, "base-gzip-dict-v2.parquet"), "--schema")
    sch = {c["name"]: c for c in rows(r.stdout) if "name" in c}
    meta = rows(r.stdout)[-1]
    check(meta.get("rows") == 3000 and meta.get("row_groups") == 3, "base: %r" % meta)
    expect = {
        "i32": ("INT32", "NONE", "", True), "i32_req": ("INT32", "NONE", "", False),
        "ts_ms": ("INT64", "TIMESTAMP", "MILLIS", True), "ts_us": ("INT64", "TIMESTAMP", "MICROS", True),
        "ts_ns": ("INT64", "TIMESTAMP", "NANOS", True), "str": ("BYTE_ARRAY", "STRING", "", True),
        "flag_req": ("BOOLEAN", "NONE", "", False), "f32": ("FLOAT", "NONE", "", True),
    }
    for name, (ty, logical, unit, optional) in expect.items():
        c = sch.get(name, {})
        check((c.get("type"), c.get("logical"), c.get("unit"), c.get("optional")) == (ty, logical, unit, optional),
              "schema of %s: %r" % (name, c))
    check(sch["ts_us"]["utc"] is True and sch["ts_ns"]["utc"] is False, "utc flags: %r %r" % (sch["ts_us"], sch["ts_ns"]))
    for name, bits, signed in (("i8", 8, True), ("u16", 16, False), ("u32", 32, False), ("u64", 64, False)):
        c = sch.get(name, {})
        check(c.get("logical") == "INT" and c.get("bits") == bits and c.get("signed") is signed,
              "schema of %s: %r" % (name, c))
    r = dump(os.path.join(gen, "nested.parquet"), "--schema")
    nested = {c["name"]: c["nested"] for c in rows(r.stdout) if "name" in c}
    check(nested == {"flat": False, "l.list.item": True, "s.x": True}, "nested schema: %r" % nested)
    # --limit stops inside a row group and a page
    r = dump(os.path.join(gen, "base-snappy-dict-v1.parquet"), "--columns", "str,ts_ns", "--limit", "1234")
    with open(os.path.join(gen, "base.expected.jsonl")) as f:
        base = rows(f.read())
    names = manifest[0]["columns"]
    si, ti = names.index("str"), names.index("ts_ns")
    compare_rows(rows(r.stdout), [[b[si], b[ti]] for b in base[:1234]], "--limit 1234")

    # ---- 3. CSV ---------------------------------------------------------------------------
    feb = os.path.join(DATA, MONTHS[1])
    want = dump(feb, "--trips").stdout
    for name in ("feb.csv", "feb.csv.gz"):
        out = os.path.join(tmp, name)
        node("trips_csv.mjs", feb, out)
        r = dump(out, "--trips")
        check(r.returncode == 0 and r.stdout == want,
              "%s: exit %d, %d lines, equal to the Parquet file: %s (%s)" %
              (name, r.returncode, r.stdout.count("\n"), r.stdout == want, r.stderr.strip()))
    with open(os.path.join(tmp, "feb.csv"), "rb") as f:
        text = f.read()
    check(b'"with ""quotes"""' in text and b'"two\nlines"' in text and b"\r\n" in text,
          "the generated CSV has quoted quotes, line breaks and CRLF")

    def csv_case(name, body, expect=None, error=None, raw=False):
        path = os.path.join(tmp, name)
        data = body if raw else body.encode()
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if name.endswith(".gz") and not raw else data)
        r = dump(path, "--trips")
        if error:
            refused(r, error, "csv " + name)
        elif check(r.returncode == 0, "csv %s: %s" % (name, r.stderr.strip())):
            compare_rows(rows(r.stdout), expect, "csv " + name)

    H = "lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n"
    T0 = 1609459200000000  # 2021-01-01 00:00:00
    csv_case("nulls.csv", H + "2021-01-01 00:00:00,,1,,\n,2021-01-01 00:00:01.5,,265,0.25\n\n",
             [[T0, None, 1, None, None], [None, T0 + 1500000, None, 265, 0.25]])
    csv_case("order.csv", "\ufefftrip_distance,x,DOLocationID,PULocationID,lpep_dropoff_datetime,lpep_pickup_datetime\r\n"
             '"3.5","a,b",7,"8","2021-01-01T00:00:00.000001","1969-12-31 23:59:59"\r\n'
             '1e1,"multi\r\nline ""x""",1.0,2,2020-02-29 12:00:00,2020-02-29\r\n',
             [[-1000000, T0 + 1, 8, 7, 3.5], [1582934400000000, 1582977600000000, 2, 1, 10.0]])
    csv_case("yellow.csv.gz", "tpep_pickup_datetime,tpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n"
             "2021-01-01 00:00:00,2021-01-01 00:10:00,4,5,1.25\n", [[T0, T0 + 600000000, 4, 5, 1.25]])
    csv_case("fhv.csv", "dispatching_base_num,pickup_datetime,dropOff_datetime,PUlocationID,DOlocationID,trip_distance\n"
             "B00013,2021-01-01 00:00:00,2021-01-01 00:10:00,,,\n", [[T0, T0 + 600000000, None, None, None]])
    csv_case("header-only.csv", H, [])
    csv_case("missing.csv", "lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID\n",
             error="no column trip_distance")
    csv_case("empty.csv", "", error="empty file")
    csv_case("badtime.csv", H + "2021-02-30 00:00:00,,1,2,3\n", error='"2021-02-30 00:00:00" is not a time')
    csv_case("badnum.csv", H + ",,1,2,3km\n", error='"3km" is not a number')
    csv_case("badid.csv", H + ",,1.5,2,3\n", error='"1.5" is not a location id')
    csv_case("bigid.csv", H + ",,4294967296,2,3\n", error="is not a location id")
    csv_case("fields.csv", H + ",,1,2\n", error=":2: 4 fields, the header has 5")
    csv_case("unclosed.csv", H + ',,1,2,"3\n', error="quoted field is not closed")
    csv_case("afterquote.csv", H + ',,1,2,"3"x\n', error="after a closing quote")
    csv_case("badgz.csv.gz", b"\x1f\x8b\x08\x00garbage", error="gzip", raw=True)
    # A NUL byte would cut a field short ("1.5\0junk" read as 1.5): refused, naming the line.
    csv_case("nul.csv", H + ",,1,2,3\n,,1,2,1.5\0junk\n", error="nul.csv:3: a NUL byte in a field")
    csv_case("nul-time.csv", H + "2021-01-01 00:00:00\0x,,1,2,3\n", error="nul-time.csv:2: a NUL byte")
    csv_case("nul-quoted.csv", "x," + H + '"a\nb",,,1,2,3\n"c\0",,,1,2,3\n', error="nul-quoted.csv:4: a NUL byte")
    csv_case("nul-header.csv", "lpep_pickup_datetime\0,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n",
             error="nul-header.csv:1: a NUL byte")
    csv_case("nul-unused.csv.gz", "x," + H + "a\0b,,,1,2,3\n", error="nul-unused.csv.gz:2: a NUL byte")
    r = dump(os.path.join(tmp, "no-such-file.csv"), "--trips")
    refused(r, "No such file", "missing file")

    # ---- 4. damaged files -------------------------------------------------------------------
    src = os.path.join(gen, "base-uncompressed-dict-v1.parquet")
    with open(src, "rb") as f:
        good = f.read()
    bad = os.path.join(tmp, "bad.parquet")
    rng = random.Random(7)
    crashes = []
    cuts = [len(good) - 1, len(good) - 8, len(good) // 2, 100, 12] + [rng.randrange(4, len(good)) for _ in range(20)]
    for n in cuts:
        with open(bad, "wb") as f:
            f.write(good[:n])
        r = dump(bad)
        check(r.returncode == 1 and "parquet_dump: " in r.stderr,
              "truncated to %d bytes: exit %d %s" % (n, r.returncode, r.stderr.strip()[:200]))
    for i in range(300):
        b = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(b)) if rng.random() < 0.5 else rng.randrange(max(0, len(b) - 3000), len(b) - 8)
            b[pos] ^= 1 << rng.randrange(8)
        with open(bad, "wb") as f:
            f.write(b)
        r = dump(bad, text=False)
        if r.returncode not in (0, 1):
            crashes.append((i, r.returncode, r.stderr[-300:]))
    check(not crashes, "flipped bytes: %d runs crashed, first: %r" % (len(crashes), crashes[:1]))
    r = dump(os.path.join(DATA, MONTHS[0]) + ".missing")
    refused(r, "No such file", "missing Parquet file")
    with open(bad, "wb") as f:
        f.write(b"PAR1" + b"\0" * 20 + b"PARE")
    refused(dump(bad), "encrypted", "PARE footer")


def main():
    rptest.need_bin(DUMP, "parquet_dump")
    rptest.need_node("hyparquet", "parquet-wasm", "apache-arrow")
    rptest.need_data(*MONTHS)
    rptest.run([("readers", test_readers)], tmp_prefix="rp-parquet-")


if __name__ == "__main__":
    main()
