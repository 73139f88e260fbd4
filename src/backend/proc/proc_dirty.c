/* save --live on proc: see proc_dirty.h. */
#include "backend/proc/proc_dirty.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/proc/proc_priv.h"
#include "backend/proc/proc_uffd.h"
#include "core/dirty_log.h"
#include "core/log.h"
#include "core/uffd_compat.h"

/* =sync: the synchronous mode even where the asynchronous one exists
 * (tests and benchmarks of the fallback); =async: the asynchronous one
 * even on a host with swap (its gap: docs/proc-backend.md) */
#define WP_ENV "PVISOR_LIVE_WP"
/* Synchronous: a fault right after the pages the last one unprotected
 * (a process writing its way through memory) unprotects twice as many,
 * up to this many pages, all marked written: one round trip instead of
 * one per page, for at most this many frames copied more than needed. */
#define FAULT_AHEAD_MAX 64

struct proc_dirty {
	struct vm *vm;
	uint64_t nr_frames;
	uint64_t *bits;       /* written frames, __atomic_fetch_or */
	/* Asynchronous: the kernel resolves the processes' write faults and
	 * leaves the pages marked; collect reads them with PAGEMAP_SCAN.
	 * Else a tracker thread takes each fault. */
	bool async;
	pthread_mutex_t lock; /* mark + unprotect vs harvest + protect */
	struct proc_uffd_server server; /* the tracker thread (synchronous) */
	uint64_t faults;      /* write faults taken (under lock) */
	uint64_t ahead;       /* pages unprotected with another's fault */
	/* Synchronous, under lock: per vCPU, where its last fault's pages
	 * ended and how many there were. */
	uint64_t next_va[VM_MAX_VCPUS];
	unsigned window[VM_MAX_VCPUS];
	uint64_t scanned;     /* written pages PAGEMAP_SCAN found (asynchronous) */
	/* Asynchronous: a vCPU's runs as last armed (runs_gen), and whether
	 * all of them were registered then: if so and they are the same, a
	 * collect's scan has protected them again and arming is not needed. */
	unsigned armed_gen[VM_MAX_VCPUS];
	bool armed_all[VM_MAX_VCPUS];
};

/* The descriptor the processes' mappings are registered on. */
static int wp_fd(const struct proc_dirty *d, const struct proc_vcpu *pv)
{
	return d->async ? pv->wp_uffd : pv->uffd;
}

static void mark(struct proc_dirty *d, uint64_t f)
{
	if (f < d->nr_frames)
		__atomic_fetch_or(&d->bits[f / 64], 1ull << (f % 64), __ATOMIC_RELAXED);
}

/* Every frame runs map in [va, va + len), or only those mapped writable. */
static void mark_mapped(struct proc_dirty *d, const struct proc_runs *runs,
			uint64_t va, uint64_t len, bool writable_only)
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

		if (writable_only && !(r->prot & PROT_WRITE))
			continue;
		for (; s < e; s += PAGE_SIZE)
			mark(d, r->pfn + (s - r->va) / PAGE_SIZE);
	}
}

void proc_dirty_note_sync(struct proc_vcpu *pv, const struct proc_runs *before)
{
	struct proc_vm *pvm = pv->v->vm->backend_state;
	struct proc_dirty *d = __atomic_load_n(&pvm->tracking, __ATOMIC_ACQUIRE);

	if (!d)
		return;
	for (size_t i = 0; i < pv->ops.n; i++) {
		const struct proc_op *op = &pv->ops.v[i];

		if (op->kind != PROC_OP_MUNMAP && (op->prot & PROT_WRITE))
			mark_mapped(d, &pv->runs, op->addr, op->len, false);
		/* Asynchronous: the written state is in the page table entries,
		 * which an munmap, or an mmap over the area, drops before the
		 * next scan sees it: what was writable there counts as written. */
		if (d->async && before && op->kind != PROC_OP_MPROTECT)
			mark_mapped(d, before, op->addr, op->len, true);
	}
}

/*
 * Registers and protects every writable run of pv.  A run that cannot be
 * registered (its mapping is still in a batch the process has not run, or
 * is gone) has its frames marked: written as far as anyone can tell.
 */
