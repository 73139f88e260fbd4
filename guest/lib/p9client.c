/* 9P2000.L client (see kit/p9client.h). */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/p9client.h>
#include <kit/p9front.h>
#include <kit/string.h>

struct enc {
	struct p9c *c;
	uint32_t len;
};

static void e_raw(struct enc *e, const void *p, uint32_t n)
{
	if (e->len + n <= e->c->msize)
		memcpy(e->c->tx + e->len, p, n);
	e->len += n;
}

static void e8(struct enc *e, uint8_t v) { e_raw(e, &v, 1); }
static void e16(struct enc *e, uint16_t v) { e_raw(e, &v, 2); }
static void e32(struct enc *e, uint32_t v) { e_raw(e, &v, 4); }
static void e64(struct enc *e, uint64_t v) { e_raw(e, &v, 8); }

static void estr(struct enc *e, const char *s)
{
	uint16_t n = (uint16_t)strlen(s);

	e16(e, n);
	e_raw(e, s, n);
}

static struct enc begin(struct p9c *c, uint8_t type)
{
	struct enc e = { c, 0 };

	e32(&e, 0);
	e8(&e, type);
	e16(&e, ++c->tag == P9_NOTAG ? ++c->tag : c->tag);
	return e;
}

static uint32_t g32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }

/* Sends and checks the answer: 0, or -errno (Rlerror or transport). */
static int rpc(struct enc *e)
{
	struct p9c *c = e->c;
	uint8_t type = c->tx[4];
	long n;

	if (e->len > c->msize)
		return -XEN_E2BIG;
	memcpy(c->tx, &e->len, 4);
	n = p9front_rpc(c->fe, c->tx, e->len, c->rx, c->msize);
	if (n < 0)
		return (int)n;
	c->rlen = (uint32_t)n;
	if (n < 7 || g32(c->rx) != (uint32_t)n)
		return -XEN_EIO;
	if (c->rx[4] == P9_RLERROR && n >= 11)
		return -(int)g32(c->rx + 7);
	return c->rx[4] == type + 1 ? 0 : -XEN_EIO;
}

int p9c_raw(struct p9c *c, const void *msg, uint32_t len, int keep_size)
{
	long n;

	memcpy(c->tx, msg, len);
	if (!keep_size)
		memcpy(c->tx, &len, 4);
	n = p9front_rpc(c->fe, c->tx, len, c->rx, c->msize);
	if (n < 0)
		return (int)n;
	c->rlen = (uint32_t)n;
	if (c->rx[4] == P9_RLERROR)
		return -(int)g32(c->rx + 7);
	return c->rx[4];
}

static int version(struct p9c *c, uint32_t msize)
{
	struct enc e = begin(c, P9_TVERSION);
	int rc;

	e32(&e, msize);
	estr(&e, P9_VERSION_L);
	rc = rpc(&e);
	if (rc)
		return rc;
	if (strncmp((const char *)c->rx + 13, P9_VERSION_L, 8))
		return -XEN_EINVAL;
	return (int)g32(c->rx + 7);
}

static int recover(void *opaque);

int p9c_init(struct p9c *c, struct p9front *fe, uint32_t msize)
{
	int rc;

	if (msize > p9front_ring_size(fe))
		msize = p9front_ring_size(fe);
	memset(c->fids, 0, sizeof(c->fids));
	c->attached = false;
	c->fe = fe;
	c->msize = msize;
	c->tag = 0;
	c->tx = alloc_pages(PFN_UP(msize));
	c->rx = alloc_pages(PFN_UP(msize));
	if (!c->tx || !c->rx)
		return -XEN_ENOMEM;
	rc = version(c, msize);
	if (rc < 0)
		return rc;
	c->msize = (uint32_t)rc;
	p9front_on_reconnect(fe, recover, c);
	return 0;
}

/* ---- the fids kept for a restore ---- */

static struct p9c_fidrec *fid_rec(struct p9c *c, uint32_t fid)
{
	for (unsigned i = 0; i < P9C_MAX_FIDS; i++)
		if (c->fids[i].used && c->fids[i].fid == fid)
			return &c->fids[i];
	return NULL;
}

static void fid_drop(struct p9c *c, uint32_t fid)
{
	struct p9c_fidrec *r = fid_rec(c, fid);

	if (r)
		r->used = false;
}

/* fid now names dir/name ("" parts are skipped); not kept if too long. */
static void fid_set(struct p9c *c, uint32_t fid, const char *dir, const char *name)
{
	char path[P9C_PATH_MAX];
	struct p9c_fidrec *r;
	int n = snprintf(path, sizeof(path), "%s%s%s", dir, *dir && *name ? "/" : "", name);

	fid_drop(c, fid);
	if (n < 0 || n >= (int)sizeof(path))
		return;
	for (unsigned i = 0; i < P9C_MAX_FIDS; i++) {
		r = &c->fids[i];
		if (r->used)
			continue;
		r->used = true;
		r->fid = fid;
		r->flags = -1;
		strlcpy(r->path, path, sizeof(r->path));
		return;
	}
}

