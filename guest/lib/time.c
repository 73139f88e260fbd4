/*
 * Xen system time: vcpu_time_info holds (system_time, tsc_timestamp) taken
 * together and the TSC->ns scale; the guest extrapolates with rdtsc.  The
 * hypervisor bumps `version` to odd while it updates the record, so read it
 * like a seqlock.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/sched.h>
#include <kit/time.h>

static uint64_t last_ns;
static int timer_via_vcpu_op = 1; /* VCPUOP_set_singleshot_timer works */

static uint64_t scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

uint64_t monotonic_ns(void)
{
	struct vcpu_time_info *t = &HYPERVISOR_shared_info->vcpu_info[0].time;
	uint32_t version, mul;
	uint64_t sys, tsc_ts, tsc, ns;
	int8_t shift;

	do {
		version = READ_ONCE(t->version);
		rmb();
		sys = READ_ONCE(t->system_time);
		tsc_ts = READ_ONCE(t->tsc_timestamp);
		mul = READ_ONCE(t->tsc_to_system_mul);
		shift = READ_ONCE(t->tsc_shift);
		tsc = rdtsc();
		rmb();
	} while ((version & 1) || version != READ_ONCE(t->version));

	ns = sys + (tsc > tsc_ts ? scale_delta(tsc - tsc_ts, mul, shift) : 0);
	/* Never go backwards across a record update. */
	if (ns < last_ns)
		ns = last_ns;
	last_ns = ns;
	return ns;
}

void wallclock(uint64_t *sec, uint32_t *nsec)
{
	struct shared_info *s = HYPERVISOR_shared_info;
	uint32_t version, wc_nsec;
	uint64_t wc_sec, now;

	do {
		version = READ_ONCE(s->wc_version);
		rmb();
		wc_sec = READ_ONCE(s->wc_sec) |
			 ((uint64_t)READ_ONCE(s->wc_sec_hi) << 32);
		wc_nsec = READ_ONCE(s->wc_nsec);
		rmb();
	} while ((version & 1) || version != READ_ONCE(s->wc_version));

	/* The wallclock is the time at system time 0. */
	now = wc_nsec + monotonic_ns();
	*sec = wc_sec + now / 1000000000ull;
	*nsec = (uint32_t)(now % 1000000000ull);
}

void timer_set(uint64_t deadline_ns)
{
	if (timer_via_vcpu_op) {
		long rc;

		if (deadline_ns) {
			struct vcpu_set_singleshot_timer t = {
				.timeout_abs_ns = deadline_ns,
				.flags = 0, /* a deadline in the past fires now */
			};
			rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0,
						&t);
		} else {
			rc = HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0,
						NULL);
		}
		if (rc == 0)
			return;
		timer_via_vcpu_op = 0;
	}
	HYPERVISOR_set_timer_op(deadline_ns);
}

static void timer_event(evtchn_port_t port, void *data)
{
	/* Nothing to do: the scheduler re-checks sleepers after wakeup. */
}

void time_init(void)
{
	struct vcpu_time_info *t = &HYPERVISOR_shared_info->vcpu_info[0].time;
	long port;

	if (!READ_ONCE(t->tsc_to_system_mul))
		printf("time: warning: vcpu_time_info not set up "
		       "(tsc_to_system_mul = 0); time will not advance\n");
	port = evtchn_bind_virq(VIRQ_TIMER, timer_event, NULL);
	if (port < 0)
		panic("cannot bind VIRQ_TIMER: %ld", port);
}

void time_resume(void)
{
	long port = evtchn_bind_virq(VIRQ_TIMER, timer_event, NULL);

	if (port < 0)
		panic("resume: cannot bind VIRQ_TIMER: %ld", port);
}

void sleep_until(uint64_t deadline_ns)
{
	while (monotonic_ns() < deadline_ns)
		thread_block(deadline_ns);
}

void sleep_ms(uint64_t ms)
{
	sleep_until(monotonic_ns() + ms * 1000000ull);
}
