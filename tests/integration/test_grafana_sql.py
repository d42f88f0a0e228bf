#!/usr/bin/env python3
"""deploy/grafana/ without Grafana (not installable here): the provisioning
files parse and agree with the dashboard, and every PostgreSQL panel's SQL,
with Grafana's macros and template variables expanded as Grafana expands
them, runs against a real PostgreSQL (tests/tools/pgtemp.py) holding rows
written by src/monitor/db.c (tests/tools/monitor_db_cli) and returns the
expected rows, in order.

  - provisioning/datasources/*.yaml: a PostgreSQL and a Prometheus data
    source, their uids, settings from environment variables (documented in
    deploy/grafana/README.md), no password in the file;
  - provisioning/dashboards/*.yaml: a file provider whose path variable the
    README documents;
  - dashboards/ridepred-monitoring.json: the course's three panels
    (prediction drift, share of missing values, number of drifted columns)
    as time series from ridepred_monitor, and a Prometheus panel whose
    metric names `serve` and `consume` register (src/);
  - each SQL target, for a time range, for the template variable $source
    at "All" and at one value: rows (time, source, value) equal to the
    written rows inside the range, ordered by time then source, NULL where
    a NaN was written; the variable's own query lists the sources.

Skips (77) when PostgreSQL or python3-yaml is missing; fails when CI is set."""
import datetime
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import pgtemp  # noqa: E402
import rptest  # noqa: E402

GRAFANA = os.path.join(rptest.SRC, "deploy", "grafana")
DASHBOARD = os.path.join(GRAFANA, "dashboards", "ridepred-monitoring.json")
CLI = os.path.join(rptest.BUILD, "monitor_db_cli")
DAY = 86400 * 10**6
MARCH = 1614556800 * 10**6  # 2021-03-01T00:00:00Z


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        raise rptest.Skip("python3-yaml is not installed: the provisioning files were not parsed")
    with open(path) as fh:
        return yaml.safe_load(fh)


def dashboard():
    with open(DASHBOARD) as fh:
        return json.load(fh)


def readme():
    with open(os.path.join(GRAFANA, "README.md")) as fh:
        return fh.read()


# ---- Grafana's expansion -------------------------------------------------------------

def rfc3339(us):
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_quote(v):
    return "'" + v.replace("'", "''") + "'"


def expand(sql, t_from, t_to, variables):
    """sql with the PostgreSQL data source's macros replaced as Grafana does
    (docs: "PostgreSQL query editor", Macros) for the range [t_from, t_to]
    (microseconds), and each $var / ${var} by its values, each single-quoted
    and joined by commas (Grafana's formatting of a multi-value variable for
    an SQL data source)."""
    def args(m):
        return [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []

    def macro(m):
        name, a = m.group(1), args(m)
        if name == "__timeFilter":
            return f"{a[0]} BETWEEN '{rfc3339(t_from)}' AND '{rfc3339(t_to)}'"
        if name == "__time":
            return f'{a[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {a[0]}) AS "time"'
        if name == "__timeFrom":
            return f"'{rfc3339(t_from)}'"
        if name == "__timeTo":
            return f"'{rfc3339(t_to)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            secs = {"s": 1, "m": 60, "h": 3600, "d": 86400}
            iv = re.fullmatch(r"'?(\d+)([smhd])'?", a[1])
            n = int(iv.group(1)) * secs[iv.group(2)]
            g = f"floor(extract(epoch from {a[0]})/{n})*{n}"
            return g + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise AssertionError(f"the test does not know Grafana's macro ${name}: add it to expand()")

    sql = re.sub(r"\$(__\w+)\(([^)]*)\)", macro, sql)
    left = re.findall(r"\$__\w+", sql)
    assert not left, f"unexpanded Grafana macros {left}"

    def var(m):
        name = m.group(1) or m.group(2)
        assert name in variables, f"the SQL uses ${name}, which the test does not set"
        return ",".join(sql_quote(v) for v in variables[name])
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, sql)


# ---- the tests --------------------------------------------------------------------------

