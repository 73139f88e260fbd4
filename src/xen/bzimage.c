/*
 * Linux bzImage unwrapping: find the compressed vmlinux inside a bzImage and
 * decompress it with Debian's libraries (zlib, liblzma, liblz4, libzstd).
 *
 * Layout (Documentation/arch/x86/boot.rst): sector 0 ends with the 0xAA55
 * boot flag, the setup header starts at 0x1F1 and carries the "HdrS" magic
 * at 0x202.  setup_sects 512-byte sectors of real-mode setup follow the boot
 * sector (0 means 4); the protected-mode part starts after them, and from
 * protocol 2.08 on, payload_offset/payload_length locate the compressed ELF
 * inside it.  Linux's x86 build appends the uncompressed size as a le32 to
 * every payload (gzip's own ISIZE trailer plays that role for gzip), so the
 * output size is known before decompression starts: pvisor allocates exactly
 * that, under a cap, and demands that the data decompress to exactly that.
 */
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "xen/bzimage.h"

/* Setup header fields, as offsets from the start of the file. */
#define BZ_SETUP_SECTS 0x1f1
#define BZ_BOOT_FLAG 0x1fe
#define BZ_HEADER_MAGIC 0x202
#define BZ_VERSION 0x206
#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_HEADER_END 0x250 /* what protocol 2.08 needs us to read */

#define BZ_MIN_PROTOCOL 0x0208
#define BZ_MIN_ELF 64 /* an ELF64 header */

/* lz4 -l: blocks of at most 8 MiB uncompressed, each after a le32 size. */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

/* Linux's own decompressors use a 32 MiB xz dictionary at most. */
#define XZ_MEMLIMIT (128ull << 20)

struct bz_ctx {
	char *err;
	size_t err_len;
};

static int __attribute__((format(printf, 3, 4)))
bz_fail(struct bz_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	if (c->err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int bz_gunzip(struct bz_ctx *c, const uint8_t *in, size_t in_len,
		     uint8_t *out, size_t out_len)
{
	z_stream s;
	uint8_t extra;
	int zr, ret = 0;

	memset(&s, 0, sizeof(s));
	/* 16 + MAX_WBITS: gzip wrapper only, so the CRC32 is checked. */
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
		return bz_fail(c, -ENOMEM, "gzip: cannot initialise zlib");
	/* zlib counts in uInt; both lengths are far below 4 GiB (checked). */
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)in_len;
	s.next_out = out;
	s.avail_out = (uInt)out_len;
	zr = inflate(&s, Z_FINISH);
	if (zr == Z_BUF_ERROR && s.avail_out == 0) {
		/* Output is full: does the stream want to write more? */
		s.next_out = &extra;
		s.avail_out = 1;
		zr = inflate(&s, Z_FINISH);
		if (s.avail_out == 0) {
			inflateEnd(&s);
			return bz_fail(c, -EINVAL,
				       "gzip: payload decompresses to more than the declared %zu bytes",
				       out_len);
		}
	}
	if (zr == Z_STREAM_END) {
		if (s.total_out != out_len)
			ret = bz_fail(c, -EINVAL,
				      "gzip: payload decompresses to %lu bytes, not the declared %zu",
				      s.total_out, out_len);
		else if (s.avail_in != 0)
			ret = bz_fail(c, -EINVAL,
				      "gzip: %u bytes of garbage after the stream",
				      s.avail_in);
	} else if (zr == Z_BUF_ERROR) {
		ret = bz_fail(c, -EINVAL, "gzip: payload is truncated");
	} else {
		ret = bz_fail(c, -EINVAL, "gzip: corrupt payload (%s)",
			      s.msg ? s.msg : "zlib error");
	}
	inflateEnd(&s);
	return ret;
}

static const char *bz_lzma_strerror(lzma_ret r)
{
	switch (r) {
	case LZMA_MEM_ERROR: return "out of memory";
	case LZMA_MEMLIMIT_ERROR: return "dictionary over the memory limit";
	case LZMA_FORMAT_ERROR: return "bad header";
	case LZMA_OPTIONS_ERROR: return "unsupported options";
	case LZMA_DATA_ERROR: return "corrupt data";
	case LZMA_BUF_ERROR: return "truncated";
	case LZMA_UNSUPPORTED_CHECK: return "unsupported check";
	default: return "liblzma error";
	}
}

/* xz and the legacy .lzma format share liblzma's streaming interface. */
static int bz_unlzma_common(struct bz_ctx *c, bool xz, const uint8_t *in,
			    size_t in_len, uint8_t *out, size_t out_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	const char *name = xz ? "xz" : "lzma";
	uint8_t extra;
	lzma_ret r;
	int ret = 0;

	/*
	 * No LZMA_CONCATENATED: one xz stream, as Linux writes it.  The
	 * decoder stops at its end, so the trailing-bytes check is ours.
	 */
	if (xz)
		r = lzma_stream_decoder(&s, XZ_MEMLIMIT, 0);
	else
		r = lzma_alone_decoder(&s, XZ_MEMLIMIT);
	if (r != LZMA_OK)
		return bz_fail(c, -ENOMEM, "%s: cannot initialise liblzma", name);
	s.next_in = in;
	s.avail_in = in_len;
	s.next_out = out;
	s.avail_out = out_len;
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK && s.avail_out > 0);

	if (r == LZMA_OK && s.avail_out == 0) {
		/* Output full: see whether the stream has more to give. */
		s.next_out = &extra;
		s.avail_out = 1;
		do
			r = lzma_code(&s, LZMA_FINISH);
		while (r == LZMA_OK && s.avail_out == 1);
		if (s.avail_out == 0)
			ret = bz_fail(c, -EINVAL,
				      "%s: payload decompresses to more than the declared %zu bytes",
				      name, out_len);
		else if (r != LZMA_STREAM_END)
			ret = bz_fail(c, -EINVAL, "%s: %s", name,
				      bz_lzma_strerror(r));
	} else if (r == LZMA_STREAM_END) {
		if (s.total_out != out_len)
			ret = bz_fail(c, -EINVAL,
				      "%s: payload decompresses to %llu bytes, not the declared %zu",
				      name, (unsigned long long)s.total_out,
				      out_len);
	} else {
		ret = bz_fail(c, -EINVAL, "%s: %s", name, bz_lzma_strerror(r));
	}
	if (ret == 0 && s.avail_in != 0)
		ret = bz_fail(c, -EINVAL, "%s: %zu bytes of garbage after the stream",
			      name, s.avail_in);
	lzma_end(&s);
	return ret;
}

