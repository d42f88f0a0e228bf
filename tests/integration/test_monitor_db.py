#!/usr/bin/env python3
"""src/monitor/db.c against a real PostgreSQL (tests/tools/pgtemp.py starts a
throwaway server), through tests/tools/monitor_db_cli:

  - the table is created when missing, with the contract's columns, types and
    primary key (source, timestamp);
  - a row carries every figure (timestamps in UTC, floats bit for bit, the
    per-column jsonb);
  - re-writing a window replaces its row (one row, the new values); two
    sources of the same window are two rows;
  - NaN and infinite scores and shares are NULL (and null in the jsonb);
  - an unreachable server: exit 3, the message names host:port, retriable,
    never the password; a wrong password: exit 3, not retriable, no password;
  - a bad table name is refused before connecting; a 63-byte one and a
    mixed-case one are used as given (quoted);
  - the server restarted between two writes of one connection: the second
    write reconnects and succeeds; a table dropped between two writes is
    created again;
  - URL forms: postgresql:// with a password (scram-sha-256), postgres://,
    the Unix socket (?host=DIR), libpq's key=value string;
  - libpq missing (a dlopen shim refusing libpq): exit 3, "install libpq5";
  - db.c's own libpq declarations agree with libpq-fe.h (compiled together,
    where libpq-dev is installed).

Skips (77) when PostgreSQL's binaries are missing; fails when CI is set."""
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import pgtemp  # noqa: E402
import rptest  # noqa: E402

CLI = os.path.join(rptest.BUILD, "monitor_db_cli")
DAY = 86400 * 10**6
MARCH = 1614556800 * 10**6  # 2021-03-01T00:00:00Z
SECRET = "pw-S3cr3t-x7"

COLUMNS = [("passenger_count", "num"), ("trip_distance", "num"), ("fare_amount", "num"), ("total_amount", "num"),
           ("PULocationID", "cat"), ("DOLocationID", "cat"), ("prediction", "num")]


def row_line(source="monitor", start=MARCH, end=None, rides=1000, pred=0.123456789012345, pred_drifted=1,
             drifted=3, share_drifted=3 / 7, dataset_drift=0, missing=12, cells=7000, share_missing=12 / 7000,
             cols=None):
    cols = cols if cols is not None else [
        (n, k, "wasserstein" if k == "num" else "jensenshannon", 0.01 * (i + 1) + 1e-13, i % 2, i)
        for i, (n, k) in enumerate(COLUMNS)]
    f = [f"source={source}", f"start={start}", f"end={end if end is not None else start + DAY}", f"rides={rides}",
         f"pred={pred!r}", f"pred_drifted={pred_drifted}", f"drifted={drifted}", f"share_drifted={share_drifted!r}",
         f"dataset_drift={dataset_drift}", f"missing={missing}", f"cells={cells}",
         f"share_missing={share_missing!r}"]
    f += [f"col={n}:{k}:{t}:{s!r}:{d}:{m}" for n, k, t, s, d, m in cols]
    return " ".join(f) + "\n"


def cli(url, lines, table=None, env=None):
    argv = [CLI] + (["--table", table] if table is not None else []) + [url]
    return subprocess.run(argv, input="".join(lines), capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def rows(pg, table="ridepred_monitor", where="true"):
    return pg.query(f'SELECT source, "timestamp", window_end, rides, prediction_drift, prediction_drifted, '
                    f'num_drifted_columns, share_drifted_columns, dataset_drift, num_columns, share_missing_values, '
                    f'columns FROM "{table}" WHERE {where} ORDER BY source, "timestamp"')


def fresh(pg, table="ridepred_monitor"):
    pg.query(f'DROP TABLE IF EXISTS "{table}"')


def test_creates_table(pg):
    fresh(pg)
    r = cli(pg.url, [])
    rptest.check(r.returncode == 0, "opening creates the table", r.stderr)
    got = pg.query("SELECT column_name, data_type FROM information_schema.columns "
                   "WHERE table_name = 'ridepred_monitor' ORDER BY ordinal_position")
    want = [["source", "text"], ["timestamp", "timestamp without time zone"],
            ["window_end", "timestamp without time zone"], ["rides", "bigint"], ["prediction_drift", "double precision"],
            ["prediction_drifted", "boolean"], ["num_drifted_columns", "integer"],
            ["share_drifted_columns", "double precision"], ["dataset_drift", "boolean"], ["num_columns", "integer"],
            ["share_missing_values", "double precision"], ["columns", "jsonb"]]
    rptest.check(got == want, "the contract's columns and types", got)
    pk = pg.query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                  "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'ridepred_monitor'::regclass AND i.indisprimary "
                  "ORDER BY array_position(i.indkey, a.attnum)")
    rptest.check(pk == [["source"], ["timestamp"]], "primary key (source, timestamp)", pk)
    r = cli(pg.url, [row_line()])
    rptest.check(r.returncode == 0 and r.stdout == "ok\n", "an existing table is used as is", r.stdout + r.stderr)
    rptest.check(r.stderr == "", "silently (no NOTICE from CREATE TABLE IF NOT EXISTS)", r.stderr)


