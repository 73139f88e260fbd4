/*
 * xenstore wire messages: a pure parser for requests and a builder for
 * replies.  The format is Xen's (xen/io/xs_wire.h, docs/misc/xenstore.txt):
 * a struct xsd_sockmsg header followed by hdr.len payload bytes, usually
 * NUL-terminated strings.  Nothing here touches the store or guest memory;
 * it is unit-tested and fuzzed on its own.
 */
#ifndef PVISOR_XS_MSG_H
#define PVISOR_XS_MSG_H

#include <errno.h> /* before xs_wire.h: it defines xsd_errors under EINVAL */
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>

/* Most strings a request may carry (SET_PERMS: path + perms). */
#define XS_MSG_MAX_ARGS 64

/*
 * A parsed request.  The payload is copied once into buf (NUL-padded), and
 * args[] point into that copy, so the guest cannot change a request after it
 * was validated.
 */
struct xs_req {
	struct xsd_sockmsg hdr;
	unsigned nr_args;
	const char *args[XS_MSG_MAX_ARGS];
	/* XS_WRITE: the value, everything after the path's NUL (not
	 * NUL-terminated, may contain NULs). */
	const char *data;
	uint32_t data_len;
	char buf[XENSTORE_PAYLOAD_MAX + 1];
};

/*
 * Parses one complete message (header + payload, len bytes) into req.
 * Returns:
 *   0        valid request; args as the message type requires
 *   -EPROTO  framing violation: len < header, hdr.len > XENSTORE_PAYLOAD_MAX
 *            or hdr.len != len - header.  The connection cannot be trusted
 *            any more (xenstored ignores such a client).
 *   -EINVAL  well framed, but the type is unknown or reserved for replies, or
 *            the arguments are malformed (missing NUL, wrong count).  Reply
 *            with XS_ERROR "EINVAL"; req->hdr is valid for that.
 *   -E2BIG   more than XS_MSG_MAX_ARGS strings; reply "E2BIG".
 * Path contents are not checked here (that needs the caller's domid).
 */
int xs_msg_parse(const void *msg, size_t len, struct xs_req *req)
	__attribute__((warn_unused_result));

/* A reply or watch event under construction: header + payload. */
struct xs_reply {
	struct xsd_sockmsg hdr;
	char payload[XENSTORE_PAYLOAD_MAX];
};

/* Starts a reply of the given type echoing the request's req_id/tx_id. */
void xs_reply_init(struct xs_reply *r, uint32_t type, const struct xsd_sockmsg *req);
/* Appends raw bytes; -E2BIG (and nothing appended) past XENSTORE_PAYLOAD_MAX. */
int xs_reply_add(struct xs_reply *r, const void *data, size_t len)
	__attribute__((warn_unused_result));
/* Appends a string and its terminating NUL; -E2BIG as above. */
int xs_reply_add_str(struct xs_reply *r, const char *s)
	__attribute__((warn_unused_result));
/* Makes r an XS_ERROR reply naming errnum ("EINVAL" for unknown numbers). */
void xs_reply_error(struct xs_reply *r, const struct xsd_sockmsg *req, int errnum);
/* Total bytes of the reply (header + payload). */
static inline size_t xs_reply_size(const struct xs_reply *r)
{
	return sizeof(r->hdr) + r->hdr.len;
}

/* The xsd_errors name of errnum, or NULL if Xen's table has none. */
const char *xs_errno_name(int errnum);

#endif
