/*
 * bzImage extraction: synthetic bzImages built here with each compressor
 * library, a table of broken images, and Debian's real kernels when
 * tools/fetch-kernel.sh has put them under build/kernel/.
 *
 * BZIMAGE_WRITE_CORPUS=dir makes the test also write its valid synthetic
 * images there (that is how fuzz/corpus/fuzz_bzimage/ was made).
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "pvisor/xen.h"
#include "xen/bzimage.h"

/* ---- building synthetic images ---- */

struct buf {
	uint8_t *p;
	size_t len;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->len + n);
	assert_non_null(b->p);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_le32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };

	buf_put(b, x, 4);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* A fake ELF: the magic, then half-compressible bytes. */
static uint8_t *make_elf(size_t len, uint32_t seed)
{
	uint8_t *e = malloc(len);

	assert_non_null(e);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		e[i] = (i / 64) % 2 ? (uint8_t)(seed >> 24) : (uint8_t)i;
	}
	memcpy(e, "\x7f" "ELF", 4);
	return e;
}

enum comp { C_GZIP, C_XZ, C_LZ4, C_ZSTD, C_LZMA, C_NR };
static const char *const comp_name[C_NR] = { "gzip", "xz", "lz4", "zstd", "lzma" };

static void compress_gzip(struct buf *o, const uint8_t *in, size_t len)
{
	z_stream s;
	uint8_t tmp[65536];
	int r;

	memset(&s, 0, sizeof(s));
	assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)len;
	do {
		s.next_out = tmp;
		s.avail_out = sizeof(tmp);
		r = deflate(&s, Z_FINISH);
		buf_put(o, tmp, sizeof(tmp) - s.avail_out);
	} while (r == Z_OK);
	assert_int_equal(r, Z_STREAM_END);
	deflateEnd(&s);
}

static void compress_lzma(struct buf *o, const uint8_t *in, size_t len, bool xz)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	uint8_t tmp[65536];
	lzma_ret r;

	assert_false(lzma_lzma_preset(&opt, 1));
	if (xz)
		assert_int_equal(lzma_easy_encoder(&s, 1, LZMA_CHECK_CRC32), LZMA_OK);
	else
		assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
	s.next_in = in;
	s.avail_in = len;
	do {
		s.next_out = tmp;
		s.avail_out = sizeof(tmp);
		r = lzma_code(&s, LZMA_FINISH);
		buf_put(o, tmp, sizeof(tmp) - s.avail_out);
	} while (r == LZMA_OK);
	assert_int_equal(r, LZMA_STREAM_END);
	lzma_end(&s);
}

/* lz4 -l: magic, then (le32 size, block) per 8 MiB of input. */
static void compress_lz4(struct buf *o, const uint8_t *in, size_t len)
{
	const size_t blk = 8u << 20;
	int bound = LZ4_compressBound((int)blk);
	char *tmp = malloc((size_t)bound);

	assert_non_null(tmp);
	buf_le32(o, 0x184c2102u);
	for (size_t off = 0; off < len; off += blk) {
		size_t n = len - off < blk ? len - off : blk;
		int c = LZ4_compress_default((const char *)in + off, tmp, (int)n, bound);

		assert_true(c > 0);
		buf_le32(o, (uint32_t)c);
		buf_put(o, tmp, (size_t)c);
	}
	free(tmp);
}

static void compress_zstd(struct buf *o, const uint8_t *in, size_t len)
{
	size_t bound = ZSTD_compressBound(len);
	uint8_t *tmp = malloc(bound);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t n;

	assert_non_null(tmp);
	assert_non_null(cc);
	/* The zstd tool, which Linux's build uses, writes a checksum. */
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
	n = ZSTD_compress2(cc, tmp, bound, in, len);
	assert_false(ZSTD_isError(n));
	buf_put(o, tmp, n);
	ZSTD_freeCCtx(cc);
	free(tmp);
}

static void pack(struct buf *o, enum comp c, const uint8_t *in, size_t len)
{
	switch (c) {
	case C_GZIP: compress_gzip(o, in, len); break;
	case C_XZ: compress_lzma(o, in, len, true); break;
	case C_LZ4: compress_lz4(o, in, len); break;
	case C_ZSTD: compress_zstd(o, in, len); break;
	case C_LZMA: compress_lzma(o, in, len, false); break;
	default: fail();
	}
}