def test_row_figures(pg):
    fresh(pg)
    start = MARCH + 3 * DAY + 1234567  # not on a second: microseconds kept
    r = cli(pg.url, [row_line(start=start, end=start + DAY)])
    rptest.check(r.returncode == 0 and r.stdout == "ok\n", "written", r.stdout + r.stderr)
    got = rows(pg)
    rptest.check(len(got) == 1, "one row", got)
    s = got[0]
    rptest.check(s[0] == "monitor", "source", s[0])
    rptest.check(s[1] == "2021-03-04 00:00:01.234567" and s[2] == "2021-03-05 00:00:01.234567",
                 "window start and end as UTC timestamps", s[1:3])
    rptest.check(s[3] == "1000", "rides", s[3])
    rptest.check(float(s[4]) == 0.123456789012345, "prediction_drift bit for bit", s[4])
    rptest.check(s[5] == "t" and s[6] == "3" and float(s[7]) == 3 / 7 and s[8] == "f" and s[9] == "7",
                 "prediction_drifted, num_drifted_columns, share_drifted_columns, dataset_drift, num_columns", s)
    rptest.check(float(s[10]) == 12 / 7000, "share_missing_values", s[10])
    cols = json.loads(s[11])
    rptest.check(set(cols) == {n for n, _ in COLUMNS}, "every column in the jsonb", cols)
    for i, (n, k) in enumerate(COLUMNS):
        want = {"kind": k, "test": "wasserstein" if k == "num" else "jensenshannon",
                "score": 0.01 * (i + 1) + 1e-13, "drifted": bool(i % 2), "missing": i}
        rptest.check(cols[n] == want, f"column {n}", cols[n])


def test_rewrite_replaces(pg):
    fresh(pg)
    r = cli(pg.url, [row_line(rides=10, pred=0.5), row_line(rides=20, pred=0.25, drifted=1, dataset_drift=1)])
    rptest.check(r.stdout == "ok\nok\n", "both writes", r.stdout + r.stderr)
    got = rows(pg)
    rptest.check(len(got) == 1, "re-writing a window keeps one row", got)
    rptest.check(got[0][3] == "20" and float(got[0][4]) == 0.25 and got[0][6] == "1" and got[0][8] == "t",
                 "with the new values", got)
    r = cli(pg.url, [row_line(rides=30)])  # another process, the same window
    got = rows(pg)
    rptest.check(len(got) == 1 and got[0][3] == "30", "a second run replaces it too", got)


def test_sources_apart(pg):
    fresh(pg)
    r = cli(pg.url, [row_line(source="monitor", rides=1), row_line(source="consume", rides=2),
                     row_line(source="monitor", start=MARCH + DAY, rides=3)])
    rptest.check(r.stdout == "ok\nok\nok\n", "three writes", r.stdout + r.stderr)
    got = [(x[0], x[1], x[3]) for x in rows(pg)]
    rptest.check(got == [("consume", "2021-03-01 00:00:00", "2"), ("monitor", "2021-03-01 00:00:00", "1"),
                         ("monitor", "2021-03-02 00:00:00", "3")], "two sources of one window are two rows", got)