static int bz_unxz(struct bz_ctx *c, const uint8_t *in, size_t in_len,
		   uint8_t *out, size_t out_len)
{
	return bz_unlzma_common(c, true, in, in_len, out, out_len);
}

static int bz_unlzma(struct bz_ctx *c, const uint8_t *in, size_t in_len,
		     uint8_t *out, size_t out_len)
{
	return bz_unlzma_common(c, false, in, in_len, out, out_len);
}

static int bz_unzstd(struct bz_ctx *c, const uint8_t *in, size_t in_len,
		     uint8_t *out, size_t out_len)
{
	ZSTD_DCtx *d;
	size_t n;
	int ret = 0;

	d = ZSTD_createDCtx();
	if (!d)
		return bz_fail(c, -ENOMEM, "zstd: cannot allocate a context");
	/*
	 * One-shot: the whole output buffer is the window, so no window
	 * allocation follows from the frame header; a frame that wants more
	 * room than out_len fails with dstSize_tooSmall.
	 */
	n = ZSTD_decompressDCtx(d, out, out_len, in, in_len);
	if (ZSTD_isError(n)) {
		if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
			ret = bz_fail(c, -EINVAL,
				      "zstd: payload decompresses to more than the declared %zu bytes",
				      out_len);
		else
			ret = bz_fail(c, -EINVAL, "zstd: %s",
				      ZSTD_getErrorName(n));
	} else if (n != out_len) {
		ret = bz_fail(c, -EINVAL,
			      "zstd: payload decompresses to %zu bytes, not the declared %zu",
			      n, out_len);
	}
	ZSTD_freeDCtx(d);
	return ret;
}

/*
 * The lz4 "legacy" format that Linux uses (lz4 -l): a magic, then blocks,
 * each a le32 compressed size and an independent LZ4 block of at most 8 MiB
 * output.  The magic may recur between blocks (concatenated streams).
 */
