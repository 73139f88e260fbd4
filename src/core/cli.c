/* Command-line parsing (see cli.h). */
#include "core/cli.h"
#include "core/runspec.h"
#include "core/sandbox.h"

#include "hostio/hostnet.h"
#include "services/scsiback/vscsi_lun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MEM (64ull << 20)
#define ROOTFS_DEFAULT_MEM (512ull << 20) /* a whole Debian kernel and CMD */
#define MIN_MEM (2ull << 20)
#define MAX_MEM (64ull << 30)
#define MAX_VCPUS 32

const char cli_usage[] =
	"usage: pvisor COMMAND [ARGS]\n"
	"\n"
	"pvisor runs Xen PV guests (kernels in ring 3, hypercalls, shared rings)\n"
	"on KVM or, with no virtualization at all, in a seccomp-locked process.\n"
	"\n"
	"commands:\n"
	"  run [OPTIONS] KERNEL [-- ARGS...]   boot a PV kernel (see pvisor run --help)\n"
	"  backends                            say which backends work on this machine\n"
	"  host [--query NAME]                 the host features pvisor relies on, what\n"
	"                                      their absence costs, which backend runs\n"
	"                                      which guest (see pvisor host --help)\n"
	"  ctl PATH COMMAND [ARGS]             control a guest run with --api PATH\n"
	"                                      (see pvisor ctl --help)\n"
	"  restore [OPTIONS] FILE              resume a guest saved with `ctl PATH save FILE`\n"
	"                                      (its devices come from FILE unless run's\n"
	"                                      --disk, --net, --scsi, --share name them;\n"
	"                                      --api, ...; --kernel: what a reboot boots; --lazy: the\n"
	"                                      guest runs before its memory is read in)\n"
	"  version                             print the version\n"
	"  --help                              this text\n";

