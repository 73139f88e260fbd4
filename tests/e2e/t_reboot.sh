#!/bin/bash
# Reboot in place (issue 13; docs/control-api.md, docs/pv-abi.md): a guest's
# SCHEDOP_shutdown(SHUTDOWN_reboot) builds a fresh domain from the same
# kernel with the same devices, on the same terminal.  pvsh's `reboot`
# prints its banner again and takes the next command (whose exit status is
# pvisor's); what blkbench wrote before a reboot it reads back after it;
# `ctl reboot` goes through the guest's control/shutdown watch and replies
# once the new domain runs (status counts reboots); a guest that ignores it
# gets a timeout error and runs on, and --force resets it anyway; netecho
# answers again after a reboot; blkbench and scsibench reset in the middle of
# their I/O verify their data in the new domain; --on-reboot exit ends
# pvisor with 123, and so does a restored guest's reboot (a snapshot holds
# no kernel) unless restore --kernel names one, which it then boots.  20
# reboots in a row leave pvisor's descriptors and memory where they were.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ctl_lib.sh"
banners() { grep -c '^pvsh on pvisor' "$out"; }

# fds PID, rss_kb PID: what pvisor holds.
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# stop: the guest powered off through the API, pvisor gone.
stop() {
	ctl shutdown --force >/dev/null 2>&1
	wait "$pid" 2>/dev/null
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: reboot in place" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock

	# pvsh's reboot, typed on its console (a FIFO), then commands of the
	# new domain: a file of its 9pfs share read before and after (the
	# share reattached), and `exit 7`, which is pvisor's status.
	out=$TMP/pvsh.$be
	mkdir -p "$TMP/share"
	echo "before and after" >"$TMP/share/f"
	mkfifo "$TMP/in.$be"
	timeout -k 5 60 "$PVISOR" run --backend "$be" --no-raw --share "$TMP/share,tag=s" \
		"$GUEST/pvsh" <"$TMP/in.$be" >"$out" 2>&1 &
	pid=$!
	exec 3>"$TMP/in.$be"
	wait_for "$out" '^pvsh on pvisor' 20 && echo "cat f" >&3
	wait_for "$out" '^before and after' 10 && echo reboot >&3
	wait_count "$out" '^pvsh on pvisor' 2 20
	echo "cat f" >&3
	wait_count "$out" '^before and after' 2 10
	echo "exit 7" >&3
	wait "$pid"
	rc=$?
	exec 3>&-
	if [ $rc -eq 7 ] && [ "$(banners)" -eq 2 ] && grep -q '^pvsh> reboot' "$out" &&
		grep -q 'guest rebooting' "$out" && [ "$(grep -c '^before and after' "$out")" -eq 2 ] &&
		grep -q '^pvsh> exit 7' "$out"; then
		ok "$be: pvsh reboot: the banner again, the share read in both domains, then 'exit 7' ends pvisor with 7"
	else
		not_ok "$be: pvsh reboot: exit $rc, $(banners) banners: $(head -c 600 "$out")"
	fi

	# A disk written and flushed before each reboot is read back after.
	img=$TMP/disk.$be
	rm -f "$img"
	truncate -s 4M "$img"
	out=$TMP/blk.$be
	run_guest "$be" "$out" --disk "$img" "$GUEST/blkbench" -- mode=reboot count=3
	rc=$?
	if [ $rc -eq 0 ] && grep -q "boot 2: read back boot 1's data" "$out" &&
		grep -q "boot 3: read back boot 2's data" "$out" &&
		[ "$(grep -c 'guest rebooting' "$out")" -eq 2 ] &&
		[ "$(head -c 10 "$img")" = "PVREBOOT 2" ]; then
		ok "$be: blkbench reads back after each reboot what it wrote before (3 boots, the image holds boot 2's)"
	else
		not_ok "$be: blkbench over reboots: exit $rc: $(head -c 800 "$out")"
	fi

	# reboot --force in the middle of disk and SCSI I/O: the backends let
	# go of the old domain once its requests are done, and the bench of
	# the new domain verifies all its data.
	for bench in "blkbench --disk" "scsibench --scsi"; do
		set -- $bench
		out=$TMP/mid.$1.$be
		rm -f "$TMP/mid.img"
		truncate -s 40M "$TMP/mid.img"
		start run "$be" "$2" "$TMP/mid.img" "$GUEST/$1" -- mb=32 ops=20000
		wait_for "$out" "^$1 .*backend=" 20
		sleep 0.1
		r=$(ctl reboot --force)
		wait "$pid"
		rc=$?
		if [ $rc -eq 0 ] && [ "$(grep -c "^$1 .*backend=" "$out")" -eq 2 ] &&
			grep -q "^$1.* verify=ok" "$out" && [ "$(field "$r" 'r["reboots"]')" = 1 ]; then
			ok "$be: reboot --force in the middle of $1's I/O: the new domain's $1 verifies its data"
		else
			not_ok "$be: $1 over a forced reboot: exit $rc ($r): $(grep -v 'MB/s\|IOPS' "$out" | head -c 600)"
		fi
	done

	# ctl reboot: the guest's control/shutdown watch reboots it; the
	# reply comes once the new domain runs.
	out=$TMP/ctl.$be
	start run "$be" "$GUEST/pvsh" -- "ticks 100000 50"
	wait_for "$out" '^tick 3 ' 20
	r=$(ctl reboot)
	rc=$?
	wait_count "$out" '^pvsh> ticks' 2 5
	n=$(grep -c '^pvsh> ticks' "$out")
	st=$(ctl status)
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["reboots"]')" = 1 ] && [ "$n" -eq 2 ] &&
		[ "$(field "$st" 'r["state"], r["reboots"], r["uptime_s"] < 5')" = "('running', 1, True)" ]; then
		ok "$be: ctl reboot: the guest reboots through control/shutdown, reply after the new domain started, status reboots=1"
	else
		not_ok "$be: ctl reboot: exit $rc ($r), $n boots, status $(field "$st" 'r["state"], r["reboots"]'): $(tail -c 400 "$out")"
	fi
	a=$(grep -c '^tick ' "$out")
	sleep 0.5
	b=$(grep -c '^tick ' "$out")
	check "$be: the rebooted pvsh ticks again ($a then $b)" test "$b" -gt "$a"
	stop

	# A guest that does not watch control/shutdown: an error after the
	# timeout, it runs on; --force resets it all the same.
	out=$TMP/spin.$be
	start run "$be" "$GUEST/t_spin"
	wait_for "$out" '^SPIN start' 20
	r=$(ctl reboot --timeout 0.5 2>&1)
	rc=$?
	st=$(ctl status)
	if [ $rc -ne 0 ] && echo "$r" | grep -q 'did not reboot within 0.5 s' &&
		[ "$(field "$st" 'r["state"], r["reboots"]')" = "('running', 0)" ] &&
		[ "$(grep -c '^SPIN start' "$out")" -eq 1 ]; then
		ok "$be: reboot of a guest that ignores it: timeout error, it still runs"
	else
		not_ok "$be: ignored reboot: exit $rc ($r), status $st"
	fi
	r=$(ctl reboot --force)
	rc=$?
	wait_count "$out" '^SPIN start' 2 5
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["reboots"]')" = 1 ] &&
		[ "$(grep -c '^SPIN start' "$out")" -eq 2 ] && kill -0 "$pid"; then
		ok "$be: reboot --force resets the guest without it: it starts again"
	else
		not_ok "$be: reboot --force: exit $rc ($r): $(tail -c 400 "$out")"
	fi
	stop

	# netecho answers UDP before and after a reboot (netfront reconnected
	# to the same slirp).
	up=$(python3 -c 'import socket; u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); print(u.getsockname()[1])')
	out=$TMP/net.$be
	start run "$be" --net "user,hostfwd=udp:127.0.0.1:$up-:7" "$GUEST/netecho" -- control=1
	wait_for "$out" '^netecho: ready' 30
	a=$(udp_echo "$up" before)
	r=$(ctl reboot)
	rc=$?
	wait_count "$out" '^netecho: ready' 2 10
	b=$(udp_echo "$up" after)
	udp_echo "$up" quit >/dev/null
	wait "$pid"
	prc=$?
	if [ "$a" = before ] && [ $rc -eq 0 ] && [ "$b" = after ] && [ $prc -eq 0 ]; then
		ok "$be: netecho answers UDP before a reboot and after it, then quits (exit 0)"
	else
		not_ok "$be: netecho over a reboot: before '$a', reboot $rc ($r), after '$b', exit $prc: $(tail -c 400 "$out")"
	fi

	# --on-reboot exit: QEMU's -no-reboot; exit 123 and why.
	out=$TMP/noreboot.$be
	run_guest "$be" "$out" --on-reboot exit "$GUEST/pvsh" -- "reboot"
	rc=$?
	if [ $rc -eq 123 ] && [ "$(banners)" -eq 0 ] && grep -q 'asked for a reboot; --on-reboot exit' "$out"; then
		ok "$be: --on-reboot exit: the guest's reboot ends pvisor with 123"
	else
		not_ok "$be: --on-reboot exit: exit $rc: $(head -c 400 "$out")"
	fi

	# A restored guest has no kernel to boot again: 123 and why.
	out=$TMP/save.$be
	start run "$be" "$GUEST/pvsh" -- "ticks 100000 50"
	wait_for "$out" '^tick 3 ' 20
	ctl save "$TMP/snap.$be" >/dev/null
	wait "$pid"
	out=$TMP/restored.$be
	start restore "$be" "$TMP/snap.$be"
	wait_for "$out" 'resumed in a new domain' 20
	r=$(ctl reboot --force)
	wait "$pid"
	prc=$?
	if [ $prc -eq 123 ] && grep -q 'a restored guest has no kernel to boot again' "$out" &&
		[ "$(field "$r" 'r["state"], r["exit_status"]')" = "('stopped', 123)" ]; then
		ok "$be: a restored guest's reboot ends pvisor with 123, saying why"
	else
		not_ok "$be: restored guest's reboot: exit $prc ($r): $(tail -c 400 "$out")"
	fi

	# restore --kernel names what the restored guest's reboot boots.
	out=$TMP/restored2.$be
	start restore "$be" --kernel "$GUEST/pvsh" --cmdline "exit 5" "$TMP/snap.$be"
	wait_for "$out" 'resumed in a new domain' 20
	r=$(ctl reboot --force)
	wait "$pid"
	prc=$?
	if [ $prc -eq 5 ] && grep -q '^pvsh> exit 5' "$out" && grep -q 'guest rebooting' "$out"; then
		ok "$be: restore --kernel: the restored guest's reboot boots that kernel (its 'exit 5' ends pvisor with 5)"
	else
		not_ok "$be: restore --kernel, then reboot: exit $prc ($r): $(tail -c 400 "$out")"
	fi

	# 20 reboots in a row with a disk, a NIC and a share: descriptors
	# and memory stay where they were after the first.
	out=$TMP/many.$be
	rm -f "$img"
	truncate -s 4M "$img"
	start run "$be" --disk "$img" --net user --share "$TMP/share,tag=t" "$GUEST/blkbench" -- \
		mode=reboot count=1 control=1
	wait_for "$out" 'reboot done after 1 boots' 20
	ctl reboot >/dev/null
	vmm=$(pgrep -P "$pid")
	f1=$(fds "$vmm")
	m1=$(rss_kb "$vmm")
	fails=0
	for i in $(seq 2 20); do
		ctl reboot >/dev/null || fails=$((fails + 1))
	done
	# The last domain ran blkbench to its end (an earlier one may have
	# taken the next request before it printed: the kit's control watch
	# starts first).
	for i in $(seq 50); do
		tail -n +"$(grep -n 'guest rebooting' "$out" | tail -1 | cut -d: -f1)" "$out" |
			grep -q 'reboot done after 1 boots' && break
		sleep 0.1
	done
	alive=$(tail -n +"$(grep -n 'guest rebooting' "$out" | tail -1 | cut -d: -f1)" "$out" |
		grep -c 'reboot done after 1 boots')
	st=$(ctl status)
	f20=$(fds "$vmm")
	m20=$(rss_kb "$vmm")
	if [ $fails -eq 0 ] && [ "$(field "$st" 'r["reboots"]')" = 20 ] &&
		[ "$alive" -eq 1 ] &&
		[ "$f20" -le "$f1" ] && [ "$m20" -le $((m1 + 4096)) ]; then
		ok "$be: 20 reboots: all answered, descriptors $f1 -> $f20, RSS $m1 -> $m20 KiB"
	else
		not_ok "$be: 20 reboots: $fails failed, status $(field "$st" 'r["reboots"]'), last boot done: $alive, descriptors $f1 -> $f20, RSS $m1 -> $m20 KiB: $(tail -c 400 "$out")"
	fi
	stop
done
check "no pvisor or guest process left behind" no_leftovers
