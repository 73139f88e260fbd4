#!/bin/bash
# What pvisor knows about the host (`pvisor host`, src/core/hostinfo.c):
# every feature line is there and agrees with what the shell can see
# (/proc/cpuinfo, /dev/kvm, /sys/module), --query answers with the same
# yes/no; an upper-half kernel (Debian's bzImage) where only the proc backend
# could run it is one clear error line and exit 2 before any guest memory is
# built; `make run` (tools/run-default.sh) boots pvsh on such a host and says
# in one line why not Debian.
source "$(dirname "$0")/lib.sh"

FEATURES="kvm kvm-pvm fsgsbase seccomp io_uring tap memfd"

"$PVISOR" host >"$TMP/host" 2>"$TMP/host.err"
rc=$?
check "pvisor host exits 0 with nothing on stderr" [ $rc -eq 0 -a ! -s "$TMP/host.err" ]

# answer NAME: yes, no or unknown, as the report says.
answer() { sed -n "s/^feature $1: \(yes\|no\|unknown\) — .*/\1/p" "$TMP/host"; }

missing=
for f in $FEATURES; do
	grep -qE "^feature $f: (yes|no) — .+; without it: .+" "$TMP/host" || missing="$missing $f"
done
check "pvisor host has a yes/no line with the cost for every feature (missing:${missing:- none})" \
	[ -z "$missing" ]
check "pvisor host has a line per backend and per guest kind" \
	[ "$(grep -cE '^backend (kvm|proc): (available|unavailable: .+)$' "$TMP/host")" -eq 2 -a \
	"$(grep -cE '^guest (lower-half|upper-half): (kvm|proc|none) — .+' "$TMP/host")" -eq 2 ]

# --query says what the report says, with the exit status.
bad=
for f in $FEATURES; do
	"$PVISOR" host --query "$f" >"$TMP/q" 2>&1
	rc=$?
	case "$(answer "$f"):$rc" in
	yes:0 | no:1) [ "$(wc -l <"$TMP/q")" -eq 1 ] || bad="$bad $f(lines)" ;;
	*) bad="$bad $f($(answer "$f"),exit $rc)" ;;
	esac
done
check "pvisor host --query FEATURE: exit 0 for yes, 1 for no, one line (wrong:${bad:- none})" [ -z "$bad" ]
"$PVISOR" host --query bogus >"$TMP/q" 2>"$TMP/q.err"
rc=$?
check "pvisor host --query of an unknown name: exit 2, one line on stderr" \
	[ $rc -eq 2 -a "$(wc -l <"$TMP/q.err")" -eq 1 ]

# The answers agree with what the shell sees.
if grep -qw fsgsbase /proc/cpuinfo; then cpu=yes; else cpu=no; fi
check "fsgsbase: pvisor says '$(answer fsgsbase)', /proc/cpuinfo says '$cpu'" [ "$(answer fsgsbase)" = "$cpu" ]
if [ -e /dev/kvm ]; then
	check "kvm: /dev/kvm exists; pvisor says '$(answer kvm)' ($(sed -n 's/^feature kvm: [a-z]* — //p' "$TMP/host" | cut -d';' -f1))" \
		[ -n "$(answer kvm)" ]
else
	check "kvm: no /dev/kvm, and pvisor says no" [ "$(answer kvm)" = no ]
fi
if [ "$(answer kvm-pvm)" = yes ]; then
	check "kvm-pvm: yes with /sys/module/kvm_pvm and a working kvm" [ -e /sys/module/kvm_pvm -a "$(answer kvm)" = yes ]
else
	check "kvm-pvm: no" [ "$(answer kvm-pvm)" = no ]
fi
grep -q '^backend kvm: available' "$TMP/host" && kvm_be=yes || kvm_be=no
check "pvisor backends agrees with pvisor host on kvm" \
	bash -c "'$PVISOR' backends | grep -q '^kvm: $([ $kvm_be = yes ] && echo available || echo unavailable)'"
"$PVISOR" host --query guest:upper-half >/dev/null 2>&1
rc=$?
check "guest:upper-half is answered yes exactly where kvm works (exit $rc, kvm $kvm_be)" \
	[ $rc -eq $([ $kvm_be = yes ] && echo 0 || echo 1) ]