const char cli_run_usage[] =
	"usage: pvisor run [OPTIONS] KERNEL [-- ARGS...]\n"
	"\n"
	"Boots KERNEL, an ELF image with Xen ELF notes (the format Xen's PV\n"
	"loader takes), and connects its console to the terminal (Ctrl-A x quits).\n"
	"pvisor exits with the guest's exit status.\n"
	"\n"
	"options:\n"
	"  --backend kvm|proc   how to run the guest: kvm (/dev/kvm) or proc (a\n"
	"                       seccomp-locked host process); default: kvm when\n"
	"                       /dev/kvm works, proc otherwise\n"
	"  --kernel PATH        the kernel (instead of the KERNEL argument)\n"
	"  --initrd PATH        an initial ramdisk, passed as the boot module\n"
	"  --mem SIZE           guest memory, e.g. 64M, 1G (default 64M; a bare\n"
	"                       number is MiB)\n"
	"  --cpus N             number of vCPUs (default 1)\n"
	"  --cmdline STR        the guest command line\n"
	"  --timeout SEC        stop the guest after SEC seconds (exit 124)\n"
	"  --on-reboot restart|exit\n"
	"                       what a guest's reboot does: boot the same kernel,\n"
	"                       initrd and command line again in a fresh domain\n"
	"                       with the same devices (restart, the default), or\n"
	"                       end pvisor with exit 123 (exit, as QEMU's -no-reboot)\n"
	"  --disk PATH[,ro][,id=NAME]\n"
	"                       a raw disk image as a Xen block device (xvda,\n"
	"                       xvdb, ... in order, or id=xvdN); repeatable\n"
	"  --share HOSTDIR,tag=NAME[,ro][,security_model=passthrough|mapped-xattr]\n"
	"                       a host directory the guest mounts over Xen 9pfs\n"
	"                       (mount -t 9p -o trans=xen,version=9p2000.L NAME\n"
	"                       /mnt); passthrough: files are pvisor's user's;\n"
	"                       mapped-xattr: the guest's owners and modes kept in\n"
	"                       user.pvisor.* xattrs; repeatable\n"
	"  --rootfs DIR[,rw]    boot Debian's amd64 kernel (default: the one\n"
	"                       tools/fetch-kernel.sh fetches) with DIR, e.g. /,\n"
	"                       as the guest's root over 9p, and run ARGS (a shell\n"
	"                       if none) in it as your uid, in your working\n"
	"                       directory; only their output is shown (-v: the\n"
	"                       kernel's too) and pvisor exits with their status.\n"
	"                       Writes stay in guest memory unless ,rw\n"
	"                       (docs/rootfs.md); --mem defaults to 512M; with\n"
	"                       --net user the guest's eth0 is 10.0.2.15/24\n"
	"  --rwdir [GUESTPATH=]HOSTDIR\n"
	"                       with --rootfs: HOSTDIR shared writable and mounted\n"
	"                       on GUESTPATH in the guest's root (default: HOSTDIR's\n"
	"                       place under DIR), so that writes there reach the\n"
	"                       host; virtme-ng's syntax; repeatable\n"
	"  --dry-run=FILE       with --rootfs: write the initramfs to FILE, print\n"
	"                       the kernel, command line and shares; no boot\n"
	"  --scsi PATH[,ro][,media=disk|cdrom][,ejected][,locked][,lun=H:C:T:L]\n"
	"                       a raw disk image or an ISO (media=cdrom, read-only;\n"
	"                       ejected: its tray starts open, PATH loads on insert;\n"
	"                       locked: removal prevented, as the guest had it)\n"
	"                       as a LUN of the guest's paravirtual SCSI host\n"
	"                       (vscsiif); LUNs 0:0:0:0, 0:0:0:1, ... in order unless\n"
	"                       lun= is given; repeatable\n"
	"  --net user[,hostfwd=tcp|udp:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...\n"
	"  --net tap,ifname=NAME\n"
	"                       a Xen network device (vif0, vif1, ...) on user-mode\n"
	"                       networking (libslirp) or a TAP device; repeatable\n"
	"  --xenstore-socket PATH\n"
	"                       serve xenstored's socket protocol at PATH (mode\n"
	"                       0600) for Xen's tools, as dom0: XENSTORED_PATH=PATH\n"
	"                       xenstore-ls (docs/xenstore.md)\n"
	"  --api PATH           serve the control API at PATH (mode 0600): status,\n"
	"                       pause, resume, shutdown, sysrq with pvisor ctl PATH\n"
	"                       (docs/control-api.md)\n"
	"  --sandbox on|off|log pvisor confines itself: seccomp per thread,\n"
	"                       Landlock, no new privileges (default on; log: run\n"
	"                       forbidden calls and log them, for audits;\n"
	"                       docs/security.md)\n"
	"  --user NAME|UID      started as root: open the images, devices and\n"
	"                       sockets as root, then run every thread as that\n"
	"                       user (and its group)\n"
	"  --console2           a second Xen console (device/console/1, Linux's\n"
	"                       /dev/hvc1) whose output goes to pvisor's stderr\n"
	"  --no-raw             leave the terminal in cooked mode\n"
	"  -v, --verbose        more messages (repeat for debug)\n"
	"  -q, --quiet          only errors\n"
	"  -h, --help           this text\n"
	"\n"
	"ARGS after -- are appended to the guest command line.  A repeated\n"
	"option overrides the earlier one (--cmdline, --disk, --scsi, --net and\n"
	"--share add).\n"
	"\n"
	"exit status: the guest's (poweroff 0; SCHEDOP_shutdown with a pvisor exit\n"
	"code N gives N), 123 reboot with --on-reboot exit (or a restored guest's\n"
	"reboot without restore --kernel), 124 timeout, 125 guest crash, 126\n"
	"guest stopped by pvisor (fault), 127 pvisor could not run the guest, 2 bad\n"
	"usage or image, 143 SIGTERM, or stopped by the control API without the\n"
	"guest's cooperation.\n";

const char cli_host_usage[] =
	"usage: pvisor host [--query NAME]\n"
	"\n"
	"Without --query: one line per host feature pvisor relies on, whether this\n"
	"host has it and what its absence costs, then the backends and which one\n"
	"runs each kind of guest:\n"
	"  feature NAME: yes|no — WHAT WAS FOUND; without it: COST\n"
	"  backend NAME: available | unavailable: WHY\n"
	"  guest KIND: BACKEND|none — WHAT RUNS IT, OR WHY NOTHING CAN\n"
	"\n"
	"--query NAME asks one question and answers with the exit status: 0 yes,\n"
	"1 no, 2 NAME unknown; stdout gets one line (what was found, or why not;\n"
	"for a guest kind, the backend that runs it).  NAME is a feature (kvm,\n"
	"kvm-pvm, fsgsbase, seccomp, io_uring, tap, memfd), backend:kvm,\n"
	"backend:proc, guest:lower-half (ELF kernels below 0x7f0000000000, the\n"
	"guest kit's) or guest:upper-half (Linux bzImages, ELF kernels above it).\n"
	"The tests and make run ask this, never guess.\n";

int64_t cli_parse_size(const char *s)
{
	char *end;
	unsigned long long n;
	uint64_t mult = 1ull << 20;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1ull << 10;
		end++;
		break;
	case 'm': case 'M':
		end++;
		break;
	case 'g': case 'G':
		mult = 1ull << 30;
		end++;
		break;
	case 't': case 'T':
		mult = 1ull << 40;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b')
		end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
	if (*end)
		return -1;
	if (n > (uint64_t)INT64_MAX / mult)
		return -1;
	return (int64_t)(n * mult);
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end || *out > max)
		return -1;
	return 0;
}

