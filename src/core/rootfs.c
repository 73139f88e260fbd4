/* `pvisor run --rootfs`: the set-up before the sandbox (rootfs.h). */
#include "core/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pvisor/abi.h>
#include <pvisor/runspec.h>

#include "core/config.h"
#include "core/log.h"
#include "core/runspec.h"
#include "hostio/hostnet.h"

extern char **environ;

/* The variables CMD sees from pvisor's environment (the guest's root is
 * the host's, so its PATH and HOME mean the same there). */
static const char *const passed_env[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL",
	"LC_CTYPE", "TZ", "COLUMNS", "LINES",
};

/* The directory pvisor's binary is in (build/ in a source tree). */
static int binary_dir(char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	return (size_t)snprintf(out, cap, "%s", dirname(self)) < cap ? 0 : -1;
}

/* a then b into out; false when it does not fit. */
static bool join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s%s", a, b);

	return n >= 0 && (size_t)n < cap;
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int find_kernel(struct vm_config *cfg, const char *bindir,
		       struct rootfs_boot *rb)
{
	if (cfg->kernel_path) {
		snprintf(rb->kernel, sizeof(rb->kernel), "%s", cfg->kernel_path);
		return 0;
	}
	if (!join(rb->kernel, sizeof(rb->kernel), bindir,
		  "/kernel/amd64-unsigned/vmlinuz") || !is_file(rb->kernel)) {
		log_error("--rootfs: no kernel at %s: tools/fetch-kernel.sh "
			  "--flavour amd64-unsigned fetches Debian's (or give --kernel)",
			  rb->kernel);
		return -1;
	}
	cfg->kernel_path = rb->kernel;
	return 0;
}

/* Reads fd to its end, keeping the last line (at most cap-1 bytes). */
static void last_line(int fd, char *line, size_t cap)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	line[0] = '\0';
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				len = 0;
				continue;
			}
			if (len == 0)
				line[0] = '\0';
			if (len + 1 < cap) {
				line[len++] = buf[i];
				line[len] = '\0';
			}
		}
	}
}

/*
 * Runs tools/mkinitramfs.sh --rootfs for the kernel in kdir; 0 when it
 * made out, else -1 with why (its last line on stderr) set.
 */
