/* The host features pvisor relies on (see hostinfo.h). */
#include "core/hostinfo.h"
#include "core/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include <pvisor/abi.h>

#include "backend/backend.h"
#include "backend/proc/proc.h"
#include "services/blkback/blk_engine.h"

#define CAP_NET_ADMIN_BIT 12

static const char *const feature_names[HOST_NR_FEATURES] = {
	[HOST_KVM] = "kvm",
	[HOST_KVM_PVM] = "kvm-pvm",
	[HOST_FSGSBASE] = "fsgsbase",
	[HOST_SECCOMP] = "seccomp",
	[HOST_IO_URING] = "io_uring",
	[HOST_TAP] = "tap",
	[HOST_MEMFD] = "memfd",
	[HOST_LANDLOCK] = "landlock",
};

static const char *const feature_costs[HOST_NR_FEATURES] = {
	[HOST_KVM] = "no kvm backend: upper-half kernels (Linux bzImages) cannot "
		     "run at all, and guest-kit guests run on the proc backend",
	[HOST_KVM_PVM] = "nothing (with kvm-pvm, guest CPL0 is emulated at ~1 us "
			 "per instruction and CPL3 runs natively; pvisor keeps "
			 "guest kernels at CPL3 on any KVM)",
	[HOST_FSGSBASE] = "the proc backend loads the guest's fs/gs base with "
			  "arch_prctl, only when it changes (one host system call "
			  "per changed base); a guest's rd/wr{fs,gs}base gets #UD "
			  "as on Xen (where the CPU raises it) and CPUID does not "
			  "offer FSGSBASE",
	[HOST_SECCOMP] = "no proc backend: every guest needs /dev/kvm",
	[HOST_IO_URING] = "block devices use a thread pool "
			  "(preadv/pwritev/fdatasync/fallocate) instead of "
			  "io_uring; same guarantees",
	[HOST_TAP] = "--net tap cannot attach (except to a TAP device created for "
		     "this user); --net user (libslirp) still works",
	[HOST_MEMFD] = "no guest memory (a memfd on every backend): no guest can run",
	[HOST_LANDLOCK] = "pvisor's sandbox keeps its seccomp lists and "
			  "no-new-privileges, but its file access is limited "
			  "only by the user's permissions (docs/security.md)",
};

static const char *const backend_names[HOST_NR_BACKENDS] = {
	[HOST_BE_KVM] = "kvm",
	[HOST_BE_PROC] = "proc",
};

static const char *const guest_names[HOST_NR_GUESTS] = {
	[HOST_GUEST_LOWER] = "lower-half",
	[HOST_GUEST_UPPER] = "upper-half",
};

const char *hostinfo_feature_name(enum host_feature f)
{
	return (unsigned)f < HOST_NR_FEATURES ? feature_names[f] : "?";
}

const char *hostinfo_feature_cost(enum host_feature f)
{
	return (unsigned)f < HOST_NR_FEATURES ? feature_costs[f] : "?";
}

const char *hostinfo_backend_name(enum host_backend b)
{
	return (unsigned)b < HOST_NR_BACKENDS ? backend_names[b] : "?";
}

const char *hostinfo_guest_name(enum host_guest g)
{
	return (unsigned)g < HOST_NR_GUESTS ? guest_names[g] : "?";
}

void hostinfo_init(struct host_info *hi)
{
	memset(hi, 0, sizeof(*hi));
}

/* ------------------------------------------------------------------ */
/* Probes: the only part that asks the host.                          */