static int append_cmdline(struct cli *c, const char *word)
{
	size_t used = strlen(c->cmdline), n = strlen(word);

	if (used + (used ? 1 : 0) + n + 1 > sizeof(c->cmdline))
		return -1;
	if (used)
		c->cmdline[used++] = ' ';
	memcpy(c->cmdline + used, word, n + 1);
	return 0;
}

/* Options that take a value: `--opt VALUE` or `--opt=VALUE`. */
static const char *option_value(int argc, char *const argv[], int *i,
				const char *name)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];

	if (strncmp(arg, name, n) != 0)
		return NULL;
	if (arg[n] == '=')
		return arg + n + 1;
	if (arg[n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return "";
	return argv[++*i];
}

/* PATH[,OPT]...: copies PATH into path (cap bytes, NUL-terminated);
 * returns where the options start (the ',' before the first, or the end),
 * or NULL when PATH is empty or does not fit. */
static const char *take_path(const char *v, char *path, size_t cap)
{
	size_t n = strcspn(v, ",");

	if (n == 0 || n >= cap)
		return NULL;
	memcpy(path, v, n);
	path[n] = '\0';
	return v + n;
}

/* The next option after take_path(): opt[0..*n), *at moved past it;
 * false at the end.  An empty option (",,", a trailing ',') is one. */
static bool next_option(const char **at, const char **opt, size_t *n)
{
	if (**at != ',')
		return false;
	*opt = *at + 1;
	*n = strcspn(*opt, ",");
	*at = *opt + *n;
	return true;
}

/* --disk PATH[,ro][,id=xvdN]; 0 or -1 with err set. */
static int parse_disk(struct vm_config *cfg, const char *v, char *err,
		      size_t err_len)
{
	struct vm_disk *d;
	const char *at, *opt;
	size_t n;

	if (cfg->nr_disks == VM_MAX_DISKS) {
		snprintf(err, err_len, "--disk: at most %d disks", VM_MAX_DISKS);
		return -1;
	}
	d = &cfg->disks[cfg->nr_disks];
	at = take_path(v, d->path, sizeof(d->path));
	if (!at) {
		snprintf(err, err_len, "--disk: '%s' has no usable image path", v);
		return -1;
	}
	snprintf(d->name, sizeof(d->name), "xvd%c", 'a' + cfg->nr_disks);
	while (next_option(&at, &opt, &n)) {
		if (n == 2 && !strncmp(opt, "ro", 2)) {
			d->ro = true;
		} else if (n == 2 && !strncmp(opt, "rw", 2)) {
			d->ro = false;
		} else if (n == 7 && !strncmp(opt, "id=xvd", 6) && opt[6] >= 'a' &&
			   opt[6] <= 'z') {
			memcpy(d->name, opt + 3, 4);
			d->name[4] = '\0';
		} else if (n >= 3 && !strncmp(opt, "id=", 3)) {
			snprintf(err, err_len,
				 "--disk: bad id '%.*s' (xvda to xvdz: Xen's names)",
				 (int)n - 3, opt + 3);
			return -1;
		} else {
			snprintf(err, err_len,
				 "--disk: unknown option '%.*s' (ro, id=xvdN)",
				 (int)n, opt);
			return -1;
		}
	}
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		if (!strcmp(cfg->disks[i].name, d->name)) {
			snprintf(err, err_len, "--disk: two disks named %s",
				 d->name);
			return -1;
		}
	}
	cfg->nr_disks++;
	return 0;
}

static bool tag_ok(const char *t, size_t n)
{
	if (n == 0 || n > VM_SHARE_TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(t[i] >= 'a' && t[i] <= 'z') && !(t[i] >= 'A' && t[i] <= 'Z') &&
		    !(t[i] >= '0' && t[i] <= '9') && t[i] != '_' && t[i] != '-' &&
		    t[i] != '.')
			return false;
	return true;
}

/* One option of --share (opt[0..n)); 0 or -1 with err set. */
static int share_option(struct vm_share *s, const char *opt, size_t n, char *err,
			size_t err_len)
{
	if (n == 2 && !strncmp(opt, "ro", 2)) {
		s->ro = true;
	} else if (n == 2 && !strncmp(opt, "rw", 2)) {
		s->ro = false;
	} else if (n >= 4 && !strncmp(opt, "tag=", 4)) {
		if (!tag_ok(opt + 4, n - 4)) {
			snprintf(err, err_len,
				 "--share: tag '%.*s' must be 1 to %d letters, digits, "
				 "'_', '-' or '.'", (int)(n - 4), opt + 4, VM_SHARE_TAG_MAX);
			return -1;
		}
		memcpy(s->tag, opt + 4, n - 4);
		s->tag[n - 4] = '\0';
	} else if (n >= 15 && !strncmp(opt, "security_model=", 15)) {
		const char *m = opt + 15;
		size_t mlen = n - 15;

		if (mlen == 11 && !strncmp(m, "passthrough", 11)) {
			snprintf(s->security_model, sizeof(s->security_model), "passthrough");
		} else if ((mlen == 12 && !strncmp(m, "mapped-xattr", 12)) ||
			   (mlen == 6 && !strncmp(m, "mapped", 6))) { /* QEMU's alias */
			snprintf(s->security_model, sizeof(s->security_model), "mapped-xattr");
		} else {
			snprintf(err, err_len,
				 "--share: unknown security_model '%.*s' (passthrough, "
				 "mapped-xattr)", (int)mlen, m);
			return -1;
		}
	} else {
		snprintf(err, err_len,
			 "--share: unknown option '%.*s' (tag=NAME, ro, security_model=)",
			 (int)n, opt);
		return -1;
	}
	return 0;
}

