/*
 * xenstore: wire parser, operations and errors, permissions, transactions,
 * watches, quotas, malformed input and the ring transport.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_msg.h"

#define GUEST 1

/* A reply as the guest sees it. */
struct msg {
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

static size_t build(char *buf, uint32_t type, uint32_t tx, const void *payload, size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = 42, .tx_id = tx, .len = (uint32_t)len };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

/* Takes the next whole message out of c's output; false if none. */
static bool next_msg(struct xs_conn *c, struct msg *m)
{
	size_t n = xs_conn_output(c, &m->hdr, sizeof(m->hdr));

	if (n == 0)
		return false;
	assert_int_equal(n, sizeof(m->hdr));
	assert_true(m->hdr.len <= XENSTORE_PAYLOAD_MAX);
	assert_int_equal(xs_conn_output(c, m->body, m->hdr.len), m->hdr.len);
	m->body[m->hdr.len] = '\0';
	return true;
}

/*
 * Watch events that came out ahead of a reply (xenstored queues the events a
 * change fires before the reply to the request that made it).
 */
static struct msg stash[8];
static unsigned nr_stash;

/* Sends one request and returns its reply; events before it are stashed. */
static void rpc(struct xs_conn *c, uint32_t type, uint32_t tx, const void *payload, size_t len,
		struct msg *m)
{
	char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];

	assert_int_equal(xs_conn_input(c, buf, build(buf, type, tx, payload, len)), 0);
	for (;;) {
		assert_true(next_msg(c, m));
		if (m->hdr.type != XS_WATCH_EVENT || type == XS_WATCH_EVENT)
			break;
		assert_true(nr_stash < 8);
		stash[nr_stash++] = *m;
	}
}

/* Payload given as a string with '|' standing for NUL. */
static size_t unbar(const char *s, char *out)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		out[i] = s[i] == '|' ? '\0' : s[i];
	return n;
}

/* Reply payload rendered with '|' for NUL. */
static const char *bar(const struct msg *m)
{
	static char s[XENSTORE_PAYLOAD_MAX + 1];
	uint32_t i;

	for (i = 0; i < m->hdr.len; i++)
		s[i] = m->body[i] ? m->body[i] : '|';
	s[m->hdr.len] = '\0';
	return s;
}

static void call(struct xs_conn *c, uint32_t type, uint32_t tx, const char *args, struct msg *m)
{
	char p[XENSTORE_PAYLOAD_MAX];

	rpc(c, type, tx, p, unbar(args, p), m);
}

/* Expects reply type/payload; "E:EACCES" means an XS_ERROR. */
static void expect(struct xs_conn *c, uint32_t type, uint32_t tx, const char *args,
		   const char *want)
{
	struct msg m;

	call(c, type, tx, args, &m);
	if (strncmp(want, "E:", 2) == 0) {
		assert_int_equal(m.hdr.type, XS_ERROR);
		assert_string_equal(m.body, want + 2);
	} else {
		if (m.hdr.type == XS_ERROR)
			fail_msg("type %u args '%s': error %s", type, args, m.body);
		assert_int_equal(m.hdr.type, type);
		assert_string_equal(bar(&m), want);
	}
	assert_int_equal(m.hdr.req_id, 42);
}

struct fixture {
	struct xenstore *xs;
	struct xs_conn *c;
	int kicks;
};

static void kick(void *opaque)
{
	((struct fixture *)opaque)->kicks++;
}

static int setup(void **state)
{
	static const struct xs_perm backend[1] = { { 0, XS_PERM_NONE } };
	const struct xs_domain_info info = { .name = "guest", .target_kb = 65536, .vcpus = 1 };
	struct fixture *f = calloc(1, sizeof(*f));

	nr_stash = 0;
	assert_non_null(f);
	f->xs = xs_new();
	assert_non_null(f->xs);
	assert_int_equal(xs_domain_setup(f->xs, GUEST, &info), 0);
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/0/backend/vbd/1/51712/state", "1", 1), 0);
	assert_int_equal(xs_dom0_set_perms(f->xs, "/local/domain/0/backend", backend, 1), 0);
	f->c = xs_conn_new(f->xs, GUEST, kick, f);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	xs_conn_free(f->c);
	xs_free(f->xs);
	free(f);
	return 0;
}

/* ------------------------------------------------------------------ */

struct parse_row {
	const char *name;
	uint32_t type;
	const char *payload; /* '|' = NUL */
	int hdr_len_delta;   /* hdr.len minus actual payload length */
	int rc;
	unsigned nr_args;
};

static const struct parse_row parse_rows[] = {
	{ "read one arg", XS_READ, "a/b|", 0, 0, 1 },
	{ "read missing NUL", XS_READ, "a/b", 0, -EINVAL, 0 },
	{ "read two args", XS_READ, "a|b|", 0, -EINVAL, 0 },
	{ "read empty payload", XS_READ, "", 0, -EINVAL, 0 },
	{ "write value", XS_WRITE, "a|va|ue", 0, 0, 1 },
	{ "write no NUL", XS_WRITE, "abc", 0, -EINVAL, 0 },
	{ "watch", XS_WATCH, "p|tok|", 0, 0, 2 },
	{ "watch extra ignored", XS_WATCH, "p|tok|x|y", 0, 0, 2 },
	{ "watch one arg", XS_WATCH, "p|", 0, -EINVAL, 0 },
	{ "watch token no NUL", XS_WATCH, "p|tok", 0, -EINVAL, 0 },
	{ "set_perms", XS_SET_PERMS, "p|n1|r0|", 0, 0, 3 },
	{ "set_perms no perms", XS_SET_PERMS, "p|", 0, -EINVAL, 0 },
	{ "transaction_start", XS_TRANSACTION_START, "|", 0, 0, 0 },
	{ "transaction_end", XS_TRANSACTION_END, "T|", 0, 0, 1 },
	{ "unknown type", 999, "x|", 0, -EINVAL, 0 },
	{ "watch_event from client", XS_WATCH_EVENT, "x|y|", 0, -EINVAL, 0 },
	{ "error from client", XS_ERROR, "EINVAL|", 0, -EINVAL, 0 },
	{ "removed XS_RESTRICT", XS_SET_TARGET + 1, "x|", 0, -EINVAL, 0 },
	{ "hdr.len longer than data", XS_READ, "a|", 5, -EPROTO, 0 },
	{ "hdr.len shorter than data", XS_READ, "a|", -1, -EPROTO, 0 },
};

