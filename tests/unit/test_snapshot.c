/*
 * The snapshot file (core/snapshot.c, docs/snapshot-format.md): what the
 * writer produces parses back with every field; a truncated, corrupt or
 * foreign file, a newer version, sections missing, doubled, of the wrong
 * size or out of bounds each give one error and nothing else.
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
#include <unistd.h>

#include <cmocka.h>

#include "core/cli.h"
#include "core/snapshot.h"
#include "core/snapshot_devices.h"

#define FRAMES 100u

struct built {
	uint8_t *buf;
	size_t len;
};

/* A xenstore section's payload under construction. */
struct xs_payload {
	uint8_t buf[65536];
	size_t len;
	struct snap_xs_header h;
};

/* Appends a record with explicit lengths (tests lie with them). */
static void xs_rec_raw(struct xs_payload *p, uint32_t path_len, const char *path,
		       uint32_t value_len, const char *value, uint32_t nr_perms,
		       const struct snap_xs_perm *perms)
{
	struct snap_xs_record r = { path_len, value_len, nr_perms, 0 };
	size_t start = p->len;

	memcpy(p->buf + p->len, &r, sizeof(r));
	p->len += sizeof(r);
	memcpy(p->buf + p->len, perms, nr_perms * sizeof(*perms));
	p->len += nr_perms * sizeof(*perms);
	memcpy(p->buf + p->len, path, path_len);
	p->len += path_len;
	memcpy(p->buf + p->len, value, value_len);
	p->len += value_len;
	while ((p->len - start) % 8)
		p->buf[p->len++] = 0;
	p->h.nr_nodes++;
}

static const struct snap_xs_perm own_perms[2] = { { 'n', 0, 1 }, { 'r', 0, 0 } };

static void xs_rec(struct xs_payload *p, const char *path, const char *value)
{
	xs_rec_raw(p, (uint32_t)strlen(path) + 1, path, (uint32_t)strlen(value), value, 2,
		   own_perms);
}

/* Two nodes of domain 1, as xs_snapshot_save writes them. */
static const struct xs_payload *default_xs(void)
{
	static struct xs_payload p;

	memset(&p, 0, sizeof(p));
	p.h.domid = 1;
	xs_rec(&p, "data", "");
	xs_rec(&p, "data/greeting", "hello");
	return &p;
}

/* A devices section's payload under construction, with the domain's
 * counts of what it names. */
struct dev_payload {
	uint8_t buf[8192];
	size_t len;
	struct snap_dev_header h;
	uint32_t nr[VM_DEV_SHARE + 1];
};

/* Appends a record with an explicit length (tests lie with it). */
static void dev_rec_raw(struct dev_payload *p, uint16_t kind, uint16_t spec_len,
			const char *spec, size_t bytes)
{
	struct snap_dev_record r = { .kind = kind, .spec_len = spec_len };
	size_t start = p->len;

	memcpy(p->buf + p->len, &r, sizeof(r));
	p->len += sizeof(r);
	memcpy(p->buf + p->len, spec, bytes);
	p->len += bytes;
	while ((p->len - start) % 8)
		p->buf[p->len++] = 0;
	p->h.nr_devices++;
	if (kind <= VM_DEV_SHARE)
		p->nr[kind]++;
}

static void dev_rec(struct dev_payload *p, unsigned kind, const char *spec)
{
	dev_rec_raw(p, (uint16_t)kind, (uint16_t)(strlen(spec) + 1), spec, strlen(spec) + 1);
}

/* One disk, as snapshot_write names a --disk. */
static const struct dev_payload *default_dev(void)
{
	static struct dev_payload p;

	memset(&p, 0, sizeof(p));
	dev_rec(&p, VM_DEV_DISK, "/img/a.img,rw,id=xvda");
	return &p;
}

struct build_opts {
	unsigned nr_vcpus;
	uint32_t omit;
	uint32_t version;               /* 0: SNAP_VERSION */
	const struct xs_payload *xs;    /* NULL: default_xs() */
	const struct dev_payload *dev;  /* NULL: default_dev() */
};

/* A file as snapshot_write lays it out: domain, nr vCPUs, shared_info,
 * memory with frames 3 and 70 present, pinned tables, xenstore (version
 * 2), devices (version 3); sections skipped by `omit` (a type) are left
 * out. */
static struct built build_with(const struct build_opts *o);

static struct built build(unsigned nr_vcpus, uint32_t omit)
{
	struct build_opts o = { .nr_vcpus = nr_vcpus, .omit = omit };

	return build_with(&o);
}

