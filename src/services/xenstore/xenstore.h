/*
 * xenstore served by pvisor: the store (a tree with Xen permissions, watches,
 * transactions and quotas) and its guest transport, the xenstore ring page
 * (struct xenstore_domain_interface, start_info->store_mfn).
 *
 * Behaviour follows Xen's xenstored for what a guest can observe; the
 * differences are listed in docs/xenstore.md.
 *
 * Typical use by pvisor:
 *
 *	xs = xs_new();
 *	xs_domain_setup(xs, domid, &info);          // toolstack entries
 *	conn = xs_conn_new(xs, domid, kick, vm);     // the guest's connection
 *	xs_ring_init(store_page);                    // when building the domain
 *	// on each event-channel send from the guest, and after kick():
 *	if (xs_ring_process(xs, conn, store_page) > 0)
 *		send the store event channel to the guest;
 *	...
 *	xs_conn_free(conn);
 *	xs_free(xs);
 *
 * Thread safety: every function here takes the store's own lock, so backends
 * (dom0 API) and the vCPU thread (ring) may call concurrently.  Callbacks
 * (watch functions, kick) run after that lock was dropped, on the thread that
 * made the change; they may call back into this API.  The caller must not
 * free a connection while another thread uses it.
 */
#ifndef PVISOR_XENSTORE_H
#define PVISOR_XENSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>

#include "services/xenstore/xs_tree.h" /* struct xs_perm, XS_PERM_* */

/* Limits for unprivileged domains, xenstored's defaults. */
#define XS_QUOTA_NODES 1000        /* nodes owned by one domain */
#define XS_QUOTA_WATCHES 128       /* watches per connection */
#define XS_QUOTA_TRANSACTIONS 10   /* open transactions per connection */
#define XS_QUOTA_PERMS 5           /* ACL entries per node */
#define XS_QUOTA_VALUE XENSTORE_PAYLOAD_MAX /* bytes of one node's value */
/* Output queued for one connection: above SOFT no more requests are read
 * from the ring (the guest must take its replies first); watch events that
 * would exceed MAX are dropped (counted in xs_conn_stats). */
#define XS_OUT_SOFT (2 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX))
#define XS_OUT_MAX (256 * 1024)

struct xenstore;
struct xs_conn;

/* A dom0 watch fired: path that changed (absolute) and the watch's token. */
typedef void (*xs_watch_fn)(void *opaque, const char *path, const char *token);
/* Output was queued for a connection outside xs_ring_process(): call
 * xs_ring_process() for it soon (from the event loop). */
typedef void (*xs_kick_fn)(void *opaque);

/* A store with "/", "/local/domain" and "/tool/xenstored"; NULL if out of
 * memory. */
struct xenstore *xs_new(void);
/* Frees the store; every connection must have been freed first. */
void xs_free(struct xenstore *xs);

/*
 * Connects (introduces) domain domid, unprivileged, and fires
 * @introduceDomain.  kick (may be NULL) is called as described above.
 * NULL if out of memory or domid is 0 or already connected.
 */
struct xs_conn *xs_conn_new(struct xenstore *xs, uint16_t domid, xs_kick_fn kick,
			    void *opaque);
/*
 * A further dom0 client (one of xenstored's socket connections): privileged
 * like pvisor's own access, but speaking the wire protocol through
 * xs_conn_input()/xs_conn_output(), with watches and transactions of its
 * own.  Fires nothing.  NULL if out of memory.
 */
struct xs_conn *xs_conn_new_dom0(struct xenstore *xs, xs_kick_fn kick, void *opaque);
/* Drops its watches, transactions and queued output; fires @releaseDomain
 * (a domain's connection only). */
void xs_conn_free(struct xs_conn *c);
/* True once the guest broke the protocol; the connection is then ignored
 * (as xenstored ignores it) until the guest asks for a reconnect. */
bool xs_conn_broken(const struct xs_conn *c);

struct xs_conn_stats {
	uint64_t requests, errors, events, events_dropped;
	size_t out_bytes; /* queued, not yet on the ring */
	unsigned watches, transactions;
};
void xs_conn_stats(const struct xs_conn *c, struct xs_conn_stats *st);

/*
 * Initialises a store ring page pvisor shares with the guest: indexes 0,
 * connected, and advertises XENSTORE_SERVER_FEATURE_RECONNECTION|ERROR.
 */
void xs_ring_init(struct xenstore_domain_interface *ring);

/*
 * Services c's ring: takes complete requests (partial ones are buffered),
 * processes them, writes replies and watch events as space allows (the rest
 * stays queued), until nothing moves.  ring is pvisor's mapping of the
 * guest's store page; every index is read once per step and checked (more
 * than a ring's worth outstanding breaks the connection, as does a message
 * longer than XENSTORE_PAYLOAD_MAX; ring->error then says why).
 * Returns 1 if the guest should be notified (the caller sends the store
 * event channel), 0 otherwise.
 */
int xs_ring_process(struct xenstore *xs, struct xs_conn *c,
		    struct xenstore_domain_interface *ring);

/*
 * Message-level transport (tests, fuzzing, other transports): processes one
 * complete message (header + payload, len bytes).  0, or -EPROTO if the
 * framing is broken (the connection is then marked broken).
 */
