/*
 * xen_elf_parse(): table-driven over hand-built ELF images.  mk_elf() writes
 * a small valid Xen PV kernel (two PT_LOAD segments, Xen notes in a PT_NOTE
 * segment, a section table); each row changes how it is built or patches
 * the bytes afterwards, and states the result.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "xen/elf.h"

#define IMG_SIZE 0x3000
#define NOTES_OFF 0x200
#define SHSTR_OFF 0x600
#define GUEST_OFF 0x700
#define SHDR_OFF 0x800
#define SEG0_OFF 0x1000
#define SEG1_OFF 0x2000
#define VB 0x400000ull

enum notes_where { IN_PHDR, IN_SHDR, LEGACY, NO_XEN_NOTES };

struct mk {
	enum notes_where where;
	unsigned numsz;          /* size of numeric notes: 8 (default) or 4 */
	bool no_virt_base, no_paddr_offset, no_entry, no_hcall;
	bool paddr_offset_only;  /* PADDR_OFFSET without VIRT_BASE */
	const char *xen_version; /* NULL: "xen-3.0" */
	const char *loader;      /* NULL: "generic"; "" to omit */
	const char *guest_os;    /* NULL: "pvisor-test"; "" to omit */
	const char *features;    /* NULL: default; "" to omit */
	bool features_ascii;     /* no NUL inside descsz (Linux's .ascii) */
	const char *legacy;      /* the __xen_guest string */
	uint64_t entry;          /* 0: VB + 0x10 */
	uint64_t hcall;          /* 0: VB + 0x2000 */
};

struct img {
	_Alignas(8) uint8_t b[IMG_SIZE];
	size_t len;
	size_t notes_len;
};

static Elf64_Ehdr *ehdr(struct img *im)
{
	return (Elf64_Ehdr *)im->b;
}

static Elf64_Phdr *phdr(struct img *im, unsigned i)
{
	return (Elf64_Phdr *)(im->b + 64 + i * sizeof(Elf64_Phdr));
}

static Elf64_Shdr *shdr(struct img *im, unsigned i)
{
	return (Elf64_Shdr *)(im->b + SHDR_OFF + i * sizeof(Elf64_Shdr));
}

static void note_add(struct img *im, const char *name, uint32_t type,
		     const void *desc, uint32_t descsz)
{
	uint8_t *p = im->b + NOTES_OFF + im->notes_len;
	Elf64_Nhdr nh = {
		.n_namesz = (uint32_t)strlen(name) + 1,
		.n_descsz = descsz,
		.n_type = type,
	};
	size_t nlen = (nh.n_namesz + 3) & ~3u, dlen = (descsz + 3) & ~3u;

	assert_true(NOTES_OFF + im->notes_len + 12 + nlen + dlen <= SHSTR_OFF);
	memcpy(p, &nh, sizeof(nh));
	memcpy(p + 12, name, nh.n_namesz);
	memcpy(p + 12 + nlen, desc, descsz);
	im->notes_len += 12 + nlen + dlen;
}

static void note_num(struct img *im, const struct mk *o, uint32_t type,
		     uint64_t v)
{
	note_add(im, "Xen", type, &v, o->numsz ? o->numsz : 8);
}

static void note_str(struct img *im, uint32_t type, const char *s)
{
	note_add(im, "Xen", type, s, (uint32_t)strlen(s) + 1);
}

