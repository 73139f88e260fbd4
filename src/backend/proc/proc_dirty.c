/* save --live on proc: see proc_dirty.h. */
#include "backend/proc/proc_dirty.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/proc/proc_priv.h"
#include "backend/proc/proc_uffd.h"
#include "core/log.h"


struct proc_dirty {
	struct vm *vm;
	uint64_t nr_frames;
	uint64_t *bits;       /* written frames, __atomic_fetch_or */
	pthread_mutex_t lock; /* mark + unprotect vs harvest + protect */
	struct proc_uffd_server server; /* the tracker thread */
	uint64_t faults;      /* write faults taken (under lock) */
};

static void mark(struct proc_dirty *d, uint64_t f)
{
	if (f < d->nr_frames)
		__atomic_fetch_or(&d->bits[f / 64], 1ull << (f % 64), __ATOMIC_RELAXED);
}

/* Every frame runs map in [va, va + len). */
static void mark_mapped(struct proc_dirty *d, const struct proc_runs *runs,
			uint64_t va, uint64_t len)
{
	size_t lo = 0, hi = runs->n;

	while (lo < hi) { /* the first run that ends above va */
		size_t mid = lo + (hi - lo) / 2;

		if (runs->v[mid].va + runs->v[mid].npages * PAGE_SIZE <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < runs->n && runs->v[i].va < va + len; i++) {
		const struct proc_run *r = &runs->v[i];
		uint64_t end = r->va + r->npages * PAGE_SIZE;
		uint64_t s = r->va > va ? r->va : va;
		uint64_t e = end < va + len ? end : va + len;

		for (; s < e; s += PAGE_SIZE)
			mark(d, r->pfn + (s - r->va) / PAGE_SIZE);
	}
}

void proc_dirty_note_sync(struct proc_vcpu *pv)
{
	struct proc_vm *pvm = pv->v->vm->backend_state;
	struct proc_dirty *d = __atomic_load_n(&pvm->tracking, __ATOMIC_ACQUIRE);

	if (!d)
		return;
	for (size_t i = 0; i < pv->ops.n; i++) {
		const struct proc_op *op = &pv->ops.v[i];

		if (op->kind != PROC_OP_MUNMAP && (op->prot & PROT_WRITE))
			mark_mapped(d, &pv->runs, op->addr, op->len);
	}
}

/*
 * Registers and protects every writable run of pv.  A run that cannot be
 * registered (its mapping is still in a batch the process has not run, or
 * is gone) has its frames marked: written as far as anyone can tell.
 */
static void arm(struct proc_dirty *d, struct proc_vcpu *pv)
{
	/* The vCPUs are paused, but a control client's `resume` could let
	 * one swap its runs meanwhile. */
	pthread_mutex_lock(&pv->runs_lock);
	for (size_t i = 0; i < pv->runs.n; i++) {
		const struct proc_run *r = &pv->runs.v[i];
		uint64_t len = r->npages * PAGE_SIZE;

		if (!(r->prot & PROT_WRITE))
			continue;
		if (proc_uffd_range(pv->uffd, UFFDIO_REGISTER, r->va, len,
				    UFFDIO_REGISTER_MODE_WP) < 0 ||
		    proc_uffd_range(pv->uffd, UFFDIO_WRITEPROTECT, r->va, len,
			       UFFDIO_WRITEPROTECT_MODE_WP) < 0)
			mark_mapped(d, &pv->runs, r->va, len);
	}
	pthread_mutex_unlock(&pv->runs_lock);
	/* A batch staged for the next resume maps areas that exist only
	 * then: unregistered until the next collect. */
	if (pv->ops_staged)
		proc_dirty_note_sync(pv);
}

/* One write fault: the frame marked, the page writable again (which
 * wakes the process). */
static void take_fault(struct proc_dirty *d, struct proc_vcpu *pv, uint64_t addr)
{
	const struct proc_run *r;
	uint64_t page = addr & PAGE_MASK;

	pthread_mutex_lock(&d->lock);
	pthread_mutex_lock(&pv->runs_lock);
	r = proc_run_at(&pv->runs, page);
	if (r)
		mark(d, r->pfn + (page - r->va) / PAGE_SIZE);
	pthread_mutex_unlock(&pv->runs_lock);
	/* Unmarked (the mapping changed under a stale message): the new
	 * mapping is marked by note_sync; lifting it is harmless. */
	if (proc_uffd_range(pv->uffd, UFFDIO_WRITEPROTECT, page, PAGE_SIZE, 0) < 0)
		proc_uffd_range(pv->uffd, UFFDIO_WAKE, page, PAGE_SIZE, 0); /* unregistered */
	d->faults++;
	pthread_mutex_unlock(&d->lock);
}

static void on_fault(void *opaque, struct proc_vcpu *pv, uint64_t addr)
{
	take_fault(opaque, pv, addr);
}

/* Every vCPU's process, or -EOPNOTSUPP if one has no userfaultfd. */
static int each_process(struct proc_vm *pvm, struct proc_vcpu **out, unsigned *n)
{
	*n = 0;
	pthread_mutex_lock(&pvm->lock);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		struct proc_vcpu *pv = pvm->vcpus[i];

		if (!pv)
			continue;
		if (pv->uffd < 0) {
			pthread_mutex_unlock(&pvm->lock);
			return -EOPNOTSUPP;
		}
		out[(*n)++] = pv;
	}
	pthread_mutex_unlock(&pvm->lock);
	return 0;
}

