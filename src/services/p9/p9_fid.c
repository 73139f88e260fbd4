/* The fid table (see p9_fid.h). */
#include "services/p9/p9_fid.h"

#include <errno.h>
#include <stdlib.h>

static unsigned hash(uint32_t id, unsigned cap)
{
	return (unsigned)((id * 2654435761u) & (cap - 1));
}

int p9_fid_table_init(struct p9_fid_table *t, unsigned max)
{
	unsigned cap = 16;

	while (cap < 2 * max)
		cap <<= 1;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->cap = cap;
	t->max = max;
	t->nr = 0;
	return 0;
}

void p9_fid_table_destroy(struct p9_fid_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->nr = 0;
}

struct p9_fid *p9_fid_get(struct p9_fid_table *t, uint32_t id)
{
	for (unsigned i = hash(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		struct p9_fid *f = &t->slots[i];

		if (!f->used)
			return NULL;
		if (f->id == id)
			return f;
	}
}

struct p9_fid *p9_fid_add(struct p9_fid_table *t, uint32_t id, bool *full)
{
	unsigned i;

	*full = false;
	if (p9_fid_get(t, id))
		return NULL;
	if (t->nr >= t->max) {
		*full = true;
		return NULL;
	}
	for (i = hash(id, t->cap); t->slots[i].used; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = (struct p9_fid){ .id = id, .used = true, .fd = -1, .ofd = -1 };
	t->nr++;
	return &t->slots[i];
}

void p9_fid_remove(struct p9_fid_table *t, struct p9_fid *f)
{
	unsigned mask = t->cap - 1, hole = (unsigned)(f - t->slots), i = hole;

	f->used = false;
	t->nr--;
	/* Backward shift: pull later entries of the probe run into the hole. */
	for (;;) {
		unsigned home;

		i = (i + 1) & mask;
		if (!t->slots[i].used)
			return;
		home = hash(t->slots[i].id, t->cap);
		/* Entry i may move to hole iff home is not in (hole, i]. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			t->slots[hole] = t->slots[i];
			t->slots[i].used = false;
			hole = i;
		}
	}
}