/* The next share slot with DIR from v (DIR[,OPT]...), passthrough; *at
 * where the options start.  NULL with err set (opt: the option's name). */
static struct vm_share *new_share(struct vm_config *cfg, const char *opt,
				  const char *v, const char **at, char *err,
				  size_t err_len)
{
	struct vm_share *s;

	if (cfg->nr_shares == VM_MAX_SHARES) {
		snprintf(err, err_len, "%s: at most %d shares", opt, VM_MAX_SHARES);
		return NULL;
	}
	s = &cfg->shares[cfg->nr_shares];
	memset(s, 0, sizeof(*s));
	*at = take_path(v, s->path, sizeof(s->path));
	if (!*at) {
		snprintf(err, err_len, "%s: '%s' has no usable directory", opt, v);
		return NULL;
	}
	snprintf(s->security_model, sizeof(s->security_model), "passthrough");
	return s;
}

/* --share HOSTDIR,tag=NAME[,ro][,security_model=passthrough|mapped-xattr]. */
static int parse_share(struct vm_config *cfg, const char *v, char *err,
		       size_t err_len)
{
	const char *at, *opt;
	struct vm_share *s = new_share(cfg, "--share", v, &at, err, err_len);
	size_t n;

	if (!s)
		return -1;
	while (next_option(&at, &opt, &n))
		if (share_option(s, opt, n, err, err_len))
			return -1;
	if (!s->tag[0]) {
		snprintf(err, err_len, "--share %s: needs tag=NAME (what the guest mounts)",
			 s->path);
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		if (!strcmp(cfg->shares[i].tag, s->tag)) {
			snprintf(err, err_len, "--share: two shares tagged '%s'", s->tag);
			return -1;
		}
	}
	cfg->nr_shares++;
	return 0;
}

/* --rootfs DIR[,ro|,rw]: the share the guest boots from (docs/rootfs.md). */
static int parse_rootfs(struct vm_config *cfg, const char *v, char *err,
			size_t err_len)
{
	const char *at, *opt;
	struct vm_share *s = new_share(cfg, "--rootfs", v, &at, err, err_len);
	size_t n;

	if (!s)
		return -1;
	cfg->rootfs_rw = false;
	while (next_option(&at, &opt, &n)) {
		if (n == 2 && (!strncmp(opt, "ro", 2) || !strncmp(opt, "rw", 2))) {
			cfg->rootfs_rw = opt[1] == 'w';
		} else {
			snprintf(err, err_len, "--rootfs: unknown option '%.*s' (ro, rw)",
				 (int)n, opt);
			return -1;
		}
	}
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		if (!strcmp(cfg->shares[i].tag, VM_ROOTFS_TAG)) {
			snprintf(err, err_len, "--rootfs: a share is tagged '%s' already",
				 VM_ROOTFS_TAG);
			return -1;
		}
	}
	snprintf(s->tag, sizeof(s->tag), VM_ROOTFS_TAG);
	s->ro = !cfg->rootfs_rw;
	cfg->rootfs = s->path;
	cfg->nr_shares++;
	return 0;
}

/*
 * --rwdir [GUESTPATH=]HOSTDIR, virtme-ng's syntax (its users' habit; the
 * first '=' splits, so HOSTDIR may hold one): a writable share tagged
 * rwdirN for the rootfs guest to mount on GUESTPATH.  Without GUESTPATH,
 * core/rootfs.c derives it from HOSTDIR's place under DIR (I/O: realpath).
 */