/* The number nodes backends read from frontends (ring-ref, event-channel,
 * state): decimal digits only, bounded. */
static void test_dom0_read_uint(void **state)
{
	static const struct {
		const char *value;
		uint64_t max;
		int rc;
		uint64_t out;
	} cases[] = {
		{ "42", 100, 0, 42 },
		{ "0", 0, 0, 0 },
		{ "100", 100, 0, 100 },
		{ "101", 100, -EINVAL, 0 },
		{ "-1", UINT64_MAX, -EINVAL, 0 },
		{ "+1", UINT64_MAX, -EINVAL, 0 },
		{ " 1", UINT64_MAX, -EINVAL, 0 },
		{ "12a", UINT64_MAX, -EINVAL, 0 },
		{ "", UINT64_MAX, -EINVAL, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -EINVAL, 0 },
	};
	struct xenstore *xs = xs_new();
	uint64_t v;

	assert_non_null(xs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(xs_dom0_write(xs, "/n", cases[i].value,
					       strlen(cases[i].value)), 0);
		assert_int_equal(xs_dom0_read_uint(xs, "/n", cases[i].max, &v),
				 cases[i].rc);
		if (!cases[i].rc)
			assert_true(v == cases[i].out);
	}
	assert_int_equal(xs_dom0_read_uint(xs, "/absent", 1, &v), -ENOENT);
	xs_free(xs);
}

static void test_parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		const struct parse_row *r = &parse_rows[i];
		char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
		struct xsd_sockmsg h = { .type = r->type };
		struct xs_req *req = malloc(sizeof(*req));
		size_t plen = unbar(r->payload, buf + sizeof(h));
		int rc;

		h.len = (uint32_t)((int)plen + r->hdr_len_delta);
		memcpy(buf, &h, sizeof(h));
		rc = xs_msg_parse(buf, sizeof(h) + plen, req);
		if (rc != r->rc)
			fail_msg("%s: rc %d, want %d", r->name, rc, r->rc);
		if (rc == 0)
			assert_int_equal(req->nr_args, r->nr_args);
		free(req);
	}
}

static void test_parse_limits(void **state)
{
	static char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 16];
	struct xsd_sockmsg h = { .type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1 };
	struct xs_req *req = malloc(sizeof(*req));
	char *p = buf + sizeof(h);
	size_t i, n;

	(void)state;
	/* Payload one byte too long: framing error. */
	memset(p, 'a', XENSTORE_PAYLOAD_MAX + 1);
	p[1] = '\0';
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(xs_msg_parse(buf, sizeof(h) + h.len, req), -EPROTO);
	/* Exactly the maximum is fine. */
	h.len = XENSTORE_PAYLOAD_MAX;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(xs_msg_parse(buf, sizeof(h) + h.len, req), 0);
	assert_int_equal(req->data_len, XENSTORE_PAYLOAD_MAX - 2);
	/* Too many strings for SET_PERMS. */
	h.type = XS_SET_PERMS;
	for (n = 0, i = 0; i < XS_MSG_MAX_ARGS + 1; i++) {
		memcpy(p + n, "r1", 3);
		n += 3;
	}
	h.len = (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(xs_msg_parse(buf, sizeof(h) + n, req), -E2BIG);
	/* Shorter than a header. */
	assert_int_equal(xs_msg_parse(buf, 3, req), -EPROTO);
	free(req);
}

static void test_reply_error_names(void **state)
{
	struct xs_reply r;
	struct xsd_sockmsg req = { .type = XS_READ, .req_id = 7, .tx_id = 3 };

	(void)state;
	xs_reply_error(&r, &req, EACCES);
	assert_int_equal(r.hdr.type, XS_ERROR);
	assert_int_equal(r.hdr.req_id, 7);
	assert_int_equal(r.hdr.tx_id, 3);
	assert_string_equal(r.payload, "EACCES");
	xs_reply_error(&r, &req, 12345);
	assert_string_equal(r.payload, "EINVAL");
	assert_string_equal(xs_errno_name(EAGAIN), "EAGAIN");
}

/* ------------------------------------------------------------------ */

struct op_row {
	const char *name;
	uint32_t type;
	uint32_t tx;
	const char *args; /* '|' = NUL */
	const char *want; /* reply payload, or "E:<ERR>" */
};

static char long_path[XENSTORE_REL_PATH_MAX + 64];

