/*
 * xenstore: connections, the operations of the wire protocol, watches,
 * transactions, the dom0 API and the ring transport.  See xenstore.h.
 *
 * Every guest message is copied once (into the connection's input buffer),
 * parsed by xs_msg_parse() into a private copy, and only that copy is used.
 */
#include "services/xenstore/xenstore.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "services/xenstore/xs_msg.h"

#define XS_HDR_SIZE sizeof(struct xsd_sockmsg)
#define XS_PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)

struct xs_out {
	struct xs_out *next;
	size_t len, off;
	char data[];
};

struct xs_watch {
	struct xs_watch *next;
	char *path;    /* canonical: absolute or "@..." */
	char *token;
	bool relative; /* registered relative: events are relative too */
	uint64_t id;
	xs_watch_fn fn; /* dom0 API watch */
	void *opaque;
};

/* A change to report when a transaction commits. */
struct xs_event {
	char *path;
	struct xs_perm *perms; /* of the node when it changed */
	uint32_t nr_perms;
	bool rm;
};

struct xs_txn {
	struct xs_txn *next;
	uint32_t id;
	struct xs_tree tree; /* private copy, with its access log */
	struct xs_event *events;
	size_t nr_events, cap_events;
};

struct xs_conn {
	struct xs_conn *next;
	struct xenstore *xs;
	uint16_t domid;
	bool privileged; /* pvisor itself (dom0 API) */
	bool broken;
	xs_kick_fn kick;
	void *kick_opaque;
	bool kick_pending;
	struct xs_watch *watches;
	unsigned nr_watches;
	struct xs_txn *txns;
	unsigned nr_txns;
	uint32_t next_txid;
	struct xs_out *out_head, *out_tail;
	size_t out_bytes;
	struct xs_conn_stats stats;
	char home[32]; /* /local/domain/<domid> */
	size_t in_len;
	char in[XS_HDR_SIZE + XENSTORE_PAYLOAD_MAX];
	struct xs_req req;     /* scratch: too big for the stack */
	struct xs_reply reply; /* scratch */
};

/* A dom0 watch callback waiting to run without the lock held. */
struct xs_pending {
	struct xs_pending *next;
	uint64_t watch_id;
	char *path;
	char *token;
};

struct xenstore {
	pthread_mutex_t lock;
	uint64_t gen;
	struct xs_tree tree;
	struct xs_conn *conns;
	struct xs_conn *dom0;
	struct xs_conn *active; /* the connection xs_ring_process is serving */
	struct xs_pending *pending_head, *pending_tail;
	uint64_t next_watch_id;
};

/* ------------------------------------------------------------------ */
/* Paths */

static bool valid_chars(const char *p)
{
	for (; *p; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' || ch == '_' ||
		      ch == '@'))
			return false;
	}
	return true;
}

/*
 * Turns a client's path into a canonical one in out[XS_PATH_BUF]: relative
 * paths resolve under the domain's home.  The rules are xenstored's
 * (is_valid_nodename): starts with '/' (or '@' for watches), no trailing
 * '/', no "//", characters [A-Za-z0-9-/_@], at most XENSTORE_ABS_PATH_MAX in
 * all and XENSTORE_REL_PATH_MAX below /local/domain/<id>/.
 */
static int path_canonical(const struct xs_conn *c, const char *in, bool special, char *out,
			  bool *relative)
{
	size_t len = strnlen(in, XS_PATH_BUF);
	unsigned domid;
	int off = 0, n;

	if (relative)
		*relative = false;
	if (len >= XS_PATH_BUF)
		return -EINVAL;
	if (in[0] == '@' && !special)
		return -EINVAL;
	if (in[0] == '/' || in[0] == '@') {
		memcpy(out, in, len + 1);
	} else {
		n = snprintf(out, XS_PATH_BUF, "%s/%s", c->home, in);
		if (n < 0 || n >= XS_PATH_BUF)
			return -EINVAL;
		len = (size_t)n;
		if (relative)
			*relative = true;
	}
	if (out[0] == '@')
		return len > 1 && valid_chars(out) && !strchr(out, '/') ? 0 : -EINVAL;
	if (len > 1 && out[len - 1] == '/')
		return -EINVAL;
	if (strstr(out, "//") || !valid_chars(out))
		return -EINVAL;
	if (sscanf(out, "/local/domain/%5u/%n", &domid, &off) != 1 || off == 0)
		off = 0;
	if (len - (size_t)off > XENSTORE_REL_PATH_MAX)
		return -EINVAL;
	return 0;
}

/* Is child equal to parent or below it? */
static bool is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (len == 1 && parent[0] == '/')
		return child[0] == '/';
	return strncmp(child, parent, len) == 0 && (child[len] == '\0' || child[len] == '/');
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* ------------------------------------------------------------------ */
/* Locking and deferred callbacks */

static void xs_lock(struct xenstore *xs)
{
	pthread_mutex_lock(&xs->lock);
}

static struct xs_watch *watch_by_id(struct xs_conn *c, uint64_t id)
{
	struct xs_watch *w;

	for (w = c->watches; w; w = w->next)
		if (w->id == id)
			return w;
	return NULL;
}

/*
 * Drops the lock, then runs what was deferred: dom0 watch callbacks (one at a
 * time, looking the watch up again so that an unwatched one stays silent)
 * and kicks for connections that got output from elsewhere.
 */
static void xs_unlock(struct xenstore *xs)
{
	struct xs_pending *p;
	struct xs_conn *c;

	for (;;) {
		xs_kick_fn kick = NULL;
		void *kick_opaque = NULL;
		xs_watch_fn fn = NULL;
		void *opaque = NULL;

		p = xs->pending_head;
		if (p) {
			struct xs_watch *w = watch_by_id(xs->dom0, p->watch_id);

			xs->pending_head = p->next;
			if (!xs->pending_head)
				xs->pending_tail = NULL;
			if (w) {
				fn = w->fn;
				opaque = w->opaque;
			}
		} else {
			for (c = xs->conns; c; c = c->next) {
				if (c->kick_pending) {
					c->kick_pending = false;
					kick = c->kick;
					kick_opaque = c->kick_opaque;
					if (kick)
						break;
				}
			}
			if (!kick) {
				pthread_mutex_unlock(&xs->lock);
				return;
			}
		}
		pthread_mutex_unlock(&xs->lock);
		if (p) {
			if (fn)
				fn(opaque, p->path, p->token);
			free(p->path);
			free(p->token);
			free(p);
		} else {
			kick(kick_opaque);
		}
		pthread_mutex_lock(&xs->lock);
	}
}

/* ------------------------------------------------------------------ */
/* Output */

