# Helpers for the tests that drive a guest through the control API (t_ctl,
# t_save, t_save_devices, t_reboot, t_hotplug, t_scsi_hotplug,
# t_scsi_media), sourced after lib.sh.  The caller sets SOCK (the --api
# socket) and out (the guest's output file) per backend.

ctl() { timeout 60 "$PVISOR" ctl "$SOCK" "$@"; }
# raw LINE [SPEC...]: the request with any descriptors (ctl_send_fds.py).
raw() { python3 "$(dirname "$0")/ctl_send_fds.py" "$SOCK" "$@"; }
err_code() { field "$1" 'r["error"]["code"] if not r["ok"] else "ok"'; }
# start [run|restore] BACKEND ARGS...: pvisor run (or restore) with the
# API, in the background (pid), stdin /dev/null, output to $out, at most
# START_TIMEOUT (default 300) seconds.
start() {
	local mode=run be
	case $1 in run | restore) mode=$1; shift ;; esac
	be=$1
	shift
	timeout -k 5 "${START_TIMEOUT:-300}" "$PVISOR" "$mode" --backend "$be" --no-raw \
		--api "$SOCK" "$@" </dev/null >"$out" 2>&1 &
	pid=$!
}
# save_and_stop SNAP [SAVE-ARGS...]: `ctl save` of the guest started with
# start (reply in r, status in rc), then its pvisor's exit (status in prc);
# its output's name is kept in before.
save_and_stop() {
	r=$(ctl save "$@")
	rc=$?
	wait "$pid"
	prc=$?
	before=$out
}
# restore_into OUT BACKEND ARGS...: pvisor restore ARGS in the foreground
# (at most 120 s), output to OUT (now out), exit status in prc.
restore_into() {
	out=$1
	local be=$2
	shift 2
	timeout -k 5 120 "$PVISOR" restore --backend "$be" --no-raw "$@" </dev/null >"$out" 2>&1
	prc=$?
}
stop_guest() {
	ctl shutdown --force >/dev/null 2>&1
	wait "$pid" 2>/dev/null
}
# Free of any lock: an OFD write lock can be taken.
unlocked() {
	python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))' "$1" 2>/dev/null
}
nr_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
