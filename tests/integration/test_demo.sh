#!/usr/bin/env bash
# make demo's script (scripts/demo): a whole run in a temporary folder ends
# with its own checks passed (every filtered ride predicted, the streamed
# RMSE equal to the model's validation RMSE); Ctrl-C in the middle (SIGINT
# to its process group, as a terminal sends it) stops it with status 130 and
# leaves none of the processes it started.  The download path, against a
# mirror of the TLC folder on 127.0.0.1 (python3 -m http.server over the
# data): the files arrive whole and the demo runs on them; a mirror without
# them fails with the URL named and leaves no partial file.  The same whole
# run on Kafka (RIDEPRED_DEMO_BACKEND=kafka, the mock cluster).
# Env: RIDEPRED_SOURCE_DIR, RIDEPRED_BUILD_DIR, RIDEPRED_DATA_DIR.
set -u
. "$(dirname "$0")/../tools/rptest.sh"
[ -f "$data/green_tripdata_2021-02.parquet" ] && [ -f "$data/green_tripdata_2021-03.parquet" ] || rp_skip "TLC data not found in $data (set RIDEPRED_DATA_DIR)"
tmp=$(mktemp -d)
export RIDEPRED_DATA_DIR=$data
trap 'pkill -f -- "$tmp/" 2>/dev/null; rm -rf "$tmp"' EXIT

# 1. A whole run.
if RIDEPRED_DEMO_OUT=$tmp/full "$src/scripts/demo" "$build" >"$tmp/full.log" 2>&1 &&
   grep -q "every ride predicted; the RMSE matches" "$tmp/full.log" &&
   grep -q "| RMSE (minutes) | 7.7587" "$tmp/full.log" && [ -s "$tmp/full/predictions.svg" ]; then ok
else bad "whole run: $(tail -5 "$tmp/full.log")"; fi
# ... with its monitoring step: every day of March against the model's reference (February), and the picture
# (the reference: February's rides the course's filter keeps, as the evaluate step counts them)
kept_feb=$(sed -n 's/.*| rides in the file | [0-9]* (\([0-9]*\) pass the course.s filter).*/\1/p' "$tmp/full.log" | head -1)
if grep -q "^   2021-03-31T00:00:00Z " "$tmp/full.log" && [ -n "$kept_feb" ] &&
   grep -q "reference: $kept_feb rides (the model directory's reference)" "$tmp/full.log" &&
   grep -q "</svg>" "$tmp/full/drift.svg"; then ok
else bad "monitoring step: $(grep -A3 '6. monitor' "$tmp/full.log" | head -5)"; fi
if pgrep -f -- "$tmp/full/" >/dev/null; then bad "processes left after a whole run"; else ok; fi

# 1b. The same pipeline on Kafka (RIDEPRED_DEMO_BACKEND=kafka): without
# RIDEPRED_KAFKA_BROKERS the demo starts librdkafka's mock cluster itself,
# on topics of the run's own, and stops it at the end.
if env -u RIDEPRED_KAFKA_BROKERS RIDEPRED_DEMO_BACKEND=kafka RIDEPRED_DEMO_OUT=$tmp/kafka "$src/scripts/demo" "$build" \
     >"$tmp/kafka.log" 2>&1 &&
   grep -q "every ride predicted; the RMSE matches" "$tmp/kafka.log" &&
   grep -q "Kafka topics demo-.*-ride_events and demo-.*-ride_predictions (4 partitions each) on librdkafka's mock cluster" "$tmp/kafka.log" &&
   grep -q "| RMSE (minutes) | 7.7587" "$tmp/kafka.log"; then ok
else bad "Kafka run: $(tail -5 "$tmp/kafka.log")"; fi
if pgrep -f -- "$build/kafka_mock --topic demo-" >/dev/null; then bad "the mock cluster was left running"; else ok; fi
if RIDEPRED_DEMO_BACKEND=kinesis RIDEPRED_DEMO_OUT=$tmp/bad "$src/scripts/demo" "$build" >"$tmp/bad.log" 2>&1; then
  bad "an unknown RIDEPRED_DEMO_BACKEND ran"
else grep -q "RIDEPRED_DEMO_BACKEND must be local or kafka" "$tmp/bad.log" && ok || bad "$(tail -3 "$tmp/bad.log")"; fi

# 2. Ctrl-C while the rides are being replayed (slowly, so that there is time).
RIDEPRED_DEMO_OUT=$tmp/int RIDEPRED_DEMO_RATE=2000 setsid "$src/scripts/demo" "$build" >"$tmp/int.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  pgrep -f -- "--checkpoint-store $tmp/int/checkpoints.db" >/dev/null && pgrep -f -- "replay .*--rate 2000" >/dev/null && break
  sleep 0.1
done
if pgrep -f -- "--checkpoint-store $tmp/int/checkpoints.db" >/dev/null; then ok; else bad "the consumer never started: $(tail -5 "$tmp/int.log")"; fi
sleep 0.5
kill -INT -- "-$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] && ok || bad "Ctrl-C: exit $rc, want 130: $(tail -5 "$tmp/int.log")"
grep -q "interrupted" "$tmp/int.log" && ok || bad "no 'interrupted' message: $(tail -5 "$tmp/int.log")"
left=
for _ in $(seq 50); do
  left=$(pgrep -af -- "$tmp/int/" || true)
  [ -z "$left" ] && break
  sleep 0.1
done
[ -z "$left" ] && ok || bad "processes left after Ctrl-C: $left"
grep -q "every ride predicted" "$tmp/int.log" && bad "an interrupted run claimed success" || ok

# 3. Downloading the data (RIDEPRED_TLC_URL: a mirror on 127.0.0.1).
/usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$data" >"$tmp/http.log" 2>&1 &
http=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\).*/\1/p' "$tmp/http.log")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  bad "the mirror did not start: $(cat "$tmp/http.log")"
else
  if RIDEPRED_DATA_DIR=$tmp/dl RIDEPRED_TLC_URL=http://127.0.0.1:$port RIDEPRED_DEMO_OUT=$tmp/dlrun \
       "$src/scripts/demo" "$build" >"$tmp/dl.log" 2>&1 &&
     grep -q "downloading the TLC files from http://127.0.0.1:$port into $tmp/dl" "$tmp/dl.log" &&
     grep -q "every ride predicted; the RMSE matches" "$tmp/dl.log"; then ok
  else bad "run with a download: $(tail -5 "$tmp/dl.log")"; fi
  for f in green_tripdata_2021-01.parquet green_tripdata_2021-02.parquet green_tripdata_2021-03.parquet; do
    cmp -s "$data/$f" "$tmp/dl/$f" && ok || bad "$f was not downloaded whole"
  done
  # A mirror without the files: a clear error, nothing half-written.
  if RIDEPRED_DATA_DIR=$tmp/dl404 RIDEPRED_TLC_URL=http://127.0.0.1:$port/nowhere RIDEPRED_DEMO_OUT=$tmp/dl404run \
       "$src/scripts/demo" "$build" >"$tmp/dl404.log" 2>&1; then
    bad "a failed download went on"
  else
    grep -q "demo: cannot download http://127.0.0.1:$port/nowhere/green_tripdata_2021-01.parquet" "$tmp/dl404.log" &&
      ok || bad "no clear error for a failed download: $(tail -3 "$tmp/dl404.log")"
  fi
  [ -z "$(ls -A "$tmp/dl404" 2>/dev/null)" ] && ok || bad "a failed download left files: $(ls -A "$tmp/dl404")"
fi
kill "$http" 2>/dev/null
wait "$http" 2>/dev/null

rp_done