static struct built build_with(const struct build_opts *o)
{
	unsigned nr_vcpus = o->nr_vcpus;
	uint32_t omit = o->omit;
	const struct xs_payload *xs = o->xs ? o->xs : default_xs();
	const struct dev_payload *dev = o->dev ? o->dev : default_dev();
	struct snap_writer w;
	struct built b;
	int fd = memfd_create("snap", 0);
	uint64_t hdr[2] = { FRAMES, 2 }, bits[2] = { 1ull << 3, 1ull << (70 - 64) };
	uint8_t page[SNAP_PAGE];
	struct snap_domain d = { .nr_ram_frames = FRAMES, .nr_vcpus = nr_vcpus,
				 .nr_disks = dev->nr[VM_DEV_DISK], .nr_nics = dev->nr[VM_DEV_NIC],
				 .nr_scsi = (uint16_t)dev->nr[VM_DEV_SCSI],
				 .nr_shares = (uint16_t)dev->nr[VM_DEV_SHARE],
				 .start_info_mfn = 3, .system_time_ns = 123456789 };
	struct snap_pin pin = { .mfn = 70, .level = 4 };

	assert_true(fd >= 0);
	assert_int_equal(snap_writer_init(&w, fd, "proc"), 0);
	w.version = o->version;
	if (omit != SNAP_DOMAIN) {
		snap_section_begin(&w, SNAP_DOMAIN, 0);
		snap_write(&w, &d, sizeof(d));
		snap_section_end(&w);
	}
	for (unsigned i = 0; i < nr_vcpus && omit != SNAP_VCPU; i++) {
		struct snap_vcpu v = { .rip = 0x1000 + i, .flags = SNAP_VCPU_INITIALISED };

		snap_section_begin(&w, SNAP_VCPU, i);
		snap_write(&w, &v, sizeof(v));
		snap_section_end(&w);
	}
	memset(page, 0xab, sizeof(page));
	if (omit != SNAP_SHARED_INFO) {
		snap_section_begin(&w, SNAP_SHARED_INFO, 0);
		snap_write(&w, page, sizeof(page));
		snap_section_end(&w);
	}
	if (omit != SNAP_MEMORY) {
		snap_section_begin(&w, SNAP_MEMORY, 0);
		snap_write(&w, hdr, sizeof(hdr));
		snap_write(&w, bits, sizeof(bits));
		page[0] = 3;
		snap_write(&w, page, sizeof(page));
		page[0] = 70;
		snap_write(&w, page, sizeof(page));
		snap_section_end(&w);
	}
	if (omit != SNAP_PAGETABLES) {
		snap_section_begin(&w, SNAP_PAGETABLES, 0);
		snap_write(&w, &pin, sizeof(pin));
		snap_section_end(&w);
	}
	if (omit != SNAP_XENSTORE && o->version != 1) {
		snap_section_begin(&w, SNAP_XENSTORE, 0);
		snap_write(&w, &xs->h, sizeof(xs->h));
		snap_write(&w, xs->buf, xs->len);
		snap_section_end(&w);
	}
	if (omit != SNAP_DEVICES && (o->version == 0 || o->version >= 3)) {
		snap_section_begin(&w, SNAP_DEVICES, 0);
		snap_write(&w, &dev->h, sizeof(dev->h));
		snap_write(&w, dev->buf, dev->len);
		snap_section_end(&w);
	}
	assert_int_equal(snap_writer_finish(&w), 0);
	b.len = (size_t)lseek(fd, 0, SEEK_END);
	b.buf = malloc(b.len);
	assert_int_equal(pread(fd, b.buf, b.len, 0), (ssize_t)b.len);
	close(fd);
	return b;
}

static struct snap_file file;
static char err[256];

static int parse(const struct built *b, size_t len)
{
	err[0] = '\0';
	return snap_parse(b->buf, len, &file, err, sizeof(err));
}

