#!/bin/bash
# Xen 9pfs shares (--share): the guest kit's t_9pfs does real file
# operations on a share, checked here on the host; a read-only share refuses
# every change; hostile messages get error replies and a size past the ring
# disconnects the device while pvisor survives; bad --share values get one
# clear error line.
source "$(dirname "$0")/lib.sh"

setup_share() {
	rm -rf "$TMP/s"
	mkdir -p "$TMP/s/share" "$TMP/s/ro" "$TMP/s/outdir"
	echo hidden >"$TMP/s/outside-marker"
	echo x >"$TMP/s/outdir/marker"
	ln -s ../outdir "$TMP/s/share/escape"
	printf 'host data' >"$TMP/s/ro/keep"
}

# t9pfs_passes BACKEND DESC OUT [WORK_OPTS RO_OPTS]: the guest kit's t_9pfs on
# the work share and the read-only one (their --share options extended by
# WORK_OPTS, RO_OPTS) passes every check.
t9pfs_passes() {
	local be=$1 desc=$2 out=$3 rc
	run_guest "$be" "$out" --share "$TMP/s/share,tag=work${4:-}" \
		--share "$TMP/s/ro,tag=rodata,ro${5:-}" "$GUEST/t_9pfs"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^PASS' "$out" && ! grep -q '^FAIL' "$out"; then
		ok "$be: $desc ($(grep -c '^PASS' "$out") checks)"
	else
		not_ok "$be: $desc (exit $rc): $(grep -E '^FAIL|pvisor' "$out" | head -c 800)"
	fi
}

