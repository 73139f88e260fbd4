/* restore --lazy: see snapshot_lazy.h. */
#include "core/snapshot_lazy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pvisor/abi.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/snapshot.h"
#include "core/vm.h"
#include "xen/time.h"

/* Frames the filler copies between looks at the faults. */
#define FILL_BATCH 64

struct snapshot_lazy {
	struct vm *vm;
	const struct snap_section *sec;
	struct snap_memory m;
	uint64_t *prefix;   /* per bitmap word: present frames before it */
	int uffd, stop_fd;
	uint64_t start, len; /* pvisor's mapping of RAM */
	pthread_t thread;
	bool registered;    /* the faults are on for pvisor's mapping */
	bool backend_on;    /* backend->lazy_begin succeeded */
	bool loading;       /* until every frame is in (atomic reads) */
	bool abandoned;     /* a reboot cleared the memory: no more copies */
	pthread_mutex_t lock; /* the end of the faults: the finish vs a reboot */
	uint64_t faults;
	int64_t t0_ns;
};

static const uint8_t zero_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* A frame's bytes: the file's, or zeros for one it does not hold. */
static const void *frame_bytes(void *opaque, uint64_t f)
{
	struct snapshot_lazy *l = opaque;
	uint64_t w = f / 64, below;

	if (f >= l->m.nr_frames || !snap_frame_present(&l->m, f))
		return zero_page;
	below = l->m.bitmap[w] & ((1ull << (f % 64)) - 1);
	return l->m.pages + (l->prefix[w] + (uint64_t)__builtin_popcountll(below)) * PAGE_SIZE;
}

/* Frame f into guest memory through pvisor's mapping, waking whoever
 * waits for it; a frame already in is left alone. */
static void copy_in(struct snapshot_lazy *l, uint64_t f)
{
	struct uffdio_copy c = {
		.dst = l->start + f * PAGE_SIZE,
		.src = (uint64_t)(uintptr_t)frame_bytes(l, f),
		.len = PAGE_SIZE,
	};
	struct uffdio_range r = { c.dst, PAGE_SIZE };

	if (ioctl(l->uffd, UFFDIO_COPY, &c) < 0)
		ioctl(l->uffd, UFFDIO_WAKE, &r); /* EEXIST: someone was first */
}

static void serve_faults(struct snapshot_lazy *l)
{
	struct uffd_msg msg[16];
	ssize_t n;

	while ((n = read(l->uffd, msg, sizeof(msg))) > 0) {
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
			uint64_t a = msg[i].arg.pagefault.address;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT || a < l->start ||
			    a - l->start >= l->len)
				continue;
			copy_in(l, (a - l->start) / PAGE_SIZE);
			l->faults++;
		}
	}
}

/* pvisor's mapping: the faults off, and whoever still waits woken (a
 * frame not loaded by then is one the file does not hold: zeros). */
static void unregister_own(struct snapshot_lazy *l)
{
	struct uffdio_range r = { l->start, l->len };

	if (!l->registered)
		return;
	if (ioctl(l->uffd, UFFDIO_UNREGISTER, &r) < 0)
		log_error("restore --lazy: cannot unregister guest memory: %s", strerror(errno));
	ioctl(l->uffd, UFFDIO_WAKE, &r);
	l->registered = false;
}

/* The backend's faults off, with the vCPUs paused (a vCPU syncing its
 * mappings meanwhile would register one after the end). */
static void end_backend(struct snapshot_lazy *l)
{
	struct vm *vm = l->vm;

	if (!l->backend_on)
		return;
	/* Not under the lock: a rebooting vCPU (snapshot_lazy_abandon)
	 * parks only after it has taken it. */
	while (vm_pause(vm, 2000) < 0 && !vm_stopped(vm))
		vm_resume(vm);
	pthread_mutex_lock(&l->lock);
	if (l->backend_on)
		vm->backend->lazy_end(vm);
	l->backend_on = false;
	pthread_mutex_unlock(&l->lock);
	vm_resume(vm);
}

/* Every frame the file holds copied in, in file order, with the memory
 * section's CRC: whether it matched. */
static bool fill(struct snapshot_lazy *l)
{
	struct pollfd p[2] = { { .fd = l->uffd, .events = POLLIN },
			       { .fd = l->stop_fd, .events = POLLIN } };
	uint64_t words = (l->m.nr_frames + 63) / 64;
	uint32_t crc = snap_crc32(0, l->sec->data, 16 + words * 8);
	uint64_t f = 0;

	while (f < l->m.nr_frames) {
		if (poll(p, 2, 0) > 0) {
			if (p[1].revents)
				return true; /* stopping: nothing to judge */
			serve_faults(l);
		}
		if (__atomic_load_n(&l->abandoned, __ATOMIC_ACQUIRE))
			return true; /* a reboot: nothing to judge */
		for (unsigned k = 0; k < FILL_BATCH && f < l->m.nr_frames; f++) {
			if (!snap_frame_present(&l->m, f))
				continue;
			crc = snap_crc32(crc, frame_bytes(l, f), PAGE_SIZE);
			copy_in(l, f);
			k++;
		}
	}
	return crc == l->sec->crc;
}

