/* The 9P2000.L message layer (pure): parsing every T-message, the bounds, the
 * string rules, and the R-message encoders. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "services/p9/p9_msg.h"

/* A T-message under construction (the test's own little encoder). */
struct msg {
	uint8_t b[70000];
	size_t n;
};

static void m_raw(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void m_u8(struct msg *m, uint8_t v) { m_raw(m, &v, 1); }
static void m_u16(struct msg *m, uint16_t v) { m_raw(m, &v, 2); }
static void m_u32(struct msg *m, uint32_t v) { m_raw(m, &v, 4); }
static void m_u64(struct msg *m, uint64_t v) { m_raw(m, &v, 8); }

static void m_strn(struct msg *m, const char *s, size_t n)
{
	m_u16(m, (uint16_t)n);
	m_raw(m, s, n);
}

static void m_str(struct msg *m, const char *s) { m_strn(m, s, strlen(s)); }

static void m_begin(struct msg *m, uint8_t type, uint16_t tag)
{
	m->n = 0;
	m_u32(m, 0);
	m_u8(m, type);
	m_u16(m, tag);
}

static size_t m_end(struct msg *m)
{
	uint32_t n = (uint32_t)m->n;

	memcpy(m->b, &n, 4);
	return m->n;
}

static struct msg m;
static struct p9_req r;

static int parse(void)
{
	return p9_parse(m.b, m_end(&m), &r);
}

static void test_version_attach(void **state)
{
	m_begin(&m, P9_TVERSION, P9_NOTAG);
	m_u32(&m, 8192);
	m_str(&m, "9P2000.L");
	assert_int_equal(parse(), 0);
	assert_int_equal(r.type, P9_TVERSION);
	assert_int_equal(r.tag, P9_NOTAG);
	assert_int_equal(r.msize, 8192);
	assert_string_equal(r.str, "9P2000.L");

	m_begin(&m, P9_TATTACH, 3);
	m_u32(&m, 1);
	m_u32(&m, P9_NOFID);
	m_str(&m, "root");
	m_str(&m, "");
	m_u32(&m, 0);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.fid, 1);
	assert_int_equal(r.newfid, P9_NOFID);
	assert_string_equal(r.str, "root");
	assert_string_equal(r.str2, "");
	assert_int_equal(r.tag, 3);
}

