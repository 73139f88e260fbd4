#!/usr/bin/env python3
"""no_io_uring.py CMD [ARGS...]: runs CMD with io_uring_setup, io_uring_enter
and io_uring_register refused with EPERM by a seccomp filter -- what Docker's
default seccomp profile does -- so a test can see pvisor on such a host
without root, a sysctl or a container.  x86-64 only; exits 77 if the filter
cannot be installed."""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
NR_IO_URING = (425, 426, 427)  # setup, enter, register

LD_W_ABS = 0x20
JEQ_K = 0x15
RET_K = 0x06


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


prog = b"".join([
    insn(LD_W_ABS, 0, 0, 4),                  # 0: arch
    insn(JEQ_K, 0, 4, AUDIT_ARCH_X86_64),     # 1: other arch -> 6 allow
    insn(LD_W_ABS, 0, 0, 0),                  # 2: nr
    insn(JEQ_K, 3, 0, NR_IO_URING[0]),        # 3: -> 7
    insn(JEQ_K, 2, 0, NR_IO_URING[1]),        # 4: -> 7
    insn(JEQ_K, 1, 0, NR_IO_URING[2]),        # 5: -> 7
    insn(RET_K, 0, 0, SECCOMP_RET_ALLOW),     # 6
    insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),  # 7
])


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    if os.uname().machine != "x86_64":
        sys.stderr.write("no_io_uring.py: x86-64 only\n")
        return 77
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.stderr.write("no_io_uring.py: seccomp: %s\n" % os.strerror(ctypes.get_errno()))
        return 77
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
