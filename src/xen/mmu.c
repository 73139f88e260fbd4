/*
 * The MMU hypercalls: mmu_update, update_va_mapping, mmuext_op.  They parse
 * the guest's requests (each copied once with hc_read, then acted on) and
 * leave the page-type rules to pagetype.c.  Return values, pdone and the
 * stop-at-first-error behaviour follow Xen's do_mmu_update/do_mmuext_op
 * (xen/arch/x86/mm.c); docs/page-types.md lists the deliberate differences.
 */
#include "core/log.h"
#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

/* Xen: count & MMU_UPDATE_PREEMPTED marks a continuation. */
#define COUNT_PREEMPTED 0x80000000u
#define LDT_MAX_ENTS 8192u

/* Only DOMID_SELF: pvisor runs one domain and no foreign page tables
 * (Xen: get_pg_owner() fails -> -ESRCH). */
static bool foreigndom_ok(uint64_t foreigndom)
{
	return (uint32_t)foreigndom == DOMID_SELF;
}

static bool addr_ok(uint64_t va)
{
	if ((uint64_t)((int64_t)(va << 16) >> 16) != va)
		return false;
	return va < HYPERVISOR_VIRT_START || va >= HYPERVISOR_VIRT_END;
}

static void flush_one(struct vcpu *v, uint64_t va, bool all)
{
	const struct backend_ops *b = v->vm->backend;

	if (b && b->flush_tlb)
		(void)b->flush_tlb(v, va, all);
}

/* Xen's vcpumask_to_pcpumask(): the guest's vCPU bitmap; one unsigned long
 * covers VM_MAX_VCPUS (32).  0 or -XEN_EFAULT. */
static int read_vcpumask(struct vcpu *v, uint64_t gva, uint64_t *mask)
{
	if (gva == 0 || hc_read(v, gva, mask, sizeof(*mask)) < 0)
		return -XEN_EFAULT;
	return 0;
}

/* Flushes one page (all false) or everything on the vCPUs in mask. */
static void flush_mask(struct vcpu *v, uint64_t mask, uint64_t va, bool all)
{
	struct vm *vm = v->vm;
	unsigned n = vm->nr_vcpus < VM_MAX_VCPUS ? vm->nr_vcpus : VM_MAX_VCPUS;
	uint64_t every = (1ull << n) - 1; /* n <= 32 */

	if (n == 0) {
		mask = every = 1; /* a vCPU outside vm->vcpus (tests) */
		flush_one(v, va, all);
	}
	for (unsigned i = 0; i < n; i++) {
		if ((mask >> i) & 1 && vm->vcpus[i])
			flush_one(vm->vcpus[i], va, all);
	}
	if (all && (mask & every) == every)
		pagetype_tlb_flushed(vm, true);
	else if (all && v->id < 64 && ((mask >> v->id) & 1))
		pagetype_tlb_flushed(vm, false);
}

/* update_va_mapping's flush: UVMF_LOCAL, UVMF_ALL or a bitmap pointer. */
static int uvmf_flush(struct vcpu *v, uint64_t sel, uint64_t va, bool all)
{
	uint64_t mask;

	if (sel == UVMF_LOCAL) {
		flush_one(v, va, all);
		if (all)
			pagetype_tlb_flushed(v->vm, false);
		return 0;
	}
	if (sel == UVMF_ALL) {
		flush_mask(v, ~0ull, va, all);
		return 0;
	}
	if (read_vcpumask(v, sel, &mask) < 0)
		return -XEN_EFAULT;
	flush_mask(v, mask, va, all);
	return 0;
}

/*
 * The common start of mmu_update and mmuext_op: a continuation (count has
 * COUNT_PREEMPTED) resumes the guest's running *pdone total, as in Xen; only
 * DOMID_SELF may be the foreign domain.  False if it is another domain.
 */
static bool batch_start(struct vcpu *v, const struct hc_args *a,
			uint32_t *count, uint32_t *done)
{
	uint64_t pdone = a->a[2];

	*done = 0;
	if (*count & COUNT_PREEMPTED) {
		*count &= ~COUNT_PREEMPTED;
		if (pdone && hc_read(v, pdone, done, sizeof(*done)) < 0)
			*done = 0;
	}
	return foreigndom_ok(a->a[3]);
}

long hc_mmu_update(struct vcpu *v, const struct hc_args *a)
{
	uint64_t ureqs = a->a[0], pdone = a->a[2];
	uint32_t count = (uint32_t)a->a[1], done = 0, i;
	long rc = 0;

	if (!batch_start(v, a, &count, &done))
		return -XEN_ESRCH;
	for (i = 0; i < count; i++) {
		struct mmu_update req;
		unsigned cmd;

		if (hc_read(v, ureqs + (uint64_t)i * sizeof(req), &req,
			    sizeof(req)) < 0) {
			rc = -XEN_EFAULT;
			break;
		}
		/* The command is in the low bits of ptr (xen.h). */
		cmd = req.ptr & 7;
		switch (cmd) {
		case MMU_NORMAL_PT_UPDATE:
		case MMU_PT_UPDATE_PRESERVE_AD:
		case MMU_PT_UPDATE_NO_TRANSLATE: /* PV: nothing to translate */
			rc = pagetype_mod_entry(v, req.ptr - cmd, req.val,
						cmd == MMU_PT_UPDATE_PRESERVE_AD);
			break;
		case MMU_MACHPHYS_UPDATE:
			rc = pagetype_set_m2p(v->vm, req.ptr >> PAGE_SHIFT,
					      req.val);
			break;
		default:
			rc = -XEN_ENOSYS;
			break;
		}
		if (rc < 0) {
			log_guest("mmu_update[%u] ptr %#lx val %#lx: %ld", i,
				  (unsigned long)req.ptr,
				  (unsigned long)req.val, rc);
			break;
		}
	}
	/* Xen reports the requests done even on failure, and ignores a
	 * pdone it cannot write. */
	if (pdone) {
		done += i;
		(void)!hc_write(v, pdone, &done, sizeof(done));
	}
	return rc;
}

