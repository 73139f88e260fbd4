/*
 * The kvm backend on a hand-built VM: page tables in guest memory map a code
 * page, a data page, the hypercall page and a stack at 0x400000 (user,
 * writable), plus the backend's reserved L4 slots.  Guest code snippets are
 * assembled into this binary (section .rodata) and copied into the code page.
 * Skips when /dev/kvm is missing.  With PVISOR_KVM_BENCH=1 in the
 * environment, prints round-trip costs (used for docs/kvm-backend.md).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <pvisor/xen.h>

#include "backend/backend.h"
#include "backend/kvm/kvm_layout.h"
#include "core/gmem.h"
#include "core/vm.h"

#define BASE 0x400000ul
#define CODE_VA (BASE + 0x0000)
#define DATA_VA (BASE + 0x1000)
#define HCALL_VA (BASE + 0x2000)
#define STACK_VA (BASE + 0x3000)
#define X_VA (BASE + 0x4000)       /* remapped by the pt_write tests */
#define UNMAPPED_VA (BASE + 0x5000)

/* Guest frames. */
#define F_L4 1
#define F_L3 2
#define F_L2 3
#define F_L1 4
#define F_CODE 10
#define F_DATA 11
#define F_HCALL 12
#define F_STACK 13
#define F_A 20
#define F_B 21
#define NR_RAM 64

#define PTE_USER 0x67ull /* P RW US A D */
#define MARK_A 0xaaaa0000aaaaull
#define MARK_B 0xbbbb0000bbbbull

/* The address of a snippet's final ud2. */
#define END_UD2(name) (CODE_VA + (uint64_t)(name##_end - name##_start) - 2)

#define HC(nr) (HCALL_VA + 32 * (nr))

