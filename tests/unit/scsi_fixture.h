/* An in-memory image for the SCSI target (test_scsi.c, fuzz_scsi.c). */
#ifndef PVISOR_TEST_SCSI_FIXTURE_H
#define PVISOR_TEST_SCSI_FIXTURE_H

#include <errno.h>
#include <string.h>

#include "services/scsi/scsi_target.h"

struct mem_image {
	uint8_t *buf;
	uint64_t size;
	unsigned flushes, discards;
	int fail; /* -errno every I/O returns (0: none) */
};

static inline int mem_rw_check(struct mem_image *m, uint64_t len, uint64_t off)
{
	if (m->fail)
		return m->fail;
	if (off > m->size || len > m->size - off)
		__builtin_trap(); /* the target let an I/O past the image */
	return 0;
}

static inline int mem_read(void *o, void *buf, uint64_t len, uint64_t off)
{
	struct mem_image *m = o;
	int rc = mem_rw_check(m, len, off);

	if (!rc)
		memcpy(buf, m->buf + off, len);
	return rc;
}

static inline int mem_write(void *o, const void *buf, uint64_t len, uint64_t off)
{
	struct mem_image *m = o;
	int rc = mem_rw_check(m, len, off);

	if (!rc)
		memcpy(m->buf + off, buf, len);
	return rc;
}

static inline int mem_flush(void *o)
{
	struct mem_image *m = o;

	m->flushes++;
	return m->fail;
}

static inline int mem_discard(void *o, uint64_t off, uint64_t len)
{
	struct mem_image *m = o;
	int rc = mem_rw_check(m, len, off);

	if (!rc) {
		memset(m->buf + off, 0, len);
		m->discards++;
	}
	return rc;
}

static inline struct scsi_image mem_image_ops(struct mem_image *m)
{
	return (struct scsi_image){ m, mem_read, mem_write, mem_flush, mem_discard };
}

#endif
