/*
 * Cooperative threads.  The boot context becomes the "main" thread.  When no
 * thread can run, the vCPU blocks in SCHEDOP_block until an event (timer or
 * I/O) arrives.
 */
#ifndef KIT_SCHED_H
#define KIT_SCHED_H

#include <stdint.h>

struct thread;

void sched_init(void);

/* Creates a runnable thread running fn(arg); NULL when out of memory. */
struct thread *thread_create(const char *name, void (*fn)(void *), void *arg);
/* Lets other runnable threads run. */
void thread_yield(void);
/* Ends the calling thread (returning from fn does the same). */
__attribute__((noreturn)) void thread_exit(void);
/* Waits for t to end and frees it. */
void thread_join(struct thread *t);
/* Blocks the calling thread until thread_wake() (or deadline_ns, if not 0,
 * passes); call with events disabled to avoid a lost wakeup. */
void thread_block(uint64_t deadline_ns);
/* Makes t runnable; safe from event handlers. */
void thread_wake(struct thread *t);
struct thread *thread_current(void);
const char *thread_name(const struct thread *t);

/* Internal: the context switch (entry.S). */
void sched_switch(uint64_t *prev_rsp, uint64_t next_rsp);

#endif
