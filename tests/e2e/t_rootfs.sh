#!/bin/bash
# `pvisor run --rootfs DIR[,rw] -- CMD` (docs/rootfs.md), in three parts:
#  1. the command line, everywhere: no kernel → one line and exit 2; DIR
#     not a directory → exit 2; a guest-kit kernel refused; the run file
#     pvisor appends to the initramfs (--dry-run) carries argv with spaces,
#     quotes, newlines and empty words byte for byte, the caller's uid and
#     the cwd;
#  2. the guest side (rootfs-init + pvisor-exec, the same initramfs) under
#     QEMU TCG with virtio-9p, where qemu-system-x86_64 is installed: the
#     invoking uid and cwd, exit status 7 relayed, a write on the read-only
#     root kept in the guest, a write with ,rw reaching the host, argv
#     intact, stderr shown, no kernel messages; --rwdir's writes reaching
#     the host (its own virtio-9p share) while the root stays overlaid, no
#     network but lo without --net; --net user (QEMU's -nic user with
#     virtio-net): eth0 at 10.0.2.15/24, slirp's DNS in resolv.conf, a TCP
#     connection (bash's /dev/tcp) to a server on the host;
#  3. the real `pvisor run --rootfs / -- sh -c 'id -u; pwd; exit 7'` on the
#     kvm backend (a stock kernel needs it): SKIPs without /dev/kvm.
# The kernel: PVISOR_TEST_ROOTFS_KDIR or build/kernel/amd64-unsigned (with
# its 9p and overlay modules: tools/fetch-kernel.sh keeps them; virtio_net
# too for the QEMU network check).
source "$(dirname "$0")/lib.sh"

# start_www: a one-shot HTTP server on the host's loopback serving
# $TMP/www/hello ("hello-from-host") on a free port (port), pid in www.
start_www() {
	mkdir -p "$TMP/www"
	echo hello-from-host >"$TMP/www/hello"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$port" >/dev/null 2>&1 &
	www=$!
}

KDIR=${PVISOR_TEST_ROOTFS_KDIR:-$ROOT/build/kernel/amd64-unsigned}
chmod 755 "$TMP"
WORK=$TMP/work
mkdir -p "$WORK"
chmod 777 "$WORK"
NOBODY=65534

# --- 1. the command line -------------------------------------------------
mkdir -p "$TMP/bin"
cp "$PVISOR" "$TMP/bin/pvisor"
out=$( cd "$WORK" && "$TMP/bin/pvisor" run --rootfs / -- true 2>&1 )
rc=$?
if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
	grep -q 'fetch-kernel.sh' <<<"$out"; then
	ok "no kernel: one line naming fetch-kernel.sh, exit 2"
else
	not_ok "no kernel: exit $rc: $out"
fi
out=$("$PVISOR" run --rootfs /etc/hostname -- true 2>&1); rc=$?
check "--rootfs FILE: exit 2, 'not a directory' ($out)" \
	test $rc -eq 2 -a -n "$(grep 'not a directory' <<<"$out")"
out=$("$PVISOR" run --rootfs "$TMP/absent" -- true 2>&1); rc=$?
check "--rootfs MISSING: exit 2 ($out)" test $rc -eq 2
: >"$TMP/empty"
out=$("$PVISOR" run --rootfs / --kernel "$GUEST/hello" --initrd "$TMP/empty" -- true 2>&1); rc=$?
check "--rootfs with a guest-kit kernel: refused, exit 2 ($out)" \
	test $rc -eq 2 -a -n "$(grep 'bzImage' <<<"$out")"

