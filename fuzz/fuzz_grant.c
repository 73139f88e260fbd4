/*
 * libFuzzer harness for the grant table: the input scripts a hostile guest.
 * Each 24-byte record writes a grant entry (flags, domid, frame) and then
 * either pins/unpins it as a backend would, or runs GNTTABOP_copy /
 * setup_table / query_size with the record's bytes as the argument.
 * Invariant checked: after every record no in-use flag remains set and
 * nothing pvisor touched lies outside guest memory (ASan).
 */
// fuzz-sources: ALL
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/testvm.h"
#include "xen/grant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec {
	uint8_t action;
	uint8_t write;
	uint16_t flags;
	uint16_t domid;
	uint16_t ref;
	uint32_t frame;
	uint8_t arg[12];
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm *vm;
	struct vcpu *v;
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 2 };
	struct grant_entry_v1 *table;

	if (!vm)
		vm = testvm_new();
	v = vm->vcpus[0];
	set_xen_guest_handle(st.frame_list, (xen_pfn_t *)testvm_va(101, 0));
	testvm_put(vm, 100, &st, sizeof(st));
	testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_setup_table,
		  testvm_va(100, 0), 1);
	table = gmem_ptr(&vm->mem, vm->xen.gnttab_first_mfn << PAGE_SHIFT,
			 2 * PAGE_SIZE);
	memset(table, 0, 2 * PAGE_SIZE);
	while (size >= sizeof(struct rec)) {
		struct rec r;
		struct gnttab_pin pin;
		grant_ref_t ref;

		memcpy(&r, data, sizeof(r));
		data += sizeof(r);
		size -= sizeof(r);
		ref = r.ref % (2 * GNTTAB_ENTRIES_PER_FRAME + 8);
		if (ref < 2 * GNTTAB_ENTRIES_PER_FRAME)
			table[ref] = (struct grant_entry_v1){
				.flags = r.flags & ~(GTF_reading | GTF_writing),
				.domid = r.domid % 3, .frame = r.frame % (TESTVM_FRAMES + 4) };
		switch (r.action % 4) {
		case 0:
			if (gnttab_pin(vm, r.domid % 3, ref, r.write & 1, &pin) == 0) {
				memset(pin.page, 0x5a, 16);
				gnttab_unpin(vm, &pin);
			}
			break;
		case 1: {
			struct gnttab_copy c;

			memset(&c, 0, sizeof(c));
			memcpy(&c, r.arg, sizeof(r.arg));
			c.source.u.gmfn = r.frame % (TESTVM_FRAMES + 4);
			c.dest.u.ref = ref;
			c.source.domid = r.domid & 1 ? DOMID_SELF : r.domid;
			c.dest.domid = DOMID_SELF;
			c.flags = r.write & 3;
			testvm_put(vm, 102, &c, sizeof(c));
			testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				  testvm_va(102, 0), 1);
			break;
		}
		case 2: {
			struct gnttab_setup_table s = { .dom = r.domid,
							.nr_frames = r.frame % 40 };

			set_xen_guest_handle(s.frame_list,
					     (xen_pfn_t *)testvm_va(101, r.arg[0] * 16ul));
			testvm_put(vm, 100, &s, sizeof(s));
			testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_setup_table,
				  testvm_va(100, 0), 1);
			break;
		}
		default:
			testvm_hc(v, __HYPERVISOR_grant_table_op, r.arg[0] % 12,
				  testvm_va(100, r.arg[1]), r.arg[2] % 3);
		}
		for (unsigned i = 0; i < 2 * GNTTAB_ENTRIES_PER_FRAME; i++)
			if (table[i].flags & (GTF_reading | GTF_writing))
				abort();
	}
	return 0;
}