/* Guest snippets: position-independent, copied to CODE_VA. */
#define SNIPPET(name, body)                                            \
	extern const uint8_t name##_start[], name##_end[];             \
	__asm__(".pushsection .rodata\n" #name "_start:\n" body        \
		"\n" #name "_end:\n.popsection\n")

/* Hypercall 17 (xen_version) through the page, result to rbx, then ud2. */
SNIPPET(g_hcall, "mov %rdi, %r9\n mov $0x402000 + 32*17, %r11\n call *%r11\n"
		 "mov %rax, %rbx\n ud2\n");
/* int $0x82 (#UD on kvm-pvm), int3 (#BP, rip after it). */
SNIPPET(g_int82, "int $0x82\n ud2\n");
SNIPPET(g_int3, "int3\n ud2\n");
SNIPPET(g_ud2, "nop\n ud2\n");
/* A store to an unmapped page. */
SNIPPET(g_pf, "movq $1, 0x405000\n ud2\n");
/* ud2, then (after the test rewrites rip) the resume label at +16. */
SNIPPET(g_resume, "ud2\n .fill 14, 1, 0x90\n mov %rax, %rbx\n mov (%rsp), %rcx\n ud2\n");
/* Read X, hypercall (number in r12, via the page), read X again. */
SNIPPET(g_remap, "mov 0x404000, %r13\n mov %r12, %r11\n shl $5, %r11\n"
		 "add $0x402000, %r11\n call *%r11\n mov 0x404000, %r14\n ud2\n");
/* Busy loop counting in rbx. */
SNIPPET(g_spin, "1: inc %rbx\n jmp 1b\n");
SNIPPET(g_syscall, "nop\n syscall\n ud2\n");
/* SSE and rdtsc at CPL3. */
SNIPPET(g_sse, "mov $7, %eax\n movq %rax, %xmm0\n paddq %xmm0, %xmm0\n"
	       "movq %xmm0, %rbx\n rdtsc\n shl $32, %rdx\n or %rdx, %rax\n ud2\n");
/* Benchmarks: r12 iterations of one operation, then ud2. */
SNIPPET(g_bench_mmio, "1: movabs %eax, 0xffff808000000000\n dec %r12\n jnz 1b\n ud2\n");
SNIPPET(g_bench_hc, "1: mov %r13, %r11\n call *%r11\n dec %r12\n jnz 1b\n ud2\n");
SNIPPET(g_bench_syscall, "1: syscall\n dec %r12\n jnz 1b\n ud2\n");
SNIPPET(g_bench_ud2, "1: ud2\n dec %r12\n jnz 1b\n ud2\n");

struct tvm {
	struct vm *vm;
	struct vcpu *v;
};

static bool have_kvm(void)
{
	char why[128];

	return backend_kvm.probe(why, sizeof(why)) == 0;
}

static uint64_t *gpage(struct tvm *t, uint64_t frame)
{
	return gmem_ptr(&t->vm->mem, frame << PAGE_SHIFT, PAGE_SIZE);
}

static int setup(void **state)
{
	struct tvm *t;
	char why[128];

	if (backend_kvm.probe(why, sizeof(why)) < 0) {
		*state = NULL;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->vm = calloc(1, sizeof(*t->vm));
	t->v = calloc(1, sizeof(*t->v));
	assert_non_null(t->vm);
	assert_non_null(t->v);
	t->vm->backend = &backend_kvm;
	assert_int_equal(gmem_init(&t->vm->mem, NR_RAM, 1), 0);
	assert_int_equal(backend_kvm.vm_init(t->vm), 0);
	t->v->vm = t->vm;
	t->vm->vcpus[0] = t->v;
	t->vm->nr_vcpus = 1;
	assert_int_equal(backend_kvm.vcpu_init(t->v), 0);

	uint64_t *l4 = gpage(t, F_L4), *l3 = gpage(t, F_L3);
	uint64_t *l2 = gpage(t, F_L2), *l1 = gpage(t, F_L1);
	for (unsigned s = 0; s < 512; s++) {
		if (backend_kvm.l4_slot_reserved(t->vm, s))
			l4[s] = backend_kvm.l4_slot_entry(t->vm, s);
	}
	l4[0] = (F_L3 << PAGE_SHIFT) | PTE_USER;
	l3[0] = (F_L2 << PAGE_SHIFT) | PTE_USER;
	l2[BASE >> 21] = (F_L1 << PAGE_SHIFT) | PTE_USER;
	l1[0] = (F_CODE << PAGE_SHIFT) | PTE_USER;
	l1[1] = (F_DATA << PAGE_SHIFT) | PTE_USER;
	l1[2] = (F_HCALL << PAGE_SHIFT) | PTE_USER;
	l1[3] = (F_STACK << PAGE_SHIFT) | PTE_USER;
	l1[4] = (F_A << PAGE_SHIFT) | PTE_USER;
	gpage(t, F_A)[0] = MARK_A;
	gpage(t, F_B)[0] = MARK_B;
	backend_kvm.fill_hypercall_page(t->vm, (uint8_t *)gpage(t, F_HCALL));
	assert_int_equal(backend_kvm.set_baseptr(t->v, F_L4), 0);

	t->v->regs = (struct regs){
		.rip = CODE_VA, .rsp = STACK_VA + PAGE_SIZE - 64,
		.rflags = RFLAGS_IF | RFLAGS_RESERVED1,
		.cs = FLAT_RING3_CS64, .ss = FLAT_RING3_SS64,
	};
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tvm *t = *state;

	if (!t)
		return 0;
	backend_kvm.vcpu_destroy(t->v);
	backend_kvm.vm_destroy(t->vm);
	gmem_destroy(&t->vm->mem);
	free(t->v);
	free(t->vm);
	free(t);
	return 0;
}

#define SKIP_WITHOUT_KVM()                                                   \
	do {                                                                 \
		if (!*state) {                                               \
			print_message("# /dev/kvm not usable here\n");       \
			skip();                                              \
		}                                                            \
	} while (0)

static void load(struct tvm *t, const uint8_t *start, const uint8_t *end)
{
	assert_true((size_t)(end - start) <= PAGE_SIZE);
	memcpy(gpage(t, F_CODE), start, (size_t)(end - start));
}
#define LOAD(t, name) load(t, name##_start, name##_end)

static struct vexit run(struct tvm *t)
{
	struct vexit e;

	memset(&e, 0xee, sizeof(e));
	assert_int_equal(backend_kvm.vcpu_run(t->v, &e), 0);
	if (e.kind == VEXIT_FATAL)
		print_message("# fatal: %s\n", e.message);
	return e;
}

static void expect_exception(struct tvm *t, unsigned vec, uint64_t rip)
{
	struct vexit e = run(t);

	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, vec);
	assert_int_equal(t->v->regs.rip, rip);
	assert_int_equal(t->v->regs.cs, FLAT_RING3_CS64);
	assert_int_equal(t->v->regs.ss, FLAT_RING3_SS64);
}

static void test_probe(void **state)
{
	char why[128] = "";
	int rc = backend_kvm.probe(why, sizeof(why));

	if (rc < 0) {
		assert_true(strlen(why) > 0);
		print_message("# probe: %s\n", why);
		skip();
	}
	assert_string_equal(backend_kvm.name, "kvm");
}

static void test_l4_slots(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	static const struct { unsigned slot; bool reserved, has_entry, user; } rows[] = {
		{ 0, false, false, false },
		{ 255, false, false, false },
		{ 256, true, false, false },   /* free for Xen's M2P */
		{ KVM_L4_USER, true, true, true },
		{ KVM_L4_TRAMP, true, true, false },
		{ KVM_L4_DIRECT, true, true, false },
		{ 271, true, false, false },
		{ 272, false, false, false },
		{ 511, false, false, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t e = backend_kvm.l4_slot_entry(t->vm, rows[i].slot);

		assert_int_equal(backend_kvm.l4_slot_reserved(t->vm, rows[i].slot),
				 rows[i].reserved);
		assert_int_equal(e != 0, rows[i].has_entry);
		assert_int_equal((e & 4) != 0, rows[i].user);
		if (e)
			/* Never a frame the guest owns. */
			assert_false(gmem_is_frame(&t->vm->mem, (e & 0xffffffffff000ull) >> 12));
	}
}

static void test_hypercall(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	struct vexit e;

	LOAD(t, g_hcall);
	t->v->regs.rdi = 0x1111;
	t->v->regs.rsi = 0x2222;
	t->v->regs.rdx = 0x3333;
	t->v->regs.r10 = 0x4444;
	t->v->regs.r8 = 0x5555;
	t->v->regs.rbp = 0x6666;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	assert_int_equal(t->v->regs.rax, 17);
	assert_int_equal(t->v->regs.rdi, 0x1111);
	assert_int_equal(t->v->regs.rsi, 0x2222);
	assert_int_equal(t->v->regs.rdx, 0x3333);
	assert_int_equal(t->v->regs.r10, 0x4444);
	assert_int_equal(t->v->regs.r8, 0x5555);
	t->v->regs.rax = (uint64_t)-XEN_ENOSYS;
	expect_exception(t, 6, END_UD2(g_hcall));
	assert_int_equal(t->v->regs.rbx, (uint64_t)-XEN_ENOSYS);
	assert_int_equal(t->v->regs.r9, 0x1111);   /* preserved */
	assert_int_equal(t->v->regs.rbp, 0x6666);
	assert_int_equal(t->v->regs.rsp, STACK_VA + PAGE_SIZE - 64);
}

/* Software interrupts from CPL3: int3 reaches the guest as #BP with rip
 * after it (DPL3 gate); int $n is refused (#UD on kvm-pvm, #GP on hardware
 * where the gate is absent or DPL0). */
static void test_int_n(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	struct vexit e;

	LOAD(t, g_int3);
	expect_exception(t, 3, CODE_VA + 1);
	t->v->regs.rip = CODE_VA;
	LOAD(t, g_int82);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_true(e.vector == 6 || e.vector == 13 || e.vector == 11);
	assert_int_equal(t->v->regs.rip, CODE_VA);
}

static void test_ud2(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;

	LOAD(t, g_ud2);
	t->v->regs.r15 = 0xf15;
	expect_exception(t, 6, CODE_VA + 1);
	assert_int_equal(t->v->regs.r15, 0xf15);
	assert_int_equal(t->v->regs.rsp, STACK_VA + PAGE_SIZE - 64);
	assert_true(t->v->regs.rflags & RFLAGS_IF);
}

static void test_page_fault(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	struct vexit e;

	LOAD(t, g_pf);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, 14);
	assert_int_equal(e.cr2, UNMAPPED_VA);
	assert_int_equal(e.error_code, 6); /* not present, write, user */
	assert_int_equal(t->v->regs.rip, CODE_VA);
}

static void test_resume_rewritten(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;

	LOAD(t, g_resume);
	expect_exception(t, 6, CODE_VA);
	/* Bounce somewhere else entirely, with a new stack. */
	t->v->regs.rip = CODE_VA + 16;
	t->v->regs.rax = 0xabc;
	t->v->regs.rsp = DATA_VA + 128;
	((uint64_t *)gpage(t, F_DATA))[16] = 0xdef;
	t->v->regs.fs_base = 0x12345000;
	expect_exception(t, 6, CODE_VA + 16 + 7);
	assert_int_equal(t->v->regs.rbx, 0xabc);
	assert_int_equal(t->v->regs.rcx, 0xdef);
	assert_int_equal(t->v->regs.rsp, DATA_VA + 128);
	assert_int_equal(t->v->regs.fs_base, 0x12345000);
}

static void test_bad_selectors(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	struct vexit e;
	static const struct { uint16_t cs, ss; } rows[] = {
		{ KVM_SEL_CS0, FLAT_RING3_SS64 },     /* ring-0 code */
		{ FLAT_RING3_CS64, KVM_SEL_SS0 },
		{ FLAT_RING3_CS64 & ~3, FLAT_RING3_SS64 },
		{ 0, 0 },
	};

	LOAD(t, g_ud2);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t->v->regs.cs = rows[i].cs;
		t->v->regs.ss = rows[i].ss;
		assert_int_equal(backend_kvm.vcpu_run(t->v, &e), -EINVAL);
	}
}

