/*
 * The xenstore tree.  See xs_tree.h for the model.
 *
 * Nodes are kept as a plain pointer tree with children arrays in creation
 * order (DIRECTORY lists them in that order, as xenstored does).  Lookups
 * walk the path one component at a time; paths are at most
 * XENSTORE_ABS_PATH_MAX bytes and the node count is capped, so this stays
 * cheap and bounded.
 */
#include "services/xenstore/xs_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pvisor/xen.h>

static struct xs_node *node_new(const char *name, size_t name_len)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, name_len);
	n->value = strdup("");
	if (!n->name || !n->value) {
		free(n->name);
		free(n->value);
		free(n);
		return NULL;
	}
	return n;
}

static void node_free(struct xs_node *n)
{
	uint32_t i;

	for (i = 0; i < n->nr_children; i++)
		node_free(n->children[i]);
	free(n->children);
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

static uint64_t next_gen(struct xs_tree *t)
{
	return ++*t->gen;
}

static struct xs_owner_count *owner_find(const struct xs_tree *t, uint16_t domid)
{
	uint32_t i;

	for (i = 0; i < t->nr_owners; i++)
		if (t->owners[i].domid == domid)
			return &t->owners[i];
	return NULL;
}

/*
 * Adjusts the count of nodes owned by domid.  Growing the table can fail
 * only for a new owner with delta > 0; the count is then simply not kept
 * (the owner is one dom0 invented, and dom0 has no node quota).
 */
static void owner_add(struct xs_tree *t, uint16_t domid, int delta)
{
	struct xs_owner_count *o = owner_find(t, domid), *grown;

	if (!o) {
		if (delta <= 0)
			return;
		grown = realloc(t->owners, (t->nr_owners + 1) * sizeof(*grown));
		if (!grown)
			return;
		t->owners = grown;
		o = &t->owners[t->nr_owners++];
		o->domid = domid;
		o->nodes = 0;
	}
	if (delta < 0 && o->nodes < (uint32_t)-delta)
		o->nodes = 0;
	else
		o->nodes += (uint32_t)delta;
}

uint32_t xs_tree_owned(const struct xs_tree *t, uint16_t domid)
{
	const struct xs_owner_count *o = owner_find(t, domid);

	return o ? o->nodes : 0;
}

int xs_tree_init(struct xs_tree *t, uint64_t *gen)
{
	memset(t, 0, sizeof(*t));
	t->gen = gen;
	t->root = node_new("", 0);
	if (!t->root)
		return -ENOMEM;
	t->root->perms = calloc(1, sizeof(struct xs_perm));
	if (!t->root->perms) {
		node_free(t->root);
		t->root = NULL;
		return -ENOMEM;
	}
	t->root->nr_perms = 1; /* "n0" */
	t->root->gen = next_gen(t);
	t->nr_nodes = 1;
	owner_add(t, 0, 1);
	return 0;
}

static void txlog_free(struct xs_txlog *log)
{
	size_t i;

	if (!log)
		return;
	for (i = 0; i < log->nr_acc; i++)
		free(log->acc[i].path);
	for (i = 0; i < log->nr_mod; i++)
		free(log->mod[i]);
	free(log->acc);
	free(log->mod);
	free(log);
}

void xs_tree_destroy(struct xs_tree *t)
{
	if (t->root)
		node_free(t->root);
	free(t->owners);
	txlog_free(t->log);
	memset(t, 0, sizeof(*t));
}

static struct xs_node *node_clone(const struct xs_node *src, struct xs_node *parent)
{
	struct xs_node *n = calloc(1, sizeof(*n));
	uint32_t i;

	if (!n)
		return NULL;
	n->parent = parent;
	n->name = strdup(src->name);
	n->value = malloc(src->len + 1);
	n->perms = malloc(src->nr_perms * sizeof(*n->perms));
	if (src->nr_children)
		n->children = malloc(src->nr_children * sizeof(*n->children));
	if (!n->name || !n->value || !n->perms || (src->nr_children && !n->children))
		goto fail;
	memcpy(n->value, src->value, src->len + 1);
	n->len = src->len;
	memcpy(n->perms, src->perms, src->nr_perms * sizeof(*n->perms));
	n->nr_perms = src->nr_perms;
	n->gen = src->gen;
	n->base_gen = src->gen;
	n->cap_children = src->nr_children;
	for (i = 0; i < src->nr_children; i++) {
		n->children[i] = node_clone(src->children[i], n);
		if (!n->children[i])
			goto fail;
		n->nr_children = i + 1;
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

int xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->gen = src->gen;
	dst->nr_nodes = src->nr_nodes;
	dst->root = node_clone(src->root, NULL);
	dst->log = calloc(1, sizeof(*dst->log));
	if (src->nr_owners)
		dst->owners = malloc(src->nr_owners * sizeof(*dst->owners));
	if (!dst->root || !dst->log || (src->nr_owners && !dst->owners)) {
		xs_tree_destroy(dst);
		return -ENOMEM;
	}
	memcpy(dst->owners, src->owners, src->nr_owners * sizeof(*dst->owners));
	dst->nr_owners = src->nr_owners;
	return 0;
}

static struct xs_node *child_find(const struct xs_node *n, const char *name, size_t len)
{
	uint32_t i;

	for (i = 0; i < n->nr_children; i++) {
		const char *c = n->children[i]->name;

		if (strncmp(c, name, len) == 0 && c[len] == '\0')
			return n->children[i];
	}
	return NULL;
}

/*
 * Walks path as far as it exists.  Returns the deepest existing node and
 * sets *rest to the first missing component ("" if the whole path exists).
 */
static struct xs_node *walk(const struct xs_tree *t, const char *path, const char **rest)
{
	struct xs_node *n = t->root, *c;
	const char *p = path;

	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchrnul(p, '/');

		c = child_find(n, p, (size_t)(end - p));
		if (!c)
			break;
		n = c;
		p = end;
		while (*p == '/')
			p++;
	}
	*rest = p;
	return n;
}

struct xs_node *xs_tree_lookup(const struct xs_tree *t, const char *path)
{
	const char *rest;
	struct xs_node *n = walk(t, path, &rest);

	return *rest ? NULL : n;
}

struct xs_node *xs_tree_nearest(const struct xs_tree *t, const char *path)
{
	const char *rest;

	return walk(t, path, &rest);
}

unsigned xs_tree_missing(const struct xs_tree *t, const char *path)
{
	const char *rest;
	unsigned count = 0;

	walk(t, path, &rest);
	while (*rest) {
		count++;
		rest = strchrnul(rest, '/');
		while (*rest == '/')
			rest++;
	}
	return count;
}

int xs_node_path(const struct xs_node *n, char *buf, size_t size)
{
	const struct xs_node *p;
	size_t len = 0, pos, l;

	if (!n->parent) {
		if (size < 2)
			return -ENAMETOOLONG;
		strcpy(buf, "/");
		return 1;
	}
	for (p = n; p->parent; p = p->parent)
		len += 1 + strlen(p->name);
	if (len + 1 > size)
		return -ENAMETOOLONG;
	buf[len] = '\0';
	pos = len;
	for (p = n; p->parent; p = p->parent) {
		l = strlen(p->name);
		pos -= l;
		memcpy(buf + pos, p->name, l);
		buf[--pos] = '/';
	}
	return (int)len;
}

/* Transaction log: records what a transaction copy looked at / changed. */
static int log_access(struct xs_tree *t, struct xs_node *n, const char *path)
{
	struct xs_txlog *log = t->log;
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_access *grown;

	if (!log || (n && n->recorded))
		return 0;
	if (log->nr_acc + log->nr_mod >= XS_TXLOG_MAX)
		return -ENOSPC;
	if (!path) {
		if (xs_node_path(n, buf, sizeof(buf)) < 0)
			return -ENOSPC;
		path = buf;
	}
	if (log->nr_acc == log->cap_acc) {
		size_t cap = log->cap_acc ? 2 * log->cap_acc : 16;

		grown = realloc(log->acc, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		log->acc = grown;
		log->cap_acc = cap;
	}
	log->acc[log->nr_acc].path = strdup(path);
	if (!log->acc[log->nr_acc].path)
		return -ENOMEM;
	log->acc[log->nr_acc].gen = n ? n->base_gen : 0;
	log->nr_acc++;
	if (n)
		n->recorded = true;
	return 0;
}

static int log_modified(struct xs_tree *t, struct xs_node *n)
{
	struct xs_txlog *log = t->log;
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	char **grown;

	if (!log)
		return 0;
	if (log->nr_acc + log->nr_mod >= XS_TXLOG_MAX)
		return -ENOSPC;
	if (xs_node_path(n, buf, sizeof(buf)) < 0)
		return -ENOSPC;
	if (log->nr_mod == log->cap_mod) {
		size_t cap = log->cap_mod ? 2 * log->cap_mod : 16;

		grown = realloc(log->mod, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		log->mod = grown;
		log->cap_mod = cap;
	}
	log->mod[log->nr_mod] = strdup(buf);
	if (!log->mod[log->nr_mod])
		return -ENOMEM;
	log->nr_mod++;
	return 0;
}

/* Records n as looked at and as changed, before it is changed. */
static int log_change(struct xs_tree *t, struct xs_node *n)
{
	int err = log_access(t, n, NULL);

	return err ? err : log_modified(t, n);
}

struct xs_node *xs_tree_get(struct xs_tree *t, const char *path, int *err)
{
	struct xs_node *n = xs_tree_lookup(t, path);
	int rc = log_access(t, n, path);

	if (rc) {
		*err = rc;
		return NULL;
	}
	if (!n)
		*err = -ENOENT;
	return n;
}

static int child_add(struct xs_node *parent, struct xs_node *c)
{
	if (parent->nr_children == parent->cap_children) {
		uint32_t cap = parent->cap_children ? 2 * parent->cap_children : 4;
		struct xs_node **grown = realloc(parent->children, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		parent->children = grown;
		parent->cap_children = cap;
	}
	parent->children[parent->nr_children++] = c;
	c->parent = parent;
	return 0;
}

struct xs_node *xs_tree_create(struct xs_tree *t, const char *path, int owner, int *err)
{
	const char *rest;
	struct xs_node *n = walk(t, path, &rest), *c;
	unsigned missing = xs_tree_missing(t, path);
	int rc;

	if (!*rest)
		return n;
	if (t->nr_nodes + missing > XS_TREE_MAX_NODES) {
		*err = -ENOSPC;
		return NULL;
	}
	/* The deepest existing node gains a child. */
	rc = log_access(t, n, NULL);
	if (rc)
		goto fail;
	n->gen = next_gen(t);
	while (*rest) {
		const char *end = strchrnul(rest, '/');

		rc = -ENOMEM;
		c = node_new(rest, (size_t)(end - rest));
		if (!c)
			goto fail;
		c->perms = malloc(n->nr_perms * sizeof(*c->perms));
		if (!c->perms || child_add(n, c)) {
			c->nr_children = 0;
			node_free(c);
			goto fail;
		}
		memcpy(c->perms, n->perms, n->nr_perms * sizeof(*c->perms));
		c->nr_perms = n->nr_perms;
		if (owner >= 0)
			c->perms[0].id = (uint16_t)owner;
		c->gen = next_gen(t);
		t->nr_nodes++;
		owner_add(t, c->perms[0].id, 1);
		/* Created here: it must still be absent at commit. */
		rc = 0;
		if (t->log) {
			char buf[XENSTORE_ABS_PATH_MAX + 1];

			rc = xs_node_path(c, buf, sizeof(buf)) < 0 ? -ENOSPC
								   : log_access(t, NULL, buf);
			if (!rc)
				rc = log_modified(t, c);
			c->recorded = true;
		}
		if (rc)
			goto fail;
		n = c;
		rest = end;
		while (*rest == '/')
			rest++;
	}
	return n;
fail:
	/* Partially created ancestors stay: they are valid, empty nodes. */
	*err = rc;
	return NULL;
}

int xs_tree_set_value(struct xs_tree *t, struct xs_node *n, const void *val, uint32_t len)
{
	char *v = malloc((size_t)len + 1);
	int rc;

	if (!v)
		return -ENOMEM;
	rc = log_change(t, n);
	if (rc) {
		free(v);
		return rc;
	}
	memcpy(v, val, len);
	v[len] = '\0';
	free(n->value);
	n->value = v;
	n->len = len;
	n->gen = next_gen(t);
	return 0;
}

int xs_tree_set_perms(struct xs_tree *t, struct xs_node *n, const struct xs_perm *p, uint32_t nr)
{
	struct xs_perm *np;
	int rc;

	if (nr < 1)
		return -EINVAL;
	np = malloc(nr * sizeof(*np));
	if (!np)
		return -ENOMEM;
	rc = log_change(t, n);
	if (rc) {
		free(np);
		return rc;
	}
	memcpy(np, p, nr * sizeof(*np));
	owner_add(t, n->perms[0].id, -1);
	owner_add(t, np[0].id, 1);
	free(n->perms);
	n->perms = np;
	n->nr_perms = nr;
	n->gen = next_gen(t);
	return 0;
}

/* Logs the removal of n's subtree (a transaction must see all of it). */
static int log_subtree(struct xs_tree *t, struct xs_node *n)
{
	uint32_t i;
	int rc = log_change(t, n);

	for (i = 0; !rc && i < n->nr_children; i++)
		rc = log_subtree(t, n->children[i]);
	return rc;
}

static void uncount_subtree(struct xs_tree *t, const struct xs_node *n)
{
	uint32_t i;

	for (i = 0; i < n->nr_children; i++)
		uncount_subtree(t, n->children[i]);
	t->nr_nodes--;
	owner_add(t, n->perms[0].id, -1);
}

int xs_tree_rm(struct xs_tree *t, struct xs_node *n)
{
	struct xs_node *parent = n->parent;
	uint32_t i;
	int rc;

	if (!parent)
		return -EINVAL;
	rc = log_access(t, parent, NULL);
	if (!rc && t->log)
		rc = log_subtree(t, n);
	if (rc)
		return rc;
	for (i = 0; i < parent->nr_children; i++)
		if (parent->children[i] == n)
			break;
	if (i < parent->nr_children) {
		memmove(&parent->children[i], &parent->children[i + 1],
			(parent->nr_children - i - 1) * sizeof(*parent->children));
		parent->nr_children--;
	}
	parent->gen = next_gen(t);
	uncount_subtree(t, n);
	node_free(n);
	return 0;
}

unsigned xs_perm_for(const struct xs_node *n, uint16_t domid, bool privileged)
{
	uint32_t i;

	if (privileged || n->perms[0].id == domid)
		return XS_PERM_OWNER | XS_PERM_BOTH;
	for (i = 1; i < n->nr_perms; i++)
		if (n->perms[i].id == domid)
			return n->perms[i].perm & XS_PERM_BOTH;
	return n->perms[0].perm & XS_PERM_BOTH;
}

static unsigned path_depth(const char *p)
{
	unsigned d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int mod_cmp(const void *a, const void *b)
{
	const char *pa = *(char *const *)a, *pb = *(char *const *)b;
	unsigned da = path_depth(pa), db = path_depth(pb);

	if (da != db)
		return da < db ? -1 : 1;
	return strcmp(pa, pb);
}

/* Field by field: struct xs_perm has a padding byte memcmp would read. */
static bool perms_equal(const struct xs_node *a, const struct xs_node *b)
{
	if (a->nr_perms != b->nr_perms)
		return false;
	for (unsigned i = 0; i < a->nr_perms; i++)
		if (a->perms[i].id != b->perms[i].id ||
		    a->perms[i].perm != b->perms[i].perm)
			return false;
	return true;
}

static int acc_cmp(const void *a, const void *b)
{
	const struct xs_access *const *pa = a, *const *pb = b;
	int c = strcmp((*pa)->path, (*pb)->path);

	if (c)
		return c;
	return *pa < *pb ? -1 : *pa > *pb;
}

/*
 * Checks that everything the transaction looked at is unchanged in t.  A
 * path may be in the log twice (removed, then created again: the second
 * record says "absent"); only the first record holds the state at the start.
 */
static int check_accesses(const struct xs_tree *t, const struct xs_txlog *log)
{
	const struct xs_access **sorted;
	size_t i;
	int rc = 0;

	if (!log->nr_acc)
		return 0;
	sorted = malloc(log->nr_acc * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < log->nr_acc; i++)
		sorted[i] = &log->acc[i];
	/* By path, then by log order (the entries live in one array). */
	qsort(sorted, log->nr_acc, sizeof(*sorted), acc_cmp);
	for (i = 0; i < log->nr_acc && !rc; i++) {
		const struct xs_node *n;

		if (i > 0 && strcmp(sorted[i]->path, sorted[i - 1]->path) == 0)
			continue;
		n = xs_tree_lookup(t, sorted[i]->path);
		if ((n ? n->gen : 0) != sorted[i]->gen)
			rc = -EAGAIN;
	}
	free(sorted);
	return rc;
}

int xs_tree_commit(struct xs_tree *t, const struct xs_tree *tx)
{
	const struct xs_txlog *log = tx->log;
	char **mods;
	size_t i;
	int rc = 0;

	if (!log)
		return -EINVAL;
	rc = check_accesses(t, log);
	if (rc)
		return rc;
	if (!log->nr_mod)
		return 0;
	/* Parents before children, so that creation finds its parent. */
	mods = malloc(log->nr_mod * sizeof(*mods));
	if (!mods)
		return -ENOMEM;
	memcpy(mods, log->mod, log->nr_mod * sizeof(*mods));
	qsort(mods, log->nr_mod, sizeof(*mods), mod_cmp);
	for (i = 0; i < log->nr_mod && !rc; i++) {
		const struct xs_node *tn = xs_tree_lookup(tx, mods[i]);
		struct xs_node *ln = xs_tree_lookup(t, mods[i]);

		if (!tn) {
			if (ln && ln->parent)
				rc = xs_tree_rm(t, ln);
			continue;
		}
		if (!ln) {
			/* The live tree has no quota here: the copy enforced it. */
			ln = xs_tree_create(t, mods[i], -1, &rc);
			if (!ln)
				break;
		}
		if (!perms_equal(ln, tn))
			rc = xs_tree_set_perms(t, ln, tn->perms, tn->nr_perms);
		if (!rc && (ln->len != tn->len || memcmp(ln->value, tn->value, tn->len)))
			rc = xs_tree_set_value(t, ln, tn->value, tn->len);
	}
	free(mods);
	return rc;
}
