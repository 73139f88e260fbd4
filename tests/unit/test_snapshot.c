/*
 * The snapshot file (core/snapshot.c, docs/snapshot-format.md): what the
 * writer produces parses back with every field; a truncated, corrupt or
 * foreign file, a newer version, sections missing, doubled, of the wrong
 * size or out of bounds each give one error and nothing else.
 */
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

#include "core/snapshot.h"

#define FRAMES 100u

struct built {
	uint8_t *buf;
	size_t len;
};

/* A file as snapshot_write lays it out: domain, nr vCPUs, shared_info,
 * memory with frames 3 and 70 present, pinned tables; sections skipped by
 * `omit` (a type) are left out. */
static struct built build(unsigned nr_vcpus, uint32_t omit)
{
	struct snap_writer w;
	struct built b;
	int fd = memfd_create("snap", 0);
	uint64_t hdr[2] = { FRAMES, 2 }, bits[2] = { 1ull << 3, 1ull << (70 - 64) };
	uint8_t page[SNAP_PAGE];
	struct snap_domain d = { .nr_ram_frames = FRAMES, .nr_vcpus = nr_vcpus,
				 .nr_disks = 1, .start_info_mfn = 3,
				 .system_time_ns = 123456789 };
	struct snap_pin pin = { .mfn = 70, .level = 4 };

	assert_true(fd >= 0);
	assert_int_equal(snap_writer_init(&w, fd, "proc"), 0);
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
	b.buf[b.len - 100] ^= 1; /* in the page tables or memory */
	refused(&b, b.len, "checksum");
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
	h.version = 2;
	h.header_crc = 0;
	h.header_crc = snap_crc32(0, &h, sizeof(h));
	memcpy(b.buf, &h, sizeof(h));
	refused(&b, b.len, "version 2");
	free(b.buf);
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
	struct snap_domain d = { .nr_ram_frames = FRAMES, .nr_vcpus = 2 };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_corrupt_bytes),
		cmocka_unit_test(test_foreign_and_version),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_missing_sections),
		cmocka_unit_test(test_lying_contents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