static int bz_unlz4(struct bz_ctx *c, const uint8_t *in, size_t in_len,
		    uint8_t *out, size_t out_len)
{
	uint8_t *scratch = NULL;
	size_t pos = 0, done = 0;
	int ret = 0;

	if (in_len < 4 || le32(in) != LZ4_LEGACY_MAGIC)
		return bz_fail(c, -EINVAL, "lz4: not a legacy-format stream");
	pos = 4;
	while (pos < in_len) {
		uint32_t csize;
		size_t room = out_len - done;
		int n;

		if (in_len - pos < 4) {
			ret = bz_fail(c, -EINVAL, "lz4: truncated block header at %zu", pos);
			break;
		}
		csize = le32(in + pos);
		pos += 4;
		if (csize == LZ4_LEGACY_MAGIC)
			continue;
		if (csize == 0 || csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK)) {
			ret = bz_fail(c, -EINVAL, "lz4: bad block size %u at %zu",
				      csize, pos - 4);
			break;
		}
		if (csize > in_len - pos) {
			ret = bz_fail(c, -EINVAL, "lz4: block at %zu is truncated", pos - 4);
			break;
		}
		if (room >= LZ4_LEGACY_BLOCK) {
			n = LZ4_decompress_safe((const char *)in + pos,
						(char *)out + done, (int)csize,
						LZ4_LEGACY_BLOCK);
		} else {
			/*
			 * Near the end of the output a block that does not fit
			 * and a corrupt block look the same to LZ4; decoding
			 * into a full-size scratch block tells them apart.
			 */
			if (!scratch && !(scratch = malloc(LZ4_LEGACY_BLOCK))) {
				ret = bz_fail(c, -ENOMEM, "lz4: out of memory");
				break;
			}
			n = LZ4_decompress_safe((const char *)in + pos,
						(char *)scratch, (int)csize,
						LZ4_LEGACY_BLOCK);
			if (n > 0 && (size_t)n > room) {
				ret = bz_fail(c, -EINVAL,
					      "lz4: payload decompresses to more than the declared %zu bytes",
					      out_len);
				break;
			}
			if (n > 0)
				memcpy(out + done, scratch, (size_t)n);
		}
		if (n <= 0) {
			ret = bz_fail(c, -EINVAL, "lz4: corrupt block at %zu", pos - 4);
			break;
		}
		done += (size_t)n;
		pos += csize;
	}
	if (ret == 0 && done != out_len)
		ret = bz_fail(c, -EINVAL,
			      "lz4: payload decompresses to %zu bytes, not the declared %zu",
			      done, out_len);
	free(scratch);
	return ret;
}

struct bz_format {
	const char *name;
	uint8_t magic[6];
	uint8_t magic_len;
	bool size_appended; /* Linux appended a le32 size (not gzip's own) */
	/*
	 * Turns in[0..in_len) into exactly out_len bytes at out; more output,
	 * less, trailing garbage and corrupt data are -EINVAL with a reason.
	 * NULL: recognised, not supported.
	 */
	int (*decomp)(struct bz_ctx *c, const uint8_t *in, size_t in_len,
		      uint8_t *out, size_t out_len);
};

static const struct bz_format bz_formats[] = {
	{ "gzip", { 0x1f, 0x8b }, 2, false, bz_gunzip },
	{ "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6, true, bz_unxz },
	{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4, true, bz_unlz4 },
	{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4, true, bz_unzstd },
	/* .lzma: properties byte 0x5d (lc=3 lp=0 pb=2), le32 dictionary size. */
	{ "lzma", { 0x5d, 0x00, 0x00 }, 3, true, bz_unlzma },
	{ "bzip2", { 'B', 'Z', 'h' }, 3, true, NULL },
	{ "lzo", { 0x89, 'L', 'Z', 'O', 0x00 }, 5, true, NULL },
};

static const struct bz_format *bz_identify(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < sizeof(bz_formats) / sizeof(bz_formats[0]); i++) {
		const struct bz_format *f = &bz_formats[i];

		if (len >= f->magic_len && memcmp(p, f->magic, f->magic_len) == 0)
			return f;
	}
	return NULL;
}

