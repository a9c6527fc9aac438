"""Fixtures shared by the integration tests.

The tests run the real C programs from the build tree named by
EC2M_BUILD_DIR (scripts/test sets it; default: ./build) against the
emulators in tests/sim/, all on 127.0.0.1.  Every child process gets a
scrubbed environment: no AWS_* variables from the caller, HOME in a temporary
directory, and IMDS disabled unless a test points it at the emulator, so
nothing ever reaches real AWS or 169.254.169.254.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))

import harness  # noqa: E402

BUILD_DIR = os.environ.get("EC2M_BUILD_DIR", os.path.join(ROOT, "build"))
EC2SIM = os.path.join(ROOT, "tests", "sim", "ec2sim.py")
OCSIM = os.path.join(ROOT, "tests", "sim", "ocsim.py")
PROBE = os.path.join(BUILD_DIR, "tests", "tools", "ec2-probe")
OC_PROBE = os.path.join(BUILD_DIR, "tests", "tools", "oc-probe")

ACCESS_KEY = "AKIDEXAMPLEDAEMON001"
SECRET_KEY = "dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001"
REGION = "eu-west-1"
OC_USER = "opencast_system_account"
OC_PASSWORD = "s3cret-CHANGE_ME"


def clean_env(home, **extra):
    """The environment for a child: the caller's minus AWS settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "EC2M_", "OPENCAST_", "MATTERHORN_"))}
    env["HOME"] = str(home)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


@pytest.fixture
def ec2sim_factory(tmp_path):
    """Starts EC2 emulators from seed dicts; stops them after the test."""
    started = []

    def start(seed, *args):
        seed = dict(seed)
        seed.setdefault("region", REGION)
        seed.setdefault("credentials", [{"access_key_id": ACCESS_KEY,
                                         "secret_access_key": SECRET_KEY,
                                         "session_token": None}])
        path = tmp_path / ("ec2-seed-%d.json" % len(started))
        path.write_text(json.dumps(seed))
        sim = harness.SimProcess(
            [harness.PYTHON, EC2SIM, "--seed", str(path), "--port", "0",
             *args],
            log_path=str(tmp_path / ("ec2sim-%d.log" % len(started))))
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


DEV04 = {"clusters": [{"prefix": "dev04", "admin": 1, "engage": 1, "db": 1,
                       "nfs": 1, "workers": 6, "workers_running": 2}]}


@pytest.fixture
def ec2sim(ec2sim_factory):
    """An EC2 emulator holding cluster dev04, another cluster, and a
    terminated dev04 instance; short state delays."""
    seed = {
        "clusters": DEV04["clusters"] + [
            {"prefix": "prod", "admin": 1, "workers": 3,
             "workers_running": 3}],
        "instances": [{"name": "dev04-worker", "state": "terminated"},
                      {"name": "dev04x-admin", "state": "running"}],
        "delays": {"pending": 0.5, "stopping": 0.5},
    }
    return ec2sim_factory(seed)


class Probe:
    """Runs tests/tools/ec2-probe with a given environment."""

    def __init__(self, home):
        self.home = home

    def env(self, sim=None, **extra):
        base = {"AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_REGION": REGION}
        if sim is not None:
            base["AWS_ENDPOINT_URL_EC2"] = sim.url
        base.update(extra)
        return clean_env(self.home, **base)

    def run(self, *args, env=None, sim=None, timeout=60):
        if env is None:
            env = self.env(sim)
        proc = subprocess.run([PROBE, *args], env=env, capture_output=True,
                              text=True, timeout=timeout)
        lines = [json.loads(l) for l in proc.stdout.splitlines() if l]
        return proc.returncode, lines, proc.stderr


