/*
 * save --live (docs/snapshot-format.md, "Live saves"): a snapshot of a
 * guest that runs on, as `xl save -c` takes a checkpoint.  The guest is
 * asked to suspend as for a save (Xen's protocol); at its
 * SHUTDOWN_suspend the vCPUs pause only while guest memory is copied into
 * a private stage and the other sections are written; then the suspend
 * call returns 1 ("cancelled": the same domain goes on) and the memory
 * section is written from the stage while the guest runs.  The file is
 * the same as a plain save's: its restore sees the call return 0.
 *
 * The control API's job (services/ctl/ctl_save.c) drives it:
 * snapshot_live_new, snapshot_live_precopy, file the request (vm->save),
 * ask the guest,
 * snapshot_live_wait, snapshot_live_finish, snapshot_live_free.  The
 * capture runs on the suspending vCPU (snapshot_live_capture).
 */
#ifndef PVISOR_SNAPSHOT_LIVE_H
#define PVISOR_SNAPSHOT_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct save_request;
struct vcpu;
struct vm;

struct snapshot_live;

/* Where a live save is (vm->live_save.phase). */
enum live_save_phase {
	LIVE_SAVE_NONE,
	LIVE_SAVE_PRECOPY,    /* copying memory while the guest runs */
	LIVE_SAVE_SUSPENDING, /* the guest is asked; the pause comes at its suspend */
	LIVE_SAVE_WRITING,    /* the guest runs on; the file is written */
};

/* The phase's name in `ctl status` ("precopy", ...); NULL for none. */
const char *live_save_phase_name(unsigned phase);

/* What a finished live save did, for the reply. */
struct snapshot_live_report {
	uint64_t bytes;        /* the file's size */
	uint64_t frames;       /* RAM frames copied (the all-zero ones are not
				* written) */
	double pause_ms;       /* the vCPUs stopped, at the suspend */
	unsigned rounds;       /* pre-copy rounds after the first copy */
	uint64_t final_frames; /* copied in the pause */
	double seconds;        /* from the request to the file synced */
};

/* At the control API's set-up (the sandbox forbids memfd_create later):
 * the stage's memfd (vm->live_save.stage_fd), empty between saves.  A
 * host without it: live saves fail with one error. */
void snapshot_live_prepare(struct vm *vm);
void snapshot_live_release(struct vm *vm);

/*
 * A live save of vm into fd (a new, empty file; the caller keeps it
 * open): the stage (nr_ram_frames pages of the stage memfd, filled only
 * where the guest has data) and a save_request in state SAVE_ASKED with
 * the deadline timeout_s from now.  NULL with err set.
 */
struct snapshot_live *snapshot_live_new(struct vm *vm, int fd, double timeout_s,
					char *err, size_t err_len);
struct save_request *snapshot_live_request(struct snapshot_live *l);

/*
 * Before the guest is asked (core/dirty_log.h): tracking on, every frame
 * that holds anything copied into the stage, then rounds of copying what
 * was written meanwhile, so that the pause copies only the last round's.
 * Without tracking (the backend or host lacks it) the stage's pages are
 * made ready and the pause copies all.  0, or -errno with err set (a copy
 * into the stage failed: nothing can be saved).
 */
int snapshot_live_precopy(struct snapshot_live *l, char *err, size_t err_len);

/*
 * Waits until the guest has suspended and its state is captured (0), the
 * deadline passes without a suspend (-ETIMEDOUT; the request is failed so
 * that a late suspend is cancelled), the VM stops (-ESHUTDOWN), or the
 * capture fails (-EIO); err says which.
 */
int snapshot_live_wait(struct snapshot_live *l, char *err, size_t err_len);

/* After a capture: the memory section from the stage, then the header;
 * synced.  0 or -errno with err set. */
int snapshot_live_finish(struct snapshot_live *l, struct snapshot_live_report *r,
			 char *err, size_t err_len);

void snapshot_live_free(struct snapshot_live *l);

/* SHUTDOWN_suspend for a live request (core/snapshot_save.c's
 * snapshot_suspend): the capture; the guest's return value, 1. */
long snapshot_live_capture(struct vcpu *v, struct save_request *req,
			   uint64_t start_info_mfn);

#endif
