#!/bin/bash
# bench/run.sh — hcbench on every backend side by side with this machine's
# floors, as one table (markdown on stdout).  See docs/benchmarks.md.
#
#   bench/run.sh [-r REPS] [-b "kvm proc"] [-n] [-o DIR]
#     -r REPS      repetitions; each figure is the median of the runs' medians
#                  (default 5, env BENCH_REPS)
#     -b LIST      backends to run hcbench on (default "kvm proc", env
#                  BENCH_BACKENDS); "proc-nofsgs" is proc with the stub's
#                  arch_prctl fs/gs path forced (PVISOR_PROC_FSGSBASE=off)
#     -n           do not build (use build/pvisor, guest/build/hcbench and
#                  bench/build/floors as they are)
#     -o DIR       keep the raw output and the table in DIR (default
#                  bench/build/results/DATE)
#
# Needs only bash, make, gcc, coreutils, mawk/gawk (Debian).  A backend or a
# floor that fails is reported in the table; the script still exits 0 unless
# nothing at all could be measured.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$TOP/bench
REPS=${BENCH_REPS:-5}
BACKENDS=${BENCH_BACKENDS:-"kvm proc"}
BUILD=1
OUT=
HC_TIMEOUT=${BENCH_TIMEOUT:-120}

while getopts "r:b:no:h" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	b) BACKENDS=$OPTARG ;;
	n) BUILD=0 ;;
	o) OUT=$OPTARG ;;
	h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [-r REPS] [-b BACKENDS] [-n] [-o DIR]" >&2; exit 2 ;;
	esac
done
case $REPS in
''|*[!0-9]*|0) echo "run.sh: bad repetition count '$REPS'" >&2; exit 2 ;;
esac

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$BENCH/build/results/$STAMP}
mkdir -p "$OUT" || exit 1
RAW=$OUT/raw.txt     # "SOURCE REP NAME key=value ..." per measurement
NOTES=$OUT/notes.txt # failures, one line each
: >"$RAW"
: >"$NOTES"

PVISOR=${PVISOR:-$TOP/build/pvisor}
HCBENCH=${HCBENCH:-$TOP/guest/build/hcbench}
FLOORS=$BENCH/build/floors

note() { echo "$*" >>"$NOTES"; echo "run.sh: $*" >&2; }

# ---- build -------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
	echo "run.sh: building (make pvisor guest; make -C bench)" >&2
	if ! make -s -C "$TOP" pvisor guest >"$OUT/build.log" 2>&1; then
		note "build: 'make pvisor guest' failed (see $OUT/build.log); using existing binaries if any"
	fi
	if ! make -s -C "$BENCH" >>"$OUT/build.log" 2>&1; then
		note "build: 'make -C bench' failed (see $OUT/build.log)"
	fi
fi

# ---- the machine ---------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
ncpu=$(nproc 2>/dev/null || echo '?')
kvm_kind="none (no /dev/kvm)"
if [ -e /dev/kvm ]; then
	kvm_kind="kvm"
	for m in kvm_pvm kvm_intel kvm_amd; do
		[ -d /sys/module/$m ] && kvm_kind="kvm ($m)" && break
	done
fi
git_rev=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
date_run=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---- measure ----------------------------------------------------------------
# One hcbench run: its lines go to RAW as "BACKEND REP hcbench-line".
run_hcbench() {
	local be=$1 rep=$2 log=$OUT/hcbench-$1-$2.log rc
	if [ ! -x "$PVISOR" ] || [ ! -f "$HCBENCH" ]; then
		echo "missing $PVISOR or $HCBENCH" >"$log"
		return 127
	fi
	local backend=$be fsgs=${PVISOR_PROC_FSGSBASE:-auto}
	[ "$be" = proc-nofsgs ] && backend=proc fsgs=off
	PVISOR_PROC_FSGSBASE=$fsgs timeout -k 5 "$HC_TIMEOUT" "$PVISOR" run \
		--backend "$backend" --no-raw \
		--timeout "$HC_TIMEOUT" "$HCBENCH" </dev/null >"$log" 2>&1
	rc=$?
	tr -d '\r' <"$log" | awk -v src="$be" -v rep="$rep" '
		$1 == "hcbench" && $2 ~ /^error=/ { print src, rep, "suite", $2; next }
		$1 == "hcbench" && NF > 2 && $2 !~ /=/ { $1 = ""; print src, rep $0 }' >>"$RAW"
	return $rc
}

