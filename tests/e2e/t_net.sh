#!/bin/bash
# Networking: the netecho guest answers the host through libslirp's port
# forwards (UDP and TCP) on every backend; over a TAP device in a network
# namespace made by the test (root only); the hostile netfront guest leaves
# pvisor running; bad --net values are one clear error.
source "$(dirname "$0")/lib.sh"

# free_port: a TCP/UDP port nobody listens on right now (127.0.0.1).
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = s.getsockname()[1]
u.bind(("127.0.0.1", p)); print(p)' 2>/dev/null || free_port
}

# talk ADDR UDPPORT TCPPORT [icmp]: echo over UDP and TCP, then "quit" over
# TCP; prints what went wrong, exit 0 if all answered.
talk() {
	python3 - "$@" <<'PY'
import socket, sys, time, struct, os
addr, uport, tport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
icmp = len(sys.argv) > 4
def retry(fn, what, tries=40):
    for i in range(tries):
        try:
            return fn()
        except OSError as e:
            err = e
            time.sleep(0.25)
    print("%s: %s" % (what, err)); sys.exit(1)
if icmp:
    def ping():
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.settimeout(1)
        body = b"pvisor-ping"
        hdr = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1)
        c = sum(struct.unpack("!%dH" % ((len(hdr + body) + 1) // 2), (hdr + body + b"\0")[: (len(hdr + body) + 1) // 2 * 2]))
        while c >> 16: c = (c & 0xffff) + (c >> 16)
        hdr = struct.pack("!BBHHH", 8, 0, ~c & 0xffff, 0x1234, 1)
        s.sendto(hdr + body, (addr, 0))
        while True:
            d, _ = s.recvfrom(200)
            if d[20] == 0 and d[28:] == body: return
    retry(ping, "icmp echo")
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    msg = os.urandom(16).hex().encode()
    s.sendto(msg, (addr, uport))
    d, _ = s.recvfrom(200)
    if d != msg: raise OSError("udp echo mismatch %r" % d)
retry(udp, "udp echo")
for i in range(20):
    udp()
def tcp():
    t = socket.create_connection((addr, tport), timeout=3)
    t.sendall(b"hello over tcp\n")
    d = t.recv(100)
    if d != b"hello over tcp\n": raise OSError("tcp echo mismatch %r" % d)
    t.sendall(b"quit\n")
    d = t.recv(100)
    if d != b"bye\n": raise OSError("tcp quit answered %r" % d)
    t.close()
retry(tcp, "tcp echo", 10)
PY
}

# Bad command lines: one line, status 2, before anything runs.
for spec in "bogus" "tap" "user,hostfwd=tcp::0-:7" "user,mac=01:00:00:00:00:00"; do
	"$PVISOR" run --net "$spec" "$GUEST/hello" >"$TMP/bad.out" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/bad.out")" -eq 1 ] && grep -q -- '--net' "$TMP/bad.out"; then
		ok "--net '$spec' is refused with one line"
	else
		not_ok "--net '$spec' (exit $rc): $(head -c 300 "$TMP/bad.out")"
	fi
done

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: netecho over user networking" "kvm unavailable: $KVM_WHY"
		skip "$be: hostile netfront" "kvm unavailable: $KVM_WHY"
		continue
	fi
	up=$(free_port)
	tp=$(free_port)
	timeout -k 5 60 "$PVISOR" run --backend "$be" --no-raw --timeout 50 \
		--net "user,hostfwd=udp:127.0.0.1:$up-:7,hostfwd=tcp:127.0.0.1:$tp-:7" \
		"$GUEST/netecho" </dev/null >"$TMP/ne.$be" 2>&1 &
	pid=$!
	for i in $(seq 100); do
		grep -q '^netecho: ready' "$TMP/ne.$be" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	why=$(talk 127.0.0.1 "$up" "$tp" 2>&1)
	talked=$?
	wait $pid
	rc=$?
	if [ $talked -eq 0 ] && [ $rc -eq 0 ] && grep -q '^netecho: ip 10.0.2.15' "$TMP/ne.$be" &&
		grep -q '^netecho: quit: udp 2[0-9]' "$TMP/ne.$be"; then
		ok "$be: netecho (DHCP) echoes UDP and TCP through hostfwd, quits with 0"
	else
		not_ok "$be: netecho over user networking (exit $rc): $why $(head -c 600 "$TMP/ne.$be")"
	fi

	run_guest "$be" "$TMP/hostile.$be" --timeout 30 --net user "$GUEST/t_net_hostile"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^PASS producer_past_ring_not_served' "$TMP/hostile.$be" &&
		! grep -q '^FAIL' "$TMP/hostile.$be" &&
		grep -q 'broke the netif protocol' "$TMP/hostile.$be"; then
		ok "$be: hostile netfront gets errors, its broken ring is dropped, pvisor survives ($(grep -c '^PASS' "$TMP/hostile.$be") checks)"
	else
		not_ok "$be: hostile netfront (exit $rc): $(grep -E '^FAIL|pvisor' "$TMP/hostile.$be" | head -c 800)"
	fi
done

# A guest that stops reading while the host floods it: pvisor's memory stays
# bounded (frames beyond the backlog are dropped), and the guest is served
# again once it reads.
up=$(free_port)
tp=$(free_port)
timeout -k 5 60 "$PVISOR" run --backend proc --no-raw --timeout 50 \
	--net "user,hostfwd=udp:127.0.0.1:$up-:7,hostfwd=tcp:127.0.0.1:$tp-:7" \
	"$GUEST/netecho" -- stall=4 </dev/null >"$TMP/stall.out" 2>&1 &
pid=$!
for i in $(seq 100); do
	grep -q '^netecho: ready' "$TMP/stall.out" && break
	sleep 0.1
done
vpid=$(pgrep -P $pid | head -1)
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$vpid/status" 2>/dev/null || echo 0; }
rss0=$(rss)
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(30000):
    s.sendto(b"z" * 1400, ("127.0.0.1", int(sys.argv[1])))' "$up"
rss1=$(rss)
for i in $(seq 100); do
	grep -q '^netecho: reading again' "$TMP/stall.out" && break
	sleep 0.1
done
why=$(talk 127.0.0.1 "$up" "$tp" 2>&1)
talked=$?
wait $pid
rc=$?
grown=$(( rss1 - rss0 ))
if [ $talked -eq 0 ] && [ $rc -eq 0 ] && [ -n "$vpid" ] && [ $grown -lt 8192 ]; then
	ok "proc: 42 MB flooded at a guest that stopped reading: pvisor grew ${grown} KiB, then served it again"
else
	not_ok "flood at a stalled guest (exit $rc, pid '$vpid', grew ${grown} KiB): $why $(head -c 400 "$TMP/stall.out")"
fi

# TAP, inside a network namespace of our own (loopback/test addresses).
if [ "$(id -u)" != 0 ]; then
	skip "tap: netecho over a TAP device" "needs root for a network namespace"
elif tap_why=$(host_lacks tap) && [ -n "$tap_why" ]; then
	skip "tap: netecho over a TAP device" "no TAP here (pvisor host --query tap): $tap_why"
elif ! command -v ip >/dev/null; then
	skip "tap: netecho over a TAP device" "no ip(8)"
else
	ns=pvisor-net-$$
	if ip netns add "$ns" 2>"$TMP/ns.err"; then
		ip -n "$ns" link set lo up
		ip -n "$ns" tuntap add dev pvtap0 mode tap
		ip -n "$ns" addr add 192.0.2.1/24 dev pvtap0
		ip -n "$ns" link set pvtap0 up
		ip netns exec "$ns" timeout -k 5 60 "$PVISOR" run --backend proc --no-raw \
			--timeout 50 --net tap,ifname=pvtap0 "$GUEST/netecho" -- ip=192.0.2.2 \
			</dev/null >"$TMP/tap.out" 2>&1 &
		pid=$!
		for i in $(seq 100); do
			grep -q '^netecho: ready' "$TMP/tap.out" && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		why=$(ip netns exec "$ns" bash -c "$(declare -f talk); talk 192.0.2.2 7 7 icmp" 2>&1)
		talked=$?
		wait $pid
		rc=$?
		if [ $talked -eq 0 ] && [ $rc -eq 0 ] && grep -q '^netecho: quit: udp 2[0-9] tcp 1 icmp [1-9]' "$TMP/tap.out"; then
			ok "tap: netecho answers ping, UDP and TCP over a TAP device in a namespace"
		else
			not_ok "tap: netecho over TAP (exit $rc): $why $(head -c 600 "$TMP/tap.out")"
		fi
		ip netns del "$ns"
		# A device that is no TAP: one clear error, non-zero, nothing left.
		"$PVISOR" run --net tap,ifname=lo "$GUEST/hello" >"$TMP/tapbad.out" 2>&1 </dev/null
		rc=$?
		if [ $rc -ne 0 ] && grep -q -- "--net tap: cannot attach to 'lo'" "$TMP/tapbad.out" &&
			! grep -q Hello "$TMP/tapbad.out"; then
			ok "tap: a device that is no TAP is a clear error (exit $rc)"
		else
			not_ok "tap: attach error (exit $rc): $(head -c 300 "$TMP/tapbad.out")"
		fi
	else
		skip "tap: netecho over a TAP device" "ip netns add failed: $(head -c 200 "$TMP/ns.err")"
	fi
fi

# This test's guests only (other pvisor runs may share the machine).
mine_gone() { ! pgrep -f "$GUEST/(netecho|t_net_hostile)" >/dev/null; }
check "no pvisor process of this test is left behind" mine_gone
