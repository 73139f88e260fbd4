/* The 9P2000.L message layer (see p9_msg.h). */
#include "services/p9/p9_msg.h"

#include <errno.h>
#include <string.h>

/* A read cursor over one message; any short read sets err. */
struct cur {
	const uint8_t *p;
	size_t left;
	int err;
};

enum str_kind {
	STR_ANY,     /* no NUL, at most P9_STR_MAX */
	STR_TARGET,  /* a symlink target: no NUL, at most P9_TARGET_MAX, not empty */
	STR_EXT,     /* 9P2000.u's Tcreate extension: as a target, may be empty */
	STR_NAME,    /* a new file name: a component that is not "." or ".." */
	STR_WNAME,   /* a walk element: a component, ".." allowed (the parent) */
	STR_XATTR,   /* an xattr name: no NUL, at most P9_XATTR_NAME_MAX (ERANGE) */
};

static const uint8_t *take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->err)
		return NULL;
	if (n > c->left) {
		c->err = -EPROTO;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static uint8_t get8(struct cur *c)
{
	const uint8_t *p = take(c, 1);

	return p ? p[0] : 0;
}

static uint16_t get16(struct cur *c)
{
	const uint8_t *p = take(c, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static uint32_t get32(struct cur *c)
{
	const uint8_t *p = take(c, 4);

	return p ? p9_le32(p) : 0;
}

static uint64_t get64(struct cur *c)
{
	const uint8_t *p = take(c, 8);

	return p ? (uint64_t)p9_le32(p) | (uint64_t)p9_le32(p + 4) << 32 : 0;
}

static int check_str(const uint8_t *s, uint16_t len, enum str_kind kind)
{
	size_t max = kind == STR_TARGET || kind == STR_EXT ? P9_TARGET_MAX
		     : kind == STR_ANY			   ? P9_STR_MAX
							   : P9_NAME_MAX;

	if (kind == STR_XATTR)
		return len > P9_XATTR_NAME_MAX ? -ERANGE : memchr(s, '\0', len) ? -EINVAL : 0;
	if (len > max)
		return -ENAMETOOLONG;
	if (memchr(s, '\0', len))
		return -EINVAL;
	if (kind == STR_ANY || kind == STR_EXT)
		return 0;
	if (len == 0)
		return kind == STR_TARGET ? -ENOENT : -EINVAL;
	if (kind == STR_TARGET)
		return 0;
	if (memchr(s, '/', len))
		return -EINVAL;
	if (len == 1 && s[0] == '.')
		return -EINVAL;
	if (kind == STR_NAME && len == 2 && s[0] == '.' && s[1] == '.')
		return -EINVAL;
	return 0;
}

/* Copies a checked string into r->strbuf; NULL on error (c->err set). */
static const char *getstr(struct cur *c, struct p9_req *r, enum str_kind kind)
{
	uint16_t len = get16(c);
	const uint8_t *s = take(c, len);
	char *dst;
	int rc;

	if (!s)
		return NULL;
	rc = check_str(s, len, kind);
	if (rc) {
		c->err = rc;
		return NULL;
	}
	if (r->strbuf_used + len + 1u > sizeof(r->strbuf)) { /* cannot happen */
		c->err = -ENAMETOOLONG;
		return NULL;
	}
	dst = r->strbuf + r->strbuf_used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	r->strbuf_used += len + 1u;
	return dst;
}

int p9_peek_header(const uint8_t *msg, size_t len, uint32_t *size,
		   uint8_t *type, uint16_t *tag)
{
	if (len < P9_HDR_SIZE)
		return -EPROTO;
	*size = p9_le32(msg);
	*type = msg[4];
	*tag = (uint16_t)(msg[5] | msg[6] << 8);
	return 0;
}

static void parse_walk(struct cur *c, struct p9_req *r)
{
	r->fid = get32(c);
	r->newfid = get32(c);
	r->nwname = get16(c);
	if (!c->err && r->nwname > P9_MAXWELEM) {
		c->err = -EINVAL;
		return;
	}
	for (unsigned i = 0; i < r->nwname && !c->err; i++)
		r->wname[i] = getstr(c, r, STR_WNAME);
}

static void parse_setattr(struct cur *c, struct p9_req *r)
{
	r->fid = get32(c);
	r->sa.valid = get32(c);
	r->sa.mode = get32(c);
	r->sa.uid = get32(c);
	r->sa.gid = get32(c);
	r->sa.size = get64(c);
	r->sa.atime_sec = get64(c);
	r->sa.atime_nsec = get64(c);
	r->sa.mtime_sec = get64(c);
	r->sa.mtime_nsec = get64(c);
}

/* A string whose bytes are not used (Twstat's uid, gid, muid, extension). */
static void skipstr(struct cur *c)
{
	take(c, get16(c));
}

/* 9P2000.u's Twstat: fid, then stat[n], whose fields are "don't touch"
 * when all ones (numbers) or empty (strings).  The changes are given as
 * Tsetattr's (r->sa), a new name in r->name (NULL: none), the mode word
 * as sent in r->mode (its type bits: the file's, checked by the server). */
static void parse_wstat(struct cur *c, struct p9_req *r)
{
	uint32_t mode, atime, mtime, n_uid, n_gid;
	uint64_t length;

	memset(&r->sa, 0, sizeof(r->sa));
	r->name = NULL;
	r->fid = get32(c);
	get16(c);                  /* n: stat's size + 2 */
	get16(c);                  /* size */
	take(c, 2 + 4 + P9_QID_SIZE); /* type, dev, qid: not settable */
	mode = get32(c);
	atime = get32(c);
	mtime = get32(c);
	length = get64(c);
	if (!c->err && c->left >= 2 && c->p[0] == 0 && c->p[1] == 0)
		get16(c); /* no new name */
	else
		r->name = getstr(c, r, STR_NAME);
	for (int i = 0; i < 4; i++) /* uid, gid, muid, extension */
		skipstr(c);
	n_uid = get32(c);
	n_gid = get32(c);
	get32(c);                  /* n_muid */
	r->mode = mode;
	if (mode != ~0u) {
		r->sa.valid |= P9_SETATTR_MODE;
		r->sa.mode = (mode & 0777) | (mode & P9_DMSETUID ? 04000 : 0) |
			     (mode & P9_DMSETGID ? 02000 : 0) | (mode & P9_DMSETVTX ? 01000 : 0);
	}
	if (atime != ~0u) {
		r->sa.valid |= P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET;
		r->sa.atime_sec = atime;
	}
	if (mtime != ~0u) {
		r->sa.valid |= P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
		r->sa.mtime_sec = mtime;
	}
	if (length != ~0ull) {
		r->sa.valid |= P9_SETATTR_SIZE;
		r->sa.size = length;
	}
	if (n_uid != ~0u) {
		r->sa.valid |= P9_SETATTR_UID;
		r->sa.uid = n_uid;
	}
	if (n_gid != ~0u) {
		r->sa.valid |= P9_SETATTR_GID;
		r->sa.gid = n_gid;
	}
}

static void parse_lock(struct cur *c, struct p9_req *r)
{
	r->fid = get32(c);
	r->lk.type = get8(c);
	if (r->type == P9_TLOCK)
		r->flags = get32(c);
	r->lk.start = get64(c);
	r->lk.length = get64(c);
	r->lk.proc_id = get32(c);
	r->str = getstr(c, r, STR_ANY);
}

/* The body of r->type; c->err says whether it was well-formed. */
static void parse_body(struct cur *c, struct p9_req *r)
{
	switch (r->type) {
	case P9_TVERSION:
		r->msize = get32(c);
		r->str = getstr(c, r, STR_ANY);
		break;
	case P9_TAUTH:
	case P9_TATTACH:
		r->fid = get32(c);
		if (r->type == P9_TATTACH)
			r->newfid = get32(c); /* afid */
		r->str = getstr(c, r, STR_ANY);  /* uname */
		r->str2 = getstr(c, r, STR_ANY); /* aname */
		r->n_uname = get32(c);
		break;
	case P9_TFLUSH:
		r->oldtag = get16(c);
		break;
	case P9_TWALK:
		parse_walk(c, r);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		r->fid = get32(c);
		r->offset = get64(c);
		r->count = get32(c);
		break;
	case P9_TWRITE:
		r->fid = get32(c);
		r->offset = get64(c);
		r->count = get32(c);
		r->data = take(c, r->count);
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTAT:
	case P9_TSTATFS:
	case P9_TREADLINK:
		r->fid = get32(c);
		break;
	case P9_TWSTAT: /* 9P2000.u */
		parse_wstat(c, r);
		break;
	case P9_TFSYNC:
		r->fid = get32(c);
		if (!c->err && c->left >= 4) /* Linux >= 3.x sends datasync */
			r->datasync = get32(c);
		break;
	case P9_TLOPEN:
		r->fid = get32(c);
		r->flags = get32(c);
		break;
	case P9_TOPEN: /* 9P2000.u */
		r->fid = get32(c);
		r->flags = get8(c);
		break;
	case P9_TCREATE: /* 9P2000.u: perm in mode, its extension in str */
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->mode = get32(c);
		r->flags = get8(c);
		r->str = getstr(c, r, STR_EXT);
		break;
	case P9_TLCREATE:
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->flags = get32(c);
		r->mode = get32(c);
		r->gid = get32(c);
		break;
	case P9_TSYMLINK:
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->str = getstr(c, r, STR_TARGET);
		r->gid = get32(c);
		break;
	case P9_TMKNOD:
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->mode = get32(c);
		r->major = get32(c);
		r->minor = get32(c);
		r->gid = get32(c);
		break;
	case P9_TMKDIR:
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->mode = get32(c);
		r->gid = get32(c);
		break;
	case P9_TRENAME:
		r->fid = get32(c);
		r->newfid = get32(c); /* dfid */
		r->name = getstr(c, r, STR_NAME);
		break;
	case P9_TRENAMEAT:
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->newfid = get32(c);
		r->name2 = getstr(c, r, STR_NAME);
		break;
	case P9_TUNLINKAT:
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		r->flags = get32(c);
		break;
	case P9_TLINK:
		r->newfid = get32(c); /* dfid */
		r->fid = get32(c);
		r->name = getstr(c, r, STR_NAME);
		break;
	case P9_TGETATTR:
		r->fid = get32(c);
		r->mask = get64(c);
		break;
	case P9_TSETATTR:
		parse_setattr(c, r);
		break;
	case P9_TXATTRWALK: /* name "" asks for the list of names */
		r->fid = get32(c);
		r->newfid = get32(c);
		r->str = getstr(c, r, STR_XATTR);
		break;
	case P9_TXATTRCREATE:
		r->fid = get32(c);
		r->str = getstr(c, r, STR_XATTR);
		if (r->str && !r->str[0])
			c->err = -EINVAL; /* no attribute without a name */
		r->attr_size = get64(c);
		r->flags = get32(c);
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		parse_lock(c, r);
		break;
	default:
		/* R-messages and Tlerror: an error. */
		c->err = (r->type & 1) || r->type == P9_TLERROR ? -EPROTO : -EOPNOTSUPP;
		break;
	}
}

int p9_parse(const uint8_t *msg, size_t len, struct p9_req *r)
{
	struct cur c;
	uint32_t size;

	r->type = 0;
	r->tag = P9_NOTAG;
	r->strbuf_used = 0;
	r->data = NULL;
	r->name = r->name2 = r->str = r->str2 = NULL;
	r->nwname = 0;
	r->datasync = 0;
	if (p9_peek_header(msg, len, &size, &r->type, &r->tag))
		return -EPROTO;
	if (size != len)
		return -EPROTO;
	c = (struct cur){ msg + P9_HDR_SIZE, len - P9_HDR_SIZE, 0 };
	parse_body(&c, r);
	return c.err;
}

/* --- encoding --- */

uint8_t *p9_put_space(struct p9_out *o, uint32_t n)
{
	uint8_t *p;

	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return NULL;
	}
	p = o->buf + o->len;
	o->len += n;
	return p;
}

void p9_put_u8(struct p9_out *o, uint8_t v)
{
	uint8_t *p = p9_put_space(o, 1);

	if (p)
		p[0] = v;
}

void p9_put_u16(struct p9_out *o, uint16_t v)
{
	uint8_t *p = p9_put_space(o, 2);

	if (p) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

void p9_put_u32(struct p9_out *o, uint32_t v)
{
	uint8_t *p = p9_put_space(o, 4);

	for (int i = 0; p && i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void p9_put_u64(struct p9_out *o, uint64_t v)
{
	uint8_t *p = p9_put_space(o, 8);

	for (int i = 0; p && i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void p9_put_str(struct p9_out *o, const char *s, size_t len)
{
	uint8_t *p;

	if (len > UINT16_MAX) {
		o->overflow = true;
		return;
	}
	p9_put_u16(o, (uint16_t)len);
	p = p9_put_space(o, (uint32_t)len);
	if (p && len)
		memcpy(p, s, len);
}

void p9_put_qid(struct p9_out *o, const struct p9_qid *q)
{
	p9_put_u8(o, q->type);
	p9_put_u32(o, q->version);
	p9_put_u64(o, q->path);
}

void p9_begin(struct p9_out *o, uint8_t type, uint16_t tag)
{
	o->len = 0;
	o->overflow = false;
	p9_put_u32(o, 0);
	p9_put_u8(o, type);
	p9_put_u16(o, tag);
}

int p9_end(struct p9_out *o)
{
	if (o->overflow || o->len < P9_HDR_SIZE)
		return -EMSGSIZE;
	for (int i = 0; i < 4; i++)
		o->buf[i] = (uint8_t)(o->len >> (8 * i));
	return (int)o->len;
}

int p9_rlerror(struct p9_out *o, uint16_t tag, uint32_t ecode)
{
	p9_begin(o, P9_RLERROR, tag);
	p9_put_u32(o, ecode);
	return p9_end(o);
}

int p9_rerror_u(struct p9_out *o, uint16_t tag, uint32_t ecode)
{
	const char *ename = strerrordesc_np((int)ecode); /* no locale, thread-safe */

	if (!ename)
		ename = "error";
	p9_begin(o, P9_RERROR, tag);
	p9_put_str(o, ename, strlen(ename));
	p9_put_u32(o, ecode);
	return p9_end(o);
}
