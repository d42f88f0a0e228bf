#!/usr/bin/env bash
# The command line as a user meets it: --help everywhere, exit codes, the
# predict forms, inspect output, logs in both formats, clear errors.
set -u
. "$(dirname "$0")/../tools/rptest.sh"
[ -d "$fixtures/events" ] || rp_skip "fixtures not found at $fixtures (set RIDEPRED_FIXTURES_DIR)"
rp_tmpdir
# Answer without publishing unless a test says otherwise; never touch the
# user's own local store.
export TEST_RUN=True
export RIDEPRED_LOCAL_STORE=$tmp/streams.db
expect_exit() { # want desc cmd...
  local want=$1 desc=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$desc: exit $got, want $want; stderr: $(head -c 300 "$tmp/err")"; fi
}
contains() { # file text desc
  if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 300 "$1")"; fi
}

cat > "$tmp/m.json" <<'JSON'
{"format": "ridepred.model/1", "version": "v1", "features": ["PU_DO=130_205", "trip_distance"],
 "estimator": {"type": "linear", "coef": [1.5, 3.25], "intercept": 10.1}}
JSON

# --help on every command, to stdout, exit 0
for c in "" "invoke" "predict" "model"; do
  expect_exit 0 "ridepred $c --help" $bin $c --help
  contains "$tmp/out" "usage: ridepred" "ridepred $c --help"
done
expect_exit 0 "model convert --help" $bin model convert --help
expect_exit 0 "--version" $bin --version
contains "$tmp/out" "ridepred " "--version"
grep -q "TEST_RUN" <($bin invoke --help) && ok || bad "invoke --help explains publishing"
for c in streams put read; do
  expect_exit 0 "ridepred $c --help" $bin $c --help
  contains "$tmp/out" "usage: ridepred $c" "ridepred $c --help"
done

# usage errors exit 2
expect_exit 2 "no command" $bin
expect_exit 2 "unknown command" $bin frobnicate
expect_exit 2 "unknown option" $bin invoke --bogus
expect_exit 2 "predict with half the flags" $bin predict --model "$tmp/m.json" --pu 1
expect_exit 2 "no model anywhere" env -u MODEL_LOCATION $bin invoke "$fixtures/events/course-event.json"
contains "$tmp/err" "MODEL_LOCATION" "no model: says what to do"
expect_exit 2 "bad log format" $bin invoke --log-format xml --model "$tmp/m.json" "$fixtures/events/course-event.json"

# could not run: exit 3 with a clear message
expect_exit 3 "missing model" $bin invoke --model "$tmp/nope.json" "$fixtures/events/course-event.json"
contains "$tmp/err" "nope.json" "missing model is named"
echo '{"format": "x"}' > "$tmp/bad.json"
expect_exit 3 "bad model" $bin invoke --model "$tmp/bad.json" "$fixtures/events/course-event.json"
contains "$tmp/err" "ridepred.model/1" "bad model says why"
expect_exit 3 "missing event file" $bin invoke --model "$tmp/m.json" "$tmp/none.json"

# invoke: answers, exit 0; InvalidEvent printed then exit 1
expect_exit 0 "invoke course event" env RUN_ID=Test123 $bin invoke --model "$tmp/m.json" "$fixtures/events/course-event.json"
contains "$tmp/out" '"version": "Test123", "prediction": {"ride_duration": 23.494999999999997, "ride_id": 256}' "invoke course event"
expect_exit 0 "invoke from stdin" sh -c "$bin invoke --model '$tmp/m.json' - < '$fixtures/events/seed-direct.json'"
contains "$tmp/out" '{"ride_duration": 23.494999999999997, "ride_id": 123}' "direct event from stdin"
expect_exit 0 "--model-version wins over RUN_ID" env RUN_ID=r $bin invoke --model "$tmp/m.json" --model-version mv "$fixtures/events/course-event.json"
contains "$tmp/out" '"version": "mv"' "--model-version"
echo '[1, 2]' > "$tmp/list.json"
expect_exit 1 "invalid event" $bin invoke --model "$tmp/m.json" "$tmp/list.json"
contains "$tmp/out" '"errorType": "InvalidEvent"}' "invalid event body"
head -c 7000000 /dev/zero | tr '\0' ' ' > "$tmp/big.json"
expect_exit 1 "event over 6 MiB" $bin invoke --model "$tmp/m.json" "$tmp/big.json"
contains "$tmp/out" "6291456" "6 MiB limit named"

