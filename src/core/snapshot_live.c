/* save --live: see snapshot_live.h. */
#include "core/snapshot_live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>

#include "core/dirty_log.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "core/snapshot_save.h"
#include "core/vm.h"
#include "xen/time.h"

/* How often the job looks whether the guest has suspended. */
#define WAIT_POLL_NS 1000000L
/* Pre-copy: rounds while the guest runs, until one finds at most this
 * many frames written (4 MiB: what the pause may copy), stops shrinking,
 * or there have been this many. */
#define PRECOPY_DONE_FRAMES 1024
#define PRECOPY_MAX_ROUNDS 8
/* =off: no pre-copy, the pause copies all (benchmarks, tests of that path) */
#define PRECOPY_ENV "PVISOR_LIVE_PRECOPY"

struct snapshot_live {
	struct vm *vm;
	struct save_request req;
	uint64_t nr_frames;
	/* The copy the file is written from: vm->live_save.stage_fd, a memfd
	 * of nr_frames pages, filled where the guest has data.  Copies go
	 * through buf by pread and pwrite, so that neither guest memory nor
	 * the stage is touched through a mapping here: on a nested host a
	 * first touch of a page costs a fault and a shadow-MMU fill, 5-20 us
	 * (docs/benchmarks.md, "Live saves"), where the kernel's own copies
	 * cost ~1 us a page. */
	int stage;
	uint8_t *buf;      /* SNAP_COPY_FRAMES pages */
	/* Without tracking the pause copies all: then copies read pvisor's
	 * mapping of guest memory and write a mapping of the stage, both
	 * made ready ahead by a first copy (a memcpy between present pages
	 * is twice as fast as pread and pwrite). */
	bool from_map;
	uint8_t *stage_map; /* nr_frames pages, or NULL */
	uint64_t *held;    /* bitmap: frames whose copy in the stage holds anything */
	struct snap_writer w; /* the header and state sections at the capture */
	bool writer_open;
	double pause_ms;
	int64_t t0_ns;
	struct dirty_log *dirty; /* pre-copy's tracking, or NULL: copy all */
	struct dirty_log *stopping; /* after the last collect, until stopped */
	uint64_t *round;      /* bitmap: the frames a collect found written */
	unsigned rounds;      /* pre-copy rounds after the first full copy */
	uint64_t final_frames; /* copied in the pause */
	uint64_t run_frames;   /* copy_present's count */
};

const char *live_save_phase_name(unsigned phase)
{
	switch (phase) {
	case LIVE_SAVE_PRECOPY:
		return "precopy";
	case LIVE_SAVE_SUSPENDING:
		return "suspending";
	case LIVE_SAVE_WRITING:
		return "writing";
	default:
		return NULL;
	}
}

static void set_phase(struct snapshot_live *l, enum live_save_phase phase)
{
	__atomic_store_n(&l->vm->live_save.phase, (unsigned)phase, __ATOMIC_RELAXED);
}

/* n more frames are in the stage. */
static void add_frames(struct snapshot_live *l, uint64_t n)
{
	__atomic_add_fetch(&l->vm->live_save.frames, n, __ATOMIC_RELAXED);
}

void snapshot_live_prepare(struct vm *vm)
{
	if (vm->live_save.stage_fd < 0)
		vm->live_save.stage_fd = memfd_create("pvisor-live-stage", MFD_CLOEXEC);
	if (vm->live_save.stage_fd < 0)
		log_debug("save --live: no stage: %s", strerror(errno));
}

void snapshot_live_release(struct vm *vm)
{
	if (vm->live_save.stage_fd >= 0)
		close(vm->live_save.stage_fd);
	vm->live_save.stage_fd = -1;
}

