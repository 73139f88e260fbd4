/*
 * The control API server (services/ctl/ctl_server.c) over socketpairs, in
 * front of a test VM (tests/unit/testvm.h: real memory and xenstore, a
 * vCPU that never runs): replies in order for pipelined and split lines,
 * an overlong line answered once with the connection kept, a client gone
 * mid-line, the client limit, pause/resume state, sysrq and shutdown
 * reaching the guest's xenstore, a forced shutdown and one that times out
 * answered when the VM stops.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "services/ctl/ctl_request.h"
#include "services/ctl/ctl_server.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "testvm.h"

struct fixture {
	struct vm *vm;
	struct ctl_server *s;
};

static int setup(void **state)
{
	static struct fixture f;
	char err[256];

	f.vm = testvm_new();
	f.s = ctl_server_open(f.vm, NULL, err, sizeof(err));
	assert_non_null(f.s);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ctl_server_close(f->s);
	testvm_free(f->vm);
	return 0;
}

static void pump(struct ctl_server *s)
{
	for (int i = 0; i < 8; i++) {
		struct pollfd fds[CTL_SERVER_POLLFDS];
		unsigned n = ctl_server_pollfds(s, fds, CTL_SERVER_POLLFDS);

		assert_true(poll(fds, n, 0) >= 0);
		ctl_server_service(s, fds, n);
	}
}

/* A client on a socketpair; returns our end. */
static int client(struct ctl_server *s)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(ctl_server_add_client(s, sv[1]), 0);
	return sv[0];
}

static void say(int fd, const char *text)
{
	assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* The next reply line, parsed; NULL at EOF. */
static json_t *reply(struct ctl_server *s, int fd)
{
	static char buf[1 << 16];
	static size_t len;
	static int buf_fd = -1;
	char *nl;
	json_t *r;

	if (buf_fd != fd) {
		buf_fd = fd;
		len = 0;
	}
	for (int tries = 0; tries < 100; tries++) {
		ssize_t n;

		nl = memchr(buf, '\n', len);
		if (nl)
			break;
		pump(s);
		n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		if (n == 0)
			return NULL;
		if (n > 0)
			len += (size_t)n;
	}
	nl = memchr(buf, '\n', len);
	if (!nl)
		fail_msg("no reply line on fd %d (%zu bytes: %.*s)", fd, len, (int)len, buf);
	r = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
	assert_non_null(r);
	len -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, len);
	return r;
}

static const char *str(json_t *r, const char *path1, const char *path2)
{
	json_t *v = json_object_get(r, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

static void test_status_and_order(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->s);
	json_t *r;

	/* Two requests in one write, a third split over two. */
	say(fd, "{\"command\":\"status\",\"id\":1}\n{\"command\":\"nope\",\"id\":2}\n{\"comm");
	pump(f->s);
	say(fd, "and\":\"resume\",\"id\":3}\r\n");
	r = reply(f->s, fd);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(str(r, "result", "backend"), "test");
	assert_string_equal(str(r, "result", "state"), "running");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(json_object_get(r, "result"),
								   "vcpus"), 0), "state")),
			    "stopped");
	json_decref(r);
	r = reply(f->s, fd);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 2);
	assert_string_equal(str(r, "error", "code"), "unknown-command");
	json_decref(r);
	r = reply(f->s, fd);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 3);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	close(fd);
}

static void test_overlong_line(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->s);
	size_t big = 3 * CTL_LINE_MAX, sent = 0;
	char *junk = malloc(big);
	json_t *r;

	assert_non_null(junk);
	memset(junk, 'x', big);
	while (sent < big) {
		ssize_t n = send(fd, junk + sent, big - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t)n;
		pump(f->s);
	}
	say(fd, "\n{\"command\":\"status\"}\n");
	r = reply(f->s, fd);
	assert_string_equal(str(r, "error", "code"), "line-too-long");
	json_decref(r);
	r = reply(f->s, fd); /* the same connection serves the next line */
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	free(junk);
	close(fd);
}

