/*
 * The control API's commands, run against the VM on the event thread
 * (docs/control-api.md says what each does and answers).
 */
#ifndef PVISOR_CTL_COMMANDS_H
#define PVISOR_CTL_COMMANDS_H

#include <stdint.h>

#include <jansson.h>

#include "services/ctl/ctl_request.h"

struct vm;

/* How long `pause` waits for the vCPUs to leave guest code. */
#define CTL_PAUSE_WAIT_MS 2000

enum ctl_outcome {
	CTL_DONE,     /* *result is the reply's result (a new reference) */
	CTL_FAILED,   /* *err says why */
	CTL_DEFERRED, /* the reply comes when the VM stops (shutdown) */
};

/*
 * Runs req.  For a shutdown that asked the guest, *hard_stop_at_ns is set
 * to when the VM is to be stopped anyway (CLOCK_MONOTONIC ns).
 */
enum ctl_outcome ctl_command_run(struct vm *vm, struct ctl_request *req,
				 json_t **result, struct ctl_error *err,
				 int64_t *hard_stop_at_ns);

/* Fills err (a stable code, one line) and returns CTL_FAILED. */
enum ctl_outcome ctl_failed(struct ctl_error *err, const char *code, const char *msg);

/* Writes value to the guest's control/NODE (shutdown, sysrq), where the
 * guest watches, as dom0.  0 or -errno. */
int ctl_write_control(struct vm *vm, const char *node, const char *value);

/* The result for requests that waited for the VM to stop: how it ended. */
json_t *ctl_stopped_result(struct vm *vm);

#endif
