/* Dirty tracking for save --live: see dirty_log.h. */
#include "core/dirty_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "core/log.h"
#include "core/uffd_compat.h"
#include "core/vm.h"

/* sandbox_seccomp.c allows it by number. */
_Static_assert(PAGEMAP_SCAN == 0xc0606610ul, "PAGEMAP_SCAN");

struct dirty_host {
	int uffd;    /* asynchronous write protection of pvisor's own mapping */
	int pagemap; /* /proc/self/pagemap: PAGEMAP_SCAN */
	bool swap;   /* the host had swap at set-up */
};

struct dirty_log {
	struct vm *vm;
	struct dirty_host *host;
	uint64_t start, len; /* pvisor's mapping of RAM */
};

void dirty_log_prepare(struct vm *vm)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
			    UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	struct dirty_host *h = calloc(1, sizeof(*h));
	struct sysinfo si;

	if (!h)
		return;
	/* User-mode faults only, as an unprivileged process may: the
	 * asynchronous mode resolves the kernel's own writes without it. */
	h->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	h->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (h->uffd < 0 || h->pagemap < 0 || ioctl(h->uffd, UFFDIO_API, &api) < 0) {
		log_debug("save --live: no dirty tracking of pvisor's writes: %s",
			  strerror(errno));
		if (h->uffd >= 0)
			close(h->uffd);
		if (h->pagemap >= 0)
			close(h->pagemap);
		free(h);
		return;
	}
	/* sysinfo is a set-up call only: the swap is looked at now. */
	h->swap = sysinfo(&si) < 0 || si.totalswap > 0;
	vm->dirty_host = h;
}

bool dirty_log_host_swaps(const struct vm *vm)
{
	return !vm->dirty_host || vm->dirty_host->swap;
}

void dirty_log_release(struct vm *vm)
{
	struct dirty_host *h = vm->dirty_host;

	if (!h)
		return;
	close(h->uffd);
	close(h->pagemap);
	free(h);
	vm->dirty_host = NULL;
}

static int protect(struct dirty_log *d)
{
	struct uffdio_writeprotect w = {
		.range = { d->start, d->len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	return ioctl(d->host->uffd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
}

struct dirty_log *dirty_log_start(struct vm *vm, char *why, size_t why_len)
{
	struct dirty_log *d;
	struct uffdio_register r;
	int rc;

	if (!vm->backend->dirty_start) {
		snprintf(why, why_len, "the %s backend does not track the guest's writes",
			 vm->backend->name);
		return NULL;
	}
	if (!vm->dirty_host) {
		snprintf(why, why_len, "this host has no asynchronous userfaultfd write protection (Linux >= 6.7)");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	d->vm = vm;
	d->host = vm->dirty_host;
	d->start = (uint64_t)(uintptr_t)vm->mem.host;
	d->len = vm->mem.nr_ram_frames * PAGE_SIZE;
	r = (struct uffdio_register){ .range = { d->start, d->len },
				      .mode = UFFDIO_REGISTER_MODE_WP };
	if (ioctl(d->host->uffd, UFFDIO_REGISTER, &r) < 0) {
		snprintf(why, why_len, "cannot write-protect guest memory: %s", strerror(errno));
		free(d);
		return NULL;
	}
	rc = protect(d);
	if (rc == 0)
		rc = vm->backend->dirty_start(vm);
	if (rc < 0) {
		struct uffdio_range u = { d->start, d->len };

		snprintf(why, why_len, "%s", rc == -EOPNOTSUPP
			 ? "a guest process has no userfaultfd"
			 : strerror(-rc));
		ioctl(d->host->uffd, UFFDIO_UNREGISTER, &u);
		free(d);
		return NULL;
	}
	return d;
}

/* pvisor's own writes since the last scan, protected again as read. */
static int scan_own(struct dirty_log *d, uint64_t *bits, bool protect_again)
{
	struct page_region v[256];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = (protect_again ? PM_SCAN_WP_MATCHING : 0) | PM_SCAN_CHECK_WPASYNC,
		.start = d->start,
		.end = d->start + d->len,
		.vec = (uint64_t)(uintptr_t)v,
		.vec_len = sizeof(v) / sizeof(v[0]),
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	while (a.start < a.end) {
		long n = ioctl(d->host->pagemap, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++)
			for (uint64_t p = v[i].start; p < v[i].end; p += PAGE_SIZE) {
				uint64_t f = (p - d->start) / PAGE_SIZE;

				bits[f / 64] |= 1ull << (f % 64);
			}
		if (a.walk_end <= a.start)
			return -EIO;
		a.start = a.walk_end;
	}
	return 0;
}

int dirty_log_collect(struct dirty_log *d, uint64_t *bits, bool last)
{
	int rc = scan_own(d, bits, !last);

	return rc < 0 ? rc : d->vm->backend->dirty_collect(d->vm, bits, last);
}

void dirty_log_stop(struct dirty_log *d)
{
	struct uffdio_range u;

	if (!d)
		return;
	d->vm->backend->dirty_stop(d->vm);
	u = (struct uffdio_range){ d->start, d->len };
	if (ioctl(d->host->uffd, UFFDIO_UNREGISTER, &u) < 0)
		log_error("save --live: cannot unregister guest memory: %s", strerror(errno));
	free(d);
}