struct snapshot_live *snapshot_live_new(struct vm *vm, int fd, double timeout_s,
					char *err, size_t err_len)
{
	struct snapshot_live *l = calloc(1, sizeof(*l));
	uint64_t n = vm->mem.nr_ram_frames;

	if (!l)
		goto nomem;
	l->vm = vm;
	l->nr_frames = n;
	l->stage = -1;
	l->t0_ns = time_monotonic_ns();
	if (vm->live_save.stage_fd < 0) {
		snprintf(err, err_len, "no stage for a live save (it is made with --api)");
		free(l);
		return NULL;
	}
	/* Sparse: pages appear as frames are copied in. */
	if (ftruncate(vm->live_save.stage_fd, (off_t)(n * SNAP_PAGE)) < 0)
		goto nomem;
	l->stage = vm->live_save.stage_fd;
	l->buf = malloc(SNAP_COPY_FRAMES * SNAP_PAGE);
	l->held = calloc((n + 63) / 64, sizeof(*l->held));
	l->round = calloc((n + 63) / 64, sizeof(*l->round));
	if (!l->buf || !l->held || !l->round)
		goto nomem;
	l->req.fd = fd;
	l->req.state = SAVE_ASKED;
	l->req.timeout_s = timeout_s;
	l->req.deadline_ns = l->t0_ns + (int64_t)(timeout_s * 1e9);
	l->req.live = l;
	__atomic_store_n(&vm->live_save.rounds, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->live_save.frames, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->live_save.started_ns, l->t0_ns, __ATOMIC_RELAXED);
	set_phase(l, LIVE_SAVE_PRECOPY);
	return l;
nomem:
	snprintf(err, err_len, "out of memory for a live save's stage of %llu MiB",
		 (unsigned long long)(n * SNAP_PAGE >> 20));
	snapshot_live_free(l);
	return NULL;
}

struct save_request *snapshot_live_request(struct snapshot_live *l)
{
	return &l->req;
}

/* Tracking off, with the vCPUs paused (a request that failed). */
static void stop_tracking(struct snapshot_live *l)
{
	bool paused;

	dirty_log_stop(l->stopping); /* a last collect was taken */
	l->stopping = NULL;
	if (!l->dirty)
		return;
	paused = vm_pause(l->vm, 2000) == 0;
	if (paused || vm_stopped(l->vm))
		dirty_log_stop(l->dirty);
	else
		log_error("live save: the vCPUs did not stop; tracking left on");
	l->dirty = NULL;
	vm_resume(l->vm);
}

void snapshot_live_free(struct snapshot_live *l)
{
	if (!l)
		return;
	if (l->vm)
		set_phase(l, LIVE_SAVE_NONE);
	stop_tracking(l);
	free(l->round);
	if (l->writer_open)
		free(l->w.buf);
	/* The stage's pages go; its descriptor stays for the next save. */
	if (l->stage_map)
		munmap(l->stage_map, l->nr_frames * SNAP_PAGE);
	if (l->stage >= 0 && ftruncate(l->stage, 0) < 0)
		log_error("live save: cannot empty the stage: %s", strerror(errno));
	free(l->buf);
	free(l->held);
	free(l);
}

static int fail(char *err, size_t err_len, int rc, const char *msg)
{
	snprintf(err, err_len, "%s", msg);
	return rc;
}

int snapshot_live_wait(struct snapshot_live *l, char *err, size_t err_len)
{
	struct vm *vm = l->vm;
	struct timespec tick = { 0, WAIT_POLL_NS };

	for (;;) {
		enum save_state st;
		bool late;

		pthread_mutex_lock(&vm->xen.lock);
		st = l->req.state;
		late = st == SAVE_ASKED && time_monotonic_ns() >= l->req.deadline_ns;
		if (late || (st == SAVE_ASKED && vm_stopped(vm)))
			l->req.state = st = SAVE_FAILED; /* a late suspend: cancelled */
		pthread_mutex_unlock(&vm->xen.lock);
		if (st == SAVE_CAPTURED)
			return 0;
		if (late) {
			snprintf(err, err_len, "the guest did not suspend within %g s; it runs on",
				 l->req.timeout_s);
			return -ETIMEDOUT;
		}
		if (st == SAVE_FAILED)
			return l->req.error[0] ? fail(err, err_len, -EIO, l->req.error)
					       : fail(err, err_len, -ESHUTDOWN,
						      "the guest stopped before it suspended: nothing saved");
		nanosleep(&tick, NULL);
	}
}

