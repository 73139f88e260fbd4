#!/bin/bash
# Bad command lines and bad images: one clear error line, a non-zero exit,
# nothing left behind.
source "$(dirname "$0")/lib.sh"

# expect_usage_error DESC PATTERN ARGS...: exit 2, one stderr line matching.
expect_usage_error() {
	local desc=$1 pattern=$2 rc
	shift 2
	"$PVISOR" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
		grep -q -- "$pattern" "$TMP/err" && [ ! -s "$TMP/out" ]; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc, stderr: $(head -c 300 "$TMP/err"))"
	fi
}

HELLO=$GUEST/hello
check "pvisor --help documents run" bash -c "'$PVISOR' --help | grep -q 'run \[OPTIONS\] KERNEL'"
check "pvisor run --help documents every flag" bash -c \
	"h=\$('$PVISOR' run --help); for f in --backend --kernel --initrd --mem --cpus --cmdline --timeout --no-raw --verbose --quiet --help; do grep -q -- \"\$f\" <<<\"\$h\" || exit 1; done"
expect_usage_error "no command" "no command" 
expect_usage_error "unknown command" "unknown command 'frobnicate'" frobnicate
expect_usage_error "unknown flag" "unknown option '--frob'" run --frob "$HELLO"
expect_usage_error "no kernel" "no kernel given" run
expect_usage_error "missing kernel file" "kernel $TMP/nope: No such file or directory" run "$TMP/nope"
printf 'this is not a kernel\n' >"$TMP/text"
expect_usage_error "non-ELF kernel" "not an ELF file or a bzImage" run "$TMP/text"
expect_usage_error "ELF without Xen notes" "no Xen ELF notes" run /bin/true
head -c 100 "$HELLO" >"$TMP/truncated" 2>/dev/null
expect_usage_error "truncated ELF" "kernel $TMP/truncated:" run "$TMP/truncated"
expect_usage_error "bad --mem" "--mem: 'lots' is not a size" run --mem lots "$HELLO"
expect_usage_error "--mem too small for the image" "too small" run --backend proc --mem 4M "$GUEST/t_big"
expect_usage_error "--cpus 0" "--cpus: '0'" run --cpus 0 "$HELLO"
expect_usage_error "unknown backend" "unknown backend 'xen'" run --backend xen "$HELLO"
expect_usage_error "bad --timeout" "--timeout" run --timeout -3 "$HELLO"
expect_usage_error "missing initrd" "initrd $TMP/nope: No such file" run --initrd "$TMP/nope" "$HELLO"

# --backend kvm where /dev/kvm does not work: hide it in a mount namespace.
if unshare -m true 2>/dev/null; then
	unshare -m bash -c "mount --bind /dev/null /dev/kvm 2>/dev/null || mount -t tmpfs none /dev; '$PVISOR' run --backend kvm '$HELLO'" \
		</dev/null >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -eq 2 ] && grep -q "backend kvm: not available here" "$TMP/err"; then
		ok "--backend kvm without a working /dev/kvm"
	else
		not_ok "--backend kvm without a working /dev/kvm (exit $rc: $(cat "$TMP/err"))"
	fi
else
	skip "--backend kvm without a working /dev/kvm" "cannot create a mount namespace"
fi
check "nothing left behind" no_leftovers