int bzimage_extract_max(const uint8_t *buf, size_t len, size_t max_out,
			struct bzimage_info *info, uint8_t **elf,
			size_t *elf_len, char *err, size_t err_len)
{
	struct bz_ctx c = { err, err_len };
	struct bzimage_info local;
	const struct bz_format *f;
	const uint8_t *payload;
	uint64_t pm_start, start, end;
	uint32_t plen, declared;
	uint8_t *out;
	int ret;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	*elf = NULL;
	*elf_len = 0;
	if (err_len > 0)
		err[0] = '\0';

	/* Not ours unless both the boot flag and the "HdrS" magic are there. */
	if (len < BZ_VERSION || le16(buf + BZ_BOOT_FLAG) != 0xaa55 ||
	    memcmp(buf + BZ_HEADER_MAGIC, "HdrS", 4) != 0)
		return bz_fail(&c, -ENOEXEC, "not a bzImage (no boot flag or HdrS header)");

	if (len < BZ_HEADER_END)
		return bz_fail(&c, -EINVAL, "bzImage truncated in its setup header (%zu bytes)",
			       len);
	info->protocol = le16(buf + BZ_VERSION);
	if (info->protocol < BZ_MIN_PROTOCOL)
		return bz_fail(&c, -EINVAL,
			       "bzImage boot protocol %u.%02u is older than 2.08 (no payload fields)",
			       info->protocol >> 8, info->protocol & 0xff);
	info->setup_sects = buf[BZ_SETUP_SECTS] ? buf[BZ_SETUP_SECTS] : 4;

	/* All offsets are at most 2^32 + 2^17, so 64-bit sums cannot wrap. */
	pm_start = ((uint64_t)info->setup_sects + 1) * 512;
	if (pm_start > len)
		return bz_fail(&c, -EINVAL,
			       "bzImage truncated: %u setup sectors need %llu bytes, file has %zu",
			       info->setup_sects, (unsigned long long)pm_start, len);
	start = pm_start + le32(buf + BZ_PAYLOAD_OFFSET);
	plen = le32(buf + BZ_PAYLOAD_LENGTH);
	end = start + plen;
	info->payload_start = start;
	info->payload_length = plen;
	if (start > len || end > len)
		return bz_fail(&c, -EINVAL,
			       "bzImage payload [%#llx, %#llx) lies outside the %zu-byte file",
			       (unsigned long long)start, (unsigned long long)end,
			       len);
	/* A magic and the 4-byte size trailer at the very least. */
	if (plen < 8)
		return bz_fail(&c, -EINVAL, "bzImage payload is only %u bytes", plen);
	payload = buf + start;

	f = bz_identify(payload, plen);
	if (!f)
		return bz_fail(&c, -EINVAL,
			       "bzImage payload has an unknown compression (magic %02x %02x %02x %02x)",
			       payload[0], payload[1], payload[2], payload[3]);
	info->compression = f->name;
	if (!f->decomp)
		return bz_fail(&c, -EINVAL, "bzImage payload is %s-compressed, which pvisor does not support",
			       f->name);

	declared = le32(payload + plen - 4);
	info->declared_size = declared;
	if (declared < BZ_MIN_ELF)
		return bz_fail(&c, -EINVAL,
			       "bzImage payload declares %u uncompressed bytes, too small for an ELF",
			       declared);
	if (declared > max_out)
		return bz_fail(&c, -EINVAL,
			       "bzImage payload declares %u uncompressed bytes, over the %zu-byte cap",
			       declared, max_out);

	out = malloc(declared);
	if (!out)
		return bz_fail(&c, -ENOMEM, "bzImage: cannot allocate %u bytes", declared);
	ret = f->decomp(&c, payload, f->size_appended ? plen - 4 : plen, out,
			declared);
	if (ret == 0 && memcmp(out, "\x7f" "ELF", 4) != 0)
		ret = bz_fail(&c, -EINVAL, "bzImage payload (%s) is not an ELF file",
			      f->name);
	if (ret < 0) {
		free(out);
		return ret;
	}
	*elf = out;
	*elf_len = declared;
	return 0;
}

int bzimage_extract(const uint8_t *buf, size_t len, uint8_t **elf,
		    size_t *elf_len, char *err, size_t err_len)
{
	return bzimage_extract_max(buf, len, BZIMAGE_MAX_ELF, NULL, elf,
				   elf_len, err, err_len);
}
