/*
 * Fuzzes hypercall dispatch: a guest-chosen sequence of hypercall numbers
 * and argument registers, with guest memory (where the arguments point)
 * filled from the input too.  Everything a guest can pass through the
 * hypercall page goes through hypercall_dispatch(); pvisor must answer with
 * a value and never crash, hang, or corrupt its own memory (ASan/UBSan).
 *
 * Input: [256 bytes copied to the argument frame] then records of
 *        { u8 nr, u8 ptr_mask, u64 args[5] }; an argument whose bit is set in
 *        ptr_mask is turned into a guest address inside the mapped window.
 *        A record with bit 7 of ptr_mask set is an exception exit instead
 *        (software interrupts, emulation, bounce: what core/vcpu.c does
 *        with one): vector a[0], error code a[1], rip a[2] in the window,
 *        guest user mode if a[3] bit 0, trap-table DPL/flags a[4].
 */
// fuzz-sources: ALL
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/log.h"
#include "testvm.h"
#include "xen/emulate.h"
#include "xen/softint.h"
#include "xen/traps.h"
#include "fuzz_sandbox.h"

#define ARG_PFN 20
#define WINDOW_PFNS 8

static struct vm *vm;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_verbosity = 0;
	vm = testvm_new();
	return 0;
}

/* Puts the VM back to its boot state so that inputs are independent. */
static void reset(void)
{
	struct vcpu *v = vm->vcpus[0];
	struct shared_info *s = xen_shared_info(vm);

	atomic_store(&vm->stop_reason, VM_RUNNING);
	evtchn_reset(vm);
	/* Keep pvisor's own console and store channels. */
	vm->xen.evtchn[vm->xen.console_port].state = EVTCHN_INTERDOMAIN;
	vm->xen.evtchn[vm->xen.store_port].state = EVTCHN_INTERDOMAIN;
	memset(s, 0, PAGE_SIZE);
	memset(&v->xen.traps, 0, sizeof(v->xen.traps));
	memset(&v->xen.virq_port, 0, sizeof(v->xen.virq_port));
	v->xen.event_callback = v->xen.failsafe_callback = 0;
	v->xen.syscall_callback = 0;
	v->xen.timer_deadline_ns = 0;
	v->xen.vcpu_info_registered = false;
	v->xen.vcpu_info_gpa = (vm->xen.shared_info_mfn << PAGE_SHIFT) +
			       offsetof(struct shared_info, vcpu_info);
	v->xen.kernel_mode = true;
	v->xen.baseptr_mfn = TESTVM_L4;
	xen_vcpu_info(v)->evtchn_upcall_mask = 1;
	testvm_map(vm);
}

/* Hypercalls that would block the fuzzer (they wait for events). */
static bool blocks(uint8_t nr, uint64_t cmd)
{
	return nr == __HYPERVISOR_sched_op &&
	       (cmd == SCHEDOP_block || cmd == SCHEDOP_poll);
}

/* An exception exit as the run loop handles it. */
static void exception_exit(struct vcpu *v, const uint64_t a[5])
{
	struct vexit ex = { .kind = VEXIT_EXCEPTION,
			    .vector = (unsigned)(a[0] & 0xff),
			    .error_code = (uint32_t)a[1],
			    .cr2 = testvm_va(ARG_PFN, a[1] % (WINDOW_PFNS * PAGE_SIZE)) };
	struct trap_info *ti = &v->xen.traps[(a[1] >> 3) & 0xff];

	ti->flags = (uint8_t)a[4];
	ti->address = a[4] >> 8 ? testvm_va(ARG_PFN, 0) : 0;
	v->regs.rip = testvm_va(ARG_PFN, a[2] % (WINDOW_PFNS * PAGE_SIZE));
	v->regs.rsp = testvm_va(ARG_PFN, 1024);
	v->xen.kernel_sp = testvm_va(ARG_PFN, 2048);
	v->xen.kernel_mode = !(a[3] & 1);
	if (xen_softint_exit(v, &ex) || xen_emulate_fault(v, &ex))
		return;
	if (ex.vector < 32)
		(void)xen_bounce_exception(v, &ex);
}

static int fuzz_one(const uint8_t *data, size_t size)
{
	struct vcpu *v = vm->vcpus[0];
	size_t head = size < 256 ? size : 256;

	reset();
	memcpy(testvm_frame(vm, ARG_PFN), data, head);
	data += head;
	size -= head;
	while (size >= 2 + 5 * 8 && !vm_stopped(vm)) {
		uint8_t nr = data[0], mask = data[1];
		uint64_t a[5];

		memcpy(a, data + 2, sizeof(a));
		data += 2 + sizeof(a);
		size -= 2 + sizeof(a);
		if (mask & 0x80) {
			exception_exit(v, a);
			v->xen.kernel_mode = true;
			v->xen.baseptr_mfn = TESTVM_L4;
			continue;
		}
		for (int i = 0; i < 5; i++)
			if (mask & (1u << i))
				a[i] = testvm_va(ARG_PFN, a[i] % (WINDOW_PFNS * PAGE_SIZE));
		if (blocks(nr % XEN_NR_HYPERCALLS, a[0]))
			continue;
		v->regs.rax = nr % XEN_NR_HYPERCALLS;
		v->regs.rdi = a[0];
		v->regs.rsi = a[1];
		v->regs.rdx = a[2];
		v->regs.r10 = a[3];
		v->regs.r8 = a[4];
		/* iret rewrites the registers from guest memory: point rsp at
		 * the window so that it reads fuzz data. */
		v->regs.rsp = testvm_va(ARG_PFN, 512);
		(void)hypercall_dispatch(v, v->regs.rax);
		v->xen.kernel_mode = true;
		v->xen.baseptr_mfn = TESTVM_L4;
	}
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_VCPU, fuzz_one)
