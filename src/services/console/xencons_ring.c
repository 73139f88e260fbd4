/* The output half of a Xen console ring (see xencons_ring.h). */
#include "services/console/xencons_ring.h"

#include <errno.h>
#include <unistd.h>

size_t xencons_take_output(struct xencons_interface *r, char *buf,
			   struct xencons_skew *skew)
{
	XENCONS_RING_IDX cons = r->out_cons; /* ours: only pvisor writes it */
	XENCONS_RING_IDX prod = __atomic_load_n(&r->out_prod, __ATOMIC_ACQUIRE);
	size_t n = 0;

	*skew = (struct xencons_skew){ (XENCONS_RING_IDX)(prod - cons) > sizeof(r->out),
				       prod, cons };
	if (skew->broken)
		cons = prod; /* resynchronise rather than read garbage */
	while (cons != prod)
		buf[n++] = r->out[MASK_XENCONS_IDX(cons++, r->out)];
	__atomic_store_n(&r->out_cons, cons, __ATOMIC_RELEASE);
	return n;
}

void xencons_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}
