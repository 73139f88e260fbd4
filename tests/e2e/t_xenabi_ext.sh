#!/bin/bash
# Xen ABI beyond Linux's boot path (issue 15), on every backend: guests that
# use what Xen-targeted PV kernels use.
#   t_softint   int $n through the trap table by the entry's DPL (guest
#               kernel = ring 1, user = ring 3), #GP((n<<3)|2) otherwise,
#               int3 / int $4 / icebp / into, from kernel and user mode
#   t_evtchn_fifo  FIFO event channels: init_control with good and bad
#               control blocks, 2000 ports bound and sent, priorities,
#               masking, expand_array limits, EVTCHNOP_reset to 2-level
#   t_debugreg  set/get_debugreg and mov %drN with Xen's rules; TF through
#               iret single-steps (DR6.BS), #DB after an emulated
#               instruction, held back by a mov %ss shadow
#   t_gnttab    grants to self mapped read-only and writable (linear and by
#               PTE address), written through, unmapped; Xen's GNTST codes,
#               retype refusals, unmap_and_replace; grant table v2 status
#               frames and the version switch refused while in use; v2
#               sub-page grants (copies inside the window only, no map),
#               transitive grants refused with Xen's codes, both flags in v1
#   t_xenver    every XENVER_* sub-op with Xen's answers and errors
# On proc the host reports int $n as a #GP with an IDT error code (int $0x80
# as a 32-bit system call); on kvm-pvm as a #UD at the instruction.
source "$(dirname "$0")/lib.sh"

GUESTS="t_softint t_evtchn_fifo t_debugreg t_gnttab t_xenver"

for be in $BACKENDS; do
	kit_tests_pass "$be" $GUESTS || continue
done

check "nothing left behind" no_leftovers
