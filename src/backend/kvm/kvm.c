/*
 * The kvm backend: guest code runs natively at CPL3 in a KVM vCPU (on these
 * hosts /dev/kvm is kvm-pvm, which emulates CPL0 code instruction by
 * instruction), and a tiny CPL0 trampoline turns every trap into an exit.
 * See docs/kvm-backend.md for the design and the measured costs.
 *
 *  - Hypercalls: the hypercall page stores to a user-mapped page that no
 *    memory slot backs (KVM_EXIT_MMIO straight from CPL3, the cheapest exit).
 *    `syscall` enters a user stub (LSTAR) that stores to the same page.
 *  - Exceptions: every IDT gate (IST 1, the per-vCPU trampoline stack) points
 *    at a one-instruction stub `out %al, $port`; pvisor reads the iretq frame
 *    from the stack page.
 *  - Resuming with nothing queued: registers and Xen's ring-3 segment
 *    registers (and a new CR3) go straight in through kvm_run sync regs; no
 *    CPL0 code runs.
 *  - Queued page-table work (stores, invlpg, CR3 loads) runs as code pvisor
 *    writes into the vCPU's batch page, entered at CPL0 (`int n` is #UD at
 *    CPL3 on kvm-pvm, so the entry is a segment-register load) and ending in
 *    iretq.  Stores go through a supervisor-only direct map of guest memory
 *    because kvm-pvm only sees page-table changes that the vCPU itself
 *    makes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pvisor/xen.h>

#include "backend/backend.h"
#include "backend/kvm/kvm_layout.h"
#include "core/vm.h"

/* Trampoline routine bytes (kvm_tramp.S). */
extern const uint8_t kvm_tramp_start[], kvm_tramp_end[];
extern const uint8_t kvm_tramp_stopped[];

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define MSR_IA32_TSC 0x10
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084

/* rflags bits a guest may hold at CPL3: CF PF AF ZF SF TF DF OF AC ID (and
 * IF, forced on); never IOPL, NT, RF, VM, VIF, VIP. */
#define RFLAGS_USER_MASK 0x244dd5ul
#define RFLAGS_SYSCALL_MASK 0x47700ul /* TF IF DF IOPL NT AC */

/* The batch page holds generated code (kvm_queue): at most BATCH_OP_LEN
 * bytes per op, then the BATCH_TAIL_LEN-byte tail. */
#define BATCH_OP_LEN 20
#define BATCH_TAIL_LEN 6 /* pop %rax; iretq, or pop %rax; jmp rel32 */
#define BATCH_MAX ((4096 - BATCH_TAIL_LEN) / BATCH_OP_LEN)
#define BATCH_OP_STORE 0ull
#define BATCH_OP_INVLPG 1ull
#define BATCH_OP_CR3 2ull

#define GUEST_MAX_BYTES (512ull << 30) /* one direct-map L3 */

struct kvm_vm {
	int kvm_fd, vm_fd;
	int run_size;
	uint8_t *priv;          /* private slot, host mapping */
	uint64_t priv_gpa, priv_bytes;
	uint64_t mmio_gpa;      /* the doorbell page (no memory slot) */
	unsigned m2p_pg;        /* first private page of the M2P area */
	unsigned nr_m2p_l1, nr_m2p; /* its L1 tables and data pages */
	uint64_t *m2p;          /* the M2P table, host mapping */
	struct kvm_cpuid2 *cpuid;
	bool xsave;             /* CR4.OSXSAVE and XCR0 usable */
	uint64_t xcr0;
};

enum kvm_where {
	WHERE_FRESH,    /* never run: load the CPL3 state with SET_SREGS */
	WHERE_CPL3,     /* stopped in guest code (MMIO, signal) */
	WHERE_CPL0,     /* stopped in the trampoline: resume through iretq */
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	struct kvm_sregs sregs; /* as of the last exit (or as set) */
	struct kvm_sregs boot_sregs; /* as set up: a reboot starts from them */
	enum kvm_where where;
	uint64_t cr3;           /* the CR3 the guest will run with */
	uint8_t *batch;         /* the batch page (generated code), host mapping */
	uint64_t *stack;        /* the stack page, host mapping */
	unsigned nr_batch;      /* ops queued */
	unsigned batch_len;     /* bytes of code queued */
	unsigned batch_iretq;   /* offset of the tail's iretq */
	atomic_bool remote_flush; /* another vCPU asked for a TLB flush */
	atomic_bool in_run;
	pthread_t thread;
	bool sync_regs;         /* registers travel in kvm_run (KVM_CAP_SYNC_REGS) */
};

/*
 * Register transfer.  On kvm-pvm each GET/SET_(S)REGS ioctl costs ~5 us
 * (bench/floors: kvm_exit_regs against kvm_exit_syncregs), which is most of
 * a hypercall's overhead over the raw exit; with KVM_CAP_SYNC_REGS the
 * registers come and go in the shared kvm_run page instead.
 */
static int kvm_get_regs(struct kvm_vcpu *c, struct kvm_regs *kr)
{
	if (c->sync_regs) {
		*kr = c->run->s.regs.regs;
		return 0;
	}
	return ioctl(c->fd, KVM_GET_REGS, kr) < 0 ? -errno : 0;
}

