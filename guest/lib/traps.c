/*
 * Exception handling: the trap table, per-vector fixup hooks for tests,
 * and the report for anything unhandled.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/traps.h>

#define NR_TRAP_VECTORS 22

unsigned long trap_counts[32];
static trap_hook_fn trap_hooks[256];

/* Entry points in entry.S, indexed by vector. */
#define E(n) extern char trap_entry_##n[];
E(0) E(1) E(3) E(4) E(5) E(6) E(7) E(9) E(10) E(11) E(12) E(13) E(14)
E(15) E(16) E(17) E(18) E(19) E(20) E(21)
#undef E
extern char hypervisor_callback[], failsafe_callback[];

static char *const trap_entries[NR_TRAP_VECTORS] = {
	[0] = trap_entry_0,   [1] = trap_entry_1,   [3] = trap_entry_3,
	[4] = trap_entry_4,   [5] = trap_entry_5,   [6] = trap_entry_6,
	[7] = trap_entry_7,   [9] = trap_entry_9,   [10] = trap_entry_10,
	[11] = trap_entry_11, [12] = trap_entry_12, [13] = trap_entry_13,
	[14] = trap_entry_14, [15] = trap_entry_15, [16] = trap_entry_16,
	[17] = trap_entry_17, [18] = trap_entry_18, [19] = trap_entry_19,
	[20] = trap_entry_20, [21] = trap_entry_21,
};

static const char *const trap_names[NR_TRAP_VECTORS] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
	"#OF overflow", "#BR bound", "#UD invalid opcode",
	"#NM device not available", "#DF double fault", "coprocessor",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved",
	"#MF x87 error", "#AC alignment check", "#MC machine check",
	"#XM SIMD error", "#VE virtualization", "#CP control protection",
};

void traps_init(void)
{
	/* One entry per handled vector plus the zero terminator.  Vector 2
	 * (NMI, nmi_op) and 8 (#DF, Xen's own) are not bounced through the
	 * trap table.  Handlers run with events masked (TI_SET_IF); int3 and
	 * into are allowed from the guest kernel (DPL 3). */
	static struct trap_info table[NR_TRAP_VECTORS + 1];
	unsigned n = 0;

	for (unsigned v = 0; v < NR_TRAP_VECTORS; v++) {
		struct trap_info *ti = &table[n];

		if (!trap_entries[v])
			continue;
		ti->vector = v;
		ti->flags = 0;
		TI_SET_DPL(ti, (v == 3 || v == 4) ? 3 : 0);
		TI_SET_IF(ti, 1);
		ti->cs = FLAT_KERNEL_CS;
		ti->address = (unsigned long)trap_entries[v];
		n++;
	}
	if (HYPERVISOR_set_trap_table(table))
		panic("set_trap_table failed");
}

void traps_clear(void)
{
	HYPERVISOR_set_trap_table(NULL);
}

long trap_register(unsigned vector, unsigned dpl, const void *entry)
{
	struct trap_info table[2] = {
		{ .vector = (uint8_t)vector, .cs = FLAT_KERNEL_CS,
		  .address = (unsigned long)entry },
	};

	TI_SET_DPL(&table[0], dpl);
	TI_SET_IF(&table[0], 1);
	return HYPERVISOR_set_trap_table(table);
}

void trap_set_hook(unsigned vector, trap_hook_fn fn)
{
	if (vector < ARRAY_SIZE(trap_hooks))
		trap_hooks[vector] = fn;
}

static void dump_frame(const struct trap_frame *f)
{
	printf("  rip %016lx  cs %04lx  rflags %08lx  rsp %016lx  ss %04lx\n",
	       f->rip, f->cs, f->rflags, f->rsp, f->ss);
	printf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", f->rax,
	       f->rbx, f->rcx, f->rdx);
	printf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", f->rsi,
	       f->rdi, f->rbp, f->r8);
	printf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", f->r9,
	       f->r10, f->r11, f->r12);
	printf("  r13 %016lx  r14 %016lx  r15 %016lx\n", f->r13, f->r14,
	       f->r15);
}

void trap_dispatch(struct trap_frame *f)
{
	unsigned vec = (unsigned)f->vector;
	uint64_t cr2 = 0;

	if (vec == 14)
		cr2 = READ_ONCE(HYPERVISOR_shared_info->vcpu_info[0].arch.cr2);
	if (vec < ARRAY_SIZE(trap_counts))
		trap_counts[vec]++;
	if (vec < ARRAY_SIZE(trap_hooks) && trap_hooks[vec] &&
	    trap_hooks[vec](f, cr2))
		return;

	printf("\nUnhandled exception %u (%s) error_code %#lx", vec,
	       vec < NR_TRAP_VECTORS ? trap_names[vec] : "?", f->error_code);
	if (vec == 14)
		printf(" cr2 %#lx", cr2);
	printf("\n");
	dump_frame(f);
	panic("unhandled exception %u at rip %#lx", vec, f->rip);
}

void failsafe_dispatch(struct trap_frame *f)
{
	printf("\nFailsafe callback: Xen could not restore a segment\n");
	dump_frame(f);
	panic("failsafe callback");
}
