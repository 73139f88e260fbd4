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

With --direct the requests go straight to the socket from this script
(the JSON line, the image's descriptor with SCM_RIGHTS, as `pvisor ctl`
sends them), so the figures are pvisor's and the guest's alone, without a
ctl process's start-up.

Several builds are compared by giving several --tree (a checkout with
build/pvisor and guest/build/t_scsi_hotplug); sessions alternate between
them, so load that comes and goes falls on all alike.

  bench/scsi_hotplug.py [-n CYCLES] [-s SESSIONS] [-b proc|kvm] [--direct]
                        [--tree DIR ...]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests/e2e"))
import ctl_send_fds  # noqa: E402  (the request on the socket, as the tests send it)
LUN = "0:0:0:1"


class Guest:
    """A pvisor run whose output lines are timestamped as they arrive."""

    def __init__(self, tree, be, sock, direct):
        self.pvisor = os.path.join(tree, "build/pvisor")
        self.sock = sock
        self.direct = direct
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
        """Runs `pvisor ctl SOCK ARGS...`; the time its reply came."""
        subprocess.run([self.pvisor, "ctl", self.sock] + list(args),
                       check=True, capture_output=True, timeout=60)
        return time.monotonic()

    def request(self, req, image=None):
        """req (a dict) with image's descriptor: through `pvisor ctl`, or
        with --direct on the socket; the time its reply came."""
        if not self.direct:
            if req["command"] == "scsi-add":
                return self.ctl("scsi-add", "%s,lun=%s" % (image, req["lun"]))
            return self.ctl(req["command"], *([req["device"]] if "device" in req else []))
        fds = [os.open(image, os.O_RDWR)] if image else []
        reply = ctl_send_fds.send(self.sock, json.dumps(req), fds)
        t = time.monotonic()
        if not json.loads(reply).get("ok"):
            raise RuntimeError("%s: %s" % (req["command"], reply))
        return t

    def stop(self):
        if self.p.poll() is None:
            subprocess.run([self.pvisor, "ctl", self.sock, "shutdown", "--force"],
                           capture_output=True, timeout=30)
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=20)


def session(tree, be, tmp, cycles, direct):
    """Times of each cycle: (add reply, LUN up, remove reply, LUN gone,
    ctl status), s."""
    sock = os.path.join(tmp, "api.sock")
    d0, d1 = os.path.join(tmp, "d0.img"), os.path.join(tmp, "d1.img")
    for img in (d0, d1):
        with open(img, "wb") as f:
            f.truncate(1 << 20)
    g = Guest(tree, be, sock, direct)
    out = []
    try:
        g.wait_line("SCSIPLUG waiting", 0)
        m = g.mark()
        g.ctl("scsi-add", d0)
        g.wait_line("LUN 0:0:0:0 wrote", m)
        for _ in range(cycles):
            m = g.mark()
            t0 = time.monotonic()
            t_reply = g.request({"command": "scsi-add", "path": d1, "lun": LUN}, d1)
            t_up = g.wait_line("LUN up " + LUN, m)
            g.wait_line("LUN %s wrote" % LUN, m)
            m = g.mark()
            t1 = time.monotonic()
            t_rreply = g.request({"command": "scsi-remove", "device": LUN})
            t_gone = g.wait_line("LUN gone " + LUN, m)
            t2 = time.monotonic()
            t_status = g.request({"command": "status"})
            out.append((t_reply - t0, t_up - t0, t_rreply - t1, t_gone - t1,
                        t_status - t2))
    finally:
        g.stop()
        if os.path.exists(sock):
            os.unlink(sock)
    return out


def spread(xs):
    """Median (quartiles) in ms: on a loaded host the times are bimodal."""
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return "%.1f (%.1f–%.1f) ms" % (statistics.median(xs) * 1e3, q[0] * 1e3, q[2] * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="add/remove cycles per session")
    ap.add_argument("-s", type=int, default=3, help="sessions per tree")
    ap.add_argument("-b", default="proc")
    ap.add_argument("--direct", action="store_true",
                    help="requests on the socket from here, no `pvisor ctl` process")
    ap.add_argument("--tree", action="append", help="a built checkout (default: this one)")
    a = ap.parse_args()
    trees = a.tree or [TOP]
    runs = {t: [] for t in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.s):
            for t in trees:
                runs[t] += session(t, a.b, tmp, a.n, a.direct)
    print("| build | scsi-add reply | guest \"LUN up\" | scsi-remove reply "
          "| guest \"LUN gone\" | floor: ctl status |")
    print("|---|---|---|---|---|---|")
    for t in trees:
        rev = subprocess.run(["git", "-C", t, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip() or t
        print("| %s | %s |" % (rev, " | ".join(spread([r[k] for r in runs[t]])
                                               for k in range(5))))
    print("(%s backend, %s; median (quartiles) of %d cycles per build, %d sessions "
          "of %d, interleaved)" % (a.b, "requests on the socket" if a.direct else "pvisor ctl",
                            a.n * a.s, a.s, a.n))


if __name__ == "__main__":
    sys.exit(main())
