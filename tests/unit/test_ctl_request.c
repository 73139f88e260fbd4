/*
 * The control API's request parser (services/ctl/ctl_request.c) and the
 * client's request builder (core/ctl_client.c): every command and its
 * arguments, the id echoed in replies, and every way a line can be wrong
 * (not JSON, not an object, no or a non-string command, unknown commands
 * and arguments, bad argument types and ranges, duplicate members, NUL
 * bytes, overlong lines); replies are one line of JSON each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ctl_client.h"
#include "services/ctl/ctl_request.h"

static int parse(const char *line, struct ctl_request *req, struct ctl_error *err)
{
	return ctl_request_parse(line, strlen(line), req, err);
}

/* The line is refused with code. */
static void refused(const char *line, const char *code)
{
	struct ctl_request req;
	struct ctl_error err;

	assert_int_equal(parse(line, &req, &err), -1);
	assert_string_equal(err.code, code);
	assert_true(err.message[0] != '\0');
	ctl_request_clear(&req);
}

static void test_commands(void **state)
{
	static const struct {
		const char *line;
		enum ctl_command cmd;
	} ok[] = {
		{ "{\"command\":\"status\"}", CTL_STATUS },
		{ " { \"command\" : \"pause\" } ", CTL_PAUSE },
		{ "{\"command\":\"resume\"}", CTL_RESUME },
		{ "{\"command\":\"shutdown\"}", CTL_SHUTDOWN },
		{ "{\"command\":\"reboot\"}", CTL_REBOOT },
		{ "{\"command\":\"sysrq\",\"key\":\"h\"}", CTL_SYSRQ },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ctl_request req;
		struct ctl_error err;

		assert_int_equal(parse(ok[i].line, &req, &err), 0);
		assert_int_equal(req.command, ok[i].cmd);
		assert_null(req.id);
		assert_string_equal(ctl_command_name(req.command),
				    ctl_command_name(ok[i].cmd));
		ctl_request_clear(&req);
	}
}

static void test_arguments(void **state)
{
	struct ctl_request req;
	struct ctl_error err;

	assert_int_equal(parse("{\"command\":\"shutdown\"}", &req, &err), 0);
	assert_true(req.timeout_s == CTL_SHUTDOWN_TIMEOUT_DEFAULT);
	assert_false(req.force);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"shutdown\",\"timeout\":2.5,\"force\":true}",
			       &req, &err), 0);
	assert_true(req.timeout_s == 2.5);
	assert_true(req.force);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"shutdown\",\"timeout\":7}", &req, &err), 0);
	assert_true(req.timeout_s == 7.0);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"reboot\"}", &req, &err), 0);
	assert_true(req.timeout_s == CTL_SHUTDOWN_TIMEOUT_DEFAULT);
	assert_false(req.force);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"reboot\",\"timeout\":0.5,\"force\":true}",
			       &req, &err), 0);
	assert_true(req.timeout_s == 0.5);
	assert_true(req.force);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"key\":\"~\",\"command\":\"sysrq\"}", &req, &err), 0);
	assert_int_equal(req.key, '~');
	ctl_request_clear(&req);
	/* save --live */
	assert_int_equal(parse("{\"command\":\"save\"}", &req, &err), 0);
	assert_false(req.live);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"save\",\"live\":true,\"timeout\":2}", &req, &err), 0);
	assert_true(req.live);
	assert_true(req.timeout_s == 2.0);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"save\",\"live\":1}", &req, &err), -1);
	assert_string_equal(err.code, "invalid-argument");
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"status\",\"live\":true}", &req, &err), -1);
	assert_string_equal(err.code, "invalid-argument");
	ctl_request_clear(&req);
}

