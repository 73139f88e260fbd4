#!/bin/bash
# bench/qemu_9p.sh — the baseline for host folders (issue 11): QEMU TCG's
# virtio-9p (`-virtfs`) with Debian's amd64 kernel, and the host itself, on
# the same workload in the same run (docs/benchmarks.md, "Host folders: the
# QEMU TCG baseline").
#
#   bench/qemu_9p.sh [-s MiB] [-r RUNS] [-k KERNEL-DEB-DIR]
#
#   -s MiB   size of the sequential file (default 1024)
#   -r RUNS  runs of each workload (default 3; the median is printed)
#
# Workloads, each timed inside the guest from /proc/uptime (10 ms steps)
# and on the host with date +%s%N:
#   seq-write  dd a MiB-sized file of zeros to the share, bs=1M, then sync
#   seq-read   dd it back to /dev/null, bs=1M, after dropping the guest's
#              page cache (and the host's, when root)
#   untar      tar x of a kernel-headers tree (linux-headers-*-common:
#              ~17k files) onto the share
#   stat-all   find | xargs stat over that tree
#   boot-true  QEMU only: start to exit of a guest whose initramfs mounts
#              the host's / over 9p read-only, chroots and runs `true`
#              (what `pvisor run --rootfs / -- true` does)
# Needs qemu-system-x86 and busybox-static; fetches the Debian kernel and
# headers packages with apt-get download into build/bench-qemu-9p.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
SIZE=1024
RUNS=3
while getopts "s:r:" opt; do
	case $opt in
	s) SIZE=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	*) echo "usage: $0 [-s MiB] [-r RUNS]" >&2; exit 2 ;;
	esac