/* Refused, with an error that contains want. */
static void refused(const struct built *b, size_t len, const char *want)
{
	assert_int_equal(parse(b, len), -22);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_round_trip(void **state)
{
	struct built b = build(2, 0);
	struct snap_memory m;
	struct snap_vcpu v;

	assert_int_equal(parse(&b, b.len), 0);
	assert_string_equal(file.header.backend, "proc");
	assert_int_equal(file.domain.nr_ram_frames, FRAMES);
	assert_int_equal(file.domain.nr_vcpus, 2);
	assert_int_equal(file.domain.nr_disks, 1);
	assert_int_equal(file.domain.system_time_ns, 123456789);
	memcpy(&v, file.vcpu[1]->data, sizeof(v));
	assert_int_equal(v.rip, 0x1001);
	assert_int_equal(file.shared_info->data[17], 0xab);
	snap_memory_view(&file, &m);
	assert_int_equal(m.nr_present, 2);
	assert_true(snap_frame_present(&m, 3));
	assert_true(snap_frame_present(&m, 70));
	assert_false(snap_frame_present(&m, 4));
	assert_int_equal(m.pages[0], 3);
	assert_int_equal(m.pages[SNAP_PAGE], 70);
	assert_int_equal(file.pagetables->length, sizeof(struct snap_pin));
	free(b.buf);
}

static void test_truncated_everywhere(void **state)
{
	struct built b = build(1, 0);

	/* Every cut gives an error, most of them "truncated". */
	for (size_t len = 0; len < b.len; len += len < 256 ? 1 : 97)
		assert_int_equal(parse(&b, len), -22);
	refused(&b, b.len - 1, "truncated");
	refused(&b, 40, "truncated");
	free(b.buf);
}

static void test_corrupt_bytes(void **state)
{
	struct built b = build(1, 0);

	/* A flipped bit anywhere is caught: header or a section's CRC. */
	for (size_t off = 0; off < b.len; off += off < 512 ? 1 : 331) {
		b.buf[off] ^= 0x10;
		assert_int_equal(parse(&b, b.len), -22);
		b.buf[off] ^= 0x10;
	}
	assert_int_equal(parse(&b, b.len), 0);
	b.buf[100] ^= 1; /* in the domain section */
	refused(&b, b.len, "checksum");
	free(b.buf);
}

/* restore --lazy's parse: the memory section's CRC left to the loader
 * (its pages' bytes), every other check kept. */
static void test_deferred_memory_crc(void **state)
{
	struct built b = build(1, 0);
	struct snap_memory m;
	size_t page_off;

	assert_int_equal(parse(&b, b.len), 0);
	snap_memory_view(&file, &m);
	page_off = (size_t)(m.pages - b.buf);
	b.buf[page_off + 10] ^= 0x40; /* a byte of a saved page */
	refused(&b, b.len, "memory section");
	assert_int_equal(snap_parse_flags(b.buf, b.len, &file, SNAP_PARSE_DEFER_MEMORY_CRC,
					  err, sizeof(err)), 0);
	assert_true(snap_crc32(0, file.memory->data, file.memory->length) != file.memory->crc);
	b.buf[page_off + 10] ^= 0x40;
	assert_int_equal(snap_parse_flags(b.buf, b.len, &file, SNAP_PARSE_DEFER_MEMORY_CRC,
					  err, sizeof(err)), 0);
	assert_int_equal(snap_crc32(0, file.memory->data, file.memory->length), file.memory->crc);
	/* The bounds are still checked: a cut file, another section's byte. */
	assert_int_equal(snap_parse_flags(b.buf, b.len - 8, &file, SNAP_PARSE_DEFER_MEMORY_CRC,
					  err, sizeof(err)), -22);
	b.buf[100] ^= 1; /* the domain section */
	assert_int_equal(snap_parse_flags(b.buf, b.len, &file, SNAP_PARSE_DEFER_MEMORY_CRC,
					  err, sizeof(err)), -22);
	free(b.buf);
}

static void test_foreign_and_version(void **state)
{
	struct built b = build(1, 0);
	struct snap_header h;
	static const uint8_t elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	struct built e = { (uint8_t *)elf, sizeof(elf) };

	refused(&e, e.len, "not a pvisor snapshot");
	refused(&e, 0, "not a pvisor snapshot");
	memcpy(&h, b.buf, sizeof(h));
	h.version = 4;
	h.header_crc = 0;
	h.header_crc = snap_crc32(0, &h, sizeof(h));
	memcpy(b.buf, &h, sizeof(h));
	refused(&b, b.len, "version 4");
	/* Version 2 (no devices section) is still read; not with one. */
	h.version = 2;
	h.header_crc = 0;
	h.header_crc = snap_crc32(0, &h, sizeof(h));
	memcpy(b.buf, &h, sizeof(h));
	refused(&b, b.len, "devices section in a version-2 file");
	/* Version 1 (no xenstore section) is still read; a version-1 file
	 * with one is not a version-1 file. */
	h.version = 1;
	h.header_crc = 0;
	h.header_crc = snap_crc32(0, &h, sizeof(h));
	memcpy(b.buf, &h, sizeof(h));
	refused(&b, b.len, "xenstore section in a version-1 file");
	free(b.buf);
	{
		struct build_opts o = { .nr_vcpus = 1, .version = 1 };

		b = build_with(&o);
		assert_int_equal(parse(&b, b.len), 0);
		assert_null(file.xenstore);
		free(b.buf);
		o.version = 2;
		b = build_with(&o);
		assert_int_equal(parse(&b, b.len), 0);
		assert_non_null(file.xenstore);
		assert_null(file.devices);
		free(b.buf);
	}
}

static void test_trailing_bytes(void **state)
{
	struct built b = build(1, 0);
	uint8_t *big = calloc(1, b.len + 8);
	struct built t = { big, b.len + 8 };

	memcpy(big, b.buf, b.len);
	refused(&t, t.len, "the header says");
	free(big);
	free(b.buf);
}

static void test_missing_sections(void **state)
{
	static const struct {
		uint32_t omit;
		const char *want;
	} cases[] = {
		{ SNAP_DOMAIN, "domain section is missing" },
		{ SNAP_SHARED_INFO, "shared-info section is missing" },
		{ SNAP_MEMORY, "memory section is missing" },
		{ SNAP_PAGETABLES, "page-tables section is missing" },
		{ SNAP_VCPU, "vcpu sections" },
		{ SNAP_XENSTORE, "xenstore section is missing" },
		{ SNAP_DEVICES, "devices section is missing" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct built b = build(1, 0 + cases[i].omit);

		refused(&b, b.len, cases[i].want);
		free(b.buf);
	}
}

/* A section whose CRC is right but whose contents lie: caught by the
 * structural checks, not the checksum. */
static void rewrite_section(struct built *b, unsigned index, const void *data,
			    size_t len)
{
	size_t off = sizeof(struct snap_header);

	for (unsigned i = 0;; i++) {
		struct snap_section_header sh;

		memcpy(&sh, b->buf + off, sizeof(sh));
		if (i == index) {
			assert_true(len <= sh.length);
			memcpy(b->buf + off + sizeof(sh), data, len);
			sh.crc = snap_crc32(0, b->buf + off + sizeof(sh), sh.length);
			memcpy(b->buf + off, &sh, sizeof(sh));
			return;
		}
		off += sizeof(sh) + ((sh.length + 7) & ~7ull);
	}
}

static void test_lying_contents(void **state)
{
	struct built b = build(1, 0);
	struct snap_domain d = { .nr_ram_frames = FRAMES, .nr_vcpus = 2, .nr_disks = 1 };
	uint64_t hdr[2] = { FRAMES, 3 }, bits[2] = { 0, ~0ull };

	rewrite_section(&b, 0, &d, sizeof(d));
	refused(&b, b.len, "2 vCPUs in the domain, 1 vcpu sections");
	d.nr_vcpus = 1;
	d.nr_ram_frames = 1ull << 40;
	rewrite_section(&b, 0, &d, sizeof(d));
	refused(&b, b.len, "frames of RAM");
	d.nr_ram_frames = FRAMES;
	rewrite_section(&b, 0, &d, sizeof(d));
	assert_int_equal(parse(&b, b.len), 0);
	/* memory: more pages claimed than held, bits past RAM */
	rewrite_section(&b, 3, hdr, sizeof(hdr));
	refused(&b, b.len, "memory section holds");
	hdr[1] = 2;
	rewrite_section(&b, 3, hdr, sizeof(hdr));
	assert_int_equal(parse(&b, b.len), 0);
	{
		uint8_t both[32];

		memcpy(both, hdr, 16);
		memcpy(both + 16, bits, 16);
		rewrite_section(&b, 3, both, sizeof(both));
		refused(&b, b.len, "past RAM");
	}
	free(b.buf);
}

static void test_xenstore_round_trip(void **state)
{
	struct built b = build(1, 0);
	struct snap_xs_node n;
	struct snap_xs_perm p;
	uint64_t off = sizeof(struct snap_xs_header);

	assert_int_equal(parse(&b, b.len), 0);
	assert_non_null(file.xenstore);
	assert_int_equal(file.xs.domid, 1);
	assert_int_equal(file.xs.nr_nodes, 2);
	assert_int_equal(snap_xs_next(file.xenstore, 1, &off, &n, err, sizeof(err)), 1);
	assert_string_equal(n.path, "data");
	assert_int_equal(n.value_len, 0);
	assert_int_equal(snap_xs_next(file.xenstore, 1, &off, &n, err, sizeof(err)), 1);
	assert_string_equal(n.path, "data/greeting");
	assert_int_equal(n.value_len, 5);
	assert_memory_equal(n.value, "hello", 5);
	assert_int_equal(n.nr_perms, 2);
	memcpy(&p, &n.perms[1], sizeof(p));
	assert_int_equal(p.perm, 'r');
	assert_int_equal(p.domid, 0);
	assert_int_equal(snap_xs_next(file.xenstore, 1, &off, &n, err, sizeof(err)), 0);
	free(b.buf);
}

/* What a hostile or broken file may hold in its xenstore section; each
 * row is one record after a good one, and the error it must give. */
enum xs_lie {
	LIE_PATH_LONG, LIE_PATH_ABS, LIE_PATH_DOTS, LIE_PATH_DOUBLE, LIE_PATH_TRAIL,
	LIE_PATH_NUL, LIE_PATH_EMPTY, LIE_VALUE_LONG, LIE_NO_PERMS, LIE_PERMS_MANY,
	LIE_PERM_CHAR, LIE_PERM_PAD, LIE_OWNER, LIE_PADDING, LIE_PAST_END,
	LIE_COUNT_LOW, LIE_COUNT_HIGH, LIE_TOO_MANY, LIE_DOMID0, LIE_HDR_RESERVED,
};

static void make_lie(struct xs_payload *p, enum xs_lie lie)
{
	static char longpath[SNAP_XS_PATH_MAX + 8];
	static char longval[SNAP_XS_VALUE_MAX + 2];
	struct snap_xs_perm perms[6] = { { 'b', 0, 1 }, { 'r', 0, 0 }, { 'r', 0, 2 },
					 { 'r', 0, 3 }, { 'r', 0, 4 }, { 'r', 0, 5 } };

	memset(p, 0, sizeof(*p));
	p->h.domid = 1;
	xs_rec(p, "data", "");
	memset(longpath, 'a', sizeof(longpath) - 1);
	memset(longval, 'v', sizeof(longval) - 1);
	switch (lie) {
	case LIE_PATH_LONG:
		longpath[SNAP_XS_PATH_MAX + 1] = '\0';
		xs_rec(p, longpath, "x");
		longpath[SNAP_XS_PATH_MAX + 1] = 'a';
		break;
	case LIE_PATH_ABS: xs_rec(p, "/local/domain/0/evil", "x"); break;
	case LIE_PATH_DOTS: xs_rec(p, "data/../../0", "x"); break;
	case LIE_PATH_DOUBLE: xs_rec(p, "data//x", "x"); break;
	case LIE_PATH_TRAIL: xs_rec(p, "data/x/", "x"); break;
	case LIE_PATH_NUL: xs_rec_raw(p, 8, "data\0xyz", 0, "", 1, perms); break;
	case LIE_PATH_EMPTY: xs_rec_raw(p, 1, "", 0, "", 1, perms); break;
	case LIE_VALUE_LONG: xs_rec(p, "data/big", longval); break;
	case LIE_NO_PERMS: xs_rec_raw(p, 7, "data/x", 0, "", 0, perms); break;
	case LIE_PERMS_MANY: xs_rec_raw(p, 7, "data/x", 0, "", 6, perms); break;
	case LIE_PERM_CHAR: perms[1].perm = 'x'; xs_rec_raw(p, 7, "data/x", 0, "", 2, perms); break;
	case LIE_PERM_PAD: perms[1].reserved = 1; xs_rec_raw(p, 7, "data/x", 0, "", 2, perms); break;
	case LIE_OWNER: perms[0].domid = 0; xs_rec_raw(p, 7, "data/x", 0, "", 1, perms); break;
	case LIE_PADDING:
		xs_rec(p, "data/x", "vv"); /* 33 bytes: 7 of padding */
		p->buf[p->len - 1] = 7;
		break;
	case LIE_PAST_END:
		xs_rec_raw(p, 7, "data/x", 0, "", 1, perms);
		memcpy(p->buf + p->len - 32, &(struct snap_xs_record){ 7, 900, 1, 0 }, 16);
		break;
	case LIE_COUNT_LOW: xs_rec(p, "data/x", "v"); p->h.nr_nodes = 1; break;
	case LIE_COUNT_HIGH: xs_rec(p, "data/x", "v"); p->h.nr_nodes = 3; break;
	case LIE_TOO_MANY: p->h.nr_nodes = SNAP_XS_MAX_NODES + 1; break;
	case LIE_DOMID0: p->h.domid = 0; break;
	case LIE_HDR_RESERVED: p->h.reserved = 1; break;
	}
}

/* The file o builds is refused (-EINVAL) with an error that says want. */
static void expect_refused(const struct build_opts *o, size_t row, const char *want)
{
	struct built b = build_with(o);

	if (parse(&b, b.len) != -22)
		fail_msg("row %zu: accepted", row);
	if (!strstr(err, want))
		fail_msg("row %zu: error '%s' lacks '%s'", row, err, want);
	free(b.buf);
}

static void test_xenstore_hostile(void **state)
{
	static const struct {
		enum xs_lie lie;
		const char *want;
	} rows[] = {
		{ LIE_PATH_LONG, "a path of 2050 bytes" },
		{ LIE_PATH_ABS, "not a relative xenstore path" },
		{ LIE_PATH_DOTS, "not a relative xenstore path" },
		{ LIE_PATH_DOUBLE, "not a relative xenstore path" },
		{ LIE_PATH_TRAIL, "not a relative xenstore path" },
		{ LIE_PATH_NUL, "not a relative xenstore path" },
		{ LIE_PATH_EMPTY, "a path of 1 bytes" },
		{ LIE_VALUE_LONG, "a value of 4097 bytes" },
		{ LIE_NO_PERMS, "0 permissions" },
		{ LIE_PERMS_MANY, "6 permissions" },
		{ LIE_PERM_CHAR, "data/x: bad permissions" },
		{ LIE_PERM_PAD, "data/x: bad permissions" },
		{ LIE_OWNER, "the owner must be domain 1" },
		{ LIE_PADDING, "padding" },
		{ LIE_PAST_END, "ends past the section" },
		{ LIE_COUNT_LOW, "more than 1 nodes" },
		{ LIE_COUNT_HIGH, "holds 2 nodes, its header says 3" },
		{ LIE_TOO_MANY, "1001 xenstore nodes" },
		{ LIE_DOMID0, "xenstore section for domain 0" },
		{ LIE_HDR_RESERVED, "xenstore section for domain 1" },
	};
	static struct xs_payload p;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct build_opts o = { .nr_vcpus = 1, .xs = &p };

		make_lie(&p, rows[i].lie);
		expect_refused(&o, i, rows[i].want);
	}
}


/* What a hostile or broken file may hold in its devices section: each row
 * builds the payload after one good disk, and the error it must give. */
enum dev_lie {
	DLIE_KIND0, DLIE_KIND5, DLIE_SHORT, DLIE_LONG, DLIE_NO_NUL, DLIE_INNER_NUL,
	DLIE_NEWLINE, DLIE_PADDING, DLIE_PAST_END, DLIE_COUNT_LOW, DLIE_COUNT_HIGH,
	DLIE_TOO_MANY, DLIE_RESERVED, DLIE_DOMAIN_COUNT,
};

static void make_dev_lie(struct dev_payload *p, enum dev_lie lie)
{
	static char big[SNAP_DEV_SPEC_MAX + 8];

	memset(p, 0, sizeof(*p));
	dev_rec(p, VM_DEV_DISK, "/a.img,rw,id=xvda");
	memset(big, 'p', sizeof(big));
	switch (lie) {
	case DLIE_KIND0: dev_rec_raw(p, 0, 2, "x", 2); break;
	case DLIE_KIND5: dev_rec_raw(p, 5, 2, "x", 2); break;
	case DLIE_SHORT: dev_rec_raw(p, VM_DEV_NIC, 1, "", 1); break;
	case DLIE_LONG:
		big[SNAP_DEV_SPEC_MAX] = '\0';
		dev_rec_raw(p, VM_DEV_DISK, SNAP_DEV_SPEC_MAX + 1, big, SNAP_DEV_SPEC_MAX + 1);
		break;
	case DLIE_NO_NUL: dev_rec_raw(p, VM_DEV_NIC, 4, "user", 4); break;
	case DLIE_INNER_NUL: dev_rec_raw(p, VM_DEV_NIC, 6, "us\0er", 6); break;
	case DLIE_NEWLINE: dev_rec(p, VM_DEV_NIC, "user\nforged line"); break;
	case DLIE_PADDING:
		dev_rec(p, VM_DEV_NIC, "user"); /* 8 + 5 bytes: 3 of padding */
		p->buf[p->len - 1] = 1;
		break;
	case DLIE_PAST_END:
		dev_rec(p, VM_DEV_NIC, "user");
		memcpy(p->buf + p->len - 16, &(struct snap_dev_record){ VM_DEV_NIC, 900, 0 }, 8);
		break;
	case DLIE_COUNT_LOW: dev_rec(p, VM_DEV_NIC, "user"); p->h.nr_devices = 1; break;
	case DLIE_COUNT_HIGH: dev_rec(p, VM_DEV_NIC, "user"); p->h.nr_devices = 3; break;
	case DLIE_TOO_MANY: p->h.nr_devices = SNAP_DEV_MAX + 1; break;
	case DLIE_RESERVED: p->h.reserved = 1; break;
	case DLIE_DOMAIN_COUNT: p->nr[VM_DEV_DISK] = 2; break; /* the domain says 2 */
	}
}

static void test_devices_hostile(void **state)
{
	static const struct {
		enum dev_lie lie;
		const char *want;
	} rows[] = {
		{ DLIE_KIND0, "kind 0" },
		{ DLIE_KIND5, "kind 5" },
		{ DLIE_SHORT, "1 bytes (2 to 1200)" },
		{ DLIE_LONG, "1201 bytes" },
		{ DLIE_NO_NUL, "not a line of text" },
		{ DLIE_INNER_NUL, "not a line of text" },
		{ DLIE_NEWLINE, "not a line of text" },
		{ DLIE_PADDING, "padding" },
		{ DLIE_PAST_END, "ends past the section" },
		{ DLIE_COUNT_LOW, "more than 1 records" },
		{ DLIE_COUNT_HIGH, "holds 2 records, its header says 3" },
		{ DLIE_TOO_MANY, "37 devices" },
		{ DLIE_RESERVED, "devices (at most" },
		{ DLIE_DOMAIN_COUNT, "names 1 disks, 0 NICs, 0 LUNs and 0 shares; the domain 2" },
	};
	static struct dev_payload p;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct build_opts o = { .nr_vcpus = 1, .dev = &p };

		make_dev_lie(&p, rows[i].lie);
		expect_refused(&o, i, rows[i].want);
	}
}

