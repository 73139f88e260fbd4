/*
 * save --live on the proc backend: which RAM frames the guest processes
 * wrote while the guest ran (docs/proc-backend.md, "Dirty tracking").
 *
 * Each guest process made two userfaultfds for its own address space and
 * opened its /proc/self/pagemap before it locked itself down, and handed
 * them to pvisor (proc.c).  Tracking registers the process's writable
 * guest mappings in write-protect mode and protects them.
 *
 * Asynchronous (Linux >= 6.7: UFFD_FEATURE_WP_ASYNC on the second
 * descriptor): a first write to a page is resolved in the kernel, the
 * process going on at once, and leaves the page marked written; a
 * collect reads the marked pages with PAGEMAP_SCAN on the process's
 * pagemap and protects them again in the same call.  The written state
 * lives in the page table entries, so an area the mirror unmaps or maps
 * over counts as written when the batch is made.
 *
 * Synchronous (older hosts, or PVISOR_LIVE_WP=sync): a first write to a
 * page stops the process in the fault until pvisor's tracker thread has
 * marked the page's frame and lifted the protection.  Invariant: a page
 * is unprotected only together with its frame being marked, in one
 * critical section that a collect (harvest, then protect again) excludes,
 * so every write is either seen or lands before the protection that the
 * copy after the collect reads behind.
 *
 * Either way, mappings the mirror makes while tracking are new,
 * unregistered areas: their frames count as written (proc_sync calls
 * proc_dirty_note_sync) until the next collect registers them.
 */
#ifndef PVISOR_PROC_DIRTY_H
#define PVISOR_PROC_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

struct proc_vcpu;
struct vm;

/* With the vCPUs paused.  0, or -errno (-EOPNOTSUPP: a guest process has
 * no userfaultfd). */
int proc_dirty_start(struct vm *vm);
/* With the vCPUs paused: ORs into bits (nr_ram_frames bits) the frames
 * written since the start or the last collect, and protects again; with
 * last, looks no more (proc_sync stops marking). */
int proc_dirty_collect(struct vm *vm, uint64_t *bits, bool last);
/* Every registration undone, the thread gone: after a last collect the
 * guest may run meanwhile (the thread serves faults until the end),
 * otherwise with the vCPUs paused. */
void proc_dirty_stop(struct vm *vm);

/* From proc_sync, with the new runs in place (before: the runs they
 * replace, or NULL): the frames that pv's last batch maps writable count
 * as written, and, asynchronously, those it unmaps or maps over that
 * were writable. */
struct proc_runs;
void proc_dirty_note_sync(struct proc_vcpu *pv, const struct proc_runs *before);

#endif