static const struct op_row op_rows[] = {
	{ "read own name", XS_READ, 0, "name|", "guest" },
	{ "read absolute", XS_READ, 0, "/local/domain/1/domid|", "1" },
	{ "read missing in own home", XS_READ, 0, "nope|", "E:ENOENT" },
	{ "read dom0 backend without ACL", XS_READ, 0, "/local/domain/0/backend/vbd/1/51712/state|", "E:EACCES" },
	{ "read missing below unreadable", XS_READ, 0, "/local/domain/0/backend/zz|", "E:EACCES" },
	{ "read root", XS_READ, 0, "/|", "E:EACCES" },
	{ "write own data", XS_WRITE, 0, "data/x|hello", "OK|" },
	{ "read it back", XS_READ, 0, "data/x|", "hello" },
	{ "write with NUL in value", XS_WRITE, 0, "data/bin|a|b", "OK|" },
	{ "read NUL value", XS_READ, 0, "data/bin|", "a|b" },
	{ "write into read-only home", XS_WRITE, 0, "foo|x", "E:EACCES" },
	{ "write read-only node", XS_WRITE, 0, "name|evil", "E:EACCES" },
	{ "write dom0 backend", XS_WRITE, 0, "/local/domain/0/backend/vbd/1/51712/state|6", "E:EACCES" },
	{ "write elsewhere", XS_WRITE, 0, "/tool/x|1", "E:EACCES" },
	{ "mkdir", XS_MKDIR, 0, "device/vif/0|", "OK|" },
	{ "mkdir existing", XS_MKDIR, 0, "device/vif|", "OK|" },
	{ "mkdir read-only", XS_MKDIR, 0, "control|", "E:EACCES" },
	{ "directory", XS_DIRECTORY, 0, "memory|", "target|static-max|" },
	{ "directory empty", XS_DIRECTORY, 0, "device/vif/0|", "" },
	{ "directory missing", XS_DIRECTORY, 0, "nope|", "E:ENOENT" },
	{ "directory_part", XS_DIRECTORY_PART, 0, "memory|0|", "" /* checked below */ },
	{ "rm", XS_RM, 0, "data/x|", "OK|" },
	{ "rm absent, parent exists", XS_RM, 0, "data/x|", "OK|" },
	{ "rm absent parent", XS_RM, 0, "data/a/b|", "E:ENOENT" },
	{ "rm read-only", XS_RM, 0, "name|", "E:EACCES" },
	{ "rm root", XS_RM, 0, "/|", "E:EINVAL" },
	{ "get_perms own", XS_GET_PERMS, 0, "data|", "n1|" },
	{ "get_perms home", XS_GET_PERMS, 0, "/local/domain/1|", "n0|r1|" },
	{ "set_perms", XS_SET_PERMS, 0, "data|n1|r0|", "OK|" },
	{ "get_perms after", XS_GET_PERMS, 0, "data|", "n1|r0|" },
	{ "set_perms not owner", XS_SET_PERMS, 0, "name|n1|", "E:EACCES" },
	{ "set_perms give away", XS_SET_PERMS, 0, "data|n0|", "E:EPERM" },
	{ "set_perms bad letter", XS_SET_PERMS, 0, "data|x1|", "E:EINVAL" },
	{ "set_perms bad domid", XS_SET_PERMS, 0, "data|n1|r70000|", "E:EINVAL" },
	{ "set_perms empty domid", XS_SET_PERMS, 0, "data|n|", "E:EINVAL" },
	{ "set_perms too many", XS_SET_PERMS, 0, "data|n1|r2|r3|r4|r5|r6|", "E:ENOSPC" },
	{ "get_domain_path", XS_GET_DOMAIN_PATH, 0, "7|", "/local/domain/7|" },
	{ "get_domain_path junk", XS_GET_DOMAIN_PATH, 0, "7x|", "E:EINVAL" },
	{ "get_domain_path big", XS_GET_DOMAIN_PATH, 0, "65536|", "E:EINVAL" },
	{ "introduce", XS_INTRODUCE, 0, "2|100|3|", "E:EACCES" },
	{ "release", XS_RELEASE, 0, "1|", "E:EACCES" },
	{ "is_domain_introduced", XS_IS_DOMAIN_INTRODUCED, 0, "1|", "E:EACCES" },
	{ "control", XS_CONTROL, 0, "print|x|", "E:EACCES" },
	{ "set_target", XS_SET_TARGET, 0, "1|2|", "E:EACCES" },
	{ "unknown type", 1000, 0, "x|", "E:EINVAL" },
	{ "watch_event from guest", XS_WATCH_EVENT, 0, "a|b|", "E:EINVAL" },
	{ "bad tx id", XS_READ, 77, "name|", "E:ENOENT" },
	{ "transaction_end no tx", XS_TRANSACTION_END, 0, "T|", "E:ENOENT" },
	{ "transaction_end bad arg", XS_TRANSACTION_END, 0, "X|", "E:EINVAL" },
	{ "double slash", XS_READ, 0, "/local//domain|", "E:EINVAL" },
	{ "trailing slash", XS_READ, 0, "data/|", "E:EINVAL" },
	{ "empty relative", XS_READ, 0, "|", "E:EINVAL" },
	{ "special path read", XS_READ, 0, "@introduceDomain|", "E:EINVAL" },
	{ "bad char", XS_READ, 0, "data/a b|", "E:EINVAL" },
	{ "dot component", XS_READ, 0, "data/../x|", "E:EINVAL" },
	{ "oversized path", XS_READ, 0, long_path, "E:EINVAL" },
	{ "reset_watches", XS_RESET_WATCHES, 0, "", "OK|" },
};

static void test_ops_table(void **state)
{
	struct fixture *f = *state;
	size_t i;

	memset(long_path, 'a', sizeof(long_path) - 2);
	long_path[sizeof(long_path) - 2] = '|';
	long_path[sizeof(long_path) - 1] = '\0';
	for (i = 0; i < sizeof(op_rows) / sizeof(op_rows[0]); i++) {
		const struct op_row *r = &op_rows[i];
		struct msg m;

		if (r->type == XS_DIRECTORY_PART) {
			call(f->c, r->type, 0, r->args, &m);
			assert_int_equal(m.hdr.type, XS_DIRECTORY_PART);
			/* <gen>|target|static-max|| */
			assert_non_null(strstr(bar(&m), "|target|static-max||"));
			continue;
		}
		call(f->c, r->type, r->tx, r->args, &m);
		if (strncmp(r->want, "E:", 2) == 0) {
			if (m.hdr.type != XS_ERROR || strcmp(m.body, r->want + 2))
				fail_msg("%s: got type %u '%s', want %s", r->name, m.hdr.type,
					 bar(&m), r->want);
		} else if (m.hdr.type != r->type || strcmp(bar(&m), r->want)) {
			fail_msg("%s: got type %u '%s', want '%s'", r->name, m.hdr.type, bar(&m),
				 r->want);
		}
		assert_int_equal(m.hdr.req_id, 42);
		assert_int_equal(m.hdr.tx_id, r->tx);
		assert_false(next_msg(f->c, &m)); /* exactly one reply */
	}
}

