/*
 * Debug registers (see debugreg.h).
 */
#include "xen/debugreg.h"

#include "xen/domain.h"

#define CR4_DE (1ull << 3)
#define DR6_RESERVED_ZERO (~0xffffefffull) /* bit 12, bits 32-63 */
#define DR6_RESERVED_ONE 0xffff0ff0ull
#define DR7_RESERVED_ZERO (~0xffff27ffull) /* bits 11-12, 14-15, 32-63 */
#define DR7_RESERVED_ONE 0x400ull
#define DR7_GD (1ull << 13)
#define DR7_ACTIVE 0xffull                 /* L0-3/G0-3 */
#define DR7_RW_IO 2u

/* Xen's access_ok for a breakpoint address: a guest address, neither in
 * the non-canonical hole nor in Xen's range up to HYPERVISOR_VIRT_END. */
static bool guest_addr(uint64_t va)
{
	return va < (1ull << 47) ||
	       (va >= HYPERVISOR_VIRT_END && va <= ~0ull - 7);
}

static bool de(const struct xen_vcpu *x)
{
	return x->guest_cr4 & CR4_DE;
}

static uint64_t dr6_of(const struct xen_vcpu *x)
{
	return x->debugreg[6] ? x->debugreg[6] : XEN_DR6_DEFAULT;
}

static uint64_t dr7_of(const struct xen_vcpu *x)
{
	return x->debugreg[7] ? x->debugreg[7] : XEN_DR7_DEFAULT;
}

long xen_debugreg_set(struct xen_vcpu *x, unsigned reg, uint64_t val)
{
	switch (reg) {
	case 0: case 1: case 2: case 3:
		if (!guest_addr(val))
			return -XEN_EPERM;
		x->debugreg[reg] = val;
		return 0;
	case 4:
		if (de(x))
			return -XEN_ENODEV;
		/* DR4 is DR6 without CR4.DE */
		__attribute__((fallthrough));
	case 6:
		x->debugreg[6] = (val & ~DR6_RESERVED_ZERO) | DR6_RESERVED_ONE;
		return 0;
	case 5:
		if (de(x))
			return -XEN_ENODEV;
		/* DR5 is DR7 without CR4.DE */
		__attribute__((fallthrough));
	case 7:
		val = (val & ~DR7_RESERVED_ZERO) | DR7_RESERVED_ONE;
		if (val & DR7_GD)
			return -XEN_EPERM;
		if (val & DR7_ACTIVE) {
			/* An I/O breakpoint (R/W = 10) needs CR4.DE. */
			for (unsigned i = 16; i < 32; i += 4)
				if (((val >> i) & 3) == DR7_RW_IO && !de(x))
					return -XEN_EPERM;
		}
		x->debugreg[7] = val;
		return 0;
	default:
		return -XEN_ENODEV;
	}
}

long xen_debugreg_get(const struct xen_vcpu *x, unsigned reg)
{
	switch (reg) {
	case 0: case 1: case 2: case 3:
		return (long)x->debugreg[reg];
	case 4:
		if (de(x))
			break;
		/* fall through */
	case 6:
		return (long)dr6_of(x);
	case 5:
		if (de(x))
			break;
		/* fall through */
	case 7:
		return (long)dr7_of(x);
	default:
		break;
	}
	return -XEN_EINVAL;
}
