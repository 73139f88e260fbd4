/*
 * pvisor's snapshot file (docs/snapshot-format.md is the spec): a header,
 * then sections, each with its own CRC-32.  Little-endian, fixed-width
 * fields; nothing in it depends on the backend, so a file saved on one
 * backend restores on the other.
 *
 * The reader (snap_parse and the snap_decode_* helpers) is a pure function
 * of the bytes: every length and count is checked before use, so a
 * truncated, corrupt or foreign file gives one error line and nothing else.
 */
#ifndef PVISOR_SNAPSHOT_H
#define PVISOR_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "PVISORSN"
#define SNAP_VERSION 3u     /* written; 2 added the xenstore section, 3 the devices */
#define SNAP_VERSION_MIN 1u /* the oldest version still read */
#define SNAP_MAX_SECTIONS 64u
#define SNAP_MAX_VCPUS 32u
#define SNAP_PAGE 4096u

enum snap_section_type {
	SNAP_DOMAIN = 1,      /* struct snap_domain */
	SNAP_VCPU = 2,        /* struct snap_vcpu, index = vCPU id */
	SNAP_SHARED_INFO = 3, /* the shared_info frame, 4096 bytes */
	SNAP_MEMORY = 4,      /* RAM: frame count, bitmap, present pages */
	SNAP_PAGETABLES = 5,  /* pinned page tables: struct snap_pin[] */
	SNAP_XENSTORE = 6,    /* version 2: the guest's own store nodes */
	SNAP_DEVICES = 7,     /* version 3: the devices the guest has */
};

struct snap_header {
	char magic[8];        /* SNAP_MAGIC */
	uint32_t version;     /* SNAP_VERSION */
	uint32_t header_size; /* sizeof(struct snap_header) */
	uint32_t nr_sections;
	uint32_t flags;       /* 0 */
	uint64_t file_size;   /* the whole file, for truncation */
	char backend[16];     /* where it was saved (informational) */
	uint32_t header_crc;  /* CRC-32 of the header with this field 0 */
	uint32_t reserved0;
	uint64_t reserved1;
};

struct snap_section_header {
	uint32_t type;   /* enum snap_section_type */
	uint32_t index;  /* vCPU id for SNAP_VCPU, else 0 */
	uint64_t length; /* payload bytes (padding to 8 not counted) */
	uint32_t crc;    /* CRC-32 of the payload */
	uint32_t reserved;
};

struct snap_domain {
	uint64_t nr_ram_frames;
	uint32_t nr_vcpus;
	uint32_t nr_disks;        /* xenbus devices the guest had */
	uint32_t nr_nics;
	uint16_t nr_scsi;         /* --scsi LUNs (version 2; 0 in version 1) */
	uint16_t nr_shares;       /* --share 9pfs devices (likewise) */
	uint64_t vm_assist;
	uint64_t start_info_gva;
	uint64_t start_info_mfn;  /* SCHEDOP_shutdown's 3rd argument */
	uint64_t console_mfn, store_mfn;
	uint64_t hypercall_page_gva;
	int64_t system_time_ns;   /* guest system time when saved */
};

struct snap_trap {
	uint8_t vector, flags;
	uint16_t cs;
	uint32_t reserved;
	uint64_t address;
};

#define SNAP_VCPU_KERNEL_MODE (1u << 0)
#define SNAP_VCPU_INITIALISED (1u << 1)
#define SNAP_VCPU_DOWN (1u << 2)
#define SNAP_VCPU_FPU_TS (1u << 3)
#define SNAP_VCPU_SYSCALL_MASKS (1u << 4)
#define SNAP_VCPU_FAILSAFE_MASKS (1u << 5)
#define SNAP_VCPU_KNOWN_FLAGS 0x3fu

