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
#include "xen/hypercall.h"
#include "xen/msr.h"
#include "xen/pagetype.h"
#include "xen/shared.h"

#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

#define PFEC_PRESENT 1u
#define PFEC_WRITE 2u
#define PFEC_INSN 16u

#define RFLAGS_CF (1ul << 0)
#define RFLAGS_PF (1ul << 2)
#define RFLAGS_ZF (1ul << 6)
#define RFLAGS_SF (1ul << 7)
#define RFLAGS_OF (1ul << 11)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_ZF | RFLAGS_SF | \
		      RFLAGS_OF | (1ul << 4))

#define CR0_GUEST 0x8005003bull /* PE MP ET NE WP AM PG */
#define CR0_TS (1ull << 3)

uint64_t *emul_gpr(struct regs *r, unsigned n)
{
	switch (n & 15) {
	case 0: return &r->rax;
	case 1: return &r->rcx;
	case 2: return &r->rdx;
	case 3: return &r->rbx;
	case 4: return &r->rsp;
	case 5: return &r->rbp;
	case 6: return &r->rsi;
	case 7: return &r->rdi;
	case 8: return &r->r8;
	case 9: return &r->r9;
	case 10: return &r->r10;
	case 11: return &r->r11;
	case 12: return &r->r12;
	case 13: return &r->r13;
	case 14: return &r->r14;
	default: return &r->r15;
	}
}

/* Skips a ModRM operand (64-bit addressing) at buf[*pos]; fills reg/rm/mem.
 * 0, -ENODATA. */
static int modrm(const uint8_t *buf, size_t len, unsigned *pos, unsigned rex,
		 struct emul_insn *in)
{
	unsigned p = *pos, mod, rm;

	if (p >= len)
		return -ENODATA;
	mod = buf[p] >> 6;
	rm = buf[p] & 7;
	in->reg = ((buf[p] >> 3) & 7) | (rex & 4 ? 8 : 0);
	in->rm = rm | (rex & 1 ? 8 : 0);
	in->mem = mod != 3;
	p++;
	if (mod != 3) {
		if (rm == 4) { /* SIB */
			if (p >= len)
				return -ENODATA;
			if ((buf[p] & 7) == 5 && mod == 0)
				p += 4;
			p++;
		} else if (rm == 5 && mod == 0) {
			p += 4; /* rip-relative */
		}
		if (mod == 1)
			p += 1;
		else if (mod == 2)
			p += 4;
	}
	if (p > len)
		return -ENODATA;
	*pos = p;
	return 0;
}

static int imm(const uint8_t *buf, size_t len, unsigned *pos, unsigned n,
	       unsigned opsize, struct emul_insn *in)
{
	uint64_t v = 0;

	if (*pos + n > len)
		return -ENODATA;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)buf[*pos + i] << (8 * i);
	/* Sign-extend to the operand size. */
	if (n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ull << (8 * n);
	if (opsize < 8)
		v &= (1ull << (8 * opsize)) - 1;
	in->imm = v;
	in->has_imm = true;
	*pos += n;
	return 0;
}

static const uint8_t xen_cpuid_seq[] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 };

static int decode_0f(const uint8_t *buf, size_t len, unsigned p, unsigned rex,
		     struct emul_insn *in)
{
	uint8_t op;
	int rc;

	if (p >= len)
		return -ENODATA;
	op = buf[p++];
	switch (op) {
	case 0x01:
		if (p >= len)
			return -ENODATA;
		if (buf[p] == 0xf9) {
			in->op = EOP_RDTSCP;
			p++;
			break;
		}
		/* lgdt/lidt/lmsw/invlpg/swapgs/xsetbv... */
		rc = modrm(buf, len, &p, rex, in);
		if (rc)
			return rc;
		in->op = EOP_OTHER_PRIV;
		break;
	case 0x06: in->op = EOP_CLTS; break;
	case 0x08: case 0x09: in->op = EOP_WBINVD; break;
	case 0x30: in->op = EOP_WRMSR; break;
	case 0x31: in->op = EOP_RDTSC; break;
	case 0x32: in->op = EOP_RDMSR; break;
	case 0x33: in->op = EOP_RDPMC; break;
	case 0xa2: in->op = EOP_CPUID; break;
	case 0x20: case 0x21: case 0x22: case 0x23:
		/* mov cr/dr: always a register operand, 64-bit. */
		rc = modrm(buf, len, &p, rex, in);
		if (rc)
			return rc;
		in->mem = false;
		in->opsize = 8;
		in->op = op == 0x20 ? EOP_MOV_FROM_CR :
			 op == 0x22 ? EOP_MOV_TO_CR :
			 op == 0x21 ? EOP_MOV_FROM_DR : EOP_MOV_TO_DR;
		break;
	case 0xb1: /* cmpxchg r, r/m */
	case 0xab: /* bts r, r/m */
	case 0xb3: /* btr r, r/m */
		rc = modrm(buf, len, &p, rex, in);
		if (rc)
			return rc;
		in->op = op == 0xb1 ? EOP_CMPXCHG :
			 op == 0xab ? EOP_BTS : EOP_BTR;
		break;
	case 0xba: /* bt* imm8, r/m */
		rc = modrm(buf, len, &p, rex, in);
		if (rc)
			return rc;
		if ((in->reg & 7) == 5)
			in->op = EOP_BTS;
		else if ((in->reg & 7) == 6)
			in->op = EOP_BTR;
		else
			return -EINVAL;
		rc = imm(buf, len, &p, 1, 1, in);
		if (rc)
			return rc;
		break;
	default:
		return -EINVAL;
	}
	in->len = p;
	return 0;
}

