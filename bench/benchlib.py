"""What the daemon benchmarks share (bench/ctl_bench.py,
bench/opencast_bench.py): the EC2 and Opencast emulators on 127.0.0.1
seeded with one cluster "bench", the daemon configured for it with a
control socket in a scratch folder, and stopping all of it.

    with benchlib.Bench(build, cluster, ...) as b:
        b.start_daemon(["refresh_interval = 1s"])
        subprocess.run(b.ctl + ["bench", "status"], env=b.env)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

AK, SK = "AKIDBENCH0000000001", "bench/secret/key/not/real/000000000001"
OC_USER, OC_PASSWORD = "u", "p"


class Bench:
    def __init__(self, build, cluster, delays=None, oc_settings=None):
        """cluster: the seed of cluster "bench" (admin, engage, db, nfs,
        workers, workers_running); delays: the EC2 emulator's state
        delays; oc_settings: the Opencast emulator's settings."""
        self.build = os.path.abspath(build)
        self.tmp = tempfile.mkdtemp(prefix="ec2m-bench-")
        self.procs = []
        self.daemon = None
        self.spawned = []
        self.sock = os.path.join(self.tmp, "ctl.sock")
        self.ctl = [os.path.join(self.build, "ctl", "ec2ctl"), "--socket",
                    self.sock]
        self.env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK,
                    "OPENCAST_USER": OC_USER,
                    "OPENCAST_PASSWORD": OC_PASSWORD}
        seed = {"region": "eu-west-1",
                "credentials": [{"access_key_id": AK,
                                 "secret_access_key": SK,
                                 "session_token": None}],
                "clusters": [dict(cluster, prefix="bench")]}
        if delays:
            seed["delays"] = delays
        path = os.path.join(self.tmp, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        try:
            self.ec2 = self._sim("ec2sim.py", "--seed", path)
            self.oc = self._sim("ocsim.py", "--user", OC_USER, "--password",
                                OC_PASSWORD, "--ec2-sim", self.ec2.url)
            if oc_settings:
                self.oc.ctl("POST", "settings", oc_settings)
        except BaseException:
            self.stop()
            raise

    def _sim(self, script, *args):
        p = harness.SimProcess([harness.PYTHON, os.path.join(
            harness.SIM_DIR, script)] + list(args))
        self.procs.append(p)
        return p

    def start_daemon(self, defaults=()):
        """Starts ec2-managerd for cluster "bench", with the lines of
        defaults added to its [defaults] section."""
        conf = os.path.join(self.tmp, "ec2m.conf")
        lines = ["[daemon]", "socket = " + self.sock,
                 "state_dir = " + self.tmp, "log_level = warning",
                 "[aws]", "region = eu-west-1", "endpoint = " + self.ec2.url,
                 "[defaults]", "admin_url = " + self.oc.url]
        lines += list(defaults) + ["[cluster bench]"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.daemon = subprocess.Popen(
            [os.path.join(self.build, "daemon", "ec2-managerd"), "-c", conf],
            env=self.env, stderr=subprocess.DEVNULL)

    def spawn(self, argv):
        """Starts another process, killed by stop()."""
        p = subprocess.Popen(argv)
        self.spawned.append(p)
        return p

    def stop(self):
        for p in self.spawned:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(20)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        for p in self.procs:
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
