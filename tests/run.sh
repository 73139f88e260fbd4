#!/bin/bash
# Runs every test: unit tests (cmocka, TAP), end-to-end tests (shell, TAP),
# and the fuzz harnesses for a bounded time.  Prints each result and ends
# with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
passed=0 failed=0 skipped=0
failures=()

# Reads TAP on stdin, echoes it, and counts results for suite $1.
count_tap() {
	local suite=$1 line
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		*"# SKIP"* | *"# skip"*)
			echo "SKIPPED ($suite): ${line#*# [Ss][Kk][Ii][Pp]}"
			skipped=$((skipped + 1)) ;;
		"not ok"*)
			failed=$((failed + 1)); failures+=("$suite: ${line#not ok }") ;;
		ok*)
			passed=$((passed + 1)) ;;
		esac
	done
}

echo "== unit tests"
for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	echo "# $t"
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" 2>&1)
	rc=$?
	count_tap "$(basename "$t")" < <(printf '%s\n' "$out")
	# A crash or an assertion outside a test shows only in the exit code.
	if [ $rc -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
		echo "not ok - $(basename "$t") exited with status $rc"
		failed=$((failed + 1)); failures+=("$(basename "$t"): exit $rc")
	fi
done

echo "== valgrind (plain builds of the unit tests)"
for t in build/tests-plain/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	# Not these: valgrind cannot follow KVM_RUN; the proc guest process
	# unmaps everything valgrind put in it; valgrind 3.19 does not know
	# openat2 (ENOSYS), which the 9P server requires, nor seccomp(2), with
	# which libseccomp asks whether the kernel has SCMP_ACT_LOG before it
	# compiles the log-mode filters test_seccomp_programs compares; the
	# sandbox's filters refuse valgrind's own calls (new code for its JIT).
	# Their host-side code runs under ASan/UBSan above.
	case "$name" in
	test_kvm_backend | test_proc_backend | test_p9_fs | test_sandbox | test_seccomp_programs) continue ;;
	esac
	if ! command -v valgrind >/dev/null; then
		count_tap "$name" <<<"ok - valgrind $name # SKIP valgrind not installed"
		continue
	fi
	if out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite --show-possibly-lost=no "$t" 2>&1); then
		count_tap "$name" <<<"ok - valgrind $name: no errors, no leaks"
	else
		rc=$?
		# What failed: valgrind's reports (99), a test that failed under
		# valgrind's slower threads, or the timeout (124).
		grep -E '==[0-9]+==|^not ok' <<<"$out" | head -40
		count_tap "$name" <<<"not ok - valgrind $name fails (exit $rc: 99 = valgrind errors or definite leaks)"
	fi
done

echo "== end-to-end tests"
for t in tests/e2e/t_*.sh; do
	[ -f "$t" ] || continue
	echo "# $t"
	count_tap "$(basename "$t" .sh)" < <(timeout 900 bash "$t" 2>&1; echo "# exit $?")
done

# The proc tests once more on the stub's arch_prctl fs/gs path, so that a
# host with FSGSBASE also proves the host without it.  Where the kernel does
# not enable FSGSBASE (AT_HWCAP2 bit 1, what pvisor reads too) that path is
# the one the tests above already took (pvisor host answers as the proc
# backend decides).
echo "== end-to-end tests on proc with PVISOR_PROC_FSGSBASE=off"
if build/pvisor host --query fsgsbase >/dev/null 2>&1; then
	for t in t_guests t_abuse t_hostile t_block t_scsi t_net t_pvsh t_hypercall_page; do
		[ -f "tests/e2e/$t.sh" ] || continue
		echo "# tests/e2e/$t.sh (proc, arch_prctl fs/gs)"
		count_tap "$t-nofsgsbase" < <(PVISOR_PROC_FSGSBASE=off PVISOR_TEST_BACKENDS=proc \
			timeout 900 bash "tests/e2e/$t.sh" 2>&1; echo "# exit $?")
	done
else
	count_tap "proc-nofsgsbase" <<<"ok - second proc pass with the fallback forced # SKIP this kernel does not enable FSGSBASE: every proc test above already ran on the arch_prctl path"
fi

echo "== fuzz harnesses (${FUZZ_SECONDS}s each)"
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=$(mktemp -d)
	[ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
	if out=$(timeout -k 10 $((FUZZ_SECONDS * 3 + 60)) "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$corpus/" "$corpus" 2>&1); then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' <<<"$out" | grep -o '[0-9]*$')
		[ -z "$execs" ] && execs=$(grep -Eo '#[0-9]+' <<<"$out" | tail -1)
		count_tap "$name" <<<"ok - $name ran ${FUZZ_SECONDS}s without a finding (${execs:-?} runs)"
	else
		tail -30 <<<"$out"
		count_tap "$name" <<<"not ok - $name found a crash"
	fi
	rm -rf "$corpus"
done

# The harnesses of parsers that run on a confined thread, once more with
# every input on a thread confined as that role's (fuzz/fuzz_sandbox.h): a
# call the parser needs and the role's list lacks is a finding.  Not here:
# the ELF and bzImage loaders (they run before pvisor confines itself), and
# the harnesses whose scaffolding makes memfds, sockets or directories per
# input (mmu, grant, xs_socket, p9_fs).
echo "== fuzz harnesses inside the sandbox (${FUZZ_SANDBOX_SECONDS:-3}s each)"
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	grep -q FUZZ_SANDBOXED "fuzz/$(basename "$f").c" 2>/dev/null || continue
	name=$(basename "$f")-sandboxed
	corpus=$(mktemp -d)
	[ -d "fuzz/corpus/$(basename "$f")" ] && cp -r "fuzz/corpus/$(basename "$f")/." "$corpus/"
	if out=$(PVISOR_FUZZ_SANDBOX=1 timeout -k 10 120 "$f" -max_total_time="${FUZZ_SANDBOX_SECONDS:-3}" -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$corpus/" "$corpus" 2>&1); then
		count_tap "$name" <<<"ok - $name: ${FUZZ_SANDBOX_SECONDS:-3}s on a confined thread, no call refused"
	else
		tail -30 <<<"$out"
		count_tap "$name" <<<"not ok - $name: a finding or a refused call"
	fi
	rm -rf "$corpus"
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failures"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
