/*
 * 9P2000.L wire constants (the protocol Linux's 9p client speaks), and
 * 9P2000.u's where they differ (Mini-OS's 9pfront speaks it; see
 * docs/9pfs.md).  There is no public C header for them — Linux keeps its own
 * in include/net/9p/9p.h, QEMU and diod theirs — so pvisor and the guest kit
 * share this one.  Freestanding.
 *
 * A message is size[4] type[1] tag[2] then the body, all little-endian;
 * strings are len[2] bytes (no terminator); a qid is type[1] version[4]
 * path[8].
 */
#ifndef PVISOR_P9_H
#define PVISOR_P9_H

#define P9_HDR_SIZE 7u     /* size[4] type[1] tag[2] */
#define P9_QID_SIZE 13u
#define P9_NOTAG 0xffffu
#define P9_NOFID 0xffffffffu
#define P9_MAXWELEM 16u    /* walk elements per Twalk (Plan 9's MAXWELEM) */
#define P9_VERSION_L "9P2000.L"
#define P9_VERSION_U "9P2000.u" /* Unix extension (Mini-OS's 9pfront) */
#define P9_IOHDR_SIZE 24u  /* Linux's P9_IOHDRSZ: header + Rread/Twrite fields */

/* Message types: each R-message is its T-message + 1. */
enum p9_type {
	P9_TLERROR = 6, P9_RLERROR,
	P9_TSTATFS = 8, P9_RSTATFS,
	P9_TLOPEN = 12, P9_RLOPEN,
	P9_TLCREATE = 14, P9_RLCREATE,
	P9_TSYMLINK = 16, P9_RSYMLINK,
	P9_TMKNOD = 18, P9_RMKNOD,
	P9_TRENAME = 20, P9_RRENAME,
	P9_TREADLINK = 22, P9_RREADLINK,
	P9_TGETATTR = 24, P9_RGETATTR,
	P9_TSETATTR = 26, P9_RSETATTR,
	P9_TXATTRWALK = 30, P9_RXATTRWALK,
	P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
	P9_TREADDIR = 40, P9_RREADDIR,
	P9_TFSYNC = 50, P9_RFSYNC,
	P9_TLOCK = 52, P9_RLOCK,
	P9_TGETLOCK = 54, P9_RGETLOCK,
	P9_TLINK = 70, P9_RLINK,
	P9_TMKDIR = 72, P9_RMKDIR,
	P9_TRENAMEAT = 74, P9_RRENAMEAT,
	P9_TUNLINKAT = 76, P9_RUNLINKAT,
	P9_TVERSION = 100, P9_RVERSION,
	P9_TAUTH = 102, P9_RAUTH,
	P9_TATTACH = 104, P9_RATTACH,
	P9_TERROR = 106, P9_RERROR,
	P9_TFLUSH = 108, P9_RFLUSH,
	P9_TWALK = 110, P9_RWALK,
	P9_TOPEN = 112, P9_ROPEN,
	P9_TCREATE = 114, P9_RCREATE,
	P9_TREAD = 116, P9_RREAD,
	P9_TWRITE = 118, P9_RWRITE,
	P9_TCLUNK = 120, P9_RCLUNK,
	P9_TREMOVE = 122, P9_RREMOVE,
	P9_TSTAT = 124, P9_RSTAT,
	P9_TWSTAT = 126, P9_RWSTAT,
};

/* qid.type */
#define P9_QTDIR 0x80u
#define P9_QTSYMLINK 0x02u
#define P9_QTFILE 0x00u

/* Tgetattr request_mask / Rgetattr valid */
#define P9_GETATTR_MODE 0x001ull
#define P9_GETATTR_NLINK 0x002ull
#define P9_GETATTR_UID 0x004ull
#define P9_GETATTR_GID 0x008ull
#define P9_GETATTR_RDEV 0x010ull
#define P9_GETATTR_ATIME 0x020ull
#define P9_GETATTR_MTIME 0x040ull
#define P9_GETATTR_CTIME 0x080ull
#define P9_GETATTR_INO 0x100ull
#define P9_GETATTR_SIZE 0x200ull
#define P9_GETATTR_BLOCKS 0x400ull
#define P9_GETATTR_BASIC 0x7ffull

/* Tsetattr valid */
#define P9_SETATTR_MODE 0x001u
#define P9_SETATTR_UID 0x002u
#define P9_SETATTR_GID 0x004u
#define P9_SETATTR_SIZE 0x008u
#define P9_SETATTR_ATIME 0x010u
#define P9_SETATTR_MTIME 0x020u
#define P9_SETATTR_CTIME 0x040u
#define P9_SETATTR_ATIME_SET 0x080u
#define P9_SETATTR_MTIME_SET 0x100u

/* Tlopen/Tlcreate flags: Linux's open(2) values on x86 (9P2000.L's). */
#define P9_O_RDONLY 00u
#define P9_O_WRONLY 01u
#define P9_O_RDWR 02u
#define P9_O_ACCMODE 03u
#define P9_O_CREAT 0100u
#define P9_O_EXCL 0200u
#define P9_O_TRUNC 01000u
#define P9_O_APPEND 02000u
#define P9_O_DIRECTORY 0200000u

/* 9P2000(.u) Topen/Tcreate mode */
#define P9_OREAD 0u
#define P9_OWRITE 1u
#define P9_ORDWR 2u
#define P9_OEXEC 3u
#define P9_OTRUNC 0x10u
#define P9_ORCLOSE 0x40u

/* 9P2000(.u) stat mode / Tcreate perm: the file's type above its
 * permission bits */
#define P9_DMDIR 0x80000000u
#define P9_DMAPPEND 0x40000000u
#define P9_DMEXCL 0x20000000u
#define P9_DMTMP 0x04000000u
#define P9_DMSYMLINK 0x02000000u
#define P9_DMLINK 0x01000000u
#define P9_DMDEVICE 0x00800000u
#define P9_DMNAMEDPIPE 0x00200000u
#define P9_DMSOCKET 0x00100000u
#define P9_DMSETUID 0x00080000u
#define P9_DMSETGID 0x00040000u
#define P9_DMSETVTX 0x00010000u

/* Tunlinkat flags */
#define P9_AT_REMOVEDIR 0x200u

/* Txattrcreate flags (Linux's XATTR_CREATE, XATTR_REPLACE) and bounds
 * (Linux's XATTR_NAME_MAX, XATTR_SIZE_MAX) */
#define P9_XATTR_CREATE 1u
#define P9_XATTR_REPLACE 2u
#define P9_XATTR_NAME_MAX 255u
#define P9_XATTR_SIZE_MAX 65536u

/* Tlock type / Rlock status */
#define P9_LOCK_TYPE_RDLCK 0u
#define P9_LOCK_TYPE_WRLCK 1u
#define P9_LOCK_TYPE_UNLCK 2u
#define P9_LOCK_SUCCESS 0u
#define P9_LOCK_BLOCKED 1u
#define P9_LOCK_ERROR 2u
#define P9_LOCK_GRACE 3u
#define P9_LOCK_FLAGS_BLOCK 1u

#endif
