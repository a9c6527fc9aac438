#!/usr/bin/python3
"""Opencast round trips per request over a long run (issue 16): the share
of Opencast's answers to the daemon that were 401 challenges.

The daemon reads one cluster ("bench": admin, engage, db, nfs and six
workers, two running) from the EC2 and Opencast emulators on 127.0.0.1,
refreshing every second, while workers are started and stopped with
`ec2ctl bench scale up|down` every few seconds (the Opencast waits and the
maintenance calls of operations).  The Opencast emulator demands digest
auth as Opencast does and lets its nonces expire after Opencast's 300 s
(--nonce-validity), so the run sees stale nonces too.  Every request the emulator answered after the
daemon first read Opencast is counted, by path and status; the reference
is one round trip per request (no 401).  Target: under 2 % 401 answers.

  meson setup build-rel -Dbuildtype=release && ninja -C build-rel
  bench/opencast_bench.py --build build-rel [--duration 600]
                          [--scale-every 4] [--nonce-validity 300]

Everything it starts is stopped at the end.  Exit status 0 whether or not
the target is met (the figures say); 1 when the set-up failed.
"""
import argparse
import collections
import json
import os
import subprocess
import time

import benchlib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(benchlib.ROOT, "build"))
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--scale-every", type=float, default=4)
    ap.add_argument("--nonce-validity", type=float, default=300)
    a = ap.parse_args()
    with benchlib.Bench(a.build, {"admin": 1, "engage": 1, "db": 1,
                                  "nfs": 1, "workers": 6,
                                  "workers_running": 2},
                        delays={"pending": 1, "stopping": 1},
                        oc_settings={"registration_delay_s": 0,
                                     "nonce_validity_s": a.nonce_validity}
                        ) as b:
        run(a, b)


def run(a, b):
    b.start_daemon(["refresh_interval = 1s", "min_workers = 0",
                    "max_workers = 6"])
    ctl = b.ctl + ["-j", "bench"]

    def reachable():
        p = subprocess.run(ctl + ["status"], capture_output=True, text=True,
                           env=b.env)
        if p.returncode != 0:
            return False
        st = json.loads(p.stdout.splitlines()[-1])
        return st.get("result", st)["opencast"]["reachable"]

    deadline = time.monotonic() + 60
    while not reachable():
        if time.monotonic() > deadline or b.daemon.poll() is not None:
            raise SystemExit("ec2-managerd did not read Opencast")
        time.sleep(0.2)
    counts = collections.Counter()

    def collect():
        reqs = b.oc.ctl("GET", "requests")
        b.oc.ctl("POST", "requests/reset")
        for r in reqs:
            counts[(r["path"].split("?")[0], r["status"])] += 1

    collect()   # from the daemon's first read on
    counts.clear()
    ops = collections.Counter()
    t0 = time.monotonic()
    up = True
    while time.monotonic() - t0 < a.duration:
        p = subprocess.run(ctl + ["scale", "up" if up else "down"],
                           capture_output=True, text=True, env=b.env)
        ops[("scale up" if up else "scale down", p.returncode)] += 1
        up = not up
        collect()
        # The next operation on the next multiple of --scale-every.
        time.sleep(max(0.0, a.scale_every -
                       (time.monotonic() - t0) % a.scale_every))
    collect()
    elapsed = time.monotonic() - t0
    total = sum(counts.values())
    challenges = sum(n for (_, status), n in counts.items() if status == 401)
    print("run: %.0f s, refresh every 1 s, nonce validity %.0f s; "
          "operations: %s" % (elapsed, a.nonce_validity, ", ".join(
              "%s exit %d x%d" % (k[0], k[1], n)
              for k, n in sorted(ops.items()))))
    for (path, status), n in sorted(counts.items()):
        print("   %-32s %3d  %6d" % (path, status, n))
    share = challenges / total if total else 1.0
    print("Opencast requests %d, 401 answers %d: %.2f %% (reference: one "
          "round trip a request, 0 %%; target < 2 %%): %s" % (
              total, challenges, share * 100,
              "meets the target" if share < 0.02 else "MISSES the target"))


if __name__ == "__main__":
    main()
