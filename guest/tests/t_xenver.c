/*
 * Every XENVER_* sub-op of the public interface, answered as Xen 4.14 (the
 * version pvisor reports, src/xen/xenver.h)
 * answers a 64-bit PV domU (issue 15): version, the strings (terminated,
 * within their fields), platform parameters, the feature submap (index 0
 * only; pae_pgdir_above_4gb follows VMASST_TYPE_pae_extended_cr3), page
 * size, the domain handle, pvisor's commandline, build_id denied (-EPERM)
 * as XSM's default policy does, -EFAULT for an unwritable buffer and
 * -ENOSYS past the last sub-op.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/string.h>
#include <kit/test.h>

#include <pvisor/abi.h>

#define BAD_PTR ((void *)0xffff800000001000ul) /* Xen's own range */

/* A string the hypervisor wrote into a field of len bytes: terminated and
 * not empty. */
static bool terminated(const char *s, size_t len)
{
	return s[0] && strnlen(s, len) < len;
}

static void strings(void)
{
	xen_extraversion_t extra;
	struct xen_compile_info ci;
	static xen_capabilities_info_t caps;
	xen_changeset_info_t cs;
	static xen_commandline_t line;

	memset(extra, 0xff, sizeof(extra));
	check_rc(HYPERVISOR_xen_version(XENVER_extraversion, extra), 0,
		 "extraversion_rc");
	check(!strcmp(extra, PVISOR_EXTRAVERSION), "extraversion", "%.16s", extra);
	memset(&ci, 0xff, sizeof(ci));
	check_rc(HYPERVISOR_xen_version(XENVER_compile_info, &ci), 0,
		 "compile_info_rc");
	check(terminated(ci.compiler, sizeof(ci.compiler)) &&
	      terminated(ci.compile_by, sizeof(ci.compile_by)) &&
	      terminated(ci.compile_domain, sizeof(ci.compile_domain)) &&
	      terminated(ci.compile_date, sizeof(ci.compile_date)),
	      "compile_info_strings", "%.64s", ci.compiler);
	check_rc(HYPERVISOR_xen_version(XENVER_capabilities, caps), 0,
		 "capabilities_rc");
	check(!strcmp(caps, "xen-3.0-x86_64"), "capabilities", "%.64s", caps);
	memset(cs, 0xff, sizeof(cs));
	check_rc(HYPERVISOR_xen_version(XENVER_changeset, cs), 0, "changeset_rc");
	check(terminated(cs, sizeof(cs)), "changeset", "%.64s", cs);
	check_rc(HYPERVISOR_xen_version(XENVER_commandline, line), 0,
		 "commandline_rc");
	check(!strncmp(line, "backend=", 8) && terminated(line, sizeof(line)),
	      "commandline_backend", "%.64s", line);
	check_rc(HYPERVISOR_xen_version(XENVER_extraversion, BAD_PTR),
		 -XEN_EFAULT, "extraversion_bad_buffer");
	check_rc(HYPERVISOR_xen_version(XENVER_capabilities, BAD_PTR),
		 -XEN_EFAULT, "capabilities_bad_buffer");
}

static uint32_t submap(unsigned idx, long *rc)
{
	struct xen_feature_info fi = { .submap_idx = idx, .submap = 0xdeadbeef };

	*rc = HYPERVISOR_xen_version(XENVER_get_features, &fi);
	return fi.submap;
}

static void features(void)
{
	uint32_t want = (1u << XENFEAT_mmu_pt_update_preserve_ad) |
			(1u << XENFEAT_highmem_assist) |
			(1u << XENFEAT_gnttab_map_avail_bits);
	uint32_t pae = 1u << XENFEAT_pae_pgdir_above_4gb, map;
	long rc;

	HC(__HYPERVISOR_vm_assist, VMASST_CMD_disable,
	   VMASST_TYPE_pae_extended_cr3, 0, 0, 0);
	map = submap(0, &rc);
	check(rc == 0 && map == want, "features_pv_domu", "rc %ld map %#x", rc, map);
	check_rc(HC(__HYPERVISOR_vm_assist, VMASST_CMD_enable,
		    VMASST_TYPE_pae_extended_cr3, 0, 0, 0), 0, "enable_pae_cr3");
	map = submap(0, &rc);
	check(rc == 0 && map == (want | pae), "features_pae_pgdir_with_assist",
	      "rc %ld map %#x", rc, map);
	submap(1, &rc);
	check_rc(rc, -XEN_EINVAL, "features_submap_1_einval");
	check_rc(HYPERVISOR_xen_version(XENVER_get_features, BAD_PTR),
		 -XEN_EFAULT, "features_bad_buffer");
}

int app_main(const char *cmdline)
{
	struct xen_platform_parameters pp = { 0 };
	xen_domain_handle_t h;
	struct { uint32_t len; unsigned char buf[64]; } bid = { .len = 64 };
	long v;

	printf("t_xenver on %s\n", kit_backend());
	v = HYPERVISOR_xen_version(XENVER_version, NULL);
	check(v == 0x4000e, "version_4_14",
	      "%#lx", v);
	strings();
	check_rc(HYPERVISOR_xen_version(XENVER_platform_parameters, &pp), 0,
		 "platform_parameters_rc");
	check(pp.virt_start == HYPERVISOR_VIRT_START, "platform_virt_start",
	      "%#lx", (unsigned long)pp.virt_start);
	features();
	check_rc(HYPERVISOR_xen_version(XENVER_pagesize, NULL), 4096, "pagesize");
	memset(h, 0xff, sizeof(h));
	check_rc(HYPERVISOR_xen_version(XENVER_guest_handle, h), 0,
		 "guest_handle_rc");
	check(h[0] == 0 && h[15] == 0, "guest_handle_written", "%#x", h[0]);
	check_rc(HYPERVISOR_xen_version(XENVER_build_id, NULL), -XEN_EPERM,
		 "build_id_size_denied");
	check_rc(HYPERVISOR_xen_version(XENVER_build_id, &bid), -XEN_EPERM,
		 "build_id_denied");
	check_rc(HYPERVISOR_xen_version(XENVER_build_id + 1, NULL), -XEN_ENOSYS,
		 "beyond_last_subop");
	check_rc(HYPERVISOR_xen_version(-1, NULL), -XEN_ENOSYS, "negative_subop");
	test_finish();
}
