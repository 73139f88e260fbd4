/*
 * libFuzzer harness for the SCSI target: a sequence of commands (CDB,
 * length, direction, buffer size, data-out) run against a disk, a
 * read-only disk and a CD on in-memory images, so that state changes
 * (MODE SELECT, START STOP, eject) carry over between commands.  An I/O
 * outside an image traps (scsi_fixture.h); the outcome must be consistent.
 */
// fuzz-sources: src/services/scsi/scsi_target.c src/services/scsi/scsi_disk.c src/services/scsi/scsi_cdrom.c src/services/scsi/scsi_sense.c src/services/scsi/scsi_exec.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_fixture.h"
#include "fuzz_sandbox.h"

#define BLOCKS 64
#define CMD_HDR 20 /* addr, cdb_len, cdb[16], dir, xfer/512 */


static int fuzz_one(const uint8_t *data, size_t size)
{
	static uint8_t disk_buf[BLOCKS * 512], ro_buf[BLOCKS * 512],
		cd_buf[BLOCKS * 2048], xbuf[255 * 512 * 9];
	struct scsi_lun luns[3];
	struct mem_image imgs[3] = {
		{ .buf = disk_buf, .size = sizeof(disk_buf) },
		{ .buf = ro_buf, .size = sizeof(ro_buf) },
		{ .buf = cd_buf, .size = sizeof(cd_buf) },
	};
	struct scsi_host host = { 0 };
	struct scsi_cmd c;

	memset(luns, 0, sizeof(luns));
	for (unsigned i = 0; i < 3; i++) {
		scsi_lun_init(&luns[i], i == 2 ? SCSI_MEDIA_CDROM : SCSI_MEDIA_DISK, i);
		luns[i].addr = (struct scsi_addr){ 0, 0, i == 2, i == 1 };
		luns[i].blocks = BLOCKS;
		host.lun[host.nr++] = &luns[i];
	}
	luns[0].discard = true;
	luns[1].ro = true;
	while (size >= CMD_HDR) {
		struct scsi_addr a = { 0, 0, data[0] & 1, (data[0] >> 1) & 3 };
		unsigned cdb_len = data[1] % 20, which;
		uint8_t cdb[SCSI_MAX_CDB];
		bool out = data[18] & 1;
		uint32_t xfer = (uint32_t)data[19] * 512 * (data[18] & 2 ? 9 : 1);
		struct scsi_image img;

		if (data[0] & 0x80) /* the host changes the CD's medium */
			scsi_lun_change_medium(&luns[2], data[0] & 0x40 ? BLOCKS : 0,
					       data[0] & 0x20);
		memcpy(cdb, data + 2, sizeof(cdb));
		data += CMD_HDR;
		size -= CMD_HDR;
		memset(xbuf, 0, xfer);
		if (out) {
			size_t n = size < xfer ? size : xfer;

			memcpy(xbuf, data, n);
			data += n;
			size -= n;
		}
		which = a.target ? 2 : a.lun == 1 ? 1 : 0;
		img = mem_image_ops(&imgs[which]);
		if (!scsi_exec_sync(&host, &a, cdb, cdb_len > 16 ? 17 : cdb_len, out,
				    xbuf, xfer, &img, &c))
			continue;
		if (c.io.op != SCSI_IO_NONE || c.din_len > xfer || c.residual > xfer ||
		    (c.status == SCSI_GOOD) != (c.sense_len == 0) ||
		    (c.sense_len && c.sense_len != SCSI_SENSE_LEN) ||
		    (out && c.din_len))
			abort();
		if (luns[1].ro != true || luns[2].ro != true)
			abort();
	}
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_BLOCK, fuzz_one)
