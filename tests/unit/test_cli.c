/* Command-line parsing: every flag, and the errors a user can make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/cli.h"
#include "core/sandbox.h"

struct cli_case {
	const char *name;
	const char *argv[12];
	enum cli_command expect;
	const char *err_contains; /* for CLI_ERROR */
};

static const struct cli_case cases[] = {
	{ "no command", { "pvisor" }, CLI_ERROR, "no command" },
	{ "help", { "pvisor", "--help" }, CLI_HELP, NULL },
	{ "run help", { "pvisor", "run", "--help" }, CLI_RUN_HELP, NULL },
	{ "version", { "pvisor", "version" }, CLI_VERSION, NULL },
	{ "backends", { "pvisor", "backends" }, CLI_BACKENDS, NULL },
	{ "host", { "pvisor", "host" }, CLI_HOST, NULL },
	{ "host help", { "pvisor", "host", "--help" }, CLI_HOST_HELP, NULL },
	{ "host query", { "pvisor", "host", "--query", "fsgsbase" }, CLI_HOST, NULL },
	{ "host query=", { "pvisor", "host", "--query=guest:upper-half" }, CLI_HOST, NULL },
	{ "host query missing", { "pvisor", "host", "--query" }, CLI_ERROR, "--query needs a name" },
	{ "host junk", { "pvisor", "host", "kvm" }, CLI_ERROR, "unexpected argument 'kvm'" },
	{ "unknown command", { "pvisor", "boot" }, CLI_ERROR, "unknown command 'boot'" },
	{ "run kernel", { "pvisor", "run", "k" }, CLI_RUN, NULL },
	{ "run --kernel", { "pvisor", "run", "--kernel", "k" }, CLI_RUN, NULL },
	{ "no kernel", { "pvisor", "run" }, CLI_ERROR, "no kernel" },
	{ "two kernels", { "pvisor", "run", "a", "b" }, CLI_ERROR, "unexpected argument 'b'" },
	{ "unknown flag", { "pvisor", "run", "--fast", "k" }, CLI_ERROR, "unknown option '--fast'" },
	{ "backend kvm", { "pvisor", "run", "--backend", "kvm", "k" }, CLI_RUN, NULL },
	{ "backend=proc", { "pvisor", "run", "--backend=proc", "k" }, CLI_RUN, NULL },
	{ "bad backend", { "pvisor", "run", "--backend", "xen", "k" }, CLI_ERROR, "unknown backend 'xen'" },
	{ "backend missing value", { "pvisor", "run", "k", "--backend" }, CLI_ERROR, "unknown backend ''" },
	{ "mem ok", { "pvisor", "run", "--mem", "128M", "k" }, CLI_RUN, NULL },
	{ "mem junk", { "pvisor", "run", "--mem", "12Q", "k" }, CLI_ERROR, "not a size" },
	{ "mem too small", { "pvisor", "run", "--mem", "1M", "k" }, CLI_ERROR, "out of range" },
	{ "mem too big", { "pvisor", "run", "--mem", "1000G", "k" }, CLI_ERROR, "out of range" },
	{ "mem not pages", { "pvisor", "run", "--mem", "4097K", "k" }, CLI_ERROR, "out of range" },
	{ "cpus 0", { "pvisor", "run", "--cpus", "0", "k" }, CLI_ERROR, "--cpus: '0'" },
	{ "cpus many", { "pvisor", "run", "--cpus", "999", "k" }, CLI_ERROR, "--cpus" },
	{ "cpus 2", { "pvisor", "run", "--cpus", "2", "k" }, CLI_RUN, NULL },
	{ "timeout", { "pvisor", "run", "--timeout", "1.5", "k" }, CLI_RUN, NULL },
	{ "timeout negative", { "pvisor", "run", "--timeout", "-1", "k" }, CLI_ERROR, "--timeout" },
	{ "timeout junk", { "pvisor", "run", "--timeout", "soon", "k" }, CLI_ERROR, "--timeout" },
	{ "initrd missing value", { "pvisor", "run", "k", "--initrd" }, CLI_ERROR, "needs a value" },
	{ "on-reboot restart", { "pvisor", "run", "--on-reboot", "restart", "k" }, CLI_RUN, NULL },
	{ "on-reboot=exit", { "pvisor", "run", "--on-reboot=exit", "k" }, CLI_RUN, NULL },
	{ "on-reboot destroy", { "pvisor", "run", "--on-reboot", "destroy", "k" }, CLI_ERROR, "--on-reboot: 'destroy' is not restart or exit" },
	{ "on-reboot missing", { "pvisor", "run", "k", "--on-reboot" }, CLI_ERROR, "--on-reboot" },
	{ "guest args", { "pvisor", "run", "k", "--", "echo", "--not-a-flag" }, CLI_RUN, NULL },
	/* Odd values (hardening pass). */
	{ "mem 0", { "pvisor", "run", "--mem", "0", "k" }, CLI_ERROR, "out of range" },
	{ "mem empty", { "pvisor", "run", "--mem", "", "k" }, CLI_ERROR, "not a size" },
	{ "mem negative", { "pvisor", "run", "--mem", "-5M", "k" }, CLI_ERROR, "not a size" },
	{ "mem overflow", { "pvisor", "run", "--mem", "100000000T", "k" }, CLI_ERROR, "not a size" },
	{ "mem trailing junk", { "pvisor", "run", "--mem", "64Mx", "k" }, CLI_ERROR, "not a size" },
	{ "cpus junk", { "pvisor", "run", "--cpus", "1x", "k" }, CLI_ERROR, "--cpus: '1x'" },
	{ "cpus negative", { "pvisor", "run", "--cpus", "-1", "k" }, CLI_ERROR, "--cpus" },
	{ "timeout nan", { "pvisor", "run", "--timeout", "nan", "k" }, CLI_ERROR, "--timeout" },
	{ "timeout inf", { "pvisor", "run", "--timeout", "inf", "k" }, CLI_ERROR, "--timeout" },
	{ "timeout 1e400", { "pvisor", "run", "--timeout", "1e400", "k" }, CLI_ERROR, "--timeout" },
	{ "timeout empty", { "pvisor", "run", "--timeout=", "k" }, CLI_ERROR, "--timeout" },
	{ "xenstore socket", { "pvisor", "run", "--xenstore-socket", "/tmp/xs", "k" }, CLI_RUN, NULL },
	{ "xenstore socket empty", { "pvisor", "run", "--xenstore-socket=", "k" }, CLI_ERROR, "--xenstore-socket" },
	{ "xenstore socket missing", { "pvisor", "run", "k", "--xenstore-socket" }, CLI_ERROR, "--xenstore-socket" },
	{ "user empty", { "pvisor", "run", "--user=", "k" }, CLI_ERROR, "--user: empty user name" },
	{ "sandbox maybe", { "pvisor", "run", "--sandbox=maybe", "k" }, CLI_ERROR, "--sandbox: 'maybe' is not on, off or log" },
	{ "sandbox missing", { "pvisor", "run", "k", "--sandbox" }, CLI_ERROR, "--sandbox" },
	{ "kernel empty", { "pvisor", "run", "--kernel", "" }, CLI_ERROR, "needs a value" },
	{ "kernel flag and arg", { "pvisor", "run", "--kernel", "a", "b" }, CLI_ERROR, "unexpected argument 'b'" },
	{ "disk empty", { "pvisor", "run", "--disk", "", "k" }, CLI_ERROR, "no usable image path" },
	{ "disk bad option", { "pvisor", "run", "--disk", "a.img,rw=2", "k" }, CLI_ERROR, "--disk: unknown option" },
	{ "disk bad id", { "pvisor", "run", "--disk", "a.img,id=sda", "k" }, CLI_ERROR, "--disk: bad id 'sda' (xvda to xvdz" },
	{ "two disks same id", { "pvisor", "run", "--disk", "a,id=xvda", "--disk", "b,id=xvda", "k" }, CLI_ERROR, "two disks named" },
	{ "scsi empty", { "pvisor", "run", "--scsi", "", "k" }, CLI_ERROR, "--scsi: '' has no usable image path" },
	{ "scsi bad media", { "pvisor", "run", "--scsi", "a.img,media=tape", "k" }, CLI_ERROR, "unknown media 'tape' (disk or cdrom)" },
	{ "scsi bad lun", { "pvisor", "run", "--scsi", "a.img,lun=0:0:x:0", "k" }, CLI_ERROR, "bad lun '0:0:x:0'" },
	{ "scsi lun 3 parts", { "pvisor", "run", "--scsi", "a.img,lun=0:0:1", "k" }, CLI_ERROR, "bad lun" },
	{ "scsi lun 5 parts", { "pvisor", "run", "--scsi", "a.img,lun=0:0:1:2:3", "k" }, CLI_ERROR, "bad lun" },
	{ "scsi lun too big", { "pvisor", "run", "--scsi", "a.img,lun=0:0:0:65536", "k" }, CLI_ERROR, "bad lun" },
	{ "scsi lun empty", { "pvisor", "run", "--scsi", "a.img,lun=", "k" }, CLI_ERROR, "bad lun" },
	{ "scsi duplicate lun", { "pvisor", "run", "--scsi", "a,lun=0:0:1:0", "--scsi", "b,lun=0:0:1:0", "k" }, CLI_ERROR, "two LUNs at 0:0:1:0" },
	{ "scsi duplicate default lun", { "pvisor", "run", "--scsi", "a", "--scsi", "b,lun=0:0:0:0", "k" }, CLI_ERROR, "two LUNs at 0:0:0:0" },
	{ "scsi two hosts", { "pvisor", "run", "--scsi", "a", "--scsi", "b,lun=1:0:0:1", "k" }, CLI_ERROR, "one SCSI host per guest" },
	{ "scsi unknown option", { "pvisor", "run", "--scsi", "a,fast", "k" }, CLI_ERROR, "--scsi: unknown option 'fast'" },
	{ "net garbage", { "pvisor", "run", "--net", "garbage", "k" }, CLI_ERROR, "not a network type" },
	{ "net empty", { "pvisor", "run", "--net", "", "k" }, CLI_ERROR, "not a network type" },
	{ "net bad hostfwd", { "pvisor", "run", "--net", "user,hostfwd=xyz", "k" }, CLI_ERROR, "bad rule" },
	{ "net unknown option", { "pvisor", "run", "--net", "user,x=1", "k" }, CLI_ERROR, "unknown option" },
	{ "cmdline empty", { "pvisor", "run", "--cmdline", "", "k" }, CLI_RUN, NULL },
	{ "lone dash kernel", { "pvisor", "run", "-" }, CLI_RUN, NULL },
	{ "share", { "pvisor", "run", "--share", "/tmp,tag=t", "k" }, CLI_RUN, NULL },
	{ "share ro model", { "pvisor", "run", "--share=/tmp,tag=a.b-c_1,ro,security_model=passthrough", "k" }, CLI_RUN, NULL },
	{ "share no tag", { "pvisor", "run", "--share", "/tmp", "k" }, CLI_ERROR, "needs tag=NAME" },
	{ "share empty tag", { "pvisor", "run", "--share", "/tmp,tag=", "k" }, CLI_ERROR, "tag ''" },
	{ "share bad tag", { "pvisor", "run", "--share", "/tmp,tag=a/b", "k" }, CLI_ERROR, "tag 'a/b'" },
	{ "share long tag", { "pvisor", "run", "--share", "/tmp,tag=0123456789012345678901234567890123", "k" }, CLI_ERROR, "must be 1 to 31" },
	{ "share no dir", { "pvisor", "run", "--share", ",tag=t", "k" }, CLI_ERROR, "no usable directory" },
	{ "share empty", { "pvisor", "run", "--share", "", "k" }, CLI_ERROR, "no usable directory" },
	{ "share mapped-xattr", { "pvisor", "run", "--share", "/tmp,tag=t,security_model=mapped-xattr", "k" }, CLI_RUN, NULL },
	{ "share mapped alias", { "pvisor", "run", "--share", "/tmp,tag=t,security_model=mapped", "k" }, CLI_RUN, NULL },
	{ "share bad model", { "pvisor", "run", "--share", "/tmp,tag=t,security_model=none", "k" }, CLI_ERROR, "unknown security_model 'none'" },
	{ "share bad option", { "pvisor", "run", "--share", "/tmp,tag=t,rx", "k" }, CLI_ERROR, "--share: unknown option 'rx'" },
	{ "two shares same tag", { "pvisor", "run", "--share", "/a,tag=t", "--share", "/b,tag=t", "k" }, CLI_ERROR, "two shares tagged 't'" },
};

