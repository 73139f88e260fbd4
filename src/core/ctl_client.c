/* `pvisor ctl`: the control API client (see ctl_client.h). */
#include "core/ctl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include <pvisor/abi.h>

#include "core/log.h"
#include "hostio/hio_file.h"
#include "hostio/scm_rights.h"

/* A reply longer than this is not one of ours. */
#define REPLY_MAX (16u << 20)

const char ctl_usage[] =
	"usage: pvisor ctl PATH COMMAND [ARGS]\n"
	"\n"
	"Talks to a guest started with `pvisor run --api PATH` (docs/control-api.md).\n"
	"Prints the reply's result as JSON; exits 1 on an error reply.\n"
	"\n"
	"commands:\n"
	"  status                      state, backend, vCPUs, memory, devices, uptime\n"
	"  pause                       stop the vCPUs (timers and devices go on)\n"
	"  resume                      run them again\n"
	"  shutdown [--timeout SEC] [--force]\n"
	"                              ask the guest to power off (control/shutdown),\n"
	"                              stop it anyway after SEC (default 30) seconds;\n"
	"                              --force: stop it at once\n"
	"  reboot [--timeout SEC] [--force]\n"
	"                              ask the guest to reboot (control/shutdown);\n"
	"                              the reply comes once the new domain runs, an\n"
	"                              error after SEC (default 30) seconds if the\n"
	"                              guest ignores it (it runs on); --force: reset\n"
	"                              it at once, without the guest\n"
	"  sysrq KEY                   write KEY to the guest's control/sysrq\n"
	"  save FILE [--live] [--timeout SEC]\n"
	"                              suspend the guest into FILE (a new file) and\n"
	"                              stop it; `pvisor restore FILE` resumes it.\n"
	"                              --live: the guest runs on after a short pause\n"
	"                              (a checkpoint).  An error after SEC (default\n"
	"                              30) seconds if the guest does not suspend; it\n"
	"                              runs on then\n"
	"  disk-add PATH[,ro]          attach the image PATH as the next free xvdN\n"
	"                              (opened and locked here, sent as a descriptor)\n"
	"  disk-remove xvdN [--timeout SEC] [--force]\n"
	"                              detach it once the guest has closed it (default\n"
	"                              wait 10 s); --force: without waiting\n"
	"  eject H:C:T:L [--force]     take the medium out of a CD/DVD LUN (--force:\n"
	"                              even if the guest prevents removal)\n"
	"  insert H:C:T:L IMAGE        put IMAGE (an ISO) into an empty CD/DVD LUN\n"
	"  scsi-add IMAGE[,ro][,media=disk|cdrom][,lun=H:C:T:L] [--timeout SEC]\n"
	"                              add IMAGE as a SCSI LUN while the guest runs\n"
	"                              (opened and locked here, sent as a descriptor);\n"
	"                              waits SEC (default 10) for the guest to take it\n"
	"  scsi-remove H:C:T:L [--timeout SEC] [--force]\n"
	"                              remove the LUN once the guest lets it go\n"
	"                              (default wait 10 s); --force: without waiting\n"
	"  --json LINE                 send LINE, a JSON request, as it is\n";

static char *dump_line(json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT), *line = NULL;

	json_decref(req);
	if (s && asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	free(s);
	return line;
}

/* COMMAND [--timeout SEC] [--force] (shutdown, reboot, disk-remove's options). */
static char *timeout_request(const char *cmd, int n, char *const words[], char *err,
			     size_t err_len)
{
	json_t *req = json_pack("{s:s}", "command", cmd);

	for (int i = 1; i < n; i++) {
		char *end;
		double t;

		if (!strcmp(words[i], "--force")) {
			json_object_set_new(req, "force", json_true());
		} else if (!strcmp(words[i], "--timeout") && i + 1 < n) {
			t = strtod(words[++i], &end);
			if (!*words[i] || *end || !(t > 0)) {
				snprintf(err, err_len,
					 "ctl %s: --timeout '%s' is not a positive number of seconds",
					 cmd, words[i]);
				json_decref(req);
				return NULL;
			}
			json_object_set_new(req, "timeout", json_real(t));
		} else {
			snprintf(err, err_len, "ctl %s: unexpected argument '%s'", cmd, words[i]);
			json_decref(req);
			return NULL;
		}
	}
	return dump_line(req);
}

