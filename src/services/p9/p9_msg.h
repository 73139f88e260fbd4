/*
 * The 9P2000.L message layer (with 9P2000.u's Topen, Tcreate, Tstat,
 * Twstat), pure: p9_parse() turns one T-message (a copy
 * the transport took off the ring) into a struct p9_req with every field
 * bounds-checked and every string copied out NUL-terminated and checked;
 * the p9_put_* encoders build R-messages into a bounded buffer.  No I/O, no
 * state: unit-tested (tests/unit/test_p9_msg.c) and fuzzed
 * (fuzz/fuzz_p9_msg.c).  See docs/9pfs.md.
 */
#ifndef PVISOR_P9_MSG_H
#define PVISOR_P9_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/p9.h>

#define P9_NAME_MAX 255u     /* one path component (NAME_MAX) */
#define P9_STR_MAX 1024u     /* uname, aname, version, client_id */
#define P9_TARGET_MAX 4095u  /* a symlink target (PATH_MAX - 1) */
#define P9_STRBUF (P9_MAXWELEM * (P9_NAME_MAX + 1) + P9_TARGET_MAX + 1 + 2 * (P9_STR_MAX + 1))

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/*
 * A parsed T-message.  Which fields are set depends on type (see
 * p9_parse()); strings point into strbuf, NUL-terminated; data points into
 * the message that was parsed (Twrite), so that buffer must outlive the
 * request.
 */
struct p9_req {
	uint8_t type;
	uint16_t tag;
	uint32_t fid, newfid;     /* newfid: Twalk, Txattrwalk; dfid/second fid too */
	uint32_t msize;           /* Tversion */
	uint32_t flags;           /* Tlopen, Tlcreate, Tunlinkat, Txattrcreate, Tlock */
	uint32_t mode, gid;       /* Tlcreate, Tmkdir, Tmknod, Tsymlink (gid) */
	uint32_t major, minor;    /* Tmknod */
	uint32_t count;           /* Tread, Twrite, Treaddir */
	uint64_t offset;          /* Tread, Twrite, Treaddir */
	uint64_t mask;            /* Tgetattr request_mask */
	uint32_t n_uname;         /* Tattach, Tauth */
	uint16_t oldtag;          /* Tflush */
	uint32_t datasync;        /* Tfsync (0 if the client sent none) */
	uint64_t attr_size;       /* Txattrcreate */
	struct {                  /* Tsetattr */
		uint32_t valid, mode, uid, gid;
		uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
	} sa;
	struct {                  /* Tlock, Tgetlock */
		uint8_t type;
		uint64_t start, length;
		uint32_t proc_id;
	} lk;
	uint16_t nwname;          /* Twalk */
	const char *wname[P9_MAXWELEM];
	const char *name, *name2; /* file names; name2: Trenameat's new name */
	const char *str, *str2;   /* uname/aname, version, target, client_id, xattr name ("": Txattrwalk's list) */
	const uint8_t *data;      /* Twrite: count bytes */
	size_t strbuf_used;
	char strbuf[P9_STRBUF];
};

/*
 * Reads the header of a message: size (the whole message, header included),
 * type and tag.  Returns 0, or -EPROTO if len < P9_HDR_SIZE.
 */
int p9_peek_header(const uint8_t *msg, size_t len, uint32_t *size,
		   uint8_t *type, uint16_t *tag);

/*
 * Parses one T-message of exactly len bytes (len must equal its size
 * field).  On any result r->type and r->tag are set once the header could be
 * read, so the caller can answer with Rlerror.  Returns 0 or -errno for the
 * Rlerror: -EPROTO (truncated, size mismatch, an R-message), -EINVAL (a name
 * that is empty, holds '/' or NUL, or is "." / ".." where a new name is
 * due; a string with a NUL; more than P9_MAXWELEM walk elements; an empty
 * Txattrcreate name), -ENAMETOOLONG, -ERANGE (an xattr name longer than
 * P9_XATTR_NAME_MAX, Linux's answer), -EOPNOTSUPP (unknown types).
 * Bytes after the last field are ignored (as QEMU and diod do).
 */
int p9_parse(const uint8_t *msg, size_t len, struct p9_req *r)
	__attribute__((warn_unused_result));

/* An R-message being built into buf[0..cap). */
struct p9_out {
	uint8_t *buf;
	uint32_t cap, len;
	bool overflow;  /* something did not fit: the message is invalid */
};

/* Starts an R-message (header with the size left for p9_end). */
void p9_begin(struct p9_out *o, uint8_t type, uint16_t tag);
void p9_put_u8(struct p9_out *o, uint8_t v);
void p9_put_u16(struct p9_out *o, uint16_t v);
void p9_put_u32(struct p9_out *o, uint32_t v);
void p9_put_u64(struct p9_out *o, uint64_t v);
void p9_put_str(struct p9_out *o, const char *s, size_t len);
void p9_put_qid(struct p9_out *o, const struct p9_qid *q);
/* Reserves n bytes at the end and returns them (NULL: they do not fit). */
uint8_t *p9_put_space(struct p9_out *o, uint32_t n);
/* Writes the size; returns the message length, or -EMSGSIZE on overflow. */
int p9_end(struct p9_out *o);
/* A whole Rlerror(tag, ecode); the length or -EMSGSIZE. */
int p9_rlerror(struct p9_out *o, uint16_t tag, uint32_t ecode);
/* 9P2000.u's Rerror(tag, ename, ecode), ename the errno's text. */
int p9_rerror_u(struct p9_out *o, uint16_t tag, uint32_t ecode);

/* Little-endian loads for the transport and the guest's client. */
static inline uint32_t p9_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#endif
