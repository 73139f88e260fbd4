/* The control API's commands (see ctl_commands.h). */
#include "services/ctl/ctl_commands.h"
#include "services/ctl/ctl_reboot.h"
#include "services/ctl/ctl_save.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reboot.h"
#include "core/snapshot_lazy.h"
#include "core/snapshot_save.h"
#include "core/vm.h"
#include "services/scsiback/scsiback.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/time.h"

#include <pvisor/abi.h>

#define GUEST_DIR "/local/domain/1"
#define BACKEND_DIR "/local/domain/0/backend"

enum ctl_outcome ctl_failed(struct ctl_error *err, const char *code, const char *msg)
{
	err->code = code;
	snprintf(err->message, sizeof(err->message), "%s", msg);
	return CTL_FAILED;
}

static const char *vm_state(struct vm *vm)
{
	if (vm_stopped(vm))
		return "stopped";
	return vm_is_paused(vm) ? "paused" : "running";
}

/* ------------------------------------------------------------------ */
/* status */

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED); /* counters of running vCPUs */
}

static json_t *vcpu_json(struct vcpu *v, uint64_t *total_exits)
{
	uint64_t hc = 0, exits = load64(&v->xen.exits);

	for (unsigned i = 0; i < XEN_NR_HYPERCALLS; i++)
		hc += load64(&v->xen.hypercalls[i]);
	*total_exits += exits;
	return json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "id", (json_int_t)v->id,
			 "state", vcpu_run_state(v), "exits", (json_int_t)exits, "hypercalls",
			 (json_int_t)hc, "exceptions", (json_int_t)load64(&v->xen.exceptions),
			 "emulated", (json_int_t)load64(&v->xen.emulated), "upcalls",
			 (json_int_t)load64(&v->xen.upcalls));
}

static const char *xenbus_state_name(long st)
{
	static const char *const names[] = { "Unknown", "Initialising", "InitWait",
					     "Initialised", "Connected", "Closing",
					     "Closed", "Reconfiguring", "Reconfigured" };

	return st >= 0 && st < (long)(sizeof(names) / sizeof(names[0])) ? names[st] : "?";
}

/* The number at path, or -1 if absent or not a number. */
static long read_long(struct xenstore *xs, const char *path)
{
	char *v = NULL, *end;
	size_t len;
	long n = -1;

	if (xs_dom0_read(xs, path, &v, &len) == 0) {
		n = strtol(v, &end, 10);
		if (end == v || *end)
			n = -1;
	}
	free(v);
	return n;
}

static void add_state(json_t *dev, const char *key, struct xenstore *xs, const char *path)
{
	char k[32];
	long st = read_long(xs, path);

	json_object_set_new(dev, key, json_integer(st));
	snprintf(k, sizeof(k), "%s_name", key);
	json_object_set_new(dev, k, json_string(st < 0 ? "absent" : xenbus_state_name(st)));
}

/* One backend directory's devices: BACKEND_DIR/TYPE/1/DEVID. */
static void add_devices(struct xenstore *xs, const char *type, json_t *list)
{
	char dir[128], path[256], *ids = NULL;
	size_t len;

	snprintf(dir, sizeof(dir), "%s/%s/1", BACKEND_DIR, type);
	if (xs_dom0_directory(xs, dir, &ids, &len) < 0)
		return;
	for (size_t off = 0; off < len; off += strlen(ids + off) + 1) {
		const char *id = ids + off;
		json_t *dev = json_pack("{s:s, s:s}", "type", type, "devid", id);
		char *fe = NULL;
		size_t fe_len;

		if (!dev)
			continue;
		snprintf(path, sizeof(path), "%s/%s/state", dir, id);
		add_state(dev, "backend_state", xs, path);
		snprintf(path, sizeof(path), "%s/%s/frontend", dir, id);
		if (xs_dom0_read(xs, path, &fe, &fe_len) == 0 && fe_len < 200) {
			snprintf(path, sizeof(path), "%s/state", fe);
			add_state(dev, "frontend_state", xs, path);
		}
		free(fe);
		json_array_append_new(list, dev);
	}
	free(ids);
}

struct status_xs {
	json_t *devices;
	json_t *features;
};