static int build_initramfs(const char *bindir, const char *kdir, const char *out,
			   bool verbose, char *why, size_t why_len)
{
	char script[PATH_MAX];
	char *argv[] = { "sh", script, "--rootfs", "--kernel-dir", (char *)kdir,
			 "--out", (char *)out, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;
	int rc, st, err[2];

	snprintf(why, why_len, "no tools/mkinitramfs.sh beside %.400s", bindir);
	if (!join(script, sizeof(script), bindir, "/../tools/mkinitramfs.sh") ||
	    !is_file(script) || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	if (verbose)
		log_info("--rootfs: building %s (once)", out);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(err[1]);
	if (rc) {
		close(err[0]);
		snprintf(why, why_len, "cannot run %.400s: %s", script, strerror(rc));
		return -1;
	}
	last_line(err[0], why, why_len);
	close(err[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 && is_file(out) ? 0 : -1;
}

/* The rootfs initramfs of the kernel's directory (fetch-kernel's layout:
 * DIR/<release>/vmlinuz and modules/), built on first use. */
static int find_initrd(struct vm_config *cfg, const char *bindir, bool verbose,
		       struct rootfs_boot *rb)
{
	char real[PATH_MAX], why[512], *kdir;

	if (cfg->initrd_path)
		return 0;
	if (!realpath(rb->kernel, real)) {
		log_error("--rootfs: kernel %s: %s", rb->kernel, strerror(errno));
		return -1;
	}
	kdir = dirname(real);
	if (snprintf(rb->initrd, sizeof(rb->initrd), "%s/linux/initrd-rootfs-%s.cpio.gz",
		     bindir, basename(kdir)) >= (int)sizeof(rb->initrd)) {
		log_error("--rootfs: the path of %s is too long", bindir);
		return -1;
	}
	if (!is_file(rb->initrd) &&
	    build_initramfs(bindir, kdir, rb->initrd, verbose, why, sizeof(why)) < 0) {
		log_error("--rootfs: no initramfs %s (tools/mkinitramfs.sh --rootfs "
			  "--kernel-dir %s builds it, or give --initrd): %s", rb->initrd,
			  kdir, why);
		return -1;
	}
	cfg->initrd_path = rb->initrd;
	return 0;
}

static int write_spec(const struct vm_config *cfg, char *const *argv,
		      struct rootfs_boot *rb)
{
	char root[PATH_MAX], cwd[PATH_MAX], guest_cwd[PATH_MAX];
	char *env[sizeof(passed_env) / sizeof(passed_env[0]) + 1];
	gid_t groups[PV_RUNSPEC_MAX_GROUPS];
	struct runspec_in in = { .uid = getuid(), .gid = getgid(), .groups = groups,
				 .cwd = guest_cwd, .stdin_tty = isatty(STDIN_FILENO),
				 .stdout_tty = isatty(STDOUT_FILENO),
				 /* CMD's stderr on the second console: --console2,
				  * which rootfs_prepare turns on. */
				 .stderr_mode = isatty(STDERR_FILENO) ? PV_STDERR_TTY
								      : PV_STDERR_PIPE,
				 .env = env, .argv = argv };
	const char *why = "";
	unsigned ne = 0;
	int ng;

	if (!realpath(cfg->rootfs, root)) {
		log_error("--rootfs %s: %s", cfg->rootfs, strerror(errno));
		return -1;
	}
	if (!getcwd(cwd, sizeof(cwd)) ||
	    !runspec_guest_cwd(root, cwd, guest_cwd, sizeof(guest_cwd)))
		snprintf(guest_cwd, sizeof(guest_cwd), "/");
	ng = getgroups(PV_RUNSPEC_MAX_GROUPS, groups);
	in.nr_groups = ng > 0 ? (unsigned)ng : 0;
	for (size_t i = 0; i < sizeof(passed_env) / sizeof(passed_env[0]); i++) {
		size_t n = strlen(passed_env[i]);

		for (char **e = environ; *e; e++)
			if (!strncmp(*e, passed_env[i], n) && (*e)[n] == '=') {
				env[ne++] = *e;
				break;
			}
	}
	env[ne] = NULL;
	rb->spec = malloc(PV_RUNSPEC_MAX_BYTES);
	if (!rb->spec) {
		log_error("--rootfs: out of memory");
		return -1;
	}
	rb->spec_len = runspec_encode(&in, rb->spec, PV_RUNSPEC_MAX_BYTES, &why);
	if (!rb->spec_len) {
		log_error("--rootfs: cannot pass the command: %s", why);
		return -1;
	}
	return 0;
}

/*
 * One --rwdir: HOSTDIR must be a directory (canonicalized: the share and
 * the dry run show the real path); a defaulted guest path is its place
 * under the root; a writable root must already have the mount point (its
 * tree is the host's: the init does not create directories in it).
 */
static int resolve_rwdir(struct vm_config *cfg, const char *root,
			 struct vm_rwdir *r)
{
	struct vm_share *s = &cfg->shares[r->share];
	char real[PATH_MAX], at[PATH_MAX + sizeof(r->guest)];
	const char *why;
	struct stat st;

	if (stat(s->path, &st) < 0 || !realpath(s->path, real)) {
		log_error("--rwdir %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("--rwdir %s: not a directory", s->path);
		return -1;
	}
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s", real) >= sizeof(s->path)) {
		log_error("--rwdir %s: the path is too long", real);
		return -1;
	}
	if (!r->guest[0]) {
		if (runspec_path_in(root, real, r->guest, sizeof(r->guest)) <= 0) {
			log_error("--rwdir %s: not under --rootfs %s: say where the guest "
				  "mounts it (--rwdir GUESTPATH=%s)", real, root, real);
			return -1;
		}
		if ((why = runspec_guest_path_bad(r->guest))) {
			log_error("--rwdir %s: the guest path %s %s", real, r->guest, why);
			return -1;
		}
	}
	snprintf(at, sizeof(at), "%s%s", strcmp(root, "/") ? root : "", r->guest);
	if (cfg->rootfs_rw && (stat(at, &st) < 0 || !S_ISDIR(st.st_mode))) {
		log_error("--rwdir %s: the writable root has no directory %s to mount "
			  "it on", real, r->guest);
		return -1;
	}
	return 0;
}

static int resolve_rwdirs(struct vm_config *cfg)
{
	char root[PATH_MAX];

	if (!realpath(cfg->rootfs, root)) {
		log_error("--rootfs %s: %s", cfg->rootfs, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_rwdirs; i++) {
		if (resolve_rwdir(cfg, root, &cfg->rwdirs[i]) < 0)
			return -1;
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(cfg->rwdirs[j].guest, cfg->rwdirs[i].guest)) {
				log_error("--rwdir: two on %s", cfg->rwdirs[i].guest);
				return -1;
			}
		}
	}
	return 0;
}

/* The kernel command line for rootfs-init (runspec_cmdline). */
static int write_cmdline(const struct vm_config *cfg, const char *user_cmdline,
			 struct rootfs_boot *rb)
{
	const char *tags[VM_MAX_SHARES], *paths[VM_MAX_SHARES];
	struct runspec_boot b = { .tag = VM_ROOTFS_TAG, .rw = cfg->rootfs_rw,
				  .verbose = cfg->verbose > 0,
				  .nr_rwdirs = cfg->nr_rwdirs, .rwdir_tags = tags,
				  .rwdir_paths = paths, .extra = user_cmdline };
	struct hostnet_config hc;
	char err[256];

	for (unsigned i = 0; i < cfg->nr_rwdirs; i++) {
		tags[i] = cfg->shares[cfg->rwdirs[i].share].tag;
		paths[i] = cfg->rwdirs[i].guest;
	}
	/* The first --net is the guest's eth0 (vif devid 0); cli.c parsed it. */
	if (cfg->nr_net && hostnet_parse(cfg->net[0], &hc, err, sizeof(err)) == 0)
		b.net = hc.kind == HOSTNET_USER ? "user" : "tap";
	if (!runspec_cmdline(&b, rb->cmdline, sizeof(rb->cmdline))) {
		log_error("--rootfs: the guest command line is longer than %zu bytes",
			  sizeof(rb->cmdline) - 1);
		return -1;
	}
	return 0;
}

int rootfs_prepare(struct vm_config *cfg, const char *user_cmdline,
		   char *const *argv, struct rootfs_boot *rb)
{
	char bindir[PATH_MAX];
	struct stat st;

	if (stat(cfg->rootfs, &st) < 0) {
		log_error("--rootfs %s: %s", cfg->rootfs, strerror(errno));
		return PVISOR_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("--rootfs %s: not a directory", cfg->rootfs);
		return PVISOR_EXIT_USAGE;
	}
	if (binary_dir(bindir, sizeof(bindir)) < 0)
		snprintf(bindir, sizeof(bindir), ".");
	if (resolve_rwdirs(cfg) < 0 || find_kernel(cfg, bindir, rb) < 0 ||
	    find_initrd(cfg, bindir, cfg->verbose > 0, rb) < 0 ||
	    write_spec(cfg, argv, rb) < 0 || write_cmdline(cfg, user_cmdline, rb) < 0)
		return PVISOR_EXIT_USAGE;
	cfg->cmdline = rb->cmdline;
	cfg->console2 = true; /* CMD's stderr (the run file's stderr=) */
	return 0;
}

int rootfs_extend_initrd(const struct rootfs_boot *rb, uint8_t **data,
			 size_t *len)
{
	size_t extra = runspec_cpio("pvisor-run", rb->spec, rb->spec_len, *len,
				    NULL, 0);
	uint8_t *grown = realloc(*data, *len + extra);

	if (!grown) {
		log_error("--rootfs: out of memory");
		return -1;
	}
	runspec_cpio("pvisor-run", rb->spec, rb->spec_len, *len, grown + *len,
		     extra);
	*data = grown;
	*len += extra;
	return 0;
}

int rootfs_dry_run(const struct vm_config *cfg, const char *file,
		   const uint8_t *initrd, size_t len)
{
	FILE *f = fopen(file, "wbe");
	bool bad = !f;

	if (f) {
		bad = fwrite(initrd, 1, len, f) != len;
		bad |= fclose(f) != 0;
	}
	if (bad) {
		log_error("--dry-run %s: %s", file, strerror(errno));
		return PVISOR_EXIT_USAGE;
	}
	printf("kernel %s\ninitrd %s\ncmdline %s\n", cfg->kernel_path, file,
	       cfg->cmdline);
	for (unsigned i = 0; i < cfg->nr_shares; i++)
		printf("share %s tag=%s %s\n", cfg->shares[i].path,
		       cfg->shares[i].tag, cfg->shares[i].ro ? "ro" : "rw");
	return 0;
}

void rootfs_free(struct rootfs_boot *rb)
{
	free(rb->spec);
	rb->spec = NULL;
}