struct snap_vcpu {
	/* rax rbx rcx rdx rsi rdi rbp rsp r8..r15, as struct regs */
	uint64_t gpr[16];
	uint64_t rip, rflags, fs_base, gs_base, gs_base_user;
	uint16_t cs, ss, user_cs, user_ss;
	uint32_t flags;           /* SNAP_VCPU_* */
	uint32_t iopl;
	uint64_t event_callback, failsafe_callback, syscall_callback;
	uint64_t kernel_ss, kernel_sp;
	uint64_t kernel_baseptr_mfn, user_baseptr_mfn;
	uint64_t guest_cr4;
	uint64_t debugreg[8];
	uint32_t gdt_ents, reserved;
	uint64_t gdt_frames[16];
	struct snap_trap traps[256];
};

struct snap_pin {
	uint64_t mfn;
	uint32_t level; /* 1..4 */
	uint32_t reserved;
};

/*
 * The xenstore section (version 2): a struct snap_xs_header, then
 * nr_nodes records, each a struct snap_xs_record, nr_perms struct
 * snap_xs_perm, the path (path_len bytes with its NUL, relative to the
 * domain's home /local/domain/<domid>), the value (value_len bytes) and
 * zero padding to 8 bytes.  Modelled on the NODE_DATA record of Xen's
 * docs/designs/xenstore-migration.md (the permission specifier is its
 * layout); what is saved is in docs/snapshot-format.md.
 */
struct snap_xs_header {
	uint16_t domid;    /* the saved domain's id: whose home, who owns */
	uint16_t reserved;
	uint32_t nr_nodes;
};
struct snap_xs_record {
	uint32_t path_len, value_len, nr_perms, reserved;
};
struct snap_xs_perm {
	uint8_t perm;      /* 'n', 'r', 'w' or 'b', as in SET_PERMS */
	uint8_t reserved;
	uint16_t domid;
};
/* What a guest may have in xenstored: its node quota, a relative path of
 * XENSTORE_REL_PATH_MAX characters, a value of XENSTORE_PAYLOAD_MAX
 * bytes, the owner and 4 ACL entries (xenstored's per-node quota). */
#define SNAP_XS_MAX_NODES 1000u
#define SNAP_XS_PATH_MAX 2048u
#define SNAP_XS_VALUE_MAX 4096u
#define SNAP_XS_PERMS_MAX 5u

/*
 * The devices section (version 3): a struct snap_dev_header, then
 * nr_devices records, each a struct snap_dev_record, the run option's
 * value that gives that device again (spec_len bytes with its NUL: what
 * `--disk`, `--net`, `--scsi` or `--share` takes, as libxl keeps a
 * domain's configuration in its save stream) and zero padding to 8 bytes.
 * Hot-plugged disks and LUNs are there as they were at the save; restore
 * takes the kinds of device not given on its command line from here.
 */
struct snap_dev_header {
	uint32_t nr_devices;
	uint32_t reserved;
};
struct snap_dev_record {
	uint16_t kind;     /* enum vm_device_kind (core/config.h) */
	uint16_t spec_len; /* 2..SNAP_DEV_SPEC_MAX, with the NUL */
	uint32_t reserved;
};
#define SNAP_DEV_SPEC_MAX 1200u /* a 1023-byte path and its options */
#define SNAP_DEV_MAX 36u        /* VM_MAX_DISKS + NICS + SCSI + SHARES */

/* One record of a checked devices section: points into the file. */
struct snap_device {
	unsigned kind;
	const char *spec;  /* NUL-terminated, no other NUL */
};

/* One record of a checked section: pointers into the file. */
struct snap_xs_node {
	const char *path;  /* NUL-terminated, relative, no "//" */
	const uint8_t *value;
	uint32_t value_len, nr_perms;
	const struct snap_xs_perm *perms; /* perms[0]: the owner = domid */
};

/* One parsed section: points into the caller's buffer. */
struct snap_section {
	uint32_t type, index;
	const uint8_t *data;
	uint64_t length;
	uint32_t crc;      /* the header's CRC-32 of data */
};