# hostxattr FILE NAME: the value of FILE's attribute NAME (empty if none).
hostxattr() { python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode("latin-1"))' "$1" "$2" 2>/dev/null; }
# Why the share's filesystem takes no user xattrs (empty: it does).
setup_share
xattr_why=$(python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.probe", b"1"); os.removexattr(sys.argv[1], "user.probe")' "$TMP/s/share" 2>&1 | tail -1)

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: t_9pfs" "kvm unavailable: $KVM_WHY"
		skip "$be: pvsh on a share" "kvm unavailable: $KVM_WHY"
		continue
	fi
	setup_share
	ro_sum=$(cd "$TMP/s" && find ro outdir outside-marker -type f -exec md5sum {} + | sort)
	t9pfs_passes "$be" "t_9pfs, pvisor survives the hostile part" "$TMP/out.$be"
	s=$TMP/s/share
	check "$be: the guest's file is on the host" \
		[ "$(cat "$s/final.txt" 2>/dev/null)" = "from the guest" ]
	check "$be: chmod 0600 from the guest" [ "$(stat -c %a "$s/final.txt" 2>/dev/null)" = 600 ]
	check "$be: the 9P2000.u session's file (Mini-OS's calls) is on the host, mode 0644" \
		[ "$(cat "$s/minios.txt" 2>/dev/null):$(stat -c %a "$s/minios.txt" 2>/dev/null)" = "from mini-os:644" ]
	check "$be: the file the 9P2000.u session removed (Tremove) is gone from the host" \
		[ ! -e "$s/gone.txt" ]
	check "$be: hard link (one inode, 2 links)" \
		[ "$(stat -c %i:%h "$s/final.txt" 2>/dev/null)" = "$(stat -c %i:2 "$s/d2/hard" 2>/dev/null)" ]
	check "$be: symlink target as the guest wrote it" [ "$(readlink "$s/link")" = d2/hard ]
	if [ -n "$xattr_why" ]; then
		skip "$be: the guest's user.color on the host" "no user xattrs in $TMP: $xattr_why"
	else
		check "$be: the guest's user.color on the host, user.gone removed" \
			[ "$(hostxattr "$s/xattr.txt" user.color):$(hostxattr "$s/xattr.txt" user.gone)" = "blue:" ]
	fi
	check "$be: renamed and removed directories" [ ! -e "$s/d1" -a -d "$s/d2" -a ! -e "$s/d2/moved" -a ! -e "$s/d2/g" ]
	check "$be: the read-only share and everything outside are unchanged" \
		[ "$(cd "$TMP/s" && find ro outdir outside-marker -type f -exec md5sum {} + | sort)" = "$ro_sum" ]
	check "$be: nothing new on the read-only share" [ "$(ls "$TMP/s/ro")" = keep ]
	check "$be: no pvisor process left behind" no_leftovers

	# pvsh's file commands on the share.
	echo "host line" >"$s/d2/h.txt"
	run_guest "$be" "$TMP/pvsh.$be" --share "$s,tag=work" "$GUEST/pvsh" -- \
		"write d2/x.txt hello from pvsh; cat d2/x.txt; ls d2; cat d2/h.txt; rm d2/h.txt; cat nope; exit 0"
	rc=$?
	if [ $rc -eq 0 ] && [ "$(cat "$s/d2/x.txt" 2>/dev/null)" = "hello from pvsh" ] &&
		[ ! -e "$s/d2/h.txt" ] && grep -q '^host line' "$TMP/pvsh.$be" &&
		grep -q '^x.txt' "$TMP/pvsh.$be" && grep -q 'cat nope: error 2' "$TMP/pvsh.$be"; then
		ok "$be: pvsh write/cat/ls/rm on the share"
	else
		not_ok "$be: pvsh on the share (exit $rc): $(tail -c 600 "$TMP/pvsh.$be")"
	fi
done

# security_model=mapped-xattr: the same guest, and on the host plain files
# of mode 0600/0700 whose user.pvisor.* attributes hold what the guest set.
xattr() { python3 -c 'import os,sys; v=os.getxattr(sys.argv[1], "user.pvisor."+sys.argv[2]); print(oct(int.from_bytes(v,"little")) if sys.argv[2]=="mode" else int.from_bytes(v,"little"))' "$1" "$2" 2>/dev/null; }
for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: t_9pfs on a mapped-xattr share" "kvm unavailable: $KVM_WHY"
		continue
	fi
	setup_share
	t9pfs_passes "$be" "t_9pfs on a mapped-xattr share" "$TMP/mapped.$be" \
		,security_model=mapped-xattr ,security_model=mapped
	s=$TMP/s/share
	check "$be: mapped: the guest's file is on the host, mode 0600 there" \
		[ "$(cat "$s/final.txt" 2>/dev/null):$(stat -c %a "$s/final.txt" 2>/dev/null)" = "from the guest:600" ]
	check "$be: mapped: the guest's chmod 0600 in user.pvisor.mode" [ "$(xattr "$s/final.txt" mode)" = 0o100600 ]
	check "$be: mapped: owner in user.pvisor.uid" [ -n "$(xattr "$s/final.txt" uid)" ]
	check "$be: mapped: a directory is 0700 on the host, 0755 for the guest" \
		[ "$(stat -c %a "$s/d2"):$(xattr "$s/d2" mode)" = "700:0o40755" ]
	check "$be: mapped: the symlink is a plain file holding its target" \
		[ ! -L "$s/link" -a "$(cat "$s/link" 2>/dev/null):$(xattr "$s/link" mode)" = "d2/hard:0o120777" ]
	check "$be: mapped: the guest's user.color on the host beside user.pvisor.mode, user.gone removed" \
		[ "$(hostxattr "$s/xattr.txt" user.color):$(xattr "$s/xattr.txt" mode):$(hostxattr "$s/xattr.txt" user.gone)" = "blue:0o100644:" ]
	check "$be: mapped: the read-only share has no attributes written" \
		[ -z "$(xattr "$TMP/s/ro/keep" mode)" -a "$(ls "$TMP/s/ro")" = keep ]
	check "$be: mapped: no pvisor process left behind" no_leftovers
done

# Bad values: one clear line, exit 2, the guest never starts.
bad() {
	local desc=$1 want=$2
	shift 2
	"$PVISOR" run --backend proc --no-raw "$@" "$GUEST/hello" </dev/null >"$TMP/bad" 2>&1
	local rc=$?
	if [ $rc -eq 2 ] && [ "$(grep -c . "$TMP/bad")" -eq 1 ] && grep -q -- "$want" "$TMP/bad"; then
		ok "$desc: one clear error line"
	else
		not_ok "$desc (exit $rc): $(cat "$TMP/bad")"
	fi
}
bad "missing share directory" "share $TMP/none: No such file or directory" --share "$TMP/none,tag=a"
touch "$TMP/file"
bad "a share that is a file" "share $TMP/file: not a directory" --share "$TMP/file,tag=a"
bad "two shares with one tag" "two shares tagged 'a'" --share "$TMP,tag=a" --share "$TMP,tag=a"
bad "a share without a tag" "needs tag=NAME" --share "$TMP"
bad "an unknown security model" "unknown security_model 'none'" --share "$TMP,tag=a,security_model=none"
bad "mapped-xattr on a filesystem without user xattrs" "needs user extended attributes" --share "/proc,tag=a,security_model=mapped-xattr"
