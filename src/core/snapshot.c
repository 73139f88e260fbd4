/* The snapshot file's reader and writer (core/snapshot.h). */
#include "core/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <pvisor/xen.h> /* DOMID_FIRST_RESERVED, XENSTORE_*_MAX */

#include "core/config.h" /* enum vm_device_kind */
#include "core/log.h"

_Static_assert(sizeof(struct snap_header) == 64, "header layout");
_Static_assert(sizeof(struct snap_section_header) == 24, "section layout");
_Static_assert(sizeof(struct snap_domain) == 80, "domain layout");
_Static_assert(sizeof(struct snap_trap) == 16, "trap layout");
_Static_assert(sizeof(struct snap_vcpu) == 4544, "vcpu layout");
_Static_assert(sizeof(struct snap_xs_header) == 8, "xenstore header layout");
_Static_assert(sizeof(struct snap_xs_record) == 16, "xenstore record layout");
_Static_assert(sizeof(struct snap_xs_perm) == 4, "xenstore perm layout");
_Static_assert(sizeof(struct snap_dev_header) == 8, "devices header layout");
_Static_assert(sizeof(struct snap_dev_record) == 8, "device record layout");
_Static_assert(SNAP_DEV_MAX == VM_MAX_DISKS + VM_MAX_NICS + VM_MAX_SCSI + VM_MAX_SHARES,
	       "every device a guest may have");
_Static_assert(SNAP_DEV_SPEC_MAX >= 1024 + 64, "a whole path and its options");
_Static_assert(SNAP_XS_PATH_MAX == XENSTORE_REL_PATH_MAX &&
		       SNAP_XS_VALUE_MAX == XENSTORE_PAYLOAD_MAX,
	       "a guest's xenstore limits");

/* CRC-32 (IEEE 802.3, the one of zlib and gzip). */
uint32_t snap_crc32(uint32_t crc, const void *data, size_t len)
{
	/* zlib's CRC-32 (the same polynomial, reflection and inversion as
	 * the format's): several times faster than a byte table, and
	 * thread-safe. */
	return (uint32_t)crc32_z(crc, data, len);
}

static const char *section_name(uint32_t type)
{
	switch (type) {
	case SNAP_DOMAIN: return "domain";
	case SNAP_VCPU: return "vcpu";
	case SNAP_SHARED_INFO: return "shared-info";
	case SNAP_MEMORY: return "memory";
	case SNAP_PAGETABLES: return "page-tables";
	case SNAP_XENSTORE: return "xenstore";
	case SNAP_DEVICES: return "devices";
	default: return "unknown";
	}
}

/* One line into err, and the file is refused. */
#define fail(err, err_len, ...) (errbuf_printf(err, err_len, __VA_ARGS__), -EINVAL)

static int check_header(const uint8_t *buf, size_t len, struct snap_header *h,
			char *err, size_t err_len)
{
	uint32_t crc;

	if (len < sizeof(*h) ||
	    memcmp(buf, SNAP_MAGIC, sizeof(h->magic)))
		return fail(err, err_len, len < 8 || memcmp(buf, SNAP_MAGIC, 8) ?
					  "not a pvisor snapshot (no PVISORSN magic)" :
					  "truncated: %zu bytes, shorter than the header", len);
	memcpy(h, buf, sizeof(*h));
	if (h->version < SNAP_VERSION_MIN || h->version > SNAP_VERSION)
		return fail(err, err_len, "snapshot format version %u; this pvisor reads versions %u to %u",
			    h->version, SNAP_VERSION_MIN, SNAP_VERSION);
	crc = h->header_crc;
	h->header_crc = 0;
	if (snap_crc32(0, h, sizeof(*h)) != crc)
		return fail(err, err_len, "corrupt: the header's checksum does not match");
	h->header_crc = crc;
	if (h->header_size != sizeof(*h) || h->flags != 0)
		return fail(err, err_len, "corrupt: header size %u, flags %#x (want %zu, 0)",
			    h->header_size, h->flags, sizeof(*h));
	if (h->file_size > len)
		return fail(err, err_len, "truncated: %zu bytes of %llu", len,
			    (unsigned long long)h->file_size);
	if (h->file_size < len)
		return fail(err, err_len, "corrupt: %zu bytes, the header says %llu",
			    len, (unsigned long long)h->file_size);
	if (h->nr_sections > SNAP_MAX_SECTIONS)
		return fail(err, err_len, "corrupt: %u sections (at most %u)",
			    h->nr_sections, SNAP_MAX_SECTIONS);
	return 0;
}

