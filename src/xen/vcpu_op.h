/* vcpu_op helpers other hypercall families use (xen/vcpu_op.c). */
#ifndef PVISOR_XEN_VCPU_OP_H
#define PVISOR_XEN_VCPU_OP_H

struct vcpu;

/*
 * Moves v to runstate `state` (RUNSTATE_running, _blocked...) now:
 * accounts the time spent in the old state and copies the runstate to the
 * guest's registered area, if any.  Called on v's own thread.
 */
void xen_runstate_set(struct vcpu *v, int state);

#endif
