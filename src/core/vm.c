/*
 * VM lifecycle: creation of memory, the Xen domain state and the boot vCPU,
 * stopping with a report, teardown.
 */
#include "core/vm.h"

#include "core/snapshot_lazy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/snapshot_save.h"
#include "core/device.h"
#include "services/console/consback.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"
#include "xen/pagetype.h"
#include "xen/shared.h"
#include "xen/time.h"


void vm_kick_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->xen.lock);
	pthread_cond_broadcast(&vm->xen.wake);
	pthread_mutex_unlock(&vm->xen.lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (v && v->running && v->backend_state &&
		    !pthread_equal(v->thread, pthread_self()))
			vm->backend->vcpu_kick(v);
	}
	evloop_wake(vm);
}

static void vm_stop_v(struct vm *vm, enum vm_stop_reason reason,
		      int exit_status, const char *fmt, va_list ap)
{
	int expected = VM_RUNNING;

	if (!atomic_compare_exchange_strong(&vm->stop_reason, &expected,
					    (int)reason))
		return;
	vm->exit_status = exit_status;
	if (fmt)
		vsnprintf(vm->report, sizeof(vm->report), fmt, ap);
	vm_kick_all(vm);
}

void vm_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vm_stop_v(vm, reason, exit_status, fmt, ap);
	va_end(ap);
}

/* Out of guest code for pause's purpose; caller holds xen.lock. */
static bool vcpu_quiet(const struct vcpu *v)
{
	return !__atomic_load_n(&v->running, __ATOMIC_SEQ_CST) || v->parked ||
	       v->xen.down || v->xen.blocked;
}

int vm_pause(struct vm *vm, unsigned timeout_ms)
{
	struct timespec until;
	bool quiet = false;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&vm->xen.lock);
	vm->paused = true;
	pthread_mutex_unlock(&vm->xen.lock);
	/* Out of guest code now: a vCPU in it would otherwise run until its
	 * next exit, which on proc can be a whole timer tick away. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (v->running && v->backend_state && !pthread_equal(v->thread, pthread_self()))
			vm->backend->vcpu_kick(v);
	}
	pthread_mutex_lock(&vm->xen.lock);
	while (!vm_stopped(vm) && rc == 0) {
		quiet = true;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			quiet = quiet && (vcpu_quiet(vm->vcpus[i]) ||
					  /* a vCPU pausing the others */
					  (vm->vcpus[i]->running &&
					   pthread_equal(vm->vcpus[i]->thread, pthread_self())));
		if (quiet)
			break;
		rc = pthread_cond_timedwait(&vm->xen.wake, &vm->xen.lock, &until);
	}
	pthread_mutex_unlock(&vm->xen.lock);
	return quiet || vm_stopped(vm) ? 0 : -ETIMEDOUT;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->xen.lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->xen.wake);
	pthread_mutex_unlock(&vm->xen.lock);
}

bool vm_is_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->xen.lock);
	p = vm->paused;
	pthread_mutex_unlock(&vm->xen.lock);
	return p;
}

const char *vcpu_run_state(struct vcpu *v)
{
	const char *s;

	pthread_mutex_lock(&v->vm->xen.lock);
	if (v->xen.down)
		s = "down";
	else if (!__atomic_load_n(&v->running, __ATOMIC_SEQ_CST))
		s = "stopped";
	else if (v->parked)
		s = "paused";
	else if (v->xen.blocked)
		s = "blocked";
	else
		s = "running";
	pthread_mutex_unlock(&v->vm->xen.lock);
	return s;
}

static const char *const vector_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
	"#OF overflow", "#BR bound range", "#UD invalid opcode",
	"#NM device not available", "#DF double fault", "coprocessor overrun",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved 15",
	"#MF x87 error", "#AC alignment check", "#MC machine check",
	"#XM SIMD error", "#VE virtualization", "#CP control protection",
};

void vcpu_format_regs(const struct vcpu *v, char *buf, size_t len)
{
	const struct regs *r = &v->regs;

	snprintf(buf, len,
		 "  vcpu%u (guest %s mode)\n"
		 "  rip=%016llx rsp=%016llx rflags=%08llx cs=%04x ss=%04x\n"
		 "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		 "  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n"
		 "  r9 =%016llx r10=%016llx r11=%016llx r12=%016llx\n"
		 "  r13=%016llx r14=%016llx r15=%016llx\n"
		 "  fs_base=%016llx gs_base=%016llx cr3(mfn)=%llx",
		 v->id, v->xen.kernel_mode ? "kernel" : "user",
		 (unsigned long long)r->rip, (unsigned long long)r->rsp,
		 (unsigned long long)r->rflags, r->cs, r->ss,
		 (unsigned long long)r->rax, (unsigned long long)r->rbx,
		 (unsigned long long)r->rcx, (unsigned long long)r->rdx,
		 (unsigned long long)r->rsi, (unsigned long long)r->rdi,
		 (unsigned long long)r->rbp, (unsigned long long)r->r8,
		 (unsigned long long)r->r9, (unsigned long long)r->r10,
		 (unsigned long long)r->r11, (unsigned long long)r->r12,
		 (unsigned long long)r->r13, (unsigned long long)r->r14,
		 (unsigned long long)r->r15, (unsigned long long)r->fs_base,
		 (unsigned long long)r->gs_base,
		 (unsigned long long)v->xen.baseptr_mfn);
}

