/*
 * console_io: the guest's emergency console (Linux's early printk uses it).
 * Output goes to the same terminal as the console ring; reads return
 * nothing, since a domU has no Xen console to read.
 */
#include "core/vm.h"
#include "services/console/consback.h"
#include "xen/hypercall.h"

#define CONSOLE_IO_CHUNK 256
#define CONSOLE_IO_MAX 16384

long hc_console_io(struct vcpu *v, const struct hc_args *a)
{
	uint64_t count = a->a[1], gva = a->a[2];
	char buf[CONSOLE_IO_CHUNK];

	switch (a->a[0]) {
	case CONSOLEIO_write:
		if (count > CONSOLE_IO_MAX)
			return -XEN_EINVAL;
		for (uint64_t done = 0; done < count;) {
			size_t n = count - done < sizeof(buf) ? count - done
							       : sizeof(buf);

			if (hc_read(v, gva + done, buf, n))
				return -XEN_EFAULT;
			consback_output(v->vm, buf, n);
			done += n;
		}
		return 0;
	case CONSOLEIO_read:
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}
