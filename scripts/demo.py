#!/usr/bin/python3
"""A live demonstration of ec2-manager on a simulated cluster.

Starts, all on 127.0.0.1 and in a temporary directory:
  - the EC2 emulator with cluster "demo": demo-admin, demo-engage, demo-db,
    demo-nfs and 8 workers, 2 of them running;
  - the Opencast emulator, linked to it: running Opencast instances register
    as hosts (max_load 4; a composer job weighs 1.5);
  - ec2-managerd with a demo configuration: short intervals, per-second
    billing with a short min_uptime, max_queued_jobs 2;
then drives a workload: a burst of heavy jobs, then quiet.  The cluster is
shown live through `ec2ctl demo status`, with the history of autoscale
decisions and operations and their reasons.  It ends after --minutes
(default 4) or on Ctrl-C, prints a summary and the decision history, and
stops every process it started -- or, with --keep, leaves the simulated
cluster running and prints how to reach it with ec2ctl.

  scripts/demo [--minutes N] [--plain] [--keep]
"""
import argparse
import json
import urllib.error
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

BUILD = os.environ.get("EC2M_BUILD_DIR", os.path.join(ROOT, "build-demo"))
AK, SK = "AKIDDEMO000000000001", "demo/secret/key/not/real/0000000000001"
OC_USER, OC_PASSWORD = "opencast_system_account", "demo-password"
COMPOSER = "org.opencastproject.composer"
# What a failed read of the daemon or an emulator can raise while the demo
# shows or sums up: the summary is printed from whatever could be read.
READ_ERRORS = (OSError, ValueError, KeyError, TypeError,
               urllib.error.URLError, subprocess.SubprocessError)


def known(value):
    """A status number, or "?" while the daemon has not read it yet."""
    return "?" if value is None else str(value)


class History:
    """The decisions and operations seen so far, oldest first.  A run of
    identical messages (the autoscaler saying "none: ... min_workers 2 is
    reached" at every tick) is one entry with a count, so that the scale
    decisions stay in view."""

    def __init__(self):
        self.entries = []   # [first time, last time, message, count, key]

    @staticmethod
    def key(msg):
        """Decisions to do nothing that differ only in their numbers ("in
        cooldown: 5 s left", "... 1 s left") fold into one entry too."""
        return re.sub(r"\d+", "#", msg) if "autoscale: none:" in msg else msg

    def add(self, ts, msg):
        k = self.key(msg)
        if self.entries and self.entries[-1][4] == k:
            self.entries[-1][1:4] = [ts, msg, self.entries[-1][3] + 1]
        else:
            self.entries.append([ts, ts, msg, 1, k])

    def lines(self, last=None):
        out = []
        for first, latest, msg, n, _ in self.entries[-last if last else 0:]:
            more = " (x%d, until %s)" % (n, latest) if n > 1 else ""
            out.append("%s %s%s" % (first, msg, more))
        return out


