/* Guest page tables → mapping runs → mirror operations (proc_mirror.h). */
#include "backend/proc/proc_mirror.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <pvisor/abi.h>

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* L4 slots below the limit: 0x7f0000000000 >> 39 = 254. */
#define L4_GUEST_SLOTS (PVISOR_GUEST_VA_LIMIT >> 39)

/* Appends npages pages from va, frames pfn.., merging with the last run. */
static int runs_append_n(struct proc_runs *r, uint64_t va, uint64_t npages,
			 uint64_t pfn, uint32_t prot)
{
	if (r->n) {
		struct proc_run *last = &r->v[r->n - 1];

		if (last->va + last->npages * PAGE_SIZE == va &&
		    last->pfn + last->npages == pfn && last->prot == prot) {
			last->npages += npages;
			return 0;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct proc_run *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct proc_run){ va, npages, pfn, prot };
	return 0;
}

static int l1s_append(struct proc_l1s *l, uint64_t va, uint64_t mfn, bool rw,
		      bool nx)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct proc_l1 *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct proc_l1){ va, mfn, rw, nx };
	return 0;
}

/* One walk's state: the cursors into the previous walk only move up the
 * address space, as the walk does. */
struct walk {
	const struct gmem *m;
	const struct proc_walk_prev *prev;
	size_t prev_l1, prev_run;
	struct proc_l1s *l1s;
	struct proc_runs *out;
};

static bool unchanged(const struct walk *w, uint64_t mfn)
{
	return __atomic_load_n(&w->prev->wgen[mfn], __ATOMIC_ACQUIRE) <=
	       w->prev->since;
}

/* The previous walk had L1 table mfn at va with the same rw/nx. */
static bool prev_had(struct walk *w, uint64_t va, uint64_t mfn, bool rw, bool nx)
{
	const struct proc_l1s *l = w->prev->l1s;
	const struct proc_l1 *e;

	while (w->prev_l1 < l->n && l->v[w->prev_l1].va < va)
		w->prev_l1++;
	if (w->prev_l1 == l->n)
		return false;
	e = &l->v[w->prev_l1];
	return e->va == va && e->mfn == mfn && e->rw == rw && e->nx == nx;
}

/* The previous walk's runs within [lo, hi), into the new ones. */
static int copy_prev(struct walk *w, uint64_t lo, uint64_t hi)
{
	const struct proc_runs *r = w->prev->runs;

	while (w->prev_run < r->n &&
	       r->v[w->prev_run].va + r->v[w->prev_run].npages * PAGE_SIZE <= lo)
		w->prev_run++;
	for (size_t i = w->prev_run; i < r->n && r->v[i].va < hi; i++) {
		const struct proc_run *p = &r->v[i];
		uint64_t s = p->va > lo ? p->va : lo;
		uint64_t e = p->va + p->npages * PAGE_SIZE;
		int err;

		if (e > hi)
			e = hi;
		err = runs_append_n(w->out, s, (e - s) / PAGE_SIZE,
				    p->pfn + (s - p->va) / PAGE_SIZE, p->prot);
		if (err)
			return err;
	}
	return 0;
}

static int walk_l1(struct walk *w, const uint64_t *t, uint64_t va_base,
		   bool rw, bool nx)
{
	for (unsigned i = 0; i < 512; i++) {
		/* Read once: another vCPU may be writing this table. */
		uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
		uint64_t next = (e & PTE_ADDR) >> PAGE_SHIFT;
		uint32_t prot;
		int err;

		if (!(e & PTE_P) || !gmem_is_frame(w->m, next))
			continue;
		prot = PROT_READ | (rw && (e & PTE_RW) ? PROT_WRITE : 0) |
		       (nx || (e & PTE_NX) ? 0 : PROT_EXEC);
		err = runs_append_n(w->out, va_base + ((uint64_t)i << PAGE_SHIFT),
				    1, next, prot);
		if (err)
			return err;
	}
	return 0;
}

/*
 * clean: no L4 or L3 table on the way here changed since the previous
 * walk (an L2 may have: see proc_mirror.h for why an L1 under it can
 * still be reused).
 */
