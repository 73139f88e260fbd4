/*
 * Privileged-operation emulation for PV guests (see emulate.h), after Xen's
 * pv/emul-priv-op.c, pv/emul-inv-op.c and pv/ro-page-fault.c.
 */
#include "xen/emulate.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/cpuid.h"
#include "xen/debugreg.h"
#include "xen/hypercall.h"
#include "xen/msr.h"
#include "xen/pagetype.h"
#include "xen/shared.h"

#define VEC_DB 1
#define VEC_UD 6
#define RFLAGS_TF (1ull << 8)
#define VEC_GP 13
#define VEC_PF 14

#define PFEC_PRESENT 1u
#define PFEC_WRITE 2u
#define PFEC_USER 4u
#define PFEC_INSN 16u

#define CR0_GUEST 0x8005003bull /* PE MP ET NE WP AM PG */
#define CR0_TS (1ull << 3)

/* Reads up to EMUL_MAX_LEN instruction bytes at rip (fewer at the end of
 * the mapped range).  Returns the count. */
static size_t fetch(struct vcpu *v, uint8_t *buf)
{
	uint64_t rip = v->regs.rip;
	size_t n = EMUL_MAX_LEN;
	size_t first = PAGE_SIZE - (rip & (PAGE_SIZE - 1));

	if (!hc_read(v, rip, buf, n))
		return n;
	if (first < n && !hc_read(v, rip, buf, first))
		return first;
	return 0;
}

static void set_gp(struct vexit *ex)
{
	ex->kind = VEXIT_EXCEPTION;
	ex->vector = VEC_GP;
	ex->error_code = 0;
	ex->cr2 = 0;
}

static void do_cpuid(struct vcpu *v)
{
	uint32_t r[4];

	cpuid_pv((uint32_t)v->regs.rax, (uint32_t)v->regs.rcx, v->id, r);
	v->regs.rax = r[0];
	v->regs.rbx = r[1];
	v->regs.rcx = r[2];
	v->regs.rdx = r[3];
}

static uint64_t tsc_now(struct vcpu *v)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32 | lo) + (uint64_t)v->vm->tsc_offset;
}

static int read_cr(struct vcpu *v, unsigned n, uint64_t *val)
{
	struct vcpu_info *vi;

	switch (n) {
	case 0:
		*val = CR0_GUEST | (v->xen.fpu_ts ? CR0_TS : 0);
		return 0;
	case 2:
		vi = xen_vcpu_info(v);
		*val = vi ? vi->arch.cr2 : 0;
		return 0;
	case 3:
		*val = (v->xen.kernel_mode ? v->xen.kernel_baseptr_mfn
					   : v->xen.user_baseptr_mfn) << PAGE_SHIFT;
		return 0;
	case 4:
		/* Until the guest writes it: PAE OSFXSR OSXMMEXCPT. */
		*val = v->xen.guest_cr4 ? v->xen.guest_cr4 : 0x620;
		return 0;
	default:
		return -EPERM;
	}
}

static int write_cr(struct vcpu *v, unsigned n, uint64_t val)
{
	struct vcpu_info *vi;

	switch (n) {
	case 0:
		/* Only TS may change (Xen's rule). */
		if ((val ^ CR0_GUEST) & ~CR0_TS)
			return -EPERM;
		v->xen.fpu_ts = val & CR0_TS;
		return 0;
	case 2:
		vi = xen_vcpu_info(v);
		if (vi)
			vi->arch.cr2 = val;
		return 0;
	case 3:
		return pagetype_new_baseptr(v, val >> PAGE_SHIFT, false) ? -EPERM : 0;
	case 4:
		/* Xen accepts and keeps the guest's view; the real CR4 is
		 * pvisor's. */
		v->xen.guest_cr4 = val;
		return 0;
	default:
		return -EPERM;
	}
}

/*
 * PIT channel 2 data port: a free-running down-counter read LSB then MSB.
 * A domU has no PIT (Xen reads all ones), but Linux's early calibration
 * then spins 50000 iterations on port 0x42 (two exits each, ~10 s here);
 * with a counter that moves it gives up after a few reads.
 */
