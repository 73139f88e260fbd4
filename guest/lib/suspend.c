/*
 * Xen's suspend protocol, the guest's side (kit/control.h), in the order
 * Linux's drivers/xen/manage.c and arch/x86/xen/suspend_pv.c take it:
 * frontends quiesce, the grant frames and shared_info are unmapped (they
 * are Xen's pages, not the domain's), SCHEDOP_shutdown(SHUTDOWN_suspend)
 * names the start_info frame; it returns 1 if the suspend was cancelled
 * (same domain: map again, go on) or 0 in a new domain after a restore:
 * then start_info's store/console fields are new, no event channel is
 * bound, no grant exists and the store has no watch, so all of that is set
 * up again and the frontends reconnect.
 */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/sched.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define MAX_HOOKS 8

static struct {
	void (*suspend)(void *);
	void (*resume)(void *, bool new_domain);
	void *opaque;
} hooks[MAX_HOOKS];
static unsigned nr_hooks;

int kit_suspend_hook(void (*suspend)(void *), void (*resume)(void *, bool),
		     void *opaque)
{
	if (nr_hooks == MAX_HOOKS)
		return -XEN_ENOSPC;
	hooks[nr_hooks].suspend = suspend;
	hooks[nr_hooks].resume = resume;
	hooks[nr_hooks].opaque = opaque;
	nr_hooks++;
	return 0;
}

void kit_suspend_unhook(void *opaque)
{
	for (unsigned i = 0; i < nr_hooks; i++) {
		if (hooks[i].opaque != opaque)
			continue;
		hooks[i] = hooks[--nr_hooks];
		return;
	}
}

long kit_suspend(void)
{
	struct sched_shutdown s = { .reason = SHUTDOWN_suspend };
	unsigned long flags;
	long rc;

	for (unsigned i = nr_hooks; i-- > 0;)
		if (hooks[i].suspend)
			hooks[i].suspend(hooks[i].opaque);
	flags = local_irq_save();
	gnttab_suspend();
	/* Nothing may touch shared_info (vcpu_info is in it) until mapped. */
	HYPERVISOR_update_va_mapping((unsigned long)HYPERVISOR_shared_info, 0,
				     UVMF_INVLPG);
	rc = HC(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &s,
		kit_start_info_mfn(), 0, 0);
	if (rc == 0)
		kit_reload_start_info();
	kit_map_shared_info();
	if (rc == 0) {
		events_resume();
		console_resume();
		time_resume();
	}
	gnttab_resume(rc == 0);
	local_irq_restore(flags);
	if (rc == 0 && xenbus_resume() < 0)
		panic("resume: cannot reconnect to the store");
	for (unsigned i = 0; i < nr_hooks; i++)
		if (hooks[i].resume)
			hooks[i].resume(hooks[i].opaque, rc == 0);
	return rc;
}