static void test_syscall(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	struct vexit e;

	LOAD(t, g_syscall);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_SYSCALL);
	assert_int_equal(t->v->regs.rip, CODE_VA + 3);
	assert_int_equal(t->v->regs.rcx, CODE_VA + 3);
	assert_int_equal(t->v->regs.rsp, STACK_VA + PAGE_SIZE - 64);
	assert_int_equal(t->v->regs.cs, FLAT_RING3_CS64);
	expect_exception(t, 6, CODE_VA + 3);
}

static void test_sse_rdtsc(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	uint32_t lo, hi;
	uint64_t before, after;

	LOAD(t, g_sse);
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	before = (uint64_t)hi << 32 | lo;
	expect_exception(t, 6, (uint64_t)(g_sse_end - g_sse_start) - 2 + CODE_VA);
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	after = (uint64_t)hi << 32 | lo;
	assert_int_equal(t->v->regs.rbx, 14);
	/* Guest TSC = host TSC + tsc_offset. */
	uint64_t g = t->v->regs.rax - (uint64_t)t->vm->tsc_offset;
	print_message("# guest-host TSC: %lld cycles after start\n",
		      (long long)(g - before));
	assert_true(g >= before && g <= after);
}

/*
 * Frame A mapped at X; the guest reads X, makes hypercall `nr`, and during
 * the exit pvisor points X at frame B; the guest reads X again.  Returns the
 * second read.
 */