/* Splits the sections and checks each one's bounds and CRC. */
static int split_sections(const uint8_t *buf, size_t len, struct snap_file *f,
			  unsigned flags, char *err, size_t err_len)
{
	uint64_t off = sizeof(struct snap_header);

	for (unsigned i = 0; i < f->header.nr_sections; i++) {
		struct snap_section_header sh;
		struct snap_section *s = &f->sections[i];
		uint64_t padded;

		if (len - off < sizeof(sh))
			return fail(err, err_len, "truncated: section %u's header past the end", i);
		memcpy(&sh, buf + off, sizeof(sh));
		off += sizeof(sh);
		if (sh.length > len - off)
			return fail(err, err_len, "truncated: %s section %u ends past the file",
				    section_name(sh.type), i);
		if (!(sh.type == SNAP_MEMORY && (flags & SNAP_PARSE_DEFER_MEMORY_CRC)) &&
		    snap_crc32(0, buf + off, sh.length) != sh.crc)
			return fail(err, err_len, "corrupt: %s section %u's checksum does not match",
				    section_name(sh.type), i);
		s->crc = sh.crc;
		s->type = sh.type;
		s->index = sh.index;
		s->data = buf + off;
		s->length = sh.length;
		padded = (sh.length + 7) & ~7ull;
		if (padded > len - off)
			return fail(err, err_len, "truncated: section %u's padding", i);
		/* Every byte is checked: reserved fields and padding are 0. */
		if (sh.reserved || (sh.type != SNAP_VCPU && sh.index))
			return fail(err, err_len, "corrupt: section %u's header", i);
		for (uint64_t p = sh.length; p < padded; p++)
			if (buf[off + p])
				return fail(err, err_len, "corrupt: section %u's padding", i);
		off += padded;
	}
	if (off != len)
		return fail(err, err_len, "corrupt: %llu bytes after the last section",
			    (unsigned long long)(len - off));
	f->nr_sections = f->header.nr_sections;
	return 0;
}

static int check_memory(const struct snap_file *f, char *err, size_t err_len)
{
	const struct snap_section *s = f->memory;
	uint64_t hdr[2], words, count = 0, need;

	if (s->length < sizeof(hdr))
		return fail(err, err_len, "corrupt: memory section too short");
	memcpy(hdr, s->data, sizeof(hdr));
	if (hdr[0] != f->domain.nr_ram_frames)
		return fail(err, err_len, "corrupt: memory section has %llu frames, the domain %llu",
			    (unsigned long long)hdr[0],
			    (unsigned long long)f->domain.nr_ram_frames);
	words = (hdr[0] + 63) / 64;
	if ((s->length - sizeof(hdr)) / 8 < words)
		return fail(err, err_len, "corrupt: memory bitmap truncated");
	for (uint64_t i = 0; i < words; i++) {
		uint64_t w;

		memcpy(&w, s->data + sizeof(hdr) + i * 8, 8);
		if (i == words - 1 && hdr[0] % 64)
			if (w >> (hdr[0] % 64))
				return fail(err, err_len, "corrupt: memory bitmap names frames past RAM");
		count += (uint64_t)__builtin_popcountll(w);
	}
	need = sizeof(hdr) + words * 8 + count * SNAP_PAGE;
	if (count != hdr[1] || s->length != need)
		return fail(err, err_len, "corrupt: memory section holds %llu bytes for %llu pages",
			    (unsigned long long)s->length, (unsigned long long)count);
	return 0;
}

/* A relative xenstore path as xenstored accepts one (is_valid_nodename):
 * [A-Za-z0-9-/_@], no leading, trailing or doubled '/'. */
static bool xs_path_ok(const char *p, size_t len)
{
	if (len == 0 || p[0] == '/' || p[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' ||
		      ch == '_' || ch == '@'))
			return false;
		if (ch == '/' && p[i + 1] == '/')
			return false;
	}
	return true;
}

static bool xs_perms_ok(const struct snap_xs_perm *p, uint32_t nr, uint16_t domid)
{
	for (uint32_t i = 0; i < nr; i++) {
		struct snap_xs_perm q;

		memcpy(&q, &p[i], sizeof(q));
		if (!strchr("nrwb", q.perm) || !q.perm || q.reserved)
			return false;
		/* A guest cannot give its nodes away: only its own are saved. */
		if (i == 0 && q.domid != domid)
			return false;
	}
	return true;
}

