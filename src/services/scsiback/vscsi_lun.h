/*
 * The pure part of vscsiif's LUN model (docs/scsi.md): "H:C:T:L"
 * addresses, where a new LUN goes on the guest's one SCSI host, and the
 * per-LUN steps of a reconfiguration, as xen-scsiback takes them
 * (scsiback_do_1lun_hotplug).  No I/O: the CLI (--scsi), the control API
 * (scsi-add, scsi-remove) and scsiback share it; tests/unit/test_vscsi_lun.c
 * drives it.
 */
#ifndef PVISOR_VSCSI_LUN_H
#define PVISOR_VSCSI_LUN_H

#include <stdbool.h>
#include <stddef.h>

#include "services/scsi/scsi_target.h"

/* "H:C:T:L" in the n bytes at s: four decimal numbers 0..65535, nothing
 * else.  0, or -EINVAL. */
int vscsi_hctl_parse(const char *s, size_t n, struct scsi_addr *out);

/*
 * Where a new LUN goes among the nr taken ones: `given` keeps *a as it is
 * (checked), otherwise *a becomes the next LUN number on the first taken
 * LUN's host, channel and target (0:0:0:0 when none is taken).  0, or
 * -ENOSPC (SCSI_MAX_LUNS taken), -EXDEV (*a is on another host than the
 * taken ones: one host per guest), -EEXIST (the address is taken).
 */
int vscsi_lun_place(const struct scsi_addr *taken, unsigned nr, bool given,
		    struct scsi_addr *a);

/* The backend's two passes over vscsi-devs (xen-scsiback). */
enum vscsi_lun_pass {
	VSCSI_PASS_NONE,   /* no LUN changes */
	/* The frontend is Reconfiguring (or first Initialised): offered
	 * LUNs (1 Initialising) join the target (3 Initialised); LUNs being
	 * removed (5 Closing) leave it (6 Closed). */
	VSCSI_PASS_ADD_OR_DEL,
	/* The frontend is Connected again: the LUNs it added, 3 -> 4. */
	VSCSI_PASS_UPDATE,
};

/* A LUN's backend state after the pass (its state when unchanged). */
int vscsi_lun_step(enum vscsi_lun_pass pass, int state);

/* Whether a LUN in this state waits for a reconfiguration (1 or 5). */
bool vscsi_lun_pending(int state);

/* Whether a LUN in this state is in the target (3, 4, or 5 until the
 * frontend has let it go). */
bool vscsi_lun_in_target(int state);

#endif
