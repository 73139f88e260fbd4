/*
 * The table of xenbus devices (core/device.h).  Order matters only for
 * init: devices are created in this order and destroyed in the reverse.
 */
#include "core/device.h"

#include "services/blkback/blkback.h"
#include "services/console/vconsole.h"
#include "services/netback/netback.h"
#include "services/p9back/p9back.h"
#include "services/scsiback/scsiback.h"

static const struct device_ops vbd = {
	.name = "vbd", .init = blkback_init, .destroy = blkback_destroy,
	.reattach = blkback_reattach,
};
static const struct device_ops p9 = {
	.name = "9pfs", .init = p9back_init, .destroy = p9back_destroy,
	.reattach = p9back_reattach,
};
static const struct device_ops vscsi = {
	.name = "vscsi", .init = scsiback_init, .destroy = scsiback_destroy,
	.reattach = scsiback_reattach,
};
static const struct device_ops console2 = {
	.name = "console", .init = vconsole_init, .destroy = vconsole_destroy,
	.reattach = vconsole_reattach,
};
/* netback's threads may notify vCPUs as soon as they run: start, not init. */
static const struct device_ops vif = {
	.name = "vif", .start = netback_start, .destroy = netback_destroy,
	.reattach = netback_reattach,
};

const struct device_ops *const device_table[] = { &vbd, &p9, &vscsi, &console2, &vif };
const unsigned device_count = sizeof(device_table) / sizeof(device_table[0]);

typedef int (*device_step)(struct vm *vm, char *err, size_t err_len);

enum device_phase { PHASE_INIT, PHASE_START, PHASE_REATTACH };

static device_step step_of(const struct device_ops *d, enum device_phase p)
{
	return p == PHASE_INIT ? d->init : p == PHASE_START ? d->start : d->reattach;
}

/* One phase over the table, in order; the first failure ends it. */
static int walk(struct vm *vm, enum device_phase p, char *err, size_t err_len)
{
	for (unsigned i = 0; i < device_count; i++) {
		device_step fn = step_of(device_table[i], p);
		int rc = fn ? fn(vm, err, err_len) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

int devices_init(struct vm *vm, char *err, size_t err_len)
{
	return walk(vm, PHASE_INIT, err, err_len);
}

int devices_start(struct vm *vm, char *err, size_t err_len)
{
	return walk(vm, PHASE_START, err, err_len);
}

int devices_reattach(struct vm *vm, char *err, size_t err_len)
{
	return walk(vm, PHASE_REATTACH, err, err_len);
}

void devices_destroy(struct vm *vm)
{
	for (unsigned i = device_count; i-- > 0;)
		device_table[i]->destroy(vm);
}
