/*
 * Software interrupts from guest code (see softint.h).
 */
#include "xen/softint.h"

#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/traps.h"

#define VEC_DB 1
#define VEC_BP 3
#define VEC_UD 6
#define VEC_GP 13
#define VEC_INT80 0x80

bool softint_permitted(unsigned ti_flags, bool kernel_mode)
{
	return (ti_flags & 3) >= (kernel_mode ? 1u : 3u);
}

enum softint_kind softint_decode(const uint8_t *buf, size_t n,
				 struct softint *out)
{
	out->kind = SOFTINT_NONE;
	out->vector = 0;
	out->len = 0;
	if (n < 1)
		return SOFTINT_NONE;
	switch (buf[0]) {
	case 0xcd:
		if (n < 2)
			return SOFTINT_NONE;
		out->kind = SOFTINT_INTN;
		out->vector = buf[1];
		out->len = 2;
		break;
	case 0xcc:
		out->kind = SOFTINT_INT3;
		out->vector = VEC_BP;
		out->len = 1;
		break;
	case 0xf1:
		out->kind = SOFTINT_INT1;
		out->vector = VEC_DB;
		out->len = 1;
		break;
	default:
		break;
	}
	return out->kind;
}

static void set_exception(struct vexit *ex, unsigned vector, uint32_t ec)
{
	ex->kind = VEXIT_EXCEPTION;
	ex->vector = vector;
	ex->error_code = ec;
	ex->cr2 = 0;
}

/*
 * `int $n` at rip refused by the host's IDT: Xen's "cunning trick".
 * Delivered if the guest's trap_info allows it, else the #GP stays.
 */
static bool int_n(struct vcpu *v, struct vexit *ex, unsigned n)
{
	const struct trap_info *ti = &v->xen.traps[n & 0xff];

	if (!softint_permitted(ti->flags, v->xen.kernel_mode)) {
		set_exception(ex, VEC_GP, ((n & 0xff) << 3) | SOFTINT_GP_IDT);
		return false;
	}
	v->regs.rip += 2;
	xen_bounce_softint(v, n & 0xff);
	return true;
}

/* The proc host ran `int $0x80` as a 32-bit system call (rip past it);
 * anything else that reached the host's compat entry is not the guest's
 * to make. */
static bool host_int80(struct vcpu *v, struct vexit *ex)
{
	uint8_t insn[2];

	if (hc_read(v, v->regs.rip - 2, insn, 2) || insn[0] != 0xcd ||
	    insn[1] != VEC_INT80) {
		vm_stop_fault(v, ex, "32-bit system call from guest code "
				     "(not int $0x80): pvisor runs no "
				     "compat-mode code");
		return true;
	}
	v->regs.rip -= 2;
	return int_n(v, ex, VEC_INT80);
}

/* kvm-pvm raises #UD for `int n` (and possibly int3/icebp) at CPL3; on
 * hardware these opcodes never #UD in 64-bit mode. */
static bool ud_softint(struct vcpu *v, struct vexit *ex)
{
	uint8_t insn[2];
	struct softint si;
	size_t n = 2;

	if (hc_read(v, v->regs.rip, insn, 2)) {
		n = 1;
		if (hc_read(v, v->regs.rip, insn, 1))
			return false;
	}
	switch (softint_decode(insn, n, &si)) {
	case SOFTINT_INTN:
		return int_n(v, ex, si.vector);
	case SOFTINT_INT3:
	case SOFTINT_INT1:
		/* Traps: rip past the instruction, no DPL check (Xen's
		 * do_int3 and do_debug). */
		v->regs.rip += si.len;
		set_exception(ex, si.vector, 0);
		return false;
	default:
		return false;
	}
}

bool xen_softint_exit(struct vcpu *v, struct vexit *ex)
{
	if (ex->kind != VEXIT_EXCEPTION)
		return false;
	if (ex->vector == VEC_INT80)
		return host_int80(v, ex);
	if (ex->vector == VEC_GP && (ex->error_code & SOFTINT_GP_IDT) &&
	    !(ex->error_code & SOFTINT_GP_EXT))
		return int_n(v, ex, (ex->error_code >> 3) & 0xff);
	if (ex->vector == VEC_UD)
		return ud_softint(v, ex);
	return false;
}