struct snap_file {
	struct snap_header header;
	unsigned nr_sections;
	struct snap_section sections[SNAP_MAX_SECTIONS];
	/* Found and size-checked by snap_parse: */
	struct snap_domain domain;
	const struct snap_section *vcpu[SNAP_MAX_VCPUS];
	const struct snap_section *shared_info, *memory, *pagetables;
	const struct snap_section *xenstore; /* NULL in a version-1 file */
	const struct snap_section *devices;  /* NULL before version 3 */
	struct snap_xs_header xs;            /* its header (0s if none) */
};

uint32_t snap_crc32(uint32_t crc, const void *data, size_t len);

/*
 * Checks buf[0, len) as a whole snapshot: header, version, size, every
 * section's bounds and CRC, the required sections with their sizes and the
 * domain record's limits.  0, or -EINVAL with one line in err.
 */
int snap_parse(const uint8_t *buf, size_t len, struct snap_file *out,
	       char *err, size_t err_len) __attribute__((warn_unused_result));
/* snap_parse, but with SNAP_PARSE_DEFER_MEMORY_CRC the memory section's
 * CRC is left to the caller (restore --lazy checks it while it loads the
 * pages; every bound and count is checked all the same). */
#define SNAP_PARSE_DEFER_MEMORY_CRC 1u
int snap_parse_flags(const uint8_t *buf, size_t len, struct snap_file *out,
		     unsigned flags, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* The memory section: its bitmap (1 bit per frame) and its pages, in
 * frame order.  Checked by snap_parse. */
struct snap_memory {
	uint64_t nr_frames, nr_present;
	const uint64_t *bitmap;
	const uint8_t *pages;
};
void snap_memory_view(const struct snap_file *f, struct snap_memory *m);

static inline bool snap_frame_present(const struct snap_memory *m, uint64_t f)
{
	return (m->bitmap[f / 64] >> (f % 64)) & 1;
}

/*
 * The xenstore record at *off (start with *off = sizeof(struct
 * snap_xs_header)) of a section into n, *off moved past it: 1; 0 at the
 * end; -EINVAL with one line in err if the record is malformed.  Pure:
 * snap_parse has walked every record with it before restore uses one.
 */
int snap_xs_next(const struct snap_section *s, uint16_t domid, uint64_t *off,
		 struct snap_xs_node *n, char *err, size_t err_len);

/*
 * The device record at *off (start with *off = sizeof(struct
 * snap_dev_header)) into d, *off moved past it: 1; 0 at the end; -EINVAL
 * with one line in err if it is malformed.  Pure, like snap_xs_next.
 */
int snap_dev_next(const struct snap_section *s, uint64_t *off,
		  struct snap_device *d, char *err, size_t err_len);

/* Writer: sections appended to a descriptor through a buffer.  Errors are
 * sticky: check snap_writer_finish's result. */
struct snap_writer {
	int fd;
	int error;          /* -errno of the first failure */
	uint64_t offset;    /* bytes written (or buffered) */
	unsigned nr_sections;
	/* the open section */
	uint64_t sec_start;
	uint32_t sec_crc;
	uint64_t sec_len;
	uint8_t *buf;
	size_t buf_len, buf_cap;
	char backend[16];
	uint32_t version;   /* 0: SNAP_VERSION (tests write older ones) */
	bool direct;        /* full buffers go out with O_DIRECT */
};

int snap_writer_init(struct snap_writer *w, int fd, const char *backend);
/* From here on, full buffers are written with O_DIRECT where the file
 * allows it (not through the page cache: for a large memory section
 * written while a guest runs, each new page-cache page is a fresh page to
 * fault in); the last, partial one and the header go the usual way.
 * Nothing changes where the file has no O_DIRECT. */
void snap_writer_direct(struct snap_writer *w);
void snap_section_begin(struct snap_writer *w, uint32_t type, uint32_t index);
void snap_write(struct snap_writer *w, const void *data, size_t len);
void snap_section_end(struct snap_writer *w);
/* Writes the header (at offset 0), flushes and syncs; 0 or -errno.
 * Frees the buffer either way. */
int snap_writer_finish(struct snap_writer *w) __attribute__((warn_unused_result));

#endif
