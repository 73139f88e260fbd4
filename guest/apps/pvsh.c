/*
 * pvsh: an interactive shell on the console.  Commands from the guest
 * command line (separated by ';') run first, then the prompt.
 */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#include "bench.h"
#include "share.h"

#define LINE_MAX 256
#define MAX_ARGS 16

struct command {
	const char *name;
	const char *help;
	int (*fn)(int argc, char **argv);
};

static int cmd_help(int argc, char **argv);

static int cmd_info(int argc, char **argv)
{
	uint64_t up = monotonic_ns(), sec;
	uint32_t nsec;
	unsigned vcpus = 0;

	/* is_up answers 0/1 for each vCPU the domain has, -ENOENT past it. */
	for (unsigned id = 0; id < 4096; id++) {
		long rc = HYPERVISOR_vcpu_op(VCPUOP_is_up, id, NULL);

		if (rc < 0)
			break;
		vcpus += rc > 0;
	}
	wallclock(&sec, &nsec);
	printf("backend:   %s\n", kit_backend());
	printf("memory:    %lu MiB (%lu pages, %lu free)\n",
	       nr_ram_pages >> (20 - PAGE_SHIFT), nr_ram_pages,
	       mm_free_pages());
	printf("vcpus:     %u\n", vcpus);
	printf("uptime:    %lu.%06lu s\n", up / 1000000000ul,
	       (up % 1000000000ul) / 1000);
	printf("wallclock: %lu s since the epoch\n", sec);
	printf("upcalls:   %lu\n", evtchn_upcalls);
	printf("hypercalls:\n");
	for (unsigned nr = 0; nr < KIT_NR_HYPERCALLS; nr++) {
		const char *name = hypercall_name(nr);

		if (hypercall_counts[nr])
			printf("  %-20s %lu\n", name ? name : "?",
			       hypercall_counts[nr]);
	}
	return 0;
}

static int cmd_bench(int argc, char **argv)
{
	return bench_run_all() ? 1 : 0;
}

static int cmd_echo(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		printf("%s%s", i > 1 ? " " : "", argv[i]);
	printf("\n");
	return 0;
}

static bool parse_num(const char *s, long *v)
{
	const char *end;

	*v = strtol(s, &end, 10);
	return end != s && *end == '\0';
}

static int cmd_sleep(int argc, char **argv)
{
	long ms;

	if (argc != 2 || !parse_num(argv[1], &ms) || ms < 0) {
		printf("usage: sleep MS\n");
		return 1;
	}
	sleep_ms((uint64_t)ms);
	return 0;
}

