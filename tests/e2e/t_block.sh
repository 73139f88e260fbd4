#!/bin/bash
# Block devices: blkbench verifies its data on every backend; flushed data is
# on the host image; read-only disks refuse writes; a second pvisor on the
# same image and a missing image get one clear error line.
source "$(dirname "$0")/lib.sh"

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in blkbench stamp ro hostile; do skip "$be: $t" "kvm unavailable: $KVM_WHY"; done
		continue
	fi
	img=$TMP/disk.$be.img
	truncate -s 64M "$img"
	run_guest "$be" "$TMP/bench.$be" --disk "$img" "$GUEST/blkbench" -- mb=8 ops=400
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^blkbench xvda verify=ok" "$TMP/bench.$be"; then
		ok "$be: blkbench verifies its data ($(grep -o 'seq_write MB/s=[0-9.]*' "$TMP/bench.$be"))"
	else
		not_ok "$be: blkbench (exit $rc): $(head -c 800 "$TMP/bench.$be")"
	fi

	# A stamp written and flushed by the guest is on the host image.
	rm -f "$img"; truncate -s 16M "$img"
	run_guest "$be" "$TMP/stamp.$be" --disk "$img" "$GUEST/blkbench" -- mode=stamp mb=2
	rc=$?
	if [ $rc -eq 0 ] && cmp -s <(head -c 2M "$img") <(head -c 2M /dev/zero | tr '\0' '\245') &&
		cmp -s <(tail -c +$((2 * 1048576 + 1)) "$img") <(head -c 14M /dev/zero); then
		ok "$be: flushed data is on the host image (cmp)"
	else
		not_ok "$be: stamp (exit $rc): $(head -c 400 "$TMP/stamp.$be")"
	fi

	# Read-only: reads work, writes are refused, the image is unchanged.
	sum=$(md5sum <"$img")
	run_guest "$be" "$TMP/ro.$be" --disk "$img,ro" "$GUEST/blkbench" -- mode=ro
	rc=$?
	if [ $rc -eq 0 ] && grep -q "write=refused" "$TMP/ro.$be" && [ "$(md5sum <"$img")" = "$sum" ]; then
		ok "$be: a read-only disk refuses writes"
	else
		not_ok "$be: read-only disk (exit $rc): $(head -c 400 "$TMP/ro.$be")"
	fi

	if [ -x "$GUEST/t_blk_hostile" ]; then
		run_guest "$be" "$TMP/hostile.$be" --disk "$img" "$GUEST/t_blk_hostile"
		rc=$?
		if [ $rc -eq 0 ] && grep -q '^PASS' "$TMP/hostile.$be" && ! grep -q '^FAIL' "$TMP/hostile.$be"; then
			ok "$be: t_blk_hostile ($(grep -c '^PASS' "$TMP/hostile.$be") checks), pvisor survives"
		else
			not_ok "$be: t_blk_hostile (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/hostile.$be" | head -c 800)"
		fi
	fi
done

# A second pvisor on an image in use refuses to start.
img=$TMP/locked.img
truncate -s 8M "$img"
timeout -k 5 30 "$PVISOR" run --backend proc --no-raw --timeout 4 --disk "$img" "$GUEST/t_spin" \
	</dev/null >"$TMP/first" 2>&1 &
first=$!
for _ in $(seq 50); do grep -q 'SPIN start' "$TMP/first" && break; sleep 0.1; done
"$PVISOR" run --backend proc --no-raw --disk "$img" "$GUEST/hello" </dev/null >"$TMP/second" 2>&1
rc=$?
if [ $rc -eq 2 ] && [ "$(grep -c . "$TMP/second")" -le 2 ] && grep -q "disk $img: in use by another process" "$TMP/second"; then
	ok "a second pvisor on the same image refuses to start"
else
	not_ok "second pvisor on a locked image (exit $rc): $(cat "$TMP/second")"
fi
kill "$first" 2>/dev/null
wait "$first" 2>/dev/null

# Missing image: one clear line, exit 2.
"$PVISOR" run --backend proc --no-raw --disk "$TMP/none.img" "$GUEST/hello" </dev/null >"$TMP/missing" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "disk $TMP/none.img: No such file or directory" "$TMP/missing" &&
	! grep -q "Hello" "$TMP/missing"; then
	ok "a missing image gets one clear error line"
else
	not_ok "missing image (exit $rc): $(cat "$TMP/missing")"
fi
"$PVISOR" run --backend proc --no-raw --disk "$img,bogus" "$GUEST/hello" </dev/null >"$TMP/badopt" 2>&1
rc=$?
check "--disk with an unknown option is a usage error" [ $rc -eq 2 ]
check "nothing left behind" no_leftovers
