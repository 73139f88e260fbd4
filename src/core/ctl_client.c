/* `pvisor ctl`: the control API client (see ctl_client.h). */
#include "core/ctl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include <pvisor/abi.h>

#include "core/log.h"

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
	"  sysrq KEY                   write KEY to the guest's control/sysrq\n"
	"  save FILE [--timeout SEC]   suspend the guest into FILE (a new file) and\n"
	"                              stop it; `pvisor restore FILE` resumes it.\n"
	"                              An error after SEC (default 30) seconds if the\n"
	"                              guest does not suspend; it runs on then\n"
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

static char *shutdown_request(int n, char *const words[], char *err, size_t err_len)
{
	json_t *req = json_pack("{s:s}", "command", "shutdown");

	for (int i = 1; i < n; i++) {
		char *end;
		double t;

		if (!strcmp(words[i], "--force")) {
			json_object_set_new(req, "force", json_true());
		} else if (!strcmp(words[i], "--timeout") && i + 1 < n) {
			t = strtod(words[++i], &end);
			if (!*words[i] || *end || !(t > 0)) {
				snprintf(err, err_len,
					 "ctl shutdown: --timeout '%s' is not a positive number of seconds",
					 words[i]);
				json_decref(req);
				return NULL;
			}
			json_object_set_new(req, "timeout", json_real(t));
		} else {
			snprintf(err, err_len, "ctl shutdown: unexpected argument '%s'", words[i]);
			json_decref(req);
			return NULL;
		}
	}
	return dump_line(req);
}

/* save FILE [--timeout SEC]: FILE itself goes as a descriptor (send_fd). */
static char *save_request(int n, char *const words[], char *err, size_t err_len)
{
	json_t *req;
	char *end;
	double t;

	if (n != 2 && !(n == 4 && !strcmp(words[2], "--timeout"))) {
		snprintf(err, err_len, "ctl save: needs FILE [--timeout SEC]");
		return NULL;
	}
	req = json_pack("{s:s}", "command", "save");
	if (n == 4) {
		t = strtod(words[3], &end);
		if (!*words[3] || *end || !(t > 0)) {
			snprintf(err, err_len,
				 "ctl save: --timeout '%s' is not a positive number of seconds",
				 words[3]);
			json_decref(req);
			return NULL;
		}
		json_object_set_new(req, "timeout", json_real(t));
	}
	return dump_line(req);
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
	if (!strcmp(cmd, "shutdown"))
		return shutdown_request(n, words, err, err_len);
	if (!strcmp(cmd, "save"))
		return save_request(n, words, err, err_len);
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

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The request with fd attached (SCM_RIGHTS): pvisor, sandboxed, cannot
 * open the client's paths itself. */
static int send_with_fd(int sock, const char *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctrl = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctrl.b, .msg_controllen = sizeof(ctrl.b),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	return send_all(sock, buf + n, len - (size_t)n);
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

int ctl_client_main(const char *path, int n, char *const words[])
{
	char err[256], *req, *reply;
	const char *save_path = NULL;
	int fd, status, file_fd = -1;

	req = ctl_client_request(n, words, err, sizeof(err));
	if (!req) {
		log_error("%s", err);
		return PVISOR_EXIT_USAGE;
	}
	fd = connect_to(path);
	if (fd < 0) {
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
	if ((file_fd >= 0 ? send_with_fd(fd, req, strlen(req), file_fd)
			  : send_all(fd, req, strlen(req))) < 0) {
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
	free(reply);
out:
	if (file_fd >= 0) {
		close(file_fd);
		if (status != 0)
			unlink(save_path);
	}
	return status;
}
