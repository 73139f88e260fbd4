/*
 * libFuzzer harness for the grant table: the input scripts a hostile guest
 * against a fresh VM whose boot page tables are validated.  Each 24-byte
 * record writes a grant entry (flags, domid, frame; the in-use flags the
 * hypervisor owns are kept) and then does one thing: pins/unpins it as a
 * backend would, runs GNTTABOP_copy / setup_table, maps it
 * (map_grant_ref with guest-chosen flags, by linear or PTE address), unmaps
 * or unmap_and_replaces a mapping, switches the table version, asks for
 * the status frames, overwrites a page-table slot with mmu_update (an
 * implicit unmap of a grant PTE stops the VM, as Xen crashes the domain),
 * or any grant op with the record's bytes as its argument.
 * v2 entries also get bytes 4-7 (a sub-page grant's page_off and length,
 * a transitive one's trans_domid), and a backend may copy through
 * gnttab_pin_copy.
 * Invariants after every record: each entry's GTF_reading/GTF_writing (v1
 * flags or v2 status word) is set exactly while pvisor holds pins on it,
 * no entry a mapping holds is held as sub-page, a successful copy into a
 * grant stays within the window the entry grants (a sub-page grant's, or
 * the one its pins recorded) and no transitive grant is ever copied
 * through (pvisor's domain 0 grants nothing), and, while no device
 * mapping (which has no PTE) is live, the page-type counts match the page
 * tables (pagetype_check); ASan/UBSan watch memory.
 */
// fuzz-sources: ALL
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/testvm.h"
#include "core/log.h"
#include "xen/grant.h"
#include "xen/grant_state.h"
#include "xen/pagetype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARG_PFN 100
#define LIST_PFN 101
#define COPY_PFN 102
#define SLOT_FIRST 300 /* L1 slots the guest maps grants at */
#define SLOTS 200
#define MAX_MAPS 16

struct rec {
	uint8_t action;
	uint8_t write;
	uint16_t flags;
	uint16_t domid;
	uint16_t ref;
	uint32_t frame;
	uint8_t arg[12];
};

/* What the harness passed for each live mapping, to unmap it again. */
struct mapping {
	bool live;
	grant_handle_t handle;
	uint64_t host_addr, dev_bus_addr;
};

static struct mapping maps[MAX_MAPS];

static uint64_t slot_addr(uint8_t sel, uint16_t x, bool pte)
{
	unsigned slot = SLOT_FIRST + x % SLOTS;

	if (pte)
		return ((uint64_t)TESTVM_L1A << PAGE_SHIFT) + slot * 8 + (sel & 1);
	return testvm_va(slot, 0);
}

static long gop(struct vcpu *v, unsigned cmd, void *op, size_t len)
{
	long rc;

	testvm_put(v->vm, ARG_PFN, op, len);
	rc = testvm_hc(v, __HYPERVISOR_grant_table_op, cmd,
		       testvm_va(ARG_PFN, 0), 1);
	memcpy(op, testvm_frame(v->vm, ARG_PFN), len);
	return rc;
}

static void write_entry(struct vm *vm, struct gnttab *gt, const struct rec *r,
			grant_ref_t ref)
{
	unsigned per = gt->version == 2 ? 256 : 512;
	uint8_t *f;

	if (ref >= gt->nr_frames * per)
		return;
	f = (uint8_t *)testvm_frame(vm, vm->xen.gnttab_first_mfn + ref / per);
	if (gt->version == 2) {
		grant_entry_v2_t *e = (grant_entry_v2_t *)f + ref % per;

		e->hdr.domid = r->domid % 3;
		/* Not the in-use bits: a v2->v1 switch carries the header's
		 * bits over to the v1 flags (as Xen does). */
		e->hdr.flags = r->flags & ~(GTF_reading | GTF_writing);
		e->full_page.frame = r->frame % (TESTVM_FRAMES + 40);
		/* page_off / trans_domid (small domids half the time), length. */
		e->sub_page.page_off = (uint16_t)(r->arg[8] | r->arg[9] << 8);
		if (r->arg[8] & 1)
			e->sub_page.page_off = r->arg[9] % 3;
		e->sub_page.length = (uint16_t)((r->arg[10] | r->arg[11] << 8) % 4200);
	} else {
		struct grant_entry_v1 *e = (struct grant_entry_v1 *)f + ref % per;
		uint16_t inuse = e->flags & (GTF_reading | GTF_writing);

		e->domid = r->domid % 3;
		e->flags = (uint16_t)((r->flags & ~(GTF_reading | GTF_writing)) | inuse);
		e->frame = r->frame % (TESTVM_FRAMES + 40);
	}
}