def test_provisioning():
    dss = []
    for path in sorted(glob.glob(os.path.join(GRAFANA, "provisioning", "datasources", "*.yaml"))):
        y = load_yaml(path)
        rptest.check(y.get("apiVersion") == 1, f"{os.path.basename(path)}: apiVersion 1", y)
        dss += y.get("datasources", [])
    by_type = {d["type"]: d for d in dss}
    rptest.check(set(by_type) == {"postgres", "prometheus"}, "a PostgreSQL and a Prometheus data source", dss)
    pg, prom = by_type.get("postgres", {}), by_type.get("prometheus", {})
    text = readme()
    for name, value in [("url", pg.get("url")), ("user", pg.get("user")),
                        ("database", pg.get("jsonData", {}).get("database")),
                        ("password", pg.get("secureJsonData", {}).get("password")), ("prometheus url", prom.get("url"))]:
        m = re.fullmatch(r"\$\{?([A-Z_]+)\}?", str(value))
        rptest.check(m is not None, f"the PostgreSQL/Prometheus {name} comes from an environment variable", value)
        if m:
            rptest.check(m.group(1) in text, f"README documents ${m.group(1)}")
    rptest.check(pg.get("access") == "proxy" and prom.get("access") == "proxy", "proxy access (the server queries)")
    provs = []
    for path in sorted(glob.glob(os.path.join(GRAFANA, "provisioning", "dashboards", "*.yaml"))):
        provs += load_yaml(path).get("providers", [])
    rptest.check(len(provs) == 1 and provs[0].get("type") == "file", "one file dashboard provider", provs)
    if provs:
        m = re.fullmatch(r"\$\{?([A-Z_]+)\}?", str(provs[0].get("options", {}).get("path")))
        rptest.check(m is not None and m.group(1) in text, "its path from a variable the README documents", provs)
    d = dashboard()
    uids = {x.get("uid"): x.get("type") for x in dss}
    used = [(p["title"], p["datasource"]) for p in d["panels"]]
    used += [(f"{p['title']}/{t['refId']}", t.get("datasource", p["datasource"])) for p in d["panels"]
             for t in p.get("targets", [])]
    used += [(f"${v['name']}", v["datasource"]) for v in d["templating"]["list"] if v.get("type") == "query"]
    for where, ds in used:
        rptest.check(ds.get("uid") in uids and uids[ds["uid"]] == ds.get("type"),
                     f"{where}: a provisioned data source (uid and type)", ds)


