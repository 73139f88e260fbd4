/* The devices of a restored guest (see snapshot_devices.h). */
#include "core/snapshot_devices.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/log.h"

/* One line into err, and the file is refused. */
#define fail(err, err_len, ...) (errbuf_printf(err, err_len, __VA_ARGS__), -EINVAL)

static const char *option_of(unsigned kind)
{
	switch (kind) {
	case VM_DEV_DISK: return "--disk";
	case VM_DEV_NIC: return "--net";
	case VM_DEV_SCSI: return "--scsi";
	default: return "--share";
	}
}

static unsigned count_of(const struct vm_config *c, unsigned kind)
{
	switch (kind) {
	case VM_DEV_DISK: return c->nr_disks;
	case VM_DEV_NIC: return c->nr_net;
	case VM_DEV_SCSI: return c->nr_scsi;
	default: return c->nr_shares;
	}
}

/* Files before version 3: the counts are all there is to check. */
static int check_counts(const struct snap_file *f, const struct vm_config *cfg,
			char *err, size_t err_len)
{
	const struct snap_domain *d = &f->domain;

	if (d->nr_disks != cfg->nr_disks || d->nr_nics != cfg->nr_net)
		return fail(err, err_len, "the guest had %u disk(s) and %u NIC(s); give as many --disk and --net (given %u and %u)",
			    d->nr_disks, d->nr_nics, cfg->nr_disks, cfg->nr_net);
	/* Version 1 did not record them. */
	if (f->header.version >= 2 &&
	    (d->nr_scsi != cfg->nr_scsi || d->nr_shares != cfg->nr_shares))
		return fail(err, err_len, "the guest had %u SCSI LUN(s) and %u share(s); give as many --scsi and --share (given %u and %u)",
			    d->nr_scsi, d->nr_shares, cfg->nr_scsi, cfg->nr_shares);
	return 0;
}

/*
 * Each record parsed as its option would be: into cfg for a kind the
 * command line left out (a NIC's value copied to keep first), into saved
 * for one it names, to be compared.
 */
static int take_records(const struct snap_file *f, struct vm_config *cfg,
			struct vm_config *saved, const bool *from_file,
			struct snapshot_net_specs *keep, char *err, size_t err_len)
{
	uint64_t off = sizeof(struct snap_dev_header);
	struct snap_device d;
	char why[512];

	/* snap_parse walked every record: none fails here. */
	while (snap_dev_next(f->devices, &off, &d, why, sizeof(why)) == 1) {
		struct vm_config *into = from_file[d.kind] ? cfg : saved;
		const char *spec = d.spec;

		if (d.kind == VM_DEV_NIC && into == cfg) {
			if (cfg->nr_net == VM_MAX_NICS)
				return fail(err, err_len, "the snapshot names more than %d NICs",
					    VM_MAX_NICS);
			spec = strcpy(keep->spec[cfg->nr_net], d.spec);
		}
		if (cli_add_device(into, d.kind, spec, why, sizeof(why)))
			return fail(err, err_len, "the snapshot's %s %s: %s", option_of(d.kind),
				    d.spec, why);
	}
	return 0;
}

static int count_mismatch(unsigned kind, const char *what, unsigned had,
			  unsigned given, char *err, size_t err_len)
{
	return fail(err, err_len, "the guest had %u %s(s); give as many %s (given %u), or none to take the snapshot's",
		    had, what, option_of(kind), given);
}

static int match_disks(const struct vm_config *saved, const struct vm_config *cfg,
		       char *err, size_t err_len)
{
	if (saved->nr_disks != cfg->nr_disks)
		return count_mismatch(VM_DEV_DISK, "disk", saved->nr_disks, cfg->nr_disks,
				      err, err_len);
	for (unsigned i = 0; i < saved->nr_disks; i++) {
		const struct vm_disk *s = &saved->disks[i], *c = NULL;

		for (unsigned j = 0; j < cfg->nr_disks && !c; j++)
			if (!strcmp(cfg->disks[j].name, s->name))
				c = &cfg->disks[j];
		if (!c)
			return fail(err, err_len, "the guest had disk %s, which no --disk names: give it as --disk PATH,id=%s (or no --disk, to take the snapshot's)",
				    s->name, s->name);
		if (c->ro != s->ro)
			return fail(err, err_len, "disk %s was %s when saved: give it with ,%s",
				    s->name, s->ro ? "read-only" : "writable", s->ro ? "ro" : "rw");
	}
	return 0;
}

