/*
 * Writing a snapshot (docs/snapshot-format.md) when the guest suspends.
 * What goes in is what Xen's PV save stream carries for a domain that is
 * to be resumed as a new one: memory, each vCPU's context, the
 * shared_info frame, the pinned page tables, and where start_info and the
 * console and xenstore rings are, the guest's own xenstore nodes
 * (services/xenstore/xs_snapshot.h) and the devices it has, hot-plugged
 * ones included (core/snapshot_devices.h).  Event channels, grants, timers and
 * xenstore connections and watches are not carried: on restore the guest
 * is in a new domain (its suspend call returns 0) and sets them up again,
 * as under Xen (docs/pv-abi.md).
 */
#include "core/snapshot_save.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "core/snapshot_live.h"
#include "core/vm.h"
#include "services/blkback/blkback.h"
#include "services/scsiback/scsiback.h"
#include "services/xenstore/xs_snapshot.h"
#include "xen/pagetype.h"
#include "xen/time.h"

/* The devices the guest has at the save, hot-plugged ones included. */
struct saved_devices {
	struct vm_disk disks[VM_MAX_DISKS];
	struct vm_scsi luns[VM_MAX_SCSI];
	unsigned nr_disks, nr_luns;
};

static void put_domain(struct snap_writer *w, struct vm *vm,
		       const struct saved_devices *dev, uint64_t start_info_mfn)
{
	struct snap_domain d = {
		.nr_ram_frames = vm->mem.nr_ram_frames,
		.nr_vcpus = vm->nr_vcpus,
		.nr_disks = dev->nr_disks,
		.nr_nics = vm->cfg->nr_net,
		.nr_scsi = (uint16_t)dev->nr_luns,
		.nr_shares = (uint16_t)vm->cfg->nr_shares,
		.vm_assist = vm->xen.vm_assist,
		.start_info_gva = vm->xen.start_info_gva,
		.start_info_mfn = start_info_mfn,
		.console_mfn = vm->xen.console_mfn,
		.store_mfn = vm->xen.store_mfn,
		.hypercall_page_gva = vm->xen.hypercall_page_gva,
		.system_time_ns = xen_system_time_ns(vm),
	};

	snap_section_begin(w, SNAP_DOMAIN, 0);
	snap_write(w, &d, sizeof(d));
	snap_section_end(w);
}

static void put_vcpu(struct snap_writer *w, const struct vcpu *v)
{
	const struct regs *r = &v->regs;
	const struct xen_vcpu *x = &v->xen;
	struct snap_vcpu s = {
		.gpr = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp,
			 r->rsp, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13,
			 r->r14, r->r15 },
		.rip = r->rip, .rflags = r->rflags,
		.fs_base = r->fs_base, .gs_base = r->gs_base,
		.gs_base_user = x->gs_base_user,
		.cs = r->cs, .ss = r->ss,
		.user_cs = x->user_cs, .user_ss = x->user_ss,
		.flags = (x->kernel_mode ? SNAP_VCPU_KERNEL_MODE : 0) |
			 (x->initialised ? SNAP_VCPU_INITIALISED : 0) |
			 (x->down ? SNAP_VCPU_DOWN : 0) |
			 (x->fpu_ts ? SNAP_VCPU_FPU_TS : 0) |
			 (x->syscall_masks_events ? SNAP_VCPU_SYSCALL_MASKS : 0) |
			 (x->failsafe_masks_events ? SNAP_VCPU_FAILSAFE_MASKS : 0),
		.iopl = x->iopl,
		.event_callback = x->event_callback,
		.failsafe_callback = x->failsafe_callback,
		.syscall_callback = x->syscall_callback,
		.kernel_ss = x->kernel_ss, .kernel_sp = x->kernel_sp,
		.kernel_baseptr_mfn = x->kernel_baseptr_mfn,
		.user_baseptr_mfn = x->user_baseptr_mfn,
		.guest_cr4 = x->guest_cr4,
		.gdt_ents = x->gdt_ents,
	};

	memcpy(s.debugreg, x->debugreg, sizeof(s.debugreg));
	memcpy(s.gdt_frames, x->gdt_frames, sizeof(s.gdt_frames));
	for (unsigned i = 0; i < 256; i++)
		s.traps[i] = (struct snap_trap){
			.vector = x->traps[i].vector, .flags = x->traps[i].flags,
			.cs = x->traps[i].cs, .address = x->traps[i].address,
		};
	snap_section_begin(w, SNAP_VCPU, v->id);
	snap_write(w, &s, sizeof(s));
	snap_section_end(w);
}

