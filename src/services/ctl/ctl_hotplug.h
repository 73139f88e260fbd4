/*
 * Device hot-plug for the control API (docs/control-api.md: disk-add,
 * disk-remove, scsi-add, scsi-remove, eject, insert): the work runs on a thread of its own, "pv-hotplug", started
 * during set-up, because setting a device up takes calls the sandboxed
 * event thread may not make (an I/O engine, a device thread) and removing
 * one waits for the guest.  The event thread queues a job and answers the
 * client once the job is done (the worker wakes the event loop).
 */
#ifndef PVISOR_CTL_HOTPLUG_H
#define PVISOR_CTL_HOTPLUG_H

#include <stdbool.h>

#include <jansson.h>

#include "services/ctl/ctl_request.h"

struct vm;
struct ctl_hotplug;
struct ctl_hotplug_job;

/* Starts the worker for vm (during set-up).  NULL with one line in err. */
struct ctl_hotplug *ctl_hotplug_start(struct vm *vm, char *err, size_t err_len);
/* Finishes the job running, drops the queued ones, joins the thread.  The
 * devices stay (blkback_destroy() closes them).  NULL is fine. */
void ctl_hotplug_stop(struct ctl_hotplug *h);

/* Whether the request is one of the worker's: device hot-plug, and
 * save --live (it writes the file while the guest runs). */
bool ctl_hotplug_handles(const struct ctl_request *req);

/*
 * Queues req for the worker; fd (the descriptor the request came with, or
 * -1) is taken.  NULL with *err set when it cannot be queued.
 */
struct ctl_hotplug_job *ctl_hotplug_submit(struct ctl_hotplug *h,
					   const struct ctl_request *req, int fd,
					   struct ctl_error *err);

/*
 * Once the job is done: true, with *result (a new reference) or, NULL,
 * *err, and the job freed.  false while it runs.
 */
bool ctl_hotplug_take(struct ctl_hotplug_job *j, json_t **result, struct ctl_error *err);

/* The client that asked left: the job still completes, then is freed. */
void ctl_hotplug_abandon(struct ctl_hotplug_job *j);

#endif
