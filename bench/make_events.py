#!/usr/bin/python3
"""Write the benchmark inputs shared by the C and Python sides of `make bench`.

    bench/make_events.py OUT_DIR [--events N] [--records-per-event R]
                                 [--models linear,forest]

Writes into OUT_DIR:

- ``events/kinesis-NNNNN.json``: N Kinesis events of R records each (default
  100 x 100) of real prepared 2021-02 rides, in file order (ride_id = the
  ride's row number in the file; the rides start over when they run out);
- ``one-record.json``: a 1-record Kinesis event (the first ride), for
  start-to-first-answer measurements;
- ``models/linear.json``, ``models/forest.json``: the models trained on
  2021-01 (ridepy's cache: the forest is only fitted once), exported as
  ``ridepred.model/1`` JSON;
- ``manifest.json``: what was written (paths relative to OUT_DIR, counts).

Data: ``$RIDEPRED_DATA_DIR`` (else ../shared/data).  Cache:
``$RIDEPRED_BUILD_DIR/cache`` (else /tmp/ridepred-cache).
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tools"))

import ridepy  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--events", type=int, default=100, help="Kinesis events to write (default 100)")
    ap.add_argument("--records-per-event", type=int, default=100, help="records per event (default 100)")
    ap.add_argument("--models", default="linear,forest",
                    help="comma-separated model kinds to export (default linear,forest; see ridepy.KINDS)")
    args = ap.parse_args(argv)
    kinds = [k for k in args.models.split(",") if k]
    for k in kinds:
        if k not in ridepy.KINDS:
            ap.error("unknown model kind %r (known: %s)" % (k, ", ".join(ridepy.KINDS)))
    if args.events < 0 or args.records_per_event < 1:
        ap.error("--events must be >= 0 and --records-per-event >= 1")
    for m in (1, 2):
        if not ridepy.data_file(m).is_file():
            sys.exit("make_events: %s not found (set RIDEPRED_DATA_DIR)" % ridepy.data_file(m))

    out = args.out_dir
    (out / "events").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(parents=True, exist_ok=True)
    for old in (out / "events").glob("kinesis-*.json"):
        old.unlink()

    t0 = time.monotonic()
    _, _, rides = ridepy.prepare(ridepy.load_rides(ridepy.data_file(2)))
    events = ridepy.kinesis_events(rides, args.events, args.records_per_event)
    files = []
    for i, ev in enumerate(events):
        p = out / "events" / ("kinesis-%05d.json" % i)
        ridepy.write_json(p, ev)
        files.append(str(p.relative_to(out)))
    ridepy.write_json(out / "one-record.json", ridepy.kinesis_event(rides[:1]))

    d1, y1, _ = ridepy.prepare(ridepy.load_rides(ridepy.data_file(1)))
    models = {}
    for kind in kinds:
        pipe = ridepy.train(kind, d1, y1)
        p = out / "models" / ("%s.json" % kind)
        ridepy.export_model(pipe, p, version="bench-%s" % kind)
        models[kind] = str(p.relative_to(out))

    manifest = {
        "events": files,
        "records_per_event": args.records_per_event,
        "records": args.records_per_event * len(files),
        "one_record_event": "one-record.json",
        "models": models,
        "source": {"events": ridepy.data_file(2).name, "training": ridepy.data_file(1).name},
    }
    with open(out / "manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print("make_events: %d events x %d records, models %s in %s (%.1f s)"
          % (len(files), args.records_per_event, ", ".join(kinds), out, time.monotonic() - t0),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
