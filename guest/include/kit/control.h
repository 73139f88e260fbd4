/*
 * The toolstack's requests, as a Xen PV guest takes them: a thread watches
 * control/shutdown ("poweroff", "halt": SHUTDOWN_poweroff; "reboot":
 * SHUTDOWN_reboot) and control/sysrq (one key: printed; 'o' powers off,
 * 'b' reboots, 'c' crashes), clears the node (as Linux does) and acts.
 * control/feature-poweroff and feature-reboot say so to the toolstack.
 * Opt-in: an application calls kit_control_start() (pvsh does), so guests
 * that never touch xenstore stay as they are.
 */
#ifndef KIT_CONTROL_H
#define KIT_CONTROL_H

#include <stdbool.h>

/* Starts the control thread; 0 or -errno (no store, no memory). */
int kit_control_start(void);

/*
 * "suspend" (lib/suspend.c): Xen's suspend protocol.  0 once resumed in a
 * new domain (restored from a snapshot), 1 if the toolstack cancelled it,
 * or -errno.  A frontend registers hooks to quiesce before and reconnect
 * after (new_domain: its rings, grants and channels are gone).
 */
long kit_suspend(void);
int kit_suspend_hook(void (*suspend)(void *), void (*resume)(void *, bool new_domain),
		     void *opaque);
void kit_suspend_unhook(void *opaque);

#endif