static void do_map(struct vcpu *v, const struct rec *r, grant_ref_t ref)
{
	bool pte = r->arg[2] & 1;
	uint32_t flags = (r->arg[0] & (GNTMAP_device_map | GNTMAP_host_map |
				       GNTMAP_readonly | GNTMAP_application_map)) |
			 (pte ? GNTMAP_contains_pte : 0) |
			 ((uint32_t)r->arg[1] << _GNTMAP_guest_avail0);
	struct gnttab_map_grant_ref op = {
		.host_addr = slot_addr(r->arg[3], r->frame >> 16, pte),
		.flags = flags, .ref = ref, .dom = r->arg[4] & 1 ? 1 : r->domid,
	};
	struct mapping *m = &maps[r->arg[5] % MAX_MAPS];

	if (gop(v, GNTTABOP_map_grant_ref, &op, sizeof(op)) == 0 &&
	    op.status == GNTST_okay) {
		*m = (struct mapping){ true, op.handle, op.host_addr,
				       (flags & GNTMAP_device_map) ? op.dev_bus_addr : 0 };
	}
}

static void do_unmap(struct vcpu *v, const struct rec *r, bool replace)
{
	struct mapping *m = &maps[r->arg[5] % MAX_MAPS];
	grant_handle_t h = m->live && !(r->arg[6] & 1) ? m->handle : r->ref;

	if (replace) {
		struct gnttab_unmap_and_replace op = {
			.host_addr = m->host_addr, .handle = h,
			.new_addr = slot_addr(0, r->frame, false),
		};

		(void)gop(v, GNTTABOP_unmap_and_replace, &op, sizeof(op));
	} else {
		struct gnttab_unmap_grant_ref op = {
			.host_addr = m->host_addr, .handle = h,
			.dev_bus_addr = r->arg[7] & 1 ? 0 : m->dev_bus_addr,
		};

		(void)gop(v, GNTTABOP_unmap_grant_ref, &op, sizeof(op));
	}
}

/* The bytes a copy into ref may touch: what its pins recorded, else what
 * the entry grants now (a v2 sub-page grant: Xen's 15-bit page_off). */
static void copy_window(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
			unsigned *start, unsigned *len)
{
	const grant_entry_v2_t *e = (const grant_entry_v2_t *)testvm_frame(
		vm, vm->xen.gnttab_first_mfn + ref / 256) + ref % 256;

	*start = 0;
	*len = 4096;
	if (gt->readers[ref]) {
		*start = gt->act_start[ref];
		*len = gt->act_len[ref];
	} else if (gt->version == 2 && (e->hdr.flags & GTF_sub_page)) {
		*start = e->sub_page.page_off & 0x7fff;
		*len = e->sub_page.length;
	}
}

static bool is_transitive_v2(struct vm *vm, struct gnttab *gt, grant_ref_t ref)
{
	const grant_entry_v2_t *e = (const grant_entry_v2_t *)testvm_frame(
		vm, vm->xen.gnttab_first_mfn + ref / 256) + ref % 256;

	return gt->version == 2 && ref < gt->nr_frames * 256 &&
	       (e->hdr.flags & GTF_type_mask) == GTF_transitive;
}

/* GNTTABOP_copy from a frame (or a grant) into grant ref, checked against
 * the window the entry grants. */