/* save FILE [--live] [--timeout SEC]: FILE itself goes as a descriptor
 * (send_fd). */
static char *save_request(int n, char *const words[], char *err, size_t err_len)
{
	json_t *req = json_pack("{s:s}", "command", "save");
	char *end;
	double t;

	if (n < 2 || words[1][0] == '-') {
		snprintf(err, err_len, "ctl save: needs FILE [--live] [--timeout SEC]");
		json_decref(req);
		return NULL;
	}
	for (int i = 2; i < n; i++) {
		if (!strcmp(words[i], "--live")) {
			json_object_set_new(req, "live", json_true());
			continue;
		}
		if (strcmp(words[i], "--timeout") || i + 1 >= n) {
			snprintf(err, err_len, "ctl save: needs FILE [--live] [--timeout SEC]");
			json_decref(req);
			return NULL;
		}
		t = strtod(words[++i], &end);
		if (!*words[i] || *end || !(t > 0)) {
			snprintf(err, err_len,
				 "ctl save: --timeout '%s' is not a positive number of seconds",
				 words[i]);
			json_decref(req);
			return NULL;
		}
		json_object_set_new(req, "timeout", json_real(t));
	}
	return dump_line(req);
}

/* disk-add's PATH[,ro|,rw]: 0, or -1 with err set. */
static int split_disk(const char *arg, char *path, size_t cap, bool *ro, char *err,
		      size_t err_len)
{
	size_t n = strcspn(arg, ",");
	const char *opt = arg + n;

	*ro = false;
	if (n == 0 || n >= cap) {
		snprintf(err, err_len, "ctl disk-add: '%s' has no usable image path", arg);
		return -1;
	}
	memcpy(path, arg, n);
	path[n] = '\0';
	while (*opt == ',') {
		size_t len = strcspn(++opt, ",");

		if (len == 2 && !strncmp(opt, "ro", 2)) {
			*ro = true;
		} else if (len == 2 && !strncmp(opt, "rw", 2)) {
			*ro = false;
		} else {
			snprintf(err, err_len, "ctl disk-add: unknown option '%.*s' (ro, rw)",
				 (int)len, opt);
			return -1;
		}
		opt += len;
	}
	return 0;
}

static char *disk_add_request(int n, char *const words[], char *err, size_t err_len)
{
	char path[1024];
	bool ro;

	if (n != 2) {
		snprintf(err, err_len, "ctl disk-add: needs one PATH[,ro]");
		return NULL;
	}
	if (split_disk(words[1], path, sizeof(path), &ro, err, err_len) < 0)
		return NULL;
	return dump_line(json_pack("{s:s, s:s, s:b}", "command", "disk-add", "path", path,
				   "ro", ro));
}

/* NAME DEVICE [--timeout SEC] [--force] (disk-remove, scsi-remove). */
static char *device_request(const char *name, int n, char *const words[], char *err,
			    size_t err_len)
{
	char *line = timeout_request(name, n - 1, words + 1, err, err_len);
	json_t *req = line ? json_loads(line, 0, NULL) : NULL;

	free(line);
	if (!req)
		return NULL;
	json_object_set_new(req, "device", json_string(words[1]));
	return dump_line(req);
}

/* disk-remove xvdN [--timeout SEC] [--force]. */
static char *disk_remove_request(int n, char *const words[], char *err, size_t err_len)
{
	if (n < 2 || words[1][0] == '-') {
		snprintf(err, err_len, "ctl disk-remove: needs a device name (xvdN)");
		return NULL;
	}
	return device_request("disk-remove", n, words, err, err_len);
}

/* scsi-add's IMAGE[,ro|,rw][,media=disk|cdrom][,lun=H:C:T:L]: 0, or -1
 * with err set. */
struct scsi_arg {
	char path[1024];
	bool ro, cdrom;
	const char *lun;  /* in arg, lun_len bytes; NULL: not given */
	size_t lun_len;
};