static int parse_rwdir(struct vm_config *cfg, const char *v, char *err,
		       size_t err_len)
{
	const char *eq = strchr(v, '='), *host = eq ? eq + 1 : v, *why;
	struct vm_rwdir *r = &cfg->rwdirs[cfg->nr_rwdirs];
	struct vm_share *s;
	size_t n = eq ? (size_t)(eq - v) : 0;

	if (!*host || strlen(host) >= sizeof(s->path)) {
		snprintf(err, err_len, "--rwdir '%s': no usable host directory", v);
		return -1;
	}
	if (cfg->nr_shares == VM_MAX_SHARES) {
		snprintf(err, err_len, "--rwdir: at most %d shares with the root",
			 VM_MAX_SHARES);
		return -1;
	}
	while (n > 1 && v[n - 1] == '/')
		n--;
	if (n >= sizeof(r->guest)) {
		snprintf(err, err_len, "--rwdir '%s': the guest path is too long", v);
		return -1;
	}
	memcpy(r->guest, v, n);
	r->guest[n] = '\0';
	if (eq && (why = runspec_guest_path_bad(r->guest))) {
		snprintf(err, err_len, "--rwdir '%s': the guest path %s", v, why);
		return -1;
	}
	s = &cfg->shares[cfg->nr_shares];
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", host);
	snprintf(s->tag, sizeof(s->tag), "rwdir%u", cfg->nr_rwdirs);
	snprintf(s->security_model, sizeof(s->security_model), "passthrough");
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		if (!strcmp(cfg->shares[i].tag, s->tag)) {
			snprintf(err, err_len, "--rwdir: a share is tagged '%s' already",
				 s->tag);
			return -1;
		}
	}
	r->share = cfg->nr_shares++;
	cfg->nr_rwdirs++;
	return 0;
}

/* --scsi PATH[,ro][,media=disk|cdrom][,ejected][,locked][,lun=H:C:T:L]; 0 or
 * -1 with err set. */
static int parse_scsi(struct vm_config *cfg, const char *v, char *err,
		      size_t err_len)
{
	const char *at, *opt;
	size_t n;
	struct vm_scsi *d;
	bool have_lun = false;
	struct scsi_addr a, taken[VM_MAX_SCSI];
	int rc;

	if (cfg->nr_scsi == VM_MAX_SCSI) {
		snprintf(err, err_len, "--scsi: at most %d LUNs", VM_MAX_SCSI);
		return -1;
	}
	d = &cfg->scsi[cfg->nr_scsi];
	memset(d, 0, sizeof(*d));
	at = take_path(v, d->path, sizeof(d->path));
	if (!at) {
		snprintf(err, err_len, "--scsi: '%s' has no usable image path", v);
		return -1;
	}
	while (next_option(&at, &opt, &n)) {
		if (n == 2 && !strncmp(opt, "ro", 2)) {
			d->ro = true;
		} else if (n == 2 && !strncmp(opt, "rw", 2)) {
			d->ro = false;
		} else if (n == 10 && !strncmp(opt, "media=disk", 10)) {
			d->cdrom = false;
		} else if (n == 11 && !strncmp(opt, "media=cdrom", 11)) {
			d->cdrom = true;
		} else if (n >= 6 && !strncmp(opt, "media=", 6)) {
			snprintf(err, err_len, "--scsi: unknown media '%.*s' (disk or cdrom)",
				 (int)(n - 6), opt + 6);
			return -1;
		} else if (n == 7 && !strncmp(opt, "ejected", 7)) {
			d->ejected = true;
		} else if (n == 6 && !strncmp(opt, "locked", 6)) {
			d->locked = true;
		} else if (n >= 4 && !strncmp(opt, "lun=", 4)) {
			if (vscsi_hctl_parse(opt + 4, n - 4, &a)) {
				snprintf(err, err_len,
					 "--scsi: bad lun '%.*s' (H:C:T:L, numbers 0 to 65535)",
					 (int)(n - 4), opt + 4);
				return -1;
			}
			have_lun = true;
		} else {
			snprintf(err, err_len,
				 "--scsi: unknown option '%.*s' (ro, media=disk|cdrom, ejected, locked, lun=H:C:T:L)",
				 (int)n, opt);
			return -1;
		}
	}
	if (d->cdrom)
		d->ro = true; /* an ISO is read-only media */
	if ((d->ejected || d->locked) && !d->cdrom) {
		snprintf(err, err_len, "--scsi: %s is for media=cdrom (a disk has no tray)",
			 d->ejected ? "ejected" : "locked");
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_scsi; i++)
		taken[i] = (struct scsi_addr){ cfg->scsi[i].host, cfg->scsi[i].channel,
					       cfg->scsi[i].target, cfg->scsi[i].lun };
	rc = vscsi_lun_place(taken, cfg->nr_scsi, have_lun, &a);
	if (rc == -EXDEV) {
		snprintf(err, err_len,
			 "--scsi: lun=%u:%u:%u:%u is on host %u, the others on "
			 "host %u (one SCSI host per guest)", a.host, a.channel,
			 a.target, a.lun, a.host, taken[0].host);
		return -1;
	}
	if (rc == -EEXIST) {
		snprintf(err, err_len, "--scsi: two LUNs at %u:%u:%u:%u",
			 a.host, a.channel, a.target, a.lun);
		return -1;
	}
	d->host = a.host;
	d->channel = a.channel;
	d->target = a.target;
	d->lun = a.lun;
	cfg->nr_scsi++;
	return 0;
}

