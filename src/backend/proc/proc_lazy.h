/*
 * restore --lazy on the proc backend (core/snapshot_lazy.h): the guest
 * processes' own accesses to pages not loaded yet.  Each process's
 * mappings are registered on its userfaultfd in missing-page mode (the
 * ones the mirror makes meanwhile as soon as the process has made them,
 * before guest code runs again: proc_sync applies its last batch at once
 * then); a thread answers each fault by copying the frame's bytes in
 * through that descriptor, which puts the page in the memfd for every
 * mapping of it.
 */
#ifndef PVISOR_PROC_LAZY_H
#define PVISOR_PROC_LAZY_H

#include <stdint.h>

struct proc_vcpu;
struct vm;

int proc_lazy_begin(struct vm *vm, const void *(*page)(void *ctx, uint64_t frame),
		    void *ctx);
void proc_lazy_end(struct vm *vm);

/* From proc_sync while lazy, after the process has run pv->ops: their
 * new mappings registered.  0 or -errno (the VM cannot go on). */
int proc_lazy_note_sync(struct proc_vcpu *pv);

#endif