# spec FILE: the run file in a dry-run initramfs, one field per line with
# a newline inside a field shown as \n (python reads the appended cpio).
spec() {
	python3 - "$1" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
at = d.rfind(b'070701' + b'%08X' % 1)
while at >= 0:
    nsize = int(d[at + 94:at + 102], 16)
    name = d[at + 110:at + 110 + nsize - 1]
    if name == b'pvisor-run':
        fsize = int(d[at + 54:at + 62], 16)
        start = (at + 110 + nsize + 3) & ~3
        for f in d[start:start + fsize].split(b'\0')[:-1]:
            print(f.decode('utf-8', 'replace').replace('\n', '\\n'))
        break
    at = d.rfind(b'070701', 0, at)
PY
}
BZ=
for k in "$KDIR/vmlinuz" "$ROOT/build/kernel/vmlinuz"; do
	[ -s "$k" ] && { BZ=$k; break; }
done
if [ -z "$BZ" ]; then
	skip "kernel without 9p modules: one line why" "no Debian kernel (tools/fetch-kernel.sh)"
	skip "dry run: the run file" "no Debian kernel (tools/fetch-kernel.sh)"
else
	# A kernel directory without modules: pvisor's first-use build of the
	# initramfs fails, and its one line says why.
	mkdir -p "$TMP/k/0.0-nomods"
	cp "$BZ" "$TMP/k/0.0-nomods/vmlinuz"
	out=$("$PVISOR" run --rootfs / --kernel "$TMP/k/0.0-nomods/vmlinuz" -- true 2>&1); rc=$?
	check "kernel without 9p modules: exit 2, one line why ($out)" \
		test $rc -eq 2 -a "$(printf '%s\n' "$out" | wc -l)" = 1 -a -n "$(grep 'no netfs module' <<<"$out")"
	( cd "$WORK" && setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
		"$PVISOR" run --rootfs / --kernel "$BZ" --initrd "$TMP/empty" \
		--dry-run="$WORK/rd" -- printf '[%s]\n' 'a b' "it's \"q\"" $'l1\nl2' '' -- 'x=y' \
		>"$TMP/dry.out" 2>&1 )
	rc=$?
	spec "$WORK/rd" >"$TMP/spec" 2>&1
	want=$(printf '%s\n' PVRUN1 "uid=$NOBODY" "gid=$NOBODY" groups= "cwd=$WORK" stdin=null \
		stdout=pipe)
	args=$(printf '%s\n' -- printf '[%s]\n' 'a b' "it's \"q\"" 'l1\nl2' '' -- 'x=y' | sed 's/\[%s\]$/[%s]\\n/')
	if [ $rc -eq 0 ] && [ "$(head -n 7 "$TMP/spec")" = "$want" ] &&
		[ "$(sed -n '/^--$/,$p' "$TMP/spec")" = "$args" ] &&
		grep -q '^cmdline console=hvc0 quiet loglevel=0 pvisor.root=rootfs:ro$' "$TMP/dry.out"; then
		ok "dry run: argv, uid, cwd in the run file; quiet command line"
	else
		not_ok "dry run (exit $rc): $(cat "$TMP/dry.out") / $(tr '\n' '|' <"$TMP/spec")"
	fi

	# --rwdir: its share and its mount on the command line; bad input is
	# one line and exit 2.
	mkdir -p "$WORK/rwd" "$TMP/r/sub" "$TMP/r/etc"
	out=$( cd "$WORK" && "$PVISOR" run --rootfs / --kernel "$BZ" --initrd "$TMP/empty" \
		--rwdir "$WORK/rwd/" --rwdir "/mnt/a b=$WORK" --net user --dry-run="$WORK/rwrd" -- true 2>&1 )
	rc=$?
	if [ $rc -eq 0 ] && grep -qxF "share $WORK/rwd tag=rwdir0 rw" <<<"$out" &&
		grep -qxF "share $WORK tag=rwdir1 rw" <<<"$out" &&
		grep -qF " pvisor.rwdir=rwdir0:$WORK/rwd pvisor.rwdir=rwdir1:/mnt/a%20b pvisor.net=user" <<<"$out"; then
		ok "--rwdir, --net user: the shares and the command line"
	else
		not_ok "--rwdir, --net user (exit $rc): $out"
	fi
	rwdir_bad() { # WANT ARGS...: pvisor run ARGS fails with one line holding WANT
		local want=$1 o r
		shift
		o=$("$PVISOR" run --kernel "$BZ" --initrd "$TMP/empty" --dry-run="$TMP/x" "$@" -- true 2>&1)
		r=$?
		check "--rwdir refused: $want (exit $r: $o)" test $r -eq 2 -a \
			"$(printf '%s\n' "$o" | wc -l)" = 1 -a -n "$(grep -F -- "$want" <<<"$o")"
	}
	rwdir_bad "No such file" --rootfs / --rwdir "$TMP/absent"
	rwdir_bad "not a directory" --rootfs / --rwdir /etc/hostname
	rwdir_bad "not under --rootfs" --rootfs "$TMP/r" --rwdir "$WORK/rwd"
	rwdir_bad "has no directory /nope" --rootfs "$TMP/r,rw" --rwdir "/nope=$WORK/rwd"
	rwdir_bad "two on /sub" --rootfs "$TMP/r" --rwdir "$TMP/r/sub" --rwdir "/sub=$WORK"
	out=$("$PVISOR" run --kernel "$BZ" --rwdir "$WORK" 2>&1); rc=$?
	check "--rwdir without --rootfs: refused, exit 2 ($out)" \
		test $rc -eq 2 -a -n "$(grep -F -- '--rwdir goes with --rootfs' <<<"$out")"
	rwdir_bad "not absolute" --rootfs / --rwdir "x=$WORK"
	out=$("$PVISOR" run --rootfs "$TMP/r" --kernel "$BZ" --initrd "$TMP/empty" \
		--rwdir "$TMP/r/sub" --dry-run="$TMP/x" -- true 2>&1)
	check "--rwdir under --rootfs DIR: mounted at its place in DIR ($out)" \
		test -n "$(grep -F ' pvisor.rwdir=rwdir0:/sub' <<<"$out")"
