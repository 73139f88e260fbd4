#!/bin/sh
# fetch-kernel.sh — fetch Debian's stock kernel for use as a Xen PV guest.
#
# Downloads linux-image-<abi>-<flavour> with `apt-get download`, extracts it
# with `dpkg-deb -x` and keeps only what pvisor needs: vmlinuz (a bzImage),
# config and the Xen modules (the frontends that are not built in).
#
#   tools/fetch-kernel.sh [--dir DIR] [--abi ABI] [--flavour F]... [--list]
#
#   --dir DIR      cache directory (default build/kernel in this tree)
#   --abi ABI      kernel ABI, e.g. 6.1.0-56 or 6.12.117+deb12
#                  (default: the newest one the archive has, by package version)
#   --flavour F    cloud-amd64 or amd64-unsigned; repeatable
#                  (default: cloud-amd64 amd64-unsigned)
#   --list         print the candidate ABIs with their versions and exit
#
# Result, per flavour:  DIR/<abi>-<flavour>/{vmlinuz,config,modules/*.ko*,
# MANIFEST}; the symlink DIR/<flavour> points at it, and DIR/vmlinuz at the
# first flavour's vmlinuz.  Idempotent: a flavour whose directory holds a complete
# MANIFEST is not fetched again.  Needs apt-get, apt-cache, dpkg-deb; run
# `apt-get update` once before on a fresh machine.
set -eu

dir=$(dirname "$0")/../build/kernel
abi=
flavours=
list=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir=$2; shift 2 ;;
	--abi) abi=$2; shift 2 ;;
	--flavour) flavours="$flavours $2"; shift 2 ;;
	--list) list=1; shift ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fetch-kernel: unknown argument: $1" >&2; exit 2 ;;
	esac
done
[ -n "$flavours" ] || flavours="cloud-amd64 amd64-unsigned"

for t in apt-get apt-cache dpkg-deb dpkg; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "fetch-kernel: $t not found (a Debian host is needed)" >&2
		exit 1
	}
done

# Real image packages only: the ABI of a meta-package (linux-image-6.12-cloud-
# amd64) has no "-NN" or "+debNN" part.
candidates() {
	apt-cache pkgnames linux-image- 2>/dev/null |
		sed -n 's/^linux-image-\([0-9][0-9.]*[-+][^ ]*\)-cloud-amd64$/\1/p' |
		sort -u
}

pkgver() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n 1
}

if [ "$list" = 1 ] || [ -z "$abi" ]; then
	best=; bestver=
	for a in $(candidates); do
		v=$(pkgver "linux-image-$a-cloud-amd64")
		[ -n "$v" ] || continue
		[ "$list" = 1 ] && printf '%s\t%s\n' "$a" "$v"
		if [ -z "$bestver" ] || dpkg --compare-versions "$v" gt "$bestver"; then
			best=$a; bestver=$v
		fi
	done
	[ "$list" = 1 ] && exit 0
	if [ -z "$best" ] && [ -s "$dir/vmlinuz" ]; then
		# Offline or no apt lists: what is cached will do.
		echo "fetch-kernel: no apt lists; using cached $dir/vmlinuz"
		exit 0
	fi
	if [ -z "$best" ]; then
		echo "fetch-kernel: no linux-image-*-cloud-amd64 in the apt lists (run apt-get update?)" >&2
		exit 1
	fi
	abi=$best
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
first=

for fl in $flavours; do
	pkg="linux-image-$abi-$fl"
	dest="$dir/$abi-$fl"
	[ -n "$first" ] || first=$fl
	if [ -s "$dest/MANIFEST" ] && [ -s "$dest/vmlinuz" ]; then
		echo "fetch-kernel: $pkg cached in $dest"
		continue
	fi
	ver=$(pkgver "$pkg")
	if [ -z "$ver" ]; then
		echo "fetch-kernel: $pkg is not in the archive" >&2
		exit 1
	fi
	tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT INT TERM
	echo "fetch-kernel: downloading $pkg ($ver)"
	# apt-get drops privileges to _apt for downloads, and _apt cannot
	# write into our private temporary directory.
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root \
		"$pkg=$ver" >/dev/null)
	deb=$(ls "$tmp"/*.deb)
	dpkg-deb -x "$deb" "$tmp/root"

	mkdir -p "$tmp/out/modules"
	boot="$tmp/root/boot"
	cp "$boot/vmlinuz-$abi-${fl%-unsigned}" "$tmp/out/vmlinuz"
	cp "$boot/config-$abi-${fl%-unsigned}" "$tmp/out/config"
	# Debian ships a placeholder System.map (the real one is in -dbg).
	map="$boot/System.map-$abi-${fl%-unsigned}"
	if [ -f "$map" ] && [ "$(wc -c <"$map")" -gt 4096 ]; then
		cp "$map" "$tmp/out/System.map"
	fi
	# Xen frontends and helpers that exist as modules (the rest are =y),
	# 9p over Xen and virtio (netfs, 9pnet, 9pnet_xen, 9pnet_virtio, 9p:
	# docs/9pfs.md), overlay (pvisor run --rootfs: docs/rootfs.md) and
	# the SCSI core under xen-scsifront (docs/scsi.md); virtio_net and its
	# failover helpers, for the --rootfs initramfs under QEMU
	# (tests/e2e/t_rootfs.sh: the guest's network there).
	find "$tmp/root/lib/modules" \( -path '*/xen*' -o -path '*/net/9p/*' -o \
		-name 'virtio_net.ko*' -o -name 'net_failover.ko*' -o -name 'failover.ko*' -o \
		-path '*/fs/9p/*' -o -path '*/fs/netfs/*' -o -path '*/fs/overlayfs/*' -o \
		-name 'scsi_common.ko*' -o -name 'scsi_mod.ko*' -o -name 'sd_mod.ko*' -o \
		-name 'sr_mod.ko*' -o -name 'cdrom.ko*' \) -name '*.ko*' \
		-exec cp {} "$tmp/out/modules/" \;
	{
		echo "package $pkg"
		echo "version $ver"
		echo "sha256 $(sha256sum "$deb" | cut -d' ' -f1)"
		grep -E '^CONFIG_(XEN|HVC_XEN|KERNEL_(GZIP|XZ|LZ4|ZSTD|LZMA|LZO|BZIP2))[A-Z0-9_]*=' \
			"$tmp/out/config" || :
		(cd "$tmp/out/modules" && ls) | sed 's/^/module /'
	} >"$tmp/out/MANIFEST"

	rm -rf "$dest"
	mv "$tmp/out" "$dest"
	rm -rf "$tmp"
	trap - EXIT INT TERM
	echo "fetch-kernel: $pkg -> $dest"
done

for fl in $flavours; do
	ln -sfn "$abi-$fl" "$dir/$fl"
done
ln -sfn "$abi-$first/vmlinuz" "$dir/vmlinuz"
echo "fetch-kernel: $dir/vmlinuz -> $abi-$first/vmlinuz"