static void arm(struct proc_dirty *d, struct proc_vcpu *pv)
{
	bool all = true;

	/* The vCPUs are paused, but a control client's `resume` could let
	 * one swap its runs meanwhile. */
	pthread_mutex_lock(&pv->runs_lock);
	for (size_t i = 0; i < pv->runs.n; i++) {
		const struct proc_run *r = &pv->runs.v[i];
		uint64_t len = r->npages * PAGE_SIZE;

		if (!(r->prot & PROT_WRITE))
			continue;
		if (proc_uffd_range(wp_fd(d, pv), UFFDIO_REGISTER, r->va, len,
				    UFFDIO_REGISTER_MODE_WP) < 0 ||
		    proc_uffd_range(wp_fd(d, pv), UFFDIO_WRITEPROTECT, r->va, len,
				    UFFDIO_WRITEPROTECT_MODE_WP) < 0) {
			mark_mapped(d, &pv->runs, r->va, len, false);
			all = false;
		}
	}
	d->armed_gen[pv->v->id] = pv->runs_gen;
	d->armed_all[pv->v->id] = all && !pv->ops_staged;
	pthread_mutex_unlock(&pv->runs_lock);
	/* A batch staged for the next resume maps areas that exist only
	 * then: unregistered until the next collect.  (What it unmaps was
	 * marked when it was made.) */
	if (pv->ops_staged)
		proc_dirty_note_sync(pv, NULL);
}

/* Asynchronous, with the vCPUs paused: the pages of pv written since they
 * were protected, their frames marked, protected again unless last (the
 * look ends). */
static int scan(struct proc_dirty *d, struct proc_vcpu *pv, bool last)
{
	struct page_region v[256];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		/* Areas not registered asynchronously (the stub, read-only
		 * runs) are not looked at: not PAGE_IS_WPALLOWED, and skipped
		 * by PM_SCAN_WP_MATCHING. */
		.flags = last ? 0 : PM_SCAN_WP_MATCHING,
		.start = PROC_GUEST_AREA_START,
		.end = PVISOR_GUEST_VA_LIMIT,
		.vec = (uint64_t)(uintptr_t)v,
		.vec_len = sizeof(v) / sizeof(v[0]),
		.category_mask = PAGE_IS_WRITTEN | PAGE_IS_WPALLOWED,
		.return_mask = PAGE_IS_WRITTEN,
	};

	while (a.start < a.end) {
		long n = ioctl(pv->pagemap, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		/* The runs are the process's mappings, but for a batch staged
		 * for the resume: what it changes was marked when it was made. */
		pthread_mutex_lock(&pv->runs_lock);
		for (long i = 0; i < n; i++) {
			mark_mapped(d, &pv->runs, v[i].start, v[i].end - v[i].start, false);
			d->scanned += (v[i].end - v[i].start) / PAGE_SIZE;
		}
		pthread_mutex_unlock(&pv->runs_lock);
		if (a.walk_end <= a.start)
			return -EIO;
		a.start = a.walk_end;
	}
	return 0;
}

/* One write fault: the frames marked, the pages writable again (which
 * wakes the process): the faulting page, and after a fault that went on
 * from the last one's pages, more of the run ahead (FAULT_AHEAD_MAX). */
static void take_fault(struct proc_dirty *d, struct proc_vcpu *pv, uint64_t addr)
{
	const struct proc_run *r;
	uint64_t page = addr & PAGE_MASK, end = page + PAGE_SIZE;
	unsigned id = pv->v->id, n = 1;

	pthread_mutex_lock(&d->lock);
	if (page == d->next_va[id] && d->window[id])
		n = d->window[id] * 2 > FAULT_AHEAD_MAX ? FAULT_AHEAD_MAX : d->window[id] * 2;
	pthread_mutex_lock(&pv->runs_lock);
	r = proc_run_at(&pv->runs, page);
	if (r) {
		uint64_t run_end = r->va + r->npages * PAGE_SIZE;

		end = run_end - page > (uint64_t)n * PAGE_SIZE ? page + (uint64_t)n * PAGE_SIZE
							      : run_end;
		mark_mapped(d, &pv->runs, page, end - page, false);
	}
	pthread_mutex_unlock(&pv->runs_lock);
	/* Unmarked (the mapping changed under a stale message): the new
	 * mapping is marked by note_sync; lifting it is harmless. */
	if (proc_uffd_range(pv->uffd, UFFDIO_WRITEPROTECT, page, end - page, 0) < 0 &&
	    (end == page + PAGE_SIZE ||
	     proc_uffd_range(pv->uffd, UFFDIO_WRITEPROTECT, page, PAGE_SIZE, 0) < 0))
		proc_uffd_range(pv->uffd, UFFDIO_WAKE, page, PAGE_SIZE, 0); /* unregistered */
	d->next_va[id] = end;
	d->window[id] = (unsigned)((end - page) / PAGE_SIZE);
	d->faults++;
	d->ahead += (end - page) / PAGE_SIZE - 1;
	pthread_mutex_unlock(&d->lock);
}

