/*
 * Memory: page tables (extend the boot mapping to all of RAM the Xen way),
 * a page allocator over the frames the boot region does not use, kmalloc.
 */
#ifndef KIT_MM_H
#define KIT_MM_H

#include <stddef.h>
#include <stdint.h>

/* x86-64 page-table entry bits (architecture, not Xen ABI). */
#define _PAGE_PRESENT 0x001ul
#define _PAGE_RW 0x002ul
#define _PAGE_USER 0x004ul
#define _PAGE_ACCESSED 0x020ul
#define _PAGE_DIRTY 0x040ul
#define _PAGE_PSE 0x080ul
#define _PAGE_NX (1ul << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ul

/* Guest kernels run in ring 3 under x86-64 PV, so their mappings are user. */
#define L1_PROT (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_USER)
#define L1_PROT_RO (_PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_USER)
#define PT_PROT (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | \
		 _PAGE_USER)

typedef uint64_t pgentry_t;

/* Maps all RAM at VIRT_BASE, sets up the page allocator and kmalloc. */
void mm_init(void);

/*
 * Finds the L1 entry that maps va in the current page tables: returns a
 * (read-only) pointer to it and its machine address in *ma, or NULL if an
 * upper level is not present.
 */
const pgentry_t *pt_lookup(unsigned long va, uint64_t *ma);

/* The L4 table in use (start_info.pt_base). */
pgentry_t *pt_root(void);

/*
 * Allocates a zeroed page-table frame for `level` (1..3): zeroed, remapped
 * read-only, pinned with MMUEXT_PIN_L<level>_TABLE.  Returns its pfn or 0.
 */
unsigned long pt_alloc_table(unsigned level);
/* Unpins, remaps writable and frees a frame from pt_alloc_table. */
void pt_free_table(unsigned long pfn);

/* n contiguous zeroed pages (mapped RW); NULL when out of memory. */
void *alloc_pages(unsigned long n);
void free_pages(void *va, unsigned long n);
static inline void *alloc_page(void) { return alloc_pages(1); }
static inline void free_page(void *va) { free_pages(va, 1); }

unsigned long mm_free_pages(void);
/* First pfn not used by the boot region and boot-time page tables. */
extern unsigned long mm_first_free_pfn;

void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

#endif
