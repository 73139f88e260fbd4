/* What the user asked for (parsed command line); no runtime objects here. */
#ifndef PVISOR_CONFIG_H
#define PVISOR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VM_MAX_NICS 4 /* --net, repeatable */

/* The kinds of device a guest is given (a snapshot records them by these
 * numbers: docs/snapshot-format.md, "The devices section"). */
enum vm_device_kind {
	VM_DEV_DISK = 1,  /* --disk */
	VM_DEV_NIC = 2,   /* --net */
	VM_DEV_SCSI = 3,  /* --scsi */
	VM_DEV_SHARE = 4, /* --share */
};

#define VM_MAX_DISKS 8

/* --disk PATH[,ro][,id=NAME]: a raw image served by services/blkback. */
struct vm_disk {
	char path[1024];
	char name[8];  /* xvda, xvdb, ... */
	bool ro;
};

#define VM_MAX_SHARES 8
#define VM_SHARE_TAG_MAX 31

/* --share HOSTDIR,tag=NAME[,ro][,security_model=M]: a host directory
 * served over Xen 9pfs by services/p9back. */
struct vm_share {
	char path[1024];
	char tag[VM_SHARE_TAG_MAX + 1];
	bool ro;
	char security_model[16]; /* "passthrough" or "mapped-xattr" */
};

#define VM_ROOTFS_TAG "rootfs" /* --rootfs DIR's share (docs/rootfs.md) */

/* --rwdir [GUESTPATH=]HOSTDIR (with --rootfs): shares[share], writable,
 * tagged rwdirN, mounted on GUESTPATH inside the guest's root; guest is
 * "" until core/rootfs.c gives it HOSTDIR's place under DIR. */
struct vm_rwdir {
	char guest[1024];
	unsigned share;
};

#define VM_MAX_SCSI 16 /* LUNs on the guest's one virtual SCSI host */

/* --scsi PATH[,ro][,media=disk|cdrom][,lun=H:C:T:L]: a LUN served by
 * services/scsiback (v-dev H:C:T:L; default 0:0:0:N in order). */
struct vm_scsi {
	char path[1024];
	bool ro;
	bool cdrom;
	bool ejected;  /* a CD/DVD whose tray starts open, no medium (,ejected) */
	bool locked;   /* a CD/DVD the guest had locked with PREVENT ALLOW
			* MEDIUM REMOVAL, as a snapshot restores it (,locked) */
	uint16_t host, channel, target, lun;
};

struct vm_config {
	bool restore_lazy;       /* restore --lazy (core/snapshot_lazy.h) */
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *backend;     /* "kvm", "proc" or NULL for automatic */
	const char *cmdline;     /* guest command line ("" if none) */
	uint64_t mem_bytes;
	unsigned nr_vcpus;
	double timeout_sec;      /* 0: none */
	int console_raw;         /* put the terminal in raw mode */
	bool console2;           /* --console2: device/console/1 to stderr */
	int verbose;
	const char *net[VM_MAX_NICS]; /* --net values; vif devid = index */
	unsigned nr_net;
	struct vm_disk disks[VM_MAX_DISKS];
	unsigned nr_disks;
	struct vm_scsi scsi[VM_MAX_SCSI];
	unsigned nr_scsi;
	const char *xenstore_socket; /* --xenstore-socket PATH; NULL: none */
	struct vm_share shares[VM_MAX_SHARES];
	unsigned nr_shares;
	const char *api_socket;      /* --api PATH: the control API; NULL: none */
	int sandbox;             /* --sandbox: enum sandbox_mode, 0 = on */
	const char *user;        /* --user NAME|UID: run as that user once set up */
	bool sandbox_given;      /* else PVISOR_SANDBOX may set it */
	const char *rootfs;      /* --rootfs DIR: the share tagged VM_ROOTFS_TAG */
	bool rootfs_rw;          /* --rootfs DIR,rw */
	struct vm_rwdir rwdirs[VM_MAX_SHARES - 1]; /* the root is a share too */
	unsigned nr_rwdirs;
	bool on_reboot_exit;     /* --on-reboot exit: SHUTDOWN_reboot ends pvisor
				  * (PVISOR_EXIT_REBOOT); default: restart */
};

#endif
