/*
 * Hypercall benchmarks: the null hypercall, one that changes the fs base,
 * an exception (#UD) bounced to the guest's handler and resumed, a
 * 32-entry multicall, an event send -> upcall round trip, and timer
 * accuracy.  Each result is one line
 * "hcbench <name> key=value ..." for scripts.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/samples.h>
#include <kit/sched.h>
#include <kit/time.h>
#include <kit/traps.h>

#include "bench.h"

#define NULL_N 10000
#define MULTI_N 1000
#define MULTI_WIDTH 32
#define EVT_N 1000
#define TIMER_N 20
#define TRAP_N 2000

static void report(const char *name, uint64_t *s, unsigned n,
		   const char *extra)
{
	samples_report("hcbench", name, s, n, extra);
}

static int bench_null(uint64_t *s)
{
	for (unsigned i = 0; i < NULL_N; i++) {
		uint64_t t0 = monotonic_ns();

		HYPERVISOR_xen_version(XENVER_version, NULL);
		s[i] = monotonic_ns() - t0;
	}
	report("null_hypercall", s, NULL_N, "");
	return 0;
}

/* Every call changes the fs base: on a proc host without FSGSBASE each
 * costs the guest process one arch_prctl on the way back. */
static int bench_fs_base(uint64_t *s)
{
	static uint64_t area[2][2];

	for (unsigned i = 0; i < NULL_N; i++) {
		uint64_t t0 = monotonic_ns();

		HC(__HYPERVISOR_set_segment_base, SEGBASE_FS, area[i & 1], 0, 0, 0);
		s[i] = monotonic_ns() - t0;
	}
	HC(__HYPERVISOR_set_segment_base, SEGBASE_FS, 0, 0, 0, 0);
	report("fs_base_hypercall", s, NULL_N, "");
	return 0;
}

extern char bench_ud2_insn[];

static bool skip_ud2(struct trap_frame *f, uint64_t cr2)
{
	if (f->rip != (uint64_t)bench_ud2_insn)
		return false;
	f->rip += 2;
	return true;
}

/* ud2 -> pvisor -> the guest's #UD handler -> iret -> the next insn. */
static int bench_trap(uint64_t *s)
{
	trap_set_hook(6, skip_ud2);
	for (unsigned i = 0; i < TRAP_N; i++) {
		uint64_t t0 = monotonic_ns();

		asm volatile("bench_ud2_insn: ud2" ::: "memory");
		s[i] = monotonic_ns() - t0;
	}
	trap_set_hook(6, NULL);
	report("trap_roundtrip", s, TRAP_N, "");
	return 0;
}

static int bench_multicall(uint64_t *s)
{
	static struct multicall_entry calls[MULTI_WIDTH];
	char extra[48];

	for (unsigned i = 0; i < MULTI_N; i++) {
		uint64_t t0;

		for (unsigned j = 0; j < MULTI_WIDTH; j++) {
			calls[j].op = __HYPERVISOR_xen_version;
			calls[j].args[0] = XENVER_version;
			calls[j].args[1] = 0;
			calls[j].result = ~0ul;
		}
		t0 = monotonic_ns();
		if (HYPERVISOR_multicall(calls, MULTI_WIDTH)) {
			printf("hcbench multicall32 error=multicall_failed\n");
			return 1;
		}
		s[i] = monotonic_ns() - t0;
		if ((long)calls[MULTI_WIDTH - 1].result < 0) {
			printf("hcbench multicall32 error=entry_result_%ld\n",
			       (long)calls[MULTI_WIDTH - 1].result);
			return 1;
		}
	}
	samples_sort(s, MULTI_N);
	snprintf(extra, sizeof(extra), " per_call_ns=%lu",
		 s[MULTI_N / 2] / MULTI_WIDTH);
	report("multicall32", s, MULTI_N, extra);
	return 0;
}

static volatile unsigned evt_seen;

static void evt_handler(evtchn_port_t port, void *data)
{
	evt_seen++;
	thread_wake(data);
}

static int bench_event(uint64_t *s)
{
	long port = evtchn_bind_ipi(evt_handler, thread_current());
	unsigned lost = 0;

	if (port < 0) {
		printf("hcbench evtchn_roundtrip error=bind_ipi_%ld\n", port);
		return 1;
	}
	for (unsigned i = 0; i < EVT_N; i++) {
		unsigned before = evt_seen;
		uint64_t t0 = monotonic_ns(), deadline = t0 + 100000000ull;

		evtchn_send(port);
		/* The upcall normally arrives on the way back from the send;
		 * block (bounded) if the hypervisor delivers it later. */
		while (evt_seen == before && monotonic_ns() < deadline)
			thread_block(deadline);
		if (evt_seen == before)
			lost++;
		s[i] = monotonic_ns() - t0;
	}
	evtchn_close(port);
	if (lost) {
		printf("hcbench evtchn_roundtrip error=lost_%u_of_%u\n", lost,
		       EVT_N);
		return 1;
	}
	report("evtchn_roundtrip", s, EVT_N, "");
	return 0;
}

static int bench_timer(void)
{
	static const unsigned ms_list[] = { 1, 5, 10 };

	for (unsigned k = 0; k < ARRAY_SIZE(ms_list); k++) {
		uint64_t sum = 0, max = 0;

		for (unsigned i = 0; i < TIMER_N; i++) {
			uint64_t t0 = monotonic_ns(), late;
			uint64_t want = ms_list[k] * 1000000ull;

			sleep_ms(ms_list[k]);
			late = monotonic_ns() - t0 - want;
			sum += late;
			if (late > max)
				max = late;
		}
		printf("hcbench timer_sleep_%ums mean_late_us=%lu "
		       "max_late_us=%lu n=%u\n",
		       ms_list[k], sum / TIMER_N / 1000, max / 1000, TIMER_N);
	}
	return 0;
}

int bench_run_all(void)
{
	uint64_t *s = kmalloc(NULL_N * sizeof(*s));
	int fails = 0;

	if (!s) {
		printf("hcbench error=out_of_memory\n");
		return 1;
	}
	printf("hcbench backend=%s\n", kit_backend());
	fails += bench_null(s);
	fails += bench_fs_base(s);
	fails += bench_trap(s);
	fails += bench_multicall(s);
	fails += bench_event(s);
	fails += bench_timer();
	kfree(s);
	return fails;
}