static uint64_t remap_during_hypercall(struct tvm *t, unsigned nr, bool via_backend)
{
	uint64_t pte_gpa = (F_L1 << PAGE_SHIFT) + 4 * 8;
	uint64_t val = (F_B << PAGE_SHIFT) | PTE_USER;
	struct vexit e;

	LOAD(t, g_remap);
	t->v->regs.r12 = nr;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	assert_int_equal(t->v->regs.rax, nr);
	assert_int_equal(t->v->regs.r13, MARK_A);
	if (via_backend) {
		assert_int_equal(backend_kvm.pt_write(t->v, pte_gpa, val), 0);
	} else {
		assert_int_equal(gmem_write(&t->vm->mem, pte_gpa, &val, 8), 0);
	}
	assert_int_equal(backend_kvm.flush_tlb(t->v, X_VA, false), 0);
	expect_exception(t, 6, (uint64_t)(g_remap_end - g_remap_start) - 2 + CODE_VA);
	return t->v->regs.r14;
}

static void test_pt_write_mmu_update(void **state)
{
	SKIP_WITHOUT_KVM();
	assert_int_equal(remap_during_hypercall(*state, __HYPERVISOR_mmu_update, true), MARK_B);
}

static void test_pt_write_other_hypercall(void **state)
{
	SKIP_WITHOUT_KVM();
	assert_int_equal(remap_during_hypercall(*state, __HYPERVISOR_xen_version, true), MARK_B);
}

