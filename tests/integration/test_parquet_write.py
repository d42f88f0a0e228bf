#!/usr/bin/python3
"""The Parquet writer (src/data/parquet_write.c) against independent readers.

build/parquet_write_cli writes 15 files (every codec times every
dictionary setting over 14 columns of every kind and null pattern in four
row groups of several pages; the score command's columns; row groups
bounded by bytes; 0 rows) and a manifest of every value it put.  Each file
is read by hyparquet (pure JS) and by parquet-wasm (arrow-rs) through
tests/tools/parquet_read.mjs, and:

- every value and null equals what was put (doubles bit for bit: -0.0,
  infinities, subnormals; NaN as NaN), in both readers;
- the schema: strings STRING / UTF8 (Arrow Utf8), timestamps TIMESTAMP in
  their unit with isAdjustedToUTC as asked and the TIMESTAMP_MILLIS /
  MICROS converted type (NANOS has none), Arrow Timestamp(unit) with a
  time zone only when UTC-adjusted; required and optional columns;
- row groups: the sizes the row bound gives (300, 300, 300, 100), one
  group by default, several under the byte bound, none for 0 rows; every
  chunk's num_values and codec; dictionary encoding listed when forced,
  never when refused;
- statistics (hyparquet): null_count, and min / max as the format defines
  them, computed here in Python: signed integers, strings by their UTF-8
  bytes, doubles without NaN with -0.0 for a zero minimum and +0.0 for a
  zero maximum, none when every value is null or NaN;
- created_by is "ridepred version ...".

Skips (77) without node, the npm packages or the zstd command; fails
when CI is set."""
import json
import math
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402

TOOL = os.path.join(rptest.BUILD, "parquet_write_cli")
check = rptest.check
rptest.tally.quiet = True


def read(path, reader):
    r = subprocess.run(["node", os.path.join(rptest.TOOLS, "parquet_read.mjs"), path, "--reader", reader],
                       capture_output=True, text=True, cwd=rptest.TOOLS)
    if r.returncode != 0:
        return None, r.stderr[-2000:]
    return json.loads(r.stdout), None


def bits(hexstr):
    return int(hexstr, 16)


def as_double(hexstr):
    return struct.unpack("<d", struct.pack("<Q", bits(hexstr)))[0]


def expected_cell(col, v):
    """What parquet_read.mjs prints for value v of col."""
    if v is None:
        return None
    if col["kind"] == "double":
        return "NaN" if math.isnan(as_double(v)) else v
    if col["kind"] == "string":
        return v
    return str(v)


def double_hex(d):
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", d))[0]


def expected_stats(col, values):
    """(null_count, min, max) of a chunk as the format defines them, in
    parquet_read.mjs's forms (None for no min / max)."""
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    kind = col["kind"]
    if kind == "double":
        xs = [as_double(v) for v in present if not math.isnan(as_double(v))]
        if not xs:
            return nulls, None, None
        lo, hi = min(xs), max(xs)
        if lo == 0:
            lo = -0.0
        if hi == 0:
            hi = 0.0
        return nulls, double_hex(lo), double_hex(hi)
    if not present:
        return nulls, None, None
    if kind == "string":
        return nulls, min(present, key=lambda s: s.encode()), max(present, key=lambda s: s.encode())
    return nulls, str(min(present)), str(max(present))


