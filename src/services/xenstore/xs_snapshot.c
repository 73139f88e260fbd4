/* The guest's xenstore nodes in a snapshot (xs_snapshot.h). */
#include "services/xenstore/xs_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"

_Static_assert(SNAP_XS_MAX_NODES == XS_QUOTA_NODES, "the guest's node quota");
_Static_assert(SNAP_XS_PERMS_MAX == XS_QUOTA_PERMS, "the guest's ACL quota");

/* The records, gathered in one walk under the store's lock (a socket
 * client may write between two walks), then written as one section. */
struct xs_save {
	uint16_t domid;
	uint32_t nr_nodes;
	uint8_t *buf;
	size_t len, cap;
};

static int put(struct xs_save *s, const void *data, size_t len)
{
	if (s->cap - s->len < len) {
		size_t cap = s->cap ? s->cap : 16384;
		uint8_t *p;

		while (cap - s->len < len)
			cap *= 2;
		p = realloc(s->buf, cap);
		if (!p)
			return -ENOMEM;
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

static bool in_device_dir(const char *relpath)
{
	return !strncmp(relpath, "device", 6) && (relpath[6] == '\0' || relpath[6] == '/');
}

static int emit(void *opaque, const char *relpath, const char *value, uint32_t len,
		const struct xs_perm *perms, uint32_t nr_perms)
{
	static const char letter[4] = { 'n', 'r', 'w', 'b' };
	static const uint8_t zeros[8];
	struct xs_save *s = opaque;
	struct snap_xs_record r = {
		.path_len = (uint32_t)strlen(relpath) + 1, .value_len = len,
		.nr_perms = nr_perms,
	};
	size_t total = sizeof(r) + nr_perms * sizeof(struct snap_xs_perm) + r.path_len + len;
	int rc;

	/* The toolstack's nodes and the frontend directories are the new
	 * domain's own (xs_snapshot.h). */
	if (perms[0].id != s->domid || in_device_dir(relpath))
		return 0;
	if (nr_perms > SNAP_XS_PERMS_MAX || r.path_len > SNAP_XS_PATH_MAX + 1 ||
	    len > SNAP_XS_VALUE_MAX || s->nr_nodes == SNAP_XS_MAX_NODES)
		return -E2BIG; /* the store's quotas keep a guest below these */
	rc = put(s, &r, sizeof(r));
	for (uint32_t i = 0; rc == 0 && i < nr_perms; i++) {
		struct snap_xs_perm p = { .perm = (uint8_t)letter[perms[i].perm & 3],
					  .domid = perms[i].id };

		rc = put(s, &p, sizeof(p));
	}
	if (rc == 0)
		rc = put(s, relpath, r.path_len);
	if (rc == 0)
		rc = put(s, value, len);
	if (rc == 0)
		rc = put(s, zeros, (8 - total % 8) % 8);
	s->nr_nodes++;
	return rc;
}


static int export_home(struct xenstore *xs, void *opaque)
{
	struct xs_save *s = opaque;
	char home[32];

	snprintf(home, sizeof(home), "/local/domain/%u", s->domid);
	return xs_export_subtree(xs, home, emit, s);
}

int xs_snapshot_save(struct vm *vm, struct snap_writer *w)
{
	struct xs_save s = { .domid = XS_GUEST_DOMID };
	struct snap_xs_header h = { .domid = XS_GUEST_DOMID };
	int rc = xs_service_with(vm, export_home, &s);

	if (rc == 0) {
		h.nr_nodes = s.nr_nodes;
		snap_section_begin(w, SNAP_XENSTORE, 0);
		snap_write(w, &h, sizeof(h));
		snap_write(w, s.buf, s.len);
		snap_section_end(w);
	}
	free(s.buf);
	return rc;
}

struct restore_call {
	const struct snap_file *f;
	char *err;
	size_t err_len;
};

/* The saved domain's id in a permission becomes the new domain's. */
static uint16_t new_domid(uint16_t saved, uint16_t old_domid)
{
	return saved == old_domid ? XS_GUEST_DOMID : saved;
}

static int import_all(struct xenstore *xs, void *opaque)
{
	struct restore_call *c = opaque;
	const struct snap_file *f = c->f;
	uint64_t off = sizeof(struct snap_xs_header);
	struct snap_xs_node n;
	int rc;

	while ((rc = snap_xs_next(f->xenstore, f->xs.domid, &off, &n, c->err,
				  c->err_len)) == 1) {
		struct xs_perm perms[SNAP_XS_PERMS_MAX];

		for (uint32_t i = 0; i < n.nr_perms; i++) {
			struct snap_xs_perm p;

			memcpy(&p, &n.perms[i], sizeof(p)); /* checked by snap_xs_next */
			perms[i].id = new_domid(p.domid, f->xs.domid);
			perms[i].perm = p.perm == 'r' ? XS_PERM_READ :
					p.perm == 'w' ? XS_PERM_WRITE :
					p.perm == 'b' ? XS_PERM_BOTH : XS_PERM_NONE;
		}
		rc = xs_import_node(xs, XS_GUEST_DOMID, n.path, n.value, n.value_len,
				    perms, n.nr_perms);
		if (rc < 0) {
			snprintf(c->err, c->err_len,
				 "xenstore node %s: the guest could not have written it (%s)",
				 n.path, strerror(-rc));
			return rc;
		}
	}
	return rc;
}

int xs_snapshot_restore(struct vm *vm, const struct snap_file *f, char *err,
			size_t err_len)
{
	struct restore_call c = { f, err, err_len };

	if (!f->xenstore)
		return 0;
	return xs_service_with(vm, import_all, &c);
}
