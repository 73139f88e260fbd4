/*
 * The guest-to-host half of a Xen console ring (xen/io/console.h), shared
 * by the start_info console (consback.c) and the secondary xenbus consoles
 * (vconsole.c): what the guest wrote to `out`, taken with each index read
 * once, so a guest changing the page meanwhile only garbles its own text.
 */
#ifndef PVISOR_XENCONS_RING_H
#define PVISOR_XENCONS_RING_H

#include <stdbool.h>
#include <stddef.h>

#include <pvisor/xen.h>
#include <xen/io/console.h>

/* The ring's out[] size: what one take can return at most. */
#define XENCONS_OUT_SIZE sizeof(((struct xencons_interface *)0)->out)

/* What a take found wrong: a producer more than the ring ahead. */
struct xencons_skew {
	bool broken;
	XENCONS_RING_IDX prod, cons;
};

/*
 * Moves the guest's output (up to XENCONS_OUT_SIZE bytes) into buf and
 * frees its ring space (out_cons).  A producer that ran more than the ring
 * ahead is resynchronised (its text dropped) and skew says so.  Returns
 * the byte count.
 */
size_t xencons_take_output(struct xencons_interface *r, char *buf,
			   struct xencons_skew *skew);

/* Writes all of buf to fd (a terminal, a pipe, a file), retrying short
 * writes; gives up silently when the output is gone: the guest keeps
 * running. */
void xencons_write_all(int fd, const char *buf, size_t len);

#endif