static void walk(unsigned n, const char *name)
{
	m_begin(&m, P9_TWALK, 9);
	m_u32(&m, 1);
	m_u32(&m, 2);
	m_u16(&m, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		m_str(&m, name);
}

static void test_walk(void **state)
{
	walk(0, "x");
	assert_int_equal(parse(), 0);
	assert_int_equal(r.nwname, 0);

	walk(P9_MAXWELEM, "dir");
	assert_int_equal(parse(), 0);
	assert_int_equal(r.nwname, 16);
	assert_string_equal(r.wname[15], "dir");

	walk(P9_MAXWELEM + 1, "dir");
	assert_int_equal(parse(), -EINVAL);
	assert_int_equal(r.tag, 9); /* still answerable */

	walk(2, "..");
	assert_int_equal(parse(), 0);
	assert_string_equal(r.wname[1], "..");

	walk(1, ".");
	assert_int_equal(parse(), -EINVAL);
	walk(1, "a/b");
	assert_int_equal(parse(), -EINVAL);
	walk(1, "/etc");
	assert_int_equal(parse(), -EINVAL);
	walk(1, "");
	assert_int_equal(parse(), -EINVAL);

	m_begin(&m, P9_TWALK, 9);
	m_u32(&m, 1);
	m_u32(&m, 2);
	m_u16(&m, 1);
	m_strn(&m, "a\0b", 3);
	assert_int_equal(parse(), -EINVAL);

	char longname[300];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	walk(1, longname);
	assert_int_equal(parse(), -ENAMETOOLONG);
	longname[P9_NAME_MAX] = '\0';
	walk(1, longname);
	assert_int_equal(parse(), 0);
	assert_int_equal(strlen(r.wname[0]), P9_NAME_MAX);
}

static void test_truncated(void **state)
{
	/* Every prefix of a good message (with its size fixed up) is refused. */
	m_begin(&m, P9_TLCREATE, 5);
	m_u32(&m, 1);
	m_str(&m, "file");
	m_u32(&m, 0101);
	m_u32(&m, 0644);
	m_u32(&m, 0);
	size_t full = m_end(&m);

	assert_int_equal(p9_parse(m.b, full, &r), 0);
	assert_string_equal(r.name, "file");
	assert_int_equal(r.flags, 0101);
	assert_int_equal(r.mode, 0644);
	for (size_t n = 0; n < full; n++) {
		uint32_t sz = (uint32_t)n;
		uint8_t copy[64];

		memcpy(copy, m.b, full);
		memcpy(copy, &sz, 4);
		assert_int_equal(p9_parse(copy, n, &r), -EPROTO);
	}
	/* The size field must be the length. */
	assert_int_equal(p9_parse(m.b, full - 1, &r), -EPROTO);
	/* A string whose length runs past the message. */
	m_begin(&m, P9_TVERSION, 0);
	m_u32(&m, 100);
	m_u16(&m, 500);
	m_raw(&m, "9P2000.L", 8);
	assert_int_equal(parse(), -EPROTO);
}

static void test_names(void **state)
{
	static const struct {
		const char *name;
		int want;
	} rows[] = {
		{ "ok", 0 }, { ".hidden", 0 }, { "...", 0 }, { ".", -EINVAL },
		{ "..", -EINVAL }, { "", -EINVAL }, { "a/b", -EINVAL }, { "/", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		m_begin(&m, P9_TMKDIR, 1);
		m_u32(&m, 1);
		m_str(&m, rows[i].name);
		m_u32(&m, 0755);
		m_u32(&m, 0);
		assert_int_equal(parse(), rows[i].want);

		m_begin(&m, P9_TUNLINKAT, 1);
		m_u32(&m, 1);
		m_str(&m, rows[i].name);
		m_u32(&m, 0);
		assert_int_equal(parse(), rows[i].want);
	}
	/* Renameat checks both names. */
	m_begin(&m, P9_TRENAMEAT, 1);
	m_u32(&m, 1);
	m_str(&m, "a");
	m_u32(&m, 2);
	m_str(&m, "..");
	assert_int_equal(parse(), -EINVAL);
	m_begin(&m, P9_TRENAMEAT, 1);
	m_u32(&m, 1);
	m_str(&m, "a");
	m_u32(&m, 2);
	m_str(&m, "b");
	assert_int_equal(parse(), 0);
	assert_string_equal(r.name, "a");
	assert_string_equal(r.name2, "b");
	assert_int_equal(r.newfid, 2);
}

static void test_symlink_target(void **state)
{
	char big[5000];

	m_begin(&m, P9_TSYMLINK, 1);
	m_u32(&m, 1);
	m_str(&m, "l");
	m_str(&m, "../../etc/passwd"); /* any target: the server never follows */
	m_u32(&m, 0);
	assert_int_equal(parse(), 0);
	assert_string_equal(r.str, "../../etc/passwd");

	memset(big, 'a', sizeof(big));
	m_begin(&m, P9_TSYMLINK, 1);
	m_u32(&m, 1);
	m_str(&m, "l");
	m_strn(&m, big, P9_TARGET_MAX + 1);
	m_u32(&m, 0);
	assert_int_equal(parse(), -ENAMETOOLONG);

	m_begin(&m, P9_TSYMLINK, 1);
	m_u32(&m, 1);
	m_str(&m, "l");
	m_str(&m, "");
	m_u32(&m, 0);
	assert_int_equal(parse(), -ENOENT);
}

static void test_write_data(void **state)
{
	m_begin(&m, P9_TWRITE, 4);
	m_u32(&m, 7);
	m_u64(&m, 1ull << 40);
	m_u32(&m, 5);
	m_raw(&m, "hello", 5);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.count, 5);
	assert_int_equal(r.offset, 1ull << 40);
	assert_memory_equal(r.data, "hello", 5);
	/* count beyond the message */
	m_begin(&m, P9_TWRITE, 4);
	m_u32(&m, 7);
	m_u64(&m, 0);
	m_u32(&m, 6);
	m_raw(&m, "hello", 5);
	assert_int_equal(parse(), -EPROTO);
	m_begin(&m, P9_TWRITE, 4);
	m_u32(&m, 7);
	m_u64(&m, 0);
	m_u32(&m, UINT32_MAX);
	assert_int_equal(parse(), -EPROTO);
}

static void test_other_messages(void **state)
{
	m_begin(&m, P9_TSETATTR, 1);
	m_u32(&m, 3);
	m_u32(&m, P9_SETATTR_SIZE | P9_SETATTR_MODE);
	m_u32(&m, 0600);
	m_u32(&m, 1);
	m_u32(&m, 2);
	m_u64(&m, 4096);
	for (int i = 0; i < 4; i++)
		m_u64(&m, (uint64_t)i);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.sa.valid, P9_SETATTR_SIZE | P9_SETATTR_MODE);
	assert_int_equal(r.sa.size, 4096);
	assert_int_equal(r.sa.mtime_nsec, 3);

	m_begin(&m, P9_TLOCK, 1);
	m_u32(&m, 3);
	m_u8(&m, P9_LOCK_TYPE_WRLCK);
	m_u32(&m, P9_LOCK_FLAGS_BLOCK);
	m_u64(&m, 10);
	m_u64(&m, 20);
	m_u32(&m, 99);
	m_str(&m, "client");
	assert_int_equal(parse(), 0);
	assert_int_equal(r.lk.type, P9_LOCK_TYPE_WRLCK);
	assert_int_equal(r.lk.start, 10);
	assert_int_equal(r.lk.length, 20);
	assert_int_equal(r.flags, P9_LOCK_FLAGS_BLOCK);
	assert_string_equal(r.str, "client");

	/* Tfsync with and without datasync */
	m_begin(&m, P9_TFSYNC, 1);
	m_u32(&m, 3);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.datasync, 0);
	m_u32(&m, 1);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.datasync, 1);

	m_begin(&m, P9_TFLUSH, 1);
	m_u16(&m, 77);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.oldtag, 77);

	/* 9P2000.u's Topen, Tcreate (an empty extension too), Tstat. */
	m_begin(&m, P9_TOPEN, 1);
	m_u32(&m, 1);
	m_u8(&m, P9_ORDWR | P9_OTRUNC);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.fid, 1);
	assert_int_equal(r.flags, P9_ORDWR | P9_OTRUNC);
	m_begin(&m, P9_TCREATE, 1);
	m_u32(&m, 2);
	m_str(&m, "new");
	m_u32(&m, P9_DMSYMLINK | 0777);
	m_u8(&m, P9_OREAD);
	m_str(&m, "../target");
	assert_int_equal(parse(), 0);
	assert_string_equal(r.name, "new");
	assert_int_equal(r.mode, P9_DMSYMLINK | 0777);
	assert_string_equal(r.str, "../target");
	m_begin(&m, P9_TCREATE, 1);
	m_u32(&m, 2);
	m_str(&m, "plain");
	m_u32(&m, 0644);
	m_u8(&m, P9_OWRITE);
	m_str(&m, "");
	assert_int_equal(parse(), 0);
	assert_string_equal(r.str, "");
	m_begin(&m, P9_TCREATE, 1); /* no extension: truncated */
	m_u32(&m, 2);
	m_str(&m, "plain");
	m_u32(&m, 0644);
	m_u8(&m, P9_OWRITE);
	assert_int_equal(parse(), -EPROTO);
	m_begin(&m, P9_TCREATE, 1);
	m_u32(&m, 2);
	m_str(&m, "..");
	m_u32(&m, 0644);
	m_u8(&m, P9_OWRITE);
	m_str(&m, "");
	assert_int_equal(parse(), -EINVAL);
	m_begin(&m, P9_TSTAT, 1);
	m_u32(&m, 9);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.fid, 9);

	/* 9P2000.u's Twstat: "don't touch" fields (all ones, empty strings)
	 * set nothing; the others become Tsetattr's changes and a new name. */
	for (int touch = 0; touch < 2; touch++) {
		m_begin(&m, P9_TWSTAT, 1);
		m_u32(&m, 4);
		m_u16(&m, 61 + (touch ? 3 : 0) + 2);
		m_u16(&m, 61 + (touch ? 3 : 0));
		m_u16(&m, 0xffff);
		m_u32(&m, ~0u);
		for (int i = 0; i < 13; i++)
			m_u8(&m, 0xff);
		m_u32(&m, touch ? 0640u | P9_DMSETGID : ~0u); /* mode */
		m_u32(&m, touch ? 100u : ~0u);                /* atime */
		m_u32(&m, touch ? 200u : ~0u);                /* mtime */
		m_u64(&m, touch ? 7u : ~0ull);                /* length */
		m_str(&m, touch ? "new" : "");
		m_str(&m, "");
		m_str(&m, "");
		m_str(&m, "");
		m_str(&m, "");
		m_u32(&m, ~0u);
		m_u32(&m, touch ? 50u : ~0u);                 /* n_gid */
		m_u32(&m, ~0u);
		assert_int_equal(parse(), 0);
		assert_int_equal(r.fid, 4);
		if (!touch) {
			assert_int_equal(r.sa.valid, 0);
			assert_null(r.name);
			continue;
		}
		assert_int_equal(r.sa.valid, P9_SETATTR_MODE | P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET |
					     P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET |
					     P9_SETATTR_SIZE | P9_SETATTR_GID);
		assert_int_equal(r.sa.mode, 02640);
		assert_int_equal(r.sa.atime_sec, 100);
		assert_int_equal(r.sa.mtime_sec, 200);
		assert_int_equal(r.sa.size, 7);
		assert_int_equal(r.sa.gid, 50);
		assert_string_equal(r.name, "new");
	}
	m_begin(&m, P9_TWSTAT, 1); /* truncated */
	m_u32(&m, 1);
	assert_int_equal(parse(), -EPROTO);

	/* R-messages and unknown types. */
	m_begin(&m, P9_RREAD, 1);
	assert_int_equal(parse(), -EPROTO);
	m_begin(&m, 200, 1);
	assert_int_equal(parse(), -EOPNOTSUPP);
	m_begin(&m, P9_TLERROR, 1);
	assert_int_equal(parse(), -EPROTO);
}

