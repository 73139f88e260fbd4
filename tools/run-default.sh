#!/bin/sh
# `make run`: boot the default guest — Debian's stock kernel (cloud-amd64)
# with pvisor's busybox initramfs, to a shell on the console — on the best
# backend for this machine.  Ctrl-A x quits; `exit` in the shell powers off.
#
# The kernel is fetched once (tools/fetch-kernel.sh, needs the Debian archive)
# and the initramfs built once (tools/mkinitramfs.sh); both are cached under
# build/.  When no kernel can be had (offline, not a Debian host), or with
# PVISOR_GUEST=pvsh, it boots pvsh, the guest kit's shell, instead.  So it
# does where no backend can run Debian's kernel (it lives in the upper half,
# which only the kvm backend gives a guest): `pvisor host --query
# guest:upper-half` decides, and the one line it prints says why.
# Extra arguments go to `pvisor run` (e.g. --mem 1G, --cpus 2, -- CMD).
cd "$(dirname "$0")/.." || exit 1

pvsh() {
	exec ./build/pvisor run guest/build/pvsh "$@"
}

[ "${PVISOR_GUEST:-linux}" = pvsh ] && pvsh "$@"

why=$(./build/pvisor host --query guest:upper-half 2>&1)
if [ $? -eq 1 ]; then
	echo "run: not booting Debian: ${why:-pvisor host gave no reason}; booting pvsh instead (see pvisor host)" >&2
	pvsh "$@"
fi

log=build/linux/run-default.log
mkdir -p build/linux
if ! tools/fetch-kernel.sh --flavour cloud-amd64 >"$log" 2>&1; then
	echo "run: no Debian kernel ($(tail -n 1 "$log")); booting pvsh instead" >&2
	pvsh "$@"
fi
kdir=build/kernel/cloud-amd64
if ! initrd=$(tools/mkinitramfs.sh --kernel-dir "$kdir" 2>>"$log" | tail -n 1) ||
	[ ! -s "$initrd" ]; then
	echo "run: building the initramfs failed (see $log); booting pvsh instead" >&2
	pvsh "$@"
fi
# The root disk: an ext4 image of a busybox system (tools/mkrootfs.sh),
# copied once to build/linux/root.img so that what the user writes persists.
disk=build/linux/root.img
if rootfs=$(tools/mkrootfs.sh --kernel-dir "$kdir" 2>>"$log" | tail -n 1) &&
	[ -s "$rootfs" ]; then
	[ -s "$disk" ] || cp --sparse=always "$rootfs" "$disk"
fi
if [ -s "$disk" ]; then
	echo "run: Debian $(basename "$(readlink -f "$kdir")"), root disk $disk on xvda," \
		"user-mode network (PVISOR_GUEST=pvsh make run for pvsh)" >&2
	exec ./build/pvisor run --kernel "$kdir/vmlinuz" --initrd "$initrd" \
		--mem "${PVISOR_MEM:-512M}" \
		--cmdline "console=hvc0 root=/dev/xvda pvisor.net=dhcp" \
		--disk "$disk" --net user "$@"
fi
echo "run: Debian $(basename "$(readlink -f "$kdir")") with $initrd, no root disk" \
	"(see $log; PVISOR_GUEST=pvsh make run for pvsh)" >&2
exec ./build/pvisor run --kernel "$kdir/vmlinuz" --initrd "$initrd" \
	--mem "${PVISOR_MEM:-512M}" --cmdline "console=hvc0" "$@"
