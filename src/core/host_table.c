/* Host tables: see host_table.h. */
#include "core/host_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(PVISOR_FUZZ)
/* The sanitizer builds keep malloc's red zones around the tables. */
void *host_table_alloc(size_t bytes, bool populate)
{
	(void)populate;
	return calloc(1, bytes ? bytes : 1);
}

void host_table_free(void *table, size_t bytes)
{
	(void)bytes;
	free(table);
}
#else
static size_t page_round_up(size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return bytes ? (bytes + page - 1) & ~(page - 1) : page;
}

void *host_table_alloc(size_t bytes, bool populate)
{
	size_t len = page_round_up(bytes);
	void *p;

	if (len < bytes)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Not fatal: without it the table is only slower after a fork. */
	(void)madvise(p, len, MADV_DONTFORK);
	if (populate)
		prefault_write(p, len);
	return p;
}

void host_table_free(void *table, size_t bytes)
{
	if (table)
		munmap(table, page_round_up(bytes));
}
#endif

void prefault_write(void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

	if (end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}
