/* Host image files: open, size, lock (see hio_file.h). */
#include "hostio/hio_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int hio_file_open(struct hio_file *f, const char *path, bool ro, char *err,
		  size_t err_len)
{
	/* O_NONBLOCK so that a FIFO cannot block the open; hio_file_adopt
	 * clears it for the files we accept (io_uring would honour it). */
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);

	f->fd = -1;
	f->ro = ro;
	f->size = 0;
	if (fd < 0) {
		int rc = -errno;

		snprintf(err, err_len, "disk %s: %s", path, strerror(errno));
		return rc;
	}
	return hio_file_adopt(f, fd, path, ro, err, err_len);
}

/* The descriptor's access mode must allow what the disk does. */
static int check_access(int fd, bool ro, const char *name, char *err, size_t err_len)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0) {
		int rc = -errno;

		snprintf(err, err_len, "disk %s: bad descriptor: %s", name, strerror(errno));
		return rc;
	}
	if ((fl & O_ACCMODE) == O_WRONLY || (!ro && (fl & O_ACCMODE) != O_RDWR)) {
		snprintf(err, err_len, "disk %s: the descriptor is not open for %s", name,
			 ro ? "reading" : "reading and writing");
		return -EBADF;
	}
	return 0;
}

int hio_file_adopt(struct hio_file *f, int fd, const char *name, bool ro, char *err,
		   size_t err_len)
{
	struct flock lk = { .l_type = ro ? F_RDLCK : F_WRLCK,
			    .l_whence = SEEK_SET };
	struct stat st;
	int rc;

	f->fd = fd;
	f->ro = ro;
	f->size = 0;
	if (fstat(f->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, err_len, "disk %s: %s", name, strerror(errno));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0) {
			rc = -errno;
			snprintf(err, err_len, "disk %s: %s", name,
				 strerror(errno));
			goto fail;
		}
	} else {
		rc = -EINVAL;
		snprintf(err, err_len,
			 "disk %s: not a regular file or block device", name);
		goto fail;
	}
	rc = check_access(fd, ro, name, err, err_len);
	if (rc < 0)
		goto fail;
	if (fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, err_len, "disk %s: %s", name, strerror(errno));
		goto fail;
	}
	/* An OFD lock belongs to this open file, not the process: it is held
	 * until close and conflicts with other pvisors (and QEMU, which uses
	 * the same kind of lock).  A descriptor whose sender already locked
	 * it (pvisor ctl disk-add) shares that open file: the lock is ours. */
	if (fcntl(f->fd, F_OFD_SETLK, &lk) < 0) {
		rc = -errno;
		if (errno == EAGAIN || errno == EACCES)
			snprintf(err, err_len,
				 "disk %s: in use by another process (locked)",
				 name);
		else
			snprintf(err, err_len, "disk %s: cannot lock: %s", name,
				 strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(f->fd);
	f->fd = -1;
	return rc;
}

void hio_file_close(struct hio_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int hio_path_absolute(char *path, size_t cap)
{
	char cwd[4096];
	size_t n, len = strlen(path);

	if (path[0] == '/' || !len)
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	n = strlen(cwd);
	if (cwd[n - 1] != '/') /* not the root */
		cwd[n++] = '/';
	if (n + len + 1 > cap)
		return -ENAMETOOLONG;
	memmove(path + n, path, len + 1);
	memcpy(path, cwd, n);
	return 0;
}
