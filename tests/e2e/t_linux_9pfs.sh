#!/bin/bash
# Debian's amd64 kernel (the flavour with 9pnet_xen; the cloud kernel has no
# 9p) mounting --share directories over Xen 9pfs from the initramfs
# (pvisor.9p=TAG:DIR[:ro]): write, append, truncate, rename across
# directories, unlink of an open file, hard and symbolic links, mkdir/rmdir,
# chmod, fsync and an 8 MiB copy, checked on the host; a read-only share
# refuses writes with EROFS; `..` and a symlink out of the share stay in;
# on a security_model=mapped-xattr share the guest's root chowns, chmods
# (setuid), makes a device node, a FIFO and a symlink, and sees them back,
# while the host holds plain 0600 files with user.pvisor.* attributes.
# Needs /dev/kvm (a Linux kernel lives in the upper half): SKIPs otherwise,
# so it has not run on the host without kvm where it was written.
source "$(dirname "$0")/lib.sh"

FLAVOUR=${LINUX_9PFS_FLAVOUR:-amd64-unsigned}
TIMEOUT=180
TESTS=("guest script" "file content on host" "append and truncate" "rename across dirs"
	"hard link" "symlink" "chmod" "8 MiB checksum" "read-only share: EROFS"
	"read-only share unchanged" "no escape" "mapped-xattr: guest script"
	"mapped-xattr: guest's view" "mapped-xattr: host files")

skip_all() {
	local t
	for t in "${TESTS[@]}"; do skip "linux 9pfs: $t" "$1"; done
	exit 0
}

[ -z "$KVM_WHY" ] || skip_all "kvm unavailable: $KVM_WHY"
"$ROOT/tools/fetch-kernel.sh" --flavour "$FLAVOUR" >"$TMP/fetch.log" 2>&1 ||
	skip_all "no kernel: $(tail -n 1 "$TMP/fetch.log")"
KDIR=$ROOT/build/kernel/$FLAVOUR
ls "$KDIR"/modules/9pnet_xen.ko* >/dev/null 2>&1 ||
	skip_all "$KDIR has no 9pnet_xen module (re-fetch: rm -rf $KDIR; tools/fetch-kernel.sh --flavour $FLAVOUR)"
INITRD=$("$ROOT/tools/mkinitramfs.sh" --kernel-dir "$KDIR" 2>"$TMP/mk.log" | tail -n 1) ||
	skip_all "mkinitramfs failed: $(tail -n 1 "$TMP/mk.log")"

W=$TMP/work R=$TMP/ro
mkdir -p "$W/a" "$W/b" "$R" "$TMP/outside"
echo secret >"$TMP/outside/secret"
ln -s ../outside "$W/out"
printf 'host data' >"$R/keep"
head -c 8M /dev/urandom >"$W/big.in"
ro_sum=$(md5sum <"$R/keep")

script='cd /mnt/w &&
echo hello >a/f && echo more >>a/f && truncate -s 8 a/f &&
mv a/f b/g && exec 3<b/g && rm b/g && cat <&3 >b/after-unlink && exec 3<&- &&
echo linked >l && ln l l2 && ln -s l2 s && chmod 600 l &&
mkdir -p d/e && rmdir d/e && cp big.in big.out && sync big.out &&
{ ls ../../.. >/dev/null; cat out/secret 2>/dev/null; cat ../../outside/secret 2>/dev/null; true; } >escape &&
{ echo x >/mnt/r/new 2>r.err; grep -q "Read-only" r.err && echo EROFS >ro.result; } ;
echo script-done'
script=$(tr '\n' ' ' <<<"$script") # one line: it travels on the kernel command line
timeout -k 10 $((TIMEOUT + 30)) "$PVISOR" run --backend kvm --no-raw --timeout "$TIMEOUT" \
	--kernel "$KDIR/vmlinuz" --initrd "$INITRD" --mem 256 \
	--share "$W,tag=w" --share "$R,tag=r,ro" \
	--cmdline "console=hvc0 quiet pvisor.9p=w:/mnt/w pvisor.9p=r:/mnt/r:ro" -- "$script" \
	</dev/null >"$TMP/out" 2>&1
rc=$?
check "linux 9pfs: guest script (exit $rc)" grep -q script-done "$TMP/out"
check "linux 9pfs: file content on host" [ "$(cat "$W/b/after-unlink" 2>/dev/null)" = "$(printf 'hello\nmo')" ]
check "linux 9pfs: append and truncate" [ "$(wc -c <"$W/b/after-unlink" 2>/dev/null)" = 8 ]
check "linux 9pfs: rename across dirs" [ ! -e "$W/a/f" -a ! -e "$W/b/g" ]
check "linux 9pfs: hard link" [ "$(stat -c %h "$W/l" 2>/dev/null)" = 2 ]
check "linux 9pfs: symlink" [ "$(readlink "$W/s")" = l2 ]
check "linux 9pfs: chmod" [ "$(stat -c %a "$W/l" 2>/dev/null)" = 600 ]
check "linux 9pfs: 8 MiB checksum" cmp -s "$W/big.in" "$W/big.out"
check "linux 9pfs: read-only share: EROFS" [ "$(cat "$W/ro.result" 2>/dev/null)" = EROFS ]
check "linux 9pfs: read-only share unchanged" [ "$(ls "$R")" = keep -a "$(md5sum <"$R/keep")" = "$ro_sum" ]
no_escape() { [ -f "$W/escape" ] && ! grep -q secret "$W/escape"; }
check "linux 9pfs: no escape" no_escape

# The same kernel on a mapped-xattr share: what root does in the guest is
# stored, not applied.
M=$TMP/mapped
mkdir -p "$M"
script='cd /mnt/m && echo x >f && chown 1234:5678 f && chmod 4755 f &&
mknod c c 1 3 && mkfifo p && ln -s target s &&
stat -c "%n %u:%g %a %F %t,%T" f c p s >view && echo script-done'
script=$(tr '\n' ' ' <<<"$script")
timeout -k 10 $((TIMEOUT + 30)) "$PVISOR" run --backend kvm --no-raw --timeout "$TIMEOUT" \
	--kernel "$KDIR/vmlinuz" --initrd "$INITRD" --mem 256 \
	--share "$M,tag=m,security_model=mapped-xattr" \
	--cmdline "console=hvc0 quiet pvisor.9p=m:/mnt/m" -- "$script" \
	</dev/null >"$TMP/out.mapped" 2>&1
rc=$?
check "linux 9pfs: mapped-xattr: guest script (exit $rc)" grep -q script-done "$TMP/out.mapped"
view_ok() {
	grep -q '^f 1234:5678 4755 regular file' "$M/view" &&
		grep -q '^c 0:0 .* character special file 1,3' "$M/view" &&
		grep -q '^p 0:0 .* fifo' "$M/view" && grep -q '^s 0:0 777 symbolic link' "$M/view"
}
check "linux 9pfs: mapped-xattr: guest's view" view_ok
host_ok() {
	local f
	for f in f c p s; do
		[ -f "$M/$f" ] && [ ! -L "$M/$f" ] && [ "$(stat -c %a "$M/$f")" = 600 ] || return 1
	done
	[ "$(cat "$M/s")" = target ] &&
		python3 -c 'import os,sys; sys.exit(int.from_bytes(os.getxattr(sys.argv[1],"user.pvisor.uid"),"little") != 1234)' "$M/f"
}
check "linux 9pfs: mapped-xattr: host files" host_ok
