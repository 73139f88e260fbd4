/* Classic BPF programs in arrays: a libseccomp filter exported into one
 * (the build's filter generator, tools/gen_seccomp.c, and the tests), and
 * immediates filled in after the fact (core/seccomp_programs.c). */
#ifndef PVISOR_CORE_BPF_PROG_H
#define PVISOR_CORE_BPF_PROG_H

#include <linux/filter.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

/* Writes ctx's program after the `at` instructions already in prog (at
 * most `max` in all) and the total to *len.  0 or -errno (-E2BIG: it does
 * not fit). */
int bpf_export(scmp_filter_ctx ctx, struct sock_filter *prog, size_t at,
	       size_t max, size_t *len) __attribute__((warn_unused_result));

/* Puts `value` in the immediate of every BPF_JMP|BPF_JEQ|BPF_K that
 * compares with `sentinel`; returns how many it changed. */
unsigned bpf_patch_jeq(struct sock_filter *prog, size_t len,
		       uint32_t sentinel, uint32_t value);

#endif
