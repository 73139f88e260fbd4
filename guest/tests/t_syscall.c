/*
 * A raw `syscall` instruction with rax = 39 (Linux getpid), as a guest
 * trying to reach the host kernel would.  It must never reach the host.
 * On proc pvisor stops the guest (seccomp).  On kvm, as under Xen, a
 * `syscall` in guest kernel mode is a hypercall: number 39 does not exist,
 * so it returns -ENOSYS (a host getpid would return a pid).
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/test.h>

int app_main(const char *cmdline)
{
	long rax = 39;

	printf("SYSCALL about to execute syscall rax=39\n");
	asm volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
	printf("SYSCALL returned rax=%ld\n", rax);
	check_rc(rax, -XEN_ENOSYS, "syscall_did_not_reach_host");
	test_finish();
}