bool snapshot_page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[SNAP_PAGE];

	return !memcmp(p, zero, SNAP_PAGE);
}

/* pread or pwrite until all of [buf, buf+len) is done: 0 or -errno (-EIO
 * at the end of the file). */
static int pio_full(int fd, uint8_t *p, size_t len, uint64_t off, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, p, len, (off_t)off)
				  : pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int snapshot_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return pio_full(fd, buf, len, off, false);
}

int snapshot_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	/* pio_full writes from p, never to it. */
	return pio_full(fd, (uint8_t *)(uintptr_t)buf, len, off, true);
}

int snapshot_each_data_run(int memfd, uint64_t nr_frames,
			   int (*fn)(void *ctx, uint64_t first, uint64_t n), void *ctx)
{
	off_t end = (off_t)(nr_frames * SNAP_PAGE), off = 0;

	while (off < end) {
		off_t data = lseek(memfd, off, SEEK_DATA), hole;

		if (data < 0 || data >= end)
			break;
		hole = lseek(memfd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		for (uint64_t f = (uint64_t)data / SNAP_PAGE,
			      last = ((uint64_t)hole + SNAP_PAGE - 1) / SNAP_PAGE;
		     f < last; f += SNAP_COPY_FRAMES) {
			uint64_t n = last - f < SNAP_COPY_FRAMES ? last - f : SNAP_COPY_FRAMES;
			int rc = fn(ctx, f, n);

			if (rc < 0)
				return rc;
		}
		off = hole;
	}
	return 0;
}

struct find_present {
	int memfd;
	uint8_t *buf;
	uint64_t *bits;
	int64_t present;
};

static int find_present_run(void *ctx, uint64_t first, uint64_t n)
{
	struct find_present *fp = ctx;
	int rc = snapshot_pread_full(fp->memfd, fp->buf, n * SNAP_PAGE, first * SNAP_PAGE);

	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t f = first + i;

		if (!snapshot_page_is_zero(fp->buf + i * SNAP_PAGE)) {
			fp->bits[f / 64] |= 1ull << (f % 64);
			fp->present++;
		}
	}
	return 0;
}

/* Marks the RAM frames that hold anything.  Holes of the memfd (never
 * written) are skipped without being touched (SEEK_DATA/SEEK_HOLE): reading
 * them would fault in a zero page each.  The rest is read with pread, not
 * through pvisor's mapping, whose pages the guest (on proc, through its own
 * mappings) wrote: a first touch of each would cost a page fault, ~5-20 us
 * on a nested host (docs/benchmarks.md, "Live saves"). */
int64_t snapshot_find_present(struct vm *vm, uint64_t *bits)
{
	struct find_present fp = { .memfd = vm->mem.memfd, .bits = bits };
	int rc;

	fp.buf = malloc(SNAP_COPY_FRAMES * SNAP_PAGE);
	if (!fp.buf)
		return -ENOMEM;
	rc = snapshot_each_data_run(vm->mem.memfd, vm->mem.nr_ram_frames, find_present_run, &fp);
	free(fp.buf);
	return rc < 0 ? rc : fp.present;
}

int snapshot_put_memory(struct snap_writer *w, uint64_t n, int fd, const uint64_t *bits)
{
	uint64_t words = (n + 63) / 64, hdr[2] = { n, 0 };
	uint8_t *buf = malloc(SNAP_COPY_FRAMES * SNAP_PAGE);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < words; i++)
		hdr[1] += (uint64_t)__builtin_popcountll(bits[i]);
	snap_section_begin(w, SNAP_MEMORY, 0);
	snap_write(w, hdr, sizeof(hdr));
	snap_write(w, bits, words * sizeof(*bits));
	for (uint64_t f = 0; f < n && rc == 0 && !w->error;) {
		uint64_t k = 0;

		if (!((bits[f / 64] >> (f % 64)) & 1)) {
			f++;
			continue;
		}
		while (f + k < n && k < SNAP_COPY_FRAMES && ((bits[(f + k) / 64] >> ((f + k) % 64)) & 1))
			k++;
		rc = snapshot_pread_full(fd, buf, k * SNAP_PAGE, f * SNAP_PAGE);
		if (rc == 0)
			snap_write(w, buf, k * SNAP_PAGE);
		f += k;
	}
	snap_section_end(w);
	free(buf);
	return rc;
}