static int kvm_set_regs(struct kvm_vcpu *c, const struct kvm_regs *kr)
{
	if (c->sync_regs) {
		c->run->s.regs.regs = *kr;
		c->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	return ioctl(c->fd, KVM_SET_REGS, kr) < 0 ? -errno : 0;
}

/* The segment registers as of the last exit, into c->sregs. */
static int kvm_get_sregs(struct kvm_vcpu *c)
{
	if (c->sync_regs) {
		c->sregs = c->run->s.regs.sregs;
		return 0;
	}
	return ioctl(c->fd, KVM_GET_SREGS, &c->sregs) < 0 ? -errno : 0;
}

/*
 * Writes c->sregs to the vCPU: through kvm_run (applied by the next KVM_RUN)
 * when sync regs work, else KVM_SET_SREGS.  The interrupt bitmap is cleared:
 * pvisor never injects interrupts through KVM, and a stale bit would queue
 * one.
 */
static int kvm_set_sregs(struct kvm_vcpu *c)
{
	memset(c->sregs.interrupt_bitmap, 0, sizeof(c->sregs.interrupt_bitmap));
	if (c->sync_regs) {
		c->run->s.regs.sregs = c->sregs;
		c->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
		return 0;
	}
	return ioctl(c->fd, KVM_SET_SREGS, &c->sregs) < 0 ? -errno : 0;
}

static void kvm_kick_handler(int sig)
{
	(void)sig;
}

static uint64_t priv_va(unsigned page)
{
	return KVM_TRAMP_VA + (uint64_t)page * PAGE_SIZE;
}

static int kvm_open(char *why, size_t why_len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = -errno;
		snprintf(why, why_len, "/dev/kvm: %s", strerror(errno));
		return err;
	}
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		snprintf(why, why_len, "/dev/kvm: API version is not %d",
			 KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

static int kvm_probe(char *why, size_t why_len)
{
	int fd = kvm_open(why, why_len), vm, err;

	if (fd < 0)
		return fd;
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		err = -errno;
		snprintf(why, why_len, "/dev/kvm: cannot create a VM: %s",
			 strerror(errno));
		close(fd);
		return err;
	}
	close(vm);
	close(fd);
	return 0;
}

static void gdt_set(uint8_t *gdt, unsigned sel, uint64_t desc)
{
	memcpy(gdt + (sel & ~7u), &desc, 8);
}

static void gdt_set_tss(uint8_t *gdt, unsigned sel, uint64_t base)
{
	uint64_t lo = 0x67 | ((base & 0xffffff) << 16) | (0x8bull << 40) |
		      ((base >> 24 & 0xff) << 56);
	uint64_t hi = base >> 32;

	memcpy(gdt + sel, &lo, 8);
	memcpy(gdt + sel + 8, &hi, 8);
}

static void idt_set(uint8_t *idt, unsigned vec, uint64_t target, unsigned dpl)
{
	uint64_t lo = (target & 0xffff) | ((uint64_t)KVM_SEL_CS0 << 16) |
		      (1ull << 32) /* IST 1 */ |
		      ((uint64_t)(0x8e | dpl << 5) << 40) |
		      ((target >> 16 & 0xffff) << 48);
	uint64_t hi = target >> 32;

	memcpy(idt + vec * 16, &lo, 8);
	memcpy(idt + vec * 16 + 8, &hi, 8);
}

/* Stub i: `out %al, $port` (the exit), then a jump back to it should pvisor
 * ever resume there. */
static void code_stub(uint8_t *code, unsigned off, unsigned port)
{
	code[off] = 0xe6;
	code[off + 1] = (uint8_t)port;
	code[off + 2] = 0xeb;
	code[off + 3] = 0xfc;
}

static uint64_t stub_va(unsigned idx)
{
	return priv_va(KVM_PG_CODE) + KVM_CODE_STUBS + idx * 4;
}

/* Builds the private area: descriptor tables, TSSs, code, page tables. */
static void kvm_build_priv(struct vm *vm, struct kvm_vm *k, unsigned nr_dl2)
{
	uint8_t *p = k->priv;
	uint8_t *gdt = p + KVM_PG_GDT * PAGE_SIZE;
	uint8_t *idt = p + KVM_PG_IDT * PAGE_SIZE;
	uint8_t *code = p + KVM_PG_CODE * PAGE_SIZE;
	uint64_t *l3, *l2, *l1;
	size_t rlen = (size_t)(kvm_tramp_end - kvm_tramp_start);

	gdt_set(gdt, KVM_SEL_CS0, 0x00af9b000000ffffull);
	gdt_set(gdt, KVM_SEL_SS0, 0x00cf93000000ffffull);
	gdt_set(gdt, FLAT_RING3_CS32, 0x00cffb000000ffffull);
	gdt_set(gdt, FLAT_RING3_SS64, 0x00cff3000000ffffull);
	gdt_set(gdt, FLAT_RING3_CS64, 0x00affb000000ffffull);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		uint8_t *tss = p + KVM_PG_TSS(i) * PAGE_SIZE;
		uint64_t top = priv_va(KVM_PG_STACK(i)) + PAGE_SIZE;
		uint16_t iomap = 104;

		gdt_set_tss(gdt, KVM_SEL_TSS(i), priv_va(KVM_PG_TSS(i)));
		memcpy(tss + 4, &top, 8);   /* rsp0 */
		memcpy(tss + 36, &top, 8);  /* ist1 */
		memcpy(tss + 102, &iomap, 2);
	}

	memset(code, 0xf4, PAGE_SIZE);
	memcpy(code, kvm_tramp_start, rlen);
	for (unsigned v = 0; v < 32; v++) {
		code_stub(code, KVM_CODE_STUBS + v * 4, KVM_PORT_VECTOR + v);
		/* int3 and into are reachable from CPL3 as on hardware. */
		idt_set(idt, v, stub_va(v), v == 3 || v == 4 ? 3 : 0);
	}
	code_stub(code, KVM_CODE_LSTAR, KVM_PORT_SYSCALL);

	/* Trampoline slot: one L3 -> L2 -> L1 mapping the private pages. */
	l3 = (uint64_t *)(p + KVM_PG_L3_TRAMP * PAGE_SIZE);
	l2 = (uint64_t *)(p + KVM_PG_L2_TRAMP * PAGE_SIZE);
	l1 = (uint64_t *)(p + KVM_PG_L1_TRAMP * PAGE_SIZE);
	l3[0] = (k->priv_gpa + KVM_PG_L2_TRAMP * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A;
	l2[0] = (k->priv_gpa + KVM_PG_L1_TRAMP * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A;
	for (unsigned i = 0; i < KVM_PG_DIRECT_L2; i++) {
		uint64_t flags = PTE_P | PTE_A | PTE_D;

		/* Code: the fixed page and each vCPU's batch page (code
		 * pvisor generates); supervisor-only like everything here. */
		bool exec = i == KVM_PG_CODE ||
			    (i >= KVM_PG_VCPU0 &&
			     i < KVM_PG_TSS(VM_MAX_VCPUS) &&
			     (i - KVM_PG_VCPU0) % KVM_PGS_PER_VCPU == 2);

		if (!exec)
			flags |= PTE_RW | PTE_NX;
		l1[i] = (k->priv_gpa + i * PAGE_SIZE) | flags;
	}

	/* User slot: the doorbell page, user-writable, not executable. */
	l3 = (uint64_t *)(p + KVM_PG_L3_USER * PAGE_SIZE);
	l2 = (uint64_t *)(p + KVM_PG_L2_USER * PAGE_SIZE);
	l1 = (uint64_t *)(p + KVM_PG_L1_USER * PAGE_SIZE);
	l3[0] = (k->priv_gpa + KVM_PG_L2_USER * PAGE_SIZE) | PTE_P | PTE_RW | PTE_US | PTE_A;
	l2[0] = (k->priv_gpa + KVM_PG_L1_USER * PAGE_SIZE) | PTE_P | PTE_RW | PTE_US | PTE_A;
	l1[0] = k->mmio_gpa | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_NX;
	/* The syscall stub: user, read-only, executable.  kvm-pvm enters
	 * LSTAR without raising the privilege level; storing to the doorbell
	 * from there exits at once (no #PF, no emulated IDT delivery). */
	l1[1] = (k->priv_gpa + KVM_PG_UCODE * PAGE_SIZE) | PTE_P | PTE_US | PTE_A;
	{
		uint8_t *u = p + KVM_PG_UCODE * PAGE_SIZE;
		uint64_t db = KVM_USER_VA + KVM_SYSCALL_DB_OFF;

		memset(u, 0xcc, PAGE_SIZE);
		u[0] = 0x48; /* movabs %rax, moffs64 */
		u[1] = 0xa3;
		memcpy(u + 2, &db, 8);
		u[10] = 0x0f; /* ud2: pvisor always moves rip on */
		u[11] = 0x0b;
	}

	/* The M2P: user-readable, read-only, not executable; pvisor keeps it
	 * (host writes to these data pages are seen at once). */
	l3 = (uint64_t *)(p + k->m2p_pg * PAGE_SIZE);
	l2 = (uint64_t *)(p + (k->m2p_pg + 1) * PAGE_SIZE);
	l3[0] = (k->priv_gpa + (k->m2p_pg + 1) * PAGE_SIZE) | PTE_P | PTE_US | PTE_A;
	for (unsigned i = 0; i < k->nr_m2p_l1; i++) {
		unsigned l1pg = k->m2p_pg + 2 + i;

		l2[i] = (k->priv_gpa + (uint64_t)l1pg * PAGE_SIZE) | PTE_P |
			PTE_US | PTE_A;
		l1 = (uint64_t *)(p + (uint64_t)l1pg * PAGE_SIZE);
		for (unsigned j = 0; j < 512 && i * 512 + j < k->nr_m2p; j++) {
			uint64_t pg = k->m2p_pg + 2 + k->nr_m2p_l1 + i * 512 + j;

			l1[j] = (k->priv_gpa + pg * PAGE_SIZE) | PTE_P | PTE_US |
				PTE_A | PTE_NX;
		}
	}
	k->m2p = (uint64_t *)(p + (uint64_t)(k->m2p_pg + 2 + k->nr_m2p_l1) *
				     PAGE_SIZE);
	for (uint64_t mfn = 0; mfn < (uint64_t)k->nr_m2p * 512; mfn++)
		k->m2p[mfn] = mfn < vm->mem.nr_ram_frames ? mfn : ~0ull;

	/* Direct map of guest memory with 2 MiB pages, supervisor-only. */
	l3 = (uint64_t *)(p + KVM_PG_L3_DIRECT * PAGE_SIZE);
	for (unsigned i = 0; i < nr_dl2; i++) {
		l2 = (uint64_t *)(p + (KVM_PG_DIRECT_L2 + i) * PAGE_SIZE);
		l3[i] = (k->priv_gpa + (KVM_PG_DIRECT_L2 + i) * PAGE_SIZE) |
			PTE_P | PTE_RW | PTE_A;
		for (unsigned j = 0; j < 512; j++) {
			uint64_t gpa = ((uint64_t)i << 30) | ((uint64_t)j << 21);

			if (gpa >= vm->mem.nr_frames * PAGE_SIZE)
				break;
			l2[j] = gpa | PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS | PTE_NX;
		}
	}
}

static int kvm_vm_init(struct vm *vm)
{
	struct kvm_vm *k;
	char why[128];
	uint64_t guest_bytes = vm->mem.nr_frames * PAGE_SIZE;
	unsigned nr_dl2;
	int err, n = 64;

	if (!vm->mem.host || guest_bytes == 0 || guest_bytes > GUEST_MAX_BYTES)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->vm_fd = -1;
	k->priv = MAP_FAILED;
	k->kvm_fd = kvm_open(why, sizeof(why));
	if (k->kvm_fd < 0) {
		err = k->kvm_fd;
		goto fail;
	}
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		goto fail_errno;
	k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size < (int)sizeof(struct kvm_run))
		goto fail_errno;

	/* Everything private sits 1 GiB-aligned above guest memory. */
	nr_dl2 = (unsigned)((guest_bytes + (1ull << 30) - 1) >> 30);
	k->priv_gpa = (guest_bytes + (1ull << 30) - 1) & ~((1ull << 30) - 1);
	/* Then Xen's read-only M2P (L4 slot 256): an L3, an L2, its L1s and
	 * one entry per guest frame. */
	k->m2p_pg = KVM_PG_DIRECT_L2 + nr_dl2;
	k->nr_m2p = (unsigned)((vm->mem.nr_frames * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	k->nr_m2p_l1 = (k->nr_m2p + 511) / 512;
	if (k->nr_m2p_l1 > 512) {
		err = -EINVAL;
		goto fail;
	}
	k->priv_bytes = (uint64_t)(k->m2p_pg + 2 + k->nr_m2p_l1 + k->nr_m2p) *
			PAGE_SIZE;
	k->mmio_gpa = k->priv_gpa + (1ull << 30) - PAGE_SIZE;
	k->priv = mmap(NULL, k->priv_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->priv == MAP_FAILED)
		goto fail_errno;
	kvm_build_priv(vm, k, nr_dl2);

	struct kvm_userspace_memory_region r0 = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = guest_bytes,
		.userspace_addr = (uintptr_t)vm->mem.host,
	};
	struct kvm_userspace_memory_region r1 = {
		.slot = 1,
		.guest_phys_addr = k->priv_gpa,
		.memory_size = k->priv_bytes,
		.userspace_addr = (uintptr_t)k->priv,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r0) < 0 ||
	    ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r1) < 0)
		goto fail_errno;

	/* The host's CPUID as KVM supports it, for every vCPU. */
	for (;;) {
		k->cpuid = calloc(1, sizeof(*k->cpuid) +
					     n * sizeof(struct kvm_cpuid_entry2));
		if (!k->cpuid) {
			err = -ENOMEM;
			goto fail;
		}
		k->cpuid->nent = n;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, k->cpuid) == 0)
			break;
		if (errno != E2BIG || n > 4096)
			goto fail_errno;
		free(k->cpuid);
		k->cpuid = NULL;
		n *= 2;
	}
	for (unsigned i = 0; i < k->cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];

		if (e->function == 1 && (e->ecx & (1u << 26)))
			k->xsave = true;
		if (e->function == 0xd && e->index == 0)
			k->xcr0 = ((uint64_t)e->edx << 32 | e->eax) & 0x7; /* x87 SSE AVX */
	}
	if (!(k->xcr0 & 1))
		k->xsave = false;

	struct sigaction sa = { .sa_handler = kvm_kick_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(KVM_SIG_KICK, &sa, NULL); /* no SA_RESTART: KVM_RUN -> EINTR */

	/*
	 * vcpu_init writes each vCPU's TSC as the host's, so that guest TSC
	 * and host TSC agree (kvm-pvm runs CPL3 rdtsc natively anyway).
	 */
	vm->tsc_offset = 0;
	vm->backend_state = k;
	return 0;

fail_errno:
	err = -errno;
fail:
	free(k->cpuid);
	if (k->priv != MAP_FAILED)
		munmap(k->priv, k->priv_bytes);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k);
	return err;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = vm->backend_state;

	if (!k)
		return;
	close(k->vm_fd);
	close(k->kvm_fd);
	munmap(k->priv, k->priv_bytes);
	free(k->cpuid);
	free(k);
	vm->backend_state = NULL;
}

