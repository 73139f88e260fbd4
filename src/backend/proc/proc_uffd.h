/*
 * What the proc backend's users of the guest processes' userfaultfds
 * share (proc_dirty.c: save --live's tracking; proc_lazy.c: restore
 * --lazy's page serving).  Each process made its descriptor before it
 * locked itself down (proc.c, child_send_uffd).
 */
#ifndef PVISOR_PROC_UFFD_H
#define PVISOR_PROC_UFFD_H

#include <poll.h>
#include <pthread.h>
#include <stdint.h>

struct proc_run;
struct proc_runs;
struct proc_vcpu;
struct proc_vm;

/* Where a guest process can have mappings: from the host's usual
 * vm.mmap_min_addr (below it nothing maps) to the stub region. */
#define PROC_GUEST_AREA_START 0x10000ull

/* The run of runs (sorted by va) that maps va, or NULL. */
const struct proc_run *proc_run_at(const struct proc_runs *runs, uint64_t va);

/* UFFDIO_REGISTER (mode: UFFDIO_REGISTER_MODE_*), UFFDIO_UNREGISTER,
 * UFFDIO_WAKE or UFFDIO_WRITEPROTECT (mode: its mode) on [va, va + len):
 * 0 or -errno. */
int proc_uffd_range(int fd, unsigned long cmd, uint64_t va, uint64_t len, uint64_t mode);

/* p[0] = stop_fd, then each vCPU process's userfaultfd (who[i] its
 * vCPU); how many. */
unsigned proc_uffd_pollset(struct proc_vm *pvm, int stop_fd, struct pollfd *p,
			   struct proc_vcpu **who);

/* The handshake on a guest process's userfaultfd, for both users (shared
 * memory write-protected, and missing pages): 0, or -errno if the host
 * cannot (then fd is not usable). */
int proc_uffd_api(int fd);
/* The same for the second descriptor, in asynchronous write-protect mode
 * (Linux 6.7): 0, or -errno if the host has no such mode. */
int proc_uffd_api_async(int fd);

/* Every registration of the guest area on fd (a guest process's
 * userfaultfd) undone and whoever waits woken: nothing stops in a fault
 * after it.  0 or -errno. */
int proc_uffd_release(int fd);

/* A thread (sandbox role memory, named name) serving the vCPU processes'
 * page faults: each goes to on_fault with its vCPU and address. */
struct proc_uffd_server {
	struct proc_vm *pvm;
	const char *name;
	void (*on_fault)(void *ctx, struct proc_vcpu *pv, uint64_t addr);
	void *ctx;
	int stop_fd;
	pthread_t thread;
};
int proc_uffd_server_start(struct proc_uffd_server *s, struct proc_vm *pvm,
			   const char *name,
			   void (*on_fault)(void *ctx, struct proc_vcpu *pv, uint64_t addr),
			   void *ctx);
void proc_uffd_server_stop(struct proc_uffd_server *s);

#endif
