/* The guest processes' userfaultfds: see proc_uffd.h. */
#include "backend/proc/proc_uffd.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/proc/proc_priv.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/uffd_compat.h"


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

/* The server's thread: until its stop_fd is readable, every page-fault
 * message on the vCPU processes' userfaultfds goes to on_fault. */
static void *serve(void *opaque)
{
	struct proc_uffd_server *s = opaque;

	sandbox_thread(SANDBOX_ROLE_MEMORY, s->name);
	for (;;) {
		struct pollfd p[VM_MAX_VCPUS + 1];
		struct proc_vcpu *who[VM_MAX_VCPUS + 1];
		unsigned n = proc_uffd_pollset(s->pvm, s->stop_fd, p, who);

		if (poll(p, n, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents)
			return NULL;
		for (unsigned i = 1; i < n; i++) {
			struct uffd_msg msg[16];
			ssize_t got;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((got = read(who[i]->uffd, msg, sizeof(msg))) > 0)
				for (ssize_t k = 0; k < got / (ssize_t)sizeof(msg[0]); k++)
					if (msg[k].event == UFFD_EVENT_PAGEFAULT)
						s->on_fault(s->ctx, who[i],
							    msg[k].arg.pagefault.address);
		}
	}
}

int proc_uffd_server_start(struct proc_uffd_server *s, struct proc_vm *pvm,
			   const char *name,
			   void (*on_fault)(void *ctx, struct proc_vcpu *pv, uint64_t addr),
			   void *ctx)
{
	int rc;

	*s = (struct proc_uffd_server){ .pvm = pvm, .name = name,
					.on_fault = on_fault, .ctx = ctx };
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0)
		return -errno;
	rc = -pthread_create(&s->thread, NULL, serve, s);
	if (rc) {
		close(s->stop_fd);
		s->stop_fd = -1;
	}
	return rc;
}

void proc_uffd_server_stop(struct proc_uffd_server *s)
{
	uint64_t one = 1;

	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("proc: cannot stop the %s thread", s->name);
	pthread_join(s->thread, NULL);
	close(s->stop_fd);
	s->stop_fd = -1;
}

/* The UFFDIO_API handshake asking for features, of which `required` must
 * be granted, and UFFDIO_REGISTER must be offered. */
static int uffd_handshake(int fd, uint64_t features, uint64_t required)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };

	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	if ((api.features & required) != required ||
	    !(api.ioctls & (1ull << _UFFDIO_REGISTER)))
		return -EOPNOTSUPP;
	return 0;
}

int proc_uffd_api(int fd)
{
	return uffd_handshake(fd, UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
					  UFFD_FEATURE_MISSING_SHMEM, 0);
}

int proc_uffd_api_async(int fd)
{
	return uffd_handshake(fd, UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
					  UFFD_FEATURE_WP_HUGETLBFS_SHMEM, UFFD_FEATURE_WP_ASYNC);
}

int proc_uffd_release(int fd)
{
	uint64_t len = PVISOR_GUEST_VA_LIMIT - PROC_GUEST_AREA_START;
	int rc = proc_uffd_range(fd, UFFDIO_UNREGISTER, PROC_GUEST_AREA_START, len, 0);

	/* Unregistering wakes waiting faults, yet one was seen left asleep
	 * (Linux 6.18): the whole area is woken too. */
	proc_uffd_range(fd, UFFDIO_WAKE, PROC_GUEST_AREA_START, len, 0);
	return rc;
}
