/*
 * blkfront: the guest side of a Xen virtual block device, Mini-OS style.
 * blkfront_init() does the XenbusState handshake with the backend named in
 * device/vbd/<vdev>; I/O is asynchronous (blkfront_aio_submit + poll/wait)
 * with a synchronous wrapper.  Buffers must be 512-byte aligned; a request
 * covers at most BLKIF_MAX_SEGMENTS_PER_REQUEST pages, or up to the
 * backend's feature-max-indirect-segments with indirect descriptors.
 */
#ifndef KIT_BLKFRONT_H
#define KIT_BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

struct blkfront;

struct blkfront_info {
	char name[8];            /* xvda ... */
	unsigned vdev;           /* virtual-device */
	uint64_t sectors;        /* in 512-byte sectors */
	unsigned sector_size;
	bool ro, flush, barrier, discard;
	unsigned max_segs;       /* per request, indirect included */
	unsigned ring_pages;
};

struct blkfront_aio {
	void *buf;               /* 512-byte aligned */
	uint64_t sector;
	size_t bytes;            /* multiple of 512; 0 for a flush */
	uint8_t op;              /* BLKIF_OP_READ, WRITE, FLUSH_DISKCACHE */
	/* out */
	bool done;
	int16_t status;          /* BLKIF_RSP_* */
	void (*cb)(struct blkfront_aio *aio); /* optional, on completion */
	void *data;
};

/*
 * Connects to device/vbd/<vdev> with a ring of 2^order pages (capped by the
 * backend's max-ring-page-order).  NULL on failure (a line is printed).
 */
struct blkfront *blkfront_init(unsigned vdev, unsigned order,
			       struct blkfront_info *info);
/*
 * Hot-unplug: waits until the toolstack asks for the device back (backend
 * state Closing or later, as libxl's device remove writes it).  Returns
 * that state, or -XEN_ETIMEDOUT at deadline_ns (0: none).  Then
 * blkfront_shutdown() closes it, and the toolstack removes its nodes.
 */
long blkfront_wait_closing(struct blkfront *dev, uint64_t deadline_ns);
/* Closes the device (Closing, Closed) and frees it; no I/O may be pending. */
void blkfront_shutdown(struct blkfront *dev);

/* Queues one request; -XEN_EAGAIN when the ring is full (poll, retry),
 * -XEN_EINVAL for a bad buffer/size. */
int blkfront_aio_submit(struct blkfront *dev, struct blkfront_aio *aio);
/* Completes the responses on the ring; returns how many. */
int blkfront_poll(struct blkfront *dev);
/* Blocks until the backend notifies or deadline_ns (0 = none) passes. */
void blkfront_wait(struct blkfront *dev, uint64_t deadline_ns);
/* Notifications received on the device's port (upcalls). */
uint64_t blkfront_notifications(struct blkfront *dev);
/* Requests on the ring without a response yet. */
unsigned blkfront_pending(struct blkfront *dev);

/* Synchronous I/O; 0 or -XEN_EIO (the response was not OKAY). */
int blkfront_io(struct blkfront *dev, uint8_t op, uint64_t sector, void *buf,
		size_t bytes);
int blkfront_flush(struct blkfront *dev);

/* Raw ring access for hostile tests. */
struct blkif_front_ring *blkfront_ring(struct blkfront *dev);
void blkfront_notify(struct blkfront *dev);
/* The backend's XenbusState now. */
int blkfront_backend_state(struct blkfront *dev);

/* The vdev of a name (xvda -> 51712), or 0. */
unsigned blkfront_vdev(const char *name);

#endif