static void set_held(struct snapshot_live *l, uint64_t f, bool held)
{
	if (held)
		l->held[f / 64] |= 1ull << (f % 64);
	else
		l->held[f / 64] &= ~(1ull << (f % 64));
}

/* Frames [first, first + n) (n <= SNAP_COPY_FRAMES) into the stage: those
 * that hold anything (the others are not written and no longer held: a
 * copy the stage has of them is stale).  How many were, or -errno. */
static int64_t copy_run(struct snapshot_live *l, uint64_t first, uint64_t n)
{
	const uint8_t *src = l->vm->mem.host + first * SNAP_PAGE;
	int64_t held = 0;
	int rc;

	if (!l->from_map) {
		rc = snapshot_pread_full(l->vm->mem.memfd, l->buf, n * SNAP_PAGE,
					 first * SNAP_PAGE);
		if (rc < 0)
			return rc;
		src = l->buf;
	}
	for (uint64_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && !snapshot_page_is_zero(src + j * SNAP_PAGE); j++)
			set_held(l, first + j, true);
		if (j == i) {
			set_held(l, first + j++, false);
			continue;
		}
		if (l->stage_map) {
			memcpy(l->stage_map + (first + i) * SNAP_PAGE, src + i * SNAP_PAGE,
			       (j - i) * SNAP_PAGE);
		} else {
			rc = snapshot_pwrite_full(l->stage, src + i * SNAP_PAGE,
						  (j - i) * SNAP_PAGE, (first + i) * SNAP_PAGE);
			if (rc < 0)
				return rc;
		}
		held += (int64_t)(j - i);
	}
	add_frames(l, (uint64_t)held); /* status stays current */
	return held;
}

/* The frames marked in bits into the stage; how many hold anything, or
 * -errno. */
static int64_t copy_marked(struct snapshot_live *l, const uint64_t *bits)
{
	int64_t total = 0;

	for (uint64_t f = 0, n; f < l->nr_frames; f += n) {
		int64_t got;

		n = 1;
		if (!bits[f / 64]) {
			n = 64 - f % 64;
			continue;
		}
		if (!((bits[f / 64] >> (f % 64)) & 1))
			continue;
		while (f + n < l->nr_frames && n < SNAP_COPY_FRAMES &&
		       ((bits[(f + n) / 64] >> ((f + n) % 64)) & 1))
			n++;
		got = copy_run(l, f, n);
		if (got < 0)
			return got;
		total += got;
	}
	return total;
}

static int present_run(void *ctx, uint64_t first, uint64_t n)
{
	struct snapshot_live *l = ctx;
	int64_t got = copy_run(l, first, n);

	if (got < 0)
		return (int)got;
	l->run_frames += (uint64_t)got;
	return 0;
}

/* Every frame that holds anything into the stage (the memfd's holes were
 * never written); how many, or -errno. */
static int64_t copy_present(struct snapshot_live *l)
{
	int rc;

	l->run_frames = 0;
	rc = snapshot_each_data_run(l->vm->mem.memfd, l->nr_frames, present_run, l);
	return rc < 0 ? rc : (int64_t)l->run_frames;
}

static void clear_round(struct snapshot_live *l)
{
	memset(l->round, 0, (l->nr_frames + 63) / 64 * sizeof(*l->round));
}

/* Without tracking, the pause copies all, from pvisor's mapping into a
 * mapping of the stage: their pages are made now, by a first copy.  (A
 * page of the mapped stage the first copy did not reach, a frame the
 * guest writes for the first time later, faults in the pause.) */
