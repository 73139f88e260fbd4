/* The guest processes' userfaultfds: see proc_uffd.h. */
#include "backend/proc/proc_uffd.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/proc/proc_priv.h"

/* The run of runs that maps va, or NULL (runs are sorted by va). */
const struct proc_run *proc_run_at(const struct proc_runs *runs, uint64_t va)
{
	size_t lo = 0, hi = runs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct proc_run *r = &runs->v[mid];

		if (va < r->va)
			hi = mid;
		else if (va >= r->va + r->npages * PAGE_SIZE)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int proc_uffd_range(int fd, unsigned long cmd, uint64_t va, uint64_t len, uint64_t mode)
{
	int rc;

	if (cmd == UFFDIO_REGISTER) {
		struct uffdio_register r = { .range = { va, len }, .mode = mode };

		rc = ioctl(fd, UFFDIO_REGISTER, &r);
	} else if (cmd == UFFDIO_UNREGISTER || cmd == UFFDIO_WAKE) {
		struct uffdio_range r = { va, len };

		rc = ioctl(fd, cmd, &r);
	} else {
		struct uffdio_writeprotect w = { .range = { va, len }, .mode = mode };

		rc = ioctl(fd, UFFDIO_WRITEPROTECT, &w);
	}
	return rc < 0 ? -errno : 0;
}

unsigned proc_uffd_pollset(struct proc_vm *pvm, int stop_fd, struct pollfd *p,
			   struct proc_vcpu **who)
{
	unsigned n = 1;

	p[0] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
	who[0] = NULL;
	pthread_mutex_lock(&pvm->lock);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		if (pvm->vcpus[i] && pvm->vcpus[i]->uffd >= 0) {
			who[n] = pvm->vcpus[i];
			p[n++] = (struct pollfd){ .fd = pvm->vcpus[i]->uffd, .events = POLLIN };
		}
	}
	pthread_mutex_unlock(&pvm->lock);
	return n;
}

void proc_uffd_serve(struct proc_vm *pvm, int stop_fd,
		     void (*on_fault)(void *ctx, struct proc_vcpu *pv, uint64_t addr),
		     void *ctx)
{
	for (;;) {
		struct pollfd p[VM_MAX_VCPUS + 1];
		struct proc_vcpu *who[VM_MAX_VCPUS + 1];
		unsigned n = proc_uffd_pollset(pvm, stop_fd, p, who);

		if (poll(p, n, -1) < 0 && errno != EINTR)
			return;
		if (p[0].revents)
			return;
		for (unsigned i = 1; i < n; i++) {
			struct uffd_msg msg[16];
			ssize_t got;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((got = read(who[i]->uffd, msg, sizeof(msg))) > 0)
				for (ssize_t k = 0; k < got / (ssize_t)sizeof(msg[0]); k++)
					if (msg[k].event == UFFD_EVENT_PAGEFAULT)
						on_fault(ctx, who[i], msg[k].arg.pagefault.address);
		}
	}
}