/* A command line parse_cli must refuse, and what its error says. */
struct cli_bad {
	const char *argv[10];
	const char *err;
};

static void expect_refused(const struct cli_bad *bad, size_t n)
{
	char err[256];
	struct cli cli;

	for (size_t i = 0; i < n; i++) {
		int argc = 0;

		while (argc < 10 && bad[i].argv[argc])
			argc++;
		assert_int_equal(cli_parse(argc, (char *const *)bad[i].argv, &cli, err,
					   sizeof(err)), CLI_ERROR);
		if (!strstr(err, bad[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].err);
	}
}

static void test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cli_case *c = &cases[i];
		char err[256] = "";
		struct cli cli;
		int argc = 0;

		while (c->argv[argc])
			argc++;
		enum cli_command got = cli_parse(argc, (char *const *)c->argv,
						 &cli, err, sizeof(err));
		if (got != c->expect)
			fail_msg("%s: got %d, want %d (%s)", c->name, got,
				 c->expect, err);
		if (c->err_contains && !strstr(err, c->err_contains))
			fail_msg("%s: error '%s' lacks '%s'", c->name, err,
				 c->err_contains);
	}
}

static void test_values(void **state)
{
	const char *argv[] = { "pvisor", "run", "--backend", "proc", "--mem",
			       "1G", "--cmdline", "console=hvc0", "--timeout",
			       "3", "--no-raw", "vmlinuz", "--", "uname",
			       "-a", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(15, (char *const *)argv, &cli, err,
				   sizeof(err)),
			 CLI_RUN);
	assert_string_equal(cli.cfg.backend, "proc");
	assert_int_equal(cli.cfg.mem_bytes, 1ull << 30);
	assert_string_equal(cli.cfg.kernel_path, "vmlinuz");
	assert_string_equal(cli.cfg.cmdline, "console=hvc0 uname -a");
	assert_true(cli.cfg.timeout_sec == 3.0);
	assert_int_equal(cli.cfg.console_raw, 0);
	assert_int_equal(cli.cfg.nr_vcpus, 1);
}

