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
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

AK, SK = "AKIDBENCH0000000003", "bench/secret/key/not/real/000000000003"
OC_USER, OC_PASSWORD = "u", "p"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--scale-every", type=float, default=4)
    ap.add_argument("--nonce-validity", type=float, default=300)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="ec2m-ocbench-")
    seed = {"region": "eu-west-1",
            "credentials": [{"access_key_id": AK, "secret_access_key": SK,
                             "session_token": None}],
            "clusters": [{"prefix": "bench", "admin": 1, "engage": 1,
                          "db": 1, "nfs": 1, "workers": 6,
                          "workers_running": 2}],
            "delays": {"pending": 1, "stopping": 1}}
    with open(os.path.join(tmp, "seed.json"), "w") as f:
        json.dump(seed, f)
    procs, daemon = [], None
    try:
        ec2 = harness.SimProcess([harness.PYTHON, os.path.join(
            harness.SIM_DIR, "ec2sim.py"), "--seed",
            os.path.join(tmp, "seed.json")])
        procs.append(ec2)
        oc = harness.SimProcess([harness.PYTHON, os.path.join(
            harness.SIM_DIR, "ocsim.py"), "--user", OC_USER, "--password",
            OC_PASSWORD, "--ec2-sim", ec2.url])
        procs.append(oc)
        oc.ctl("POST", "settings", {"registration_delay_s": 0,
                                    "nonce_validity_s": a.nonce_validity})
        sock = os.path.join(tmp, "ctl.sock")
        conf = os.path.join(tmp, "ec2m.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\nstate_dir = %s\n"
                    "log_level = warning\n[aws]\nregion = eu-west-1\n"
                    "endpoint = %s\n[defaults]\nadmin_url = %s\n"
                    "refresh_interval = 1s\nmin_workers = 0\n"
                    "max_workers = 6\n[cluster bench]\n"
                    % (sock, tmp, ec2.url, oc.url))
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp,
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK,
               "OPENCAST_USER": OC_USER, "OPENCAST_PASSWORD": OC_PASSWORD}
        daemon = subprocess.Popen([os.path.join(build, "daemon",
                                                "ec2-managerd"), "-c", conf],
                                  env=env, stderr=subprocess.DEVNULL)
        ctl = [os.path.join(build, "ctl", "ec2ctl"), "--socket", sock, "-j",
               "bench"]

        def reachable():
            p = subprocess.run(ctl + ["status"], capture_output=True,
                               text=True, env=env)
            if p.returncode != 0:
                return False
            st = json.loads(p.stdout.splitlines()[-1])
            return st.get("result", st)["opencast"]["reachable"]

        deadline = time.monotonic() + 60
        while not reachable():
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit("ec2-managerd did not read Opencast")
            time.sleep(0.2)
        counts = collections.Counter()

        def collect():
            reqs = oc.ctl("GET", "requests")
            oc.ctl("POST", "requests/reset")
            for r in reqs:
                counts[(r["path"].split("?")[0], r["status"])] += 1

        collect()   # from the daemon's first read on
        counts.clear()
        ops = collections.Counter()
        t0 = time.monotonic()
        up = True
        while time.monotonic() - t0 < a.duration:
            p = subprocess.run(ctl + ["scale", "up" if up else "down"],
                               capture_output=True, text=True, env=env)
            ops[("scale up" if up else "scale down", p.returncode)] += 1
            up = not up
            collect()
            time.sleep(max(0.0, a.scale_every -
                           (time.monotonic() - t0) % a.scale_every))
        collect()
        elapsed = time.monotonic() - t0
        total = sum(counts.values())
        challenges = sum(n for (_, status), n in counts.items()
                         if status == 401)
        print("run: %.0f s, refresh every 1 s, nonce validity %.0f s; "
              "operations: %s" % (elapsed, a.nonce_validity, ", ".join(
                  "%s exit %d x%d" % (k[0], k[1], n)
                  for k, n in sorted(ops.items()))))
        for (path, status), n in sorted(counts.items()):
            print("   %-32s %3d  %6d" % (path, status, n))
        share = challenges / total if total else 1.0
        print("Opencast requests %d, 401 answers %d: %.2f %% (reference: "
              "one round trip a request, 0 %%; target < 2 %%): %s" % (
                  total, challenges, share * 100,
                  "meets the target" if share < 0.02 else
                  "MISSES the target"))
        daemon.terminate()
        daemon.wait(20)
    finally:
        for p in procs:
            p.stop()
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