static int64_t populate_stage(struct snapshot_live *l)
{
	void *map = mmap(NULL, l->nr_frames * SNAP_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 l->stage, 0);

	if (map != MAP_FAILED)
		l->stage_map = map; /* else pwrite in the pause */
	l->from_map = true;
	return copy_present(l);
}

/* precopy_round: no more rounds (the vCPUs did not stop, or tracking broke
 * and is off) */
#define ROUND_STOP INT64_MIN

/* One round: what was written since the last, with the vCPUs paused for
 * the look only, then copied while the guest runs; how many frames hold
 * anything, ROUND_STOP, or -errno (a copy failed). */
static int64_t precopy_round(struct snapshot_live *l)
{
	struct vm *vm = l->vm;
	int rc;

	clear_round(l);
	if (vm_is_paused(vm) || vm_pause(vm, 2000) < 0) {
		vm_resume(vm);
		return ROUND_STOP;
	}
	rc = dirty_log_collect(l->dirty, l->round, false);
	vm_resume(vm);
	if (rc < 0) {
		log_error("live save: dirty tracking failed (%s): all of RAM is copied in the pause",
			  strerror(-rc));
		stop_tracking(l);
		return ROUND_STOP;
	}
	return copy_marked(l, l->round);
}

static int copy_failed(char *err, size_t err_len, int64_t rc)
{
	snprintf(err, err_len, "cannot copy guest memory into the stage: %s",
		 strerror((int)-rc));
	return (int)rc;
}

static double ms_since(int64_t t0)
{
	return (double)(time_monotonic_ns() - t0) / 1e6;
}

int snapshot_live_precopy(struct snapshot_live *l, char *err, size_t err_len)
{
	struct vm *vm = l->vm;
	char why[160] = "";
	int64_t n, prev, t = time_monotonic_ns();

	const char *knob = getenv(PRECOPY_ENV);

	if (knob && !strcmp(knob, "off")) {
		snprintf(why, sizeof(why), "%s=off", PRECOPY_ENV);
	} else {
		if (vm_pause(vm, 2000) == 0)
			l->dirty = dirty_log_start(vm, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "the vCPUs did not stop");
		vm_resume(vm);
	}
	if (!l->dirty) {
		log_info("live save: no pre-copy (%s): all of RAM is copied in the pause", why);
		n = populate_stage(l);
		log_debug("live save: stage made ready, %lld frames, in %.1f ms", (long long)n,
			  ms_since(t));
		return n < 0 ? copy_failed(err, err_len, n) : 0;
	}
	log_debug("live save: tracking on in %.1f ms", ms_since(t));
	t = time_monotonic_ns();
	prev = copy_present(l);
	if (prev < 0)
		return copy_failed(err, err_len, prev);
	log_debug("live save: pre-copy of %lld frames in %.1f ms", (long long)prev, ms_since(t));
	while (l->rounds < PRECOPY_MAX_ROUNDS && !vm_stopped(vm)) {
		t = time_monotonic_ns();
		n = precopy_round(l);
		if (n == ROUND_STOP)
			return 0;
		if (n < 0)
			return copy_failed(err, err_len, n);
		l->rounds++;
		__atomic_store_n(&vm->live_save.rounds, l->rounds, __ATOMIC_RELAXED);
		log_debug("live save: round %u: %lld frames written, copied in %.1f ms", l->rounds,
			  (long long)n, ms_since(t));
		if (n <= PRECOPY_DONE_FRAMES || n >= prev)
			return 0;
		prev = n;
	}
	return 0;
}

/* In the pause: what is still to copy.  0 or -errno (a copy failed). */
static int copy_final(struct snapshot_live *l)
{
	int64_t n;
	int rc;

	if (!l->dirty) {
		n = copy_present(l);
	} else {
		clear_round(l);
		rc = dirty_log_collect(l->dirty, l->round, true);
		l->stopping = l->dirty; /* undone once the guest runs again */
		l->dirty = NULL;
		if (rc < 0) {
			log_error("live save: dirty tracking failed (%s): all of RAM copied",
				  strerror(-rc));
			n = copy_present(l);
		} else {
			n = copy_marked(l, l->round);
		}
	}
	if (n < 0)
		return (int)n;
	l->final_frames = (uint64_t)n;
	return 0;
}