/*
 * After a restore (p9front_on_reconnect): a new session with the same
 * msize, then each kept fid walked from the attach fid and opened as it
 * was.  Runs beside a caller that may be inside p9c (its tx/rx in use),
 * so it has buffers and a struct of its own.
 */
static int recover(void *opaque)
{
	static uint8_t tx[4096], rx[4096];
	static struct p9c r;
	struct p9c *c = opaque;
	int rc;

	r = *c;
	r.tx = tx;
	r.rx = rx;
	r.msize = sizeof(tx);
	rc = version(&r, c->msize);
	if (rc < 0 || (uint32_t)rc != c->msize) {
		printf("p9client: the restored session: msize %d, was %u\n", rc, c->msize);
		return rc < 0 ? rc : -XEN_EINVAL;
	}
	if (c->attached && (rc = p9c_attach(&r, c->root_fid)) < 0)
		return rc;
	for (unsigned i = 0; i < P9C_MAX_FIDS; i++) {
		const struct p9c_fidrec *f = &c->fids[i];

		if (!f->used || f->fid == c->root_fid)
			continue;
		rc = p9c_walk(&r, c->root_fid, f->fid, f->path);
		if (rc == 0 && f->flags >= 0)
			rc = p9c_lopen(&r, f->fid,
				       (uint32_t)f->flags & ~(P9_O_CREAT | P9_O_EXCL | P9_O_TRUNC));
		if (rc < 0)
			printf("p9client: fid %u (%s) not open again after the restore: %d\n",
			       f->fid, f->path, rc);
	}
	c->tag = r.tag;
	return 0;
}

int p9c_attach(struct p9c *c, uint32_t fid)
{
	struct enc e = begin(c, P9_TATTACH);
	int rc;

	e32(&e, fid);
	e32(&e, P9_NOFID);
	estr(&e, "kit");
	estr(&e, "");
	e32(&e, 0);
	rc = rpc(&e);
	if (rc == 0) {
		c->attached = true;
		c->root_fid = fid;
		fid_set(c, fid, "", "");
	}
	return rc;
}

int p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, const char *path)
{
	const char *walked = path;
	struct enc e = begin(c, P9_TWALK);
	uint16_t n = 0;
	uint32_t at;
	int rc;

	e32(&e, fid);
	e32(&e, newfid);
	at = e.len;
	e16(&e, 0);
	while (*path) {
		const char *s = strchr(path, '/');
		uint16_t l = (uint16_t)(s ? (size_t)(s - path) : strlen(path));

		if (l) {
			e16(&e, l);
			e_raw(&e, path, l);
			n++;
		}
		path += l + (s ? 1 : 0);
	}
	memcpy(c->tx + at, &n, 2);
	rc = rpc(&e);
	if (rc)
		return rc;
	if ((c->rx[7] | c->rx[8] << 8) != n)
		return -XEN_ENOENT;
	if (fid_rec(c, fid)) {
		char dir[P9C_PATH_MAX];

		strlcpy(dir, fid_rec(c, fid)->path, sizeof(dir));
		fid_set(c, newfid, dir, walked);
	}
	return 0;
}

static int fid_op(struct p9c *c, uint8_t type, uint32_t fid)
{
	struct enc e = begin(c, type);

	e32(&e, fid);
	return rpc(&e);
}

int p9c_clunk(struct p9c *c, uint32_t fid)
{
	fid_drop(c, fid); /* gone whatever the answer (9P: clunk always frees) */
	return fid_op(c, P9_TCLUNK, fid);
}

int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags)
{
	struct enc e = begin(c, P9_TLOPEN);
	struct p9c_fidrec *r;
	int rc;

	e32(&e, fid);
	e32(&e, flags);
	rc = rpc(&e);
	if (rc == 0 && (r = fid_rec(c, fid)))
		r->flags = (int32_t)flags;
	return rc;
}

int p9c_lcreate(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags,
		uint32_t mode)
{
	struct enc e = begin(c, P9_TLCREATE);
	struct p9c_fidrec *r;
	int rc;

	e32(&e, dfid);
	estr(&e, name);
	e32(&e, flags);
	e32(&e, mode);
	e32(&e, 0);
	rc = rpc(&e);
	/* dfid now names the new file, open. */
	if (rc == 0 && (r = fid_rec(c, dfid))) {
		char dir[P9C_PATH_MAX];

		strlcpy(dir, r->path, sizeof(dir));
		fid_set(c, dfid, dir, name);
		if ((r = fid_rec(c, dfid)))
			r->flags = (int32_t)flags;
	}
	return rc;
}

long p9c_read(struct p9c *c, uint32_t fid, uint64_t off, void *buf, uint32_t len)
{
	struct enc e = begin(c, P9_TREAD);
	uint32_t n;
	int rc;

	e32(&e, fid);
	e64(&e, off);
	e32(&e, len);
	rc = rpc(&e);
	if (rc)
		return rc;
	n = g32(c->rx + 7);
	if (n > len || n + 11 > c->rlen)
		return -XEN_EIO;
	memcpy(buf, c->rx + 11, n);
	return n;
}

