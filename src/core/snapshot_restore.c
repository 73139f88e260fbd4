/* Restoring a snapshot into a new domain (core/snapshot_restore.h). */
#include "core/snapshot_restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/snapshot.h"
#include "core/vm.h"
#include "services/xenstore/xs_snapshot.h"
#include "xen/descriptor.h"
#include "xen/pagetype.h"
#include "xen/shared.h"
#include "xen/time.h"
#include "core/snapshot_lazy.h"

/* Only the frames the file holds are written: the rest stay the memfd's
 * zeros, never touched, so RSS after restore is what the guest used.
 * Each run of consecutive frames is one pwrite into the memfd: the page
 * cache takes the pages without a page fault of pvisor's mapping per
 * frame (a 900 MiB guest: 1.7 s less here); memcpy where that fails. */
static void load_memory(struct vm *vm, const struct snap_file *f)
{
	struct snap_memory m;
	const uint8_t *p;
	uint64_t fr = 0;

	snap_memory_view(f, &m);
	p = m.pages;
	while (fr < m.nr_frames) {
		uint64_t n = 0;
		size_t len;

		if (!snap_frame_present(&m, fr)) {
			fr++;
			continue;
		}
		while (fr + n < m.nr_frames && snap_frame_present(&m, fr + n))
			n++;
		len = n * SNAP_PAGE;
		if (pwrite(vm->mem.memfd, p, len, (off_t)(fr * SNAP_PAGE)) != (ssize_t)len)
			memcpy(vm->mem.host + fr * SNAP_PAGE, p, len);
		p += len;
		fr += n;
	}
}

/* Xen's restore (xc_sr_restore_x86_pv.c, handle_shared_info): the old
 * frame's contents, with no event pending and every event masked. */
static void load_shared_info(struct vm *vm, const struct snap_file *f)
{
	struct shared_info *sh = (struct shared_info *)(vm->mem.host +
				 vm->xen.shared_info_mfn * SNAP_PAGE);

	memcpy(sh, f->shared_info->data, SNAP_PAGE);
	memset(sh->evtchn_pending, 0, sizeof(sh->evtchn_pending));
	memset(sh->evtchn_mask, 0xff, sizeof(sh->evtchn_mask));
	for (unsigned i = 0; i < XEN_LEGACY_MAX_VCPUS; i++) {
		sh->vcpu_info[i].evtchn_upcall_pending = 0;
		sh->vcpu_info[i].evtchn_upcall_mask = 1;
		sh->vcpu_info[i].evtchn_pending_sel = 0;
	}
}

static int load_pagetables(struct vm *vm, const struct snap_file *f, char *err,
			   size_t err_len)
{
	const struct snap_section *s = f->pagetables;

	for (uint64_t i = 0; i < s->length / sizeof(struct snap_pin); i++) {
		struct snap_pin pin;
		int rc;

		memcpy(&pin, s->data + i * sizeof(pin), sizeof(pin));
		rc = gmem_is_ram_frame(&vm->mem, pin.mfn) ?
			     pagetype_pin(vm->vcpus[0], pin.mfn, pin.level) : -EINVAL;
		if (rc < 0) {
			snprintf(err, err_len,
				 "the snapshot's L%u table at frame %#llx does not validate (Xen error %d)",
				 pin.level, (unsigned long long)pin.mfn, rc);
			return -EINVAL;
		}
	}
	return 0;
}