/* With the vCPUs paused: memory into the stage, the other sections into
 * the file (v's rax is 0 there: what a restored guest's call returns). */
static int capture(struct snapshot_live *l, struct vcpu *v, uint64_t start_info_mfn,
		   char *err, size_t err_len)
{
	struct vm *vm = l->vm;
	uint64_t rax = v->regs.rax;
	int rc = snapshot_check_suspended(vm, start_info_mfn, err, err_len);

	if (rc < 0)
		return rc;
	rc = copy_final(l);
	if (rc < 0)
		return copy_failed(err, err_len, rc);
	rc = snap_writer_init(&l->w, l->req.fd, vm->backend->name);
	l->writer_open = true;
	if (rc == 0) {
		v->regs.rax = 0;
		rc = snapshot_put_state(&l->w, vm, start_info_mfn);
		v->regs.rax = rax;
	}
	if (rc == 0)
		rc = l->w.error;
	if (rc < 0)
		snprintf(err, err_len, "cannot write the snapshot: %s", strerror(-rc));
	return rc;
}

long snapshot_live_capture(struct vcpu *v, struct save_request *req,
			   uint64_t start_info_mfn)
{
	struct snapshot_live *l = req->live;
	struct vm *vm = v->vm;
	int64_t t0 = time_monotonic_ns();
	char err[256] = "";
	int rc = vm_pause(vm, 2000);

	if (rc < 0)
		snprintf(err, sizeof(err), "the other vCPUs did not stop");
	else
		rc = capture(l, v, start_info_mfn, err, sizeof(err));
	l->pause_ms = (double)(time_monotonic_ns() - t0) / 1e6;
	pthread_mutex_lock(&vm->xen.lock);
	req->state = rc == 0 ? SAVE_CAPTURED : SAVE_FAILED;
	snprintf(req->error, sizeof(req->error), "%s", rc == 0 ? "" : err);
	pthread_mutex_unlock(&vm->xen.lock);
	vm_resume(vm);
	evloop_wake(vm);
	if (rc == 0)
		log_info("live save: captured in a %.2f ms pause; the guest runs on",
			 l->pause_ms);
	else
		log_error("live save: %s; the guest runs on", err);
	return 1; /* Xen's "suspend cancelled": the same domain goes on */
}

int snapshot_live_finish(struct snapshot_live *l, struct snapshot_live_report *r,
			 char *err, size_t err_len)
{
	int rc, finished;

	int64_t t = time_monotonic_ns();

	set_phase(l, LIVE_SAVE_WRITING);
	/* The guest runs unprotected again before the file is written. */
	dirty_log_stop(l->stopping);
	l->stopping = NULL;
	log_debug("live save: tracking off in %.1f ms", ms_since(t));
	t = time_monotonic_ns();
	snap_writer_direct(&l->w);
	rc = snapshot_put_memory(&l->w, l->nr_frames, l->stage, l->held);

	memset(r, 0, sizeof(*r));
	r->bytes = l->w.offset;
	finished = snap_writer_finish(&l->w); /* frees the buffer */
	l->writer_open = false;
	log_debug("live save: memory section written and synced in %.1f ms", ms_since(t));
	rc = rc ? rc : finished;
	if (rc < 0)
		return snprintf(err, err_len, "cannot write the snapshot: %s", strerror(-rc)), rc;
	for (uint64_t w = 0; w < (l->nr_frames + 63) / 64; w++)
		r->frames += (uint64_t)__builtin_popcountll(l->held[w]);
	r->pause_ms = l->pause_ms;
	r->rounds = l->rounds;
	r->final_frames = l->final_frames;
	r->seconds = (double)(time_monotonic_ns() - l->t0_ns) / 1e9;
	return 0;
}