/* The guest of the apply tests: two disks (one hot-added as xvdc, ro), a
 * NIC, a LUN at 0:0:3:0 and a share. */
static struct built build_devices(void)
{
	static struct dev_payload p;
	struct build_opts o = { .nr_vcpus = 1, .dev = &p };
	struct vm_disk d = { .path = "/img/b.img", .name = "xvdc", .ro = true };
	struct vm_scsi l = { .path = "/img/l.img", .target = 3 };
	struct vm_share sh = { .path = "/srv/share", .tag = "s", .security_model = "passthrough" };
	char spec[SNAP_DEV_SPEC_MAX];

	memset(&p, 0, sizeof(p));
	dev_rec(&p, VM_DEV_DISK, "/img/a.img,rw,id=xvda");
	assert_true(cli_disk_spec(&d, spec, sizeof(spec)) > 0);
	dev_rec(&p, VM_DEV_DISK, spec);
	dev_rec(&p, VM_DEV_NIC, "user,hostfwd=udp:127.0.0.1:5555-:7");
	assert_true(cli_scsi_spec(&l, spec, sizeof(spec)) > 0);
	dev_rec(&p, VM_DEV_SCSI, spec);
	assert_true(cli_share_spec(&sh, spec, sizeof(spec)) > 0);
	dev_rec(&p, VM_DEV_SHARE, spec);
	return build_with(&o);
}

