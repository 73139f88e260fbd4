/*
 * Host tables: pvisor's own large, zeroed, per-guest arrays (the page-type
 * table, the m2p), kept out of malloc for two reasons that dominate a
 * start on the nested hosts pvisor runs on, where a page fault costs
 * 11-20 µs (docs/benchmarks.md, "Cold start"):
 *  - the proc backend forks the guest process after they are written, and
 *    fork write-protects every private page it copies, so pvisor's next
 *    write to each would fault once more; MADV_DONTFORK keeps them out of
 *    the child (which unmaps everything of pvisor's at once anyway);
 *  - they are written across their whole length soon after they are made,
 *    so host_table_alloc(…, true) allocates every page in one system call
 *    (MADV_POPULATE_WRITE) instead of a fault per page.
 */
#ifndef PVISOR_CORE_HOST_TABLE_H
#define PVISOR_CORE_HOST_TABLE_H

#include <stdbool.h>
#include <stddef.h>

/* A zeroed table of `bytes` (at least one page), or NULL with errno. */
void *host_table_alloc(size_t bytes, bool populate);
void host_table_free(void *table, size_t bytes);

/* Allocates the whole pages inside [p, p+len) now.  Only an optimisation:
 * a kernel without MADV_POPULATE_WRITE (before 5.14) faults them later. */
void prefault_write(void *p, size_t len);

#endif
