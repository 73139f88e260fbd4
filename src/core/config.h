/* What the user asked for (parsed command line); no runtime objects here. */
#ifndef PVISOR_CONFIG_H
#define PVISOR_CONFIG_H

#include <stdint.h>

struct vm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *backend;     /* "kvm", "proc" or NULL for automatic */
	const char *cmdline;     /* guest command line ("" if none) */
	uint64_t mem_bytes;
	unsigned nr_vcpus;
	double timeout_sec;      /* 0: none */
	int console_raw;         /* put the terminal in raw mode */
	int verbose;
};

#endif
