#!/bin/bash
# bench/p9_share.sh — sequential write (+fsync) and read of one file through
# a 9pfs share (guest kit p9bench, msize 512 KiB, DEPTH requests in flight)
# against the host's own dd on the same directory, runs interleaved; prints
# a markdown table of medians and the share / host ratios
# (docs/benchmarks.md, "9pfs shares").
#
#   bench/p9_share.sh [-r REPS] [-b BACKEND] [-m MB] [-d DIR] [-q DEPTH]
#     -r REPS     runs of each (default 5); each figure is the median
#     -b BACKEND  pvisor backend (default proc)
#     -m MB       file size, MiB (default 256)
#     -d DIR      the shared directory's parent (default $TMPDIR or /tmp)
#     -q DEPTH    requests in flight (default 2; 1: wait for each answer)
#
# Uses build/pvisor and guest/build/p9bench as they are (make all first).
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
REPS=5 BACKEND=proc MB=256 DIR=${TMPDIR:-/tmp} DEPTH=2
while getopts "r:b:m:d:q:h" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	b) BACKEND=$OPTARG ;;
	m) MB=$OPTARG ;;
	d) DIR=$OPTARG ;;
	q) DEPTH=$OPTARG ;;
	h) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [-r REPS] [-b BACKEND] [-m MB] [-d DIR] [-q DEPTH]" >&2; exit 2 ;;
	esac
done
PVISOR=${PVISOR:-$TOP/build/pvisor}
SHARE=$(mktemp -d "$DIR/p9bench.XXXXXX") || exit 1
trap 'rm -rf "$SHARE"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
now() { date +%s%N; }

gw=() gr=() hw=() hr=()
for _ in $(seq "$REPS"); do
	out=$("$PVISOR" run --backend "$BACKEND" --no-raw -q --share "$SHARE,tag=bench" \
		"$TOP/guest/build/p9bench" -- mb="$MB" depth="$DEPTH" 2>&1)
	line=$(grep '^p9bench write' <<<"$out") || { echo "p9bench failed: $out" >&2; exit 1; }
	gw+=("$(sed 's/.*write MB\/s=\([0-9]*\).*/\1/' <<<"$line")")
	gr+=("$(sed 's/.*read MB\/s=\([0-9]*\).*/\1/' <<<"$line")")
	t0=$(now)
	dd if=/dev/zero of="$SHARE/host.dat" bs=1M count="$MB" conv=fsync status=none
	t1=$(now)
	dd if="$SHARE/host.dat" of=/dev/null bs=1M status=none
	t2=$(now)
	hw+=("$(( (MB << 20) * 1000 / (t1 - t0) ))")
	hr+=("$(( (MB << 20) * 1000 / (t2 - t1) ))")
	rm -f "$SHARE/host.dat"
done
GW=$(printf '%s\n' "${gw[@]}" | median) GR=$(printf '%s\n' "${gr[@]}" | median)
HW=$(printf '%s\n' "${hw[@]}" | median) HR=$(printf '%s\n' "${hr[@]}" | median)
echo "| $MB MiB file, $BACKEND, median of $REPS | write + fsync MB/s | read MB/s |"
echo "|---|---|---|"
echo "| 9pfs share (guest kit p9bench, msize 512 KiB, depth $DEPTH) | $GW | $GR |"
echo "| host dd bs=1M on the same directory | $HW | $HR |"
echo "| share / host | $(awk "BEGIN {printf \"%.2f\", $GW / $HW}") | $(awk "BEGIN {printf \"%.2f\", $GR / $HR}") |"
echo "raw: guest write ${gw[*]}; guest read ${gr[*]}; host write ${hw[*]}; host read ${hr[*]}"