int emul_decode(const uint8_t *buf, size_t len, struct emul_insn *out)
{
	struct emul_insn in;
	unsigned p = 0, rex = 0;
	bool opsize16 = false;
	uint8_t op;
	int rc = 0;

	memset(&in, 0, sizeof(in));
	memset(out, 0, sizeof(*out));
	if (len > EMUL_MAX_LEN)
		len = EMUL_MAX_LEN;
	if (len >= sizeof(xen_cpuid_seq) &&
	    !memcmp(buf, xen_cpuid_seq, sizeof(xen_cpuid_seq))) {
		in.op = EOP_XEN_CPUID;
		in.len = sizeof(xen_cpuid_seq);
		*out = in;
		return 0;
	}
	/* Legacy prefixes, then at most one REX immediately before the
	 * opcode. */
	for (;; p++) {
		if (p >= len)
			return len >= EMUL_MAX_LEN ? -EINVAL : -ENODATA;
		switch (buf[p]) {
		case 0x66: opsize16 = true; continue;
		case 0xf0: in.lock = true; continue;
		case 0xf2: case 0xf3: in.rep = true; continue;
		case 0x67: case 0x2e: case 0x36: case 0x3e: case 0x26:
		case 0x64: case 0x65:
			continue;
		}
		break;
	}
	if ((buf[p] & 0xf0) == 0x40) {
		rex = buf[p++] & 0xf;
		if (p >= len)
			return len >= EMUL_MAX_LEN ? -EINVAL : -ENODATA;
	}
	in.opsize = rex & 8 ? 8 : opsize16 ? 2 : 4;
	op = buf[p++];
	switch (op) {
	case 0x0f:
		rc = decode_0f(buf, len, p, rex, &in);
		if (rc)
			return rc == -ENODATA && len >= EMUL_MAX_LEN ? -EINVAL : rc;
		*out = in;
		return 0;
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:
		if (p >= len)
			return -ENODATA;
		in.port = buf[p++];
		in.op = op & 2 ? EOP_OUT : EOP_IN;
		in.opsize = op & 1 ? (opsize16 ? 2 : 4) : 1;
		break;
	case 0xec: case 0xed: case 0xee: case 0xef:
		in.port_dx = true;
		in.op = op & 2 ? EOP_OUT : EOP_IN;
		in.opsize = op & 1 ? (opsize16 ? 2 : 4) : 1;
		break;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f:
		in.op = EOP_STR_IO;
		break;
	case 0xfa: case 0xfb:
		in.op = EOP_CLI_STI;
		break;
	case 0xf4:
		in.op = EOP_OTHER_PRIV;
		break;
	case 0x89: case 0x87: case 0x09: case 0x21: case 0x31:
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		in.op = op == 0x89 ? EOP_MOV_STORE : op == 0x87 ? EOP_XCHG :
			op == 0x09 ? EOP_OR : op == 0x21 ? EOP_AND : EOP_XOR;
		break;
	case 0xc7:
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		if ((in.reg & 7) != 0)
			return -EINVAL;
		in.op = EOP_MOV_STORE;
		rc = imm(buf, len, &p, in.opsize == 2 ? 2 : 4, in.opsize, &in);
		break;
	case 0x81: case 0x83:
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		switch (in.reg & 7) {
		case 1: in.op = EOP_OR; break;
		case 4: in.op = EOP_AND; break;
		case 6: in.op = EOP_XOR; break;
		default: return -EINVAL;
		}
		rc = imm(buf, len, &p,
			 op == 0x83 ? 1 : in.opsize == 2 ? 2 : 4, in.opsize, &in);
		break;
	default:
		return -EINVAL;
	}
	if (rc || p > len)
		return len >= EMUL_MAX_LEN ? -EINVAL : -ENODATA;
	in.len = p;
	*out = in;
	return 0;
}

