#!/bin/bash
# Paravirtual SCSI (vscsiif): scsibench verifies its data on every backend;
# data written and synced (SYNCHRONIZE CACHE) is on the host image; a
# read-only LUN refuses writes with DATA PROTECT sense; an ISO LUN reads the
# image's bytes; a hostile frontend gets sense data, host errors or a
# disconnected device and pvisor survives; bad --scsi input is one clear
# line.  See docs/scsi.md.
source "$(dirname "$0")/lib.sh"

# fnv FILE BYTES: FNV-1a 64 of the first BYTES bytes (what scsibench prints).
fnv() {
	python3 - "$1" "$2" <<'PY'
import sys
h = 0xcbf29ce484222325
with open(sys.argv[1], 'rb') as f:
    data = f.read(int(sys.argv[2]))
for b in data:
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print('%016x' % h)
PY
}

# An ISO 9660 image if genisoimage or xorriso is installed, else raw bytes
# (the target does not look inside; the guest's digest covers either).
iso=$TMP/cd.iso
mkdir -p "$TMP/isodir"
head -c 3145728 /dev/urandom >"$TMP/isodir/data.bin"
echo "pvisor scsi cdrom" >"$TMP/isodir/README.TXT"
if command -v genisoimage >/dev/null; then
	genisoimage -quiet -R -J -o "$iso" "$TMP/isodir" && iso_kind=iso9660
elif command -v xorriso >/dev/null; then
	xorriso -as mkisofs -quiet -R -J -o "$iso" "$TMP/isodir" 2>/dev/null && iso_kind=iso9660
fi
if [ ! -s "$iso" ]; then
	iso_kind="raw (no genisoimage/xorriso)"
	cp "$TMP/isodir/data.bin" "$iso"
fi

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in scsibench stamp ro cdrom hostile; do skip "$be: scsi $t" "kvm unavailable: $KVM_WHY"; done
		continue
	fi
	img=$TMP/scsi.$be.img
	truncate -s 64M "$img"
	run_guest "$be" "$TMP/bench.$be" --scsi "$img" "$GUEST/scsibench" -- mb=8 ops=400
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^scsibench verify=ok" "$TMP/bench.$be" &&
		grep -q "vendor='PVISOR  ' product='VIRTUAL DISK    '" "$TMP/bench.$be" &&
		grep -q "capacity blocks=131072 block_size=512" "$TMP/bench.$be"; then
		ok "$be: scsibench: INQUIRY, READ CAPACITY, verified reads/writes ($(grep -o 'seq_write MB/s=[0-9.]*' "$TMP/bench.$be"))"
	else
		not_ok "$be: scsibench (exit $rc): $(head -c 800 "$TMP/bench.$be")"
	fi
	# Its UNMAP (LBA 64-71) and WRITE SAME with UNMAP (72-79) are one hole
	# in the host image, between data.
	hole=$(python3 -c "import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 32768, os.SEEK_HOLE), os.lseek(fd, 32768, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE))" "$img")
	if grep -q "^scsibench extras=ok" "$TMP/bench.$be" && [ "${hole% *}" = "32768 40960" ]; then
		ok "$be: VERIFY, WRITE SAME, UNMAP read back right; the host image has a hole at 32768-40960"
	else
		not_ok "$be: extras: $(grep -E 'extras|WRITE SAME|UNMAP|VERIFY' "$TMP/bench.$be" | head -c 400) hole=$hole"
	fi

	# Written, then SYNCHRONIZE CACHE (no shutdown): on the host image.
	rm -f "$img"; truncate -s 16M "$img"
	run_guest "$be" "$TMP/stamp.$be" --scsi "$img" "$GUEST/scsibench" -- mode=stamp mb=2
	rc=$?
	if [ $rc -eq 0 ] && cmp -s <(head -c 2M "$img") <(head -c 2M /dev/zero | tr '\0' '\245') &&
		cmp -s <(tail -c +$((2 * 1048576 + 1)) "$img") <(head -c 14M /dev/zero); then
		ok "$be: data synced by the guest is on the host image (cmp)"
	else
		not_ok "$be: stamp (exit $rc): $(head -c 400 "$TMP/stamp.$be")"
	fi

	# Read-only LUN: WRITE answers CHECK CONDITION, DATA PROTECT 7/27/00.
	sum=$(md5sum <"$img")
	run_guest "$be" "$TMP/ro.$be" --scsi "$img,ro" "$GUEST/scsibench" -- mode=ro
	rc=$?
	if [ $rc -eq 0 ] && grep -q "write=refused sense=7/27/00" "$TMP/ro.$be" &&
		[ "$(md5sum <"$img")" = "$sum" ]; then
		ok "$be: a read-only LUN refuses writes with DATA PROTECT sense"
	else
		not_ok "$be: read-only LUN (exit $rc): $(head -c 400 "$TMP/ro.$be")"
	fi

	# A CD/DVD LUN (second LUN, after a disk): the image's bytes, read-only.
	size=$(stat -c %s "$iso")
	bytes=$(( size < 2097152 ? size / 2048 * 2048 : 2097152 ))
	want=$(fnv "$iso" "$bytes")
	run_guest "$be" "$TMP/cd.$be" --scsi "$img" --scsi "$iso,media=cdrom" "$GUEST/scsibench" -- mode=cdrom lun=1 mb=2
	rc=$?
	if [ $rc -eq 0 ] && grep -q "fnv=$want write=refused" "$TMP/cd.$be" &&
		grep -q "inquiry type=5 .*VIRTUAL CDROM" "$TMP/cd.$be"; then
		ok "$be: a $iso_kind CD LUN reads the image's bytes (2048-byte blocks) and refuses writes"
	else
		not_ok "$be: cdrom (exit $rc, want fnv=$want): $(head -c 600 "$TMP/cd.$be")"
	fi

	run_guest "$be" "$TMP/hostile.$be" --scsi "$img" "$GUEST/t_scsi_hostile"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^PASS' "$TMP/hostile.$be" && ! grep -q '^FAIL' "$TMP/hostile.$be"; then
		ok "$be: t_scsi_hostile ($(grep -c '^PASS' "$TMP/hostile.$be") checks), pvisor survives"
	else
		not_ok "$be: t_scsi_hostile (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/hostile.$be" | head -c 800)"
	fi