static void set_feature(struct host_info *hi, enum host_feature f, bool present,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_feature(struct host_info *hi, enum host_feature f, bool present,
			const char *fmt, ...)
{
	struct host_feature_state *s = &hi->feature[f];
	va_list ap;

	s->probed = true;
	s->present = present;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The first line of a small file, or "" (trailing newline removed). */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void probe_kvm_pvm(struct host_info *hi)
{
	bool pvm = path_exists("/sys/module/kvm_pvm");
	bool hw = path_exists("/sys/module/kvm_intel") ||
		  path_exists("/sys/module/kvm_amd");

	if (!hi->backend[HOST_BE_KVM].probed)
		hostinfo_probe_backend(hi, HOST_BE_KVM);
	if (hi->backend[HOST_BE_KVM].ok && pvm)
		set_feature(hi, HOST_KVM_PVM, true,
			    "/sys/module/kvm_pvm: /dev/kvm is kvm-pvm's (this host is "
			    "itself a VM without VT-x/AMD-V)");
	else if (hi->backend[HOST_BE_KVM].ok)
		set_feature(hi, HOST_KVM_PVM, false,
			    "/dev/kvm is not kvm-pvm's (no /sys/module/kvm_pvm%s)",
			    hw ? "; kvm_intel or kvm_amd: hardware KVM" : "");
	else if (pvm)
		set_feature(hi, HOST_KVM_PVM, false,
			    "kvm_pvm is loaded (/sys/module/kvm_pvm) but gives no "
			    "working /dev/kvm: this kernel is probably itself a "
			    "kvm-pvm guest (dmesg: \"not binding\")");
	else
		set_feature(hi, HOST_KVM_PVM, false,
			    "no /dev/kvm and no /sys/module/kvm_pvm");
}

static void probe_fsgsbase(struct host_info *hi)
{
	const char *env = getenv(PROC_FSGSBASE_ENV);
	char forced[96] = "";

	if (env && *env && strcmp(env, "auto"))
		snprintf(forced, sizeof(forced), "; %s=%s is set",
			 PROC_FSGSBASE_ENV, env);
	if (proc_host_has_fsgsbase())
		set_feature(hi, HOST_FSGSBASE, true,
			    "AT_HWCAP2 bit 1 set: the kernel enables "
			    "rd/wr{fs,gs}base in user space%s", forced);
	else
		set_feature(hi, HOST_FSGSBASE, false,
			    "AT_HWCAP2 bit 1 clear: the kernel does not enable "
			    "FSGSBASE%s%s",
			    proc_cpu_runs_fsgsbase()
				    ? " (yet this CPU executes rdfsbase in user "
				      "space: a hypervisor below leaves "
				      "CR4.FSGSBASE set)"
				    : "",
			    forced);
}

static void probe_seccomp(struct host_info *hi)
{
	unsigned action = SECCOMP_RET_TRAP;

	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0)
		set_feature(hi, HOST_SECCOMP, true,
			    "SECCOMP_GET_ACTION_AVAIL: SECCOMP_RET_TRAP available");
	else
		set_feature(hi, HOST_SECCOMP, false,
			    "SECCOMP_GET_ACTION_AVAIL(SECCOMP_RET_TRAP): %s",
			    strerror(errno));
}

static void probe_io_uring(struct host_info *hi)
{
	char disabled[16], hint[96] = "", why[160];
	/* The block engine's own check: the ring and its operations. */
	int rc = blk_engine_uring_usable(why, sizeof(why));

	if (rc == 0) {
		set_feature(hi, HOST_IO_URING, true,
			    "io_uring_queue_init works, with readv, writev, "
			    "fsync, fallocate and read");
		return;
	}
	read_line("/proc/sys/kernel/io_uring_disabled", disabled,
		  sizeof(disabled));
	if (disabled[0] && strcmp(disabled, "0"))
		snprintf(hint, sizeof(hint), " (sysctl kernel.io_uring_disabled = %s)",
			 disabled);
	else if (rc == -EPERM)
		snprintf(hint, sizeof(hint),
			 " (refused by a seccomp profile, e.g. a container's)");
	else if (rc == -ENOSYS)
		snprintf(hint, sizeof(hint),
			 " (a kernel without io_uring, or a seccomp profile)");
	set_feature(hi, HOST_IO_URING, false, "%s%s", why, hint);
}

/* CAP_NET_ADMIN in the effective set (/proc/self/status CapEff). */
static int have_net_admin(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int have = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long eff;

		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			have = (eff >> CAP_NET_ADMIN_BIT) & 1;
			break;
		}
	}
	fclose(f);
	return have;
}

static void probe_tap(struct host_info *hi)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	int admin;

	if (fd < 0) {
		set_feature(hi, HOST_TAP, false, "/dev/net/tun: %s",
			    strerror(errno));
		return;
	}
	close(fd);
	admin = have_net_admin();
	if (admin == 1)
		set_feature(hi, HOST_TAP, true,
			    "/dev/net/tun opens, CAP_NET_ADMIN");
	else
		set_feature(hi, HOST_TAP, false,
			    "/dev/net/tun opens, but %s",
			    admin == 0 ? "no CAP_NET_ADMIN"
				       : "CAP_NET_ADMIN unknown (no CapEff in "
					 "/proc/self/status)");
}

static void probe_memfd(struct host_info *hi)
{
	int fd = memfd_create("pvisor-hostinfo", MFD_CLOEXEC);

	if (fd < 0) {
		set_feature(hi, HOST_MEMFD, false, "memfd_create: %s",
			    strerror(errno));
		return;
	}
	close(fd);
	set_feature(hi, HOST_MEMFD, true, "memfd_create works");
}

