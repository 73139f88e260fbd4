/*
 * The control API's requests (docs/control-api.md): one JSON object per
 * line, {"command": NAME, "id": ANY, ...arguments}.  Parsing and validation
 * are pure (no I/O, no VM) so that the unit tests and fuzz/fuzz_ctl_request.c
 * drive them directly; anything a client sends comes through here first.
 */
#ifndef PVISOR_CTL_REQUEST_H
#define PVISOR_CTL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Longest request line, newline included; a longer one is answered
 * "line-too-long" and skipped up to its newline. */
#define CTL_LINE_MAX (64u * 1024)

#define CTL_SHUTDOWN_TIMEOUT_DEFAULT 30.0 /* seconds */
#define CTL_SHUTDOWN_TIMEOUT_MAX 3600.0
/* disk-remove: how long the frontend gets to close (libxl's
 * LIBXL_DESTROY_TIMEOUT). */
#define CTL_REMOVE_TIMEOUT_DEFAULT 10.0

enum ctl_command {
	CTL_STATUS,
	CTL_PAUSE,
	CTL_RESUME,
	CTL_SHUTDOWN, /* control/shutdown = poweroff, wait, then a hard stop */
	CTL_REBOOT,   /* control/shutdown = reboot, wait for the new domain */
	CTL_SYSRQ,    /* control/sysrq = KEY */
	CTL_SAVE,     /* control/shutdown = suspend, the snapshot into fd */
	CTL_DISK_ADD, /* a vbd on the descriptor sent with the request */
	CTL_DISK_REMOVE, /* libxl's device remove: Closing, Closed, gone */
	CTL_EJECT,    /* a CD/DVD LUN's medium out (the tray opens) */
	CTL_INSERT,   /* a medium into an empty CD/DVD LUN, on the descriptor sent */
	CTL_SCSI_ADD, /* a SCSI LUN on the descriptor sent (vscsi reconfiguration) */
	CTL_SCSI_REMOVE, /* a SCSI LUN away: Closing, the frontend lets go, gone */
	CTL_NR_COMMANDS,
};

struct ctl_request {
	enum ctl_command command;
	json_t *id;       /* the client's "id" (a new reference) or NULL */
	char key;         /* sysrq: a printable ASCII character */
	double timeout_s; /* shutdown, reboot: how long the guest gets */
	bool force;       /* shutdown: stop at once, do not ask the guest;
			   * reboot: reset at once, do not ask the guest;
			   * disk-remove: remove without waiting for the guest */
	int fd;           /* sent with the request (SCM_RIGHTS), -1 none; a
			   * command that keeps it sets -1 */
	bool ro;          /* disk-add, scsi-add: read-only */
	bool live;        /* save: the guest runs on (core/snapshot_live.h) */
	bool cdrom;       /* scsi-add: media=cdrom (an ISO, read-only) */
	bool lun_given;   /* scsi-add: "lun" H:C:T:L given (in device) */
	char path[1024];  /* disk-add: the image's name (for xenstore's params) */
	char device[32];  /* disk-remove: "xvdN"; eject, insert, scsi-remove,
			   * scsi-add's lun: "H:C:T:L" */
};

/* Why a request was refused: a stable code (docs/control-api.md) and one
 * line for a human. */
struct ctl_error {
	const char *code;
	char message[256];
};

/*
 * Parses one request line (without its newline; need not be
 * NUL-terminated).  0 with *req filled, or -1 with *err set; req->id is set
 * whenever the line was an object with an "id" (so that an error reply
 * names the request too).  Release with ctl_request_clear() either way.
 */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *req,
		      struct ctl_error *err);
void ctl_request_clear(struct ctl_request *req);

/* Whether the command takes a file descriptor sent with SCM_RIGHTS
 * (docs/control-api.md, "Descriptors"). */
bool ctl_command_takes_fd(enum ctl_command c);

/* "status", "pause", ... */
const char *ctl_command_name(enum ctl_command c);

/* Reply objects, one line each once dumped: {"id":..,"ok":true,"result":R}
 * (R is stolen; NULL: {}) and {"id":..,"ok":false,"error":{"code","message"}}.
 * id may be NULL.  NULL only when out of memory. */
json_t *ctl_reply_ok(json_t *id, json_t *result);
json_t *ctl_reply_error(json_t *id, const char *code, const char *message);

/* The reply as one line with its newline (malloc'd), or NULL. */
char *ctl_reply_dump(json_t *reply, size_t *len);

#endif
