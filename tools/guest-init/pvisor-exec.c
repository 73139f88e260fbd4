/*
 * pvisor-exec — run the command of `pvisor run --rootfs` (docs/rootfs.md).
 *
 *   pvisor-exec ROOT RUNFILE
 *
 * Reads RUNFILE (the run file pvisor appended to the initramfs:
 * include/pvisor/runspec.h) and runs its command in a child chrooted to
 * ROOT, in its working directory, as its uid, gid and groups, with its
 * environment only.  stdin is the console, made the child's controlling
 * terminal (Ctrl-C, job control: no PTS needed) when pvisor's stdin is a
 * terminal, else /dev/null; stdout is the console, without the tty's \r
 * before \n when pvisor's stdout is not a terminal, and stderr the second
 * Xen console (/dev/hvc1, pvisor's stderr) when the run file says so and
 * there is one, else the console too.  No command:
 * $SHELL (or /bin/sh).  Exits with the command's status (128 + N for
 * signal N; 127 it could not be run, 126 not executable), for
 * tools/guest-init/rootfs-init to hand to pvisor with pvisor-exit.
 *
 * Static, libc only: gcc -static -O2 -Iinclude pvisor-exec.c
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <pvisor/runspec.h>

static struct pv_runspec spec;

static char *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = PV_RUNSPEC_MAX_BYTES + 1, got = 0;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)n;
	close(fd);
	*len = got;
	return buf;
}

/* The console's device, e.g. /dev/hvc0 (the last of the active ones is
 * /dev/console), so that it can be a controlling terminal. */
static int open_console(void)
{
	char names[256], dev[300], *last;
	int fd = open("/sys/class/tty/console/active", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, names, sizeof(names) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return open("/dev/console", O_RDWR);
	names[n] = '\0';
	names[strcspn(names, "\n")] = '\0';
	last = strrchr(names, ' ');
	last = last ? last + 1 : names;
	snprintf(dev, sizeof(dev), "/dev/%s", last);
	fd = open(dev, O_RDWR);
	return fd < 0 ? open("/dev/console", O_RDWR) : fd;
}

/* The console's modes: echo only for a terminal's input, \r\n only for a
 * terminal's output. */
static void set_console_modes(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return;
	if (!spec.stdin_tty)
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	if (!spec.stdout_tty)
		t.c_oflag &= ~(tcflag_t)OPOST;
	tcsetattr(fd, TCSANOW, &t);
}

/*
 * CMD's stderr on the second Xen console (the run file's stderr=tty|pipe:
 * pvisor --console2 puts it on pvisor's stderr).  Its xenbus device is
 * probed before init runs; its /dev node may lag a little.  -1 where there
 * is none (QEMU, an old pvisor): stderr stays on the console.
 */
static int open_stderr_console(void)
{
	struct termios t;
	int fd = -1;

	if (spec.stderr_mode == PV_STDERR_CONSOLE ||
	    access("/sys/bus/xen/devices/console-1", F_OK))
		return -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = open("/dev/hvc1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			usleep(10000);
	}
	if (fd >= 0 && spec.stderr_mode == PV_STDERR_PIPE && tcgetattr(fd, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST; /* a pipe gets the bytes as written */
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

/* The child: never returns. */
static void run_child(const char *root)
{
	static char *shell[3];
	char *const *argv = (char *const *)spec.argv;
	gid_t groups[PV_RUNSPEC_MAX_GROUPS];
	int tty = open_console();

	if (spec.stdin_tty && tty >= 0) {
		setsid();
		ioctl(tty, TIOCSCTTY, 0);
		dup2(tty, STDIN_FILENO);
	} else {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
	}
	if (tty >= 0) {
		int err = open_stderr_console();

		set_console_modes(tty);
		dup2(tty, STDOUT_FILENO);
		dup2(err >= 0 ? err : tty, STDERR_FILENO);
		if (err > 2)
			close(err);
		if (tty > 2)
			close(tty);
	}
	if (chroot(root) < 0) {
		fprintf(stderr, "pvisor-exec: chroot %s: %s\n", root, strerror(errno));
		_exit(127);
	}
	if (chdir(spec.cwd) < 0) {
		fprintf(stderr, "pvisor-exec: cd %s: %s (running in /)\n", spec.cwd,
			strerror(errno));
		if (chdir("/") < 0)
			_exit(127);
	}
	for (unsigned i = 0; i < spec.nr_groups; i++)
		groups[i] = (gid_t)spec.groups[i];
	if (setgroups(spec.nr_groups, groups) < 0 || setgid((gid_t)spec.gid) < 0 ||
	    setuid((uid_t)spec.uid) < 0) {
		fprintf(stderr, "pvisor-exec: cannot become uid %lu gid %lu: %s\n",
			spec.uid, spec.gid, strerror(errno));
		_exit(127);
	}
	clearenv();
	for (unsigned i = 0; i < spec.nr_env; i++)
		putenv((char *)spec.env[i]);
	if (!getenv("PATH"))
		putenv("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	if (!spec.argc) {
		shell[0] = getenv("SHELL") ? getenv("SHELL") : "/bin/sh";
		shell[1] = NULL;
		argv = shell;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, "pvisor-exec: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	const char *why;
	size_t len = 0;
	char *buf;
	pid_t pid;
	int st;

	if (argc != 3) {
		fprintf(stderr, "usage: pvisor-exec ROOT RUNFILE\n");
		return 127;
	}
	buf = read_whole(argv[2], &len);
	if (!buf) {
		fprintf(stderr, "pvisor-exec: %s: %s\n", argv[2], strerror(errno));
		return 127;
	}
	if (pv_runspec_parse(buf, len, &spec, &why) < 0) {
		fprintf(stderr, "pvisor-exec: %s: %s\n", argv[2], why);
		return 127;
	}
	pid = fork();
	if (pid < 0) {
		perror("pvisor-exec: fork");
		return 127;
	}
	if (pid == 0)
		run_child(argv[1]);
	/* Ctrl-C is the command's, not ours. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