static int walk_table(struct walk *w, uint64_t mfn, int level, uint64_t va_base,
		      bool rw, bool nx, bool clean)
{
	const uint64_t *t = gmem_ptr(w->m, mfn << PAGE_SHIFT, PAGE_SIZE);
	unsigned slots = level == 4 ? L4_GUEST_SLOTS : 512;
	unsigned shift = PAGE_SHIFT + 9 * (level - 1);
	bool same = clean && w->prev && unchanged(w, mfn);
	int err;

	if (!t)
		return 0;
	if (level == 1) {
		if (w->l1s) {
			err = l1s_append(w->l1s, va_base, mfn, rw, nx);
			if (err)
				return err;
		}
		if (same && prev_had(w, va_base, mfn, rw, nx))
			return copy_prev(w, va_base, va_base + (512ull << PAGE_SHIFT));
		return walk_l1(w, t, va_base, rw, nx);
	}
	if (level > 2)
		clean = same;
	for (unsigned i = 0; i < slots; i++) {
		/* Read once: another vCPU may be writing this table. */
		uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
		uint64_t next = (e & PTE_ADDR) >> PAGE_SHIFT;

		/* Superpage entries are skipped (see the header). */
		if (!(e & PTE_P) || !gmem_is_frame(w->m, next) || (e & PTE_PS))
			continue;
		err = walk_table(w, next, level - 1,
				 va_base + ((uint64_t)i << shift),
				 rw && (e & PTE_RW), nx || (e & PTE_NX), clean);
		if (err)
			return err;
	}
	return 0;
}

int proc_mirror_walk_from(const struct gmem *m, uint64_t l4_mfn,
			  const struct proc_walk_prev *prev, struct proc_l1s *l1s,
			  struct proc_runs *out)
{
	struct walk w = {
		.m = m,
		.prev = prev && prev->l1s && prev->l1s->n ? prev : NULL,
		.l1s = l1s,
		.out = out,
	};

	out->n = 0;
	if (l1s)
		l1s->n = 0;
	if (!gmem_is_frame(m, l4_mfn))
		return 0;
	return walk_table(&w, l4_mfn, 4, 0, true, false, true);
}

int proc_mirror_walk(const struct gmem *m, uint64_t l4_mfn,
		     struct proc_runs *out)
{
	return proc_mirror_walk_from(m, l4_mfn, NULL, NULL, out);
}

static int ops_emit(struct proc_opbuf *b, uint32_t kind, uint64_t addr,
		    uint64_t len, uint64_t off, uint32_t prot)
{
	if (b->n) {
		struct proc_op *p = &b->v[b->n - 1];

		if (p->kind == kind && p->addr + p->len == addr &&
		    (kind == PROC_OP_MUNMAP ||
		     (p->prot == prot &&
		      (kind == PROC_OP_MPROTECT || p->off + p->len == off)))) {
			p->len += len;
			return 0;
		}
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct proc_op *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = (struct proc_op){ kind, prot, addr, len, off };
	return 0;
}

static inline uint64_t run_end(const struct proc_run *r)
{
	return r->va + r->npages * PAGE_SIZE;
}

static inline uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * Sweeps the address axis in segments where neither list changes: each
 * segment is mapped by old, new, both or (never) neither.
 */
int proc_mirror_diff(const struct proc_runs *old, const struct proc_runs *new,
		     struct proc_opbuf *ops)
{
	size_t i = 0, j = 0;
	uint64_t cur = 0;
	int err = 0;

	while (!err && (i < old->n || j < new->n)) {
		const struct proc_run *o = i < old->n ? &old->v[i] : NULL;
		const struct proc_run *n = j < new->n ? &new->v[j] : NULL;
		uint64_t os = o ? max64(o->va, cur) : UINT64_MAX;
		uint64_t ns = n ? max64(n->va, cur) : UINT64_MAX;
		uint64_t s = min64(os, ns), e = UINT64_MAX;
		bool in_o = o && o->va <= s, in_n = n && n->va <= s;

		if (o)
			e = min64(e, in_o ? run_end(o) : o->va);
		if (n)
			e = min64(e, in_n ? run_end(n) : n->va);

		if (in_o && !in_n) {
			err = ops_emit(ops, PROC_OP_MUNMAP, s, e - s, 0, 0);
		} else if (in_n) {
			uint64_t noff = n->pfn * PAGE_SIZE + (s - n->va);
			uint64_t ooff = in_o ? o->pfn * PAGE_SIZE + (s - o->va) : 0;

			if (!in_o || ooff != noff)
				err = ops_emit(ops, PROC_OP_MMAP, s, e - s, noff,
					       n->prot);
			else if (o->prot != n->prot)
				err = ops_emit(ops, PROC_OP_MPROTECT, s, e - s, 0,
					       n->prot);
		}
		cur = e;
		if (o && run_end(o) <= cur)
			i++;
		if (n && run_end(n) <= cur)
			j++;
	}
	return err;
}

void proc_runs_free(struct proc_runs *r)
{
	free(r->v);
	*r = (struct proc_runs){ 0 };
}

void proc_l1s_free(struct proc_l1s *l)
{
	free(l->v);
	*l = (struct proc_l1s){ 0 };
}

void proc_opbuf_free(struct proc_opbuf *b)
{
	free(b->v);
	*b = (struct proc_opbuf){ 0 };
}
