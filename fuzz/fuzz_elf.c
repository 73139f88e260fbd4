/*
 * libFuzzer harness for the kernel image parser, and for the domain builder
 * on whatever the parser accepts (into a small guest memory with a fake
 * backend).  Seeds: fuzz/corpus/fuzz_elf/.
 */
// fuzz-sources: src/xen/elf.c src/xen/build.c src/core/gmem.c src/core/host_table.c src/core/log.c
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/vm.h"
#include "xen/build.h"
#include "xen/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RAM_FRAMES 1024 /* 4 MiB: enough for the seeds' layouts */

static void fake_fill(struct vm *vm, uint8_t *page)
{
	(void)vm;
	memset(page, 0xcc, PAGE_SIZE);
}

static bool fake_reserved(const struct vm *vm, unsigned slot)
{
	(void)vm;
	return slot == 256 || slot == 511;
}

static uint64_t fake_entry(const struct vm *vm, unsigned slot)
{
	(void)vm;
	return 0x1000ull * slot | 7;
}

static const struct backend_ops fake_ops = {
	.name = "fuzz",
	.fill_hypercall_page = fake_fill,
	.l4_slot_reserved = fake_reserved,
	.l4_slot_entry = fake_entry,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm *vm;
	struct xen_elf_image img;
	struct boot_state bs;
	char err[256];
	int rc;

	rc = xen_elf_parse(data, size, &img, err, sizeof(err));
	if (rc != 0 && rc != -ENOEXEC && rc != -EINVAL)
		abort();
	if (rc != 0) {
		if (!memchr(err, '\0', sizeof(err)) || err[0] == '\0')
			abort(); /* every error names its reason */
		return 0;
	}
	/* What the parser promises. */
	if (img.nr_segs == 0 || img.nr_segs > XEN_ELF_MAX_SEGS ||
	    img.v_start > img.v_end || img.entry < img.v_start ||
	    img.entry > img.v_end || img.virt_base > img.v_start)
		abort();
	for (unsigned i = 0; i < img.nr_segs; i++) {
		const struct xen_elf_seg *s = &img.segs[i];

		if (s->filesz > s->memsz || s->offset > size ||
		    s->filesz > size - s->offset || s->vaddr < img.v_start ||
		    s->vaddr + s->memsz > img.v_end ||
		    (i && s->vaddr < img.segs[i - 1].vaddr + img.segs[i - 1].memsz))
			abort();
	}

	if (!vm) {
		vm = calloc(1, sizeof(*vm));
		if (!vm || gmem_init(&vm->mem, FUZZ_RAM_FRAMES, 1) != 0)
			abort();
		vm->backend = &fake_ops;
	}
	rc = domain_build(vm, &img, data, size, data, size > 64 ? 64 : size,
			  "fuzz", 1, 2, &bs, err, sizeof(err));
	if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
		abort();
	if (rc == 0) {
		uint64_t gpa;

		/* The entry point and the stack must be mapped. */
		if (gva_to_gpa(&vm->mem, bs.l4_mfn, bs.rsp - 8, true, &gpa) ||
		    gva_to_gpa(&vm->mem, bs.l4_mfn, bs.rsi, false, &gpa))
			abort();
	}
	return 0;
}
