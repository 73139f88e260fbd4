#!/bin/bash
# bench/scsi_vs_blk.sh — the guest kit's scsibench (vscsiif, --scsi) against
# blkbench (blkif, --disk) on the same image, runs interleaved; prints a
# markdown table of medians: MB/s (sequential 64 KiB), IOPS (random 4 KiB),
# requests per guest notification, and the ratio vscsiif / blkif
# (docs/benchmarks.md, "Paravirtual SCSI vs blkif").
#
#   bench/scsi_vs_blk.sh [-r REPS] [-b BACKEND] [-q QD] [-m MB] [-o OPS] [-d DIR]
#     -r REPS     runs each (default 5); each figure is the median
#     -b BACKEND  pvisor backend (default proc)
#     -q QD       queue depth (default 8; scsibench's ring has 16 slots)
#     -m MB       region written and read, MiB (default 32)
#     -o OPS      random 4 KiB operations per phase (default 4000)
#     -d DIR      where the image (MB + 16 MiB) lives (default $TMPDIR or /tmp)
#
# Uses build/pvisor and guest/build/{blkbench,scsibench} (make all first).
# Raw output: bench/build/scsi-vs-blk/.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
REPS=5 BACKEND=proc QD=8 MB=32 OPS=4000 DIR=${TMPDIR:-/tmp}
while getopts "r:b:q:m:o:d:h" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	b) BACKEND=$OPTARG ;;
	q) QD=$OPTARG ;;
	m) MB=$OPTARG ;;
	o) OPS=$OPTARG ;;
	d) DIR=$OPTARG ;;
	h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [-r REPS] [-b BACKEND] [-q QD] [-m MB] [-o OPS] [-d DIR]" >&2; exit 2 ;;
	esac
done
PVISOR=${PVISOR:-$TOP/build/pvisor}
OUT=$TOP/bench/build/scsi-vs-blk
mkdir -p "$OUT" || exit 1
IMG=$(mktemp "$DIR/scsi-vs-blk.XXXXXX.img") || exit 1
trap 'rm -f "$IMG"' EXIT
RAW=$OUT/raw.txt
: >"$RAW"

for rep in $(seq 1 "$REPS"); do
	for dev in blk scsi; do
		log=$OUT/$dev-$rep.log
		rm -f "$IMG"
		truncate -s $((MB + 16))M "$IMG"
		if [ $dev = blk ]; then
			set -- --disk "$IMG" "$TOP/guest/build/blkbench"
		else
			set -- --scsi "$IMG" "$TOP/guest/build/scsibench"
		fi
		timeout -k 5 300 "$PVISOR" run --backend "$BACKEND" --no-raw "$@" -- \
			"mb=$MB" "ops=$OPS" "qd=$QD" </dev/null >"$log" 2>&1
		rc=$?
		if [ $rc != 0 ] || ! grep -q 'verify=ok' "$log"; then
			echo "scsi_vs_blk.sh: $dev run $rep failed (exit $rc): $(head -c 300 "$log")" >&2
			continue
		fi
		# blkbench lines have the device name as $2; scsibench's do not.
		tr -d '\r' <"$log" | awk -v d="$dev" '
			($1 == "blkbench" || $1 == "scsibench") {
				o = $1 == "blkbench" ? 1 : 0
				w = $(2 + o)
				if (w !~ /^(seq|rand)_/) next
				for (i = 3 + o; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
				print d, w, (w ~ /^seq/ ? f["MB/s"] : f["IOPS"]), f["req/notify"]
			}' >>"$RAW"
	done
done

median() { # DEV WHAT COLUMN
	awk -v d="$1" -v w="$2" -v c="$3" '$1 == d && $2 == w { print $c }' "$RAW" | sort -g |
		awk '{ v[n++] = $1 } END { if (n) print v[int((n - 1) / 2)] }'
}

fsgs=no; grep -qw fsgsbase /proc/cpuinfo && fsgs=yes
kvm="no /dev/kvm"; [ -e /dev/kvm ] && kvm="/dev/kvm"
eng=${PVISOR_BLK_ENGINE:-auto}
echo "Host: $(uname -r), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs; $kvm, FSGSBASE $fsgs; image on $(df -T "$DIR" | awk 'NR == 2 { print $2 }'); backend $BACKEND, engine $eng; QD $QD, ${MB} MiB region, $OPS random ops; median of $REPS runs each, interleaved"
echo
echo "| what | blkif | vscsiif | vscsiif / blkif | req/notify blkif | req/notify vscsiif |"
echo "|---|---|---|---|---|---|"
for w in seq_write:MB/s seq_read:MB/s rand_write:IOPS rand_read:IOPS; do
	name=${w%%:*} unit=${w#*:}
	b=$(median blk "$name" 3) s=$(median scsi "$name" 3)
	bn=$(median blk "$name" 4) sn=$(median scsi "$name" 4)
	ratio=$(awk -v a="$s" -v b="$b" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a / b }')
	echo "| $name ($unit) | ${b:-—} | ${s:-—} | $ratio | ${bn:-—} | ${sn:-—} |"
done