done
[[ $SIZE =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "qemu_9p: -s and -r take positive integers" >&2; exit 2; }
for t in qemu-system-x86_64 busybox cpio xz apt-get dpkg-deb; do
	command -v "$t" >/dev/null || { echo "qemu_9p: $t is missing (apt-get install qemu-system-x86 busybox-static cpio xz-utils)" >&2; exit 2; }
done

CACHE=$TOP/build/bench-qemu-9p
mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/qemu9p.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# fetch PACKAGE-GLOB: the newest .deb of the amd64-unsigned kernel's ABI.
kernel_abi() {
	local manifest=$TOP/build/kernel/amd64-unsigned/MANIFEST
	if [ -f "$manifest" ]; then
		sed -n 's/^package linux-image-\(.*\)-amd64-unsigned$/\1/p' "$manifest"
	else
		apt-cache search --names-only '^linux-image-[0-9].*-amd64-unsigned$' |
			sed -n 's/^linux-image-\(.*\)-amd64-unsigned .*/\1/p' | sort -V | tail -n 1
	fi
}
fetch() {
	local pkg=$1
	ls "$CACHE/$pkg"_*.deb >/dev/null 2>&1 && return 0
	(cd "$CACHE" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		{ echo "qemu_9p: apt-get download $pkg failed" >&2; exit 2; }
}

abi=$(kernel_abi)
[ -n "$abi" ] || { echo "qemu_9p: no amd64-unsigned kernel found in the archive" >&2; exit 2; }
fetch "linux-image-$abi-amd64-unsigned"
fetch "linux-headers-$abi-common"
if [ ! -f "$CACHE/$abi/vmlinuz" ]; then
	rm -rf "$CACHE/x" && dpkg-deb -x "$CACHE/linux-image-$abi-amd64-unsigned"_*.deb "$CACHE/x"
	mkdir -p "$CACHE/$abi/modules"
	for m in fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p; do
		xz -dc "$CACHE"/x/lib/modules/*/kernel/$m.ko.xz >"$CACHE/$abi/modules/$(basename $m).ko"
	done
	cp "$CACHE"/x/boot/vmlinuz-* "$CACHE/$abi/vmlinuz.tmp" && mv "$CACHE/$abi/vmlinuz.tmp" "$CACHE/$abi/vmlinuz"
	rm -rf "$CACHE/x"
fi
if [ ! -f "$CACHE/headers.tar" ]; then
	rm -rf "$CACHE/h" && dpkg-deb -x "$CACHE/linux-headers-$abi-common"_*.deb "$CACHE/h"
	tar -C "$CACHE/h/usr/src" -cf "$CACHE/headers.tar.tmp" . && mv "$CACHE/headers.tar.tmp" "$CACHE/headers.tar"
	rm -rf "$CACHE/h"
fi
NFILES=$(tar -tf "$CACHE/headers.tar" | wc -l)

# initramfs MODE: busybox, the 9p modules and an /init for MODE
# ("bench" runs the workloads on /mnt; "true" chroots into the host's /).
initramfs() {
	local mode=$1 d=$WORK/initramfs-$1
	mkdir -p "$d/bin" "$d/lib/modules" "$d/proc" "$d/sys" "$d/dev" "$d/mnt" "$d/tmp"
	cp "$(command -v busybox)" "$d/bin/busybox"
	for a in sh mount umount insmod dd tar find xargs stat cat echo sync poweroff chroot rm sleep; do
		ln -sf busybox "$d/bin/$a"
	done
	cp "$CACHE/$abi/modules/"*.ko "$d/lib/modules/"
	cat >"$d/init" <<-'EOF'
	#!/bin/sh
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mount -t devtmpfs dev /dev
	for m in netfs 9pnet 9pnet_virtio 9p; do insmod /lib/modules/$m.ko; done
	EOF
	if [ "$mode" = true ]; then
		cat >>"$d/init" <<-'EOF'
		mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 root /mnt
		chroot /mnt /bin/true && echo BOOT-TRUE-OK
		poweroff -f
		EOF
	else
		cat >>"$d/init" <<-'EOF'
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none share /mnt
		now() { read -r u _ </proc/uptime; echo "$u"; }
		size=$(cat /mnt/.size)
		t0=$(now); dd if=/dev/zero of=/mnt/seq bs=1M count="$size" 2>/dev/null; sync; t1=$(now)
		echo "RESULT seq-write $t0 $t1"
		echo 3 >/proc/sys/vm/drop_caches
		t0=$(now); dd if=/mnt/seq of=/dev/null bs=1M 2>/dev/null; t1=$(now)
		echo "RESULT seq-read $t0 $t1"
		rm -f /mnt/seq
		mkdir /mnt/tree
		t0=$(now); tar -C /mnt/tree -xf /mnt/.headers.tar; sync; t1=$(now)
		echo "RESULT untar $t0 $t1"
		echo 3 >/proc/sys/vm/drop_caches
		t0=$(now); find /mnt/tree | xargs stat >/dev/null; t1=$(now)
		echo "RESULT stat-all $t0 $t1"
		rm -rf /mnt/tree
		poweroff -f
		EOF
	fi
	chmod +x "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet --owner 0:0) >"$WORK/initramfs-$mode.cpio"
}

qemu() {
	local initrd=$1 fsdev=$2
	timeout 1800 qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -no-reboot \
		-kernel "$CACHE/$abi/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1" -nic none $fsdev </dev/null
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
now_host() { date +%s.%N; }
drop_host_cache() { [ "$(id -u)" = 0 ] && sync && echo 3 >/proc/sys/vm/drop_caches || true; }

# host_run DIR: the same four workloads on the host, "name seconds" lines.
host_run() {
	local dir=$1 t0
	t0=$(now_host); dd if=/dev/zero of="$dir/seq" bs=1M count="$SIZE" 2>/dev/null; sync; echo "seq-write $(secs "$t0" "$(now_host)")"
	drop_host_cache
	t0=$(now_host); dd if="$dir/seq" of=/dev/null bs=1M 2>/dev/null; echo "seq-read $(secs "$t0" "$(now_host)")"
	rm -f "$dir/seq"
	mkdir "$dir/tree"
	t0=$(now_host); tar -C "$dir/tree" -xf "$CACHE/headers.tar"; sync; echo "untar $(secs "$t0" "$(now_host)")"
	drop_host_cache
	t0=$(now_host); find "$dir/tree" | xargs stat >/dev/null; echo "stat-all $(secs "$t0" "$(now_host)")"
	rm -rf "$dir/tree"
}

# qemu_run DIR: the workloads in a QEMU TCG guest on DIR over virtio-9p.
qemu_run() {
	local dir=$1 out=$WORK/qemu.out
	echo "$SIZE" >"$dir/.size"
	cp "$CACHE/headers.tar" "$dir/.headers.tar"
	qemu "$WORK/initramfs-bench.cpio" \
		"-virtfs local,path=$dir,mount_tag=share,security_model=none,id=share" >"$out" 2>&1 || true
	grep -ao 'RESULT [a-z-]* [0-9.]* [0-9.]*' "$out" | while read -r _ name t0 t1; do echo "$name $(secs "$t0" "$t1")"; done
	grep -aq 'RESULT stat-all' "$out" || { echo "qemu_9p: the QEMU guest did not finish:" >&2; tail -n 20 "$out" >&2; return 1; }
	rm -f "$dir/.size" "$dir/.headers.tar"
}

initramfs bench
initramfs true
SHARE=$WORK/share
mkdir "$SHARE"
for ((i = 0; i < RUNS; i++)); do
	host_run "$SHARE" | sed 's/^/host /' >>"$WORK/results"
	qemu_run "$SHARE" | sed 's/^/qemu /' >>"$WORK/results"
	t0=$(now_host)
	qemu "$WORK/initramfs-true.cpio" \
		"-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,id=root" >"$WORK/true.out" 2>&1 || true
	grep -aq BOOT-TRUE-OK "$WORK/true.out" || { echo "qemu_9p: the rootfs guest did not run true:" >&2; tail -n 20 "$WORK/true.out" >&2; exit 1; }
	echo "qemu boot-true $(secs "$t0" "$(now_host)")" >>"$WORK/results"
done

echo "kernel $abi, $SIZE MiB sequential file, $NFILES tar members, median of $RUNS runs, seconds"
echo "| workload | host | QEMU TCG virtio-9p | QEMU / host |"
echo "|---|---|---|---|"
for w in seq-write seq-read untar stat-all boot-true; do
	h=$(awk -v w="$w" '$1 == "host" && $2 == w { print $3 }' "$WORK/results" | median)
	q=$(awk -v w="$w" '$1 == "qemu" && $2 == w { print $3 }' "$WORK/results" | median)
	if [ -n "$h" ]; then
		r=$(awk -v h="$h" -v q="$q" 'BEGIN { printf "%.1f×", q / h }')
	else
		h=—; r=—
	fi
	[ "$w" = seq-write ] || [ "$w" = seq-read ] && q="$q ($(awk -v s="$SIZE" -v q="$q" 'BEGIN { printf "%.0f MiB/s", s / q }'))"
	echo "| $w | $h | $q | $r |"
done