/* --net SPEC (hostio/hostnet.h); v must outlive cfg.  0 or -1 with err. */
static int parse_net(struct vm_config *cfg, const char *v, char *err,
		     size_t err_len)
{
	struct hostnet_config hc;

	if (cfg->nr_net == VM_MAX_NICS) {
		snprintf(err, err_len, "--net: at most %d network devices", VM_MAX_NICS);
		return -1;
	}
	if (hostnet_parse(v, &hc, err, err_len))
		return -1;
	cfg->net[cfg->nr_net++] = v;
	return 0;
}

int cli_add_device(struct vm_config *cfg, enum vm_device_kind kind,
		   const char *spec, char *err, size_t err_len)
{
	switch (kind) {
	case VM_DEV_DISK: return parse_disk(cfg, spec, err, err_len);
	case VM_DEV_NIC: return parse_net(cfg, spec, err, err_len);
	case VM_DEV_SCSI: return parse_scsi(cfg, spec, err, err_len);
	case VM_DEV_SHARE: return parse_share(cfg, spec, err, err_len);
	}
	snprintf(err, err_len, "unknown device kind %d", (int)kind);
	return -1;
}

/* The spellings below are what the parsers above read back; a path with a
 * ',' has none (take_path ends it there): -ENAMETOOLONG or -EINVAL. */