/* cfg as restore's command line gives it (words after "restore"). */
static void restore_cfg(struct vm_config *cfg, const char *const *words);

/* A CD/DVD saved with its tray open and locked comes back so, from the
 * file or with the image given again on the command line (the tray is the
 * guest's). */
static void test_devices_ejected_cdrom(void **state)
{
	static struct dev_payload p;
	struct build_opts o = { .nr_vcpus = 1, .dev = &p };
	struct vm_scsi cd = { .path = "/img/cd.iso", .cdrom = true, .ro = true,
			      .ejected = true, .locked = true, .target = 2 };
	static const char *const none[] = { NULL };
	static const char *const given[] = { "--scsi", "/x/other.iso,media=cdrom,lun=0:0:2:0", NULL };
	static struct snapshot_net_specs keep;
	static struct vm_config cfg;
	char spec[SNAP_DEV_SPEC_MAX];
	struct built b;

	memset(&p, 0, sizeof(p));
	assert_true(cli_scsi_spec(&cd, spec, sizeof(spec)) > 0);
	assert_string_equal(spec, "/img/cd.iso,ro,media=cdrom,ejected,locked,lun=0:0:2:0");
	dev_rec(&p, VM_DEV_SCSI, spec);
	b = build_with(&o);
	assert_int_equal(parse(&b, b.len), 0);
	restore_cfg(&cfg, none);
	assert_int_equal(snapshot_devices_apply(&file, &cfg, &keep, err, sizeof(err)), 0);
	assert_int_equal(cfg.nr_scsi, 1);
	assert_true(cfg.scsi[0].ejected);
	assert_true(cfg.scsi[0].locked);
	assert_string_equal(cfg.scsi[0].path, "/img/cd.iso");
	restore_cfg(&cfg, given);
	assert_false(cfg.scsi[0].ejected);
	assert_false(cfg.scsi[0].locked);
	assert_int_equal(snapshot_devices_apply(&file, &cfg, &keep, err, sizeof(err)), 0);
	assert_true(cfg.scsi[0].ejected);
	assert_true(cfg.scsi[0].locked);
	assert_string_equal(cfg.scsi[0].path, "/x/other.iso");
	free(b.buf);
}