class Demo:
    def __init__(self, minutes, plain):
        self.minutes = minutes
        self.plain = plain or not sys.stdout.isatty()
        self.tmp = tempfile.mkdtemp(prefix="ec2m-demo-")
        self.procs = []
        self.daemon = None
        self.seen = set()
        self.peak = 0
        self.history = History()
        self.rng = random.Random(4711)

    # Set-up -------------------------------------------------------------

    def start(self):
        seed = {"region": "eu-west-1",
                "credentials": [{"access_key_id": AK,
                                 "secret_access_key": SK,
                                 "session_token": None}],
                "clusters": [{"prefix": "demo", "admin": 1, "engage": 1,
                              "db": 1, "nfs": 1, "workers": 8,
                              "workers_running": 2}],
                "delays": {"pending": 3, "stopping": 3}}
        path = os.path.join(self.tmp, "ec2-seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        self.ec2 = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ec2sim.py"),
             "--seed", path],
            log_path=os.path.join(self.tmp, "ec2sim.log"), new_session=True)
        self.procs.append(self.ec2)
        self.oc = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ocsim.py"),
             "--user", OC_USER, "--password", OC_PASSWORD,
             "--ec2-sim", self.ec2.url, "--dispatch-interval", "0.5"],
            log_path=os.path.join(self.tmp, "ocsim.log"), new_session=True)
        self.procs.append(self.oc)
        self.oc.ctl("POST", "settings", {"registration_delay_s": 2})
        self.sock = os.path.join(self.tmp, "ctl.sock")
        conf = os.path.join(self.tmp, "ec2-manager.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "[daemon]", "socket = " + self.sock,
                "state_dir = " + self.tmp, "log_level = info",
                "[aws]", "region = eu-west-1", "endpoint = " + self.ec2.url,
                "[defaults]", "admin_url = " + self.oc.url,
                "min_workers = 2", "max_workers = 8",
                "max_queued_jobs = 2", "scale_up_step = 2",
                "scale_down_step = 1", "billing = per-second",
                "min_uptime = 20s", "cooldown = 10s",
                "autoscale = on", "autoscale_interval = 5s", "refresh_interval = 5s",
                "wait_interval = 1s", "wait_retries = 30",
                "[cluster demo]", ""]))
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp,
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK,
               "OPENCAST_USER": OC_USER, "OPENCAST_PASSWORD": OC_PASSWORD}
        self.env = env
        self.daemon_log = open(os.path.join(self.tmp, "daemon.log"), "wb")
        self.daemon = subprocess.Popen(
            [os.path.join(BUILD, "daemon", "ec2-managerd"), "-c", conf],
            env=env, stdout=self.daemon_log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 20
        while not self.ctl_json("status"):
            if time.monotonic() > deadline or self.daemon.poll() is not None:
                raise SystemExit("ec2-managerd did not come up; see "
                                 + self.daemon_log.name)
            time.sleep(0.1)
        print("demo: started ec2sim pid %d, ocsim pid %d, ec2-managerd pid "
              "%d in %s" % (self.ec2.proc.pid, self.oc.proc.pid,
                            self.daemon.pid, self.tmp), flush=True)

    # Talking to the daemon through the real ec2ctl ----------------------

    def ctl(self, *args):
        return subprocess.run([os.path.join(BUILD, "ctl", "ec2ctl"),
                               "--socket", self.sock, *args],
                              capture_output=True, text=True, env=self.env)

    def ctl_json(self, cmd, *args):
        p = self.ctl("-j", "demo", cmd, *args)
        if p.returncode != 0:
            return None
        lines = [json.loads(l) for l in p.stdout.splitlines() if l]
        return lines[-1]["result"] if lines else None

    # The workload ---------------------------------------------------------

    def submit(self, n):
        for _ in range(n):
            self.oc.ctl("POST", "jobs", {
                "type": COMPOSER, "load": 1.5, "operation": "encode",
                "duration_s": self.rng.randint(8, 16)})

    # Showing it -------------------------------------------------------------

    def new_events(self):
        """Adds the decisions and operations not seen yet to the history
        and returns them as lines."""
        ev = self.ctl_json("events", "-n", "500") or {"events": []}
        out = []
        for e in ev["events"]:
            if e["seq"] in self.seen or e["kind"] not in ("decision",
                                                          "operation"):
                continue
            self.seen.add(e["seq"])
            self.history.add(e["ts"][11:19], e["msg"])
            out.append("%s %s" % (e["ts"][11:19], e["msg"]))
        return out

    def show(self, elapsed, phase, lines):
        st = self.ctl_json("status") or {}
        online = st.get("workers_online") or 0
        self.peak = max(self.peak, online)
        head = ("demo: %3ds of %ds, %s; workers online %d of %s, jobs "
                "queued %s, running %s" % (
                    elapsed, self.minutes * 60, phase, online,
                    known(st.get("workers")), known(st.get("queued_jobs")),
                    known(st.get("running_jobs"))))
        if self.plain:
            print(head, flush=True)
            for l in lines:
                print("  " + l, flush=True)
            return
        table = self.ctl("demo", "status", "-f", "table").stdout
        sys.stdout.write("\x1b[H\x1b[2J" + head + "\n\n" + table + "\n")
        recent = self.history.lines(last=10) or ["(none yet)"]
        sys.stdout.write("Decisions and operations (repeats folded):\n  " +
                         "\n  ".join(recent) + "\n")
        sys.stdout.flush()

    # Running ----------------------------------------------------------------

    def run(self):
        total = self.minutes * 60
        burst_end = total * 0.3
        burst = max(16, int(12 * self.minutes))
        per_second = burst / max(burst_end, 1)
        t0 = time.monotonic()
        submitted = 0.0
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= total:
                break
            if elapsed < burst_end:
                due = int(per_second * elapsed + 4) - int(submitted)
                if due > 0:
                    self.submit(due)
                    submitted += due
                phase = "burst of heavy jobs"
            else:
                phase = "quiet"
            self.show(int(elapsed), phase, self.new_events())
            time.sleep(2)

    def summary(self):
        """Prints the summary and the decision history from whatever the
        daemon and the Opencast emulator still answer."""
        ups = downs = 0
        try:
            self.new_events()
            ev = self.ctl_json("events", "-n", "500") or {"events": []}
            for e in ev["events"]:
                if e["kind"] == "operation" and "succeeded" in e["msg"]:
                    if e["msg"].startswith("scale up"):
                        ups += 1
                    elif e["msg"].startswith("scale down"):
                        downs += 1
        except READ_ERRORS as e:
            print("demo: could not read the events: %s" % e, flush=True)
        jobs, waits = None, []
        try:
            jobs = self.oc.ctl("GET", "state")["jobs"]
            waits = [j["started"] - j["created"] for j in jobs
                     if j.get("started") and j.get("created")]
        except READ_ERRORS as e:
            print("demo: could not read the jobs: %s" % e, flush=True)
        print("demo summary: scale-ups %d, scale-downs %d, peak workers %d, "
              "jobs %s, queue wait median %s s, max %s s" % (
                  ups, downs, self.peak,
                  "?" if jobs is None else len(jobs),
                  "%.0f" % sorted(waits)[len(waits) // 2] if waits else "-",
                  "%.0f" % max(waits) if waits else "-"), flush=True)
        print("decision history (repeats folded):", flush=True)
        for line in self.history.lines() or ["(none)"]:
            print("  " + line, flush=True)
        return ups, downs

    def keep(self):
        """--keep: leaves the cluster running and says how to reach it."""
        pids = [self.ec2.proc.pid, self.oc.proc.pid, self.daemon.pid]
        for p in self.procs:
            p.proc.stdout.close()
        self.daemon_log.close()
        ctl_dir = os.path.join(BUILD, "ctl")
        print("demo: the simulated cluster keeps running (--keep); try:\n"
              "  export EC2CTL_SOCKET=%s\n"
              "  export PATH=%s:$PATH\n"
              "  ec2ctl demo status\n"
              "when done: kill %s; rm -rf %s" % (
                  self.sock, ctl_dir, " ".join(map(str, pids)), self.tmp),
              flush=True)
        return 0

    def stop(self):
        rc = None
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                rc = self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        elif self.daemon:
            rc = self.daemon.returncode
        for p in self.procs:
            p.stop()
        if self.daemon:
            self.daemon_log.close()
        print("demo: stopped every process (ec2-managerd exit %s)" % rc,
              flush=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


def main():
    ap = argparse.ArgumentParser(
        prog="scripts/demo", description=__doc__.split("\n")[0],
        epilog="scripts/demo installs missing Debian packages and builds "
        "in build-demo/ first; --help does neither.")
    ap.add_argument("--minutes", type=float, default=4,
                    help="how long the workload runs (default 4)")
    ap.add_argument("--plain", action="store_true",
                    help="plain lines instead of a live screen")
    ap.add_argument("--keep", action="store_true",
                    help="leave the simulated cluster running at the end "
                    "and print how to use ec2ctl on it")
    a = ap.parse_args()
    demo = Demo(a.minutes, a.plain)
    # The emulators and the daemon run in sessions of their own, so that
    # the terminal's Ctrl-C (SIGINT to the foreground process group) reaches
    # only this script, which then sums up and stops them in order.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    # Ctrl-C ends the demo even when it was started with SIGINT ignored
    # (a non-interactive shell ignores it in what it starts with "&", and
    # Python then leaves it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rc = 1
    try:
        demo.start()
        demo.run()
    except KeyboardInterrupt:
        print("\ndemo: interrupted", flush=True)
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if demo.daemon:
                demo.summary()
        finally:
            if a.keep and demo.daemon and demo.daemon.poll() is None:
                rc = demo.keep()
            else:
                rc = demo.stop()
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
