/*
 * A secondary console: the xenbus `console` device N (N >= 1), connected as
 * Linux's hvc_xen connects it (a granted xencons_interface page, an
 * unbound port, ring-ref and port published, Initialised; Connected once
 * the backend is).  Output only.  pvisor's backend is --console2
 * (device 1, to its stderr).
 */
#ifndef KIT_VCONSOLE_H
#define KIT_VCONSOLE_H

#include <stddef.h>

/* Connects device/console/devid (after xenbus_init and gnttab_init);
 * 0, or -1 with the reason printed. */
int vconsole_open(unsigned devid);

/* Writes len bytes, waiting for ring space: 0, or -1 if not open. */
int vconsole_write(const char *buf, size_t len);

/* printf to the secondary console. */
int vconsole_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
