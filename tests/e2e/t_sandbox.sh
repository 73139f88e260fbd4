#!/bin/bash
# pvisor confines itself (docs/security.md): every thread of a running
# pvisor is under seccomp with no new privileges; a thread that tries what
# an exploited one would (the sanitizer build's test hook) is stopped with
# a report naming the thread and the call; Landlock keeps set-up away from
# files that are not the guest's, and a read-only image read-only.
source "$(dirname "$0")/lib.sh"
PVISOR_DEBUG=$ROOT/build/pvisor-asan

# Starts a spinning guest with a disk and a NIC; waits for its first line.
start_spinner() { # BACKEND OUT [pvisor options...]
	local be=$1 out=$2
	shift 2
	truncate -s 8M "$TMP/spin.img"
	"$PVISOR" run --backend "$be" --no-raw --timeout 8 "$@" \
		--disk "$TMP/spin.img" --net user "$GUEST/t_spin" </dev/null >"$out" 2>&1 &
	spinner=$!
	for _ in $(seq 100); do grep -q 'SPIN start' "$out" && return 0; sleep 0.1; done
	return 1
}

# "NAME Seccomp NoNewPrivs CapEff" for every thread of PID.
thread_states() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(cat "$t/comm") $(awk '/^Seccomp:/ {s=$2} /^NoNewPrivs:/ {n=$2} /^CapEff:/ {c=$2}
			END {print s, n, c}' "$t/status")"
	done
}

for be in $BACKENDS; do
	if [ "$be" = kvm ] && [ -n "$KVM_WHY" ]; then
		for t in "every thread confined" "sandbox off"; do skip "$be: $t" "kvm unavailable: $KVM_WHY"; done
		continue
	fi
	if start_spinner "$be" "$TMP/on.$be"; then
		states=$(thread_states $spinner)
		names=$(awk '{print $1}' <<<"$states" | sort | tr '\n' ' ')
		if ! grep -qv ' 2 1 0000000000000000$' <<<"$states" && grep -q pv-vcpu0 <<<"$names" &&
			grep -q pv-events <<<"$names" && grep -q pv-blk-xvda <<<"$names" &&
			grep -q pv-net0 <<<"$names"; then
			ok "$be: every thread confined, Seccomp: 2, NoNewPrivs: 1, no capabilities ($names)"
		else
			not_ok "$be: thread states: $(tr '\n' ';' <<<"$states")"
		fi
	else
		not_ok "$be: the guest did not start: $(head -c 400 "$TMP/on.$be")"
	fi
	kill $spinner 2>/dev/null; wait $spinner 2>/dev/null

	if start_spinner "$be" "$TMP/off.$be" --sandbox=off; then
		states=$(thread_states $spinner)
		if ! grep -qv ' 0 0 [0-9a-f]*$' <<<"$states"; then
			ok "$be: --sandbox=off leaves every thread unconfined"
		else
			not_ok "$be: --sandbox=off: $(tr '\n' ';' <<<"$states")"
		fi
	else
		not_ok "$be: --sandbox=off: the guest did not start: $(head -c 400 "$TMP/off.$be")"
	fi
	kill $spinner 2>/dev/null; wait $spinner 2>/dev/null
done

