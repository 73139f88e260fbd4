#!/bin/bash
# bench/linux/boot.sh — boot time of Debian's stock kernel with pvisor's
# initramfs: pvisor (kvm backend) vs QEMU full emulation (TCG) vs QEMU/KVM,
# the same kernel and initramfs, in one run.
#
#   bench/linux/boot.sh [-n RUNS] [--flavour F] [--mem MIB] [--write-docs]
#
#   -n RUNS       boots per target (default 10); the median is reported
#   --flavour F   cloud-amd64 (default) or amd64-unsigned
#   --mem MIB     guest memory (default 256)
#   --write-docs  put the results into docs/benchmarks.md (section
#                 "Linux boot", replaced or appended; the rest of the file is
#                 left alone) and docs/linux-guests-howto.md (between the
#                 bench:linux-boot markers)
#
# Two times per boot, from the start of the host process: "init", when the
# console shows the initramfs's first line ("pvisor-init: started"), and
# "off", when the process exits after the guest ran `true` and powered off.
# A target that fails is run once and its failure recorded (QEMU/KVM on
# kvm-pvm is expected to: it has QEMU_KVM_LIMIT seconds, default 120).  Then
# pvtest runs once on pvisor and on QEMU TCG for the in-guest
# microbenchmarks (PVTEST_LIMIT seconds, default 900).  The report
# (markdown) goes to stdout and to build/bench/linux-boot.md.
set -u
cd "$(dirname "$0")/../.." || exit 1

RUNS=10
FLAVOUR=cloud-amd64
MEM=256
WRITE_DOCS=0
LIMIT=${BOOT_LIMIT:-120}
KVM_LIMIT=${QEMU_KVM_LIMIT:-120}
PVTEST_LIMIT=${PVTEST_LIMIT:-900}
while [ $# -gt 0 ]; do
	case "$1" in
	-n) RUNS=$2; shift 2 ;;
	--flavour) FLAVOUR=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	--write-docs) WRITE_DOCS=1; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "boot.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

