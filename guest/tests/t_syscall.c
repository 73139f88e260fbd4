/*
 * A raw `syscall` instruction with rax = 39 (Linux getpid), as a guest
 * trying to reach the host kernel would: pvisor must stop (proc) or report
 * (kvm) it; it must never reach the host.
 */
#include <kit/console.h>
#include <kit/kit.h>

int app_main(const char *cmdline)
{
	long rax = 39;

	printf("SYSCALL about to execute syscall rax=39\n");
	asm volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
	printf("FAIL syscall returned rax=%ld\n", rax);
	return 1;
}
