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