def test_panels():
    d = dashboard()
    pg_panels = [p for p in d["panels"] if p["datasource"]["uid"] == "ridepred-postgres"]
    titles = {p["title"]: p for p in pg_panels}
    course = {"Prediction drift": "prediction_drift", "Share of missing values": "share_missing_values",
              "Number of drifted columns": "num_drifted_columns"}
    rptest.check(set(course) <= set(titles), "the course's three panels", sorted(titles))
    for title, col in course.items():
        p = titles.get(title)
        if not p:
            continue
        t = p["targets"][0]
        rptest.check(p["type"] == "timeseries" and t.get("format") == "time_series" and t.get("rawQuery") is True,
                     f"{title}: a time series from raw SQL", t)
        rptest.check(re.search(rf"\b{col}\b", t["rawSql"]) and "ridepred_monitor" in t["rawSql"]
                     and '$__timeFilter("timestamp")' in t["rawSql"], f"{title}: {col} of ridepred_monitor in the "
                     "time range", t["rawSql"])
    prom = [p for p in d["panels"] if p["datasource"]["uid"] == "ridepred-prometheus"]
    rptest.check(len(prom) >= 1, "a Prometheus panel", [p["title"] for p in d["panels"]])
    src = ""
    for path in glob.glob(os.path.join(rptest.SRC, "src", "*", "*.c")):
        with open(path) as fh:
            src += fh.read()
    for p in prom:
        for t in p["targets"]:
            for name in re.findall(r"\b(ridepred_\w+)", t["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", name) if name.endswith(("_bucket", "_sum", "_count")) \
                    else name
                short = base[len("ridepred_consume_"):] if base.startswith("ridepred_consume_") else None
                known = f'"{base}"' in src or (short is not None and f'"{short}"' in src
                                               and '"ridepred_consume_"' in src)
                rptest.check(known, f"{p['title']}: {name} is a metric src/ registers", t["expr"])
    ids = [p["id"] for p in d["panels"]]
    rptest.check(len(ids) == len(set(ids)), "panel ids are unique", ids)


WRITES = [  # (source, day of March 2021, prediction_drift, share_missing_values, num_drifted_columns)
    ("monitor", 1, 0.05, 0.0, 0),
    ("monitor", 2, 0.12, 0.25, 3),
    ("monitor", 3, float("nan"), float("nan"), 0),  # an empty window
    ("monitor", 4, 0.31, 0.5, 5),
    ("consume", 2, 0.07, 0.125, 1),
    ("consume", 4, 0.2, 0.0, 2),
    ("monitor", 20, 0.9, 0.9, 7),  # outside the range queried
]


def line(source, day, pred, miss, drifted):
    start = MARCH + (day - 1) * DAY
    return (f"source={source} start={start} end={start + DAY} rides=100 pred={pred!r} pred_drifted={int(pred >= 0.1)} "
            f"drifted={drifted} share_drifted={drifted / 7!r} dataset_drift={int(drifted >= 4)} missing=0 cells=700 "
            f"share_missing={miss!r} col=prediction:num:wasserstein:{pred!r}:0:0\n")


def test_panel_sql(pg):
    pg.query("DROP TABLE IF EXISTS ridepred_monitor")
    r = subprocess.run([CLI, pg.url], input="".join(line(*w) for w in WRITES), capture_output=True, text=True,
                       timeout=120)
    rptest.check(r.returncode == 0, "rows written through src/monitor/db.c", r.stdout + r.stderr)
    d = dashboard()
    var = next(v for v in d["templating"]["list"] if v["name"] == "source")
    got = pg.query(expand(var["query"], 0, 0, {}))
    rptest.check(got == [["consume"], ["monitor"]], "$source lists the sources", got)
    t_from, t_to = MARCH, MARCH + 10 * DAY
    cols = {"Prediction drift": 2, "Share of missing values": 3, "Number of drifted columns": 4}
    n = 0
    for p in d["panels"]:
        if p["datasource"]["uid"] != "ridepred-postgres":
            continue
        col = cols.get(p["title"])
        rptest.check(col is not None, f"{p['title']}: the test knows what it shows", p["title"])
        for sources in (["consume", "monitor"], ["monitor"]):
            sql = expand(p["targets"][0]["rawSql"], t_from, t_to, {"source": sources})
            got = pg.query(sql)
            want = []
            for w in sorted(WRITES, key=lambda w: (w[1], w[0])):
                if w[0] in sources and t_from <= MARCH + (w[1] - 1) * DAY <= t_to:
                    v = w[col]
                    want.append([f"2021-03-{w[1]:02d} 00:00:00", w[0], None if v != v else v])
            rows = [[g[0], g[1], None if g[2] is None else float(g[2])] for g in got]
            rptest.check(rows == want, f"{p['title']} ({','.join(sources)}): time, source, value in order",
                         f"\n  sql: {sql}\n  got:  {rows}\n  want: {want}")
            n += 1
    rptest.check(n == 6, "three panels, two selections each", n)
    # Grafana's time column must be named "time"; a metric column names the series.
    sql = expand(next(p for p in d["panels"] if p["title"] == "Prediction drift")["targets"][0]["rawSql"],
                 t_from, t_to, {"source": ["monitor"]})
    head = pg.query(f"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
                    f"(SELECT oid FROM pg_class WHERE relname = 'ridepred_monitor') AND attnum > 0")
    rptest.check(head and "timestamp" in head[0][0], "the table has the columns the SQL names", head)
    cols_out = pg.query(f"SELECT string_agg(key, ',') FROM (SELECT json_object_keys(row_to_json(x)) AS key "
                        f"FROM ({sql} LIMIT 1) x) k")
    rptest.check(cols_out == [["time,metric,prediction_drift"]], "columns time, metric, value", cols_out)


def main():
    rptest.run([test_provisioning, test_panels], finish=False)
    why = pgtemp.missing()
    if why:
        rptest.skip(why)
    rptest.need_bin(CLI, "the monitor_db_cli tool (make build)")
    with pgtemp.server() as pg:
        rptest.run([test_panel_sql], pg)


if __name__ == "__main__":
    main()
