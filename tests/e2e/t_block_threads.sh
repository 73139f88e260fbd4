#!/bin/bash
# Block devices without io_uring (docs/block.md, "I/O engines"): with
# PVISOR_BLK_ENGINE=threads blkbench verifies its data, a hostile frontend
# gets its errors, and data the guest flushed is on the image after pvisor
# is killed with SIGKILL right after the flush completed.  With io_uring
# refused by a seccomp filter (as Docker's default profile does) pvisor
# falls back to the pool by itself and says so once with -v;
# PVISOR_BLK_ENGINE=uring there is one clear error; a bad value is a usage
# error.
source "$(dirname "$0")/lib.sh"

export PVISOR_BLK_ENGINE=threads

# durable BACKEND IMG OUT: runs t_blk_durable, SIGKILLs pvisor as soon as the
# guest reports its flush done; 0 if it did, then the image is checked.
durable() {
	local be=$1 img=$2 out=$3 pid kids alive k
	"$PVISOR" run --backend "$be" --no-raw --disk "$img" "$GUEST/t_blk_durable" \
		</dev/null >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 3000); do # 30 s
		grep -q '^DURABLE ' "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# The guest process follows (PR_SET_PDEATHSIG), a moment later.
	for _ in $(seq 500); do
		alive=0
		for k in $kids; do kill -0 "$k" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.01
	done
	grep -q '^DURABLE flushed' "$out"
}

# image_stamped IMG: 4 MiB of 0xA5, 32 KiB of 0x5A (the flush's own data),
# zeros up to 16 MiB.
image_stamped() {
	local img=$1 mib=1048576
	[ "$(stat -c %s "$img")" = $((16 * mib)) ] &&
	cmp -s <(head -c $((4 * mib)) "$img") <(head -c $((4 * mib)) /dev/zero | tr '\0' '\245') &&
	cmp -s <(tail -c +$((4 * mib + 1)) "$img" | head -c 32768) <(head -c 32768 /dev/zero | tr '\0' '\132') &&
	cmp -s <(tail -c +$((4 * mib + 32768 + 1)) "$img") <(head -c $((12 * mib - 32768)) /dev/zero)
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in blkbench hostile durable; do skip "$be: threads: $t" "kvm unavailable: $KVM_WHY"; done
		continue
	fi
	img=$TMP/disk.$be.img
	truncate -s 64M "$img"
	truncate -s 1M "$TMP/second.$be.img"
	run_guest "$be" "$TMP/bench.$be" -v --disk "$img" --disk "$TMP/second.$be.img" \
		"$GUEST/blkbench" -- mb=8 ops=400
	rc=$?
	said=$(grep -c 'block I/O uses a pool of' "$TMP/bench.$be")
	if [ $rc -eq 0 ] && grep -q "^blkbench xvda verify=ok" "$TMP/bench.$be" && [ "$said" = 1 ]; then
		ok "$be: threads: blkbench verifies its data ($(grep -o 'seq_write MB/s=[0-9.]*' "$TMP/bench.$be")), the engine said once for 2 disks"
	else
		not_ok "$be: threads: blkbench (exit $rc, engine line $said times): $(head -c 800 "$TMP/bench.$be")"
	fi

	if [ -x "$GUEST/t_blk_hostile" ]; then
		run_guest "$be" "$TMP/hostile.$be" --disk "$img" "$GUEST/t_blk_hostile"
		rc=$?
		if [ $rc -eq 0 ] && grep -q '^PASS' "$TMP/hostile.$be" && ! grep -q '^FAIL' "$TMP/hostile.$be"; then
			ok "$be: threads: t_blk_hostile ($(grep -c '^PASS' "$TMP/hostile.$be") checks), pvisor survives"
		else
			not_ok "$be: threads: t_blk_hostile (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/hostile.$be" | head -c 800)"
		fi
	fi

	# Flushed, then SIGKILL: the data is on the image.
	img=$TMP/durable.$be.img
	rm -f "$img"; truncate -s 16M "$img"
	if durable "$be" "$img" "$TMP/durable.$be" && image_stamped "$img"; then
		ok "$be: threads: data flushed by the guest is on the image after SIGKILL"
	else
		not_ok "$be: threads: durable: $(head -c 600 "$TMP/durable.$be")"
	fi
