/* `save`: Xen's suspend protocol driven from the control API (ctl_save.h). */
#include "services/ctl/ctl_save.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/snapshot_lazy.h"
#include "core/snapshot_live.h"
#include "core/snapshot_save.h"
#include "core/vm.h"
#include "services/blkback/blkback.h"
#include "services/scsiback/scsiback.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/time.h"

/* A writable, empty regular file: a snapshot never overwrites data. */
static const char *check_file(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "the file sent is not a regular file";
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return "the file must be open for reading and writing";
	if (st.st_size != 0)
		return "the file is not empty";
	return NULL;
}

static bool save_pending(struct vm *vm)
{
	bool pending;

	pthread_mutex_lock(&vm->xen.lock);
	pending = vm->save != NULL;
	pthread_mutex_unlock(&vm->xen.lock);
	return pending;
}

/* Whether a save into fd must be refused now (err set).  A save already
 * under way is refused here too, before a live one's pre-copy runs (the
 * filing re-checks it). */
static bool refused(struct vm *vm, int fd, struct ctl_error *err)
{
	const char *bad;

	if (save_pending(vm))
		return CTL_FAILED == ctl_failed(err, "busy", "a save is already in progress");
	if (fd < 0)
		return CTL_FAILED == ctl_failed(err, "invalid-argument",
			      "save needs the file as a descriptor sent with the request (pvisor ctl PATH save FILE)");
	bad = check_file(fd);
	if (bad)
		return CTL_FAILED == ctl_failed(err, "invalid-argument", bad);
	if (vm_is_paused(vm))
		return CTL_FAILED == ctl_failed(err, "paused", "the guest is paused and cannot suspend: resume it first");
	if (snapshot_lazy_loading(vm))
		return CTL_FAILED == ctl_failed(err, "busy",
			      "the restored guest's memory is still being read in (restore --lazy): try again in a moment");
	return false;
}

/* Files s as the VM's save; false if one is already in progress. */
static bool file_request(struct vm *vm, struct save_request *s)
{
	bool busy;

	pthread_mutex_lock(&vm->xen.lock);
	busy = vm->save != NULL;
	if (!busy)
		vm->save = s;
	pthread_mutex_unlock(&vm->xen.lock);
	return !busy;
}

static void unfile_request(struct vm *vm, struct save_request *s)
{
	pthread_mutex_lock(&vm->xen.lock);
	if (vm->save == s)
		vm->save = NULL;
	pthread_mutex_unlock(&vm->xen.lock);
}

enum ctl_outcome ctl_save_run(struct vm *vm, struct ctl_request *req,
			      struct ctl_error *err)
{
	struct save_request *s;

	if (refused(vm, req->fd, err))
		return CTL_FAILED;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ctl_failed(err, "failed", "out of memory");
	s->fd = req->fd;
	s->timeout_s = req->timeout_s;
	s->deadline_ns = time_monotonic_ns() + (int64_t)(req->timeout_s * 1e9);
	if (!file_request(vm, s)) {
		free(s);
		return ctl_failed(err, "busy", "a save is already in progress");
	}
	req->fd = -1; /* the request's now */
	if (ctl_write_control(vm, "shutdown", "suspend") < 0) {
		unfile_request(vm, s);
		close(s->fd);
		free(s);
		return ctl_failed(err, "failed", "cannot write control/shutdown");
	}
	return CTL_DEFERRED;
}

/* A live save's error reply. */
static bool live_failed(struct ctl_error *err, int rc, const char *msg)
{
	ctl_failed(err, rc == -ETIMEDOUT ? "timeout" : rc == -ESHUTDOWN ? "stopped" : "failed",
		   msg);
	log_info("control API: save --live failed: %s", msg);
	return false;
}