static void do_copy(struct vcpu *v, const struct rec *r, grant_ref_t ref)
{
	struct vm *vm = v->vm;
	struct gnttab *gt = vm->xen.gnttab;
	struct gnttab_copy c;
	unsigned start = 0, len = 0;
	bool transitive = is_transitive_v2(vm, gt, ref);

	memset(&c, 0, sizeof(c));
	memcpy(&c, r->arg, sizeof(r->arg));
	c.source.u.gmfn = r->frame % (TESTVM_FRAMES + 4);
	c.dest.u.ref = ref;
	c.source.domid = r->domid & 1 ? DOMID_SELF : r->domid;
	c.dest.domid = DOMID_SELF;
	c.dest.offset = (uint16_t)((r->frame >> 16) % 4100);
	c.len = (uint16_t)((r->arg[10] | r->arg[11] << 8) % 4100);
	c.flags = r->write & 3;
	if (ref < gt->nr_frames * (gt->version == 2 ? 256 : 512))
		copy_window(vm, gt, ref, &start, &len);
	testvm_put(vm, COPY_PFN, &c, sizeof(c));
	testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
		  testvm_va(COPY_PFN, 0), 1);
	memcpy(&c, testvm_frame(vm, COPY_PFN), sizeof(c));
	if (c.status != GNTST_okay || !(c.flags & GNTCOPY_dest_gref))
		return;
	if (transitive || c.dest.offset < start ||
	    c.dest.offset + c.len > start + len || c.dest.offset + c.len > 4096) {
		fprintf(stderr, "copy into ref %u at %u+%u outside %u+%u (transitive %d)\n",
			ref, c.dest.offset, c.len, start, len, transitive);
		abort();
	}
}

/* A backend's copy pin: it writes only inside the window. */
static void do_backend_copy(struct vm *vm, const struct rec *r,
			    grant_ref_t ref)
{
	struct gnttab_pin pin;
	unsigned off = r->arg[0] | (r->arg[1] & 0x1f) << 8, len = r->arg[2];

	if (gnttab_pin_copy(vm, r->domid % 3, ref, r->write & 1, &pin))
		return;
	if (gnttab_pin_covers(&pin, off, len)) {
		if (off < pin.off || off + len > 4096u ||
		    off + len > (unsigned)pin.off + pin.len)
			abort();
		if (r->write & 1)
			memset(pin.page + off, 0x5b, len);
	}
	gnttab_unpin(vm, &pin);
}

static void do_action(struct vcpu *v, const struct rec *r, grant_ref_t ref)
{
	struct vm *vm = v->vm;
	struct gnttab_pin pin;

	switch (r->action % 12) {
	case 0:
		if (gnttab_pin(vm, r->domid % 3, ref, r->write & 1, &pin) == 0) {
			/* The map rules: never a sub-page window. */
			if (pin.off != 0 || pin.len != 4096)
				abort();
			/* A backend writes only what it pinned for writing. */
			if (r->write & 1)
				memset(pin.page, 0x5a, 16);
			else
				(void)*(volatile uint8_t *)pin.page; /* a read */
			gnttab_unpin(vm, &pin);
		}
		break;
	case 1:
		do_copy(v, r, ref);
		break;
	case 2: {
		struct gnttab_setup_table s = { .dom = r->domid,
						.nr_frames = r->frame % 40 };

		set_xen_guest_handle(s.frame_list,
				     (xen_pfn_t *)testvm_va(LIST_PFN, r->arg[0] * 16ul));
		(void)gop(v, GNTTABOP_setup_table, &s, sizeof(s));
		break;
	}
	case 3:
		do_map(v, r, ref);
		break;
	case 4:
		do_unmap(v, r, false);
		break;
	case 5:
		do_unmap(v, r, true);
		break;
	case 6: {
		struct gnttab_set_version s = { .version = r->arg[0] % 4 };

		(void)gop(v, GNTTABOP_set_version, &s, sizeof(s));
		break;
	}
	case 7: {
		struct gnttab_get_status_frames s = { .nr_frames = r->arg[0] % 6,
						      .dom = r->domid };

		set_xen_guest_handle(s.frame_list,
				     (uint64_t *)testvm_va(LIST_PFN, r->arg[1] * 16ul));
		(void)gop(v, GNTTABOP_get_status_frames, &s, sizeof(s));
		break;
	}
	case 8:
		/* The guest overwrites a slot that may hold a grant PTE. */
		(void)pagetype_mod_va(v, slot_addr(0, r->ref, false),
				      ((uint64_t)(r->frame % TESTVM_FRAMES) << 12) |
					      (r->write & 7));
		break;
	case 9: {
		/* Swapping entries, in use or not, keeps flags and pins apart. */
		struct gnttab_swap_grant_ref s = { .ref_a = ref, .ref_b = (grant_ref_t)(r->arg[1] | r->arg[2] << 8) % 1100 };

		(void)gop(v, GNTTABOP_swap_grant_ref, &s, sizeof(s));
		break;
	}
	case 10:
		do_backend_copy(vm, r, ref);
		break;
	default:
		testvm_hc(v, __HYPERVISOR_grant_table_op, r->arg[0] % 13,
			  testvm_va(ARG_PFN, r->arg[1]), r->arg[2] % 3);
	}
}