static void test_acl_grants_read(void **state)
{
	struct fixture *f = *state;
	const struct xs_perm acl[2] = { { 0, XS_PERM_NONE }, { GUEST, XS_PERM_READ } };

	assert_int_equal(xs_dom0_set_perms(f->xs, "/local/domain/0/backend/vbd/1", acl, 2), 0);
	/* The ACL is on the parent only: the child keeps dom0's "n0". */
	expect(f->c, XS_READ, 0, "/local/domain/0/backend/vbd/1/51712/state|", "E:EACCES");
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/0/backend/vbd/1/51712/state", "4", 1), 0);
	assert_int_equal(xs_dom0_set_perms(f->xs, "/local/domain/0/backend/vbd/1/51712/state", acl, 2), 0);
	expect(f->c, XS_READ, 0, "/local/domain/0/backend/vbd/1/51712/state|", "4");
	expect(f->c, XS_WRITE, 0, "/local/domain/0/backend/vbd/1/51712/state|5", "E:EACCES");
	/* New nodes inherit the parent's permissions. */
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/0/backend/vbd/1/new", "x", 1), 0);
	expect(f->c, XS_READ, 0, "/local/domain/0/backend/vbd/1/new|", "x");
	/* dom0 reads what the guest wrote. */
	expect(f->c, XS_WRITE, 0, "device/vbd/51712/state|3", "OK|");
	{
		char *v;
		size_t len;

		assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/device/vbd/51712/state", &v, &len), 0);
		assert_string_equal(v, "3");
		free(v);
	}
	/* The guest owns what it creates in its own directories. */
	expect(f->c, XS_GET_PERMS, 0, "device/vbd/51712/state|", "n1|");
}

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	struct msg m;
	uint32_t t1, t2;

	expect(f->c, XS_WRITE, 0, "data/a|0", "OK|");
	/* Commit applies; changes are invisible outside until then. */
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	assert_int_equal(m.hdr.type, XS_TRANSACTION_START);
	t1 = (uint32_t)strtoul(m.body, NULL, 10);
	assert_true(t1 != 0);
	expect(f->c, XS_WRITE, t1, "data/b/c|in-tx", "OK|");
	expect(f->c, XS_READ, t1, "data/b/c|", "in-tx");
	expect(f->c, XS_READ, 0, "data/b/c|", "E:ENOENT");
	expect(f->c, XS_RM, t1, "data/a|", "OK|");
	expect(f->c, XS_READ, 0, "data/a|", "0");
	expect(f->c, XS_TRANSACTION_START, t1, "|", "E:EBUSY");
	expect(f->c, XS_TRANSACTION_END, t1, "T|", "OK|");
	expect(f->c, XS_READ, 0, "data/b/c|", "in-tx");
	expect(f->c, XS_READ, 0, "data/a|", "E:ENOENT");
	expect(f->c, XS_TRANSACTION_END, t1, "T|", "E:ENOENT");

	/* Conflict: a node the transaction read changed meanwhile. */
	expect(f->c, XS_WRITE, 0, "data/a|1", "OK|");
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t1 = (uint32_t)strtoul(m.body, NULL, 10);
	expect(f->c, XS_READ, t1, "data/a|", "1");
	expect(f->c, XS_WRITE, t1, "data/a|2", "OK|");
	expect(f->c, XS_WRITE, 0, "data/a|3", "OK|");
	expect(f->c, XS_TRANSACTION_END, t1, "T|", "E:EAGAIN");
	expect(f->c, XS_READ, 0, "data/a|", "3");

	/* Conflict through dom0, and through a created node. */
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t1 = (uint32_t)strtoul(m.body, NULL, 10);
	expect(f->c, XS_READ, t1, "data/new|", "E:ENOENT");
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/1/data/new", "d0", 2), 0);
	expect(f->c, XS_WRITE, t1, "data/z|1", "OK|");
	expect(f->c, XS_TRANSACTION_END, t1, "T|", "E:EAGAIN");
	expect(f->c, XS_READ, 0, "data/z|", "E:ENOENT");

	/* Non-conflicting: disjoint nodes in two transactions and outside. */
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t1 = (uint32_t)strtoul(m.body, NULL, 10);
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t2 = (uint32_t)strtoul(m.body, NULL, 10);
	assert_true(t1 != t2);
	expect(f->c, XS_WRITE, t1, "data/b/c|t1", "OK|");
	expect(f->c, XS_WRITE, t2, "data/a|t2", "OK|");
	expect(f->c, XS_WRITE, 0, "device/x|out", "OK|");
	expect(f->c, XS_TRANSACTION_END, t1, "T|", "OK|");
	expect(f->c, XS_TRANSACTION_END, t2, "T|", "OK|");
	expect(f->c, XS_READ, 0, "data/b/c|", "t1");
	expect(f->c, XS_READ, 0, "data/a|", "t2");

	/* Abort discards. */
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t1 = (uint32_t)strtoul(m.body, NULL, 10);
	expect(f->c, XS_WRITE, t1, "data/a|gone", "OK|");
	expect(f->c, XS_MKDIR, t1, "data/d|", "OK|");
	expect(f->c, XS_TRANSACTION_END, t1, "F|", "OK|");
	expect(f->c, XS_READ, 0, "data/a|", "t2");
	expect(f->c, XS_READ, 0, "data/d|", "E:ENOENT");

	/* rm then re-create inside one transaction removes old children. */
	expect(f->c, XS_WRITE, 0, "data/r/old|1", "OK|");
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t1 = (uint32_t)strtoul(m.body, NULL, 10);
	expect(f->c, XS_RM, t1, "data/r|", "OK|");
	expect(f->c, XS_WRITE, t1, "data/r/new|2", "OK|");
	expect(f->c, XS_SET_PERMS, t1, "data/r/new|n1|r0|", "OK|");
	expect(f->c, XS_TRANSACTION_END, t1, "T|", "OK|");
	expect(f->c, XS_DIRECTORY, 0, "data/r|", "new|");
	expect(f->c, XS_GET_PERMS, 0, "data/r/new|", "n1|r0|");
}

static void test_transaction_quota(void **state)
{
	struct fixture *f = *state;
	struct msg m;
	int i;

	for (i = 0; i < XS_QUOTA_TRANSACTIONS; i++) {
		call(f->c, XS_TRANSACTION_START, 0, "|", &m);
		assert_int_equal(m.hdr.type, XS_TRANSACTION_START);
	}
	expect(f->c, XS_TRANSACTION_START, 0, "|", "E:ENOSPC");
	/* RESET_WATCHES also ends every transaction. */
	expect(f->c, XS_RESET_WATCHES, 0, "", "OK|");
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	assert_int_equal(m.hdr.type, XS_TRANSACTION_START);
}

