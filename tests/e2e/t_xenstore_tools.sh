#!/bin/bash
# Xen's tools on pvisor's xenstore (issue 13): Debian's xenstore-utils,
# pointed at `pvisor run --xenstore-socket PATH` with XENSTORED_PATH=PATH,
# read and write a running guest's store as dom0.  The guest is
# guest/tests/t_xs_tools: it writes data/guest-hello, waits for data/host
# (xenstore-write) and echoes it to data/echo, checks that a node the host
# made dom0's alone (xenstore-chmod n0) is closed to it, and writes
# data/tick every 100 ms (xenstore-watch) until data/stop.
# Also: the socket is mode 0600 and goes away with pvisor; a stale socket
# file is replaced; a path that is not a socket is refused and left alone.
source "$(dirname "$0")/lib.sh"

if ! command -v xenstore-ls >/dev/null 2>&1; then
	skip "xenstore tools" "xenstore-utils is not installed (apt-get install xenstore-utils)"
	exit 0
fi


# xs TOOL ARGS...: a tool against this run's socket (with a time limit).
xs() {
	local tool=$1
	shift
	XENSTORED_PATH=$SOCK timeout 10 "xenstore-$tool" "$@"
}

D=/local/domain/1

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: xenstore tools" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/xs-$be.sock
	out=$TMP/run.$be
	timeout -k 5 90 "$PVISOR" run --backend "$be" --no-raw --xenstore-socket "$SOCK" \
		"$GUEST/t_xs_tools" </dev/null >"$out" 2>&1 &
	pid=$!
	if ! wait_for "$out" '^XSTOOLS ready' 20; then
		not_ok "$be: t_xs_tools did not start: $(head -c 800 "$out")"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		continue
	fi

	check "$be: socket is a socket, mode 0600" \
		test -S "$SOCK" -a "$(stat -c %a "$SOCK")" = 600

	ls_out=$(xs ls /)
	if grep -q '^local = ""' <<<"$ls_out" && grep -q 'name = "pvisor-guest"' <<<"$ls_out" &&
		grep -q 'guest-hello = "hello-from-guest"' <<<"$ls_out"; then
		ok "$be: xenstore-ls / shows the guest's tree ($(wc -l <<<"$ls_out") nodes)"
	else
		not_ok "$be: xenstore-ls /: $(head -c 600 <<<"$ls_out")"
	fi
	check "$be: xenstore-read $D/name" test "$(xs read $D/name)" = pvisor-guest
	check "$be: xenstore-read of the guest's own key" \
		test "$(xs read $D/data/guest-hello)" = hello-from-guest
	check "$be: xenstore-list $D" grep -qx data <<<"$(xs list $D)"
	check "$be: xenstore-exists of a present key" xs exists $D/domid
	if xs exists $D/no-such-key 2>/dev/null; then
		not_ok "$be: xenstore-exists of a missing key succeeded"
	else
		ok "$be: xenstore-exists of a missing key fails"
	fi

	# dom0's permissions: the guest owns data/guest-hello (n1: nobody else
	# may read it) and dom0 reads it anyway (above); dom0 makes a node its
	# own, which the guest then may neither read nor write.
	check "$be: xenstore-ls -p: the guest's key is the guest's (n1)" \
		grep -q 'guest-hello = "hello-from-guest".*(n1)' <<<"$(xs ls -p $D/data)"
	xs write $D/data/hostonly secret && xs chmod $D/data/hostonly n0
	check "$be: xenstore-chmod n0 took" grep -q 'hostonly = "secret".*(n0)$' \
		<<<"$(xs ls -p $D/data)"

	# xenstore-write reaches the guest, which echoes it back.
	token=ping-$be-$$
	check "$be: xenstore-write $D/data/host" xs write $D/data/host "$token"
	if wait_for "$out" "^XSTOOLS got $token\$" 10; then
		ok "$be: the guest saw the value xenstore-write wrote"
	else
		not_ok "$be: the guest did not see data/host: $(tail -c 600 "$out")"
	fi
	wait_for "$out" 'hostonly (n0) is not writable' 5
	check "$be: xenstore-read of the guest's echo" test "$(xs read $D/data/echo)" = "$token"
	check "$be: the guest could not read or write the n0 node" \
		grep -q '^PASS data/hostonly (n0) is not writable' "$out"

	# xenstore-watch sees the guest's writes (the first event is the
	# watch's own, as xenstored fires a new watch once).
	watch_out=$TMP/watch.$be
	XENSTORED_PATH=$SOCK timeout 10 xenstore-watch -n 4 $D/data/tick >"$watch_out" 2>&1
	n=$(grep -cx "$D/data/tick" "$watch_out")
	check "$be: xenstore-watch saw the guest's writes ($n events)" test "$n" -ge 4

	check "$be: xenstore-rm $D/data/echo" xs rm $D/data/echo
	if xs exists $D/data/echo 2>/dev/null; then
		not_ok "$be: data/echo still there after xenstore-rm"
	else
		ok "$be: data/echo gone after xenstore-rm"
	fi
	# The raw protocol: XS_INTRODUCE (only a toolstack's) is refused and
	# the connection stays usable; a header announcing more than
	# XENSTORE_PAYLOAD_MAX is answered E2BIG and the connection closed;
	# pvisor and other clients are unaffected.
	raw=$(python3 - "$SOCK" <<'PY' 2>&1
import socket, struct, sys
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); return s
def rx(s):
    h = b""
    while len(h) < 16:
        c = s.recv(16 - len(h))
        if not c: return None
        h += c
    t, r, x, n = struct.unpack("<IIII", h)
    b = b""
    while len(b) < n: b += s.recv(n - len(b))
    return t, r, b
