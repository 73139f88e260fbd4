/* save --live: see snapshot_live.h. */
#include "core/snapshot_live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	uint8_t *stage;    /* nr_frames pages: the copy the file is written from */
	size_t stage_len;
	uint64_t *copied;  /* bitmap: frames in the stage */
	struct snap_writer w; /* the header and state sections at the capture */
	bool writer_open;
	double pause_ms;
	int64_t t0_ns;
	struct dirty_log *dirty; /* pre-copy's tracking, or NULL: copy all */
	struct dirty_log *stopping; /* after the last collect, until stopped */
	uint64_t *round;      /* bitmap: the frames a collect found written */
	unsigned rounds;      /* pre-copy rounds after the first full copy */
	uint64_t final_frames; /* copied in the pause */
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

struct snapshot_live *snapshot_live_new(struct vm *vm, int fd, double timeout_s,
					char *err, size_t err_len)
{
	struct snapshot_live *l = calloc(1, sizeof(*l));
	uint64_t n = vm->mem.nr_ram_frames;

	if (!l)
		goto nomem;
	l->vm = vm;
	l->nr_frames = n;
	l->t0_ns = time_monotonic_ns();
	/* Address space only: pages appear as frames are copied in. */
	l->stage_len = n * SNAP_PAGE;
	l->stage = mmap(NULL, l->stage_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (l->stage == MAP_FAILED) {
		l->stage = NULL;
		goto nomem;
	}
	l->copied = calloc((n + 63) / 64, sizeof(*l->copied));
	l->round = calloc((n + 63) / 64, sizeof(*l->round));
	if (!l->copied || !l->round)
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
	if (l->stage)
		munmap(l->stage, l->stage_len);
	free(l->copied);
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

/* The frames marked in bits into the stage; how many. */
static uint64_t copy_marked(struct snapshot_live *l, const uint64_t *bits)
{
	uint64_t n = 0, n_shown = 0;

	for (uint64_t w = 0; w < (l->nr_frames + 63) / 64; w++) {
		for (uint64_t m = bits[w]; m; m &= m - 1) {
			uint64_t f = w * 64 + (uint64_t)__builtin_ctzll(m);

			memcpy(l->stage + f * SNAP_PAGE, l->vm->mem.host + f * SNAP_PAGE,
			       SNAP_PAGE);
			n++;
		}
		l->copied[w] |= bits[w];
		if (w % 512 == 511) { /* every 32768 frames: status stays current */
			add_frames(l, n);
			n_shown += n;
			n = 0;
		}
	}
	add_frames(l, n);
	return n_shown + n;
}

static void clear_round(struct snapshot_live *l)
{
	memset(l->round, 0, (l->nr_frames + 63) / 64 * sizeof(*l->round));
}

/* l->round: the frames that hold anything. */
static void mark_present(struct snapshot_live *l)
{
	clear_round(l);
	snapshot_find_present(l->vm, l->round);
}

static uint64_t copy_present(struct snapshot_live *l)
{
	mark_present(l);
	return copy_marked(l, l->round);
}

/* Without tracking, the pause copies all: its stage pages are made now. */
static void populate_stage(struct snapshot_live *l)
{
	mark_present(l);
	for (uint64_t f = 0; f < l->nr_frames; f++)
		if ((l->round[f / 64] >> (f % 64)) & 1)
			l->stage[f * SNAP_PAGE] = 0; /* a write fault: the page exists */
}

/* One round: what was written since the last, with the vCPUs paused for
 * the look only, then copied while the guest runs.  -1 if tracking broke
 * (it is off then). */
static int64_t precopy_round(struct snapshot_live *l)
{
	struct vm *vm = l->vm;
	int rc;

	clear_round(l);
	if (vm_is_paused(vm) || vm_pause(vm, 2000) < 0) {
		vm_resume(vm);
		return -1;
	}
	rc = dirty_log_collect(l->dirty, l->round, false);
	vm_resume(vm);
	if (rc < 0) {
		log_error("live save: dirty tracking failed (%s): all of RAM is copied in the pause",
			  strerror(-rc));
		stop_tracking(l);
		return -1;
	}
	return (int64_t)copy_marked(l, l->round);
}

void snapshot_live_precopy(struct snapshot_live *l)
{
	struct vm *vm = l->vm;
	char why[160] = "";
	int64_t n, prev;

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
		populate_stage(l);
		return;
	}
	prev = (int64_t)copy_present(l);
	log_debug("live save: pre-copy of %lld frames", (long long)prev);
	while (l->rounds < PRECOPY_MAX_ROUNDS && !vm_stopped(vm)) {
		n = precopy_round(l);
		if (n < 0)
			return;
		l->rounds++;
		__atomic_store_n(&vm->live_save.rounds, l->rounds, __ATOMIC_RELAXED);
		log_debug("live save: round %u: %lld frames written", l->rounds, (long long)n);
		if (n <= PRECOPY_DONE_FRAMES || n >= prev)
			return;
		prev = n;
	}
}

/* In the pause: what is still to copy. */
static void copy_final(struct snapshot_live *l)
{
	int rc;

	if (!l->dirty) {
		l->final_frames = copy_present(l);
		return;
	}
	clear_round(l);
	rc = dirty_log_collect(l->dirty, l->round, true);
	l->stopping = l->dirty; /* undone once the guest runs again */
	l->dirty = NULL;
	if (rc < 0) {
		log_error("live save: dirty tracking failed (%s): all of RAM copied", strerror(-rc));
		l->final_frames = copy_present(l);
	} else {
		l->final_frames = copy_marked(l, l->round);
	}
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
	copy_final(l);
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

	set_phase(l, LIVE_SAVE_WRITING);
	/* The guest runs unprotected again before the file is written. */
	dirty_log_stop(l->stopping);
	l->stopping = NULL;
	rc = snapshot_put_memory(&l->w, l->nr_frames, l->stage, l->copied);

	memset(r, 0, sizeof(*r));
	r->bytes = l->w.offset;
	finished = snap_writer_finish(&l->w); /* frees the buffer */
	l->writer_open = false;
	rc = rc ? rc : finished;
	if (rc < 0)
		return snprintf(err, err_len, "cannot write the snapshot: %s", strerror(-rc)), rc;
	for (uint64_t w = 0; w < (l->nr_frames + 63) / 64; w++)
		r->frames += (uint64_t)__builtin_popcountll(l->copied[w]);
	r->pause_ms = l->pause_ms;
	r->rounds = l->rounds;
	r->final_frames = l->final_frames;
	r->seconds = (double)(time_monotonic_ns() - l->t0_ns) / 1e9;
	return 0;
}
