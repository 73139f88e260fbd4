/*
 * The instruction decoder and the store semantics of the emulator (see
 * emulate.h): pure functions over a byte buffer and a register file, kept
 * apart so that the fuzz harness links them alone.
 */
#include <errno.h>
#include <string.h>

#include <pvisor/xen.h>

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

static int64_t le_signed(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	if (n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ull << (8 * n);
	return (int64_t)v;
}

/* Decodes a ModRM operand (64-bit addressing) at buf[*pos]; fills reg/rm/
 * mem and the address components.  0, -ENODATA. */
static int modrm(const uint8_t *buf, size_t len, unsigned *pos, unsigned rex,
		 struct emul_insn *in)
{
	unsigned p = *pos, mod, rm, dispn = 0;

	if (p >= len)
		return -ENODATA;
	mod = buf[p] >> 6;
	rm = buf[p] & 7;
	in->reg = ((buf[p] >> 3) & 7) | (rex & 4 ? 8 : 0);
	in->rm = rm | (rex & 1 ? 8 : 0);
	in->mem = mod != 3;
	in->base = in->index = -1;
	in->scale = 1;
	in->disp = 0;
	in->rip_rel = false;
	p++;
	if (mod != 3) {
		if (rm == 4) { /* SIB */
			unsigned sib, idx, base;

			if (p >= len)
				return -ENODATA;
			sib = buf[p++];
			idx = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
			base = (sib & 7) | (rex & 1 ? 8 : 0);
			in->scale = 1u << (sib >> 6);
			if (idx != 4)
				in->index = (int)idx;
			if ((sib & 7) == 5 && mod == 0)
				dispn = 4; /* no base */
			else
				in->base = (int)base;
		} else if (rm == 5 && mod == 0) {
			in->rip_rel = true;
			dispn = 4;
		} else {
			in->base = (int)in->rm;
		}
		if (mod == 1)
			dispn = 1;
		else if (mod == 2)
			dispn = 4;
	}
	if (p + dispn > len)
		return -ENODATA;
	if (dispn)
		in->disp = le_signed(buf + p, dispn);
	p += dispn;
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
	case 0xa1: /* pop %fs */
	case 0xa9: /* pop %gs */
		in->op = EOP_POP_SREG;
		in->reg = op == 0xa1 ? EMUL_FS : EMUL_GS;
		/* 64-bit by default; 0x66 makes it 16-bit. */
		in->opsize = in->opsize == 2 ? 2 : 8;
		break;
	case 0xb6: case 0xb7: /* movzx r/m8|16, r */
	case 0xbe: case 0xbf: /* movsx */
		rc = modrm(buf, len, &p, rex, in);
		if (rc)
			return rc;
		in->op = EOP_LOAD;
		in->srcsize = op & 1 ? 2 : 1;
		in->sext = op >= 0xbe;
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
	in.seg = in.base = in.index = -1;
	in.scale = 1;
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
		case 0x67: in.addr32 = true; continue;
		case 0x2e: case 0x36: case 0x3e: case 0x26:
			in.seg = -1; /* ignored in 64-bit mode */
			continue;
		case 0x64: in.seg = EMUL_FS; continue;
		case 0x65: in.seg = EMUL_GS; continue;
		}
		break;
	}
	if ((buf[p] & 0xf0) == 0x40) {
		rex = buf[p++] & 0xf;
		in.rex = true;
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
	case 0x8e: /* mov r/m16, Sreg */
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		in.reg &= 7; /* REX.R does not extend Sreg */
		if (in.reg == EMUL_CS || in.reg > EMUL_GS)
			return -EINVAL; /* #UD on hardware */
		in.op = EOP_MOV_SREG;
		in.opsize = 2;
		break;
	case 0x8a: case 0x8b: /* mov r/m, r */
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		if (op == 0x8a)
			in.opsize = 1;
		in.op = EOP_LOAD;
		in.srcsize = in.opsize;
		break;
	case 0xa0: case 0xa1: { /* mov moffs, al/ax/eax/rax (movabs) */
		unsigned an = in.addr32 ? 4 : 8;

		if (p + an > len)
			return len >= EMUL_MAX_LEN ? -EINVAL : -ENODATA;
		in.disp = an == 8 ? le_signed(buf + p, 8)
				  : (int64_t)(uint32_t)le_signed(buf + p, 4);
		p += an;
		in.mem = true;
		in.reg = in.rm = 0;
		if (op == 0xa0)
			in.opsize = 1;
		in.op = EOP_LOAD;
		in.srcsize = in.opsize;
		break;
	}
	case 0x63: /* movsxd r/m32, r64 (without REX.W: a plain mov) */
		rc = modrm(buf, len, &p, rex, &in);
		if (rc)
			break;
		in.op = EOP_LOAD;
		in.srcsize = in.opsize == 8 ? 4 : in.opsize;
		in.sext = in.opsize == 8;
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

uint64_t emul_ea(const struct emul_insn *in, const struct regs *r)
{
	struct regs *rw = (struct regs *)r; /* emul_gpr is read-only here */
	uint64_t ea = (uint64_t)in->disp;

	if (in->rip_rel)
		ea += r->rip + in->len;
	if (in->base >= 0)
		ea += *emul_gpr(rw, (unsigned)in->base);
	if (in->index >= 0)
		ea += *emul_gpr(rw, (unsigned)in->index) * in->scale;
	if (in->addr32)
		ea = (uint32_t)ea;
	if (in->seg == EMUL_FS)
		ea += r->fs_base;
	else if (in->seg == EMUL_GS)
		ea += r->gs_base;
	return ea;
}

int emul_load_apply(const struct emul_insn *in, struct regs *r, uint64_t val)
{
	unsigned src = in->srcsize, dst = in->opsize;
	uint64_t *reg, mask;

	if (in->op != EOP_LOAD || !in->mem ||
	    (src != 1 && src != 2 && src != 4 && src != 8) ||
	    (dst != 1 && dst != 2 && dst != 4 && dst != 8) || src > dst)
		return -EINVAL;
	if (src < 8) {
		val &= (1ull << (8 * src)) - 1;
		if (in->sext && (val >> (8 * src - 1)) & 1)
			val |= ~0ull << (8 * src);
	}
	if (dst == 1 && !in->rex && in->reg >= 4 && in->reg < 8) {
		/* ah, ch, dh, bh */
		reg = emul_gpr(r, in->reg - 4);
		*reg = (*reg & ~0xff00ull) | (val & 0xff) << 8;
		return 0;
	}
	reg = emul_gpr(r, in->reg);
	if (dst >= 4) {
		*reg = dst == 4 ? (uint32_t)val : val;
		return 0;
	}
	mask = (1ull << (8 * dst)) - 1;
	*reg = (*reg & ~mask) | (val & mask);
	return 0;
}

bool emul_xen_flat_selector(unsigned sreg, uint16_t sel)
{
	if (sreg == EMUL_SS)
		return sel == FLAT_RING3_SS64;
	if (sreg != EMUL_DS && sreg != EMUL_ES && sreg != EMUL_FS &&
	    sreg != EMUL_GS)
		return false;
	/* Any RPL: DPL 3 >= max(CPL, RPL) always holds. */
	switch (sel | 3u) {
	case FLAT_RING3_DS64 | 3u: /* null */
	case FLAT_RING3_CS32:
	case FLAT_RING3_DS32: /* = SS32, SS64 */
	case FLAT_RING3_CS64:
		return true;
	default:
		return false;
	}
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
	unsigned shift = 8 * addr_low, reg_shift = 0;
	uint64_t mask, cur, src, res;
	uint64_t *reg;

	if (!in->mem || (in->opsize != 1 && in->opsize != 2 &&
			 in->opsize != 4 && in->opsize != 8))
		return -EINVAL;
	/* The access must lie within the entry, naturally aligned. */
	if (addr_low >= 8 || addr_low % in->opsize)
		return -EINVAL;
	mask = in->opsize == 8 ? ~0ull : (1ull << (8 * in->opsize)) - 1;
	cur = (old >> shift) & mask;
	/* Byte registers 4-7: without REX ah/ch/dh/bh (bits 8-15 of rax..
	 * rbx), with it spl/bpl/sil/dil (as emul_load_apply reads them). */
	if (in->opsize == 1 && !in->rex && in->reg >= 4 && in->reg < 8) {
		reg = emul_gpr(r, in->reg - 4);
		reg_shift = 8;
	} else {
		reg = emul_gpr(r, in->reg);
	}
	src = (in->has_imm ? in->imm : *reg >> reg_shift) & mask;
	switch (in->op) {
	case EOP_MOV_STORE:
		res = src;
		break;
	case EOP_XCHG:
		res = src;
		if (in->opsize >= 4)
			*reg = cur; /* the 32-bit form zero-extends */
		else
			*reg = (*reg & ~(mask << reg_shift)) | cur << reg_shift;
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
