#!/bin/sh
# mkrootfs.sh — build the ext4 root disk for Linux guests of pvisor, without
# root: a staging tree turned into an image by `mkfs.ext4 -d`.
#
#   tools/mkrootfs.sh [--kernel-dir DIR] [--out FILE] [--size MIB] [--force]
#
#   --kernel-dir DIR  a kernel fetched by tools/fetch-kernel.sh (default
#                     build/kernel/cloud-amd64); its Xen frontend modules go
#                     to /lib/modules/<release>/
#   --out FILE        output (default build/linux/rootfs-<release>.ext4)
#   --size MIB        image size, sparse (default 256)
#   --force           rebuild even if the cached image is up to date
#
# Contents: busybox-static with a link per applet, /sbin/init
# (tools/rootfs/init), udhcpc's script (tools/rootfs/default.script),
# /bin/pvisor-exit (tools/guest-init/pvisor-exit.c, gcc -static),
# xen-blkfront/xen-netfront decompressed, /etc (passwd, group, hosts,
# profile), empty /proc /sys /dev /tmp /run /mnt /srv /root.  Files are owned
# by root inside the image (fakeroot when not run as root, else
# `-E root_owner`, which fixes only the root directory).  Cached like the
# initramfs: rebuilt only when the sha256 of the inputs changes.  The image
# is the cache: copy it (cp --sparse=always) before booting it read-write.
# Prints the image's path on stdout, last line.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
kdir=$root/build/kernel/cloud-amd64
out=
size=256
force=0
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-dir) kdir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--force) force=1; shift ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "mkrootfs: unknown argument: $1" >&2; exit 2 ;;
	esac
done

die() { echo "mkrootfs: $*" >&2; exit 1; }
prog=mkrootfs
lib=$root/tools/lib/guest-image.sh
# shellcheck source=lib/guest-image.sh
. "$lib"

case "$size" in
''|*[!0-9]*) die "--size wants MiB, got '$size'" ;;
esac
[ "$size" -ge 16 ] || die "--size $size: at least 16 MiB"
[ -d "$kdir" ] || die "no kernel directory $kdir (run tools/fetch-kernel.sh)"
kdir=$(cd "$kdir" && pwd -P)
release=$(basename "$kdir")
# uname -r of the generic flavour has no -unsigned suffix.
krel=${release%-unsigned}
[ -n "$out" ] || out=$root/build/linux/rootfs-$release.ext4

busybox=$(find_static_busybox)
mkfs=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
[ -x "$mkfs" ] || die "mkfs.ext4 not found (apt-get install e2fsprogs)"
for t in gcc xz sha256sum; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
# mkfs.ext4 -d appeared in e2fsprogs 1.43.
"$mkfs" 2>&1 | grep -q -- '-d root-directory' || die "$mkfs has no -d (e2fsprogs >= 1.43 needed)"

init=$root/tools/rootfs/init
script=$root/tools/rootfs/default.script
exit_c=$root/tools/guest-init/pvisor-exit.c
mods=$(xen_frontend_modules "$kdir")
inputs="$root/tools/mkrootfs.sh $lib $init $script $exit_c $busybox$mods"
stamp="$out.inputs"
# shellcheck disable=SC2086
want=$( (sha256sum $inputs | sed "s|$root/||"; echo "size=$size") | sha256sum | cut -d' ' -f1)
if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
	echo "mkrootfs: $out is up to date" >&2
	echo "$out"
	exit 0
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$(dirname "$out")/.rootfs.XXXXXX")
tmp=$out.tmp.$$
trap 'rm -rf "$stage" "$tmp"' EXIT INT TERM

t=$stage/tree
mkdir -p "$t/bin" "$t/sbin" "$t/usr/bin" "$t/usr/sbin" "$t/etc/udhcpc" \
	"$t/lib/modules/$krel" "$t/proc" "$t/sys" "$t/dev" "$t/tmp" "$t/run" \
	"$t/root" "$t/etc" "$t/mnt" "$t/srv" "$t/var/log"
chmod 1777 "$t/tmp"
chmod 700 "$t/root"
install_busybox "$busybox" "$t"
rm -f "$t/sbin/init"
cp "$init" "$t/sbin/init"
cp "$script" "$t/etc/udhcpc/default.script"
chmod 755 "$t/sbin/init" "$t/etc/udhcpc/default.script"
build_static "$exit_c" "$t/bin/pvisor-exit"
# shellcheck disable=SC2086
install_modules "$t/lib/modules/$krel" $mods
echo 'root:x:0:0:root:/root:/bin/sh' >"$t/etc/passwd"
echo 'root:x:0:' >"$t/etc/group"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpvisor\n' >"$t/etc/hosts"
echo pvisor >"$t/etc/hostname"
echo 'export PS1="pvisor-root:\w# "' >"$t/etc/profile"
: >"$t/etc/resolv.conf"
echo "pvisor root disk, $release, built $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$t/etc/pvisor-rootfs"

truncate -s "${size}M" "$tmp"
if [ "$(id -u)" = 0 ]; then
	"$mkfs" -q -F -b 4096 -L pvisor-root -d "$t" -E root_owner=0:0 "$tmp" >/dev/null ||
		die "mkfs.ext4 failed"
elif command -v fakeroot >/dev/null 2>&1; then
	fakeroot "$mkfs" -q -F -b 4096 -L pvisor-root -d "$t" "$tmp" >/dev/null ||
		die "mkfs.ext4 failed"
else
	# Files keep the caller's uid: harmless for a busybox system that runs
	# everything as root, but say so.
	echo "mkrootfs: no fakeroot: files in the image are owned by uid $(id -u)" >&2
	"$mkfs" -q -F -b 4096 -L pvisor-root -d "$t" -E root_owner=0:0 "$tmp" >/dev/null ||
		die "mkfs.ext4 failed"
fi
mv "$tmp" "$out"
echo "$want" >"$stamp"
echo "mkrootfs: $out (${size} MiB, $(du -k "$out" | cut -f1) KiB used; modules:$(for f in $mods; do printf ' %s' "$(basename "$f" .xz)"; done))" >&2
echo "$out"