# a failed record is logged with its reason: text and JSON logs
echo '{"Records": [{"kinesis": {"data": "bm90IGpzb24=", "sequenceNumber": "7"}}]}' > "$tmp/badrec.json"
expect_exit 0 "bad record" $bin invoke --model "$tmp/m.json" "$tmp/badrec.json"
contains "$tmp/out" '{"predictions": [], "batchItemFailures": [{"itemIdentifier": "7"}]}' "bad record answer"
contains "$tmp/err" "sequence_number=7" "text log names the record"
expect_exit 0 "JSON logs" env AWS_LAMBDA_LOG_FORMAT=JSON $bin invoke --model "$tmp/m.json" "$tmp/badrec.json"
if /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]; d=json.loads(open(sys.argv[1]).readline()); assert d["level"]=="WARN" and d["sequence_number"]=="7" and "reason" in d' "$tmp/err"; then ok; else bad "JSON log lines: $(cat "$tmp/err")"; fi
# a lone surrogate in a sequence number: escaped in the text log, which stays valid UTF-8
echo '{"Records": [{"kinesis": {"data": "bm90IGpzb24=", "sequenceNumber": "7\ud800"}}]}' > "$tmp/surrogate.json"
expect_exit 0 "bad record, lone surrogate" $bin invoke --model "$tmp/m.json" "$tmp/surrogate.json"
if /usr/bin/python3 -c 'import sys; t=open(sys.argv[1], "rb").read().decode("utf-8"); assert "sequence_number=\"7\\ud800\"" in t, t' "$tmp/err"; then ok; else bad "text log of a lone surrogate: $(od -c "$tmp/err" | head -5)"; fi
expect_exit 0 "log level off" $bin invoke --log-level off --model "$tmp/m.json" "$tmp/badrec.json"
[ ! -s "$tmp/err" ] && ok || bad "--log-level off still logs"

# --log-format and --log-level on every command (the top-level help lists
# them for all): each case fails (exit 3) with an error logged, as one JSON
# line, not at all with --log-level off; a bad level is a usage error.
log_flags() { # cmd... (fails with exit 3 after logging an error)
  local desc="${*:2:3}"
  expect_exit 3 "$desc --log-format json" "$@" --log-format json
  if /usr/bin/python3 -c 'import json,sys; ls=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; assert ls and all(d["level"]=="ERROR" for d in ls)' "$tmp/err"; then ok; else bad "$desc --log-format json: $(head -c 300 "$tmp/err")"; fi
  expect_exit 3 "$desc --log-level off" "$@" --log-level off
  [ ! -s "$tmp/err" ] && ok || bad "$desc --log-level off still logs: $(head -c 300 "$tmp/err")"
  expect_exit 3 "$desc --log-level=off" "$@" --log-level=off
  [ ! -s "$tmp/err" ] && ok || bad "$desc --log-level=off still logs: $(head -c 300 "$tmp/err")"
  expect_exit 2 "$desc --log-level loud" "$@" --log-level loud
  contains "$tmp/err" "--log-level must be" "$desc --log-level loud"
}
log_flags $bin invoke --model "$tmp/nope.json" "$fixtures/events/course-event.json"
log_flags $bin predict --model "$tmp/nope.json" --pu 1 --do 2 --distance 3
log_flags $bin model convert "$tmp/nope.json" "$tmp/nope.rpm"
log_flags $bin model inspect "$tmp/nope.json"
log_flags $bin streams describe nosuch
log_flags $bin put nosuch '{"ride_id": 1}'
log_flags $bin read nosuch
log_flags env -u AWS_LAMBDA_RUNTIME_API $bin lambda --model "$tmp/m.json"
log_flags $bin serve --model "$tmp/nope.json" --listen 127.0.0.1:0
log_flags env -u TEST_RUN $bin consume --from nosuch --to nosuch2 --model "$tmp/nope.json"
expect_exit 2 "consume under TEST_RUN=True, --log-level off" $bin consume --from nosuch --to nosuch2 --model "$tmp/nope.json" --log-level off
[ ! -s "$tmp/err" ] && ok || bad "consume --log-level off: its TEST_RUN refusal still logs"
log_flags $bin train --train "$tmp/nope.parquet" --val "$tmp/nope.parquet" --algo linear --out "$tmp/trained"
log_flags $bin replay "$tmp/nope.parquet" --to nosuch
log_flags $bin evaluate "$tmp/nope.parquet" --rides nosuch --predictions nosuch2
log_flags $bin monitor --model "$tmp/nope.json" --reference "$tmp/nope.parquet" "$tmp/nope.parquet"
# model: before the subcommand too
expect_exit 3 "model --log-level off first" $bin model --log-level off inspect "$tmp/nope.json"
[ ! -s "$tmp/err" ] && ok || bad "model --log-level off inspect still logs"
for c in invoke predict model streams put read lambda serve consume train replay evaluate monitor; do
  $bin $c --help > "$tmp/out" 2>&1
  if grep -q -- "--log-format" "$tmp/out" && grep -q -- "--log-level" "$tmp/out"; then ok; else bad "$c --help does not list --log-format and --log-level"; fi
