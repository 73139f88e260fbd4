/*
 * The Xen PV ABI as pvisor speaks it: Xen's own public headers, which are the
 * specification (Debian's libxen-dev ships them in /usr/include/xen).  They
 * need <stdint.h> first and an interface version; everything in pvisor and in
 * the guest kit includes this file instead of <xen/...> directly.
 */
#ifndef PVISOR_XEN_H
#define PVISOR_XEN_H

#include <stdint.h>

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#include <xen/xen.h>
#include <xen/callback.h>
#include <xen/elfnote.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/io/console.h>
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>

/* Layouts pvisor and its guests depend on, checked against the spec's sizes. */
_Static_assert(sizeof(struct vcpu_time_info) == 32, "vcpu_time_info");
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info");
_Static_assert(sizeof(struct shared_info) <= 4096, "shared_info fits a page");
_Static_assert(sizeof(struct start_info) <= 4096, "start_info fits a page");
_Static_assert(sizeof(struct mmu_update) == 16, "mmu_update");
_Static_assert(sizeof(struct multicall_entry) == 64, "multicall_entry");
_Static_assert(sizeof(struct trap_info) == 16, "trap_info");
_Static_assert(sizeof(struct xencons_interface) == 1024 + 2048 + 16, "xencons_interface");

#endif
