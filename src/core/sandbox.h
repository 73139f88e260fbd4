/*
 * pvisor confines itself (docs/security.md).  main.c calls sandbox_enter()
 * once the kernel is loaded and the backend chosen, before the first thread
 * exists (Landlock and a filter installed without TSYNC bind the calling
 * thread and every thread it creates later):
 *
 *   - no new privileges;
 *   - Landlock limits the file system to what the guest's devices need
 *     (images, shares, socket directories);
 *   - seccomp: the set-up allow-list, the union of every role's calls and
 *     what building the domain needs.
 *
 * Then every thread narrows the filter to its role's list with
 * sandbox_thread() first thing; the main thread does so as vCPU 0 right
 * before the guest's first instruction.  A forbidden call is never
 * executed: the thread gets SIGSYS, pvisor reports the call and the thread
 * and exits (PVISOR_EXIT_INTERNAL).
 */
#ifndef PVISOR_SANDBOX_H
#define PVISOR_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sandbox_mode {
	SANDBOX_ON,  /* the default */
	SANDBOX_OFF, /* --sandbox=off: debugging */
	SANDBOX_LOG, /* --sandbox=log: forbidden calls run and are logged by
		      * the kernel (audit type=1326): how the lists are audited */
};

/* Thread roles; each has its own allow-list (sandbox_policy.c). */
enum sandbox_role {
	SANDBOX_ROLE_VCPU,     /* vCPU loop: hypercalls, the backend's ioctls */
	SANDBOX_ROLE_EVENTS,   /* event loop: timers, terminal, xenstore, sockets */
	SANDBOX_ROLE_BLOCK,    /* one per disk: the blkif ring */
	SANDBOX_ROLE_BLOCK_IO, /* thread-pool engine workers: image I/O */
	SANDBOX_ROLE_NET,      /* one per NIC: netif rings, slirp or TAP */
	SANDBOX_ROLE_FS,       /* a host-folder server: file calls relative to
				* the share's descriptors only */
	SANDBOX_ROLE_HOTPLUG,  /* the control API's device hot-plug: opens
				* disks on descriptors clients sent, starts
				* their threads (a superset of block's) */
	SANDBOX_ROLE_MEMORY,   /* userfaultfd page servers: restore --lazy's
				* copies from the mapped snapshot, save
				* --live's write faults on proc */
	SANDBOX_NR_ROLES,
};

/* A file-system grant for Landlock. */
struct sandbox_path {
	const char *path;
	bool write;   /* else read-only */
	bool dir;     /* a directory tree (shares, socket directories) */
	bool sockets; /* a directory where sockets are created and removed
			* (only that: its files stay unreadable) */
};

#define SANDBOX_MAX_PATHS 48

struct sandbox_plan {
	enum sandbox_mode mode;
	bool switch_user; /* --user: every thread becomes uid/gid as it narrows */
	uid_t uid;
	gid_t gid;
	struct sandbox_path paths[SANDBOX_MAX_PATHS];
	unsigned nr_paths;
};

/* Adds a path to the plan; false when the plan is full. */
bool sandbox_plan_add(struct sandbox_plan *plan, const char *path,
		      bool write, bool dir, bool sockets);

/* Applies the plan (see the top of this file).  Returns 0, or -errno with
 * err set.  A host without Landlock gets one line (-v) and the other
 * layers.  SANDBOX_OFF: nothing. */
int sandbox_enter(const struct sandbox_plan *plan, char *err, size_t err_len);

/* Names the calling thread "pv-NAME" and, once sandbox_enter() ran,
 * narrows its filter to ROLE's list.  Threads call it first thing. */
void sandbox_thread(enum sandbox_role role, const char *name);

/* For a process forked during set-up (the proc backend's guest
 * processes), before it runs guest code: becomes the --user identity and
 * drops every capability.  Raw system calls only (it may run in the child
 * of a multithreaded process). */
void sandbox_child_drop(void);

/* The role's name as docs/security.md lists it ("vcpu", "events", ...). */
const char *sandbox_role_name(enum sandbox_role role);

/* The host's Landlock ABI version; 0 if it has none. */
int sandbox_landlock_abi(void);

/* Called before pvisor stops on a forbidden call (async-signal-safe:
 * puts the terminal back). */
void sandbox_set_fatal_hook(void (*fn)(void));

/* "on", "off", "log" → mode; -1 if none of them. */
int sandbox_mode_parse(const char *s);

#endif
