/*
 * The kit's start code: copies start_info, then brings the kit up in one
 * explicit order (console, shared_info, traps, events, memory, time,
 * threads, console input), enables events and runs the application.
 */
#include <stdarg.h>

#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/traps.h>

struct start_info start_info;
struct shared_info *HYPERVISOR_shared_info;
unsigned long *phys_to_machine_mapping;
unsigned long nr_ram_pages;
unsigned long boot_stack_top_xen; /* rsp Xen started us with */

extern char shared_info_page[PAGE_SIZE]; /* head.S */
static char cmdline[MAX_GUEST_CMDLINE];
static char backend[16];

void start_kernel(struct start_info *si, unsigned long xen_rsp);

unsigned long mfn_to_pfn(unsigned long mfn)
{
	/* The P2M is the identity on pvisor, so the first probe hits; a
	 * scan keeps this correct for any P2M (the M2P table is not mapped
	 * in the proc backend's address space). */
	if (mfn < nr_ram_pages && phys_to_machine_mapping[mfn] == mfn)
		return mfn;
	for (unsigned long pfn = 0; pfn < nr_ram_pages; pfn++)
		if (phys_to_machine_mapping[pfn] == mfn)
			return pfn;
	return ~0ul;
}

const char *kit_cmdline(void)
{
	return cmdline;
}

const char *kit_backend(void)
{
	return backend;
}

static void shutdown(unsigned reason)
{
	struct sched_shutdown s = { .reason = reason };

	HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
}

void kit_exit(int status)
{
	shutdown(PVISOR_SHUTDOWN_EXIT((unsigned)status));
	shutdown(SHUTDOWN_crash);
	for (;;)
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

void kit_poweroff(void)
{
	shutdown(SHUTDOWN_poweroff);
	kit_exit(0);
}

void kit_reboot(void)
{
	/* Under Xen the call does not return: the toolstack builds a new
	 * domain.  If it does, the hypervisor would not reboot us. */
	shutdown(SHUTDOWN_reboot);
	kit_exit(PVISOR_EXIT_REBOOT);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	if (HYPERVISOR_shared_info)
		local_irq_disable();
	printf("PANIC: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	shutdown(SHUTDOWN_crash);
	for (;;)
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

static struct start_info *start_info_page; /* the builder's; reserved */

unsigned long kit_start_info_mfn(void)
{
	return virt_to_mfn(start_info_page);
}

/* After a restore the toolstack has rewritten the store, console and
 * shared_info fields (Xen's restore does): take them again. */
void kit_reload_start_info(void)
{
	memcpy(&start_info, start_info_page, sizeof(start_info));
}

void kit_map_shared_info(void)
{
	long rc = HYPERVISOR_update_va_mapping(
		(unsigned long)shared_info_page,
		(start_info.shared_info & PTE_ADDR_MASK) | L1_PROT, UVMF_INVLPG);

	if (rc)
		panic("cannot map shared_info (machine address %#lx): %ld",
		      start_info.shared_info, rc);
	HYPERVISOR_shared_info = (struct shared_info *)shared_info_page;
}

static void find_backend(void)
{
	static xen_commandline_t line;
	const char *p;

	strlcpy(backend, "unknown", sizeof(backend));
	if (HYPERVISOR_xen_version(XENVER_commandline, line) < 0)
		return;
	line[sizeof(line) - 1] = '\0';
	for (p = line; (p = strchr(p, 'b')) != NULL; p++) {
		if ((p == line || p[-1] == ' ') &&
		    !strncmp(p, "backend=", 8)) {
			size_t n = 0;

			p += 8;
			while (p[n] && p[n] != ' ' && n < sizeof(backend) - 1)
				n++;
			memcpy(backend, p, n);
			backend[n] = '\0';
			return;
		}
	}
}

void start_kernel(struct start_info *si, unsigned long xen_rsp)
{
	int ret;

	memcpy(&start_info, si, sizeof(start_info));
	start_info_page = si;
	boot_stack_top_xen = xen_rsp;
	phys_to_machine_mapping = (unsigned long *)start_info.mfn_list;
	nr_ram_pages = start_info.nr_pages;
	memcpy(cmdline, start_info.cmd_line, sizeof(cmdline));
	cmdline[sizeof(cmdline) - 1] = '\0';

	console_init();
	kit_map_shared_info();
	local_irq_disable();
	traps_init();
	events_init();
	mm_init();
	time_init();
	sched_init();
	console_init_input();
	find_backend();
	local_irq_enable();

	ret = app_main(cmdline);
	kit_exit(ret);
}
