/* Xen time: system time, vcpu_time_info and the wallclock (see time.h). */
#include "xen/time.h"

#include <time.h>
#include <x86intrin.h>

#include "core/vm.h"
#include "xen/shared.h"
#include "xen/tsc_rate.h"

int64_t time_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void xen_time_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
	/* Find shift so that (1e9 << 32) / (tsc_hz << shift) fits in 32 bits
	 * with the most precision, as Xen's set_time_scale does. */
	uint64_t tps = tsc_hz, ns = 1000000000ull;
	int s = 0;

	while (tps > ns * 2) {
		tps >>= 1;
		s--;
	}
	while (tps <= ns) {
		tps <<= 1;
		s++;
	}
	/* Now ns < tps <= 2ns: mul = ns/tps in 0.32 fixed point. */
	*mul = (uint32_t)((ns << 32) / tps);
	*shift = (int8_t)s;
}

void xen_time_init(struct vm *vm)
{
	vm->xen.tsc_hz = tsc_rate_hz();
	xen_time_scale(vm->xen.tsc_hz, &vm->xen.tsc_mul, &vm->xen.tsc_shift);
	vm->xen.boot_ns = time_monotonic_ns();
}

int64_t xen_system_time_ns(const struct vm *vm)
{
	return time_monotonic_ns() - vm->xen.boot_ns;
}

void xen_time_update_vcpu(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct vcpu_time_info *t;
	uint32_t version;

	if (!vi)
		return;
	t = &vi->time;
	/* Odd version while the fields are inconsistent; the guest retries. */
	version = __atomic_load_n(&t->version, __ATOMIC_RELAXED);
	__atomic_store_n(&t->version, version + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	t->tsc_timestamp = __rdtsc() + (uint64_t)vm->tsc_offset;
	t->system_time = (uint64_t)xen_system_time_ns(vm);
	t->tsc_to_system_mul = vm->xen.tsc_mul;
	t->tsc_shift = vm->xen.tsc_shift;
	t->flags = XEN_PVCLOCK_TSC_STABLE_BIT;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&t->version, version + 2, __ATOMIC_RELEASE);
}

void xen_time_update_wallclock(struct vm *vm)
{
	struct shared_info *s = xen_shared_info(vm);
	struct timespec now;
	int64_t boot_real_ns;
	uint32_t version;

	if (!s)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	boot_real_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
		       xen_system_time_ns(vm);
	version = __atomic_load_n(&s->wc_version, __ATOMIC_RELAXED);
	__atomic_store_n(&s->wc_version, version + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s->wc_sec = (uint32_t)(boot_real_ns / 1000000000);
	s->xen_wc_sec_hi = (uint32_t)((uint64_t)(boot_real_ns / 1000000000) >> 32);
	s->wc_nsec = (uint32_t)(boot_real_ns % 1000000000);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&s->wc_version, version + 2, __ATOMIC_RELEASE);
}