fi

# --- 2. the guest side under QEMU TCG --------------------------------------
QEMU_TESTS=("qemu: uid, cwd, exit 7" "qemu: no kernel messages" "qemu: argv intact, stderr shown"
	"qemu: read-only root keeps writes in the guest" "qemu: ,rw writes reach the host"
	"qemu: a terminal's stdin: the console is CMD's controlling tty"
	"qemu: --rwdir: writes reach the host, the root stays overlaid"
	"qemu: without --net: lo up, no other interface"
	"qemu: --net user: eth0 10.0.2.15/24, DNS 10.0.2.3, TCP to the host")
qemu_why=
command -v qemu-system-x86_64 >/dev/null || qemu_why="qemu-system-x86_64 is not installed"
[ -n "$qemu_why" ] || ls "$KDIR"/modules/9p.ko* "$KDIR"/modules/overlay.ko* >/dev/null 2>&1 ||
	qemu_why="$KDIR has no 9p/overlay modules (rm -rf it; tools/fetch-kernel.sh --flavour amd64-unsigned)"
if [ -z "$qemu_why" ]; then
	"$ROOT/tools/mkinitramfs.sh" --rootfs --kernel-dir "$KDIR" >/dev/null 2>"$TMP/mk.log" ||
		qemu_why="mkinitramfs --rootfs failed: $(tail -n 1 "$TMP/mk.log")"
fi

