#!/bin/bash
# The control API (issue 13; docs/control-api.md): `pvisor run --api PATH`
# with `pvisor ctl PATH ...` and raw JSON lines against a running pvsh that
# prints a tick every 50 ms: status, pause (the ticks stop) and resume (they
# go on), sysrq, shutdown through the guest's control/shutdown watch (exit
# 0), a guest that ignores it (hard stop after the timeout, exit 143),
# shutdown --force, and abuse: invalid JSON, unknown commands, a 1 MiB line,
# 100 clients at once, clients that leave mid-line and mid-shutdown.
source "$(dirname "$0")/lib.sh"


source "$(dirname "$0")/ctl_lib.sh"
# field JSON PYEXPR: evaluates PYEXPR on the parsed JSON `r`.
ticks() { grep -c '^tick ' "$out"; }

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		skip "$be: control API" "kvm unavailable: $KVM_WHY"
		continue
	fi
	SOCK=$TMP/api-$be.sock
	out=$TMP/run.$be
	start "$be" "$GUEST/pvsh" -- "ticks 100000 50"
	if ! wait_for "$out" '^tick 3 ' 20; then
		not_ok "$be: pvsh did not start ticking: $(head -c 800 "$out")"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		continue
	fi
	check "$be: the API socket is a socket, mode 0600" \
		test -S "$SOCK" -a "$(stat -c %a "$SOCK")" = 600

	st=$(ctl status)
	if [ "$(field "$st" 'r["state"], r["backend"], r["vcpus"][0]["id"], r["memory"]["bytes"]>>20, r["uptime_s"] > 0, r["exits"] > 0, "poweroff" in r["guest_features"]')" = "('running', '$be', 0, 64, True, True, True)" ]; then
		ok "$be: status: running on $be, 1 vCPU, 64 MiB, uptime and exit counts, the guest's poweroff feature"
	else
		not_ok "$be: status: $st"
	fi

	# pause: no tick for a second; resume: ticks again.
	p=$(ctl pause)
	a=$(ticks)
	sleep 1
	b=$(ticks)
	st=$(ctl status)
	if [ "$(field "$p" 'r["state"]')" = paused ] && [ "$b" -le $((a + 1)) ] &&
		[ "$(field "$st" 'r["state"], r["vcpus"][0]["state"]')" = "('paused', 'paused')" ]; then
		ok "$be: pause stops the guest's clock-driven output ($a then $b ticks over 1 s) and status says paused"
	else
		not_ok "$be: pause: reply $p, ticks $a then $b, status $st"
	fi
	r=$(ctl shutdown)
	rc=$?
	if [ $rc -eq 1 ] && kill -0 "$pid" 2>/dev/null; then
		ok "$be: shutdown of a paused guest is refused (exit 1), the guest stays"
	else
		not_ok "$be: shutdown while paused: exit $rc, $r"
	fi
	ctl resume >/dev/null
	a=$(ticks)
	sleep 0.6
	b=$(ticks)
	if [ "$b" -ge $((a + 5)) ]; then
		ok "$be: resume restarts the output ($a then $b ticks over 0.6 s)"
	else
		not_ok "$be: resume: ticks $a then $b"
	fi

	ctl sysrq h >/dev/null
	check "$be: sysrq h reaches the guest's control/sysrq watch" wait_for "$out" "^kit: sysrq 'h'" 5

	# Abuse, raw on the socket.
	abuse=$(timeout 60 python3 - "$SOCK" <<'PY'
import json, os, signal, socket, sys, time
path = sys.argv[1]
files = {}
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10)
    files[s] = s.makefile("rb"); return s
def line(s):
    b = files[s].readline()
    return json.loads(b) if b else None
def ask(s, req):
    s.sendall(req + b"\n"); return line(s)
s = conn()
r = ask(s, b"{not json")
print("invalid-json", r["ok"], r["error"]["code"])
r = ask(s, b'{"command":"frobnicate","id":"a1"}')
print("unknown", r["ok"], r["error"]["code"], r["id"])
r = ask(s, b'{"command":"status","id":9}')
print("after-errors", r["ok"], r["id"], r["result"]["state"])
# 1 MiB on one line: one error, then the same connection still serves.
s.sendall(b'{"command":"status","pad":"' + b"x" * (1 << 20) + b'"}\n')
r = line(s)
print("mib", r["ok"], r["error"]["code"])
r = ask(s, b'{"command":"status"}')
print("after-mib", r["ok"])
# Pipelined requests in one write: replies in order.
s.sendall(b'{"command":"status","id":1}\n{"command":"status","id":2}\n')
print("pipelined", line(s)["id"], line(s)["id"])
s.close()
# 100 clients at once, all connected before any asks.
cs = [conn() for _ in range(100)]
for c in cs: c.sendall(b'{"command":"status"}\n')
print("clients", sum(1 for c in cs if line(c)["ok"]))
for c in cs: files.pop(c).close(); c.close()
# Leaving mid-line, and a client process killed mid-request.
for _ in range(20):
    c = conn(); c.sendall(b'{"command":"sta'); files.pop(c).close(); c.close()
