#!/bin/bash
# Xen ABI conformance (issue 14 items 2-4) on every backend: guests that
# behave as Xen-targeted PV kernels do.
#   t_xenabi_callbacks  CALLBACKOP_register of syscall32/sysenter/NMI is 0,
#                       unregister and set_callbacks as Xen answers them
#   t_xenabi_selectors  Xen's flat selectors into %ds/%es/%fs/%gs/%ss (mov
#                       from a register and from memory, pop), fs/gs base 0
#                       afterwards, #GP(sel) for a selector Xen lacks, Xen's
#                       CS/SS in a bounce frame
#   t_xenabi_m2p        machine_to_phys_mapping read at MACH2PHYS_VIRT_START
#                       equals the start_info P2M inverted; invalid entries,
#                       faults beyond the table and on a write
# On proc the loads and reads are emulated (a #GP / #PF, decoded, answered);
# the kvm backend loads the selectors natively and emulates the M2P reads
# in L4 slot 256 the same way.  PVISOR_PROC_FSGSBASE=off runs the proc
# selector guest on the arch_prctl path too (fs/gs base 0 is then a real
# base change for the stub).
source "$(dirname "$0")/lib.sh"

GUESTS="t_xenabi_callbacks t_xenabi_selectors t_xenabi_m2p"

for be in $BACKENDS; do
	kit_tests_pass "$be" $GUESTS || continue
	# The timing lines are there for docs/benchmarks.md.
	if grep -q '^xenabi m2p_read_fixed_va median_ns=' "$TMP/t_xenabi_m2p.$be" &&
		grep -q '^xenabi selector_load_ds median_ns=' "$TMP/t_xenabi_selectors.$be"; then
		ok "$be: timing lines printed ($(grep -h '^xenabi' "$TMP"/t_xenabi_*."$be" | sed 's/ p99.*//' | tr '\n' ';'))"
	else
		not_ok "$be: xenabi timing lines missing"
	fi
done

# The arch_prctl path of the proc stub: the flat-selector loads make fs/gs
# base 0, a base change the stub must load.
case " $BACKENDS " in
*" proc "*)
	out=$TMP/t_xenabi_selectors.nofsgs
	PVISOR_PROC_FSGSBASE=off run_guest proc "$out" "$GUEST/t_xenabi_selectors"
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q '^FAIL' "$out" && grep -q '^RESULT .* 0 failed' "$out"; then
		ok "proc (PVISOR_PROC_FSGSBASE=off): t_xenabi_selectors ($(grep -c '^PASS' "$out") checks)"
	else
		not_ok "proc (PVISOR_PROC_FSGSBASE=off): t_xenabi_selectors (exit $rc): $(grep -E '^FAIL|pvisor' "$out" | head -c 800)"
	fi ;;
esac

check "nothing left behind" no_leftovers