static void probe_landlock(struct host_info *hi)
{
	int abi = sandbox_landlock_abi();

	if (abi > 0)
		set_feature(hi, HOST_LANDLOCK, true, "Landlock ABI %d", abi);
	else
		set_feature(hi, HOST_LANDLOCK, false,
			    "landlock_create_ruleset: not available (Linux >= "
			    "5.13 with lsm=landlock)");
}

void hostinfo_probe_feature(struct host_info *hi, enum host_feature f)
{
	switch (f) {
	case HOST_KVM:
		hostinfo_probe_backend(hi, HOST_BE_KVM);
		break;
	case HOST_KVM_PVM:
		probe_kvm_pvm(hi);
		break;
	case HOST_FSGSBASE:
		probe_fsgsbase(hi);
		break;
	case HOST_SECCOMP:
		probe_seccomp(hi);
		break;
	case HOST_IO_URING:
		probe_io_uring(hi);
		break;
	case HOST_TAP:
		probe_tap(hi);
		break;
	case HOST_MEMFD:
		probe_memfd(hi);
		break;
	case HOST_LANDLOCK:
		probe_landlock(hi);
		break;
	case HOST_NR_FEATURES:
		break;
	}
}

void hostinfo_probe_backend(struct host_info *hi, enum host_backend b)
{
	const struct backend_ops *ops = b == HOST_BE_KVM ? &backend_kvm
							 : &backend_proc;
	struct host_backend_state *s = &hi->backend[b];

	s->why[0] = '\0';
	s->ok = ops->probe(s->why, sizeof(s->why)) == 0;
	s->probed = true;
	if (!s->ok && !s->why[0])
		snprintf(s->why, sizeof(s->why), "unknown reason");
	if (b == HOST_BE_KVM) {
		/* The kvm feature is exactly what the kvm backend needs. */
		if (s->ok)
			set_feature(hi, HOST_KVM, true,
				    "/dev/kvm opens and creates a VM");
		else
			set_feature(hi, HOST_KVM, false, "%s", s->why);
	}
}

void hostinfo_probe_mask(struct host_info *hi, unsigned mask)
{
	for (unsigned b = 0; b < HOST_NR_BACKENDS; b++)
		if (mask & (1u << (HOST_NR_FEATURES + b)))
			hostinfo_probe_backend(hi, (enum host_backend)b);
	for (unsigned f = 0; f < HOST_NR_FEATURES; f++)
		if ((mask & (1u << f)) && !hi->feature[f].probed)
			hostinfo_probe_feature(hi, (enum host_feature)f);
}

void hostinfo_probe_all(struct host_info *hi)
{
	hostinfo_probe_mask(hi, (1u << (HOST_NR_FEATURES + HOST_NR_BACKENDS)) - 1);
}

/* ------------------------------------------------------------------ */
/* Decisions: pure functions of struct host_info.                     */

static bool feature_absent(const struct host_info *hi, enum host_feature f)
{
	return hi->feature[f].probed && !hi->feature[f].present;
}

bool hostinfo_kernel_is_upper(uint64_t v_start, uint64_t v_end)
{
	return v_start >= PVISOR_GUEST_VA_LIMIT || v_end > PVISOR_GUEST_VA_LIMIT;
}

bool hostinfo_backend_usable(const struct host_info *hi, enum host_backend b,
			     char *why, size_t why_len)
{
	static const enum host_feature needs[HOST_NR_BACKENDS][2] = {
		[HOST_BE_KVM] = { HOST_KVM, HOST_MEMFD },
		[HOST_BE_PROC] = { HOST_SECCOMP, HOST_MEMFD },
	};
	const struct host_backend_state *s = &hi->backend[b];

	if (s->probed && !s->ok) {
		snprintf(why, why_len, "%s", s->why);
		return false;
	}
	for (unsigned i = 0; i < 2; i++) {
		enum host_feature f = needs[b][i];

		if (feature_absent(hi, f)) {
			/* The kvm feature's detail is the kvm probe's reason. */
			if (f == HOST_KVM)
				snprintf(why, why_len, "%s", hi->feature[f].detail);
			else
				snprintf(why, why_len, "%s: %s", feature_names[f],
					 hi->feature[f].detail);
			return false;
		}
	}
	if (!s->probed && !hi->feature[needs[b][0]].probed) {
		snprintf(why, why_len, "not probed");
		return false;
	}
	why[0] = '\0';
	return true;
}

