/*
 * The PV CPUID policy.  Follows what Xen's PV max policy hides from a 64-bit
 * PV guest: virtualization and monitoring hardware, features that need CPL0
 * (SMEP/SMAP/UMIP/PKU/FSGSBASE/INVPCID/PCID, XSAVES), x2APIC and the TSC
 * deadline timer, MTRR/MCE (no MSR emulation for them), and the speculation
 * control MSRs.  XSAVE is hidden too: pvisor does not emulate xsetbv, so the
 * guest falls back to fxsave and its processes see no AVX state.
 */
#include "xen/cpuid.h"

#include <cpuid.h>
#include <string.h>

#include "xen/xenver.h"

#define BIT(n) (1u << (n))

/* Leaf 1 ecx: DTES64 MONITOR DS_CPL VMX SMX EST TM2 PDCM PCID DCA x2APIC
 * TSC_DEADLINE XSAVE OSXSAVE AVX (AVX state needs XSAVE) FMA F16C (VEX). */
#define L1_ECX_HIDE (BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) |     \
		     BIT(8) | BIT(12) | BIT(15) | BIT(17) | BIT(18) | BIT(21) | \
		     BIT(24) | BIT(26) | BIT(27) | BIT(28) | BIT(29))
/* Leaf 1 edx: PSE (no superpages in PV page tables) MCE MTRR MCA PSE36
 * PSN DS ACPI TM PBE */
#define L1_EDX_HIDE (BIT(3) | BIT(7) | BIT(12) | BIT(14) | BIT(17) | BIT(18) | \
		     BIT(21) | BIT(22) | BIT(29) | BIT(31))
/* Leaf 7.0 ebx: FSGSBASE TSC_ADJUST SGX AVX2 SMEP INVPCID RTM PQM MPX PQE
 * AVX512* SMAP (and the VEX/EVEX extensions that need XSAVE state). */
#define L7_EBX_HIDE (BIT(0) | BIT(1) | BIT(2) | BIT(5) | BIT(7) | BIT(10) |    \
		     BIT(11) | BIT(12) | BIT(14) | BIT(15) | BIT(16) | BIT(17) | \
		     BIT(20) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | \
		     BIT(31))
/* Leaf 7.0 ecx: AVX512_VBMI UMIP PKU OSPKE WAITPKG AVX512_VBMI2 CET_SS
 * GFNI VAES VPCLMULQDQ AVX512_VNNI AVX512_BITALG AVX512_VPOPCNTDQ LA57
 * ENQCMD */
#define L7_ECX_HIDE (BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) |     \
		     BIT(7) | BIT(8) | BIT(9) | BIT(10) | BIT(11) | BIT(12) |   \
		     BIT(14) | BIT(16) | BIT(29))
/* Leaf 7.0 edx: AVX512_4VNNIW AVX512_4FMAPS AVX512_VP2INTERSECT TSXLDTRK
 * CET_IBT AMX* IBRS/IBPB STIBP L1D_FLUSH ARCH_CAPS CORE_CAPS SSBD (their
 * MSRs are not emulated) */
#define L7_EDX_HIDE (BIT(2) | BIT(3) | BIT(8) | BIT(16) | BIT(20) | BIT(22) |  \
		     BIT(23) | BIT(24) | BIT(25) | BIT(26) | BIT(27) |          \
		     BIT(28) | BIT(29) | BIT(30) | BIT(31))
/* 0x80000001 ecx: SVM, SKINIT, LWP, PERFCTR_CORE/NB/LLC, MONITORX, XOP
 * FMA4 TBM (XSAVE-state ones) */
#define E1_ECX_HIDE (BIT(2) | BIT(11) | BIT(12) | BIT(15) | BIT(16) |         \
		     BIT(21) | BIT(23) | BIT(24) | BIT(28) | BIT(29))
/* 0x80000001 edx: MCE MTRR MCA, 1 GiB pages (not allowed in PV tables) */
#define E1_EDX_HIDE (BIT(7) | BIT(12) | BIT(14) | BIT(26))
/* 0x80000008 ebx: IBPB IBRS STIBP SSBD... (speculation MSRs) */
#define E8_EBX_HIDE (BIT(12) | BIT(14) | BIT(15) | BIT(24) | BIT(25) | BIT(26))

void cpuid_pv_policy(uint32_t leaf, uint32_t subleaf, unsigned vcpu_id,
		     uint32_t r[4])
{
	if (leaf >= XEN_CPUID_BASE && leaf < XEN_CPUID_BASE + 0x10000) {
		memset(r, 0, 4 * sizeof(r[0]));
		switch (leaf) {
		case XEN_CPUID_BASE:
			r[0] = XEN_CPUID_BASE + 2; /* highest Xen leaf */
			memcpy(&r[1], "XenV", 4);
			memcpy(&r[2], "MMXe", 4);
			memcpy(&r[3], "nVMM", 4);
			break;
		case XEN_CPUID_BASE + 1:
			r[0] = (PVISOR_XEN_MAJOR << 16) | PVISOR_XEN_MINOR;
			break;
		case XEN_CPUID_BASE + 2:
			r[0] = 1; /* hypercall pages */
			r[1] = XEN_CPUID_MSR_HYPERCALL;
			break;
		}
		return;
	}
	switch (leaf) {
	case 1:
		r[1] = (r[1] & 0x00ffffff) | (vcpu_id << 24);
		r[2] &= ~L1_ECX_HIDE;
		r[2] |= BIT(31); /* hypervisor present */
		r[3] &= ~L1_EDX_HIDE;
		break;
	case 5:  /* MONITOR/MWAIT */
	case 6:  /* thermal and power */
	case 0xa: /* architectural perfmon */
	case 0xd: /* XSAVE state (XSAVE hidden) */
	case 0xf: case 0x10: /* RDT */
	case 0x12: /* SGX */
	case 0x14: /* processor trace */
		memset(r, 0, 4 * sizeof(r[0]));
		break;
	case 7:
		if (subleaf == 0) {
			r[1] &= ~L7_EBX_HIDE;
			r[2] &= ~L7_ECX_HIDE;
			r[3] &= ~L7_EDX_HIDE;
		} else {
			memset(r, 0, 4 * sizeof(r[0]));
		}
		break;
	case 0x80000001:
		r[2] &= ~E1_ECX_HIDE;
		r[3] &= ~E1_EDX_HIDE;
		break;
	case 0x80000008:
		r[1] &= ~E8_EBX_HIDE;
		break;
	case 0x8000000a: /* SVM */
	case 0x8000001f: /* SEV */
		memset(r, 0, 4 * sizeof(r[0]));
		break;
	default:
		break;
	}
}

void cpuid_pv(uint32_t leaf, uint32_t subleaf, unsigned vcpu_id, uint32_t r[4])
{
	unsigned a = 0, b = 0, c = 0, d = 0;

	if (leaf < XEN_CPUID_BASE || leaf >= XEN_CPUID_BASE + 0x10000)
		__cpuid_count(leaf, subleaf, a, b, c, d);
	r[0] = a;
	r[1] = b;
	r[2] = c;
	r[3] = d;
	cpuid_pv_policy(leaf, subleaf, vcpu_id, r);
}
