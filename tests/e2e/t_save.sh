#!/bin/bash
# Save and restore (issue 13; docs/snapshot-format.md, docs/control-api.md):
# a pvsh printing a tick with its uptime every 50 ms is saved through the
# control API (control/shutdown = suspend, the guest's SHUTDOWN_suspend),
# pvisor exits 0, and `pvisor restore FILE` goes on with the next tick and
# the uptime where it was; the restored guest answers the API and is saved
# and restored again.  A guest that ignores the request: an error after
# the timeout, the guest still runs.  Truncated, corrupt and foreign files,
# a mismatched device list: one error line, nothing started.  blkbench
# saved mid-run verifies after the restore; netecho answers again.  A client
# that leaves right after asking: the save still completes.  An existing
# FILE is never overwritten.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ctl_lib.sh"
# last_tick FILE: "N UPTIME_MS" of the last tick line.
last_tick() { sed -n 's/^tick \([0-9]*\) uptime_ms=\([0-9]*\)$/\1 \2/p' "$1" | tail -1; }
first_tick() { sed -n 's/^tick \([0-9]*\) uptime_ms=\([0-9]*\)$/\1 \2/p' "$1" | head -1; }


# restored_goes_on BE BEFORE AFTER WHAT: the restored run's first tick is
# the one after the saved run's last, its uptime a little later.
restored_goes_on() {
	local be=$1 before=$2 after=$3 what=$4 n0 u0 n1 u1
	read -r n0 u0 <<<"$(last_tick "$before")"
	if ! wait_for "$after" '^tick ' 20; then
		not_ok "$be: $what: no tick after restore: $(head -c 600 "$after")"
		return 1
	fi
	read -r n1 u1 <<<"$(first_tick "$after")"
	if grep -q '^kit: control/shutdown: suspend: resumed in a new domain' "$after" &&
		[ "$n1" -eq $((n0 + 1)) ] && [ "$u1" -ge "$u0" ] && [ "$u1" -lt $((u0 + 1000)) ]; then
		ok "$be: $what: the guest resumed in a new domain, tick $n0 -> $n1, uptime ${u0} -> ${u1} ms"
	else
		not_ok "$be: $what: saved at tick $n0 (${u0} ms), resumed at tick $n1 (${u1} ms): $(head -c 400 "$after")"
		return 1
	fi
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: save and restore" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock
	snap=$TMP/snap-$be.pvs
	out=$TMP/run1.$be
	start run "$be" "$GUEST/pvsh" -- "ticks 100000 50"
	if ! wait_for "$out" '^tick 3 ' 20; then
		not_ok "$be: pvsh did not start ticking: $(head -c 800 "$out")"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		continue
	fi

	# An existing file is refused by the client; the guest runs on.
	: >"$TMP/exists.pvs"
	echo keep >"$TMP/exists.pvs"
	r=$(ctl save "$TMP/exists.pvs" 2>&1)
	rc=$?
	check "$be: save to an existing file: refused (exit $rc), the file kept" \
		test $rc -ne 0 -a "$(cat "$TMP/exists.pvs")" = keep
	# Paused: refused, nothing written.
	ctl pause >/dev/null
	r=$(ctl save "$TMP/paused.pvs" 2>&1)
	rc=$?
	ctl resume >/dev/null
	check "$be: save while paused: refused (exit $rc: $r), no file left" \
		test $rc -ne 0 -a ! -e "$TMP/paused.pvs"

	save_and_stop "$snap"
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["how"], r["bytes"] > 0')" = "('saved', True)" ] &&
		[ $prc -eq 0 ] && [ -s "$snap" ]; then
		ok "$be: save: reply 'saved', $(stat -c %s "$snap") bytes, pvisor exit 0"
	else
		not_ok "$be: save: ctl exit $rc ($r), pvisor exit $prc: $(tail -c 400 "$out")"
		continue
	fi
	check "$be: the API socket is gone after the save" test ! -e "$SOCK"

	# Restore: the loop goes on; the API works; saved and restored again.
	out=$TMP/run2.$be
	start restore "$be" "$snap"
	restored_goes_on "$be" "$before" "$out" "restore"
	st=$(ctl status)
	check "$be: the restored guest answers status (running, 64 MiB)" \
		test "$(field "$st" 'r["state"], r["memory"]["bytes"] >> 20')" = "('running', 64)"
	wait_for "$out" '^tick 5' 20
	save_and_stop "$snap.2"
	check "$be: the restored guest saved again (ctl exit $rc, pvisor exit $prc)" \
		test $rc -eq 0 -a $prc -eq 0 -a -s "$snap.2"
	out=$TMP/run3.$be
	start restore "$be" "$snap.2"
	restored_goes_on "$be" "$before" "$out" "second restore"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null

	# Bad files: one line on stderr, non-zero exit, no guest output.
	head -c $(($(stat -c %s "$snap") - 4096)) "$snap" >"$TMP/trunc.pvs"
	cp "$snap" "$TMP/corrupt.pvs"
	printf '\x5a' | dd of="$TMP/corrupt.pvs" bs=1 seek=200000 conv=notrunc 2>/dev/null
	for c in "trunc.pvs:truncated" "corrupt.pvs:corrupt" "../../guest/build/pvsh:not a pvisor snapshot"; do
		f=${c%%:*} want=${c#*:}
		[ "${f#../}" != "$f" ] && path=$GUEST/pvsh || path=$TMP/$f
		timeout 20 "$PVISOR" restore --backend "$be" --no-raw "$path" </dev/null >"$TMP/bad.out" 2>&1
		rc=$?
		if [ $rc -ne 0 ] && [ "$(wc -l <"$TMP/bad.out")" -le 2 ] &&
			grep -q "$want" "$TMP/bad.out" && ! grep -q '^tick\|^kit' "$TMP/bad.out"; then
			ok "$be: restore of a $want file: exit $rc, one error, nothing ran"
		else
			not_ok "$be: restore of $f: exit $rc: $(head -c 400 "$TMP/bad.out")"
		fi
	done
	timeout 20 "$PVISOR" restore --backend "$be" --no-raw --disk "$TMP/trunc.pvs" "$snap" \
		</dev/null >"$TMP/bad.out" 2>&1
	rc=$?
	check "$be: restore with a disk the guest did not have: refused (exit $rc)" \
		test $rc -ne 0 -a "$(grep -c 'had 0 disk' "$TMP/bad.out")" = 1

	# A guest that never suspends (no control thread): error, it runs on.
	out=$TMP/spin.$be
	start run "$be" "$GUEST/t_spin"
	wait_for "$out" '^SPIN start' 20
	ctl save "$TMP/spin.pvs" --timeout 1 >"$TMP/spin.reply" 2>&1 &
	spid=$!
	sv=None
	for _ in $(seq 20); do
		sleep 0.05
		sv=$(field "$(ctl status)" 'r["save"]')
		[ "$sv" != None ] && break
	done
	check "$be: status while a save waits for the guest: $sv" \
		test "$sv" = "{'live': False, 'phase': 'suspending'}"
	wait "$spid"
	rc=$?
	r=$(cat "$TMP/spin.reply")
	st=$(ctl status)
	if [ $rc -ne 0 ] && echo "$r" | grep -q 'did not suspend within 1 s' &&
		[ "$(field "$st" 'r["state"], r["save"]')" = "('running', None)" ] && [ ! -e "$TMP/spin.pvs" ]; then
		ok "$be: save of a guest that ignores it: error after the timeout, still running, no save in status, no file"
	else
		not_ok "$be: ignored save: ctl exit $rc ($r), status $st"
	fi
	ctl shutdown --force >/dev/null
	wait "$pid" 2>/dev/null

	# A client gone right after sending the request (its descriptor with
	# it): the save completes all the same and the file restores.
	out=$TMP/run4.$be
	start run "$be" "$GUEST/pvsh" -- "ticks 100000 50"
	wait_for "$out" '^tick 3 ' 20
	python3 - "$SOCK" "$TMP/gone.pvs" <<'PY'
import os, socket, sys
fd = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
socket.send_fds(s, [b'{"command":"save"}\n'], [fd])
s.close()
os.close(fd)
PY
	wait "$pid"
	prc=$?
	before=$out
	out=$TMP/run5.$be
	start restore "$be" "$TMP/gone.pvs"
	if [ $prc -eq 0 ]; then
		restored_goes_on "$be" "$before" "$out" "save whose client left"
	else
		not_ok "$be: save whose client left: pvisor exit $prc: $(tail -c 400 "$before")"
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# (lib.sh's no_leftovers also sees other test runs' guests on a shared
	# machine; these are the ones this test started.)
	# blkbench saved mid-run (after its sequential write, before its
	# verification): the restored guest reconnects blkfront and verifies
	# every block it wrote, before and after the save.
	img=$TMP/disk-$be.img
	rm -f "$img"
	truncate -s 64M "$img"
	out=$TMP/blk1.$be
	start run "$be" --disk "$img" "$GUEST/blkbench" -- mb=64 ops=20000 control=1
	wait_for "$out" 'seq_write MB/s' 30
	save_and_stop "$TMP/blk.pvs"
	restore_into "$TMP/blk2.$be" "$be" --disk "$img" "$TMP/blk.pvs"
	if [ $rc -eq 0 ] && ! grep -q 'verify=' "$before" && [ $prc -eq 0 ] &&
		grep -q 'resumed in a new domain' "$out" && grep -q 'verify=ok errors=0' "$out"; then
		ok "$be: blkbench saved mid-run ($(grep -c MB/s "$before") phases done) resumes, reconnects and verifies"
	else
		not_ok "$be: blkbench save (ctl $rc: $r) / restore (exit $prc): $(tail -c 300 "$before") // $(tail -c 400 "$out")"
	fi

	# netecho answers UDP through hostfwd before the save and, restored
	# with the same --net, again after it (netfront reconnected).
	up=$(python3 -c 'import socket; u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); print(u.getsockname()[1])')
	net="user,hostfwd=udp:127.0.0.1:$up-:7"
	out=$TMP/net1.$be
	start run "$be" --net "$net" "$GUEST/netecho" -- control=1
	wait_for "$out" '^netecho: ready' 30
	a=$(udp_echo "$up" before)
	r=$(ctl save "$TMP/net.pvs")
	rc=$?
	wait "$pid"
	out=$TMP/net2.$be
	start restore "$be" --net "$net" "$TMP/net.pvs"
	wait_for "$out" 'resumed in a new domain' 20
	b=$(udp_echo "$up" after)
	udp_echo "$up" quit >/dev/null
	wait "$pid"
	prc=$?
	if [ "$a" = before ] && [ $rc -eq 0 ] && [ "$b" = after ] && [ $prc -eq 0 ]; then
		ok "$be: netecho answers UDP before the save and after the restore, then quits (exit 0)"
	else
		not_ok "$be: netecho: before '$a', save $rc ($r), after '$b', exit $prc: $(tail -c 400 "$out")"
	fi

	check "$be: no pvisor of this test left" test -z "$(pgrep -f "$TMP/")"
done
echo "1..$_n"