static struct kvm_segment seg_code(uint16_t sel, unsigned dpl)
{
	return (struct kvm_segment){ .selector = sel, .limit = 0xffffffff,
		.type = 0xb, .present = 1, .dpl = (uint8_t)dpl, .s = 1,
		.l = 1, .g = 1 };
}

static struct kvm_segment seg_data(uint16_t sel, unsigned dpl)
{
	return (struct kvm_segment){ .selector = sel, .limit = 0xffffffff,
		.type = 0x3, .present = 1, .dpl = (uint8_t)dpl, .s = 1,
		.db = 1, .g = 1 };
}

static int kvm_vcpu_init(struct vcpu *v)
{
	struct kvm_vm *k = v->vm->backend_state;
	struct kvm_vcpu *c;
	struct kvm_sregs *s;
	int err;

	if (!k || v->id >= VM_MAX_VCPUS)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->run = MAP_FAILED;
	c->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->id);
	if (c->fd < 0)
		goto fail_errno;
	c->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      c->fd, 0);
	if (c->run == MAP_FAILED)
		goto fail_errno;
	if (ioctl(c->fd, KVM_SET_CPUID2, k->cpuid) < 0)
		goto fail_errno;

	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[5];
	} msrs = {
		.hdr.nmsrs = 5,
		.e = {
			{ .index = MSR_STAR, .data = (uint64_t)FLAT_RING3_CS32 << 48 |
						     (uint64_t)KVM_SEL_CS0 << 32 },
			{ .index = MSR_LSTAR, .data = KVM_USER_CODE_VA },
			{ .index = MSR_CSTAR, .data = KVM_USER_CODE_VA },
			{ .index = MSR_SFMASK, .data = RFLAGS_SYSCALL_MASK },
			{ .index = MSR_IA32_TSC },
		},
	};
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	msrs.e[4].data = ((uint64_t)hi << 32 | lo) + (uint64_t)v->vm->tsc_offset;
	if (ioctl(c->fd, KVM_SET_MSRS, &msrs) != 5) {
		err = -EIO;
		goto fail;
	}

	if (ioctl(c->fd, KVM_GET_SREGS, &c->sregs) < 0)
		goto fail_errno;
	s = &c->sregs;
	s->cs = seg_code(FLAT_RING3_CS64, 3);
	s->ss = seg_data(FLAT_RING3_SS64, 3);
	s->ds = s->es = s->fs = s->gs = seg_data(0, 3);
	s->ds.unusable = s->es.unusable = 1;
	s->tr = (struct kvm_segment){ .selector = KVM_SEL_TSS(v->id),
		.base = priv_va(KVM_PG_TSS(v->id)), .limit = 0x67, .type = 0xb,
		.present = 1 };
	s->ldt = (struct kvm_segment){ .unusable = 1 };
	s->gdt.base = priv_va(KVM_PG_GDT);
	s->gdt.limit = KVM_NR_GDT_PAGES * PAGE_SIZE - 1;
	s->idt.base = priv_va(KVM_PG_IDT);
	s->idt.limit = PAGE_SIZE - 1;
	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	if (k->xsave) {
		struct kvm_xcrs xcrs = { .nr_xcrs = 1,
			.xcrs[0] = { .xcr = 0, .value = k->xcr0 } };

		s->cr4 |= CR4_OSXSAVE;
		/* XCR0 can only be set once CR4.OSXSAVE is on. */
		if (ioctl(c->fd, KVM_SET_SREGS, s) < 0 ||
		    ioctl(c->fd, KVM_SET_XCRS, &xcrs) < 0)
			s->cr4 &= ~CR4_OSXSAVE;
	}
	c->where = WHERE_FRESH;
	c->boot_sregs = c->sregs;
	if (ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) > 0) {
		c->sync_regs = true;
		c->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	}
	c->batch = k->priv + KVM_PG_BATCH(v->id) * PAGE_SIZE;
	c->stack = (uint64_t *)(k->priv + KVM_PG_STACK(v->id) * PAGE_SIZE);
	v->backend_state = c;
	return 0;

