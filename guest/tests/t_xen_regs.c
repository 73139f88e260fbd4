/*
 * Xen's hypercall page keeps rcx and r11 (it wraps its syscall in
 * push/pop), and code built for Xen keeps live values there across a
 * hypercall.  This guest calls through the page with marker values in rcx
 * and r11 for many kinds of hypercall (succeeding, failing, unknown, a
 * multicall, one that blocks), and checks the values survive; and that an
 * exception bounced to the guest and returned from with HYPERVISOR_iret
 * keeps them too.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/test.h>
#include <kit/traps.h>

#define RCX_MARK 0x1c1c2c2c3c3c4c4cul
#define R11_MARK 0x0000000000000246ul /* a plausible saved rflags */

struct kept {
	long ret;
	uint64_t rcx, r11;
};

/* Hypercall nr through the page with markers in rcx and r11. */
static struct kept call_marked(unsigned nr, uint64_t a1, uint64_t a2,
			       uint64_t a3)
{
	uint64_t entry = (uint64_t)hypercall_page + nr * 32;
	struct kept k;

	asm volatile("movabs %[cm], %%rcx\n\t"
		     "movabs %[rm], %%r11\n\t"
		     "call *%[entry]\n\t"
		     "mov %%rcx, %[c]\n\t"
		     "mov %%r11, %[r]"
		     : "=a"(k.ret), [c] "=m"(k.rcx), [r] "=m"(k.r11), "+D"(a1),
		       "+S"(a2), "+d"(a3)
		     : [entry] "b"(entry), [cm] "i"(RCX_MARK), [rm] "i"(R11_MARK)
		     : "rcx", "r11", "r8", "r9", "r10", "memory");
	return k;
}

static void check_kept(const char *name, struct kept k, long want)
{
	check(k.rcx == RCX_MARK && k.r11 == R11_MARK && k.ret == want, name,
	      "ret %ld (want %ld) rcx %#lx r11 %#lx", k.ret, want,
	      (unsigned long)k.rcx, (unsigned long)k.r11);
}

static void test_hypercalls(void)
{
	static struct multicall_entry mc[2];
	struct kept k;

	check_kept("xen_version", call_marked(__HYPERVISOR_xen_version,
					      XENVER_version, 0, 0),
		   HYPERVISOR_xen_version(XENVER_version, NULL));
	check_kept("console_io_write", call_marked(__HYPERVISOR_console_io,
						   CONSOLEIO_write, 0,
						   (uint64_t)"x"), 0);
	check_kept("sched_yield", call_marked(__HYPERVISOR_sched_op,
					      SCHEDOP_yield, 0, 0), 0);
	check_kept("unknown_hypercall", call_marked(60, 0, 0, 0), -XEN_ENOSYS);
	check_kept("bad_segment_base", call_marked(__HYPERVISOR_set_segment_base,
						   99, 0, 0), -XEN_EINVAL);
	check_kept("memory_op_maximum_gpfn",
		   call_marked(__HYPERVISOR_memory_op, XENMEM_maximum_gpfn,
			       (uint64_t)&(domid_t){ DOMID_SELF }, 0),
		   HYPERVISOR_memory_op(XENMEM_maximum_gpfn,
					&(domid_t){ DOMID_SELF }));
	mc[0].op = __HYPERVISOR_xen_version;
	mc[0].args[0] = XENVER_version;
	mc[1].op = __HYPERVISOR_sched_op;
	mc[1].args[0] = SCHEDOP_yield;
	check_kept("multicall", call_marked(__HYPERVISOR_multicall,
					    (uint64_t)mc, 2, 0), 0);
	/* Blocks the vCPU until the timer fires: a long way round. */
	HYPERVISOR_set_timer_op(0);
	k = call_marked(__HYPERVISOR_set_timer_op, 1, 0, 0);
	check_kept("set_timer_op", k, 0);
	/* The same kept values twice in a row: Xen-built code relies on it. */
	k = call_marked(__HYPERVISOR_callback_op, 99, 0, 0);
	check(k.rcx == RCX_MARK, "rcx_kept_on_error",
	      "rcx %#lx after a refused callback_op", (unsigned long)k.rcx);
}

extern char ud_insn[];
static int ud_hits;

static bool ud_skip(struct trap_frame *f, uint64_t cr2)
{
	if (f->rip != (uint64_t)ud_insn)
		return false;
	ud_hits++;
	f->rip += 2;
	return true;
}

/* #UD bounced to the kit's handler, back through HYPERVISOR_iret. */
static void test_iret(void)
{
	uint64_t rcx, r11;

	trap_set_hook(6, ud_skip);
	asm volatile("movabs %[cm], %%rcx\n\t"
		     "movabs %[rm], %%r11\n\t"
		     "ud_insn: ud2\n\t"
		     "mov %%rcx, %[c]\n\t"
		     "mov %%r11, %[r]"
		     : [c] "=m"(rcx), [r] "=m"(r11)
		     : [cm] "i"(RCX_MARK), [rm] "i"(R11_MARK)
		     : "rcx", "r11", "memory");
	trap_set_hook(6, NULL);
	check(ud_hits == 1 && rcx == RCX_MARK && r11 == R11_MARK,
	      "iret_keeps_rcx_r11", "hits %d rcx %#lx r11 %#lx", ud_hits,
	      (unsigned long)rcx, (unsigned long)r11);
}

int app_main(const char *cmdline)
{
	test_hypercalls();
	test_iret();
	test_finish();
}