static int split_scsi(const char *arg, struct scsi_arg *a, char *err, size_t err_len)
{
	size_t n = strcspn(arg, ",");
	const char *opt = arg + n;

	memset(a, 0, sizeof(*a));
	if (n == 0 || n >= sizeof(a->path)) {
		snprintf(err, err_len, "ctl scsi-add: '%s' has no usable image path", arg);
		return -1;
	}
	memcpy(a->path, arg, n);
	while (*opt == ',') {
		size_t len = strcspn(++opt, ",");

		if (len == 2 && (!strncmp(opt, "ro", 2) || !strncmp(opt, "rw", 2))) {
			a->ro = opt[1] == 'o';
		} else if (len == 10 && !strncmp(opt, "media=disk", 10)) {
			a->cdrom = false;
		} else if (len == 11 && !strncmp(opt, "media=cdrom", 11)) {
			a->cdrom = true;
		} else if (len > 4 && !strncmp(opt, "lun=", 4)) {
			a->lun = opt + 4;
			a->lun_len = len - 4;
		} else {
			snprintf(err, err_len, "ctl scsi-add: unknown option '%.*s' "
				 "(ro, rw, media=disk|cdrom, lun=H:C:T:L)", (int)len, opt);
			return -1;
		}
		opt += len;
	}
	a->ro = a->ro || a->cdrom; /* an ISO is read-only media */
	return 0;
}

/* scsi-add IMAGE[,...] [--timeout SEC]. */
static char *scsi_add_request(int n, char *const words[], char *err, size_t err_len)
{
	struct scsi_arg a;
	char *line;
	json_t *req;

	if (n < 2 || words[1][0] == '-') {
		snprintf(err, err_len,
			 "ctl scsi-add: needs IMAGE[,ro][,media=disk|cdrom][,lun=H:C:T:L]");
		return NULL;
	}
	if (split_scsi(words[1], &a, err, err_len) < 0)
		return NULL;
	line = timeout_request("scsi-add", n - 1, words + 1, err, err_len);
	req = line ? json_loads(line, 0, NULL) : NULL;
	free(line);
	if (!req)
		return NULL;
	json_object_set_new(req, "path", json_string(a.path));
	json_object_set_new(req, "ro", json_boolean(a.ro));
	json_object_set_new(req, "media", json_string(a.cdrom ? "cdrom" : "disk"));
	if (a.lun)
		json_object_set_new(req, "lun", json_stringn(a.lun, a.lun_len));
	return dump_line(req);
}

/* eject H:C:T:L [--force]. */
static char *eject_request(int n, char *const words[], char *err, size_t err_len)
{
	bool force = n == 3 && !strcmp(words[2], "--force");

	if (n < 2 || n > 3 || words[1][0] == '-' || (n == 3 && !force)) {
		snprintf(err, err_len, "ctl eject: needs a LUN (H:C:T:L) [--force]");
		return NULL;
	}
	return dump_line(json_pack("{s:s, s:s, s:b}", "command", "eject", "device", words[1],
				   "force", force));
}

/* insert H:C:T:L IMAGE: IMAGE goes as a descriptor (open_image). */
static char *insert_request(int n, char *const words[], char *err, size_t err_len)
{
	if (n != 3 || words[1][0] == '-') {
		snprintf(err, err_len, "ctl insert: needs a LUN (H:C:T:L) and an IMAGE");
		return NULL;
	}
	return dump_line(json_pack("{s:s, s:s, s:s}", "command", "insert", "device", words[1],
				   "path", words[2]));
}

