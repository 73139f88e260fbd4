/*
 * The host features pvisor relies on, in one place: what this host has,
 * what the absence of each costs, and which backend runs which kind of
 * guest here.  `pvisor host` prints it, `pvisor host --query NAME` answers
 * one question with an exit status (the tests ask it what to skip), and
 * `pvisor run` takes its backend decision from hostinfo_choose().
 *
 * Probing (hostinfo_probe_*) is the only part that touches the host; it
 * fills a plain struct host_info.  Everything else — the backend decision,
 * the report, the answers to queries — is a pure function of that struct,
 * so a unit test can fake any feature absent (tests/unit/test_hostinfo.c).
 * See docs/host-features.md.
 */
#ifndef PVISOR_HOSTINFO_H
#define PVISOR_HOSTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum host_feature {
	HOST_KVM,      /* /dev/kvm works: the kvm backend's own probe */
	HOST_KVM_PVM,  /* ... and it is kvm-pvm (/sys/module/kvm_pvm) */
	HOST_FSGSBASE, /* the kernel enables rd/wr{fs,gs}base (AT_HWCAP2 bit 1) */
	HOST_SECCOMP,  /* seccomp filters with SECCOMP_RET_TRAP */
	HOST_IO_URING, /* io_uring_queue_init succeeds */
	HOST_TAP,      /* /dev/net/tun opens and we have CAP_NET_ADMIN */
	HOST_MEMFD,    /* memfd_create */
	HOST_LANDLOCK, /* Landlock (pvisor's own file-system confinement) */
	HOST_NR_FEATURES
};

enum host_backend { HOST_BE_KVM, HOST_BE_PROC, HOST_NR_BACKENDS };

/* The kinds of guest kernel, by where they live. */
enum host_guest {
	HOST_GUEST_LOWER, /* an ELF below PVISOR_GUEST_VA_LIMIT (the guest kit) */
	HOST_GUEST_UPPER, /* a Linux bzImage, an ELF above the limit */
	HOST_NR_GUESTS
};

struct host_feature_state {
	bool probed;
	bool present;
	char detail[256]; /* one line: what was found, or why it is absent */
};

struct host_backend_state {
	bool probed;
	bool ok;          /* its backend_ops.probe() succeeded */
	char why[256];    /* if not */
};

struct host_info {
	struct host_feature_state feature[HOST_NR_FEATURES];
	struct host_backend_state backend[HOST_NR_BACKENDS];
};

/* The kernel a decision is about (hostinfo_choose). */
struct host_kernel {
	const char *path;   /* for the message */
	bool bzimage;       /* it came wrapped in a Linux bzImage */
	uint64_t v_start, v_end; /* its loaded virtual range [v_start, v_end) */
};

/* --- probing (touches the host) --- */

void hostinfo_init(struct host_info *hi); /* nothing probed */
void hostinfo_probe_feature(struct host_info *hi, enum host_feature f);
/* Runs the backend's own probe(); for kvm, also fills feature kvm. */
void hostinfo_probe_backend(struct host_info *hi, enum host_backend b);
void hostinfo_probe_all(struct host_info *hi);

/* --- pure functions of struct host_info --- */

/* "kvm", "kvm-pvm", "fsgsbase", "seccomp", "io_uring", "tap", "memfd". */
const char *hostinfo_feature_name(enum host_feature f);
/* What pvisor loses on a host without feature f: one line. */
const char *hostinfo_feature_cost(enum host_feature f);
const char *hostinfo_backend_name(enum host_backend b); /* "kvm", "proc" */
const char *hostinfo_guest_name(enum host_guest g); /* "lower-half", ... */

/* Does a kernel loaded at [v_start, v_end) need the upper half? */
bool hostinfo_kernel_is_upper(uint64_t v_start, uint64_t v_end);

/*
 * Can backend b run guests here?  Its own probe decides where it ran; a
 * probed feature it needs (kvm: kvm, memfd; proc: seccomp, memfd) that is
 * absent also rules it out.  Features nobody probed do not count.  If
 * not, why holds one line.
 */
bool hostinfo_backend_usable(const struct host_info *hi, enum host_backend b,
			     char *why, size_t why_len);

/*
 * The backend decision of `pvisor run`: `forced` is --backend ("kvm",
 * "proc") or NULL for automatic (kvm when it works, else proc); k is the
 * kernel.  Returns HOST_BE_* with msg set to the informational line for an
 * automatic choice, or -1 with msg set to the one-line error (no "pvisor: "
 * prefix): the backend is unavailable, none is, or the kernel lives in the
 * upper half and only proc could run (which kernel, why it needs /dev/kvm,
 * what the host lacks).  Pure: the backends must have been probed as far
 * as the decision needs (kvm unless proc is forced for a lower-half
 * kernel; proc unless kvm is forced or chosen).
 */
int hostinfo_choose(const struct host_info *hi, const char *forced,
		    const struct host_kernel *k, char *msg, size_t msg_len);

/* Which backend runs guests of kind g by default here: HOST_BE_* (msg:
 * what runs it), or -1 (msg: why none can). */
int hostinfo_guest_backend(const struct host_info *hi, enum host_guest g,
			   char *msg, size_t msg_len);

/*
 * `pvisor host --query NAME`: a feature name, "backend:kvm|proc" or
 * "guest:lower-half|upper-half" ("feature:NAME" also works).  Returns 1 if
 * the host has it / can run it, 0 if not, -1 if NAME is unknown; answer
 * gets one line (what was found, the backend that runs that guest, or why
 * not).  hostinfo_query_needs() says what to probe for it: a bit mask of
 * (1 << HOST_*) features and (1 << (HOST_NR_FEATURES + HOST_BE_*)).
 */
int hostinfo_query(const struct host_info *hi, const char *name, char *answer,
		   size_t answer_len);
int hostinfo_query_needs(const char *name, unsigned *mask);

/* Probes what mask says (see hostinfo_query_needs). */
void hostinfo_probe_mask(struct host_info *hi, unsigned mask);

/*
 * The `pvisor host` report, one fact per line:
 *   feature NAME: yes|no — DETAIL; without it: COST
 *   backend NAME: available | unavailable: WHY
 *   guest KIND: BACKEND|none — WHAT
 * Returns the length it needed (as snprintf).
 */
size_t hostinfo_format(const struct host_info *hi, char *buf, size_t len);

#endif
