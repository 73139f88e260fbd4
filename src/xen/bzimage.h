/*
 * Linux bzImage unwrapping.  A Xen PV guest kernel is an ELF; Linux ships it
 * as a bzImage: real-mode setup sectors, a 32-bit decompressor, and the ELF
 * vmlinux compressed as the "payload" (boot protocol 2.08+, payload_offset /
 * payload_length in the setup header).  pvisor, like Xen's domain builder,
 * skips the decompressor and unpacks the payload on the host side.
 *
 * The image is untrusted input (a user's file): every offset and length is
 * checked, and decompression writes into a buffer whose size is fixed before
 * it starts.  See docs/kernel-images.md.
 */
#ifndef PVISOR_BZIMAGE_H
#define PVISOR_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Largest ELF bzimage_extract() produces (Debian's vmlinux is ~60 MiB). */
#define BZIMAGE_MAX_ELF (256ul << 20)

/* What the header and payload said; filled as far as parsing got. */
struct bzimage_info {
	uint16_t protocol;       /* boot protocol, 0x020f = 2.15 */
	unsigned setup_sects;    /* after "0 means 4" */
	uint64_t payload_start;  /* file offset of the compressed payload */
	uint32_t payload_length; /* its length, size trailer included */
	uint32_t declared_size;  /* the payload's trailing le32: ELF size */
	const char *compression; /* "gzip", "xz", "lz4", "zstd", "lzma", ... */
};

/*
 * Extracts the ELF kernel from the bzImage buf[0..len).
 *
 * On success returns 0, sets *elf to a malloc()ed buffer the caller frees
 * with free(), and *elf_len to its size (it starts with "\x7fELF"; bytes after
 * the ELF proper, such as relocation tables, may follow).
 * Returns -ENOEXEC when buf is not a bzImage at all (no 0x55AA boot flag or no
 * "HdrS" setup header): the caller may try it as a plain ELF.  Returns -EINVAL
 * when it is a bzImage but cannot be used (too old a boot protocol, truncated,
 * offsets out of range, unsupported or corrupt compression, size over the
 * cap, payload not an ELF), and -ENOMEM when out of memory.  On any error a
 * one-line reason is written to err (if err_len > 0), *elf is NULL and
 * *elf_len 0.
 */
int bzimage_extract(const uint8_t *buf, size_t len, uint8_t **elf,
		    size_t *elf_len, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/*
 * bzimage_extract() with an explicit output cap max_out (tests and the fuzz
 * harness use small ones) and an optional info (may be NULL), filled even on
 * failure as far as parsing got.
 */
int bzimage_extract_max(const uint8_t *buf, size_t len, size_t max_out,
			struct bzimage_info *info, uint8_t **elf,
			size_t *elf_len, char *err, size_t err_len)
	__attribute__((warn_unused_result));

#endif