static void *server(void *opaque)
{
	struct snapshot_lazy *l = opaque;
	struct vm *vm = l->vm;
	struct pollfd p[2] = { { .fd = l->uffd, .events = POLLIN },
			       { .fd = l->stop_fd, .events = POLLIN } };

	sandbox_thread(SANDBOX_ROLE_MEMORY, "lazy");
	if (!fill(l)) {
		vm_stop(vm, VM_STOP_INTERNAL, PVISOR_EXIT_USAGE,
			"restore --lazy: the snapshot's memory section is corrupt (its checksum does not match); the guest, which ran on it, was stopped");
	} else if (!vm_stopped(vm) && !__atomic_load_n(&l->abandoned, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&l->lock);
		unregister_own(l);
		pthread_mutex_unlock(&l->lock);
		end_backend(l);
		log_info("restore --lazy: all %llu frames in after %.1f ms (%llu faults served first)",
			 (unsigned long long)l->m.nr_present,
			 (double)(time_monotonic_ns() - l->t0_ns) / 1e6,
			 (unsigned long long)l->faults);
		__atomic_store_n(&l->loading, false, __ATOMIC_RELEASE);
		return NULL;
	}
	/* Stopping: serve until the end, so nothing waits forever. */
	while (poll(p, 2, -1) >= 0 || errno == EINTR) {
		if (p[1].revents)
			break;
		if (p[0].revents)
			serve_faults(l);
	}
	return NULL;
}

static int fail(struct snapshot_lazy *l, int rc, char *err, size_t err_len, const char *what)
{
	snprintf(err, err_len, "restore --lazy: %s: %s", what, strerror(-rc));
	if (l->uffd >= 0)
		close(l->uffd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l->prefix);
	free(l);
	return rc;
}

int snapshot_lazy_start(struct vm *vm, const struct snap_file *f, char *err,
			size_t err_len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM };
	struct snapshot_lazy *l = calloc(1, sizeof(*l));
	struct uffdio_register r;
	uint64_t words, sum = 0;
	int rc;

	if (!l) {
		snprintf(err, err_len, "restore --lazy: out of memory");
		return -ENOMEM;
	}
	l->vm = vm;
	l->sec = f->memory;
	l->t0_ns = time_monotonic_ns();
	snap_memory_view(f, &l->m);
	words = (l->m.nr_frames + 63) / 64;
	l->stop_fd = -1;
	l->prefix = calloc(words ? words : 1, sizeof(*l->prefix));
	if (!l->prefix)
		return fail(l, -ENOMEM, err, err_len, "out of memory");
	for (uint64_t w = 0; w < words; w++) {
		l->prefix[w] = sum;
		sum += (uint64_t)__builtin_popcountll(l->m.bitmap[w]);
	}
	/* Kernel-mode faults too (io_uring and the kernel's copies into
	 * guest memory): what vm.unprivileged_userfaultfd=0 keeps from an
	 * unprivileged user. */
	l->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (l->uffd < 0) {
		rc = -errno;
		if (rc == -EPERM) {
			snprintf(err, err_len,
				 "restore --lazy: this user may not take kernel-mode page faults with userfaultfd (sysctl vm.unprivileged_userfaultfd=1 allows it; or restore without --lazy)");
			free(l->prefix);
			free(l);
			return rc;
		}
		return fail(l, rc, err, err_len, "userfaultfd");
	}
	if (ioctl(l->uffd, UFFDIO_API, &api) < 0)
		return fail(l, -errno, err, err_len, "userfaultfd on shared memory");
	l->start = (uint64_t)(uintptr_t)vm->mem.host;
	l->len = vm->mem.nr_ram_frames * PAGE_SIZE;
	r = (struct uffdio_register){ .range = { l->start, l->len },
				      .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(l->uffd, UFFDIO_REGISTER, &r) < 0)
		return fail(l, -errno, err, err_len, "registering guest memory");
	l->registered = true;
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->stop_fd < 0) {
		unregister_own(l);
		return fail(l, -errno, err, err_len, "eventfd");
	}
	if (vm->backend->lazy_begin) {
		rc = vm->backend->lazy_begin(vm, frame_bytes, l);
		if (rc < 0) {
			unregister_own(l);
			return fail(l, rc, err, err_len, "the backend's page server");
		}
		l->backend_on = true;
	}
	l->loading = true;
	pthread_mutex_init(&l->lock, NULL);
	rc = -pthread_create(&l->thread, NULL, server, l);
	if (rc) {
		if (l->backend_on)
			vm->backend->lazy_end(vm);
		unregister_own(l);
		return fail(l, rc, err, err_len, "the page server");
	}
	vm->lazy = l;
	return 0;
}

void snapshot_lazy_abandon(struct vm *vm)
{
	struct snapshot_lazy *l = vm->lazy;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	__atomic_store_n(&l->abandoned, true, __ATOMIC_RELEASE);
	unregister_own(l);
	if (l->backend_on)
		vm->backend->lazy_end(vm); /* the vCPUs are at the reboot's barrier */
	l->backend_on = false;
	__atomic_store_n(&l->loading, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&l->lock);
}

bool snapshot_lazy_loading(struct vm *vm)
{
	return vm->lazy && __atomic_load_n(&vm->lazy->loading, __ATOMIC_ACQUIRE);
}

void snapshot_lazy_stop(struct vm *vm)
{
	struct snapshot_lazy *l = vm->lazy;
	uint64_t one = 1;

	if (!l)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("restore --lazy: cannot stop the page server");
	pthread_join(l->thread, NULL);
	/* Nothing may wait for a page now the thread is gone: the faults
	 * off (which wakes whoever waits). */
	unregister_own(l);
	if (l->backend_on) {
		vm->backend->lazy_end(vm);
		l->backend_on = false;
	}
	close(l->stop_fd);
	close(l->uffd);
	pthread_mutex_destroy(&l->lock);
	free(l->prefix);
	free(l);
	vm->lazy = NULL;
}
