/* Guest memory: one memfd, one bounds-checked translation (see gmem.h). */
#include "core/gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/host_table.h"

int gmem_init(struct gmem *m, uint64_t ram_frames, uint64_t xen_frames)
{
	uint64_t frames, bytes;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (__builtin_add_overflow(ram_frames, xen_frames, &frames) ||
	    __builtin_mul_overflow(frames, PAGE_SIZE, &bytes))
		return -EINVAL;
	m->memfd = memfd_create("pvisor-guest", MFD_CLOEXEC);
	if (m->memfd < 0)
		return -errno;
	if (ftruncate(m->memfd, (off_t)bytes) < 0)
		goto fail;
	m->host = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		       m->memfd, 0);
	if (m->host == MAP_FAILED) {
		m->host = NULL;
		goto fail;
	}
	m->nr_ram_frames = ram_frames;
	m->nr_frames = frames;
	return 0;
fail:;
	int err = -errno;
	close(m->memfd);
	m->memfd = -1;
	return err;
}

void gmem_destroy(struct gmem *m)
{
	if (m->host)
		munmap(m->host, m->nr_frames * PAGE_SIZE);
	if (m->memfd >= 0)
		close(m->memfd);
	m->host = NULL;
	m->memfd = -1;
}

int gmem_zero(struct gmem *m, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p || (gpa | len) & (PAGE_SIZE - 1))
		return -EINVAL;
	/* A hole punched in the memfd: every mapping of it (the backend's
	 * too) reads zeros, and the pages go back to the host.  Unlike a
	 * memset, frames that were never written are not faulted in. */
	if (len && madvise(p, len, MADV_REMOVE) < 0)
		return -errno;
	return 0;
}

int gmem_clear(struct gmem *m)
{
	return gmem_zero(m, 0, m->nr_frames * PAGE_SIZE);
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (!m->host || __builtin_add_overflow(gpa, len, &end) ||
	    end > m->nr_frames * PAGE_SIZE)
		return NULL;
	return m->host + gpa;
}

void gmem_prefault(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (p)
		prefault_write(p, len);
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

/*
 * Walks the 4-level tables rooted at root_mfn for one address.  Large pages
 * (PS at L3/L2) are honoured since a guest may use them in its own tables.
 */
int gva_to_gpa(const struct gmem *m, uint64_t root_mfn, uint64_t gva,
	       bool write, uint64_t *gpa)
{
	uint64_t table = root_mfn << PAGE_SHIFT;

	/* Non-canonical addresses have no translation. */
	if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
		return -EFAULT;
	for (int level = 4; level >= 1; level--) {
		unsigned shift = PAGE_SHIFT + 9 * (level - 1);
		uint64_t idx = (gva >> shift) & 511, pte;

		if (gmem_read(m, table + idx * 8, &pte, sizeof(pte)) < 0)
			return -EFAULT;
		if (!(pte & PTE_P) || (write && !(pte & PTE_RW)))
			return -EFAULT;
		if ((level == 3 || level == 2) && (pte & PTE_PS)) {
			uint64_t base = pte & PTE_ADDR & ~((1ull << shift) - 1);
			*gpa = base | (gva & ((1ull << shift) - 1));
			return gmem_ptr(m, *gpa, 1) ? 0 : -EFAULT;
		}
		table = pte & PTE_ADDR;
	}
	*gpa = table | (gva & (PAGE_SIZE - 1));
	return gmem_ptr(m, *gpa, 1) ? 0 : -EFAULT;
}

/* Copies page by page, since consecutive virtual pages need not be
 * consecutive frames. */
static int gva_copy(const struct gmem *m, uint64_t root_mfn, uint64_t gva,
		    void *buf, size_t len, bool write)
{
	uint8_t *b = buf;

	while (len > 0) {
		uint64_t gpa;
		size_t chunk = PAGE_SIZE - (gva & (PAGE_SIZE - 1));
		int rc;

		if (chunk > len)
			chunk = len;
		rc = gva_to_gpa(m, root_mfn, gva, write, &gpa);
		if (rc < 0)
			return rc;
		rc = write ? gmem_write(m, gpa, b, chunk)
			   : gmem_read(m, gpa, b, chunk);
		if (rc < 0)
			return rc;
		b += chunk;
		gva += chunk;
		len -= chunk;
	}
	return 0;
}

int gva_read(const struct gmem *m, uint64_t root_mfn, uint64_t gva, void *dst,
	     size_t len)
{
	return gva_copy(m, root_mfn, gva, dst, len, false);
}

int gva_write(const struct gmem *m, uint64_t root_mfn, uint64_t gva,
	      const void *src, size_t len)
{
	return gva_copy(m, root_mfn, gva, (void *)src, len, true);
}