/* "kernel PATH (a Linux bzImage at 0x...)". */
static void describe_kernel(const struct host_kernel *k, char *buf, size_t len)
{
	if (!k->path) {
		snprintf(buf, len, "a Linux bzImage or an ELF kernel at or above %#lx",
			 PVISOR_GUEST_VA_LIMIT);
		return;
	}
	snprintf(buf, len, "kernel %s (%s at %#llx)", k->path,
		 k->bzimage ? "a Linux bzImage, its ELF loaded" : "an ELF loaded",
		 (unsigned long long)k->v_start);
}

/* The refusal of an upper-half kernel when only proc could run it. */
static void upper_half_refusal(const struct host_info *hi,
			       const struct host_kernel *k, bool forced_proc,
			       char *msg, size_t msg_len)
{
	char what[1280], why_kvm[256];
	bool kvm_ok = hostinfo_backend_usable(hi, HOST_BE_KVM, why_kvm,
					      sizeof(why_kvm));

	describe_kernel(k, what, sizeof(what));
	snprintf(msg, msg_len,
		 "%s needs the kvm backend (/dev/kvm): it lives in the upper half, "
		 "and the proc backend runs a guest at its own virtual addresses "
		 "in a host process, which can only use the lower half (below "
		 "%#lx); %s%s%s",
		 what, PVISOR_GUEST_VA_LIMIT,
		 kvm_ok && forced_proc ? "run it with --backend kvm, which works here"
				       : "this host has no usable /dev/kvm (",
		 kvm_ok && forced_proc ? "" : why_kvm,
		 kvm_ok && forced_proc ? "" : ")");
}

int hostinfo_choose(const struct host_info *hi, const char *forced,
		    const struct host_kernel *k, char *msg, size_t msg_len)
{
	char why_kvm[256], why_proc[256];
	bool upper = hostinfo_kernel_is_upper(k->v_start, k->v_end);
	bool kvm_ok, proc_ok;

	msg[0] = '\0';
	if (forced && !strcmp(forced, "proc") && upper) {
		upper_half_refusal(hi, k, true, msg, msg_len);
		return -1;
	}
	if (forced) {
		enum host_backend b;

		if (!strcmp(forced, "kvm"))
			b = HOST_BE_KVM;
		else if (!strcmp(forced, "proc"))
			b = HOST_BE_PROC;
		else {
			snprintf(msg, msg_len, "--backend %s: unknown backend",
				 forced);
			return -1;
		}
		if (!hostinfo_backend_usable(hi, b, why_kvm, sizeof(why_kvm))) {
			snprintf(msg, msg_len, "--backend %s: not available here: %s",
				 forced, why_kvm);
			return -1;
		}
		return b;
	}
	kvm_ok = hostinfo_backend_usable(hi, HOST_BE_KVM, why_kvm, sizeof(why_kvm));
	if (kvm_ok) {
		snprintf(msg, msg_len, "backend kvm (/dev/kvm works)");
		return HOST_BE_KVM;
	}
	if (upper) {
		upper_half_refusal(hi, k, false, msg, msg_len);
		return -1;
	}
	proc_ok = hostinfo_backend_usable(hi, HOST_BE_PROC, why_proc,
					  sizeof(why_proc));
	if (!proc_ok) {
		snprintf(msg, msg_len, "no backend can run here: kvm: %s; proc: %s",
			 why_kvm, why_proc);
		return -1;
	}
	snprintf(msg, msg_len, "backend proc (kvm unavailable: %s)", why_kvm);
	return HOST_BE_PROC;
}

int hostinfo_guest_backend(const struct host_info *hi, enum host_guest g,
			   char *msg, size_t msg_len)
{
	struct host_kernel k = { .path = NULL };
	char choice[1536];
	int b;

	if (g == HOST_GUEST_UPPER) {
		k.v_start = 0xffffffff80000000ull; /* where Linux lives */
		k.v_end = k.v_start + (64ull << 20);
	} else {
		k.v_start = PVISOR_KIT_VIRT_BASE;
		k.v_end = k.v_start + (1ull << 20);
	}
	b = hostinfo_choose(hi, NULL, &k, choice, sizeof(choice));
	if (b < 0) {
		snprintf(msg, msg_len, "%s", choice);
		return -1;
	}
	if (g == HOST_GUEST_UPPER) {
		snprintf(msg, msg_len,
			 "Linux bzImages and ELF kernels at or above %#lx run on "
			 "kvm only", PVISOR_GUEST_VA_LIMIT);
	} else {
		char why[256];
		bool other = hostinfo_backend_usable(hi, HOST_BE_PROC, why,
						     sizeof(why));

		snprintf(msg, msg_len,
			 "ELF kernels below %#lx, such as the guest kit's "
			 "(guest/build/*), run on %s%s",
			 PVISOR_GUEST_VA_LIMIT, backend_names[b],
			 b == HOST_BE_KVM
				 ? (other ? " by default; --backend proc also works"
					  : " (proc unavailable)")
				 : " (kvm unavailable)");
	}
	return b;
}