static int put_memory(struct snap_writer *w, struct vm *vm)
{
	uint64_t n = vm->mem.nr_ram_frames;
	uint64_t *bits = calloc((n + 63) / 64, sizeof(*bits));
	int64_t present;
	int rc;

	if (!bits)
		return -ENOMEM;
	present = snapshot_find_present(vm, bits);
	rc = present < 0 ? (int)present : snapshot_put_memory(w, n, vm->mem.memfd, bits);
	free(bits);
	return rc;
}

/* The pinned tables; on restore pinning them again revalidates every
 * table below them, as Xen's restore does from the page types. */
static void put_pagetables(struct snap_writer *w, struct vm *vm)
{
	snap_section_begin(w, SNAP_PAGETABLES, 0);
	for (uint64_t f = 0; f < vm->mem.nr_ram_frames; f++) {
		struct pagetype_info pi;
		struct snap_pin pin;

		if (pagetype_get_info(vm, f, &pi) < 0 || !pi.pinned)
			continue;
		pin = (struct snap_pin){ .mfn = f,
					 .level = (uint32_t)(pi.type - PGT_L1 + 1) };
		snap_write(w, &pin, sizeof(pin));
	}
	snap_section_end(w);
}

/* Xen refuses to save a PV guest whose page tables still map frames that
 * are not its RAM (Linux's xen_pre_suspend unmaps shared_info, gnttab
 * suspend its grant frames): they would not exist in the new domain. */
static int check_xen_frames_unmapped(struct vm *vm, char *err, size_t err_len)
{
	for (uint64_t f = vm->mem.nr_ram_frames; f < vm->mem.nr_frames; f++) {
		struct pagetype_info pi;

		if (pagetype_get_info(vm, f, &pi) == 0 && pi.count) {
			snprintf(err, err_len,
				 "the guest suspended with frame %#llx (%s) still mapped; it must unmap shared_info and its grant frames first",
				 (unsigned long long)f,
				 f == vm->xen.shared_info_mfn ? "shared_info" : "a grant frame");
			return -EBUSY;
		}
	}
	return 0;
}

int snapshot_check_suspended(struct vm *vm, uint64_t start_info_mfn,
			     char *err, size_t err_len)
{
	int rc = check_xen_frames_unmapped(vm, err, err_len);

	if (rc == 0 && !gmem_is_ram_frame(&vm->mem, start_info_mfn)) {
		snprintf(err, err_len, "SHUTDOWN_suspend names start_info frame %#llx, not RAM",
			 (unsigned long long)start_info_mfn);
		rc = -EINVAL;
	}
	return rc;
}

static void put_device(struct snap_writer *w, unsigned kind, const char *spec)
{
	static const uint8_t zero[8];
	struct snap_dev_record r = {
		.kind = (uint16_t)kind,
		.spec_len = (uint16_t)(strlen(spec) + 1),
	};

	snap_write(w, &r, sizeof(r));
	snap_write(w, spec, r.spec_len);
	snap_write(w, zero, (8 - r.spec_len % 8) % 8);
}

/* The devices section: each device by the run option's value that gives
 * it again (core/snapshot_devices.h). */
static int put_devices(struct snap_writer *w, struct vm *vm,
		       const struct saved_devices *dev)
{
	const struct vm_config *cfg = vm->cfg;
	struct snap_dev_header h = {
		.nr_devices = dev->nr_disks + cfg->nr_net + dev->nr_luns + cfg->nr_shares,
	};
	char spec[SNAP_DEV_SPEC_MAX];

	snap_section_begin(w, SNAP_DEVICES, 0);
	snap_write(w, &h, sizeof(h));
	for (unsigned i = 0; i < dev->nr_disks; i++) {
		if (cli_disk_spec(&dev->disks[i], spec, sizeof(spec)) < 0)
			return -EINVAL; /* not from a path pvisor was given */
		put_device(w, VM_DEV_DISK, spec);
	}
	for (unsigned i = 0; i < cfg->nr_net; i++)
		put_device(w, VM_DEV_NIC, cfg->net[i]);
	for (unsigned i = 0; i < dev->nr_luns; i++) {
		if (cli_scsi_spec(&dev->luns[i], spec, sizeof(spec)) < 0)
			return -EINVAL;
		put_device(w, VM_DEV_SCSI, spec);
	}
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		if (cli_share_spec(&cfg->shares[i], spec, sizeof(spec)) < 0)
			return -EINVAL;
		put_device(w, VM_DEV_SHARE, spec);
	}
	snap_section_end(w);
	return 0;
}

