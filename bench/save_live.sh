#!/bin/bash
# bench/save_live.sh — `pvisor ctl PATH save FILE --live` (docs/
# snapshot-format.md, "Live saves"): how long the guest's vCPUs stand
# still, with pre-copy under dirty tracking and without it
# (PVISOR_LIVE_PRECOPY=off: the pause copies all of RAM), for
#   idle   a 64 MiB pvsh printing a tick every 50 ms
#   32M    pvsh memstress rewriting 32 MiB of 64 MiB
#   900M   pvsh memstress rewriting 900 MiB of 1 GiB
# Each line: the medians of RUNS saves (one guest each) of pause_ms, the
# frames copied in the pause, pre-copy rounds, and the whole save.
#
#   bench/save_live.sh [-n RUNS] [-b proc|kvm]
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
PVISOR=${PVISOR:-$TOP/build/pvisor}
PVSH=$TOP/guest/build/pvsh
RUNS=3 BE=proc
while getopts n:b: o; do
	case $o in n) RUNS=$OPTARG ;; b) BE=$OPTARG ;; *) exit 2 ;; esac
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# one MEM CMD READY PRECOPY: a guest, one live save, its reply on stdout.
one() {
	local sock=$TMP/s.sock out=$TMP/out
	# The last guest's output goes first: its ready line must not pass
	# for this one's before this one has truncated it.
	rm -f "$sock" "$TMP/f.pvs" "$out"
	PVISOR_LIVE_PRECOPY=$4 timeout 600 "$PVISOR" run --backend "$BE" --no-raw \
		--mem "$1" --api "$sock" "$PVSH" -- "$2" </dev/null >"$out" 2>&1 &
	local pid=$! i
	for ((i = 0; i < 600; i++)); do grep -q "$3" "$out" 2>/dev/null && break; sleep 0.1; done
	"$PVISOR" ctl "$sock" save "$TMP/f.pvs" --live --timeout 120
	"$PVISOR" ctl "$sock" shutdown --force >/dev/null 2>&1
	wait "$pid" 2>/dev/null
}

echo "# save --live, backend $BE, $RUNS runs each (medians)"
echo "# workload precopy pause_ms pause_frames frames rounds save_s"
for w in "idle:64M:ticks 100000 50:^tick 3 " "32M:64M:memstress 32 100000:^memstress pass 1 " \
	"900M:1024M:memstress 900 100000:^memstress pass 1 "; do
	IFS=: read -r name mem cmd ready <<<"$w"
	for pre in on off; do
		for ((r = 0; r < RUNS; r++)); do one "$mem" "$cmd" "$ready" "$pre"; done |
			python3 -c '
import json, statistics, sys
text = sys.stdin.read()
dec, i, rs = json.JSONDecoder(), 0, []
while True:
    j = text.find("{", i)
    if j < 0:
        break
    r, i = dec.raw_decode(text, j)
    rs.append(r)
m = lambda k: statistics.median(r[k] for r in rs)
print("%-8s %-7s %9.2f %12d %8d %6d %7.2f" % (sys.argv[1], sys.argv[2], m("pause_ms"),
      m("pause_frames"), m("frames"), m("rounds"), m("save_seconds")))' "$name" "$pre"
	done
done
