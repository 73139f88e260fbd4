/*
 * Landlock: after sandbox_enter(), pvisor's file-system access is the
 * plan's paths and nothing else — the kernel and initrd were read before,
 * so they are not among them.  Descriptors opened earlier keep working
 * (Landlock checks opens, not reads).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/sandbox_landlock.h"

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE)
#define FS_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE)
#define FS_DIR_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_DIR_WRITE                                                        \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |    \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |      \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |         \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO)
#define FS_SOCKETS (LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE)

/* Every right ABI 1 knows, and REFER (cross-directory links and renames)
 * from ABI 2: what the ruleset handles, so denies unless a rule allows. */
static uint64_t handled_rights(int abi)
{
	uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | FS_WRITE | FS_DIR_READ |
		     FS_DIR_WRITE | FS_SOCKETS | LANDLOCK_ACCESS_FS_MAKE_CHAR |
		     LANDLOCK_ACCESS_FS_MAKE_BLOCK;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	return r;
}

int sandbox_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
			 LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

/* A socket directory gets only the rights to create and remove sockets
 * there (not to read the rest of, say, /tmp). */
static uint64_t path_rights(const struct sandbox_path *p, int abi)
{
	uint64_t r;

	if (p->sockets)
		return FS_SOCKETS;
	if (!p->dir)
		return p->write ? FS_READ | FS_WRITE : FS_READ;
	r = FS_DIR_READ;
	if (p->write)
		r |= FS_DIR_WRITE | (abi >= 2 ? LANDLOCK_ACCESS_FS_REFER : 0);
	return r;
}

static int add_rule(int ruleset, const struct sandbox_path *p, int abi,
		    char *err, size_t err_len)
{
	struct landlock_path_beneath_attr attr = {
		.allowed_access = path_rights(p, abi),
	};
	int fd = open(p->path, O_PATH | O_CLOEXEC);
	struct stat st;
	int rc = 0;

	if (fd < 0) {
		/* Nothing there to protect: a path that does not exist gets
		 * no rule, so opening it later is refused. */
		return 0;
	}
	/* A "directory" that is not one gets no rule: set-up says what is
	 * wrong with it (a share that is a file) in its own words. */
	if (p->dir && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
		close(fd);
		return 0;
	}
	attr.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
		    &attr, 0) < 0) {
		rc = -errno;
		snprintf(err, err_len, "sandbox: Landlock rule for %s: %s",
			 p->path, strerror(errno));
	}
	close(fd);
	return rc;
}

int sandbox_landlock_apply(const struct sandbox_plan *plan, char *err,
			   size_t err_len)
{
	int abi = sandbox_landlock_abi();
	struct landlock_ruleset_attr attr;
	int ruleset, rc = 0;

	if (abi < 1) {
		log_debug("sandbox: this host has no Landlock; the file system "
			  "is limited by seccomp and permissions only");
		return 0;
	}
	attr.handled_access_fs = handled_rights(abi);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr),
			       0);
	if (ruleset < 0) {
		snprintf(err, err_len, "sandbox: Landlock: %s", strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < plan->nr_paths && !rc; i++)
		rc = add_rule(ruleset, &plan->paths[i], abi, err, err_len);
	if (!rc && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		rc = -errno;
		snprintf(err, err_len, "sandbox: Landlock: %s", strerror(errno));
	}
	if (!rc)
		log_debug("sandbox: Landlock ABI %d, %u paths", abi,
			  plan->nr_paths);
	close(ruleset);
	return rc;
}