/* Txattrwalk (name "" asks for the list) and Txattrcreate; names are
 * bounded as Linux bounds them (XATTR_NAME_MAX: ERANGE). */
static void test_xattr_messages(void **state)
{
	char name[P9_XATTR_NAME_MAX + 2];

	m_begin(&m, P9_TXATTRWALK, 1);
	m_u32(&m, 3);
	m_u32(&m, 4);
	m_str(&m, "user.mime_type");
	assert_int_equal(parse(), 0);
	assert_int_equal(r.fid, 3);
	assert_int_equal(r.newfid, 4);
	assert_string_equal(r.str, "user.mime_type");
	m_begin(&m, P9_TXATTRWALK, 1);
	m_u32(&m, 3);
	m_u32(&m, 4);
	m_str(&m, "");
	assert_int_equal(parse(), 0);
	assert_string_equal(r.str, "");
	m_begin(&m, P9_TXATTRWALK, 1); /* no name: truncated */
	m_u32(&m, 3);
	m_u32(&m, 4);
	assert_int_equal(parse(), -EPROTO);

	m_begin(&m, P9_TXATTRCREATE, 1);
	m_u32(&m, 5);
	m_str(&m, "user.x");
	m_u64(&m, 65536);
	m_u32(&m, P9_XATTR_REPLACE);
	assert_int_equal(parse(), 0);
	assert_int_equal(r.fid, 5);
	assert_string_equal(r.str, "user.x");
	assert_int_equal(r.attr_size, 65536);
	assert_int_equal(r.flags, P9_XATTR_REPLACE);
	m_begin(&m, P9_TXATTRCREATE, 1); /* no flags: truncated */
	m_u32(&m, 5);
	m_str(&m, "user.x");
	m_u64(&m, 1);
	assert_int_equal(parse(), -EPROTO);
	m_begin(&m, P9_TXATTRCREATE, 1); /* an attribute needs a name */
	m_u32(&m, 5);
	m_str(&m, "");
	m_u64(&m, 1);
	m_u32(&m, 0);
	assert_int_equal(parse(), -EINVAL);

	/* 255 bytes is the longest name; a NUL inside is refused. */
	memset(name, 'a', sizeof(name));
	memcpy(name, "user.", 5);
	for (int type = P9_TXATTRWALK; type <= P9_TXATTRCREATE; type += 2) {
		for (size_t len = P9_XATTR_NAME_MAX; len <= P9_XATTR_NAME_MAX + 1; len++) {
			m_begin(&m, (uint8_t)type, 1);
			m_u32(&m, 5);
			if (type == P9_TXATTRWALK)
				m_u32(&m, 6);
			m_strn(&m, name, len);
			if (type == P9_TXATTRCREATE) {
				m_u64(&m, 1);
				m_u32(&m, 0);
			}
			assert_int_equal(parse(), len > P9_XATTR_NAME_MAX ? -ERANGE : 0);
		}
		m_begin(&m, (uint8_t)type, 1);
		m_u32(&m, 5);
		if (type == P9_TXATTRWALK)
			m_u32(&m, 6);
		m_strn(&m, "user.a\0b", 8);
		if (type == P9_TXATTRCREATE) {
			m_u64(&m, 1);
			m_u32(&m, 0);
		}
		assert_int_equal(parse(), -EINVAL);
	}

	/* Rxattrwalk is a size[8]. */
	uint8_t buf[32];
	struct p9_out o = { buf, sizeof(buf), 0, false };

	p9_begin(&o, P9_RXATTRWALK, 9);
	p9_put_u64(&o, 0x1234);
	assert_int_equal(p9_end(&o), 15);
	assert_int_equal(buf[4], P9_RXATTRWALK);
	assert_int_equal(p9_le32(buf + 7), 0x1234);
}

