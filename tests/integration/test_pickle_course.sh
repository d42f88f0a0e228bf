#!/usr/bin/env bash
# The course's MLflow model directory (scikit-learn 1.0.2, cloudpickle), read
# by the restricted unpickler: the exact answer 21.294545348333408 (docs/models.md), from the
# directory, from its model.pkl alone, and from the native file that
# `ridepred model convert` makes of it; the version defaults to MLmodel's
# run_id; clear errors for a directory without MLmodel and for a flavor
# ridepred cannot serve.  Env: RIDEPRED_BIN, RIDEPRED_FIXTURES_DIR (missing:
# SKIP, exit 77; a failure when CI is set).
set -u
. "$(dirname "$0")/../tools/rptest.sh"
model=$fixtures/course-model
event=$fixtures/events/course-event.json
[ -f "$model/MLmodel" ] && [ -f "$event" ] ||
  rp_skip "course model or event not found under $fixtures (set RIDEPRED_FIXTURES_DIR)"
rp_tmpdir
export TEST_RUN=True
export RIDEPRED_LOCAL_STORE=$tmp/streams.db
unset MODEL_VERSION
want='{"predictions": [{"model": "ride_duration_prediction_model", "version": "Test123", "prediction": {"ride_duration": 21.294545348333408, "ride_id": 256}}]}'
want_run='{"predictions": [{"model": "ride_duration_prediction_model", "version": "e1efc53e9bd149078b0c12aeaa6365df", "prediction": {"ride_duration": 21.294545348333408, "ride_id": 256}}]}'

check() { # desc want cmd...
  local desc=$1 w=$2; shift 2
  local got
  got=$("$@" 2>"$tmp/err")
  if [ "$got" = "$w" ]; then ok; else bad "$desc: got '$got' want '$w'; stderr: $(head -c 300 "$tmp/err")"; fi
}
check "MLflow directory" "$want" env RUN_ID=Test123 MODEL_LOCATION="$model" "$bin" invoke "$event"
check "MLflow directory, --model" "$want" env RUN_ID=Test123 "$bin" invoke --model "$model" "$event"
check "model.pkl alone" "$want" env RUN_ID=Test123 MODEL_LOCATION="$model/model.pkl" "$bin" invoke "$event"
check "version from MLmodel run_id" "$want_run" env -u RUN_ID MODEL_LOCATION="$model" "$bin" invoke "$event"
if "$bin" model convert "$model" "$tmp/course.rpm" 2>"$tmp/err"; then ok; else bad "model convert: $(cat "$tmp/err")"; fi
check "converted native file" "$want" env RUN_ID=Test123 MODEL_LOCATION="$tmp/course.rpm" "$bin" invoke "$event"
check "native keeps the run_id" "$want_run" env -u RUN_ID MODEL_LOCATION="$tmp/course.rpm" "$bin" invoke "$event"
"$bin" model inspect "$model" >"$tmp/out" 2>&1
if grep -q "mlflow-sklearn" "$tmp/out" && grep -q "trees:      100 (mean" "$tmp/out"; then ok; else bad "inspect: $(cat "$tmp/out")"; fi

# Errors: no MLmodel; a flavor we cannot serve; a pickle of something else.
mkdir "$tmp/empty"
if "$bin" model inspect "$tmp/empty" >"$tmp/out" 2>&1; then bad "empty dir accepted"; elif grep -q "no MLmodel" "$tmp/out"; then ok; else bad "empty dir: $(cat "$tmp/out")"; fi
mkdir "$tmp/h2o"
printf 'flavors:\n  h2o:\n    data: model.h2o\n  python_function:\n    loader_module: mlflow.h2o\nrun_id: abc\n' >"$tmp/h2o/MLmodel"
if "$bin" model inspect "$tmp/h2o" >"$tmp/out" 2>&1; then bad "h2o accepted"; elif grep -q "h2o" "$tmp/out" && grep -q "it serves ridepred, sklearn" "$tmp/out"; then ok; else bad "h2o: $(cat "$tmp/out")"; fi
mkdir "$tmp/own"
cp "$tmp/course.rpm" "$tmp/own/m.rpm"
printf 'flavors:\n  ridepred:\n    model: m.rpm\nrun_id: zzz\n' >"$tmp/own/MLmodel"
check "ridepred flavor" "$want" env RUN_ID=Test123 MODEL_LOCATION="$tmp/own" "$bin" invoke "$event"
printf 'flavors:\n  ridepred:\n    model: ../x\n' >"$tmp/own/MLmodel"
if "$bin" model inspect "$tmp/own" >"$tmp/out" 2>&1; then bad "../ accepted"; elif grep -q '".." is not allowed' "$tmp/out"; then ok; else bad "dotdot: $(cat "$tmp/out")"; fi
printf '\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.' >"$tmp/evil.pkl"
if "$bin" model inspect "$tmp/evil.pkl" >"$tmp/out" 2>&1; then bad "os.system accepted"; elif grep -q "refusing to load os.system: not a class ridepred can serve" "$tmp/out"; then ok; else bad "evil: $(cat "$tmp/out")"; fi

rp_done
