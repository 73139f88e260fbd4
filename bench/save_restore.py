#!/usr/bin/env python3
"""bench/save_restore.py — save and restore of a 64 MiB guest-kit guest
(pvsh printing a tick every 50 ms) against a cold boot of the same guest
(docs/benchmarks.md, "Save and restore").  Per run:

  cold boot   `pvisor run pvsh -- "ticks ..."` to its first tick line
  save        `pvisor ctl PATH save FILE` wall time (the guest takes the
              control/shutdown watch, suspends, the file is written) and
              pvisor's own writing time (the reply's save_seconds)
  restore     `pvisor restore FILE` to the guest's first output after it
              resumes ("kit: ... resumed in a new domain")
  RSS         pvisor's and the guest process's VmRSS 0.3 s after that

  bench/save_restore.py [-n RUNS] [-b proc|kvm]
  (PVISOR=... and PVSH=... run other builds of pvisor and of the guest)
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PVISOR = os.environ.get("PVISOR", os.path.join(TOP, "build/pvisor"))
PVSH = os.environ.get("PVSH", os.path.join(TOP, "guest/build/pvsh"))


def first_line(proc, prefix, t0):
    """Seconds from t0 until proc prints a line starting with prefix."""
    for line in proc.stdout:
        if line.startswith(prefix):
            return time.monotonic() - t0
    raise RuntimeError("no '%s' line" % prefix)


def rss_kib(pid):
    total = 0
    for p in [pid] + children(pid):
        with open("/proc/%d/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def children(pid):
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def start(args):
    return subprocess.Popen([PVISOR] + args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def stop(p):
    """Ends a pvisor this script started, whatever happened to it."""
    if p and p.poll() is None:
        p.kill()
        p.wait(timeout=20)


def one(be, tmp, i):
    sock, snap = "%s/api%d.sock" % (tmp, i), "%s/snap%d.pvs" % (tmp, i)
    p = q = None
    try:
        t0 = time.monotonic()
        p = start(["run", "--backend", be, "--no-raw", "-q", "--api", sock, PVSH,
                   "--", "ticks 100000 50"])
        boot = first_line(p, "tick 0", t0)
        first_line(p, "tick 5", t0)
        t1 = time.monotonic()
        r = subprocess.run([PVISOR, "ctl", sock, "save", snap], capture_output=True,
                           text=True, check=True)
        save_wall = time.monotonic() - t1
        save_own = json.loads(r.stdout)["save_seconds"]
        p.wait(timeout=20)
        t2 = time.monotonic()
        q = start(["restore", "--backend", be, "--no-raw", "-q", snap])
        restore = first_line(q, "kit: control/shutdown: suspend: resumed", t2)
        time.sleep(0.3)
        rss = rss_kib(q.pid)
        q.terminate()
        q.wait(timeout=20)
        size = os.path.getsize(snap)
        os.unlink(snap)
        return boot, save_wall, save_own, restore, rss, size
    finally:
        stop(p)
        stop(q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("-b", default="proc")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one(a.b, tmp, i) for i in range(a.n)]
    med = lambda k: statistics.median(r[k] for r in runs)
    print("| backend | cold boot to first tick | save (ctl wall) | save (writing) | restore to first output | RSS after restore (pvisor + guest) | file |")
    print("|---|---|---|---|---|---|---|")
    print("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f MiB of 64 | %d KiB |" % (
        a.b, med(0) * 1e3, med(1) * 1e3, med(2) * 1e3, med(3) * 1e3,
        med(4) / 1024, med(5) // 1024))
    print("(median of %d runs)" % a.n)


if __name__ == "__main__":
    sys.exit(main())
