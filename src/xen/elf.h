/*
 * The Xen PV kernel image: an ELF64 x86-64 executable that carries Xen ELF
 * notes (or the legacy `__xen_guest` string).  Parsing is a pure function
 * over a byte buffer; it accepts what Xen's libelf accepts (notes in PT_NOTE
 * segments, else SHT_NOTE sections, else `__xen_guest`; libelf's defaults
 * for absent notes) and is stricter where libelf is merely lax about
 * malformed files (bounds, overflows, overlapping segments).
 */
#ifndef PVISOR_XEN_ELF_H
#define PVISOR_XEN_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>

#define XEN_ELF_MAX_SEGS 16
#define XEN_ELF_STR_MAX 64      /* libelf keeps 64 bytes of each string */
#define XEN_ELF_FEATURES_MAX 256

/* One loadable segment: file bytes [offset, offset+filesz) are copied to
 * virtual address vaddr, and [vaddr+filesz, vaddr+memsz) is zeroed. */
struct xen_elf_seg {
	uint64_t offset;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t vaddr; /* p_paddr + (virt_base - paddr_offset), as libelf */
};

struct xen_elf_image {
	unsigned nr_segs;
	struct xen_elf_seg segs[XEN_ELF_MAX_SEGS]; /* sorted by vaddr */

	/* Where the notes came from. */
	bool notes_from_sections; /* SHT_NOTE sections, no PT_NOTE carried them */
	bool legacy_guest_info;   /* the `__xen_guest` string */

	/* Addresses after libelf's defaults (elf_xen_addr_calc_check). */
	uint64_t virt_base;       /* VIRT_BASE, default 0 */
	uint64_t paddr_offset;    /* PADDR_OFFSET, default 0 (notes) or
				   * virt_base (legacy string) */
	uint64_t entry;           /* ENTRY, default e_entry */
	uint64_t v_start, v_end;  /* [v_start, v_end): the loaded image */
	bool has_hypercall_page;
	uint64_t hypercall_page;  /* VA of the hypercall page */
	bool has_init_p2m;
	uint64_t init_p2m;        /* INIT_P2M: where the guest wants the P2M */
	bool has_hv_start_low;
	uint64_t hv_start_low;
	bool has_phys32_entry;
	uint32_t phys32_entry;
	bool suspend_cancel;
	bool mod_start_pfn;       /* MOD_START_PFN: understands a PFN mod_start */
	bool bsd_symtab;
	bool pae_yes;             /* PAE_MODE "yes" (or "bimodal") */

	/* Strings, NUL-terminated, truncated to the array size. */
	char guest_os[XEN_ELF_STR_MAX];
	char guest_version[XEN_ELF_STR_MAX];
	char xen_version[XEN_ELF_STR_MAX];
	char loader[XEN_ELF_STR_MAX];
	char pae_mode[XEN_ELF_STR_MAX];
	char features[XEN_ELF_FEATURES_MAX]; /* FEATURES, as written */

	/* XENFEAT_* bits: FEATURES names (a '!' prefix makes one required;
	 * required ones are also supported) and SUPPORTED_FEATURES. */
	uint32_t f_supported[XENFEAT_NR_SUBMAPS];
	uint32_t f_required[XENFEAT_NR_SUBMAPS];
};

/*
 * Parses the kernel image buf[0..len) into *out (fully overwritten).
 * Returns 0, -ENOEXEC if buf is not an ELF file at all (another loader may
 * try it), or -EINVAL if it is an ELF file that pvisor cannot boot: broken,
 * not ELF64 x86-64, without Xen notes, or for a Xen other than "xen-3.0".
 * On error, err (if err_len > 0) holds a one-line reason without a trailing
 * newline.  Pure: no I/O, no allocation; safe on any input.
 */
int xen_elf_parse(const uint8_t *buf, size_t len, struct xen_elf_image *out,
		  char *err, size_t err_len) __attribute__((warn_unused_result));

/*
 * Parses a FEATURES string ("a|!b|c") into XENFEAT bit maps, as libelf does:
 * unknown names are ignored unless required ('!'), which is an error.
 * Returns 0 or -EINVAL.
 */
int xen_elf_parse_features(const char *features,
			   uint32_t supported[XENFEAT_NR_SUBMAPS],
			   uint32_t required[XENFEAT_NR_SUBMAPS])
	__attribute__((warn_unused_result));

/* The FEATURES name of XENFEAT bit `bit`, or NULL if libelf knows none. */
const char *xen_elf_feature_name(unsigned bit);

#endif
