#!/bin/bash
# Bad command lines and bad images: one clear error line, a non-zero exit,
# nothing left behind.
source "$(dirname "$0")/lib.sh"

# expect_usage_error DESC PATTERN ARGS...: exit 2, one stderr line matching,
# within 10 s (a FIFO once made pvisor wait forever).
expect_usage_error() {
	local desc=$1 pattern=$2 rc
	shift 2
	timeout -k 2 10 "$PVISOR" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
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
# Odd files and values: each one error line and exit 2, never a hang (a
# FIFO must not wait for a writer).
mkdir "$TMP/dir"
mkfifo "$TMP/fifo"
expect_usage_error "kernel is a directory" "kernel $TMP/dir: not a regular file" run "$TMP/dir"
expect_usage_error "kernel is /dev/zero" "kernel /dev/zero: not a regular file" run /dev/zero
expect_usage_error "kernel is a FIFO" "kernel $TMP/fifo: not a regular file" run "$TMP/fifo"
expect_usage_error "empty kernel" "kernel /dev/null: not a regular file" run /dev/null
: >"$TMP/empty"
expect_usage_error "empty kernel file" "kernel $TMP/empty:" run "$TMP/empty"
expect_usage_error "initrd is a FIFO" "initrd $TMP/fifo: not a regular file" run --initrd "$TMP/fifo" "$HELLO"
expect_usage_error "initrd is a directory" "initrd $TMP/dir: not a regular file" run --initrd "$TMP/dir" "$HELLO"
expect_usage_error "--mem 0" "--mem: 0 is out of range" run --mem 0 "$HELLO"
expect_usage_error "--mem negative" "--mem: '-5M' is not a size" run --mem -5M "$HELLO"
expect_usage_error "--mem overflowing" "--mem: '100000000T' is not a size" run --mem 100000000T "$HELLO"
expect_usage_error "--mem beyond the host's RAM" "is more than this host's" run --mem 64G "$HELLO"
expect_usage_error "--mem with junk" "--mem: '64Mx'" run --mem 64Mx "$HELLO"
expect_usage_error "--cpus huge" "--cpus: '99999'" run --cpus 99999 "$HELLO"
expect_usage_error "--timeout nan" "--timeout: 'nan'" run --timeout nan "$HELLO"
expect_usage_error "--timeout overflowing" "--timeout: '1e400'" run --timeout 1e400 "$HELLO"
expect_usage_error "--kernel and a kernel argument" "unexpected argument" run --kernel "$HELLO" "$HELLO"
expect_usage_error "--disk on a directory" "disk $TMP/dir: Is a directory" run --backend proc --disk "$TMP/dir" "$HELLO"
expect_usage_error "--disk on a FIFO" "disk $TMP/fifo: not a regular file or block device" run --backend proc --disk "$TMP/fifo,ro" "$HELLO"
expect_usage_error "--disk /dev/zero" "disk /dev/zero: not a regular file or block device" run --backend proc --disk /dev/zero "$HELLO"
expect_usage_error "--disk empty" "--disk: '' has no usable image path" run --disk "" "$HELLO"
expect_usage_error "--net garbage" "--net: 'garbage' is not a network type" run --net garbage "$HELLO"
expect_usage_error "--net empty" "--net: '' is not a network type" run --net "" "$HELLO"
expect_usage_error "--net bad hostfwd" "--net: bad rule 'hostfwd=xyz'" run --net user,hostfwd=xyz "$HELLO"
expect_usage_error "--net unknown option" "--net: unknown option 'bogus=1'" run --net user,bogus=1 "$HELLO"
long=$(printf 'a%.0s' $(seq 1100))
expect_usage_error "--cmdline too long" "longer than 1023 bytes" run --cmdline "$long" "$HELLO"

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
