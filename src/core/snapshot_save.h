/*
 * Saving a suspended domain (docs/snapshot-format.md).  The control API's
 * `save` (services/ctl/ctl_save.c) files a save_request and writes
 * control/shutdown = "suspend"; the guest quiesces and calls
 * SCHEDOP_shutdown(SHUTDOWN_suspend), whose handler (xen/sched.c) calls
 * snapshot_suspend() on that vCPU's thread.
 */
#ifndef PVISOR_SNAPSHOT_SAVE_H
#define PVISOR_SNAPSHOT_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

enum save_state {
	SAVE_ASKED,   /* waiting for the guest to suspend */
	SAVE_WRITING, /* the guest suspended; the file is being written */
	SAVE_DONE,    /* written; the VM stops */
	SAVE_FAILED,  /* error says why; the guest runs on */
	SAVE_CAPTURED, /* live: the state is in `live`; the guest runs on */
};

struct snapshot_live; /* core/snapshot_live.h */

struct save_request {
	int fd;               /* the file, from the client (SCM_RIGHTS) */
	enum save_state state;
	int64_t deadline_ns;  /* CLOCK_MONOTONIC: ASKED fails after it */
	double timeout_s;
	uint64_t bytes;       /* DONE: the file's size */
	double seconds;       /* DONE: how long the writing took */
	char error[256];
	/* save --live (core/snapshot_live.c): the suspend captures the state
	 * into this and the guest runs on; the control API's job owns the
	 * request and writes the file. */
	struct snapshot_live *live;
};

/*
 * SHUTDOWN_suspend from v, start_info_mfn its third argument (Xen's PV
 * convention).  With a save asked: pauses the other vCPUs, writes the
 * snapshot and stops the VM (VM_STOP_SAVED); the return value is then what
 * the guest sees on restore, 0 ("resumed in a new domain").  Without one,
 * or if writing fails: 1, Xen's "suspend cancelled", and the guest runs on
 * in the same domain.
 */
long snapshot_suspend(struct vcpu *v, uint64_t start_info_mfn);

/* Writes the snapshot of vm, whose vCPUs are all out of guest code, with
 * v's rax as the suspend call's return.  0 or -errno with err set. */
int snapshot_write(struct vm *vm, int fd, uint64_t start_info_mfn,
		   uint64_t *bytes, char *err, size_t err_len);

/* The pieces snapshot_write is made of, for a live save
 * (core/snapshot_live.c), which writes the memory section last. */
struct snap_writer;
/* Whether the suspended guest can be saved (Xen's frames unmapped,
 * start_info in RAM): 0 or -errno with err set. */
int snapshot_check_suspended(struct vm *vm, uint64_t start_info_mfn,
			     char *err, size_t err_len);
/* Every section but memory: 0 or -errno (the writer's errors are
 * sticky: snap_writer_finish reports them). */
int snapshot_put_state(struct snap_writer *w, struct vm *vm,
		       uint64_t start_info_mfn);
/* Frames one read or write of snapshot_put_memory and snapshot_each_data_run
 * moves (256 KiB). */
#define SNAP_COPY_FRAMES 64
bool snapshot_page_is_zero(const uint8_t *p);
/* All len bytes at off: 0, or -errno (-EIO at the file's end). */
int snapshot_pread_full(int fd, void *buf, size_t len, uint64_t off);
int snapshot_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* fn for each run of up to SNAP_COPY_FRAMES frames of memfd's first
 * nr_frames pages that lies in its data (SEEK_DATA: its holes were never
 * written), in order; stops at fn's first error and returns it, else 0. */
int snapshot_each_data_run(int memfd, uint64_t nr_frames,
			   int (*fn)(void *ctx, uint64_t first, uint64_t n), void *ctx);
/* Marks in bits (nr_ram_frames bits, zeroed) the RAM frames that hold
 * anything (read from the memfd); their number, or -errno. */
int64_t snapshot_find_present(struct vm *vm, uint64_t *bits);
/* The memory section: the frames marked in bits (each must hold anything:
 * the section lists exactly the frames it carries), read from fd at
 * frame * 4096.  0 or -errno. */
int snapshot_put_memory(struct snap_writer *w, uint64_t nr_frames, int fd,
			const uint64_t *bits);

#endif