#define SETUP_SECTS 2
#define PAYLOAD_OFFSET 0x80
#define PM_START ((SETUP_SECTS + 1) * 512)
#define PAYLOAD_START (PM_START + PAYLOAD_OFFSET)

/*
 * A bzImage as Linux's x86 build lays it out: boot sector with the setup
 * header, setup sectors, a stand-in decompressor, then the payload with the
 * le32 uncompressed size appended (gzip carries it already).
 */
static struct buf make_bzimage_from(const uint8_t *payload, size_t plen,
				    bool append_size, uint32_t size)
{
	struct buf b = { NULL, 0 };
	uint8_t *h;

	b.p = calloc(1, PAYLOAD_START);
	assert_non_null(b.p);
	b.len = PAYLOAD_START;
	h = b.p;
	h[0x1f1] = SETUP_SECTS;
	put_le16(h + 0x1fe, 0xaa55);
	memcpy(h + 0x202, "HdrS", 4);
	put_le16(h + 0x206, 0x020f);
	memset(h + PM_START, 0x90, PAYLOAD_OFFSET); /* "decompressor" */
	buf_put(&b, payload, plen);
	if (append_size)
		buf_le32(&b, size);
	put_le32(b.p + 0x248, PAYLOAD_OFFSET);
	put_le32(b.p + 0x24c, (uint32_t)(b.len - PAYLOAD_START));
	/* Linux pads the image; so do we, to catch "payload runs to EOF" bugs. */
	buf_put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	return b;
}

static struct buf make_bzimage(enum comp c, const uint8_t *elf, size_t len)
{
	struct buf z = { NULL, 0 }, b;

	pack(&z, c, elf, len);
	b = make_bzimage_from(z.p, z.len, c != C_GZIP, (uint32_t)len);
	free(z.p);
	return b;
}

static void maybe_write_corpus(const char *name, const struct buf *b)
{
	const char *dir = getenv("BZIMAGE_WRITE_CORPUS");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
	fclose(f);
}

/* ---- positive cases ---- */

static void check_roundtrip(enum comp c, size_t len, size_t cap)
{
	uint8_t *elf = make_elf(len, (uint32_t)len), *out = NULL;
	struct buf b = make_bzimage(c, elf, len);
	struct bzimage_info info;
	char err[256];
	size_t out_len = 0;
	int r;

	r = bzimage_extract_max(b.p, b.len, cap, &info, &out, &out_len, err,
				sizeof(err));
	if (r)
		print_error("%s: %s\n", comp_name[c], err);
	assert_int_equal(r, 0);
	assert_string_equal(info.compression, comp_name[c]);
	assert_int_equal(info.protocol, 0x020f);
	assert_int_equal(info.setup_sects, SETUP_SECTS);
	assert_int_equal(info.payload_start, PAYLOAD_START);
	assert_int_equal(info.declared_size, len);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, elf, len);
	if (len < 4096) {
		char name[64];

		snprintf(name, sizeof(name), "small-%s.bzimage", comp_name[c]);
		maybe_write_corpus(name, &b);
	}
	free(out);
	free(b.p);
	free(elf);
}

static void test_roundtrip_small(void **state)
{
	for (enum comp c = 0; c < C_NR; c++)
		check_roundtrip(c, 777, BZIMAGE_MAX_ELF);
}

static void test_roundtrip_medium(void **state)
{
	for (enum comp c = 0; c < C_NR; c++)
		check_roundtrip(c, 300000, BZIMAGE_MAX_ELF);
}

/* lz4 with several 8 MiB blocks, the last one short. */
static void test_roundtrip_lz4_multiblock(void **state)
{
	check_roundtrip(C_LZ4, (17u << 20) + 12345, BZIMAGE_MAX_ELF);
}

/* The output exactly at the cap is accepted. */
static void test_roundtrip_at_cap(void **state)
{
	for (enum comp c = 0; c < C_NR; c++)
		check_roundtrip(c, 4096, 4096);
}