static int status_from_store(struct xenstore *xs, void *opaque)
{
	static const char *const features[] = { "feature-poweroff", "feature-reboot",
						"feature-suspend" };
	struct status_xs *st = opaque;
	char *types = NULL, path[128];
	size_t len;

	if (xs_dom0_directory(xs, BACKEND_DIR, &types, &len) == 0) {
		for (size_t off = 0; off < len; off += strlen(types + off) + 1)
			add_devices(xs, types + off, st->devices);
		free(types);
	}
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		snprintf(path, sizeof(path), GUEST_DIR "/control/%s", features[i]);
		if (read_long(xs, path) == 1)
			json_array_append_new(st->features, json_string(features[i] + 8));
	}
	return 0;
}

static json_t *lun_json(const struct scsiback_lun_info *l)
{
	char addr[32];
	json_t *j;

	snprintf(addr, sizeof(addr), "%u:%u:%u:%u", l->cfg.host, l->cfg.channel, l->cfg.target,
		 l->cfg.lun);
	j = json_pack("{s:s, s:s, s:s, s:b, s:i, s:s}", "device", addr, "path", l->cfg.path,
		      "media", l->cfg.cdrom ? "cdrom" : "disk", "ro", l->cfg.ro, "state",
		      l->state, "state_name", xenbus_state_name(l->state));
	if (j && l->cfg.cdrom) {
		json_object_set_new(j, "medium", json_boolean(l->medium));
		json_object_set_new(j, "prevent_removal", json_boolean(l->prevent));
	}
	return j;
}

/* The SCSI host's LUNs, from scsiback's own table (the store has no
 * image paths or tray), on the devices entry of type vscsi. */
static void add_luns(struct vm *vm, json_t *devices)
{
	struct scsiback_lun_info luns[VM_MAX_SCSI];
	unsigned n = scsiback_lun_info(vm, luns);
	json_t *dev, *list;
	size_t i;

	json_array_foreach(devices, i, dev) {
		if (strcmp(json_string_value(json_object_get(dev, "type")) ?: "", "vscsi"))
			continue;
		list = json_array();
		for (unsigned k = 0; k < n; k++)
			json_array_append_new(list, lun_json(&luns[k]));
		json_object_set_new(dev, "luns", list);
	}
}

static enum ctl_outcome cmd_status(struct vm *vm, json_t **result, struct ctl_error *err)
{
	struct status_xs st = { json_array(), json_array() };
	json_t *vcpus = json_array(), *r;
	uint64_t exits = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		json_array_append_new(vcpus, vcpu_json(vm->vcpus[i], &exits));
	xs_service_with(vm, status_from_store, &st);
	add_luns(vm, st.devices);
	r = json_pack("{s:s, s:s, s:f, s:{s:I, s:I, s:b}, s:o, s:I, s:o, s:o, s:i}", "state",
		      vm_state(vm), "backend", vm->backend->name, "uptime_s",
		      (double)xen_system_time_ns(vm) / 1e9, "memory", "bytes",
		      (json_int_t)vm->cfg->mem_bytes, "pages",
		      (json_int_t)vm->mem.nr_ram_frames, "loading",
		      (int)snapshot_lazy_loading(vm), "vcpus", vcpus, "exits",
		      (json_int_t)exits, "devices", st.devices, "guest_features",
		      st.features, "reboots", (int)vm_reboot_count(vm));
	if (!r)
		return ctl_failed(err, "failed", "out of memory");
	json_object_set_new(r, "save", ctl_save_status(vm));
	*result = r;
	return CTL_DONE;
}

/* ------------------------------------------------------------------ */
/* pause, resume */

static enum ctl_outcome cmd_pause(struct vm *vm, json_t **result, struct ctl_error *err)
{
	if (vm_pause(vm, CTL_PAUSE_WAIT_MS) < 0)
		return ctl_failed(err, "timeout",
			      "a vCPU did not leave guest code in time; the VM stays marked paused");
	*result = json_pack("{s:s}", "state", vm_state(vm));
	return CTL_DONE;
}

