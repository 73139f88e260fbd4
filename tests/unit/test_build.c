/*
 * domain_build(): builds into a real gmem with a fake backend (which fills
 * the hypercall page with a pattern and reserves L4 slot 256 with a
 * recognisable entry), then checks the result the way a guest would see it:
 * through the page tables.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "core/vm.h"
#include "xen/build.h"

#define FAKE_SLOT 256
#define FAKE_ENTRY 0x00000000cafe0007ull
#define KIT_VB 0x400000ull
#define LINUX_VB 0xffffffff80000000ull

#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_US 4ull
#define PTE_ADDR 0x000ffffffffff000ull

static unsigned reserved_slot = FAKE_SLOT;

static void fake_fill(struct vm *vm, uint8_t *page)
{
	(void)vm;
	for (unsigned i = 0; i < PAGE_SIZE; i++)
		page[i] = (uint8_t)(0xa5 ^ i);
}

static bool fake_reserved(const struct vm *vm, unsigned slot)
{
	(void)vm;
	return slot == reserved_slot;
}

static uint64_t fake_entry(const struct vm *vm, unsigned slot)
{
	(void)vm;
	return slot == reserved_slot ? FAKE_ENTRY : 0;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.fill_hypercall_page = fake_fill,
	.l4_slot_reserved = fake_reserved,
	.l4_slot_entry = fake_entry,
};

/* The kernel "file": a text page and half a data page with patterns. */
static uint8_t kernel[0x1800];

static void fill_kernel(void)
{
	for (unsigned i = 0; i < sizeof(kernel); i++)
		kernel[i] = (uint8_t)(i * 7 + 3) | 1; /* never 0 */
}

/* An image as xen_elf_parse() would return it: text at v_start, data +
 * bss (memsz 0x3000 + extra_bss) after it, hypercall page in the bss. */
static void mk_img(struct xen_elf_image *x, uint64_t vb, uint64_t v_start,
		   uint64_t extra_bss)
{
	memset(x, 0, sizeof(*x));
	x->virt_base = vb;
	x->nr_segs = 2;
	x->segs[0] = (struct xen_elf_seg){ .offset = 0, .filesz = 0x1000,
		.memsz = 0x1000, .vaddr = v_start };
	x->segs[1] = (struct xen_elf_seg){ .offset = 0x1000, .filesz = 0x800,
		.memsz = 0x3000 + extra_bss, .vaddr = v_start + 0x1000 };
	x->v_start = v_start;
	x->v_end = v_start + 0x4000 + extra_bss;
	x->entry = v_start + 0x10;
	x->has_hypercall_page = true;
	x->hypercall_page = v_start + 0x2000;
}

static struct vm *vm_new(uint64_t ram_frames)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	assert_non_null(vm);
	assert_int_equal(gmem_init(&vm->mem, ram_frames, 1), 0);
	vm->backend = &fake_ops;
	/* Garbage where the builder must zero. */
	memset(vm->mem.host, 0xee, vm->mem.nr_frames * PAGE_SIZE);
	return vm;
}

static void vm_free(struct vm *vm)
{
	gmem_destroy(&vm->mem);
	free(vm);
}

/* Walks va from l4; returns the leaf PTE (0 if not present) and the AND of
 * the flags of every level in *and_flags. */
static uint64_t walk(const struct gmem *m, uint64_t l4, uint64_t va,
		     uint64_t *and_flags)
{
	uint64_t table = l4 << PAGE_SHIFT, pte = 0;

	*and_flags = ~0ull;
	for (int level = 4; level >= 1; level--) {
		uint64_t idx = (va >> (PAGE_SHIFT + 9 * (level - 1))) & 511;

		assert_int_equal(gmem_read(m, table + idx * 8, &pte, 8), 0);
		if (!(pte & PTE_P))
			return 0;
		if (level > 1)
			assert_true(pte & PTE_RW); /* tables: RW above L1 */
		*and_flags &= pte;
		table = pte & PTE_ADDR;
	}
	return pte;
}

