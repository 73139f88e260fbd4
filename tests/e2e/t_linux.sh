#!/bin/bash
# Debian's stock kernels (cloud-amd64 and the generic amd64) as PV guests on
# the kvm backend, with pvisor's busybox initramfs (tools/mkinitramfs.sh):
# command output and exit status, the kernel sees Xen (dmesg, sysfs, the xen
# clocksource), vCPUs, memory and wall clock as configured, pvtest passes, a
# guest panic ends pvisor non-zero with the console's last lines, and bad
# images get one clear error.  Skips when kvm is unavailable or no kernel can
# be fetched.  LINUX_FLAVOURS="cloud-amd64" limits the kernels.
source "$(dirname "$0")/lib.sh"

FLAVOURS=${LINUX_FLAVOURS:-"cloud-amd64 amd64-unsigned"}
MEM=256
TIMEOUT=240		# per boot: generous, boots take seconds; the runner allows 900 s
PER_FLAVOUR="uname exit-status pvinfo dmesg hypervisor clocksource nproc memtotal date sh-exit-7 pvtest panic"
BAD="corrupt-bzimage initrd-too-big mem-too-small"

skip_all() {
	local t fl
	for fl in $FLAVOURS; do
		for t in $PER_FLAVOUR; do skip "linux $fl: $t" "$1"; done
	done
	for t in $BAD; do skip "linux: $t" "$1"; done
	exit 0
}

[ -z "$KVM_WHY" ] || skip_all "kvm unavailable: $KVM_WHY"
fl_args=
for fl in $FLAVOURS; do fl_args="$fl_args --flavour $fl"; done
# shellcheck disable=SC2086
if ! "$ROOT/tools/fetch-kernel.sh" $fl_args >"$TMP/fetch.log" 2>&1; then
	skip_all "no kernel: $(tail -n 1 "$TMP/fetch.log")"
fi

export PVISOR_TEST_TAG=t_linux.$$

# linux OUT ARGS...: boot on kvm, output to OUT; returns pvisor's status.
# After one boot of a kernel has hung, that kernel is not booted again.
HUNG=
linux() {
	local out=$1 rc
	shift
	if [ -n "$HUNG" ]; then
		echo "pvisor: not booted: an earlier boot of this kernel timed out" >"$out"
		return 124
	fi
	timeout -k 10 $((TIMEOUT + 30)) "$PVISOR" run --backend kvm --no-raw \
		--timeout "$TIMEOUT" "$@" </dev/null >"$out" 2>&1
	rc=$?
	[ $rc -ne 124 ] || HUNG=1
	return $rc
}

# key FILE NAME: the value of the guest's "NAME=value" line (pvinfo).
key() { tr -d '\r' <"$1" | sed -n "s/^$2=//p" | head -n 1; }

# Last lines of a failed run, for the TAP line.
tailof() { { tr -d "\r" <"$1" | grep -a "^pvisor:" | tail -n 2; tr -d "\r" <"$1" | grep -av "^$" | grep -av "^  " | tail -n 4; } | tr "\n" "|" | head -c 700; }

# Does this pvisor take more than one vCPU?
CPUS=2
if "$PVISOR" run --cpus 2 --kernel /nonexistent 2>&1 | grep -q -- '--cpus'; then
	CPUS=1
fi