lower=$("$PVISOR" host --query guest:lower-half 2>&1)
if [ "$lower" = proc ] || [ "$lower" = kvm ]; then
	run_guest "$lower" "$TMP/hello" "$GUEST/hello"
	rc=$?
	check "hello runs on '$lower', the backend pvisor host names for lower-half guests (exit $rc)" \
		[ $rc -eq 0 ]
else
	skip "hello runs on the backend pvisor host names for lower-half guests" "none: $lower"
fi

# --- an upper-half kernel where only proc could run it ---
kernel=$(ls "$ROOT"/build/kernel/cloud-amd64/vmlinuz "$ROOT"/build/kernel/*/vmlinuz* 2>/dev/null | head -n 1)
# expect_refusal DESC OUT CMD...: exit 2 within 10 s, exactly one line
# (stderr), naming the kernel, why it needs /dev/kvm, what the host lacks.
expect_refusal() {
	local desc=$1 out=$2 rc
	shift 2
	timeout -k 2 10 "$@" </dev/null >"$out.stdout" 2>"$out"
	rc=$?
	if [ $rc -eq 2 ] && [ ! -s "$out.stdout" ] && [ "$(wc -l <"$out")" -eq 1 ] &&
		grep -qF "pvisor: kernel $kernel (a Linux bzImage" "$out" &&
		grep -qF "needs the kvm backend (/dev/kvm)" "$out" &&
		grep -q "in a host process, which can only use the lower half" "$out" &&
		grep -qE "this host has no usable /dev/kvm \(.+\)|run it with --backend kvm, which works here" "$out"; then
		ok "$desc: exit 2, one line: $(head -c 160 "$out")..."
	else
		not_ok "$desc (exit $rc): $(head -c 600 "$out") $(head -c 200 "$out.stdout")"
	fi
}
if [ -z "$kernel" ]; then
	for t in "--backend proc" "automatic, kvm unavailable" "before guest memory"; do
		skip "Debian bzImage, $t" "no kernel in build/kernel (tools/fetch-kernel.sh)"
	done
else
	expect_refusal "Debian bzImage with --backend proc" "$TMP/refuse.proc" \
		"$PVISOR" run --backend proc --no-raw --mem 256M "$kernel"
	# Automatic choice on a host without kvm: here, or with /dev/kvm
	# hidden in a mount namespace.
	if [ $kvm_be = no ]; then
		expect_refusal "Debian bzImage, automatic, kvm unavailable" "$TMP/refuse.auto" \
			"$PVISOR" run --no-raw --mem 256M "$kernel"
	elif unshare -m true 2>/dev/null; then
		expect_refusal "Debian bzImage, automatic, /dev/kvm hidden" "$TMP/refuse.auto" \
			unshare -m bash -c "mount --bind /dev/null /dev/kvm; exec '$PVISOR' run --no-raw --mem 256M '$kernel'"
	else
		skip "Debian bzImage, automatic, kvm unavailable" "kvm works here and no mount namespace to hide it"
	fi
	# The default --mem (64M) is too small for this kernel, which the
	# domain builder would say; the refusal comes first.
	timeout -k 2 10 "$PVISOR" run --backend proc --no-raw "$kernel" </dev/null >"$TMP/early" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && grep -q "needs the kvm backend" "$TMP/early" && ! grep -q "too small" "$TMP/early"; then
		ok "Debian bzImage, before guest memory: refused before the domain builder runs"
	else
		not_ok "Debian bzImage, before guest memory (exit $rc): $(head -c 400 "$TMP/early")"
	fi
fi

# --- make run on a host where Debian cannot run ---
if [ $kvm_be = no ]; then
	timeout -k 5 60 "$ROOT/tools/run-default.sh" --no-raw -- "echo from-make-run; exit 4" \
		</dev/null >"$TMP/mkrun" 2>"$TMP/mkrun.err"
	rc=$?
	n=$(grep -c '^run: ' "$TMP/mkrun.err")
	if [ $rc -eq 4 ] && grep -q from-make-run "$TMP/mkrun" && [ "$n" -eq 1 ] &&
		grep -q '^run: not booting Debian: .*needs the kvm backend.*; booting pvsh instead' "$TMP/mkrun.err"; then
		ok "make run without kvm boots pvsh and says why not Debian in one line"
	else
		not_ok "make run without kvm (exit $rc, $n run: lines): $(head -c 600 "$TMP/mkrun.err")"
	fi
else
	skip "make run without kvm boots pvsh" "kvm works here: make run boots Debian"
fi
check "nothing left behind" no_leftovers