/* Everything a guest may rely on after a successful build. */
static void check_build(struct vm *vm, const struct xen_elf_image *x,
			const struct boot_state *bs, const uint8_t *initrd,
			size_t initrd_len)
{
	const struct boot_layout *l = &bs->layout;
	const struct gmem *m = &vm->mem;
	uint64_t vb = x->virt_base, flags, gpa;
	struct start_info si;
	uint8_t page[PAGE_SIZE];

	/* Regions: libxc's order, back to back. */
	assert_int_equal(l->kernel_pfn, (x->v_start - vb) >> PAGE_SHIFT);
	assert_int_equal(l->initrd_pfn, l->kernel_pfn + l->nr_kernel_frames);
	assert_int_equal(l->p2m_pfn, l->initrd_pfn + l->nr_initrd_frames);
	assert_int_equal(l->nr_initrd_frames,
			 (initrd_len + PAGE_SIZE - 1) / PAGE_SIZE);
	assert_int_equal(l->nr_p2m_frames,
			 (m->nr_ram_frames * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	assert_int_equal(l->start_info_pfn, l->p2m_pfn + l->nr_p2m_frames);
	assert_int_equal(l->store_pfn, l->start_info_pfn + 1);
	assert_int_equal(l->console_pfn, l->store_pfn + 1);
	assert_int_equal(l->pt_pfn, l->console_pfn + 1);
	assert_int_equal(l->boot_stack_pfn, l->pt_pfn + l->nr_pt_frames);
	assert_int_equal(l->nr_alloc_frames, l->boot_stack_pfn + 1);
	assert_int_equal(l->nr_pt_by_level[1] + l->nr_pt_by_level[2] +
				 l->nr_pt_by_level[3] + l->nr_pt_by_level[4],
			 l->nr_pt_frames);
	assert_int_equal(l->nr_pt_by_level[4], 1);

	/* The mapping: 4 MiB aligned, covering the stack + 512 KiB. */
	assert_int_equal(l->map_end & ((4u << 20) - 1), 0);
	assert_true(l->map_end - vb >=
		    ((l->boot_stack_pfn + 1) << PAGE_SHIFT) + (512u << 10));
	assert_int_equal(l->nr_mapped_frames, (l->map_end - vb) >> PAGE_SHIFT);

	/* Boot registers. */
	assert_int_equal(bs->rip, x->entry);
	assert_int_equal(bs->rsp, vb + ((l->boot_stack_pfn + 1) << PAGE_SHIFT));
	assert_int_equal(bs->rsi, vb + (l->start_info_pfn << PAGE_SHIFT));
	assert_int_equal(bs->l4_mfn, l->pt_pfn);
	assert_int_equal(bs->pt_first_pfn, l->pt_pfn);
	assert_int_equal(bs->nr_pt_frames, l->nr_pt_frames);
	assert_int_equal(bs->v_start, x->v_start);
	assert_int_equal(bs->v_end, x->v_end);

	/* Every mapped frame: VA -> same pfn, USER at every level, RW except
	 * the page-table frames. */
	for (uint64_t pfn = 0; pfn < l->nr_mapped_frames; pfn++) {
		uint64_t va = vb + (pfn << PAGE_SHIFT);
		uint64_t pte = walk(m, bs->l4_mfn, va, &flags);
		bool is_pt = pfn >= l->pt_pfn &&
			     pfn < l->pt_pfn + l->nr_pt_frames;

		assert_true(pte & PTE_P);
		assert_int_equal((pte & PTE_ADDR) >> PAGE_SHIFT, pfn);
		assert_true(flags & PTE_US);
		assert_int_equal(!!(pte & PTE_RW), !is_pt);
		assert_int_equal(gva_to_gpa(m, bs->l4_mfn, va, true, &gpa),
				 is_pt ? -EFAULT : 0);
	}
	/* Nothing past the mapping, nothing just below virt_base. */
	assert_int_equal(walk(m, bs->l4_mfn, l->map_end, &flags), 0);
	if (vb >= PAGE_SIZE && ((vb - 1) >> 12) != ((uint64_t)-1 >> 12))
		assert_int_equal(walk(m, bs->l4_mfn, vb - PAGE_SIZE, &flags), 0);

	/* The backend's reserved slot. */
	assert_int_equal(gmem_read(m, (bs->l4_mfn << PAGE_SHIFT) + FAKE_SLOT * 8,
				   &gpa, 8), 0);
	assert_int_equal(gpa, FAKE_ENTRY);

	/* Kernel bytes through the guest's view, bss zeroed. */
	assert_int_equal(gva_read(m, bs->l4_mfn, x->v_start, page, 0x1000), 0);
	assert_memory_equal(page, kernel, 0x1000);
	assert_int_equal(gva_read(m, bs->l4_mfn, x->v_start + 0x1000, page,
				  0x800), 0);
	assert_memory_equal(page, kernel + 0x1000, 0x800);
	for (uint64_t va = x->v_start + 0x1800; va < x->v_end; va += 0x400) {
		uint8_t zero[0x400] = { 0 };

		if ((va & PAGE_MASK) == x->hypercall_page)
			continue;
		assert_int_equal(gva_read(m, bs->l4_mfn, va, page, 0x400), 0);
		assert_memory_equal(page, zero, 0x400);
	}

	/* The hypercall page. */
	assert_int_equal(gva_read(m, bs->l4_mfn, x->hypercall_page, page,
				  PAGE_SIZE), 0);
	for (unsigned i = 0; i < PAGE_SIZE; i++)
		assert_int_equal(page[i], (uint8_t)(0xa5 ^ i));
	assert_int_equal(vm->xen.hypercall_page_gva, x->hypercall_page);

	/* start_info. */
	assert_int_equal(gva_read(m, bs->l4_mfn, bs->rsi, &si, sizeof(si)), 0);
	assert_string_equal(si.magic, "xen-3.0-x86_64");
	assert_int_equal(si.nr_pages, m->nr_ram_frames);
	assert_int_equal(si.shared_info, m->nr_ram_frames << PAGE_SHIFT);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.store_mfn, l->store_pfn);
	assert_int_equal(si.console.domU.mfn, l->console_pfn);
	assert_int_equal(si.pt_base, vb + (l->pt_pfn << PAGE_SHIFT));
	assert_int_equal(si.nr_pt_frames, l->nr_pt_frames);
	assert_int_equal(si.mfn_list, vb + (l->p2m_pfn << PAGE_SHIFT));
	assert_int_equal(si.first_p2m_pfn, l->p2m_pfn);
	assert_int_equal(si.nr_p2m_frames, l->nr_p2m_frames);
	assert_int_equal(si.mod_len, initrd_len);
	if (initrd_len) {
		uint8_t *buf = malloc(initrd_len);

		assert_int_equal(si.mod_start,
				 vb + (l->initrd_pfn << PAGE_SHIFT));
		assert_int_equal(gva_read(m, bs->l4_mfn, si.mod_start, buf,
					  initrd_len), 0);
		assert_memory_equal(buf, initrd, initrd_len);
		free(buf);
	} else {
		assert_int_equal(si.mod_start, 0);
	}

	/* The P2M list is the identity. */
	for (uint64_t i = 0; i < m->nr_ram_frames; i += 97) {
		uint64_t mfn;

		assert_int_equal(gva_read(m, bs->l4_mfn, si.mfn_list + i * 8,
					  &mfn, 8), 0);
		assert_int_equal(mfn, i);
	}

	/* xenstore and console pages zeroed; shared_info zeroed, upcalls
	 * masked. */
	{
		uint8_t zero[PAGE_SIZE] = { 0 };
		const struct shared_info *sh;

		assert_memory_equal(gmem_ptr(m, l->store_pfn << PAGE_SHIFT,
					     PAGE_SIZE), zero, PAGE_SIZE);
		assert_memory_equal(gmem_ptr(m, l->console_pfn << PAGE_SHIFT,
					     PAGE_SIZE), zero, PAGE_SIZE);
		sh = gmem_ptr(m, m->nr_ram_frames << PAGE_SHIFT, PAGE_SIZE);
		for (unsigned i = 0; i < XEN_LEGACY_MAX_VCPUS; i++) {
			assert_int_equal(sh->vcpu_info[i].evtchn_upcall_mask, 1);
			assert_int_equal(sh->vcpu_info[i].evtchn_upcall_pending, 0);
		}
		assert_int_equal(sh->evtchn_pending[0], 0);
		assert_int_equal(sh->wc_sec, 0);
	}

	assert_int_equal(vm->xen.shared_info_mfn, m->nr_ram_frames);
	assert_int_equal(vm->xen.start_info_gva, bs->rsi);
	assert_int_equal(vm->xen.console_mfn, l->console_pfn);
	assert_int_equal(vm->xen.store_mfn, l->store_pfn);
}

static void test_kit_layout(void **state)
{
	struct vm *vm = vm_new(4096); /* 16 MiB */
	struct xen_elf_image x;
	struct boot_state bs;
	static uint8_t initrd[10000];
	char err[256];
	struct start_info si;

	(void)state;
	fill_kernel();
	for (unsigned i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 31 + 7);
	mk_img(&x, KIT_VB, KIT_VB, 0);
	assert_int_equal(domain_build(vm, &x, kernel, sizeof(kernel), initrd,
				      sizeof(initrd), "console=hvc0 quiet", 3,
				      2, &bs, err, sizeof(err)), 0);
	check_build(vm, &x, &bs, initrd, sizeof(initrd));

	/* The concrete numbers for this small case, worked by hand with
	 * libxc's rules: kernel 4 frames, initrd 3, P2M 8, then start_info
	 * 15, xenstore 16, console 17, tables 18..22 (L4, L3, L2, two L1s
	 * for [4 MiB, 8 MiB)), stack 23; the mapping ends at 8 MiB. */
	assert_int_equal(bs.layout.initrd_pfn, 4);
	assert_int_equal(bs.layout.p2m_pfn, 7);
	assert_int_equal(bs.layout.start_info_pfn, 15);
	assert_int_equal(bs.layout.pt_pfn, 18);
	assert_int_equal(bs.layout.nr_pt_frames, 5);
	assert_int_equal(bs.layout.boot_stack_pfn, 23);
	assert_int_equal(bs.layout.map_end, 0x800000);
	assert_int_equal(bs.rsp, KIT_VB + 24 * PAGE_SIZE);

	assert_int_equal(gva_read(&vm->mem, bs.l4_mfn, bs.rsi, &si, sizeof(si)),
			 0);
	assert_string_equal((const char *)si.cmd_line, "console=hvc0 quiet");
	assert_int_equal(si.console.domU.evtchn, 3);
	assert_int_equal(si.store_evtchn, 2);
	assert_int_equal(vm->xen.console_port, 3);
	assert_int_equal(vm->xen.store_port, 2);
	vm_free(vm);
}

/* A table of virtual bases: the page tables must link up wherever the
 * range falls relative to L1/L2/L3 boundaries, and in the upper half. */
static void test_bases(void **state)
{
	static const struct {
		const char *name;
		uint64_t vb, v_start, ram_frames, extra_bss;
		uint64_t pt_l3, pt_l2, pt_l1;
	} t[] = {
		{ "zero base", 0, 0, 2048, 0, 1, 1, 2 },
		{ "kernel above base", KIT_VB, KIT_VB + 0x200000, 2048, 0, 1, 1, 2 },
		{ "ends at 1 GiB", 0x3fe00000, 0x3fe00000, 2048, 0, 1, 1, 1 },
		{ "crosses 1 GiB", 0x3fe00000, 0x3fe00000, 2048, 0x200000, 1, 2, 3 },
		{ "crosses 512 GiB", 0x7fffe00000, 0x7fffe00000, 2048, 0x200000, 2, 2, 3 },
		{ "big bss, 8 MiB mapped", KIT_VB, KIT_VB, 4096, 0x500000, 1, 1, 4 },
		{ "Linux-like upper half", LINUX_VB, LINUX_VB + 0x200000, 8192,
		  0x300000, 1, 1, 4 },
	};

	(void)state;
	fill_kernel();
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vm *vm = vm_new(t[i].ram_frames);
		struct xen_elf_image x;
		struct boot_state bs;
		char err[256] = "";
		int rc;

		mk_img(&x, t[i].vb, t[i].v_start, t[i].extra_bss);
		rc = domain_build(vm, &x, kernel, sizeof(kernel), NULL, 0, NULL,
				  1, 2, &bs, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: rc %d: %s", t[i].name, rc, err);
		check_build(vm, &x, &bs, NULL, 0);
		if (bs.layout.nr_pt_by_level[3] != t[i].pt_l3 ||
		    bs.layout.nr_pt_by_level[2] != t[i].pt_l2 ||
		    bs.layout.nr_pt_by_level[1] != t[i].pt_l1)
			fail_msg("%s: tables L3 %llu L2 %llu L1 %llu", t[i].name,
				 (unsigned long long)bs.layout.nr_pt_by_level[3],
				 (unsigned long long)bs.layout.nr_pt_by_level[2],
				 (unsigned long long)bs.layout.nr_pt_by_level[1]);
		vm_free(vm);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *name;
		uint64_t vb, v_start, ram_frames, extra_bss;
		unsigned reserved;
		uint32_t required;
		int rc;
		const char *err;
	} t[] = {
		{ "512K of RAM", KIT_VB, KIT_VB, 128, 0, FAKE_SLOT, 0, -ENOMEM,
		  "--mem 512K is too small: the kernel, initrd and boot tables need 1 MiB" },
		{ "2M of RAM, 2M of bss", KIT_VB, KIT_VB, 512, 0x200000, FAKE_SLOT, 0,
		  -ENOMEM, "--mem 2M is too small: the kernel, initrd and boot tables need 3 MiB" },
		{ "start not page aligned", KIT_VB, KIT_VB + 0x10, 2048, 0,
		  FAKE_SLOT, 0, -EINVAL, "not page aligned" },
		{ "overlaps a reserved L4 slot", KIT_VB, KIT_VB, 2048, 0, 0, 0,
		  -EINVAL, "L4 slot 0, reserved by the fake backend" },
		{ "upper half in the reserved slot", 0xffff800000000000ull,
		  0xffff800000000000ull, 2048, 0, 300, 0, -EINVAL,
		  "Xen's reserved range" },
		{ "crosses the canonical hole", 0x7fffffc00000ull,
		  0x7fffffc00000ull, 2048, 0x400000, FAKE_SLOT, 0, -EINVAL,
		  "non-canonical" },
		{ "top of the address space", 0xfffffffffff00000ull,
		  0xfffffffffff00000ull, 2048, 0, FAKE_SLOT, 0, -EINVAL, "" },
		{ "requires auto_translated_physmap", KIT_VB, KIT_VB, 2048, 0,
		  FAKE_SLOT, 1u << XENFEAT_auto_translated_physmap, -EINVAL,
		  "requires Xen feature auto_translated_physmap" },
	};

	(void)state;
	fill_kernel();
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vm *vm = vm_new(t[i].ram_frames);
		struct xen_elf_image x;
		struct boot_state bs;
		char err[256] = "";
		int rc;

		reserved_slot = t[i].reserved;
		mk_img(&x, t[i].vb, t[i].v_start, t[i].extra_bss);
		x.f_required[0] = t[i].required;
		rc = domain_build(vm, &x, kernel, sizeof(kernel), NULL, 0, NULL,
				  1, 2, &bs, err, sizeof(err));
		if (rc != t[i].rc || !strstr(err, t[i].err) || !err[0])
			fail_msg("%s: rc %d (want %d): \"%s\" (want \"%s\")",
				 t[i].name, rc, t[i].rc, err, t[i].err);
		vm_free(vm);
	}
	reserved_slot = FAKE_SLOT;
}

