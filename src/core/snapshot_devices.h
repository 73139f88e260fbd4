/*
 * The devices of a restored guest (docs/snapshot-format.md, "The devices
 * section").  A version-3 snapshot names every device the guest had when
 * it was saved, hot-plugged ones included, by the run option's value that
 * gives it again.  Restore takes each kind of device (disks, NICs, SCSI
 * LUNs, shares) that its command line does not name from the file, as
 * `xl restore` takes a domain's configuration from its save file; a kind
 * the command line names must be the one the guest had: as many, the
 * same disk names and LUN addresses, share tags, and the same read-only
 * flags and media (its frontends reconnect to what they had).  Older
 * files name no device: only the counts are checked.
 */
#ifndef PVISOR_SNAPSHOT_DEVICES_H
#define PVISOR_SNAPSHOT_DEVICES_H

#include <stddef.h>

#include "core/config.h"
#include "core/snapshot.h"

/* Where the NIC values taken from a file live (cfg->net[] points here:
 * the file is unmapped once the guest runs). */
struct snapshot_net_specs {
	char spec[VM_MAX_NICS][SNAP_DEV_SPEC_MAX];
};

/*
 * Completes cfg (parsed from restore's command line) from the checked
 * snapshot f, or checks it against f.  0, or -EINVAL with one line in err.
 * Pure: no file is opened (that comes after, as for run).
 */
int snapshot_devices_apply(const struct snap_file *f, struct vm_config *cfg,
			   struct snapshot_net_specs *keep, char *err, size_t err_len);

#endif
