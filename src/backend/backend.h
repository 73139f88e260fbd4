/*
 * A backend runs vCPUs.  Nothing above this interface knows which backend is
 * in use: the core loads registers into struct vcpu, calls vcpu_run(), and
 * handles the struct vexit it gets back.  Page-table stores and base pointer
 * changes go through the backend because on kvm (kvm-pvm shadow paging) a
 * store pvisor makes from the host side is invisible to the vCPU, and on proc
 * the guest's mappings are mirrored into the guest process.
 */
#ifndef PVISOR_BACKEND_H
#define PVISOR_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

enum vexit_kind {
	/* The guest called the hypercall page: rax = hypercall number, args in
	 * rdi, rsi, rdx, r10, r8 (Xen x86-64 ABI); the core puts the result in
	 * rax and the backend resumes after the call. */
	VEXIT_HYPERCALL,
	/* A CPU exception in guest code: vector, error_code (if the vector has
	 * one), cr2 for #PF.  regs hold the faulting context (rip = faulting
	 * instruction). */
	VEXIT_EXCEPTION,
	/* The guest executed `syscall` (kvm) or a raw host system call was
	 * trapped by seccomp (proc, syscall_nr set). */
	VEXIT_SYSCALL,
	/* vcpu_kick() interrupted the vCPU; regs are a precise resumable state. */
	VEXIT_KICK,
	/* The backend cannot continue: message says why. */
	VEXIT_FATAL,
};

struct vexit {
	enum vexit_kind kind;
	unsigned vector;
	uint32_t error_code;
	uint64_t cr2;
	long syscall_nr;
	char message[160];
};

struct backend_ops {
	const char *name; /* "kvm" or "proc" */

	/* 0 if this backend can run on this machine; else -errno and a
	 * one-line reason in why. */
	int (*probe)(char *why, size_t why_len);

	/* Set up after vm->mem exists and before the domain is built; may
	 * keep state in vm->backend_state. */
	int (*vm_init)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);

	int (*vcpu_init)(struct vcpu *v);
	void (*vcpu_destroy)(struct vcpu *v);
	/* Optional: vcpu_init may leave the vCPU's set-up going on beside
	 * the domain's build (proc: its guest process's); this waits for
	 * it, before any vCPU runs and on the thread that made the vCPU.
	 * 0, or -errno once the backend has logged why. */
	int (*vcpu_wait_ready)(struct vcpu *v);

	/* Writes the 4096-byte hypercall page: entry i (32 bytes at i*32)
	 * performs hypercall i with the Xen x86-64 calling convention and
	 * returns with the result in rax.  Entry __HYPERVISOR_iret (23) is
	 * special, as in Xen: the guest jumps to it with the iret frame
	 * partly pushed, and it must `push %rcx; push %r11; push %rax` before
	 * exiting, so that struct iret_context is at rsp at the exit; it
	 * never returns (the core loads the frame). */
	void (*fill_hypercall_page)(struct vm *vm, uint8_t *page);

	/* The L4 entry this backend needs in slot `slot` of every guest L4
	 * table, or 0 if the slot is free for the guest.  Reserved slots
	 * that the backend leaves empty hold 0. */
	bool (*l4_slot_reserved)(const struct vm *vm, unsigned slot);
	uint64_t (*l4_slot_entry)(const struct vm *vm, unsigned slot);

	/* Runs the vCPU from v->regs until the next exit; v->regs holds the
	 * state at the exit.  Returns 0 (exit filled) or -errno. */
	int (*vcpu_run)(struct vcpu *v, struct vexit *exit);

	/* Makes a running (or about to run) vcpu_run() return VEXIT_KICK soon.
	 * Safe from any thread. */
	void (*vcpu_kick)(struct vcpu *v);

	/* A validated page-table store of `val` at guest-physical `gpa` (an
	 * 8-byte aligned entry of a frame in use as a page table).  The
	 * backend writes guest memory at once (so pvisor reads it back) and
	 * makes the vCPU see it before it next runs guest code. */
	int (*pt_write)(struct vcpu *v, uint64_t gpa, uint64_t val);

	/* Switch the vCPU to the page tables rooted at l4_mfn (validated). */
	int (*set_baseptr)(struct vcpu *v, uint64_t l4_mfn);

	/* Flush the vCPU's TLB for one page (va) or everything (all). */
	int (*flush_tlb)(struct vcpu *v, uint64_t va, bool all);

	/* Optional (NULL: the backend runs guests on the host's own
	 * descriptors).  Installs descriptor `index` (< 7168, below Xen's
	 * reserved entries) of v's GDT: a validated code/data descriptor with
	 * DPL 3, or 0. */
	int (*set_gdt_entry)(struct vcpu *v, unsigned index, uint64_t desc);

	/* Optional: a reboot rebuilds the domain in place (core/reboot.c),
	 * every vCPU out of guest code and guest memory cleared: forget
	 * what the old domain left in the backend (mirrored mappings,
	 * descriptors, queued page-table stores, the M2P) so that each vCPU
	 * starts as new.  The backend's host objects stay. */
	void (*vm_reset)(struct vm *vm);
	/* save --live (core/dirty_log.h): tracking the guest's own writes
	 * to RAM while it runs; each call with the vCPUs paused.  NULL
	 * where the backend cannot (a live save then copies all of RAM in
	 * its pause), and for dirty_stop after a last collect, which may
	 * run with the guest running.  collect ORs into a bitmap of
	 * nr_ram_frames bits and tracks on, or with last, stops looking. */
	int (*dirty_start)(struct vm *vm);
	int (*dirty_collect)(struct vm *vm, uint64_t *bits, bool last);
	void (*dirty_stop)(struct vm *vm);
	/* restore --lazy (core/snapshot_lazy.h): pages the guest touches
	 * before they are loaded are served through the backend, from
	 * page(ctx, frame) (the snapshot's bytes, or zeros), where its
	 * accesses do not go through pvisor's mapping of guest memory.
	 * begin before guest code runs; end with the vCPUs paused (or
	 * stopped), after every frame is loaded.  NULL: nothing to do
	 * (kvm: the guest's accesses fault in pvisor's own mapping). */
	int (*lazy_begin)(struct vm *vm, const void *(*page)(void *ctx, uint64_t frame),
			  void *ctx);
	void (*lazy_end)(struct vm *vm);

	/* Optional: the backend maps Xen's read-only M2P table (L4 slot 256)
	 * and is told of every MMU_MACHPHYS_UPDATE. */
	void (*m2p_update)(struct vm *vm, uint64_t mfn, uint64_t pfn);
	/* Where that M2P is mapped (XENMEM_machphys_mapping's v_start); 0:
	 * Xen's RO_MPT_VIRT_START. */
	uint64_t m2p_va;

};

extern const struct backend_ops backend_kvm;
extern const struct backend_ops backend_proc;

/* Looks up a backend by name; NULL if unknown. */
const struct backend_ops *backend_by_name(const char *name);

#endif