/* The LUNs given on restore's command line against the saved ones; each
 * CD/DVD's tray (open or closed, locked or not) is the guest's, so it
 * comes from the file. */
static int match_luns(const struct vm_config *saved, struct vm_config *cfg,
		      char *err, size_t err_len)
{
	if (saved->nr_scsi != cfg->nr_scsi)
		return count_mismatch(VM_DEV_SCSI, "SCSI LUN", saved->nr_scsi, cfg->nr_scsi,
				      err, err_len);
	for (unsigned i = 0; i < saved->nr_scsi; i++) {
		const struct vm_scsi *s = &saved->scsi[i];
		struct vm_scsi *c = NULL;

		for (unsigned j = 0; j < cfg->nr_scsi && !c; j++)
			if (cfg->scsi[j].host == s->host && cfg->scsi[j].channel == s->channel &&
			    cfg->scsi[j].target == s->target && cfg->scsi[j].lun == s->lun)
				c = &cfg->scsi[j];
		if (!c)
			return fail(err, err_len, "the guest had the SCSI LUN %u:%u:%u:%u, which no --scsi names: give it with lun=%u:%u:%u:%u (or no --scsi, to take the snapshot's)",
				    s->host, s->channel, s->target, s->lun, s->host,
				    s->channel, s->target, s->lun);
		if (c->cdrom != s->cdrom || c->ro != s->ro)
			return fail(err, err_len, "the SCSI LUN %u:%u:%u:%u was a %s %s when saved: give it with media=%s,%s",
				    s->host, s->channel, s->target, s->lun,
				    s->ro ? "read-only" : "writable", s->cdrom ? "CD/DVD" : "disk",
				    s->cdrom ? "cdrom" : "disk", s->ro ? "ro" : "rw");
		c->ejected = s->ejected;
		c->locked = s->locked;
	}
	return 0;
}

static int match_shares(const struct vm_config *saved, const struct vm_config *cfg,
			char *err, size_t err_len)
{
	if (saved->nr_shares != cfg->nr_shares)
		return count_mismatch(VM_DEV_SHARE, "share", saved->nr_shares,
				      cfg->nr_shares, err, err_len);
	for (unsigned i = 0; i < saved->nr_shares; i++) {
		const struct vm_share *s = &saved->shares[i], *c = NULL;

		for (unsigned j = 0; j < cfg->nr_shares && !c; j++)
			if (!strcmp(cfg->shares[j].tag, s->tag))
				c = &cfg->shares[j];
		if (!c)
			return fail(err, err_len, "the guest had the share tagged %s, which no --share names (or give no --share, to take the snapshot's)",
				    s->tag);
		if (c->ro != s->ro)
			return fail(err, err_len, "the share %s was %s when saved: give it with ,%s",
				    s->tag, s->ro ? "read-only" : "writable", s->ro ? "ro" : "rw");
	}
	return 0;
}

int snapshot_devices_apply(const struct snap_file *f, struct vm_config *cfg,
			   struct snapshot_net_specs *keep, char *err, size_t err_len)
{
	bool from_file[VM_DEV_SHARE + 1];
	struct vm_config *saved;
	int rc;

	if (!f->devices)
		return check_counts(f, cfg, err, err_len);
	for (unsigned k = VM_DEV_DISK; k <= VM_DEV_SHARE; k++)
		from_file[k] = count_of(cfg, k) == 0;
	saved = calloc(1, sizeof(*saved));
	if (!saved)
		return fail(err, err_len, "out of memory");
	rc = take_records(f, cfg, saved, from_file, keep, err, err_len);
	if (!rc && cfg->nr_net != f->domain.nr_nics)
		rc = count_mismatch(VM_DEV_NIC, "NIC", f->domain.nr_nics, cfg->nr_net, err,
				    err_len);
	if (!rc && !from_file[VM_DEV_DISK])
		rc = match_disks(saved, cfg, err, err_len);
	if (!rc && !from_file[VM_DEV_SCSI])
		rc = match_luns(saved, cfg, err, err_len);
	if (!rc && !from_file[VM_DEV_SHARE])
		rc = match_shares(saved, cfg, err, err_len);
	free(saved);
	return rc;
}