s = conn()
def tx(t, r, p): s.sendall(struct.pack("<IIII", t, r, 0, len(p)) + p)
tx(8, 5, b"2\0001234\0005\000")  # XS_INTRODUCE
t, r, b = rx(s); print("introduce", t, r, b.rstrip(b"\0").decode())
tx(2, 6, b"/local/domain/1/name\000")  # XS_READ
t, r, b = rx(s); print("read", t, r, b.decode())
s.sendall(struct.pack("<IIII", 2, 7, 0, 1 << 20))
t, r, b = rx(s); print("huge", t, r, b.rstrip(b"\0").decode(), "then", rx(s))
PY
)
	if grep -qx 'introduce 16 5 ENOSYS' <<<"$raw" && grep -qx 'read 2 6 pvisor-guest' <<<"$raw" &&
		grep -qx 'huge 16 7 E2BIG then None' <<<"$raw"; then
		ok "$be: raw protocol: XS_INTRODUCE refused (ENOSYS), oversized header E2BIG + closed"
	else
		not_ok "$be: raw protocol: $raw"
	fi
	check "$be: still serving after the abuse" test "$(xs read $D/domid)" = 1

	xs write $D/data/stop 1
	wait "$pid"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^RESULT .* 0 failed' "$out"; then
		ok "$be: t_xs_tools passed ($(grep -c '^PASS' "$out") checks), exit 0"
	else
		not_ok "$be: t_xs_tools (exit $rc): $(grep -E '^FAIL|pvisor' "$out" | head -c 800)"
	fi
	check "$be: the socket file is gone after pvisor" test ! -e "$SOCK"
done

# The socket file's rules (proc: it is the same code on every backend).
SOCK=$TMP/stale.sock
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
out=$TMP/stale.out
timeout -k 5 90 "$PVISOR" run --backend proc --no-raw --xenstore-socket "$SOCK" \
	"$GUEST/t_xs_tools" </dev/null >"$out" 2>&1 &
pid=$!
if wait_for "$out" '^XSTOOLS ready' 20 && [ "$(xs read $D/data/guest-hello)" = hello-from-guest ]; then
	ok "a stale socket file is replaced"
else
	not_ok "stale socket: $(head -c 600 "$out")"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

NOTSOCK=$TMP/not-a-socket
echo keep >"$NOTSOCK"
run_guest proc "$TMP/notsock.out" --xenstore-socket "$NOTSOCK" "$GUEST/t_xs_tools"
rc=$?
if [ $rc -ne 0 ] && grep -q 'not a socket' "$TMP/notsock.out" && [ "$(cat "$NOTSOCK")" = keep ]; then
	ok "a path that is not a socket is refused (exit $rc) and left alone"
else
	not_ok "not-a-socket path (exit $rc): $(head -c 600 "$TMP/notsock.out")"
fi

check "no pvisor left behind" no_leftovers
