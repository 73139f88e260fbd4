/* xen_version: what pvisor reports about itself, as Xen 4.14 answers a
 * 64-bit PV domU (xen/common/kernel.c do_xen_version, with XSM's default
 * policy).  Every sub-op of Debian's public/version.h is handled. */
#include <stdio.h>
#include <string.h>

#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/xenver.h"

#include <pvisor/abi.h>


static long write_string(struct vcpu *v, uint64_t arg, const char *s,
			 size_t field_len)
{
	char buf[1024];

	if (field_len > sizeof(buf))
		field_len = sizeof(buf);
	memset(buf, 0, field_len);
	strncpy(buf, s, field_len - 1);
	if (hc_write(v, arg, buf, field_len))
		return -XEN_EFAULT;
	return 0;
}

/* Xen 4.14's answer to a 64-bit PV domU for submap 0 (Linux refuses to
 * boot without preserve_ad and gnttab_map_avail_bits); pae_pgdir_above_4gb
 * only once the guest enabled VMASST_TYPE_pae_extended_cr3.
 * memory_op_vnode_supported is left out: pvisor has no
 * XENMEM_get_vnumainfo (docs/pv-abi.md). */
static uint32_t features_submap0(const struct vm *vm)
{
	uint32_t map = (1u << XENFEAT_mmu_pt_update_preserve_ad) |
		       (1u << XENFEAT_highmem_assist) |
		       (1u << XENFEAT_gnttab_map_avail_bits);

	if (vm->xen.vm_assist & (1ul << VMASST_TYPE_pae_extended_cr3))
		map |= 1u << XENFEAT_pae_pgdir_above_4gb;
	return map;
}

long hc_xen_version(struct vcpu *v, const struct hc_args *a)
{
	uint64_t arg = a->a[1];
	char line[64];

	switch (a->a[0]) {
	case XENVER_version:
		return (PVISOR_XEN_MAJOR << 16) | PVISOR_XEN_MINOR;
	case XENVER_extraversion:
		return write_string(v, arg, PVISOR_EXTRAVERSION,
				    sizeof(xen_extraversion_t));
	case XENVER_compile_info: {
		struct xen_compile_info ci;

		memset(&ci, 0, sizeof(ci));
		strcpy(ci.compiler, "gcc");
		strcpy(ci.compile_by, "pvisor");
		strcpy(ci.compile_domain, "pvisor");
		strcpy(ci.compile_date, __DATE__);
		return hc_write(v, arg, &ci, sizeof(ci)) ? -XEN_EFAULT : 0;
	}
	case XENVER_capabilities:
		return write_string(v, arg, "xen-3.0-x86_64",
				    sizeof(xen_capabilities_info_t));
	case XENVER_changeset:
		return write_string(v, arg, "pvisor",
				    sizeof(xen_changeset_info_t));
	case XENVER_platform_parameters: {
		struct xen_platform_parameters pp = {
			.virt_start = HYPERVISOR_VIRT_START,
		};

		return hc_write(v, arg, &pp, sizeof(pp)) ? -XEN_EFAULT : 0;
	}
	case XENVER_get_features: {
		struct xen_feature_info fi;

		if (hc_read(v, arg, &fi, sizeof(fi)))
			return -XEN_EFAULT;
		if (fi.submap_idx != 0)
			return -XEN_EINVAL; /* XENFEAT_NR_SUBMAPS is 1 */
		fi.submap = features_submap0(v->vm);
		return hc_write(v, arg, &fi, sizeof(fi)) ? -XEN_EFAULT : 0;
	}
	case XENVER_pagesize:
		return PAGE_SIZE;
	case XENVER_guest_handle: {
		xen_domain_handle_t h;

		memset(h, 0, sizeof(h));
		return hc_write(v, arg, h, sizeof(h)) ? -XEN_EFAULT : 0;
	}
	case XENVER_commandline:
		snprintf(line, sizeof(line), "backend=%s", v->vm->backend->name);
		return write_string(v, arg, line, sizeof(xen_commandline_t));
	case XENVER_build_id:
		/* Xen's XSM default denies a domU the build id. */
		return -XEN_EPERM;
	default:
		/* extraversion2 and the other xen_varbuf sub-ops are newer
		 * than the interface pvisor offers (4.14). */
		return -XEN_ENOSYS;
	}
}
