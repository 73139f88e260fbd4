#!/bin/bash
# Disk hot-plug through xenbus (issue 13; docs/control-api.md disk-add,
# disk-remove; docs/block.md): `pvisor ctl disk-add` hands a running guest
# a new vbd, the guest kit's test guest (guest/tests/t_hotplug.c) finds it
# by its device/vbd watch, reads the host's label and writes sector 1;
# `disk-remove` takes it away libxl's way (Closing, the guest closes,
# Closed, nodes gone); the image is unlocked and holds the guest's write.
# Abuse: a missing file, a directory, a pipe, a read-only descriptor for a
# writable disk, a locked image, no descriptor, an unknown device, more
# disks than the limit, a guest that never closes (timeout, then force),
# and 100 add/remove cycles with no descriptor leaked.  A save after the
# hot-plug carries the disk; its restore takes it from the file.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ctl_lib.sh"

# A snapshot carries the disks the guest has at the save, hot-plugged ones
# included (docs/snapshot-format.md, "The devices section"): blkbench waits
# for xvdb, which disk-add (a path relative to the client's directory)
# gives it next to --disk's xvda; xvda is then removed.  Saved mid-run:
# restored with a --disk that names xvda instead, refused, nothing ran;
# restored from another directory with no --disk, xvdb comes back from the
# file and blkbench verifies every block it wrote, before and after.
save_after_hotplug() {
	local be=$1 snap=$TMP/hot-$1.pvs r rc prc before out pid
	rm -f "$TMP/c.img" "$snap"
	truncate -s 64M "$TMP/c.img"
	out=$TMP/hotsave1.$be
	start "$be" --disk "$TMP/a.img" "$GUEST/blkbench" -- dev=xvdb wait=30 mb=64 ops=20000 control=1
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	r=$(cd "$TMP" && ctl disk-add c.img)
	rc=$?
	check "$be: disk-add c.img (relative) gives the waiting guest xvdb" \
		test $rc -eq 0 -a "$(field "$r" 'r["device"]')" = xvdb
	r=$(ctl disk-remove xvda --force)
	check "$be: disk-remove xvda before the save" test "$(field "$r" 'r["device"]')" = xvda
	wait_for "$out" 'seq_write MB/s' 30
	save_and_stop "$snap"
	check "$be: saved mid-run after the hot-plug (ctl $rc, pvisor $prc): $r" \
		test $rc -eq 0 -a $prc -eq 0 -a -s "$snap"
	out=$TMP/hotsave2.$be
	timeout 20 "$PVISOR" restore --backend "$be" --no-raw --disk "$TMP/c.img" "$snap" \
		</dev/null >"$out" 2>&1
	rc=$?
	check "$be: restore with --disk as xvda: refused, one line naming xvdb, nothing ran (exit $rc: $(head -c 300 "$out"))" \
		test $rc -eq 2 -a "$(wc -l <"$out")" -eq 1 -a -n "$(grep -o 'id=xvdb' "$out")"
	(cd / && timeout -k 5 120 "$PVISOR" restore --backend "$be" --no-raw "$snap" \
		</dev/null >"$out" 2>&1)
	prc=$?
	if ! grep -q 'verify=' "$before" && [ $prc -eq 0 ] &&
		grep -q 'resumed in a new domain' "$out" && grep -q 'blkbench xvdb verify=ok errors=0' "$out"; then
		ok "$be: restored with no --disk: the hot-added xvdb comes from the snapshot, every block verifies"
	else
		not_ok "$be: restore of the hot-plug save (exit $prc): $(tail -c 300 "$before") // $(tail -c 400 "$out")"
	fi
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: disk hot-plug" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock
	out=$TMP/run.$be
	for x in a b; do
		truncate -s 1M "$TMP/$x.img"
		printf 'LABEL-%s\n' "$x" | dd of="$TMP/$x.img" conv=notrunc status=none
	done

	# Two disks, one after the other, in one guest.
	start "$be" "$GUEST/t_hotplug" -- 2
	if ! wait_for "$out" '^HOTPLUG ready' 20; then
		not_ok "$be: t_hotplug did not start: $(head -c 600 "$out")"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		continue
	fi
	r=$(ctl disk-add "$TMP/a.img")
	if [ "$(field "$r" 'r["device"], r["devid"], r["ro"]')" = "('xvda', 51712, False)" ] &&
		wait_for "$out" "^HOTPLUG io xvda read 'LABEL-a' wrote sector 1" 20; then
		ok "$be: disk-add: the guest finds xvda by its watch, reads the host's label, writes"
	else
		not_ok "$be: disk-add: $r; $(grep HOTPLUG "$out")"
	fi
	st=$(ctl status)
	check "$be: status lists the new vbd, both ends Connected" test \
		"$(field "$st" '[(d["devid"], d["backend_state"], d["frontend_state"]) for d in r["devices"] if d["type"] == "vbd"]')" = "[('51712', 4, 4)]"
	check "$be: the image is locked while attached" sh -c "! python3 -c '
import fcntl, os, struct
fd = os.open(\"$TMP/a.img\", os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack(\"hhqqi\", fcntl.F_WRLCK, 0, 0, 0, 0))' 2>/dev/null"
	r=$(ctl disk-remove xvda)
	if [ "$(field "$r" 'r["how"]')" = closed ] && wait_for "$out" '^HOTPLUG closed xvda' 10 &&
		wait_for "$out" '^HOTPLUG gone xvda' 10; then
		ok "$be: disk-remove: Closing, the guest closes, Closed, its nodes gone"
	else
		not_ok "$be: disk-remove: $r; $(grep HOTPLUG "$out")"
	fi
	if unlocked "$TMP/a.img" && [ "$(dd if="$TMP/a.img" bs=512 skip=1 count=1 status=none | head -c 13)" = "GUEST xvda 0" ] &&
		[ "$(head -c 8 "$TMP/a.img")" = LABEL-a ]; then
		ok "$be: after removal the image is unlocked and holds the label and the guest's write"
	else
		not_ok "$be: image after removal: $(head -c 600 "$TMP/a.img" | od -c | head -5)"
	fi
	r=$(ctl disk-add "$TMP/b.img,ro")
	if [ "$(field "$r" 'r["ro"]')" = True ] && wait_for "$out" "^HOTPLUG io xvda read 'LABEL-b' read-only" 20; then
		ok "$be: disk-add PATH,ro: the guest sees a read-only disk"
	else
		not_ok "$be: disk-add ro: $r; $(grep HOTPLUG "$out")"
	fi
	# The guest exits once the nodes are gone: the reply may not make it.
	ctl disk-remove xvda >/dev/null 2>&1
	wait "$pid"
	prc=$?
	check "$be: the guest handled both and exited 0 (exit $prc)" test $prc -eq 0 -a \
		"$(grep -c '^HOTPLUG gone' "$out")" = 2

	save_after_hotplug "$be"

	# Abuse, against pvsh (which never touches a vbd).
	start "$be" "$GUEST/pvsh"
	wait_for "$out" '^pvsh on pvisor' 20
	e=$(ctl disk-add "$TMP/missing.img" 2>&1)
	rc=$?
	check "$be: disk-add of a missing file: one line, exit 1 ($e)" test $rc -eq 1 -a \
		"$(wc -l <<<"$e")" = 1
	e=$(ctl disk-add "$TMP" 2>&1)
	rc=$?
	check "$be: disk-add of a directory: exit 1 ($e)" test $rc -eq 1
	r=$(raw '{"command":"disk-add","path":"dir"}' "$TMP")
	check "$be: a directory's descriptor: bad-file ($r)" test "$(err_code "$r")" = bad-file
	r=$(raw '{"command":"disk-add","path":"pipe"}' pipe)
	check "$be: a pipe: bad-file ($r)" test "$(err_code "$r")" = bad-file
	r=$(raw '{"command":"disk-add","path":"ro-fd"}' "$TMP/a.img:ro")
	check "$be: a read-only descriptor for a writable disk: bad-file ($r)" test "$(err_code "$r")" = bad-file
	r=$(raw '{"command":"disk-add","path":"locked"}' "lockedby:$TMP/a.img")
	check "$be: an image another process locked: in-use ($r)" test "$(err_code "$r")" = in-use
	r=$(raw '{"command":"disk-add","path":"nofd"}')
	check "$be: no descriptor: invalid-argument ($r)" test "$(err_code "$r")" = invalid-argument
	r=$(raw '{"command":"disk-remove","device":"xvdq"}')
	check "$be: remove of an unknown device: not-found ($r)" test "$(err_code "$r")" = not-found
	r=$(raw '{"command":"disk-remove","device":"sda"}')
	check "$be: remove of a bad name: invalid-argument ($r)" test "$(err_code "$r")" = invalid-argument
	e=$(ctl disk-add "$TMP/a.img" 2>&1) && e2=$(ctl disk-add "$TMP/a.img" 2>&1)
	rc=$?
	check "$be: the same image twice: the second is refused, locked (exit $rc: $e2)" test $rc -eq 1
	e=$(ctl disk-remove xvda --timeout 0.5 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q 'timeout' <<<"$e" &&
		[ "$(field "$(ctl status)" '[d["backend_state"] for d in r["devices"]]')" = "[5]" ]; then
		ok "$be: a guest that never closes: timeout after 0.5 s, the backend stays Closing"
	else
		not_ok "$be: remove without the guest: exit $rc: $e"
	fi
	r=$(ctl disk-remove xvda --force)
	check "$be: disk-remove --force takes it away ($r)" test "$(field "$r" 'r["how"]')" = forced -a \
		"$(field "$(ctl status)" 'len(r["devices"])')" = 0
	for i in 1 2 3 4 5 6 7 8; do
		truncate -s 64K "$TMP/many$i.img"
		ctl disk-add "$TMP/many$i.img" >/dev/null || break
	done
	truncate -s 64K "$TMP/many9.img"
	e=$(ctl disk-add "$TMP/many9.img" 2>&1)
	rc=$?
	check "$be: 8 disks attach, the 9th is refused: limit (exit $rc: $e)" test $rc -eq 1 -a \
		"$(field "$(ctl status)" 'len(r["devices"])')" = 8
	grep -q 'limit:' <<<"$e" || not_ok "$be: the 9th disk's error is not 'limit': $e"
	for x in a b c d e f g h; do ctl disk-remove "xvd$x" --force >/dev/null; done
	check "$be: all 8 removed, their images unlocked" sh -c "
		for i in 1 2 3 4 5 6 7 8; do python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack(\"hhqqi\", fcntl.F_WRLCK, 0, 0, 0, 0))' $TMP/many\$i.img || exit 1; done"
	ctl shutdown --force >/dev/null
	wait "$pid"

	# 100 cycles through the guest's whole handshake: no descriptor leaks.
	# A failure reports the cycles' times and the guest's last lines.
	start "$be" "$GUEST/t_hotplug" -- 101
	wait_for "$out" '^HOTPLUG ready' 20
	ctl disk-add "$TMP/a.img" >/dev/null && wait_count "$out" '^HOTPLUG io' 1 &&
		ctl disk-remove xvda >/dev/null
	before=$(nr_fds "$pid")
	bad=0
	t_start=$(date +%s%N)
	slowest=0
	for i in $(seq 99); do
		t0=$(date +%s%N)
		ctl disk-add "$TMP/a.img" >/dev/null &&
			wait_count "$out" '^HOTPLUG io' $((i + 1)) &&
			ctl disk-remove xvda >/dev/null || { bad=$i; break; }
		t1=$(( ($(date +%s%N) - t0) / 1000000 ))
		[ "$t1" -gt "$slowest" ] && slowest=$t1
	done
	cycles_ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
	after=$(nr_fds "$pid")
	ctl disk-add "$TMP/a.img" >/dev/null && wait_count "$out" '^HOTPLUG io' 101 &&
		ctl disk-remove xvda >/dev/null 2>&1
	wait "$pid"
	prc=$?
	# Each close ends on the backend's answer, none on the guest's 10 s
	# timeout (a new vbd at the same path right after the removal was
	# once taken for the old one still closing).
	if [ $bad -eq 0 ] && [ "$before" -gt 0 ] && [ "$before" = "$after" ] && [ $prc -eq 0 ] &&
		[ "$(grep -c '^HOTPLUG gone' "$out")" = 101 ] && unlocked "$TMP/a.img" &&
		! grep -q '^blkfront: .* not .* or gone' "$out"; then
		ok "$be: 100 add/remove cycles with the guest: $before descriptors before and after, image unlocked ($cycles_ms ms, slowest cycle $slowest ms)"
	else
		not_ok "$be: 100 cycles: failed at $bad, fds $before -> $after, exit $prc, $cycles_ms ms, slowest cycle $slowest ms, load $(cut -d' ' -f1-3 /proc/loadavg); $(grep -v '^HOTPLUG' "$out" | tail -5) // $(tail -3 "$out")"
	fi
done

check "no pvisor left behind" no_leftovers
