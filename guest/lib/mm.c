/*
 * Memory.  The domain builder maps the boot region (image, start_info,
 * P2M, console/store pages, boot page tables) from VIRT_BASE; mm_init()
 * extends the mapping to all of RAM the way a Xen PV guest must: every new
 * page-table frame is zeroed, remapped read-only, pinned, and only then
 * hooked into its parent with mmu_update (the hypervisor validates each
 * step).  The frames after the boot region feed a bitmap page allocator.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>

#define PT_ENTRIES 512
#define BATCH (8 * PT_ENTRIES) /* a group of L1 tables' entries */

extern char _end[];
extern unsigned long boot_stack_top_xen; /* kernel.c */

unsigned long mm_first_free_pfn;
static unsigned long pt_next_pfn;   /* boot-time bump allocator */
static unsigned long *page_bitmap;  /* bit set = page in use */
static unsigned long nr_free;
static unsigned long alloc_hint;

pgentry_t *pt_root(void)
{
	return (pgentry_t *)start_info.pt_base;
}

static unsigned pt_index(unsigned long va, unsigned level)
{
	return (va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

static pgentry_t *entry_table(pgentry_t e)
{
	return mfn_to_virt((e & PTE_ADDR_MASK) >> PAGE_SHIFT);
}

const pgentry_t *pt_lookup(unsigned long va, uint64_t *ma)
{
	pgentry_t *tab = pt_root();
	unsigned long mfn = virt_to_mfn(tab);

	for (unsigned level = 4; level > 1; level--) {
		pgentry_t e = tab[pt_index(va, level)];

		if (!(e & _PAGE_PRESENT) || (e & _PAGE_PSE))
			return NULL;
		mfn = (e & PTE_ADDR_MASK) >> PAGE_SHIFT;
		if (mfn_to_pfn(mfn) == ~0ul)
			return NULL;
		tab = entry_table(e);
	}
	if (ma)
		*ma = (mfn << PAGE_SHIFT) + pt_index(va, 1) * sizeof(pgentry_t);
	return &tab[pt_index(va, 1)];
}

/* The pin command that makes a frame a page table of each level. */
static const unsigned pin_cmd[] = { 0, MMUEXT_PIN_L1_TABLE,
				    MMUEXT_PIN_L2_TABLE, MMUEXT_PIN_L3_TABLE,
				    MMUEXT_PIN_L4_TABLE };

/* Read-only mapping + pin: the frame becomes a page table of `level`. */
static long make_table(unsigned long pfn, unsigned level)
{
	unsigned long mfn = pfn_to_mfn(pfn);
	struct mmuext_op op = { .cmd = pin_cmd[level], .arg1.mfn = mfn };
	long rc;

	rc = HYPERVISOR_update_va_mapping((unsigned long)pfn_to_virt(pfn),
					  (mfn << PAGE_SHIFT) | L1_PROT_RO,
					  UVMF_INVLPG);
	if (rc)
		return rc;
	return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

/* One entry of a multicall. */
static struct multicall_entry mc_call(unsigned long op, unsigned long a0,
				      unsigned long a1, unsigned long a2,
				      unsigned long a3)
{
	return (struct multicall_entry){ .op = op,
					 .args = { a0, a1, a2, a3 } };
}

/* A frame for a new page table, zeroed (it must be mapped already). */
static unsigned long zeroed_table_frame(void)
{
	unsigned long pfn = pt_next_pfn++;
	const pgentry_t *pte;

	if (pfn >= nr_ram_pages)
		panic("out of memory for page tables");
	pte = pt_lookup((unsigned long)pfn_to_virt(pfn), NULL);
	if (!pte || !(*pte & _PAGE_PRESENT))
		panic("page-table frame %#lx is not mapped yet", pfn);
	memset(pfn_to_virt(pfn), 0, PAGE_SIZE);
	return pfn;
}

/* Page tables made per hypervisor entry while RAM is mapped. */
#define TABLE_GROUP (BATCH / PT_ENTRIES)

/* A table zeroed and waiting for its multicall: its frame, and the
 * machine address of the parent entry it goes into. */
struct pending_table {
	unsigned long pfn;
	uint64_t parent_ma;
};

/*
 * Boot time: k (up to TABLE_GROUP) new tables of `level` in one multicall,
 * with the *n entries queued in b before them: each table's read-only
 * remap, all the pins in one mmuext_op, all the hooks into the parents in
 * one mmu_update (the order the hypervisor validates).  So mapping 64 MiB
 * of RAM takes 4 hypervisor entries, not five per L1 table; each entry is
 * a round trip to another host process on proc (docs/benchmarks.md,
 * "Cold start").  The results are checked one by one, as Xen runs them
 * all.
 */
static void hook_tables(unsigned level, const struct pending_table *t, unsigned k,
			struct mmu_update *b, unsigned *n)
{
	struct multicall_entry mc[TABLE_GROUP + 3];
	struct mmuext_op pins[TABLE_GROUP];
	struct mmu_update hooks[TABLE_GROUP];
	unsigned m = 0, done = 0, pinned = 0, hooked = 0;

	if (*n)
		mc[m++] = mc_call(__HYPERVISOR_mmu_update, (unsigned long)b, *n,
				  (unsigned long)&done, DOMID_SELF);
	for (unsigned i = 0; i < k; i++) {
		unsigned long mfn = pfn_to_mfn(t[i].pfn);

		mc[m++] = mc_call(__HYPERVISOR_update_va_mapping,
				  (unsigned long)pfn_to_virt(t[i].pfn),
				  (mfn << PAGE_SHIFT) | L1_PROT_RO, UVMF_INVLPG, 0);
		pins[i] = (struct mmuext_op){ .cmd = pin_cmd[level], .arg1.mfn = mfn };
		hooks[i] = (struct mmu_update){
			.ptr = t[i].parent_ma | MMU_NORMAL_PT_UPDATE,
			.val = (mfn << PAGE_SHIFT) | PT_PROT };
	}
	mc[m++] = mc_call(__HYPERVISOR_mmuext_op, (unsigned long)pins, k,
			  (unsigned long)&pinned, DOMID_SELF);
	mc[m++] = mc_call(__HYPERVISOR_mmu_update, (unsigned long)hooks, k,
			  (unsigned long)&hooked, DOMID_SELF);
	if (HYPERVISOR_multicall(mc, m))
		panic("multicall for %u L%u tables failed", k, level);
	if (*n && (mc[0].result || done != *n))
		panic("mmu_update batch failed: %ld (%u of %u done)",
		      (long)mc[0].result, done, *n);
	for (unsigned i = *n ? 1 : 0; i < m; i++)
		if (mc[i].result)
			panic("cannot make L%u tables of pfn %#lx..: call %u: %ld",
			      level, t[0].pfn, i, (long)mc[i].result);
	if (pinned != k || hooked != k)
		panic("L%u tables: %u pinned, %u hooked of %u", level, pinned, hooked, k);
	*n = 0;
}

/* One new table of `level` for the entry at machine address parent_ma. */
static void new_boot_table(unsigned level, uint64_t parent_ma,
			   struct mmu_update *b, unsigned *n)
{
	struct pending_table t = { zeroed_table_frame(), parent_ma };

	hook_tables(level, &t, 1, b, n);
}

static void flush_batch(struct mmu_update *b, unsigned *n)
{
	unsigned done = 0;
	long rc;

	if (!*n)
		return;
	rc = HYPERVISOR_mmu_update(b, *n, &done, DOMID_SELF);
	if (rc || done != *n)
		panic("mmu_update batch failed: %ld (%u of %u done)", rc, done,
		      *n);
	*n = 0;
}

/* The L2 entry that maps va, making the L3 and L2 tables on the way
 * (rare: one L2 per GiB); its machine address in *ma. */
static pgentry_t l2_entry(unsigned long va, uint64_t *ma, struct mmu_update *b,
			  unsigned *n)
{
	pgentry_t *tab = pt_root();
	unsigned long tab_mfn = virt_to_mfn(tab);
	unsigned idx;

	for (unsigned level = 4; level > 2; level--) {
		idx = pt_index(va, level);
		if (!(tab[idx] & _PAGE_PRESENT))
			new_boot_table(level - 1,
				       (tab_mfn << PAGE_SHIFT) + idx * sizeof(pgentry_t),
				       b, n);
		if (tab[idx] & _PAGE_PSE)
			panic("superpage in the boot page tables");
		tab_mfn = (tab[idx] & PTE_ADDR_MASK) >> PAGE_SHIFT;
		tab = entry_table(tab[idx]);
	}
	idx = pt_index(va, 2);
	*ma = (tab_mfn << PAGE_SHIFT) + idx * sizeof(pgentry_t);
	return tab[idx];
}

/* The first pfn of the 2 MiB stretch after the one pfn is in. */
static unsigned long next_stretch(unsigned long pfn)
{
	unsigned long va = (unsigned long)pfn_to_virt(pfn);

	return pfn + PT_ENTRIES - pt_index(va, 1);
}

/* Queues pfn's L1 entry (its table exists), flushing a full batch. */
static void queue_entry(unsigned long pfn, struct mmu_update *b, unsigned *n)
{
	uint64_t ma;
	const pgentry_t *pte = pt_lookup((unsigned long)pfn_to_virt(pfn), &ma);
	/* Frames that became page tables stay read-only. */
	uint64_t prot = (pfn >= mm_first_free_pfn && pfn < pt_next_pfn) ? L1_PROT_RO
									 : L1_PROT;

	if (!pte)
		panic("no L1 table for pfn %#lx", pfn);
	if (*pte & _PAGE_PRESENT)
		return;
	if (*n == BATCH)
		flush_batch(b, n);
	b[*n].ptr = ma | MMU_NORMAL_PT_UPDATE;
	b[*n].val = (pfn_to_mfn(pfn) << PAGE_SHIFT) | prot;
	(*n)++;
}

/*
 * Maps all of RAM, TABLE_GROUP 2 MiB stretches at a time: their missing L1
 * tables in one multicall, which also carries the entries queued for the
 * stretches before; a batch holds a group's worth of entries, so mapping
 * RAM costs one hypervisor entry per group.
 */
static void build_pagetable(void)
{
	static struct mmu_update batch[BATCH];
	unsigned n = 0;

	for (unsigned long pfn = 0; pfn < nr_ram_pages;) {
		struct pending_table t[TABLE_GROUP];
		unsigned long end = pfn;
		unsigned k = 0;

		for (unsigned g = 0; g < TABLE_GROUP && end < nr_ram_pages; g++) {
			uint64_t ma;
			pgentry_t l2e = l2_entry((unsigned long)pfn_to_virt(end), &ma,
						 batch, &n);

			if (l2e & _PAGE_PSE)
				panic("superpage in the boot page tables");
			if (!(l2e & _PAGE_PRESENT))
				t[k++] = (struct pending_table){ zeroed_table_frame(), ma };
			end = next_stretch(end);
		}
		if (k)
			hook_tables(1, t, k, batch, &n);
		for (; pfn < end && pfn < nr_ram_pages; pfn++)
			queue_entry(pfn, batch, &n);
	}
	flush_batch(batch, &n);
}

static unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

static unsigned long va_end_pfn(unsigned long va_end)
{
	if (va_end <= VIRT_BASE)
		return 0;
	va_end = PFN_UP(va_end - VIRT_BASE);
	return va_end > nr_ram_pages ? 0 : va_end;
}

/* The first pfn after everything the domain builder placed (libxc order:
 * image, P2M, start_info, store, console, page tables, boot stack). */
static unsigned long boot_region_end(void)
{
	unsigned long end = va_end_pfn((unsigned long)_end);

	end = max_ul(end, va_end_pfn(start_info.pt_base +
				     start_info.nr_pt_frames * PAGE_SIZE));
	end = max_ul(end, va_end_pfn(start_info.mfn_list +
				     nr_ram_pages * sizeof(unsigned long)));
	end = max_ul(end, mfn_to_pfn(start_info.console.domU.mfn) + 1);
	if (start_info.store_mfn)
		end = max_ul(end, mfn_to_pfn(start_info.store_mfn) + 1);
	end = max_ul(end, va_end_pfn(boot_stack_top_xen));
	if (start_info.mod_start && start_info.mod_len &&
	    !(start_info.flags & SIF_MOD_START_PFN))
		end = max_ul(end, va_end_pfn(start_info.mod_start +
					     start_info.mod_len));
	return end;
}

static void mark_used(unsigned long pfn)
{
	page_bitmap[pfn / 64] |= 1ul << (pfn % 64);
}

static void mark_free(unsigned long pfn)
{
	page_bitmap[pfn / 64] &= ~(1ul << (pfn % 64));
}

static bool page_used(unsigned long pfn)
{
	return (page_bitmap[pfn / 64] >> (pfn % 64)) & 1;
}

void *alloc_pages(unsigned long n)
{
	unsigned long start, run = 0;

	if (!n || n > nr_free)
		return NULL;
	for (unsigned long i = 0; i < nr_ram_pages; i++) {
		unsigned long pfn = (alloc_hint + i) % nr_ram_pages;

		if (pfn == 0)
			run = 0; /* runs do not wrap */
		if (page_used(pfn)) {
			run = 0;
			continue;
		}
		if (!run)
			start = pfn;
		if (++run == n) {
			for (unsigned long p = start; p < start + n; p++)
				mark_used(p);
			nr_free -= n;
			alloc_hint = start + n;
			memset(pfn_to_virt(start), 0, n * PAGE_SIZE);
			return pfn_to_virt(start);
		}
	}
	return NULL;
}

void free_pages(void *va, unsigned long n)
{
	unsigned long pfn = virt_to_pfn(va);

	if (!va)
		return;
	BUG_ON(pfn < mm_first_free_pfn || pfn + n > nr_ram_pages);
	for (unsigned long p = pfn; p < pfn + n; p++) {
		BUG_ON(!page_used(p));
		mark_free(p);
	}
	nr_free += n;
}

unsigned long mm_free_pages(void)
{
	return nr_free;
}

unsigned long pt_alloc_table(unsigned level)
{
	void *va;

	if (level < 1 || level > 4)
		return 0;
	va = alloc_page();
	if (!va)
		return 0;
	if (make_table(virt_to_pfn(va), level)) {
		HYPERVISOR_update_va_mapping(
			(unsigned long)va, (virt_to_mfn(va) << PAGE_SHIFT) | L1_PROT,
			UVMF_INVLPG);
		free_page(va);
		return 0;
	}
	return virt_to_pfn(va);
}

void pt_free_table(unsigned long pfn)
{
	struct mmuext_op op = { .cmd = MMUEXT_UNPIN_TABLE,
				.arg1.mfn = pfn_to_mfn(pfn) };
	long rc;

	rc = HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
	if (!rc)
		rc = HYPERVISOR_update_va_mapping(
			(unsigned long)pfn_to_virt(pfn),
			(pfn_to_mfn(pfn) << PAGE_SHIFT) | L1_PROT, UVMF_INVLPG);
	if (rc)
		printf("mm: cannot release page table %#lx: %ld\n", pfn, rc);
	else
		free_page(pfn_to_virt(pfn));
}

void mm_init(void)
{
	unsigned long bitmap_pages;

	mm_first_free_pfn = boot_region_end();
	pt_next_pfn = mm_first_free_pfn;
	build_pagetable();

	/* The bitmap takes the frames after the new page tables. */
	bitmap_pages = PFN_UP((nr_ram_pages + 63) / 64 * sizeof(unsigned long));
	if (pt_next_pfn + bitmap_pages >= nr_ram_pages)
		panic("not enough memory (%lu pages)", nr_ram_pages);
	page_bitmap = pfn_to_virt(pt_next_pfn);
	memset(page_bitmap, 0, bitmap_pages * PAGE_SIZE);
	for (unsigned long p = 0; p < pt_next_pfn + bitmap_pages; p++)
		mark_used(p);
	nr_free = nr_ram_pages - (pt_next_pfn + bitmap_pages);
	mm_first_free_pfn = pt_next_pfn + bitmap_pages;
	alloc_hint = mm_first_free_pfn;
}