fail_errno:
	err = -errno;
fail:
	if (c->run != MAP_FAILED)
		munmap(c->run, k->run_size);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return err;
}

static void kvm_vcpu_destroy(struct vcpu *v)
{
	struct kvm_vm *k = v->vm->backend_state;
	struct kvm_vcpu *c = v->backend_state;

	if (!c)
		return;
	munmap(c->run, k->run_size);
	close(c->fd);
	free(c);
	v->backend_state = NULL;
}

/*
 * Hypercall page: entry i is `mov $i, %eax; movabs %eax, KVM_USER_VA; ret`.
 * The store hits the doorbell page, which no memory slot backs, so it exits
 * straight from CPL3 with rip past the store (the cheapest exit measured
 * here).  An `int $0x82` entry would have let page-table hypercalls exit at
 * CPL0, but kvm-pvm raises #UD for `int n` at CPL3 (only int3 works), so
 * queued page-table stores are run by entering CPL0 through the segment
 * registers (kvm_enter_return).
 */
static void kvm_fill_hypercall_page(struct vm *vm, uint8_t *page)
{
	memset(page, 0xcc, PAGE_SIZE); /* int3 between entries */
	for (unsigned i = 0; i < PAGE_SIZE / 32; i++) {
		uint8_t *e = page + i * 32;
		uint64_t va = KVM_USER_VA;

		/* iret, as in Xen's page: the guest jumps here with part of
		 * the frame pushed; complete struct iret_context and never
		 * return (the core loads the frame). */
		if (i == __HYPERVISOR_iret) {
			static const uint8_t push[] = { 0x51, 0x41, 0x53, 0x50 };

			memcpy(e, push, sizeof(push)); /* push rcx, r11, rax */
			e += sizeof(push);
		}
		e[0] = 0xb8; /* mov $i, %eax */
		memcpy(e + 1, &(uint32_t){ i }, 4);
		e[5] = 0xa3; /* movabs %eax, moffs64 */
		memcpy(e + 6, &va, 8);
		e[14] = i == __HYPERVISOR_iret ? 0x0f : 0xc3; /* ud2 or ret */
		if (i == __HYPERVISOR_iret)
			e[15] = 0x0b;
	}
}

static bool kvm_l4_slot_reserved(const struct vm *vm, unsigned slot)
{
	return slot >= KVM_L4_FIRST && slot < KVM_L4_END;
}

static uint64_t kvm_l4_slot_entry(const struct vm *vm, unsigned slot)
{
	const struct kvm_vm *k = vm->backend_state;

	if (!k)
		return 0;
	switch (slot) {
	case KVM_L4_M2P:
		return (k->priv_gpa + (uint64_t)k->m2p_pg * PAGE_SIZE) | PTE_P |
		       PTE_US | PTE_A;
	case KVM_L4_USER:
		return (k->priv_gpa + KVM_PG_L3_USER * PAGE_SIZE) | PTE_P |
		       PTE_RW | PTE_US | PTE_A;
	case KVM_L4_TRAMP:
		return (k->priv_gpa + KVM_PG_L3_TRAMP * PAGE_SIZE) | PTE_P |
		       PTE_RW | PTE_A;
	case KVM_L4_DIRECT:
		return (k->priv_gpa + KVM_PG_L3_DIRECT * PAGE_SIZE) | PTE_P |
		       PTE_RW | PTE_A;
	default:
		return 0;
	}
}

