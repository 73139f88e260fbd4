#!/bin/bash
# fs and gs base on every backend and, on proc, on both of the stub's paths
# (rd/wr{fs,gs}base where the kernel enables them; arch_prctl, forced with
# PVISOR_PROC_FSGSBASE=off): guest/tests/t_fsgs.c sets the bases with
# HYPERVISOR_set_segment_base and reads them back with %fs/%gs-relative
# loads, across hypercalls, a vCPU block, a thread switch and a selector
# load; a guest executing wrfsbase gets #UD where the CPU raises it.
source "$(dirname "$0")/lib.sh"

# run_fsgs BACKEND MODE OUT ARGS...
run_fsgs() {
	local be=$1 mode=$2 out=$3
	shift 3
	PVISOR_PROC_FSGSBASE=$mode run_guest "$be" "$out" "$@"
}

for be in $BACKENDS; do
	modes="auto"
	[ "$be" = proc ] && modes="auto off"
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "kvm: t_fsgs" "kvm unavailable: $KVM_WHY"
		continue
	fi
	for mode in $modes; do
		label="$be (PVISOR_PROC_FSGSBASE=$mode)"
		out=$TMP/fsgs.$be.$mode
		run_fsgs "$be" "$mode" "$out" "$GUEST/t_fsgs" -- wrfsbase
		rc=$?
		if [ $rc -eq 0 ] && grep -q '^PASS main_sees_its_fs_after_switch' "$out" &&
			grep -q '^PASS fs_load_after_selector' "$out" && ! grep -q '^FAIL' "$out"; then
			ok "$label: fs/gs bases seen through %fs/%gs loads, after a block, a thread switch and a selector load ($(grep -c '^PASS' "$out") checks)"
		else
			not_ok "$label: t_fsgs (exit $rc): $(grep -E '^FAIL|pvisor' "$out" | head -c 800)"
			continue
		fi

		# What the CPU did with wrfsbase, as the guest saw it with a #UD
		# handler installed; without one, pvisor must stop the guest
		# with a report naming #UD.
		if grep -qx 'WRFSBASE ud' "$out"; then
			ok "$label: wrfsbase in the guest is #UD, delivered to its handler"
			run_fsgs "$be" "$mode" "$out.unhandled" "$GUEST/t_fsgs" -- unhandled
			rc=$?
			if [ $rc -eq 126 ] && grep -q '#UD invalid opcode' "$out.unhandled" &&
				! grep -qx 'WRFSBASE ran' "$out.unhandled"; then
				ok "$label: an unhandled #UD from wrfsbase stops the guest with a report"
			else
				not_ok "$label: unhandled wrfsbase (exit $rc): $(head -c 600 "$out.unhandled")"
			fi
		elif grep -qx 'WRFSBASE ran' "$out"; then
			# Only right where pvisor host says the CPU executes it.
			why=$("$PVISOR" host --query fsgsbase 2>&1)
			if "$PVISOR" host --query fsgsbase >/dev/null 2>&1 ||
				grep -q 'executes rdfsbase' <<<"$why"; then
				skip "$label: wrfsbase is #UD" "$why"
				skip "$label: an unhandled #UD from wrfsbase stops the guest" "$why"
			else
				not_ok "$label: wrfsbase ran in the guest, but pvisor host says: $why"
			fi
		else
			not_ok "$label: t_fsgs printed no WRFSBASE line"
		fi
	done
done
check "nothing left behind" no_leftovers