long p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *buf,
	       uint32_t len)
{
	struct enc e = begin(c, P9_TWRITE);
	int rc;

	if (len > c->msize - P9_IOHDR_SIZE)
		len = c->msize - P9_IOHDR_SIZE;
	e32(&e, fid);
	e64(&e, off);
	e32(&e, len);
	e_raw(&e, buf, len);
	rc = rpc(&e);
	return rc ? rc : (long)g32(c->rx + 7);
}

int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode)
{
	struct enc e = begin(c, P9_TMKDIR);

	e32(&e, dfid);
	estr(&e, name);
	e32(&e, mode);
	e32(&e, 0);
	return rpc(&e);
}

int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags)
{
	struct enc e = begin(c, P9_TUNLINKAT);

	e32(&e, dfid);
	estr(&e, name);
	e32(&e, flags);
	return rpc(&e);
}

int p9c_renameat(struct p9c *c, uint32_t odfid, const char *oname, uint32_t ndfid,
		 const char *nname)
{
	struct enc e = begin(c, P9_TRENAMEAT);

	e32(&e, odfid);
	estr(&e, oname);
	e32(&e, ndfid);
	estr(&e, nname);
	return rpc(&e);
}

int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name, const char *target)
{
	struct enc e = begin(c, P9_TSYMLINK);

	e32(&e, dfid);
	estr(&e, name);
	estr(&e, target);
	e32(&e, 0);
	return rpc(&e);
}

int p9c_readlink(struct p9c *c, uint32_t fid, char *buf, uint32_t len)
{
	uint16_t n;
	int rc = fid_op(c, P9_TREADLINK, fid);

	if (rc)
		return rc;
	n = (uint16_t)(c->rx[7] | c->rx[8] << 8);
	if (n + 1u > len)
		return -XEN_E2BIG;
	memcpy(buf, c->rx + 9, n);
	buf[n] = '\0';
	return 0;
}

int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name)
{
	struct enc e = begin(c, P9_TLINK);

	e32(&e, dfid);
	e32(&e, fid);
	estr(&e, name);
	return rpc(&e);
}

int p9c_getattr(struct p9c *c, uint32_t fid, struct p9c_stat *st)
{
	struct enc e = begin(c, P9_TGETATTR);
	const uint8_t *p = c->rx + 7 + 8;
	int rc;

	e32(&e, fid);
	e64(&e, P9_GETATTR_BASIC);
	rc = rpc(&e);
	if (rc)
		return rc;
	st->qid_type = p[0];
	st->ino = g64(p + 5);
	st->mode = g32(p + 13);
	st->uid = g32(p + 17);
	st->gid = g32(p + 21);
	st->nlink = g64(p + 25);
	st->size = g64(p + 41);
	return 0;
}

int p9c_setattr(struct p9c *c, uint32_t fid, uint32_t valid, uint32_t mode,
		uint64_t size)
{
	struct enc e = begin(c, P9_TSETATTR);

	e32(&e, fid);
	e32(&e, valid);
	e32(&e, mode);
	e32(&e, 0);
	e32(&e, 0);
	e64(&e, size);
	for (int i = 0; i < 4; i++)
		e64(&e, 0);
	return rpc(&e);
}

int p9c_fsync(struct p9c *c, uint32_t fid)
{
	struct enc e = begin(c, P9_TFSYNC);

	e32(&e, fid);
	e32(&e, 0);
	return rpc(&e);
}

int p9c_statfs(struct p9c *c, uint32_t fid, uint32_t *bsize, uint64_t *blocks)
{
	int rc = fid_op(c, P9_TSTATFS, fid);

	if (rc)
		return rc;
	*bsize = g32(c->rx + 11);
	*blocks = g64(c->rx + 15);
	return 0;
}

long p9c_readdir(struct p9c *c, uint32_t fid, uint64_t off, void *buf, uint32_t len)
{
	struct enc e = begin(c, P9_TREADDIR);
	uint32_t n;
	int rc;

	e32(&e, fid);
	e64(&e, off);
	e32(&e, len);
	rc = rpc(&e);
	if (rc)
		return rc;
	n = g32(c->rx + 7);
	if (n > len || n + 11 > c->rlen)
		return -XEN_EIO;
	memcpy(buf, c->rx + 11, n);
	return n;
}

int p9c_xattrwalk(struct p9c *c, uint32_t fid, uint32_t newfid, const char *name,
		  uint64_t *size)
{
	struct enc e = begin(c, P9_TXATTRWALK);
	int rc;

	e32(&e, fid);
	e32(&e, newfid);
	estr(&e, name);
	rc = rpc(&e);
	if (rc)
		return rc;
	if (c->rlen < 15)
		return -XEN_EIO;
	*size = g64(c->rx + 7);
	return 0;
}

int p9c_xattrcreate(struct p9c *c, uint32_t fid, const char *name, uint64_t size,
		    uint32_t flags)
{
	struct enc e = begin(c, P9_TXATTRCREATE);
	int rc;

	e32(&e, fid);
	estr(&e, name);
	e64(&e, size);
	e32(&e, flags);
	rc = rpc(&e);
	if (rc == 0)
		fid_drop(c, fid);
	return rc;
}