/* setup_sects == 0 means 4; the payload moves accordingly. */
static void test_setup_sects_zero(void **state)
{
	uint8_t *elf = make_elf(1000, 1), *out;
	struct buf z = { NULL, 0 }, b = { NULL, 0 };
	struct bzimage_info info;
	size_t out_len;
	char err[256];

	pack(&z, C_ZSTD, elf, 1000);
	b.p = calloc(1, 5 * 512);
	b.len = 5 * 512;
	put_le16(b.p + 0x1fe, 0xaa55);
	memcpy(b.p + 0x202, "HdrS", 4);
	put_le16(b.p + 0x206, 0x0208);
	buf_put(&b, z.p, z.len);
	buf_le32(&b, 1000);
	put_le32(b.p + 0x248, 0);
	put_le32(b.p + 0x24c, (uint32_t)z.len + 4);
	assert_int_equal(bzimage_extract_max(b.p, b.len, BZIMAGE_MAX_ELF, &info,
					     &out, &out_len, err, sizeof(err)), 0);
	assert_int_equal(info.setup_sects, 4);
	assert_int_equal(info.payload_start, 5 * 512);
	assert_memory_equal(out, elf, 1000);
	maybe_write_corpus("setup-sects-0.bzimage", &b);
	free(out);
	free(b.p);
	free(z.p);
	free(elf);
}

/* ---- negative cases: a table of mutations of a valid image ---- */

enum mut {
	M_NONE,
	M_LEN,          /* truncate the file to arg bytes */
	M_BOOT_FLAG,    /* clear 0x1fe */
	M_HDRS,         /* break "HdrS" */
	M_VERSION,      /* protocol = arg */
	M_SETUP_SECTS,  /* setup_sects = arg */
	M_POFF,         /* payload_offset = arg */
	M_PLEN,         /* payload_length = arg */
	M_PLEN_DELTA,   /* payload_length += arg (may go negative) */
	M_FLIP,         /* xor payload byte at arg (from payload start) with 0x55 */
	M_FLIP_END,     /* xor payload byte at plen-arg with 0x55 */
	M_MAGIC,        /* overwrite the first payload bytes with bzip2/unknown */
	M_DECLARED,     /* le32 trailer (or gzip ISIZE) = arg */
	M_DECLARED_ADD, /* trailer += arg */
	M_TRUNC_STREAM, /* drop arg bytes at the end of the compressed stream */
	M_GARBAGE,      /* arg garbage bytes between the stream and the trailer */
	M_NOT_ELF,      /* the payload is valid but not an ELF */
	M_PLAIN_ELF,    /* the whole file is just an ELF */
	M_LZ4_BSIZE,    /* first lz4 block size = arg */
	M_LZ4_BADMATCH, /* one lz4 block whose match points before the output */
};

struct neg_case {
	const char *what;
	int comps;        /* bitmask of formats the row applies to */
	enum mut mut;
	int64_t arg;
	size_t cap;       /* 0: BZIMAGE_MAX_ELF */
	int expect;
};

#define ALL ((1 << C_NR) - 1)
#define NOGZ (ALL & ~(1 << C_GZIP))
#define LZ4 (1 << C_LZ4)
/* lz4 blocks carry no checksum: a flipped literal goes unnoticed. */
#define CHECKED (ALL & ~LZ4)
#define ELF_LEN 20000

