#!/usr/bin/python3
"""`ridepred monitor` over a month (issue 15): the whole command, wall time.

    bench/monitor_bench.py BUILD_DIR [--runs N]

The course's setup: the course model (RIDEPRED_FIXTURES_DIR/course-model, an
MLflow scikit-learn forest of 100 trees), the reference green 2021-01 (its
73,908 kept rides predicted), the current month green 2021-03 by day (31
windows, 83,827 rows), the course's seven columns.  Pinned to one core.
Prints one JSON line: best and median seconds, windows.  Exit 77 when the
data or the fixture is missing.  bench/run puts it in its table;
docs/PERFORMANCE.md records it (target: under 1 s).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = Path(sys.argv[1])
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    data = Path(os.environ.get("RIDEPRED_DATA_DIR") or ROOT.parent / "shared" / "data")
    fixtures = Path(os.environ.get("RIDEPRED_FIXTURES_DIR") or ROOT.parent / "shared" / "fixtures")
    ref, cur = data / "green_tripdata_2021-01.parquet", data / "green_tripdata_2021-03.parquet"
    model = fixtures / "course-model"
    for p in (ref, cur, model):
        if not p.exists():
            print("monitor_bench: %s is missing" % p, file=sys.stderr)
            return 77
    cmd = ([] if not shutil.which("taskset") else ["taskset", "-c", "0"]) + [
        str(build / "ridepred"), "monitor", "--json", "--model", str(model), "--reference", str(ref), str(cur)]
    times, out = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        times.append(time.perf_counter() - t0)
    print(json.dumps({"best_s": min(times), "median_s": statistics.median(times), "runs": runs,
                      "windows": len(out.splitlines())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