/* Documents the kvm-pvm behaviour the pt_write path exists for. */
static void test_host_only_pte_write(void **state)
{
	SKIP_WITHOUT_KVM();
	uint64_t seen = remap_during_hypercall(*state, __HYPERVISOR_mmu_update, false);

	print_message("# host-only PTE write + invlpg at CPL0: vCPU sees %s\n",
		      seen == MARK_B ? "the new mapping" : "the OLD mapping");
	assert_true(seen == MARK_A || seen == MARK_B);
}

static void test_pt_write_bad(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	static const struct { uint64_t gpa; } rows[] = {
		{ 4 },                                  /* unaligned */
		{ (NR_RAM + 1) * PAGE_SIZE },           /* past memory */
		{ ~0ull & ~7ull },                      /* overflow */
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(backend_kvm.pt_write(t->v, rows[i].gpa, 0), -EINVAL);
	assert_int_equal(backend_kvm.set_baseptr(t->v, NR_RAM + 1), -EINVAL);
}

/* Many queued stores (more than one batch page) before one resume. */
static void test_pt_write_many(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	uint64_t pte_gpa = (F_L1 << PAGE_SHIFT) + 4 * 8;
	struct vexit e;

	LOAD(t, g_remap);
	t->v->regs.r12 = __HYPERVISOR_mmu_update;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	for (unsigned i = 0; i < 700; i++) {
		uint64_t f = (i & 1) ? F_A : F_B;

		assert_int_equal(backend_kvm.pt_write(t->v, pte_gpa,
						      (f << PAGE_SHIFT) | PTE_USER), 0);
	}
	assert_int_equal(backend_kvm.flush_tlb(t->v, 0, true), 0);
	assert_int_equal(t->v->regs.rax, __HYPERVISOR_mmu_update);
	expect_exception(t, 6, (uint64_t)(g_remap_end - g_remap_start) - 2 + CODE_VA);
	assert_int_equal(t->v->regs.r14, MARK_A); /* last write: i = 699 */
}

struct kicker {
	struct vcpu *v;
	unsigned delay_ms;
};

static void *kicker_main(void *arg)
{
	struct kicker *k = arg;

	usleep(k->delay_ms * 1000);
	backend_kvm.vcpu_kick(k->v);
	return NULL;
}

static void test_kick(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	struct kicker k = { t->v, 50 };
	pthread_t th;
	struct vexit e;
	uint64_t first;

	LOAD(t, g_spin);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pthread_create(&th, NULL, kicker_main, &k), 0);
		e = run(t);
		pthread_join(th, NULL);
		assert_int_equal(e.kind, VEXIT_KICK);
		assert_true(t->v->regs.rip >= CODE_VA && t->v->regs.rip < CODE_VA + 5);
		assert_int_equal(t->v->regs.cs, FLAT_RING3_CS64);
		if (round == 0)
			first = t->v->regs.rbx;
		print_message("# kick %d: %llu iterations\n", round,
			      (unsigned long long)t->v->regs.rbx);
	}
	assert_true(first > 0 && t->v->regs.rbx > first);
	/* A kick before vcpu_run makes it return at once. */
	backend_kvm.vcpu_kick(t->v);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_KICK);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

