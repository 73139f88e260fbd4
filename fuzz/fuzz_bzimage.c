/*
 * libFuzzer harness for the bzImage unwrapper: arbitrary bytes as a kernel
 * image file.  The seeds in fuzz/corpus/fuzz_bzimage/ are small valid
 * images in every supported compression (written by tests/unit/
 * test_bzimage.c with BZIMAGE_WRITE_CORPUS set).
 */
// fuzz-sources: src/xen/bzimage.c
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xen/bzimage.h"

/* Small enough that a declared size costs little, large enough for seeds. */
#define FUZZ_MAX_OUT (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage_info info;
	uint8_t *elf = NULL;
	size_t elf_len = 0;
	char err[128];
	int r;

	r = bzimage_extract_max(data, size, FUZZ_MAX_OUT, &info, &elf,
				&elf_len, err, sizeof(err));
	if (r == 0) {
		/* The contract: an ELF of the declared size under the cap. */
		if (!elf || elf_len < 4 || elf_len > FUZZ_MAX_OUT ||
		    memcmp(elf, "\x7f" "ELF", 4) != 0 ||
		    elf_len != info.declared_size)
			abort();
		free(elf);
	} else {
		if (elf || elf_len || (r != -ENOEXEC && r != -EINVAL && r != -ENOMEM) ||
		    strlen(err) == 0 || memchr(err, '\n', strlen(err)))
			abort();
	}
	return 0;
}