int snap_xs_next(const struct snap_section *s, uint16_t domid, uint64_t *off,
		 struct snap_xs_node *n, char *err, size_t err_len)
{
	struct snap_xs_record r;
	uint64_t at = *off, need;
	const uint8_t *p;

	if (at == s->length)
		return 0;
	if (s->length - at < sizeof(r))
		return fail(err, err_len, "corrupt: xenstore record at byte %llu truncated",
			    (unsigned long long)at);
	memcpy(&r, s->data + at, sizeof(r));
	if (r.reserved || r.nr_perms < 1 || r.nr_perms > SNAP_XS_PERMS_MAX)
		return fail(err, err_len, "corrupt: xenstore record at byte %llu: %u permissions (1 to %u)",
			    (unsigned long long)at, r.nr_perms, SNAP_XS_PERMS_MAX);
	if (r.path_len < 2 || r.path_len > SNAP_XS_PATH_MAX + 1)
		return fail(err, err_len, "corrupt: xenstore record at byte %llu: a path of %u bytes (at most %u)",
			    (unsigned long long)at, r.path_len, SNAP_XS_PATH_MAX);
	if (r.value_len > SNAP_XS_VALUE_MAX)
		return fail(err, err_len, "corrupt: xenstore record at byte %llu: a value of %u bytes (at most %u)",
			    (unsigned long long)at, r.value_len, SNAP_XS_VALUE_MAX);
	/* All three bounded above: no overflow. */
	need = sizeof(r) + r.nr_perms * sizeof(struct snap_xs_perm) + r.path_len +
	       r.value_len;
	if (s->length - at < ((need + 7) & ~7ull))
		return fail(err, err_len, "corrupt: xenstore record at byte %llu ends past the section",
			    (unsigned long long)at);
	p = s->data + at;
	for (uint64_t i = need; i < ((need + 7) & ~7ull); i++)
		if (p[i])
			return fail(err, err_len, "corrupt: xenstore record at byte %llu: padding",
				    (unsigned long long)at);
	n->perms = (const struct snap_xs_perm *)(p + sizeof(r));
	n->nr_perms = r.nr_perms;
	n->path = (const char *)(p + sizeof(r) + r.nr_perms * sizeof(struct snap_xs_perm));
	n->value = (const uint8_t *)n->path + r.path_len;
	n->value_len = r.value_len;
	if (n->path[r.path_len - 1] || strlen(n->path) != r.path_len - 1 ||
	    !xs_path_ok(n->path, r.path_len - 1))
		return fail(err, err_len, "corrupt: xenstore record at byte %llu: not a relative xenstore path",
			    (unsigned long long)at);
	if (!xs_perms_ok(n->perms, n->nr_perms, domid))
		return fail(err, err_len, "corrupt: xenstore node %s: bad permissions (the owner must be domain %u)",
			    n->path, domid);
	*off = at + ((need + 7) & ~7ull);
	return 1;
}

/* Walks every record once, so that restore only meets checked ones. */
static int check_xenstore(struct snap_file *f, char *err, size_t err_len)
{
	const struct snap_section *s = f->xenstore;
	struct snap_xs_node n;
	uint64_t off = sizeof(f->xs);
	uint32_t count = 0;
	int rc;

	if (f->header.version < 2) {
		if (s)
			return fail(err, err_len, "corrupt: a xenstore section in a version-1 file");
		return 0;
	}
	if (!s)
		return fail(err, err_len, "corrupt: the xenstore section is missing");
	if (s->length < sizeof(f->xs))
		return fail(err, err_len, "corrupt: xenstore section too short");
	memcpy(&f->xs, s->data, sizeof(f->xs));
	if (f->xs.reserved || f->xs.domid == 0 || f->xs.domid >= DOMID_FIRST_RESERVED)
		return fail(err, err_len, "corrupt: xenstore section for domain %u",
			    f->xs.domid);
	if (f->xs.nr_nodes > SNAP_XS_MAX_NODES)
		return fail(err, err_len, "corrupt: %u xenstore nodes (a guest may own at most %u)",
			    f->xs.nr_nodes, SNAP_XS_MAX_NODES);
	while ((rc = snap_xs_next(s, f->xs.domid, &off, &n, err, err_len)) == 1)
		if (++count > f->xs.nr_nodes)
			break;
	if (rc < 0)
		return rc;
	if (count != f->xs.nr_nodes)
		return fail(err, err_len, "corrupt: the xenstore section holds %s%u nodes, its header says %u",
			    count > f->xs.nr_nodes ? "more than " : "", count > f->xs.nr_nodes ?
			    f->xs.nr_nodes : count, f->xs.nr_nodes);
	return 0;
}

