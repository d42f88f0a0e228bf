#!/usr/bin/env bash
# make demo's script (scripts/demo): a whole run in a temporary folder ends
# with its own checks passed (every filtered ride predicted, the streamed
# RMSE equal to the model's validation RMSE); Ctrl-C in the middle (SIGINT
# to its process group, as a terminal sends it) stops it with status 130 and
# leaves none of the processes it started.
# Env: RIDEPRED_SOURCE_DIR, RIDEPRED_BUILD_DIR, RIDEPRED_DATA_DIR.
set -u
src=${RIDEPRED_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RIDEPRED_BUILD_DIR:-$src/build}
data=${RIDEPRED_DATA_DIR:-$src/../shared/data}
if [ ! -f "$data/green_tripdata_2021-02.parquet" ]; then
  echo "SKIP: TLC data not found (set RIDEPRED_DATA_DIR)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
tmp=$(mktemp -d)
export RIDEPRED_DATA_DIR=$data
trap 'pkill -f -- "$tmp/" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# 1. A whole run.
if RIDEPRED_DEMO_OUT=$tmp/full "$src/scripts/demo" "$build" >"$tmp/full.log" 2>&1 &&
   grep -q "every ride predicted; the RMSE matches" "$tmp/full.log" &&
   grep -q "| RMSE (minutes) | 7.7587" "$tmp/full.log" && [ -s "$tmp/full/predictions.svg" ]; then ok
else bad "whole run: $(tail -5 "$tmp/full.log")"; fi
if pgrep -f -- "$tmp/full/" >/dev/null; then bad "processes left after a whole run"; else ok; fi

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

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
