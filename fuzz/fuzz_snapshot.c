/*
 * libFuzzer harness: the snapshot-file reader (core/snapshot.c), which
 * `pvisor restore FILE` runs on a file anyone may have written.  Whatever
 * the bytes, snap_parse (and restore --lazy's snap_parse_flags) answers 0 or -EINVAL with a message; on 0 every
 * section it placed lies inside the input, the memory view's pages are
 * all inside the memory section, which this walks, and every record of
 * the xenstore section (guest-written paths, values and permissions) reads
 * back as snap_parse checked it: inside the section, a NUL-terminated
 * relative path, the saved domain as owner, as many as the header says.
 * The devices section's records are walked the same way, and restore's
 * use of them (snapshot_devices_apply: each parsed as its run option
 * would be, into a configuration with no device given) answers 0 or -1
 * with a message, and never more devices than a guest may have.
 */
// fuzz-sources: src/core/snapshot.c src/core/snapshot_devices.c src/core/cli.c src/core/runspec.c src/hostio/hostnet.c src/hostio/slirp.c src/hostio/tap.c src/services/scsiback/vscsi_lun.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"
#include "core/snapshot_devices.h"
#include "fuzz_sandbox.h"

/* Every record inside the section, a line of text; applied to a
 * configuration without devices, the counts within the limits. */
static unsigned check_devices(const struct snap_file *f)
{
	static struct snapshot_net_specs keep;
	static struct vm_config cfg;
	const struct snap_section *s = f->devices;
	uint64_t off = sizeof(struct snap_dev_header);
	struct snap_device d;
	char err[512];
	unsigned count = 0;
	int rc;

	while ((rc = snap_dev_next(s, &off, &d, err, sizeof(err))) == 1) {
		size_t n = strlen(d.spec);

		if ((const uint8_t *)d.spec < s->data ||
		    (const uint8_t *)d.spec + n >= s->data + s->length ||
		    d.kind < VM_DEV_DISK || d.kind > VM_DEV_SHARE || n >= SNAP_DEV_SPEC_MAX ||
		    memchr(d.spec, '\n', n))
			abort();
		count++;
	}
	if (rc != 0)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	rc = snapshot_devices_apply(f, &cfg, &keep, err, sizeof(err));
	if ((rc != 0 && rc != -1) || (rc == -1 && !err[0]) ||
	    cfg.nr_disks > VM_MAX_DISKS || cfg.nr_net > VM_MAX_NICS ||
	    cfg.nr_scsi > VM_MAX_SCSI || cfg.nr_shares > VM_MAX_SHARES)
		abort();
	if (rc == 0 && cfg.nr_disks + cfg.nr_net + cfg.nr_scsi + cfg.nr_shares != count)
		abort();
	return count;
}

static int fuzz_one(const uint8_t *data, size_t size)
{
	static struct snap_file f, strict;
	struct snap_memory m;
	char err[256] = "", err2[256] = "";
	uint64_t sum = 0, present = 0;
	int lazy_rc, strict_rc;

	/* restore --lazy's parse (the memory CRC deferred) walks the same
	 * bytes; it may only accept more when that CRC is what is wrong. */
	lazy_rc = snap_parse_flags(data, size, &f, SNAP_PARSE_DEFER_MEMORY_CRC, err,
				   sizeof(err));
	strict_rc = snap_parse(data, size, &strict, err2, sizeof(err2));
	if ((strict_rc == 0 && lazy_rc != 0) || (strict_rc < 0 && !err2[0]))
		abort();
	if (lazy_rc == 0 && strict_rc < 0 &&
	    snap_crc32(0, f.memory->data, f.memory->length) == f.memory->crc)
		abort();
	if (lazy_rc < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	for (unsigned i = 0; i < f.nr_sections; i++)
		if (f.sections[i].data < data ||
		    f.sections[i].data + f.sections[i].length > data + size)
			abort();
	snap_memory_view(&f, &m);
	for (uint64_t fr = 0; fr < m.nr_frames; fr++) {
		if (!snap_frame_present(&m, fr))
			continue;
		sum += m.pages[present * SNAP_PAGE + SNAP_PAGE - 1];
		present++;
	}
	if (present != m.nr_present)
		abort();
	if (f.xenstore) {
		const struct snap_section *s = f.xenstore;
		uint64_t off = sizeof(struct snap_xs_header);
		struct snap_xs_node n;
		uint32_t count = 0;
		int rc;

		while ((rc = snap_xs_next(s, f.xs.domid, &off, &n, err, sizeof(err))) == 1) {
			struct snap_xs_perm owner;

			memcpy(&owner, &n.perms[0], sizeof(owner));
			if ((const uint8_t *)n.path < s->data ||
			    n.value + n.value_len > s->data + s->length ||
			    n.path[0] == '/' || strlen(n.path) > SNAP_XS_PATH_MAX ||
			    owner.domid != f.xs.domid || n.nr_perms > SNAP_XS_PERMS_MAX)
				abort();
			sum += n.value_len ? n.value[n.value_len - 1] : 0;
			count++;
		}
		if (rc != 0 || count != f.xs.nr_nodes)
			abort();
	}
	if (f.devices)
		sum += check_devices(&f);
	return (int)(sum & 0);
}

/* restore reads the file on the main thread before the sandbox; the
 * vCPU role is the strictest it could run under. */
FUZZ_SANDBOXED(SANDBOX_ROLE_VCPU, fuzz_one)
