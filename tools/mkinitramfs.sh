#!/bin/sh
# mkinitramfs.sh — build the initramfs for Linux guests of pvisor.
#
#   tools/mkinitramfs.sh [--kernel-dir DIR] [--out FILE] [--no-test] [--force]
#   tools/mkinitramfs.sh --rootfs [--kernel-dir DIR] [--out FILE] [--force]
#
#   --kernel-dir DIR  a kernel fetched by tools/fetch-kernel.sh, e.g.
#                     build/kernel/cloud-amd64 (the default); its modules/
#                     provide xen-blkfront and xen-netfront
#   --out FILE        output (default build/linux/initrd-<release>.cpio.gz,
#                     <release> = the kernel directory's name, e.g.
#                     6.12.117+deb12-cloud-amd64: modules are per flavour)
#   --no-test         leave out the test program (/bin/pvtest)
#   --force           rebuild even if the cached image is up to date
#   --rootfs          the initramfs of `pvisor run --rootfs` (docs/rootfs.md)
#                     instead: /init is tools/guest-init/rootfs-init, with
#                     /bin/pvisor-exec (tools/guest-init/pvisor-exec.c),
#                     /bin/pvisor-exit, busybox and the netfs, 9pnet,
#                     9pnet_xen, 9pnet_virtio, 9p, overlay and xen-netfront
#                     modules (and virtio_net with failover and net_failover
#                     when the kernel directory has them: QEMU's); kernel
#                     directory default build/kernel/amd64-unsigned, output
#                     default build/linux/initrd-rootfs-<release>.cpio.gz
#                     (where pvisor looks for it)
#
# Contents: busybox-static with a link per applet, /init
# (tools/guest-init/init), /bin/pvinfo (tools/guest-init/pvinfo),
# /bin/pvisor-exit (tools/guest-init/pvisor-exit.c),
# /bin/pvtest (tools/linux-test/pvtest.c) and /lib/modules/xen-{blk,net}front.ko
# (.ko.xz is decompressed: busybox insmod does not).  Device nodes come from
# devtmpfs at boot, so no root is needed: the archive is written by
# `cpio -o -H newc` with owner root.  Cached: the image is rebuilt only when
# the sha256 of its inputs (this script, the init, the sources, busybox, the
# modules) changes.  Prints the path of the image on stdout, last line.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
kdir=$root/build/kernel/cloud-amd64
out=
with_test=1
force=0
rootfs=0
kdir_given=0
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-dir) kdir=$2; kdir_given=1; shift 2 ;;
	--rootfs) rootfs=1; shift ;;
	--out) out=$2; shift 2 ;;
	--no-test) with_test=0; shift ;;
	--force) force=1; shift ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "mkinitramfs: unknown argument: $1" >&2; exit 2 ;;
	esac
done

die() { echo "mkinitramfs: $*" >&2; exit 1; }
prog=mkinitramfs
lib=$root/tools/lib/guest-image.sh
# shellcheck source=lib/guest-image.sh
. "$lib"

if [ "$rootfs" = 1 ]; then
	[ "$kdir_given" = 1 ] || kdir=$root/build/kernel/amd64-unsigned
	with_test=0
fi
[ -d "$kdir" ] || die "no kernel directory $kdir (run tools/fetch-kernel.sh)"
kdir=$(cd "$kdir" && pwd -P)
release=$(basename "$kdir")
if [ "$rootfs" = 1 ]; then
	[ -n "$out" ] || out=$root/build/linux/initrd-rootfs-$release.cpio.gz
else
	[ -n "$out" ] || out=$root/build/linux/initrd-$release.cpio.gz
fi

busybox=$(find_static_busybox)
for t in cpio gzip xz sha256sum gcc; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done

init=$root/tools/guest-init/init
pvinfo=$root/tools/guest-init/pvinfo
exit_c=$root/tools/guest-init/pvisor-exit.c
test_c=$root/tools/linux-test/pvtest.c
exec_c=$root/tools/guest-init/pvisor-exec.c
runspec_h=$root/include/pvisor/runspec.h
if [ "$rootfs" = 1 ]; then
	init=$root/tools/guest-init/rootfs-init
	mods=$(rootfs_modules "$kdir") || exit 1
	inputs="$root/tools/mkinitramfs.sh $lib $init $exit_c $exec_c $runspec_h $busybox$mods"
else
	mods=$(xen_frontend_modules "$kdir")
	inputs="$root/tools/mkinitramfs.sh $lib $init $pvinfo $exit_c $busybox$mods"
fi
[ "$with_test" = 0 ] || inputs="$inputs $test_c"

stamp="$out.inputs"
# shellcheck disable=SC2086
want=$( (sha256sum $inputs | sed "s|$root/||"; echo "test=$with_test rootfs=$rootfs") | sha256sum | cut -d' ' -f1)
if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
	echo "mkinitramfs: $out is up to date" >&2
	echo "$out"
	exit 0
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$(dirname "$out")/.initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM

mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" \
	"$stage/lib/modules" "$stage/proc" "$stage/sys" "$stage/dev" \
	"$stage/tmp" "$stage/root" "$stage/etc" "$stage/run" "$stage/mnt"
install_busybox "$busybox" "$stage"
cp "$init" "$stage/init"
chmod 755 "$stage/init"
if [ "$rootfs" = 1 ]; then
	build_static "$exec_c" "$stage/bin/pvisor-exec" -I"$root/include"
else
	cp "$pvinfo" "$stage/bin/pvinfo"
	chmod 755 "$stage/bin/pvinfo"
fi
echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
echo 'root:x:0:' >"$stage/etc/group"
echo 'export PS1="pvisor:\w# "' >"$stage/etc/profile"

build_static "$exit_c" "$stage/bin/pvisor-exit"
[ "$with_test" = 0 ] || build_static "$test_c" "$stage/bin/pvtest" -pthread
# shellcheck disable=SC2086
install_modules "$stage/lib/modules" $mods

tmp=$out.tmp.$$
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) | gzip -6 -n >"$tmp"
mv "$tmp" "$out"
echo "$want" >"$stamp"
echo "mkinitramfs: $out ($(wc -c <"$out") bytes; modules:$(for f in $mods; do printf ' %s' "$(basename "$f")"; done))" >&2
echo "$out"
