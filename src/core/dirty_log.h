/*
 * Which RAM frames were written while the guest ran: save --live's
 * pre-copy (core/snapshot_live.c).  Two writers are tracked:
 *
 * - pvisor itself, through its own mapping of guest memory (backends
 *   filling granted pages, rings, vcpu_info, the kernel's copies into
 *   them for io_uring): a userfaultfd registered in asynchronous
 *   write-protect mode, read and protected again in one step by
 *   PAGEMAP_SCAN on /proc/self/pagemap (Linux >= 6.7);
 * - the guest, through the backend (backend_ops.dirty_*; the proc
 *   backend's guest processes, backend/proc/proc_dirty.h).
 *
 * A host or backend without them: dirty_log_start says why, and a live
 * save copies all of RAM in its pause instead.
 */
#ifndef PVISOR_DIRTY_LOG_H
#define PVISOR_DIRTY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct dirty_log;

/* At set-up, while pvisor may still open files (the control API's start):
 * the userfaultfd and pagemap descriptors for pvisor's own writes.
 * Nothing happens where the host lacks them. */
void dirty_log_prepare(struct vm *vm);
void dirty_log_release(struct vm *vm);

/* Whether the host had swap at set-up (or that is not known).  Then a
 * backend prefers synchronous tracking: a page of shared memory written
 * and then swapped out before the next look loses the mark asynchronous
 * write protection left in its page-table entry. */
bool dirty_log_host_swaps(const struct vm *vm);

/* With the vCPUs paused: tracking on.  NULL with why set if the host or
 * the backend cannot. */
struct dirty_log *dirty_log_start(struct vm *vm, char *why, size_t why_len);

/* With the vCPUs paused: ORs into bits (nr_ram_frames bits) the frames
 * written since the start or the last collect, and tracks on from now;
 * with last, looks no more (only dirty_log_stop may follow).  0 or
 * -errno. */
int dirty_log_collect(struct dirty_log *d, uint64_t *bits, bool last);

/* Tracking off, everything undone: with the vCPUs paused, or running
 * after a last collect (undoing 1 GiB of protection takes tens of ms). */
void dirty_log_stop(struct dirty_log *d);

#endif
