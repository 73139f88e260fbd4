/*
 * Xen PV kernel images: ELF64 x86-64 with Xen ELF notes (see elf.h).
 *
 * The rules follow Xen's libelf (xen/common/libelf/libelf-dominfo.c):
 * notes come from PT_NOTE segments, else from SHT_NOTE sections, else from
 * the legacy `__xen_guest` section; the image must be for the "generic"
 * loader or a "linux" guest and for "xen-3.0"; absent notes take libelf's
 * defaults.  Every offset and size read from the file is range-checked with
 * overflow checks before use, and the file is never read through a pointer
 * into a header: headers are copied out first, then validated.
 */
#include "xen/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define ELF_MAX_NOTES 1024 /* libelf's ELF_MAX_TOTAL_NOTE_COUNT */
#define XEN_PAGE_SIZE 4096ull

/* [off, off+size) lies inside a buffer of len bytes. */
static bool range_ok(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

static uint64_t get_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

/* Copies a possibly unterminated string of at most n bytes into dst. */
static void copy_str(char *dst, size_t dst_len, const uint8_t *src, size_t n)
{
	size_t l = strnlen((const char *)src, n);

	if (l >= dst_len)
		l = dst_len - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* ---------------------------------------------------------------------- */
/* FEATURES                                                               */

/* The names libelf knows (elf_xen_feature_names). */
static const char *const feature_names[] = {
	[XENFEAT_writable_page_tables] = "writable_page_tables",
	[XENFEAT_writable_descriptor_tables] = "writable_descriptor_tables",
	[XENFEAT_auto_translated_physmap] = "auto_translated_physmap",
	[XENFEAT_supervisor_mode_kernel] = "supervisor_mode_kernel",
	[XENFEAT_pae_pgdir_above_4gb] = "pae_pgdir_above_4gb",
	[XENFEAT_hvm_callback_vector] = "hvm_callback_vector",
	[XENFEAT_dom0] = "dom0",
};

const char *xen_elf_feature_name(unsigned bit)
{
	if (bit >= sizeof(feature_names) / sizeof(feature_names[0]))
		return NULL;
	return feature_names[bit];
}

static void feature_set(uint32_t *map, unsigned bit)
{
	map[bit / 32] |= 1u << (bit % 32);
}

int xen_elf_parse_features(const char *features,
			   uint32_t supported[XENFEAT_NR_SUBMAPS],
			   uint32_t required[XENFEAT_NR_SUBMAPS])
{
	const char *p = features;

	while (p && *p) {
		char name[64];
		size_t n = strcspn(p, "|");
		bool req = false;
		const char *tok = p;
		unsigned i;

		p += n;
		if (*p == '|')
			p++;
		if (n > 0 && tok[0] == '!') {
			req = true;
			tok++;
			n--;
		}
		if (n == 0) {
			/* libelf fails a bare "!" like any unknown required
			 * name, and skips empty entries. */
			if (req)
				return -EINVAL;
			continue;
		}
		if (n >= sizeof(name))
			n = sizeof(name) - 1; /* no name is that long */
		memcpy(name, tok, n);
		name[n] = '\0';
		for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]);
		     i++) {
			if (feature_names[i] && !strcmp(name, feature_names[i]))
				break;
		}
		if (i == sizeof(feature_names) / sizeof(feature_names[0])) {
			/* libelf ignores unknown features unless required. */
			if (req)
				return -EINVAL;
			continue;
		}
		feature_set(supported, i);
		if (req)
			feature_set(required, i);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Xen notes                                                              */

enum note_kind { NOTE_NONE, NOTE_NUM, NOTE_STR, NOTE_IGNORED };

static const struct {
	const char *name;
	enum note_kind kind;
} note_desc[] = {
	[XEN_ELFNOTE_ENTRY] = { "ENTRY", NOTE_NUM },
	[XEN_ELFNOTE_HYPERCALL_PAGE] = { "HYPERCALL_PAGE", NOTE_NUM },
	[XEN_ELFNOTE_VIRT_BASE] = { "VIRT_BASE", NOTE_NUM },
	[XEN_ELFNOTE_PADDR_OFFSET] = { "PADDR_OFFSET", NOTE_NUM },
	[XEN_ELFNOTE_XEN_VERSION] = { "XEN_VERSION", NOTE_STR },
	[XEN_ELFNOTE_GUEST_OS] = { "GUEST_OS", NOTE_STR },
	[XEN_ELFNOTE_GUEST_VERSION] = { "GUEST_VERSION", NOTE_STR },
	[XEN_ELFNOTE_LOADER] = { "LOADER", NOTE_STR },
	[XEN_ELFNOTE_PAE_MODE] = { "PAE_MODE", NOTE_STR },
	[XEN_ELFNOTE_FEATURES] = { "FEATURES", NOTE_STR },
	[XEN_ELFNOTE_BSD_SYMTAB] = { "BSD_SYMTAB", NOTE_STR },
	[XEN_ELFNOTE_HV_START_LOW] = { "HV_START_LOW", NOTE_NUM },
	/* Two words (mask, value); only meaningful to 32-bit guests. */
	[XEN_ELFNOTE_L1_MFN_VALID] = { "L1_MFN_VALID", NOTE_IGNORED },
	[XEN_ELFNOTE_SUSPEND_CANCEL] = { "SUSPEND_CANCEL", NOTE_NUM },
	[XEN_ELFNOTE_INIT_P2M] = { "INIT_P2M", NOTE_NUM },
	[XEN_ELFNOTE_MOD_START_PFN] = { "MOD_START_PFN", NOTE_NUM },
	[XEN_ELFNOTE_SUPPORTED_FEATURES] = { "SUPPORTED_FEATURES", NOTE_IGNORED },
	[XEN_ELFNOTE_PHYS32_ENTRY] = { "PHYS32_ENTRY", NOTE_NUM },
};

/* Parse state beyond what ends up in the image. */
struct parse_ctx {
	struct xen_elf_image *img;
	char *err;
	size_t err_len;
	unsigned nr_notes;      /* all notes seen, for the cap */
	unsigned nr_xen_notes;  /* "Xen" notes */
	bool saw_note_area;     /* libelf's elf_note_start: picks the default
				 * PADDR_OFFSET even if no note was Xen's */
	bool has_virt_base, has_paddr_offset, has_entry;
};

static int note_xen(struct parse_ctx *c, uint32_t type, const uint8_t *desc,
		    uint32_t descsz)
{
	struct xen_elf_image *img = c->img;
	char str[XEN_ELF_FEATURES_MAX];
	uint64_t val = 0;

	if (type >= sizeof(note_desc) / sizeof(note_desc[0]) ||
	    note_desc[type].kind == NOTE_NONE)
		return 0; /* unknown types are skipped, as libelf does */

	switch (note_desc[type].kind) {
	case NOTE_STR:
		/* The terminating NUL may sit in the padding after descsz
		 * (Linux's `.ascii` FEATURES note), so descsz bounds it. */
		copy_str(str, sizeof(str), desc, descsz);
		break;
	case NOTE_NUM:
		if (descsz != 1 && descsz != 2 && descsz != 4 && descsz != 8) {
			errbuf_printf(c->err, c->err_len,
			       "Xen note %s: a number of %u bytes (want 4 or 8)",
			       note_desc[type].name, descsz);
			return -EINVAL;
		}
		val = get_le(desc, descsz);
		break;
	default:
		break;
	}

	switch (type) {
	case XEN_ELFNOTE_ENTRY:
		img->entry = val;
		c->has_entry = true;
		break;
	case XEN_ELFNOTE_HYPERCALL_PAGE:
		img->hypercall_page = val;
		img->has_hypercall_page = true;
		break;
	case XEN_ELFNOTE_VIRT_BASE:
		img->virt_base = val;
		c->has_virt_base = true;
		break;
	case XEN_ELFNOTE_PADDR_OFFSET:
		img->paddr_offset = val;
		c->has_paddr_offset = true;
		break;
	case XEN_ELFNOTE_XEN_VERSION:
		copy_str(img->xen_version, sizeof(img->xen_version),
			 (const uint8_t *)str, sizeof(str));
		break;
	case XEN_ELFNOTE_GUEST_OS:
		copy_str(img->guest_os, sizeof(img->guest_os),
			 (const uint8_t *)str, sizeof(str));
		break;
	case XEN_ELFNOTE_GUEST_VERSION:
		copy_str(img->guest_version, sizeof(img->guest_version),
			 (const uint8_t *)str, sizeof(str));
		break;
	case XEN_ELFNOTE_LOADER:
		copy_str(img->loader, sizeof(img->loader),
			 (const uint8_t *)str, sizeof(str));
		break;
	case XEN_ELFNOTE_PAE_MODE:
		copy_str(img->pae_mode, sizeof(img->pae_mode),
			 (const uint8_t *)str, sizeof(str));
		img->pae_yes = !strcmp(str, "yes") || strstr(str, "bimodal");
		break;
	case XEN_ELFNOTE_FEATURES:
		copy_str(img->features, sizeof(img->features),
			 (const uint8_t *)str, sizeof(str));
		if (xen_elf_parse_features(str, img->f_supported,
					   img->f_required) < 0) {
			errbuf_printf(c->err, c->err_len,
			       "Xen note FEATURES \"%s\": unknown required feature",
			       str);
			return -EINVAL;
		}
		break;
	case XEN_ELFNOTE_BSD_SYMTAB:
		img->bsd_symtab = !strcmp(str, "yes");
		break;
	case XEN_ELFNOTE_HV_START_LOW:
		img->hv_start_low = val;
		img->has_hv_start_low = true;
		break;
	case XEN_ELFNOTE_SUSPEND_CANCEL:
		img->suspend_cancel = val != 0;
		break;
	case XEN_ELFNOTE_INIT_P2M:
		img->init_p2m = val;
		img->has_init_p2m = true;
		break;
	case XEN_ELFNOTE_MOD_START_PFN:
		img->mod_start_pfn = val != 0;
		break;
	case XEN_ELFNOTE_SUPPORTED_FEATURES:
		/* An array of 32-bit XENFEAT submaps. */
		for (unsigned i = 0; i < XENFEAT_NR_SUBMAPS; i++) {
			if ((uint64_t)(i + 1) * 4 <= descsz)
				img->f_supported[i] |=
					(uint32_t)get_le(desc + i * 4, 4);
		}
		break;
	case XEN_ELFNOTE_PHYS32_ENTRY:
		img->phys32_entry = (uint32_t)val;
		img->has_phys32_entry = true;
		break;
	}
	return 0;
}

/* Walks the notes in buf[off, off+size), which the caller checked lies in
 * the file.  Note headers are 12 bytes; name and desc are padded to 4. */
static int parse_notes(struct parse_ctx *c, const uint8_t *buf, uint64_t off,
		       uint64_t size)
{
	const uint8_t *area = buf + off;
	uint64_t pos = 0;

	c->saw_note_area = true;
	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, desc_end;
		int rc;

		if (++c->nr_notes > ELF_MAX_NOTES) {
			errbuf_printf(c->err, c->err_len, "more than %d ELF notes",
			       ELF_MAX_NOTES);
			return -EINVAL;
		}
		memcpy(&nh, area + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		/* namesz/descsz are 32-bit, so these sums cannot wrap. */
		desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ull);
		desc_end = desc_off + nh.n_descsz;
		if (desc_off > size || desc_end > size) {
			errbuf_printf(c->err, c->err_len,
			       "ELF note at file offset %#llx runs past its note area",
			       (unsigned long long)(off + pos));
			return -EINVAL;
		}
		if (nh.n_namesz >= 3 &&
		    strnlen((const char *)area + name_off, nh.n_namesz) == 3 &&
		    !memcmp(area + name_off, "Xen", 3)) {
			c->nr_xen_notes++;
			rc = note_xen(c, nh.n_type, area + desc_off,
				      nh.n_descsz);
			if (rc < 0)
				return rc;
		}
		pos = desc_end + ((4 - (desc_end & 3)) & 3);
		if (pos > size)
			break; /* the last note's padding may be missing */
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The legacy __xen_guest string                                          */

static int parse_guest_info(struct parse_ctx *c, const uint8_t *s,
			    uint64_t len)
{
	struct xen_elf_image *img = c->img;
	uint64_t pos = 0;
	bool has_hcall = false;
	uint64_t hcall_page = 0;

	img->legacy_guest_info = true;
	while (pos < len && s[pos]) {
		char name[32], value[128];
		size_t nl = 0, vl = 0;

		/* NAME[=VALUE] up to ',' or the end; over-long parts are cut
		 * short, as libelf does with its fixed buffers. */
		while (pos < len && s[pos] && s[pos] != ',' && s[pos] != '=') {
			if (nl < sizeof(name) - 1)
				name[nl++] = (char)s[pos];
			pos++;
		}
		if (pos < len && s[pos] == '=') {
			pos++;
			while (pos < len && s[pos] && s[pos] != ',') {
				if (vl < sizeof(value) - 1)
					value[vl++] = (char)s[pos];
				pos++;
			}
		}
		if (pos < len && s[pos] == ',')
			pos++;
		name[nl] = '\0';
		value[vl] = '\0';

		if (!strcmp(name, "LOADER"))
			copy_str(img->loader, sizeof(img->loader),
				 (const uint8_t *)value, sizeof(value));
		else if (!strcmp(name, "GUEST_OS"))
			copy_str(img->guest_os, sizeof(img->guest_os),
				 (const uint8_t *)value, sizeof(value));
		else if (!strcmp(name, "GUEST_VER"))
			copy_str(img->guest_version, sizeof(img->guest_version),
				 (const uint8_t *)value, sizeof(value));
		else if (!strcmp(name, "XEN_VER"))
			copy_str(img->xen_version, sizeof(img->xen_version),
				 (const uint8_t *)value, sizeof(value));
		else if (!strcmp(name, "PAE")) {
			copy_str(img->pae_mode, sizeof(img->pae_mode),
				 (const uint8_t *)value, sizeof(value));
			img->pae_yes = !strncmp(value, "yes", 3);
		} else if (!strcmp(name, "BSD_SYMTAB"))
			img->bsd_symtab = true;
		else if (!strcmp(name, "VIRT_BASE")) {
			img->virt_base = strtoull(value, NULL, 0);
			c->has_virt_base = true;
		} else if (!strcmp(name, "VIRT_ENTRY")) {
			img->entry = strtoull(value, NULL, 0);
			c->has_entry = true;
		} else if (!strcmp(name, "ELF_PADDR_OFFSET")) {
			img->paddr_offset = strtoull(value, NULL, 0);
			c->has_paddr_offset = true;
		} else if (!strcmp(name, "HYPERCALL_PAGE")) {
			/* A page number relative to VIRT_BASE. */
			hcall_page = strtoull(value, NULL, 0);
			has_hcall = true;
		} else if (!strcmp(name, "FEATURES")) {
			copy_str(img->features, sizeof(img->features),
				 (const uint8_t *)value, sizeof(value));
			if (xen_elf_parse_features(value, img->f_supported,
						   img->f_required) < 0) {
				errbuf_printf(c->err, c->err_len,
				       "__xen_guest FEATURES \"%s\": unknown required feature",
				       value);
				return -EINVAL;
			}
		}
	}
	if (has_hcall) {
		if (hcall_page > (UINT64_MAX >> 12)) {
			errbuf_printf(c->err, c->err_len,
			       "__xen_guest HYPERCALL_PAGE %#llx is out of range",
			       (unsigned long long)hcall_page);
			return -EINVAL;
		}
		img->has_hypercall_page = true;
		img->hypercall_page = (hcall_page << 12) +
				      (c->has_virt_base ? img->virt_base : 0);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Sections                                                               */

struct shdrs {
	uint64_t off;   /* of the table, checked in the file */
	unsigned count; /* 0: no section table */
	uint16_t shstrndx;
};

static void shdr_get(const uint8_t *buf, const struct shdrs *sh, unsigned i,
		     Elf64_Shdr *out)
{
	memcpy(out, buf + sh->off + (uint64_t)i * sizeof(*out), sizeof(*out));
}

/* Finds the `__xen_guest` section through the section name table; 0 and
 * *found=false when there is none (or no usable name table). */
static int find_guest_info(struct parse_ctx *c, const uint8_t *buf,
			   size_t len, const struct shdrs *sh, Elf64_Shdr *out,
			   bool *found)
{
	static const char want[] = "__xen_guest";
	Elf64_Shdr strtab;

	*found = false;
	if (sh->shstrndx == SHN_UNDEF || sh->shstrndx >= sh->count)
		return 0;
	shdr_get(buf, sh, sh->shstrndx, &strtab);
	if (!range_ok(strtab.sh_offset, strtab.sh_size, len)) {
		errbuf_printf(c->err, c->err_len,
		       "section name table lies outside the file");
		return -EINVAL;
	}
	for (unsigned i = 1; i < sh->count; i++) {
		Elf64_Shdr s;

		shdr_get(buf, sh, i, &s);
		if (s.sh_name >= strtab.sh_size ||
		    strtab.sh_size - s.sh_name < sizeof(want))
			continue;
		if (memcmp(buf + strtab.sh_offset + s.sh_name, want,
			   sizeof(want)))
			continue;
		if (!range_ok(s.sh_offset, s.sh_size, len)) {
			errbuf_printf(c->err, c->err_len,
			       "__xen_guest section lies outside the file");
			return -EINVAL;
		}
		*out = s;
		*found = true;
		return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */

static int seg_cmp(const void *a, const void *b)
{
	const struct xen_elf_seg *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Checks the header; -ENOEXEC only for "not ELF at all". */
static int check_ehdr(const uint8_t *buf, size_t len, Elf64_Ehdr *eh,
		      char *err, size_t err_len)
{
	if (len < SELFMAG || memcmp(buf, ELFMAG, SELFMAG)) {
		errbuf_printf(err, err_len, "not an ELF file");
		return -ENOEXEC;
	}
	if (len < EI_NIDENT) {
		errbuf_printf(err, err_len, "truncated ELF header (%zu bytes)", len);
		return -EINVAL;
	}
	if (buf[EI_CLASS] != ELFCLASS64) {
		errbuf_printf(err, err_len,
		       "ELF class %u: not a 64-bit kernel (pvisor runs x86-64 PV guests)",
		       buf[EI_CLASS]);
		return -EINVAL;
	}
	if (buf[EI_DATA] != ELFDATA2LSB) {
		errbuf_printf(err, err_len, "ELF data encoding %u: not little-endian",
		       buf[EI_DATA]);
		return -EINVAL;
	}
	if (len < sizeof(*eh)) {
		errbuf_printf(err, err_len, "truncated ELF header (%zu bytes)", len);
		return -EINVAL;
	}
	memcpy(eh, buf, sizeof(*eh));
	if (eh->e_machine != EM_X86_64) {
		errbuf_printf(err, err_len,
		       "ELF machine %u: not an x86-64 kernel", eh->e_machine);
		return -EINVAL;
	}
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		errbuf_printf(err, err_len, "ELF type %u: not an executable",
		       eh->e_type);
		return -EINVAL;
	}
	if (eh->e_phnum == 0) {
		errbuf_printf(err, err_len, "ELF file has no program headers");
		return -EINVAL;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr)) {
		errbuf_printf(err, err_len, "ELF program header size %u (want %zu)",
		       eh->e_phentsize, sizeof(Elf64_Phdr));
		return -EINVAL;
	}
	if (!range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
		      len)) {
		errbuf_printf(err, err_len,
		       "ELF program header table lies outside the file");
		return -EINVAL;
	}
	if (eh->e_shnum != 0) {
		if (eh->e_shentsize != sizeof(Elf64_Shdr)) {
			errbuf_printf(err, err_len,
			       "ELF section header size %u (want %zu)",
			       eh->e_shentsize, sizeof(Elf64_Shdr));
			return -EINVAL;
		}
		if (!range_ok(eh->e_shoff,
			      (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr),
			      len)) {
			errbuf_printf(err, err_len,
			       "ELF section header table lies outside the file");
			return -EINVAL;
		}
	}
	return 0;
}

/* Reads the PT_LOAD and PT_NOTE program headers.  Segment vaddr holds
 * p_paddr until the address calculation. */
static int parse_phdrs(struct parse_ctx *c, const uint8_t *buf, size_t len,
		       const Elf64_Ehdr *eh)
{
	struct xen_elf_image *img = c->img;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t end;
		int rc;

		memcpy(&ph, buf + eh->e_phoff + (uint64_t)i * sizeof(ph),
		       sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			/* libelf skips notes at offset 0 (a binutils bug). */
			if (ph.p_offset == 0)
				continue;
			if (!range_ok(ph.p_offset, ph.p_filesz, len)) {
				errbuf_printf(c->err, c->err_len,
				       "note segment %u lies outside the file", i);
				return -EINVAL;
			}
			rc = parse_notes(c, buf, ph.p_offset, ph.p_filesz);
			if (rc < 0)
				return rc;
			continue;
		}
		/* libelf's elf_phdr_is_loadable(). */
		if (ph.p_type != PT_LOAD || !(ph.p_flags & (PF_R | PF_W | PF_X)))
			continue;
		if (ph.p_filesz > ph.p_memsz) {
			errbuf_printf(c->err, c->err_len,
			       "segment %u: file size %#llx exceeds memory size %#llx",
			       i, (unsigned long long)ph.p_filesz,
			       (unsigned long long)ph.p_memsz);
			return -EINVAL;
		}
		if (!range_ok(ph.p_offset, ph.p_filesz, len)) {
			errbuf_printf(c->err, c->err_len,
			       "segment %u: bytes %#llx+%#llx lie outside the file (%zu bytes)",
			       i, (unsigned long long)ph.p_offset,
			       (unsigned long long)ph.p_filesz, len);
			return -EINVAL;
		}
		if (__builtin_add_overflow(ph.p_paddr, ph.p_memsz, &end)) {
			errbuf_printf(c->err, c->err_len,
			       "segment %u: address %#llx + size %#llx overflows",
			       i, (unsigned long long)ph.p_paddr,
			       (unsigned long long)ph.p_memsz);
			return -EINVAL;
		}
		if (ph.p_memsz == 0)
			continue;
		if (img->nr_segs == XEN_ELF_MAX_SEGS) {
			errbuf_printf(c->err, c->err_len,
			       "more than %d loadable segments", XEN_ELF_MAX_SEGS);
			return -EINVAL;
		}
		img->segs[img->nr_segs++] = (struct xen_elf_seg){
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.memsz = ph.p_memsz,
			.vaddr = ph.p_paddr,
		};
	}
	if (img->nr_segs == 0) {
		errbuf_printf(c->err, c->err_len, "ELF file has no loadable segment");
		return -EINVAL;
	}
	return 0;
}

static int parse_sections(struct parse_ctx *c, const uint8_t *buf,
			  size_t len, const Elf64_Ehdr *eh)
{
	struct shdrs sh = {
		.off = eh->e_shoff,
		.count = eh->e_shnum,
		.shstrndx = eh->e_shstrndx,
	};
	Elf64_Shdr gi;
	bool found;
	int rc;

	/* Fall back to SHT_NOTE sections if no segment had Xen notes. */
	for (unsigned i = 1; i < sh.count; i++) {
		Elf64_Shdr s;

		shdr_get(buf, &sh, i, &s);
		if (s.sh_type != SHT_NOTE)
			continue;
		if (!range_ok(s.sh_offset, s.sh_size, len)) {
			errbuf_printf(c->err, c->err_len,
			       "note section %u lies outside the file", i);
			return -EINVAL;
		}
		rc = parse_notes(c, buf, s.sh_offset, s.sh_size);
		if (rc < 0)
			return rc;
	}
	if (c->nr_xen_notes > 0) {
		c->img->notes_from_sections = true;
		return 0;
	}

	/* Finally the legacy __xen_guest string. */
	rc = find_guest_info(c, buf, len, &sh, &gi, &found);
	if (rc < 0 || !found)
		return rc;
	c->saw_note_area = false; /* libelf: legacy => PADDR_OFFSET default */
	return parse_guest_info(c, buf + gi.sh_offset, gi.sh_size);
}

/* libelf's elf_xen_note_check() and elf_xen_addr_calc_check(). */
static int calc_addresses(struct parse_ctx *c, const Elf64_Ehdr *eh)
{
	struct xen_elf_image *img = c->img;
	uint64_t virt_offset, pstart = UINT64_MAX, pend = 0;

	if (c->nr_xen_notes == 0 && !img->legacy_guest_info) {
		errbuf_printf(c->err, c->err_len,
		       "no Xen ELF notes: not a Xen PV kernel");
		return -EINVAL;
	}
	if (strncmp(img->loader, "generic", 7) &&
	    strncmp(img->guest_os, "linux", 5)) {
		errbuf_printf(c->err, c->err_len,
		       "Xen notes: LOADER \"%s\", GUEST_OS \"%s\": Xen loads only the \"generic\" loader or \"linux\"",
		       img->loader, img->guest_os);
		return -EINVAL;
	}
	if (strncmp(img->xen_version, "xen-3.0", 7)) {
		errbuf_printf(c->err, c->err_len,
		       "Xen notes: XEN_VERSION \"%s\": not built for xen-3.0",
		       img->xen_version);
		return -EINVAL;
	}
	if (c->has_paddr_offset && !c->has_virt_base) {
		errbuf_printf(c->err, c->err_len,
		       "Xen notes: PADDR_OFFSET set but VIRT_BASE unset");
		return -EINVAL;
	}
	if (!c->has_virt_base)
		img->virt_base = 0;
	if (!c->has_paddr_offset)
		img->paddr_offset = c->saw_note_area ? 0 : img->virt_base;
	if (!c->has_entry)
		img->entry = eh->e_entry;

	/* Wrapping arithmetic, as libelf: a kernel in the upper half may
	 * give an offset "below zero". */
	virt_offset = img->virt_base - img->paddr_offset;
	for (unsigned i = 0; i < img->nr_segs; i++) {
		struct xen_elf_seg *s = &img->segs[i];
		uint64_t pa = s->vaddr, end;

		if (pa < pstart)
			pstart = pa;
		if (pa + s->memsz > pend)
			pend = pa + s->memsz;
		s->vaddr = pa + virt_offset;
		if (__builtin_add_overflow(s->vaddr, s->memsz, &end)) {
			errbuf_printf(c->err, c->err_len,
			       "segment at physical %#llx: virtual range overflows",
			       (unsigned long long)pa);
			return -EINVAL;
		}
	}
	img->v_start = pstart + virt_offset;
	img->v_end = pend + virt_offset;

	qsort(img->segs, img->nr_segs, sizeof(img->segs[0]), seg_cmp);
	for (unsigned i = 1; i < img->nr_segs; i++) {
		const struct xen_elf_seg *p = &img->segs[i - 1];

		if (img->segs[i].vaddr < p->vaddr + p->memsz) {
			errbuf_printf(c->err, c->err_len,
			       "segments at %#llx and %#llx overlap",
			       (unsigned long long)p->vaddr,
			       (unsigned long long)img->segs[i].vaddr);
			return -EINVAL;
		}
	}
	if (img->v_start > img->v_end || img->entry < img->v_start ||
	    img->entry > img->v_end || img->virt_base > img->v_start) {
		errbuf_printf(c->err, c->err_len,
		       "image [%#llx, %#llx), entry %#llx, VIRT_BASE %#llx: start or entry out of bounds",
		       (unsigned long long)img->v_start,
		       (unsigned long long)img->v_end,
		       (unsigned long long)img->entry,
		       (unsigned long long)img->virt_base);
		return -EINVAL;
	}
	if (img->has_init_p2m && img->init_p2m >= img->v_start &&
	    img->init_p2m < img->v_end) {
		errbuf_printf(c->err, c->err_len,
		       "INIT_P2M %#llx lies inside the kernel image",
		       (unsigned long long)img->init_p2m);
		return -EINVAL;
	}
	/* Xen's own PV builder rejects a hypercall page outside the image;
	 * the page is written into the kernel's frames. */
	if (img->has_hypercall_page &&
	    (img->hypercall_page < img->v_start ||
	     img->hypercall_page >= img->v_end)) {
		errbuf_printf(c->err, c->err_len,
		       "HYPERCALL_PAGE %#llx lies outside the image [%#llx, %#llx)",
		       (unsigned long long)img->hypercall_page,
		       (unsigned long long)img->v_start,
		       (unsigned long long)img->v_end);
		return -EINVAL;
	}
	return 0;
}

int xen_elf_parse(const uint8_t *buf, size_t len, struct xen_elf_image *out,
		  char *err, size_t err_len)
{
	struct parse_ctx c = { .img = out, .err = err, .err_len = err_len };
	Elf64_Ehdr eh;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && err_len)
		err[0] = '\0';
	rc = check_ehdr(buf, len, &eh, err, err_len);
	if (rc < 0)
		return rc;
	rc = parse_phdrs(&c, buf, len, &eh);
	if (rc < 0)
		return rc;
	if (c.nr_xen_notes == 0) {
		rc = parse_sections(&c, buf, len, &eh);
		if (rc < 0)
			return rc;
	}
	return calc_addresses(&c, &eh);
}