static int out_queue(struct xs_conn *c, const struct xs_reply *r, bool event)
{
	size_t len = xs_reply_size(r);
	struct xs_out *o;

	if (c->broken)
		return 0;
	if (event && c->out_bytes + len > XS_OUT_MAX) {
		c->stats.events_dropped++;
		log_guest("xenstore: dom%u: output full, watch event dropped", c->domid);
		return -ENOSPC;
	}
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->len = len;
	o->off = 0;
	memcpy(o->data, r, len);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += len;
	if (c != c->xs->active)
		c->kick_pending = true;
	return 0;
}

static void out_drop(struct xs_conn *c)
{
	struct xs_out *o;

	while ((o = c->out_head)) {
		c->out_head = o->next;
		free(o);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
}

static void reply_error(struct xs_conn *c, int err)
{
	xs_reply_error(&c->reply, &c->req.hdr, err < 0 ? -err : err);
	c->stats.errors++;
	(void)out_queue(c, &c->reply, false);
}

static void reply_ok(struct xs_conn *c)
{
	xs_reply_init(&c->reply, c->req.hdr.type, &c->req.hdr);
	if (xs_reply_add_str(&c->reply, "OK"))
		return;
	(void)out_queue(c, &c->reply, false);
}

/* ------------------------------------------------------------------ */
/* Watches */

static void watch_free(struct xs_watch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

static void deliver(struct xs_conn *c, struct xs_watch *w, const char *path)
{
	struct xs_reply *r;
	struct xs_pending *p;

	if (w->relative && is_child(path, c->home) && path[strlen(c->home)] == '/')
		path += strlen(c->home) + 1;
	if (w->fn) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->watch_id = w->id;
		p->path = strdup(path);
		p->token = strdup(w->token);
		if (!p->path || !p->token) {
			free(p->path);
			free(p->token);
			free(p);
			return;
		}
		if (c->xs->pending_tail)
			c->xs->pending_tail->next = p;
		else
			c->xs->pending_head = p;
		c->xs->pending_tail = p;
		return;
	}
	r = malloc(sizeof(*r));
	if (!r)
		return;
	xs_reply_init(r, XS_WATCH_EVENT, NULL);
	/* A path + token that cannot fit one message is not sent at all. */
	if (xs_reply_add_str(r, path) || xs_reply_add_str(r, w->token)) {
		c->stats.events_dropped++;
	} else if (!out_queue(c, r, true)) {
		c->stats.events++;
	}
	free(r);
}

static unsigned perm_of(const struct xs_perm *p, uint32_t nr, uint16_t domid, bool priv)
{
	struct xs_node n = { .perms = (struct xs_perm *)p, .nr_perms = nr };

	return xs_perm_for(&n, domid, priv);
}

/*
 * Reports a change of path to every matching watch.  A watch matches when
 * path is its node or below it, or, for a removal, when the watch is below
 * the removed node (it then reports its own path).  A connection sees the
 * event only if it may read the node (perms: the node's permissions when it
 * changed), so watches cannot be used to probe unreadable nodes.
 */
static void fire(struct xenstore *xs, const char *path, const struct xs_perm *perms,
		 uint32_t nr_perms, bool rm)
{
	struct xs_conn *c;
	struct xs_watch *w;

	for (c = xs->conns; c; c = c->next) {
		if (c->broken)
			continue;
		if (path[0] != '@' && perms &&
		    !(perm_of(perms, nr_perms, c->domid, c->privileged) & XS_PERM_READ))
			continue;
		for (w = c->watches; w; w = w->next) {
			if (path[0] == '@' || w->path[0] == '@') {
				if (strcmp(path, w->path) == 0)
					deliver(c, w, path);
			} else if (is_child(path, w->path)) {
				deliver(c, w, path);
			} else if (rm && is_child(w->path, path)) {
				deliver(c, w, w->path);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Transactions */

static void event_free(struct xs_event *e)
{
	free(e->path);
	free(e->perms);
}

static void txn_free(struct xs_txn *t)
{
	size_t i;

	for (i = 0; i < t->nr_events; i++)
		event_free(&t->events[i]);
	free(t->events);
	xs_tree_destroy(&t->tree);
	free(t);
}

static struct xs_txn *txn_find(struct xs_conn *c, uint32_t id)
{
	struct xs_txn *t;

	for (t = c->txns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static void txn_unlink(struct xs_conn *c, struct xs_txn *t)
{
	struct xs_txn **pp;

	for (pp = &c->txns; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			c->nr_txns--;
			return;
		}
	}
}

/*
 * Reports a change: now, or at commit when made inside a transaction.
 * perms are the node's permissions to judge who may see the event.
 */
static int notify_change(struct xenstore *xs, struct xs_txn *t, const char *path,
			 const struct xs_node *n, bool rm)
{
	struct xs_event *e;

	if (!t) {
		fire(xs, path, n->perms, n->nr_perms, rm);
		return 0;
	}
	if (t->nr_events >= XS_TXLOG_MAX)
		return -ENOSPC;
	if (t->nr_events == t->cap_events) {
		size_t cap = t->cap_events ? 2 * t->cap_events : 8;

		e = realloc(t->events, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->events = e;
		t->cap_events = cap;
	}
	e = &t->events[t->nr_events];
	e->path = strdup(path);
	e->perms = malloc(n->nr_perms * sizeof(*e->perms));
	if (!e->path || !e->perms) {
		free(e->path);
		free(e->perms);
		return -ENOMEM;
	}
	memcpy(e->perms, n->perms, n->nr_perms * sizeof(*e->perms));
	e->nr_perms = n->nr_perms;
	e->rm = rm;
	t->nr_events++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Operations.  Each returns 0 after queueing its reply, or -errno for an
 * error reply. */

/*
 * Finds path for an access needing perm.  Like xenstored, a missing node is
 * reported as ENOENT only to a caller that has that access to the deepest
 * existing ancestor; anyone else gets EACCES and learns nothing.
 */
static struct xs_node *get_node(struct xs_conn *c, struct xs_tree *tree, const char *path,
				unsigned perm, int *err)
{
	struct xs_node *n = xs_tree_get(tree, path, err);
	unsigned need = perm & XS_PERM_BOTH;

	if (n) {
		if ((xs_perm_for(n, c->domid, c->privileged) & perm) != perm) {
			*err = -EACCES;
			return NULL;
		}
		return n;
	}
	if (*err == -ENOENT) {
		n = xs_tree_nearest(tree, path);
		if ((xs_perm_for(n, c->domid, c->privileged) & need) != need)
			*err = -EACCES;
	}
	return NULL;
}

static struct xs_tree *tree_of(struct xs_conn *c, struct xs_txn *t)
{
	return t ? &t->tree : &c->xs->tree;
}

/* Creates path for c, enforcing its node quota. */
static struct xs_node *create(struct xs_conn *c, struct xs_tree *tree, const char *path,
			      int *err)
{
	unsigned missing = xs_tree_missing(tree, path);

	if (!c->privileged && xs_tree_owned(tree, c->domid) + missing > XS_QUOTA_NODES) {
		*err = -ENOSPC;
		return NULL;
	}
	return xs_tree_create(tree, path, c->privileged ? -1 : c->domid, err);
}

static int op_read(struct xs_conn *c, struct xs_txn *t, const char *path)
{
	int err = 0;
	struct xs_node *n = get_node(c, tree_of(c, t), path, XS_PERM_READ, &err);

	if (!n)
		return err;
	xs_reply_init(&c->reply, XS_READ, &c->req.hdr);
	if (xs_reply_add(&c->reply, n->value, n->len))
		return -E2BIG;
	return out_queue(c, &c->reply, false);
}

static int do_write(struct xs_conn *c, struct xs_txn *t, const char *path, const void *val,
		    size_t len, bool is_mkdir)
{
	struct xs_tree *tree = tree_of(c, t);
	struct xs_node *n;
	int err = 0;

	if (len > XS_QUOTA_VALUE)
		return c->privileged ? -E2BIG : -ENOSPC;
	n = get_node(c, tree, path, XS_PERM_WRITE, &err);
	if (!n) {
		if (err != -ENOENT)
			return err;
		n = create(c, tree, path, &err);
		if (!n)
			return err;
		if (is_mkdir)
			return notify_change(c->xs, t, path, n, false);
	} else if (is_mkdir) {
		return 0; /* exists already: fine */
	}
	err = xs_tree_set_value(tree, n, val, (uint32_t)len);
	if (err)
		return err;
	return notify_change(c->xs, t, path, n, false);
}

static int do_rm(struct xs_conn *c, struct xs_txn *t, const char *path)
{
	struct xs_tree *tree = tree_of(c, t);
	struct xs_perm *perms;
	struct xs_node *n;
	uint32_t nr;
	int err = 0;

	if (strcmp(path, "/") == 0)
		return -EINVAL;
	n = get_node(c, tree, path, XS_PERM_WRITE, &err);
	if (!n) {
		char parent[XS_PATH_BUF];
		char *slash;

		if (err != -ENOENT)
			return err;
		/* Removing a missing node is fine if its parent exists. */
		strcpy(parent, path);
		slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		return xs_tree_get(tree, parent, &err) ? 0 : -ENOENT;
	}
	/* The removed node's permissions decide who hears of it. */
	nr = n->nr_perms;
	perms = malloc(nr * sizeof(*perms));
	if (!perms)
		return -ENOMEM;
	memcpy(perms, n->perms, nr * sizeof(*perms));
	err = xs_tree_rm(tree, n);
	if (!err) {
		struct xs_node tmp = { .perms = perms, .nr_perms = nr };

		err = notify_change(c->xs, t, path, &tmp, true);
	}
	free(perms);
	return err;
}

/* Parses "r5"-style permission strings (Xen's xs_strings_to_perms). */
static int parse_perms(const char *const *args, unsigned nr, struct xs_perm *out)
{
	unsigned i;
	unsigned long id;

	for (i = 0; i < nr; i++) {
		switch (args[i][0]) {
		case 'n': out[i].perm = XS_PERM_NONE; break;
		case 'r': out[i].perm = XS_PERM_READ; break;
		case 'w': out[i].perm = XS_PERM_WRITE; break;
		case 'b': out[i].perm = XS_PERM_BOTH; break;
		default: return -EINVAL;
		}
		if (!parse_uint(args[i] + 1, 0xffff, &id))
			return -EINVAL;
		out[i].id = (uint16_t)id;
	}
	return 0;
}

static int do_set_perms(struct xs_conn *c, struct xs_txn *t, const char *path,
			const struct xs_perm *perms, unsigned nr)
{
	struct xs_tree *tree = tree_of(c, t);
	struct xs_perm *old;
	struct xs_node *n;
	uint32_t nr_old;
	int err = 0;

	if (!c->privileged && nr > XS_QUOTA_PERMS)
		return -ENOSPC;
	n = get_node(c, tree, path, XS_PERM_WRITE | XS_PERM_OWNER, &err);
	if (!n)
		return err;
	/* Unprivileged domains may not give their nodes away (xenstored). */
	if (!c->privileged && perms[0].id != n->perms[0].id)
		return -EPERM;
	nr_old = n->nr_perms;
	old = malloc(nr_old * sizeof(*old));
	if (!old)
		return -ENOMEM;
	memcpy(old, n->perms, nr_old * sizeof(*old));
	err = xs_tree_set_perms(tree, n, perms, nr);
	if (!err) {
		/* Those who could read the node before hear of the change. */
		struct xs_node tmp = { .perms = old, .nr_perms = nr_old };

		err = notify_change(c->xs, t, path, &tmp, false);
	}
	free(old);
	return err;
}

static int do_watch(struct xs_conn *c, const char *path, bool relative, const char *token,
		    xs_watch_fn fn, void *opaque)
{
	struct xs_watch *w, **pp;

	if (!c->privileged && c->nr_watches >= XS_QUOTA_WATCHES)
		return -E2BIG;
	for (w = c->watches; w; w = w->next)
		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
			return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		watch_free(w);
		return -ENOMEM;
	}
	w->relative = relative;
	w->id = ++c->xs->next_watch_id;
	w->fn = fn;
	w->opaque = opaque;
	/* Append: events for one change go out in registration order. */
	for (pp = &c->watches; *pp; pp = &(*pp)->next)
		;
	*pp = w;
	c->nr_watches++;
	return 0;
}

static int do_unwatch(struct xs_conn *c, const char *path, const char *token)
{
	struct xs_watch **pp, *w;

	for (pp = &c->watches; (w = *pp); pp = &w->next) {
		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
			*pp = w->next;
			c->nr_watches--;
			watch_free(w);
			return 0;
		}
	}
	return -ENOENT;
}

static void drop_watches_and_txns(struct xs_conn *c)
{
	struct xs_watch *w;
	struct xs_txn *t;

	while ((w = c->watches)) {
		c->watches = w->next;
		watch_free(w);
	}
	c->nr_watches = 0;
	while ((t = c->txns)) {
		c->txns = t->next;
		txn_free(t);
	}
	c->nr_txns = 0;
}

static int op_transaction_start(struct xs_conn *c, struct xs_txn *cur)
{
	struct xs_txn *t;
	char id[16];
	int err;

	if (cur)
		return -EBUSY;
	if (!c->privileged && c->nr_txns >= XS_QUOTA_TRANSACTIONS)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = xs_tree_clone(&t->tree, &c->xs->tree);
	if (err) {
		free(t);
		return err;
	}
	/* Ids are never 0 and never reused while open. */
	do {
		t->id = c->next_txid++;
	} while (t->id == 0 || txn_find(c, t->id));
	t->next = c->txns;
	c->txns = t;
	c->nr_txns++;
	snprintf(id, sizeof(id), "%u", t->id);
	xs_reply_init(&c->reply, XS_TRANSACTION_START, &c->req.hdr);
	if (xs_reply_add_str(&c->reply, id))
		return -E2BIG;
	return out_queue(c, &c->reply, false);
}

static int op_transaction_end(struct xs_conn *c, struct xs_txn *t, const char *arg)
{
	bool commit;
	size_t i;
	int err = 0;

	if (strcmp(arg, "T") == 0)
		commit = true;
	else if (strcmp(arg, "F") == 0)
		commit = false;
	else
		return -EINVAL;
	if (!t)
		return -ENOENT;
	txn_unlink(c, t);
	if (commit) {
		err = xs_tree_commit(&c->xs->tree, &t->tree);
		for (i = 0; !err && i < t->nr_events; i++) {
			const struct xs_event *e = &t->events[i];

			fire(c->xs, e->path, e->perms, e->nr_perms, e->rm);
		}
	}
	txn_free(t);
	if (err)
		return err;
	reply_ok(c);
	return 0;
}

static int op_get_perms(struct xs_conn *c, struct xs_txn *t, const char *path)
{
	int err = 0;
	struct xs_node *n = get_node(c, tree_of(c, t), path, XS_PERM_READ, &err);
	static const char letters[] = "nrwb";
	uint32_t i;

	if (!n)
		return err;
	xs_reply_init(&c->reply, XS_GET_PERMS, &c->req.hdr);
	for (i = 0; i < n->nr_perms; i++) {
		char s[16];

		snprintf(s, sizeof(s), "%c%u", letters[n->perms[i].perm & 3], n->perms[i].id);
		if (xs_reply_add_str(&c->reply, s))
			return -E2BIG;
	}
	return out_queue(c, &c->reply, false);
}

/* The NUL-separated child names of n into r; -E2BIG if they do not fit. */
static int add_children(struct xs_reply *r, const struct xs_node *n, size_t skip_bytes,
			bool partial)
{
	uint32_t i;
	size_t pos = 0;

	for (i = 0; i < n->nr_children; i++) {
		const char *name = n->children[i]->name;
		size_t l = strlen(name) + 1;

		if (pos >= skip_bytes) {
			/* DIRECTORY_PART keeps one byte for its end marker. */
			if (partial && r->hdr.len + l + 1 > XENSTORE_PAYLOAD_MAX)
				return 1; /* more to come */
			if (xs_reply_add(r, name, l))
				return -E2BIG;
		}
		pos += l;
	}
	return 0;
}

static int op_directory(struct xs_conn *c, struct xs_txn *t, const char *path)
{
	int err = 0;
	struct xs_node *n = get_node(c, tree_of(c, t), path, XS_PERM_READ, &err);

	if (!n)
		return err;
	xs_reply_init(&c->reply, XS_DIRECTORY, &c->req.hdr);
	err = add_children(&c->reply, n, 0, false);
	if (err)
		return err;
	return out_queue(c, &c->reply, false);
}

/*
 * DIRECTORY_PART <path>|<offset>| -> <generation>|<names...>: names from
 * byte offset of the full listing; an empty name ends a complete listing.
 */
static int op_directory_part(struct xs_conn *c, struct xs_txn *t, const char *path,
			     const char *offset)
{
	int err = 0;
	struct xs_node *n = get_node(c, tree_of(c, t), path, XS_PERM_READ, &err);
	unsigned long off;
	char gen[24];

	if (!n)
		return err;
	if (!parse_uint(offset, XENSTORE_PAYLOAD_MAX * 1024ul, &off))
		return -EINVAL;
	xs_reply_init(&c->reply, XS_DIRECTORY_PART, &c->req.hdr);
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)n->gen);
	if (xs_reply_add_str(&c->reply, gen))
		return -E2BIG;
	err = add_children(&c->reply, n, off, true);
	if (err < 0)
		return err;
	if (err == 0 && xs_reply_add(&c->reply, "", 1))
		return -E2BIG;
	return out_queue(c, &c->reply, false);
}

static int op_get_domain_path(struct xs_conn *c, const char *arg)
{
	unsigned long id;
	char path[32];

	if (!parse_uint(arg, 0xffff, &id))
		return -EINVAL;
	snprintf(path, sizeof(path), "/local/domain/%lu", id);
	xs_reply_init(&c->reply, XS_GET_DOMAIN_PATH, &c->req.hdr);
	if (xs_reply_add_str(&c->reply, path))
		return -E2BIG;
	return out_queue(c, &c->reply, false);
}

static struct xs_conn *conn_by_domid(struct xenstore *xs, uint16_t domid)
{
	struct xs_conn *c;

	for (c = xs->conns; c; c = c->next)
		if (!c->privileged && c->domid == domid)
			return c;
	return NULL;
}

static int op_is_domain_introduced(struct xs_conn *c, const char *arg)
{
	unsigned long id;

	if (!parse_uint(arg, 0xffff, &id))
		return -EINVAL;
	xs_reply_init(&c->reply, XS_IS_DOMAIN_INTRODUCED, &c->req.hdr);
	if (xs_reply_add_str(&c->reply, id == 0 || conn_by_domid(c->xs, (uint16_t)id) ? "T" : "F"))
		return -E2BIG;
	return out_queue(c, &c->reply, false);
}

/* Requests only dom0 may make (xenstored's XS_FLAG_PRIV). */
static bool type_privileged(uint32_t type)
{
	switch (type) {
	case XS_CONTROL:
	case XS_INTRODUCE:
	case XS_RELEASE:
	case XS_IS_DOMAIN_INTRODUCED:
	case XS_RESUME:
	case XS_SET_TARGET:
		return true;
	default:
		return false;
	}
}

static int process(struct xs_conn *c)
{
	struct xs_req *req = &c->req;
	uint32_t type = req->hdr.type;
	char path[XS_PATH_BUF];
	struct xs_txn *t = NULL;
	struct xs_perm perms[XS_MSG_MAX_ARGS];
	bool relative;
	int err;

	if (type_privileged(type) && !c->privileged)
		return -EACCES;
	/* WATCH and UNWATCH ignore tx_id; everything else names a live one. */
	if (type != XS_WATCH && type != XS_UNWATCH && req->hdr.tx_id != 0) {
		t = txn_find(c, req->hdr.tx_id);
		if (!t)
			return -ENOENT;
	}

	switch (type) {
	case XS_READ:
	case XS_WRITE:
	case XS_MKDIR:
	case XS_RM:
	case XS_DIRECTORY:
	case XS_DIRECTORY_PART:
	case XS_GET_PERMS:
	case XS_SET_PERMS:
		err = path_canonical(c, req->args[0], false, path, NULL);
		if (err)
			return err;
		break;
	default:
		break;
	}

	switch (type) {
	case XS_READ:
		return op_read(c, t, path);
	case XS_WRITE:
		err = do_write(c, t, path, req->data, req->data_len, false);
		break;
	case XS_MKDIR:
		err = do_write(c, t, path, "", 0, true);
		break;
	case XS_RM:
		err = do_rm(c, t, path);
		break;
	case XS_DIRECTORY:
		return op_directory(c, t, path);
	case XS_DIRECTORY_PART:
		return op_directory_part(c, t, path, req->args[1]);
	case XS_GET_PERMS:
		return op_get_perms(c, t, path);
	case XS_SET_PERMS:
		err = parse_perms(&req->args[1], req->nr_args - 1, perms);
		if (!err)
			err = do_set_perms(c, t, path, perms, req->nr_args - 1);
		break;
	case XS_WATCH:
		err = path_canonical(c, req->args[0], true, path, &relative);
		if (err)
			return err;
		err = do_watch(c, path, relative, req->args[1], NULL, NULL);
		if (err)
			return err;
		reply_ok(c);
		/* Xen fires every new watch once, with the path as given. */
		{
			struct xs_watch *w;

			for (w = c->watches; w->next; w = w->next)
				;
			deliver(c, w, path);
		}
		return 0;
	case XS_UNWATCH:
		err = path_canonical(c, req->args[0], true, path, NULL);
		if (!err)
			err = do_unwatch(c, path, req->args[1]);
		break;
	case XS_TRANSACTION_START:
		return op_transaction_start(c, t);
	case XS_TRANSACTION_END:
		return op_transaction_end(c, t, req->args[0]);
	case XS_GET_DOMAIN_PATH:
		return op_get_domain_path(c, req->args[0]);
	case XS_IS_DOMAIN_INTRODUCED:
		return op_is_domain_introduced(c, req->args[0]);
	case XS_RESET_WATCHES:
		drop_watches_and_txns(c);
		err = 0;
		break;
	default:
		/* CONTROL, INTRODUCE, RELEASE, RESUME, SET_TARGET from dom0:
		 * pvisor introduces domains through its own API. */
		return -ENOSYS;
	}
	if (err)
		return err;
	reply_ok(c);
	return 0;
}

/* Handles the complete message in c->in; -EPROTO if the framing is broken. */
static int handle_message(struct xs_conn *c, const void *msg, size_t len)
{
	int err = xs_msg_parse(msg, len, &c->req);

	c->stats.requests++;
	if (err == -EPROTO)
		return err;
	if (!err)
		err = process(c);
	if (err)
		reply_error(c, err);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Connections */

static struct xs_conn *conn_alloc(struct xenstore *xs, uint16_t domid, bool privileged)
{
	struct xs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->xs = xs;
	c->domid = domid;
	c->privileged = privileged;
	c->next_txid = 1;
	snprintf(c->home, sizeof(c->home), "/local/domain/%u", domid);
	c->next = xs->conns;
	xs->conns = c;
	return c;
}

static void conn_destroy(struct xs_conn *c)
{
	struct xs_conn **pp;

	for (pp = &c->xs->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	drop_watches_and_txns(c);
	out_drop(c);
	free(c);
}

static int dom0_mknode(struct xenstore *xs, const char *path, const char *value,
		       const struct xs_perm *perms, unsigned nr);
static int dom0_path(struct xenstore *xs, const char *in, char *out);

struct xenstore *xs_new(void)
{
	static const struct xs_perm n0 = { 0, XS_PERM_NONE };
	struct xenstore *xs = calloc(1, sizeof(*xs));

	if (!xs)
		return NULL;
	pthread_mutex_init(&xs->lock, NULL);
	if (xs_tree_init(&xs->tree, &xs->gen))
		goto fail;
	xs->dom0 = conn_alloc(xs, 0, true);
	if (!xs->dom0)
		goto fail;
	if (dom0_mknode(xs, "/local/domain", NULL, &n0, 1) ||
	    dom0_mknode(xs, "/tool/xenstored", NULL, &n0, 1))
		goto fail;
	return xs;
fail:
	xs_free(xs);
	return NULL;
}

void xs_free(struct xenstore *xs)
{
	struct xs_pending *p;

	if (!xs)
		return;
	while (xs->conns)
		conn_destroy(xs->conns);
	while ((p = xs->pending_head)) {
		xs->pending_head = p->next;
		free(p->path);
		free(p->token);
		free(p);
	}
	xs_tree_destroy(&xs->tree);
	pthread_mutex_destroy(&xs->lock);
	free(xs);
}

struct xs_conn *xs_conn_new(struct xenstore *xs, uint16_t domid, xs_kick_fn kick, void *opaque)
{
	struct xs_conn *c = NULL;

	if (domid == 0)
		return NULL;
	xs_lock(xs);
	if (!conn_by_domid(xs, domid)) {
		c = conn_alloc(xs, domid, false);
		if (c) {
			c->kick = kick;
			c->kick_opaque = opaque;
			fire(xs, "@introduceDomain", NULL, 0, false);
		}
	}
	xs_unlock(xs);
	return c;
}

struct xs_conn *xs_conn_new_dom0(struct xenstore *xs, xs_kick_fn kick, void *opaque)
{
	struct xs_conn *c;

	xs_lock(xs);
	c = conn_alloc(xs, 0, true);
	if (c) {
		c->kick = kick;
		c->kick_opaque = opaque;
	}
	xs_unlock(xs);
	return c;
}

void xs_conn_free(struct xs_conn *c)
{
	struct xenstore *xs;
	bool domain;

	if (!c)
		return;
	xs = c->xs;
	domain = !c->privileged;
	xs_lock(xs);
	conn_destroy(c);
	if (domain)
		fire(xs, "@releaseDomain", NULL, 0, false);
	xs_unlock(xs);
}

bool xs_conn_broken(const struct xs_conn *c)
{
	return c->broken;
}

void xs_conn_stats(const struct xs_conn *c, struct xs_conn_stats *st)
{
	/* Another thread may be queueing a watch event for c. */
	xs_lock(c->xs);
	*st = c->stats;
	st->out_bytes = c->out_bytes;
	st->watches = c->nr_watches;
	st->transactions = c->nr_txns;
	pthread_mutex_unlock(&c->xs->lock);
}

static void conn_break(struct xs_conn *c, const char *why)
{
	log_guest("xenstore: dom%u: %s; connection ignored", c->domid, why);
	c->broken = true;
	out_drop(c);
}

int xs_conn_input(struct xs_conn *c, const void *msg, size_t len)
{
	struct xenstore *xs = c->xs;
	int err = -EPROTO;

	xs_lock(xs);
	if (!c->broken) {
		err = handle_message(c, msg, len);
		if (err)
			conn_break(c, "malformed message");
	}
	xs_unlock(xs);
	return err;
}

size_t xs_conn_output(struct xs_conn *c, void *buf, size_t size)
{
	struct xenstore *xs = c->xs;
	size_t done = 0;
	struct xs_out *o;

	xs_lock(xs);
	while (done < size && (o = c->out_head)) {
		size_t n = o->len - o->off;

		if (n > size - done)
			n = size - done;
		memcpy((char *)buf + done, o->data + o->off, n);
		o->off += n;
		done += n;
		c->out_bytes -= n;
		if (o->off == o->len) {
			c->out_head = o->next;
			if (!c->out_head)
				c->out_tail = NULL;
			free(o);
		}
	}
	xs_unlock(xs);
	return done;
}

/* ------------------------------------------------------------------ */
/* The ring */

void xs_ring_init(struct xenstore_domain_interface *ring)
{
	ring->req_cons = ring->req_prod = 0;
	ring->rsp_cons = ring->rsp_prod = 0;
	ring->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR;
	ring->connection = XENSTORE_CONNECTED;
	ring->error = XENSTORE_ERROR_NONE;
}

static XENSTORE_RING_IDX idx_load(const XENSTORE_RING_IDX *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void idx_store(XENSTORE_RING_IDX *p, XENSTORE_RING_IDX v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void ring_fail(struct xs_conn *c, struct xenstore_domain_interface *ring, uint32_t err,
		      const char *why)
{
	conn_break(c, why);
	__atomic_store_n(&ring->error, err, __ATOMIC_RELAXED);
}

/* Copies up to len bytes from the request ring; bytes copied, or -EPROTO. */
static int ring_read(struct xenstore_domain_interface *ring, void *dst, size_t len)
{
	XENSTORE_RING_IDX cons = idx_load(&ring->req_cons);
	XENSTORE_RING_IDX prod = idx_load(&ring->req_prod);
	uint32_t avail = prod - cons, off, first;

	if (avail > XENSTORE_RING_SIZE)
		return -EPROTO;
	/* Read the data only after seeing prod (pairs with the guest's wmb). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (len > avail)
		len = avail;
	off = MASK_XENSTORE_IDX(cons);
	first = XENSTORE_RING_SIZE - off;
	if (first > len)
		first = (uint32_t)len;
	memcpy(dst, ring->req + off, first);
	memcpy((char *)dst + first, ring->req, len - first);
	/* Finish reading before the guest may reuse the space. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	idx_store(&ring->req_cons, cons + (uint32_t)len);
	return (int)len;
}

/* Copies up to len bytes into the response ring; bytes copied, or -EPROTO. */
static int ring_write(struct xenstore_domain_interface *ring, const void *src, size_t len)
{
	XENSTORE_RING_IDX cons = idx_load(&ring->rsp_cons);
	XENSTORE_RING_IDX prod = idx_load(&ring->rsp_prod);
	uint32_t used = prod - cons, space, off, first;

	if (used > XENSTORE_RING_SIZE)
		return -EPROTO;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	space = XENSTORE_RING_SIZE - used;
	if (len > space)
		len = space;
	off = MASK_XENSTORE_IDX(prod);
	first = XENSTORE_RING_SIZE - off;
	if (first > len)
		first = (uint32_t)len;
	memcpy(ring->rsp + off, src, first);
	memcpy(ring->rsp, (const char *)src + first, len - first);
	/* Data before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	idx_store(&ring->rsp_prod, prod + (uint32_t)len);
	return (int)len;
}

/* One step of output; >0 if bytes moved, 0 if none, -EPROTO. */
static int ring_output(struct xs_conn *c, struct xenstore_domain_interface *ring)
{
	struct xs_out *o = c->out_head;
	int n;

	if (!o)
		return 0;
	n = ring_write(ring, o->data + o->off, o->len - o->off);
	if (n <= 0)
		return n;
	o->off += (size_t)n;
	c->out_bytes -= (size_t)n;
	if (o->off == o->len) {
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(o);
	}
	return n;
}

/* One step of input; >0 if bytes moved, 0 if none, -EPROTO. */
static int ring_input(struct xs_conn *c, struct xenstore_domain_interface *ring,
		      const char **why)
{
	struct xsd_sockmsg hdr;
	size_t want;
	int n;

	if (c->in_len < XS_HDR_SIZE) {
		want = XS_HDR_SIZE - c->in_len;
	} else {
		memcpy(&hdr, c->in, sizeof(hdr));
		want = XS_HDR_SIZE + hdr.len - c->in_len;
	}
	n = ring_read(ring, c->in + c->in_len, want);
	if (n < 0) {
		*why = "request ring indexes out of range";
		return n;
	}
	c->in_len += (size_t)n;
	if (c->in_len < XS_HDR_SIZE)
		return n;
	/* Our copy of the header: validated once, then trusted. */
	memcpy(&hdr, c->in, sizeof(hdr));
	if (hdr.len > XENSTORE_PAYLOAD_MAX) {
		*why = "message longer than XENSTORE_PAYLOAD_MAX";
		return -E2BIG;
	}
	if (c->in_len == XS_HDR_SIZE + hdr.len) {
		c->in_len = 0;
		if (handle_message(c, c->in, XS_HDR_SIZE + hdr.len)) {
			*why = "malformed message";
			return -EPROTO;
		}
		return n ? n : 1; /* an empty payload completes a message too */
	}
	return n;
}

/* The guest asked to reconnect (XENSTORE_RECONNECT): start afresh. */
static void ring_reconnect(struct xs_conn *c, struct xenstore_domain_interface *ring)
{
	drop_watches_and_txns(c);
	out_drop(c);
	c->in_len = 0;
	c->broken = false;
	idx_store(&ring->req_cons, 0);
	idx_store(&ring->req_prod, 0);
	idx_store(&ring->rsp_cons, 0);
	idx_store(&ring->rsp_prod, 0);
	__atomic_store_n(&ring->error, XENSTORE_ERROR_NONE, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&ring->connection, XENSTORE_CONNECTED, __ATOMIC_RELAXED);
}

int xs_ring_process(struct xenstore *xs, struct xs_conn *c, struct xenstore_domain_interface *ring)
{
	bool notify = false;
	const char *why = NULL;
	int n;

	xs_lock(xs);
	if (__atomic_load_n(&ring->connection, __ATOMIC_RELAXED) == XENSTORE_RECONNECT) {
		ring_reconnect(c, ring);
		notify = true;
	}
	if (c->broken)
		goto out;
	xs->active = c;
	for (;;) {
		bool progress = false;

		n = ring_output(c, ring);
		if (n < 0) {
			ring_fail(c, ring, XENSTORE_ERROR_RINGIDX,
				  "response ring indexes out of range");
			notify = true;
			break;
		}
		if (n > 0)
			progress = notify = true;
		/* Replies must drain before more requests are taken. */
		if (c->out_bytes <= XS_OUT_SOFT) {
			n = ring_input(c, ring, &why);
			if (n < 0) {
				ring_fail(c, ring,
					  n == -E2BIG ? XENSTORE_ERROR_PROTO : XENSTORE_ERROR_RINGIDX,
					  why);
				notify = true;
				break;
			}
			if (n > 0)
				progress = notify = true;
		}
		if (!progress)
			break;
	}
	xs->active = NULL;
	c->kick_pending = false;
out:
	xs_unlock(xs);
	return notify ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* dom0 API */

static int dom0_path(struct xenstore *xs, const char *in, char *out)
{
	return path_canonical(xs->dom0, in, false, out, NULL);
}

/*
 * Resolves path for dom0 and takes the store lock.  0 with *n the node and
 * the lock held (the caller unlocks), or -errno with the lock released.
 */
static int dom0_lookup_locked(struct xenstore *xs, const char *path,
			      struct xs_node **n)
{
	char p[XS_PATH_BUF];
	int err = dom0_path(xs, path, p);

	if (err)
		return err;
	xs_lock(xs);
	*n = xs_tree_lookup(&xs->tree, p);
	if (!*n) {
		xs_unlock(xs);
		return -ENOENT;
	}
	return 0;
}

/* A malloc'ed copy of len bytes at src, or NULL. */
static void *memdup(const void *src, size_t len)
{
	void *copy = malloc(len);

	if (copy)
		memcpy(copy, src, len);
	return copy;
}

int xs_dom0_read(struct xenstore *xs, const char *path, char **value, size_t *len)
{
	struct xs_node *n;
	int err = dom0_lookup_locked(xs, path, &n);

	if (err)
		return err;
	*value = memdup(n->value, n->len + 1);
	if (*value && len)
		*len = n->len;
	xs_unlock(xs);
	return *value ? 0 : -ENOMEM;
}

int xs_dom0_read_uint(struct xenstore *xs, const char *path, uint64_t max,
		      uint64_t *out)
{
	char *v = NULL, *end;
	int rc = xs_dom0_read(xs, path, &v, NULL);

	if (rc)
		return rc;
	errno = 0;
	*out = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
	if (v[0] < '0' || v[0] > '9' || errno || *end || *out > max)
		rc = -EINVAL;
	free(v);
	return rc;
}

int xs_dom0_write(struct xenstore *xs, const char *path, const void *value, size_t len)
{
	char p[XS_PATH_BUF];
	int err = dom0_path(xs, path, p);

	if (err)
		return err;
	xs_lock(xs);
	err = do_write(xs->dom0, NULL, p, value, len, false);
	xs_unlock(xs);
	return err;
}

int xs_dom0_printf(struct xenstore *xs, const char *path, const char *fmt, ...)
{
	char buf[XENSTORE_PAYLOAD_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(buf))
		return -E2BIG;
	return xs_dom0_write(xs, path, buf, (size_t)n);
}

void xs_dom0_printf_under(struct xenstore *xs, int *rc, const char *dir, const char *key,
			  const char *fmt, ...)
{
	char path[XS_PATH_BUF], buf[XENSTORE_PAYLOAD_MAX + 1];
	va_list ap;
	int n;

	if (*rc)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		*rc = n < 0 ? -EINVAL : -E2BIG;
	else
		*rc = xs_dom0_write(xs, path, buf, (size_t)n);
}

int xs_dom0_mkdir(struct xenstore *xs, const char *path)
{
	char p[XS_PATH_BUF];
	int err = dom0_path(xs, path, p);

	if (err)
		return err;
	xs_lock(xs);
	err = do_write(xs->dom0, NULL, p, "", 0, true);
	xs_unlock(xs);
	return err;
}

int xs_dom0_rm(struct xenstore *xs, const char *path)
{
	char p[XS_PATH_BUF];
	int err = dom0_path(xs, path, p);

	if (err)
		return err;
	xs_lock(xs);
	err = do_rm(xs->dom0, NULL, p);
	xs_unlock(xs);
	return err;
}

int xs_dom0_directory(struct xenstore *xs, const char *path, char **list, size_t *len)
{
	struct xs_node *n;
	size_t total = 0, pos = 0;
	uint32_t i;
	int err = dom0_lookup_locked(xs, path, &n);

	if (err)
		return err;
	for (i = 0; i < n->nr_children; i++)
		total += strlen(n->children[i]->name) + 1;
	*list = malloc(total + 1);
	if (!*list) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n->nr_children; i++) {
		size_t l = strlen(n->children[i]->name) + 1;

		memcpy(*list + pos, n->children[i]->name, l);
		pos += l;
	}
	(*list)[total] = '\0';
	*len = total;
out:
	xs_unlock(xs);
	return err;
}

int xs_dom0_set_perms(struct xenstore *xs, const char *path, const struct xs_perm *perms,
		      unsigned nr)
{
	char p[XS_PATH_BUF];
	int err = dom0_path(xs, path, p);

	if (err)
		return err;
	if (nr < 1 || nr > XS_MSG_MAX_ARGS)
		return -EINVAL;
	xs_lock(xs);
	err = do_set_perms(xs->dom0, NULL, p, perms, nr);
	xs_unlock(xs);
	return err;
}

int xs_dom0_get_perms(struct xenstore *xs, const char *path, struct xs_perm **perms,
		      unsigned *nr)
{
	struct xs_node *n;
	int err = dom0_lookup_locked(xs, path, &n);

	if (err)
		return err;
	*perms = memdup(n->perms, n->nr_perms * sizeof(**perms));
	if (*perms)
		*nr = n->nr_perms;
	xs_unlock(xs);
	return *perms ? 0 : -ENOMEM;
}

int xs_dom0_watch(struct xenstore *xs, const char *path, const char *token, xs_watch_fn fn,
		  void *opaque)
{
	char p[XS_PATH_BUF];
	int err;

	if (!fn || !token)
		return -EINVAL;
	err = path_canonical(xs->dom0, path, true, p, NULL);
	if (err)
		return err;
	xs_lock(xs);
	err = do_watch(xs->dom0, p, false, token, fn, opaque);
	if (!err) {
		struct xs_watch *w;

		for (w = xs->dom0->watches; w->next; w = w->next)
			;
		deliver(xs->dom0, w, p);
	}
	xs_unlock(xs);
	return err;
}

int xs_dom0_unwatch(struct xenstore *xs, const char *path, const char *token)
{
	char p[XS_PATH_BUF];
	int err = path_canonical(xs->dom0, path, true, p, NULL);

	if (err)
		return err;
	xs_lock(xs);
	err = do_unwatch(xs->dom0, p, token);
	xs_unlock(xs);
	return err;
}

/* Creates (or updates) path as dom0 with a value (NULL: none) and perms. */
static int dom0_mknode(struct xenstore *xs, const char *path, const char *value,
		       const struct xs_perm *perms, unsigned nr)
{
	char p[XS_PATH_BUF];
	int err = dom0_path(xs, path, p);

	if (err)
		return err;
	path = p;
	xs_lock(xs);
	if (value)
		err = do_write(xs->dom0, NULL, path, value, strlen(value), false);
	else
		err = do_write(xs->dom0, NULL, path, "", 0, true);
	if (!err)
		err = do_set_perms(xs->dom0, NULL, path, perms, nr);
	xs_unlock(xs);
	return err;
}

int xs_domain_setup(struct xenstore *xs, uint16_t domid, const struct xs_domain_info *info)
{
	/* libxl's two permission sets: read-only for the domain, and owned. */
	const struct xs_perm ro[2] = { { 0, XS_PERM_NONE }, { domid, XS_PERM_READ } };
	const struct xs_perm rw[1] = { { domid, XS_PERM_NONE } };
	static const char *const owned[] = { "device", "data", "drivers", "feature", "attr",
					     "error", "control/shutdown",
					     "control/feature-poweroff",
					     "control/feature-reboot",
					     "control/feature-suspend", "control/sysrq" };
	const char *uuid = info->uuid ? info->uuid : "00000000-0000-0000-0000-000000000000";
	char dom[32], vm[96], p[XS_PATH_BUF], v[64];
	unsigned i;
	int err;

	if (domid == 0 || !info->name || !*uuid || strlen(uuid) > 36 || !valid_chars(uuid) ||
	    strchr(uuid, '/'))
		return -EINVAL;
	snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
	snprintf(vm, sizeof(vm), "/vm/%s", uuid);

#define MK(path_fmt, arg, value, perms)                                          \
	do {                                                                     \
		snprintf(p, sizeof(p), path_fmt, arg);                           \
		err = dom0_mknode(xs, p, value, perms, sizeof(perms) / sizeof(perms[0])); \
		if (err)                                                         \
			return err;                                              \
	} while (0)

	MK("%s", dom, NULL, ro);
	MK("%s/name", dom, info->name, ro);
	snprintf(v, sizeof(v), "%u", domid);
	MK("%s/domid", dom, v, ro);
	MK("%s/vm", dom, vm, ro);
	MK("%s", vm, NULL, ro);
	MK("%s/name", vm, info->name, ro);
	MK("%s/uuid", vm, uuid, ro);
	MK("%s/memory", dom, NULL, ro);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)info->target_kb);
	MK("%s/memory/target", dom, v, ro);
	MK("%s/memory/static-max", dom, v, ro);
	MK("%s/control", dom, NULL, ro);
	MK("%s/cpu", dom, NULL, ro);
	for (i = 0; i < info->vcpus && i < 512; i++) {
		snprintf(p, sizeof(p), "%s/cpu/%u/availability", dom, i);
		err = dom0_mknode(xs, p, "online", ro, 2);
		if (err)
			return err;
	}
	for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dom, owned[i]);
		err = dom0_mknode(xs, p, NULL, rw, 1);
		if (err)
			return err;
	}
#undef MK
	return 0;
}

/* ------------------------------------------------------------------ */
/* Snapshots (services/xenstore/xs_snapshot.c) */

static int export_node(const struct xs_node *n, char *path, size_t plen, size_t skip,
		       xs_export_fn emit, void *opaque)
{
	int rc = 0;

	if (plen > skip &&
	    (rc = emit(opaque, path + skip + 1, n->value, n->len, n->perms, n->nr_perms)))
		return rc;
	for (uint32_t i = 0; i < n->nr_children && rc == 0; i++) {
		const struct xs_node *c = n->children[i];
		size_t clen = strlen(c->name);

		if (plen + 1 + clen >= XS_PATH_BUF)
			continue; /* cannot exist: paths are bounded */
		path[plen] = '/';
		memcpy(path + plen + 1, c->name, clen + 1);
		rc = export_node(c, path, plen + 1 + clen, skip, emit, opaque);
		path[plen] = '\0';
	}
	return rc;
}

int xs_export_subtree(struct xenstore *xs, const char *dir, xs_export_fn emit, void *opaque)
{
	char path[XS_PATH_BUF];
	const struct xs_node *n;
	int rc = dom0_path(xs, dir, path);

	if (rc)
		return rc;
	xs_lock(xs);
	n = xs_tree_lookup(&xs->tree, path);
	rc = n ? export_node(n, path, strlen(path), strlen(path), emit, opaque) : -ENOENT;
	xs_unlock(xs);
	return rc;
}

int xs_import_node(struct xenstore *xs, uint16_t domid, const char *path, const void *value,
		   uint32_t len, const struct xs_perm *perms, uint32_t nr_perms)
{
	char p[XS_PATH_BUF];
	struct xs_conn *c;
	int err;

	if (domid == 0 || nr_perms < 1 || path[0] == '/')
		return -EINVAL; /* relative: below the domain's home */
	xs_lock(xs);
	/* A connection of the domain for the duration: its rules apply
	 * (xenstored's path rules, its permissions, its quotas). */
	c = conn_alloc(xs, domid, false);
	if (!c) {
		xs_unlock(xs);
		return -ENOMEM;
	}
	err = path_canonical(c, path, false, p, NULL);
	if (!err)
		err = do_write(c, NULL, p, value, len, false);
	if (!err)
		err = do_set_perms(c, NULL, p, perms, nr_perms);
	conn_destroy(c);
	xs_unlock(xs);
	return err;
}