static void on_fault(void *opaque, struct proc_vcpu *pv, uint64_t addr)
{
	take_fault(opaque, pv, addr);
}

/* Every vCPU's process, or -EOPNOTSUPP if one has no userfaultfd; async:
 * whether every one has the asynchronous pair. */
static int each_process(struct proc_vm *pvm, struct proc_vcpu **out, unsigned *n,
			bool *async)
{
	*n = 0;
	if (async)
		*async = true;
	pthread_mutex_lock(&pvm->lock);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		struct proc_vcpu *pv = pvm->vcpus[i];

		if (!pv)
			continue;
		if (proc_vcpu_started(pv) < 0 || pv->uffd < 0) {
			pthread_mutex_unlock(&pvm->lock);
			return -EOPNOTSUPP;
		}
		if (async && (pv->wp_uffd < 0 || pv->pagemap < 0))
			*async = false;
		out[(*n)++] = pv;
	}
	pthread_mutex_unlock(&pvm->lock);
	return 0;
}

int proc_dirty_start(struct vm *vm)
{
	struct proc_vm *pvm = vm->backend_state;
	struct proc_vcpu *pvs[VM_MAX_VCPUS];
	const char *knob = getenv(WP_ENV);
	struct proc_dirty *d;
	unsigned n;
	bool async;
	int rc;

	if (!pvm || pvm->tracker)
		return -EBUSY;
	rc = each_process(pvm, pvs, &n, &async);
	if (rc < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	d->nr_frames = vm->mem.nr_ram_frames;
	if (knob && !strcmp(knob, "sync"))
		async = false;
	else if (async && dirty_log_host_swaps(vm) && !(knob && !strcmp(knob, "async")))
		async = false;
	d->async = async;
	d->bits = calloc((d->nr_frames + 63) / 64, sizeof(*d->bits));
	if (!d->bits) {
		rc = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&d->lock, NULL);
	if (!d->async) {
		rc = proc_uffd_server_start(&d->server, pvm, "dirty", on_fault, d);
		if (rc) {
			pthread_mutex_destroy(&d->lock);
			goto fail;
		}
	}
	log_debug("live save: the guest processes' writes tracked %s",
		  d->async ? "asynchronously (PAGEMAP_SCAN)" : "by a fault thread");
	/* Published before the arming: a batch made meanwhile is marked. */
	pvm->tracker = d;
	__atomic_store_n(&pvm->tracking, d, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < n; i++)
		arm(d, pvs[i]);
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
	rc = each_process(pvm, pvs, &n, NULL);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < n && d->async && rc == 0; i++)
		rc = scan(d, pvs[i], last);
	if (last || rc < 0)
		__atomic_store_n(&pvm->tracking, NULL, __ATOMIC_RELEASE);
	for (uint64_t w = 0; w < (d->nr_frames + 63) / 64; w++)
		bits[w] |= __atomic_exchange_n(&d->bits[w], 0, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n && !last && rc == 0; i++) {
		struct proc_vcpu *pv = pvs[i];
		bool same;

		pthread_mutex_lock(&pv->runs_lock);
		same = d->armed_all[pv->v->id] && d->armed_gen[pv->v->id] == pv->runs_gen;
		pthread_mutex_unlock(&pv->runs_lock);
		if (!d->async || !same)
			arm(d, pv);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
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
	if (each_process(pvm, pvs, &n, NULL) == 0)
		for (unsigned i = 0; i < n; i++)
			if (proc_uffd_release(wp_fd(d, pvs[i])) < 0)
				log_error("live save: vcpu%u: cannot unregister its memory",
					  pvs[i]->v->id);
	if (d->async) {
		log_debug("live save: %llu written pages found by PAGEMAP_SCAN",
			  (unsigned long long)d->scanned);
	} else {
		proc_uffd_server_stop(&d->server);
		log_debug("live save: %llu write faults taken, %llu pages unprotected ahead",
			  (unsigned long long)d->faults, (unsigned long long)d->ahead);
	}
	pthread_mutex_destroy(&d->lock);
	free(d->bits);
	free(d);
	pvm->tracker = NULL;
}