static void mk_elf(struct img *im, const struct mk *o)
{
	Elf64_Ehdr *eh = ehdr(im);
	unsigned nph = 2;
	static const char shstr[] = "\0.note.Xen\0__xen_guest\0.shstrtab\0.other\0";

	memset(im, 0, sizeof(*im));
	im->len = IMG_SIZE;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = VB + 0x20;
	eh->e_phoff = 64;
	eh->e_shoff = SHDR_OFF;
	eh->e_ehsize = 64;
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 4;
	eh->e_shstrndx = 3;

	/* Text: one page of a pattern; data: half a page then bss. */
	*phdr(im, 0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = SEG0_OFF, .p_vaddr = VB, .p_paddr = VB,
		.p_filesz = 0x1000, .p_memsz = 0x1000, .p_align = 0x1000 };
	*phdr(im, 1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W,
		.p_offset = SEG1_OFF, .p_vaddr = VB + 0x1000,
		.p_paddr = VB + 0x1000, .p_filesz = 0x800, .p_memsz = 0x3000,
		.p_align = 0x1000 };
	for (unsigned i = 0; i < 0x1000; i++)
		im->b[SEG0_OFF + i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < 0x800; i++)
		im->b[SEG1_OFF + i] = (uint8_t)(i * 13 + 5);
	im->len = SEG1_OFF + 0x800;

	/* A foreign note first: it must be skipped. */
	note_add(im, "GNU", 3, "\x01\x02\x03\x04\x05", 5);
	if (o->where != LEGACY && o->where != NO_XEN_NOTES) {
		const char *features = o->features ? o->features
				: "writable_page_tables|!pae_pgdir_above_4gb";

		if (!o->xen_version || o->xen_version[0])
			note_str(im, XEN_ELFNOTE_XEN_VERSION,
				 o->xen_version ? o->xen_version : "xen-3.0");
		if (!o->loader || o->loader[0])
			note_str(im, XEN_ELFNOTE_LOADER,
				 o->loader ? o->loader : "generic");
		if (!o->guest_os || o->guest_os[0])
			note_str(im, XEN_ELFNOTE_GUEST_OS,
				 o->guest_os ? o->guest_os : "pvisor-test");
		if (!o->no_virt_base && !o->paddr_offset_only)
			note_num(im, o, XEN_ELFNOTE_VIRT_BASE, VB);
		if (!o->no_paddr_offset)
			note_num(im, o, XEN_ELFNOTE_PADDR_OFFSET, VB);
		if (!o->no_entry)
			note_num(im, o, XEN_ELFNOTE_ENTRY,
				 o->entry ? o->entry : VB + 0x10);
		if (!o->no_hcall)
			note_num(im, o, XEN_ELFNOTE_HYPERCALL_PAGE,
				 o->hcall ? o->hcall : VB + 0x2000);
		if (features[0] && o->features_ascii)
			note_add(im, "Xen", XEN_ELFNOTE_FEATURES, features,
				 (uint32_t)strlen(features));
		else if (features[0])
			note_str(im, XEN_ELFNOTE_FEATURES, features);
		/* L1_MFN_VALID is two words: must be accepted and ignored. */
		note_add(im, "Xen", XEN_ELFNOTE_L1_MFN_VALID,
			 "\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 16);
		/* An unknown Xen note type is skipped. */
		note_num(im, o, 0x77, 1);
	}
	if (o->where == IN_PHDR || o->where == NO_XEN_NOTES)
		*phdr(im, nph++) = (Elf64_Phdr){ .p_type = PT_NOTE,
			.p_flags = PF_R, .p_offset = NOTES_OFF,
			.p_filesz = im->notes_len, .p_align = 4 };
	eh->e_phnum = (uint16_t)nph;

	memcpy(im->b + SHSTR_OFF, shstr, sizeof(shstr));
	*shdr(im, 1) = (Elf64_Shdr){ .sh_name = 1,
		.sh_type = o->where == IN_SHDR ? SHT_NOTE : SHT_PROGBITS,
		.sh_offset = NOTES_OFF, .sh_size = im->notes_len };
	if (o->where == LEGACY) {
		const char *s = o->legacy;

		memcpy(im->b + GUEST_OFF, s, strlen(s) + 1);
		*shdr(im, 2) = (Elf64_Shdr){ .sh_name = 11,
			.sh_type = SHT_PROGBITS, .sh_offset = GUEST_OFF,
			.sh_size = strlen(s) + 1 };
	} else {
		*shdr(im, 2) = (Elf64_Shdr){ .sh_name = 33,
			.sh_type = SHT_PROGBITS, .sh_offset = GUEST_OFF,
			.sh_size = 16 };
	}
	*shdr(im, 3) = (Elf64_Shdr){ .sh_name = 23, .sh_type = SHT_STRTAB,
		.sh_offset = SHSTR_OFF, .sh_size = sizeof(shstr) };
}

/* ---------------------------------------------------------------------- */
/* Patches applied after mk_elf().                                        */

static void p_not_elf(struct img *im) { im->b[1] = 'X'; }
static void p_tiny(struct img *im) { im->len = 3; }
static void p_trunc_ident(struct img *im) { im->len = 10; }
static void p_trunc_hdr(struct img *im) { im->len = 40; }
static void p_class32(struct img *im) { im->b[EI_CLASS] = ELFCLASS32; }
static void p_bigendian(struct img *im) { im->b[EI_DATA] = ELFDATA2MSB; }
static void p_machine(struct img *im) { ehdr(im)->e_machine = EM_386; }
static void p_type_rel(struct img *im) { ehdr(im)->e_type = ET_REL; }
static void p_type_dyn(struct img *im) { ehdr(im)->e_type = ET_DYN; }
static void p_no_phdrs(struct img *im) { ehdr(im)->e_phnum = 0; }
static void p_phentsize(struct img *im) { ehdr(im)->e_phentsize = 32; }
static void p_phoff_out(struct img *im) { ehdr(im)->e_phoff = im->len - 10; }
static void p_phoff_wrap(struct img *im) { ehdr(im)->e_phoff = UINT64_MAX - 8; }
static void p_phnum_huge(struct img *im) { ehdr(im)->e_phnum = 0xffff; }
static void p_shoff_out(struct img *im) { ehdr(im)->e_shoff = im->len; }
static void p_shentsize(struct img *im) { ehdr(im)->e_shentsize = 40; }
static void p_seg_beyond(struct img *im) { phdr(im, 1)->p_filesz = 0x1000; }
static void p_seg_off_wrap(struct img *im) { phdr(im, 1)->p_offset = UINT64_MAX - 0x10; }
static void p_filesz_gt_memsz(struct img *im) { phdr(im, 0)->p_memsz = 0x800; }
static void p_addr_wrap(struct img *im)
{
	phdr(im, 1)->p_paddr = 0xfffffffffffff000ull;
}
static void p_overlap(struct img *im) { phdr(im, 1)->p_paddr = VB + 0x800; }
static void p_no_load(struct img *im)
{
	phdr(im, 0)->p_flags = 0;
	phdr(im, 1)->p_type = PT_DYNAMIC;
}
static void p_empty_seg(struct img *im)
{
	/* A zero-sized PT_LOAD far away does not widen the image. */
	phdr(im, 1)->p_filesz = 0;
	phdr(im, 1)->p_memsz = 0;
	phdr(im, 1)->p_paddr = 0x7000000;
}
static void p_note_overrun(struct img *im)
{
	/* The Xen version note (second note) claims a huge desc. */
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(im->b + NOTES_OFF + 12 + 4 + 8);

	nh->n_descsz = 0xfffffff0u;
}
static void p_note_seg_out(struct img *im) { phdr(im, 2)->p_filesz = 0x10000; }
static void p_note_at_zero(struct img *im)
{
	/* libelf ignores a PT_NOTE at offset 0; then the section is used. */
	phdr(im, 2)->p_offset = 0;
	shdr(im, 1)->sh_type = SHT_NOTE;
}
static void p_seg_order(struct img *im)
{
	Elf64_Phdr t = *phdr(im, 0);

	*phdr(im, 0) = *phdr(im, 1);
	*phdr(im, 1) = t;
}
static void p_shstr_out(struct img *im) { shdr(im, 3)->sh_offset = 0x100000; }

/* ---------------------------------------------------------------------- */
/* Checks on success.                                                     */

static void c_common(const struct xen_elf_image *x)
{
	assert_int_equal(x->nr_segs, 2);
	assert_int_equal(x->virt_base, VB);
	assert_int_equal(x->paddr_offset, VB);
	assert_int_equal(x->entry, VB + 0x10);
	assert_int_equal(x->v_start, VB);
	assert_int_equal(x->v_end, VB + 0x4000);
	assert_true(x->has_hypercall_page);
	assert_int_equal(x->hypercall_page, VB + 0x2000);
	assert_int_equal(x->segs[0].vaddr, VB);
	assert_int_equal(x->segs[0].offset, SEG0_OFF);
	assert_int_equal(x->segs[1].vaddr, VB + 0x1000);
	assert_int_equal(x->segs[1].filesz, 0x800);
	assert_int_equal(x->segs[1].memsz, 0x3000);
	assert_string_equal(x->xen_version, "xen-3.0");
	assert_string_equal(x->loader, "generic");
	assert_string_equal(x->guest_os, "pvisor-test");
	assert_false(x->legacy_guest_info);
	assert_string_equal(x->features,
			    "writable_page_tables|!pae_pgdir_above_4gb");
	assert_int_equal(x->f_supported[0],
			 (1u << XENFEAT_writable_page_tables) |
				 (1u << XENFEAT_pae_pgdir_above_4gb));
	assert_int_equal(x->f_required[0], 1u << XENFEAT_pae_pgdir_above_4gb);
}

static void c_default(const struct xen_elf_image *x)
{
	c_common(x);
	assert_false(x->notes_from_sections);
}

static void c_sections(const struct xen_elf_image *x)
{
	c_common(x);
	assert_true(x->notes_from_sections);
}

static void c_defaults(const struct xen_elf_image *x)
{
	/* No VIRT_BASE, PADDR_OFFSET, ENTRY, HYPERCALL_PAGE: libelf's
	 * defaults are 0, 0 (notes present) and e_entry. */
	assert_int_equal(x->virt_base, 0);
	assert_int_equal(x->paddr_offset, 0);
	assert_int_equal(x->entry, VB + 0x20);
	assert_int_equal(x->v_start, VB);
	assert_false(x->has_hypercall_page);
}

static void c_legacy(const struct xen_elf_image *x)
{
	assert_true(x->legacy_guest_info);
	assert_int_equal(x->virt_base, VB);
	/* Legacy: PADDR_OFFSET defaults to VIRT_BASE. */
	assert_int_equal(x->paddr_offset, VB);
	assert_int_equal(x->v_start, VB);
	assert_int_equal(x->entry, VB + 0x20);
	assert_int_equal(x->hypercall_page, VB + 0x2000);
	assert_string_equal(x->guest_os, "linux");
	assert_string_equal(x->xen_version, "xen-3.0");
	assert_string_equal(x->loader, "generic");
	assert_int_equal(x->f_required[0], 1u << XENFEAT_writable_page_tables);
}

static void c_legacy_offset(const struct xen_elf_image *x)
{
	/* ELF_PADDR_OFFSET=0 with VIRT_BASE 0x400000: p_paddr 0x400000
	 * lands at 0x800000. */
	assert_int_equal(x->paddr_offset, 0);
	assert_int_equal(x->v_start, 2 * VB);
	assert_int_equal(x->entry, 2 * VB + 0x10);
	assert_false(x->has_hypercall_page);
}

static void c_dom0_required(const struct xen_elf_image *x)
{
	assert_int_equal(x->f_required[0], 1u << XENFEAT_dom0);
	assert_int_equal(x->f_supported[0], 1u << XENFEAT_dom0);
}

static void c_ascii_features(const struct xen_elf_image *x)
{
	assert_string_equal(x->features, "!writable_page_tables");
	assert_int_equal(x->f_required[0], 1u << XENFEAT_writable_page_tables);
}

static void c_linux_os(const struct xen_elf_image *x)
{
	assert_string_equal(x->guest_os, "linux");
	assert_string_equal(x->loader, "");
}

static void c_v_end(const struct xen_elf_image *x)
{
	assert_int_equal(x->v_end, VB + 0x1000);
	assert_int_equal(x->nr_segs, 1);
}

static void c_sorted(const struct xen_elf_image *x)
{
	assert_true(x->segs[0].vaddr < x->segs[1].vaddr);
}

struct row {
	const char *name;
	struct mk mk;
	void (*patch)(struct img *);
	int rc;
	const char *err; /* substring of the message */
	void (*check)(const struct xen_elf_image *);
};

static const struct row rows[] = {
	{ "valid, notes in PT_NOTE, 8-byte numbers", {}, NULL, 0, NULL, c_default },
	{ "valid, 4-byte numbers", { .numsz = 4 }, NULL, 0, NULL, c_default },
	{ "notes only in SHT_NOTE", { .where = IN_SHDR }, NULL, 0, NULL, c_sections },
	{ "PT_NOTE at offset 0 ignored, section used", {}, p_note_at_zero, 0, NULL, c_sections },
	{ "defaults for absent notes",
	  { .no_virt_base = true, .no_paddr_offset = true, .no_entry = true,
	    .no_hcall = true }, NULL, 0, NULL, c_defaults },
	{ "legacy __xen_guest",
	  { .where = LEGACY, .legacy = "GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x400000,HYPERCALL_PAGE=0x2,LOADER=generic,FEATURES=!writable_page_tables" },
	  NULL, 0, NULL, c_legacy },
	{ "legacy ELF_PADDR_OFFSET=0",
	  { .where = LEGACY, .legacy = "GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x400000,ELF_PADDR_OFFSET=0,VIRT_ENTRY=0x800010" },
	  NULL, 0, NULL, c_legacy_offset },
	{ "FEATURES: unknown optional ignored, !dom0 required",
	  { .features = "frobnicate|!dom0" }, NULL, 0, NULL, c_dom0_required },
	{ "FEATURES .ascii without NUL (Linux)",
	  { .features = "!writable_page_tables", .features_ascii = true },
	  NULL, 0, NULL, c_ascii_features },
	{ "GUEST_OS linux, no LOADER", { .loader = "", .guest_os = "linux" },
	  NULL, 0, NULL, c_linux_os },
	{ "ET_DYN accepted", {}, p_type_dyn, 0, NULL, c_default },
	{ "zero-sized PT_LOAD ignored", { .no_hcall = true }, p_empty_seg, 0, NULL, c_v_end },
	{ "segments out of order get sorted", {}, p_seg_order, 0, NULL, c_sorted },

	{ "not ELF", {}, p_not_elf, -ENOEXEC, "not an ELF file", NULL },
	{ "3 bytes", {}, p_tiny, -ENOEXEC, "not an ELF file", NULL },
	{ "truncated e_ident", {}, p_trunc_ident, -EINVAL, "truncated", NULL },
	{ "truncated header", {}, p_trunc_hdr, -EINVAL, "truncated", NULL },
	{ "32-bit class", {}, p_class32, -EINVAL, "64-bit", NULL },
	{ "big-endian", {}, p_bigendian, -EINVAL, "little-endian", NULL },
	{ "i386 machine", {}, p_machine, -EINVAL, "x86-64", NULL },
	{ "relocatable object", {}, p_type_rel, -EINVAL, "not an executable", NULL },
	{ "no program headers", {}, p_no_phdrs, -EINVAL, "no program headers", NULL },
	{ "bad phentsize", {}, p_phentsize, -EINVAL, "program header size", NULL },
	{ "phdr table beyond file", {}, p_phoff_out, -EINVAL, "program header table", NULL },
	{ "phdr offset wraps", {}, p_phoff_wrap, -EINVAL, "program header table", NULL },
	{ "phnum 0xffff", {}, p_phnum_huge, -EINVAL, "program header table", NULL },
	{ "shdr table beyond file", {}, p_shoff_out, -EINVAL, "section header table", NULL },
	{ "bad shentsize", {}, p_shentsize, -EINVAL, "section header size", NULL },
	{ "segment beyond file", {}, p_seg_beyond, -EINVAL, "outside the file", NULL },
	{ "segment offset wraps", {}, p_seg_off_wrap, -EINVAL, "outside the file", NULL },
	{ "filesz > memsz", {}, p_filesz_gt_memsz, -EINVAL, "exceeds memory size", NULL },
	{ "address overflows", {}, p_addr_wrap, -EINVAL, "overflows", NULL },
	{ "overlapping segments", {}, p_overlap, -EINVAL, "overlap", NULL },
	{ "no loadable segment", {}, p_no_load, -EINVAL, "no loadable segment", NULL },
	{ "no Xen notes", { .where = NO_XEN_NOTES }, NULL, -EINVAL,
	  "no Xen ELF notes: not a Xen PV kernel", NULL },
	{ "XEN_VERSION xen-2.0", { .xen_version = "xen-2.0" }, NULL, -EINVAL,
	  "xen-3.0", NULL },
	{ "no XEN_VERSION", { .xen_version = "" }, NULL, -EINVAL, "xen-3.0", NULL },
	{ "neither generic loader nor linux",
	  { .loader = "", .guest_os = "plan9" }, NULL, -EINVAL, "plan9", NULL },
	{ "PADDR_OFFSET without VIRT_BASE", { .paddr_offset_only = true },
	  NULL, -EINVAL, "VIRT_BASE unset", NULL },
	{ "entry beyond image", { .entry = VB + 0x100000 }, NULL, -EINVAL,
	  "out of bounds", NULL },
	{ "entry below image", { .entry = VB - 0x1000 }, NULL, -EINVAL,
	  "out of bounds", NULL },
	{ "VIRT_BASE above image", { .no_paddr_offset = true }, NULL, -EINVAL,
	  "out of bounds", NULL },
	{ "hypercall page outside image", { .hcall = VB + 0x10000 }, NULL,
	  -EINVAL, "HYPERCALL_PAGE", NULL },
	{ "3-byte numeric note", { .numsz = 3 }, NULL, -EINVAL, "3 bytes", NULL },
	{ "note desc past its area", {}, p_note_overrun, -EINVAL,
	  "past its note area", NULL },
	{ "note segment beyond file", {}, p_note_seg_out, -EINVAL,
	  "note segment", NULL },
	{ "unknown required feature", { .features = "!frobnicate" }, NULL,
	  -EINVAL, "unknown required feature", NULL },
	{ "legacy, XEN_VER missing",
	  { .where = LEGACY, .legacy = "GUEST_OS=linux,VIRT_BASE=0x400000" },
	  NULL, -EINVAL, "xen-3.0", NULL },
	{ "legacy, unknown required feature",
	  { .where = LEGACY, .legacy = "GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x400000,FEATURES=!nope" },
	  NULL, -EINVAL, "unknown required feature", NULL },
	{ "legacy, name table outside file",
	  { .where = LEGACY, .legacy = "GUEST_OS=linux,XEN_VER=xen-3.0" },
	  p_shstr_out, -EINVAL, "section name table", NULL },
};

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		static struct img im;
		struct xen_elf_image x;
		char err[256];
		int rc;

		mk_elf(&im, &r->mk);
		if (r->patch)
			r->patch(&im);
		rc = xen_elf_parse(im.b, im.len, &x, err, sizeof(err));
		if (rc != r->rc || (r->err && !strstr(err, r->err)))
			fail_msg("row \"%s\": rc %d (want %d), err \"%s\" (want \"%s\")",
				 r->name, rc, r->rc, err, r->err ? r->err : "");
		if (rc == 0 && r->check)
			r->check(&x);
	}
}