@pytest.fixture
def probe(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return Probe(home)


def wait_for(predicate, timeout=15.0, interval=0.05, what="condition"):
    """Polls predicate until it returns a true value or timeout passes."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


@pytest.fixture
def ocsim_factory(tmp_path):
    """Starts Opencast emulators from seed dicts; stops them afterwards."""
    started = []

    def start(seed=None, *args):
        path = tmp_path / ("oc-seed-%d.json" % len(started))
        path.write_text(json.dumps(seed or {}))
        sim = harness.SimProcess(
            [harness.PYTHON, OCSIM, "--seed", str(path), "--port", "0",
             "--user", OC_USER, "--password", OC_PASSWORD,
             "--dispatch-interval", "0.1", *args],
            log_path=str(tmp_path / ("ocsim-%d.log" % len(started))))
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


class OcProbe:
    """Runs tests/tools/oc-probe against an Opencast URL."""

    def __init__(self, home):
        self.home = home

    def run(self, url, *args, user=OC_USER, password=OC_PASSWORD, env=None,
            timeout=60):
        if env is None:
            env = clean_env(self.home, OPENCAST_USER=user,
                            OPENCAST_PASSWORD=password)
        proc = subprocess.run([OC_PROBE, "--url", url, *args], env=env,
                              capture_output=True, text=True,
                              timeout=timeout)
        lines = [json.loads(l) for l in proc.stdout.splitlines() if l]
        return proc.returncode, (lines[0] if lines else None), proc.stderr


@pytest.fixture
def oc_probe(tmp_path):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return OcProbe(home)


DAEMON = os.path.join(BUILD_DIR, "daemon", "ec2-managerd")
EC2CTL = os.path.join(BUILD_DIR, "ctl", "ec2ctl")


def ctl_request(sock_path, req, timeout=10.0):
    """Sends one request dict over a raw connection; returns every line
    of the answer as dicts (events, then the final reply)."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        out = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("daemon closed the connection")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                out.append(msg)
                if "ok" in msg:
                    return out
    finally:
        s.close()


class Daemon:
    """ec2-managerd on a temporary socket and config, against emulators."""

    def __init__(self, tmp_path, ec2, oc, clusters, extra_env=None,
                 defaults=None, daemon_conf=None, socket_dir=None,
                 extra_conf=None):
        self.tmp = tmp_path
        self.ec2 = ec2
        self.oc = oc
        self.socket = os.path.join(socket_dir or str(tmp_path), "ctl.sock")
        self.conf = tmp_path / "ec2-manager.conf"
        self.state_dir = tmp_path / "state"
        self.state_dir.mkdir(exist_ok=True)
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        self.log_path = tmp_path / "daemon.log"
        self.extra_conf = extra_conf or []
        self.write_config(clusters, defaults, daemon_conf)
        env = clean_env(self.home, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                        OPENCAST_USER=OC_USER, OPENCAST_PASSWORD=OC_PASSWORD)
        env.update(extra_env or {})
        self.env = env
        self.proc = None

    def write_config(self, clusters, defaults=None, daemon_conf=None):
        lines = ["[daemon]", "socket = " + self.socket,
                 "state_dir = " + str(self.state_dir), "log_level = debug"]
        lines += daemon_conf or []
        lines += ["", "[aws]", "region = " + REGION,
                  "endpoint = " + self.ec2.url, "",
                  "[opencast]", "timeout = 5s", "", "[defaults]",
                  "admin_url = " + (self.oc.url if self.oc else
                                    "http://127.0.0.1:9"),
                  "refresh_interval = 60s", "wait_interval = 1s"]
        lines += defaults or []
        for name, keys in clusters.items():
            lines += ["", "[cluster %s]" % name] + list(keys)
        lines += [""] + list(getattr(self, "extra_conf", []))
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, wait_refresh=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([DAEMON, "-c", str(self.conf)],
                                     env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or self.answers(),
                 what="daemon socket")
        assert self.proc.poll() is None, self.read_log()
        if wait_refresh:
            for name in self.cluster_names():
                wait_for(lambda: self.status(name)["updated_at"],
                         what="first refresh of " + name)
        return self

    def answers(self):
        try:
            return ctl_request(self.socket, {"v": 1, "id": 1,
                                             "cmd": "ping"})[-1]["ok"]
        except (OSError, AssertionError):
            return False

    def request(self, cmd, cluster=None, args=None, **kw):
        req = {"v": 1, "id": 1, "cmd": cmd}
        if cluster:
            req["cluster"] = cluster
        if args is not None:
            req["args"] = args
        req.update(kw)
        return ctl_request(self.socket, req)[-1]

    def status(self, cluster, refresh=False):
        r = self.request("status", cluster, {"refresh": refresh})
        assert r["ok"], r
        return r["result"]

    def cluster_names(self):
        r = self.request("clusters")
        return [c["cluster"] for c in r["result"]["clusters"]]

    def ctl(self, *args, env=None, timeout=60, user=None):
        cmd = [EC2CTL, "--socket", self.socket, *args]
        if user is not None:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user,
                   "--clear-groups"] + cmd
        e = dict(env or clean_env(self.home))
        return subprocess.run(cmd, env=e, capture_output=True, text=True,
                              timeout=timeout)

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM; the daemon must exit 0 with every handle closed."""
        import signal as sig
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "killed"
        self.log.close()
        return rc


def cluster_ec2_seed(prefix="dev04", workers=6, running=2, **kw):
    c = {"prefix": prefix, "admin": 1, "engage": 1, "db": 1, "nfs": 1,
         "workers": workers, "workers_running": running}
    c.update(kw)
    return c


@pytest.fixture
def linked_sims(ec2sim_factory, ocsim_factory):
    """An EC2 emulator with cluster dev04 and an Opencast emulator linked
    to it: running Opencast instances register as hosts."""
    def start(clusters=None, delays=None, oc_settings=None):
        ec2 = ec2sim_factory({
            "clusters": clusters or [cluster_ec2_seed()],
            "delays": delays or {"pending": 0.5, "stopping": 0.5}})
        settings = {"registration_delay_s": 0.2}
        settings.update(oc_settings or {})
        oc = ocsim_factory({"settings": settings}, "--ec2-sim", ec2.url)
        return ec2, oc
    return start


@pytest.fixture
def public_dir():
    """A directory any user can traverse (pytest's tmp_path is 0700), for
    sockets that unprivileged clients must reach."""
    import tempfile
    path = tempfile.mkdtemp(prefix="ec2m-test-")
    os.chmod(path, 0o755)
    yield path
    import shutil
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon_factory(tmp_path):
    started = []

    def make(ec2, oc, clusters, **kw):
        d = Daemon(tmp_path, ec2, oc, clusters, **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        rc = d.stop()
        if rc not in (0, None):
            raise AssertionError("daemon exited with %r:\n%s" %
                                 (rc, d.log_path.read_text()[-4000:]))
