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
shown live through `ec2ctl demo status`, with each autoscale decision and
its reason.  It ends after --minutes (default 4) or on Ctrl-C, stops every
process it started, and prints a summary.

  scripts/demo.py [--minutes N] [--plain]
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

BUILD = os.environ.get("EC2M_BUILD_DIR", os.path.join(ROOT, "build"))
AK, SK = "AKIDDEMO000000000001", "demo/secret/key/not/real/0000000000001"
OC_USER, OC_PASSWORD = "opencast_system_account", "demo-password"
COMPOSER = "org.opencastproject.composer"


class Demo:
    def __init__(self, minutes, plain):
        self.minutes = minutes
        self.plain = plain or not sys.stdout.isatty()
        self.tmp = tempfile.mkdtemp(prefix="ec2m-demo-")
        self.procs = []
        self.daemon = None
        self.seen = set()
        self.peak = 0
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
            log_path=os.path.join(self.tmp, "ec2sim.log"))
        self.procs.append(self.ec2)
        self.oc = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ocsim.py"),
             "--user", OC_USER, "--password", OC_PASSWORD,
             "--ec2-sim", self.ec2.url, "--dispatch-interval", "0.5"],
            log_path=os.path.join(self.tmp, "ocsim.log"))
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
                "autoscale_interval = 5s", "refresh_interval = 5s",
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
            env=env, stdout=self.daemon_log, stderr=subprocess.STDOUT)
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
        ev = self.ctl_json("events", "-n", "50") or {"events": []}
        out = []
        for e in ev["events"]:
            if e["seq"] in self.seen or e["kind"] not in ("decision",
                                                          "operation"):
                continue
            self.seen.add(e["seq"])
            out.append("%s %s" % (e["ts"][11:19], e["msg"]))
        return out

    def show(self, elapsed, phase, lines):
        st = self.ctl_json("status") or {}
        online = st.get("workers_online") or 0
        self.peak = max(self.peak, online)
        head = ("demo: %3ds of %ds, %s; workers online %d of %d, jobs "
                "queued %s, running %s" % (
                    elapsed, self.minutes * 60, phase, online,
                    st.get("workers", 0), st.get("queued_jobs"),
                    st.get("running_jobs")))
        if self.plain:
            print(head, flush=True)
            for l in lines:
                print("  " + l, flush=True)
            return
        table = self.ctl("demo", "status", "-f", "table").stdout
        sys.stdout.write("\x1b[H\x1b[2J" + head + "\n\n" + table + "\n")
        self.recent = (getattr(self, "recent", []) + lines)[-8:]
        sys.stdout.write("Recent decisions and operations:\n  " +
                         "\n  ".join(self.recent) + "\n")
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
        ev = self.ctl_json("events", "-n", "500") or {"events": []}
        ups = downs = 0
        for e in ev["events"]:
            if e["kind"] == "operation" and "succeeded" in e["msg"]:
                if e["msg"].startswith("scale up"):
                    ups += 1
                elif e["msg"].startswith("scale down"):
                    downs += 1
        jobs = self.oc.ctl("GET", "state")["jobs"]
        waits = [j["started"] - j["created"] for j in jobs
                 if j.get("started") and j.get("created")]
        print("demo summary: scale-ups %d, scale-downs %d, peak workers %d, "
              "jobs %d, queue wait median %s s, max %s s" % (
                  ups, downs, self.peak, len(jobs),
                  "%.0f" % sorted(waits)[len(waits) // 2] if waits else "-",
                  "%.0f" % max(waits) if waits else "-"), flush=True)
        return ups, downs

    def stop(self):
        rc = None
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                rc = self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                rc = self.daemon.wait()
        for p in self.procs:
            p.stop()
        if self.daemon:
            self.daemon_log.close()
        print("demo: stopped every process (ec2-managerd exit %s)" % rc,
              flush=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=4)
    ap.add_argument("--plain", action="store_true",
                    help="plain lines instead of a live screen")
    a = ap.parse_args()
    demo = Demo(a.minutes, a.plain)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    rc = 1
    try:
        demo.start()
        demo.run()
    except KeyboardInterrupt:
        print("\ndemo: interrupted", flush=True)
    finally:
        try:
            if demo.daemon:
                demo.summary()
        finally:
            rc = demo.stop()
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
