#!/bin/bash
# SCSI LUN hot-plug and removal while the guest runs (issue 12;
# docs/scsi.md "Hot-plug", docs/control-api.md scsi-add, scsi-remove):
# `pvisor ctl scsi-add` offers a LUN through vscsi-devs/dev-N and a
# Reconfiguring round, in xen-scsiback's and libxl's order; the guest kit's
# test guest (guest/tests/t_scsi_hotplug.c) answers as xen-scsifront does,
# prints each LUN that comes and goes, INQUIRYs and READs it and writes a
# disk LUN's block 1. The first LUN creates the vscsi host (the guest has
# none at boot). `scsi-remove` takes a LUN away once the guest let it go;
# the image is unlocked and holds the guest's write. Abuse: a missing
# file, a locked image, a taken address, a bad address, no descriptor, an
# unknown LUN, more LUNs than the limit, a guest that never answers
# (timeout, then force), and 50 add/remove cycles with no descriptor
# leaked.  `ctl status` lists the LUNs (address, image, media, ro, state;
# a CD/DVD's medium), with the new image after an insert.  (A snapshot
# carries hot-plugged LUNs: t_save_devices, t_hotplug.)
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ctl_lib.sh"

# The vscsi host's LUNs in `ctl status`, one line each:
# "H:C:T:L PATH MEDIA ro|rw STATE[ medium|empty]".
luns() {
	field "$(ctl status)" '"\n".join(" ".join([l["device"], l["path"], l["media"],
		"ro" if l["ro"] else "rw", str(l["state"])] +
		([("medium" if l["medium"] else "empty")] if l["media"] == "cdrom" else []))
		for d in r["devices"] if d["type"] == "vscsi" for l in d["luns"])'
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: SCSI LUN hot-plug" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock
	out=$TMP/run.$be
	truncate -s 1M "$TMP/d.img"
	printf 'LABEL-DISK\n' | dd of="$TMP/d.img" conv=notrunc status=none
	truncate -s 2M "$TMP/c.iso"
	printf 'LABEL-ISO\n' | dd of="$TMP/c.iso" conv=notrunc status=none

	# A guest with no --scsi: the first scsi-add creates the host.
	start "$be" "$GUEST/t_scsi_hotplug"
	if ! wait_for "$out" '^SCSIPLUG waiting' 20; then
		not_ok "$be: t_scsi_hotplug did not start: $(head -c 600 "$out")"
		stop_guest
		continue
	fi
	r=$(ctl scsi-add "$TMP/d.img")
	if [ "$(field "$r" 'r["device"], r["media"], r["ro"]')" = "('0:0:0:0', 'disk', False)" ] &&
		wait_for "$out" '^LUN 0:0:0:0 inquiry disk PVISOR  /VIRTUAL DISK' 20 &&
		wait_for "$out" '^LUN 0:0:0:0 read LABEL-DISK' 10 &&
		wait_for "$out" '^LUN 0:0:0:0 wrote' 10; then
		ok "$be: scsi-add on a guest without a SCSI host: the host appears, the guest adds 0:0:0:0, INQUIRY and READ are the image's"
	else
		not_ok "$be: first scsi-add: $r; $(grep -E 'SCSIPLUG|LUN|scsi' "$out")"
	fi
	r=$(ctl scsi-add "$TMP/c.iso,media=cdrom")
	if [ "$(field "$r" 'r["device"], r["media"], r["ro"], r["state"]')" = "('0:0:0:1', 'cdrom', True, 'connected')" ] &&
		wait_for "$out" '^LUN up 0:0:0:1' 10 &&
		wait_for "$out" '^LUN 0:0:0:1 inquiry cdrom PVISOR  /VIRTUAL CDROM' 10 &&
		wait_for "$out" '^LUN 0:0:0:1 read LABEL-ISO' 10; then
		ok "$be: scsi-add of a CD/DVD to the running guest: a Reconfiguring round, the guest reads the ISO"
	else
		not_ok "$be: cdrom scsi-add: $r; $(grep -E 'LUN|scsi' "$out")"
	fi
	l=$(luns)
	check "$be: status lists both LUNs, Connected: $(tr '\n' ';' <<<"$l")" test "$l" = \
		"0:0:0:0 $TMP/d.img disk rw 4
