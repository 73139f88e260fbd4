/*
 * A virtual machine: guest memory, vCPUs, the backend that runs them, the
 * Xen domain state, and how it ends.
 */
#ifndef PVISOR_VM_H
#define PVISOR_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <pvisor/abi.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/gmem.h"
#include "core/regs.h"
#include "xen/domain.h"

#define VM_MAX_VCPUS 32

struct boot_image; /* core/boot.h */

struct vcpu {
	struct vm *vm;
	unsigned id;
	struct regs regs;       /* canonical while the vCPU is out of vcpu_run */
	void *backend_state;
	pthread_t thread;
	bool running;           /* thread is set and in the run loop */
	bool parked;            /* waiting out vm_pause(); under xen.lock */
	struct xen_vcpu xen;    /* Xen per-vCPU state (xen/domain.h) */
};

/* Why the VM stopped. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_SHUTDOWN, /* the guest asked (SCHEDOP_shutdown) */
	VM_STOP_FAULT,    /* pvisor stopped a misbehaving guest */
	VM_STOP_TIMEOUT,  /* --timeout expired */
	VM_STOP_SIGNAL,   /* SIGINT/SIGTERM or the console escape */
	VM_STOP_INTERNAL, /* pvisor itself failed */
	VM_STOP_API,      /* the control API stopped it (services/ctl) */
	VM_STOP_SAVED,    /* suspended into a snapshot (core/snapshot_save.c) */
};

/* pvisor's exit status when the control API stops the guest without the
 * guest's cooperation: as a SIGTERM would (128 + 15). */
#define VM_EXIT_API_STOP 143

struct vm {
	const struct vm_config *cfg;
	const struct backend_ops *backend;
	void *backend_state;
	bool backend_ready;         /* backend->vm_init succeeded */
	struct gmem mem;
	int64_t tsc_offset;         /* guest TSC - host TSC, set by the backend */
	struct xen_domain xen;      /* Xen domain state (xen/domain.h) */
	struct consback *console;   /* services/console */
	struct vconsole *vconsole;  /* services/console/vconsole.c (--console2) */
	struct xs_service *xenstore; /* services/xenstore/xs_service.c */
	struct blkback *blkback;    /* services/blkback (--disk) */
	struct scsiback *scsiback;  /* services/scsiback (--scsi) */
	struct evloop *evloop;      /* core/evloop.c */
	struct netback *netback;    /* services/netback (--net) */
	struct p9back *p9back;      /* services/p9back (--share) */
	unsigned nr_vcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	bool paused;                /* vm_pause(): no guest code runs; under xen.lock */
	struct ctl_server *ctl;     /* services/ctl (--api); owned by main */
	struct save_request *save;  /* a save asked for (core/snapshot_save.h);
				     * under xen.lock */
	/* A live save under way, as `ctl status` shows it: core/snapshot_live.c
	 * writes, the control thread reads (relaxed atomics: counters, not a
	 * transaction). */
	struct {
		unsigned phase;      /* enum live_save_phase (core/snapshot_live.h) */
		unsigned rounds;     /* pre-copy rounds after the first copy */
		uint64_t frames;     /* frames copied into the stage so far */
		int64_t started_ns;  /* time_monotonic_ns() at the request */
		int stage_fd;        /* the stage's memfd (--api), or -1 */
	} live_save;
	struct dirty_host *dirty_host; /* core/dirty_log.c (--api), or NULL */
	struct snapshot_lazy *lazy; /* restore --lazy (core/snapshot_lazy.c), or NULL */

	const struct boot_image *boot; /* the kernel a reboot boots again
					* (core/boot.h); NULL: none (restored) */
	/* A reboot in place (core/reboot.c); under xen.lock. */
	struct {
		bool pending;        /* asked for: the vCPUs meet, one rebuilds */
		bool claimed;        /* a vCPU thread is rebuilding */
		unsigned arrived;    /* the other vCPU threads waiting for it */
		unsigned count;      /* reboots done (atomic reads: ctl status) */
	} reboot;
	/* A control client waits for a reboot (services/ctl/ctl_reboot.c);
	 * the event thread's only. */
	struct {
		bool active;
		unsigned from;       /* reboot.count when asked */
		int64_t deadline_ns; /* CLOCK_MONOTONIC; 0: none (forced) */
		double timeout_s;
	} ctl_reboot;

	atomic_int stop_reason;     /* enum vm_stop_reason; first writer wins */
	int exit_status;            /* pvisor's exit status once stopped */
	char report[2048];          /* what went wrong, for the user */
};

/*
 * Creates the VM for cfg on backend: guest memory (RAM + the shared_info
 * frame), the Xen domain state, the backend VM, the console and xenstore
 * event channels.  On failure a one-line reason is in err and vm_destroy()
 * must still be called.  0 or -errno.  vm must be all zeros (static
 * storage or calloc): it is 230 KiB, mostly the event-channel table, and
 * clearing it here would fault in every page of it.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg,
	      const struct backend_ops *backend, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Adds a vCPU (id = current count) in guest kernel mode.  0 or -errno. */
int vm_add_vcpu(struct vm *vm, struct vcpu **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Waits for what vm_add_vcpu left the backend doing (backend.h,
 * vcpu_wait_ready); on the thread that added them, before any runs.
 * 0 or -errno (logged). */
int vm_vcpus_ready(struct vm *vm) __attribute__((warn_unused_result));

/* Wakes every vCPU: blocked ones, parked ones, and those in guest code
 * (kicked out of it); and the event thread.  Thread-safe. */
void vm_kick_all(struct vm *vm);

/* The Xen state of a new vCPU (guest kernel mode, its vcpu_info in
 * shared_info, no context) and zeroed registers: vm_add_vcpu, and a
 * reboot (core/reboot.c) while the vCPU is out of guest code. */
void vcpu_reset(struct vcpu *v);

/* Frees everything vm_create/vm_add_vcpu made; the vCPUs must not run. */
void vm_destroy(struct vm *vm);

/* Runs v until the VM stops (core/vcpu.c). */
void vcpu_run_loop(struct vcpu *v);

/*
 * Stops the VM (all vCPUs return from their run loops) with `reason` and the
 * process exit status; the first call wins, later calls are ignored.  fmt,
 * if not NULL, becomes the report printed to the user.  Thread-safe.
 */
void vm_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline bool vm_stopped(struct vm *vm)
{
	return atomic_load(&vm->stop_reason) != VM_RUNNING;
}

/*
 * Stops the VM because of a vCPU's misbehaviour, with a report naming the
 * reason and the vCPU's registers.  Used for unhandled faults, forbidden
 * instructions, raw system calls.
 */
void vm_stop_fault(struct vcpu *v, const struct vexit *exit, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

/*
 * Pauses the VM: every vCPU leaves guest code at its next exit (kicked out
 * of it now) and waits before running guest code again; timers and devices
 * go on, so events queue as under Xen's domain pause.  Waits up to
 * timeout_ms for every vCPU to be out of guest code.  0, or -ETIMEDOUT with
 * the VM still marked paused (vCPUs park as soon as they exit).
 */
int vm_pause(struct vm *vm, unsigned timeout_ms);
void vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);

/* What a vCPU is doing, for `status`: "running", "blocked" (SCHEDOP_block
 * or poll), "paused" (parked by vm_pause), "down" (not up), "stopped" (its
 * thread left the run loop or never entered it). */
const char *vcpu_run_state(struct vcpu *v);

/* Formats v's registers (and exit detail if not NULL) into buf. */
void vcpu_format_regs(const struct vcpu *v, char *buf, size_t len);

#endif
