/*
 * The instruction decoder and the store semantics of the emulator (see
 * emulate.h): pure functions over a byte buffer and a register file, kept
 * apart so that the fuzz harness links them alone.
 */
#include <errno.h>
#include <string.h>

#include "core/regs.h"
#include "xen/emulate.h"

#define RFLAGS_CF (1ul << 0)
#define RFLAGS_PF (1ul << 2)
#define RFLAGS_ZF (1ul << 6)
#define RFLAGS_SF (1ul << 7)
#define RFLAGS_OF (1ul << 11)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_ZF | RFLAGS_SF | \
		      RFLAGS_OF | (1ul << 4))

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
	case 0x88: case 0x86: case 0x08: case 0x20: case 0x30:
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		if (!(op & 1))
			in.opsize = 1; /* the byte forms */
		switch (op | 1) {
		case 0x89: in.op = EOP_MOV_STORE; break;
		case 0x87: in.op = EOP_XCHG; break;
		case 0x09: in.op = EOP_OR; break;
		case 0x21: in.op = EOP_AND; break;
		default: in.op = EOP_XOR; break;
		}
		break;
	case 0xc6: case 0xc7:
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		if ((in.reg & 7) != 0)
			return -EINVAL;
		in.op = EOP_MOV_STORE;
		if (op == 0xc6)
			in.opsize = 1;
		rc = imm(buf, len, &p, in.opsize == 1 ? 1 : in.opsize == 2 ? 2 : 4,
			 in.opsize, &in);
		break;
	case 0x80: case 0x81: case 0x83:
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		if (op == 0x80)
			in.opsize = 1;
		switch (in.reg & 7) {
		case 1: in.op = EOP_OR; break;
		case 4: in.op = EOP_AND; break;
		case 6: in.op = EOP_XOR; break;
		default: return -EINVAL;
		}
		rc = imm(buf, len, &p,
			 op != 0x81 ? 1 : in.opsize == 2 ? 2 : 4, in.opsize, &in);
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

	if (!in->mem || (in->opsize != 1 && in->opsize != 2 &&
			 in->opsize != 4 && in->opsize != 8))
		return -EINVAL;
	/* The access must lie within the entry, naturally aligned. */
	if (addr_low >= 8 || addr_low % in->opsize)
		return -EINVAL;
	/* Byte registers: without REX, numbers 4-7 are ah/ch/dh/bh; Linux
	 * does not store those to page tables. */
	if (in->opsize == 1 && !in->has_imm && in->reg >= 4 && in->reg < 8)
		return -EINVAL;
	mask = in->opsize == 8 ? ~0ull : (1ull << (8 * in->opsize)) - 1;
	cur = (old >> shift) & mask;
	reg = emul_gpr(r, in->reg);
	src = (in->has_imm ? in->imm : *reg) & mask;
	switch (in->op) {
	case EOP_MOV_STORE:
		res = src;
		break;
	case EOP_XCHG:
		res = src;
		if (in->opsize >= 4)
			*reg = cur; /* the 32-bit form zero-extends */
		else
			*reg = (*reg & ~mask) | cur;
		break;
	case EOP_CMPXCHG: {
		uint64_t acc = r->rax & mask;

		r->rflags &= ~RFLAGS_ARITH;
		if (acc != cur) {
			if (in->opsize >= 4)
				r->rax = cur; /* 32-bit form zero-extends */
			else
				r->rax = (r->rax & ~mask) | cur;
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
