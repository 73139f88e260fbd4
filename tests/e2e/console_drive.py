#!/usr/bin/env python3
"""Drives a guest through pvisor's console on a pseudo-terminal, the way a
user at a terminal would: waits for a prompt, types commands, checks what
comes back.  Usage: console_drive.py SCRIPT -- PVISOR ARGS...

SCRIPT lines:  expect REGEX  |  send TEXT (\\r appended)  |  sendraw HEXBYTES
               |  exit CODE  (pvisor's expected exit status)
Prints one TAP-style line per step to stdout; exit status 0 if all passed.
"""
import os
import pty
import re
import select
import sys
import time


def main():
    sep = sys.argv.index("--")
    script = open(sys.argv[1]).read().splitlines()
    argv = sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    buf = b""
    failures = 0

    def read_until(pattern, timeout):
        nonlocal buf
        deadline = time.time() + timeout
        rx = re.compile(pattern.encode())
        while True:
            m = rx.search(buf)
            if m:
                buf = buf[m.end():]
                return True
            left = deadline - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    return bool(rx.search(buf))
                sys.stderr.write(data.decode(errors="replace"))
                buf += data

    for line in script:
        if not line.strip() or line.startswith("#"):
            continue
        verb, _, arg = line.partition(" ")
        if verb == "expect":
            good = read_until(arg, 20)
            print(("ok" if good else "not ok") + " - console shows /%s/" % arg)
            failures += not good
        elif verb == "send":
            os.write(fd, arg.encode() + b"\r")
        elif verb == "sendraw":
            os.write(fd, bytes.fromhex(arg))
        elif verb == "exit":
            deadline = time.time() + 20
            status = None
            while time.time() < deadline:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(st)
                    break
                read_until("$^", 0.1)
            good = status == int(arg)
            print(("ok" if good else "not ok") +
                  " - pvisor exits with %s (got %s)" % (arg, status))
            failures += not good
            if status is None:
                os.kill(pid, 9)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