static const struct neg_case neg_cases[] = {
	{ "plain ELF file", 1, M_PLAIN_ELF, 0, 0, -ENOEXEC },
	{ "empty file", 1, M_LEN, 0, 0, -ENOEXEC },
	{ "file ends before HdrS", 1, M_LEN, 0x204, 0, -ENOEXEC },
	{ "no 0xAA55 boot flag", 1, M_BOOT_FLAG, 0, 0, -ENOEXEC },
	{ "no HdrS magic", 1, M_HDRS, 0, 0, -ENOEXEC },
	{ "setup header truncated", 1, M_LEN, 0x230, 0, -EINVAL },
	{ "boot protocol 2.07", 1, M_VERSION, 0x0207, 0, -EINVAL },
	{ "boot protocol 0", 1, M_VERSION, 0, 0, -EINVAL },
	{ "setup sectors past end of file", 1, M_LEN, 0x300, 0, -EINVAL },
	{ "255 setup sectors, small file", 1, M_SETUP_SECTS, 255, 0, -EINVAL },
	{ "payload_offset past end of file", 1, M_POFF, 0x7fffffff, 0, -EINVAL },
	{ "payload_offset 0xffffffff", 1, M_POFF, 0xffffffff, 0, -EINVAL },
	{ "payload_length 0xffffffff", 1, M_PLEN, 0xffffffff, 0, -EINVAL },
	{ "payload_length one past EOF", ALL, M_PLEN_DELTA, 17, 0, -EINVAL },
	{ "payload_length 0", 1, M_PLEN, 0, 0, -EINVAL },
	{ "payload_length 7", 1, M_PLEN, 7, 0, -EINVAL },
	{ "file truncated mid-payload", ALL, M_LEN, PAYLOAD_START + 100, 0, -EINVAL },
	{ "payload_length cuts the stream", ALL, M_PLEN_DELTA, -40, 0, -EINVAL },
	{ "compressed stream truncated", ALL, M_TRUNC_STREAM, 30, 0, -EINVAL },
	{ "compressed stream cut to the magic", NOGZ, M_TRUNC_STREAM, -6, 0, -EINVAL },
	{ "corrupt byte in the stream body", CHECKED, M_FLIP, 200, 0, -EINVAL },
	{ "corrupt stream header (lzma: huge dictionary)", NOGZ, M_FLIP, 4, 0, -EINVAL },
	{ "corrupt gzip header flags", 1 << C_GZIP, M_FLIP, 3, 0, -EINVAL },
	{ "corrupt stream end", CHECKED, M_FLIP_END, 7, 0, -EINVAL },
	{ "lz4 block size 0", LZ4, M_LZ4_BSIZE, 0, 0, -EINVAL },
	{ "lz4 block size past the payload", LZ4, M_FLIP, 5, 0, -EINVAL },
	{ "lz4 block size over the bound", LZ4, M_LZ4_BSIZE, 0x7f000000, 0, -EINVAL },
	{ "lz4 block size = stream magic, then EOF", LZ4, M_LZ4_BSIZE, 0x184c2102, 0, -EINVAL },
	{ "lz4 match before the output start", LZ4, M_LZ4_BADMATCH, 0, 0, -EINVAL },
	{ "garbage after the stream", ALL, M_GARBAGE, 8, 0, -EINVAL },
	{ "unknown compression", 1, M_MAGIC, 0, 0, -EINVAL },
	{ "bzip2 (recognised, unsupported)", 1, M_MAGIC, 1, 0, -EINVAL },
	{ "lzo (recognised, unsupported)", 1, M_MAGIC, 2, 0, -EINVAL },
	{ "declared size too small for an ELF", ALL, M_DECLARED, 63, 0, -EINVAL },
	{ "declared size 0", ALL, M_DECLARED, 0, 0, -EINVAL },
	{ "declared size 4 GiB - 1", ALL, M_DECLARED, 0xffffffff, 0, -EINVAL },
	{ "declared size over the cap", ALL, M_NONE, 0, ELF_LEN - 1, -EINVAL },
	{ "stream longer than declared", ALL, M_DECLARED_ADD, -1, 0, -EINVAL },
	{ "stream much longer than declared", ALL, M_DECLARED, 4096, 0, -EINVAL },
	{ "stream shorter than declared", ALL, M_DECLARED_ADD, 1, 0, -EINVAL },
	{ "payload is not an ELF", ALL, M_NOT_ELF, 0, 0, -EINVAL },
};

static struct buf make_neg(const struct neg_case *t, enum comp c)
{
	uint8_t *elf = make_elf(ELF_LEN, 7);
	struct buf z = { NULL, 0 }, b;
	bool sized = c != C_GZIP;
	uint32_t declared = ELF_LEN;
	uint8_t *pl;
	uint32_t plen;

	if (t->mut == M_PLAIN_ELF) {
		b.p = elf;
		b.len = ELF_LEN;
		return b;
	}
	if (t->mut == M_NOT_ELF)
		elf[0] = 'X';
	if (t->mut == M_LZ4_BADMATCH) {
		/* token 0x00: no literals, a 4-byte match at offset 16 */
		buf_put(&z, "\x02\x21\x4c\x18\x03\x00\x00\x00\x00\x10\x00", 11);
	} else {
		pack(&z, c, elf, ELF_LEN);
	}
	if (t->mut == M_TRUNC_STREAM)
		z.len -= t->arg > 0 ? (size_t)t->arg : z.len + (size_t)t->arg;
	if (t->mut == M_GARBAGE) {
		uint8_t g[64];

		memset(g, 0xa5, sizeof(g));
		buf_put(&z, g, (size_t)t->arg);
	}
	if (t->mut == M_DECLARED)
		declared = (uint32_t)t->arg;
	if (t->mut == M_DECLARED_ADD)
		declared += (uint32_t)t->arg;
	/*
	 * gzip's ISIZE is the size trailer: keep it saying `declared` even
	 * after truncation or garbage, so those rows reach the decompressor.
	 */
	if (!sized)
		put_le32(z.p + z.len - 4, declared);
	b = make_bzimage_from(z.p, z.len, sized, declared);
	free(z.p);
	free(elf);

