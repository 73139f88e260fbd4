/*
 * Host image files for pvisor's block backend: opened, size-checked and
 * locked against a second writer (an OFD lock: exclusive for read-write,
 * shared for read-only users, so two pvisors never write one image and a
 * reader never sees a writer's image change under it).  The I/O itself goes
 * through io_uring on the device's own thread (services/blkback).
 */
#ifndef PVISOR_HIO_FILE_H
#define PVISOR_HIO_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hio_file {
	int fd;
	bool ro;
	uint64_t size; /* bytes */
};

/*
 * Opens path (a regular file or a block device) read-only or read-write and
 * locks it.  On failure err holds one line naming the file and the reason
 * ("disk a.img: No such file or directory", "... is in use by another
 * process") and -errno is returned.
 */
int hio_file_open(struct hio_file *f, const char *path, bool ro, char *err,
		  size_t err_len) __attribute__((warn_unused_result));

/*
 * The same checks and lock on a descriptor opened elsewhere (one a control
 * client sent, docs/control-api.md): fd is taken (closed on failure); name
 * is for messages.  Its access mode must allow ro (O_RDWR for a writable
 * disk); a descriptor whose open file the sender locked keeps that lock.
 */
int hio_file_adopt(struct hio_file *f, int fd, const char *name, bool ro, char *err,
		   size_t err_len) __attribute__((warn_unused_result));

/* Closes the file (and drops the lock); safe on a closed file. */
void hio_file_close(struct hio_file *f);

/*
 * A relative path (in path, cap bytes) made absolute against the current
 * directory, symlinks kept: a snapshot names its images by such paths, so
 * a restore elsewhere finds the same files.  0, or -errno (-ENAMETOOLONG
 * when it does not fit) with path unchanged.
 */
int hio_path_absolute(char *path, size_t cap);

#endif