static void test_gone_mid_line_and_limit(void **state)
{
	struct fixture *f = *state;
	int fds[CTL_MAX_CLIENTS], sv[2];

	for (int i = 0; i < 10; i++) {
		int fd = client(f->s);

		say(fd, "{\"command\":\"sta");
		pump(f->s);
		close(fd);
	}
	pump(f->s);
	assert_int_equal(ctl_server_nr_clients(f->s), 0);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		fds[i] = client(f->s);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_server_add_client(f->s, sv[1]), -EMFILE);
	close(sv[0]);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		close(fds[i]);
	pump(f->s);
	assert_int_equal(ctl_server_nr_clients(f->s), 0);
}

static int read_node(struct xenstore *xs, void *opaque)
{
	char **v = opaque;
	size_t len;

	return xs_dom0_read(xs, "/local/domain/1/control/sysrq", v, &len);
}

static void test_pause_sysrq(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->s);
	char *v = NULL;
	json_t *r;

	say(fd, "{\"command\":\"pause\"}\n");
	r = reply(f->s, fd);
	assert_string_equal(str(r, "result", "state"), "paused");
	json_decref(r);
	assert_true(vm_is_paused(f->vm));
	say(fd, "{\"command\":\"shutdown\"}\n");
	r = reply(f->s, fd);
	assert_string_equal(str(r, "error", "code"), "paused");
	json_decref(r);
	say(fd, "{\"command\":\"resume\"}\n{\"command\":\"sysrq\",\"key\":\"s\"}\n");
	r = reply(f->s, fd);
	assert_string_equal(str(r, "result", "state"), "running");
	json_decref(r);
	r = reply(f->s, fd);
	assert_string_equal(str(r, "result", "key"), "s");
	json_decref(r);
	assert_int_equal(xs_service_with(f->vm, read_node, &v), 0);
	assert_string_equal(v, "s");
	free(v);
	close(fd);
}

static void test_shutdown_timeout(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->s), other = client(f->s);
	json_t *r;

	say(fd, "{\"command\":\"shutdown\",\"timeout\":0.05,\"id\":\"sd\"}\n");
	pump(f->s);
	assert_true(ctl_server_deadline(f->s) > 0);
	assert_false(vm_stopped(f->vm));
	/* Others are served meanwhile. */
	say(other, "{\"command\":\"status\"}\n");
	r = reply(f->s, other);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	usleep(60000);
	pump(f->s);
	assert_true(vm_stopped(f->vm));
	assert_int_equal(atomic_load(&f->vm->stop_reason), VM_STOP_API);
	ctl_server_vm_stopped(f->s);
	r = reply(f->s, fd);
	assert_string_equal(str(r, "id", NULL), "sd");
	assert_string_equal(str(r, "result", "how"), "forced");
	json_decref(r);
	assert_null(reply(f->s, fd)); /* then the connection closes */
	close(fd);
	close(other);
}

static void test_shutdown_force_client_gone(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->s);

	say(fd, "{\"command\":\"shutdown\",\"force\":true}\n");
	close(fd); /* gone before the answer */
	pump(f->s);
	assert_true(vm_stopped(f->vm));
	ctl_server_vm_stopped(f->s);
	pump(f->s);
	assert_int_equal(ctl_server_nr_clients(f->s), 0);
}

/* A hot-plug job that finished just as the VM stopped: its own answer,
 * not "stopped" (it did what it did). */
static void test_job_done_at_stop(void **state)
{
	char dir[] = "/tmp/ctlsrv.XXXXXX", path[64], err[256];
	struct vm *vm = testvm_new();
	struct ctl_server *s;
	json_t *r;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	s = ctl_server_open(vm, path, err, sizeof(err));
	assert_non_null(s);
	fd = client(s);
	say(fd, "{\"command\":\"disk-remove\",\"device\":\"xvdq\",\"id\":7}\n");
	pump(s); /* read: the job goes to the hot-plug thread */
	usleep(100000); /* done there (no such disk), not yet answered */
	vm_stop(vm, VM_STOP_API, 0, NULL);
	ctl_server_vm_stopped(s);
	r = reply(s, fd);
	assert_false(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(str(r, "error", "code"), "not-found");
	json_decref(r);
	close(fd);
	ctl_server_close(s);
	testvm_free(vm);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_mid_line_and_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_sysrq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_force_client_gone, setup, teardown),
		cmocka_unit_test(test_job_done_at_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
