/*
 * `pvisor ctl PATH COMMAND [ARGS]`: the control API's command-line client
 * (docs/control-api.md).  It sends one request, prints the reply's result
 * as JSON on stdout and exits 0, or prints the error on stderr and exits 1.
 */
#ifndef PVISOR_CTL_CLIENT_H
#define PVISOR_CTL_CLIENT_H

#include <stddef.h>

/*
 * The request line (malloc'd, with its newline) for COMMAND [ARGS]
 * (words[0..n)): status, pause, resume, shutdown [--timeout SEC] [--force],
 * sysrq KEY, or --json LINE (sent as given).  Pure; NULL with one line in
 * err for bad usage.
 */
char *ctl_client_request(int n, char *const words[], char *err, size_t err_len);

/* Sends the request for words to the server at path and prints the reply;
 * pvisor's exit status (0, 1 error reply, 2 usage or no server). */
int ctl_client_main(const char *path, int n, char *const words[]);

extern const char ctl_usage[];

#endif
