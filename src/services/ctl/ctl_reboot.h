/*
 * The control API's `reboot` (docs/control-api.md): Xen's protocol, as
 * `xl reboot` drives it: control/shutdown = "reboot", and the guest calls
 * SCHEDOP_shutdown(SHUTDOWN_reboot); the reply waits until the new domain
 * has been built and started (core/reboot.h).  --force reboots without the
 * guest (`xl reboot -F`, a hard reset).  On the event thread.
 */
#ifndef PVISOR_CTL_REBOOT_H
#define PVISOR_CTL_REBOOT_H

#include <stdint.h>

#include <jansson.h>

#include "services/ctl/ctl_commands.h"
#include "services/ctl/ctl_request.h"

struct vm;

/* Asks the guest (or, forced, pvisor) to reboot: CTL_DEFERRED, or
 * CTL_FAILED with err set (paused, a reboot already waited for). */
enum ctl_outcome ctl_reboot_run(struct vm *vm, const struct ctl_request *req,
				struct ctl_error *err);

/*
 * The waiting request's outcome: CTL_DONE with *result ({"reboots": N}) once
 * the new domain runs, CTL_FAILED with err once the guest did not reboot in
 * time (control/shutdown is cleared: it runs on), CTL_DEFERRED while it
 * still waits or when none does.
 */
enum ctl_outcome ctl_reboot_poll(struct vm *vm, json_t **result, struct ctl_error *err);

/* CLOCK_MONOTONIC ns by which ctl_reboot_poll must run, 0 for none. */
int64_t ctl_reboot_deadline(struct vm *vm);

#endif