static void exit_fatal(struct vexit *exit, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void exit_fatal(struct vexit *exit, const char *fmt, ...)
{
	va_list ap;

	memset(exit, 0, sizeof(*exit));
	exit->kind = VEXIT_FATAL;
	va_start(ap, fmt);
	vsnprintf(exit->message, sizeof(exit->message), fmt, ap);
	va_end(ap);
}

static void regs_from_kvm(struct regs *r, const struct kvm_regs *k)
{
	r->rax = k->rax; r->rbx = k->rbx; r->rcx = k->rcx; r->rdx = k->rdx;
	r->rsi = k->rsi; r->rdi = k->rdi; r->rbp = k->rbp; r->rsp = k->rsp;
	r->r8 = k->r8; r->r9 = k->r9; r->r10 = k->r10; r->r11 = k->r11;
	r->r12 = k->r12; r->r13 = k->r13; r->r14 = k->r14; r->r15 = k->r15;
	r->rip = k->rip; r->rflags = k->rflags;
}

static void regs_to_kvm(struct kvm_regs *k, const struct regs *r)
{
	k->rax = r->rax; k->rbx = r->rbx; k->rcx = r->rcx; k->rdx = r->rdx;
	k->rsi = r->rsi; k->rdi = r->rdi; k->rbp = r->rbp; k->rsp = r->rsp;
	k->r8 = r->r8; k->r9 = r->r9; k->r10 = r->r10; k->r11 = r->r11;
	k->r12 = r->r12; k->r13 = r->r13; k->r14 = r->r14; k->r15 = r->r15;
	k->rip = r->rip; k->rflags = r->rflags;
}

static uint64_t user_rflags(uint64_t f)
{
	return (f & RFLAGS_USER_MASK) | RFLAGS_IF | RFLAGS_RESERVED1;
}

static bool sregs_user(const struct kvm_sregs *s)
{
	return (s->cs.selector & 3) == 3;
}

/* Where the trampoline code lives, as a guest virtual address. */
static uint64_t code_va(const uint8_t *sym)
{
	return priv_va(KVM_PG_CODE) + (uint64_t)(sym - kvm_tramp_start);
}

static uint64_t frame_va(unsigned id)
{
	return priv_va(KVM_PG_STACK(id)) + KVM_FRAME_OFF;
}

/* x86 encodings of the generated batch code. */
static void emit(struct kvm_vcpu *c, const void *bytes, unsigned len)
{
	memcpy(c->batch + c->batch_len, bytes, len);
	c->batch_len += len;
}

static void emit_mov_rax(struct kvm_vcpu *c, uint64_t imm)
{
	emit(c, "\x48\xb8", 2); /* movabs $imm, %rax */
	emit(c, &imm, 8);
}

/*
 * The tail: `pop %rax; iretq`, or with stop `pop %rax; jmp kvm_tramp_stopped`
 * (an exit with the guest's registers restored and the frame at rsp).  A
 * kick that finds the vCPU inside the batch turns the iretq into that exit
 * (kvm_stop_batch), so the common path pays no stop-flag test.
 */
static void batch_tail(struct kvm_vcpu *c, unsigned id, bool stop)
{
	uint64_t next = priv_va(KVM_PG_BATCH(id)) + c->batch_len + 6;
	int32_t rel = (int32_t)(int64_t)(code_va(kvm_tramp_stopped) - next);

	emit(c, "\x58", 1);
	c->batch_iretq = c->batch_len;
	if (stop) {
		emit(c, "\xe9", 1);
		emit(c, &rel, 4);
	} else {
		emit(c, "\x48\xcf", 2);
	}
}

/*
 * A kick while the vCPU runs its batch code (KVM_RUN returned EINTR at
 * CPL0): make the tail exit instead of returning to the guest.  The vCPU
 * is not running, and the emulator fetches each CPL0 instruction afresh.
 */
static void kvm_stop_batch(struct vcpu *v, uint64_t rip)
{
	struct kvm_vcpu *c = v->backend_state;
	uint64_t base = priv_va(KVM_PG_BATCH(v->id));

	if (rip >= base && rip <= base + c->batch_iretq &&
	    c->batch[c->batch_iretq] == 0x48) {
		c->batch[c->batch_iretq] = 0xe6; /* out %al, $KVM_PORT_STOPPED */
		c->batch[c->batch_iretq + 1] = KVM_PORT_STOPPED;
	}
}

/*
 * Enters the CPL0 return path: an iretq frame built from v->regs and the
 * batch code (with stop: ending in the stop exit instead of iretq).  The
 * segment registers (CS 0xe008, CR3) put the vCPU at CPL0.
 */
static int kvm_enter_return(struct vcpu *v, bool stop)
{
	struct kvm_vcpu *c = v->backend_state;
	struct kvm_regs kr;
	uint64_t *frame = c->stack + KVM_FRAME_OFF / 8;
	const struct regs *r = &v->regs;
	int rc;

	frame[0] = r->rip;
	frame[1] = FLAT_RING3_CS64;
	frame[2] = user_rflags(r->rflags);
	frame[3] = r->rsp;
	frame[4] = FLAT_RING3_SS64;
	regs_to_kvm(&kr, r);
	kr.rflags = RFLAGS_RESERVED1;
	/* The generated code clobbers rax only; the tail pops it.  Every op
	 * starts with `movabs $imm, %rax` (10 bytes): the first one is done
	 * here, one emulated instruction less. */
	batch_tail(c, v->id, stop);
	frame[-1] = r->rax;
	kr.rsp = frame_va(v->id) - 8;
	kr.rip = priv_va(KVM_PG_BATCH(v->id));
	if (c->nr_batch > 0) {
		memcpy(&kr.rax, c->batch + 2, 8);
		kr.rip += 10;
	}
	c->nr_batch = 0;
	c->batch_len = 0;
	c->sregs.cs = seg_code(KVM_SEL_CS0, 0);
	c->sregs.ss = seg_data(KVM_SEL_SS0, 0);
	c->sregs.fs.base = r->fs_base;
	c->sregs.gs.base = r->gs_base;
	c->sregs.cr3 = c->cr3;
	rc = kvm_set_sregs(c);
	if (rc < 0)
		return rc;
	return kvm_set_regs(c, &kr);
}

/*
 * Loads v->regs and Xen's ring-3 selectors straight into the vCPU, with no
 * CPL0 code: for a vCPU stopped at CPL3, never run, or stopped in the
 * trampoline with nothing queued (instead of an emulated iretq).  A pending
 * CR3 switch (c->cr3) is loaded with the segment registers.
 */
static int kvm_enter_direct(struct vcpu *v)
{
	struct kvm_vcpu *c = v->backend_state;
	struct kvm_regs kr;
	bool sregs = c->where != WHERE_CPL3;
	int rc;

	/* The selectors as of the last exit must be exactly Xen's flat
	 * ring-3 ones, else they are reloaded. */
	if (c->sregs.cs.selector != FLAT_RING3_CS64 || c->sregs.cs.dpl != 3 ||
	    c->sregs.ss.selector != FLAT_RING3_SS64 || c->sregs.ss.dpl != 3)
		sregs = true;
	if (c->sregs.fs.base != v->regs.fs_base ||
	    c->sregs.gs.base != v->regs.gs_base || c->sregs.cr3 != c->cr3)
		sregs = true;
	if (sregs) {
		c->sregs.cs = seg_code(FLAT_RING3_CS64, 3);
		c->sregs.ss = seg_data(FLAT_RING3_SS64, 3);
		c->sregs.fs.base = v->regs.fs_base;
		c->sregs.gs.base = v->regs.gs_base;
		c->sregs.cr3 = c->cr3;
		rc = kvm_set_sregs(c);
		if (rc < 0)
			return rc;
	}
	regs_to_kvm(&kr, &v->regs);
	kr.rflags = user_rflags(kr.rflags);
	return kvm_set_regs(c, &kr);
}

static int kvm_prepare(struct vcpu *v, bool stop)
{
	struct kvm_vcpu *c = v->backend_state;

	/* Only Xen's flat 64-bit ring-3 selectors are ever loaded: anything
	 * else could take guest code to CPL0. */
	if (v->regs.cs != FLAT_RING3_CS64 || v->regs.ss != FLAT_RING3_SS64)
		return -EINVAL;
	if (c->cr3 == 0)
		return -ENXIO;
	if (c->nr_batch > 0 || stop)
		return kvm_enter_return(v, stop);
	return kvm_enter_direct(v);
}

static bool vector_has_error_code(unsigned vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 ||
	       vec == 21 || vec == 29 || vec == 30;
}

/* v->regs from the GPRs plus the iretq frame at the trampoline stack. */
static int regs_from_frame(struct vcpu *v, const struct kvm_regs *kr,
			   uint64_t frame_va_now, uint32_t *err_code,
			   bool has_err)
{
	struct kvm_vcpu *c = v->backend_state;
	uint64_t want = frame_va(v->id) - (has_err ? 8 : 0);
	const uint64_t *f = c->stack + (KVM_FRAME_OFF - (has_err ? 8 : 0)) / 8;

	if (frame_va_now != want)
		return -EFAULT;
	regs_from_kvm(&v->regs, kr);
	if (has_err) {
		*err_code = (uint32_t)f[0];
		f++;
	}
	v->regs.rip = f[0];
	v->regs.cs = (uint16_t)f[1];
	v->regs.rflags = f[2];
	v->regs.rsp = f[3];
	v->regs.ss = (uint16_t)f[4];
	return 0;
}

static void sregs_to_regs(struct vcpu *v, const struct kvm_sregs *s)
{
	v->regs.fs_base = s->fs.base;
	v->regs.gs_base = s->gs.base;
}

/* An `out` from the trampoline. */
static int kvm_exit_io(struct vcpu *v, struct vexit *exit, bool *stopped)
{
	struct kvm_vcpu *c = v->backend_state;
	struct kvm_regs kr;
	unsigned port = c->run->io.port;
	uint64_t lstar = priv_va(KVM_PG_CODE) + KVM_CODE_LSTAR;

	if (c->run->io.direction != KVM_EXIT_IO_OUT || sregs_user(&c->sregs)) {
		exit_fatal(exit, "kvm: guest I/O port access 0x%x", port);
		return 0;
	}
	if (kvm_get_regs(c, &kr) < 0)
		return -errno;
	c->where = WHERE_CPL0;
	sregs_to_regs(v, &c->sregs);
	memset(exit, 0, sizeof(*exit));
	if (port >= KVM_PORT_VECTOR && port < KVM_PORT_VECTOR + 32) {
		unsigned vec = port - KVM_PORT_VECTOR;
		bool has_err = vector_has_error_code(vec);

		if (regs_from_frame(v, &kr, kr.rsp, &exit->error_code, has_err) < 0)
			goto bad_frame;
		if ((v->regs.cs & 3) != 3) {
			/* A natively run LSTAR stub faults on `out`: that is
			 * still the guest's syscall, with rcx/r11 from it. */
			if (vec == 13 && v->regs.rip == lstar)
				goto syscall_fault;
			exit_fatal(exit, "kvm: vector %u in the trampoline at %#llx "
				   "(error %#x, cr2 %#llx)", vec,
				   (unsigned long long)v->regs.rip, exit->error_code,
				   (unsigned long long)c->sregs.cr2);
			return 0;
		}
		/* kvm-pvm runs the LSTAR entry natively without raising the
		 * privilege level: the fetch of the supervisor-only stub
		 * faults, and that is the guest's syscall. */
		if (vec == 14 && v->regs.rip == lstar && c->sregs.cr2 == lstar)
			goto syscall_fault;
		exit->kind = VEXIT_EXCEPTION;
		exit->vector = vec;
		if (vec == 14)
			exit->cr2 = c->sregs.cr2;
		return 0;
	}
	switch (port) {
	case KVM_PORT_SYSCALL:
		regs_from_kvm(&v->regs, &kr);
		goto syscall;
	case KVM_PORT_STOPPED:
		if (regs_from_frame(v, &kr, kr.rsp, NULL, false) < 0)
			goto bad_frame;
		*stopped = true;
		exit->kind = VEXIT_KICK;
		return 0;
	default:
		exit_fatal(exit, "kvm: unexpected trampoline port 0x%x", port);
		return 0;
	}
syscall_fault:
	/* The stub faulted: the frame holds the syscall-time rsp (syscall does
	 * not switch stacks); rcx and r11 are still what syscall put there. */
	exit->error_code = 0;
syscall:
	/* syscall left the return rip in rcx and rflags in r11. */
	v->regs.rip = v->regs.rcx;
	v->regs.rflags = v->regs.r11;
	v->regs.cs = FLAT_RING3_CS64;
	v->regs.ss = FLAT_RING3_SS64;
	exit->kind = VEXIT_SYSCALL;
	exit->syscall_nr = -1;
	return 0;
bad_frame:
	exit_fatal(exit, "kvm: trampoline port 0x%x with rsp %#llx", port,
		   (unsigned long long)kr.rsp);
	return 0;
}

/* The vCPU stopped where it was (signal): a CPL3 state is precise as is. */
static int kvm_read_cpl3(struct vcpu *v)
{
	struct kvm_vcpu *c = v->backend_state;
	struct kvm_regs kr;
	int rc = kvm_get_regs(c, &kr);

	if (rc < 0)
		return rc;
	regs_from_kvm(&v->regs, &kr);
	v->regs.cs = (uint16_t)c->sregs.cs.selector;
	v->regs.ss = (uint16_t)c->sregs.ss.selector;
	sregs_to_regs(v, &c->sregs);
	c->where = WHERE_CPL3;
	return 0;
}

/*
 * The syscall stub's doorbell store: the guest ran `syscall` (rcx = return
 * rip, r11 = rflags).  Whatever CPL or selectors the host ran the LSTAR
 * target with, the next entry loads Xen's ring-3 ones (kvm_enter_*).  Guest
 * code that jumps to the stub itself gets what `syscall` would give it.
 */
static int kvm_exit_syscall_stub(struct vcpu *v, struct vexit *exit)
{
	int rc = kvm_read_cpl3(v);

	if (rc < 0)
		return rc;
	memset(exit, 0, sizeof(*exit));
	v->regs.rip = v->regs.rcx;
	v->regs.rflags = v->regs.r11;
	v->regs.cs = FLAT_RING3_CS64;
	v->regs.ss = FLAT_RING3_SS64;
	exit->kind = VEXIT_SYSCALL;
	exit->syscall_nr = -1;
	return 0;
}

static const char *kvm_exit_name(unsigned reason)
{
	switch (reason) {
	case KVM_EXIT_SHUTDOWN: return "shutdown (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "entry failed";
	case KVM_EXIT_INTERNAL_ERROR: return "internal error";
	case KVM_EXIT_HLT: return "hlt";
	case KVM_EXIT_EXCEPTION: return "exception";
	case KVM_EXIT_DEBUG: return "debug";
	case KVM_EXIT_UNKNOWN: return "unknown";
	default: return "unexpected exit";
	}
}

/* One KVM_RUN and its decoding; *again asks the caller to run once more. */
static int kvm_run_once(struct vcpu *v, struct vexit *exit, bool *again,
			bool *stopped)
{
	struct kvm_vm *k = v->vm->backend_state;
	struct kvm_vcpu *c = v->backend_state;
	struct kvm_run *run = c->run;
	int rc = ioctl(c->fd, KVM_RUN, 0), err = errno;

	*again = false;
	if (kvm_get_sregs(c) < 0)
		return -errno;
	if (rc < 0) {
		if (err != EINTR && err != EAGAIN)
			return -err;
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (sregs_user(&c->sregs)) {
			struct kvm_vcpu_events ev;

			/* Stopped at CPL3 with an exception on its way (e.g.
			 * the fault of a `syscall` that reached the LSTAR
			 * stub): changing rip now would deliver it at the new
			 * rip.  Let it reach the trampoline first. */
			if (ioctl(c->fd, KVM_GET_VCPU_EVENTS, &ev) == 0 &&
			    (ev.exception.injected || ev.exception.pending ||
			     ev.interrupt.injected || ev.nmi.injected)) {
				*again = true;
				return 0;
			}
			memset(exit, 0, sizeof(*exit));
			exit->kind = VEXIT_KICK;
			return kvm_read_cpl3(v);
		}
		/* Inside the trampoline: let it finish.  A stub exits by
		 * itself; the batch code is made to exit before its iretq. */
		{
			struct kvm_regs kr;

			if (kvm_get_regs(c, &kr) < 0)
				return -errno;
			kvm_stop_batch(v, kr.rip);
		}
		*again = true;
		return 0;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		if (run->mmio.is_write &&
		    run->mmio.phys_addr == k->mmio_gpa + KVM_SYSCALL_DB_OFF &&
		    c->sync_regs && run->s.regs.regs.rip ==
		    KVM_USER_CODE_VA + KVM_SYSCALL_STUB_LEN)
			return kvm_exit_syscall_stub(v, exit);
		if (run->mmio.is_write &&
		    (run->mmio.phys_addr & PAGE_MASK) == k->mmio_gpa &&
		    sregs_user(&c->sregs)) {
			rc = kvm_read_cpl3(v);
			if (rc < 0)
				return rc;
			memset(exit, 0, sizeof(*exit));
			exit->kind = VEXIT_HYPERCALL;
			return 0;
		}
		exit_fatal(exit, "kvm: access to unbacked guest-physical %#llx",
			   (unsigned long long)run->mmio.phys_addr);
		return 0;
	case KVM_EXIT_IO:
		return kvm_exit_io(v, exit, stopped);
	case KVM_EXIT_FAIL_ENTRY:
		exit_fatal(exit, "kvm: entry failed, hardware reason %#llx",
			   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return 0;
	case KVM_EXIT_INTERNAL_ERROR: {
		struct kvm_regs kr = { 0 };

		if (kvm_get_regs(c, &kr) < 0)
			kr.rip = ~0ull;
		exit_fatal(exit, "kvm: internal error (suberror %u%s) at rip %#llx, cpl%u",
			   run->internal.suberror,
			   run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			   ", emulation failure" : "",
			   (unsigned long long)kr.rip, c->sregs.cs.dpl);
		return 0;
	}
	default:
		exit_fatal(exit, "kvm: %s (exit reason %u)",
			   kvm_exit_name(run->exit_reason), run->exit_reason);
		return 0;
	}
}

/* The vCPU this thread runs (each vCPU has its own thread). */
static __thread struct vcpu *kvm_self;

static int kvm_queue(struct vcpu *v, uint64_t op, uint64_t val);

static int kvm_vcpu_run(struct vcpu *v, struct vexit *exit)
{
	struct kvm_vcpu *c = v->backend_state;
	bool again, stopped = false;
	int rc;

	kvm_self = v;
	c->thread = pthread_self();
	atomic_store(&c->in_run, true);
	/* A flush another vCPU asked for: a CR3 reload before guest code. */
	if (atomic_exchange(&c->remote_flush, false) && c->where != WHERE_FRESH) {
		rc = kvm_queue(v, BATCH_OP_CR3, c->cr3);
		if (rc < 0)
			goto out;
	}
	rc = kvm_prepare(v, false);
	if (rc < 0)
		goto out;
	for (;;) {
		stopped = false;
		rc = kvm_run_once(v, exit, &again, &stopped);
		if (rc < 0 || again)
			goto next;
		/* A full batch was drained (pt_write): carry on unless a
		 * kick asked for the stop. */
		if (stopped && exit->kind == VEXIT_KICK && c->nr_batch > 0) {
			rc = kvm_prepare(v, false);
			if (rc < 0)
				break;
			continue;
		}
		break;
next:
		if (rc < 0)
			break;
	}
out:
	atomic_store(&c->in_run, false);
	return rc;
}

static void kvm_vcpu_kick(struct vcpu *v)
{
	struct kvm_vcpu *c = v->backend_state;

	if (!c)
		return;
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&c->in_run))
		pthread_kill(c->thread, KVM_SIG_KICK);
}

