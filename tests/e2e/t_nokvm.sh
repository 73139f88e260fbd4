#!/bin/bash
# Without a working /dev/kvm (hidden in a mount namespace), pvisor picks the
# proc backend by itself, says so, and the guest runs.
source "$(dirname "$0")/lib.sh"

if ! unshare -m true 2>/dev/null; then
	skip "proc chosen when /dev/kvm is hidden" "cannot create a mount namespace (needs root)"
	exit 0
fi
unshare -m bash -c "mount --bind /dev/null /dev/kvm 2>/dev/null || mount -t tmpfs none /dev; exec '$PVISOR' run --no-raw '$GUEST/hello'" \
	</dev/null >"$TMP/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'backend proc' "$TMP/out" &&
	grep -qx 'Hello from the pvisor guest kit!' "$TMP/out" && grep -qx 'backend=proc' "$TMP/out"; then
	ok "proc is chosen and runs hello when /dev/kvm is hidden"
else
	not_ok "proc fallback (exit $rc): $(head -c 600 "$TMP/out")"
fi