/* The in-use flags match pvisor's pins; the page types match the tables. */
static void check_invariants(struct vm *vm, struct gnttab *gt)
{
	unsigned per = gt->version == 2 ? 256 : 512;
	bool device_maps = false;
	char why[256];

	for (grant_ref_t ref = 0; ref < gt->nr_frames * per; ref++) {
		uint16_t st;

		if (gt->version == 2)
			st = ((uint16_t *)testvm_frame(
				vm, vm->xen.gnttab_first_mfn +
					    XEN_GNTTAB_MAX_FRAMES))[ref];
		else
			st = ((struct grant_entry_v1 *)testvm_frame(
				      vm, vm->xen.gnttab_first_mfn))[ref].flags;
		if (!!(st & GTF_reading) != (gt->readers[ref] > 0) ||
		    !!(st & GTF_writing) != (gt->writers[ref] > 0)) {
			fprintf(stderr, "ref %u v%u status %#x readers %u writers %u\n",
				ref, gt->version, st, gt->readers[ref], gt->writers[ref]);
			abort();
		}
	}
	for (unsigned h = 0; h < GNTTAB_MAPTRACK_MAX; h++) {
		const struct gnttab_map *m = &gt->maptrack[h];

		device_maps |= m->flags & GNTMAP_device_map;
		/* Xen's map path: never an entry held as a sub-page grant. */
		if (m->flags && gt->act_sub_page[m->ref]) {
			fprintf(stderr, "handle %u maps sub-page ref %u\n", h, m->ref);
			abort();
		}
	}
	if (!device_maps && !pagetype_check(vm, why, sizeof(why))) {
		fprintf(stderr, "pagetype: %s\n", why);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm *vm;
	struct vcpu *v;
	struct gnttab *gt;
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 2 };

	log_verbosity = 0;
	vm = testvm_new();
	v = vm->vcpus[0];
	memset(maps, 0, sizeof(maps));
	if (pagetype_pin_boot_tables(v, TESTVM_L4) < 0)
		abort();
	set_xen_guest_handle(st.frame_list, (xen_pfn_t *)testvm_va(LIST_PFN, 0));
	(void)gop(v, GNTTABOP_setup_table, &st, sizeof(st));
	gt = vm->xen.gnttab;
	while (size >= sizeof(struct rec)) {
		struct rec r;
		grant_ref_t ref;

		memcpy(&r, data, sizeof(r));
		data += sizeof(r);
		size -= sizeof(r);
		ref = r.ref % (2 * 512 + 8);
		write_entry(vm, gt, &r, ref);
		do_action(v, &r, ref);
		check_invariants(vm, gt);
	}
	testvm_free(vm);
	return 0;
}