	pl = b.p + PAYLOAD_START;
	plen = (uint32_t)(b.p[0x24c] | b.p[0x24d] << 8 | b.p[0x24e] << 16 |
			  (uint32_t)b.p[0x24f] << 24);
	switch (t->mut) {
	case M_LEN: b.len = (size_t)t->arg; break;
	case M_BOOT_FLAG: b.p[0x1fe] = 0; break;
	case M_HDRS: b.p[0x205] = 's'; break;
	case M_VERSION: put_le16(b.p + 0x206, (uint16_t)t->arg); break;
	case M_SETUP_SECTS: b.p[0x1f1] = (uint8_t)t->arg; break;
	case M_POFF: put_le32(b.p + 0x248, (uint32_t)t->arg); break;
	case M_PLEN: put_le32(b.p + 0x24c, (uint32_t)t->arg); break;
	case M_PLEN_DELTA: put_le32(b.p + 0x24c, plen + (uint32_t)t->arg); break;
	case M_FLIP: pl[t->arg] ^= 0x55; break;
	case M_FLIP_END: pl[plen - (uint32_t)t->arg] ^= 0x55; break;
	case M_LZ4_BSIZE: put_le32(pl + 4, (uint32_t)t->arg); break;
	case M_MAGIC:
		memcpy(pl, t->arg == 0 ? "\x13\x37\x00\x00" :
			   t->arg == 1 ? "BZh9" : "\x89LZO\0", 5);
		break;
	default: break;
	}
	return b;
}

static void test_negative_table(void **state)
{
	for (size_t i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++) {
		const struct neg_case *t = &neg_cases[i];

		for (enum comp c = 0; c < C_NR; c++) {
			struct buf b;
			uint8_t *out = (uint8_t *)1;
			size_t out_len = 1;
			char err[256] = "";
			int r;

			if (!(t->comps & (1 << c)))
				continue;
			b = make_neg(t, c);
			r = bzimage_extract_max(b.p, b.len,
						t->cap ? t->cap : BZIMAGE_MAX_ELF,
						NULL, &out, &out_len, err,
						sizeof(err));
			if (r != t->expect)
				print_error("row \"%s\" (%s): got %d (%s), want %d\n",
					    t->what, comp_name[c], r, err, t->expect);
			assert_int_equal(r, t->expect);
			assert_null(out);
			assert_int_equal(out_len, 0);
			/* One line, and it says something. */
			assert_true(strlen(err) > 10);
			assert_null(strchr(err, '\n'));
			if (getenv("BZIMAGE_VERBOSE"))
				print_message("%-40s %-5s %s\n", t->what,
					      comp_name[c], err);
			free(b.p);
		}
	}
}

/* A tiny err buffer is truncated, never overrun; err_len 0 is allowed. */
static void test_err_buffer(void **state)
{
	uint8_t junk[16] = { 0 };
	uint8_t *out;
	size_t out_len;
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(bzimage_extract(junk, sizeof(junk), &out, &out_len,
					 err, 4), -ENOEXEC);
	assert_int_equal(err[3], '\0');
	assert_int_equal(err[4], 'x');
	assert_int_equal(bzimage_extract(junk, sizeof(junk), &out, &out_len,
					 NULL, 0), -ENOEXEC);
}

/*
 * The real cap: a zstd payload that declares exactly BZIMAGE_MAX_ELF but
 * holds one byte more must be refused by bzimage_extract() itself.
 */