static unsigned parity(uint64_t v)
{
	return !__builtin_parity((unsigned)(v & 0xff));
}

static void set_logic_flags(struct regs *r, uint64_t res, unsigned opsize)
{
	unsigned bits = 8 * opsize;

	r->rflags &= ~RFLAGS_ARITH;
	if (bits < 64)
		res &= (1ull << bits) - 1;
	if (!res)
		r->rflags |= RFLAGS_ZF;
	if ((res >> (bits - 1)) & 1)
		r->rflags |= RFLAGS_SF;
	if (parity(res))
		r->rflags |= RFLAGS_PF;
}

int emul_store_value(const struct emul_insn *in, struct regs *r,
		     unsigned addr_low, uint64_t old, uint64_t *new)
{
	unsigned shift = 8 * addr_low;
	uint64_t mask, cur, src, res;
	uint64_t *reg;

	if (!in->mem || (in->opsize != 4 && in->opsize != 8))
		return -EINVAL;
	if ((in->opsize == 8 && addr_low) ||
	    (in->opsize == 4 && addr_low != 0 && addr_low != 4))
		return -EINVAL;
	mask = in->opsize == 8 ? ~0ull : 0xffffffffull;
	cur = (old >> shift) & mask;
	reg = emul_gpr(r, in->reg);
	src = (in->has_imm ? in->imm : *reg) & mask;
	switch (in->op) {
	case EOP_MOV_STORE:
		res = src;
		break;
	case EOP_XCHG:
		res = src;
		*reg = in->opsize == 8 ? cur : cur; /* 32-bit: zero-extended */
		break;
	case EOP_CMPXCHG: {
		uint64_t acc = r->rax & mask;

		r->rflags &= ~RFLAGS_ARITH;
		if (acc != cur) {
			r->rax = cur; /* 32-bit form zero-extends too */
			return 1;
		}
		r->rflags |= RFLAGS_ZF;
		res = src;
		break;
	}
	case EOP_OR:
		res = cur | src;
		set_logic_flags(r, res, in->opsize);
		break;
	case EOP_AND:
		res = cur & src;
		set_logic_flags(r, res, in->opsize);
		break;
	case EOP_XOR:
		res = cur ^ src;
		set_logic_flags(r, res, in->opsize);
		break;
	case EOP_BTS:
	case EOP_BTR: {
		/* A register bit offset may reach beyond the operand; only
		 * offsets within this entry are emulated. */
		uint64_t bit = src;

		if (!in->has_imm && bit >= 8 * in->opsize)
			return -EINVAL;
		bit &= 8 * in->opsize - 1;
		r->rflags &= ~RFLAGS_CF;
		if ((cur >> bit) & 1)
			r->rflags |= RFLAGS_CF;
		res = in->op == EOP_BTS ? cur | (1ull << bit)
					: cur & ~(1ull << bit);
		break;
	}
	default:
		return -EINVAL;
	}
	*new = (old & ~(mask << shift)) | ((res & mask) << shift);
	return 0;
}

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
	case EOP_MOV_FROM_DR:
		if (!kernel || in->reg > 7)
			return -1;
		*emul_gpr(r, in->rm) = v->xen.debugreg[in->reg == 4 ? 6 :
						       in->reg == 5 ? 7 : in->reg];
		return 1;
	case EOP_MOV_TO_DR:
		if (!kernel || in->reg > 7)
			return -1;
		v->xen.debugreg[in->reg == 4 ? 6 : in->reg == 5 ? 7 : in->reg] =
			*emul_gpr(r, in->rm);
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

bool xen_emulate_fault(struct vcpu *v, struct vexit *ex)
{
	uint8_t buf[EMUL_MAX_LEN];
	struct emul_insn in;
	size_t n;
	int rc;

	if (ex->kind != VEXIT_EXCEPTION)
		return false;
	if (ex->vector == VEC_PF) {
		if (!v->xen.kernel_mode ||
		    (ex->error_code & (PFEC_PRESENT | PFEC_WRITE | PFEC_INSN)) !=
			    (PFEC_PRESENT | PFEC_WRITE))
			return false;
		n = fetch(v, buf);
		return n && emulate_ptwr(v, ex, buf, n);
	}
	if (ex->vector != VEC_GP && ex->vector != VEC_UD)
		return false;
	if (ex->vector == VEC_GP && ex->error_code)
		return false; /* selector faults are the guest's */
	n = fetch(v, buf);
	if (!n || emul_decode(buf, n, &in))
		return false;
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
	return true;
}
