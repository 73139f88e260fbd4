#!/bin/bash
# --console2: the guest kit's t_console2 writes 80 KiB to the secondary Xen
# console (device/console/1) while printing on the start_info console;
# pvisor's stderr must hold exactly the first stream and its stdout only the
# second.  A frontend publishing a bad ring-ref and port gets the backend in
# Closing, and connects cleanly afterwards; without the option there is no
# device/console/1.
source "$(dirname "$0")/lib.sh"

# The bytes t_console2 writes to console 1 (its two_streams()).
expected() {
	python3 -c '
import sys
for i in range(2000):
    sys.stdout.write("E%u the quick brown fox jumps over the lazy dog %08x\n" % (i, (i * 2654435761) & 0xffffffff))
sys.stdout.write("tail-without-newline")'
}

kit_passes() { [ "$1" -eq 0 ] && grep -q '^RESULT .* 0 failed' "$2" && ! grep -q '^FAIL' "$2"; }

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in "two streams apart" "stdout has no console-1 bytes" "hostile frontend" "absent without --console2"; do
			skip "$be: $t" "kvm unavailable: $KVM_WHY"
		done
		continue
	fi
	timeout -k 5 120 "$PVISOR" run --backend "$be" --no-raw -q --console2 "$GUEST/t_console2" \
		</dev/null >"$TMP/out.$be" 2>"$TMP/err.$be"
	rc=$?
	if kit_passes $rc "$TMP/out.$be" && cmp -s <(expected) "$TMP/err.$be"; then
		ok "$be: two streams apart: stderr is console 1's 80 KiB, byte for byte"
	else
		not_ok "$be: two streams (exit $rc): $(grep -E '^FAIL' "$TMP/out.$be" | head -3) $(cmp <(expected) "$TMP/err.$be" 2>&1 | head -1)"
	fi
	check "$be: stdout has no console-1 bytes, and its own lines" \
		eval '! grep -q "^E[0-9]" "$TMP/out.$be" && [ "$(grep -c "^O[0-9]" "$TMP/out.$be")" = 20 ]'

	timeout -k 5 120 "$PVISOR" run --backend "$be" --no-raw -q --console2 "$GUEST/t_console2" -- hostile \
		</dev/null >"$TMP/hostile.$be" 2>"$TMP/hostile-err.$be"
	rc=$?
	if kit_passes $rc "$TMP/hostile.$be" && [ "$(cat "$TMP/hostile-err.$be")" = after-hostile ]; then
		ok "$be: hostile frontend: backend Closing, then a good ring connects ($(grep -c '^PASS' "$TMP/hostile.$be") checks)"
	else
		not_ok "$be: hostile frontend (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/hostile.$be" "$TMP/hostile-err.$be" | head -c 600)"
	fi

	run_guest "$be" "$TMP/absent.$be" "$GUEST/t_console2" -- absent
	rc=$?
	check "$be: absent without --console2 (exit $rc)" kit_passes $rc "$TMP/absent.$be"
done

check "nothing left behind" no_leftovers