/* Reads the next message and expects a watch event "path|token|". */
static void expect_event(struct xs_conn *c, const char *want)
{
	struct msg m;

	if (nr_stash) {
		m = stash[0];
		memmove(&stash[0], &stash[1], --nr_stash * sizeof(stash[0]));
	} else if (!next_msg(c, &m)) {
		fail_msg("no event, want %s", want);
	}
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_int_equal(m.hdr.req_id, 0);
	assert_string_equal(bar(&m), want);
}

static void expect_no_event(struct xs_conn *c)
{
	struct msg m;

	if (nr_stash)
		fail_msg("unexpected event '%s'", bar(&stash[0]));
	if (next_msg(c, &m))
		fail_msg("unexpected message type %u '%s'", m.hdr.type, bar(&m));
}

static void test_watches(void **state)
{
	struct fixture *f = *state;
	struct msg m;
	uint32_t t;

	/* OK, then the initial event with the path as given. */
	expect(f->c, XS_WATCH, 0, "data|tk|", "OK|");
	expect_event(f->c, "data|tk|");
	expect(f->c, XS_WRITE, 0, "data/z|1", "OK|");
	expect_event(f->c, "data/z|tk|");
	expect(f->c, XS_WRITE, 0, "device/q|1", "OK|");
	expect_no_event(f->c);
	/* The node itself, and a removal above a watch. */
	expect(f->c, XS_WATCH, 0, "/local/domain/1/data/deep/er|abs|", "OK|");
	expect_event(f->c, "/local/domain/1/data/deep/er|abs|");
	expect(f->c, XS_WRITE, 0, "data/deep/er|1", "OK|");
	expect_event(f->c, "data/deep/er|tk|");
	expect_event(f->c, "/local/domain/1/data/deep/er|abs|");
	expect(f->c, XS_RM, 0, "data/deep|", "OK|");
	expect_event(f->c, "data/deep|tk|");
	expect_event(f->c, "/local/domain/1/data/deep/er|abs|");
	/* Duplicates, unwatch. */
	expect(f->c, XS_WATCH, 0, "data|tk|", "E:EEXIST");
	expect(f->c, XS_UNWATCH, 0, "/local/domain/1/data/deep/er|abs|", "OK|");
	expect(f->c, XS_UNWATCH, 0, "data|nope|", "E:ENOENT");
	/* Events from a transaction come at commit, not before. */
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	t = (uint32_t)strtoul(m.body, NULL, 10);
	expect(f->c, XS_WRITE, t, "data/tx|1", "OK|");
	expect_no_event(f->c);
	expect(f->c, XS_TRANSACTION_END, t, "T|", "OK|");
	expect_event(f->c, "data/tx|tk|");
	/* dom0 changes fire guest watches, kicking the connection. */
	f->kicks = 0;
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/1/data/fromdom0", "x", 1), 0);
	assert_true(f->kicks > 0);
	expect_event(f->c, "data/fromdom0|tk|");
	/* No events for nodes the guest cannot read. */
	expect(f->c, XS_WATCH, 0, "/local/domain/0/backend|be|", "OK|");
	expect_event(f->c, "/local/domain/0/backend|be|");
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/0/backend/vbd/1/51712/state", "2", 1), 0);
	expect_no_event(f->c);
	/* Special paths. */
	expect(f->c, XS_WATCH, 0, "@releaseDomain|rel|", "OK|");
	expect_event(f->c, "@releaseDomain|rel|");
	{
		struct xs_conn *other = xs_conn_new(f->xs, 2, NULL, NULL);

		assert_non_null(other);
		assert_null(xs_conn_new(f->xs, 2, NULL, NULL)); /* already there */
		xs_conn_free(other);
	}
	expect_event(f->c, "@releaseDomain|rel|");
	expect_no_event(f->c);
	/* RESET_WATCHES drops them all. */
	expect(f->c, XS_RESET_WATCHES, 0, "", "OK|");
	expect(f->c, XS_WRITE, 0, "data/z|2", "OK|");
	expect_no_event(f->c);
}

static void test_watch_quota(void **state)
{
	struct fixture *f = *state;
	char args[64];
	struct msg m;
	int i;

	for (i = 0; i < XS_QUOTA_WATCHES; i++) {
		snprintf(args, sizeof(args), "data|t%d|", i);
		call(f->c, XS_WATCH, 0, args, &m);
		assert_int_equal(m.hdr.type, XS_WATCH);
		assert_true(next_msg(f->c, &m)); /* initial event */
	}
	expect(f->c, XS_WATCH, 0, "data|onemore|", "E:E2BIG");
}

struct cb_log {
	int calls;
	char last_path[256], last_token[64];
};

static void on_watch(void *opaque, const char *path, const char *token)
{
	struct cb_log *log = opaque;

	log->calls++;
	snprintf(log->last_path, sizeof(log->last_path), "%s", path);
	snprintf(log->last_token, sizeof(log->last_token), "%s", token);
}

static void test_dom0_watch(void **state)
{
	struct fixture *f = *state;
	struct cb_log log = { 0 };

	assert_int_equal(xs_dom0_watch(f->xs, "/local/domain/1/device", "fe", on_watch, &log), 0);
	assert_int_equal(log.calls, 1);
	assert_string_equal(log.last_path, "/local/domain/1/device");
	assert_int_equal(xs_dom0_watch(f->xs, "/local/domain/1/device", "fe", on_watch, &log), -EEXIST);
	expect(f->c, XS_WRITE, 0, "device/vbd/51712/state|4", "OK|");
	assert_int_equal(log.calls, 2);
	assert_string_equal(log.last_path, "/local/domain/1/device/vbd/51712/state");
	assert_string_equal(log.last_token, "fe");
	assert_int_equal(xs_dom0_unwatch(f->xs, "/local/domain/1/device", "fe"), 0);
	expect(f->c, XS_WRITE, 0, "device/vbd/51712/state|5", "OK|");
	assert_int_equal(log.calls, 2);
	assert_int_equal(xs_dom0_unwatch(f->xs, "/local/domain/1/device", "fe"), -ENOENT);
	assert_int_equal(xs_dom0_watch(f->xs, "@introduceDomain", "in", on_watch, &log), 0);
	assert_int_equal(log.calls, 3);
	{
		struct xs_conn *other = xs_conn_new(f->xs, 3, NULL, NULL);

		assert_int_equal(log.calls, 4);
		assert_string_equal(log.last_path, "@introduceDomain");
		xs_conn_free(other);
	}
}