int proc_dirty_start(struct vm *vm)
{
	struct proc_vm *pvm = vm->backend_state;
	struct proc_vcpu *pvs[VM_MAX_VCPUS];
	struct proc_dirty *d;
	unsigned n;
	int rc;

	if (!pvm || pvm->tracker)
		return -EBUSY;
	rc = each_process(pvm, pvs, &n);
	if (rc < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	d->nr_frames = vm->mem.nr_ram_frames;
	d->bits = calloc((d->nr_frames + 63) / 64, sizeof(*d->bits));
	if (!d->bits) {
		rc = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&d->lock, NULL);
	rc = proc_uffd_server_start(&d->server, pvm, "dirty", on_fault, d);
	if (rc) {
		pthread_mutex_destroy(&d->lock);
		goto fail;
	}
	for (unsigned i = 0; i < n; i++)
		arm(d, pvs[i]);
	pvm->tracker = d;
	__atomic_store_n(&pvm->tracking, d, __ATOMIC_RELEASE);
	return 0;
fail:
	free(d->bits);
	free(d);
	return rc;
}

int proc_dirty_collect(struct vm *vm, uint64_t *bits, bool last)
{
	struct proc_vm *pvm = vm->backend_state;
	struct proc_dirty *d = pvm ? pvm->tracking : NULL;
	struct proc_vcpu *pvs[VM_MAX_VCPUS];
	unsigned n;
	int rc;

	if (!d)
		return -EINVAL;
	rc = each_process(pvm, pvs, &n);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&d->lock);
	if (last)
		__atomic_store_n(&pvm->tracking, NULL, __ATOMIC_RELEASE);
	for (uint64_t w = 0; w < (d->nr_frames + 63) / 64; w++)
		bits[w] |= __atomic_exchange_n(&d->bits[w], 0, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n && !last; i++)
		arm(d, pvs[i]);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void proc_dirty_stop(struct vm *vm)
{
	struct proc_vm *pvm = vm->backend_state;
	struct proc_dirty *d = pvm ? pvm->tracker : NULL;
	struct proc_vcpu *pvs[VM_MAX_VCPUS];
	unsigned n = 0;

	if (!d)
		return;
	__atomic_store_n(&pvm->tracking, NULL, __ATOMIC_RELEASE);
	/* Every protection goes with the registrations; the thread serves
	 * faults until then. */
	if (each_process(pvm, pvs, &n) == 0)
		for (unsigned i = 0; i < n; i++)
			if (proc_uffd_release(pvs[i]) < 0)
				log_error("live save: vcpu%u: cannot unregister its memory",
					  pvs[i]->v->id);
	proc_uffd_server_stop(&d->server);
	log_debug("live save: %llu write faults taken", (unsigned long long)d->faults);
	pthread_mutex_destroy(&d->lock);
	free(d->bits);
	free(d);
	pvm->tracker = NULL;
}