done

# predict: flags and JSON, numbers stay numbers
expect_exit 0 "predict flags" $bin predict --model "$tmp/m.json" --pu 130 --do 205 --distance 3.66
contains "$tmp/out" "23.494999999999997" "predict flags"
expect_exit 0 "predict JSON" $bin predict --model "$tmp/m.json" '{"PULocationID": 130, "DOLocationID": 205, "trip_distance": 3.66}'
contains "$tmp/out" "23.494999999999997" "predict JSON"
expect_exit 0 "predict float PU" $bin predict --model "$tmp/m.json" --pu 130.0 --do 205 --distance 3.66
contains "$tmp/out" "21.994999999999997" "130.0 forms PU_DO 130.0_205 (unseen)"
expect_exit 1 "predict bad distance" $bin predict --model "$tmp/m.json" --pu 130 --do 205 --distance abc
contains "$tmp/err" "trip_distance" "bad distance is named"

# model convert / inspect
expect_exit 0 "convert" $bin model convert "$tmp/m.json" "$tmp/m.rpm"
expect_exit 0 "inspect" $bin model inspect "$tmp/m.rpm"
contains "$tmp/out" "kind:       linear" "inspect text"
contains "$tmp/out" "source:     not recorded (a ridepred.model/1 JSON model" "inspect text: a JSON model has no source"
expect_exit 0 "inspect --json" $bin model inspect --json "$tmp/m.rpm"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"]=="native" and d["kind"]=="linear" and d["features"]==2 and d["version"]=="v1"' "$tmp/out"; then ok; else bad "inspect --json: $(cat "$tmp/out")"; fi
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["source"] is None' "$tmp/out"; then ok; else bad "inspect --json source of a JSON model: $(cat "$tmp/out")"; fi
head -c 100 "$tmp/m.rpm" > "$tmp/trunc.rpm"
expect_exit 3 "truncated native model" $bin model inspect "$tmp/trunc.rpm"
contains "$tmp/err" "truncated" "truncated model says so"
cp "$tmp/m.rpm" "$tmp/flip.rpm"; printf '\x55' | dd of="$tmp/flip.rpm" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_exit 3 "damaged native model" $bin model inspect "$tmp/flip.rpm"
contains "$tmp/err" "checksum" "damaged model says checksum"
expect_exit 0 "convert native to native" $bin model convert "$tmp/m.rpm" "$tmp/m2.rpm"
cmp -s "$tmp/m.rpm" "$tmp/m2.rpm" && ok || bad "native round trip is not byte-identical"
expect_exit 3 "convert into a missing dir" $bin model convert "$tmp/m.json" "$tmp/no/such/dir/m.rpm"

