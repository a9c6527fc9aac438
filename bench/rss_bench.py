#!/usr/bin/python3
"""The daemon's anonymous memory (RssAnon) with many clusters, once every
cluster's event ring is full, and whether it stays flat over a long run of
refreshes (issue 16).

Starts on 127.0.0.1, in a temporary directory: the EC2 emulator with
CLUSTERS clusters of INSTANCES instances each (admin, engage, db, nfs and
workers, 4 of them running), the Opencast emulator linked to it (running
Opencast instances register as hosts; each cluster has an Opencast of its
own under /t/NAME/), and ec2-managerd managing every
cluster with short intervals, so that an hour holds many more refreshes and
autoscale evaluations than production would (refresh every 5 s, an
evaluation every second: each records a decision in the cluster's ring).
A queued heavy job comes and goes every TOGGLE seconds (dispatch is off,
so it stays queued), so that consecutive decisions differ ("no change"
and "... but max_workers 4 is reached") and the rings fill with distinct
entries rather than one folded run of repeats.

Phase 1 waits until every ring is full (the newest event's sequence number
reaches the ring's capacity, read through the real ec2ctl).  Phase 2
samples /proc/PID/status every SAMPLE seconds for DURATION seconds and
prints each sample, then the median RssAnon after the rings filled, and the
medians of the first and the last tenth of phase 2 (their difference is
the drift: flat means within a few per cent).

  bench/rss_bench.py [--build DIR] [--clusters 50] [--instances 20]
                     [--duration 3600] [--sample 30] [--target-mib 6]

Exit status 0 when the median is within the target and the drift within
5 % (and 256 KiB), 1 otherwise.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

AK, SK = "AKIDBENCH00000000001", "bench/secret/key/not/real/000000000001"
OC_USER, OC_PASSWORD = "opencast_system_account", "bench-password"
RUNNING = 4


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile", "VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])          # KiB
    return out


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="ec2m-rss-")
        self.procs = []
        self.daemon = None
        self.names = ["c%02d" % i for i in range(a.clusters)]

    def start(self):
        a = self.a
        seed = {"region": "eu-west-1",
                "credentials": [{"access_key_id": AK,
                                 "secret_access_key": SK,
                                 "session_token": None}],
                "clusters": [{"prefix": n, "admin": 1, "engage": 1, "db": 1,
                              "nfs": 1, "workers": a.instances - 4,
                              "workers_running": RUNNING}
                             for n in self.names],
                "delays": {"pending": 1, "stopping": 1}}
        path = os.path.join(self.tmp, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        self.ec2 = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ec2sim.py"),
             "--seed", path], log_path=os.path.join(self.tmp, "ec2sim.log"))
        self.procs.append(self.ec2)
        self.oc = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ocsim.py"),
             "--user", OC_USER, "--password", OC_PASSWORD,
             "--ec2-sim", self.ec2.url],
            log_path=os.path.join(self.tmp, "ocsim.log"))
        self.procs.append(self.oc)
        self.sock = os.path.join(self.tmp, "ctl.sock")
        conf = os.path.join(self.tmp, "ec2-manager.conf")
        lines = ["[daemon]", "socket = " + self.sock,
                 "state_dir = " + self.tmp, "log_level = warning",
                 "[aws]", "region = eu-west-1", "endpoint = " + self.ec2.url,
                 "[defaults]",
                 "min_workers = %d" % RUNNING, "max_workers = %d" % RUNNING,
                 "autoscale = on",
                 "autoscale_interval = %s" % a.autoscale_interval,
                 "refresh_interval = 5s", "cooldown = 0"]
        # One Opencast per cluster, as in production: the emulator serves
        # each cluster's own hosts under /t/NAME/.
        for n in self.names:
            lines += ["[cluster %s]" % n,
                      "admin_url = %s/t/%s" % (self.oc.url, n)]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK,
                    "OPENCAST_USER": OC_USER,
                    "OPENCAST_PASSWORD": OC_PASSWORD}
        self.log = open(os.path.join(self.tmp, "daemon.log"), "wb")
        self.daemon = subprocess.Popen(
            a.wrap.split() +
            [os.path.join(a.build, "daemon", "ec2-managerd"), "-c", conf],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.last_seq(self.names[0]) is None:
            if time.monotonic() > deadline or self.daemon.poll() is not None:
                raise SystemExit("ec2-managerd did not come up; see %s"
                                 % self.log.name)
            time.sleep(0.2)

    def last_seq(self, cluster):
        p = subprocess.run([os.path.join(self.a.build, "ctl", "ec2ctl"),
                            "--socket", self.sock, "-j", cluster, "events",
                            "-n", "1"], capture_output=True, text=True,
                           env=self.env)
        if p.returncode != 0:
            return None
        seq = 0
        for line in p.stdout.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            doc = doc.get("result", doc)
            for e in doc.get("events", []):
                seq = max(seq, e.get("seq", 0))
        return seq

    def fill(self, capacity, timeout):
        t0 = time.monotonic()
        left = list(self.names)
        while left:
            left = [n for n in left if (self.last_seq(n) or 0) < capacity]
            if time.monotonic() - t0 > timeout:
                raise SystemExit("rings not full after %ds: %d clusters "
                                 "left" % (timeout, len(left)))
            if left:
                print("fill: %4.0fs, %d of %d rings not full yet" % (
                    time.monotonic() - t0, len(left), len(self.names)),
                    flush=True)
                time.sleep(10)
        return time.monotonic() - t0

    def toggle_jobs(self, every, stop):
        """A queued heavy job appears, then goes, every `every` seconds."""
        self.oc.ctl("POST", "settings", {"dispatch": False})
        queued = False
        while not stop.wait(every):
            try:
                if queued:
                    self.oc.ctl("DELETE", "jobs")
                else:
                    self.oc.ctl("POST", "jobs", {
                        "type": "org.opencastproject.composer"})
                queued = not queued
            except OSError:
                pass

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        for p in self.procs:
            p.stop()
        if self.daemon:
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get(
        "EC2M_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--clusters", type=int, default=50)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--sample", type=float, default=30)
    ap.add_argument("--capacity", type=int, default=500,
                    help="events per ring (EVENTS_DEFAULT_CAPACITY)")
    ap.add_argument("--target-mib", type=float, default=6)
    ap.add_argument("--toggle", type=float, default=2.5,
                    help="seconds between a queued job's coming and going")
    ap.add_argument("--autoscale-interval", default="1s",
                    help="how often each cluster records a decision")
    ap.add_argument("--wrap", default="",
                    help="a command to run the daemon under, e.g. "
                    "heaptrack (for finding where memory goes; the figures "
                    "are then the wrapper's)")
    a = ap.parse_args()
    print("machine: %s, %d CPUs, %s; build %s" % (
        platform.node(), os.cpu_count(), platform.platform(), a.build),
        flush=True)
    b = Bench(a)
    stop = threading.Event()
    try:
        b.start()
        print("started: %d clusters x %d instances, daemon pid %d" % (
            a.clusters, a.instances, b.daemon.pid), flush=True)
        toggler = threading.Thread(target=b.toggle_jobs,
                                   args=(a.toggle, stop), daemon=True)
        toggler.start()
        took = b.fill(a.capacity, timeout=3 * a.capacity + 600)
        print("fill: every ring full after %.0f s; RssAnon %d KiB" % (
            took, proc_status(b.daemon.pid)["RssAnon"]), flush=True)
        samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < a.duration:
            s = proc_status(b.daemon.pid)
            samples.append(s["RssAnon"])
            print("t=%6.0fs RssAnon %6d KiB  RssFile %6d KiB  VmRSS %6d "
                  "KiB  VmHWM %6d KiB" % (time.monotonic() - t0,
                                          s["RssAnon"], s["RssFile"],
                                          s["VmRSS"], s["VmHWM"]),
                  flush=True)
            if b.daemon.poll() is not None:
                raise SystemExit("ec2-managerd exited")
            time.sleep(a.sample)
    finally:
        stop.set()
        b.stop()
    tenth = max(1, len(samples) // 10)
    med = statistics.median(samples)
    first = statistics.median(samples[:tenth])
    last = statistics.median(samples[-tenth:])
    drift = last - first
    ok_size = med <= a.target_mib * 1024
    ok_flat = abs(drift) <= max(0.05 * first, 256)
    print("RssAnon after the rings filled, %d samples over %.0f s: median "
          "%.2f MiB (target <= %.1f MiB: %s)" % (
              len(samples), a.duration, med / 1024, a.target_mib,
              "met" if ok_size else "MISSED"))
    print("drift: first tenth median %.2f MiB, last tenth %.2f MiB, "
          "%+d KiB (%s)" % (first / 1024, last / 1024, drift,
                            "flat" if ok_flat else "GROWING"))
    sys.exit(0 if ok_size and ok_flat else 1)


if __name__ == "__main__":
    main()