static void restore_cfg(struct vm_config *cfg, const char *const *words)
{
	char *argv[16] = { "pvisor", "restore" }, e[256];
	static struct cli c;
	int n = 2;

	while (*words)
		argv[n++] = (char *)*words++;
	argv[n++] = "snap.pvs";
	assert_int_equal(cli_parse(n, argv, &c, e, sizeof(e)), CLI_RESTORE);
	*cfg = c.cfg;
}

static void test_devices_from_file(void **state)
{
	struct built b = build_devices();
	static struct snapshot_net_specs keep;
	static struct vm_config cfg;
	static const char *const none[] = { NULL };
	uint64_t off = sizeof(struct snap_dev_header);
	struct snap_device d;

	assert_int_equal(parse(&b, b.len), 0);
	assert_int_equal(snap_dev_next(file.devices, &off, &d, err, sizeof(err)), 1);
	assert_int_equal(d.kind, VM_DEV_DISK);
	assert_string_equal(d.spec, "/img/a.img,rw,id=xvda");
	restore_cfg(&cfg, none);
	assert_int_equal(snapshot_devices_apply(&file, &cfg, &keep, err, sizeof(err)), 0);
	assert_int_equal(cfg.nr_disks, 2);
	assert_string_equal(cfg.disks[1].name, "xvdc");
	assert_string_equal(cfg.disks[1].path, "/img/b.img");
	assert_true(cfg.disks[1].ro);
	assert_false(cfg.disks[0].ro);
	assert_int_equal(cfg.nr_net, 1);
	assert_ptr_equal(cfg.net[0], keep.spec[0]); /* outlives the file */
	assert_string_equal(cfg.net[0], "user,hostfwd=udp:127.0.0.1:5555-:7");
	assert_int_equal(cfg.nr_scsi, 1);
	assert_int_equal(cfg.scsi[0].target, 3);
	assert_false(cfg.scsi[0].cdrom);
	assert_int_equal(cfg.nr_shares, 1);
	assert_string_equal(cfg.shares[0].tag, "s");
	assert_string_equal(cfg.shares[0].security_model, "passthrough");
	free(b.buf);
}

