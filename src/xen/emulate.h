/*
 * Emulation of what a PV guest kernel may do that traps at CPL3: privileged
 * instructions on the #GP path (rdmsr/wrmsr, mov to/from CR and DR, clts,
 * wbinvd, in/out, rdtsc(p), cpuid), Xen's forced-emulation CPUID prefix on
 * the #UD path, and stores to its own page tables on the #PF path (Xen's
 * writable page tables: the store is validated like an mmu_update).
 *
 * The decoder is pure and bounded (at most 15 bytes, the architectural
 * limit), for tests and fuzzing; the executor reads the instruction through
 * hc_read and copies it once.
 */
#ifndef PVISOR_XEN_EMULATE_H
#define PVISOR_XEN_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct regs;
struct vcpu;
struct vexit;

#define EMUL_MAX_LEN 15

enum emul_op {
	EOP_NONE = 0,
	EOP_XEN_CPUID,  /* ud2; .ascii "xen"; cpuid */
	EOP_CPUID,
	EOP_RDMSR,
	EOP_WRMSR,
	EOP_RDTSC,
	EOP_RDTSCP,
	EOP_RDPMC,
	EOP_WBINVD,     /* and invd */
	EOP_CLTS,
	EOP_MOV_FROM_CR,
	EOP_MOV_TO_CR,
	EOP_MOV_FROM_DR,
	EOP_MOV_TO_DR,
	EOP_IN,         /* in al/ax/eax, imm8 or dx */
	EOP_OUT,
	EOP_STR_IO,     /* ins/outs: not emulated (#GP) */
	EOP_CLI_STI,    /* no-ops with the virtual IOPL, as in Xen */
	EOP_OTHER_PRIV, /* hlt, cli, sti, lgdt...: #GP to the guest */
	/* Stores to memory (writable page tables). */
	EOP_MOV_STORE,  /* mov r, r/m; mov imm32, r/m */
	EOP_XCHG,
	EOP_CMPXCHG,
	EOP_OR,
	EOP_AND,
	EOP_XOR,
	EOP_BTS,
	EOP_BTR,
	/* Segment-register loads (Xen's flat selectors on proc). */
	EOP_MOV_SREG,   /* mov r/m16, Sreg (8e): reg = Sreg number */
	EOP_POP_SREG,   /* pop %fs / pop %gs (0f a1, 0f a9) */
	/* Loads from memory (the M2P at MACH2PHYS_VIRT_START). */
	EOP_LOAD,       /* mov r/m, r; movzx; movsx; movsxd */
};

/* Segment register numbers (ModRM.reg of mov Sreg). */
enum { EMUL_ES, EMUL_CS, EMUL_SS, EMUL_DS, EMUL_FS, EMUL_GS };

struct emul_insn {
	enum emul_op op;
	unsigned len;    /* bytes including prefixes */
	unsigned opsize; /* operand bytes: 1, 2, 4 or 8 */
	unsigned reg;    /* ModRM.reg (+REX.R): GPR, CR or DR number */
	unsigned rm;     /* ModRM.rm (+REX.B) for register forms */
	bool mem;        /* ModRM addresses memory */
	bool has_imm;    /* source is imm (store/alu/bt forms) */
	uint64_t imm;    /* sign-extended to opsize */
	bool port_dx;    /* in/out port from dx, else imm */
	uint8_t port;    /* in/out imm8 */
	bool lock, rep;
	bool rex;        /* a REX prefix was present (byte registers) */
	unsigned srcsize; /* EOP_LOAD: bytes read from memory */
	bool sext;       /* EOP_LOAD: sign-extend srcsize to opsize */
	/* The memory operand (mem): seg:[base + index*scale + disp], or
	 * rip-relative (the next instruction + disp). */
	int base, index; /* GPR numbers, -1 none */
	unsigned scale;  /* 1, 2, 4, 8 */
	int64_t disp;
	bool rip_rel;
	bool addr32;     /* 0x67: 32-bit address arithmetic */
	int seg;         /* segment override prefix EMUL_*, -1 none */
};

/*
 * Decodes the instruction at buf[0..len).  0 and *out filled; -EINVAL if it
 * is none pvisor emulates (or malformed); -ENODATA if it may continue past
 * len bytes.
 */
int emul_decode(const uint8_t *buf, size_t len, struct emul_insn *out);

/* GPR number (0 rax .. 15 r15, x86 encoding order) in r. */
uint64_t *emul_gpr(struct regs *r, unsigned n);

/*
 * The linear address of insn's memory operand given the register file
 * (rip = insn's own address); fs/gs overrides add r->fs_base/gs_base.
 */
uint64_t emul_ea(const struct emul_insn *insn, const struct regs *r);

/*
 * EOP_LOAD: writes val (srcsize bytes read from memory, zero-extended)
 * into the destination register as the CPU would (zero- or
 * sign-extension, 32-bit writes clear the upper half, 8/16-bit writes
 * merge, ah..bh without REX).  0 or -EINVAL.  Pure.
 */
int emul_load_apply(const struct emul_insn *insn, struct regs *r, uint64_t val);

/*
 * Whether loading sel into segment register sreg succeeds on Xen for a
 * 64-bit PV guest (CPL 3) with no GDT/LDT of its own: Xen's flat ring-3
 * descriptors 0xe020 (code, compat), 0xe028 (data), 0xe030 (code,
 * 64-bit), all DPL 3 and readable, with any RPL in %ds/%es/%fs/%gs, or
 * the null selector there; %ss takes only 0xe02b.  Pure.
 */
bool emul_xen_flat_selector(unsigned sreg, uint16_t sel);

/*
 * The store insn makes to an entry whose current value is old, given the
 * register file: computes the new entry value (*new) and applies register
 * and flag side effects to r (xchg/cmpxchg/bt*).  addr_low is the low bits
 * of the store address (the offset within the 8-byte entry: 0 or 4).
 * Returns 0, -EINVAL (unsupported form or width), or 1 if nothing is
 * stored (cmpxchg that failed).  Pure.
 */
int emul_store_value(const struct emul_insn *insn, struct regs *r,
		     unsigned addr_low, uint64_t old, uint64_t *new);

struct vm;
/*
 * Reads size (<= 8) bytes of Xen's read-only M2P at linear address va
 * (MACH2PHYS_VIRT_START + 8 * mfn ...) from pvisor's M2P; false if any
 * byte lies outside the table pvisor exposes (whole pages covering every
 * machine frame; entries of frames that are not RAM read as ~0).
 */
bool xen_m2p_read(struct vm *vm, uint64_t va, unsigned size, uint64_t *val);

/*
 * Handles an exception exit if it is an emulated operation: returns true if
 * the guest goes on (instruction emulated, or a different exception already
 * bounced); false if the caller bounces *ex to the guest (ex may have been
 * rewritten, e.g. to #GP(0)).
 */
bool xen_emulate_fault(struct vcpu *v, struct vexit *ex);

#endif
