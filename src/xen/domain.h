/*
 * Xen domain and vCPU state kept by pvisor for a PV guest.  Hypercall
 * families (one file each in src/xen/) operate on these.
 */
#ifndef PVISOR_XEN_DOMAIN_H
#define PVISOR_XEN_DOMAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>

#define XEN_NR_EVTCHN 1024 /* pvisor's 2-level limit (Xen's for 64-bit: 4096) */
/* Ports in the table: the FIFO ABI's limit in pvisor (Xen's: 2^17). */
#define XEN_MAX_EVTCHN 4096
#define XEN_FIFO_ARRAY_PAGES (XEN_MAX_EVTCHN / 1024) /* event words per page */
#define XEN_NR_HYPERCALLS 64
#define XEN_MAX_VCPUS 32 /* = VM_MAX_VCPUS (core/vm.h) */
/* Xen-owned frames after RAM: shared_info, the grant table, its v2 status
 * frames. */
#define XEN_GNTTAB_MAX_FRAMES 32
/* v2 status words (2 bytes per 16-byte v2 entry) for the whole table. */
#define XEN_GNTTAB_MAX_STATUS_FRAMES \
	((XEN_GNTTAB_MAX_FRAMES * 256 * 2 + 4095) / 4096)
#define XEN_OWNED_FRAMES (1 + XEN_GNTTAB_MAX_FRAMES + XEN_GNTTAB_MAX_STATUS_FRAMES)

struct pagetype_table; /* xen/pagetype.h */

enum evtchn_state {
	EVTCHN_FREE = 0,
	EVTCHN_RESERVED,    /* port 0 */
	EVTCHN_UNBOUND,     /* alloc_unbound: waiting for remote_dom */
	EVTCHN_INTERDOMAIN, /* bound to a pvisor backend (console, store...) */
	EVTCHN_VIRQ,
	EVTCHN_IPI,
};

struct evtchn {
	enum evtchn_state state;
	unsigned vcpu;       /* notify this vCPU */
	unsigned virq;       /* EVTCHN_VIRQ */
	domid_t remote_dom;  /* EVTCHN_UNBOUND/INTERDOMAIN */
	evtchn_port_t remote_port; /* INTERDOMAIN with remote_dom DOMID_SELF */
	/* EVTCHN_INTERDOMAIN to pvisor: called (on the vCPU thread) when the
	 * guest sends on the port. */
	void (*on_send)(void *opaque);
	void *opaque;
	/* FIFO ABI (xen/event_fifo.c), under xen.lock. */
	uint8_t priority;        /* EVTCHN_FIFO_PRIORITY_* for new events */
	uint8_t last_priority;   /* queue the event was last linked on */
	unsigned last_vcpu;
	bool fifo_pending;       /* raised while no event word covered it */
};

/* FIFO event channel state (Xen's struct evtchn_fifo_domain/_vcpu):
 * plain values, so that it can be saved; the host pointers are derived
 * from the frame numbers. */
struct evtchn_fifo_vcpu {
	uint64_t control_gpa;    /* control block; 0 = none yet */
	struct evtchn_fifo_control_block *control; /* into guest memory */
	uint32_t tail[EVTCHN_FIFO_MAX_QUEUES]; /* last linked port, 0 none */
};

struct evtchn_fifo {
	bool active;             /* FIFO ABI in use (init_control done) */
	unsigned nr_pages;       /* event array pages (expand_array) */
	uint64_t array_mfn[XEN_FIFO_ARRAY_PAGES];
	event_word_t *array[XEN_FIFO_ARRAY_PAGES]; /* into guest memory */
	struct evtchn_fifo_vcpu vcpu[XEN_MAX_VCPUS];
};