static void test_encode(void **state)
{
	uint8_t buf[32];
	struct p9_out o = { buf, sizeof(buf), 0, false };
	struct p9_qid q = { P9_QTDIR, 7, 0x1122334455667788ull };

	p9_begin(&o, P9_RATTACH, 0x1234);
	p9_put_qid(&o, &q);
	assert_int_equal(p9_end(&o), 20);
	assert_int_equal(p9_le32(buf), 20);
	assert_int_equal(buf[4], P9_RATTACH);
	assert_int_equal(buf[5], 0x34);
	assert_int_equal(buf[6], 0x12);
	assert_int_equal(buf[7], P9_QTDIR);
	assert_int_equal(buf[12], 0x88);

	assert_int_equal(p9_rlerror(&o, 5, ENOENT), 11);
	assert_int_equal(p9_le32(buf + 7), ENOENT);

	/* Overflow is sticky and makes the message invalid. */
	p9_begin(&o, P9_RREADLINK, 1);
	p9_put_str(&o, "0123456789012345678901234567890", 31);
	assert_true(o.overflow);
	assert_int_equal(p9_end(&o), -EMSGSIZE);
	p9_begin(&o, P9_RREAD, 1);
	assert_non_null(p9_put_space(&o, 25));
	assert_null(p9_put_space(&o, 1));
	assert_int_equal(p9_end(&o), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_attach),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_symlink_target),
		cmocka_unit_test(test_write_data),
		cmocka_unit_test(test_other_messages),
		cmocka_unit_test(test_xattr_messages),
		cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
