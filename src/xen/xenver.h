/* The Xen version pvisor reports (xen_version, CPUID leaf 0x40000001). */
#ifndef PVISOR_XEN_XENVER_H
#define PVISOR_XEN_XENVER_H

#define PVISOR_XEN_MAJOR 4
#define PVISOR_XEN_MINOR 14

#endif
