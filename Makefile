# ridepred: the commands a newcomer needs.  Each target installs what it
# needs on Debian 12 (scripts/deps) and builds with CMake under build/.
#   make          build build/ridepred
#   make test     every test (unit + integration), via CTest
#   make bench    the benchmarks, side by side with the Python reference
#   make demo     the main job
#   make asan     unit tests under ASan + UBSan
#   make valgrind unit tests and CLI runs under valgrind (leaks are errors)
#   make fuzz     a short libFuzzer run of every fuzz target (clang)
#   make format   clang-format every C file (.clang-format); CI checks it

BUILD ?= build
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
SHARED ?= $(abspath $(CURDIR)/../shared)
# The TLC files: ../shared/data when it is there; else unset, and make demo
# looks in (and downloads into) ./data.
export RIDEPRED_DATA_DIR ?= $(if $(wildcard $(SHARED)/data/*.parquet),$(SHARED)/data)
export RIDEPRED_FIXTURES_DIR ?= $(SHARED)/fixtures
FUZZ_SECONDS ?= 30

.PHONY: all deps build test unit asan valgrind fuzz bench demo format clean

all: build

deps:
	@scripts/deps build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@scripts/deps test
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

asan:
	@scripts/deps test
	@cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DRIDEPRED_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -L unit

valgrind: build
	@scripts/deps test
	@scripts/valgrind $(BUILD)

fuzz: build
	@scripts/deps test
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DRIDEPRED_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@RIDEPRED_BIN=$(BUILD)/ridepred scripts/fuzz build-fuzz $(FUZZ_SECONDS)

bench: build
	@scripts/deps bench
	@bench/run $(BUILD)

demo: build
	@scripts/demo $(BUILD)

format:
	@scripts/format

clean:
	rm -rf $(BUILD) build-asan build-fuzz