/*
 * Runs the queued batch now (the queue is full): through the return routine
 * with the stop flag set, so it exits at CPL0 again with the same state.
 */
static int kvm_drain(struct vcpu *v)
{
	struct kvm_vcpu *c = v->backend_state;
	struct vexit exit;
	bool again, stopped;
	int rc;

	if (c->where == WHERE_FRESH)
		return -EAGAIN;
	rc = kvm_prepare(v, true);
	for (;;) {
		if (rc < 0)
			return rc;
		stopped = false;
		rc = kvm_run_once(v, &exit, &again, &stopped);
		if (rc < 0)
			return rc;
		if (again)
			continue;
		if (!stopped)
			return -EIO; /* the routine itself faulted */
		return 0;
	}
}

/*
 * Appends one op to the batch as code: store val at the direct-map address
 * op (op & 3 == 0), invlpg op & ~7 (1), or load CR3 with val (2).  Two
 * emulated instructions each.
 */
static int kvm_queue(struct vcpu *v, uint64_t op, uint64_t val)
{
	struct kvm_vcpu *c = v->backend_state;

	if (c->nr_batch == BATCH_MAX) {
		int rc = kvm_drain(v);

		if (rc < 0)
			return rc;
	}
	switch (op & 3) {
	case BATCH_OP_STORE:
		emit_mov_rax(c, val);
		emit(c, "\x48\xa3", 2); /* movabs %rax, op */
		emit(c, &op, 8);
		break;
	case BATCH_OP_INVLPG:
		emit_mov_rax(c, op & ~7ull);
		emit(c, "\x0f\x01\x38", 3); /* invlpg (%rax) */
		break;
	default:
		emit_mov_rax(c, val);
		emit(c, "\x0f\x22\xd8", 3); /* mov %rax, %cr3 */
		break;
	}
	c->nr_batch++;
	return 0;
}