static void test_cmdline(void **state)
{
	struct vm *vm = vm_new(2048);
	struct xen_elf_image x;
	struct boot_state bs;
	char err[256], *longcmd = malloc(3000);
	struct start_info si;

	(void)state;
	fill_kernel();
	memset(longcmd, 'a', 2999);
	longcmd[2999] = '\0';
	mk_img(&x, KIT_VB, KIT_VB, 0);
	assert_int_equal(domain_build(vm, &x, kernel, sizeof(kernel), NULL, 0,
				      longcmd, 1, 2, &bs, err, sizeof(err)), 0);
	assert_int_equal(gva_read(&vm->mem, bs.l4_mfn, bs.rsi, &si, sizeof(si)),
			 0);
	assert_int_equal(strnlen((const char *)si.cmd_line, MAX_GUEST_CMDLINE),
			 MAX_GUEST_CMDLINE - 1);
	assert_int_equal(si.cmd_line[MAX_GUEST_CMDLINE - 2], 'a');

	/* No command line: an empty string (the builder zeroed the garbage). */
	assert_int_equal(domain_build(vm, &x, kernel, sizeof(kernel), NULL, 0,
				      NULL, 1, 2, &bs, err, sizeof(err)), 0);
	assert_int_equal(gva_read(&vm->mem, bs.l4_mfn, bs.rsi, &si, sizeof(si)),
			 0);
	assert_int_equal(si.cmd_line[0], 0);

	/* No hypercall page note: none written, gva 0. */
	x.has_hypercall_page = false;
	assert_int_equal(domain_build(vm, &x, kernel, sizeof(kernel), NULL, 0,
				      NULL, 1, 2, &bs, err, sizeof(err)), 0);
	assert_int_equal(vm->xen.hypercall_page_gva, 0);
	free(longcmd);
	vm_free(vm);
}

