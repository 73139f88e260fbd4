#!/usr/bin/env python3
"""Sends one control-API request line with descriptors (SCM_RIGHTS) and
prints the reply line: what `pvisor ctl disk-add` does, but with any
descriptor, so that tests/e2e/t_hotplug.sh can hand pvisor the wrong ones.

usage: ctl_send_fds.py SOCKET LINE [SPEC...]
SPEC: PATH (opened read-write), PATH:ro (read-only), pipe, lockedby:PATH
(a read-write descriptor on PATH while this process holds an OFD write
lock on another open of it); a directory PATH is opened read-only."""
import fcntl
import os
import socket
import struct
import sys

F_OFD_SETLK = 37


def ofd_lock(fd):
    fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))


def open_spec(spec, keep):
    if spec == "pipe":
        r, w = os.pipe()
        keep.append(w)
        return r
    if spec.startswith("lockedby:"):
        path = spec[len("lockedby:"):]
        holder = os.open(path, os.O_RDWR)
        ofd_lock(holder)
        keep.append(holder)
        return os.open(path, os.O_RDWR)
    if spec.endswith(":ro"):
        return os.open(spec[:-3], os.O_RDONLY)
    if os.path.isdir(spec):
        return os.open(spec, os.O_RDONLY)  # a directory opens read-only only
    return os.open(spec, os.O_RDWR)


def send(path, line, fds):
    """Sends line with fds (closed here) on the control socket at path;
    returns the reply line.  bench/scsi_hotplug.py --direct uses it too."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [(line + "\n").encode()], fds)
        for fd in fds:
            os.close(fd)
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf.decode().split("\n")[0]


def main():
    path, line, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    keep = []
    fds = [open_spec(s, keep) for s in specs]
    print(send(path, line, fds))


if __name__ == "__main__":
    main()