enum bench_kind { B_MMIO, B_HC, B_UD2, B_SYSCALL, B_PT1, B_PT16 };

static double bench(struct tvm *t, enum bench_kind kind, unsigned n)
{
	struct vexit e;
	double t0;
	uint64_t pte_gpa = (F_L1 << PAGE_SHIFT) + 4 * 8;

	switch (kind) {
	case B_MMIO: LOAD(t, g_bench_mmio); break;
	case B_HC: LOAD(t, g_bench_hc); t->v->regs.r13 = HC(__HYPERVISOR_xen_version); break;
	case B_SYSCALL: LOAD(t, g_bench_syscall); break;
	case B_UD2: LOAD(t, g_bench_ud2); break;
	case B_PT1:
	case B_PT16: LOAD(t, g_bench_hc); t->v->regs.r13 = HC(__HYPERVISOR_mmu_update); break;
	}
	t->v->regs.rip = CODE_VA;
	t->v->regs.r12 = n;
	t0 = now_us();
	for (;;) {
		e = run(t);
		if (kind == B_UD2 && e.kind == VEXIT_EXCEPTION && t->v->regs.r12 > 1) {
			t->v->regs.rip += 2;
			continue;
		}
		if (e.kind == VEXIT_SYSCALL)
			continue;
		if (e.kind == VEXIT_HYPERCALL) {
			unsigned stores = kind == B_PT1 ? 1 : kind == B_PT16 ? 16 : 0;

			for (unsigned i = 0; i < stores; i++)
				assert_int_equal(backend_kvm.pt_write(t->v, pte_gpa + 8 * (i & 1),
					((uint64_t)(i & 1 ? F_A : F_B) << PAGE_SHIFT) | PTE_USER), 0);
			t->v->regs.rax = 0;
			continue;
		}
		break;
	}
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	if (t->v->regs.r12 != (kind == B_UD2 ? 1 : 0))
		print_message("# bench %d stopped early: vector %u err %#x cr2 %#llx rsp %#llx rip %#llx r12 %llu\n", kind, e.vector, e.error_code, (unsigned long long)e.cr2, (unsigned long long)t->v->regs.rsp,
			      (unsigned long long)t->v->regs.rip,
			      (unsigned long long)t->v->regs.r12);
	assert_int_equal(t->v->regs.r12, kind == B_UD2 ? 1 : 0);
	return (now_us() - t0) / n;
}

static void test_bench(void **state)
{
	SKIP_WITHOUT_KVM();
	struct tvm *t = *state;
	unsigned n = getenv("PVISOR_KVM_BENCH") ? 2000 : 20;
	static const char *names[] = {
		"raw MMIO store exit (CPL3)",
		"null hypercall via page (MMIO)",
		"exception (ud2) round trip",
		"syscall -> VEXIT_SYSCALL round trip",
		"mmu hypercall + 1 pt_write",
		"mmu hypercall + 16 pt_writes",
	};

	for (int k = B_MMIO; k <= B_PT16; k++)
		print_message("# %-42s %8.2f us\n", names[k], bench(t, k, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test_setup_teardown(test_l4_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hypercall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int_n, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ud2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_selectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syscall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sse_rdtsc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pt_write_mmu_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pt_write_other_hypercall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_only_pte_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pt_write_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pt_write_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
	};

	(void)have_kvm;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