def group_sizes(entry):
    rows, rg = entry["rows"], entry["row_group_rows"]
    if rows == 0:
        return []
    if entry["row_group_bytes"]:
        return None  # checked apart
    if not rg:
        return [rows]
    return [rg] * (rows // rg) + ([rows % rg] if rows % rg else [])


def check_file(tmp, entry):
    path = os.path.join(tmp, entry["file"])
    label = entry["file"]
    cols = entry["columns"]
    seen = {}
    for reader in ("hyparquet", "parquet-wasm"):
        got, why = read(path, reader)
        if not check(got is not None, f"{label}: {reader} reads it", why):
            continue
        seen[reader] = got
        check(got["num_rows"] == entry["rows"], f"{label}: {reader}: num_rows", got["num_rows"])
        check((got["created_by"] or "").startswith("ridepred version "), f"{label}: {reader}: created_by",
              got["created_by"])
        check([s["name"] for s in got["schema"]] == [c["name"] for c in cols], f"{label}: {reader}: column names")
        for c, s in zip(cols, got["schema"]):
            lab = f"{label}: {reader}: {c['name']}"
            check(s["optional"] == c["optional"], f"{lab}: optional", s)
            if reader == "hyparquet":
                want_phys = {"string": "BYTE_ARRAY", "int32": "INT32", "int64": "INT64", "double": "DOUBLE",
                             "timestamp": "INT64"}[c["kind"]]
                check(s["physical"] == want_phys, f"{lab}: physical type", s)
                if c["kind"] == "string":
                    check(s["logical"] == "STRING" and s["converted"] == "UTF8", f"{lab}: STRING / UTF8", s)
                elif c["kind"] == "timestamp":
                    conv = {"MILLIS": "TIMESTAMP_MILLIS", "MICROS": "TIMESTAMP_MICROS", "NANOS": None}[c["unit"]]
                    check(s["logical"] == "TIMESTAMP" and s["unit"] == c["unit"] and s["utc"] == c["utc"]
                          and s["converted"] == conv, f"{lab}: TIMESTAMP({c['unit']}, utc {c['utc']})", s)
                else:
                    check(s["logical"] is None and s["converted"] is None, f"{lab}: no logical type", s)
            else:
                want = {"string": "Utf8", "int32": "Int32", "int64": "Int64", "double": "Float64",
                        "timestamp": "Timestamp"}[c["kind"]]
                check(s["logical"] == want, f"{lab}: Arrow type {want}", s)
                if c["kind"] == "timestamp":
                    check(s["unit"] == c["unit"] and s["utc"] == c["utc"], f"{lab}: Arrow unit and zone", s)
            want_vals = [expected_cell(c, v) for v in c["values"]]
            got_vals = got["columns"].get(c["name"])
            bad = [i for i, (a, b) in enumerate(zip(got_vals or [], want_vals)) if a != b]
            check(got_vals is not None and len(got_vals) == len(want_vals) and not bad, f"{lab}: every value",
                  f"first difference at row {bad[0]}: {got_vals[bad[0]]!r} != {want_vals[bad[0]]!r}" if bad
                  else f"{len(got_vals or [])} values, want {len(want_vals)}")
        # row groups
        sizes = [g["num_rows"] for g in got["row_groups"]]
        want_sizes = group_sizes(entry)
        if want_sizes is None:
            check(len(sizes) > 1 and sum(sizes) == entry["rows"], f"{label}: {reader}: row groups under the byte bound",
                  sizes)
        else:
            check(sizes == want_sizes, f"{label}: {reader}: row group sizes", f"{sizes} != {want_sizes}")
        start = 0
        for g, grp in enumerate(got["row_groups"]):
            n = grp["num_rows"]
            for c, ch in zip(cols, grp["columns"]):
                lab = f"{label}: {reader}: row group {g} {c['name']}"
                check(ch["num_values"] == n, f"{lab}: num_values", ch)
                check(ch["codec"] == entry["codec"], f"{lab}: codec", f"{ch['codec']} != {entry['codec']}")
                dict_listed = "RLE_DICTIONARY" in ch["encodings"]
                chunk = c["values"][start:start + n]
                if entry["dictionary"] == "always":
                    check(dict_listed == any(v is not None for v in chunk), f"{lab}: dictionary forced", ch)
                elif entry["dictionary"] == "never":
                    check(not dict_listed, f"{lab}: PLAIN forced", ch)
                if reader == "hyparquet":
                    nulls, lo, hi = expected_stats(c, chunk)
                    check(ch["null_count"] == nulls, f"{lab}: null_count", f"{ch['null_count']} != {nulls}")
                    check(ch["min"] == lo and ch["max"] == hi, f"{lab}: min / max",
                          f"{ch['min']!r}, {ch['max']!r} != {lo!r}, {hi!r}")
            start += n
    if len(seen) == 2:
        a, b = ([g["num_rows"] for g in seen[r]["row_groups"]] for r in ("hyparquet", "parquet-wasm"))
        check(a == b, f"{label}: both readers see the same row groups", f"{a} != {b}")


def test_files(tmp):
    r = subprocess.run([TOOL, tmp], capture_output=True, text=True)
    if not check(r.returncode == 0, "parquet_write_cli writes the files", r.stderr):
        return
    with open(os.path.join(tmp, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    check(len(manifest) == 15, "15 files written", len(manifest))
    check(not [n for n in os.listdir(tmp) if ".tmp-" in n], "no temporary file left")
    for entry in manifest:
        check_file(tmp, entry)
    # AUTO chose: the score file's model_version (one value) by dictionary,
    # its ride_id (all distinct) PLAIN
    got, _ = read(os.path.join(tmp, "score.parquet"), "parquet-wasm")
    if got:
        names = [s["name"] for s in got["schema"]]
        enc = got["row_groups"][0]["columns"]
        check("RLE_DICTIONARY" in enc[names.index("model_version")]["encodings"], "score: model_version by dictionary",
              enc)
        check("RLE_DICTIONARY" not in enc[names.index("ride_id")]["encodings"], "score: ride_id PLAIN", enc)


def main():
    rptest.need_bin(TOOL, "parquet_write_cli")
    rptest.need_node("hyparquet", "parquet-wasm", "apache-arrow")
    if not shutil.which("zstd"):
        rptest.skip("the zstd command is missing (apt-get install zstd): hyparquet's ZSTD pages need it")
    rptest.run([("files", test_files)], tmp_prefix="rp-parquet-write-")


if __name__ == "__main__":
    main()