done

# io_uring refused (seccomp, EPERM), nothing forced: the pool, said once.
if ! command -v python3 >/dev/null; then
	skip "io_uring refused: the pool is chosen by itself" "python3 not installed (tests/e2e/no_io_uring.py)"
	skip "io_uring refused: PVISOR_BLK_ENGINE=uring is an error" "python3 not installed"
else
	img=$TMP/noring.img
	truncate -s 64M "$img"
	truncate -s 1M "$TMP/noring2.img"
	PVISOR_BLK_ENGINE= timeout -k 5 120 python3 "$ROOT/tests/e2e/no_io_uring.py" \
		"$PVISOR" run -v --backend proc --no-raw --disk "$img" --disk "$TMP/noring2.img" \
		"$GUEST/blkbench" -- mb=8 ops=400 </dev/null >"$TMP/noring" 2>&1
	rc=$?
	said=$(grep -c 'io_uring: Operation not permitted; block I/O uses a pool of' "$TMP/noring")
	if [ $rc = 77 ]; then
		skip "io_uring refused: the pool is chosen by itself" "$(head -c 200 "$TMP/noring")"
	elif [ $rc -eq 0 ] && grep -q "^blkbench xvda verify=ok" "$TMP/noring" && [ "$said" = 1 ]; then
		ok "io_uring refused: the pool is chosen by itself, said once with -v, blkbench verifies"
	else
		not_ok "io_uring refused (exit $rc, fallback line $said times): $(head -c 800 "$TMP/noring")"
	fi
	PVISOR_BLK_ENGINE= timeout -k 5 60 python3 "$ROOT/tests/e2e/no_io_uring.py" \
		"$PVISOR" run --backend proc --no-raw --disk "$img" "$GUEST/blkbench" -- mb=1 \
		</dev/null >"$TMP/noring.quiet" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		skip "io_uring refused, no -v: nothing said" "$(head -c 200 "$TMP/noring.quiet")"
	else
		if [ $rc -eq 0 ] && ! grep -q 'block I/O uses a pool' "$TMP/noring.quiet"; then
			ok "io_uring refused, no -v: nothing said about the engine"
		else
			not_ok "io_uring refused, no -v (exit $rc): $(head -c 400 "$TMP/noring.quiet")"
		fi
	fi
	PVISOR_BLK_ENGINE=uring timeout -k 5 60 python3 "$ROOT/tests/e2e/no_io_uring.py" \
		"$PVISOR" run --backend proc --no-raw --disk "$img" "$GUEST/hello" \
		</dev/null >"$TMP/needring" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		skip "io_uring refused: PVISOR_BLK_ENGINE=uring is an error" "$(head -c 200 "$TMP/needring")"
	elif [ $rc -eq 2 ] && [ "$(grep -c . "$TMP/needring")" = 1 ] &&
		grep -q "disk $img: io_uring: Operation not permitted (PVISOR_BLK_ENGINE=uring)" "$TMP/needring"; then
		ok "io_uring refused: PVISOR_BLK_ENGINE=uring is one clear error line, exit 2"
	else
		not_ok "PVISOR_BLK_ENGINE=uring without io_uring (exit $rc): $(head -c 400 "$TMP/needring")"
	fi
fi

truncate -s 1M "$TMP/bad.img"
PVISOR_BLK_ENGINE=aio "$PVISOR" run --backend proc --no-raw --disk "$TMP/bad.img" "$GUEST/hello" \
	</dev/null >"$TMP/bad" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "PVISOR_BLK_ENGINE=aio: expected auto, uring or threads" "$TMP/bad" &&
	! grep -q Hello "$TMP/bad"; then
	ok "PVISOR_BLK_ENGINE=aio is an error naming the choices"
else
	not_ok "PVISOR_BLK_ENGINE=aio (exit $rc): $(head -c 400 "$TMP/bad")"
fi
check "nothing left behind" no_leftovers
