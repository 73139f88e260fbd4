/* Control API requests: parsing and validation (see ctl_request.h). */
#include "services/ctl/ctl_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/scsiback/vscsi_lun.h"

/* Which arguments each command takes (besides "command" and "id"). */
enum {
	ARG_KEY = 1 << 0,
	ARG_TIMEOUT = 1 << 1,
	ARG_FORCE = 1 << 2,
	ARG_PATH = 1 << 3,
	ARG_RO = 1 << 4,
	ARG_DEVICE = 1 << 5,
	ARG_MEDIA = 1 << 6,
	ARG_LUN = 1 << 7,
	ARG_LIVE = 1 << 8,
};

static const struct {
	const char *name;
	unsigned args;
} commands[CTL_NR_COMMANDS] = {
	[CTL_STATUS] = { "status", 0 },
	[CTL_PAUSE] = { "pause", 0 },
	[CTL_RESUME] = { "resume", 0 },
	[CTL_SHUTDOWN] = { "shutdown", ARG_TIMEOUT | ARG_FORCE },
	[CTL_REBOOT] = { "reboot", ARG_TIMEOUT | ARG_FORCE },
	[CTL_SYSRQ] = { "sysrq", ARG_KEY },
	[CTL_SAVE] = { "save", ARG_TIMEOUT | ARG_LIVE },
	[CTL_DISK_ADD] = { "disk-add", ARG_PATH | ARG_RO },
	[CTL_DISK_REMOVE] = { "disk-remove", ARG_DEVICE | ARG_TIMEOUT | ARG_FORCE },
	[CTL_EJECT] = { "eject", ARG_DEVICE | ARG_FORCE },
	[CTL_INSERT] = { "insert", ARG_DEVICE | ARG_PATH },
	[CTL_SCSI_ADD] = { "scsi-add", ARG_PATH | ARG_RO | ARG_MEDIA | ARG_LUN | ARG_TIMEOUT },
	[CTL_SCSI_REMOVE] = { "scsi-remove", ARG_DEVICE | ARG_TIMEOUT | ARG_FORCE },
};

/* The arguments a command cannot go without. */
static unsigned required_args(enum ctl_command c)
{
	switch (c) {
	case CTL_SYSRQ:
		return ARG_KEY;
	case CTL_DISK_ADD:
	case CTL_SCSI_ADD:
		return ARG_PATH;
	case CTL_DISK_REMOVE:
	case CTL_EJECT:
	case CTL_SCSI_REMOVE:
		return ARG_DEVICE;
	case CTL_INSERT:
		return ARG_DEVICE | ARG_PATH;
	default:
		return 0;
	}
}

static const struct {
	const char *name;
	unsigned bit;
} arg_names[] = {
	{ "key", ARG_KEY },
	{ "timeout", ARG_TIMEOUT },
	{ "force", ARG_FORCE },
	{ "path", ARG_PATH },
	{ "ro", ARG_RO },
	{ "device", ARG_DEVICE },
	{ "media", ARG_MEDIA },
	{ "lun", ARG_LUN },
	{ "live", ARG_LIVE },
};

const char *ctl_command_name(enum ctl_command c)
{
	return (unsigned)c < CTL_NR_COMMANDS ? commands[c].name : "?";
}

bool ctl_command_takes_fd(enum ctl_command c)
{
	return c == CTL_DISK_ADD || c == CTL_SAVE || c == CTL_INSERT || c == CTL_SCSI_ADD;
}

static int fail(struct ctl_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int find_command(const char *name, enum ctl_command *out)
{
	for (unsigned i = 0; i < CTL_NR_COMMANDS; i++) {
		if (!strcmp(commands[i].name, name)) {
			*out = (enum ctl_command)i;
			return 0;
		}
	}
	return -1;
}

static unsigned arg_bit(const char *name)
{
	for (size_t i = 0; i < sizeof(arg_names) / sizeof(arg_names[0]); i++)
		if (!strcmp(arg_names[i].name, name))
			return arg_names[i].bit;
	return 0;
}

/* A string argument: non-empty, no NUL, shorter than size. */
static int parse_string(char *out, size_t size, const char *name, json_t *v,
			struct ctl_error *err)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t len = s ? json_string_length(v) : 0;

	if (!s || !len || len >= size || strlen(s) != len)
		return fail(err, "invalid-argument",
			    "\"%s\" must be a string of 1 to %zu bytes without NUL", name,
			    size - 1);
	memcpy(out, s, len + 1);
	return 0;
}

/* A SCSI LUN address, H:C:T:L. */
static int check_hctl(const char *s, const char *name, struct ctl_error *err)
{
	struct scsi_addr a;

	if (vscsi_hctl_parse(s, strlen(s), &a) < 0)
		return fail(err, "invalid-argument",
			    "\"%s\" must be a SCSI address H:C:T:L (numbers 0 to 65535)", name);
	return 0;
}

/* One argument, already known to be one the command takes. */
static int parse_arg(struct ctl_request *req, unsigned bit, const char *name, json_t *v,
		     struct ctl_error *err)
{
	const char *s;
	double t;