static __thread bool pit2_msb;

static uint8_t pit2_read(void)
{
	struct timespec ts;
	uint64_t ticks;
	uint16_t cnt;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ticks = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) *
		1193182ull / 1000000000ull;
	cnt = (uint16_t)(0xffff - (ticks & 0xffff));
	pit2_msb = !pit2_msb;
	return pit2_msb ? (uint8_t)cnt : (uint8_t)(cnt >> 8);
}

/* in/out: a domU has no device ports.  With the virtual IOPL high enough
 * (PHYSDEVOP_set_iopl) reads give all ones and writes are dropped, as in
 * Xen; otherwise #GP. */
static bool io_allowed(struct vcpu *v)
{
	unsigned cpl = v->xen.kernel_mode ? 1 : 3;

	return v->xen.iopl >= cpl;
}

/* The #GP / #UD path.  Returns 1 emulated, 0 not ours, -1 #GP. */
static int emulate_priv(struct vcpu *v, const struct emul_insn *in, bool ud)
{
	struct regs *r = &v->regs;
	bool kernel = v->xen.kernel_mode;
	uint64_t val;

	if (ud)
		return in->op == EOP_XEN_CPUID ? (do_cpuid(v), 1) : 0;
	switch (in->op) {
	case EOP_CPUID:
		do_cpuid(v);
		return 1;
	case EOP_RDTSC:
	case EOP_RDTSCP:
		val = tsc_now(v);
		r->rax = (uint32_t)val;
		r->rdx = val >> 32;
		if (in->op == EOP_RDTSCP)
			r->rcx = v->id;
		return 1;
	case EOP_RDMSR:
		if (!kernel || xen_msr_read(v, (uint32_t)r->rcx, &val))
			return -1;
		r->rax = (uint32_t)val;
		r->rdx = val >> 32;
		return 1;
	case EOP_WRMSR:
		val = (r->rdx << 32) | (uint32_t)r->rax;
		if (!kernel || xen_msr_write(v, (uint32_t)r->rcx, val))
			return -1;
		return 1;
	case EOP_WBINVD:
		return kernel ? 1 : -1;
	case EOP_CLTS:
		if (!kernel)
			return -1;
		v->xen.fpu_ts = false;
		return 1;
	case EOP_MOV_FROM_CR:
		if (!kernel || read_cr(v, in->reg, &val))
			return -1;
		*emul_gpr(r, in->rm) = val;
		return 1;
	case EOP_MOV_TO_CR:
		if (!kernel || write_cr(v, in->reg, *emul_gpr(r, in->rm)))
			return -1;
		return 1;
	case EOP_MOV_FROM_DR: {
		long dv;

		/* Xen: DR4/5 with CR4.DE (get_debugreg -EINVAL) is #GP. */
		if (!kernel || in->reg > 7)
			return -1;
		dv = xen_debugreg_get(&v->xen, in->reg);
		if (dv == -XEN_EINVAL)
			return -1;
		*emul_gpr(r, in->rm) = (uint64_t)dv;
		return 1;
	}
	case EOP_MOV_TO_DR:
		if (!kernel || in->reg > 7 ||
		    xen_debugreg_set(&v->xen, in->reg, *emul_gpr(r, in->rm)))
			return -1;
		return 1;
	case EOP_IN:
		if (!io_allowed(v))
			return -1;
		if (in->opsize == 1 && !in->port_dx && in->port == 0x42) {
			r->rax = (r->rax & ~0xffull) | pit2_read();
			return 1;
		}
		if (in->opsize == 4)
			r->rax = 0xffffffffull;
		else
			r->rax |= in->opsize == 2 ? 0xffff : 0xff;
		return 1;
	case EOP_OUT:
		return io_allowed(v) ? 1 : -1;
	case EOP_CLI_STI:
		/* Xen: with the virtual IOPL allowing it, cli/sti are no-ops
		 * (the event mask is the guest's interrupt flag). */
		return io_allowed(v) ? 1 : -1;
	default:
		return -1;
	}
}

