/* What the user asked for (parsed command line); no runtime objects here. */
#ifndef PVISOR_CONFIG_H
#define PVISOR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VM_MAX_NICS 4 /* --net, repeatable */

#define VM_MAX_DISKS 8

/* --disk PATH[,ro][,id=NAME]: a raw image served by services/blkback. */
struct vm_disk {
	char path[1024];
	char name[8];  /* xvda, xvdb, ... */
	bool ro;
};

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
	const char *net[VM_MAX_NICS]; /* --net values; vif devid = index */
	unsigned nr_net;
	struct vm_disk disks[VM_MAX_DISKS];
	unsigned nr_disks;
	const char *xenstore_socket; /* --xenstore-socket PATH; NULL: none */
};

#endif
