#!/bin/bash
# save --live (issue 13; docs/snapshot-format.md "Live saves",
# docs/control-api.md): the guest is saved and runs on.  pvsh's tick loop
# goes on after the save (its suspend call returned 1, "cancelled") and the
# file restores to the tick it was taken at; a guest rewriting and checking
# 32 MiB (pvsh memstress) is saved in the middle of a pass: the original and
# the restored copy both go on without a wrong page.  The guest is saved
# live twice and then saved the plain way.  A guest that ignores the
# request: an error after the timeout, it runs on, no file.  blkbench saved
# live mid-run goes on and verifies every block.  restore --lazy: the
# memstress file resumes before its memory is read, every page right; a
# corrupt memory section stops it when found (a plain restore refuses it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_lib.sh"

ticks_of() { sed -n 's/^tick \([0-9]*\) uptime_ms=[0-9]*$/\1/p' "$1"; }
# The last tick printed before the first line matching RE.
tick_before() { sed -n "/$2/q; s/^tick \([0-9]*\) .*/\1/p" "$1" | tail -1; }

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: save --live" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock

	# pvsh ticking: saved live, it ticks on; the file resumes at the tick
	# it was taken at.
	out=$TMP/tick1.$be
	start run "$be" "$GUEST/pvsh" -- "ticks 100000 50"
	if ! wait_for "$out" '^tick 3 ' 20; then
		not_ok "$be: pvsh did not start ticking: $(head -c 800 "$out")"
		stop_guest
		continue
	fi
	n0=$(ticks_of "$out" | tail -1)
	r=$(ctl save "$TMP/tick.pvs" --live)
	rc=$?
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["how"], r["live"], r["state"], r["bytes"] > 0')" = "('saved', True, 'running', True)" ] &&
		[ "$(stat -c %s "$TMP/tick.pvs")" = "$(field "$r" 'r["bytes"]')" ]; then
		ok "$be: save --live: reply saved, running, $(field "$r" 'r["bytes"]') bytes, paused $(field "$r" '"%.2f" % r["pause_ms"]') ms"
	else
		not_ok "$be: save --live: ctl exit $rc: $r: $(tail -c 400 "$out")"
	fi
	n1=$(ticks_of "$out" | tail -1)
	wait_for "$out" "^tick $((n1 + 5)) " 20
	st=$(ctl status)
	if grep -q '^kit: control/shutdown: suspend: cancelled, resumed' "$out" &&
		[ "$(field "$st" 'r["state"]')" = running ] && grep -q "^tick $((n1 + 5)) " "$out"; then
		ok "$be: the guest runs on after the live save (suspend cancelled; tick $n1 -> $((n1 + 5)))"
	else
		not_ok "$be: after save --live: status $st: $(tail -c 400 "$out")"
	fi
	# Saved live a second time, then the plain way: it still suspends.
	r=$(ctl save "$TMP/tick2.pvs" --live)
	rc2=$?
	r3=$(ctl save "$TMP/tick3.pvs")
	rc3=$?
	wait "$pid"
	prc=$?
	check "$be: a second live save (exit $rc2), then a plain save (exit $rc3), pvisor exit $prc" \
		test $rc2 -eq 0 -a $rc3 -eq 0 -a $prc -eq 0 -a -s "$TMP/tick2.pvs" -a -s "$TMP/tick3.pvs"
	nc=$(tick_before "$TMP/tick1.$be" '^kit: control\/shutdown: suspend: cancelled')
	before=$TMP/tick1.$be
	out=$TMP/tick2.$be
	start restore "$be" "$TMP/tick.pvs"
	if wait_for "$out" '^tick ' 20; then
		m=$(ticks_of "$out" | head -1)
		if grep -q 'resumed in a new domain' "$out" && [ "$m" -gt "$n0" ] &&
			[ "$m" -le $((nc + 1)) ]; then
			ok "$be: the live file restores at the tick it was taken at ($n0 < $m <= $((nc + 1)))"
		else
			not_ok "$be: live restore: first tick $m, want ($n0, $((nc + 1))]: $(head -c 400 "$out")"
		fi
	else
		not_ok "$be: live restore: no tick: $(head -c 600 "$out")"
	fi
	stop_guest

	# memstress: saved live mid-pass; the original and the restored guest
	# both finish passes with every page right.
	out=$TMP/mem1.$be
	start run "$be" "$GUEST/pvsh" -- "memstress 32 100000"
	if ! wait_for "$out" '^memstress pass 2 ' 60; then
		not_ok "$be: memstress did not run: $(tail -c 800 "$out")"
		stop_guest
		continue
	fi
	sleep 0.03 # into a pass
	r=$(ctl save "$TMP/mem.pvs" --live)
	rc=$?
	p=$(sed -n 's/^memstress pass \([0-9]*\) .*/\1/p' "$out" | tail -1)
	# Pre-copy (dirty tracking): the pause copies what the last round
	# found, not the 32 MiB the guest keeps rewriting.
	if grep -q 'live save: no pre-copy' "$out"; then
		skip "$be: save --live pre-copies while the guest runs" \
			"$(sed -n 's/.*live save: no pre-copy (\(.*\)): .*/\1/p' "$out" | head -1)"
	else
		check "$be: save --live pre-copied while the guest ran ($(field "$r" '"%d rounds, %d of %d frames in a %.1f ms pause" % (r["rounds"], r["pause_frames"], r["frames"], r["pause_ms"])'))" \
			test "$(field "$r" 'r["rounds"] >= 1 and r["pause_frames"] * 4 < r["frames"]')" = True
	fi
	wait_for "$out" "^memstress pass $((p + 3)) " 60
	stop_guest
	if [ $rc -eq 0 ] && grep -q "^memstress pass $((p + 3)) ok" "$out" &&
		! grep -q 'BAD\|lost its write\|holds' "$out"; then
		ok "$be: memstress saved live in pass $((p + 1)) goes on: 3 more passes, every page right"
	else
		not_ok "$be: memstress original: save exit $rc ($r): $(grep -m3 'BAD\|holds\|lost' "$out") $(tail -c 300 "$out")"
	fi
	out=$TMP/mem2.$be
	start restore "$be" "$TMP/mem.pvs"
	wait_for "$out" '^memstress pass [0-9]* ' 60
	q=$(sed -n 's/^memstress pass \([0-9]*\) .*/\1/p' "$out" | head -1)
	wait_for "$out" "^memstress pass $((q + 2)) " 60
	stop_guest
	if grep -q 'resumed in a new domain' "$out" && [ -n "$q" ] &&
		grep -q "^memstress pass $((q + 2)) ok" "$out" && ! grep -q 'BAD\|lost its write\|holds' "$out"; then
		ok "$be: the live file of memstress restores: passes $q to $((q + 2)), every page right"
	else
		not_ok "$be: memstress restored: $(grep -m3 'BAD\|holds\|lost' "$out") $(tail -c 400 "$out")"
	fi

	# restore --lazy: the guest runs before its memory is read in; the
	# pages come in as touched and behind it; every page right.
	out=$TMP/mem5.$be
	start restore "$be" --lazy "$TMP/mem.pvs"
	wait_for "$out" '^memstress pass [0-9]* ' 60
	q=$(sed -n 's/^memstress pass \([0-9]*\) .*/\1/p' "$out" | head -1)
	wait_for "$out" "^memstress pass $((q + 2)) " 60
	st=$(ctl status)
	stop_guest
	if grep -q 'resumed in a new domain' "$out" && [ -n "$q" ] &&
		grep -q 'restore --lazy: all [0-9]* frames in after' "$out" &&
		[ "$(field "$st" 'r["memory"]["loading"]')" = False ] &&
		grep -q "^memstress pass $((q + 2)) ok" "$out" && ! grep -q 'BAD\|lost its write\|holds' "$out"; then
		ok "$be: restore --lazy: $(sed -n 's/.*restore --lazy: \(all .*\)/\1/p' "$out"); passes $q to $((q + 2)), every page right"
	else
		not_ok "$be: restore --lazy: $(grep -m3 'BAD\|holds\|lost\|lazy' "$out") $(tail -c 400 "$out")"
	fi
	# A reboot right after a lazy restore (likely while it still loads):
	# the new domain boots clean.
	out=$TMP/mem6.$be
	start restore "$be" --lazy --kernel "$GUEST/pvsh" --cmdline "echo REBOOTED-OK; poweroff" "$TMP/mem.pvs"
	wait_for "$out" 'resumed in a new domain' 30
	r=$(ctl reboot --force)
	wait "$pid"
	prc=$?
	check "$be: reboot --force right after restore --lazy: the new domain runs (pvisor exit $prc)" \
		test $prc -eq 0 -a "$(grep -c '^REBOOTED-OK' "$out")" = 1
	# A byte of the memory section changed: a plain restore refuses the
	# file, a lazy one finds it while it reads and stops the guest (exit 2).
	cp "$TMP/mem.pvs" "$TMP/memx.pvs"
	printf '\x5a' | dd of="$TMP/memx.pvs" bs=1 seek=$(($(stat -c %s "$TMP/mem.pvs") - 5000)) conv=notrunc 2>/dev/null
	timeout 30 "$PVISOR" restore --backend "$be" --no-raw "$TMP/memx.pvs" </dev/null >"$TMP/x1.out" 2>&1
	rc1=$?
	timeout 60 "$PVISOR" restore --backend "$be" --no-raw --lazy "$TMP/memx.pvs" </dev/null >"$TMP/x2.out" 2>&1
	rc2=$?
	if [ $rc1 -eq 2 ] && grep -q "memory section .* checksum does not match" "$TMP/x1.out" &&
		! grep -q '^memstress' "$TMP/x1.out" && [ $rc2 -eq 2 ] &&
		grep -q 'restore --lazy: the snapshot.s memory section is corrupt' "$TMP/x2.out"; then
		ok "$be: a corrupt memory section: restore refuses it (exit 2, nothing ran), restore --lazy stops the guest when it finds it (exit 2)"
	else
		not_ok "$be: corrupt memory: plain exit $rc1 ($(head -c 200 "$TMP/x1.out")), lazy exit $rc2 ($(grep -v '^memstress' "$TMP/x2.out" | tail -c 300))"
	fi
	head -c 100000 "$TMP/mem.pvs" >"$TMP/memt.pvs"
	timeout 30 "$PVISOR" restore --backend "$be" --no-raw --lazy "$TMP/memt.pvs" </dev/null >"$TMP/x3.out" 2>&1
	rc=$?
	check "$be: restore --lazy of a truncated file: refused before anything runs (exit $rc)" \
		test $rc -eq 2 -a "$(grep -c 'truncated' "$TMP/x3.out")" = 1 -a "$(grep -c '^kit\|^memstress' "$TMP/x3.out")" = 0

	# The guest processes' writes tracked both ways (docs/proc-backend.md,
	# "Dirty tracking"): by the fault thread (the sandbox's Landlock rules
	# keep a guest process from opening its pagemap; PVISOR_LIVE_WP=sync
	# forces it), and asynchronously (here: --sandbox off), with a writer
	# that goes through its pages out of order (memstress STRIDE: every
	# write its own fault) and, asynchronously, one that does not.  The
	# original goes on and the file restores, every page right.
	if [ "$be" = proc ]; then
		for wp in "sync:4099" "async:4099" "async:1"; do
			mode=${wp%%:*} stride=${wp#*:}
			out=$TMP/wp-$mode-$stride.$be
			if [ "$mode" = async ]; then
				PVISOR_LIVE_WP= start run "$be" -v -v --sandbox off "$GUEST/pvsh" -- "memstress 32 100000 $stride"
			else
				PVISOR_LIVE_WP=sync start run "$be" -v -v "$GUEST/pvsh" -- "memstress 32 100000 $stride"
			fi
			wait_for "$out" '^memstress pass 2 ' 60
			sleep 0.03 # into a pass
			rm -f "$TMP/wp.pvs"
			r=$(ctl save "$TMP/wp.pvs" --live)
			rc=$?
			p=$(sed -n 's/^memstress pass \([0-9]*\) .*/\1/p' "$out" | tail -1)
			wait_for "$out" "^memstress pass $((p + 2)) " 60
			stop_guest
			how=$(sed -n "s/.*live save: the guest processes' writes tracked \(.*\)/\1/p" "$out" | head -1)
			if [ "$mode" = async ] && [ "$how" = "by a fault thread" ]; then
				skip "$be: save --live, writes tracked asynchronously (stride $stride)" \
					"this host has no asynchronous write protection (Linux >= 6.7)"
				continue
			fi
			ro=$TMP/wp-restored.$be
			out=$ro
			start restore "$be" "$TMP/wp.pvs"
			wait_for "$out" '^memstress pass [0-9]* ' 60
			q=$(sed -n 's/^memstress pass \([0-9]*\) .*/\1/p' "$out" | head -1)
			wait_for "$out" "^memstress pass $((q + 2)) " 60
			stop_guest
			out=$TMP/wp-$mode-$stride.$be
			want="by a fault thread"
			[ "$mode" = async ] && want="asynchronously (PAGEMAP_SCAN)"
			if [ $rc -eq 0 ] && [ "$how" = "$want" ] &&
				[ "$(field "$r" 'r["rounds"] >= 1')" = True ] &&
				grep -q "^memstress pass $((p + 2)) ok" "$out" && ! grep -q 'BAD\|lost its write\|holds' "$out" &&
				[ -n "$q" ] && grep -q "^memstress pass $((q + 2)) ok" "$ro" && ! grep -q 'BAD\|lost its write\|holds' "$ro"; then
				ok "$be: save --live, writes tracked $how, memstress stride $stride: $(field "$r" '"%d rounds, %d frames in the pause" % (r["rounds"], r["pause_frames"])'); it goes on and its file restores, every page right"
			else
				not_ok "$be: save --live tracked '$how' (want '$want'), stride $stride: ctl $rc ($r): $(grep -m3 'BAD\|holds\|lost' "$out" "$ro") $(tail -c 300 "$ro")"
			fi
		done
	fi

	# Without pre-copy (as on a backend or host without dirty tracking):
	# the pause copies all of RAM; the file restores all the same.
	out=$TMP/mem3.$be
	PVISOR_LIVE_PRECOPY=off start run "$be" "$GUEST/pvsh" -- "memstress 32 100000"
	wait_for "$out" '^memstress pass 2 ' 60
	r=$(ctl save "$TMP/mem3.pvs" --live)
	rc=$?
	stop_guest
	out=$TMP/mem4.$be
	start restore "$be" "$TMP/mem3.pvs"
	wait_for "$out" '^memstress pass [0-9]* ' 60
	q=$(sed -n 's/^memstress pass \([0-9]*\) .*/\1/p' "$out" | head -1)
	wait_for "$out" "^memstress pass $((q + 2)) " 60
	stop_guest
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["rounds"], r["pause_frames"] == r["frames"]')" = "(0, True)" ] &&
		grep -q "^memstress pass $((q + 2)) ok" "$out" && ! grep -q 'BAD\|lost its write\|holds' "$out"; then
		ok "$be: save --live without pre-copy: all $(field "$r" 'r["frames"]') frames in the pause, the file restores, every page right"
	else
		not_ok "$be: live save without pre-copy: ctl $rc ($r): $(tail -c 300 "$out")"
	fi

	# Refusals: paused; a guest that never suspends (no control thread).
	out=$TMP/spin.$be
	start run "$be" "$GUEST/t_spin"
	wait_for "$out" '^SPIN start' 20
	ctl pause >/dev/null
	r=$(ctl save "$TMP/paused.pvs" --live 2>&1)
	rc=$?
	ctl resume >/dev/null
	check "$be: save --live while paused: refused (exit $rc), no file" \
		test $rc -ne 0 -a ! -e "$TMP/paused.pvs"
	# While it waits, status shows the save: pre-copy done, suspending.
	ctl save "$TMP/spin.pvs" --live --timeout 2 >"$TMP/spin.reply" 2>&1 &
	spid=$!
	sv=None
	for _ in $(seq 40); do
		sleep 0.05
		sv=$(field "$(ctl status)" 'r["save"] and r["save"]["phase"] == "suspending" and (r["save"]["live"], r["save"]["frames_copied"] > 0, r["save"]["frames_total"] == r["memory"]["pages"], r["save"]["elapsed_s"] > 0)')
		[ "$sv" != False ] && [ "$sv" != None ] && break
	done
	check "$be: status during a live save that waits for the guest: save.phase suspending, live, frames copied, frames_total = pages ($sv)" \
		test "$sv" = "(True, True, True, True)"
	wait "$spid"
	rc=$?
	r=$(cat "$TMP/spin.reply")
	st=$(ctl status)
	if [ $rc -ne 0 ] && echo "$r" | grep -q 'did not suspend within 2 s' &&
		[ "$(field "$st" 'r["state"], r["save"]')" = "('running', None)" ] && [ ! -e "$TMP/spin.pvs" ]; then
		ok "$be: save --live of a guest that ignores it: error after the timeout, still running, status shows no save, no file"
	else
		not_ok "$be: ignored live save: ctl exit $rc ($r), status $st"
	fi
	stop_guest

	# blkbench saved live mid-run: it goes on and verifies every block.
	img=$TMP/disk-$be.img
	rm -f "$img"
	truncate -s 64M "$img"
	out=$TMP/blk.$be
	start run "$be" --disk "$img" "$GUEST/blkbench" -- mb=64 ops=20000 control=1
	wait_for "$out" 'seq_write MB/s' 30
	r=$(ctl save "$TMP/blk.pvs" --live)
	rc=$?
	wait_for "$out" 'verify=' 120
	stop_guest
	if [ $rc -eq 0 ] && grep -q 'suspend: cancelled' "$out" && grep -q 'verify=ok errors=0' "$out"; then
		ok "$be: blkbench saved live mid-run goes on and verifies every block"
	else
		not_ok "$be: blkbench live save (ctl $rc: $r): $(tail -c 400 "$out")"
	fi
	check "$be: no pvisor of this test left" test -z "$(pgrep -f "$TMP/")"
done
echo "1..$_n"