static int spec_done(int n, size_t cap, const char *path)
{
	if (strchr(path, ','))
		return -EINVAL;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

int cli_disk_spec(const struct vm_disk *d, char *buf, size_t cap)
{
	return spec_done(snprintf(buf, cap, "%s,%s,id=%s", d->path,
				  d->ro ? "ro" : "rw", d->name), cap, d->path);
}

int cli_scsi_spec(const struct vm_scsi *d, char *buf, size_t cap)
{
	return spec_done(snprintf(buf, cap, "%s,%s,media=%s%s%s,lun=%u:%u:%u:%u",
				  d->path, d->ro ? "ro" : "rw",
				  d->cdrom ? "cdrom" : "disk", d->ejected ? ",ejected" : "",
				  d->locked ? ",locked" : "", d->host, d->channel, d->target, d->lun), cap, d->path);
}

int cli_share_spec(const struct vm_share *s, char *buf, size_t cap)
{
	return spec_done(snprintf(buf, cap, "%s,tag=%s,%s,security_model=%s",
				  s->path, s->tag, s->ro ? "ro" : "rw",
				  s->security_model), cap, s->path);
}

static enum cli_command parse_run(int argc, char *const argv[], struct cli *c,
				  char *err, size_t err_len)
{
	struct vm_config *cfg = &c->cfg;
	const char *v, *rootfs = NULL;
	bool mem_given = false;
	int i;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		unsigned long long n;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return CLI_RUN_HELP;
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cfg->verbose++;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			cfg->verbose = -1;
		} else if (strcmp(a, "--console2") == 0) {
			cfg->console2 = true;
		} else if (strcmp(a, "--no-raw") == 0) {
			cfg->console_raw = 0;
		} else if ((v = option_value(argc, argv, &i, "--backend"))) {
			if (strcmp(v, "kvm") && strcmp(v, "proc")) {
				snprintf(err, err_len,
					 "--backend: unknown backend '%s' (kvm or proc)", v);
				return CLI_ERROR;
			}
			cfg->backend = v;
		} else if ((v = option_value(argc, argv, &i, "--kernel"))) {
			if (!*v)
				goto missing;
			cfg->kernel_path = v;
		} else if ((v = option_value(argc, argv, &i, "--initrd"))) {
			if (!*v)
				goto missing;
			cfg->initrd_path = v;
		} else if ((v = option_value(argc, argv, &i, "--mem"))) {
			int64_t bytes = cli_parse_size(v);

			if (bytes < 0) {
				snprintf(err, err_len,
					 "--mem: '%s' is not a size (e.g. 64M, 1G)", v);
				return CLI_ERROR;
			}
			if ((uint64_t)bytes < MIN_MEM || (uint64_t)bytes > MAX_MEM ||
			    bytes % 4096) {
				snprintf(err, err_len,
					 "--mem: %s is out of range (2M to 64G, whole pages)",
					 v);
				return CLI_ERROR;
			}
			cfg->mem_bytes = (uint64_t)bytes;
			mem_given = true;
		} else if ((v = option_value(argc, argv, &i, "--cpus"))) {
			if (parse_uint(v, MAX_VCPUS, &n) || n == 0) {
				snprintf(err, err_len,
					 "--cpus: '%s' is not a vCPU count (1 to %d)", v,
					 MAX_VCPUS);
				return CLI_ERROR;
			}
			cfg->nr_vcpus = (unsigned)n;
		} else if ((v = option_value(argc, argv, &i, "--disk"))) {
			if (parse_disk(cfg, v, err, err_len))
				return CLI_ERROR;
		} else if ((v = option_value(argc, argv, &i, "--share"))) {
			if (parse_share(cfg, v, err, err_len))
				return CLI_ERROR;
		} else if ((v = option_value(argc, argv, &i, "--rootfs"))) {
			if (!*v)
				goto missing;
			rootfs = v;
		} else if ((v = option_value(argc, argv, &i, "--rwdir"))) {
			if (c->nr_rwdir == VM_MAX_SHARES - 1) {
				snprintf(err, err_len, "--rwdir: at most %d",
					 VM_MAX_SHARES - 1);
				return CLI_ERROR;
			}
			c->rwdir[c->nr_rwdir++] = v;
		} else if ((v = option_value(argc, argv, &i, "--dry-run"))) {
			if (!*v)
				goto missing;
			c->dry_run = v;
		} else if ((v = option_value(argc, argv, &i, "--scsi"))) {
			if (parse_scsi(cfg, v, err, err_len))
				return CLI_ERROR;
		} else if ((v = option_value(argc, argv, &i, "--net"))) {
			if (parse_net(cfg, v, err, err_len))
				return CLI_ERROR;
		} else if ((v = option_value(argc, argv, &i, "--cmdline"))) {
			if (append_cmdline(c, v))
				goto too_long;
		} else if ((v = option_value(argc, argv, &i, "--xenstore-socket"))) {
			if (!*v) {
				snprintf(err, err_len, "--xenstore-socket: empty path");
				return CLI_ERROR;
			}
			cfg->xenstore_socket = v;
		} else if ((v = option_value(argc, argv, &i, "--api"))) {
			if (!*v) {
				snprintf(err, err_len, "--api: empty path");
				return CLI_ERROR;
			}
			cfg->api_socket = v;
		} else if ((v = option_value(argc, argv, &i, "--user"))) {
			if (!*v) {
				snprintf(err, err_len, "--user: empty user name");
				return CLI_ERROR;
			}
			cfg->user = v;
		} else if ((v = option_value(argc, argv, &i, "--sandbox"))) {
			int mode = sandbox_mode_parse(v);

			if (mode < 0) {
				snprintf(err, err_len,
					 "--sandbox: '%s' is not on, off or log", v);
				return CLI_ERROR;
			}
			cfg->sandbox = mode;
			cfg->sandbox_given = true;
		} else if ((v = option_value(argc, argv, &i, "--on-reboot"))) {
			/* xl.cfg's on_reboot names (restart, destroy as exit). */
			if (strcmp(v, "restart") && strcmp(v, "exit")) {
				snprintf(err, err_len,
					 "--on-reboot: '%s' is not restart or exit", v);
				return CLI_ERROR;
			}
			cfg->on_reboot_exit = !strcmp(v, "exit");
		} else if ((v = option_value(argc, argv, &i, "--timeout"))) {
			char *end;
			double t = strtod(v, &end);

			if (!*v || *end || !(t > 0) || t > 1e7) {
				snprintf(err, err_len,
					 "--timeout: '%s' is not a positive number of seconds",
					 v);
				return CLI_ERROR;
			}
			cfg->timeout_sec = t;
		} else if (c->restoring && !strcmp(a, "--lazy")) {
			cfg->restore_lazy = true; /* core/snapshot_lazy.h */
		} else if (a[0] == '-' && a[1] != '\0') {
			snprintf(err, err_len, "run: unknown option '%s' (see pvisor run --help)",
				 a);
			return CLI_ERROR;
		} else if (c->restoring && !c->restore_path) {
			c->restore_path = a; /* restore FILE (--kernel: a reboot's) */
		} else if (!c->restoring && !cfg->kernel_path) {
			cfg->kernel_path = a;
		} else {
			snprintf(err, err_len,
				 "run: unexpected argument '%s' (guest arguments go after --)",
				 a);
			return CLI_ERROR;
		}
	}
	/* Last, so that a --share tagged "rootfs" is refused whatever the order. */
	if (rootfs && parse_rootfs(cfg, rootfs, err, err_len))
		return CLI_ERROR;
	if (c->dry_run && !rootfs) {
		snprintf(err, err_len, "run: --dry-run goes with --rootfs");
		return CLI_ERROR;
	}
	if (c->nr_rwdir && !rootfs) {
		snprintf(err, err_len,
			 "run: --rwdir goes with --rootfs (elsewhere: --share)");
		return CLI_ERROR;
	}
	for (unsigned k = 0; k < c->nr_rwdir; k++)
		if (parse_rwdir(cfg, c->rwdir[k], err, err_len))
			return CLI_ERROR;
	if (rootfs) {
		if (!mem_given)
			cfg->mem_bytes = ROOTFS_DEFAULT_MEM;
		/* CMD goes in the run file, not on the command line. */
		c->run_argc = argc - i;
		c->run_argv = argv + i;
		return CLI_RUN;
	}
	for (; i < argc; i++)
		if (append_cmdline(c, argv[i]))
			goto too_long;
	if (!cfg->kernel_path && !c->restoring) {
		snprintf(err, err_len, "run: no kernel given (see pvisor run --help)");
		return CLI_ERROR;
	}
	return CLI_RUN;
