/* Rebooting a guest in place (core/reboot.h). */
#include "core/reboot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pvisor/abi.h>

#include "core/boot.h"
#include "core/device.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/snapshot_lazy.h"
#include "core/vm.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"
#include "xen/pagetype.h"
#include "xen/time.h"

/* How long the backends get to let go of the old domain's rings once its
 * frontends are gone (in-flight disk I/O completes first). */
#define REBOOT_RELEASE_NS (10ll * 1000000000)

void vm_reboot_request(struct vm *vm, const char *who)
{
	if (!vm->boot) {
		vm_stop(vm, VM_STOP_SHUTDOWN, PVISOR_EXIT_REBOOT,
			"%s asked for a reboot; a restored guest has no kernel to boot again (restore --kernel names one; exit %d)",
			who, PVISOR_EXIT_REBOOT);
		return;
	}
	if (vm->cfg->on_reboot_exit) {
		vm_stop(vm, VM_STOP_SHUTDOWN, PVISOR_EXIT_REBOOT,
			"%s asked for a reboot; --on-reboot exit (exit %d)", who,
			PVISOR_EXIT_REBOOT);
		return;
	}
	pthread_mutex_lock(&vm->xen.lock);
	__atomic_store_n(&vm->reboot.pending, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->xen.wake);
	pthread_mutex_unlock(&vm->xen.lock);
	vm_kick_all(vm);
}

bool vm_reboot_pending(struct vm *vm)
{
	return __atomic_load_n(&vm->reboot.pending, __ATOMIC_ACQUIRE);
}

unsigned vm_reboot_count(struct vm *vm)
{
	return __atomic_load_n(&vm->reboot.count, __ATOMIC_ACQUIRE);
}

/* The frontends are gone from the store: each backend's thread sees it and
 * unpins its rings once nothing is in flight. */
static int wait_backends_release(struct vm *vm, char *err, size_t err_len)
{
	const struct timespec tick = { 0, 1000000 };
	int64_t until = time_monotonic_ns() + REBOOT_RELEASE_NS;
	unsigned n;

	while ((n = gnttab_backend_pins(vm)) > 0) {
		if (time_monotonic_ns() > until) {
			snprintf(err, err_len,
				 "the backends still hold %u grant(s) of the old domain after %lld s",
				 n, REBOOT_RELEASE_NS / 1000000000);
			return -ETIMEDOUT;
		}
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* Xen's domain destroy, the toolstack's part and the hypervisor's, minus
 * what is on the host. */
static int tear_down(struct vm *vm, char *err, size_t err_len)
{
	int rc = xs_service_reset(vm);

	if (rc < 0) {
		snprintf(err, err_len, "xenstore: %s", strerror(-rc));
		return rc;
	}
	rc = wait_backends_release(vm, err, err_len);
	if (rc < 0)
		return rc;
	evtchn_reset_domain(vm);
	gnttab_reset(vm);
	pagetype_destroy(vm);
	snapshot_lazy_abandon(vm); /* restore --lazy still loading: stop it */
	rc = pagetype_init(vm);
	if (rc == 0)
		rc = gmem_clear(&vm->mem);
	if (rc < 0) {
		snprintf(err, err_len, "cannot reset the domain's memory: %s", strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_reset(vm->vcpus[i]);
	if (vm->backend->vm_reset)
		vm->backend->vm_reset(vm);
	vm->xen.vm_assist = 0;
	vm->xen.start_info_gva = 0;
	vm->xen.console_mfn = vm->xen.store_mfn = 0;
	vm->xen.hypercall_page_gva = 0;
	xen_time_init(vm); /* system time starts over with the domain */
	return 0;
}

/* A fresh domain from the same kernel, with the devices offered again. */
static int rebuild(struct vm *vm, char *err, size_t err_len)
{
	int rc = tear_down(vm, err, err_len);

	if (rc == 0)
		rc = boot_load(vm, vm->boot, err, err_len);
	if (rc == 0) {
		rc = xs_service_connect(vm);
		if (rc < 0)
			snprintf(err, err_len, "xenstore: cannot connect the guest: %s",
				 strerror(-rc));
	}
	if (rc == 0)
		rc = devices_reattach(vm, err, err_len);
	return rc;
}

/* Another vCPU rebuilds: wait, out of guest code, until it is done. */
static void wait_for_rebuild(struct vcpu *v)
{
	struct vm *vm = v->vm;
	unsigned done = vm->reboot.count;

	vm->reboot.arrived++;
	v->parked = true; /* out of guest code, as vm_pause counts it */
	pthread_cond_broadcast(&vm->xen.wake);
	while (vm->reboot.count == done && vm_reboot_pending(vm) && !vm_stopped(vm))
		pthread_cond_wait(&vm->xen.wake, &vm->xen.lock);
	v->parked = false;
}

void vm_reboot_join(struct vcpu *v)
{
	struct vm *vm = v->vm;
	char err[512] = "";
	int rc = 0;

	pthread_mutex_lock(&vm->xen.lock);
	if (!vm_reboot_pending(vm)) {
		pthread_mutex_unlock(&vm->xen.lock);
		return;
	}
	if (vm->reboot.claimed) {
		wait_for_rebuild(v);
		pthread_mutex_unlock(&vm->xen.lock);
		return;
	}
	vm->reboot.claimed = true;
	/* Every other vCPU thread is in its run loop and comes: kicked out
	 * of guest code, or woken from a block or from being down. */
	while (vm->reboot.arrived + 1 < vm->nr_vcpus && !vm_stopped(vm))
		pthread_cond_wait(&vm->xen.wake, &vm->xen.lock);
	pthread_mutex_unlock(&vm->xen.lock);
	if (!vm_stopped(vm)) {
		log_info("guest rebooting: a fresh domain from the same kernel");
		rc = rebuild(vm, err, sizeof(err));
	}
	pthread_mutex_lock(&vm->xen.lock);
	if (rc == 0 && !vm_stopped(vm))
		__atomic_store_n(&vm->reboot.count, vm->reboot.count + 1, __ATOMIC_RELEASE);
	vm->reboot.arrived = 0;
	vm->reboot.claimed = false;
	__atomic_store_n(&vm->reboot.pending, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->xen.wake);
	pthread_mutex_unlock(&vm->xen.lock);
	if (rc < 0)
		vm_stop(vm, VM_STOP_INTERNAL, PVISOR_EXIT_INTERNAL, "reboot failed: %s", err);
	evloop_wake(vm); /* a control client waits for the reboot */
}