static bool dev_spec_ok(const char *spec, size_t len)
{
	if (spec[len] || strlen(spec) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)spec[i] < 0x20 || spec[i] == 0x7f)
			return false; /* no control characters in pvisor's own lines */
	return true;
}

int snap_dev_next(const struct snap_section *s, uint64_t *off,
		  struct snap_device *d, char *err, size_t err_len)
{
	struct snap_dev_record r;
	uint64_t at = *off, need;
	const uint8_t *p;

	if (at == s->length)
		return 0;
	if (s->length - at < sizeof(r))
		return fail(err, err_len, "corrupt: device record at byte %llu truncated",
			    (unsigned long long)at);
	memcpy(&r, s->data + at, sizeof(r));
	if (r.reserved || r.kind < VM_DEV_DISK || r.kind > VM_DEV_SHARE)
		return fail(err, err_len, "corrupt: device record at byte %llu: kind %u",
			    (unsigned long long)at, r.kind);
	if (r.spec_len < 2 || r.spec_len > SNAP_DEV_SPEC_MAX)
		return fail(err, err_len, "corrupt: device record at byte %llu: %u bytes (2 to %u)",
			    (unsigned long long)at, r.spec_len, SNAP_DEV_SPEC_MAX);
	need = (sizeof(r) + r.spec_len + 7) & ~7ull;
	if (s->length - at < need)
		return fail(err, err_len, "corrupt: device record at byte %llu ends past the section",
			    (unsigned long long)at);
	p = s->data + at;
	for (uint64_t i = sizeof(r) + r.spec_len; i < need; i++)
		if (p[i])
			return fail(err, err_len, "corrupt: device record at byte %llu: padding",
				    (unsigned long long)at);
	if (!dev_spec_ok((const char *)p + sizeof(r), r.spec_len - 1u))
		return fail(err, err_len, "corrupt: device record at byte %llu: not a line of text",
			    (unsigned long long)at);
	d->kind = r.kind;
	d->spec = (const char *)p + sizeof(r);
	*off = at + need;
	return 1;
}

/* Walks every record once; the counts of each kind are the domain's. */
static int check_devices(struct snap_file *f, char *err, size_t err_len)
{
	const struct snap_section *s = f->devices;
	const struct snap_domain *dom = &f->domain;
	unsigned count[VM_DEV_SHARE + 1] = { 0 }, total = 0;
	struct snap_dev_header h;
	struct snap_device d;
	uint64_t off = sizeof(h);
	int rc = 0;

	if (f->header.version < 3)
		return s ? fail(err, err_len, "corrupt: a devices section in a version-%u file",
				f->header.version) : 0;
	if (!s)
		return fail(err, err_len, "corrupt: the devices section is missing");
	if (s->length < sizeof(h))
		return fail(err, err_len, "corrupt: devices section too short");
	memcpy(&h, s->data, sizeof(h));
	if (h.reserved || h.nr_devices > SNAP_DEV_MAX)
		return fail(err, err_len, "corrupt: %u devices (at most %u)", h.nr_devices,
			    SNAP_DEV_MAX);
	while (total <= h.nr_devices && (rc = snap_dev_next(s, &off, &d, err, err_len)) == 1) {
		count[d.kind]++;
		total++;
	}
	if (rc < 0)
		return rc;
	if (total != h.nr_devices)
		return fail(err, err_len, "corrupt: the devices section holds %s%u records, its header says %u",
			    total > h.nr_devices ? "more than " : "",
			    total > h.nr_devices ? h.nr_devices : total, h.nr_devices);
	if (count[VM_DEV_DISK] != dom->nr_disks || count[VM_DEV_NIC] != dom->nr_nics ||
	    count[VM_DEV_SCSI] != dom->nr_scsi || count[VM_DEV_SHARE] != dom->nr_shares)
		return fail(err, err_len, "corrupt: the devices section names %u disks, %u NICs, %u LUNs and %u shares; the domain %u, %u, %u and %u",
			    count[VM_DEV_DISK], count[VM_DEV_NIC], count[VM_DEV_SCSI],
			    count[VM_DEV_SHARE], dom->nr_disks, dom->nr_nics, dom->nr_scsi,
			    dom->nr_shares);
	return 0;
}

