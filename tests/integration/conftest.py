"""Fixtures shared by the integration tests.

The tests run the real C programs from the build tree named by
EC2M_BUILD_DIR (scripts/test sets it; default: ./build-test, the plain
build of scripts/test; build/ is left to the README's install) against the
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

BUILD_DIR = os.environ.get("EC2M_BUILD_DIR",
                           os.path.join(ROOT, "build-test"))
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
        # Every status answer served from the daemon's cache is checked
        # against a fresh one; a difference ends the daemon (status.c).
        env = clean_env(self.home, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                        OPENCAST_USER=OC_USER, OPENCAST_PASSWORD=OC_PASSWORD,
                        EC2M_STATUS_CACHE_CHECK="1")
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
                  "refresh_interval = 60s", "wait_interval = 1s",
                  # Autoscaling is opt-in (SPEC 7); the suite was written
                  # with it on, and a test's own lines still override it.
                  "autoscale = on"]
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


# Helpers for faults in the middle of an operation, shutdown and restarts
# (test_lifecycle.py, test_fault_matrix.py).  Every wait has a bound.

def wait_until(predicate, timeout=15.0, interval=0.05):
    """Like wait_for, but returns False at the bound instead of raising
    (the caller records what did not happen)."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: AddressSanitizer")


def sanitizer_report(text):
    """The first sanitizer finding in a daemon log, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line.strip()
    return None


def daemon_wait_exit(d, timeout=30.0):
    """Waits for an ending daemon; its exit status, or "hung" (then it is
    killed).  Closes its log."""
    try:
        rc = d.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        d.proc.kill()
        d.proc.wait()
        rc = "hung"
    if not d.log.closed:
        d.log.close()
    return rc


def daemon_kill(d):
    """SIGKILL, as a crash or power loss would end it."""
    d.proc.kill()
    d.proc.wait()
    if not d.log.closed:
        d.log.close()


def reload_count(d):
    """How many reloads the daemon has finished (applied or rejected)."""
    text = d.read_log()
    return text.count("configuration reloaded") + \
        text.count("reload rejected")


def reload_daemon(d, transform=None, timeout=15.0):
    """Rewrites the daemon's config with transform(text) (if given), sends
    SIGHUP and waits until that reload has finished.  True if it did."""
    import signal as sig
    if transform is not None:
        d.conf.write_text(transform(d.conf.read_text()))
    n = reload_count(d)
    d.signal(sig.SIGHUP)
    return bool(wait_until(lambda: reload_count(d) > n or
                           d.proc.poll() is not None, timeout) and
                reload_count(d) > n)


def admin_url_to_localhost(text):
    """The same Opencast under an equivalent URL (issue 13, defect 1)."""
    return text.replace("admin_url = http://127.0.0.1:",
                        "admin_url = http://localhost:")


_CTL_SEQ = __import__("itertools").count()


class CtlRun:
    """ec2ctl running in the background, its output in files: the test
    goes on while it waits and later asks whether and how it ended."""

    def __init__(self, d, *args, name="ctl"):
        self.args = args
        n = next(_CTL_SEQ)
        self.out_path = d.tmp / ("%s-%d.out" % (name, n))
        self.err_path = d.tmp / ("%s-%d.err" % (name, n))
        self._out = open(self.out_path, "w")
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [EC2CTL, "--socket", d.socket, *args], env=clean_env(d.home),
            stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)

    def done(self):
        return self.proc.poll() is not None

    def wait(self, timeout):
        """The exit status, or None if it has not ended within timeout
        (it keeps running; kill() ends it)."""
        if wait_until(self.done, timeout):
            return self.proc.returncode
        return None

    @property
    def returncode(self):
        return self.proc.poll()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.kill()
        self._out.close()
        self._err.close()

    @property
    def stdout(self):
        self._out.flush()
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self):
        self._err.flush()
        return self.err_path.read_text(errors="replace")


# Exit statuses of ec2ctl (SPEC §4).
CTL_EXIT_CODES = (0, 1, 2, 69, 77)


class RefreshSpam:
    """Sends `status --refresh` over and over, over raw connections (and
    every fourth through ec2ctl), until stopped; records every request that
    got no final reply."""

    def __init__(self, d, cluster, threads=2):
        import threading
        self.d = d
        self.cluster = cluster
        self.sent = 0
        self.unanswered = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,),
                                         daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        n = 0
        while not self.stopping.is_set() and n < 2000:
            n += 1
            if i == 0 and n % 4 == 0:
                try:
                    p = subprocess.run(
                        [EC2CTL, "--socket", self.d.socket, "-j",
                         self.cluster, "status", "--refresh"],
                        env=clean_env(self.d.home), capture_output=True,
                        timeout=30)
                    ok = p.returncode in (0, 1)
                    why = "ec2ctl status --refresh exited %d: %s" % (
                        p.returncode, p.stderr.decode(errors="replace")[-200:])
                except subprocess.TimeoutExpired:
                    ok, why = False, "ec2ctl status --refresh hung for 30 s"
            else:
                try:
                    r = ctl_request(self.d.socket, {
                        "v": 1, "id": n, "cmd": "status",
                        "cluster": self.cluster,
                        "args": {"refresh": True}}, timeout=30)
                    ok = "ok" in r[-1]
                    why = "no final reply"
                except (OSError, AssertionError, ValueError) as e:
                    ok, why = False, "%s: %s" % (type(e).__name__, e)
            with self.lock:
                self.sent += 1
                if not ok:
                    self.unanswered.append(why)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(40)
        return [t for t in self.threads if t.is_alive()]


# The fault matrix's report (test_fault_matrix.py).  Each cell writes one
# file into RESULTS_DIR/fault-matrix.d/ (cells may run in several xdist
# workers); the session that started them (the controller) aggregates the
# files of its own run into fault-matrix.json and fault-matrix.md.

RESULTS_DIR = os.environ.get("EC2M_RESULTS_DIR",
                             os.path.join(BUILD_DIR, "results"))
MATRIX_CELLS_DIR = os.path.join(RESULTS_DIR, "fault-matrix.d")
INVARIANTS = {
    "busy_stopped": "a busy worker (one running a job) was stopped",
    "maintenance_left": "a running node the daemon put in maintenance "
                        "stayed in maintenance after Opencast answered again",
    "unanswered": "a client got no answer (ec2ctl did not exit with a "
                  "status of SPEC §4 in time, or a raw request got no "
                  "final reply)",
    "daemon": "the daemon died, hung an operation, did not restart cleanly, "
              "or did not exit 0 (or a sanitizer reported) on SIGTERM",
    "outcome": "a fault that must not change the outcome (none, throttling, "
               "SIGHUP, status --refresh) made the operation fail",
    "acted_after_sigterm": "StartInstances/StopInstances reached EC2 after "
                           "SIGTERM",
    "setup": "the operation did not reach the fault point",
    "error": "the test harness itself failed",
}


def _matrix_run_id():
    return os.environ.get("EC2M_MATRIX_RUN", "solo")


def matrix_write_cell(op, fault, violations, notes, seconds, texts):
    """Records one cell's outcome for the session's report."""
    os.makedirs(MATRIX_CELLS_DIR, exist_ok=True)
    failed = sorted({inv for inv, _ in violations})
    rec = {"cell": "%s-%s" % (op, fault), "op": op, "fault": fault,
           "outcome": "passed" if not violations else
           "failed: " + ", ".join(failed),
           "violations": [{"invariant": inv, "message": msg}
                          for inv, msg in violations],
           "notes": list(notes), "seconds": round(seconds, 1),
           "op_text": texts["op"], "fault_text": texts["fault"]}
    name = "%s.%s-%s.json" % (_matrix_run_id(), op, fault)
    tmp = os.path.join(MATRIX_CELLS_DIR, "." + name)
    with open(tmp, "w") as f:
        json.dump(rec, f, indent=1)
    os.replace(tmp, os.path.join(MATRIX_CELLS_DIR, name))


def _build_label():
    try:
        with open(DAEMON, "rb") as f:
            asan = b"__asan_init" in f.read()
    except OSError:
        asan = False
    return "%s (%s)" % (os.path.basename(os.path.normpath(BUILD_DIR)),
                        "ASan+UBSan" if asan else "plain")


def matrix_markdown(report):
    """The outcome table of one run as Markdown."""
    ops, faults, cells = report["ops"], report["faults"], report["cells"]
    out = ["## %s" % report["build"], "",
           "Run %s: %d cells, %d passed, %d failed; the cells took %.0f s "
           "of wall time%s." % (
               report["finished"], len(cells), report["passed"],
               report["failed"], report["wall_s"],
               " with %s workers" % report["workers"]
               if report.get("workers") else ""), "",
           "| operation \\ fault | " + " | ".join(faults) + " |",
           "|---|" + "---|" * len(faults)]
    for op in ops:
        row = []
        for fault in faults:
            c = cells.get("%s-%s" % (op, fault))
            if c is None:
                row.append("not run")
            elif c["outcome"] == "passed":
                row.append("pass")
            else:
                row.append("**FAIL** " + ", ".join(sorted(
                    {v["invariant"] for v in c["violations"]})))
        out.append("| %s | %s |" % (op, " | ".join(row)))
    failures = [c for c in cells.values() if c["outcome"] != "passed"]
    if failures:
        out += ["", "### Failing cells", ""]
        for c in sorted(failures, key=lambda c: (ops.index(c["op"]),
                                                 faults.index(c["fault"]))):
            for v in c["violations"]:
                msg = " ".join(v["message"].split())
                if len(msg) > 400:
                    msg = msg[:400] + "..."
                out.append("- `%s` %s: %s" % (c["cell"], v["invariant"],
                                              msg.replace("|", "\\|")))
    return "\n".join(out) + "\n"


def _matrix_legend(report):
    out = ["### Operations", ""]
    for op in report["ops"]:
        out.append("- `%s`: %s" % (op, report["op_text"].get(op, "")))
    out += ["", "### Faults (injected at the operation's fault point)", ""]
    for f in report["faults"]:
        out.append("- `%s`: %s" % (f, report["fault_text"].get(f, "")))
    out += ["", "### Invariants", ""]
    for k, v in INVARIANTS.items():
        out.append("- `%s`: %s" % (k, v))
    return "\n".join(out) + "\n"


def matrix_aggregate(wall_s, workers=None):
    """Aggregates this run's cell files; returns the report or None."""
    import glob
    run = _matrix_run_id()
    files = sorted(glob.glob(os.path.join(MATRIX_CELLS_DIR,
                                          run + ".*.json")))
    if not files:
        return None
    cells = {}
    for path in files:
        with open(path) as f:
            c = json.load(f)
        cells[c["cell"]] = c
    ops, faults, op_text, fault_text = [], [], {}, {}
    for c in cells.values():
        if c["op"] not in ops:
            ops.append(c["op"])
        if c["fault"] not in faults:
            faults.append(c["fault"])
        op_text[c["op"]] = c["op_text"]
        fault_text[c["fault"]] = c["fault_text"]
    try:
        import test_fault_matrix as m
        ops.sort(key=lambda o: list(m.OPS).index(o) if o in m.OPS else 99)
        faults.sort(key=lambda f: m.FAULTS.index(f)
                    if f in m.FAULTS else 99)
    except ImportError:
        pass
    import datetime
    report = {"build": _build_label(), "build_dir": BUILD_DIR,
              "finished": datetime.datetime.now(datetime.timezone.utc)
              .strftime("%Y-%m-%dT%H:%M:%SZ"),
              "wall_s": round(wall_s, 1), "workers": workers,
              "ops": ops, "faults": faults, "op_text": op_text,
              "fault_text": fault_text, "invariants": INVARIANTS,
              "passed": sum(c["outcome"] == "passed"
                            for c in cells.values()),
              "failed": sum(c["outcome"] != "passed"
                            for c in cells.values()),
              "cells": cells}
    with open(os.path.join(RESULTS_DIR, "fault-matrix.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(RESULTS_DIR, "fault-matrix.md"), "w") as f:
        f.write(matrix_markdown(report) + "\n" + _matrix_legend(report))
    for path in files:
        os.unlink(path)
    return report


def pytest_configure(config):
    import time
    if hasattr(config, "workerinput"):
        return
    os.environ["EC2M_MATRIX_RUN"] = "%d-%d" % (os.getpid(), time.time())
    config._ec2m_matrix_t0 = time.monotonic()


def pytest_sessionfinish(session, exitstatus):
    import time
    config = session.config
    if hasattr(config, "workerinput"):
        return
    t0 = getattr(config, "_ec2m_matrix_t0", None)
    if t0 is None:
        return
    workers = getattr(config.option, "numprocesses", None)
    report = matrix_aggregate(time.monotonic() - t0, workers)
    if report is not None:
        tr = config.pluginmanager.get_plugin("terminalreporter")
        line = "fault matrix: %d passed, %d failed -> %s" % (
            report["passed"], report["failed"],
            os.path.join(RESULTS_DIR, "fault-matrix.md"))
        if tr is not None:
            tr.write_line(line)


MATRIX_DOC_HEAD = """\
# Fault matrix

Issue 13's fault matrix: every operation x every fault, each cell with its
own EC2 and Opencast emulators and daemon, the same invariants checked after
every cell (tests/integration/test_fault_matrix.py says how a cell runs).
`scripts/test` runs it for the plain and the ASan+UBSan build (as its own
pytest run, `-n 2`, JUnit in results/matrix.xml) and writes each build's
table to `BUILD/results/fault-matrix.md` and `.json`.

This page is generated from such a run.  To regenerate it:

    scripts/test          # or, for one build tree:
    EC2M_BUILD_DIR=$PWD/build-test /usr/bin/python3 -m pytest -q \\
        -p no:cacheprovider -n 2 tests/integration/test_fault_matrix.py
    /usr/bin/python3 tests/integration/conftest.py \\
        build-test/results/fault-matrix.json \\
        build-test-asan/results/fault-matrix.json \\
        > docs/fault-matrix.md

(each argument may end in `=TITLE` to name its section).

A cell reads `pass`, or `FAIL` with the invariants it broke; the messages
follow each table.
"""


def matrix_doc(reports):
    """docs/fault-matrix.md from the reports of one or more builds."""
    parts = [MATRIX_DOC_HEAD]
    for r in reports:
        parts.append(matrix_markdown(r))
    parts.append("## Legend\n\n" + _matrix_legend(reports[0]))
    return "\n".join(parts)


if __name__ == "__main__":
    _reports = []
    for _arg in sys.argv[1:]:
        _path, _, _label = _arg.partition("=")
        with open(_path) as _f:
            _reports.append(json.load(_f))
        if _label:
            _reports[-1]["build"] = _label
    if not _reports:
        sys.exit("usage: conftest.py BUILD/results/fault-matrix.json"
                 "[=TITLE]...")
    sys.stdout.write(matrix_doc(_reports))