# qemu_rootfs NAME AS-UID ROOTFS-OPT CMD...: pvisor composes the boot
# (--dry-run) as AS-UID in $WORK; QEMU boots it with / on virtio-9p.  The
# guest's output in $TMP/NAME.out, QEMU's exit status returned.
# ROOTFS-OPT tty: pvisor runs on a terminal (script(1)), read-only root.
# PV_OPTS (an array): more pvisor options (--rwdir, --net).  QEMU follows
# the dry run: a virtio-9p share per "share" line after the root's, and
# -nic user with virtio-net when the command line has pvisor.net=user.
PV_OPTS=()
qemu_rootfs() {
	local name=$1 uid=$2 opt=$3 ro=,readonly=on cmdline path tag mode t0
	local nic=(-nic none) fs=()
	shift 3
	[ "$opt" = rw ] && ro=
	if [ "$opt" = tty ]; then
		script -qec "$(printf '%q ' "$PVISOR" run --rootfs / --kernel "$KDIR/vmlinuz" \
			--dry-run="$WORK/$name.rd" -- "$@")" /dev/null </dev/null |
			tr -d '\r' >"$TMP/$name.dry" 2>&1
	else
		( cd "$WORK" && setpriv --reuid="$uid" --regid="$uid" --clear-groups \
			"$PVISOR" run --rootfs "/${opt:+,$opt}" --kernel "$KDIR/vmlinuz" \
			"${PV_OPTS[@]}" --dry-run="$WORK/$name.rd" -- "$@" >"$TMP/$name.dry" 2>&1 ) ||
			return 99
	fi
	cmdline=$(sed -n 's/^cmdline //p' "$TMP/$name.dry")
	while read -r _ path tag mode; do
		tag=${tag#tag=}
		[ "$tag" = rootfs ] || [ "$mode" != rw ] ||
			fs+=(-virtfs "local,path=$path,mount_tag=$tag,security_model=none,id=$tag")
	done < <(grep '^share ' "$TMP/$name.dry")
	case " $cmdline " in
	*" pvisor.net=user "*) nic=(-nic user,model=virtio-net-pci) ;;
	esac
	t0=$(date +%s.%N)
	timeout -k 5 300 qemu-system-x86_64 -accel tcg -m 512 -smp 1 -nographic -no-reboot \
		-kernel "$KDIR/vmlinuz" -initrd "$WORK/$name.rd" "${nic[@]}" \
		-append "$cmdline console=ttyS0 pvisor.trans=virtio" \
		-virtfs "local,path=/,mount_tag=rootfs,security_model=none,id=rootfs$ro" \
		"${fs[@]}" </dev/null >"$TMP/$name.out" 2>&1
	local rc=$?
	echo "# qemu $name: $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
	return $rc
}
status_of() { sed -n 's/^pvisor-exit: status \([0-9]*\) .*/\1/p' "$1" | tr -d '\r'; }

if [ -n "$qemu_why" ]; then
	for t in "${QEMU_TESTS[@]}"; do skip "$t" "$qemu_why"; done
