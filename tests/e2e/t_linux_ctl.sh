#!/bin/bash
# The control API with a stock Debian kernel (kvm only; issue 13): status
# and pause/resume of a running Linux guest, sysrq through Linux's
# control/sysrq watch, and `shutdown` through Linux's own control/shutdown
# watch (drivers/xen/manage.c): the guest powers itself off cleanly.  Skips
# when kvm is unavailable or no kernel can be fetched.  Written on a host
# without /dev/kvm: not yet run there.
source "$(dirname "$0")/lib.sh"

TESTS="status pause resume sysrq shutdown"
skip_all() {
	local t
	for t in $TESTS; do skip "linux ctl: $t" "$1"; done
	exit 0
}

[ -z "$KVM_WHY" ] || skip_all "kvm unavailable: $KVM_WHY"
"$ROOT/tools/fetch-kernel.sh" --flavour cloud-amd64 >"$TMP/fetch.log" 2>&1 ||
	skip_all "no kernel: $(tail -n 1 "$TMP/fetch.log")"
kdir=$ROOT/build/kernel/cloud-amd64
initrd=$("$ROOT/tools/mkinitramfs.sh" --kernel-dir "$kdir" 2>"$TMP/mk.log" | tail -n 1) ||
	skip_all "mkinitramfs failed: $(tail -n 1 "$TMP/mk.log")"

wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -aq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

SOCK=$TMP/api.sock
out=$TMP/linux.out
timeout -k 10 300 "$PVISOR" run --backend kvm --no-raw --api "$SOCK" --kernel "$kdir/vmlinuz" \
	--initrd "$initrd" --mem 256 --cmdline "console=hvc0" -- \
	sh -c "'while :; do echo tick; sleep 0.1; done'" </dev/null >"$out" 2>&1 &
pid=$!
if ! wait_for "$out" '^tick' 120; then
	for t in $TESTS; do not_ok "linux ctl: $t: the guest did not start: $(tail -c 300 "$out")"; done
	kill "$pid"
	wait "$pid"
	exit 0
fi

st=$("$PVISOR" ctl "$SOCK" status)
check "linux ctl: status: running on kvm, the guest's poweroff feature" \
	test "$(field "$st" 'r["state"], r["backend"], "poweroff" in r["guest_features"]')" = "('running', 'kvm', True)"
"$PVISOR" ctl "$SOCK" pause >/dev/null
a=$(grep -ac '^tick' "$out")
sleep 1
b=$(grep -ac '^tick' "$out")
check "linux ctl: pause stops the output ($a then $b)" test "$b" -le $((a + 1))
"$PVISOR" ctl "$SOCK" resume >/dev/null
sleep 1
c=$(grep -ac '^tick' "$out")
check "linux ctl: resume restarts it ($b then $c)" test "$c" -ge $((b + 3))
"$PVISOR" ctl "$SOCK" sysrq h >/dev/null
check "linux ctl: sysrq h reaches Linux's SysRq handler" wait_for "$out" 'sysrq: HELP' 10
r=$("$PVISOR" ctl "$SOCK" shutdown --timeout 60)
wait "$pid"
rc=$?
check "linux ctl: shutdown: Linux powers itself off (reply $r, exit $rc)" \
	test "$(field "$r" 'r["how"]')" = guest
