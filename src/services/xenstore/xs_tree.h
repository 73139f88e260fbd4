/*
 * The xenstore tree: nodes with a value, children in creation order and Xen
 * permissions (an owner and an ACL), per-owner node accounting, generation
 * counts, and the copy-and-log machinery transactions are built on.
 *
 * Paths given to these functions are canonical absolute paths ("/" or
 * "/a/b", no "//", no trailing "/"), already validated by the caller
 * (xenstore.c, xs_path_canonical()).  Nothing here checks permissions or
 * quotas except the global node cap; xenstore.c does.
 *
 * A transaction works on a private copy of the tree (xs_tree_clone) that
 * carries a log: every node the transaction looks at is recorded with the
 * generation it had when the copy was made (0 = did not exist), and every
 * node it changes is recorded as modified.  xs_tree_commit() checks the log
 * against the live tree (any generation differs: -EAGAIN) and copies the
 * modified nodes' final state across.
 */
#ifndef PVISOR_XS_TREE_H
#define PVISOR_XS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Access bits as in Xen's xs_lib.h: 'n', 'r', 'w', 'b'. */
#define XS_PERM_NONE 0u
#define XS_PERM_READ 1u
#define XS_PERM_WRITE 2u
#define XS_PERM_BOTH 3u
#define XS_PERM_OWNER 8u /* computed only: the owner or a privileged caller */

/* Hard cap on nodes in one tree, whoever owns them. */
#define XS_TREE_MAX_NODES 65536u
/* Most log entries one transaction may accumulate (accesses + changes). */
#define XS_TXLOG_MAX 65536u

struct xs_perm {
	uint16_t id;  /* domid */
	uint8_t perm; /* XS_PERM_NONE..XS_PERM_BOTH */
};

struct xs_node {
	struct xs_node *parent;
	struct xs_node **children;
	uint32_t nr_children, cap_children;
	char *name;   /* path component, "" for the root */
	char *value;  /* len bytes, NUL-terminated for convenience */
	uint32_t len;
	struct xs_perm *perms; /* perms[0]: owner, and everyone else's default */
	uint32_t nr_perms;
	uint64_t gen;      /* changes with value, perms or the set of children */
	uint64_t base_gen; /* transaction copy: gen when copied, 0 if created */
	bool recorded;     /* transaction copy: already in the access log */
};

struct xs_access {
	char *path;
	uint64_t gen; /* generation in the live tree when the copy was made */
};

struct xs_txlog {
	struct xs_access *acc;
	size_t nr_acc, cap_acc;
	char **mod; /* paths whose final state commit copies to the live tree */
	size_t nr_mod, cap_mod;
};

struct xs_owner_count {
	uint16_t domid;
	uint32_t nodes;
};

struct xs_tree {
	struct xs_node *root;
	uint64_t *gen;     /* generation counter shared by a tree and its copies */
	uint32_t nr_nodes;
	struct xs_owner_count *owners; /* nodes per owner domid */
	uint32_t nr_owners;
	struct xs_txlog *log; /* NULL for the live tree */
};

/* Creates a tree holding only "/" owned by dom0 with perms "n0". */
int xs_tree_init(struct xs_tree *t, uint64_t *gen) __attribute__((warn_unused_result));
void xs_tree_destroy(struct xs_tree *t);

/* Deep copy of src for a transaction, with an empty log; 0 or -ENOMEM. */
int xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src)
	__attribute__((warn_unused_result));

/* The node at path, or NULL.  Does not record an access. */
struct xs_node *xs_tree_lookup(const struct xs_tree *t, const char *path);
/* The node at path or its deepest existing ancestor (never NULL). */
struct xs_node *xs_tree_nearest(const struct xs_tree *t, const char *path);
/*
 * Looks up path and, in a transaction copy, records the access (also when
 * the node is absent).  NULL with *err = -ENOENT or -ENOSPC (log full).
 */
struct xs_node *xs_tree_get(struct xs_tree *t, const char *path, int *err);

/* How many nodes creating path would add (0 if it exists). */
unsigned xs_tree_missing(const struct xs_tree *t, const char *path);

/*
 * Creates path and any missing ancestors.  Each new node inherits its
 * parent's permissions; if owner >= 0 it becomes the new nodes' owner (an
 * unprivileged creator owns what it creates, as in xenstored).  Returns the
 * node (existing or new) or NULL with *err = -ENOMEM/-ENOSPC.
 */
struct xs_node *xs_tree_create(struct xs_tree *t, const char *path, int owner, int *err);

/* Replaces the value; 0 or -ENOMEM (node unchanged). */
int xs_tree_set_value(struct xs_tree *t, struct xs_node *n, const void *val, uint32_t len)
	__attribute__((warn_unused_result));
/* Replaces the permissions (n >= 1) and moves the node's accounting. */
int xs_tree_set_perms(struct xs_tree *t, struct xs_node *n, const struct xs_perm *p,
		      uint32_t nr) __attribute__((warn_unused_result));
/* Removes n and its subtree; n must not be the root.  0 or -ENOSPC (log). */
int xs_tree_rm(struct xs_tree *t, struct xs_node *n) __attribute__((warn_unused_result));

/* Nodes owned by domid. */
uint32_t xs_tree_owned(const struct xs_tree *t, uint16_t domid);

/*
 * The access rights of domain domid on n: XS_PERM_* bits, with
 * XS_PERM_OWNER|XS_PERM_BOTH for the owner or a privileged caller.
 */
unsigned xs_perm_for(const struct xs_node *n, uint16_t domid, bool privileged);

/* Writes n's absolute path into buf; its length, or -ENAMETOOLONG. */
int xs_node_path(const struct xs_node *n, char *buf, size_t size);

/*
 * Commits transaction copy tx into live tree t: -EAGAIN if anything tx
 * looked at changed in t since the copy was made (t unchanged); else applies
 * tx's changes and returns 0.  tx is left as is (the caller frees it).
 */
int xs_tree_commit(struct xs_tree *t, const struct xs_tree *tx)
	__attribute__((warn_unused_result));

#endif
