/*
 * Layout of the kvm backend's private CPL0 area, shared by kvm.c and the
 * trampoline assembly (so: preprocessor constants only).
 *
 * The private area is a KVM memory slot above guest memory (guest page-table
 * validation bounds frames by vm->mem.nr_frames, so no guest PTE can reach
 * it).  It is mapped supervisor-only through L4 slot KVM_L4_TRAMP; guest
 * memory is mapped again, supervisor-only, through slot KVM_L4_DIRECT so the
 * trampoline can store page-table entries; slot KVM_L4_USER maps one
 * user-accessible page that is not backed by any memory slot: a store there
 * exits to pvisor (the hypercall doorbell).
 */
#ifndef PVISOR_KVM_LAYOUT_H
#define PVISOR_KVM_LAYOUT_H

/* Xen's reserved range is L4 slots 256..271; pvisor uses four of them.
 * Xen's read-only M2P belongs in slot 256, but kvm-pvm does not map guest
 * entries there (a read faults not-present whatever the tables say), so it
 * is in slot 258 and XENMEM_machphys_mapping says so. */
/* The signal that kicks a vCPU thread out of KVM_RUN (a C expression:
 * glibc's SIGRTMIN; unused by the trampoline's assembly). */
#define KVM_SIG_KICK (SIGRTMIN + 5)

#define KVM_L4_FIRST 256
#define KVM_L4_END 272
#define KVM_L4_M2P 258    /* 0xffff810000000000: read-only M2P */
#define KVM_L4_USER 257   /* 0xffff808000000000: hypercall doorbell */
#define KVM_L4_TRAMP 261  /* 0xffff828000000000: GDT, IDT, TSS, code, stacks */
#define KVM_L4_DIRECT 262 /* 0xffff830000000000: guest memory, supervisor */

#define KVM_SLOT_VA(slot) (0xffff000000000000ull | ((unsigned long long)(slot) << 39))
#define KVM_USER_VA KVM_SLOT_VA(KVM_L4_USER)
#define KVM_TRAMP_VA KVM_SLOT_VA(KVM_L4_TRAMP)
#define KVM_DIRECT_VA KVM_SLOT_VA(KVM_L4_DIRECT)

/* Private pages (index into the private slot). */
#define KVM_PG_GDT 0      /* 16 pages: selectors up to 0xffff */
#define KVM_NR_GDT_PAGES 16
#define KVM_PG_IDT 16
#define KVM_PG_CODE 17
#define KVM_PG_L3_TRAMP 18
#define KVM_PG_L2_TRAMP 19
#define KVM_PG_L1_TRAMP 20
#define KVM_PG_L3_USER 21
#define KVM_PG_L2_USER 22
#define KVM_PG_L1_USER 23
#define KVM_PG_L3_DIRECT 24
#define KVM_PG_UCODE 25   /* user-executable syscall entry stub */
#define KVM_PG_VCPU0 32   /* per vCPU: TSS, stack, batch */
#define KVM_PGS_PER_VCPU 3
#define KVM_PG_TSS(i) (KVM_PG_VCPU0 + KVM_PGS_PER_VCPU * (i))
#define KVM_PG_STACK(i) (KVM_PG_TSS(i) + 1)
#define KVM_PG_BATCH(i) (KVM_PG_TSS(i) + 2)
#define KVM_PG_DIRECT_L2 128 /* L2 tables of the direct map follow */

/* Selectors: Xen's flat ring-3 ones plus pvisor's ring-0 ones and TSSs in
 * the range Xen reserves (0xe000 up). */
#define KVM_SEL_CS0 0xe008
#define KVM_SEL_SS0 0xe010
#define KVM_SEL_TSS(i) (0xe040 + 16 * (i))

/* The syscall entry (LSTAR/CSTAR): a user-executable read-only page next to
 * the doorbell whose stub stores rax to doorbell + KVM_SYSCALL_DB_OFF (an
 * MMIO exit straight from CPL3, without the trampoline). */
#define KVM_USER_CODE_VA (KVM_USER_VA + 4096)
#define KVM_SYSCALL_DB_OFF 8
#define KVM_SYSCALL_STUB_LEN 10 /* movabs %rax, moffs64 */

/* Code page offsets. */
#define KVM_CODE_STUBS 0x400 /* 4 bytes per stub, by port index */
#define KVM_CODE_LSTAR 0x7f0

/* I/O ports the trampoline exits through (`out %al, $port`). */
#define KVM_PORT_VECTOR 0xc0   /* + vector 0..31 */
#define KVM_PORT_SYSCALL 0xe1  /* LSTAR stub, run emulated */
#define KVM_PORT_STOPPED 0xe2  /* routine stopped before iretq */

/* The iretq frame sits at the top of the stack page; the stop flag is the
 * stack page's first quadword. */
#define KVM_FRAME_OFF (4096 - 40)
#define KVM_STOP_DISP (-KVM_FRAME_OFF)

#endif