char *ctl_client_request(int n, char *const words[], char *err, size_t err_len)
{
	const char *cmd = n > 0 ? words[0] : NULL;

	if (!cmd) {
		snprintf(err, err_len, "ctl: no command (see pvisor ctl --help)");
		return NULL;
	}
	if (!strcmp(cmd, "--json")) {
		char *line = NULL;

		if (n != 2 || strchr(words[1], '\n')) {
			snprintf(err, err_len, "ctl --json: needs one request line");
			return NULL;
		}
		if (asprintf(&line, "%s\n", words[1]) < 0)
			return NULL;
		return line;
	}
	if (!strcmp(cmd, "status") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		if (n != 1) {
			snprintf(err, err_len, "ctl %s: takes no arguments", cmd);
			return NULL;
		}
		return dump_line(json_pack("{s:s}", "command", cmd));
	}
	if (!strcmp(cmd, "shutdown") || !strcmp(cmd, "reboot"))
		return timeout_request(cmd, n, words, err, err_len);
	if (!strcmp(cmd, "save"))
		return save_request(n, words, err, err_len);
	if (!strcmp(cmd, "disk-add"))
		return disk_add_request(n, words, err, err_len);
	if (!strcmp(cmd, "disk-remove"))
		return disk_remove_request(n, words, err, err_len);
	if (!strcmp(cmd, "eject"))
		return eject_request(n, words, err, err_len);
	if (!strcmp(cmd, "scsi-add"))
		return scsi_add_request(n, words, err, err_len);
	if (!strcmp(cmd, "scsi-remove")) {
		if (n < 2 || words[1][0] == '-') {
			snprintf(err, err_len, "ctl scsi-remove: needs a LUN (H:C:T:L)");
			return NULL;
		}
		return device_request("scsi-remove", n, words, err, err_len);
	}
	if (!strcmp(cmd, "insert"))
		return insert_request(n, words, err, err_len);
	if (!strcmp(cmd, "sysrq")) {
		if (n != 2 || strlen(words[1]) != 1) {
			snprintf(err, err_len, "ctl sysrq: needs one KEY character");
			return NULL;
		}
		return dump_line(json_pack("{s:s, s:s}", "command", "sysrq", "key", words[1]));
	}
	snprintf(err, err_len, "ctl: unknown command '%s' (see pvisor ctl --help)", cmd);
	return NULL;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("ctl: '%s': path too long for a unix socket", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_error("ctl: cannot connect to %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Sends buf; with its first bytes, pass (>= 0) as SCM_RIGHTS. */
static int send_all(int fd, const char *buf, size_t len, int pass)
{
	while (len) {
		union scm_one ctrl;
		struct iovec iov = { (void *)buf, len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (pass >= 0)
			scm_rights_put(&mh, &ctrl, pass);
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n > 0)
			pass = -1; /* it went with these bytes */

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to the first newline; the line (NUL-terminated) or NULL. */
static char *read_reply(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n;
		char *nl;

		if (len + 1 == cap) {
			char *p = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!p)
				break;
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* Prints the reply; 0 ok, 1 an error reply or an unreadable one. */
static int print_reply(const char *line)
{
	json_error_t jerr;
	json_t *r = json_loads(line, 0, &jerr), *err;
	char *out;
	int status = 1;

	if (!r || !json_is_object(r)) {
		log_error("ctl: the reply is not a JSON object: %.200s", line);
	} else if (json_is_true(json_object_get(r, "ok"))) {
		out = json_dumps(json_object_get(r, "result"), JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", out ? out : "{}");
		free(out);
		status = 0;
	} else {
		err = json_object_get(r, "error");
		log_error("ctl: %s: %s",
			  json_string_value(json_object_get(err, "code")) ?: "error",
			  json_string_value(json_object_get(err, "message")) ?: "(no message)");
	}
	json_decref(r);
	return status;
}

/* A save's reply: the guest may have stopped on its own (powered off,
 * exited) before it suspended; then nothing was saved and FILE goes. */
static int check_saved(const char *line)
{
	json_t *r = json_loads(line, 0, NULL);
	const char *how = json_string_value(
		json_object_get(json_object_get(r, "result"), "how"));
	int status = 0;

	if (!how || strcmp(how, "saved")) {
		log_error("ctl save: the guest stopped (%s) before it suspended: nothing saved",
			  how ? how : "no reply");
		status = 1;
	}
	json_decref(r);
	return status;
}

#define CTL_CLIENT_MAX_WORDS 16

/*
 * disk-add, scsi-add, insert: the image, opened and locked here as pvisor would (the
 * sandboxed pvisor cannot open files any more); the descriptor goes with
 * the request and the lock with it (an OFD lock belongs to the open file).
 * *image -1 for other commands; -1 when it cannot be opened (said why).
 */
static int open_image(int n, char *const words[], struct hio_file *image)
{
	char path[1024], err[1100];
	bool ro;

	image->fd = -1;
	if (n == 3 && !strcmp(words[0], "insert")) {
		if (hio_file_open(image, words[2], true, err, sizeof(err)) < 0) {
			log_error("ctl: %s", err);
			return -1;
		}
		return 0;
	}
	if (n >= 2 && !strcmp(words[0], "scsi-add")) {
		struct scsi_arg a;

		if (split_scsi(words[1], &a, err, sizeof(err)) < 0 ||
		    hio_file_open(image, a.path, a.ro, err, sizeof(err)) < 0) {
			/* hio_file says "disk PATH: ..."; this is a SCSI LUN */
			log_error("ctl: %s%s", strncmp(err, "disk ", 5) ? "" : "scsi ",
				  strncmp(err, "disk ", 5) ? err : err + 5);
			return -1;
		}
		return 0;
	}
	if (n != 2 || strcmp(words[0], "disk-add"))
		return 0;
	if (split_disk(words[1], path, sizeof(path), &ro, err, sizeof(err)) < 0 ||
	    hio_file_open(image, path, ro, err, sizeof(err)) < 0) {
		log_error("ctl: %s", err);
		return -1;
	}
	return 0;
}

/*
 * disk-add, scsi-add and insert name their image by an absolute path: pvisor
 * runs elsewhere, and a snapshot names the image by it.  The path leads
 * the word (PATH[,OPT]...), so making the word absolute makes the path so.
 * words copied into own (the rest point at the caller's); 0 or -1 (said).
 */
static int absolute_image_words(int n, char *const words[], char **own,
				char *word, size_t cap)
{
	int at = n >= 2 && (!strcmp(words[0], "disk-add") || !strcmp(words[0], "scsi-add")) ? 1
		 : n == 3 && !strcmp(words[0], "insert") ? 2 : -1;

	for (int i = 0; i < n; i++)
		own[i] = words[i];
	if (at < 0)
		return 0;
	snprintf(word, cap, "%s", words[at]);
	if (strlen(words[at]) >= cap || hio_path_absolute(word, cap) < 0) {
		log_error("ctl %s: the path %s is too long", words[0], words[at]);
		return -1;
	}
	own[at] = word;
	return 0;
}

int ctl_client_main(const char *path, int n, char *const given[])
{
	char err[256], *req, *reply, *words[CTL_CLIENT_MAX_WORDS] = { 0 }, word[1100];
	const char *save_path = NULL;
	struct hio_file image;
	int fd, status, file_fd = -1;

	if (n > CTL_CLIENT_MAX_WORDS) {
		log_error("ctl: too many words (at most %d)", CTL_CLIENT_MAX_WORDS);
		return PVISOR_EXIT_USAGE;
	}
	if (absolute_image_words(n, given, words, word, sizeof(word)) < 0)
		return PVISOR_EXIT_USAGE;
	req = ctl_client_request(n, words, err, sizeof(err));
	if (!req) {
		log_error("%s", err);
		return PVISOR_EXIT_USAGE;
	}
	if (open_image(n, words, &image) < 0) {
		free(req);
		return 1;
	}
	fd = connect_to(path);
	if (fd < 0) {
		hio_file_close(&image);
		free(req);
		return PVISOR_EXIT_USAGE;
	}
	/* save FILE: a new file (never one overwritten), removed again
	 * unless the save succeeds. */
	if (!strcmp(words[0], "save")) {
		save_path = words[1];
		file_fd = open(save_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (file_fd < 0) {
			log_error("ctl save: %s: %s", save_path, strerror(errno));
			close(fd);
			free(req);
			return PVISOR_EXIT_USAGE;
		}
	}
	status = send_all(fd, req, strlen(req), file_fd >= 0 ? file_fd : image.fd);
	hio_file_close(&image); /* pvisor has its own copy (and the lock) */
	if (status < 0) {
		log_error("ctl: cannot send to %s: %s", path, strerror(errno));
		close(fd);
		free(req);
		status = PVISOR_EXIT_USAGE;
		goto out;
	}
	free(req);
	reply = read_reply(fd);
	close(fd);
	if (!reply) {
		log_error("ctl: %s closed the connection without a reply", path);
		status = 1;
		goto out;
	}
	status = print_reply(reply);
	if (status == 0 && save_path)
		status = check_saved(reply);
	free(reply);
out:
	if (file_fd >= 0) {
		close(file_fd);
		if (status != 0)
			unlink(save_path);
	}
	return status;
}