# streams, put, read on the local store
expect_exit 0 "streams create" $bin streams create ride_events --shards 2
contains "$tmp/out" "created local:ride_events (2 shards)" "streams create"
expect_exit 3 "streams create twice" $bin streams create ride_events
contains "$tmp/err" "ResourceInUseException" "duplicate stream named"
expect_exit 3 "bad stream name" $bin streams create 'bad name!'
contains "$tmp/err" "letters, digits" "bad stream name says why"
expect_exit 0 "streams list" $bin streams list
contains "$tmp/out" "local:ride_events" "streams list"
expect_exit 0 "streams describe" $bin streams describe local:ride_events
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["StreamName"]=="ride_events" and d["OpenShardCount"]==2 and len(d["Shards"])==2' "$tmp/out"; then ok; else bad "describe: $(cat "$tmp/out")"; fi
expect_exit 0 "put one" $bin put ride_events '{"ride": {"PULocationID": 130, "DOLocationID": 205, "trip_distance": 3.66}, "ride_id": 156}'
contains "$tmp/out" '{"ShardId": "shardId-0000000000' "put prints the shard"
printf '{"ride_id": 1}
{"ride_id": "a\u00e9"}
not json
' > "$tmp/lines"
expect_exit 1 "put lines, one without a key" sh -c "$bin put ride_events - < '$tmp/lines'"
[ "$(grep -c SequenceNumber "$tmp/out")" -eq 2 ] && ok || bad "two of three lines stored: $(cat "$tmp/out")"
contains "$tmp/out" '"ErrorCode": "NoPartitionKey"' "the keyless line is reported"
expect_exit 0 "put with a key" $bin put ride_events --partition-key k 'plain text'
expect_exit 0 "read" $bin read ride_events
[ "$(wc -l < "$tmp/out")" -eq 4 ] && ok || bad "read returns 4 records: $(cat "$tmp/out")"
if /usr/bin/python3 - "$tmp/out" <<'PY'; then ok; else bad "read lines: $(cat "$tmp/out")"; fi
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
by_key = {r["partition_key"]: r for r in recs}
assert by_key["156"]["data"] == {"ride": {"PULocationID": 130, "DOLocationID": 205, "trip_distance": 3.66}, "ride_id": 156}
assert by_key["a\u00e9"]["data"] == {"ride_id": "a\u00e9"}
assert by_key["k"]["data"] == "plain text"
assert all(set(r) == {"shard", "sequence_number", "partition_key", "arrival", "data"} for r in recs)
PY
expect_exit 0 "read --limit" $bin read ride_events --limit 1
[ "$(wc -l < "$tmp/out")" -eq 1 ] && ok || bad "--limit 1"
expect_exit 0 "read --from latest" $bin read ride_events --from latest
[ ! -s "$tmp/out" ] && ok || bad "--from latest reads nothing old"
expect_exit 2 "read --from bogus" $bin read ride_events --from yesterday
expect_exit 3 "read unknown stream" $bin read nosuch
contains "$tmp/err" "ResourceNotFoundException" "unknown stream named"
expect_exit 3 "kinesis backend without a region" env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE HOME="$tmp" $bin streams list --backend kinesis
contains "$tmp/err" "set AWS_REGION" "kinesis backend says what is missing"

# publishing from invoke (TEST_RUN unset)
expect_exit 0 "invoke, no predictions stream" env -u TEST_RUN RUN_ID=Test123 $bin invoke --model "$tmp/m.json" "$fixtures/events/course-event.json"
contains "$tmp/out" '{"predictions": [], "batchItemFailures": [{"itemIdentifier": "49630081666084879290581185630324770398608704880802529282"}]}' "unpublished record fails"
contains "$tmp/err" "ResourceNotFoundException" "unpublished record says why"
expect_exit 0 "create ride_predictions" $bin streams create ride_predictions
expect_exit 0 "invoke publishes" env -u TEST_RUN RUN_ID=Test123 $bin invoke --model "$tmp/m.json" "$fixtures/events/course-event.json"
contains "$tmp/out" '"ride_id": 256}}]}' "published record answered"
expect_exit 0 "read predictions" $bin read ride_predictions
if /usr/bin/python3 - "$tmp/out" <<'PY'; then ok; else bad "published record: $(cat "$tmp/out")"; fi
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["partition_key"] == "256"
assert recs[0]["data"] == {"model": "ride_duration_prediction_model", "version": "Test123", "prediction": {"ride_duration": 23.494999999999997, "ride_id": 256}}
PY
expect_exit 0 "direct events are not published" env -u TEST_RUN $bin invoke --model "$tmp/m.json" "$fixtures/events/seed-direct.json"
expect_exit 0 "--test-run" env -u TEST_RUN $bin invoke --test-run --model "$tmp/m.json" "$fixtures/events/course-event.json"
expect_exit 0 "PREDICTIONS_STREAM_NAME" env -u TEST_RUN PREDICTIONS_STREAM_NAME=ride_events $bin invoke --model "$tmp/m.json" "$fixtures/events/course-event.json"
expect_exit 0 "read both" $bin read ride_predictions
[ "$(wc -l < "$tmp/out")" -eq 1 ] && ok || bad "direct event and --test-run published nothing"