/* disk-add and disk-remove (services/ctl/ctl_hotplug.c). */
static void test_hotplug_arguments(void **state)
{
	struct ctl_request req;
	struct ctl_error err;

	assert_int_equal(parse("{\"command\":\"disk-add\",\"path\":\"/x/a.img\",\"ro\":true}",
			       &req, &err), 0);
	assert_int_equal(req.command, CTL_DISK_ADD);
	assert_string_equal(req.path, "/x/a.img");
	assert_true(req.ro);
	assert_true(ctl_command_takes_fd(req.command));
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"disk-remove\",\"device\":\"xvdb\"}", &req,
			       &err), 0);
	assert_string_equal(req.device, "xvdb");
	assert_true(req.timeout_s == CTL_REMOVE_TIMEOUT_DEFAULT);
	assert_false(req.force);
	assert_false(ctl_command_takes_fd(req.command));
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"disk-remove\",\"device\":\"xvdb\",\"force\":true,"
			       "\"timeout\":0.5}", &req, &err), 0);
	assert_true(req.force);
	assert_true(req.timeout_s == 0.5);
	ctl_request_clear(&req);
	refused("{\"command\":\"disk-add\"}", "invalid-argument");
	refused("{\"command\":\"disk-add\",\"path\":\"\"}", "invalid-argument");
	refused("{\"command\":\"disk-add\",\"path\":\"a\\u0000b\"}", "invalid-json"); /* jansson: no NUL */
	refused("{\"command\":\"disk-add\",\"path\":7}", "invalid-argument");
	refused("{\"command\":\"disk-add\",\"path\":\"a\",\"ro\":1}", "invalid-argument");
	refused("{\"command\":\"disk-add\",\"path\":\"a\",\"force\":true}", "invalid-argument");
	refused("{\"command\":\"disk-remove\"}", "invalid-argument");
	refused("{\"command\":\"disk-remove\",\"device\":\"xvdb\",\"path\":\"a\"}",
		"invalid-argument");
	refused("{\"command\":\"disk-remove\",\"device\":\"0123456789012345678901234567890123\"}",
		"invalid-argument");
}

/* eject and insert of a CD/DVD LUN's medium (ctl_hotplug.c, scsiback). */
static void test_media_arguments(void **state)
{
	struct ctl_request req;
	struct ctl_error err;

	assert_int_equal(parse("{\"command\":\"eject\",\"device\":\"0:0:1:0\",\"force\":true}",
			       &req, &err), 0);
	assert_int_equal(req.command, CTL_EJECT);
	assert_string_equal(req.device, "0:0:1:0");
	assert_true(req.force);
	assert_false(ctl_command_takes_fd(req.command));
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"insert\",\"device\":\"0:0:1:0\",\"path\":\"b.iso\"}",
			       &req, &err), 0);
	assert_int_equal(req.command, CTL_INSERT);
	assert_string_equal(req.path, "b.iso");
	assert_true(ctl_command_takes_fd(req.command));
	ctl_request_clear(&req);
	refused("{\"command\":\"eject\"}", "invalid-argument");
	refused("{\"command\":\"eject\",\"device\":\"0:0:1:0\",\"path\":\"a\"}", "invalid-argument");
	refused("{\"command\":\"insert\",\"device\":\"0:0:1:0\"}", "invalid-argument");
	refused("{\"command\":\"insert\",\"path\":\"a.iso\"}", "invalid-argument");
	refused("{\"command\":\"insert\",\"device\":\"0:0:1:0\",\"path\":\"a\",\"force\":true}",
		"invalid-argument");
}

/* scsi-add and scsi-remove of a LUN (ctl_hotplug.c, scsiback). */
static void test_lun_arguments(void **state)
{
	struct ctl_request req;
	struct ctl_error err;

	assert_int_equal(parse("{\"command\":\"scsi-add\",\"path\":\"a.iso\",\"media\":\"cdrom\","
			       "\"lun\":\"0:1:2:3\",\"timeout\":2}", &req, &err), 0);
	assert_int_equal(req.command, CTL_SCSI_ADD);
	assert_string_equal(req.path, "a.iso");
	assert_true(req.cdrom);
	assert_true(req.lun_given);
	assert_string_equal(req.device, "0:1:2:3");
	assert_true(req.timeout_s == 2);
	assert_true(ctl_command_takes_fd(req.command));
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"scsi-add\",\"path\":\"a.img\",\"ro\":true}",
			       &req, &err), 0);
	assert_false(req.cdrom);
	assert_false(req.lun_given);
	assert_true(req.ro);
	assert_true(req.timeout_s == CTL_REMOVE_TIMEOUT_DEFAULT);
	ctl_request_clear(&req);
	assert_int_equal(parse("{\"command\":\"scsi-remove\",\"device\":\"0:0:0:7\",\"force\":true}",
			       &req, &err), 0);
	assert_int_equal(req.command, CTL_SCSI_REMOVE);
	assert_true(req.force);
	assert_false(ctl_command_takes_fd(req.command));
	assert_true(req.timeout_s == CTL_REMOVE_TIMEOUT_DEFAULT);
	ctl_request_clear(&req);
	refused("{\"command\":\"scsi-add\"}", "invalid-argument");
	refused("{\"command\":\"scsi-add\",\"path\":\"a\",\"media\":\"tape\"}", "invalid-argument");
	refused("{\"command\":\"scsi-add\",\"path\":\"a\",\"media\":1}", "invalid-argument");
	refused("{\"command\":\"scsi-add\",\"path\":\"a\",\"lun\":\"0:0:0\"}", "invalid-argument");
	refused("{\"command\":\"scsi-add\",\"path\":\"a\",\"lun\":\"0:0:0:65536\"}",
		"invalid-argument");
	refused("{\"command\":\"scsi-add\",\"path\":\"a\",\"lun\":\"0:0:0:1 \"}", "invalid-argument");
	refused("{\"command\":\"scsi-add\",\"path\":\"a\",\"force\":true}", "invalid-argument");
	refused("{\"command\":\"scsi-remove\"}", "invalid-argument");
	refused("{\"command\":\"scsi-remove\",\"device\":\"xvda\"}", "invalid-argument");
	refused("{\"command\":\"scsi-remove\",\"device\":\"0:0:0:0\",\"path\":\"a\"}",
		"invalid-argument");
}

