/*
 * pvisor's entry point: parse the command line, load the kernel, pick a
 * backend, build the domain, run it, report how it ended.  Only this file
 * calls exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pvisor/abi.h>

#include "core/boot.h"
#include "core/cli.h"
#include "core/ctl_client.h"
#include "core/device.h"
#include "core/evloop.h"
#include "core/hostinfo.h"
#include "core/log.h"
#include "core/rootfs.h"
#include "core/sandbox.h"
#include "core/snapshot.h"
#include "core/snapshot_devices.h"
#include "core/snapshot_restore.h"
#include "core/vm.h"
#include "services/console/consback.h"
#include "services/ctl/ctl_server.h"
#include "services/xenstore/xs_service.h"
#include "hostio/hio_file.h"
#include "hostio/hostnet.h"
#include "xen/build.h"
#include "xen/bzimage.h"
#include "xen/elf.h"
#include "xen/pagetype.h"
#include "xen/shared.h"
#include "xen/time.h"
#include "xen/tsc_rate.h"
#include "core/host_table.h"

#define PVISOR_VERSION "0.1"

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer's check at exit ptraces the process from a new one, which
 * the sandbox forbids; leaks are the unit tests' job (ASan and valgrind). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif
#define MAX_IMAGE_BYTES (512ull << 20)

/* A file read whole into memory. */
struct blob {
	uint8_t *data;
	size_t len;
};

