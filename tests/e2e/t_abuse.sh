#!/bin/bash
# Abuse of pvisor's limits and shared pages (guest/tests/t_abuse.c):
# oversized tables and batches, end-of-time timeouts, garbage ring indexes,
# event and xenstore floods, vcpu_info over page tables.  Each must get an
# error, a disconnect or a clean stop; pvisor stays responsive and the
# guest finishes on every backend.
source "$(dirname "$0")/lib.sh"

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: t_abuse" "kvm unavailable: $KVM_WHY"
		continue
	fi
	start=$(date +%s)
	run_guest "$be" "$TMP/abuse.$be" --timeout 90 "$GUEST/t_abuse"
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -eq 0 ] && grep -q '^RESULT' "$TMP/abuse.$be" &&
		! grep -q '^FAIL' "$TMP/abuse.$be"; then
		ok "$be: t_abuse ($(grep -c '^PASS' "$TMP/abuse.$be") checks, ${took}s)"
	else
		not_ok "$be: t_abuse (exit $rc after ${took}s): $(grep -E '^FAIL|pvisor|runtime error|Sanitizer' "$TMP/abuse.$be" | head -c 800)"
	fi
	# The store reported the broken ring, the console its garbage index.
	if grep -q 'console: out_prod' "$TMP/abuse.$be"; then
		ok "$be: the console's garbage index is reported"
	else
		not_ok "$be: no report of the console's garbage index"
	fi
done
