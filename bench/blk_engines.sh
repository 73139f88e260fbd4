#!/bin/bash
# bench/blk_engines.sh — guest-kit blkbench through blkback with each block
# I/O engine (PVISOR_BLK_ENGINE=uring, =threads) on the same image, the
# runs interleaved; prints a markdown table of medians and the ratio
# threads / io_uring (docs/benchmarks.md, "Block I/O engines").
#
#   bench/blk_engines.sh [-r REPS] [-b BACKEND] [-q QD] [-m MB] [-o OPS] [-d DIR]
#     -r REPS     runs per engine (default 7); each figure is the median
#     -b BACKEND  pvisor backend (default proc)
#     -q QD       blkbench queue depth (default 8)
#     -m MB       region written and read, MiB (default 32)
#     -o OPS      random 4 KiB operations per phase (default 4000)
#     -d DIR      where the image (MB + 16 MiB) lives (default $TMPDIR or /tmp)
#
# Uses build/pvisor and guest/build/blkbench as they are (make all first).
# Raw output: bench/build/blk-engines/.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
REPS=7 BACKEND=proc QD=8 MB=32 OPS=4000 DIR=${TMPDIR:-/tmp}
while getopts "r:b:q:m:o:d:h" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	b) BACKEND=$OPTARG ;;
	q) QD=$OPTARG ;;
	m) MB=$OPTARG ;;
	o) OPS=$OPTARG ;;
	d) DIR=$OPTARG ;;
	h) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [-r REPS] [-b BACKEND] [-q QD] [-m MB] [-o OPS] [-d DIR]" >&2; exit 2 ;;
	esac
done
PVISOR=${PVISOR:-$TOP/build/pvisor}
BLKBENCH=$TOP/guest/build/blkbench
OUT=$TOP/bench/build/blk-engines
mkdir -p "$OUT" || exit 1
IMG=$(mktemp "$DIR/blk-engines.XXXXXX.img") || exit 1
trap 'rm -f "$IMG"' EXIT
RAW=$OUT/raw.txt
: >"$RAW"

for rep in $(seq 1 "$REPS"); do
	for eng in uring threads; do
		log=$OUT/$eng-$rep.log
		rm -f "$IMG"
		truncate -s $((MB + 16))M "$IMG"
		PVISOR_BLK_ENGINE=$eng timeout -k 5 300 "$PVISOR" run --backend "$BACKEND" \
			--no-raw --disk "$IMG" "$BLKBENCH" -- "mb=$MB" "ops=$OPS" "qd=$QD" \
			</dev/null >"$log" 2>&1
		rc=$?
		if [ $rc != 0 ] || ! grep -q 'verify=ok' "$log"; then
			echo "blk_engines.sh: $eng run $rep failed (exit $rc): $(head -c 300 "$log")" >&2
			continue
		fi
		tr -d '\r' <"$log" | awk -v e="$eng" '
			$1 == "blkbench" && $3 ~ /^(seq_write|seq_read)$/ { split($4, v, "="); print e, $3, v[2] }
			$1 == "blkbench" && $3 ~ /^rand_/ { split($5, v, "="); print e, $3, v[2] }
			$1 == "blkbench" && $3 == "flush" { split($4, v, "="); print e, $3, v[2] }' >>"$RAW"
	done
done

median() { # ENGINE WHAT
	awk -v e="$1" -v w="$2" '$1 == e && $2 == w { print $3 }' "$RAW" | sort -g |
		awk '{ v[n++] = $1 } END { if (n) print v[int((n - 1) / 2)] }'
}

fsgs=no; grep -qw fsgsbase /proc/cpuinfo && fsgs=yes
kvm="no /dev/kvm"; [ -e /dev/kvm ] && kvm="/dev/kvm"
echo "Host: $(uname -r), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs; $kvm, FSGSBASE $fsgs; image on $(df -T "$DIR" | awk 'NR == 2 { print $2 }'); backend $BACKEND; QD $QD, ${MB} MiB region, $OPS random ops; median of $REPS runs each, interleaved"
echo
echo "| what | io_uring | threads | threads / io_uring |"
echo "|---|---|---|---|"
for w in seq_write:MB/s seq_read:MB/s rand_write:IOPS rand_read:IOPS flush:µs; do
	name=${w%%:*} unit=${w#*:}
	u=$(median uring "$name") t=$(median threads "$name")
	ratio=$(awk -v a="$t" -v b="$u" -v f="$name" 'BEGIN {
		if (a == "" || b == "" || b == 0) { print "—"; exit }
		# For the flush time lower is better: the ratio is speed, b / a.
		if (f == "flush") printf "%.2f", b / a; else printf "%.2f", a / b }')
	echo "| $name ($unit) | ${u:-—} | ${t:-—} | $ratio |"
done