static void test_dom0_api(void **state)
{
	struct fixture *f = *state;
	struct xs_perm *perms;
	unsigned nr;
	char *v;
	size_t len;

	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/memory/target", &v, &len), 0);
	assert_string_equal(v, "65536");
	free(v);
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/vm", &v, &len), 0);
	assert_string_equal(v, "/vm/00000000-0000-0000-0000-000000000000");
	free(v);
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/cpu/0/availability", &v, &len), 0);
	assert_string_equal(v, "online");
	free(v);
	assert_int_equal(xs_dom0_printf(f->xs, "backend/vif/1/0/mac", "%s", "00:16:3e:00:00:01"), 0);
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/0/backend/vif/1/0/mac", &v, &len), 0);
	assert_int_equal(len, 17);
	free(v);
	assert_int_equal(xs_dom0_directory(f->xs, "/local/domain/0/backend", &v, &len), 0);
	assert_int_equal(len, strlen("vbd") + 1 + strlen("vif") + 1);
	assert_string_equal(v, "vbd");
	free(v);
	assert_int_equal(xs_dom0_get_perms(f->xs, "/local/domain/1/control/shutdown", &perms, &nr), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(perms[0].id, GUEST);
	free(perms);
	assert_int_equal(xs_dom0_read(f->xs, "/nope", &v, &len), -ENOENT);
	assert_int_equal(xs_dom0_read(f->xs, "bad//path", &v, &len), -EINVAL);
	assert_int_equal(xs_dom0_rm(f->xs, "/local/domain/0/backend/vif"), 0);
	assert_int_equal(xs_dom0_rm(f->xs, "/local/domain/0/backend/vif/1"), -ENOENT);
	assert_int_equal(xs_dom0_mkdir(f->xs, "/a/b/c"), 0);
	{
		static char big[XENSTORE_PAYLOAD_MAX + 1];

		assert_int_equal(xs_dom0_write(f->xs, "/a/big", big, sizeof(big)), -E2BIG);
	}
	/* The guest can request a shutdown through its control node. */
	expect(f->c, XS_WRITE, 0, "control/shutdown|poweroff", "OK|");
	expect(f->c, XS_WRITE, 0, "control/feature-poweroff|1", "OK|");
	expect(f->c, XS_WRITE, 0, "control/other|1", "E:EACCES");
}

static void test_node_quota(void **state)
{
	struct fixture *f = *state;
	char args[64];
	struct msg m;
	int i, ok = 0;

	for (i = 0; i < XS_QUOTA_NODES + 10; i++) {
		snprintf(args, sizeof(args), "data/n%d|v", i);
		call(f->c, XS_WRITE, 0, args, &m);
		if (m.hdr.type == XS_ERROR) {
			assert_string_equal(m.body, "ENOSPC");
			break;
		}
		ok++;
	}
	assert_true(ok < XS_QUOTA_NODES);
	assert_true(ok > XS_QUOTA_NODES - 50);
	/* Removing frees quota. */
	expect(f->c, XS_RM, 0, "data/n0|", "OK|");
	expect(f->c, XS_WRITE, 0, "data/again|v", "OK|");
	/* A transaction cannot exceed it either. */
	call(f->c, XS_TRANSACTION_START, 0, "|", &m);
	{
		uint32_t t = (uint32_t)strtoul(m.body, NULL, 10);

		expect(f->c, XS_WRITE, t, "data/t1|v", "E:ENOSPC");
		expect(f->c, XS_TRANSACTION_END, t, "F|", "OK|");
	}
}

static void test_malformed_breaks(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	struct xsd_sockmsg h = { .type = XS_READ, .len = 10 };

	/* Framing error: the connection is ignored from then on. */
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(xs_conn_input(f->c, buf, sizeof(h) + 3), -EPROTO);
	assert_true(xs_conn_broken(f->c));
	assert_int_equal(xs_conn_input(f->c, buf, build(buf, XS_READ, 0, "name", 5)), -EPROTO);
	{
		struct msg m;

		assert_false(next_msg(f->c, &m));
	}
}

/* ------------------------------------------------------------------ */
/* The ring, driven as a guest would. */

static size_t guest_put(struct xenstore_domain_interface *r, const void *data, size_t len)
{
	uint32_t prod = r->req_prod, cons = r->req_cons, i;
	size_t space = XENSTORE_RING_SIZE - (prod - cons);

	if (len > space)
		len = space;
	for (i = 0; i < len; i++)
		r->req[MASK_XENSTORE_IDX(prod + i)] = ((const char *)data)[i];
	r->req_prod = prod + (uint32_t)len;
	return len;
}

static size_t guest_get(struct xenstore_domain_interface *r, void *data, size_t len)
{
	uint32_t prod = r->rsp_prod, cons = r->rsp_cons, i;

	if (len > prod - cons)
		len = prod - cons;
	for (i = 0; i < len; i++)
		((char *)data)[i] = r->rsp[MASK_XENSTORE_IDX(cons + i)];
	r->rsp_cons = cons + (uint32_t)len;
	return len;
}

/* Reads a full message from the response ring, servicing as needed. */
static void guest_recv(struct fixture *f, struct xenstore_domain_interface *r, struct msg *m)
{
	size_t got = 0, want = sizeof(m->hdr);
	int rounds = 0;

	while (got < want) {
		got += guest_get(r, (char *)m + got, want - got);
		if (got == sizeof(m->hdr))
			want = sizeof(m->hdr) + m->hdr.len;
		if (got < want) {
			assert_true(++rounds < 100);
			(void)xs_ring_process(f->xs, f->c, r);
		}
	}
	m->body[m->hdr.len] = '\0';
}

static struct xenstore_domain_interface *ring_at(uint32_t start)
{
	struct xenstore_domain_interface *r = calloc(1, sizeof(*r));

	xs_ring_init(r);
	r->req_cons = r->req_prod = r->rsp_cons = r->rsp_prod = start;
	return r;
}

static void test_ring_basic_wrap(void **state)
{
	struct fixture *f = *state;
	static const uint32_t starts[] = { 0, 1000, 0xfffffff0u, 0xffffff00u + 7 };
	size_t s;

	for (s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		struct xenstore_domain_interface *r = ring_at(starts[s]);
		char buf[128];
		struct msg m;
		int i;

		assert_int_equal(r->server_features,
				 XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
		/* Enough round trips to wrap the ring several times. */
		for (i = 0; i < 60; i++) {
			size_t n = build(buf, XS_READ, 0, "name", 5);

			assert_int_equal(guest_put(r, buf, n), n);
			assert_int_equal(xs_ring_process(f->xs, f->c, r), 1);
			guest_recv(f, r, &m);
			assert_int_equal(m.hdr.type, XS_READ);
			assert_string_equal(m.body, "guest");
		}
		assert_int_equal(r->req_cons, r->req_prod);
		assert_int_equal(xs_ring_process(f->xs, f->c, r), 0); /* nothing to do */
		free(r);
	}
}

static void test_ring_partial(void **state)
{
	struct fixture *f = *state;
	struct xenstore_domain_interface *r = ring_at(0xfffffffa);
	char buf[128];
	size_t n = build(buf, XS_WRITE, 0, "data/p\0value", 12), i;
	struct msg m;

	/* Byte by byte: no reply until the message is complete. */
	for (i = 0; i < n - 1; i++) {
		assert_int_equal(guest_put(r, buf + i, 1), 1);
		assert_int_equal(xs_ring_process(f->xs, f->c, r), 1); /* consumed */
		assert_int_equal(r->rsp_prod, r->rsp_cons);
	}
	assert_int_equal(guest_put(r, buf + n - 1, 1), 1);
	assert_int_equal(xs_ring_process(f->xs, f->c, r), 1);
	guest_recv(f, r, &m);
	assert_int_equal(m.hdr.type, XS_WRITE);
	assert_string_equal(m.body, "OK");
	/* Two requests in one batch, then a reply bigger than the ring. */
	{
		static char big[3000];

		memset(big, 'v', sizeof(big));
		assert_int_equal(xs_dom0_write(f->xs, "/local/domain/1/data/big", big, sizeof(big)), 0);
		n = build(buf, XS_READ, 0, "data/big", 9);
		assert_int_equal(guest_put(r, buf, n), n);
		n = build(buf, XS_READ, 0, "data/p", 7);
		assert_int_equal(guest_put(r, buf, n), n);
		assert_int_equal(xs_ring_process(f->xs, f->c, r), 1);
		guest_recv(f, r, &m);
		assert_int_equal(m.hdr.type, XS_READ);
		assert_int_equal(m.hdr.len, sizeof(big));
		assert_memory_equal(m.body, big, sizeof(big));
		guest_recv(f, r, &m);
		assert_string_equal(m.body, "value");
	}
	assert_false(xs_conn_broken(f->c));
	free(r);
}

struct ring_bad_row {
	const char *name;
	uint32_t req_cons, req_prod, rsp_cons, rsp_prod;
	uint32_t msg_len; /* header with this len is queued if != 0 */
	uint32_t error;
};

static const struct ring_bad_row ring_bad_rows[] = {
	{ "producer past the ring", 0, XENSTORE_RING_SIZE + 1, 0, 0, 0, XENSTORE_ERROR_RINGIDX },
	{ "producer behind consumer", 100, 50, 0, 0, 0, XENSTORE_ERROR_RINGIDX },
	{ "response consumer past producer", 0, 0, 3000, 0, 1, XENSTORE_ERROR_RINGIDX },
	{ "payload too long", 0, 0, 0, 0, XENSTORE_PAYLOAD_MAX + 1, XENSTORE_ERROR_PROTO },
	{ "payload huge", 0, 0, 0, 0, 0xffffffffu, XENSTORE_ERROR_PROTO },
};

static void test_ring_bad(void **state)
{
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(ring_bad_rows) / sizeof(ring_bad_rows[0]); i++) {
		const struct ring_bad_row *row = &ring_bad_rows[i];
		struct xenstore_domain_interface *r = ring_at(0);
		struct msg m;

		r->rsp_cons = row->rsp_cons;
		r->rsp_prod = row->rsp_prod;
		if (row->msg_len) {
			struct xsd_sockmsg h = { .type = XS_READ, .len = row->msg_len };

			if (row->msg_len == 1) {
				char buf[64];

				/* a valid request, so that a reply must go out */
				assert_int_equal(guest_put(r, buf, build(buf, XS_READ, 0, "name", 5)),
						 sizeof(h) + 5);
			} else {
				assert_int_equal(guest_put(r, &h, sizeof(h)), sizeof(h));
			}
		} else {
			r->req_cons = row->req_cons;
			r->req_prod = row->req_prod;
		}
		if (xs_ring_process(f->xs, f->c, r) != 1)
			fail_msg("%s: no notify", row->name);
		if (!xs_conn_broken(f->c) || r->error != row->error)
			fail_msg("%s: broken %d error %u", row->name, xs_conn_broken(f->c), r->error);
		/* Ignored from now on... */
		assert_int_equal(xs_ring_process(f->xs, f->c, r), 0);
		/* ...until the guest asks for a reconnect. */
		r->connection = XENSTORE_RECONNECT;
		assert_int_equal(xs_ring_process(f->xs, f->c, r), 1);
		assert_int_equal(r->connection, XENSTORE_CONNECTED);
		assert_int_equal(r->error, XENSTORE_ERROR_NONE);
		assert_false(xs_conn_broken(f->c));
		{
			char buf[64];
			size_t n = build(buf, XS_READ, 0, "domid", 6);

			assert_int_equal(guest_put(r, buf, n), n);
			assert_int_equal(xs_ring_process(f->xs, f->c, r), 1);
			guest_recv(f, r, &m);
			assert_string_equal(m.body, "1");
		}
		free(r);
	}
}

static void test_ring_backpressure(void **state)
{
	struct fixture *f = *state;
	struct xenstore_domain_interface *r = ring_at(0);
	char buf[64];
	size_t n = build(buf, XS_READ, 0, "name", 5), sent = 0;
	struct xs_conn_stats st;
	struct msg m;
	int i, got = 0;

	/* The guest fills the request ring but never reads replies. */
	for (i = 0; i < 200; i++) {
		/* Whole messages only. */
		if (XENSTORE_RING_SIZE - (r->req_prod - r->req_cons) >= n) {
			assert_int_equal(guest_put(r, buf, n), n);
			sent++;
		}
		(void)xs_ring_process(f->xs, f->c, r);
	}
	xs_conn_stats(f->c, &st);
	assert_true(st.out_bytes <= XS_OUT_SOFT + sizeof(struct xsd_sockmsg) + 16);
	/* Now it reads: every request is answered, in order. */
	while (r->rsp_prod != r->rsp_cons || st.out_bytes) {
		guest_recv(f, r, &m);
		assert_string_equal(m.body, "guest");
		got++;
		(void)xs_ring_process(f->xs, f->c, r);
		xs_conn_stats(f->c, &st);
		if (r->req_cons == r->req_prod && r->rsp_prod == r->rsp_cons && !st.out_bytes)
			break;
	}
	assert_int_equal(got, sent);
	assert_false(xs_conn_broken(f->c));
	free(r);
}


/* ------------------------------------------------------------------ */
/* Snapshots: export of a subtree, import under the guest's rules */

struct exported {
	char paths[64][64];
	uint32_t owner[64];
	unsigned n;
};

static int collect(void *opaque, const char *relpath, const char *value, uint32_t len,
		   const struct xs_perm *perms, uint32_t nr_perms)
{
	struct exported *e = opaque;

	if (e->n < 64) {
		snprintf(e->paths[e->n], sizeof(e->paths[0]), "%s", relpath);
		e->owner[e->n] = perms[0].id;
		e->n++;
	}
	return 0;
}

static int index_of(const struct exported *e, const char *path)
{
	for (unsigned i = 0; i < e->n; i++)
		if (!strcmp(e->paths[i], path))
			return (int)i;
	return -1;
}

static void test_export_subtree(void **state)
{
	struct fixture *f = *state;
	struct exported e = { .n = 0 };

	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/1/data/a/b", "v", 1), 0);
	assert_int_equal(xs_export_subtree(f->xs, "/local/domain/1", collect, &e), 0);
	/* relative paths, parents before children, the home itself not */
	assert_true(index_of(&e, "data") >= 0);
	assert_true(index_of(&e, "data") < index_of(&e, "data/a"));
	assert_true(index_of(&e, "data/a") < index_of(&e, "data/a/b"));
	assert_int_equal(index_of(&e, ""), -1);
	assert_int_equal(e.owner[index_of(&e, "name")], 0);
	assert_int_equal(e.owner[index_of(&e, "control/shutdown")], GUEST);
	assert_int_equal(xs_export_subtree(f->xs, "/local/domain/7", collect, &e), -ENOENT);
}

static void test_import_guest_rules(void **state)
{
	struct fixture *f = *state;
	const struct xs_perm own[2] = { { GUEST, XS_PERM_NONE }, { 0, XS_PERM_READ } };
	const struct xs_perm dom0s[1] = { { 0, XS_PERM_NONE } };
	const struct xs_perm many[6] = { { GUEST, 0 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 5, 1 }, { 6, 1 } };
	const struct {
		const char *name, *path;
		const struct xs_perm *perms;
		uint32_t nr;
		int rc;
	} rows[] = {
		{ "a guest node", "data/x", own, 2, 0 },
		{ "a new directory chain", "data/p/q/r", own, 1, 0 },
		{ "a guest-owned toolstack node", "control/feature-suspend", own, 1, 0 },
		{ "absolute", "/local/domain/1/data/y", own, 1, -EINVAL },
		{ "a toolstack node, read-only", "name", own, 1, -EACCES },
		{ "below a read-only node", "memory/evil", own, 1, -EACCES },
		{ "bad characters", "data/a.b", own, 1, -EINVAL },
		{ "given away to dom0", "data/z", dom0s, 1, -EPERM },
		{ "more ACL entries than the quota", "data/w", many, 6, -ENOSPC },
	};
	char *v;
	size_t len;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = xs_import_node(f->xs, GUEST, rows[i].path, "val", 3, rows[i].perms,
					rows[i].nr);

		if (rc != rows[i].rc)
			fail_msg("%s: %d, want %d", rows[i].name, rc, rows[i].rc);
	}
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/data/x", &v, &len), 0);
	assert_string_equal(v, "val");
	free(v);
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/name", &v, &len), 0);
	assert_string_equal(v, "guest"); /* untouched */
	free(v);
	assert_int_equal(xs_import_node(f->xs, 0, "data/x", "", 0, own, 1), -EINVAL);
}

static void test_import_quota(void **state)
{
	struct fixture *f = *state;
	const struct xs_perm own[1] = { { GUEST, XS_PERM_NONE } };
	char path[32];
	int rc = 0;
	unsigned i;

	/* The guest's node quota holds for imports as for its own writes. */
	for (i = 0; i < XS_QUOTA_NODES + 1 && rc == 0; i++) {
		snprintf(path, sizeof(path), "data/n%u", i);
		rc = xs_import_node(f->xs, GUEST, path, "", 0, own, 1);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_true(i <= XS_QUOTA_NODES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dom0_read_uint),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_reply_error_names),
		cmocka_unit_test_setup_teardown(test_ops_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_grants_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dom0_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dom0_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_breaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_basic_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_subtree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_guest_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_quota, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
