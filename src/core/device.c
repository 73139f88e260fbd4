/*
 * The table of xenbus devices (core/device.h).  Order matters only for
 * init: devices are created in this order and destroyed in the reverse.
 */
#include "core/device.h"

#include "services/blkback/blkback.h"
#include "services/netback/netback.h"
#include "services/p9back/p9back.h"
#include "services/scsiback/scsiback.h"

static const struct device_ops vbd = {
	.name = "vbd", .init = blkback_init, .destroy = blkback_destroy,
};
static const struct device_ops p9 = {
	.name = "9pfs", .init = p9back_init, .destroy = p9back_destroy,
};
static const struct device_ops vscsi = {
	.name = "vscsi", .init = scsiback_init, .destroy = scsiback_destroy,
};
/* netback's threads may notify vCPUs as soon as they run: start, not init. */
static const struct device_ops vif = {
	.name = "vif", .start = netback_start, .destroy = netback_destroy,
};

const struct device_ops *const device_table[] = { &vbd, &p9, &vscsi, &vif };
const unsigned device_count = sizeof(device_table) / sizeof(device_table[0]);

int devices_init(struct vm *vm, char *err, size_t err_len)
{
	for (unsigned i = 0; i < device_count; i++) {
		int rc = device_table[i]->init ?
				 device_table[i]->init(vm, err, err_len) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

int devices_start(struct vm *vm, char *err, size_t err_len)
{
	for (unsigned i = 0; i < device_count; i++) {
		int rc = device_table[i]->start ?
				 device_table[i]->start(vm, err, err_len) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

void devices_destroy(struct vm *vm)
{
	for (unsigned i = device_count; i-- > 0;)
		device_table[i]->destroy(vm);
}
