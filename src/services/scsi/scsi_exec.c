/*
 * Runs a command to completion with synchronous image I/O (struct
 * scsi_image): the unit tests and the fuzz harness drive the target
 * through this, on an in-memory image.  scsiback performs the same plans
 * through blkback's asynchronous I/O engine instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services/scsi/scsi_target.h"

static int do_write_same(const struct scsi_io *io, uint32_t bs,
			 const struct scsi_image *img)
{
	static const uint8_t zero[4096];
	const uint8_t *pat = io->pattern ? io->pattern : zero;

	for (uint64_t off = 0; off < io->len; off += bs) {
		int rc = img->write(img->opaque, pat, bs, io->off + off);

		if (rc)
			return rc;
	}
	return 0;
}

static int do_verify(const struct scsi_io *io, const uint8_t *data,
		     const struct scsi_image *img)
{
	uint8_t *buf = malloc(io->len);
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = img->read(img->opaque, buf, io->len, io->off);
	if (!rc && memcmp(buf, data, io->len))
		rc = -EILSEQ;
	free(buf);
	return rc;
}

static int do_io(const struct scsi_io *io, uint32_t bs, uint8_t *data,
		 const struct scsi_image *img)
{
	int rc = 0;

	switch (io->op) {
	case SCSI_IO_NONE:
		return 0;
	case SCSI_IO_READ:
		return img->read(img->opaque, data, io->len, io->off);
	case SCSI_IO_WRITE:
		rc = img->write(img->opaque, data, io->len, io->off);
		break;
	case SCSI_IO_VERIFY:
		return do_verify(io, data, img);
	case SCSI_IO_WRITE_SAME:
		rc = do_write_same(io, bs, img);
		break;
	case SCSI_IO_DISCARD:
		for (unsigned i = 0; !rc && i < io->nr_ranges; i++)
			rc = img->discard(img->opaque, io->range[i].off,
					  io->range[i].len);
		return rc;
	case SCSI_IO_FLUSH:
		return img->flush(img->opaque);
	}
	if (!rc && io->flush_after)
		rc = img->flush(img->opaque);
	return rc;
}

bool scsi_exec_sync(struct scsi_host *h, const struct scsi_addr *a,
		    const uint8_t *cdb, unsigned cdb_len, bool to_device,
		    uint8_t *data, uint32_t xfer, const struct scsi_image *img,
		    struct scsi_cmd *c)
{
	static uint8_t din[SCSI_BOUNCE]; /* tests and fuzzing: one thread */
	bool direct = scsi_cdb_direct(cdb, cdb_len);
	struct scsi_lun *lun;

	memset(c, 0, sizeof(*c));
	c->cdb = cdb;
	c->cdb_len = cdb_len;
	c->xfer_in = to_device ? 0 : xfer;
	c->xfer_out = to_device ? xfer : 0;
	c->dout = data;
	c->din = din;
	if (!scsi_cmd_start(h, a, c))
		return false;
	if (c->io.op != SCSI_IO_NONE) {
		lun = scsi_host_find(h, a);
		scsi_cmd_finish(lun, c, do_io(&c->io, lun->block_size, data, img));
	} else if (!direct && c->din_len) {
		memcpy(data, din, c->din_len);
	}
	return true;
}
