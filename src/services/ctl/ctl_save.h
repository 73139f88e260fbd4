/*
 * The control API's `save` (docs/control-api.md): the file comes from the
 * client as a descriptor (SCM_RIGHTS), since the sandboxed pvisor may not
 * open paths; the reply waits for the guest to suspend.
 */
#ifndef PVISOR_CTL_SAVE_H
#define PVISOR_CTL_SAVE_H

#include <stdbool.h>
#include <stdint.h>

#include "services/ctl/ctl_commands.h"
#include "services/ctl/ctl_request.h"

struct vm;

/* Checks the descriptor, files the request, asks the guest to suspend:
 * CTL_DEFERRED, or CTL_FAILED with err set. */
enum ctl_outcome ctl_save_run(struct vm *vm, struct ctl_request *req,
			      struct ctl_error *err);

/*
 * save --live, on the control API's worker thread (services/ctl/
 * ctl_hotplug.c): asks the guest to suspend, waits for the capture, writes
 * the file from the stage while the guest runs on.  fd stays the
 * caller's.  true with *result, or false with err set.
 */
bool ctl_save_live(struct vm *vm, const struct ctl_request *req, int fd,
		   json_t **result, struct ctl_error *err);

/* On the event thread: true (err set, the request gone) once a save failed
 * or its guest did not suspend in time. */
bool ctl_save_poll(struct vm *vm, struct ctl_error *err);

/* `status`'s "save": the save under way ({"live", "phase", ...}), or
 * JSON null when there is none. */
json_t *ctl_save_status(struct vm *vm);

/* CLOCK_MONOTONIC ns by which ctl_save_poll must run, 0 for none. */
int64_t ctl_save_deadline(struct vm *vm);

#endif
