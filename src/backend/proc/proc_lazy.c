/* restore --lazy on proc: see proc_lazy.h. */
#include "backend/proc/proc_lazy.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/proc/proc_priv.h"
#include "backend/proc/proc_uffd.h"
#include "core/log.h"
#include "core/sandbox.h"

struct proc_lazy {
	struct vm *vm;
	const void *(*page)(void *ctx, uint64_t frame);
	void *ctx;
	struct proc_uffd_server server;
};

static int register_missing(struct proc_vcpu *pv, uint64_t va, uint64_t len)
{
	return proc_uffd_range(pv->uffd, UFFDIO_REGISTER, va, len, UFFDIO_REGISTER_MODE_MISSING);
}

int proc_lazy_note_sync(struct proc_vcpu *pv)
{
	for (size_t i = 0; i < pv->ops.n; i++) {
		const struct proc_op *op = &pv->ops.v[i];
		int rc;

		if (op->kind != PROC_OP_MMAP)
			continue;
		rc = register_missing(pv, op->addr, op->len);
		if (rc < 0) {
			snprintf(pv->why, sizeof(pv->why),
				 "restore --lazy: cannot register a mapping at %#llx: %s",
				 (unsigned long long)op->addr, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* One missing page of pv: the frame's bytes copied in (which wakes the
 * process), or, when someone was first, a wake-up. */
static void serve(struct proc_lazy *l, struct proc_vcpu *pv, uint64_t addr)
{
	uint64_t page = addr & PAGE_MASK, frame = UINT64_MAX;
	const struct proc_run *r;
	struct uffdio_copy c;

	pthread_mutex_lock(&pv->runs_lock);
	r = proc_run_at(&pv->runs, page);
	if (r)
		frame = r->pfn + (page - r->va) / PAGE_SIZE;
	pthread_mutex_unlock(&pv->runs_lock);
	if (frame != UINT64_MAX) {
		c = (struct uffdio_copy){
			.dst = page, .src = (uint64_t)(uintptr_t)l->page(l->ctx, frame),
			.len = PAGE_SIZE,
		};
		if (ioctl(pv->uffd, UFFDIO_COPY, &c) == 0)
			return;
	}
	/* Already in (another mapping loaded it), or a stale message. */
	proc_uffd_range(pv->uffd, UFFDIO_WAKE, page, PAGE_SIZE, 0);
}

static void on_fault(void *opaque, struct proc_vcpu *pv, uint64_t addr)
{
	serve(opaque, pv, addr);
}

int proc_lazy_begin(struct vm *vm, const void *(*page)(void *ctx, uint64_t frame),
		    void *ctx)
{
	struct proc_vm *pvm = vm->backend_state;
	struct proc_lazy *l;
	int rc = 0;

	if (!pvm || pvm->lazy)
		return -EBUSY;
	pthread_mutex_lock(&pvm->lock);
	for (unsigned i = 0; i < VM_MAX_VCPUS && rc == 0; i++)
		if (pvm->vcpus[i] && (rc = proc_vcpu_started(pvm->vcpus[i])) == 0 &&
		    pvm->vcpus[i]->uffd < 0)
			rc = -EOPNOTSUPP;
	pthread_mutex_unlock(&pvm->lock);
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->vm = vm;
	l->page = page;
	l->ctx = ctx;
	/* No process has mapped guest memory yet: the first resume's
	 * mirror sync maps it, registered by proc_lazy_note_sync. */
	rc = proc_uffd_server_start(&l->server, pvm, "lazy-proc", on_fault, l);
	if (rc) {
		free(l);
		return rc;
	}
	__atomic_store_n(&pvm->lazy, l, __ATOMIC_RELEASE);
	return 0;
}

void proc_lazy_end(struct vm *vm)
{
	struct proc_vm *pvm = vm->backend_state;
	struct proc_lazy *l = pvm ? pvm->lazy : NULL;

	if (!l)
		return;
	__atomic_store_n(&pvm->lazy, NULL, __ATOMIC_RELEASE);
	pthread_mutex_lock(&pvm->lock);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		if (pvm->vcpus[i] && pvm->vcpus[i]->uffd >= 0 &&
		    proc_uffd_release(pvm->vcpus[i]->uffd) < 0)
			log_error("restore --lazy: vcpu%u: cannot unregister its memory", i);
	pthread_mutex_unlock(&pvm->lock);
	proc_uffd_server_stop(&l->server);
	free(l);
}
