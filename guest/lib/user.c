/*
 * Guest user mode (see kit/user.h).
 */
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/user.h>

#define USER_STACK_PAGES 4
#define KERNEL_STACK_PAGES 4

/* lib/user_entry.S */
long user_enter(uint64_t rip, uint64_t rsp, long fn, long arg);
extern char user_syscall_entry[], user_trampoline[];

static void *user_stack, *kernel_stack;
static bool user_ready;

long user_init(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_NEW_USER_BASEPTR };
	struct callback_register sys = {
		.type = CALLBACKTYPE_syscall,
		.address = (unsigned long)user_syscall_entry,
	};
	long rc;

	if (user_ready)
		return 0;
	user_stack = alloc_pages(USER_STACK_PAGES);
	kernel_stack = alloc_pages(KERNEL_STACK_PAGES);
	if (!user_stack || !kernel_stack)
		return -XEN_ENOMEM;
	op.arg1.mfn = virt_to_mfn(pt_root());
	rc = HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
	if (rc)
		return rc;
	rc = HC(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS,
		(char *)kernel_stack + KERNEL_STACK_PAGES * PAGE_SIZE, 0, 0, 0);
	if (rc)
		return rc;
	rc = HYPERVISOR_callback_op(CALLBACKOP_register, &sys);
	if (rc)
		return rc;
	user_ready = true;
	return 0;
}

long user_run(user_fn fn, long arg)
{
	uint8_t *mask = &HYPERVISOR_shared_info->vcpu_info[0].evtchn_upcall_mask;
	uint8_t saved = READ_ONCE(*mask);
	long rc = user_init();

	if (rc)
		return rc;
	rc = user_enter((uint64_t)user_trampoline,
			(uint64_t)user_stack + USER_STACK_PAGES * PAGE_SIZE,
			(long)fn, arg);
	/* The syscall callback does not mask events; put back the caller's
	 * state (the iret into user mode enabled them). */
	WRITE_ONCE(*mask, saved);
	return rc;
}