/*
 * Xen's writable page tables: a guest-kernel store that faulted on a
 * read-only mapping of one of its own page tables is validated as an
 * mmu_update of the entry and applied.  Returns true if emulated.
 */
static bool emulate_ptwr(struct vcpu *v, const struct vexit *ex,
			 const uint8_t *buf, size_t n)
{
	struct emul_insn in;
	struct regs r = v->regs;
	uint64_t gpa, entry_gpa, old, new;
	int rc;

	if (emul_decode(buf, n, &in) || !in.mem)
		return false;
	if (gva_to_gpa(&v->vm->mem, v->xen.baseptr_mfn, ex->cr2, false, &gpa))
		return false;
	if (!pagetype_is_pagetable(v->vm, gpa >> PAGE_SHIFT))
		return false;
	entry_gpa = gpa & ~7ull;
	if (gmem_read(&v->vm->mem, entry_gpa, &old, sizeof(old)))
		return false;
	rc = emul_store_value(&in, &r, (unsigned)(gpa & 7), old, &new);
	if (rc < 0)
		return false;
	if (rc == 0 && new != old &&
	    pagetype_mod_entry(v, entry_gpa, new, false)) {
		log_guest("vcpu%u: write to page table at %#llx refused "
			  "(entry %#llx)", v->id,
			  (unsigned long long)entry_gpa,
			  (unsigned long long)new);
		return false;
	}
	r.rip += in.len;
	v->regs = r;
	v->xen.ptwr++;
	return true;
}

/*
 * Xen's flat selectors (FLAT_RING3_*, FLAT_KERNEL_*) loaded into a data
 * segment register or %ss.  On kvm they are in pvisor's GDT and load
 * natively; on proc the host's GDT has no such entries and the load is a
 * #GP(selector).  Xen's descriptors are flat (base 0, 4 GiB, DPL 3):
 * for %ds/%es/%ss in 64-bit mode the load changes nothing a guest can
 * use; for %fs/%gs it sets the base to 0 (the active base: in guest
 * kernel mode %gs's is the kernel's, as under Xen).  Any other selector
 * keeps its #GP.  Returns true if emulated.
 */
static bool emulate_sreg(struct vcpu *v, const struct emul_insn *in)
{
	struct regs *r = &v->regs;
	uint64_t val = 0;

	if (in->op == EOP_POP_SREG) {
		if (hc_read(v, r->rsp, &val, in->opsize))
			return false;
	} else if (in->mem) {
		if (hc_read(v, emul_ea(in, r), &val, 2))
			return false;
	} else {
		val = *emul_gpr(r, in->rm);
	}
	if (!emul_xen_flat_selector(in->reg, (uint16_t)val))
		return false;
	if (in->reg == EMUL_FS)
		r->fs_base = 0;
	else if (in->reg == EMUL_GS)
		r->gs_base = 0;
	if (in->op == EOP_POP_SREG)
		r->rsp += in->opsize;
	r->rip += in->len;
	v->xen.emulated++;
	return true;
}

/* Entries of the M2P that exist: whole pages of it, as the kvm backend
 * maps it (beyond: not present, as an unpopulated M2P chunk on Xen). */
