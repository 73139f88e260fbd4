/* Booting a kernel into a domain (core/boot.h). */
#include "core/boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/vm.h"
#include "xen/build.h"
#include "xen/pagetype.h"
#include "xen/time.h"

/* Xen's start-of-day registers for an x86-64 PV guest. */
static void set_boot_regs(struct vcpu *v, const struct boot_state *boot)
{
	memset(&v->regs, 0, sizeof(v->regs));
	v->regs.rip = boot->rip;
	v->regs.rsp = boot->rsp;
	v->regs.rsi = boot->rsi;
	v->regs.rflags = RFLAGS_IF | RFLAGS_RESERVED1;
	v->regs.cs = FLAT_KERNEL_CS;
	v->regs.ss = FLAT_KERNEL_SS;
}

int boot_load(struct vm *vm, const struct boot_image *b, char *err, size_t err_len)
{
	struct vcpu *v = vm->vcpus[0];
	struct boot_state boot;
	int rc;

	if (!v) {
		snprintf(err, err_len, "the domain has no vCPU");
		return -EINVAL;
	}
	v->xen.initialised = true;
	/* Secondary vCPUs wait, down, for VCPUOP_initialise and VCPUOP_up. */
	for (unsigned i = 1; i < vm->nr_vcpus; i++)
		vm->vcpus[i]->xen.down = true;
	rc = domain_build(vm, &b->img, b->kernel, b->kernel_len, b->initrd,
			  b->initrd_len, b->cmdline, vm->xen.console_port,
			  vm->xen.store_port, &boot, err, err_len);
	if (rc < 0)
		return rc;
	rc = pagetype_pin_boot_tables(v, boot.l4_mfn);
	if (rc < 0) {
		snprintf(err, err_len,
			 "the boot page tables do not validate (Xen error %d)", rc);
		return -EINVAL;
	}
	v->xen.kernel_baseptr_mfn = boot.l4_mfn;
	v->xen.baseptr_mfn = boot.l4_mfn;
	rc = vm->backend->set_baseptr(v, boot.l4_mfn);
	if (rc < 0) {
		snprintf(err, err_len, "backend %s: cannot load the boot page tables: %s",
			 vm->backend->name, strerror(-rc));
		return rc;
	}
	set_boot_regs(v, &boot);
	xen_time_update_vcpu(v);
	xen_time_update_wallclock(vm);
	return 0;
}