log() { echo "boot.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x build/pvisor ] || die "build/pvisor missing (make pvisor)"
tools/fetch-kernel.sh --flavour "$FLAVOUR" >&2 || die "no kernel (tools/fetch-kernel.sh failed)"
KDIR=build/kernel/$FLAVOUR
KERNEL=$KDIR/vmlinuz
RELEASE=$(basename "$(readlink -f "$KDIR")")
INITRD=$(tools/mkinitramfs.sh --kernel-dir "$KDIR" | tail -n 1) || die "mkinitramfs failed"
OUT=build/bench/linux-boot
mkdir -p "$OUT"
QEMU=$(command -v qemu-system-x86_64 || :)

# boot_once FILE CMD...: runs CMD (stdin /dev/null), console to FILE.  Sets
# T_INIT (s until the init line, empty if never), T_OFF (s until exit), RC,
# T_ERR (s until QEMU's "KVM internal error", if any).
boot_once() {
	local file=$1 t0 line pid
	shift
	: >"$file"
	T_INIT=""
	T_ERR=""
	t0=$EPOCHREALTIME
	while IFS= read -r line; do
		if [ -z "$T_INIT" ] && [[ $line == *"pvisor-init: started"* ]]; then
			T_INIT=$(bc <<<"$EPOCHREALTIME - $t0")
		fi
		if [ -z "$T_ERR" ] && [[ $line == *"KVM internal error"* ]]; then
			T_ERR=$(printf '%.1f' "$(bc <<<"$EPOCHREALTIME - $t0")")
		fi
		printf '%s\n' "$line" >>"$file"
	done < <("$@" </dev/null 2>&1)
	pid=$!
	T_OFF=$(bc <<<"$EPOCHREALTIME - $t0")
	wait "$pid"
	RC=$?
	T_INIT=${T_INIT:+$(printf '%.3f' "$T_INIT")}
	T_OFF=$(printf '%.3f' "$T_OFF")
}

median() { sort -g | awk '{v[NR]=$1} END {if (!NR) print "-"; else if (NR%2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2}'; }

# Why a boot failed, on one line: pvisor's or QEMU's own error messages and
# the guest's panic line if there are any, else the last console lines.
why() {
	local clean msg
	clean=$(tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g' | grep -av '^ *$')
	msg=$({
		grep -a -m 1 'Kernel panic' <<<"$clean"
		grep -a -m 1 -E 'KVM internal error.*|emulation failure' <<<"$clean"
		grep -a -E '^pvisor:|^qemu-system-x86_64: .*(error|Assertion)' <<<"$clean" |
			grep -v 'backend kvm' | tail -n 2
	} | tr '\n' ' ')
	[ -n "$msg" ] || msg=$(tail -n "${2:-2}" <<<"$clean" | tr '\n' ' ')
	printf '%s' "${msg:0:300}"
}

run_pvisor() {
	timeout -k 5 $((LIMIT + 10)) build/pvisor run --backend kvm --no-raw --timeout "$LIMIT" \
		${PVISOR_EXTRA:-} --kernel "$KERNEL" --initrd "$INITRD" --mem "$MEM" \
		--cmdline "console=hvc0 quiet" -- "$@"
}
run_qemu_tcg() {
	timeout -k 5 "$LIMIT" "$QEMU" -accel tcg -m "$MEM" -kernel "$KERNEL" \
		-initrd "$INITRD" -append "console=ttyS0 quiet $*" -nographic \
		-no-reboot -nodefaults -serial stdio
}
run_qemu_kvm_host() {
	timeout -k 5 "$KVM_LIMIT" "$QEMU" -accel kvm -cpu host -m "$MEM" -kernel "$KERNEL" \
		-initrd "$INITRD" -append "console=ttyS0 quiet $*" -nographic \
		-no-reboot -nodefaults -serial stdio
}
run_qemu_kvm() {
	timeout -k 5 "$KVM_LIMIT" "$QEMU" -accel kvm -m "$MEM" -kernel "$KERNEL" \
		-initrd "$INITRD" -append "console=ttyS0 quiet $*" -nographic \
		-no-reboot -nodefaults -serial stdio
}

declare -A RESULT
# bench_target NAME RUNS FN: boots RUNS times; stops at the first failure.
bench_target() {
	local name=$1 runs=$2 fn=$3 i inits=() offs=()
	for ((i = 1; i <= runs; i++)); do
		boot_once "$OUT/$name.$i.log" "$fn" true
		log "$name run $i: init ${T_INIT:-never} s, off $T_OFF s, exit $RC"
		if [ -z "$T_INIT" ] || [ "$RC" -ne 0 ]; then
			RESULT[$name]="fails (exit $RC after $T_OFF s${T_INIT:+, init at $T_INIT s}${T_ERR:+, KVM internal error at $T_ERR s}): $(why "$OUT/$name.$i.log" 3)"
			return 1
		fi
		inits+=("$T_INIT")
		offs+=("$T_OFF")
	done
	RESULT[$name]="$(printf '%s\n' "${inits[@]}" | median) | $(printf '%s\n' "${offs[@]}" | median) | ${#inits[@]}"
}

log "kernel $RELEASE, initramfs $INITRD, $MEM MiB, $RUNS runs"
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
bench_target pvisor "$RUNS" run_pvisor
if [ -n "$QEMU" ]; then
	bench_target qemu_tcg "$RUNS" run_qemu_tcg
	bench_target qemu_kvm_host 1 run_qemu_kvm_host
	bench_target qemu_kvm 1 run_qemu_kvm
else
	RESULT[qemu_tcg]="not run: qemu-system-x86_64 not installed"
	RESULT[qemu_kvm]="not run: qemu-system-x86_64 not installed"
	RESULT[qemu_kvm_host]=${RESULT[qemu_kvm]}
fi

# Exits and hypercalls per boot, if pvisor reports them (-v).
PVISOR_EXTRA=-v boot_once "$OUT/pvisor.verbose.log" run_pvisor true
STATS=$(tr -d '\r' <"$OUT/pvisor.verbose.log" | grep -aiE '^pvisor:.*(exits|hypercalls)' | sed 's/^pvisor: *//' | tail -n 4)
[ -n "$STATS" ] || STATS="not reported by pvisor (yet)"

# In-guest microbenchmarks.
declare -A PVT
for t in pvisor qemu_tcg; do
	fn=run_$t
	[ "$t" = qemu_tcg ] && [ -z "$QEMU" ] && continue
	LIMIT=$PVTEST_LIMIT boot_once "$OUT/$t.pvtest.log" "$fn" pvtest
	PVT[$t.status]="exit $RC, $(tr -d '\r' <"$OUT/$t.pvtest.log" | grep -a '^pvtest: ' | tail -n 1 | sed 's/^pvtest: //')"
	while read -r _ name val unit; do
		PVT[$t.$name]="$(awk -v v="$val" 'BEGIN { printf(v >= 100 ? "%.0f" : "%.3g", v) }') $unit"
	done < <(tr -d '\r' <"$OUT/$t.pvtest.log" | grep -a '^pvtest [a-zA-Z_]* ')
	[ "$RC" -eq 0 ] || PVT[$t.status]="fails (exit $RC): $(why "$OUT/$t.pvtest.log" 2)"
done

row() {
	local r=${RESULT[$2]}
	case "$r" in
	fails*|not\ run*) echo "| $1 | — | — | — | $r |" ;;
	*) echo "| $1 | $r | |" ;;
	esac
}
pvt_row() {
	echo "| $1 | ${PVT[pvisor.$2]:-—} | ${PVT[qemu_tcg.$2]:-—} |"
}