static int feature_by_name(const char *name)
{
	for (unsigned f = 0; f < HOST_NR_FEATURES; f++)
		if (!strcmp(name, feature_names[f]))
			return (int)f;
	return -1;
}

static int name_in(const char *name, const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

#define NEED_BE(b) (1u << (HOST_NR_FEATURES + (b)))

int hostinfo_query_needs(const char *name, unsigned *mask)
{
	static const unsigned backend_needs[HOST_NR_BACKENDS] = {
		[HOST_BE_KVM] = NEED_BE(HOST_BE_KVM) | 1u << HOST_MEMFD,
		[HOST_BE_PROC] = NEED_BE(HOST_BE_PROC) | 1u << HOST_SECCOMP |
				 1u << HOST_MEMFD,
	};
	int i;

	if (!strncmp(name, "feature:", 8))
		name += 8;
	if ((i = feature_by_name(name)) >= 0) {
		*mask = 1u << i;
		return 0;
	}
	if (!strncmp(name, "backend:", 8) &&
	    (i = name_in(name + 8, backend_names, HOST_NR_BACKENDS)) >= 0) {
		*mask = backend_needs[i];
		return 0;
	}
	if (!strncmp(name, "guest:", 6) &&
	    name_in(name + 6, guest_names, HOST_NR_GUESTS) >= 0) {
		*mask = backend_needs[HOST_BE_KVM] | backend_needs[HOST_BE_PROC];
		return 0;
	}
	return -1;
}

int hostinfo_query(const struct host_info *hi, const char *name, char *answer,
		   size_t answer_len)
{
	int i;

	answer[0] = '\0';
	if (!strncmp(name, "feature:", 8))
		name += 8;
	if ((i = feature_by_name(name)) >= 0) {
		const struct host_feature_state *s = &hi->feature[i];

		snprintf(answer, answer_len, "%s", s->probed ? s->detail : "not probed");
		return s->probed && s->present;
	}
	if (!strncmp(name, "backend:", 8) &&
	    (i = name_in(name + 8, backend_names, HOST_NR_BACKENDS)) >= 0) {
		if (hostinfo_backend_usable(hi, (enum host_backend)i, answer,
					    answer_len)) {
			snprintf(answer, answer_len, "available");
			return 1;
		}
		return 0;
	}
	if (!strncmp(name, "guest:", 6) &&
	    (i = name_in(name + 6, guest_names, HOST_NR_GUESTS)) >= 0) {
		char msg[1536];
		int b = hostinfo_guest_backend(hi, (enum host_guest)i, msg,
					       sizeof(msg));

		snprintf(answer, answer_len, "%s", b >= 0 ? backend_names[b] : msg);
		return b >= 0;
	}
	return -1;
}

/* snprintf that appends at *off and keeps counting past the end. */
static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

size_t hostinfo_format(const struct host_info *hi, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned f = 0; f < HOST_NR_FEATURES; f++) {
		const struct host_feature_state *s = &hi->feature[f];

		appendf(buf, len, &off, "feature %s: %s — %s; without it: %s\n",
			feature_names[f],
			!s->probed ? "unknown" : s->present ? "yes" : "no",
			s->probed ? s->detail : "not probed", feature_costs[f]);
	}
	for (unsigned b = 0; b < HOST_NR_BACKENDS; b++) {
		char why[256];

		if (hostinfo_backend_usable(hi, (enum host_backend)b, why,
					    sizeof(why)))
			appendf(buf, len, &off, "backend %s: available\n",
				backend_names[b]);
		else
			appendf(buf, len, &off, "backend %s: unavailable: %s\n",
				backend_names[b], why);
	}
	for (unsigned g = 0; g < HOST_NR_GUESTS; g++) {
		char msg[1536];
		int b = hostinfo_guest_backend(hi, (enum host_guest)g, msg,
					       sizeof(msg));

		appendf(buf, len, &off, "guest %s: %s — %s\n", guest_names[g],
			b >= 0 ? backend_names[b] : "none", msg);
	}
	return off;
}
