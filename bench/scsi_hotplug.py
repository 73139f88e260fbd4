#!/usr/bin/env python3
"""bench/scsi_hotplug.py — SCSI LUN hot-plug latency through the control API
(docs/benchmarks.md, "SCSI LUN hot-plug").  Boots the guest kit's
t_scsi_hotplug with --api, adds a first LUN (0:0:0:0: it creates the vscsi
host and comes with the first connection, not timed), then per cycle:

  add      `pvisor ctl S scsi-add IMG,lun=0:0:0:1`: wall time to its reply
           (the LUN is Connected: the guest's whole Reconfiguring round), and
           to the guest's "LUN up 0:0:0:1" line
  remove   `pvisor ctl S scsi-remove 0:0:0:1`: to its reply (Closed, nodes
           gone) and to the guest's "LUN gone 0:0:0:1" line

Between cycles it waits for the guest's probe of the LUN ("... wrote") so
no command is in flight.  Times start just before the ctl process is
spawned, so they include its start-up; the floor column is a `ctl status`
round trip on the same VM, timed in each cycle (the same for every build).

Several builds are compared by giving several --tree (a checkout with
build/pvisor and guest/build/t_scsi_hotplug); sessions alternate between
them, so load that comes and goes falls on all alike.

  bench/scsi_hotplug.py [-n CYCLES] [-s SESSIONS] [-b proc|kvm] [--tree DIR ...]
"""
import argparse, os, statistics, subprocess, sys, tempfile, threading, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUN = "0:0:0:1"


class Guest:
    """A pvisor run whose output lines are timestamped as they arrive."""

    def __init__(self, tree, be, sock):
        self.pvisor = os.path.join(tree, "build/pvisor")
        self.sock = sock
        self.lines = []
        self.cv = threading.Condition()
        self.p = subprocess.Popen(
            [self.pvisor, "run", "--backend", be, "--no-raw", "--api", sock,
             os.path.join(tree, "guest/build/t_scsi_hotplug")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append((time.monotonic(), line))
                self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.lines)

    def wait_line(self, prefix, since, timeout=20):
        """Arrival time of the first line from index since starting with prefix."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for t, line in self.lines[since:]:
                    if line.startswith(prefix):
                        return t
                if not self.cv.wait(end - time.monotonic()):
                    raise RuntimeError("no '%s' line; last: %s" % (
                        prefix, "".join(l for _, l in self.lines[-5:])))

    def ctl(self, *args):
        subprocess.run([self.pvisor, "ctl", self.sock] + list(args),
                       check=True, capture_output=True, timeout=60)
        return time.monotonic()

    def stop(self):
        if self.p.poll() is None:
            subprocess.run([self.pvisor, "ctl", self.sock, "shutdown", "--force"],
                           capture_output=True, timeout=30)
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=20)


def session(tree, be, tmp, cycles):
    """Times of each cycle: (add reply, LUN up, remove reply, LUN gone,
    ctl status), s."""
    sock = os.path.join(tmp, "api.sock")
    d0, d1 = os.path.join(tmp, "d0.img"), os.path.join(tmp, "d1.img")
    for img in (d0, d1):
        with open(img, "wb") as f:
            f.truncate(1 << 20)
    g = Guest(tree, be, sock)
    out = []
    try:
        g.wait_line("SCSIPLUG waiting", 0)
        m = g.mark()
        g.ctl("scsi-add", d0)
        g.wait_line("LUN 0:0:0:0 wrote", m)
        for _ in range(cycles):
            m = g.mark()
            t0 = time.monotonic()
            t_reply = g.ctl("scsi-add", "%s,lun=%s" % (d1, LUN))
            t_up = g.wait_line("LUN up " + LUN, m)
            g.wait_line("LUN %s wrote" % LUN, m)
            m = g.mark()
            t1 = time.monotonic()
            t_rreply = g.ctl("scsi-remove", LUN)
            t_gone = g.wait_line("LUN gone " + LUN, m)
            t2 = time.monotonic()
            t_status = g.ctl("status")
            out.append((t_reply - t0, t_up - t0, t_rreply - t1, t_gone - t1,
                        t_status - t2))
    finally:
        g.stop()
        if os.path.exists(sock):
            os.unlink(sock)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="add/remove cycles per session")
    ap.add_argument("-s", type=int, default=3, help="sessions per tree")
    ap.add_argument("-b", default="proc")
    ap.add_argument("--tree", action="append", help="a built checkout (default: this one)")
    a = ap.parse_args()
    trees = a.tree or [TOP]
    runs = {t: [] for t in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.s):
            for t in trees:
                runs[t] += session(t, a.b, tmp, a.n)
    print("| build | scsi-add reply | guest \"LUN up\" | scsi-remove reply "
          "| guest \"LUN gone\" | floor: ctl status |")
    print("|---|---|---|---|---|---|")
    for t in trees:
        med = [statistics.median(r[k] for r in runs[t]) * 1e3 for k in range(5)]
        rev = subprocess.run(["git", "-C", t, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip() or t
        print("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |" % (rev, *med))
    print("(%s backend; medians of %d cycles per build, %d sessions of %d, interleaved)"
          % (a.b, a.n * a.s, a.s, a.n))


if __name__ == "__main__":
    sys.exit(main())
