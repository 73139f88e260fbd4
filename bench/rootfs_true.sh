#!/bin/bash
# bench/rootfs_true.sh — start to exit of `pvisor run --rootfs / -- true`
# beside the same guest under QEMU TCG (docs/benchmarks.md, "pvisor run
# --rootfs"): the same kernel, the same initramfs and run file (pvisor's
# --dry-run output), the host's / over virtio-9p instead of Xen 9pfs.
#
#   bench/rootfs_true.sh [-r RUNS] [-k KERNEL-DIR]
#
#   -r RUNS        runs of each (default 5; the median and the range print)
#   -k KERNEL-DIR  a tools/fetch-kernel.sh directory with 9p and overlay
#                  modules (default build/kernel/amd64-unsigned)
# pvisor's side needs the kvm backend (a Linux kernel): without it, one
# line says why and only QEMU's is measured.  QEMU's needs
# qemu-system-x86_64.  Wall time from date +%s%N around each run.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
PVISOR=$TOP/build/pvisor
RUNS=5
KDIR=$TOP/build/kernel/amd64-unsigned
while getopts "r:k:" opt; do
	case $opt in
	r) RUNS=$OPTARG ;;
	k) KDIR=$OPTARG ;;
	*) echo "usage: $0 [-r RUNS] [-k KERNEL-DIR]" >&2; exit 2 ;;
	esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "rootfs_true: -r takes a positive integer" >&2; exit 2; }
"$TOP/tools/mkinitramfs.sh" --rootfs --kernel-dir "$KDIR" >/dev/null || exit 2
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/rootfs-true.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

now() { date +%s%N; }
# stats NAME: "NAME median min max" in seconds from the ns values on stdin.
stats() {
	sort -n | awk -v n="$1" '{ v[NR] = $1 / 1e9 }
		END { printf "%s %.2f %.2f %.2f\n", n, v[int((NR + 1) / 2)], v[1], v[NR] }'
}

"$PVISOR" run --rootfs / --kernel "$KDIR/vmlinuz" --dry-run="$WORK/rd" -- true >"$WORK/dry" || exit 2
cmdline=$(sed -n 's/^cmdline //p' "$WORK/dry")

why=$("$PVISOR" host --query guest:upper-half 2>&1)
if [ $? -eq 0 ]; then
	for ((i = 0; i < RUNS; i++)); do
		t0=$(now)
		"$PVISOR" run --rootfs / --kernel "$KDIR/vmlinuz" --mem 512M -- true </dev/null ||
			{ echo "rootfs_true: pvisor run --rootfs / -- true failed (exit $?)" >&2; exit 1; }
		echo $(($(now) - t0))
	done | stats pvisor >>"$WORK/results"
else
	echo "rootfs_true: pvisor not measured: $why" >&2
fi

if command -v qemu-system-x86_64 >/dev/null; then
	for ((i = 0; i < RUNS; i++)); do
		t0=$(now)
		qemu-system-x86_64 -accel tcg -m 512 -smp 1 -nographic -no-reboot \
			-kernel "$KDIR/vmlinuz" -initrd "$WORK/rd" -nic none \
			-append "$cmdline console=ttyS0 pvisor.trans=virtio" \
			-virtfs local,path=/,mount_tag=rootfs,security_model=none,readonly=on,id=rootfs \
			</dev/null >"$WORK/qemu.out" 2>&1
		grep -q 'pvisor-exit: status 0 ' "$WORK/qemu.out" ||
			{ echo "rootfs_true: the QEMU guest did not run true:" >&2; tail -n 5 "$WORK/qemu.out" >&2; exit 1; }
		echo $(($(now) - t0))
	done | stats "QEMU-TCG" >>"$WORK/results"
else
	echo "rootfs_true: QEMU not measured: qemu-system-x86_64 is not installed" >&2
fi

echo "kernel $(basename "$(readlink -f "$KDIR")"), $RUNS runs, seconds (median, min, max)"
echo "| run | median | min | max |"
echo "|---|---|---|---|"
while read -r n m lo hi; do echo "| $n | $m | $lo | $hi |"; done <"$WORK/results"
