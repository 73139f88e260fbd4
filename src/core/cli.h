/*
 * The command line: `pvisor run [options] KERNEL [-- ARGS...]`,
 * `pvisor --help`, `pvisor run --help`, `pvisor version`, `pvisor backends`,
 * `pvisor host [--query NAME]`, `pvisor ctl PATH COMMAND [ARGS]`.  Parsing is pure
 * (no I/O, no exit) so that it can be unit-tested.
 */
#ifndef PVISOR_CLI_H
#define PVISOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

enum cli_command {
	CLI_ERROR = -1,
	CLI_HELP,      /* pvisor --help */
	CLI_RUN_HELP,  /* pvisor run --help */
	CLI_VERSION,
	CLI_BACKENDS,  /* pvisor backends: which backends work here */
	CLI_HOST,      /* pvisor host [--query NAME]: the host's features */
	CLI_HOST_HELP, /* pvisor host --help */
	CLI_RUN,
	CLI_CTL,       /* pvisor ctl PATH COMMAND [ARGS]: the control API client */
	CLI_CTL_HELP,  /* pvisor ctl --help */
	CLI_RESTORE,   /* pvisor restore [OPTIONS] FILE: resume a snapshot */
};

struct cli {
	enum cli_command command;
	struct vm_config cfg;
	char cmdline[1024]; /* --cmdline and the words after --, joined */
	const char *host_query; /* pvisor host --query NAME; NULL: the report */
	const char *restore_path; /* pvisor restore FILE */
	bool restoring;         /* parsing restore's options: FILE, not KERNEL */
	const char *ctl_path;   /* pvisor ctl PATH ... */
	int ctl_argc;           /* the COMMAND [ARGS] words after PATH */
	char *const *ctl_argv;
	int run_argc;           /* --rootfs: CMD, the words after -- */
	char *const *run_argv;
	const char *dry_run;    /* --dry-run=FILE (with --rootfs) */
	const char *rwdir[VM_MAX_SHARES]; /* --rwdir values, parsed after --rootfs */
	unsigned nr_rwdir;
};

/* Parses argv; on CLI_ERROR, err holds one line for the user. */
enum cli_command cli_parse(int argc, char *const argv[], struct cli *out,
			   char *err, size_t err_len);

/* "64M", "1G", "512" (MiB, as QEMU), "65536K": bytes, or -1 if malformed. */
int64_t cli_parse_size(const char *s);

/*
 * Adds one device to cfg as its run option would (--disk, --net, --scsi,
 * --share with the value spec): what restore does with the devices a
 * snapshot names (core/snapshot_devices.h).  spec must outlive cfg (a NIC
 * keeps the pointer).  0, or -1 with one line in err.
 */
int cli_add_device(struct vm_config *cfg, enum vm_device_kind kind,
		   const char *spec, char *err, size_t err_len);
/* The option value that cli_add_device reads back as d: its length, or
 * -ENAMETOOLONG (it does not fit cap) or -EINVAL (a path with a ','). */
int cli_disk_spec(const struct vm_disk *d, char *buf, size_t cap);
int cli_scsi_spec(const struct vm_scsi *d, char *buf, size_t cap);
int cli_share_spec(const struct vm_share *s, char *buf, size_t cap);

extern const char cli_usage[];
extern const char cli_run_usage[];
extern const char cli_host_usage[];

#endif