long hc_update_va_mapping(struct vcpu *v, const struct hc_args *a)
{
	uint64_t va = a->a[0], val = a->a[1], flags = a->a[2];
	uint64_t sel = flags & ~(uint64_t)UVMF_FLUSHTYPE_MASK;
	long rc, frc = 0;

	rc = pagetype_mod_va(v, va, val);
	if (rc < 0)
		log_guest("update_va_mapping %#lx -> %#lx: %ld",
			  (unsigned long)va, (unsigned long)val, rc);
	/* Xen flushes as asked even when the update failed. */
	switch (flags & UVMF_FLUSHTYPE_MASK) {
	case UVMF_TLB_FLUSH:
		frc = uvmf_flush(v, sel, 0, true);
		break;
	case UVMF_INVLPG:
		frc = uvmf_flush(v, sel, va, false);
		break;
	default:
		break;
	}
	return rc < 0 ? rc : frc;
}

static long mmuext_one(struct vcpu *v, const struct mmuext_op *op)
{
	uint64_t la = op->arg1.linear_addr;

	switch (op->cmd) {
	case MMUEXT_PIN_L1_TABLE:
	case MMUEXT_PIN_L2_TABLE:
	case MMUEXT_PIN_L3_TABLE:
	case MMUEXT_PIN_L4_TABLE:
		return pagetype_pin(v, op->arg1.mfn,
				    op->cmd - MMUEXT_PIN_L1_TABLE + 1);
	case MMUEXT_UNPIN_TABLE:
		return pagetype_unpin(v, op->arg1.mfn);
	case MMUEXT_NEW_BASEPTR:
		return pagetype_new_baseptr(v, op->arg1.mfn, false);
	case MMUEXT_NEW_USER_BASEPTR:
		return pagetype_new_baseptr(v, op->arg1.mfn, true);
	case MMUEXT_TLB_FLUSH_LOCAL:
		return uvmf_flush(v, UVMF_LOCAL, 0, true);
	case MMUEXT_INVLPG_LOCAL:
		if (addr_ok(la))
			flush_one(v, la, false);
		return 0;
	case MMUEXT_TLB_FLUSH_MULTI:
	case MMUEXT_INVLPG_MULTI: {
		uint64_t mask;

		/* Xen turns an unreadable bitmap into -EINVAL here. */
		if (read_vcpumask(v, (uint64_t)(uintptr_t)op->arg2.vcpumask.p,
				  &mask) < 0)
			return -XEN_EINVAL;
		if (op->cmd == MMUEXT_TLB_FLUSH_MULTI)
			flush_mask(v, mask, 0, true);
		else if (addr_ok(la))
			flush_mask(v, mask, la, false);
		return 0;
	}
	case MMUEXT_TLB_FLUSH_ALL:
		flush_mask(v, ~0ull, 0, true);
		return 0;
	case MMUEXT_INVLPG_ALL:
		if (addr_ok(la))
			flush_mask(v, ~0ull, la, false);
		return 0;
	case MMUEXT_FLUSH_CACHE:
		/* A domain without I/O resources may not flush caches. */
		return -XEN_EACCES;
	case MMUEXT_FLUSH_CACHE_GLOBAL:
		return -XEN_EINVAL;
	case MMUEXT_SET_LDT: {
		unsigned ents = op->arg2.nr_ents;
		uint64_t ptr = ents ? la : 0;

		if ((ptr & (PAGE_SIZE - 1)) || !addr_ok(ptr) ||
		    ents > LDT_MAX_ENTS)
			return -XEN_EINVAL;
		/* No LDT (the state every vCPU starts in) is all pvisor
		 * supports so far. */
		return ents == 0 ? 0 : -XEN_ENOSYS;
	}
	case MMUEXT_CLEAR_PAGE:
		return pagetype_clear_page(v, op->arg1.mfn);
	case MMUEXT_COPY_PAGE:
		return pagetype_copy_page(v, op->arg1.mfn, op->arg2.src_mfn);
	case MMUEXT_MARK_SUPER:
	case MMUEXT_UNMARK_SUPER:
		return -XEN_EOPNOTSUPP;
	default:
		return -XEN_ENOSYS;
	}
}

long hc_mmuext_op(struct vcpu *v, const struct hc_args *a)
{
	uint64_t uops = a->a[0], pdone = a->a[2];
	uint32_t count = (uint32_t)a->a[1], done = 0, i;
	long rc = 0;

	if (!batch_start(v, a, &count, &done))
		return -XEN_ESRCH;
	for (i = 0; i < count; i++) {
		struct mmuext_op op;

		if (hc_read(v, uops + (uint64_t)i * sizeof(op), &op,
			    sizeof(op)) < 0) {
			rc = -XEN_EFAULT;
			break;
		}
		rc = mmuext_one(v, &op);
		if (rc < 0) {
			log_guest("mmuext_op[%u] cmd %u arg %#lx: %ld", i,
				  op.cmd, (unsigned long)op.arg1.mfn, rc);
			break;
		}
	}
	if (pdone) {
		done += i;
		(void)!hc_write(v, pdone, &done, sizeof(done));
	}
	return rc;
}
