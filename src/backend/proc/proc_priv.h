/*
 * The proc backend's state, shared by its files (proc.c, proc_dirty.c);
 * nothing outside src/backend/proc/ includes this.
 */
#ifndef PVISOR_PROC_PRIV_H
#define PVISOR_PROC_PRIV_H

#include <linux/filter.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/proc/proc_layout.h"
#include "backend/proc/proc_mirror.h"
#include "core/vm.h"

#define PROC_BPF_MAX (PROC_BPF_SIZE / sizeof(struct sock_filter))

struct proc_ctl;
struct proc_dirty;
struct proc_lazy;

struct proc_vm {
	/* The guest processes' filter, bpf_len of PROC_BPF_MAX entries:
	 * malloc'd, not part of a calloc'd struct, so that only the pages
	 * the program fills are touched (its 52 KiB zeroed were 13 page
	 * faults of each start). */
	struct sock_filter *bpf;
	size_t bpf_len;
	bool fsgsbase;                /* the stub uses rd/wr{fs,gs}base */
	uint32_t spin_iters;          /* pause rounds in PROC_SPIN_NS */
	atomic_uint_fast64_t pt_gen;  /* bumped by every pt_write */
	/* Per frame: the pt_gen of its last pt_write (UINT64_MAX while one
	 * is under way), what an incremental walk skips by. */
	uint64_t *wgen;         /* __atomic_* access only */
	pthread_mutex_t wlock;        /* one pt_write at a time */
	pthread_mutex_t lock;
	struct proc_vcpu *vcpus[VM_MAX_VCPUS];
	/* save --live's tracking of guest writes while it runs (proc_dirty.c),
	 * NULL otherwise; `tracking` is what proc_sync marks into (set and
	 * cleared with the vCPUs paused), `tracker` owns it until the stop. */
	struct proc_dirty *tracking, *tracker;
	/* restore --lazy's page server (proc_lazy.c), NULL otherwise; set
	 * before guest code runs, cleared with the vCPUs paused. */
	struct proc_lazy *lazy;
};

struct proc_vcpu {
	struct vcpu *v;
	uint8_t *region;        /* pvisor's view of the shared stub region */
	struct proc_ctl *ctl;
	pid_t pid;              /* 0 once reaped */
	bool dead;
	char why[128];          /* why the process is gone */
	uint32_t host_seq;      /* last to_host seen */

	atomic_bool kick_pending;
	atomic_bool in_guest;
	_Atomic uint64_t kick_since; /* first unanswered kick (ns), 0 = none */

	atomic_bool dirty;
	atomic_bool full;       /* the next walk may reuse nothing */
	uint64_t synced_gen;
	bool have_l4;
	uint64_t l4_mfn;
	struct proc_runs runs, scratch;
	struct proc_l1s l1s, l1s_scratch; /* the L1 tables of runs, scratch */
	struct proc_opbuf ops;
	bool ops_staged;        /* a last batch rides on the next resume */
	/* The process's userfaultfd (made by it before it locked itself
	 * down; -1 if the host has none), for proc_dirty.c, which looks
	 * faulting addresses up in runs under runs_lock. */
	int uffd;
	/* Its second userfaultfd, in asynchronous write-protect mode, and
	 * its /proc/self/pagemap, which PAGEMAP_SCAN reads the written pages
	 * from (both -1 where the host lacks them: Linux < 6.7). */
	int wp_uffd, pagemap;
	unsigned runs_gen;      /* +1 each proc_sync that changed a mapping */
	pthread_mutex_t runs_lock;

	/* The process's start, awaited before the first run (vm_vcpus_ready,
	 * proc_vcpu_started). */
	pthread_mutex_t start_lock;
	atomic_bool started;    /* it said READY and its fds are in */
	int start_err;          /* 0, or why it did not start */
	int start_sock;         /* our end of its fd socket, -1 when done */
	uint64_t start_deadline;
};

/* Waits (once) for the vCPU's guest process to finish its set-up and
 * takes the descriptors it sent; 0, or an error with pv->why set. */
int proc_vcpu_started(struct proc_vcpu *pv);

#endif
