/* Fixed-format sense data (SPC-4 4.5.3) and the codes pvisor reports. */
#include <string.h>

#include "services/scsi/scsi_target.h"

const struct scsi_sense_code SENSE_INVALID_OPCODE = { SK_ILLEGAL_REQUEST, 0x20, 0x00 };
const struct scsi_sense_code SENSE_INVALID_FIELD = { SK_ILLEGAL_REQUEST, 0x24, 0x00 };
const struct scsi_sense_code SENSE_INVALID_PARAM = { SK_ILLEGAL_REQUEST, 0x26, 0x00 };
const struct scsi_sense_code SENSE_PARAM_LIST_LENGTH = { SK_ILLEGAL_REQUEST, 0x1a, 0x00 };
const struct scsi_sense_code SENSE_LBA_OUT_OF_RANGE = { SK_ILLEGAL_REQUEST, 0x21, 0x00 };
const struct scsi_sense_code SENSE_LUN_NOT_SUPPORTED = { SK_ILLEGAL_REQUEST, 0x25, 0x00 };
const struct scsi_sense_code SENSE_SAVING_NOT_SUPPORTED = { SK_ILLEGAL_REQUEST, 0x39, 0x00 };
const struct scsi_sense_code SENSE_REMOVAL_PREVENTED = { SK_ILLEGAL_REQUEST, 0x53, 0x02 };
const struct scsi_sense_code SENSE_WRITE_PROTECTED = { SK_DATA_PROTECT, 0x27, 0x00 };
const struct scsi_sense_code SENSE_NO_MEDIUM = { SK_NOT_READY, 0x3a, 0x00 };
const struct scsi_sense_code SENSE_NEED_START = { SK_NOT_READY, 0x04, 0x02 };
const struct scsi_sense_code SENSE_MEDIUM_CHANGED = { SK_UNIT_ATTENTION, 0x28, 0x00 };
const struct scsi_sense_code SENSE_READ_ERROR = { SK_MEDIUM_ERROR, 0x11, 0x00 };
const struct scsi_sense_code SENSE_WRITE_ERROR = { SK_MEDIUM_ERROR, 0x0c, 0x00 };
const struct scsi_sense_code SENSE_SPACE_FULL = { SK_DATA_PROTECT, 0x27, 0x07 };
const struct scsi_sense_code SENSE_MISCOMPARE_VERIFY = { SK_MISCOMPARE, 0x1d, 0x00 };

void scsi_sense_build(uint8_t *out, struct scsi_sense_code s)
{
	memset(out, 0, SCSI_SENSE_LEN);
	out[0] = 0x70;                 /* current error, fixed format */
	out[2] = s.key;
	out[7] = SCSI_SENSE_LEN - 8;   /* additional sense length */
	out[12] = s.asc;
	out[13] = s.ascq;
}

void scsi_set_sense(struct scsi_cmd *c, struct scsi_sense_code s)
{
	c->io.op = SCSI_IO_NONE;
	c->status = SCSI_CHECK_CONDITION;
	c->sense_len = SCSI_SENSE_LEN;
	scsi_sense_build(c->sense, s);
	c->din_len = 0;
	c->residual = c->xfer_in > c->xfer_out ? c->xfer_in : c->xfer_out;
}

void scsi_set_invalid_field(struct scsi_cmd *c, unsigned byte)
{
	scsi_set_sense(c, SENSE_INVALID_FIELD);
	c->sense[15] = 0xc0; /* SKSV, C/D: the field is in the CDB */
	c->sense[16] = (uint8_t)(byte >> 8);
	c->sense[17] = (uint8_t)byte;
}

void scsi_set_good(struct scsi_cmd *c)
{
	c->status = SCSI_GOOD;
	c->sense_len = 0;
	c->din_len = 0;
	c->residual = c->xfer_in > c->xfer_out ? c->xfer_in : c->xfer_out;
}

void scsi_reply(struct scsi_cmd *c, const uint8_t *buf, uint32_t len,
		uint32_t alloc)
{
	uint32_t n = len;

	if (n > alloc)
		n = alloc;
	if (n > c->xfer_in)
		n = c->xfer_in;
	if (n > SCSI_BOUNCE)
		n = SCSI_BOUNCE;
	scsi_set_good(c);
	if (n)
		memcpy(c->din, buf, n);
	c->din_len = n;
	c->residual = c->xfer_in - n;
}