else
	qemu_rootfs id $NOBODY "" sh -c 'id -u; pwd; exit 7'
	o=$TMP/id.out
	if [ "$(status_of "$o")" = 7 ] && grep -qx "$NOBODY" "$o" && grep -qx "$WORK" "$o"; then
		ok "${QEMU_TESTS[0]}"
	else
		not_ok "${QEMU_TESTS[0]}: $(tail -c 600 "$o")"
	fi
	# Kernel lines have a [ seconds ] stamp; QEMU's own warning and the
	# firmware's banner are not the guest's.
	check "${QEMU_TESTS[1]}" test -z "$(grep -aE '^\[ *[0-9]+\.[0-9]+\]' "$o")"

	qemu_rootfs ro 0 "" sh -c 'printf "[%s]\n" "$@"; echo to-stderr >&2;
		echo guest >"$0/ro-file" && cat "$0/ro-file"; exit 3' "$WORK" 'a b' "it's" '' '-- x'
	o=$TMP/ro.out
	if [ "$(status_of "$o")" = 3 ] && grep -qxF '[a b]' "$o" && grep -qxF "[it's]" "$o" &&
		grep -qxF '[]' "$o" && grep -qxF '[-- x]' "$o" && grep -qx to-stderr "$o"; then
		ok "${QEMU_TESTS[2]}"
	else
		not_ok "${QEMU_TESTS[2]}: $(tail -c 600 "$o")"
	fi
	check "${QEMU_TESTS[3]}" test -n "$(grep -x guest "$o")" -a ! -e "$WORK/ro-file"

	qemu_rootfs rw 0 rw sh -c 'echo through >"$0/rw-file"' "$WORK"
	o=$TMP/rw.out
	check "${QEMU_TESTS[4]} ($(status_of "$o"))" \
		test "$(status_of "$o")" = 0 -a "$(cat "$WORK/rw-file" 2>/dev/null)" = through

	if command -v script >/dev/null; then
		# tty -s: stdin is a terminal; the session's controlling tty is
		# the console's device (what /dev/tty opens).
		qemu_rootfs tty 0 tty sh -c 'tty; tty -s && exec 3</dev/tty && echo CTTY-OK; exit 5'
		o=$TMP/tty.out
		if [ "$(status_of "$o")" = 5 ] && grep -qa '^/dev/ttyS0' "$o" && grep -qa '^CTTY-OK' "$o"; then
			ok "${QEMU_TESTS[5]}"
		else
			not_ok "${QEMU_TESTS[5]}: $(cat "$TMP/tty.dry") $(tail -c 400 "$o")"
		fi
	else
		skip "${QEMU_TESTS[5]}" "script(1) is not installed"
	fi

	# --rwdir twice (its place under /, and an explicit guest path) as
	# nobody; a write beside them stays in the overlay.
	mkdir -p "$WORK/rwd" "$WORK/rwd2"
	chmod 777 "$WORK/rwd" "$WORK/rwd2"
	rm -f "$WORK/rwd/f" "$WORK/rwd2/g"
	PV_OPTS=(--rwdir "$WORK/rwd" --rwdir "/mnt/out=$WORK/rwd2")
	qemu_rootfs rwdir $NOBODY "" sh -c 'echo in >"$0/rwd/f" && echo out >/mnt/out/g &&
		echo ov >"$0/ov" && cat "$0/ov" "$0/rwd/f" && ls /sys/class/net &&
		cat /sys/class/net/lo/flags' "$WORK"
	PV_OPTS=()
	o=$TMP/rwdir.out
	if [ "$(status_of "$o")" = 0 ] && [ "$(cat "$WORK/rwd/f" 2>/dev/null)" = in ] &&
		[ "$(cat "$WORK/rwd2/g" 2>/dev/null)" = out ] && grep -qx ov "$o" && [ ! -e "$WORK/ov" ]; then
		ok "${QEMU_TESTS[6]}"
	else
		not_ok "${QEMU_TESTS[6]}: $(tail -c 600 "$o")"
	fi
	# lo's flags: IFF_UP (1) | IFF_LOOPBACK (8).
	check "${QEMU_TESTS[7]}" test "$(grep -a -A1 -x lo "$o" | tr -d '\r' | tr '\n' ' ')" = "lo 0x9 "

	# --net user: a one-shot HTTP server on the host's loopback, which
	# slirp's gateway 10.0.2.2 reaches.
	start_www
	PV_OPTS=(--net user)
	qemu_rootfs net $NOBODY "" bash -c 'ip -4 -o addr show dev eth0; ip route; cat /etc/resolv.conf;
		exec 3<>/dev/tcp/10.0.2.2/$0 && printf "GET /hello HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$port"
	PV_OPTS=()
	kill "$www" 2>/dev/null; wait "$www" 2>/dev/null
	o=$TMP/net.out
	if [ "$(status_of "$o")" = 0 ] && grep -qa 'inet 10\.0\.2\.15/24' "$o" &&
		grep -qa '^default via 10\.0\.2\.2 dev eth0' "$o" && grep -qa '^nameserver 10\.0\.2\.3' "$o" &&
		grep -qa '^hello-from-host' "$o"; then
		ok "${QEMU_TESTS[8]}"
	else
		not_ok "${QEMU_TESTS[8]}: $(tail -c 800 "$o")"
	fi
fi

# --- 3. the real thing, on kvm --------------------------------------------
KVM_TESTS=("pvisor: uid, cwd, exit 7" "pvisor: nothing but CMD's output"
	"pvisor: read-only root keeps writes in the guest" "pvisor: ,rw writes reach the host"
	"pvisor: CMD's stderr on pvisor's stderr, apart"
	"pvisor: --rwdir writes reach the host, the root stays overlaid"
	"pvisor: --net user: eth0 10.0.2.15/24, DNS 10.0.2.3, TCP to the host")