/* Clock-driven output: a line every MS ms (what `pvisor ctl pause` stops). */
static int cmd_ticks(int argc, char **argv)
{
	long n, ms;

	if (argc != 3 || !parse_num(argv[1], &n) || !parse_num(argv[2], &ms) || n < 0 ||
	    ms < 1) {
		printf("usage: ticks N MS\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		uint64_t up = monotonic_ns();

		printf("tick %ld uptime_ms=%lu\n", i, up / 1000000ul);
		sleep_ms((uint64_t)ms);
	}
	return 0;
}

/*
 * memstress MB PASSES [STRIDE]: rewrites every page of MB MiB, pass after
 * pass, with a stamp (pass, page) in three words of it; before each write
 * it checks the page still holds the previous pass's stamp, after each pass
 * that all hold this one.  A snapshot that lost a page the guest wrote (a
 * live save's dirty tracking) shows as a wrong stamp after the restore.  It
 * sleeps 1 ms every 256 pages, so a pass is spread out in time.  With
 * STRIDE, a pass goes through the pages STRIDE apart (wrapping around; made
 * prime to their number), not in order: a writer that is not sequential.
 */
static bool stamp_is(const uint64_t *p, uint64_t want)
{
	return p[0] == want && p[255] == want && p[511] == want;
}

static void stamp(uint64_t *p, uint64_t v)
{
	p[0] = v;
	p[255] = v;
	p[511] = v;
}

static unsigned long gcd(unsigned long a, unsigned long b)
{
	while (b) {
		unsigned long t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int cmd_memstress(int argc, char **argv)
{
	long mb, passes, stride = 1;
	unsigned long n, bad = 0;
	uint8_t *mem;

	if ((argc != 3 && argc != 4) || !parse_num(argv[1], &mb) ||
	    !parse_num(argv[2], &passes) || mb < 1 || passes < 1 ||
	    (argc == 4 && (!parse_num(argv[3], &stride) || stride < 1))) {
		printf("usage: memstress MB PASSES [STRIDE]\n");
		return 1;
	}
	n = (unsigned long)mb * 256;
	while (gcd((unsigned long)stride % n, n) != 1)
		stride++;
	mem = alloc_pages(n);
	if (!mem) {
		printf("memstress: cannot allocate %ld MiB\n", mb);
		return 1;
	}
	for (uint64_t pass = 1; pass <= (uint64_t)passes; pass++) {
		for (unsigned long k = 0, i = 0; k < n; k++, i = (i + (unsigned long)stride) % n) {
			uint64_t *p = (uint64_t *)(mem + i * PAGE_SIZE);
			uint64_t prev = pass == 1 ? 0 : (pass - 1) << 32 | i;

			if (!stamp_is(p, prev) && bad++ < 8)
				printf("memstress: pass %lu: page %lu holds %#lx, want %#lx\n",
				       (unsigned long)pass, i, (unsigned long)p[0],
				       (unsigned long)prev);
			stamp(p, pass << 32 | i);
			if (k % 256 == 255)
				sleep_ms(1);
		}
		for (unsigned long i = 0; i < n; i++)
			if (!stamp_is((uint64_t *)(mem + i * PAGE_SIZE), pass << 32 | i) &&
			    bad++ < 8)
				printf("memstress: pass %lu: page %lu lost its write\n",
				       (unsigned long)pass, i);
		printf("memstress pass %lu %s\n", (unsigned long)pass, bad ? "BAD" : "ok");
	}
	free_pages(mem, n);
	printf("memstress: %ld passes over %ld MiB, %lu bad pages\n", passes, mb, bad);
	return bad != 0;
}

static int cmd_exit(int argc, char **argv)
{
	long n = 0;

	if (argc > 2 || (argc == 2 && (!parse_num(argv[1], &n) || n < 0 ||
				       n > 255))) {
		printf("usage: exit [N]   (N = 0..255)\n");
		return 1;
	}
	kit_exit((int)n);
}

static int cmd_poweroff(int argc, char **argv)
{
	kit_poweroff();
}

static int cmd_reboot(int argc, char **argv)
{
	kit_reboot();
}

static int cmd_ls(int argc, char **argv)
{
	return share_ls(argc > 1 ? argv[1] : "");
}

static int cmd_cat(int argc, char **argv)
{
	if (argc != 2) {
		printf("usage: cat FILE\n");
		return 1;
	}
	return share_cat(argv[1]);
}

static int cmd_write(int argc, char **argv)
{
	if (argc < 2) {
		printf("usage: write FILE [WORDS...]\n");
		return 1;
	}
	return share_write(argv[1], argc - 2, argv + 2);
}

static int cmd_rm(int argc, char **argv)
{
	if (argc != 2) {
		printf("usage: rm PATH\n");
		return 1;
	}
	return share_rm(argv[1]);
}

/* The guest's own xenstore nodes (relative paths are below its home). */
static int cmd_xs_read(int argc, char **argv)
{
	char value[256];
	long n;

	if (argc != 2) {
		printf("usage: xs-read PATH\n");
		return 1;
	}
	n = xenbus_read(XBT_NIL, argv[1], value, sizeof(value));
	if (n < 0) {
		printf("xs-read %s: error %ld\n", argv[1], n);
		return 1;
	}
	printf("xs-read %s = \"%s\"\n", argv[1], value);
	return 0;
}

static int cmd_xs_write(int argc, char **argv)
{
	int rc;

	if (argc != 3) {
		printf("usage: xs-write PATH VALUE\n");
		return 1;
	}
	rc = xenbus_write(XBT_NIL, argv[1], argv[2]);
	if (rc < 0)
		printf("xs-write %s: error %d\n", argv[1], rc);
	return rc < 0;
}

static const struct command commands[] = {
	{ "help", "list commands", cmd_help },
	{ "info", "backend, memory, vCPUs, uptime, hypercall counts", cmd_info },
	{ "bench", "run the hypercall benchmarks (hcbench)", cmd_bench },
	{ "echo", "echo ARGS...", cmd_echo },
	{ "sleep", "sleep MS milliseconds", cmd_sleep },
	{ "ticks", "ticks N MS: print a line every MS ms, N times", cmd_ticks },
	{ "memstress", "memstress MB PASSES [STRIDE]: rewrite and check MB MiB, PASSES times", cmd_memstress },
	{ "exit", "exit N: end pvisor with status N", cmd_exit },
	{ "poweroff", "power the guest off", cmd_poweroff },
	{ "reboot", "reboot the guest (a fresh domain, same kernel)", cmd_reboot },
	{ "ls", "ls [DIR]: list a directory of 9pfs share 0 (--share)", cmd_ls },
	{ "cat", "cat FILE: print a file of the share", cmd_cat },
	{ "write", "write FILE WORDS...: the words and a newline, as FILE", cmd_write },
	{ "rm", "rm PATH: remove a file or an empty directory of the share", cmd_rm },
	{ "xs-read", "xs-read PATH: a xenstore node (relative: below the home)", cmd_xs_read },
	{ "xs-write", "xs-write PATH VALUE: write a xenstore node", cmd_xs_write },
};

static int cmd_help(int argc, char **argv)
{
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-9s %s\n", commands[i].name, commands[i].help);
	return 0;
}

/* Splits line in place into words; returns the count. */
static int split(char *line, char **argv)
{
	int argc = 0;

	for (char *p = line; *p;) {
		while (isspace(*p))
			*p++ = '\0';
		if (!*p)
			break;
		if (argc == MAX_ARGS)
			return -1;
		argv[argc++] = p;
		while (*p && !isspace(*p))
			p++;
	}
	return argc;
}

static void run_line(char *line)
{
	char *argv[MAX_ARGS];
	int argc = split(line, argv);

	if (argc < 0) {
		printf("pvsh: too many arguments (max %d)\n", MAX_ARGS);
		return;
	}
	if (argc == 0)
		return;
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(argv[0], commands[i].name)) {
			commands[i].fn(argc, argv);
			return;
		}
	}
	printf("pvsh: unknown command: %s (try help)\n", argv[0]);
}

/* Reads one line with echo and backspace; returns its length. */
static size_t read_line(char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		int c = console_getc();

		if (c == '\r' || c == '\n') {
			console_write("\n", 1);
			break;
		}
		if (c == 0x7f || c == '\b') {
			if (len) {
				len--;
				console_write("\b \b", 3);
			}
			continue;
		}
		if (c == 0x15) { /* ^U: kill the line */
			while (len) {
				len--;
				console_write("\b \b", 3);
			}
			continue;
		}
		if (c < 0x20 || len + 1 >= size)
			continue;
		buf[len++] = (char)c;
		console_write(buf + len - 1, 1);
	}
	buf[len] = '\0';
	return len;
}

int app_main(const char *cmdline)
{
	static char script[MAX_GUEST_CMDLINE];
	static char line[LINE_MAX];
	char *p = script;

	/* The toolstack's poweroff/reboot/sysrq requests (kit/control.h). */
	if (kit_control_start() < 0)
		printf("pvsh: no control/shutdown watch (no xenstore?)\n");
	strlcpy(script, cmdline, sizeof(script));
	while (p && *p) {
		char *semi = strchr(p, ';');

		if (semi)
			*semi = '\0';
		while (isspace(*p))
			p++;
		if (*p) {
			printf("pvsh> %s\n", p);
			run_line(p);
		}
		p = semi ? semi + 1 : NULL;
	}
	printf("pvsh on pvisor (%s); type help\n", kit_backend());
	for (;;) {
		printf("pvsh> ");
		read_line(line, sizeof(line));
		run_line(line);
	}
}
