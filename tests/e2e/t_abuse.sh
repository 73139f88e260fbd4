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
	run_guest "$be" "$TMP/abuse.$be" -v --timeout 90 "$GUEST/t_abuse"
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -eq 0 ] && grep -q '^RESULT' "$TMP/abuse.$be" &&
		! grep -q '^FAIL' "$TMP/abuse.$be"; then
		ok "$be: t_abuse ($(grep -c '^PASS' "$TMP/abuse.$be") checks, ${took}s)"
	else
		not_ok "$be: t_abuse (exit $rc after ${took}s): $(grep -E '^FAIL|pvisor|runtime error|Sanitizer' "$TMP/abuse.$be" | head -c 800)"
	fi
	# -v: the console reports its garbage index, the store the broken ring.
	if grep -q 'console: out_prod .* runs past' "$TMP/abuse.$be" &&
		grep -q 'xenstore: .*longer than XENSTORE_PAYLOAD_MAX' "$TMP/abuse.$be"; then
		ok "$be: the garbage console index and the broken store ring are reported"
	else
		not_ok "$be: missing reports: $(grep '^pvisor:' "$TMP/abuse.$be" | head -c 600)"
	fi
done
check "nothing left behind" no_leftovers
