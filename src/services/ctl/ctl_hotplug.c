/* The control API's device hot-plug (see ctl_hotplug.h). */
#include "services/ctl/ctl_hotplug.h"

#include <errno.h>
#include <stdarg.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "services/ctl/ctl_save.h"
#include "services/blkback/blkback.h"
#include "services/scsiback/scsiback.h"
#include "services/scsiback/vscsi_lun.h"
#include "xen/time.h"

#include <xen/io/xenbus.h>

/* How often a removal looks at the backend's state. */
#define REMOVE_POLL_NS 5000000L

enum job_stage { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct ctl_hotplug_job {
	struct ctl_hotplug *h;        /* whose lock guards stage and abandoned */
	struct ctl_hotplug_job *next; /* the queue */
	struct ctl_request req;       /* its id is not used here */
	int fd;
	enum job_stage stage;         /* under the lock */
	bool abandoned;               /* under the lock */
	json_t *result;
	struct ctl_error err;
};

struct ctl_hotplug {
	struct vm *vm;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ctl_hotplug_job *head, *tail;
	bool stop; /* under the lock; read unlocked (atomic) while waiting */
};

bool ctl_hotplug_handles(const struct ctl_request *req)
{
	enum ctl_command c = req->command;

	return c == CTL_DISK_ADD || c == CTL_DISK_REMOVE || c == CTL_EJECT ||
	       c == CTL_INSERT || c == CTL_SCSI_ADD || c == CTL_SCSI_REMOVE ||
	       (c == CTL_SAVE && req->live);
}

static bool job_fail(struct ctl_hotplug_job *j, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool job_fail(struct ctl_hotplug_job *j, const char *code, const char *fmt, ...)
{
	va_list ap;

	j->err.code = code;
	va_start(ap, fmt);
	vsnprintf(j->err.message, sizeof(j->err.message), fmt, ap);
	va_end(ap);
	return false;
}

/* An error from opening a device, as a reply code. */
static const char *add_error_code(int rc)
{
	switch (-rc) {
	case EAGAIN:
	case EACCES:
	case EEXIST:
		return "in-use";
	case ENOSPC:
		return "limit";
	case EINVAL:
	case EBADF:
		return "bad-file";
	default:
		return "failed";
	}
}

/* ------------------------------------------------------------------ */
/* disk-add, disk-remove */

static bool disk_add(struct ctl_hotplug *h, struct ctl_hotplug_job *j)
{
	struct vm_disk cfg = { .ro = j->req.ro };
	char err[256];
	int fd = j->fd, rc;

	j->fd = -1;
	if (fd < 0)
		return job_fail(j, "invalid-argument",
				"disk-add needs the image's descriptor (SCM_RIGHTS) with the request");
	if (blkback_free_name(h->vm, cfg.name) < 0 || blkback_nr_disks(h->vm) >= VM_MAX_DISKS) {
		close(fd);
		return job_fail(j, "limit", "the guest has %d disks already (the most)",
				VM_MAX_DISKS);
	}
	snprintf(cfg.path, sizeof(cfg.path), "%s", j->req.path);
	rc = blkback_add(h->vm, &cfg, fd, err, sizeof(err));
	if (rc < 0)
		return job_fail(j, add_error_code(rc), "%s", err);
	log_info("control API: disk-add %s as %s%s", cfg.path, cfg.name, cfg.ro ? " (ro)" : "");
	j->result = json_pack("{s:s, s:i, s:s, s:b}", "device", cfg.name, "devid",
			      blkback_vdev(cfg.name), "path", cfg.path, "ro", cfg.ro);
	return true;
}

static bool stopping(struct ctl_hotplug *h)
{
	return __atomic_load_n(&h->stop, __ATOMIC_ACQUIRE);
}

/* libxl's removal: Closing, wait for Closed (the frontend closed), then
 * the nodes go; forced, or the guest gone quiet, without the wait. */
static bool disk_remove(struct ctl_hotplug *h, struct ctl_hotplug_job *j)
{
	const char *name = j->req.device;
	int64_t deadline = time_monotonic_ns() + (int64_t)(j->req.timeout_s * 1e9);
	bool closed = false;
	int st;

	if (blkback_vdev(name) < 0)
		return job_fail(j, "invalid-argument", "\"%s\" is not a disk name (xvda..xvdz)",
				name);
	if (blkback_remove_begin(h->vm, name) < 0)
		return job_fail(j, "not-found", "no disk %s is attached", name);
	while (!j->req.force) {
		st = blkback_remove_state(h->vm, name);
		if (st == XenbusStateClosed) {
			closed = true;
			break;
		}
		if (stopping(h) || vm_stopped(h->vm))
			return job_fail(j, "stopped", "the VM is stopping");
		if (time_monotonic_ns() >= deadline)
			return job_fail(j, "timeout",
					"the guest did not close %s within %g s; it stays Closing "
					"(disk-remove with force takes it away)",
					name, j->req.timeout_s);
		nanosleep(&(struct timespec){ .tv_nsec = REMOVE_POLL_NS }, NULL);
	}
	blkback_remove_finish(h->vm, name);
	log_info("control API: disk-remove %s (%s)", name, closed ? "closed" : "forced");
	j->result = json_pack("{s:s, s:s}", "device", name, "how", closed ? "closed" : "forced");
	return true;
}

/* ------------------------------------------------------------------ */
/* eject, insert: a CD/DVD LUN's medium */

#define MEDIA_TIMEOUT_MS 10000

static const char *media_error_code(int rc)
{
	switch (-rc) {
	case ENOENT:
		return "not-found";
	case EBUSY:
	case EEXIST:
	case EAGAIN:
		return "in-use";
	case EINVAL:
		return "bad-file";
	case ETIMEDOUT:
		return "timeout";
	default:
		return "failed";
	}
}

static bool change_medium(struct ctl_hotplug *h, struct ctl_hotplug_job *j)
{
	bool insert = j->req.command == CTL_INSERT;
	int fd = j->fd, rc;
	char err[256];

	j->fd = -1;
	if (insert && fd < 0)
		return job_fail(j, "invalid-argument",
				"insert needs the image's descriptor (SCM_RIGHTS) with the request");
	rc = scsiback_change_medium(h->vm, j->req.device, insert ? fd : -1, j->req.path,
				    j->req.force, MEDIA_TIMEOUT_MS, err, sizeof(err));
	if (rc < 0)
		return job_fail(j, rc == -EINVAL && !insert ? "invalid-argument"
							     : media_error_code(rc), "%s", err);
	log_info("control API: %s %s%s%s", insert ? "insert" : "eject", j->req.device,
		 insert ? " " : "", insert ? j->req.path : "");
	j->result = insert ? json_pack("{s:s, s:s}", "device", j->req.device, "path", j->req.path)
			   : json_pack("{s:s}", "device", j->req.device);
	return true;
}

/* ------------------------------------------------------------------ */
/* scsi-add, scsi-remove: a LUN through a vscsi reconfiguration */

static const char *lun_error_code(int rc)
{
	switch (-rc) {
	case ENOENT:
		return "not-found";
	case EEXIST:
		return "in-use";
	case EXDEV:
		return "invalid-argument";
	case ETIMEDOUT:
		return "timeout";
	case ECANCELED:
		return "stopped";
	default:
		return add_error_code(rc);
	}
}

static unsigned timeout_ms(const struct ctl_hotplug_job *j)
{
	return (unsigned)(j->req.timeout_s * 1000);
}

static bool scsi_add(struct ctl_hotplug *h, struct ctl_hotplug_job *j)
{
	struct vm_scsi cfg = { .ro = j->req.ro, .cdrom = j->req.cdrom };
	struct scsi_addr a = { 0 };
	char err[256], lun[32];
	bool taken;
	int fd = j->fd, rc;

	j->fd = -1;
	if (fd < 0)
		return job_fail(j, "invalid-argument",
				"scsi-add needs the image's descriptor (SCM_RIGHTS) with the request");
	if (j->req.lun_given &&
	    vscsi_hctl_parse(j->req.device, strlen(j->req.device), &a) == 0)
		cfg = (struct vm_scsi){ .ro = cfg.ro, .cdrom = cfg.cdrom, .host = a.host,
					.channel = a.channel, .target = a.target, .lun = a.lun };
	snprintf(cfg.path, sizeof(cfg.path), "%s", j->req.path);
	rc = scsiback_lun_add(h->vm, &cfg, j->req.lun_given, fd, timeout_ms(j), &taken, err,
			      sizeof(err));
	if (rc < 0)
		return job_fail(j, lun_error_code(rc), "%s", err);
	snprintf(lun, sizeof(lun), "%u:%u:%u:%u", cfg.host, cfg.channel, cfg.target, cfg.lun);
	log_info("control API: scsi-add %s as %s%s%s", cfg.path, lun, cfg.cdrom ? " (cdrom)" : "",
		 cfg.ro && !cfg.cdrom ? " (ro)" : "");
	j->result = json_pack("{s:s, s:s, s:s, s:b, s:s}", "device", lun, "path", cfg.path,
			      "media", cfg.cdrom ? "cdrom" : "disk", "ro", cfg.ro, "state",
			      taken ? "connected" : "offered");
	return true;
}

static bool scsi_remove(struct ctl_hotplug *h, struct ctl_hotplug_job *j)
{
	char err[256];
	bool closed;
	int rc = scsiback_lun_remove(h->vm, j->req.device, j->req.force, timeout_ms(j), &closed,
				     err, sizeof(err));

	if (rc < 0)
		return job_fail(j, lun_error_code(rc), "%s", err);
	log_info("control API: scsi-remove %s (%s)", j->req.device, closed ? "closed" : "forced");
	j->result = json_pack("{s:s, s:s}", "device", j->req.device, "how",
			      closed ? "closed" : "forced");
	return true;
}

static void run_job(struct ctl_hotplug *h, struct ctl_hotplug_job *j)
{
	bool ok = false;

	switch (j->req.command) {
	case CTL_DISK_ADD:
		ok = disk_add(h, j);
		break;
	case CTL_DISK_REMOVE:
		ok = disk_remove(h, j);
		break;
	case CTL_EJECT:
	case CTL_INSERT:
		ok = change_medium(h, j);
		break;
	case CTL_SCSI_ADD:
		ok = scsi_add(h, j);
		break;
	case CTL_SCSI_REMOVE:
		ok = scsi_remove(h, j);
		break;
	case CTL_SAVE:
		ok = ctl_save_live(h->vm, &j->req, j->fd, &j->result, &j->err);
		break;
	default:
		job_fail(j, "unknown-command", "not a hot-plug command");
		break;
	}
	if (ok && !j->result)
		job_fail(j, "failed", "out of memory");
	if (!ok) {
		json_decref(j->result);
		j->result = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* The worker and its queue */

static void job_free(struct ctl_hotplug_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	json_decref(j->result);
	ctl_request_clear(&j->req);
	free(j);
}

static void *worker(void *opaque)
{
	struct ctl_hotplug *h = opaque;

	sandbox_thread(SANDBOX_ROLE_HOTPLUG, "hotplug");
	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct ctl_hotplug_job *j;

		while (!h->head && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->stop)
			break;
		j = h->head;
		h->head = j->next;
		if (!h->head)
			h->tail = NULL;
		j->stage = JOB_RUNNING;
		pthread_mutex_unlock(&h->lock);
		run_job(h, j);
		pthread_mutex_lock(&h->lock);
		j->stage = JOB_DONE;
		if (j->abandoned)
			job_free(j);
		evloop_wake(h->vm); /* the event thread answers the client */
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct ctl_hotplug *ctl_hotplug_start(struct vm *vm, char *err, size_t err_len)
{
	struct ctl_hotplug *h = calloc(1, sizeof(*h));
	int rc;

	if (!h) {
		snprintf(err, err_len, "--api: out of memory");
		return NULL;
	}
	h->vm = vm;
	/* glibc counts CPUs (opening /sys) the first time a thread needs a
	 * new malloc arena beyond the first few: with hot-plugged disks that
	 * may be a device thread, long after set-up, where it may not open
	 * files.  The same limit glibc would compute (8 per CPU), set now. */
	mallopt(M_ARENA_MAX, 8 * get_nprocs());
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	rc = pthread_create(&h->thread, NULL, worker, h);
	if (rc) {
		snprintf(err, err_len, "--api: cannot start the hot-plug thread: %s",
			 strerror(rc));
		free(h);
		return NULL;
	}
	return h;
}

void ctl_hotplug_stop(struct ctl_hotplug *h)
{
	struct ctl_hotplug_job *j;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->stop, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	/* Queued jobs never ran; their clients are gone (abandoned). */
	while ((j = h->head)) {
		h->head = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}

struct ctl_hotplug_job *ctl_hotplug_submit(struct ctl_hotplug *h,
					   const struct ctl_request *req, int fd,
					   struct ctl_error *err)
{
	struct ctl_hotplug_job *j = h ? calloc(1, sizeof(*j)) : NULL;

	if (!j) {
		if (fd >= 0)
			close(fd);
		err->code = "failed";
		snprintf(err->message, sizeof(err->message),
			 h ? "out of memory" : "device hot-plug is not available here");
		return NULL;
	}
	j->h = h;
	j->req = *req;
	j->req.id = NULL;
	j->fd = fd;
	pthread_mutex_lock(&h->lock);
	if (h->tail)
		h->tail->next = j;
	else
		h->head = j;
	h->tail = j;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return j;
}

bool ctl_hotplug_take(struct ctl_hotplug_job *j, json_t **result, struct ctl_error *err)
{
	struct ctl_hotplug *h = j->h;
	bool done;

	pthread_mutex_lock(&h->lock);
	done = j->stage == JOB_DONE;
	pthread_mutex_unlock(&h->lock);
	if (!done)
		return false;
	*result = j->result;
	j->result = NULL;
	if (!*result)
		*err = j->err;
	job_free(j);
	return true;
}

void ctl_hotplug_abandon(struct ctl_hotplug_job *j)
{
	struct ctl_hotplug *h = j->h;
	bool done;

	pthread_mutex_lock(&h->lock);
	done = j->stage == JOB_DONE;
	j->abandoned = true;
	pthread_mutex_unlock(&h->lock);
	if (done)
		job_free(j);
}