static int kvm_pt_write(struct vcpu *v, uint64_t gpa, uint64_t val)
{
	struct kvm_vcpu *c = v->backend_state;
	uint64_t *p;
	int rc;

	if (gpa & 7)
		return -EINVAL;
	p = gmem_ptr(&v->vm->mem, gpa, 8);
	if (!p)
		return -EINVAL;
	__atomic_store_n(p, val, __ATOMIC_RELAXED);
	/* A vCPU that never ran has no shadow of anything yet, but another
	 * vCPU of the VM may have: queue the store in every case except
	 * before the first run, where no trampoline entry is possible. */
	if (c->where == WHERE_FRESH)
		return 0;
	rc = kvm_queue(v, KVM_DIRECT_VA + gpa, val);
	/* With several vCPUs a queued store must not be replayed after
	 * another vCPU has stored a newer value in the same entry: the
	 * caller holds the page-type lock, so storing now keeps the stores
	 * in the order the memory writes were made. */
	if (rc == 0 && v->vm->nr_vcpus > 1)
		rc = kvm_drain(v);
	return rc;
}

/*
 * A CR3 load (switch or full flush), ordered after the queued stores.  With
 * nothing queued and a CR3 that differs from the vCPU's, the entry loads it
 * with the segment registers instead (kvm_enter_*: sregs.cr3 = c->cr3), which
 * KVM treats as a mov to CR3 (new root, TLB flushed): no trampoline run.  A
 * reload of the same CR3 (a flush) always runs in the trampoline.
 */