def test_nan_is_null(pg):
    fresh(pg)
    cols = [("trip_distance", "num", "-", float("nan"), 0, 5), ("prediction", "num", "ks", float("nan"), 0, 0),
            ("PULocationID", "cat", "chisquare", float("inf"), 1, 0)]
    r = cli(pg.url, [row_line(rides=0, pred=float("nan"), share_drifted=float("inf"),
                              share_missing=float("nan"), cells=0, missing=0, cols=cols)])
    rptest.check(r.stdout == "ok\n", "a row of NaN is written", r.stdout + r.stderr)
    s = rows(pg)[0]
    rptest.check(s[4] is None and s[7] is None and s[10] is None,
                 "NaN prediction_drift, infinite share_drifted_columns, NaN share_missing_values: NULL", s)
    c = json.loads(s[11])
    rptest.check(c["trip_distance"] == {"kind": "num", "test": None, "score": None, "drifted": False, "missing": 5},
                 "an empty column: test and score null", c["trip_distance"])
    rptest.check(c["prediction"]["score"] is None and c["PULocationID"]["score"] is None,
                 "non-finite scores: null in the jsonb", c)
    # What a dashboard does with them: aggregates skip NULLs, nothing fails.
    a = pg.query("SELECT count(prediction_drift), avg(share_missing_values) FROM ridepred_monitor")
    rptest.check(a == [["0", None]], "aggregates over NULL work", a)


def test_unreachable(pg):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        r = cli(f"postgresql://ridepred:{SECRET}@127.0.0.1:{port}/ridepred", [row_line()])
    rptest.check(r.returncode == 3, "exit 3", r.returncode)
    rptest.check(f"127.0.0.1:{port}" in r.stderr, "the message names host:port", r.stderr)
    rptest.check("retriable: 1" in r.stderr, "retriable", r.stderr)
    rptest.check(SECRET not in r.stderr + r.stdout, "no password in it", r.stderr)
    r = cli(f"host=127.0.0.1 port={port} user=ridepred password={SECRET} dbname=x", [])
    rptest.check(r.returncode == 3 and f"127.0.0.1:{port}" in r.stderr and SECRET not in r.stderr,
                 "the same from a key=value string", r.stderr)
    r = cli(f"postgresql://ridepred:{SECRET}@127.0.0.1:{port}/ridepred?sslmode=bogus", [])
    rptest.check(r.returncode == 3 and SECRET not in r.stderr and "sslmode" in r.stderr
                 and "retriable: 0" in r.stderr, "a bad URL parameter: said, not retriable, no password", r.stderr)
    r = cli(f"postgresql://ridepred:{SECRET}%zz@127.0.0.1:{port}/ridepred", [])
    rptest.check(r.returncode == 3 and "does not parse" in r.stderr and SECRET not in r.stderr,
                 "a URL that does not parse: said, without the password", r.stderr)


def test_bad_table(pg):
    fresh(pg)
    for bad in ["x;drop table ridepred_monitor", 'a"b', "1abc", "", "a" * 64, "public.t", "naïve"]:
        r = cli(pg.url, [row_line()], table=bad)
        rptest.check(r.returncode == 3 and "bad monitoring table name" in r.stderr, f"table {bad!r} refused",
                     r.stderr)
    n = pg.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    rptest.check(n == [["0"]], "nothing created", n)
    for good in ["a" * 63, "Mixed_Case9", "user"]:
        r = cli(pg.url, [row_line()], table=good)
        rptest.check(r.returncode == 0 and r.stdout == "ok\n", f"table {good!r} used", r.stdout + r.stderr)
        got = pg.query(f'SELECT count(*) FROM "{good}"')
        rptest.check(got == [["1"]], f"its row is in \"{good}\" (quoted, case kept)", got)
        pg.query(f'DROP TABLE "{good}"')


