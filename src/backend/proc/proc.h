/*
 * What the proc backend tells the rest of pvisor (and its tests) beyond
 * struct backend_ops.
 */
#ifndef PVISOR_PROC_H
#define PVISOR_PROC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;

/* auto (default), on or off: see docs/proc-backend.md, "fs and gs base". */
#define PROC_FSGSBASE_ENV "PVISOR_PROC_FSGSBASE"

/* Does the host kernel enable rd/wr{fs,gs}base for user space? */
bool proc_host_has_fsgsbase(void);

/* Does the CPU execute them in user space (asks a child process)? */
bool proc_cpu_runs_fsgsbase(void);

/* Does this VM's stub use them (else arch_prctl when a base changes)? */
bool proc_vm_uses_fsgsbase(const struct vm *vm);

/* arch_prctl calls the vCPU's guest process has made so far. */
uint64_t proc_vcpu_fsgs_loads(const struct vcpu *v);

#endif