# What an exploited thread would try, in each role.
img=$TMP/hook.img
truncate -s 8M "$img"
for hook in block:execve block:open=/etc/passwd vcpu:socket vcpu:execve events:ptrace net:execve \
	block-io:socket; do
	where=${hook%%:*} what=${hook#*:}
	call=${what%%=*}
	[ "$call" = open ] && call=openat
	extra=()
	[ "$where" = block-io ] && extra=(env PVISOR_BLK_ENGINE=threads)
	PVISOR_SANDBOX_TEST=$hook timeout -k 5 30 "${extra[@]}" "$PVISOR_DEBUG" run --backend proc --no-raw \
		--timeout 10 --disk "$img" --net user "$GUEST/hello" </dev/null >"$TMP/hook.out" 2>&1
	rc=$?
	if [ $rc -eq 127 ] && grep -q "^pvisor: sandbox: thread pv-[a-z0-9-]* ($where) made a forbidden system call: $call " "$TMP/hook.out" &&
		! grep -q 'sandbox test:' "$TMP/hook.out"; then
		ok "a $where thread attempting $what is stopped with a report (exit 127)"
	else
		not_ok "$hook (exit $rc): $(head -c 600 "$TMP/hook.out")"
	fi
done

# Landlock: set-up may open the guest's files, nothing else.
if [ "$("$PVISOR" host --query landlock >/dev/null 2>&1; echo $?)" -ne 0 ]; then
	for t in "outside file" "read-only image"; do skip "Landlock: $t" "$("$PVISOR" host --query landlock 2>&1)"; done
else
	PVISOR_SANDBOX_TEST=setup:open=/etc/passwd timeout -k 5 30 "$PVISOR_DEBUG" run --backend proc --no-raw \
		--timeout 10 --disk "$img" "$GUEST/hello" </dev/null >"$TMP/ll.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q 'sandbox test: setup open=/etc/passwd: Permission denied' "$TMP/ll.out" &&
		grep -q 'Hello from' "$TMP/ll.out"; then
		ok "Landlock: /etc/passwd cannot be opened once pvisor is confined; the guest runs"
	else
		not_ok "Landlock outside file (exit $rc): $(head -c 600 "$TMP/ll.out")"
	fi
	PVISOR_SANDBOX_TEST=setup:write=$img timeout -k 5 30 "$PVISOR_DEBUG" run --backend proc --no-raw \
		--timeout 10 --disk "$img,ro" "$GUEST/hello" </dev/null >"$TMP/ro.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q "sandbox test: setup write=$img: Permission denied" "$TMP/ro.out"; then
		ok "Landlock: a read-only image cannot be opened for writing"
	else
		not_ok "Landlock read-only image (exit $rc): $(head -c 600 "$TMP/ro.out")"
	fi
fi

# Landlock behind the 9P server's own checks: its thread opening a file
# beside the share (as a bypassed RESOLVE_BENEATH would) is refused.
if "$PVISOR" host --query landlock >/dev/null 2>&1; then
	mkdir -p "$TMP/share" && echo secret >"$TMP/secret"
	PVISOR_SANDBOX_TEST=fs:open=$TMP/share/../secret timeout -k 5 30 "$PVISOR_DEBUG" run --backend proc \
		--no-raw --timeout 10 --share "$TMP/share,tag=s" "$GUEST/hello" </dev/null >"$TMP/fs.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q "sandbox test: fs open=$TMP/share/../secret: Permission denied" "$TMP/fs.out"; then
		ok "Landlock: the 9P server's thread cannot open ../ beside its share"
	else
		not_ok "Landlock 9P escape (exit $rc): $(head -c 600 "$TMP/fs.out")"
	fi
else
	skip "Landlock: 9P escape" "$("$PVISOR" host --query landlock 2>&1)"
fi

# --user: started as root, every thread and the guest process run as that
# user with no capabilities; its sockets are its own.
if [ "$(id -u)" -ne 0 ]; then
	skip "--user nobody" "needs root (this test runs as uid $(id -u))"
elif ! nobody=$(id -u nobody 2>/dev/null); then
	skip "--user nobody" "this host has no user nobody"
elif start_spinner proc "$TMP/user.out" --user nobody --xenstore-socket "$TMP/user-xs.sock"; then
	uids=$(for t in /proc/$spinner/task/*; do awk '/^Uid:/ {print $3} /^Gid:/ {print $3}' "$t/status"; done | sort -u | tr '\n' ' ')
	guest=$(pgrep -P $spinner -x pvisor-guest | head -1)
	guid=$(awk '/^Uid:/ {print $3}' /proc/$guest/status 2>/dev/null)
	gcap=$(awk '/^CapEff:/ {print $2}' /proc/$guest/status 2>/dev/null)
	owner=$(stat -c %u "$TMP/user-xs.sock" 2>/dev/null)
	if [ "$uids" = "$(id -g nobody) $nobody " ] || [ "$uids" = "$nobody " ]; then
		if [ "$guid" = "$nobody" ] && [ "$gcap" = 0000000000000000 ] && [ "$owner" = "$nobody" ]; then
			ok "--user nobody: every thread, the guest process ($guest) and the socket are nobody's, no capabilities"
		else
			not_ok "--user nobody: guest process uid '$guid' caps '$gcap', socket owner '$owner'"
		fi
	else
		not_ok "--user nobody: thread uids/gids '$uids'"
	fi
	# pvisor killed outright: its guest process must follow (the
	# parent-death signal, which the switch to nobody would clear if it
	# came first).  Dead is gone or a zombie its new parent has not reaped.
	kill -9 $spinner 2>/dev/null; wait $spinner 2>/dev/null
	gstate=gone
	for _ in $(seq 30); do
		gstate=$(ps -o stat= -p "$guest" 2>/dev/null | cut -c1)
		case "$gstate" in ''|Z) break ;; esac
		sleep 0.1
	done
	case "$gstate" in
	''|Z) ok "--user nobody: the guest process dies with a SIGKILLed pvisor" ;;
	*) not_ok "--user nobody: guest process $guest still there (state $gstate) 3 s after pvisor's SIGKILL"
	   kill -9 "$guest" 2>/dev/null ;;
	esac
else
	not_ok "--user nobody: the guest did not start: $(head -c 400 "$TMP/user.out")"
fi
"$PVISOR" run --backend proc --user no-such-user-pvisor "$GUEST/hello" >"$TMP/nouser.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/nouser.out")" -eq 1 ] && grep -q -- '--user no-such-user-pvisor: no such user' "$TMP/nouser.out"; then
	ok "--user with an unknown name is one clear line, exit 2"
else
	not_ok "--user no-such-user (exit $rc): $(head -c 300 "$TMP/nouser.out")"
fi

# --sandbox=log runs the guest; bad values are one clear line.
run_guest proc "$TMP/log.out" --sandbox=log "$GUEST/hello"
rc=$?
if [ $rc -eq 0 ] && grep -q 'Hello from' "$TMP/log.out"; then
	ok "--sandbox=log runs the guest"
else
	not_ok "--sandbox=log (exit $rc): $(head -c 400 "$TMP/log.out")"
fi
"$PVISOR" run --sandbox=maybe "$GUEST/hello" >"$TMP/bad.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/bad.out")" -eq 1 ] && grep -q -- '--sandbox' "$TMP/bad.out"; then
	ok "--sandbox=maybe is refused with one line"
else
	not_ok "--sandbox=maybe (exit $rc): $(head -c 300 "$TMP/bad.out")"
fi
PVISOR_SANDBOX=maybe "$PVISOR" run --backend proc "$GUEST/hello" >"$TMP/env.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q 'PVISOR_SANDBOX=maybe' "$TMP/env.out"; then
	ok "PVISOR_SANDBOX=maybe is refused"
else
	not_ok "PVISOR_SANDBOX=maybe (exit $rc): $(head -c 300 "$TMP/env.out")"
fi
