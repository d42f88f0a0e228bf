#!/usr/bin/env bash
# The layers hold: scripts/check-includes passes on this tree (no include
# cycle, every #include within the folder rules and src/model's layers,
# every declaration in its owner's header), and it catches each kind of
# violation in small trees made here: a cycle, a folder importing what it
# may not (a runtime importing another), src/model's image layer importing
# the loader, a file of src/model in no layer, an include that resolves to
# nothing, a public header nobody owns, a declaration away from its
# definition (src/model; a public header; a .c declaring another module's
# function), and the exceptions file (a comment required, stale entries
# refused).  Needs only python3; KEEP=1 keeps the small trees (under
# $TMPDIR) to look at.
set -u
src=${RIDEPRED_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$src/scripts/check-includes
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# This tree.
if out=$(/usr/bin/python3 "$check" --root "$src" 2>&1); then ok; else bad "this tree: $out"; fi
case $out in *"no cycles, every import within the rules"*) ok ;; *) bad "this tree, summary: $out" ;; esac

# A small tree: put FILE TEXT (under $tree).
tree=
fresh() { tree=$tmp/$1; mkdir -p "$tree/src" "$tree/include/ridepred"; }
put() { mkdir -p "$(dirname "$tree/$1")"; printf '%s\n' "$2" >"$tree/$1"; }
# expect DESC WANT: the checker fails on $tree and says WANT.
expect() {
  local desc=$1 want=$2 out rc
  out=$(/usr/bin/python3 "$check" --root "$tree" 2>&1); rc=$?
  if [ $rc -ne 1 ]; then bad "$desc: exit $rc, want 1: $out"; return; fi
  case $out in *"$want"*) ok ;; *) bad "$desc: want '$want' in: $out" ;; esac
}
clean() {
  local desc=$1 out
  if out=$(/usr/bin/python3 "$check" --root "$tree" 2>&1); then ok; else bad "$desc: $out"; fi
}

fresh clean
put src/common/buf.h '#include "ridepred/error.h"'
put src/common/buf.c '#include "common/buf.h"
int rp_buf_x(void) { return 0; }'
put include/ridepred/error.h 'int rp_error_x(void);'
put src/common/error.c '#include "ridepred/error.h"
int rp_error_x(void) { return 0; }'
put src/model/model.h '#include "model/image.h"
int rp__model_build(void);'
put src/model/model.c '#include "model/model.h"
#include "common/buf.h"
int rp__model_build(void) { return 0; }'
put src/model/image.h ''
put src/model/load.c '#include "model/model.h"
#include "model/xgboost.h"'
put src/model/xgboost.h '#include "model/model.h"'
put src/cli/main.c '#include "model/model.h"
#include "serve/serve.h"'
put src/serve/serve.h '#include "function/function.h"'
put src/function/function.h '#include "model/model.h"'
clean "a clean small tree"
cp -r "$tree" "$tmp/base"
from_base() { rm -rf "$tmp/$1"; cp -r "$tmp/base" "$tmp/$1"; tree=$tmp/$1; }

from_base cycle
put src/common/a.h '#include "common/b.h"'
put src/common/b.h '#include "common/a.h"'
expect "a cycle" "cycle: src/common/a -> src/common/b -> src/common/a"
from_base cycle-c
put src/common/a.c '#include "common/b.h"'
put src/common/b.c '#include "common/a.h"'
put src/common/a.h ''
put src/common/b.h ''
expect "a cycle through .c files (a .c and its .h are one module)" "cycle: src/common/a -> src/common/b -> src/common/a"

from_base folder
put src/aws/s3.c '#include "stream/x.h"'
put src/stream/x.h ''
expect "aws importing stream" "src/aws/s3.c:1: src/aws may not import src/stream (src/stream/x.h); src/aws imports common"
from_base runtime
put src/serve/serve.c '#include "lambda/lambda.h"'
put src/lambda/lambda.h ''
expect "a runtime importing another" "src/serve may not import src/lambda"
from_base common
put src/common/log.c '#include "model/model.h"'
expect "common importing model" "src/common may not import src/model"
from_base public
put src/model/model.c '#include "ridepred/handler.h"'
put include/ridepred/handler.h ''
expect "model importing the handler's public header" "src/model may not import src/function (include/ridepred/handler.h)"
from_base newpublic
put include/ridepred/kafka.h 'int rp_kafka_x(void);'
expect "a public header no folder owns" "include/ridepred/kafka.h: a public header that no folder owns"
from_base newfolder
put src/kafka/k.c '#include "common/buf.h"'
expect "a folder with no rule" "folder src/kafka has no rule"

from_base layer
put src/model/model.c '#include "model/model.h"
#include "model/xgboost.h"'
expect "src/model's image layer importing a format" "in src/model, layer image (model) may not import layer formats (src/model/xgboost.h)"
from_base layer-load
put src/model/image.c '#include "model/load.h"'
put src/model/load.h ''
expect "src/model's image layer importing the loader" "layer image (image) may not import layer load"
from_base nolayer
put src/model/onnx.c '#include "model/model.h"'
expect "a file of src/model in no layer" "src/model/onnx.c: in no layer of src/model"

from_base missing
put src/common/buf.c '#include "common/nothere.h"'
expect "an include that resolves to nothing" 'src/common/buf.c:1: "common/nothere.h" is no file of src/ or include/'

from_base owner
put src/model/xgboost.h '#include "model/model.h"
int rp__mlflow_load_xgb(const char *dir,
                        int n);'
put src/model/mlflow.c '/* { not a body */
static const char s[] = "{";
int rp__mlflow_load_xgb(const char *dir, int n)
{
    return n;
}'
expect "a declaration in another module's header (src/model)" \
  "src/model/xgboost.h:2: rp__mlflow_load_xgb is defined in src/model/mlflow.c: declare it in src/model/mlflow.h"
from_base owner-public
put include/ridepred/error.h 'int rp_error_x(void);
#ifdef __cplusplus
extern "C" {
#endif
int rp_stream_x(int a);
#ifdef __cplusplus
}
#endif'
put src/stream/s.c 'int rp_stream_x(int a) { return a; }'
expect "public API defined outside its folder" \
  "include/ridepred/error.h:5: rp_stream_x is public API of src/common but defined in src/stream/s.c"
from_base owner-c
put src/model/load.c '#include "model/model.h"
int rp_buf_x(void);'
expect "a .c declaring another module's function" \
  "src/model/load.c:2: declares rp_buf_x itself, which src/common/buf.c defines: include src/common/buf.h instead"
from_base owner-folder
put src/pipeline/train.h 'int rp_train_a(void);
int rp_train_b(void);'
put src/pipeline/a.c 'int rp_train_a(void) { return 0; }'
put src/pipeline/b.c 'int rp_train_b(void) { return 0; }'
clean "one interface header for several files of an unlayered folder"

# The exceptions file.
from_base allow
put src/aws/s3.c '#include "stream/x.h"'
put src/stream/x.h ''
put scripts/check-includes.allow '# comment
src/aws/s3.c src/stream/x.h  # until the upload moves to stream'
clean "an import listed as an exception"
put scripts/check-includes.allow 'src/aws/s3.c src/stream/x.h'
expect "an exception without a comment" "needs a comment saying why"
put scripts/check-includes.allow 'src/aws/s3.c src/stream/x.h  # why
src/aws/s3.c src/common/buf.h  # stale'
expect "an exception that is no longer needed" \
  "check-includes.allow:2: the exception src/aws/s3.c -> src/common/buf.h is no longer needed: remove it"

echo "test_layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