int snapshot_put_state(struct snap_writer *w, struct vm *vm,
		       uint64_t start_info_mfn)
{
	struct saved_devices *dev = malloc(sizeof(*dev));
	int rc;

	if (!dev)
		return -ENOMEM;
	dev->nr_disks = blkback_disks(vm, dev->disks);
	dev->nr_luns = scsiback_luns(vm, dev->luns);
	put_domain(w, vm, dev, start_info_mfn);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		put_vcpu(w, vm->vcpus[i]);
	snap_section_begin(w, SNAP_SHARED_INFO, 0);
	snap_write(w, vm->mem.host + vm->xen.shared_info_mfn * SNAP_PAGE, SNAP_PAGE);
	snap_section_end(w);
	put_pagetables(w, vm);
	rc = xs_snapshot_save(vm, w);
	if (rc == 0)
		rc = put_devices(w, vm, dev);
	free(dev);
	return rc;
}

int snapshot_write(struct vm *vm, int fd, uint64_t start_info_mfn,
		   uint64_t *bytes, char *err, size_t err_len)
{
	struct snap_writer w;
	int finished, rc = snapshot_check_suspended(vm, start_info_mfn, err, err_len);

	if (rc < 0)
		return rc;
	rc = snap_writer_init(&w, fd, vm->backend->name);
	if (rc < 0) {
		free(w.buf);
	} else {
		rc = snapshot_put_state(&w, vm, start_info_mfn);
		if (rc == 0)
			rc = put_memory(&w, vm);
		*bytes = w.offset;
		finished = snap_writer_finish(&w); /* frees the buffer */
		rc = rc ? rc : finished;
	}
	if (rc < 0)
		snprintf(err, err_len, "cannot write the snapshot: %s", strerror(-rc));
	return rc;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

long snapshot_suspend(struct vcpu *v, uint64_t start_info_mfn)
{
	struct vm *vm = v->vm;
	struct save_request *req;
	struct timespec t0;
	char err[256] = "";
	uint64_t bytes = 0;
	uint64_t rax = v->regs.rax;
	int rc;

	pthread_mutex_lock(&vm->xen.lock);
	req = vm->save;
	if (req && req->state == SAVE_ASKED)
		req->state = SAVE_WRITING;
	else
		req = NULL;
	pthread_mutex_unlock(&vm->xen.lock);
	if (!req) {
		log_info("the guest suspended unasked: resumed at once (suspend cancelled)");
		return 1;
	}
	if (req->live)
		return snapshot_live_capture(v, req, start_info_mfn);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = vm_pause(vm, 2000);
	if (rc < 0)
		snprintf(err, sizeof(err), "the other vCPUs did not stop");
	log_debug("save: the vCPUs stopped in %.1f ms", since(&t0) * 1e3);
	if (rc == 0) {
		v->regs.rax = 0; /* what the guest sees in the new domain */
		rc = snapshot_write(vm, req->fd, start_info_mfn, &bytes, err, sizeof(err));
		v->regs.rax = rax;
	}
	pthread_mutex_lock(&vm->xen.lock);
	req->state = rc == 0 ? SAVE_DONE : SAVE_FAILED;
	req->bytes = bytes;
	req->seconds = since(&t0);
	snprintf(req->error, sizeof(req->error), "%s", err);
	pthread_mutex_unlock(&vm->xen.lock);
	if (rc == 0) {
		log_info("saved %llu bytes in %.1f ms", (unsigned long long)bytes,
			 req->seconds * 1e3);
		vm_stop(vm, VM_STOP_SAVED, 0, NULL);
		return 0;
	}
	log_error("save: %s; the guest runs on", err);
	vm_resume(vm);
	evloop_wake(vm);
	return 1;
}
