/*
 * xenstore wire messages: request parser and reply builder.  See xs_msg.h.
 */
#include "services/xenstore/xs_msg.h"

#include <errno.h>
#include <string.h>

/*
 * What each request type carries, from docs/misc/xenstore.txt.  "min".."max"
 * NUL-terminated strings; "loose" types ("<wpath>|<token>|?") may carry
 * anything after the strings they need, strict ones nothing.
 */
enum xs_args_kind {
	XS_ARGS_NONE = 0, /* not a request a client may send */
	XS_ARGS_STRICT,
	XS_ARGS_LOOSE,
	XS_ARGS_WRITE,    /* <path>|<value...> */
	XS_ARGS_ANY,      /* payload ignored */
};

struct xs_args_rule {
	enum xs_args_kind kind;
	unsigned min, max;
};

static const struct xs_args_rule xs_args_rules[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { XS_ARGS_LOOSE, 1, XS_MSG_MAX_ARGS },
	[XS_DIRECTORY] = { XS_ARGS_STRICT, 1, 1 },
	[XS_READ] = { XS_ARGS_STRICT, 1, 1 },
	[XS_GET_PERMS] = { XS_ARGS_STRICT, 1, 1 },
	[XS_WATCH] = { XS_ARGS_LOOSE, 2, 2 },
	[XS_UNWATCH] = { XS_ARGS_LOOSE, 2, 2 },
	[XS_TRANSACTION_START] = { XS_ARGS_ANY, 0, 0 },
	[XS_TRANSACTION_END] = { XS_ARGS_STRICT, 1, 1 },
	[XS_INTRODUCE] = { XS_ARGS_LOOSE, 3, 3 },
	[XS_RELEASE] = { XS_ARGS_STRICT, 1, 1 },
	[XS_GET_DOMAIN_PATH] = { XS_ARGS_STRICT, 1, 1 },
	[XS_WRITE] = { XS_ARGS_WRITE, 1, 1 },
	[XS_MKDIR] = { XS_ARGS_STRICT, 1, 1 },
	[XS_RM] = { XS_ARGS_STRICT, 1, 1 },
	[XS_SET_PERMS] = { XS_ARGS_STRICT, 2, XS_MSG_MAX_ARGS },
	[XS_IS_DOMAIN_INTRODUCED] = { XS_ARGS_STRICT, 1, 1 },
	[XS_RESUME] = { XS_ARGS_STRICT, 1, 1 },
	[XS_SET_TARGET] = { XS_ARGS_STRICT, 2, 2 },
	[XS_RESET_WATCHES] = { XS_ARGS_ANY, 0, 0 },
	[XS_DIRECTORY_PART] = { XS_ARGS_STRICT, 2, 2 },
};

int xs_msg_parse(const void *msg, size_t len, struct xs_req *req)
{
	const struct xs_args_rule *rule;
	uint32_t plen, off;
	unsigned n;

	req->nr_args = 0;
	req->data = NULL;
	req->data_len = 0;
	if (len < sizeof(req->hdr))
		return -EPROTO;
	/* Copy once: everything below looks only at the copy. */
	memcpy(&req->hdr, msg, sizeof(req->hdr));
	plen = req->hdr.len;
	if (plen > XENSTORE_PAYLOAD_MAX || plen != len - sizeof(req->hdr))
		return -EPROTO;
	memcpy(req->buf, (const char *)msg + sizeof(req->hdr), plen);
	memset(req->buf + plen, 0, sizeof(req->buf) - plen);

	if (req->hdr.type >= XS_TYPE_COUNT)
		return -EINVAL;
	rule = &xs_args_rules[req->hdr.type];
	switch (rule->kind) {
	case XS_ARGS_NONE:
		return -EINVAL;
	case XS_ARGS_ANY:
		return 0;
	case XS_ARGS_WRITE: {
		const char *nul = memchr(req->buf, '\0', plen);

		if (!nul)
			return -EINVAL;
		req->args[0] = req->buf;
		req->nr_args = 1;
		req->data = nul + 1;
		req->data_len = plen - (uint32_t)(nul + 1 - req->buf);
		return 0;
	}
	case XS_ARGS_STRICT:
	case XS_ARGS_LOOSE:
		break;
	}

	/* Split into NUL-terminated strings. */
	n = 0;
	off = 0;
	while (off < plen) {
		const char *nul = memchr(req->buf + off, '\0', plen - off);

		if (!nul)
			break; /* unterminated tail */
		if (n == rule->max) {
			if (rule->kind == XS_ARGS_LOOSE)
				break; /* "|?": the rest is ignored */
			return rule->max == XS_MSG_MAX_ARGS ? -E2BIG : -EINVAL;
		}
		req->args[n++] = req->buf + off;
		off = (uint32_t)(nul + 1 - req->buf);
	}
	if (n < rule->min)
		return -EINVAL;
	if (rule->kind == XS_ARGS_STRICT && off != plen)
		return -EINVAL; /* bytes after the last NUL */
	req->nr_args = n;
	return 0;
}

void xs_reply_init(struct xs_reply *r, uint32_t type, const struct xsd_sockmsg *req)
{
	r->hdr.type = type;
	r->hdr.req_id = req ? req->req_id : 0;
	r->hdr.tx_id = req ? req->tx_id : 0;
	r->hdr.len = 0;
}

int xs_reply_add(struct xs_reply *r, const void *data, size_t len)
{
	if (len > XENSTORE_PAYLOAD_MAX - r->hdr.len)
		return -E2BIG;
	memcpy(r->payload + r->hdr.len, data, len);
	r->hdr.len += (uint32_t)len;
	return 0;
}

int xs_reply_add_str(struct xs_reply *r, const char *s)
{
	return xs_reply_add(r, s, strlen(s) + 1);
}

const char *xs_errno_name(int errnum)
{
	size_t i;

	for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == errnum)
			return xsd_errors[i].errstring;
	return NULL;
}

void xs_reply_error(struct xs_reply *r, const struct xsd_sockmsg *req, int errnum)
{
	const char *name = xs_errno_name(errnum);

	xs_reply_init(r, XS_ERROR, req);
	/* Xen's clients map unknown strings to EINVAL anyway. */
	if (xs_reply_add_str(r, name ? name : "EINVAL"))
		r->hdr.len = 0; /* cannot happen: names are short */
}