static void test_id_echoed(void **state)
{
	struct ctl_request req;
	struct ctl_error err;
	json_t *reply;
	size_t len;
	char *line;

	assert_int_equal(parse("{\"id\":\"abc\",\"command\":\"status\"}", &req, &err), 0);
	assert_string_equal(json_string_value(req.id), "abc");
	reply = ctl_reply_ok(req.id, json_pack("{s:i}", "x", 1));
	line = ctl_reply_dump(reply, &len);
	assert_string_equal(line, "{\"id\":\"abc\",\"ok\":true,\"result\":{\"x\":1}}\n");
	assert_int_equal(len, strlen(line));
	free(line);
	json_decref(reply);
	ctl_request_clear(&req);

	/* An error reply names the request too. */
	assert_int_equal(parse("{\"id\":42,\"command\":\"nope\"}", &req, &err), -1);
	assert_int_equal(json_integer_value(req.id), 42);
	reply = ctl_reply_error(req.id, err.code, err.message);
	line = ctl_reply_dump(reply, &len);
	assert_non_null(strstr(line, "\"id\":42"));
	assert_non_null(strstr(line, "\"ok\":false"));
	assert_non_null(strstr(line, "\"code\":\"unknown-command\""));
	assert_int_equal(strchr(line, '\n') - line, (long)len - 1); /* one line */
	free(line);
	json_decref(reply);
	ctl_request_clear(&req);
}

static void test_malformed(void **state)
{
	refused("", "invalid-json");
	refused("{", "invalid-json");
	refused("{\"command\":\"status\"", "invalid-json");
	refused("{\"command\":\"status\"} trailing", "invalid-json");
	refused("\xff\xfe", "invalid-json");
	refused("[\"status\"]", "invalid-request");
	refused("\"status\"", "invalid-request");
	refused("42", "invalid-request");
	refused("{}", "invalid-request");
	refused("{\"command\":1}", "invalid-request");
	refused("{\"command\":null}", "invalid-request");
	refused("{\"command\":\"status\",\"id\":{}}", "invalid-request");
	refused("{\"command\":\"status\",\"id\":1.5}", "invalid-request");
	refused("{\"command\":\"status\",\"command\":\"pause\"}", "invalid-json");
	refused("{\"command\":\"STATUS\"}", "unknown-command");
	refused("{\"command\":\"\"}", "unknown-command");
	refused("{\"command\":\"status\",\"key\":\"h\"}", "invalid-argument");
	refused("{\"command\":\"status\",\"verbose\":true}", "invalid-argument");
	refused("{\"command\":\"sysrq\"}", "invalid-argument");
	refused("{\"command\":\"sysrq\",\"key\":\"\"}", "invalid-argument");
	refused("{\"command\":\"sysrq\",\"key\":\"ab\"}", "invalid-argument");
	refused("{\"command\":\"sysrq\",\"key\":\" \"}", "invalid-argument");
	refused("{\"command\":\"sysrq\",\"key\":\"\\u00e9\"}", "invalid-argument");
	refused("{\"command\":\"sysrq\",\"key\":7}", "invalid-argument");
	refused("{\"command\":\"shutdown\",\"timeout\":0}", "invalid-argument");
	refused("{\"command\":\"shutdown\",\"timeout\":-1}", "invalid-argument");
	refused("{\"command\":\"shutdown\",\"timeout\":1e9}", "invalid-argument");
	refused("{\"command\":\"shutdown\",\"timeout\":\"5\"}", "invalid-argument");
	refused("{\"command\":\"shutdown\",\"force\":1}", "invalid-argument");
	refused("{\"command\":\"pause\",\"force\":true}", "invalid-argument");
	refused("{\"command\":\"reboot\",\"timeout\":0}", "invalid-argument");
	refused("{\"command\":\"reboot\",\"force\":\"yes\"}", "invalid-argument");
	refused("{\"command\":\"reboot\",\"key\":\"b\"}", "invalid-argument");
}