kvm_why=$(host_lacks guest:upper-half)
[ -n "$kvm_why" ] || [ -z "$qemu_why" ] || kvm_why=$qemu_why
if [ -n "$kvm_why" ]; then
	for t in "${KVM_TESTS[@]}"; do skip "$t" "$kvm_why"; done
else
	run_rootfs() { # NAME ROOTFS-ARG CMD... (PV_OPTS: more options)
		local name=$1 arg=$2
		shift 2
		( cd "$WORK" && timeout -k 5 180 setpriv --reuid=$NOBODY --regid=$NOBODY \
			--clear-groups "$PVISOR" run --rootfs "$arg" --kernel "$KDIR/vmlinuz" \
			--mem 512M "${PV_OPTS[@]}" -- "$@" </dev/null >"$TMP/$name.stdout" \
			2>"$TMP/$name.stderr" )
	}
	run_rootfs kid / sh -c 'id -u; pwd; exit 7'
	rc=$?
	if [ $rc -eq 7 ] && [ "$(cat "$TMP/kid.stdout")" = "$(printf '%s\n' $NOBODY "$WORK")" ]; then
		ok "${KVM_TESTS[0]}"
	else
		not_ok "${KVM_TESTS[0]}: exit $rc: $(head -c 600 "$TMP/kid.stdout") / $(head -c 600 "$TMP/kid.stderr")"
	fi
	check "${KVM_TESTS[1]}" test ! -s "$TMP/kid.stderr"
	run_rootfs kro / sh -c 'echo x >"$0/kro" && cat "$0/kro"' "$WORK"
	check "${KVM_TESTS[2]}" test $? -eq 0 -a "$(cat "$TMP/kro.stdout")" = x -a ! -e "$WORK/kro"
	run_rootfs krw /,rw sh -c 'echo y >"$0/krw"' "$WORK"
	check "${KVM_TESTS[3]}" test $? -eq 0 -a "$(cat "$WORK/krw" 2>/dev/null)" = y
	# The second Xen console (--console2, /dev/hvc1) carries CMD's stderr.
	run_rootfs kerr / sh -c 'echo to-out; echo to-err >&2; echo more-out'
	check "${KVM_TESTS[4]}" test $? -eq 0 -a "$(cat "$TMP/kerr.stdout")" = "$(printf 'to-out\nmore-out')" \
		-a "$(cat "$TMP/kerr.stderr")" = to-err
	mkdir -p "$WORK/krwd"
	chmod 777 "$WORK/krwd"
	PV_OPTS=(--rwdir "$WORK/krwd")
	run_rootfs krwd / sh -c 'echo k >"$0/krwd/f" && echo o >"$0/kov" && cat "$0/kov"' "$WORK"
	rc=$?
	PV_OPTS=()
	check "${KVM_TESTS[5]}" test $rc -eq 0 -a "$(cat "$WORK/krwd/f" 2>/dev/null)" = k \
		-a "$(cat "$TMP/krwd.stdout")" = o -a ! -e "$WORK/kov"
	start_www
	PV_OPTS=(--net user)
	run_rootfs knet / bash -c 'ip -4 -o addr show dev eth0; ip route; cat /etc/resolv.conf;
		exec 3<>/dev/tcp/10.0.2.2/$0 && printf "GET /hello HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$port"
	rc=$?
	PV_OPTS=()
	kill "$www" 2>/dev/null; wait "$www" 2>/dev/null
	o=$TMP/knet.stdout
	check "${KVM_TESTS[6]} (exit $rc: $(tail -c 300 "$TMP/knet.stderr"))" test $rc -eq 0 \
		-a -n "$(grep 'inet 10\.0\.2\.15/24' "$o")" -a -n "$(grep '^default via 10\.0\.2\.2' "$o")" \
		-a -n "$(grep '^nameserver 10\.0\.2\.3' "$o")" -a -n "$(grep '^hello-from-host' "$o")"
fi

check "no pvisor left running" no_leftovers
echo "1..$_n"
