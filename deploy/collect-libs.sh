#!/bin/sh
# Collects the shared libraries a binary needs that a base image lacks.
#
#   sh deploy/collect-libs.sh OUT_DIR BASE_LIST BINARY [SONAME ...]
#
# BASE_LIST: the library file names present in the base image (one a line,
# e.g. `ls -1 /usr/lib64`).  BINARY's dependencies, and each SONAME (a
# library the program loads with dlopen) with its own dependencies, are
# resolved by the dynamic loader itself (`ld.so --list`, no ldd needed);
# every one whose name is not in BASE_LIST is copied into OUT_DIR under that
# name (links followed).  Fails, naming it, when anything is not found.
# Prints what it copied and what the base already has.
#
# Used by deploy/Dockerfile in the build stage; runs anywhere with glibc
# (tests/integration/test_deploy.py runs it on the development machine).
set -eu
if [ $# -lt 3 ]; then
    echo "usage: collect-libs.sh OUT_DIR BASE_LIST BINARY [SONAME ...]" >&2
    exit 2
fi
out=$1 base=$2 bin=$3
shift 3
[ -r "$base" ] || { echo "collect-libs: cannot read the base list $base" >&2; exit 1; }
[ -x "$bin" ] || { echo "collect-libs: $bin is not an executable" >&2; exit 1; }

ld=
for c in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1 /lib64/ld-linux-aarch64.so.1; do
    if [ -x "$c" ] || [ -f "$c" ]; then ld=$c; break; fi
done
[ -n "$ld" ] || { echo "collect-libs: no dynamic loader found" >&2; exit 1; }

# Where a soname given by name lives: the loader's cache, else the usual
# directories.
find_so() {
    for d in /usr/lib64 /lib64 /usr/lib /lib /usr/local/lib64 /usr/local/lib \
             /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu; do
        if [ -e "$d/$1" ]; then echo "$d/$1"; return 0; fi
    done
    return 1
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.all"' EXIT
: > "$tmp.all"

# "name => /path (0x...)" lines; ld.so itself and the vdso have no "=>".
list_deps() {
    rc=0
    "$ld" --list "$1" > "$tmp" 2>&1 || rc=$?
    if grep -q -e 'not found' -e 'cannot open shared object' "$tmp"; then
        echo "collect-libs: $1 needs libraries that are not installed:" >&2
        grep -e 'not found' -e 'cannot open shared object' "$tmp" >&2
        exit 1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "collect-libs: the loader cannot resolve $1:" >&2
        cat "$tmp" >&2
        exit 1
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' "$tmp" >> "$tmp.all"
}

list_deps "$bin"
for so in "$@"; do
    path=$(find_so "$so") || { echo "collect-libs: $so (loaded with dlopen) is not installed" >&2; exit 1; }
    echo "$so $path" >> "$tmp.all"
    list_deps "$path"
done

mkdir -p "$out"
sort -u "$tmp.all" | while read -r name path; do
    if grep -qxF "$name" "$base"; then
        echo "in the base image: $name"
    else
        cp -L "$path" "$out/$name"
        echo "copied: $name ($path)"
    fi
done