/* A kind the command line names must be what the guest had. */
static void test_devices_given(void **state)
{
	static const struct {
		const char *words[8];
		const char *want; /* NULL: accepted */
	} rows[] = {
		{ { "--disk", "/x/a,id=xvda", "--disk", "/x/b,ro,id=xvdc" }, NULL },
		{ { "--disk", "/x/b,ro,id=xvdc", "--disk", "/x/a,id=xvda" }, NULL },
		{ { "--disk", "/x/a", "--disk", "/x/b,ro" }, "disk xvdc, which no --disk names: give it as --disk PATH,id=xvdc" },
		{ { "--disk", "/x/a,id=xvda", "--disk", "/x/b,id=xvdc" }, "disk xvdc was read-only when saved: give it with ,ro" },
		{ { "--disk", "/x/a" }, "the guest had 2 disk(s); give as many --disk (given 1)" },
		{ { "--net", "user", "--net", "user" }, "the guest had 1 NIC(s)" },
		{ { "--net", "user" }, NULL },
		{ { "--scsi", "/x/l,lun=0:0:3:0" }, NULL },
		{ { "--scsi", "/x/l" }, "LUN 0:0:3:0, which no --scsi names: give it with lun=0:0:3:0" },
		{ { "--scsi", "/x/l,lun=0:0:3:0,media=cdrom" }, "0:0:3:0 was a writable disk when saved" },
		{ { "--share", "/x,tag=s" }, NULL },
		{ { "--share", "/x,tag=t" }, "the share tagged s, which no --share names" },
		{ { "--share", "/x,tag=s,ro" }, "the share s was writable when saved" },
	};
	struct built b = build_devices();
	static struct snapshot_net_specs keep;
	static struct vm_config cfg;

	assert_int_equal(parse(&b, b.len), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;

		restore_cfg(&cfg, rows[i].words);
		err[0] = '\0';
		rc = snapshot_devices_apply(&file, &cfg, &keep, err, sizeof(err));
		if (!rows[i].want && rc)
			fail_msg("row %zu: refused: %s", i, err);
		if (rows[i].want && (!rc || !strstr(err, rows[i].want)))
			fail_msg("row %zu: rc %d, error '%s' lacks '%s'", i, rc, err, rows[i].want);
	}
	free(b.buf);
}

