#!/bin/bash
# Paravirtual SCSI with a stock Debian kernel (kvm only; issue 12): Linux's
# own xen-scsifront finds the --scsi LUN at boot, and a LUN added while the
# guest runs appears without reboot — `pvisor ctl scsi-add` offers it
# through vscsi-devs and a Reconfiguring round (docs/scsi.md "Hot-plug"),
# xen-scsifront answers with scsi_add_device(), and the kernel logs the new
# SCSI device and its sd/sr driver; `scsi-remove` takes it away again
# (scsi_remove_device, sd's cache sync) while the guest goes on. The
# kernel's console lines are what is checked: "scsi H:0:0:L: Direct-Access
# PVISOR VIRTUAL DISK" (scsi_scan, KERN_NOTICE), "sd H:0:0:L: [sdX] N
# 512-byte logical blocks", "Synchronizing SCSI cache". Skips when kvm is
# unavailable, no kernel can be fetched or the cached kernel lacks the SCSI
# modules. Written on a host without /dev/kvm: not yet run there.
source "$(dirname "$0")/lib.sh"

FLAVOUR=${LINUX_SCSI_FLAVOUR:-cloud-amd64}
TESTS=("boot LUN is sda" "hot-added disk appears without reboot"
	"hot-added CD/DVD appears without reboot" "hot-removed disk goes"
	"the guest runs on")
skip_all() {
	local t
	for t in "${TESTS[@]}"; do skip "linux scsi: $t" "$1"; done
	exit 0
}

[ -z "$KVM_WHY" ] || skip_all "kvm unavailable: $KVM_WHY"
"$ROOT/tools/fetch-kernel.sh" --flavour "$FLAVOUR" >"$TMP/fetch.log" 2>&1 ||
	skip_all "no kernel: $(tail -n 1 "$TMP/fetch.log")"
kdir=$ROOT/build/kernel/$FLAVOUR
for m in xen-scsifront scsi_mod sd_mod sr_mod; do
	ls "$kdir/modules/$m.ko"* >/dev/null 2>&1 ||
		skip_all "the cached kernel in $kdir has no $m module (an older fetch-kernel.sh: remove the directory to fetch it again)"
done
initrd=$("$ROOT/tools/mkinitramfs.sh" --kernel-dir "$kdir" 2>"$TMP/mk.log" | tail -n 1) ||
	skip_all "mkinitramfs failed: $(tail -n 1 "$TMP/mk.log")"

wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -aEq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
ctl() { timeout 60 "$PVISOR" ctl "$SOCK" "$@"; }

truncate -s 1M "$TMP/boot.img"
truncate -s 4M "$TMP/hot.img"
truncate -s 2M "$TMP/hot.iso"
SOCK=$TMP/api.sock
out=$TMP/linux.out
timeout -k 10 300 "$PVISOR" run --backend kvm --no-raw --api "$SOCK" --kernel "$kdir/vmlinuz" \
	--initrd "$initrd" --mem 256 --cmdline "console=hvc0" --scsi "$TMP/boot.img" -- \
	sh -c "'while :; do echo tick; sleep 0.1; done'" </dev/null >"$out" 2>&1 &
pid=$!
if ! wait_for "$out" '^tick' 120; then
	for t in "${TESTS[@]}"; do
		not_ok "linux scsi: $t: the guest did not start: $(tail -c 300 "$out")"
	done
	kill "$pid"
	wait "$pid"
	exit 0
fi

check "linux scsi: boot LUN is sda (1 MiB, 2048 blocks)" \
	wait_for "$out" 'sd [0-9]+:0:0:0: \[sda\] 2048 512-byte logical blocks' 30

# xen-scsifront adds the device before it is Connected again, and
# scsi-add replies once the backend saw that: the kernel has probed it.
r=$(ctl scsi-add "$TMP/hot.img")
if [ "$(field "$r" 'r["device"], r["state"]')" = "('0:0:0:1', 'connected')" ] &&
	wait_for "$out" 'scsi [0-9]+:0:0:1: Direct-Access +PVISOR +VIRTUAL DISK' 20 &&
	wait_for "$out" 'sd [0-9]+:0:0:1: \[sd[a-z]+\] 8192 512-byte logical blocks' 20; then
	ok "linux scsi: hot-added disk appears without reboot (8192 blocks)"
else
	not_ok "linux scsi: hot-added disk: $r; $(grep -a -E 'scsi|sd ' "$out" | tail -8)"
fi
r=$(ctl scsi-add "$TMP/hot.iso,media=cdrom")
if [ "$(field "$r" 'r["device"], r["state"]')" = "('0:0:0:2', 'connected')" ] &&
	wait_for "$out" 'scsi [0-9]+:0:0:2: CD-ROM +PVISOR +VIRTUAL CDROM' 20; then
	ok "linux scsi: hot-added CD/DVD appears without reboot"
else
	not_ok "linux scsi: hot-added CD/DVD: $r; $(grep -a -E 'scsi|sr ' "$out" | tail -8)"
fi
r=$(ctl scsi-remove 0:0:0:1 --timeout 30)
if [ "$(field "$r" 'r["how"]')" = closed ] &&
	wait_for "$out" 'sd [0-9]+:0:0:1: \[sd[a-z]+\] Synchronizing SCSI cache' 20; then
	ok "linux scsi: hot-removed disk goes (scsi_remove_device, then Closed)"
else
	not_ok "linux scsi: hot-remove: $r; $(grep -a -E 'scsi|sd ' "$out" | tail -8)"
fi
a=$(grep -ac '^tick' "$out")
sleep 1
b=$(grep -ac '^tick' "$out")
check "linux scsi: the guest runs on ($a then $b ticks)" test "$b" -ge $((a + 3))
"$PVISOR" ctl "$SOCK" shutdown --force >/dev/null 2>&1
wait "$pid"
check "no pvisor left behind" no_leftovers
