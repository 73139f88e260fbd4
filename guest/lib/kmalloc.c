/*
 * kmalloc: power-of-two size classes from 32 to 2048 bytes carved from
 * pages, larger blocks as whole pages.  A 16-byte header records the class
 * (or page count) so kfree needs no size.
 */
#include <kit/events.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>

#define MIN_SHIFT 5
#define MAX_SHIFT 11
#define NR_CLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define HDR_MAGIC 0x6b6d616c6c6f6321ul
#define LARGE (1ul << 63)

struct kmhdr {
	unsigned long info; /* class index, or LARGE | pages */
	unsigned long magic;
};

struct freeobj {
	struct freeobj *next;
};

static struct freeobj *free_lists[NR_CLASSES];

void *kmalloc(size_t size)
{
	size_t total = size + sizeof(struct kmhdr);
	unsigned long flags;
	struct kmhdr *h;

	if (total < size)
		return NULL;
	flags = local_irq_save();
	if (total > (1ul << MAX_SHIFT)) {
		unsigned long pages = PFN_UP(total);

		h = alloc_pages(pages);
		if (h)
			h->info = LARGE | pages;
	} else {
		unsigned c = 0;

		while ((1ul << (MIN_SHIFT + c)) < total)
			c++;
		if (!free_lists[c]) {
			char *page = alloc_page();
			size_t sz = 1ul << (MIN_SHIFT + c);

			for (size_t off = 0; page && off < PAGE_SIZE; off += sz) {
				struct freeobj *o = (struct freeobj *)(page + off);

				o->next = free_lists[c];
				free_lists[c] = o;
			}
		}
		h = (struct kmhdr *)free_lists[c];
		if (h) {
			free_lists[c] = free_lists[c]->next;
			h->info = c;
		}
	}
	local_irq_restore(flags);
	if (!h)
		return NULL;
	h->magic = HDR_MAGIC;
	return h + 1;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	struct kmhdr *h;
	unsigned long flags;

	if (!p)
		return;
	h = (struct kmhdr *)p - 1;
	BUG_ON(h->magic != HDR_MAGIC);
	h->magic = 0;
	flags = local_irq_save();
	if (h->info & LARGE) {
		free_pages(h, h->info & ~LARGE);
	} else {
		/* The free-list link overwrites the header: read it first. */
		unsigned long c = h->info;
		struct freeobj *o = (struct freeobj *)h;

		BUG_ON(c >= NR_CLASSES);
		o->next = free_lists[c];
		free_lists[c] = o;
	}
	local_irq_restore(flags);
}