declare -A be_fail
for rep in $(seq 1 "$REPS"); do
	echo "run.sh: repetition $rep/$REPS" >&2
	rep_loads="${rep_loads:-}$(cut -d' ' -f1 /proc/loadavg) "
	if [ -x "$FLOORS" ]; then
		timeout -k 5 300 "$FLOORS" >"$OUT/floors-$rep.log" 2>&1 ||
			note "floors (rep $rep): exit status $? (see floors-$rep.log)"
		awk -v rep="$rep" '$1 == "floor" { $1 = ""; print "floor", rep $0 }' \
			"$OUT/floors-$rep.log" >>"$RAW"
	elif [ "$rep" = 1 ]; then
		note "floors: $FLOORS not built"
	fi
	for be in $BACKENDS; do
		run_hcbench "$be" "$rep"
		rc=$?
		if [ $rc != 0 ]; then
			why=$(tr -d '\r' <"$OUT/hcbench-$be-$rep.log" | grep -v '^hcbench ' |
			      grep -m2 . | tr '\n' ' ' | cut -c1-200)
			[ $rc = 124 ] && why="timed out after ${HC_TIMEOUT}s; $why"
			be_fail[$be]="${be_fail[$be]:-}rep $rep: exit $rc: $why"$'\n'
		fi
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for be in $BACKENDS; do
	if [ -n "${be_fail[$be]:-}" ]; then
		# One line per distinct failure.
		printf '%s' "${be_fail[$be]}" | sed 's/^rep [0-9]*: //' | sort | uniq -c |
		while read -r cnt msg; do note "$be: $cnt/$REPS runs failed: $msg"; done
	fi
done

# ---- aggregate ---------------------------------------------------------------
# AGG lines: "SOURCE NAME KEY VALUE NRUNS" with VALUE the median over the
# runs (min_ns: the minimum), from RAW lines "SOURCE REP NAME k=v k=v ...".
AGG=$OUT/agg.txt
awk '{ for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[2] ~ /^[0-9]+$/)
		print $1 "|" $3 "|" kv[1], kv[2] } }' "$RAW" |
	sort -t' ' -k1,1 -k2,2n |
	awk '{ if ($1 != key) { flush(); key = $1; n = 0 } v[n++] = $2 }
	     function flush(  k, m) {
		if (key == "") return
		split(key, k, "|")
		# Sorted ascending: min is v[0], median the middle one.
		m = (k[3] == "min_ns") ? v[0] : v[int((n - 1) / 2)]
		print k[1], k[2], k[3], m, n
		if (k[3] == "median_ns") {
			print k[1], k[2], "median_lo", v[0], n
			print k[1], k[2], "median_hi", v[n - 1], n
		}
	     }
	     END { flush() }' >"$AGG"

# Errors reported by the guest or by floors ("error=" / "skipped").
grep -E ' (error|reason)=' "$RAW" |
	awk '{ l = $1; for (i = 3; i <= NF; i++) l = l " " $i; print l }' | sort | uniq -c |
	while read -r cnt line; do note "$line ($cnt/$REPS runs)"; done

get() { # SOURCE NAME KEY -> value or empty
	awk -v s="$1" -v n="$2" -v k="$3" '$1 == s && $2 == n && $3 == k { print $4; exit }' "$AGG"
}

us() { # ns -> human µs
	[ -z "$1" ] && { echo "—"; return; }
	awk -v ns="$1" 'BEGIN {
		if (ns < 1000) printf "%.3f µs", ns / 1000
		else if (ns < 100000) printf "%.2f µs", ns / 1000
		else printf "%.0f µs", ns / 1000 }'
}

ratio() { # a b -> a/b as "1.23×" or —
	[ -z "$1" ] || [ -z "$2" ] && { echo "—"; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "—" }'
}

verdict() { # value limit -> met / missed / —
	[ -z "$1" ] || [ -z "$2" ] && { echo "not measured"; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "**met**" : "missed" }'
}