/* Places each known section; checks the fixed sizes and the limits. */
static int index_sections(struct snap_file *f, char *err, size_t err_len)
{
	const struct snap_section *dom = NULL;
	unsigned nr_vcpus = 0;

	for (unsigned i = 0; i < f->nr_sections; i++) {
		const struct snap_section *s = &f->sections[i];
		const struct snap_section **slot = NULL;
		uint64_t want = 0;

		switch (s->type) {
		case SNAP_DOMAIN: slot = &dom; want = sizeof(struct snap_domain); break;
		case SNAP_SHARED_INFO: slot = &f->shared_info; want = SNAP_PAGE; break;
		case SNAP_MEMORY: slot = &f->memory; break;
		case SNAP_PAGETABLES: slot = &f->pagetables; break;
		case SNAP_XENSTORE: slot = &f->xenstore; break;
		case SNAP_DEVICES: slot = &f->devices; break;
		case SNAP_VCPU:
			if (s->index >= SNAP_MAX_VCPUS)
				return fail(err, err_len, "corrupt: vcpu section for vCPU %u", s->index);
			slot = &f->vcpu[s->index];
			want = sizeof(struct snap_vcpu);
			nr_vcpus++;
			break;
		default:
			return fail(err, err_len, "corrupt: unknown section type %u", s->type);
		}
		if (*slot)
			return fail(err, err_len, "corrupt: two %s sections", section_name(s->type));
		if (want && s->length != want)
			return fail(err, err_len, "corrupt: %s section of %llu bytes (want %llu)",
				    section_name(s->type), (unsigned long long)s->length,
				    (unsigned long long)want);
		if (s->type == SNAP_PAGETABLES && s->length % sizeof(struct snap_pin))
			return fail(err, err_len, "corrupt: page-tables section of %llu bytes",
				    (unsigned long long)s->length);
		*slot = s;
	}
	if (!dom || !f->shared_info || !f->memory || !f->pagetables)
		return fail(err, err_len, "corrupt: the %s section is missing",
			    !dom ? "domain" : !f->shared_info ? "shared-info" :
			    !f->memory ? "memory" : "page-tables");
	memcpy(&f->domain, dom->data, sizeof(f->domain));
	if (f->domain.nr_vcpus < 1 || f->domain.nr_vcpus > SNAP_MAX_VCPUS ||
	    f->domain.nr_vcpus != nr_vcpus)
		return fail(err, err_len, "corrupt: %u vCPUs in the domain, %u vcpu sections",
			    f->domain.nr_vcpus, nr_vcpus);
	for (unsigned i = 0; i < nr_vcpus; i++)
		if (!f->vcpu[i])
			return fail(err, err_len, "corrupt: no section for vcpu%u", i);
	/* pvisor's own limits: 16 TiB of RAM, frames addressable as gpas */
	if (f->domain.nr_ram_frames < 16 || f->domain.nr_ram_frames > (1ull << 32))
		return fail(err, err_len, "corrupt: %llu frames of RAM",
			    (unsigned long long)f->domain.nr_ram_frames);
	if (check_memory(f, err, err_len) < 0)
		return -EINVAL;
	if (check_xenstore(f, err, err_len) < 0)
		return -EINVAL;
	return check_devices(f, err, err_len);
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_file *out,
	       char *err, size_t err_len)
{
	return snap_parse_flags(buf, len, out, 0, err, err_len);
}

int snap_parse_flags(const uint8_t *buf, size_t len, struct snap_file *out,
		     unsigned flags, char *err, size_t err_len)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = check_header(buf, len, &out->header, err, err_len);
	if (rc == 0)
		rc = split_sections(buf, len, out, flags, err, err_len);
	if (rc == 0)
		rc = index_sections(out, err, err_len);
	return rc;
}

void snap_memory_view(const struct snap_file *f, struct snap_memory *m)
{
	const uint8_t *d = f->memory->data;

	memcpy(&m->nr_frames, d, 8);
	memcpy(&m->nr_present, d + 8, 8);
	m->bitmap = (const uint64_t *)(d + 16);
	m->pages = d + 16 + (m->nr_frames + 63) / 64 * 8;
}

/* ---- writer ---- */

#define WBUF (1u << 20)

/* O_DIRECT's alignment of buffers, offsets and lengths: a page covers
 * the logical block size of any disk. */
#define DIRECT_ALIGN 4096u

int snap_writer_init(struct snap_writer *w, int fd, const char *backend)
{
	void *buf;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	if (posix_memalign(&buf, DIRECT_ALIGN, WBUF))
		return -ENOMEM;
	w->buf = buf;
	w->buf_cap = WBUF;
	snprintf(w->backend, sizeof(w->backend), "%s", backend);
	/* The header goes at 0 last; its room is written as zeros now. */
	{
		struct snap_header zero = { 0 };

		snap_write(w, &zero, sizeof(zero));
	}
	return w->error;
}

