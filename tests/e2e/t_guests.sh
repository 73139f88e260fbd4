#!/bin/bash
# The guest kit's applications and behaviour tests on every backend.
source "$(dirname "$0")/lib.sh"

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in hello exit-status t_traps t_hypercalls t_mmu t_syscall t_kit t_xsconsole; do
			skip "$be: $t" "kvm unavailable: $KVM_WHY"
		done
		continue
	fi
	run_guest "$be" "$TMP/hello.$be" "$GUEST/hello"
	rc=$?
	if [ $rc -eq 0 ] && grep -qx 'Hello from the pvisor guest kit!' "$TMP/hello.$be" &&
		grep -qx "backend=$be" "$TMP/hello.$be"; then
		ok "$be: hello prints its greeting and exits 0"
	else
		not_ok "$be: hello (exit $rc): $(head -c 600 "$TMP/hello.$be")"
	fi

	run_guest "$be" "$TMP/exit.$be" "$GUEST/t_exit" -- 7
	rc=$?
	if [ $rc -eq 7 ]; then ok "$be: exit status 7 passes through"
	else not_ok "$be: exit status passes through (got $rc): $(head -c 300 "$TMP/exit.$be")"; fi

	for t in t_traps t_hypercalls t_mmu t_syscall t_kit t_xsconsole; do
		run_guest "$be" "$TMP/$t.$be" "$GUEST/$t"
		rc=$?
		if [ $rc -eq 0 ] && grep -q '^PASS' "$TMP/$t.$be" && ! grep -q '^FAIL' "$TMP/$t.$be"; then
			ok "$be: $t ($(grep -c '^PASS' "$TMP/$t.$be") checks)"
		else
			not_ok "$be: $t (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/$t.$be" | head -c 800)"
		fi
	done
done

# The same guest prints the same on both backends.
if [ -z "$KVM_WHY" ]; then
	check "hello prints the same on kvm and proc" \
		diff <(grep -v '^backend=' "$TMP/hello.kvm") <(grep -v '^backend=' "$TMP/hello.proc")
else
	skip "hello prints the same on kvm and proc" "kvm unavailable: $KVM_WHY"
fi
check "nothing left behind" no_leftovers