static void test_real_cap(void **state)
{
	const size_t chunk = 1u << 20;
	uint8_t *zero = calloc(1, chunk), *out;
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(chunk), out_len;
	uint8_t *tmp = malloc(cap);
	struct buf z = { NULL, 0 }, b;
	char err[256];

	assert_non_null(zero);
	assert_non_null(tmp);
	memcpy(zero, "\x7f" "ELF", 4);
	for (size_t done = 0; done <= BZIMAGE_MAX_ELF; done += chunk) {
		size_t n = done == BZIMAGE_MAX_ELF ? 1 : chunk;
		ZSTD_inBuffer in = { zero, n, 0 };
		ZSTD_EndDirective end = n == 1 ? ZSTD_e_end : ZSTD_e_continue;
		size_t left;

		if (done == chunk)
			memset(zero, 0, 4);
		do {
			ZSTD_outBuffer o = { tmp, cap, 0 };

			left = ZSTD_compressStream2(cc, &o, &in, end);
			assert_false(ZSTD_isError(left));
			buf_put(&z, tmp, o.pos);
		} while (in.pos < in.size || (end == ZSTD_e_end && left));
	}
	b = make_bzimage_from(z.p, z.len, true, (uint32_t)BZIMAGE_MAX_ELF);
	assert_int_equal(bzimage_extract(b.p, b.len, &out, &out_len, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than the declared"));

	/* Declaring one byte over the cap is refused before decompressing. */
	put_le32(b.p + b.len - 16 - 4, (uint32_t)BZIMAGE_MAX_ELF + 1);
	assert_int_equal(bzimage_extract(b.p, b.len, &out, &out_len, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cap"));
	free(b.p);
	free(z.p);
	free(tmp);
	free(zero);
	ZSTD_freeCCtx(cc);
}

/* ---- Debian's kernels (tools/fetch-kernel.sh) ---- */

struct xen_notes {
	bool guest_os_linux, has_entry, has_virt_base, has_features;
	uint64_t entry, virt_base;
	int count;
};

static void scan_xen_notes(const uint8_t *elf, size_t len, struct xen_notes *n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;

	memset(n, 0, sizeof(*n));
	assert_true(len >= sizeof(*eh));
	assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
	assert_int_equal(eh->e_machine, EM_X86_64);
	assert_true(eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <= len);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;
		uint64_t off, end;

		if (ph->p_type != PT_NOTE)
			continue;
		assert_true(ph->p_offset + ph->p_filesz <= len);
		off = ph->p_offset;
		end = off + ph->p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(elf + off);
			const uint8_t *name = elf + off + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
			uint64_t desc_end = (uint64_t)(desc - elf) + nh->n_descsz;

			assert_true(desc_end <= end);
			if (nh->n_namesz == 4 && memcmp(name, "Xen", 4) == 0) {
				n->count++;
				switch (nh->n_type) {
				case XEN_ELFNOTE_GUEST_OS:
					n->guest_os_linux = nh->n_descsz >= 5 &&
						memcmp(desc, "linux", 5) == 0;
					break;
				case XEN_ELFNOTE_ENTRY:
					n->has_entry = nh->n_descsz == 8;
					memcpy(&n->entry, desc, 8);
					break;
				case XEN_ELFNOTE_VIRT_BASE:
					n->has_virt_base = nh->n_descsz == 8;
					memcpy(&n->virt_base, desc, 8);
					break;
				case XEN_ELFNOTE_FEATURES:
					n->has_features = true;
					break;
				}
			}
			off = (uint64_t)(desc - elf) + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = malloc((size_t)n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void test_debian_kernels(void **state)
{
	glob_t g;
	int found = 0;

	if (glob("build/kernel/[0-9]*/vmlinuz", 0, NULL, &g) != 0) {
		print_message("skip: no Debian kernel under build/kernel/ "
			      "(run tools/fetch-kernel.sh from the top of the tree)\n");
		skip();
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct bzimage_info info;
		struct xen_notes n;
		uint8_t *img, *elf;
		size_t len, elf_len;
		char err[256];
		int r;

		img = read_file(g.gl_pathv[i], &len);
		r = bzimage_extract_max(img, len, BZIMAGE_MAX_ELF, &info, &elf,
					&elf_len, err, sizeof(err));
		if (r)
			print_error("%s: %s\n", g.gl_pathv[i], err);
		assert_int_equal(r, 0);
		scan_xen_notes(elf, elf_len, &n);
		print_message("%s: protocol %x, %s, %zu -> %zu bytes, %d Xen notes, entry %#llx\n",
			      g.gl_pathv[i], info.protocol, info.compression,
			      (size_t)info.payload_length, elf_len, n.count,
			      (unsigned long long)n.entry);
		assert_true(n.guest_os_linux);
		assert_true(n.has_entry);
		assert_true(n.has_virt_base);
		assert_true(n.has_features);
		assert_int_equal(n.virt_base, 0xffffffff80000000ull);
		assert_true(n.entry > n.virt_base);
		free(elf);
		free(img);
		found++;
	}
	globfree(&g);
	assert_true(found > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_small),
		cmocka_unit_test(test_roundtrip_medium),
		cmocka_unit_test(test_roundtrip_lz4_multiblock),
		cmocka_unit_test(test_roundtrip_at_cap),
		cmocka_unit_test(test_setup_sects_zero),
		cmocka_unit_test(test_negative_table),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_real_cap),
		cmocka_unit_test(test_debian_kernels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