bool ctl_save_live(struct vm *vm, const struct ctl_request *req, int fd,
		   json_t **result, struct ctl_error *err)
{
	struct snapshot_live_report r;
	struct snapshot_live *l;
	struct save_request *s;
	char msg[256];
	int rc;

	if (refused(vm, fd, err))
		return false;
	l = snapshot_live_new(vm, fd, req->timeout_s, msg, sizeof(msg));
	if (!l)
		return live_failed(err, -ENOMEM, msg);
	s = snapshot_live_request(l);
	rc = snapshot_live_precopy(l, msg, sizeof(msg));
	if (rc < 0) {
		snapshot_live_free(l);
		return live_failed(err, rc, msg);
	}
	if (!file_request(vm, s)) {
		snapshot_live_free(l);
		ctl_failed(err, "busy", "a save is already in progress");
		return false;
	}
	log_info("control API: save --live");
	__atomic_store_n(&vm->live_save.phase, LIVE_SAVE_SUSPENDING, __ATOMIC_RELAXED);
	rc = ctl_write_control(vm, "shutdown", "suspend");
	if (rc < 0)
		snprintf(msg, sizeof(msg), "cannot write control/shutdown");
	else
		rc = snapshot_live_wait(l, msg, sizeof(msg));
	/* A request the guest never took must not suspend it later. */
	if (rc == -ETIMEDOUT && ctl_write_control(vm, "shutdown", "") < 0)
		log_error("save: cannot clear control/shutdown");
	if (rc == 0)
		rc = snapshot_live_finish(l, &r, msg, sizeof(msg));
	unfile_request(vm, s);
	snapshot_live_free(l);
	if (rc < 0)
		return live_failed(err, rc, msg);
	log_info("live save: %llu bytes, %llu frames, %u pre-copy rounds, %llu frames copied in a %.2f ms pause, %.1f ms in all",
		 (unsigned long long)r.bytes, (unsigned long long)r.frames, r.rounds,
		 (unsigned long long)r.final_frames, r.pause_ms, r.seconds * 1e3);
	*result = json_pack("{s:s, s:s, s:b, s:I, s:I, s:i, s:I, s:f, s:f}", "state", "running",
			    "how", "saved", "live", 1, "bytes", (json_int_t)r.bytes,
			    "frames", (json_int_t)r.frames, "rounds", (int)r.rounds,
			    "pause_frames", (json_int_t)r.final_frames, "pause_ms", r.pause_ms,
			    "save_seconds", r.seconds);
	return true;
}

json_t *ctl_save_status(struct vm *vm)
{
	unsigned phase = __atomic_load_n(&vm->live_save.phase, __ATOMIC_RELAXED);
	int64_t started = __atomic_load_n(&vm->live_save.started_ns, __ATOMIC_RELAXED);
	const char *name = live_save_phase_name(phase);
	bool plain;

	if (name)
		return json_pack("{s:b, s:s, s:i, s:I, s:I, s:f}", "live", 1, "phase", name,
				 "rounds",
				 (int)__atomic_load_n(&vm->live_save.rounds, __ATOMIC_RELAXED),
				 "frames_copied",
				 (json_int_t)__atomic_load_n(&vm->live_save.frames,
							     __ATOMIC_RELAXED),
				 "frames_total", (json_int_t)vm->mem.nr_ram_frames,
				 "elapsed_s", (double)(time_monotonic_ns() - started) / 1e9);
	pthread_mutex_lock(&vm->xen.lock);
	plain = vm->save && !vm->save->live && vm->save->state == SAVE_ASKED;
	pthread_mutex_unlock(&vm->xen.lock);
	return plain ? json_pack("{s:b, s:s}", "live", 0, "phase", "suspending") : json_null();
}

bool ctl_save_poll(struct vm *vm, struct ctl_error *err)
{
	struct save_request *s;
	bool timed_out = false;

	pthread_mutex_lock(&vm->xen.lock);
	s = vm->save;
	if (s && s->live)
		s = NULL; /* its job waits and answers (ctl_save_live) */
	if (s && s->state == SAVE_ASKED && time_monotonic_ns() >= s->deadline_ns) {
		timed_out = true;
		s->state = SAVE_FAILED;
		snprintf(s->error, sizeof(s->error),
			 "the guest did not suspend within %g s; it runs on", s->timeout_s);
	}
	if (s && s->state == SAVE_FAILED)
		vm->save = NULL;
	else
		s = NULL;
	pthread_mutex_unlock(&vm->xen.lock);
	if (!s)
		return false;
	/* A request the guest never took must not suspend it later. */
	if (timed_out && ctl_write_control(vm, "shutdown", "") < 0)
		log_error("save: cannot clear control/shutdown");
	err->code = timed_out ? "timeout" : "failed";
	snprintf(err->message, sizeof(err->message), "%s", s->error);
	log_info("control API: save failed: %s", s->error);
	close(s->fd);
	free(s);
	return true;
}

int64_t ctl_save_deadline(struct vm *vm)
{
	int64_t at = 0;

	pthread_mutex_lock(&vm->xen.lock);
	if (vm->save && vm->save->live)
		at = 0;
	else if (vm->save && vm->save->state == SAVE_ASKED)
		at = vm->save->deadline_ns;
	else if (vm->save && vm->save->state == SAVE_FAILED)
		at = 1; /* now */
	pthread_mutex_unlock(&vm->xen.lock);
	return at;
}