static void load_regs(struct vcpu *v, const struct snap_vcpu *s)
{
	struct regs *r = &v->regs;
	struct xen_vcpu *x = &v->xen;

	r->rax = s->gpr[0]; r->rbx = s->gpr[1]; r->rcx = s->gpr[2];
	r->rdx = s->gpr[3]; r->rsi = s->gpr[4]; r->rdi = s->gpr[5];
	r->rbp = s->gpr[6]; r->rsp = s->gpr[7]; r->r8 = s->gpr[8];
	r->r9 = s->gpr[9]; r->r10 = s->gpr[10]; r->r11 = s->gpr[11];
	r->r12 = s->gpr[12]; r->r13 = s->gpr[13]; r->r14 = s->gpr[14];
	r->r15 = s->gpr[15];
	r->rip = s->rip;
	r->rflags = s->rflags;
	r->fs_base = s->fs_base;
	r->gs_base = s->gs_base;
	r->cs = s->cs;
	r->ss = s->ss;
	x->gs_base_user = s->gs_base_user;
	x->user_cs = s->user_cs;
	x->user_ss = s->user_ss;
	x->kernel_mode = s->flags & SNAP_VCPU_KERNEL_MODE;
	x->initialised = s->flags & SNAP_VCPU_INITIALISED;
	x->down = s->flags & SNAP_VCPU_DOWN;
	x->fpu_ts = s->flags & SNAP_VCPU_FPU_TS;
	x->syscall_masks_events = s->flags & SNAP_VCPU_SYSCALL_MASKS;
	x->failsafe_masks_events = s->flags & SNAP_VCPU_FAILSAFE_MASKS;
	x->iopl = s->iopl & 3;
	x->event_callback = s->event_callback;
	x->failsafe_callback = s->failsafe_callback;
	x->syscall_callback = s->syscall_callback;
	x->kernel_ss = s->kernel_ss;
	x->kernel_sp = s->kernel_sp;
	x->guest_cr4 = s->guest_cr4;
	memcpy(x->debugreg, s->debugreg, sizeof(x->debugreg));
	for (unsigned i = 0; i < 256; i++)
		x->traps[i] = (struct trap_info){
			.vector = s->traps[i].vector, .flags = s->traps[i].flags,
			.cs = s->traps[i].cs, .address = s->traps[i].address,
		};
}