{
	echo "## Linux boot"
	echo
	echo "Measured by \`bench/linux/boot.sh -n $RUNS\` on $(date -u +%Y-%m-%d)," \
		"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), host" \
		"Linux $(uname -r); /dev/kvm is $( [ -d /sys/module/kvm_pvm ] && echo kvm-pvm || echo plain KVM )."
	echo "Kernel: Debian \`$RELEASE\` (the stock bzImage), initramfs" \
		"\`$(basename "$INITRD")\` ($(( $(stat -c %s "$INITRD") / 1024 )) KiB, busybox)," \
		"$MEM MiB, 1 vCPU.  The guest runs \`true\` and powers off."
	echo "Times are seconds from starting the host process (median of the runs):"
	echo "**init** = the initramfs's first console line, **off** = the process"
	echo "has exited after the guest powered off."
	echo
	echo "| target | init (s) | off (s) | runs | notes |"
	echo "|---|---|---|---|---|"
	row "pvisor, kvm backend (\`console=hvc0\`)" pvisor
	row "QEMU TCG, full emulation (\`-accel tcg\`, \`console=ttyS0\`)" qemu_tcg
	row "QEMU/KVM (\`-accel kvm -cpu host\`, limit ${KVM_LIMIT} s)" qemu_kvm_host
	row "QEMU/KVM (\`-accel kvm\`, default CPU model, limit ${KVM_LIMIT} s)" qemu_kvm
	echo
	echo "Host: $(nproc) CPUs, load average $LOAD0 at the start and" \
		"$(cut -d' ' -f1 /proc/loadavg) at the end (other work shares the machine," \
		"so single runs vary by ±20 %)."
	echo
	echo "Exits/hypercalls per pvisor boot (\`pvisor run -v\`, one boot): $STATS."
	exits=$(grep -o '[0-9]* exits' <<<"$STATS" | head -n 1 | cut -d' ' -f1)
	off=${RESULT[pvisor]#* | }
	off=${off%% |*}
	if [ -n "$exits" ] && [[ $off =~ ^[0-9.]+$ ]]; then
		echo "That is $(awk -v t="$off" -v n="$exits" 'BEGIN { printf "%.0f", t * 1e6 / n }') µs" \
			"of boot-to-power-off per exit, everything included."
	fi
	echo
	echo "In-guest microbenchmarks (\`pvtest\`, one run each; lower is better"
	echo "except MB/s):"
	echo
	echo "| pvtest | pvisor (kvm) | QEMU TCG |"
	echo "|---|---|---|"
	echo "| result | ${PVT[pvisor.status]:-—} | ${PVT[qemu_tcg.status]:-—} |"
	pvt_row "getppid (syscall)" syscall_ns
	pvt_row "fork + exit + wait" fork_exit_us
	pvt_row "fork + exec /bin/true + wait" fork_exec_us
	pvt_row "demand page fault (64 MiB)" pagefault_ns
	pvt_row "tmpfs write + fsync, 8 MiB" tmpfs_write_MBps
	pvt_row "whole pvtest" total_s
	echo
	echo "Reproduce: \`bench/linux/boot.sh -n $RUNS --write-docs\`; logs of every boot are in"
	echo "\`build/bench/linux-boot/\`."
} >"$OUT.md"
cat "$OUT.md"

if [ "$WRITE_DOCS" = 1 ]; then
	# Replace our section (up to the next "## " heading) or append it.
	f=docs/benchmarks.md
	touch "$f"
	awk -v sect="$OUT.md" '
		BEGIN { while ((getline l < sect) > 0) s = s l "\n" }
		/^## Linux boot *$/ { skip = 1; if (!done) { printf "%s", s; done = 1 }; next }
		skip && /^## / { skip = 0; print ""; }
		!skip { print }
		END { if (!done) { if (NR) print ""; printf "%s", s } }
	' "$f" >"$f.tmp.$$" && mv "$f.tmp.$$" "$f"
	f=docs/linux-guests-howto.md
	if [ -f "$f" ] && grep -q '<!-- bench:linux-boot -->' "$f"; then
		awk -v sect="$OUT.md" '
			/<!-- bench:linux-boot -->/ { print; while ((getline l < sect) > 0) if (l !~ /^## /) print l; skip = 1; next }
			/<!-- \/bench:linux-boot -->/ { skip = 0 }
			!skip { print }
		' "$f" >"$f.tmp.$$" && mv "$f.tmp.$$" "$f"
	fi
	log "wrote docs/benchmarks.md and docs/linux-guests-howto.md"
fi