for fl in $FLAVOURS; do
	kdir=$ROOT/build/kernel/$fl
	kernel=$kdir/vmlinuz
	release=$(basename "$(readlink -f "$kdir")")
	release=${release%-unsigned}	# uname -r of amd64-unsigned is ...-amd64
	if ! initrd=$("$ROOT/tools/mkinitramfs.sh" --kernel-dir "$kdir" 2>"$TMP/mkinitramfs.log" | tail -n 1); then
		for t in $PER_FLAVOUR; do
			not_ok "linux $fl: $t: mkinitramfs failed: $(tail -n 2 "$TMP/mkinitramfs.log")"
		done
		continue
	fi
	HUNG=
	base=(--kernel "$kernel" --initrd "$initrd" --mem "$MEM" --cmdline "console=hvc0")
	o=$TMP/$fl

	linux "$o.uname" "${base[@]}" -- uname -a
	rc=$?
	if [ $rc -eq 0 ] && grep -aq "^Linux pvisor $release .* x86_64" "$o.uname"; then
		ok "linux $fl: -- uname -a prints $release"
	else
		not_ok "linux $fl: -- uname -a (exit $rc): $(tailof "$o.uname")"
	fi
	check "linux $fl: the guest's init reports exit status 0" \
		grep -aq '^pvisor-init: exit status 0' "$o.uname"
	# No init, no point in booting nine more times.
	if ! grep -aq '^pvisor-init: started' "$o.uname"; then
		why=$(grep -a '^pvisor:' "$o.uname" | tail -n 2 | tr '\n' ' ' | head -c 300)
		for t in ${PER_FLAVOUR#uname exit-status }; do
			not_ok "linux $fl: $t: the kernel did not reach init: $why"
		done
		continue
	fi

	t0=$(date +%s)
	linux "$o.info" "${base[@]}" --cpus "$CPUS" -- pvinfo
	rc=$?
	t1=$(date +%s)
	if [ $rc -eq 0 ] && grep -aq '^release=' "$o.info"; then
		ok "linux $fl: pvinfo runs"
	else
		not_ok "linux $fl: pvinfo (exit $rc): $(tailof "$o.info")"
	fi
	check "linux $fl: dmesg says paravirtualized on Xen" \
		grep -aqE '^dmesg=.*(Booting paravirtualized kernel on Xen|Xen version)' "$o.info"
	v=$(key "$o.info" hypervisor)
	check "linux $fl: /sys/hypervisor/type is xen (got '$v')" test "$v" = xen
	v=$(key "$o.info" clocksource)
	check "linux $fl: clocksource is xen (got '$v')" test "$v" = xen
	v=$(key "$o.info" nproc)
	check "linux $fl: nproc is $CPUS (got '$v')" test "$v" = "$CPUS"
	v=$(key "$o.info" memtotal_kb)
	# The kernel keeps its own image and reserved memory out of MemTotal.
	check "linux $fl: MemTotal ${v:-?} kB fits --mem ${MEM}M" \
		test -n "$v" -a "${v:-0}" -le $((MEM * 1024)) -a "${v:-0}" -ge $((MEM * 1024 / 2))
	v=$(key "$o.info" date)
	check "linux $fl: guest date ${v:-?} is the host's ($t0..$t1)" \
		test -n "$v" -a "${v:-0}" -ge $((t0 - 5)) -a "${v:-0}" -le $((t1 + 5))

	# pvisor joins the words after -- with spaces and the guest's shell
	# parses the line again (as ssh does): quote once more for the guest.
	linux "$o.exit7" "${base[@]}" -- sh -c "'exit 7'"
	rc=$?
	if [ $rc -eq 7 ]; then ok "linux $fl: -- sh -c 'exit 7' exits 7"
	else not_ok "linux $fl: -- sh -c 'exit 7' exits 7 (got $rc): $(tailof "$o.exit7")"; fi

	linux "$o.pvtest" "${base[@]}" -- pvtest
	rc=$?
	if [ $rc -eq 0 ] && grep -aq '^pvtest: [0-9]* passed, 0 failed' "$o.pvtest"; then
		ok "linux $fl: pvtest ($(grep -ac '^PASS' "$o.pvtest") checks;" \
			"$(grep -a '^pvtest [a-z_]*_[mnu]*s ' "$o.pvtest" | awk '{printf "%s=%s%s ", $2, $3, $4}'))"
	else
		not_ok "linux $fl: pvtest (exit $rc): $(grep -a -E '^FAIL|^pvtest:' "$o.pvtest" | head -c 500) $(tailof "$o.pvtest")"
	fi

	linux "$o.panic" "${base[@]}" -- 'echo c >/proc/sysrq-trigger'
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -aqE 'Kernel panic|sysrq: Trigger a crash' "$o.panic"; then
		ok "linux $fl: a guest panic ends pvisor with status $rc and the console's last lines"
	else
		not_ok "linux $fl: guest panic (exit $rc): $(tailof "$o.panic")"
	fi
done

# Bad input: one clear error line, non-zero exit, nothing left behind.
HUNG=
fl=${FLAVOURS%% *}
kernel=$ROOT/build/kernel/$fl/vmlinuz
initrd=$(ls "$ROOT"/build/linux/initrd-*"$fl".cpio.gz 2>/dev/null | head -n 1)

# bad_input NAME WANT-REGEX ARGS...
bad_input() {
	local name=$1 want=$2 rc
	shift 2
	linux "$TMP/bad.$name" "$@"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -lt 128 ] &&
		grep -aqiE "$want" "$TMP/bad.$name"; then
		ok "linux: $name: exit $rc, '$(grep -aiE "$want" "$TMP/bad.$name" | head -n 1 | head -c 160)'"
	else
		not_ok "linux: $name (exit $rc): $(tailof "$TMP/bad.$name")"
	fi
}

# A bzImage whose compressed payload has 4 KiB of garbage in its middle.
cp "$kernel" "$TMP/corrupt.vmlinuz"
size=$(stat -c %s "$kernel")
head -c 4096 /dev/urandom | dd of="$TMP/corrupt.vmlinuz" bs=1 seek=$((size / 2)) \
	conv=notrunc status=none
bad_input corrupt-bzimage 'bzimage|zstd|lz4|checksum|corrupt|decompress' \
	--kernel "$TMP/corrupt.vmlinuz" --initrd "$initrd" --mem "$MEM"

# An initrd of 96 MiB for a 64 MiB guest.
truncate -s 96M "$TMP/big.initrd"
bad_input initrd-too-big 'initrd|memory|too (big|large|small)|does not fit' \
	--kernel "$kernel" --initrd "$TMP/big.initrd" --mem 64M

bad_input mem-too-small 'memory|mem|too (big|large|small)|does not fit' \
	--kernel "$kernel" --initrd "$initrd" --mem 8M

# Other tests may run pvisor at the same time: look only for processes that
# carry this script's tag in their environment.
mine_left() {
	local p
	for p in $(pgrep -x pvisor; pgrep -x pvisor-guest); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "PVISOR_TEST_TAG=$PVISOR_TEST_TAG" &&
			return 0
	done
	return 1
}
sleep 1
if mine_left; then not_ok "linux: nothing left behind (a pvisor of this test still runs)"
else ok "linux: nothing left behind"; fi