pid = os.fork()
if pid == 0:
    c = conn(); c.sendall(b'{"command":"status"'); time.sleep(30); os._exit(0)
time.sleep(0.2); os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
s = conn()
print("survives", ask(s, b'{"command":"status"}')["ok"])
PY
)
	expect='invalid-json False invalid-json
unknown False unknown-command a1
after-errors True 9 running
mib False line-too-long
after-mib True
pipelined 1 2
clients 100
survives True'
	if [ "$abuse" = "$expect" ]; then
		ok "$be: abuse: invalid JSON, unknown command, 1 MiB line (error, connection kept), pipelining, 100 clients, clients gone mid-request"
	else
		not_ok "$be: abuse: $abuse"
	fi
	check "$be: the guest is still ticking after the abuse" kill -0 "$pid"

	# A client that leaves while its shutdown waits changes nothing.
	r=$(ctl shutdown --timeout 20)
	rc=$?
	wait "$pid"
	prc=$?
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["how"], r["exit_status"]')" = "('guest', 0)" ] &&
		[ $prc -eq 0 ] && grep -q '^kit: control/shutdown: poweroff' "$out"; then
		ok "$be: shutdown: the guest powers off through control/shutdown, pvisor exits 0"
	else
		not_ok "$be: shutdown: ctl exit $rc ($r), pvisor exit $prc: $(tail -c 400 "$out")"
	fi
	check "$be: the API socket is gone after pvisor" test ! -e "$SOCK"

	# A guest that does not watch control/shutdown: stopped after the timeout.
	start "$be" "$GUEST/t_spin"
	wait_for "$out" '^SPIN start' 20
	t0=$(date +%s%N)
	r=$(ctl shutdown --timeout 0.5)
	rc=$?
	wait "$pid"
	prc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $rc -eq 0 ] && [ "$(field "$r" 'r["how"]')" = forced ] && [ $prc -eq 143 ] &&
		grep -q 'did not shut down within 0.5 s' "$out"; then
		ok "$be: shutdown of a guest that ignores it: hard stop after the timeout (${ms} ms), exit 143"
	else
		not_ok "$be: ignored shutdown: ctl exit $rc ($r), pvisor exit $prc: $(tail -c 400 "$out")"
	fi

	start "$be" "$GUEST/t_spin"
	wait_for "$out" '^SPIN start' 20
	(sleep 0.2; timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"command\":\"shutdown\",\"timeout\":1}\n"); s.close()' "$SOCK")
	wait "$pid"
	prc=$?
	if [ $prc -eq 143 ]; then
		ok "$be: a client that leaves while its shutdown waits: the shutdown still happens (exit 143)"
	else
		not_ok "$be: shutdown client gone: pvisor exit $prc"
	fi

	start "$be" "$GUEST/t_spin"
	wait_for "$out" '^SPIN start' 20
	r=$(ctl shutdown --force)
	wait "$pid"
	prc=$?
	if [ "$(field "$r" 'r["how"]')" = forced ] && [ $prc -eq 143 ]; then
		ok "$be: shutdown --force stops at once (exit 143)"
	else
		not_ok "$be: shutdown --force: $r, pvisor exit $prc"
	fi
done

# The command line.
SOCK=$TMP/none.sock
err=$("$PVISOR" ctl "$SOCK" status 2>&1)
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q 'cannot connect' <<<"$err"; then
	ok "ctl with no server: one line, exit 2"
else
	not_ok "ctl with no server: exit $rc: $err"
fi
err=$("$PVISOR" ctl "$SOCK" 2>&1)
rc=$?
check "ctl without a command: exit 2 ($err)" test $rc -eq 2
err=$("$PVISOR" ctl "$SOCK" sysrq 2>&1)
rc=$?
check "ctl sysrq without a key: exit 2 ($err)" test $rc -eq 2
check "ctl --help" "$PVISOR" ctl --help
NOTSOCK=$TMP/not-a-socket
echo keep >"$NOTSOCK"
run_guest proc "$TMP/notsock.out" --api "$NOTSOCK" "$GUEST/hello"
rc=$?
if [ $rc -ne 0 ] && grep -q 'not a socket' "$TMP/notsock.out" && [ "$(cat "$NOTSOCK")" = keep ]; then
	ok "--api at a path that is not a socket is refused (exit $rc) and left alone"
else
	not_ok "--api not-a-socket (exit $rc): $(head -c 600 "$TMP/notsock.out")"
fi

check "no pvisor left behind" no_leftovers
