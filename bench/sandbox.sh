#!/bin/bash
# bench/sandbox.sh — what pvisor's self-confinement costs (docs/security.md):
# the same guest-kit work with --sandbox=off and --sandbox=on, the runs
# interleaved; prints a markdown table of medians and the ratio on / off
# (docs/benchmarks.md, "Sandbox").
#
#   bench/sandbox.sh [-r REPS] [-b BACKEND]
#     -r REPS     runs per mode (default 5); each figure is the median
#     -b BACKEND  pvisor backend (default proc)
#
# Measures: hcbench's null hypercall (median ns), blkbench sequential write
# and read (MB/s, 32 MiB) and 4 KiB random reads (IOPS), and the UDP echo
# round trip to netecho through libslirp's hostfwd (median us, 2000 pings).
# Uses build/pvisor and guest/build/* as they are (make all first).
# Raw output: bench/build/sandbox/.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
REPS=5 BACKEND=proc
while getopts "r:b:h" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	b) BACKEND=$OPTARG ;;
	h) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [-r REPS] [-b BACKEND]" >&2; exit 2 ;;
	esac
done
PVISOR=${PVISOR:-$TOP/build/pvisor}
GUEST=$TOP/guest/build
OUT=$TOP/bench/build/sandbox
mkdir -p "$OUT" || exit 1
IMG=$(mktemp "${TMPDIR:-/tmp}/sandbox-bench.XXXXXX.img") || exit 1
trap 'rm -f "$IMG"' EXIT
RAW=$OUT/raw.txt
: >"$RAW"

free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Median UDP round trip (us) to netecho at 127.0.0.1:PORT, then "quit".
udp_rtt() {
	python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
addr = ("127.0.0.1", port)
for _ in range(50):  # until the forward answers
    try:
        s.sendto(b"warm", addr); s.recvfrom(100); break
    except OSError:
        time.sleep(0.1)
rtts = []
for i in range(2000):
    t = time.perf_counter_ns()
    s.sendto(b"pvisor-%d" % i, addr)
    d, _ = s.recvfrom(100)
    rtts.append(time.perf_counter_ns() - t)
rtts.sort()
s.sendto(b"quit", addr)
print("%.1f" % (rtts[len(rtts) // 2] / 1000))
PY
}

for rep in $(seq 1 "$REPS"); do
	for mode in off on; do
		log=$OUT/$mode-$rep
		"$PVISOR" run --backend "$BACKEND" --no-raw --sandbox=$mode "$GUEST/hcbench" \
			</dev/null >"$log.hc" 2>&1
		ns=$(grep -o 'null_hypercall median_ns=[0-9]*' "$log.hc" | grep -o '[0-9]*$')
		rm -f "$IMG"; truncate -s 48M "$IMG"
		"$PVISOR" run --backend "$BACKEND" --no-raw --sandbox=$mode --disk "$IMG" \
			"$GUEST/blkbench" -- mb=32 ops=4000 qd=8 </dev/null >"$log.blk" 2>&1
		sw=$(grep -o 'seq_write MB/s=[0-9.]*' "$log.blk" | grep -o '[0-9.]*$')
		sr=$(grep -o 'seq_read MB/s=[0-9.]*' "$log.blk" | grep -o '[0-9.]*$')
		rr=$(grep 'rand_read' "$log.blk" | grep -o 'IOPS=[0-9]*' | grep -o '[0-9]*$')
		port=$(free_port)
		"$PVISOR" run --backend "$BACKEND" --no-raw --sandbox=$mode --timeout 60 \
			--net "user,hostfwd=udp:127.0.0.1:$port-:7" "$GUEST/netecho" </dev/null >"$log.net" 2>&1 &
		pid=$!
		for _ in $(seq 100); do grep -q '^netecho: ready' "$log.net" && break; sleep 0.1; done
		rtt=$(udp_rtt "$port")
		wait $pid
		echo "$mode ${ns:-?} ${sw:-?} ${sr:-?} ${rr:-?} ${rtt:-?}" >>"$RAW"
	done
done

python3 - "$RAW" "$BACKEND" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append(f[1:])
names = ["null hypercall (ns, median)", "blkbench seq write (MB/s)", "blkbench seq read (MB/s)",
         "blkbench 4 KiB random read (IOPS)", "netecho UDP round trip (us, median)"]
def med(mode, i):
    v = [float(r[i]) for r in rows.get(mode, []) if r[i] != "?"]
    return statistics.median(v) if v else float("nan")
print("| %s backend, %d runs each | --sandbox=off | --sandbox=on | on / off |" % (sys.argv[2], len(rows.get("on", []))))
print("|---|---|---|---|")
for i, n in enumerate(names):
    a, b = med("off", i), med("on", i)
    print("| %s | %.1f | %.1f | %.3f |" % (n, a, b, b / a if a else float("nan")))
PY
