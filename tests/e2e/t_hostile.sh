#!/bin/bash
# Guests pvisor must stop: privileged instructions, unhandled faults, endless
# loops, signals.  Each ends with a report and a non-zero exit, never a
# crash or a hang, and leaves no process behind.
source "$(dirname "$0")/lib.sh"

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in priv unhandled-pf timeout sigterm; do
			skip "$be: $t" "kvm unavailable: $KVM_WHY"
		done
		continue
	fi
	run_guest "$be" "$TMP/priv.$be" "$GUEST/t_priv"
	rc=$?
	if [ $rc -eq 126 ] && grep -q 'PRIV about to execute hlt' "$TMP/priv.$be" &&
		grep -q 'guest stopped: .*exception 13' "$TMP/priv.$be" && grep -q 'rip=' "$TMP/priv.$be"; then
		ok "$be: a privileged instruction stops the guest with a report"
	else
		not_ok "$be: privileged instruction (exit $rc): $(head -c 800 "$TMP/priv.$be")"
	fi

	run_guest "$be" "$TMP/pf.$be" "$GUEST/t_unhandled_pf"
	rc=$?
	if [ $rc -eq 126 ] && grep -q 'page fault: fault address' "$TMP/pf.$be"; then
		ok "$be: an unhandled page fault stops the guest with the fault address"
	else
		not_ok "$be: unhandled page fault (exit $rc): $(head -c 800 "$TMP/pf.$be")"
	fi

	start=$(date +%s)
	run_guest "$be" "$TMP/spin.$be" --timeout 2 "$GUEST/t_spin"
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -eq 124 ] && [ $took -lt 15 ] && grep -q 'SPIN start' "$TMP/spin.$be" &&
		grep -q 'guest state at the timeout' "$TMP/spin.$be" && grep -q 'rip=' "$TMP/spin.$be" &&
		grep -q -- '--timeout' "$TMP/spin.$be"; then
		ok "$be: an endless loop is stopped by --timeout (${took}s)"
	else
		not_ok "$be: --timeout (exit $rc after ${took}s): $(head -c 600 "$TMP/spin.$be")"
	fi

	"$PVISOR" run --backend "$be" --no-raw "$GUEST/t_spin" </dev/null >"$TMP/term.$be" 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q 'SPIN start' "$TMP/term.$be" && break; sleep 0.1; done
	kill -TERM $pid
	wait $pid
	rc=$?
	if [ $rc -eq 143 ] && grep -q 'stopped by signal' "$TMP/term.$be"; then
		ok "$be: SIGTERM stops the guest cleanly"
	else
		not_ok "$be: SIGTERM (exit $rc): $(head -c 600 "$TMP/term.$be")"
	fi
	check "$be: nothing left behind" no_leftovers
done