void vm_stop_fault(struct vcpu *v, const struct vexit *ex, const char *fmt, ...)
{
	char reason[256], regs[1024], detail[256] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (ex && ex->kind == VEXIT_EXCEPTION) {
		const char *name = ex->vector < 32 && vector_names[ex->vector]
					   ? vector_names[ex->vector]
					   : "exception";

		if (ex->vector == 14)
			snprintf(detail, sizeof(detail),
				 "\n  %s: fault address %#llx, error code %#x "
				 "(%s, %s, %s)",
				 name, (unsigned long long)ex->cr2,
				 ex->error_code,
				 ex->error_code & 1 ? "protection" : "not present",
				 ex->error_code & 2 ? "write" : "read",
				 ex->error_code & 16 ? "instruction fetch" : "data");
		else
			snprintf(detail, sizeof(detail),
				 "\n  %s (vector %u), error code %#x", name,
				 ex->vector, ex->error_code);
	} else if (ex && ex->kind == VEXIT_FATAL) {
		snprintf(detail, sizeof(detail), "\n  backend: %s", ex->message);
	}
	vcpu_format_regs(v, regs, sizeof(regs));
	vm_stop(v->vm, VM_STOP_FAULT, PVISOR_EXIT_GUEST_FAULT,
		"guest stopped: %s%s\n%s", reason, detail, regs);
}

static int xen_domain_init(struct vm *vm)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&vm->xen.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->xen.wake, &attr);
	pthread_condattr_destroy(&attr);
	evtchn_init(vm);
	xen_time_init(vm);
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg,
	      const struct backend_ops *backend, char *err, size_t err_len)
{
	uint64_t ram_frames = cfg->mem_bytes >> PAGE_SHIFT;
	int rc;

	vm->cfg = cfg;
	vm->backend = backend;
	vm->mem.memfd = -1;
	vm->live_save.stage_fd = -1;
	rc = gmem_init(&vm->mem, ram_frames, XEN_OWNED_FRAMES);
	if (rc < 0) {
		snprintf(err, err_len, "cannot allocate %llu MiB of guest memory: %s",
			 (unsigned long long)(cfg->mem_bytes >> 20), strerror(-rc));
		return rc;
	}
	vm->xen.shared_info_mfn = ram_frames;
	vm->xen.gnttab_first_mfn = ram_frames + 1;
	rc = xen_domain_init(vm);
	if (rc == 0)
		rc = pagetype_init(vm);
	if (rc < 0) {
		snprintf(err, err_len, "cannot set up the domain: %s",
			 strerror(-rc));
		return rc;
	}
	rc = backend->vm_init(vm);
	if (rc < 0) {
		snprintf(err, err_len, "backend %s: cannot create the VM: %s",
			 backend->name, strerror(-rc));
		return rc;
	}
	vm->backend_ready = true;
	rc = consback_init(vm);
	if (rc < 0) {
		snprintf(err, err_len, "console: %s", strerror(-rc));
		return rc;
	}
	/* The xenstore channel exists from the start (start_info names it);
	 * the service behind it is connected by services/xenstore. */
	rc = evtchn_alloc_backend_port(vm, NULL, NULL);
	if (rc < 0) {
		snprintf(err, err_len, "xenstore channel: %s", strerror(-rc));
		return rc;
	}
	vm->xen.store_port = (evtchn_port_t)rc;
	rc = xs_service_init(vm);
	if (rc < 0) {
		snprintf(err, err_len, "xenstore: %s", strerror(-rc));
		return rc;
	}
	return devices_init(vm, err, err_len);
}

void vcpu_reset(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->xen.lock);
	memset(&v->xen, 0, sizeof(v->xen));
	v->xen.kernel_mode = true;
	v->xen.vcpu_info_gpa = (vm->xen.shared_info_mfn << PAGE_SHIFT) +
			       __builtin_offsetof(struct shared_info, vcpu_info) +
			       v->id * sizeof(struct vcpu_info);
	pthread_mutex_unlock(&vm->xen.lock);
	memset(&v->regs, 0, sizeof(v->regs));
}

int vm_add_vcpu(struct vm *vm, struct vcpu **out, char *err, size_t err_len)
{
	struct vcpu *v;
	int rc;

	if (vm->nr_vcpus >= VM_MAX_VCPUS)
		return -ENOSPC;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->id = vm->nr_vcpus;
	vcpu_reset(v);
	rc = vm->backend->vcpu_init(v);
	if (rc < 0) {
		snprintf(err, err_len, "backend %s: cannot create vcpu%u: %s",
			 vm->backend->name, v->id, strerror(-rc));
		free(v);
		return rc;
	}
	vm->vcpus[vm->nr_vcpus++] = v;
	*out = v;
	return 0;
}

int vm_vcpus_ready(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		int rc = vm->backend->vcpu_wait_ready ?
				 vm->backend->vcpu_wait_ready(vm->vcpus[i]) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	snapshot_lazy_stop(vm); /* before the vCPUs' processes go */
	devices_destroy(vm); /* their threads notify the vCPUs */
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (v->backend_state)
			vm->backend->vcpu_destroy(v);
		free(v);
		vm->vcpus[i] = NULL;
	}
	vm->nr_vcpus = 0;
	if (vm->backend_ready)
		vm->backend->vm_destroy(vm);
	vm->backend_ready = false;
	xs_service_destroy(vm);
	gnttab_destroy(vm);
	consback_destroy(vm);
	pagetype_destroy(vm);
	gmem_destroy(&vm->mem);
	if (vm->save && !vm->save->live) { /* a live one is its job's */
		close(vm->save->fd);
		free(vm->save);
		vm->save = NULL;
	}
	pthread_cond_destroy(&vm->xen.wake);
	pthread_mutex_destroy(&vm->xen.lock);
}
