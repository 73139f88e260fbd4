/*
 * The VM's xenbus devices behind one interface: vm.c walks device_table
 * instead of naming each backend, so a new device is its files plus one
 * entry in core/device.c.  The console and xenstore are not devices here:
 * they are part of the domain (start_info names them) and vm.c sets them
 * up before any device.
 */
#ifndef PVISOR_DEVICE_H
#define PVISOR_DEVICE_H

#include <stddef.h>

struct vm;
struct snap_writer; /* core/snapshot.h */
struct snap_reader;

struct device_ops {
	const char *name; /* for messages: "vbd", "vif", ... */
	/* In vm_create, after xenstore exists and before any vCPU: opens the
	 * host side, writes the xenstore entries.  -errno with one line in
	 * err; destroy is still called.  NULL: nothing to do. */
	int (*init)(struct vm *vm, char *err, size_t err_len);
	/* Once the vCPUs exist (the device's threads notify them), before
	 * the guest runs.  Same contract as init.  NULL: nothing to do. */
	int (*start)(struct vm *vm, char *err, size_t err_len);
	/* Stops the threads and frees everything; safe after a failed or
	 * missing init/start.  Called while the vCPUs still exist. */
	void (*destroy)(struct vm *vm);
	/* A reboot rebuilt the domain (core/reboot.c): the guest's
	 * directory went (the watch on the frontend saw it, and the device
	 * let go of the old rings and grants) and is new; write the
	 * frontend's nodes again, as at init.  The host side (image,
	 * network, share) stays open.  Same contract as init; NULL: nothing
	 * to do. */
	int (*reattach)(struct vm *vm, char *err, size_t err_len);
	/* Snapshots (docs/snapshot-format.md): the device's connection
	 * state into w, and back from r on restore before start.  NULL: the
	 * device keeps nothing beyond its xenstore nodes and guest memory. */
	int (*save)(struct vm *vm, struct snap_writer *w);
	int (*restore)(struct vm *vm, struct snap_reader *r);
};

extern const struct device_ops *const device_table[];
extern const unsigned device_count;

/* Each device's init, then start, in table order; the first failure
 * stops the walk.  0 or -errno with err set. */
int devices_init(struct vm *vm, char *err, size_t err_len);
int devices_start(struct vm *vm, char *err, size_t err_len);

/* Each device's reattach, in table order (core/reboot.c). */
int devices_reattach(struct vm *vm, char *err, size_t err_len);

/* Each device's destroy, in reverse table order. */
void devices_destroy(struct vm *vm);

#endif
