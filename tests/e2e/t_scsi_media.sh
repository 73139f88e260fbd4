#!/bin/bash
# Removable media from the host (issue 12; docs/scsi.md, docs/control-api.md
# eject, insert): a CD/DVD LUN polled by the guest kit's t_scsi_media
# (TEST UNIT READY every 20 ms) loses its medium on `pvisor ctl eject`
# (NOT READY, MEDIUM NOT PRESENT, a media-removal event) and gets another
# on `ctl insert` (UNIT ATTENTION, a new-media event, the new image's
# block 0); a guest that prevents removal keeps its medium unless forced;
# refusals for a disk LUN, an unknown LUN, a full drive, a bad image; a
# snapshot of a drive the guest locked restores it locked; a drive started
# ejected (,ejected) has no medium until an insert.
source "$(dirname "$0")/lib.sh"

START_TIMEOUT=120
source "$(dirname "$0")/ctl_lib.sh"
# medium NAME: a 64 KiB CD image whose block 0 starts with NAME.
medium() {
	truncate -s 64K "$TMP/$1.img"
	printf '%-16s' "$1" | dd of="$TMP/$1.img" conv=notrunc status=none
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: removable media" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock
	out=$TMP/run.$be
	medium CD-ONE
	medium CD-TWO
	truncate -s 1M "$TMP/disk.img"
	printf 'odd' >"$TMP/odd.img"

	start "$be" --scsi "$TMP/CD-ONE.img,media=cdrom" --scsi "$TMP/disk.img" "$GUEST/t_scsi_media"
	if ! wait_for "$out" '^MEDIA ready CD-ONE' 20; then
		not_ok "$be: t_scsi_media did not see its first medium: $(head -c 600 "$out")"
		stop_guest
		continue
	fi
	r=$(ctl eject 0:0:0:0)
	if [ "$(field "$r" 'r["device"]')" = 0:0:0:0 ] && wait_for "$out" '^MEDIA absent' 10 &&
		wait_for "$out" '^MEDIA event 3' 5; then
		ok "$be: eject: the guest sees MEDIUM NOT PRESENT and a media-removal event"
	else
		not_ok "$be: eject: $r; $(grep MEDIA "$out")"
	fi
	r=$(ctl insert 0:0:0:0 "$TMP/CD-TWO.img")
	if [ "$(field "$r" 'r["path"]')" = "$TMP/CD-TWO.img" ] && wait_for "$out" '^MEDIA ready CD-TWO' 10 &&
		grep -q '^MEDIA attention' "$out" && grep -q '^MEDIA event 2' "$out"; then
		ok "$be: insert: UNIT ATTENTION, a new-media event, then the new image's data"
	else
		not_ok "$be: insert: $r; $(grep MEDIA "$out")"
	fi
	e=$(ctl insert 0:0:0:0 "$TMP/CD-ONE.img" 2>&1)
	check "$be: insert into a full drive is refused, in-use ($e)" grep -q 'in-use.*eject it first' <<<"$e"
	e=$(ctl eject 0:0:0:1 2>&1)
	check "$be: eject of a disk LUN is refused ($e)" grep -q 'invalid-argument.*not a CD/DVD' <<<"$e"
	e=$(ctl eject 0:0:7:0 2>&1)
	check "$be: eject of an unknown LUN: not-found ($e)" grep -q 'not-found' <<<"$e"
	ctl eject 0:0:0:0 >/dev/null
	e=$(ctl insert 0:0:0:0 "$TMP/odd.img" 2>&1)
	check "$be: insert of an image that is not whole 2048-byte blocks: bad-file ($e)" \
		grep -q 'bad-file.*multiple of 2048' <<<"$e"
	e=$(ctl insert 0:0:0:0 "$TMP/missing.img" 2>&1)
	rc=$?
	check "$be: insert of a missing image: one line, exit 1 ($e)" test $rc -eq 1 -a "$(wc -l <<<"$e")" = 1
	check "$be: the guest still runs" kill -0 "$pid"
	stop_guest

	# A guest that prevents removal keeps its medium unless forced.
	start "$be" --scsi "$TMP/CD-ONE.img,media=cdrom" "$GUEST/t_scsi_media" -- prevent
	if wait_for "$out" '^MEDIA ready CD-ONE' 20 && grep -q '^MEDIA prevent 0' "$out"; then
		e=$(ctl eject 0:0:0:0 2>&1)
		check "$be: eject while the guest prevents removal: in-use ($e)" grep -q 'in-use.*prevents' <<<"$e"
		r=$(ctl eject 0:0:0:0 --force)
		if [ "$(field "$r" 'r["device"]')" = 0:0:0:0 ] && wait_for "$out" '^MEDIA absent' 10; then
			ok "$be: eject --force takes the medium all the same"
		else
			not_ok "$be: eject --force: $r; $(grep MEDIA "$out")"
		fi
	else
		not_ok "$be: t_scsi_media prevent did not start: $(head -c 600 "$out")"
		not_ok "$be: eject --force (not run)"
	fi
	stop_guest

	# A snapshot keeps the lock: the restored drive still refuses an eject
	# without --force (,locked in the file's LUN list).
	start "$be" --scsi "$TMP/CD-ONE.img,media=cdrom" "$GUEST/t_scsi_media" -- "prevent control"
	if wait_for "$out" '^MEDIA ready CD-ONE' 20 && grep -q '^MEDIA prevent 0' "$out"; then
		save_and_stop "$TMP/locked.$be.pvs"
		check "$be: save of a guest that prevents removal ($r)" test "$rc" = 0 -a "$prc" = 0
		out=$TMP/locked-restored.$be
		start restore "$be" "$TMP/locked.$be.pvs"
		if wait_for "$out" 'resumed' 20; then
			st=$(ctl status)
			check "$be: the restored drive shows removal prevented ($st)" \
				test "$(field "$st" '[l["prevent_removal"] for d in r["devices"] for l in d.get("luns", [])]')" = "[True]"
			e=$(ctl eject 0:0:0:0 2>&1)
			check "$be: after restore, eject without --force: in-use ($e)" grep -q 'in-use.*prevents' <<<"$e"
			r=$(ctl eject 0:0:0:0 --force)
			check "$be: after restore, eject --force ($r)" test "$(field "$r" 'r["device"]')" = 0:0:0:0
		else
			not_ok "$be: restore of the locked drive: $(head -c 600 "$out")"
		fi
		stop_guest
	else
		not_ok "$be: t_scsi_media prevent did not start (for the save): $(head -c 600 "$out")"
		stop_guest
	fi
	out=$TMP/run.$be

	# ,ejected: the drive starts with its tray open (as a snapshot of an
	# ejected CD/DVD restores it); an insert loads a medium.
	out=$TMP/ejected.$be
	start "$be" --scsi "$TMP/CD-ONE.img,media=cdrom,ejected" "$GUEST/t_scsi_media"
	if wait_for "$out" '^MEDIA absent' 20 && ! grep -q '^MEDIA ready' "$out"; then
		ok "$be: --scsi ...,ejected: the guest sees MEDIUM NOT PRESENT from the start"
	else
		not_ok "$be: --scsi ...,ejected: $(grep MEDIA "$out" | head -5)"
	fi
	st=$(ctl status)
	check "$be: status shows the ejected drive without a medium" \
		test "$(field "$st" '[l["medium"] for d in r["devices"] for l in d.get("luns", [])]')" = "[False]"
	r=$(ctl insert 0:0:0:0 "$TMP/CD-TWO.img")
	check "$be: insert into the drive started ejected: the guest reads the image ($r)" \
		wait_for "$out" '^MEDIA ready CD-TWO' 10
	stop_guest
	check "$be: no pvisor process left behind" no_leftovers
done