missing:
	snprintf(err, err_len, "run: option '%s' needs a value", argv[i]);
	return CLI_ERROR;
too_long:
	snprintf(err, err_len, "run: the guest command line is longer than %zu bytes",
		 sizeof(c->cmdline) - 1);
	return CLI_ERROR;
}

/* restore [OPTIONS] FILE: run's options for the devices (the kinds not
 * given come from the snapshot: core/snapshot_devices.h), the sockets and
 * the sandbox; what the guest is (memory, vCPUs) comes from the snapshot.
 * --kernel (with --initrd, --cmdline) names what a reboot of the restored
 * guest boots: a snapshot holds no kernel. */
static enum cli_command parse_restore(int argc, char *const argv[], struct cli *c,
				      char *err, size_t err_len)
{
	enum cli_command r;

	c->restoring = true;
	r = parse_run(argc, argv, c, err, err_len);
	if (r != CLI_RUN)
		return r;
	if (!c->restore_path) {
		snprintf(err, err_len, "restore: no snapshot file given (pvisor restore [OPTIONS] FILE)");
		return CLI_ERROR;
	}
	if (c->cfg.mem_bytes != DEFAULT_MEM || c->cfg.nr_vcpus != 1 || c->cfg.rootfs) {
		snprintf(err, err_len,
			 "restore: the memory, vCPUs and root file system come from the snapshot");
		return CLI_ERROR;
	}
	if ((c->cfg.initrd_path || c->cmdline[0]) && !c->cfg.kernel_path) {
		snprintf(err, err_len,
			 "restore: --initrd and --cmdline go with --kernel (what a reboot of the restored guest boots)");
		return CLI_ERROR;
	}
	return CLI_RESTORE;
}

static enum cli_command parse_host(int argc, char *const argv[], struct cli *c,
				   char *err, size_t err_len)
{
	const char *v;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return CLI_HOST_HELP;
		if ((v = option_value(argc, argv, &i, "--query"))) {
			if (!*v) {
				snprintf(err, err_len,
					 "host: --query needs a name (see pvisor host --help)");
				return CLI_ERROR;
			}
			c->host_query = v;
		} else {
			snprintf(err, err_len,
				 "host: unexpected argument '%s' (see pvisor host --help)",
				 argv[i]);
			return CLI_ERROR;
		}
	}
	return CLI_HOST;
}

enum cli_command cli_parse(int argc, char *const argv[], struct cli *c,
			   char *err, size_t err_len)
{
	memset(c, 0, sizeof(*c));
	c->cfg.mem_bytes = DEFAULT_MEM;
	c->cfg.nr_vcpus = 1;
	c->cfg.console_raw = 1;
	c->cfg.cmdline = c->cmdline;
	if (argc < 2) {
		snprintf(err, err_len, "no command given (see pvisor --help)");
		return c->command = CLI_ERROR;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return c->command = CLI_HELP;
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))
		return c->command = CLI_VERSION;
	if (!strcmp(argv[1], "backends"))
		return c->command = CLI_BACKENDS;
	if (!strcmp(argv[1], "host"))
		return c->command = parse_host(argc, argv, c, err, err_len);
	if (!strcmp(argv[1], "run"))
		return c->command = parse_run(argc, argv, c, err, err_len);
	if (!strcmp(argv[1], "restore"))
		return c->command = parse_restore(argc, argv, c, err, err_len);
	if (!strcmp(argv[1], "ctl")) {
		if (argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))
			return c->command = CLI_CTL_HELP;
		if (argc < 4) {
			snprintf(err, err_len, "ctl: needs PATH and COMMAND (see pvisor ctl --help)");
			return c->command = CLI_ERROR;
		}
		c->ctl_path = argv[2];
		c->ctl_argc = argc - 3;
		c->ctl_argv = argv + 3;
		return c->command = CLI_CTL;
	}
	snprintf(err, err_len, "unknown command '%s' (see pvisor --help)", argv[1]);
	return c->command = CLI_ERROR;
}
