# Shared by tools/mkinitramfs.sh and tools/mkrootfs.sh (sourced, POSIX sh):
# the pieces both Linux guest images hold.  The caller defines die() and
# sets prog (its name, for messages).  POSIX sh has no local variables: the
# functions' own variables start with _gi_ so as not to clobber the caller's.

# Prints the path of a static busybox (busybox-static has no program
# interpreter), installing Debian's busybox-static if there is none.
find_static_busybox() {
	for _gi_b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$_gi_b" ] && ! LC_ALL=C readelf -lW "$_gi_b" 2>/dev/null |
			grep -q 'Requesting program interpreter'; then
			echo "$_gi_b"
			return 0
		fi
	done
	echo "$prog: installing busybox-static" >&2
	apt-get install -y -q busybox-static >/dev/null 2>&1 ||
		die "busybox-static is missing and could not be installed (apt-get install busybox-static)"
	echo /bin/busybox
}

# Prints the kernel's Xen frontend modules under KDIR/modules (.ko or .ko.xz),
# each preceded by a space (so that "$inputs$mods" concatenates).
xen_frontend_modules() {
	# In load order: 9p needs netfs and 9pnet, 9pnet_xen needs 9pnet;
	# xen-scsifront needs scsi_mod (and scsi_common), sr_mod cdrom.
	for _gi_m in xen-blkfront xen-netfront netfs 9pnet 9pnet_xen 9p \
		scsi_common scsi_mod cdrom sd_mod sr_mod xen-scsifront; do
		for _gi_f in "$1/modules/$_gi_m.ko" "$1/modules/$_gi_m.ko.xz"; do
			[ -f "$_gi_f" ] && printf ' %s' "$_gi_f"
		done
	done
	return 0
}

# Prints the modules `pvisor run --rootfs` needs under KDIR/modules, in load
# order (tools/guest-init/rootfs-init), each preceded by a space; dies
# naming the first one missing.  xen-netfront is for --net; virtio_net (with
# failover and net_failover, its depends=) only when the kernel directory
# has it: the QEMU test's network (tests/e2e/t_rootfs.sh), not pvisor's.
rootfs_modules() {
	for _gi_m in netfs 9pnet 9pnet_xen 9pnet_virtio 9p overlay xen-netfront; do
		_gi_found=
		for _gi_f in "$1/modules/$_gi_m.ko" "$1/modules/$_gi_m.ko.xz"; do
			[ -f "$_gi_f" ] && _gi_found=$_gi_f
		done
		[ -n "$_gi_found" ] || die "$1 has no $_gi_m module (the cloud kernel has no 9p; a kernel fetched before overlay was kept needs rm -rf $1 and tools/fetch-kernel.sh --flavour amd64-unsigned)"
		printf ' %s' "$_gi_found"
	done
	for _gi_m in failover net_failover virtio_net; do
		for _gi_f in "$1/modules/$_gi_m.ko" "$1/modules/$_gi_m.ko.xz"; do
			[ -f "$_gi_f" ] && printf ' %s' "$_gi_f"
		done
	done
	return 0
}

# install_busybox BUSYBOX TREE: busybox in TREE/bin with a link per applet.
install_busybox() {
	cp "$1" "$2/bin/busybox"
	for _gi_app in $("$1" --list-full); do
		[ -e "$2/$_gi_app" ] && continue
		mkdir -p "$2/$(dirname "$_gi_app")"
		case "$_gi_app" in
		bin/*) ln -s busybox "$2/$_gi_app" ;;
		*) ln -s /bin/busybox "$2/$_gi_app" ;;
		esac
	done
}

# build_static SRC OUT [CFLAGS...]: a stripped static program for the guest.
build_static() {
	_gi_src=$1 _gi_out=$2
	shift 2
	gcc -static -O2 -std=gnu11 -Wall -Wextra -Werror -Wshadow \
		-Wstrict-prototypes -Wmissing-prototypes "$@" -o "$_gi_out" "$_gi_src" ||
		die "building $(basename "$_gi_out") failed"
	strip "$_gi_out" 2>/dev/null || :
}

# install_modules DIR MODULE...: the modules in DIR, decompressed (busybox
# insmod does not read .ko.xz).
install_modules() {
	_gi_dir=$1
	shift
	for _gi_f in "$@"; do
		case "$_gi_f" in
		*.xz) xz -dc "$_gi_f" >"$_gi_dir/$(basename "$_gi_f" .xz)" ;;
		*) cp "$_gi_f" "$_gi_dir/" ;;
		esac
	done
}