/* A segment that does not fit the caller's kernel buffer is refused. */
static void test_bad_image(void **state)
{
	struct vm *vm = vm_new(2048);
	struct xen_elf_image x;
	struct boot_state bs;
	char err[256];

	(void)state;
	mk_img(&x, KIT_VB, KIT_VB, 0);
	assert_int_equal(domain_build(vm, &x, kernel, 0x1000, NULL, 0, NULL, 1,
				      2, &bs, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "segment 1"));
	vm_free(vm);
}

/* Which of frames [0, n) of m's host mapping are in memory (mincore). */
static void resident(const struct gmem *m, uint64_t n, unsigned char *vec)
{
	assert_int_equal(mincore(m->host, n * PAGE_SIZE, vec), 0);
	for (uint64_t i = 0; i < n; i++)
		vec[i] &= 1;
}

/* gmem_prefault allocates exactly the whole pages of its range, without
 * writing them, and ignores a range outside memory. */
static void test_gmem_prefault(void **state)
{
	struct gmem m;
	unsigned char vec[16];
	void *probe;
	(void)state;

	probe = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(probe != MAP_FAILED);
	if (madvise(probe, PAGE_SIZE, 23 /* MADV_POPULATE_WRITE */) < 0) {
		munmap(probe, PAGE_SIZE);
		skip(); /* a kernel before 5.14: the prefault is a no-op */
	}
	munmap(probe, PAGE_SIZE);
	assert_int_equal(gmem_init(&m, 15, 1), 0);
	resident(&m, 16, vec);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(vec[i], 0);
	gmem_prefault(&m, 4 * PAGE_SIZE, 8 * PAGE_SIZE);
	gmem_prefault(&m, 15 * PAGE_SIZE, 2 * PAGE_SIZE); /* past the end */
	gmem_prefault(&m, UINT64_MAX - PAGE_SIZE, 2 * PAGE_SIZE);
	resident(&m, 16, vec);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(vec[i], i >= 4 && i < 12);
	for (unsigned i = 4; i < 12; i++)
		assert_int_equal(m.host[i * PAGE_SIZE], 0);
	gmem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kit_layout),
		cmocka_unit_test(test_bases),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_bad_image),
		cmocka_unit_test(test_gmem_prefault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
