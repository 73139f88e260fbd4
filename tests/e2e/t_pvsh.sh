#!/bin/bash
# pvsh, the interactive shell guest, driven through its console on a
# pseudo-terminal (raw mode, as a user would use it), on every backend.
source "$(dirname "$0")/lib.sh"

cat >"$TMP/session" <<'SCRIPT'
expect pvsh> 
send echo hello there
expect hello there
send info
expect backend: +BACKEND
expect uptime
send bogus-command
expect (unknown|not found)
send exit 3
exit 3
SCRIPT

cat >"$TMP/escape" <<'SCRIPT'
expect pvsh> 
sendraw 0178
exit 0
SCRIPT

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: pvsh session" "kvm unavailable: $KVM_WHY"
		skip "$be: Ctrl-A x quits" "kvm unavailable: $KVM_WHY"
		continue
	fi
	sed "s/BACKEND/$be/" "$TMP/session" >"$TMP/session.$be"
	out=$(python3 "$(dirname "$0")/console_drive.py" "$TMP/session.$be" -- \
		"$PVISOR" run --backend "$be" "$GUEST/pvsh" 2>"$TMP/pvsh.$be.log")
	if [ $? -eq 0 ]; then ok "$be: pvsh answers echo, info, unknown commands and exit N"
	else not_ok "$be: pvsh session: $(grep 'not ok' <<<"$out" | head -3) $(tail -c 400 "$TMP/pvsh.$be.log")"; fi
	out=$(python3 "$(dirname "$0")/console_drive.py" "$TMP/escape" -- \
		"$PVISOR" run --backend "$be" "$GUEST/pvsh" 2>"$TMP/esc.$be.log")
	if [ $? -eq 0 ]; then ok "$be: Ctrl-A x quits"
	else not_ok "$be: Ctrl-A x quits: $(grep 'not ok' <<<"$out") $(tail -c 300 "$TMP/esc.$be.log")"; fi
done

# pvsh commands from the command line (-- ARGS), no terminal.
be=proc
run_guest "$be" "$TMP/cmd" "$GUEST/pvsh" -- "echo from-cmdline; exit 5"
rc=$?
if [ $rc -eq 5 ] && grep -q from-cmdline "$TMP/cmd"; then ok "pvsh runs commands given after --"
else not_ok "pvsh -- commands (exit $rc): $(head -c 400 "$TMP/cmd")"; fi
check "nothing left behind" no_leftovers