int xs_conn_input(struct xs_conn *c, const void *msg, size_t len)
	__attribute__((warn_unused_result));
/* Copies up to size bytes of queued output (whole or part of messages) into
 * buf and removes them from the queue; returns the byte count. */
size_t xs_conn_output(struct xs_conn *c, void *buf, size_t size);

/*
 * pvisor's own access, as dom0 (privileged: permissions do not apply, quotas
 * apart from the global node cap do not apply).  Paths are absolute, or
 * relative to /local/domain/0.  All return 0 or -errno (-EINVAL bad path,
 * -ENOENT, -ENOMEM, -ENOSPC, -E2BIG value too long).
 */
/* *value: malloc'ed copy, NUL-terminated (len excludes the NUL); caller frees. */
int xs_dom0_read(struct xenstore *xs, const char *path, char **value, size_t *len)
	__attribute__((warn_unused_result));
/* A decimal number node (what backends read from frontends): -ENOENT if
 * absent, -EINVAL unless it is digits only and at most max. */
int xs_dom0_read_uint(struct xenstore *xs, const char *path, uint64_t max,
		      uint64_t *out) __attribute__((warn_unused_result));
int xs_dom0_write(struct xenstore *xs, const char *path, const void *value, size_t len)
	__attribute__((warn_unused_result));
int xs_dom0_printf(struct xenstore *xs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), warn_unused_result));
int xs_dom0_mkdir(struct xenstore *xs, const char *path) __attribute__((warn_unused_result));
/* DIR/KEY = printf(fmt, ...) unless *rc is already an error, which it then
 * becomes: a backend writes its device directory with a run of these and
 * checks rc once. */
void xs_dom0_printf_under(struct xenstore *xs, int *rc, const char *dir, const char *key,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Snapshots (services/xenstore/xs_snapshot.c).  xs_export_subtree hands
 * every node below dir (not dir itself), parents before children, to emit
 * with its path relative to dir; under the store's lock, so emit must not
 * call back into xs.  A non-zero return stops the walk and is returned;
 * -ENOENT if dir does not exist.
 */
typedef int (*xs_export_fn)(void *opaque, const char *relpath, const char *value,
			    uint32_t len, const struct xs_perm *perms, uint32_t nr_perms);
int xs_export_subtree(struct xenstore *xs, const char *dir, xs_export_fn emit, void *opaque)
	__attribute__((warn_unused_result));
/*
 * Writes path (relative to domain domid's home) with value and then
 * perms (perms[0]: the owner), as domain domid itself would through its
 * ring: xenstored's path rules, the domain's permissions and quotas
 * apply, so a node it could not have written is refused (-EACCES,
 * -EINVAL, -ENOSPC, -EPERM ...).  Watches fire as for its own writes.
 */
int xs_import_node(struct xenstore *xs, uint16_t domid, const char *path, const void *value,
		   uint32_t len, const struct xs_perm *perms, uint32_t nr_perms)
	__attribute__((warn_unused_result));
/* Removes path and its subtree; 0 also if path is absent but its parent exists. */
int xs_dom0_rm(struct xenstore *xs, const char *path) __attribute__((warn_unused_result));
/* *list: malloc'ed child names, each NUL-terminated, *len bytes in all. */
int xs_dom0_directory(struct xenstore *xs, const char *path, char **list, size_t *len)
	__attribute__((warn_unused_result));
/* perms[0] is the owner and everyone's default; nr >= 1. */
int xs_dom0_set_perms(struct xenstore *xs, const char *path, const struct xs_perm *perms,
		      unsigned nr) __attribute__((warn_unused_result));
/* *perms: malloc'ed array; caller frees. */
int xs_dom0_get_perms(struct xenstore *xs, const char *path, struct xs_perm **perms,
		      unsigned *nr) __attribute__((warn_unused_result));
/*
 * Watches path (and its subtree; or "@introduceDomain"/"@releaseDomain").
 * fn(opaque, path, token) runs once at once (as Xen fires a new watch) and on
 * every later change; -EEXIST if (path, token) is already watched.
 */
int xs_dom0_watch(struct xenstore *xs, const char *path, const char *token, xs_watch_fn fn,
		  void *opaque) __attribute__((warn_unused_result));
/* Pending callbacks of the removed watch are not delivered. */
int xs_dom0_unwatch(struct xenstore *xs, const char *path, const char *token)
	__attribute__((warn_unused_result));

/* What a toolstack knows about a domain when it creates it. */
struct xs_domain_info {
	const char *name;
	const char *uuid;    /* "xxxxxxxx-xxxx-...", or NULL for an all-zero one */
	uint64_t target_kb;  /* memory/target and memory/static-max */
	unsigned vcpus;      /* cpu/<n>/availability = online */
};

/*
 * Writes the entries libxl writes for a new domain: /local/domain/<id>
 * (owned by dom0, readable by the domain) with name, domid, vm, memory/,
 * cpu/, control/ (shutdown and feature-* writable by the domain), and the
 * domain-owned directories device, data, drivers, feature, attr, error;
 * /vm/<uuid>/{name,uuid}.  0 or -errno.
 */
int xs_domain_setup(struct xenstore *xs, uint16_t domid, const struct xs_domain_info *info)
	__attribute__((warn_unused_result));

#endif
