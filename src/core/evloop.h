/*
 * The VM's event thread: timers (the vCPUs' singleshot deadlines), the
 * console input from the terminal, SIGINT/SIGTERM and --timeout.
 */
#ifndef PVISOR_EVLOOP_H
#define PVISOR_EVLOOP_H

#include <stdint.h>

struct vm;
struct vcpu;

/* Starts/stops the event thread; 0 or -errno. */
int evloop_start(struct vm *vm) __attribute__((warn_unused_result));
void evloop_stop(struct vm *vm);

/* Gives the event thread something to look at: a vCPU's timer deadline
 * changed, a service queued deferred work, or the VM stopped. */
void evloop_wake(struct vm *vm);

/* Sets v's singleshot timer (system time ns; 0 = off) (xen/sched.c). */
void xen_timer_set(struct vcpu *v, int64_t deadline_ns);

#endif