/* Files before version 3 name no device: the counts are checked. */
static void test_devices_version2(void **state)
{
	struct build_opts o = { .nr_vcpus = 1, .version = 2 };
	struct built b = build_with(&o);
	static struct snapshot_net_specs keep;
	static struct vm_config cfg;
	static const char *const none[] = { NULL }, *const one[] = { "--disk", "/x/a", NULL };

	assert_int_equal(parse(&b, b.len), 0);
	restore_cfg(&cfg, none);
	assert_int_equal(snapshot_devices_apply(&file, &cfg, &keep, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "the guest had 1 disk(s) and 0 NIC(s)"));
	restore_cfg(&cfg, one);
	assert_int_equal(snapshot_devices_apply(&file, &cfg, &keep, err, sizeof(err)), 0);
	free(b.buf);
}

/* The spellings read back as what they spell; a path with ',' has none. */
static void test_device_specs(void **state)
{
	struct vm_disk d = { .path = "/a b/c.img", .name = "xvdq" };
	struct vm_scsi l = { .path = "/i.iso", .ro = true, .cdrom = true, .target = 2, .lun = 7 };
	static struct vm_config cfg;
	char spec[SNAP_DEV_SPEC_MAX], e[256];

	assert_true(cli_disk_spec(&d, spec, sizeof(spec)) > 0);
	assert_int_equal(cli_add_device(&cfg, VM_DEV_DISK, spec, e, sizeof(e)), 0);
	assert_string_equal(cfg.disks[0].path, d.path);
	assert_string_equal(cfg.disks[0].name, "xvdq");
	assert_false(cfg.disks[0].ro);
	assert_true(cli_scsi_spec(&l, spec, sizeof(spec)) > 0);
	assert_int_equal(cli_add_device(&cfg, VM_DEV_SCSI, spec, e, sizeof(e)), 0);
	assert_true(cfg.scsi[0].cdrom && cfg.scsi[0].ro);
	assert_int_equal(cfg.scsi[0].target, 2);
	assert_int_equal(cfg.scsi[0].lun, 7);
	assert_int_equal(cli_add_device(&cfg, VM_DEV_NIC, "bogus", e, sizeof(e)), -1);
	snprintf(d.path, sizeof(d.path), "/a,b.img");
	assert_int_equal(cli_disk_spec(&d, spec, sizeof(spec)), -22);
	assert_int_equal(cli_disk_spec(&d, spec, 8), -22);
	snprintf(d.path, sizeof(d.path), "/ab.img");
	assert_int_equal(cli_disk_spec(&d, spec, 8), -36);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_corrupt_bytes),
		cmocka_unit_test(test_deferred_memory_crc),
		cmocka_unit_test(test_foreign_and_version),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_missing_sections),
		cmocka_unit_test(test_lying_contents),
		cmocka_unit_test(test_xenstore_round_trip),
		cmocka_unit_test(test_xenstore_hostile),
		cmocka_unit_test(test_devices_hostile),
		cmocka_unit_test(test_devices_from_file),
		cmocka_unit_test(test_devices_ejected_cdrom),
		cmocka_unit_test(test_devices_given),
		cmocka_unit_test(test_devices_version2),
		cmocka_unit_test(test_device_specs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