/* Every prefix of a valid image fails cleanly (ASan watches the reads). */
static void test_truncations(void **state)
{
	static struct img im;
	static const struct mk def;
	struct xen_elf_image x;
	char err[128];

	(void)state;
	mk_elf(&im, &def);
	for (size_t len = 0; len < im.len; len++) {
		int rc = xen_elf_parse(im.b, len, &x, err, sizeof(err));

		assert_true(rc == -ENOEXEC || rc == -EINVAL);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(xen_elf_parse(im.b, im.len, &x, err, sizeof(err)), 0);
}

/* Errors still work with no room for a message. */
static void test_no_err_buffer(void **state)
{
	static struct img im;
	struct xen_elf_image x;

	(void)state;
	mk_elf(&im, &(struct mk){ .where = NO_XEN_NOTES });
	assert_int_equal(xen_elf_parse(im.b, im.len, &x, NULL, 0), -EINVAL);
	assert_int_equal(xen_elf_parse(im.b, 2, &x, NULL, 0), -ENOEXEC);
}

static void test_features(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint32_t sup, req;
	} t[] = {
		{ "", 0, 0, 0 },
		{ "|||", 0, 0, 0 },
		{ "writable_page_tables", 0, 1u << 0, 0 },
		{ "!writable_page_tables|pae_pgdir_above_4gb", 0,
		  (1u << 0) | (1u << 4), 1u << 0 },
		{ "dom0|hvm_callback_vector|!supervisor_mode_kernel", 0,
		  (1u << 11) | (1u << 8) | (1u << 3), 1u << 3 },
		{ "nope|writable_descriptor_tables", 0, 1u << 1, 0 },
		{ "!nope", -EINVAL, 0, 0 },
		{ "!", -EINVAL, 0, 0 }, /* libelf: an empty required name */
		{ "writable_page_tablesXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t sup[XENFEAT_NR_SUBMAPS] = { 0 };
		uint32_t req[XENFEAT_NR_SUBMAPS] = { 0 };
		int rc = xen_elf_parse_features(t[i].s, sup, req);

		if (rc != t[i].rc || (rc == 0 && (sup[0] != t[i].sup ||
						  req[0] != t[i].req)))
			fail_msg("features \"%s\": rc %d sup %#x req %#x", t[i].s,
				 rc, sup[0], req[0]);
	}
	assert_string_equal(xen_elf_feature_name(XENFEAT_dom0), "dom0");
	assert_null(xen_elf_feature_name(40));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_no_err_buffer),
		cmocka_unit_test(test_features),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
