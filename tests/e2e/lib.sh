# Helpers for end-to-end tests: each test script sources this, runs guests
# through build/pvisor and reports TAP lines ("ok N - ...", "not ok N - ...",
# "ok N - ... # SKIP reason").
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PVISOR=${PVISOR:-$ROOT/build/pvisor}
GUEST=$ROOT/guest/build
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
_n=0

ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); echo "not ok $_n - $*"; }
skip() { _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"; }

# check DESC COMMAND...: ok if COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# host_lacks NAME: why this host lacks NAME, or empty if it has it.  NAME is
# what `pvisor host --query` takes: a feature (kvm, kvm-pvm, fsgsbase,
# seccomp, io_uring, tap, memfd), backend:kvm|proc, guest:lower-half|
# upper-half.  The tests ask pvisor's own probes what to skip, never guess.
host_lacks() {
	local why rc
	why=$("$PVISOR" host --query "$1" 2>&1)
	rc=$?
	case $rc in
	0) ;;
	1) echo "${why:-pvisor host --query $1 gave no reason}" ;;
	*) echo "pvisor host --query $1 failed (exit $rc): $why" ;;
	esac
}

# Why the kvm backend cannot run here, or empty if it can.
kvm_unavailable() { host_lacks backend:kvm; }

# The backends to test on: proc always; kvm when it works (else a SKIP line
# per test that would have run on it, as kit_tests_pass prints).
# PVISOR_TEST_BACKENDS narrows the list (tests/run.sh's second proc pass).
BACKENDS=${PVISOR_TEST_BACKENDS:-proc kvm}
KVM_WHY=$(kvm_unavailable)

# run_guest BACKEND OUTFILE ARGS...: runs pvisor, stdout+stderr to OUTFILE,
# returns pvisor's exit status.  Stdin is /dev/null; a 60 s safety timeout.
run_guest() {
	local backend=$1 out=$2
	shift 2
	timeout -k 5 120 "$PVISOR" run --backend "$backend" --no-raw "$@" \
		</dev/null >"$out" 2>&1
}

# field JSON EXPR: EXPR (Python, the parsed JSON as r) of a control-API
# reply, printed; e.g. field "$reply" 'r["state"]'.
field() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_count FILE PATTERN N [SECONDS]: until FILE has N lines matching
# PATTERN (default 10 s).
wait_count() {
	local i
	for ((i = 0; i < ${4:-10} * 10; i++)); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# udp_echo PORT TEXT: what a guest's UDP echo on 127.0.0.1:PORT answers (a
# few tries; netecho through a hostfwd).
udp_echo() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(10):
    s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recv(100).decode())
        break
    except socket.timeout:
        pass
PY
}

# No pvisor guest process may outlive pvisor.
# A leftover is a pvisor this test started that still runs (a child of this
# shell), an orphaned pvisor, or a guest process whose pvisor is gone.
# (Matching every pvisor on the machine would also catch unrelated runs.)
# A guest process of another run whose pvisor is exiting is an orphan for
# the moment PDEATHSIG takes: only what is still there a second later
# counts; a dead one (a zombie its new parent has not reaped) does not.
# A running pvisor's comm is its main thread's, which sandbox_thread()
# renames "pv-vcpu0" once the guest runs: "pv-*" is pvisor too.
leftover_pids() {
	local pid ppid stat comm
	while read -r pid ppid stat comm; do
		case "$stat" in Z*) continue ;; esac
		case "$comm" in
		pvisor|pv-*)
			{ [ "$ppid" = 1 ] || [ "$ppid" = $$ ]; } && echo "$pid" ;;
		pvisor-guest)
			case "$(ps -o comm= -p "$ppid" 2>/dev/null)" in
			pvisor|pv-*) ;;
			*) echo "$pid" ;;
			esac ;;
		esac
	done < <(ps -eo pid=,ppid=,stat=,comm=)
}
no_leftovers() {
	local first
	first=$(leftover_pids | sort)
	[ -z "$first" ] && return 0
	sleep 1
	[ -z "$(comm -12 <(echo "$first") <(leftover_pids | sort))" ]
}

# kit_tests_pass BACKEND GUEST...: each guest-kit test guest runs on BACKEND
# and passes: exit 0, PASS lines, no FAIL, "RESULT ... 0 failed" (its output
# in $TMP/GUEST.BACKEND).  On kvm where kvm cannot run, a SKIP line per guest
# and status 1, so that a caller's checks of the outputs can be skipped too.
kit_tests_pass() {
	local be=$1 t out rc
	shift
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in "$@"; do
			skip "$be: $t" "kvm unavailable: $KVM_WHY"
		done
		return 1
	fi
	for t in "$@"; do
		out=$TMP/$t.$be
		run_guest "$be" "$out" "$GUEST/$t"
		rc=$?
		if [ $rc -eq 0 ] && grep -q '^PASS' "$out" && ! grep -q '^FAIL' "$out" &&
			grep -q '^RESULT .* 0 failed' "$out"; then
			ok "$be: $t ($(grep -c '^PASS' "$out") checks)"
		else
			not_ok "$be: $t (exit $rc): $(grep -E '^FAIL|pvisor' "$out" | head -c 800)"
		fi
	done
}
