/* vscsiif LUN addresses and reconfiguration steps (see vscsi_lun.h). */
#include "services/scsiback/vscsi_lun.h"

#include <errno.h>

#include <xen/io/xenbus.h>

int vscsi_hctl_parse(const char *s, size_t n, struct scsi_addr *out)
{
	uint16_t v4[4];

	for (unsigned i = 0; i < 4; i++) {
		unsigned long v = 0;
		size_t digits = 0;

		while (n && *s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned long)(*s - '0');
			if (v > 65535)
				return -EINVAL;
			s++, n--, digits++;
		}
		if (!digits || (i < 3 && (!n || *s != ':')))
			return -EINVAL;
		if (i < 3)
			s++, n--;
		v4[i] = (uint16_t)v;
	}
	if (n)
		return -EINVAL;
	*out = (struct scsi_addr){ v4[0], v4[1], v4[2], v4[3] };
	return 0;
}

int vscsi_lun_place(const struct scsi_addr *taken, unsigned nr, bool given,
		    struct scsi_addr *a)
{
	if (nr >= SCSI_MAX_LUNS)
		return -ENOSPC;
	if (!given) {
		/* The next LUN of the first LUN's host, channel and target. */
		uint16_t lun = 0;

		*a = nr ? taken[0] : (struct scsi_addr){ 0, 0, 0, 0 };
		for (unsigned i = 0; i < nr; i++)
			if (taken[i].channel == a->channel && taken[i].target == a->target &&
			    taken[i].lun >= lun)
				lun = (uint16_t)(taken[i].lun + 1);
		a->lun = lun;
	}
	for (unsigned i = 0; i < nr; i++) {
		if (taken[i].host != a->host)
			return -EXDEV;
		if (taken[i].channel == a->channel && taken[i].target == a->target &&
		    taken[i].lun == a->lun)
			return -EEXIST;
	}
	return 0;
}

int vscsi_lun_step(enum vscsi_lun_pass pass, int state)
{
	if (pass == VSCSI_PASS_ADD_OR_DEL && state == XenbusStateInitialising)
		return XenbusStateInitialised;
	if (pass == VSCSI_PASS_ADD_OR_DEL && state == XenbusStateClosing)
		return XenbusStateClosed;
	if (pass == VSCSI_PASS_UPDATE && state == XenbusStateInitialised)
		return XenbusStateConnected;
	return state;
}

bool vscsi_lun_pending(int state)
{
	return state == XenbusStateInitialising || state == XenbusStateClosing;
}

bool vscsi_lun_in_target(int state)
{
	return state == XenbusStateInitialised || state == XenbusStateConnected ||
	       state == XenbusStateClosing;
}
