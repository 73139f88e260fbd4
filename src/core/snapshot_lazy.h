/*
 * restore --lazy (docs/snapshot-format.md, "Lazy restore"): the restored
 * guest runs before its memory is read.  Guest RAM starts empty; a page
 * is copied in from the mapped snapshot when someone first touches it
 * (userfaultfd missing-page faults on pvisor's own mapping, and through
 * the backend for the guest's own accesses: backend_ops.lazy_*), and a
 * thread copies in the rest meanwhile, in file order, checking the memory
 * section's CRC as it goes.  Once every frame is in, the faults are off.
 * A memory section whose CRC does not match stops the guest then (exit 2):
 * a lazy restore checks every other section before anything runs, but the
 * memory only as it reads it.
 */
#ifndef PVISOR_SNAPSHOT_LAZY_H
#define PVISOR_SNAPSHOT_LAZY_H

#include <stdbool.h>
#include <stddef.h>

struct snap_file;
struct vm;

/* Before the restore touches guest memory: the faults on, the page
 * server started (vm->lazy).  0, or -errno with one line in err (a host
 * that lets this user take only user-mode faults: say how to allow it). */
int snapshot_lazy_start(struct vm *vm, const struct snap_file *f, char *err,
			size_t err_len);

/* A reboot in place (core/reboot.c), with the vCPUs at its barrier,
 * before it clears guest memory: no more copies, the faults off.  The
 * thread stays until snapshot_lazy_stop. */
void snapshot_lazy_abandon(struct vm *vm);

/* Whether pages are still being loaded (a save must wait). */
bool snapshot_lazy_loading(struct vm *vm);

/* At the end (vm_destroy): faults off whatever was loaded, the thread
 * gone.  The snapshot may be unmapped after it. */
void snapshot_lazy_stop(struct vm *vm);

#endif
