/*
 * The console backend: serves the guest's xencons_interface ring (the page
 * named in start_info, event channel console_port) and connects it to the
 * terminal: guest output to stdout, terminal input into the guest.  Ctrl-A x
 * ends the VM (as in QEMU); Ctrl-A a sends a literal Ctrl-A.
 */
#ifndef PVISOR_CONSBACK_H
#define PVISOR_CONSBACK_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* Allocates the console's event channel (vm->xen.console_port) before the
 * domain is built.  0 or -errno. */
int consback_init(struct vm *vm) __attribute__((warn_unused_result));
void consback_destroy(struct vm *vm);

/* Writes guest console output to the terminal and the crash-report tail. */
void consback_output(struct vm *vm, const char *buf, size_t len);

/* Terminal input bytes for the guest (from the event thread). */
void consback_input(struct vm *vm, const char *buf, size_t len);

/* Copies the last console lines (at most len-1 bytes) into buf. */
void consback_tail(struct vm *vm, char *buf, size_t len);

/* Puts the terminal in raw mode (if stdin is a tty) until restored. */
void consback_terminal_raw(void);
void consback_terminal_restore(void);

#endif