def test_reconnect(pg):
    fresh(pg)
    p = subprocess.Popen([CLI, pg.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        p.stdin.write(row_line(rides=1))
        p.stdin.flush()
        first = p.stdout.readline()
        rptest.check(first == "ok\n", "first write", first)
        pg.restart()
        p.stdin.write(row_line(rides=2))
        p.stdin.flush()
        second = p.stdout.readline()
        rptest.check(second == "ok\n", "after a server restart, the same connection's next write succeeds", second)
        pg.query("DROP TABLE ridepred_monitor")
        p.stdin.write(row_line(rides=3))
        p.stdin.flush()
        third = p.stdout.readline()
        rptest.check(third == "ok\n", "a table dropped since: created again", third)
        p.stdin.close()
        rc = p.wait(timeout=60)
        rptest.check(rc == 0, "exit 0", p.stderr.read())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    got = rows(pg)
    rptest.check(len(got) == 1 and got[0][3] == "3", "the row holds the last write", got)


def test_url_forms(tmp):
    with pgtemp.server(password=SECRET) as pg:
        r = cli(pg.url, [row_line(rides=1)])
        rptest.check(r.returncode == 0 and r.stdout == "ok\n", "postgresql://user:password@ (scram-sha-256)",
                     r.stdout + r.stderr)
        r = cli(pg.url.replace("postgresql://", "postgres://"), [row_line(rides=2)])
        rptest.check(r.returncode == 0, "postgres://", r.stderr)
        r = cli(pg.socket_url, [row_line(rides=3)])
        rptest.check(r.returncode == 0, "the Unix socket (?host=DIR)", r.stderr)
        r = cli(f"host=127.0.0.1 port={pg.port} user={pg.user} password={SECRET} dbname={pg.dbname}",
                [row_line(rides=4)])
        rptest.check(r.returncode == 0, "key=value", r.stderr)
        got = pg.query("SELECT rides FROM ridepred_monitor")
        rptest.check(got == [["4"]], "each wrote the same row", got)
        wrong = "not-" + SECRET
        r = cli(pg.url.replace(SECRET, wrong), [])
        rptest.check(r.returncode == 3 and "password authentication failed" in r.stderr, "a wrong password: said",
                     r.stderr)
        rptest.check("retriable: 0" in r.stderr, "not retriable", r.stderr)
        rptest.check(wrong not in r.stderr and SECRET not in r.stderr, "no password in the message", r.stderr)
        r = cli(pg.url.replace(f":{SECRET}", ""), [], env={"PGPASSWORD": "", "PGPASSFILE": "/nonexistent"})
        rptest.check(r.returncode == 3 and "retriable: 0" in r.stderr and "password" in r.stderr,
                     "no password given: said, not retriable", r.stderr)


def test_libpq_missing(tmp):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise rptest.Skip("no C compiler for the dlopen shim")
    shim_c, shim = os.path.join(tmp, "nopq.c"), os.path.join(tmp, "nopq.so")
    with open(shim_c, "w") as fh:
        fh.write('#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <string.h>\n'
                 'void *dlopen(const char *f, int m) {\n'
                 '  static void *(*real)(const char *, int);\n'
                 '  if (f && strstr(f, "libpq")) return NULL;\n'
                 '  if (!real) real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");\n'
                 '  return real(f, m);\n}\n')
    subprocess.run([cc, "-shared", "-fPIC", "-o", shim, shim_c], check=True)
    r = cli("postgresql://u@127.0.0.1:1/x", [], env={"LD_PRELOAD": shim})
    rptest.check(r.returncode == 3 and "libpq" in r.stderr and "is not available" in r.stderr
                 and "install libpq5" in r.stderr, "without libpq: exit 3, what to install", r.stderr)


def test_libpq_declarations(tmp):
    cc = shutil.which("cc") or shutil.which("gcc")
    inc = "/usr/include/postgresql"
    if not cc or not os.path.exists(os.path.join(inc, "libpq-fe.h")):
        raise rptest.Skip("libpq-fe.h (libpq-dev) or a C compiler is missing: db.c's declarations not compared")
    src = rptest.SRC
    r = subprocess.run([cc, "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L",
                        "-D_DEFAULT_SOURCE", "-I", os.path.join(src, "src"), "-I", os.path.join(src, "include"),
                        "-I", inc, "-include", "libpq-fe.h", os.path.join(src, "src", "monitor", "db.c")],
                       capture_output=True, text=True, timeout=120)
    rptest.check(r.returncode == 0, "db.c's libpq prototypes and constants are libpq-fe.h's", r.stderr[-3000:])


def main():
    rptest.need_bin(CLI, "the monitor_db_cli tool (make build)")
    why = pgtemp.missing()
    if why:
        rptest.skip(why)
    with pgtemp.server() as pg:
        rptest.run([test_creates_table, test_row_figures, test_rewrite_replaces, test_sources_apart,
                    test_nan_is_null, test_unreachable, test_bad_table, test_reconnect], pg, finish=False)
    rptest.run([test_url_forms, test_libpq_missing, test_libpq_declarations], tmp_prefix="rp-mondb-")


if __name__ == "__main__":
    main()