done

# The same through the thread-pool engine (no io_uring).
img=$TMP/threads.img
truncate -s 32M "$img"
PVISOR_BLK_ENGINE=threads run_guest proc "$TMP/threads" --scsi "$img" "$GUEST/scsibench" -- mb=4 ops=200
rc=$?
if [ $rc -eq 0 ] && grep -q "^scsibench verify=ok" "$TMP/threads"; then
	ok "proc: scsibench verifies its data on the thread-pool engine"
else
	not_ok "scsibench on the thread pool (exit $rc): $(head -c 600 "$TMP/threads")"
fi

# Bad input: one clear line, exit 2.
expect_error() {
	local desc=$1 want=$2
	shift 2
	"$PVISOR" run --backend proc --no-raw "$@" "$GUEST/hello" </dev/null >"$TMP/err" 2>&1
	local rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$want" "$TMP/err" && [ "$(grep -c . "$TMP/err")" -le 2 ] &&
		! grep -q Hello "$TMP/err"; then
		ok "$desc: one clear line"
	else
		not_ok "$desc (exit $rc): $(cat "$TMP/err")"
	fi
}
expect_error "--scsi missing image" "scsi $TMP/none.img: No such file or directory" --scsi "$TMP/none.img"
expect_error "--scsi bad media" "--scsi: unknown media 'tape' (disk or cdrom)" --scsi "$img,media=tape"
expect_error "--scsi bad lun" "--scsi: bad lun '1:2'" --scsi "$img,lun=1:2"
expect_error "--scsi duplicate lun" "--scsi: two LUNs at 0:0:0:0" --scsi "$img" --scsi "$iso,media=cdrom,lun=0:0:0:0"
head -c 1000 /dev/zero >"$TMP/odd.iso"
expect_error "--scsi ISO not whole blocks" "is not a positive multiple of 2048 bytes" --scsi "$TMP/odd.iso,media=cdrom"
# A locked image (a running pvisor has it) is refused.
timeout -k 5 30 "$PVISOR" run --backend proc --no-raw --timeout 4 --scsi "$img" "$GUEST/t_spin" \
	</dev/null >"$TMP/first" 2>&1 &
first=$!
for _ in $(seq 50); do grep -q 'SPIN start' "$TMP/first" && break; sleep 0.1; done
expect_error "--scsi image in use" "scsi $img: in use by another process" --scsi "$img"
kill "$first" 2>/dev/null
wait "$first" 2>/dev/null
check "nothing left behind" no_leftovers