	switch (bit) {
	case ARG_KEY:
		s = json_is_string(v) ? json_string_value(v) : NULL;
		if (!s || json_string_length(v) != 1 || s[0] < 0x21 || s[0] > 0x7e)
			return fail(err, "invalid-argument",
				    "\"key\" must be one printable ASCII character");
		req->key = s[0];
		return 0;
	case ARG_TIMEOUT:
		t = json_is_number(v) ? json_number_value(v) : -1;
		if (!(t > 0) || t > CTL_SHUTDOWN_TIMEOUT_MAX)
			return fail(err, "invalid-argument",
				    "\"timeout\" must be a number of seconds in (0, %g]",
				    CTL_SHUTDOWN_TIMEOUT_MAX);
		req->timeout_s = t;
		return 0;
	case ARG_FORCE:
	case ARG_RO:
	case ARG_LIVE:
		if (!json_is_boolean(v))
			return fail(err, "invalid-argument", "\"%s\" must be true or false",
				    name);
		*(bit == ARG_RO ? &req->ro : bit == ARG_LIVE ? &req->live : &req->force) =
			json_is_true(v);
		return 0;
	case ARG_PATH:
	case ARG_DEVICE:
		if (parse_string(bit == ARG_PATH ? req->path : req->device,
				 bit == ARG_PATH ? sizeof(req->path) : sizeof(req->device),
				 name, v, err) < 0)
			return -1;
		return req->command == CTL_SCSI_REMOVE && bit == ARG_DEVICE
			       ? check_hctl(req->device, "device", err) : 0;
	case ARG_MEDIA:
		s = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(s, "disk") && strcmp(s, "cdrom"))
			return fail(err, "invalid-argument", "\"media\" must be \"disk\" or \"cdrom\"");
		req->cdrom = !strcmp(s, "cdrom");
		return 0;
	case ARG_LUN:
		if (parse_string(req->device, sizeof(req->device), name, v, err) < 0)
			return -1;
		req->lun_given = true;
		return check_hctl(req->device, "lun", err);
	}
	return fail(err, "invalid-argument", "unknown argument \"%s\"", name);
}

static int parse_object(json_t *obj, struct ctl_request *req, struct ctl_error *err)
{
	json_t *cmd = json_object_get(obj, "command"), *v;
	unsigned need = 0, bit;
	const char *name;

	if (!cmd)
		return fail(err, "invalid-request", "no \"command\"");
	if (!json_is_string(cmd))
		return fail(err, "invalid-request", "\"command\" must be a string");
	if (find_command(json_string_value(cmd), &req->command) < 0)
		return fail(err, "unknown-command", "unknown command \"%.64s\"",
			    json_string_value(cmd));
	need = required_args(req->command);
	if (req->command == CTL_DISK_REMOVE || req->command == CTL_SCSI_ADD ||
	    req->command == CTL_SCSI_REMOVE)
		req->timeout_s = CTL_REMOVE_TIMEOUT_DEFAULT;
	json_object_foreach(obj, name, v) {
		if (!strcmp(name, "command") || !strcmp(name, "id"))
			continue;
		bit = arg_bit(name);
		if (!(bit & commands[req->command].args))
			return fail(err, "invalid-argument", "%s takes no argument \"%.64s\"",
				    commands[req->command].name, name);
		if (parse_arg(req, bit, name, v, err) < 0)
			return -1;
		need &= ~bit;
	}
	for (size_t i = 0; i < sizeof(arg_names) / sizeof(arg_names[0]); i++)
		if (need & arg_names[i].bit)
			return fail(err, "invalid-argument", "%s needs a \"%s\"",
				    commands[req->command].name, arg_names[i].name);
	return 0;
}

int ctl_request_parse(const char *line, size_t len, struct ctl_request *req,
		      struct ctl_error *err)
{
	json_error_t jerr;
	json_t *obj, *id;
	int rc;

	memset(req, 0, sizeof(*req));
	req->fd = -1;
	req->timeout_s = CTL_SHUTDOWN_TIMEOUT_DEFAULT;
	if (len >= CTL_LINE_MAX)
		return fail(err, "line-too-long", "request longer than %u bytes",
			    CTL_LINE_MAX - 1);
	/* No NUL inside a line (jansson would stop at it or reject it
	 * anyway; this says why). */
	if (memchr(line, '\0', len))
		return fail(err, "invalid-json", "NUL byte in the request");
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!obj)
		return fail(err, "invalid-json", "column %d: %.200s", jerr.column, jerr.text);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return fail(err, "invalid-request", "a request is a JSON object");
	}
	id = json_object_get(obj, "id");
	if (id && !json_is_string(id) && !json_is_integer(id)) {
		json_decref(obj);
		return fail(err, "invalid-request", "\"id\" must be a string or an integer");
	}
	if (id && json_is_string(id) && json_string_length(id) > 256) {
		json_decref(obj);
		return fail(err, "invalid-request", "\"id\" longer than 256 bytes");
	}
	req->id = json_incref(id);
	rc = parse_object(obj, req, err);
	json_decref(obj);
	return rc;
}

void ctl_request_clear(struct ctl_request *req)
{
	json_decref(req->id);
	req->id = NULL;
}

static json_t *reply_base(json_t *id, bool ok)
{
	json_t *r = json_object();

	if (!r)
		return NULL;
	if ((id && json_object_set(r, "id", id) < 0) ||
	    json_object_set_new(r, "ok", json_boolean(ok)) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *ctl_reply_ok(json_t *id, json_t *result)
{
	json_t *r = reply_base(id, true);

	if (!result)
		result = json_object();
	if (!r || json_object_set_new(r, "result", result) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *ctl_reply_error(json_t *id, const char *code, const char *message)
{
	json_t *r = reply_base(id, false);
	json_t *msg = json_string(message);

	/* A message quoting a cut-off client string may not be UTF-8. */
	if (!msg)
		msg = json_string("(the message is not valid UTF-8)");
	if (!r || json_object_set_new(r, "error",
				      json_pack("{s:s, s:o}", "code", code, "message",
						msg)) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

char *ctl_reply_dump(json_t *reply, size_t *len)
{
	char *s = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII), *line;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}
