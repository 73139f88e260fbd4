#!/bin/bash
# The hypercall page keeps rcx and r11 as Xen's does (issue 14, item 1), on
# every backend: guest/tests/t_xen_regs.c.
source "$(dirname "$0")/lib.sh"

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: t_xen_regs" "kvm unavailable: $KVM_WHY"
		continue
	fi
	run_guest "$be" "$TMP/regs.$be" "$GUEST/t_xen_regs"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^PASS iret_keeps_rcx_r11' "$TMP/regs.$be" &&
		! grep -q '^FAIL' "$TMP/regs.$be"; then
		ok "$be: rcx and r11 survive every kind of hypercall, a multicall and an iret ($(grep -c '^PASS' "$TMP/regs.$be") checks)"
	else
		not_ok "$be: t_xen_regs (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/regs.$be" | head -c 800)"
	fi
done
check "nothing left behind" no_leftovers
