#!/bin/bash
# Save and restore carry the guest's own xenstore nodes (issue 13;
# docs/snapshot-format.md, "The xenstore section"): pvsh writes
# data/greeting, is saved in its tick loop and restored; the restored
# guest reads the node back (and control/feature-suspend, which its control
# thread wrote at boot), and Debian's xenstore-read, pointed at the
# restored pvisor's --xenstore-socket, reads it as dom0.  A file whose
# xenstore section is corrupt (a record with an absolute path, CRC made
# right) or names a node the guest could not have written: one error line,
# exit 2, nothing ran.  scsibench saved mid-run (after its sequential
# phases) resumes with no --scsi (the snapshot names its LUN, at 0:0:3:0),
# scsifront reconnects, and every block it wrote verifies; a restore with
# another number of --scsi LUNs, or the LUN at another address, is refused.
# A LUN hot-plugged (ctl scsi-add) into a guest started without --scsi,
# saved mid-run, comes back from the file alone and verifies.  p9bench saved
# mid-run through a --share: the restored guest reconnects p9front, its
# client opens the 9P session and its fid again, the run completes (every
# byte read back checked) and the host file holds all of it.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ctl_lib.sh"


stop() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# rewrite_xs IN OUT OLD NEW: OUT is IN with bytes OLD replaced by NEW (same
# length) inside the xenstore section, whose CRC is made right again.
rewrite_xs() {
	python3 - "$@" <<'PY'
import struct, sys, zlib
data = bytearray(open(sys.argv[1], 'rb').read())
old, new = sys.argv[3].encode(), sys.argv[4].encode()
assert len(old) == len(new)
off = 64
for _ in range(struct.unpack_from('<I', data, 16)[0]):
    typ, idx, length, crc, res = struct.unpack_from('<IIQII', data, off)
    start = off + 24
    if typ == 6:
        payload = bytes(data[start:start + length])
        assert old in payload, "node not in the section"
        payload = payload.replace(old, new, 1)
        data[start:start + length] = payload
        struct.pack_into('<I', data, off + 16, zlib.crc32(payload))
    off = start + ((length + 7) & ~7)
open(sys.argv[2], 'wb').write(data)
PY
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: save and restore of the xenstore tree" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock
	snap=$TMP/xs-$be.pvs
	out=$TMP/xs1.$be
	start run "$be" "$GUEST/pvsh" -- \
		"xs-write data/greeting hello-before-save; ticks 60 50; xs-read data/greeting; xs-read control/feature-suspend; ticks 100000 50"
	if ! wait_for "$out" '^tick 3 ' 20; then
		not_ok "$be: pvsh did not start ticking: $(head -c 800 "$out")"
		stop
		continue
	fi
	save_and_stop "$snap"
	check "$be: pvsh saved after writing data/greeting (ctl $rc, pvisor exit $prc)" \
		test $rc -eq 0 -a $prc -eq 0 -a -s "$snap"

	# Restored with a xenstore socket: dom0's tools see the node; the
	# guest reads it back once its tick loop ends.
	out=$TMP/xs2.$be
	XSOCK=$TMP/xs-$be.sock
	start restore "$be" --xenstore-socket "$XSOCK" "$snap"
	wait_for "$out" 'resumed in a new domain' 20
	v=$(XENSTORED_PATH=$XSOCK timeout 10 xenstore-read /local/domain/1/data/greeting 2>&1)
	if command -v xenstore-read >/dev/null 2>&1; then
		check "$be: xenstore-read on the restored pvisor reads the guest's node ('$v')" \
			test "$v" = hello-before-save
	else
		skip "$be: xenstore-read of the restored node" "xenstore-utils is not installed"
	fi
	if wait_for "$out" '^xs-read control/feature-suspend' 20 &&
		grep -qx 'xs-read data/greeting = "hello-before-save"' "$out" &&
		grep -qx 'xs-read control/feature-suspend = "1"' "$out"; then
		ok "$be: the restored guest reads data/greeting and control/feature-suspend back"
	else
		not_ok "$be: after restore: $(grep -v '^tick' "$out" | head -c 600)"
	fi
	stop

	# Hostile sections: parse-time (absolute path) and import-time (a
	# node below one the guest may only read): refused before anything.
	rewrite_xs "$snap" "$TMP/abs.pvs" "data/greeting" "/ata/greeting"
	rewrite_xs "$snap" "$TMP/ro.pvs" "data/greeting" "name/greeting"
	for c in "abs.pvs:not a relative xenstore path" \
		"ro.pvs:xenstore node name/greeting: the guest could not have written it (Permission denied)"; do
		f=${c%%:*} want=${c#*:}
		timeout 20 "$PVISOR" restore --backend "$be" --no-raw "$TMP/$f" </dev/null >"$TMP/bad.out" 2>&1
		rc=$?
		if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/bad.out")" -eq 1 ] &&
			grep -qF "$want" "$TMP/bad.out" && ! grep -q '^tick\|^kit' "$TMP/bad.out"; then
			ok "$be: restore of $f: exit 2, one error ($want), nothing ran"
		else
			not_ok "$be: restore of $f: exit $rc: $(head -c 400 "$TMP/bad.out")"
		fi
	done

	# scsibench saved after its sequential write and read, restored with
	# the same --scsi: it reconnects and verifies its random phases and
	# the data written before the save.
	img=$TMP/scsi-$be.img
	rm -f "$img"
	truncate -s 64M "$img"
	out=$TMP/scsi1.$be
	start run "$be" --scsi "$img,lun=0:0:3:0" "$GUEST/scsibench" -- mb=32 ops=4000 control=1
	wait_for "$out" 'scsibench seq_read' 30
	save_and_stop "$TMP/scsi.pvs"
	timeout 20 "$PVISOR" restore --backend "$be" --no-raw --scsi "$img" --scsi "$img.2" \
		"$TMP/scsi.pvs" </dev/null >"$TMP/bad.out" 2>&1
	brc=$?
	check "$be: restore with two --scsi for one LUN: refused (exit $brc: $(head -c 200 "$TMP/bad.out"))" \
		test $brc -eq 2 -a "$(grep -c 'had 1 SCSI LUN' "$TMP/bad.out")" = 1
	timeout 20 "$PVISOR" restore --backend "$be" --no-raw --scsi "$img" "$TMP/scsi.pvs" \
		</dev/null >"$TMP/bad.out" 2>&1
	brc=$?
	check "$be: restore with the LUN at another address: refused, naming lun=0:0:3:0 (exit $brc)" \
		test $brc -eq 2 -a "$(grep -c 'lun=0:0:3:0' "$TMP/bad.out")" = 1
	# No --scsi: the LUN (image, address) comes from the snapshot.
	restore_into "$TMP/scsi2.$be" "$be" "$TMP/scsi.pvs"
	if [ $rc -eq 0 ] && ! grep -q 'verify=' "$before" && [ $prc -eq 0 ] &&
		grep -q 'resumed in a new domain' "$out" && grep -q 'rand_read' "$out" &&
		grep -q 'verify=ok errors=0' "$out"; then
		ok "$be: scsibench saved mid-run ($(grep -c MB/s "$before") phases done) resumes, reconnects and verifies"
	else
		not_ok "$be: scsibench save (ctl $rc: $r) / restore (exit $prc): $(tail -c 300 "$before") // $(tail -c 400 "$out")"
	fi

	# A LUN hot-plugged into a guest started without --scsi (the first
	# scsi-add creates the vscsi host), saved mid-run: the file names the
	# LUN, so `pvisor restore FILE` alone reattaches it and scsibench
	# verifies everything it wrote, before the save and after.
	img=$TMP/hot-$be.img
	rm -f "$img"
	truncate -s 64M "$img"
	out=$TMP/hot1.$be
	start run "$be" "$GUEST/scsibench" -- mb=32 ops=4000 control=1 wait=30
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	r=$(ctl scsi-add "$img,lun=0:0:2:0")
	arc=$?
	wait_for "$out" 'scsibench seq_read' 30
	save_and_stop "$TMP/hot.pvs"
	restore_into "$TMP/hot2.$be" "$be" "$TMP/hot.pvs"
	if [ $arc -eq 0 ] && [ $rc -eq 0 ] && grep -q 'lun=0:0:2:0' "$before" &&
		! grep -q 'verify=' "$before" && [ $prc -eq 0 ] &&
		grep -q 'resumed in a new domain' "$out" && grep -q 'rand_read' "$out" &&
		grep -q 'verify=ok errors=0' "$out"; then
		ok "$be: a LUN hot-plugged at 0:0:2:0, saved mid-run: restore with no --scsi reattaches it and scsibench verifies"
	else
		not_ok "$be: hot-plugged LUN save (add $arc, ctl $rc: $r) / restore (exit $prc): $(tail -c 300 "$before") // $(tail -c 400 "$out")"
	fi

	# p9bench (256 MiB written then read through 9pfs) saved mid-run.
	share=$TMP/share-$be
	rm -rf "$share"
	mkdir -p "$share"
	out=$TMP/p91.$be
	start run "$be" --share "$share,tag=s" "$GUEST/p9bench" -- mb=256 control=1 keep=1
	for _ in $(seq 1 200); do [ -e "$share/p9bench.dat" ] && break; sleep 0.02; done
	at=$(stat -c %s "$share/p9bench.dat" 2>/dev/null)
	save_and_stop "$TMP/p9.pvs"
	restore_into "$TMP/p92.$be" "$be" --share "$share,tag=s" "$TMP/p9.pvs"
	whole=$(python3 - "$share/p9bench.dat" <<'PY'
import sys
n = 0
with open(sys.argv[1], 'rb') as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        if b.count(0xa5) != len(b):
            print("differs")
            sys.exit()
        n += len(b)
print(n)
PY
)
	if [ $rc -eq 0 ] && ! grep -q 'p9bench write' "$before" && [ $prc -eq 0 ] &&
		grep -q 'resumed in a new domain' "$out" && grep -q '^p9bench write MB/s=' "$out"; then
		ok "$be: p9bench saved mid-run (file at $at bytes) resumes, reopens its session and completes (read data checked)"
	else
		not_ok "$be: p9bench save (ctl $rc: $r) / restore (exit $prc): $(tail -c 300 "$before") // $(tail -c 400 "$out")"
	fi
	check "$be: the share's file after the restored run: 256 MiB of 0xa5 ($whole)" \
		test "$whole" = $((256 << 20))

	check "$be: no pvisor of this test left" test -z "$(pgrep -f "$TMP/")"
done
echo "1..$_n"
