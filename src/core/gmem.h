/*
 * Guest memory: the only place that turns a guest address into a host
 * pointer.  Guest "machine" frames 0..nr_ram_frames-1 are the guest's RAM
 * (pvisor's P2M is the identity); frames from nr_ram_frames up to
 * nr_frames-1 are Xen-owned pages that pvisor shares with the guest
 * (shared_info, grant frames, ...).  All of it lives in one memfd so that a
 * backend can map it into another address space (KVM memory slot, the proc
 * backend's guest process).
 *
 * Every access is a range [gpa, gpa+len) checked with overflow checks;
 * nothing a guest hands over is trusted.
 */
#ifndef PVISOR_GMEM_H
#define PVISOR_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096ul
#define PAGE_MASK (~(PAGE_SIZE - 1))

struct gmem {
	int memfd;              /* whole guest memory, MAP_SHARED-able */
	uint8_t *host;          /* pvisor's own mapping of all frames */
	uint64_t nr_ram_frames; /* guest RAM: frames [0, nr_ram_frames) */
	uint64_t nr_frames;     /* RAM + Xen-owned frames */
};

/* Creates the memfd with ram_frames + xen_frames frames; 0 or -errno. */
int gmem_init(struct gmem *m, uint64_t ram_frames, uint64_t xen_frames)
	__attribute__((warn_unused_result));
void gmem_destroy(struct gmem *m);

/* Zeroes the page-aligned range [gpa, gpa+len) by freeing its host pages
 * (no page is touched); 0, -EINVAL (outside memory, unaligned) or -errno. */
int gmem_zero(struct gmem *m, uint64_t gpa, uint64_t len)
	__attribute__((warn_unused_result));

/* Zeroes every frame and frees its host pages (a reboot's fresh memory);
 * nothing may be using it.  0 or -errno. */
int gmem_clear(struct gmem *m) __attribute__((warn_unused_result));

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside memory. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Allocates the pages of [gpa, gpa+len) in pvisor's mapping now, in one
 * system call, for a range about to be written whole (the domain
 * builder's): not a page fault each (11-20 µs on a nested host).  Only an
 * optimisation; a range outside memory is ignored. */
void gmem_prefault(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Copy in/out of guest-physical memory; 0 or -EFAULT. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len)
	__attribute__((warn_unused_result));
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len)
	__attribute__((warn_unused_result));

static inline bool gmem_is_ram_frame(const struct gmem *m, uint64_t mfn)
{
	return mfn < m->nr_ram_frames;
}

static inline bool gmem_is_frame(const struct gmem *m, uint64_t mfn)
{
	return mfn < m->nr_frames;
}

/*
 * Guest-virtual access through the page tables rooted at frame root_mfn
 * (4-level, x86-64).  Each page is translated on its own and must be present
 * (and writable for writes); a fault anywhere gives -EFAULT and, for reads,
 * no partial copy is promised.  These are what hypercall handlers use for the
 * guest's buffers (XEN_GUEST_HANDLE pointers are guest-virtual).
 */
int gva_to_gpa(const struct gmem *m, uint64_t root_mfn, uint64_t gva,
	       bool write, uint64_t *gpa) __attribute__((warn_unused_result));
int gva_read(const struct gmem *m, uint64_t root_mfn, uint64_t gva, void *dst,
	     size_t len) __attribute__((warn_unused_result));
int gva_write(const struct gmem *m, uint64_t root_mfn, uint64_t gva,
	      const void *src, size_t len) __attribute__((warn_unused_result));

#endif