static void test_nul_and_length(void **state)
{
	static const char with_nul[] = "{\"command\":\"status\"}\0junk";
	struct ctl_request req;
	struct ctl_error err;
	char *big = malloc(CTL_LINE_MAX + 1);

	assert_int_equal(ctl_request_parse(with_nul, sizeof(with_nul) - 1, &req, &err), -1);
	assert_string_equal(err.code, "invalid-json");
	ctl_request_clear(&req);
	/* Not NUL-terminated: only len bytes are looked at. */
	assert_int_equal(ctl_request_parse("{\"command\":\"pause\"}XYZ", 19, &req, &err), 0);
	assert_int_equal(req.command, CTL_PAUSE);
	ctl_request_clear(&req);
	assert_non_null(big);
	memset(big, ' ', CTL_LINE_MAX);
	memcpy(big, "{\"command\":\"status\"}", 20);
	assert_int_equal(ctl_request_parse(big, CTL_LINE_MAX - 1, &req, &err), 0);
	ctl_request_clear(&req);
	assert_int_equal(ctl_request_parse(big, CTL_LINE_MAX, &req, &err), -1);
	assert_string_equal(err.code, "line-too-long");
	ctl_request_clear(&req);
	free(big);
}

static void test_deep_nesting(void **state)
{
	/* jansson bounds the depth itself; deep input is an error, no crash. */
	size_t n = 100000;
	char *s = malloc(2 * n + 1);
	struct ctl_request req;
	struct ctl_error err;

	assert_non_null(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	assert_int_equal(ctl_request_parse(s, 2 * n, &req, &err), -1);
	ctl_request_clear(&req);
	free(s);
}

static void test_error_message_not_utf8(void **state)
{
	/* A message cut in the middle of a UTF-8 sequence still gives a reply. */
	json_t *r = ctl_reply_error(NULL, "unknown-command", "bad \xc3");
	size_t len;
	char *line;

	assert_non_null(r);
	line = ctl_reply_dump(r, &len);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"code\":\"unknown-command\""));
	free(line);
	json_decref(r);
}

/* The client's builder produces lines the server's parser takes. */
static void client_builds(int n, char *const words[], enum ctl_command cmd)
{
	char err[256], *line = ctl_client_request(n, words, err, sizeof(err));
	struct ctl_request req;
	struct ctl_error perr;

	assert_non_null(line);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_int_equal(ctl_request_parse(line, strlen(line) - 1, &req, &perr), 0);
	assert_int_equal(req.command, cmd);
	ctl_request_clear(&req);
	free(line);
}

static void client_refuses(int n, char *const words[])
{
	char err[256];

	err[0] = '\0';
	assert_null(ctl_client_request(n, words, err, sizeof(err)));
	assert_true(err[0] != '\0');
}

