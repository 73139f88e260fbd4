/* `reboot` from the control API (ctl_reboot.h). */
#include "services/ctl/ctl_reboot.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/reboot.h"
#include "core/vm.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/time.h"

enum ctl_outcome ctl_reboot_run(struct vm *vm, const struct ctl_request *req,
				struct ctl_error *err)
{
	if (vm->ctl_reboot.active)
		return ctl_failed(err, "busy", "a reboot is already in progress");
	if (!req->force && vm_is_paused(vm))
		return ctl_failed(err, "paused",
			      "the guest is paused and cannot act on a reboot request: resume it, or reboot with force");
	vm->ctl_reboot.active = true;
	vm->ctl_reboot.from = vm_reboot_count(vm);
	vm->ctl_reboot.timeout_s = req->timeout_s;
	vm->ctl_reboot.deadline_ns = 0;
	if (req->force) {
		vm_reboot_request(vm, "the control API (reboot --force)");
		return CTL_DEFERRED;
	}
	if (ctl_write_control(vm, "shutdown", "reboot") < 0) {
		vm->ctl_reboot.active = false;
		return ctl_failed(err, "failed", "cannot write control/shutdown");
	}
	vm->ctl_reboot.deadline_ns = time_monotonic_ns() + (int64_t)(req->timeout_s * 1e9);
	return CTL_DEFERRED;
}

enum ctl_outcome ctl_reboot_poll(struct vm *vm, json_t **result, struct ctl_error *err)
{
	unsigned now = vm_reboot_count(vm);

	if (!vm->ctl_reboot.active)
		return CTL_DEFERRED;
	if (now != vm->ctl_reboot.from) {
		vm->ctl_reboot.active = false;
		*result = json_pack("{s:s, s:i}", "state", "running", "reboots", (int)now);
		log_info("control API: reboot done (%u)", now);
		return *result ? CTL_DONE : ctl_failed(err, "failed", "out of memory");
	}
	if (!vm->ctl_reboot.deadline_ns || vm_reboot_pending(vm) ||
	    time_monotonic_ns() < vm->ctl_reboot.deadline_ns)
		return CTL_DEFERRED;
	/* A request the guest never took must not reboot it later. */
	vm->ctl_reboot.active = false;
	if (ctl_write_control(vm, "shutdown", "") < 0)
		log_error("reboot: cannot clear control/shutdown");
	err->code = "timeout";
	snprintf(err->message, sizeof(err->message),
		 "the guest did not reboot within %g s; it runs on (reboot --force resets it)",
		 vm->ctl_reboot.timeout_s);
	log_info("control API: reboot failed: %s", err->message);
	return CTL_FAILED;
}

int64_t ctl_reboot_deadline(struct vm *vm)
{
	return vm->ctl_reboot.active ? vm->ctl_reboot.deadline_ns : 0;
}