static int read_file(const char *what, const char *path, struct blob *b)
{
	struct stat st;
	ssize_t n;
	size_t done = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (signals are
	 * blocked by now, so that wait could not even be interrupted). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		log_error("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > MAX_IMAGE_BYTES) {
		log_error("%s %s: larger than %llu MiB", what, path,
			  MAX_IMAGE_BYTES >> 20);
		close(fd);
		return -1;
	}
	b->len = (size_t)st.st_size;
	b->data = malloc(b->len ? b->len : 1);
	if (!b->data) {
		log_error("%s %s: out of memory", what, path);
		close(fd);
		return -1;
	}
	prefault_write(b->data, b->len);
	while (done < b->len) {
		n = read(fd, b->data + done, b->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("%s %s: read failed: %s", what, path,
				  n < 0 ? strerror(errno) : "file shrank");
			close(fd);
			free(b->data);
			b->data = NULL;
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

/* Loads KERNEL: a bzImage's ELF payload, or an ELF as is. */
static int load_kernel(const char *path, struct blob *kernel,
		       struct xen_elf_image *img, bool *bzimage)
{
	char err[256];
	uint8_t *elf;
	size_t elf_len;
	int rc;

	if (read_file("kernel", path, kernel) < 0)
		return -1;
	rc = bzimage_extract(kernel->data, kernel->len, &elf, &elf_len, err,
			     sizeof(err));
	*bzimage = rc == 0;
	if (rc == 0) {
		free(kernel->data);
		kernel->data = elf;
		kernel->len = elf_len;
	} else if (rc != -ENOEXEC) {
		log_error("kernel %s: %s", path, err);
		return -1;
	}
	rc = xen_elf_parse(kernel->data, kernel->len, img, err, sizeof(err));
	if (rc == -ENOEXEC) {
		log_error("kernel %s: not an ELF file or a bzImage", path);
		return -1;
	}
	if (rc < 0) {
		log_error("kernel %s: %s", path, err);
		return -1;
	}
	return 0;
}

/*
 * The explicit --backend, or kvm when it works and proc otherwise; an
 * upper-half kernel (Linux) only on kvm.  The decision is
 * hostinfo_choose()'s, the one `pvisor host` reports; this probes what it
 * needs.  Before any guest memory exists.
 */
static const struct backend_ops *choose_backend(const struct vm_config *cfg,
						const struct host_kernel *k)
{
	struct host_info hi;
	bool upper = hostinfo_kernel_is_upper(k->v_start, k->v_end);
	bool forced_kvm = cfg->backend && !strcmp(cfg->backend, "kvm");
	bool forced_proc = cfg->backend && !strcmp(cfg->backend, "proc");
	char msg[2048];
	int b;

	hostinfo_init(&hi);
	if (!forced_proc || upper)
		hostinfo_probe_backend(&hi, HOST_BE_KVM);
	if (forced_proc || (!forced_kvm && !hi.backend[HOST_BE_KVM].ok && !upper))
		hostinfo_probe_backend(&hi, HOST_BE_PROC);
	b = hostinfo_choose(&hi, cfg->backend, k, msg, sizeof(msg));
	if (b < 0) {
		log_error("%s", msg);
		return NULL;
	}
	if (!cfg->backend)
		log_info("%s", msg);
	return b == HOST_BE_KVM ? &backend_kvm : &backend_proc;
}

/* --user NAME|UID: who pvisor becomes once set up (sandbox.h). */
static int resolve_user(const char *user, struct sandbox_plan *plan)
{
	struct passwd *pw = getpwnam(user);
	char *end;
	unsigned long uid;

	if (!pw) {
		uid = strtoul(user, &end, 10);
		if (*user >= '0' && *user <= '9' && !*end)
			pw = getpwuid((uid_t)uid);
	}
	if (!pw) {
		log_error("--user %s: no such user", user);
		return -1;
	}
	if (geteuid() != 0) {
		log_error("--user %s: only root can switch users (pvisor runs as "
			  "uid %u)", user, (unsigned)geteuid());
		return -1;
	}
	if (plan->mode == SANDBOX_OFF) {
		log_error("--user %s: needs the sandbox (--sandbox on or log)",
			  user);
		return -1;
	}
	plan->switch_user = true;
	plan->uid = pw->pw_uid;
	plan->gid = pw->pw_gid;
	return 0;
}

/*
 * What pvisor may still open once it is confined (docs/security.md): the
 * disk images, the devices and sockets the backend and the network need,
 * its own /proc entry, and the directories of its sockets (to create and
 * remove them only).  Not the kernel nor the initrd: they are read.
 */
static struct sandbox_plan plan;

/* -1: the sandbox cannot be set up; -2: a bad --user or PVISOR_SANDBOX. */
static int enter_sandbox(const struct vm_config *cfg,
			 const struct backend_ops *be)
{
	static char socket_dir[2][1024], self[32];
	const char *mode = getenv("PVISOR_SANDBOX");
	char err[512];
	bool ok = true;

	plan.mode = cfg->sandbox;
	if (!cfg->sandbox_given && mode && *mode) {
		int m = sandbox_mode_parse(mode);

		if (m < 0) {
			log_error("PVISOR_SANDBOX=%s: not on, off or log", mode);
			return -2;
		}
		plan.mode = m;
	}
	if (cfg->user && resolve_user(cfg->user, &plan) < 0)
		return -2;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		ok &= sandbox_plan_add(&plan, cfg->disks[i].path,
				       !cfg->disks[i].ro, false, false);
	for (unsigned i = 0; i < cfg->nr_scsi; i++)
		ok &= sandbox_plan_add(&plan, cfg->scsi[i].path, !cfg->scsi[i].ro,
				       false, false);
	for (unsigned i = 0; i < cfg->nr_shares; i++)
		ok &= sandbox_plan_add(&plan, cfg->shares[i].path,
				       !cfg->shares[i].ro, true, false);
	if (cfg->xenstore_socket) {
		snprintf(socket_dir[0], sizeof(socket_dir[0]), "%s",
			 cfg->xenstore_socket);
		ok &= sandbox_plan_add(&plan, dirname(socket_dir[0]), false,
				       true, true);
	}
	if (cfg->api_socket) {
		snprintf(socket_dir[1], sizeof(socket_dir[1]), "%s",
			 cfg->api_socket);
		ok &= sandbox_plan_add(&plan, dirname(socket_dir[1]), false,
				       true, true);
		/* jansson's hash seed (services/ctl/ctl_server.c) */
		ok &= sandbox_plan_add(&plan, "/dev/urandom", false, false,
				       false);
	}
	if (be == &backend_kvm)
		ok &= sandbox_plan_add(&plan, "/dev/kvm", true, false, false);
	for (unsigned i = 0; i < cfg->nr_net; i++) {
		struct hostnet_config hc;

		if (hostnet_parse(cfg->net[i], &hc, err, sizeof(err)))
			continue; /* the command line checked it */
		/* libslirp is loaded now, while its files can be read. */
		if (hc.kind == HOSTNET_USER &&
		    hostnet_slirp_load(err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -1;
		}
		/* libslirp reads the host's DNS servers when the guest asks. */
		ok &= sandbox_plan_add(&plan, hc.kind == HOSTNET_TAP ?
					      "/dev/net/tun" : "/etc/resolv.conf",
				       hc.kind == HOSTNET_TAP, false, false);
	}
	snprintf(self, sizeof(self), "/proc/%d", (int)getpid());
	ok &= sandbox_plan_add(&plan, self, false, true, false);
	ok &= sandbox_plan_add(&plan, "/sys/devices/system/cpu", false, true,
			       false);
	if (!ok) {
		log_error("sandbox: too many paths to allow");
		return -1;
	}
	/* The TSC rate's cache file (xen/tsc_rate.c) is not among them: it
	 * is read, or measured and written, now. */
	tsc_rate_hz();
	sandbox_set_fatal_hook(consback_terminal_restore);
	/* Nothing is open yet but the terminal: descriptors inherited from
	 * whoever started pvisor are not the guest's business. */
	if (plan.mode != SANDBOX_OFF)
		close_range(3, ~0u, 0);
	if (sandbox_enter(&plan, err, sizeof(err)) < 0) {
		log_error("%s (--sandbox=off runs without)", err);
		return -1;
	}
	return 0;
}

/* --user: the sockets pvisor made as root belong to that user, who may
 * connect to them (mode 0600) and whose pvisor removes them at the end. */
static void hand_sockets_to_user(const struct vm_config *cfg)
{
	const char *sockets[] = { cfg->xenstore_socket, cfg->api_socket };

	if (!plan.switch_user)
		return;
	for (size_t i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++)
		if (sockets[i] && lchown(sockets[i], plan.uid, plan.gid) < 0)
			log_error("--user: %s stays root's: %s", sockets[i],
				  strerror(errno));
}

static int connect_services(struct vm *vm, const struct cli *cli);

static int boot_domain(struct vm *vm, const struct cli *cli,
		       const struct boot_image *b)
{
	struct vcpu *v;
	char err[512];

	if (vm_create(vm, &cli->cfg, vm->backend, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	for (unsigned i = 0; i < cli->cfg.nr_vcpus; i++) {
		if (vm_add_vcpu(vm, &v, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -1;
		}
	}
	if (boot_load(vm, b, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	/* Kept for reboots (core/reboot.c). */
	vm->boot = b;
	return connect_services(vm, cli);
}

/* A snapshot's domain instead of a boot (core/snapshot_restore.c). */
static int restore_domain(struct vm *vm, const struct cli *cli,
			  const struct snap_file *snap, const struct boot_image *b)
{
	char err[512];

	if (snapshot_restore(vm, &cli->cfg, vm->backend, snap, err, sizeof(err)) < 0) {
		log_error("restore %s: %s", cli->restore_path, err);
		return -1;
	}
	/* restore --kernel: a reboot boots it (core/reboot.c); else none. */
	vm->boot = cli->cfg.kernel_path ? b : NULL;
	return connect_services(vm, cli);
}

/* The store's connection, the sockets, the devices' threads: the same
 * after a boot and a restore. */
static int connect_services(struct vm *vm, const struct cli *cli)
{
	char err[512];
	int rc;

	rc = xs_service_connect(vm);
	if (rc < 0) {
		log_error("xenstore: cannot connect the guest: %s", strerror(-rc));
		return -1;
	}
	if (cli->cfg.xenstore_socket &&
	    xs_service_listen(vm, cli->cfg.xenstore_socket, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (cli->cfg.api_socket) {
		vm->ctl = ctl_server_open(vm, cli->cfg.api_socket, err, sizeof(err));
		if (!vm->ctl) {
			log_error("%s", err);
			return -1;
		}
		log_info("control API at %s (pvisor ctl %s status)", cli->cfg.api_socket,
			 cli->cfg.api_socket);
	}
	if (devices_start(vm, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static void print_report(struct vm *vm)
{
	enum vm_stop_reason why = atomic_load(&vm->stop_reason);
	char tail[1024];

	if (!vm->report[0])
		return;
	if (why == VM_STOP_SHUTDOWN && vm->exit_status == 0)
		return;
	log_error("%s", vm->report);
	/* Where a guest that ran out of time was: the vCPUs stopped with a
	 * precise state when they were kicked. */
	if (why == VM_STOP_TIMEOUT) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			char regs[1024];

			vcpu_format_regs(vm->vcpus[i], regs, sizeof(regs));
			log_error("guest state at the timeout:\n%s", regs);
		}
	}
	if ((why == VM_STOP_FAULT || vm->exit_status == PVISOR_EXIT_GUEST_CRASH) &&
	    !isatty(STDOUT_FILENO)) {
		consback_tail(vm, tail, sizeof(tail));
		if (tail[0])
			log_error("last console output:\n%s", tail);
	}
}

static void *secondary_main(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->id);
	sandbox_thread(SANDBOX_ROLE_VCPU, name);
	vcpu_run_loop(v);
	return NULL;
}

static bool secondary_started[VM_MAX_VCPUS];

/* One thread per secondary vCPU; each waits in its run loop until the
 * guest brings it up. */
static int start_secondaries(struct vm *vm)
{
	for (unsigned i = 1; i < vm->nr_vcpus; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, secondary_main, vm->vcpus[i])) {
			log_error("cannot start the thread of vcpu%u", i);
			vm_stop(vm, VM_STOP_INTERNAL, PVISOR_EXIT_INTERNAL, NULL);
			return -1;
		}
		vm->vcpus[i]->thread = t;
		secondary_started[i] = true;
	}
	return 0;
}

static void join_secondaries(struct vm *vm)
{
	for (unsigned i = 1; i < vm->nr_vcpus; i++) {
		if (!secondary_started[i])
			continue;
		pthread_join(vm->vcpus[i]->thread, NULL);
		secondary_started[i] = false;
	}
}

/* The images and shared folders by absolute paths: what a snapshot of
 * this guest names (core/snapshot_devices.h) must not depend on where
 * pvisor was started. */
static int absolute_device_paths(struct vm_config *cfg)
{
	_Static_assert(sizeof(cfg->disks[0].path) == sizeof(cfg->scsi[0].path) &&
			       sizeof(cfg->disks[0].path) == sizeof(cfg->shares[0].path),
		       "one size of path");
	char *paths[VM_MAX_DISKS + VM_MAX_SCSI + VM_MAX_SHARES];
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->nr_disks; i++)
		paths[n++] = cfg->disks[i].path;
	for (unsigned i = 0; i < cfg->nr_scsi; i++)
		paths[n++] = cfg->scsi[i].path;
	for (unsigned i = 0; i < cfg->nr_shares; i++)
		paths[n++] = cfg->shares[i].path;
	for (unsigned i = 0; i < n; i++) {
		int rc = hio_path_absolute(paths[i], sizeof(cfg->disks[0].path));

		if (rc < 0) {
			log_error("%s: cannot make the path absolute: %s", paths[i], strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* restore FILE: the file mapped and checked before anything starts; the
 * configuration takes the guest's memory and vCPUs from it. */
static int open_snapshot(struct cli *cli, struct snap_mapping *map,
			 struct snap_file *snap, struct host_kernel *hk)
{
	static struct snapshot_net_specs net_specs; /* cfg.net[] may point here */
	char err[512];
	const struct snap_domain *d = &snap->domain;

	if (snapshot_map(cli->restore_path, map, snap,
			 cli->cfg.restore_lazy ? SNAP_PARSE_DEFER_MEMORY_CRC : 0, err,
			 sizeof(err)) < 0) {
		log_error("restore %s: %s", cli->restore_path, err);
		return -1;
	}
	if (snapshot_devices_apply(snap, &cli->cfg, &net_specs, err, sizeof(err)) < 0) {
		log_error("restore %s: %s", cli->restore_path, err);
		return -1;
	}
	cli->cfg.mem_bytes = d->nr_ram_frames << PAGE_SHIFT;
	cli->cfg.nr_vcpus = d->nr_vcpus;
	/* Which half the kernel lives in decides the backend, as for a boot. */
	hk->v_start = hk->v_end = d->start_info_gva;
	hk->path = cli->restore_path;
	return 0;
}

static int run(struct cli *cli)
{
	struct blob kernel = { 0 }, initrd = { 0 };
	static struct boot_image boot;
	static struct vm vm;
	const struct backend_ops *be;
	struct host_kernel hk = { .path = cli->cfg.kernel_path };
	int status = PVISOR_EXIT_USAGE, rc;
	static struct snap_file snap;
	struct snap_mapping snap_map = { 0 };
	static struct rootfs_boot rootfs;

	tsc_rate_start(); /* the rate's check overlaps the loading */
	log_verbosity = cli->cfg.verbose < 0 ? 0 : 1 + cli->cfg.verbose;
	/* --rootfs: CMD's output only; -v adds pvisor's and the kernel's. */
	if (cli->cfg.rootfs)
		log_verbosity = cli->cfg.verbose < 0 ? 0 : cli->cfg.verbose;
	/* vcpu_info of vCPU 32 and up would need VCPUOP_register_vcpu_info
	 * before the guest could use it; Xen's legacy limit is 32. */
	if (cli->cfg.nr_vcpus < 1 || cli->cfg.nr_vcpus > XEN_LEGACY_MAX_VCPUS) {
		log_error("--cpus %u: between 1 and %u vCPUs are supported",
			  cli->cfg.nr_vcpus, XEN_LEGACY_MAX_VCPUS);
		return PVISOR_EXIT_USAGE;
	}
	/* Guest memory is a sparse memfd, so an absurd --mem would only fail
	 * (or swap the host to death) once the guest touches it: refuse more
	 * than the host has. */
	{
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

		if (pages > 0 && psz > 0 &&
		    cli->cfg.mem_bytes > (uint64_t)pages * (uint64_t)psz) {
			log_error("--mem: %llu MiB is more than this host's %llu MiB of RAM",
				  (unsigned long long)(cli->cfg.mem_bytes >> 20),
				  (unsigned long long)pages * (unsigned long long)psz >> 20);
			return PVISOR_EXIT_USAGE;
		}
	}
	if (cli->cfg.rootfs) {
		status = rootfs_prepare(&cli->cfg, cli->cmdline, cli->run_argv, &rootfs);
		if (status)
			goto out;
		status = PVISOR_EXIT_USAGE;
		hk.path = cli->cfg.kernel_path;
	}
	if (cli->restore_path) {
		bool bz;

		if (open_snapshot(cli, &snap_map, &snap, &hk) < 0)
			goto out;
		/* restore --kernel: what a reboot of this guest boots. */
		if (cli->cfg.kernel_path &&
		    load_kernel(cli->cfg.kernel_path, &kernel, &boot.img, &bz) < 0)
			goto out;
	} else if (load_kernel(cli->cfg.kernel_path, &kernel, &boot.img, &hk.bzimage) < 0) {
		goto out;
	} else {
		hk.v_start = boot.img.v_start;
		hk.v_end = boot.img.v_end;
	}
	if (absolute_device_paths(&cli->cfg) < 0)
		goto out;
	if (cli->cfg.initrd_path &&
	    read_file("initrd", cli->cfg.initrd_path, &initrd) < 0)
		goto out;
	if (cli->cfg.rootfs) {
		if (!hk.bzimage) {
			log_error("--rootfs boots a Linux kernel (a bzImage); %s is not one",
				  cli->cfg.kernel_path);
			goto out;
		}
		if (rootfs_extend_initrd(&rootfs, &initrd.data, &initrd.len) < 0)
			goto out;
		if (cli->dry_run) {
			status = rootfs_dry_run(&cli->cfg, cli->dry_run, initrd.data,
						initrd.len);
			goto out;
		}
	}
	boot.kernel = kernel.data;
	boot.kernel_len = kernel.len;
	boot.initrd = initrd.data;
	boot.initrd_len = initrd.len;
	boot.cmdline = cli->cfg.cmdline;
	be = choose_backend(&cli->cfg, &hk);
	if (!be)
		goto out;
	vm.backend = be;
	rc = enter_sandbox(&cli->cfg, be);
	if (rc < 0) {
		status = rc == -2 ? PVISOR_EXIT_USAGE : PVISOR_EXIT_INTERNAL;
		goto out;
	}
	if (cli->restore_path ? restore_domain(&vm, cli, &snap, &boot) < 0
			      : boot_domain(&vm, cli, &boot) < 0) {
		status = PVISOR_EXIT_USAGE;
		goto destroy;
	}
	if (!vm.lazy) /* restore --lazy reads it until the end */
		snapshot_unmap(&snap_map);
	hand_sockets_to_user(&cli->cfg);
	if (vm_vcpus_ready(&vm) < 0) {
		status = PVISOR_EXIT_INTERNAL;
		goto destroy;
	}
	if (cli->cfg.console_raw)
		consback_terminal_raw();
	if (evloop_start(&vm) < 0) {
		log_error("cannot start the event thread");
		status = PVISOR_EXIT_INTERNAL;
		goto destroy;
	}
	if (start_secondaries(&vm) < 0) {
		join_secondaries(&vm);
		evloop_stop(&vm);
		consback_terminal_restore();
		status = PVISOR_EXIT_INTERNAL;
		goto destroy;
	}
	sandbox_thread(SANDBOX_ROLE_VCPU, "vcpu0");
	vcpu_run_loop(vm.vcpus[0]);
	join_secondaries(&vm);
	evloop_stop(&vm);
	consback_terminal_restore();
	print_report(&vm);
	status = vm.exit_status;
	/* A Linux guest's status comes through xenstore (docs/pv-abi.md). */
	if (atomic_load(&vm.stop_reason) == VM_STOP_SHUTDOWN && status == 0) {
		int guest_status = xs_service_exit_status(&vm);

		if (guest_status > 0)
			status = guest_status;
	}
destroy:
	ctl_server_close(vm.ctl);
	vm.ctl = NULL;
	vm_destroy(&vm);
out:
	free(kernel.data);
	free(initrd.data);
	snapshot_unmap(&snap_map);
	rootfs_free(&rootfs);
	return status;
}

/* `pvisor backends`: "NAME: available" or "NAME: unavailable: WHY" (the
 * e2e tests and scripts parse these lines). */
static int list_backends(void)
{
	struct host_info hi;

	hostinfo_init(&hi);
	for (unsigned b = 0; b < HOST_NR_BACKENDS; b++) {
		char why[256];

		hostinfo_probe_backend(&hi, (enum host_backend)b);
		if (hostinfo_backend_usable(&hi, (enum host_backend)b, why,
					    sizeof(why)))
			printf("%s: available\n", hostinfo_backend_name(b));
		else
			printf("%s: unavailable: %s\n", hostinfo_backend_name(b),
			       why);
	}
	return 0;
}

/* `pvisor host`: the report; `pvisor host --query NAME`: exit 0 yes, 1 no,
 * 2 unknown NAME, one line on stdout. */
static int host_command(const struct cli *cli)
{
	struct host_info hi;
	unsigned mask;
	char buf[8192];
	int rc;

	hostinfo_init(&hi);
	if (!cli->host_query) {
		size_t n;

		hostinfo_probe_all(&hi);
		n = hostinfo_format(&hi, buf, sizeof(buf));
		if (n >= sizeof(buf)) {
			char *big = malloc(n + 1);

			if (!big)
				return PVISOR_EXIT_INTERNAL;
			hostinfo_format(&hi, big, n + 1);
			fputs(big, stdout);
			free(big);
		} else {
			fputs(buf, stdout);
		}
		return 0;
	}
	if (hostinfo_query_needs(cli->host_query, &mask) < 0) {
		log_error("host --query: unknown name '%s' (see pvisor host --help)",
			  cli->host_query);
		return PVISOR_EXIT_USAGE;
	}
	hostinfo_probe_mask(&hi, mask);
	rc = hostinfo_query(&hi, cli->host_query, buf, sizeof(buf));
	printf("%s\n", buf);
	return rc == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	char err[512];
	struct cli cli;
	sigset_t set;

	/* The event thread takes these through a signalfd; block them in
	 * every thread before any is created. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	switch (cli_parse(argc, argv, &cli, err, sizeof(err))) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		return 0;
	case CLI_RUN_HELP:
		fputs(cli_run_usage, stdout);
		return 0;
	case CLI_VERSION:
		printf("pvisor %s (Xen PV ABI, x86-64)\n", PVISOR_VERSION);
		return 0;
	case CLI_BACKENDS:
		return list_backends();
	case CLI_HOST:
		return host_command(&cli);
	case CLI_HOST_HELP:
		fputs(cli_host_usage, stdout);
		return 0;
	case CLI_RUN:
	case CLI_RESTORE:
		return run(&cli);
	case CLI_CTL:
		return ctl_client_main(cli.ctl_path, cli.ctl_argc, cli.ctl_argv);
	case CLI_CTL_HELP:
		fputs(ctl_usage, stdout);
		return 0;
	case CLI_ERROR:
	default:
		log_error("%s", err);
		return PVISOR_EXIT_USAGE;
	}
}