# Where the local store is when --store is not given (the command line's
# rule; the library takes a path): RIDEPRED_LOCAL_STORE (empty counts as
# unset), else $XDG_STATE_HOME/ridepred/streams.db when XDG_STATE_HOME is
# absolute, else ~/.local/state/ridepred/streams.db.
mkdir -p "$tmp/paths"
expect_exit 0 "store from RIDEPRED_LOCAL_STORE" env RIDEPRED_LOCAL_STORE="$tmp/paths/env.db" XDG_STATE_HOME="$tmp/paths/xdg" HOME="$tmp/paths/home" $bin streams create s1
[ -f "$tmp/paths/env.db" ] && [ ! -e "$tmp/paths/xdg" ] && ok || bad "RIDEPRED_LOCAL_STORE names the store"
expect_exit 0 "store under XDG_STATE_HOME" env RIDEPRED_LOCAL_STORE= XDG_STATE_HOME="$tmp/paths/xdg" HOME="$tmp/paths/home" $bin streams create s1
[ -f "$tmp/paths/xdg/ridepred/streams.db" ] && [ ! -e "$tmp/paths/home" ] && ok || bad "an empty RIDEPRED_LOCAL_STORE: XDG_STATE_HOME"
expect_exit 0 "store under HOME" env -u RIDEPRED_LOCAL_STORE XDG_STATE_HOME=relative/dir HOME="$tmp/paths/home" $bin streams create s1
[ -f "$tmp/paths/home/.local/state/ridepred/streams.db" ] && [ ! -e relative ] && ok || bad "a relative XDG_STATE_HOME is ignored: HOME"
expect_exit 3 "no place for the store" env -u RIDEPRED_LOCAL_STORE -u XDG_STATE_HOME -u HOME $bin streams create s1
contains "$tmp/err" "RIDEPRED_LOCAL_STORE" "no store path: says what to set"

# A model's version is kept whole: a NUL or an escape sequence in it is
# answered as json.dumps writes it and shown escaped by inspect; one over
# 1024 bytes is refused by name at start, never cut or made "unknown".
printf '%s' '{"format": "ridepred.model/1", "version": "a\u0000b\u001b[31m", "features": ["trip_distance"], "estimator": {"type": "linear", "coef": [1.0], "intercept": 0.5}}' > "$tmp/vnul.json"
expect_exit 0 "version with a NUL" env -u RUN_ID -u MODEL_VERSION $bin invoke --model "$tmp/vnul.json" "$fixtures/events/course-event.json"
contains "$tmp/out" '"version": "a\u0000b\u001b[31m", "prediction"' "version with a NUL answered whole"
expect_exit 0 "inspect a version with a NUL" $bin model inspect "$tmp/vnul.json"
contains "$tmp/out" 'version:    "a\u0000b\u001b[31m"' "inspect shows the version escaped"
if ! grep -q $'\x1b' "$tmp/out"; then ok; else bad "inspect wrote a raw escape byte"; fi
expect_exit 0 "inspect --json a version with a NUL" $bin model inspect --json "$tmp/vnul.json"
contains "$tmp/out" '"version": "a\u0000b\u001b[31m"' "inspect --json shows the whole version"
/usr/bin/python3 -c 'import json,sys; json.dump({"format": "ridepred.model/1", "version": "v" * 2000000, "features": ["trip_distance"], "estimator": {"type": "linear", "coef": [1.0], "intercept": 0.5}}, open(sys.argv[1], "w"))' "$tmp/vbig.json"
expect_exit 3 "a 2M-character version" env -u RUN_ID -u MODEL_VERSION $bin invoke --model "$tmp/vbig.json" "$fixtures/events/course-event.json"
contains "$tmp/err" "version is 2000000 bytes; at most 1024" "a long version is refused by name"
contains "$tmp/err" "MODEL_VERSION" "a long version: says what to do"
expect_exit 0 "a long version replaced by MODEL_VERSION" env MODEL_VERSION=short $bin invoke --model "$tmp/vbig.json" "$fixtures/events/course-event.json"
contains "$tmp/out" '"version": "short"' "MODEL_VERSION wins over a long version"
expect_exit 3 "a RUN_ID of 1025 bytes" env -u MODEL_VERSION RUN_ID="$(head -c 1025 /dev/zero | tr '\0' r)" $bin invoke --model "$tmp/m.json" "$fixtures/events/course-event.json"
contains "$tmp/err" "1025 bytes" "a long RUN_ID is refused by name"

rp_done