0:0:0:1 $TMP/c.iso cdrom ro 4 medium"
	truncate -s 2M "$TMP/c2.iso"
	ctl eject 0:0:0:1 >/dev/null
	l1=$(luns | grep '^0:0:0:1')
	ctl insert 0:0:0:1 "$TMP/c2.iso" >/dev/null
	l2=$(luns | grep '^0:0:0:1')
	check "$be: status after eject ($l1) and insert ($l2): empty, then the new image" test \
		"$l1|$l2" = "0:0:0:1 $TMP/c.iso cdrom ro 4 empty|0:0:0:1 $TMP/c2.iso cdrom ro 4 medium"
	check "$be: the disk image is locked while attached" sh -c "! python3 -c '
import fcntl, os, struct
fd = os.open(\"$TMP/d.img\", os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack(\"hhqqi\", fcntl.F_WRLCK, 0, 0, 0, 0))' 2>/dev/null"
	e=$(ctl scsi-add "$TMP/d.img,lun=0:0:0:5" 2>&1)
	rc=$?
	check "$be: the same image twice is refused by its lock (exit $rc: $e)" test $rc -eq 1
	truncate -s 64K "$TMP/x.img"
	r=$(raw '{"command":"scsi-add","path":"x","lun":"0:0:0:1"}' "$TMP/x.img")
	check "$be: a taken LUN address: in-use ($r)" test "$(err_code "$r")" = in-use
	r=$(raw '{"command":"scsi-add","path":"x","lun":"1:0:0:5"}' "$TMP/x.img")
	check "$be: a LUN on another host: invalid-argument ($r)" test "$(err_code "$r")" = invalid-argument
	r=$(raw '{"command":"scsi-add","path":"x","lun":"0:0:0"}' "$TMP/x.img")
	check "$be: a bad LUN address: invalid-argument ($r)" test "$(err_code "$r")" = invalid-argument
	r=$(raw '{"command":"scsi-add","path":"x","media":"tape"}' "$TMP/x.img")
	check "$be: an unknown media: invalid-argument ($r)" test "$(err_code "$r")" = invalid-argument
	r=$(raw '{"command":"scsi-add","path":"nofd"}')
	check "$be: no descriptor: invalid-argument ($r)" test "$(err_code "$r")" = invalid-argument
	printf 'odd' >"$TMP/odd.img"
	r=$(raw '{"command":"scsi-add","path":"odd"}' "$TMP/odd.img")
	check "$be: an image not of whole blocks: bad-file ($r)" test "$(err_code "$r")" = bad-file
	r=$(raw '{"command":"scsi-add","path":"locked"}' "lockedby:$TMP/x.img")
	check "$be: an image another process locked: in-use ($r)" test "$(err_code "$r")" = in-use
	e=$(ctl scsi-add "$TMP/missing.img" 2>&1)
	rc=$?
	check "$be: scsi-add of a missing file: one line, exit 1 ($e)" test $rc -eq 1 -a \
		"$(wc -l <<<"$e")" = 1
	r=$(raw '{"command":"scsi-remove","device":"0:0:7:0"}')
	check "$be: remove of an unknown LUN: not-found ($r)" test "$(err_code "$r")" = not-found

	r=$(ctl scsi-remove 0:0:0:0)
	if [ "$(field "$r" 'r["how"]')" = closed ] && wait_for "$out" '^LUN gone 0:0:0:0' 10; then
		ok "$be: scsi-remove: Closing, the guest drops the LUN, Closed, nodes gone"
	else
		not_ok "$be: scsi-remove: $r; $(grep -E 'LUN|scsi' "$out")"
	fi
	if unlocked "$TMP/d.img" &&
		[ "$(dd if="$TMP/d.img" bs=512 skip=1 count=1 status=none | head -c 19)" = "GUEST WROTE 0:0:0:0" ] &&
		[ "$(head -c 10 "$TMP/d.img")" = LABEL-DISK ]; then
		ok "$be: after removal the image is unlocked and holds the label and the guest's write"
	else
		not_ok "$be: image after removal: $(head -c 600 "$TMP/d.img" | od -c | head -5)"
	fi
	# 50 cycles through the guest's whole round: no descriptor leaks.
	before=$(nr_fds "$pid")
	bad=0
	for i in $(seq 50); do
		ctl scsi-add "$TMP/d.img,lun=0:0:0:0" >/dev/null &&
			wait_count "$out" '^LUN 0:0:0:0 wrote' $((i + 1)) &&
			ctl scsi-remove 0:0:0:0 >/dev/null || { bad=$i; break; }
	done
	after=$(nr_fds "$pid")
	if [ $bad -eq 0 ] && [ "$before" -gt 0 ] && [ "$before" = "$after" ] &&
		[ "$(grep -c '^LUN gone 0:0:0:0' "$out")" = 51 ] && unlocked "$TMP/d.img"; then
		ok "$be: 50 add/remove cycles with the guest: $before descriptors before and after, image unlocked"
	else
		not_ok "$be: 50 cycles: failed at $bad, fds $before -> $after; $(grep -v '^LUN' "$out" | tail -5)"
	fi
	r=$(ctl scsi-remove 0:0:0:1)
	check "$be: the CD/DVD LUN goes too ($r)" test "$(field "$r" 'r["how"]')" = closed
	stop_guest

	# The limit, on a guest whose frontend never connects (pvsh): LUNs
	# stay offered, removal is at once.
	start "$be" "$GUEST/pvsh"
	wait_for "$out" '^pvsh on pvisor' 20
	for i in $(seq 0 15); do
		truncate -s 64K "$TMP/many$i.img"
		r=$(ctl scsi-add "$TMP/many$i.img") || break
	done
	check "$be: with no frontend a LUN is offered at once ($r)" test "$(field "$r" 'r["device"], r["state"]')" = "('0:0:0:15', 'offered')"
	check "$be: status lists the 16 LUNs, each offered (state 1)" test \
		"$(luns | grep -c '^0:0:0:[0-9]* .*/many[0-9]*\.img disk rw 1$')" = 16
	truncate -s 64K "$TMP/many16.img"
	e=$(ctl scsi-add "$TMP/many16.img" 2>&1)
	rc=$?
	check "$be: 16 LUNs attach, the 17th is refused: limit (exit $rc: $e)" test $rc -eq 1
	grep -q 'limit:' <<<"$e" || not_ok "$be: the 17th LUN's error is not 'limit': $e"
	bad=0
	for i in $(seq 0 15); do ctl scsi-remove "0:0:0:$i" >/dev/null || bad=1; done
	check "$be: all 16 removed at once, their images unlocked" sh -c "
		test $bad = 0 || exit 1
		for i in \$(seq 0 15); do python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack(\"hhqqi\", fcntl.F_WRLCK, 0, 0, 0, 0))' $TMP/many\$i.img || exit 1; done"
	stop_guest

	# A guest that never answers a reconfiguration.
	start "$be" "$GUEST/t_scsi_hotplug" -- ignore
	wait_for "$out" '^SCSIPLUG waiting' 20
	r=$(ctl scsi-add "$TMP/d.img")
	if [ "$(field "$r" 'r["state"]')" = offered ] && wait_for "$out" '^LUN 0:0:0:0 wrote' 20; then
		ok "$be: a first LUN comes with the new host's first connection (no round needed)"
	else
		not_ok "$be: first LUN on the ignoring guest: $r; $(grep -E 'SCSIPLUG|LUN' "$out")"
	fi
	e=$(ctl scsi-add "$TMP/x.img" --timeout 0.5 2>&1)
	rc=$?
	check "$be: a guest that ignores Reconfiguring: scsi-add times out (exit $rc: $e)" \
		test $rc -eq 1 -a "${e#*ctl: timeout:}" != "$e"
	l=$(luns)
	check "$be: status: the LUN the guest took Connected, the one it ignored still offered: $(tr '\n' ';' <<<"$l")" \
		test "$l" = "0:0:0:0 $TMP/d.img disk rw 4
0:0:0:1 $TMP/x.img disk rw 1"
	r=$(ctl scsi-remove 0:0:0:1)
	check "$be: a LUN the guest never took goes at once ($r)" test "$(field "$r" 'r["how"]')" = forced
	e=$(ctl scsi-remove 0:0:0:0 --timeout 0.5 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q 'ctl: timeout:' <<<"$e" && ! unlocked "$TMP/d.img"; then
		ok "$be: removal the guest ignores: timeout, the LUN stays, its image locked ($e)"
	else
		not_ok "$be: removal the guest ignores: exit $rc: $e"
	fi
	r=$(ctl scsi-remove 0:0:0:0 --force)
	if [ "$(field "$r" 'r["how"]')" = forced ] && unlocked "$TMP/d.img" && unlocked "$TMP/x.img"; then
		ok "$be: scsi-remove --force takes it away, images unlocked"
	else
		not_ok "$be: scsi-remove --force: $r"
	fi
	stop_guest
done

check "no pvisor left behind" no_leftovers
