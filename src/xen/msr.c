/*
 * MSRs of a PV domU.  The segment bases are the vCPU's (what set_segment_base
 * sets); EFER and PAT read as Xen runs the guest; the hypercall-page MSR
 * (CPUID leaf 0x40000002) writes the page.  Anything else a PV domU has no
 * business with raises #GP, which Linux's rdmsr_safe/wrmsr_safe expect.
 */
#include "xen/msr.h"

#include <errno.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/cpuid.h"
#include "xen/pagetype.h"

#define MSR_EFER 0xc0000080u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_SHADOW_GS_BASE 0xc0000102u
#define MSR_TSC_AUX 0xc0000103u
#define MSR_TSC 0x10u
#define MSR_UCODE_REV 0x8bu
#define MSR_MISC_ENABLE 0x1a0u
#define MSR_PAT 0x277u
#define MSR_APIC_BASE 0x1bu

#define EFER_GUEST 0xd01ull /* SCE LME LMA NXE */
#define XEN_PAT 0x0000050100070406ull /* WB WT UC- UC WC WP, Xen's PAT */
/* MISC_ENABLE: fast strings; BTS and PEBS unavailable (Xen's view). */
#define MISC_ENABLE_GUEST ((1ull << 0) | (1ull << 11) | (1ull << 12))

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

static uint64_t host_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

int xen_msr_read(struct vcpu *v, uint32_t idx, uint64_t *val)
{
	switch (idx) {
	case MSR_FS_BASE:
		*val = v->regs.fs_base;
		return 0;
	case MSR_GS_BASE:
		*val = v->regs.gs_base;
		return 0;
	case MSR_SHADOW_GS_BASE:
		*val = v->xen.gs_base_user;
		return 0;
	case MSR_EFER:
		*val = EFER_GUEST;
		return 0;
	case MSR_TSC:
		*val = host_tsc() + (uint64_t)v->vm->tsc_offset;
		return 0;
	case MSR_TSC_AUX:
		*val = v->id;
		return 0;
	case MSR_PAT:
		*val = XEN_PAT;
		return 0;
	case MSR_MISC_ENABLE:
		*val = MISC_ENABLE_GUEST;
		return 0;
	case MSR_UCODE_REV:
		*val = 0;
		return 0;
	case MSR_APIC_BASE:
		/* xAPIC at the default address, enabled; BSP on vCPU 0. */
		*val = 0xfee00000ull | (1ull << 11) | (v->id == 0 ? 1ull << 8 : 0);
		return 0;
	default:
		log_debug("vcpu%u: rdmsr %#x -> #GP", v->id, idx);
		return -EPERM;
	}
}

static int write_hypercall_page(struct vcpu *v, uint64_t val)
{
	uint64_t gpa = val & ~0xfffull;
	uint8_t *page;

	/* Low bits select the page: there is one. */
	if (val & 0xfff)
		return -EPERM;
	if (!gmem_is_ram_frame(&v->vm->mem, gpa >> PAGE_SHIFT))
		return -EPERM;
	page = gmem_ptr(&v->vm->mem, gpa, PAGE_SIZE);
	if (!page)
		return -EPERM;
	/* Like any write by Xen on the guest's behalf: never into a frame
	 * that is a page table (or descriptor table). */
	if (pagetype_get_page(v->vm, gpa >> PAGE_SHIFT, true))
		return -EPERM;
	v->vm->backend->fill_hypercall_page(v->vm, page);
	pagetype_put_page(v->vm, gpa >> PAGE_SHIFT, true);
	return 0;
}

int xen_msr_write(struct vcpu *v, uint32_t idx, uint64_t val)
{
	switch (idx) {
	case MSR_FS_BASE:
		if (!canonical(val))
			return -EPERM;
		v->regs.fs_base = val;
		return 0;
	case MSR_GS_BASE:
		if (!canonical(val))
			return -EPERM;
		v->regs.gs_base = val;
		return 0;
	case MSR_SHADOW_GS_BASE:
		if (!canonical(val))
			return -EPERM;
		v->xen.gs_base_user = val;
		return 0;
	case MSR_EFER:
		/* Xen lets the guest write back what it reads. */
		return val == EFER_GUEST ? 0 : -EPERM;
	case XEN_CPUID_MSR_HYPERCALL:
		return write_hypercall_page(v, val);
	case MSR_UCODE_REV:
	case MSR_MISC_ENABLE:
	case MSR_PAT:
	case MSR_TSC_AUX:
		/* Ignored, as Xen ignores them for a domU. */
		log_debug("vcpu%u: wrmsr %#x=%#llx ignored", v->id, idx,
			  (unsigned long long)val);
		return 0;
	default:
		log_debug("vcpu%u: wrmsr %#x=%#llx -> #GP", v->id, idx,
			  (unsigned long long)val);
		return -EPERM;
	}
}
