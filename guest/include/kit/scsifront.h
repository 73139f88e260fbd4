/*
 * scsifront: the guest side of Xen's paravirtual SCSI (vscsiif), as Linux's
 * xen-scsifront drives it.  scsifront_init() connects to device/vscsi/0,
 * adds the LUNs the backend offers (vscsi-devs/dev-N) and reports them;
 * commands are asynchronous (submit + poll/wait) with a synchronous
 * wrapper.  A buffer is split at page boundaries; more than
 * VSCSIIF_SG_TABLESIZE pieces go in granted indirect pages
 * (feature-sg-grant).
 */
#ifndef KIT_SCSIFRONT_H
#define KIT_SCSIFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>
#include <xen/io/protocols.h>
#include <xen/io/vscsiif.h>
#include <xen/io/xenbus.h>

#define SCSIFRONT_MAX_LUNS 16
#define SCSIFRONT_DIR_TO_DEVICE 1
#define SCSIFRONT_DIR_FROM_DEVICE 2
#define SCSIFRONT_DIR_NONE 3

struct scsifront;

struct scsifront_lun {
	uint16_t host, channel, target, lun; /* v-dev */
	unsigned dev;                        /* dev-N */
};

struct scsifront_info {
	unsigned nr_luns;
	struct scsifront_lun luns[SCSIFRONT_MAX_LUNS];
	unsigned max_segs;                   /* feature-sg-grant (>= 26) */
};

struct scsifront_cmd {
	uint16_t channel, target, lun;
	uint8_t cdb[VSCSIIF_MAX_COMMAND_SIZE];
	uint8_t cdb_len;
	uint8_t dir;                         /* SCSIFRONT_DIR_* */
	uint8_t act;                         /* 0: VSCSIIF_ACT_SCSI_CDB */
	uint16_t ref_rqid;                   /* ABORT */
	void *buf;
	size_t len;
	/* out */
	bool done;
	uint16_t rqid;
	int32_t rslt;                        /* status | host << 16 */
	uint8_t sense_len;
	uint8_t sense[VSCSIIF_SENSE_BUFFERSIZE];
	uint32_t residual;
};

/* Connects and adds the LUNs; NULL on failure (a line is printed). */
struct scsifront *scsifront_init(struct scsifront_info *info);

/* Waits (on a watch of device/vscsi) until the toolstack has written
 * device/vscsi/0 — a guest started without --scsi gets it with the first
 * `ctl scsi-add` — or deadline_ns (monotonic) passes: 0 or -XEN_ETIMEDOUT. */
int scsifront_wait_device(uint64_t deadline_ns);
/* Closes the host (Closing, Closed); no command may be pending. */
void scsifront_shutdown(struct scsifront *dev);

/* Queues a command; -XEN_EAGAIN when the ring is full, -XEN_EINVAL for a
 * buffer of more segments than the backend takes. */
int scsifront_submit(struct scsifront *dev, struct scsifront_cmd *cmd);
int scsifront_poll(struct scsifront *dev);
void scsifront_wait(struct scsifront *dev, uint64_t deadline_ns);
unsigned scsifront_pending(struct scsifront *dev);
/* Synchronous: the SCSI status (0 GOOD, 2 CHECK CONDITION), or -1 with a
 * host error in cmd->rslt, or -XEN_* if it could not be queued. */
int scsifront_exec(struct scsifront *dev, struct scsifront_cmd *cmd);

/*
 * LUN hot-plug.  When the backend is Reconfiguring (7), runs
 * xen-scsifront's round (drop the LUNs in Closing, Reconfiguring, wait for
 * the backend's Reconfigured, add the LUNs in Initialised, Connected) and
 * copies the new LUN list to info.  1 if the list changed, 0 if not (or
 * no round was asked), -XEN_ETIMEDOUT if the backend never said
 * Reconfigured.  No command may be pending on a LUN being removed.
 *
 * scsifront_reconfigure looks once (polled); scsifront_wait_reconfigure
 * blocks on the frontend's watch of the backend's state (set at connect,
 * kept across a suspend) until the backend is Reconfiguring, then runs the
 * round, or returns 0 when deadline_ns (monotonic) passes first.
 */
int scsifront_reconfigure(struct scsifront *dev, struct scsifront_info *info);
int scsifront_wait_reconfigure(struct scsifront *dev, struct scsifront_info *info,
			       uint64_t deadline_ns);

/* Raw access for hostile tests. */
struct vscsiif_front_ring *scsifront_ring(struct scsifront *dev);
void scsifront_notify(struct scsifront *dev);
int scsifront_backend_state(struct scsifront *dev);
/* Notifications received (guest upcalls for the ring's port). */
uint64_t scsifront_notifications(struct scsifront *dev);

#endif