# ---- the table -------------------------------------------------------------
{
echo "## pvisor benchmarks — $date_run"
echo
# FSGSBASE as the kernel grants it (pvisor host): it decides proc's
# fs/gs path (rd/wrfsbase, or arch_prctl when a base changes).
fsgsbase="FSGSBASE: no"
"$PVISOR" host --query fsgsbase >/dev/null 2>&1 && fsgsbase="FSGSBASE: yes"
echo "- machine: $cpu_model, $ncpu CPUs, kernel $(uname -r), $kvm_kind, $fsgsbase"
echo "- pvisor: $git_rev; $REPS repetitions (each figure: median of the runs' medians; p99: median of the runs' p99; min: lowest)"
echo "- load average before: $load_before; after: $load_after; 1-min load at each repetition: ${rep_loads:-?}"
echo
echo "### hcbench (guest-timed, per operation)"
echo
hdr="| metric |"; sep="|---|"
for be in $BACKENDS; do
	hdr="$hdr $be median | $be p99 | $be min | $be runs' medians |"; sep="$sep---:|---:|---:|---:|"
done
echo "$hdr"; echo "$sep"
for m in null_hypercall fs_base_hypercall trap_roundtrip multicall32 evtchn_roundtrip; do
	row="| $m |"
	for be in $BACKENDS; do
		lo=$(get "$be" $m median_lo); hi=$(get "$be" $m median_hi)
		spread="—"; [ -n "$lo" ] && spread="$(us "$lo") – $(us "$hi")"
		row="$row $(us "$(get "$be" $m median_ns)") | $(us "$(get "$be" $m p99_ns)") | $(us "$(get "$be" $m min_ns)") | $spread |"
	done
	echo "$row"
done
row="| multicall32, per call (median/32) |"
for be in $BACKENDS; do row="$row $(us "$(get "$be" multicall32 per_call_ns)") | | | |"; done
echo "$row"
echo
echo "### Timer accuracy (hcbench timer_sleep_*: how late a sleep wakes up)"
echo
hdr="| sleep |"; sep="|---|"
for be in $BACKENDS; do hdr="$hdr $be mean late | $be max late |"; sep="$sep---:|---:|"; done
echo "$hdr"; echo "$sep"
for t in 1 5 10; do
	row="| ${t} ms |"
	for be in $BACKENDS; do
		ml=$(get "$be" timer_sleep_${t}ms mean_late_us); xl=$(get "$be" timer_sleep_${t}ms max_late_us)
		if [ -n "$ml" ]; then row="$row ${ml} µs | ${xl} µs |"; else row="$row — | — |"; fi
	done
	echo "$row"
done
echo
echo "### This machine's floors (bench/build/floors, host-timed, per round trip)"
echo
echo "| floor | median | p99 | min | runs' medians | what it is |"
echo "|---|---:|---:|---:|---:|---|"
while read -r f what; do
	lo=$(get floor "$f" median_lo); hi=$(get floor "$f" median_hi)
	spread="—"; [ -n "$lo" ] && spread="$(us "$lo") – $(us "$hi")"
	echo "| $f | $(us "$(get floor "$f" median_ns)") | $(us "$(get floor "$f" p99_ns)") | $(us "$(get floor "$f" min_ns)") | $spread | $what |"
done <<'EOF'
clock_read two back-to-back clock reads (timer overhead inside every figure)
getppid a plain host system call
futex_pingpong wake/wait round trip between two processes
spin_pingpong the same round trip, spinning on shared memory (polled doorbell)
seccomp_trap SECCOMP_RET_TRAP → SIGSYS handler → sigreturn
kvm_exit raw exit: CPL3 MMIO store → KVM_RUN returns → KVM_RUN
kvm_exit_regs kvm_exit + GET_REGS + GET_SREGS + SET_REGS ioctls
kvm_exit_syncregs kvm_exit with registers through kvm_run sync_regs
EOF
echo
echo "### Against the goals"
echo
kn=$(get kvm null_hypercall median_ns); kx=$(get floor kvm_exit median_ns)
kr=$(get floor kvm_exit_regs median_ns)
knb=$(get kvm null_hypercall median_lo); kxb=$(get floor kvm_exit median_lo)
pn=$(get proc null_hypercall median_ns); pnb=$(get proc null_hypercall median_lo)
sp=$(get floor spin_pingpong median_lo); st=$(get floor seccomp_trap median_lo)
lim() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%d", x * 1.2 }'; }
echo "Median: the median of the runs' medians. Best run: the lowest of the"
echo "runs' medians (the least disturbed run; a polled doorbell on a busy"
echo "2-CPU machine is bimodal, see the runs' medians column)."
echo
echo "| ratio | value | goal |"
echo "|---|---:|---|"
echo "| kvm null hypercall / raw exit (kvm_exit), median | $(ratio "$kn" "$kx") | ≤ 1.20×: $(verdict "$kn" "$(lim "$kx")") |"
echo "| kvm null hypercall / raw exit, best runs | $(ratio "$knb" "$kxb") | ≤ 1.20×: $(verdict "$knb" "$(lim "$kxb")") |"
echo "| kvm null hypercall / exit + register ioctls (kvm_exit_regs) | $(ratio "$kn" "$kr") | (what the register ioctls explain) |"
echo "| proc null hypercall, median | $(us "$pn") | < 1 µs: $(verdict "$pn" 999) |"
echo "| proc null hypercall, best run | $(us "$pnb") | < 1 µs: $(verdict "$pnb" 999) |"
echo "| proc null hypercall / shm spin round trip (spin_pingpong), best runs | $(ratio "$pnb" "$sp") | (floor of a polled doorbell) |"
echo "| proc null hypercall / seccomp trap, best runs | $(ratio "$pnb" "$st") | (a trapping doorbell would cost this) |"
for be in $BACKENDS; do
	# Best runs of both, so that a contended run does not pair one mode
	# with another.
	mn=$(get "$be" multicall32 median_lo); nn=$(get "$be" null_hypercall median_lo)
	if [ -n "$mn" ] && [ -n "$nn" ] && [ "$mn" -ge "$nn" ]; then
		marg=$(awk -v m="$mn" -v n="$nn" 'BEGIN { printf "%d", (m - n) / 31 }')
		echo "| $be multicall32: cost of each extra entry, (multicall32 − null)/31, best runs | $(us "$marg") | (batching pays the exit once) |"
		echo "| $be 32 null hypercalls / one multicall32, best runs | $(ratio "$((nn * 32))" "$mn") | (speed-up from batching) |"
	else
		echo "| $be multicall32 vs null | — | not measured (or runs disagree) |"
	fi
done
echo
if [ -s "$NOTES" ]; then
	echo "### Failures and skips"
	echo
	sed 's/^/- /' "$NOTES"
	echo
fi
echo "Raw output: $OUT"
} >"$OUT/table.md"

cat "$OUT/table.md"
# Nothing measured at all is a failure; a missing backend is not.
[ -s "$AGG" ]