static int kvm_queue_cr3(struct vcpu *v)
{
	struct kvm_vcpu *c = v->backend_state;

	if (c->nr_batch == 0 && c->cr3 != c->sregs.cr3)
		return 0;
	return kvm_queue(v, BATCH_OP_CR3, c->cr3);
}

static int kvm_set_baseptr(struct vcpu *v, uint64_t l4_mfn)
{
	struct kvm_vcpu *c = v->backend_state;

	if (!gmem_is_frame(&v->vm->mem, l4_mfn))
		return -EINVAL;
	c->cr3 = l4_mfn << PAGE_SHIFT;
	if (c->where == WHERE_FRESH)
		return 0; /* loaded with the first KVM_SET_SREGS */
	/* Ordered after any queued stores; kvm_enter_* keep sregs.cr3 equal
	 * to c->cr3 so no separate SET_SREGS reloads it. */
	return kvm_queue_cr3(v);
}

static int kvm_flush_tlb(struct vcpu *v, uint64_t va, bool all)
{
	struct kvm_vcpu *c = v->backend_state;

	if (c->where == WHERE_FRESH)
		return 0;
	/* Another vCPU's batch belongs to its thread: flag it (a full
	 * flush) and make it stop, so it reloads CR3 before it runs guest
	 * code again. */
	if (kvm_self != v) {
		atomic_store(&c->remote_flush, true);
		kvm_vcpu_kick(v);
		return 0;
	}
	if (all)
		return kvm_queue_cr3(v);
	return kvm_queue(v, (va & ~7ull) | BATCH_OP_INVLPG, 0);
}

static void kvm_m2p_update(struct vm *vm, uint64_t mfn, uint64_t pfn)
{
	struct kvm_vm *k = vm->backend_state;

	if (k && mfn < (uint64_t)k->nr_m2p * 512)
		__atomic_store_n(&k->m2p[mfn], pfn, __ATOMIC_RELAXED);
}

/*
 * A reboot's fresh domain: the guest's descriptors and M2P entries as at
 * kvm_vm_init, and every vCPU back to its never-run state (the CPL3 state
 * of kvm_vcpu_init, loaded with SET_SREGS at its first run), with nothing
 * queued.  Guest memory was cleared under the memory slot, which KVM's
 * MMU notifiers follow.
 */
static void kvm_vm_reset(struct vm *vm)
{
	struct kvm_vm *k = vm->backend_state;

	if (!k)
		return;
	memset(k->priv + KVM_PG_GDT * PAGE_SIZE, 0, 7168 * 8);
	for (uint64_t mfn = 0; k->m2p && mfn < (uint64_t)k->nr_m2p * 512; mfn++)
		k->m2p[mfn] = mfn < vm->mem.nr_ram_frames ? mfn : ~0ull;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct kvm_vcpu *c = vm->vcpus[i]->backend_state;

		if (!c)
			continue;
		c->sregs = c->boot_sregs;
		c->where = WHERE_FRESH;
		c->cr3 = 0;
		c->nr_batch = c->batch_len = c->batch_iretq = 0;
		atomic_store(&c->remote_flush, false);
	}
}

/* The guest's descriptors share the GDT with pvisor's (which live above
 * Xen's first reserved entry); one GDT for all vCPUs. */
static int kvm_set_gdt_entry(struct vcpu *v, unsigned index, uint64_t desc)
{
	struct kvm_vm *k = v->vm->backend_state;

	if (index == 0 || index >= 7168)
		return index == 0 && !desc ? 0 : -EINVAL;
	gdt_set(k->priv + KVM_PG_GDT * PAGE_SIZE, index * 8, desc);
	return 0;
}

const struct backend_ops backend_kvm = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_destroy = kvm_vcpu_destroy,
	.fill_hypercall_page = kvm_fill_hypercall_page,
	.l4_slot_reserved = kvm_l4_slot_reserved,
	.l4_slot_entry = kvm_l4_slot_entry,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.pt_write = kvm_pt_write,
	.set_baseptr = kvm_set_baseptr,
	.flush_tlb = kvm_flush_tlb,
	.set_gdt_entry = kvm_set_gdt_entry,
	.vm_reset = kvm_vm_reset,
	.m2p_update = kvm_m2p_update,
	.m2p_va = KVM_SLOT_VA(KVM_L4_M2P),
};
