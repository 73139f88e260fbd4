#!/bin/bash
# bench/coldstart.sh — `pvisor run` of the guest kit's hello, to its exit,
# wall time per run (docs/benchmarks.md, "Cold start").  Runs N times on each
# backend that works here and prints min / median / max in ms.  The TSC rate
# cache (xen/tsc_rate.h) is in a directory of this script's own: "cold" runs
# empty it before every start (the 20 ms measurement each time), "cached"
# leave it (the check against it: at least 2 ms, mostly overlapping the
# start since tsc_rate_start).
#
#   bench/coldstart.sh [-n RUNS] [-b "proc kvm"]
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
PVISOR=${PVISOR:-$TOP/build/pvisor}
HELLO=$TOP/guest/build/hello
RUNS=30
BACKENDS="proc kvm"
while getopts "n:b:" opt; do
	case $opt in
	n) RUNS=$OPTARG ;;
	b) BACKENDS=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-b BACKENDS]" >&2; exit 2 ;;
	esac
done
export XDG_RUNTIME_DIR
XDG_RUNTIME_DIR=$(mktemp -d)
trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT

# one BACKEND MODE: prints "min median max" in ms over RUNS.
one() {
	local be=$1 mode=$2 i t0 t1
	for ((i = 0; i < RUNS; i++)); do
		[ "$mode" = cold ] && rm -rf "$XDG_RUNTIME_DIR"/pvisor-*
		t0=$(date +%s%N)
		"$PVISOR" run --backend "$be" --no-raw -q "$HELLO" </dev/null >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", v[1] / 1000, v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }'
}

echo "| backend | TSC rate | min ms | median ms | max ms |"
echo "|---|---|---|---|---|"
for be in $BACKENDS; do
	if ! "$PVISOR" host --query "backend:$be" >/dev/null 2>&1; then
		echo "| $be | — | unavailable | | |"
		continue
	fi
	"$PVISOR" run --backend "$be" --no-raw -q "$HELLO" </dev/null >/dev/null 2>&1 # warm the page cache
	for mode in cold cached; do
		read -r mn md mx < <(one "$be" "$mode") || { echo "| $be | $mode | failed | | |"; continue; }
		echo "| $be | $mode | $mn | $md | $mx |"
	done
done