struct xen_vcpu {
	uint64_t vcpu_info_gpa;   /* vcpu_info: shared_info slot or registered */
	bool vcpu_info_registered; /* VCPUOP_register_vcpu_info done */
	uint64_t event_callback;  /* CALLBACKTYPE_event rip, 0 = none */
	uint64_t failsafe_callback;
	uint64_t syscall_callback;
	bool syscall_masks_events; /* CALLBACKF_mask_events on syscall */
	bool failsafe_masks_events; /* ... on failsafe (recorded) */
	/* Compat-mode entries: recorded, never delivered (pvisor runs no
	 * 32-bit code; docs/pv-abi.md). */
	uint64_t syscall32_callback, sysenter_callback;
	bool syscall32_masks_events, sysenter_masks_events;
	struct trap_info traps[256]; /* by vector; address 0 = no handler */
	uint64_t kernel_ss, kernel_sp; /* stack_switch */
	uint64_t baseptr_mfn;      /* L4 the vCPU runs on now */
	uint64_t kernel_baseptr_mfn; /* MMUEXT_NEW_BASEPTR */
	uint64_t user_baseptr_mfn; /* MMUEXT_NEW_USER_BASEPTR, 0 = none */
	bool kernel_mode;          /* guest kernel (true) or guest user */
	uint64_t gs_base_user;     /* the inactive GS base (SEGBASE_GS_USER) */
	bool fpu_ts;               /* fpu_taskswitch: CR0.TS as the guest sees */
	int64_t timer_deadline_ns; /* singleshot/set_timer_op, 0 = none */
	int virq_port[NR_VIRQS];   /* bound port per VIRQ, 0 = none */
	bool blocked;              /* in SCHEDOP_block/poll */
	uint64_t hypercalls[XEN_NR_HYPERCALLS]; /* counts by number */
	uint64_t exceptions, upcalls;
	/* Privileged-operation emulation (xen/emulate.c). */
	uint64_t guest_cr4;        /* CR4 as the guest reads it */
	uint64_t debugreg[8];      /* set_debugreg / mov %drN (not armed) */
	unsigned iopl;             /* PHYSDEVOP_set_iopl: virtual IOPL */
	uint16_t user_cs, user_ss; /* selectors guest user mode runs with */
	uint64_t emulated;         /* privileged instructions emulated */
	uint64_t ptwr;             /* page-table writes emulated */
	uint64_t exits;            /* backend exits (core/vcpu.c) */
	bool initialised;          /* has a context (boot or VCPUOP_initialise) */
	bool down;                 /* not runnable (secondary before VCPUOP_up,
				    * or VCPUOP_down); under lock */
	uint64_t gdt_frames[16];   /* set_gdt (xen/descriptor.c) */
	unsigned gdt_ents;
	/* VCPUOP_register_runstate_memory_area (xen/vcpu_op.c). */
	uint64_t runstate_gva;     /* 0 = none */
	struct vcpu_runstate_info runstate;
};

struct xen_domain {
	pthread_mutex_t lock;     /* event channels, timers, wakeups */
	pthread_cond_t wake;      /* a blocked vCPU waits on this */
	uint64_t shared_info_mfn; /* Xen-owned frame after RAM */
	uint64_t gnttab_first_mfn; /* XEN_GNTTAB_MAX_FRAMES frames after it */
	struct gnttab *gnttab;    /* xen/grant.c */
	uint64_t start_info_gva;
	uint64_t console_mfn, store_mfn;
	evtchn_port_t console_port, store_port;
	struct evtchn evtchn[XEN_MAX_EVTCHN];
	struct evtchn_fifo fifo;  /* under lock */
	struct pagetype_table *pagetypes;
	unsigned long vm_assist;  /* VMASST_TYPE_* bits */
	int64_t boot_ns;          /* CLOCK_MONOTONIC at boot: system time 0 */
	uint32_t tsc_mul;         /* vcpu_time_info scale, host TSC -> ns */
	int8_t tsc_shift;
	uint64_t tsc_hz;
	uint64_t hypercall_page_gva;
};

#endif