static enum ctl_outcome cmd_resume(struct vm *vm, json_t **result, struct ctl_error *err)
{
	vm_resume(vm);
	*result = json_pack("{s:s}", "state", vm_state(vm));
	return CTL_DONE;
}

/* ------------------------------------------------------------------ */
/* shutdown, sysrq: requests written where the guest watches */

struct control_write {
	const char *node;
	const char *value;
};

static int write_control(struct xenstore *xs, void *opaque)
{
	const struct control_write *w = opaque;
	char path[64];

	snprintf(path, sizeof(path), GUEST_DIR "/control/%s", w->node);
	return xs_dom0_write(xs, path, w->value, strlen(w->value));
}

int ctl_write_control(struct vm *vm, const char *node, const char *value)
{
	struct control_write w = { node, value };

	return xs_service_with(vm, write_control, &w);
}

static enum ctl_outcome cmd_shutdown(struct vm *vm, const struct ctl_request *req,
				     struct ctl_error *err, int64_t *hard_stop_at_ns)
{
	if (req->force) {
		vm_stop(vm, VM_STOP_API, VM_EXIT_API_STOP,
			"stopped through the control API (shutdown, force)");
		return CTL_DEFERRED;
	}
	if (vm_is_paused(vm))
		return ctl_failed(err, "paused",
			      "the guest is paused and cannot act on a shutdown request: resume it, or shut down with force");
	if (ctl_write_control(vm, "shutdown", "poweroff") < 0)
		return ctl_failed(err, "failed", "cannot write control/shutdown");
	*hard_stop_at_ns = time_monotonic_ns() + (int64_t)(req->timeout_s * 1e9);
	return CTL_DEFERRED;
}

static enum ctl_outcome cmd_sysrq(struct vm *vm, const struct ctl_request *req,
				  json_t **result, struct ctl_error *err)
{
	const char key[2] = { req->key, '\0' };

	if (ctl_write_control(vm, "sysrq", key) < 0)
		return ctl_failed(err, "failed", "cannot write control/sysrq");
	*result = json_pack("{s:s%}", "key", &req->key, (size_t)1);
	return CTL_DONE;
}

enum ctl_outcome ctl_command_run(struct vm *vm, struct ctl_request *req,
				 json_t **result, struct ctl_error *err,
				 int64_t *hard_stop_at_ns)
{
	*result = NULL;
	if (vm_stopped(vm))
		return ctl_failed(err, "stopped", "the VM is stopping");
	switch (req->command) {
	case CTL_STATUS:
		return cmd_status(vm, result, err);
	case CTL_PAUSE:
		return cmd_pause(vm, result, err);
	case CTL_RESUME:
		return cmd_resume(vm, result, err);
	case CTL_SHUTDOWN:
		return cmd_shutdown(vm, req, err, hard_stop_at_ns);
	case CTL_REBOOT:
		return ctl_reboot_run(vm, req, err);
	case CTL_SYSRQ:
		return cmd_sysrq(vm, req, result, err);
	case CTL_SAVE:
		return ctl_save_run(vm, req, err);
	case CTL_DISK_ADD:
	case CTL_DISK_REMOVE: /* ctl_hotplug.c's: the server sends them there */
	case CTL_EJECT:
	case CTL_INSERT:
	case CTL_SCSI_ADD:
	case CTL_SCSI_REMOVE:
	case CTL_NR_COMMANDS:
		break;
	}
	return ctl_failed(err, "unknown-command", "unknown command");
}

json_t *ctl_stopped_result(struct vm *vm)
{
	enum vm_stop_reason why = atomic_load(&vm->stop_reason);
	const char *how = why == VM_STOP_SHUTDOWN ? "guest"
			  : why == VM_STOP_API	  ? "forced"
			  : why == VM_STOP_SAVED  ? "saved"
						  : "other";

	if (why == VM_STOP_SAVED && vm->save)
		return json_pack("{s:s, s:s, s:i, s:I, s:f}", "state", "stopped", "how", how,
				 "exit_status", vm->exit_status, "bytes",
				 (json_int_t)vm->save->bytes, "save_seconds", vm->save->seconds);
	return json_pack("{s:s, s:s, s:i}", "state", "stopped", "how", how, "exit_status",
			 vm->exit_status);
}