static void test_defaults(void **state)
{
	const char *argv[] = { "pvisor", "run", "k", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(3, (char *const *)argv, &cli, err,
				   sizeof(err)),
			 CLI_RUN);
	assert_null(cli.cfg.backend);
	assert_int_equal(cli.cfg.mem_bytes, 64ull << 20);
	assert_string_equal(cli.cfg.cmdline, "");
	assert_int_equal(cli.cfg.console_raw, 1);
	assert_null(cli.cfg.xenstore_socket);
}

static void test_xenstore_socket(void **state)
{
	const char *argv[] = { "pvisor", "run", "--xenstore-socket=/run/x.sock", "k", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(4, (char *const *)argv, &cli, err, sizeof(err)), CLI_RUN);
	assert_string_equal(cli.cfg.xenstore_socket, "/run/x.sock");
}

static void test_shares(void **state)
{
	const char *argv[] = { "pvisor", "run", "--share", "/srv/a,tag=src",
			       "--share=/srv/b,ro,tag=ro_b",
			       "--share=/srv/c,tag=c,security_model=mapped", "k", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(7, (char *const *)argv, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.nr_shares, 3);
	assert_string_equal(cli.cfg.shares[2].security_model, "mapped-xattr"); /* QEMU's alias */
	assert_string_equal(cli.cfg.shares[0].path, "/srv/a");
	assert_string_equal(cli.cfg.shares[0].tag, "src");
	assert_false(cli.cfg.shares[0].ro);
	assert_string_equal(cli.cfg.shares[0].security_model, "passthrough");
	assert_string_equal(cli.cfg.shares[1].path, "/srv/b");
	assert_string_equal(cli.cfg.shares[1].tag, "ro_b");
	assert_true(cli.cfg.shares[1].ro);

	const char *many[12] = { "pvisor", "run" };
	char vals[9][32];

	for (int i = 0; i < 9; i++) {
		snprintf(vals[i], sizeof(vals[i]), "--share=/d,tag=t%d", i);
		many[2 + i] = vals[i];
	}
	many[11] = "k";
	assert_int_equal(cli_parse(12, (char *const *)many, &cli, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "at most 8 shares"));
}

/* --rootfs DIR[,rw]: a share tagged rootfs, CMD kept as argv, no kernel
 * needed (rootfs.c finds one); the mistakes a user can make. */
static void test_rootfs(void **state)
{
	const char *argv[] = { "pvisor", "run", "--rootfs", "/srv/r", "--cmdline", "nokaslr",
			       "--", "sh", "-c", "echo 'a b'; exit 7", NULL };
	const char *rw[] = { "pvisor", "run", "--rootfs=/,rw", "--dry-run=/tmp/x", "--mem=96M", NULL };
	static const struct cli_bad bad[] = {
		{ { "pvisor", "run", "--rootfs", "/,rx" }, "unknown option 'rx'" },
		{ { "pvisor", "run", "--rootfs", ",rw" }, "no usable directory" },
		{ { "pvisor", "run", "--rootfs" }, "needs a value" },
		{ { "pvisor", "run", "--rootfs", "/", "--share", "/tmp,tag=rootfs" },
		  "tagged 'rootfs' already" },
		{ { "pvisor", "run", "--dry-run=/tmp/x", "k" }, "goes with --rootfs" },
		{ { "pvisor", "restore", "--rootfs", "/", "snap" }, "come from the snapshot" },
	};
	char err[256];
	struct cli cli;

	(void)state;
	assert_int_equal(cli_parse(10, (char *const *)argv, &cli, err, sizeof(err)), CLI_RUN);
	assert_string_equal(cli.cfg.rootfs, "/srv/r");
	assert_false(cli.cfg.rootfs_rw);
	assert_int_equal(cli.cfg.nr_shares, 1);
	assert_string_equal(cli.cfg.shares[0].tag, "rootfs");
	assert_true(cli.cfg.shares[0].ro);
	assert_null(cli.cfg.kernel_path);
	/* CMD is not on the kernel command line: the run file carries it. */
	assert_string_equal(cli.cmdline, "nokaslr");
	assert_int_equal(cli.run_argc, 3);
	assert_string_equal(cli.run_argv[2], "echo 'a b'; exit 7");
	assert_int_equal(cli.cfg.mem_bytes, 512ull << 20); /* --rootfs's default */

	assert_int_equal(cli_parse(5, (char *const *)rw, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.mem_bytes, 96ull << 20);
	assert_true(cli.cfg.rootfs_rw);
	assert_false(cli.cfg.shares[0].ro);
	assert_string_equal(cli.dry_run, "/tmp/x");
	assert_int_equal(cli.run_argc, 0);

	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* --rwdir [GUESTPATH=]HOSTDIR: a writable share tagged rwdirN after the
 * root's, the guest path kept (trailing '/' dropped) or left to rootfs.c. */
static void test_rwdir(void **state)
{
	const char *argv[] = { "pvisor", "run", "--rwdir", "/tmp/out", "--rootfs", "/",
			       "--rwdir=/mnt/x/=/srv/a=b", "--share", "/s,tag=s", "--", "true",
			       NULL };
	static const struct cli_bad bad[] = {
		{ { "pvisor", "run", "--rwdir", "/tmp", "k" }, "goes with --rootfs" },
		{ { "pvisor", "run", "--rootfs", "/", "--rwdir", "" }, "no usable host" },
		{ { "pvisor", "run", "--rootfs", "/", "--rwdir", "/g=" }, "no usable host" },
		{ { "pvisor", "run", "--rootfs", "/", "--rwdir", "g=/h" }, "not absolute" },
		{ { "pvisor", "run", "--rootfs", "/", "--rwdir", "=/h" }, "not absolute" },
		{ { "pvisor", "run", "--rootfs", "/", "--rwdir", "//=/h" }, "root itself" },
		{ { "pvisor", "run", "--rootfs", "/", "--rwdir", "/a/../etc=/h" }, "'..' part" },
		{ { "pvisor", "run", "--rootfs", "/", "--share", "/d,tag=rwdir0", "--rwdir",
		    "/h" }, "tagged 'rwdir0' already" },
	};
	const char *many[12] = { "pvisor", "run", "--rootfs", "/" };
	char err[256];
	struct cli cli;

	(void)state;
	assert_int_equal(cli_parse(11, (char *const *)argv, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.nr_shares, 4);
	/* --share in the loop, the root after it, then the rwdirs. */
	assert_string_equal(cli.cfg.shares[0].tag, "s");
	assert_string_equal(cli.cfg.shares[1].tag, "rootfs");
	assert_int_equal(cli.cfg.nr_rwdirs, 2);
	assert_int_equal(cli.cfg.rwdirs[0].share, 2);
	assert_string_equal(cli.cfg.rwdirs[0].guest, "");
	assert_string_equal(cli.cfg.shares[2].path, "/tmp/out");
	assert_string_equal(cli.cfg.shares[2].tag, "rwdir0");
	assert_false(cli.cfg.shares[2].ro);
	assert_string_equal(cli.cfg.shares[2].security_model, "passthrough");
	assert_int_equal(cli.cfg.rwdirs[1].share, 3);
	assert_string_equal(cli.cfg.rwdirs[1].guest, "/mnt/x");
	assert_string_equal(cli.cfg.shares[3].path, "/srv/a=b");
	assert_string_equal(cli.cfg.shares[3].tag, "rwdir1");
	assert_int_equal(cli.run_argc, 1);

	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
	/* With the root: 7 (VM_MAX_SHARES) in all. */
	for (int i = 0; i < 8; i++)
		many[4 + i] = "--rwdir=/tmp";
	assert_int_equal(cli_parse(12, (char *const *)many, &cli, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "at most 7"));
	assert_int_equal(cli_parse(11, (char *const *)many, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.nr_rwdirs, 7);
}

static void test_sandbox_modes(void **state)
{
	const char *on[] = { "pvisor", "run", "k", NULL };
	const char *off[] = { "pvisor", "run", "--sandbox", "off", "k", NULL };
	const char *log[] = { "pvisor", "run", "--sandbox=log", "k", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(3, (char *const *)on, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.sandbox, SANDBOX_ON);
	assert_false(cli.cfg.sandbox_given);
	assert_int_equal(cli_parse(5, (char *const *)off, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.sandbox, SANDBOX_OFF);
	assert_true(cli.cfg.sandbox_given);
	assert_int_equal(cli_parse(4, (char *const *)log, &cli, err, sizeof(err)), CLI_RUN);
	assert_int_equal(cli.cfg.sandbox, SANDBOX_LOG);
}

/* --on-reboot: restart by default (xl's on_reboot default), exit on
 * request, for restore too (the snapshot holds no kernel to boot). */
static void test_on_reboot(void **state)
{
	const char *dflt[] = { "pvisor", "run", "k", NULL };
	const char *ex[] = { "pvisor", "run", "--on-reboot", "exit", "k", NULL };
	const char *again[] = { "pvisor", "run", "--on-reboot=exit", "--on-reboot=restart", "k", NULL };
	const char *rest[] = { "pvisor", "restore", "--on-reboot=exit", "snap.pvs", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(3, (char *const *)dflt, &cli, err, sizeof(err)), CLI_RUN);
	assert_false(cli.cfg.on_reboot_exit);
	assert_int_equal(cli_parse(5, (char *const *)ex, &cli, err, sizeof(err)), CLI_RUN);
	assert_true(cli.cfg.on_reboot_exit);
	assert_int_equal(cli_parse(5, (char *const *)again, &cli, err, sizeof(err)), CLI_RUN);
	assert_false(cli.cfg.on_reboot_exit);
	assert_int_equal(cli_parse(4, (char *const *)rest, &cli, err, sizeof(err)), CLI_RESTORE);
	assert_true(cli.cfg.on_reboot_exit);
	assert_string_equal(cli.restore_path, "snap.pvs");
	assert_null(cli.cfg.kernel_path);
}

/* restore --lazy; run has no such option. */
static void test_restore_lazy(void **state)
{
	const char *lazy[] = { "pvisor", "restore", "--lazy", "snap.pvs", NULL };
	const char *eager[] = { "pvisor", "restore", "snap.pvs", NULL };
	const char *run[] = { "pvisor", "run", "--lazy", "k", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(4, (char *const *)lazy, &cli, err, sizeof(err)), CLI_RESTORE);
	assert_true(cli.cfg.restore_lazy);
	assert_string_equal(cli.restore_path, "snap.pvs");
	assert_int_equal(cli_parse(3, (char *const *)eager, &cli, err, sizeof(err)), CLI_RESTORE);
	assert_false(cli.cfg.restore_lazy);
	assert_int_equal(cli_parse(4, (char *const *)run, &cli, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "unknown option '--lazy'"));
}

/* restore FILE takes --kernel, --initrd, --cmdline for a reboot of the
 * restored guest; memory and vCPUs come from the snapshot. */
static void test_restore_kernel(void **state)
{
	const char *k[] = { "pvisor", "restore", "--kernel", "vmlinuz", "--initrd", "rd",
			    "s.pvs", "--", "quiet", NULL };
	static const struct cli_bad bad[] = {
		{ { "pvisor", "restore" }, "no snapshot file given" },
		{ { "pvisor", "restore", "a", "b" }, "unexpected argument 'b'" },
		{ { "pvisor", "restore", "--initrd", "rd", "s" }, "go with --kernel" },
		{ { "pvisor", "restore", "s", "--", "x" }, "go with --kernel" },
		{ { "pvisor", "restore", "--mem", "128M", "s" }, "come from the snapshot" },
		{ { "pvisor", "restore", "--cpus", "2", "--kernel", "k", "s" }, "come from the snapshot" },
	};
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(9, (char *const *)k, &cli, err, sizeof(err)), CLI_RESTORE);
	assert_string_equal(cli.restore_path, "s.pvs");
	assert_string_equal(cli.cfg.kernel_path, "vmlinuz");
	assert_string_equal(cli.cfg.initrd_path, "rd");
	assert_string_equal(cli.cfg.cmdline, "quiet");
	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* A repeated option overrides the earlier one (tools/run-default.sh relies
 * on it: its extra arguments follow its own --mem). */
static void test_repeated_options(void **state)
{
	const char *argv[] = { "pvisor", "run", "--mem", "64M", "--mem", "1G",
			       "--cpus", "2", "--cpus", "3", "--backend", "kvm",
			       "--backend", "proc", "--timeout", "5",
			       "--timeout", "2", "--kernel", "a", "--kernel",
			       "b", "--cmdline", "x=1", "--cmdline", "y=2",
			       NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(26, (char *const *)argv, &cli, err,
				   sizeof(err)),
			 CLI_RUN);
	assert_int_equal(cli.cfg.mem_bytes, 1ull << 30);
	assert_int_equal(cli.cfg.nr_vcpus, 3);
	assert_string_equal(cli.cfg.backend, "proc");
	assert_true(cli.cfg.timeout_sec == 2.0);
	assert_string_equal(cli.cfg.kernel_path, "b");
	assert_string_equal(cli.cfg.cmdline, "x=1 y=2");
}

static void test_scsi(void **state)
{
	const char *argv[] = { "pvisor", "run", "--scsi", "d.img", "--scsi",
			       "iso,media=cdrom", "--scsi", "r.img,ro,lun=0:1:2:3",
			       "--scsi", "e.img", "--scsi", "f.img,media=disk,rw", "k",
			       NULL };
	char err[256];
	struct cli cli;
	const struct vm_scsi *s = cli.cfg.scsi;

	assert_int_equal(cli_parse(13, (char *const *)argv, &cli, err, sizeof(err)),
			 CLI_RUN);
	assert_int_equal(cli.cfg.nr_scsi, 5);
	assert_string_equal(s[0].path, "d.img");
	assert_false(s[0].ro);
	assert_false(s[0].cdrom);
	assert_int_equal(s[0].lun, 0);
	assert_true(s[1].cdrom);
	assert_true(s[1].ro); /* an ISO is read-only */
	assert_int_equal(s[1].lun, 1);
	assert_true(s[2].ro);
	assert_int_equal(s[2].channel, 1);
	assert_int_equal(s[2].target, 2);
	assert_int_equal(s[2].lun, 3);
	/* numbered on after the highest LUN of 0:0:0 */
	assert_int_equal(s[3].lun, 2);
	assert_int_equal(s[3].target, 0);
	assert_int_equal(s[4].lun, 3);
	assert_false(s[4].ro);
}

/* ,ejected (the tray starts open) and ,locked (removal prevented, as the
 * guest had it): a CD/DVD's tray, which a disk has not. */
static void test_scsi_tray_options(void **state)
{
	static const struct {
		const char *cd, *disk, *spec, *refusal;
		bool ejected, locked;
	} t[] = {
		{ "cd.iso,media=cdrom,ejected", "d.img,ejected",
		  "cd.iso,ro,media=cdrom,ejected,lun=0:0:0:0",
		  "ejected is for media=cdrom", true, false },
		{ "cd.iso,locked,media=cdrom", "d.img,locked",
		  "cd.iso,ro,media=cdrom,locked,lun=0:0:0:0",
		  "locked is for media=cdrom", false, true },
	};
	char err[256], spec[256];
	struct cli cli;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *argv[] = { "pvisor", "run", "--scsi", t[i].cd, "k", NULL };
		const char *bad[] = { "pvisor", "run", "--scsi", t[i].disk, "k", NULL };

		assert_int_equal(cli_parse(5, (char *const *)argv, &cli, err, sizeof(err)),
				 CLI_RUN);
		assert_true(cli.cfg.scsi[0].cdrom);
		assert_int_equal(cli.cfg.scsi[0].ejected, t[i].ejected);
		assert_int_equal(cli.cfg.scsi[0].locked, t[i].locked);
		assert_true(cli_scsi_spec(&cli.cfg.scsi[0], spec, sizeof(spec)) > 0);
		assert_string_equal(spec, t[i].spec);
		assert_int_equal(cli_parse(5, (char *const *)bad, &cli, err, sizeof(err)),
				 CLI_ERROR);
		assert_non_null(strstr(err, t[i].refusal));
	}
}

static void test_host_query(void **state)
{
	const char *argv[] = { "pvisor", "host", "--query", "tap", NULL };
	const char *plain[] = { "pvisor", "host", NULL };
	char err[256];
	struct cli cli;

	assert_int_equal(cli_parse(4, (char *const *)argv, &cli, err, sizeof(err)),
			 CLI_HOST);
	assert_string_equal(cli.host_query, "tap");
	assert_int_equal(cli_parse(2, (char *const *)plain, &cli, err, sizeof(err)),
			 CLI_HOST);
	assert_null(cli.host_query);
	assert_non_null(strstr(cli_usage, "host [--query NAME]"));
	assert_non_null(strstr(cli_host_usage, "guest:upper-half"));
}

static void test_sizes(void **state)
{
	assert_int_equal(cli_parse_size("64M"), 64ll << 20);
	assert_int_equal(cli_parse_size("64"), 64ll << 20);
	assert_int_equal(cli_parse_size("2G"), 2ll << 30);
	assert_int_equal(cli_parse_size("512K"), 512ll << 10);
	assert_int_equal(cli_parse_size("1GiB"), 1ll << 30);
	assert_int_equal(cli_parse_size("1T"), 1ll << 40);
	assert_int_equal(cli_parse_size("2TiB"), 2ll << 40);
	assert_int_equal(cli_parse_size(""), -1);
	assert_int_equal(cli_parse_size("-5M"), -1);
	assert_int_equal(cli_parse_size("M"), -1);
	assert_int_equal(cli_parse_size("99999999999999999999G"), -1);
	assert_int_equal(cli_parse_size("9999999999999G"), -1);
}

static void test_cmdline_too_long(void **state)
{
	static char big[2000];
	const char *argv[] = { "pvisor", "run", "k", "--", big, NULL };
	char err[256];
	struct cli cli;

	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(cli_parse(5, (char *const *)argv, &cli, err,
				   sizeof(err)),
			 CLI_ERROR);
	assert_non_null(strstr(err, "longer than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_xenstore_socket),
		cmocka_unit_test(test_sandbox_modes),
		cmocka_unit_test(test_on_reboot),
		cmocka_unit_test(test_restore_lazy),
		cmocka_unit_test(test_restore_kernel),
		cmocka_unit_test(test_repeated_options),
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_rootfs),
		cmocka_unit_test(test_rwdir),
		cmocka_unit_test(test_scsi),
		cmocka_unit_test(test_scsi_tray_options),
		cmocka_unit_test(test_host_query),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_cmdline_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