static void set_direct(struct snap_writer *w, bool on)
{
	int fl = fcntl(w->fd, F_GETFL);

	w->direct = false;
	if (fl < 0 || fcntl(w->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return;
	w->direct = on;
}

void snap_writer_direct(struct snap_writer *w)
{
	set_direct(w, true);
}

static void flush(struct snap_writer *w)
{
	size_t done = 0;

	/* O_DIRECT for whole aligned blocks only; past the first that is
	 * not, the usual way. */
	if (w->direct && (w->buf_len % DIRECT_ALIGN || (w->offset - w->buf_len) % DIRECT_ALIGN))
		set_direct(w, false);
	while (!w->error && done < w->buf_len) {
		ssize_t n = write(w->fd, w->buf + done, w->buf_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && w->direct && done == 0) {
			set_direct(w, false); /* the file system refuses it after all */
			continue;
		}
		if (n <= 0)
			w->error = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
		if (w->direct && done % DIRECT_ALIGN)
			set_direct(w, false); /* a short write: the rest unaligned */
	}
	w->buf_len = 0;
}

static void raw_write(struct snap_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len && !w->error) {
		size_t n = w->buf_cap - w->buf_len;

		if (n > len)
			n = len;
		memcpy(w->buf + w->buf_len, p, n);
		w->buf_len += n;
		p += n;
		len -= n;
		w->offset += n;
		if (w->buf_len == w->buf_cap)
			flush(w);
	}
}

void snap_write(struct snap_writer *w, const void *data, size_t len)
{
	if (w->sec_start) {
		w->sec_crc = snap_crc32(w->sec_crc, data, len);
		w->sec_len += len;
	}
	raw_write(w, data, len);
}

void snap_section_begin(struct snap_writer *w, uint32_t type, uint32_t index)
{
	struct snap_section_header sh = { .type = type, .index = index };

	w->sec_start = w->offset;
	w->sec_crc = 0;
	w->sec_len = 0;
	raw_write(w, &sh, sizeof(sh));
}

static void pwrite_all(struct snap_writer *w, const void *data, size_t len,
		       uint64_t off)
{
	if (!w->error && pwrite(w->fd, data, len, (off_t)off) != (ssize_t)len)
		w->error = -errno ? -errno : -EIO;
}

void snap_section_end(struct snap_writer *w)
{
	static const uint8_t zeros[8];
	struct snap_section_header sh = {
		.index = 0, .length = w->sec_len, .crc = w->sec_crc,
	};
	uint64_t start = w->sec_start;

	raw_write(w, zeros, (8 - w->sec_len % 8) % 8);
	/* Patch the header: in the buffer if it is still there. */
	if (start >= w->offset - w->buf_len) {
		uint8_t *p = w->buf + (start - (w->offset - w->buf_len));
		struct snap_section_header old;

		memcpy(&old, p, sizeof(old));
		sh.type = old.type;
		sh.index = old.index;
		memcpy(p, &sh, sizeof(sh));
	} else {
		struct snap_section_header old = { 0 };

		flush(w);
		if (!w->error && pread(w->fd, &old, sizeof(old), (off_t)start) != sizeof(old))
			w->error = -EIO;
		sh.type = old.type;
		sh.index = old.index;
		pwrite_all(w, &sh, sizeof(sh), start);
	}
	w->sec_start = 0;
	w->nr_sections++;
}

int snap_writer_finish(struct snap_writer *w)
{
	struct snap_header h = {
		.version = w->version ? w->version : SNAP_VERSION,
		.header_size = sizeof(h),
		.nr_sections = w->nr_sections,
		.file_size = w->offset,
	};
	int rc;

	memcpy(h.magic, SNAP_MAGIC, sizeof(h.magic));
	memcpy(h.backend, w->backend, sizeof(h.backend));
	h.header_crc = snap_crc32(0, &h, sizeof(h));
	flush(w);
	if (w->direct)
		set_direct(w, false);
	if (!w->error && ftruncate(w->fd, (off_t)w->offset) < 0)
		w->error = -errno;
	pwrite_all(w, &h, sizeof(h), 0);
	if (!w->error && fsync(w->fd) < 0 && errno != EINVAL)
		w->error = -errno;
	rc = w->error;
	free(w->buf);
	w->buf = NULL;
	return rc;
}