static uint64_t m2p_table_bytes(const struct vm *vm)
{
	return ((uint64_t)vm->mem.nr_frames * 8 + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
}

bool xen_m2p_read(struct vm *vm, uint64_t va, unsigned size, uint64_t *val)
{
	uint64_t off = va - MACH2PHYS_VIRT_START, res = 0;

	if (va < MACH2PHYS_VIRT_START || size > 8 ||
	    off + size > m2p_table_bytes(vm))
		return false;
	for (unsigned i = 0; i < size; i++) {
		uint64_t e = pagetype_m2p(vm, (off + i) / 8);

		res |= ((e >> (8 * ((off + i) % 8))) & 0xff) << (8 * i);
	}
	*val = res;
	return true;
}

/*
 * A fault in [MACH2PHYS_VIRT_START, MACH2PHYS_VIRT_END): Xen's read-only
 * M2P, which neither backend maps there (proc: nothing above the host's
 * user space; kvm: kvm-pvm faults reads in L4 slot 256).  A load is
 * answered from pvisor's M2P and stepped over.  Anything else gets the
 * fault Xen would give: present (read-only) within the table, not
 * present beyond it; and with VMASST_TYPE_m2p_strict guest user mode
 * sees no M2P at all.  Returns true if emulated.
 */
static bool emulate_m2p(struct vcpu *v, struct vexit *ex)
{
	uint8_t buf[EMUL_MAX_LEN];
	struct emul_insn in;
	bool visible = v->xen.kernel_mode ||
		       !(v->vm->xen.vm_assist & (1ul << VMASST_TYPE_m2p_strict));
	bool in_table = ex->cr2 - MACH2PHYS_VIRT_START < m2p_table_bytes(v->vm);
	uint64_t val;
	size_t n;

	if (visible && in_table &&
	    !(ex->error_code & (PFEC_WRITE | PFEC_INSN))) {
		n = fetch(v, buf);
		if (n && !emul_decode(buf, n, &in) && in.op == EOP_LOAD &&
		    in.mem && emul_ea(&in, &v->regs) == ex->cr2 &&
		    xen_m2p_read(v->vm, ex->cr2, in.srcsize, &val) &&
		    !emul_load_apply(&in, &v->regs, val)) {
			v->regs.rip += in.len;
			v->xen.emulated++;
			return true;
		}
	}
	ex->error_code &= PFEC_WRITE | PFEC_INSN | PFEC_USER;
	if (visible && in_table)
		ex->error_code |= PFEC_PRESENT;
	return false;
}

/*
 * After an instruction pvisor emulated: with TF set the guest gets the
 * #DB a CPU (and Xen's emulator) raises after it.  True if *ex is now
 * that #DB, for the caller to bounce.
 */
static bool single_step_trap(struct vcpu *v, struct vexit *ex)
{
	if (!(v->regs.rflags & RFLAGS_TF))
		return false;
	ex->kind = VEXIT_EXCEPTION;
	ex->vector = VEC_DB;
	ex->error_code = 0;
	ex->cr2 = 0;
	return true;
}

bool xen_emulate_fault(struct vcpu *v, struct vexit *ex)
{
	uint8_t buf[EMUL_MAX_LEN];
	struct emul_insn in;
	size_t n;
	int rc;

	if (ex->kind != VEXIT_EXCEPTION)
		return false;
	if (ex->vector == VEC_PF && ex->cr2 >= MACH2PHYS_VIRT_START &&
	    ex->cr2 < MACH2PHYS_VIRT_END)
		return emulate_m2p(v, ex) && !single_step_trap(v, ex);
	if (ex->vector == VEC_PF) {
		if (!v->xen.kernel_mode ||
		    (ex->error_code & (PFEC_PRESENT | PFEC_WRITE | PFEC_INSN)) !=
			    (PFEC_PRESENT | PFEC_WRITE))
			return false;
		n = fetch(v, buf);
		return n && emulate_ptwr(v, ex, buf, n) &&
		       !single_step_trap(v, ex);
	}
	if (ex->vector != VEC_GP && ex->vector != VEC_UD)
		return false;
	n = fetch(v, buf);
	if (!n || emul_decode(buf, n, &in))
		return false;
	if (in.op == EOP_MOV_SREG || in.op == EOP_POP_SREG) {
		if (ex->vector != VEC_GP || !emulate_sreg(v, &in))
			return false;
		/* A load of %ss holds a single-step #DB back until after the
		 * next instruction (the interrupt shadow): the host's TF trap
		 * after that instruction is it. */
		return in.reg == EMUL_SS || !single_step_trap(v, ex);
	}
	if (ex->vector == VEC_GP && ex->error_code)
		return false; /* other selector faults are the guest's */
	rc = emulate_priv(v, &in, ex->vector == VEC_UD);
	if (rc == 0)
		return false;
	if (rc < 0) {
		log_debug("vcpu%u: privileged op %d at %#llx -> #GP", v->id,
			  in.op, (unsigned long long)v->regs.rip);
		set_gp(ex);
		return false;
	}
	v->regs.rip += in.len;
	v->xen.emulated++;
	return !single_step_trap(v, ex);
}
