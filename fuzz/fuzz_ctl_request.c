/*
 * libFuzzer harness: the control API's request parser
 * (services/ctl/ctl_request.c), which sees every line a client sends.  The
 * input is one line; whatever it is, the parser answers 0 or -1 with an
 * error code, and the reply built from the outcome dumps to one line of
 * JSON (no newline inside), as the server sends it.
 */
// fuzz-sources: src/services/ctl/ctl_request.c src/services/scsiback/vscsi_lun.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/ctl/ctl_request.h"
#include "fuzz_sandbox.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* As the server does at start (ctl_server_open): jansson seeds its hash
 * tables from /dev/urandom on first use, which the event thread may not
 * open. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(0);
	return 0;
}

static int fuzz_one(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	struct ctl_error err;
	json_t *reply;
	size_t len;
	char *line;

	if (ctl_request_parse((const char *)data, size, &req, &err) == 0) {
		if ((unsigned)req.command >= CTL_NR_COMMANDS)
			abort();
		if (req.command == CTL_SYSRQ && (req.key < 0x21 || req.key > 0x7e))
			abort();
		if (req.command == CTL_SHUTDOWN &&
		    !(req.timeout_s > 0 && req.timeout_s <= CTL_SHUTDOWN_TIMEOUT_MAX))
			abort();
		reply = ctl_reply_ok(req.id, json_pack("{s:s}", "command",
						       ctl_command_name(req.command)));
	} else {
		if (!err.code || !err.message[0])
			abort();
		reply = ctl_reply_error(req.id, err.code, err.message);
	}
	if (!reply)
		abort();
	line = ctl_reply_dump(reply, &len);
	if (!line || len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	free(line);
	json_decref(reply);
	ctl_request_clear(&req);
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_EVENTS, fuzz_one)