static void test_client(void **state)
{
	char *status[] = { "status" }, *pause[] = { "pause" }, *resume[] = { "resume" };
	char *sd[] = { "shutdown", "--timeout", "3", "--force" }, *rq[] = { "sysrq", "s" };
	char *json[] = { "--json", "{\"command\":\"status\"}" };
	char *bad1[] = { "status", "x" }, *bad2[] = { "sysrq", "ab" }, *bad3[] = { "frob" };
	char *bad4[] = { "shutdown", "--timeout", "-1" }, *bad5[] = { "shutdown", "--now" };
	char *bad6[] = { "--json", "a\nb" }, *bad7[] = { "sysrq" };
	char *da[] = { "disk-add", "a.img,ro" }, *dr[] = { "disk-remove", "xvdb", "--force" };
	char *bad8[] = { "disk-add" }, *bad9[] = { "disk-add", "a.img,rx" };
	char *bad10[] = { "disk-add", ",ro" }, *bad11[] = { "disk-remove", "--force" };
	char *bad12[] = { "disk-remove", "xvdb", "--timeout", "x" };
	char *ej[] = { "eject", "0:0:1:0", "--force" }, *in[] = { "insert", "0:0:1:0", "b.iso" };
	char *bad13[] = { "eject" }, *bad14[] = { "eject", "0:0:1:0", "--now" };
	char *bad15[] = { "insert", "0:0:1:0" };
	char *sa[] = { "scsi-add", "a.iso,media=cdrom,lun=0:0:1:2", "--timeout", "3" };
	char *sa2[] = { "scsi-add", "a.img,ro" }, *sr[] = { "scsi-remove", "0:0:1:2", "--force" };
	char *bad16[] = { "scsi-add" }, *bad17[] = { "scsi-add", "a.img,media=tape" };
	char *bad18[] = { "scsi-add", ",ro" }, *bad19[] = { "scsi-remove" };
	char *bad20[] = { "scsi-remove", "--force" }, *bad21[] = { "scsi-add", "a.img", "--now" };
	char *rb[] = { "reboot" }, *rbf[] = { "reboot", "--force", "--timeout", "2" };
	char *bad22[] = { "reboot", "now" }, *bad23[] = { "reboot", "--timeout", "0" };
	char *sv[] = { "save", "f.pvs" }, *svl[] = { "save", "f.pvs", "--live", "--timeout", "2" };
	char *svl2[] = { "save", "f.pvs", "--timeout", "2", "--live" };
	char *bad24[] = { "save" }, *bad25[] = { "save", "--live" };
	char *bad26[] = { "save", "f.pvs", "--timeout" }, *bad27[] = { "save", "f.pvs", "--now" };

	client_builds(1, status, CTL_STATUS);
	client_builds(1, pause, CTL_PAUSE);
	client_builds(1, resume, CTL_RESUME);
	client_builds(4, sd, CTL_SHUTDOWN);
	client_builds(1, rb, CTL_REBOOT);
	client_builds(4, rbf, CTL_REBOOT);
	client_refuses(2, bad22);
	client_refuses(3, bad23);
	client_builds(2, rq, CTL_SYSRQ);
	client_builds(2, json, CTL_STATUS);
	client_refuses(0, NULL);
	client_refuses(2, bad1);
	client_refuses(2, bad2);
	client_refuses(1, bad3);
	client_refuses(3, bad4);
	client_refuses(2, bad5);
	client_refuses(2, bad6);
	client_refuses(1, bad7);
	client_builds(2, da, CTL_DISK_ADD);
	client_builds(3, dr, CTL_DISK_REMOVE);
	client_refuses(1, bad8);
	client_refuses(2, bad9);
	client_refuses(2, bad10);
	client_refuses(2, bad11);
	client_refuses(4, bad12);
	client_builds(3, ej, CTL_EJECT);
	client_builds(3, in, CTL_INSERT);
	client_refuses(1, bad13);
	client_refuses(3, bad14);
	client_refuses(2, bad15);
	client_builds(4, sa, CTL_SCSI_ADD);
	client_builds(2, sa2, CTL_SCSI_ADD);
	client_builds(3, sr, CTL_SCSI_REMOVE);
	client_refuses(1, bad16);
	client_refuses(2, bad17);
	client_refuses(2, bad18);
	client_refuses(1, bad19);
	client_refuses(2, bad20);
	client_refuses(3, bad21);
	client_builds(2, sv, CTL_SAVE);
	client_builds(5, svl, CTL_SAVE);
	client_builds(5, svl2, CTL_SAVE);
	client_refuses(1, bad24);
	client_refuses(2, bad25);
	client_refuses(3, bad26);
	client_refuses(3, bad27);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_media_arguments),
		cmocka_unit_test(test_lun_arguments),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_hotplug_arguments),
		cmocka_unit_test(test_id_echoed),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_and_length),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_error_message_not_utf8),
		cmocka_unit_test(test_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
