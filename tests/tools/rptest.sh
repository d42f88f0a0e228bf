# What the integration shell scripts (tests/integration/*.sh) share, as
# tests/tools/rptest.py does for the Python ones.  Source it first:
#
#   . "$(dirname "$0")/../tools/rptest.sh"
#
# Where things are (the variables CTest and the Makefile set, else the
# layout of a checkout beside ../shared):
#   src       RIDEPRED_SOURCE_DIR, else the checkout holding this file
#   build     RIDEPRED_BUILD_DIR, else $src/build
#   bin       RIDEPRED_BIN, else $build/ridepred
#   fixtures  RIDEPRED_FIXTURES_DIR, else $src/../shared/fixtures
#   data      RIDEPRED_DATA_DIR, else $src/../shared/data
#
# rp_skip WHY   prints SKIP and exits 77 (CTest: skipped); when CI is set
#               nothing may skip: prints FAIL and exits 1
# rp_tmpdir     makes a temporary directory in $tmp, removed on exit
# ok / bad WHY  count a passed / failed check (bad prints FAIL: WHY)
# rp_done       prints "N passed, N failed" and exits 1 on any failure, else 0

src=${RIDEPRED_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${RIDEPRED_BUILD_DIR:-$src/build}
bin=${RIDEPRED_BIN:-$build/ridepred}
fixtures=${RIDEPRED_FIXTURES_DIR:-$src/../shared/fixtures}
data=${RIDEPRED_DATA_DIR:-$src/../shared/data}

rp_skip() {
  if [ -n "${CI:-}" ]; then
    echo "FAIL: $* (CI is set: nothing may skip)" >&2
    exit 1
  fi
  echo "SKIP: $*" >&2
  exit 77
}

rp_tmpdir() {
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
}

passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

rp_done() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}