/* The context's page tables and GDT, taken as the hypercalls would. */
static int load_vcpu(struct vcpu *v, const struct snap_vcpu *s, char *err,
		     size_t err_len)
{
	struct xen_vcpu *x = &v->xen;
	int rc = 0;

	load_regs(v, s);
	if (!x->initialised)
		return 0;
	if (s->kernel_baseptr_mfn)
		rc = pagetype_new_baseptr(v, s->kernel_baseptr_mfn, false);
	if (rc == 0 && s->user_baseptr_mfn)
		rc = pagetype_new_baseptr(v, s->user_baseptr_mfn, true);
	if (rc < 0) {
		snprintf(err, err_len, "vcpu%u: the snapshot's page-table base does not validate (Xen error %d)",
			 v->id, rc);
		return -EINVAL;
	}
	x->kernel_baseptr_mfn = s->kernel_baseptr_mfn;
	x->user_baseptr_mfn = s->user_baseptr_mfn;
	x->baseptr_mfn = x->kernel_mode || !s->user_baseptr_mfn ?
				 s->kernel_baseptr_mfn : s->user_baseptr_mfn;
	if (s->gdt_ents && s->gdt_ents <= 16 * 512 &&
	    (rc = xen_set_gdt(v, s->gdt_frames, s->gdt_ents)) < 0) {
		snprintf(err, err_len, "vcpu%u: the snapshot's GDT does not validate (Xen error %d)",
			 v->id, rc);
		return -EINVAL;
	}
	rc = v->vm->backend->set_baseptr(v, x->baseptr_mfn);
	if (rc < 0) {
		snprintf(err, err_len, "backend %s: cannot load vcpu%u's page tables: %s",
			 v->vm->backend->name, v->id, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Xen's restore rewrites what names the toolstack's side in the new
 * domain (process_start_info): store and console rings and channels, and
 * where shared_info now is. */
static int rewrite_start_info(struct vm *vm, const struct snap_domain *d,
			      char *err, size_t err_len)
{
	struct start_info *si = gmem_ptr(&vm->mem, d->start_info_mfn << PAGE_SHIFT,
					 sizeof(*si));

	if (!si || !gmem_is_ram_frame(&vm->mem, d->start_info_mfn) ||
	    !gmem_is_ram_frame(&vm->mem, d->store_mfn) ||
	    !gmem_is_ram_frame(&vm->mem, d->console_mfn)) {
		snprintf(err, err_len, "corrupt: start_info, store or console frame outside RAM");
		return -EINVAL;
	}
	si->store_mfn = d->store_mfn;
	si->store_evtchn = vm->xen.store_port;
	si->console.domU.mfn = d->console_mfn;
	si->console.domU.evtchn = vm->xen.console_port;
	si->shared_info = vm->xen.shared_info_mfn << PAGE_SHIFT;
	return 0;
}

/* The hypercall page holds the backend's own stubs: the new backend's go
 * in (so a kvm snapshot runs on proc and the reverse). */
static void refill_hypercall_page(struct vm *vm)
{
	uint64_t gpa;
	uint8_t *page;

	if (!vm->xen.hypercall_page_gva ||
	    gva_to_gpa(&vm->mem, vm->vcpus[0]->xen.kernel_baseptr_mfn,
		       vm->xen.hypercall_page_gva, false, &gpa) < 0)
		return;
	page = gmem_ptr(&vm->mem, gpa & PAGE_MASK, PAGE_SIZE);
	if (page)
		vm->backend->fill_hypercall_page(vm, page);
}

int snapshot_restore(struct vm *vm, const struct vm_config *cfg,
		     const struct backend_ops *backend,
		     const struct snap_file *f, char *err, size_t err_len)
{
	const struct snap_domain *d = &f->domain;
	int rc = vm_create(vm, cfg, backend, err, err_len);

	for (unsigned i = 0; rc == 0 && i < d->nr_vcpus; i++) {
		struct vcpu *v;

		rc = vm_add_vcpu(vm, &v, err, err_len);
	}
	if (rc < 0)
		return rc;
	if (cfg->restore_lazy)
		rc = snapshot_lazy_start(vm, f, err, err_len); /* pages on demand */
	else
		load_memory(vm, f);
	if (rc < 0)
		return rc;
	vm->xen.vm_assist = d->vm_assist;
	vm->xen.start_info_gva = d->start_info_gva;
	vm->xen.console_mfn = d->console_mfn;
	vm->xen.store_mfn = d->store_mfn;
	vm->xen.hypercall_page_gva = d->hypercall_page_gva;
	rc = rewrite_start_info(vm, d, err, err_len);
	if (rc == 0)
		rc = xs_snapshot_restore(vm, f, err, err_len);
	if (rc == 0)
		rc = load_pagetables(vm, f, err, err_len);
	for (unsigned i = 0; rc == 0 && i < d->nr_vcpus; i++) {
		struct snap_vcpu s;

		memcpy(&s, f->vcpu[i]->data, sizeof(s));
		rc = load_vcpu(vm->vcpus[i], &s, err, err_len);
	}
	if (rc < 0)
		return rc;
	refill_hypercall_page(vm);
	load_shared_info(vm, f);
	/* System time goes on from where it was saved. */
	vm->xen.boot_ns = time_monotonic_ns() - d->system_time_ns;
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		xen_time_update_vcpu(vm->vcpus[i]);
	xen_time_update_wallclock(vm);
	return 0;
}

int snapshot_map(const char *path, struct snap_mapping *m, struct snap_file *f,
		 unsigned parse_flags, char *err, size_t err_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	memset(m, 0, sizeof(*m));
	if (fd < 0) {
		snprintf(err, err_len, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(err, err_len, "empty file, not a pvisor snapshot");
		close(fd);
		return -1;
	}
	m->len = (size_t)st.st_size;
	/* All of it is read now (its CRCs) unless memory is checked as it
	 * loads (restore --lazy): then present at once, not a fault per
	 * 16 pages. */
	m->base = mmap(NULL, m->len, PROT_READ,
		       MAP_PRIVATE | (parse_flags & SNAP_PARSE_DEFER_MEMORY_CRC ? 0 : MAP_POPULATE),
		       fd, 0);
	close(fd);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		snprintf(err, err_len, "cannot map it: %s", strerror(errno));
		return -1;
	}
	if (snap_parse_flags(m->base, m->len, f, parse_flags, err, err_len) < 0) {
		snapshot_unmap(m);
		return -1;
	}
	return 0;
}

void snapshot_unmap(struct snap_mapping *m)
{
	if (m->base)
		munmap(m->base, m->len);
	m->base = NULL;
}
