"""ec2ctl against a fake daemon.

The fake is a Unix-socket server in a thread of the test process: it records
every request line it receives and answers each request with the lines a
test scripts for it (events, then a final reply), or closes the connection.
It handles one connection at a time, in the order they arrive, so
FakeDaemon.sync() -- a connection of its own, handled after every earlier
one -- proves that nothing else is still on its way.  The real ec2ctl from
the build tree runs against it as a child process.  Every wait is bounded;
nothing sleeps to win a race.
"""
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("EC2M_BUILD_DIR",
                           os.path.join(ROOT, "build-test"))
EC2CTL = os.path.join(BUILD_DIR, "ctl", "ec2ctl")
VERSION = "0.1.0"
TIMEOUT = 20
TS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
CLOSE = object()


def ok(req, result=None):
    return {"id": req["id"], "ok": True,
            "result": {} if result is None else result}


def err(req, code, message):
    return {"id": req["id"], "ok": False,
            "error": {"code": code, "message": message}}


def log(req, level, msg, ts="2026-11-26T05:04:51Z"):
    return {"id": req["id"], "event": "log", "level": level, "ts": ts,
            "msg": msg}


def progress(req, step, done, total, msg):
    return {"id": req["id"], "event": "progress", "step": step,
            "done": done, "total": total, "msg": msg}


def default_script(req):
    return [ok(req)]


class FakeDaemon:
    """A scripted stand-in for ec2-managerd on a Unix socket."""

    def __init__(self, path, script=default_script):
        self.path = path
        self.script = script
        self.lines = []          # request lines as received
        self.connections = 0     # ec2ctl's, not sync()'s
        self.synced = 0
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def requests(self):
        with self._cond:
            return [json.loads(line) for line in self.lines]

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._handle(conn)
                except OSError:
                    pass         # the client went away; that is its right

    def _handle(self, conn):
        counted = False
        for raw in conn.makefile("rb"):
            line = raw.decode().rstrip("\n")
            msg = json.loads(line)
            if "sync" in msg:
                with self._cond:
                    self.synced = msg["sync"]
                    self._cond.notify_all()
                return
            with self._cond:
                if not counted:
                    self.connections += 1
                    counted = True
                self.lines.append(line)
                self._cond.notify_all()
            for out in self.script(msg):
                if out is CLOSE:
                    return
                if callable(out):
                    out()
                    continue
                text = out if isinstance(out, str) else json.dumps(out)
                conn.sendall(text.encode() + b"\n")
        if not counted:
            with self._cond:
                self.connections += 1

    def wait_for(self, predicate, timeout=TIMEOUT):
        with self._cond:
            assert self._cond.wait_for(predicate, timeout), "timed out"

    def wait_requests(self, n):
        self.wait_for(lambda: len(self.lines) >= n)

    def sync(self):
        """Returns once every connection made before it is handled."""
        n = self.synced + 1
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.path)
            s.sendall(json.dumps({"sync": n}).encode() + b"\n")
            self.wait_for(lambda: self.synced >= n)

    def close(self):
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(TIMEOUT)


@pytest.fixture
def sockdir():
    # Short (sun_path holds 108 bytes) and open to the unprivileged user of
    # the permission tests.
    d = tempfile.mkdtemp(prefix="ec2ctl-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fake(sockdir):
    daemons = []

    def start(script=default_script, name="ctl.sock"):
        d = FakeDaemon(os.path.join(sockdir, name), script)
        daemons.append(d)
        return d

    yield start
    for d in daemons:
        d.close()


def child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "EC2CTL_SOCKET"}
    env.update(extra)
    return env


def run(args, sock=None, env=None, prefix=()):
    argv = list(prefix) + [EC2CTL]
    if sock is not None:
        argv += ["--socket", sock]
    return subprocess.run(argv + list(args), capture_output=True, text=True,
                          timeout=TIMEOUT, env=env or child_env())


def json_lines(text):
    """ec2ctl's JSON output: one object per line."""
    return [json.loads(line) for line in text.splitlines()]


def request(cmd, args, cluster="dev04", id=1, dry_run=False, force=False,
            wait=True, level="info"):
    r = {"v": 1, "id": id, "cmd": cmd}
    if cluster is not None:
        r["cluster"] = cluster
    r.update({"args": args, "dry_run": dry_run, "force": force,
              "wait": wait, "level": level})
    return r


def test_binary_is_built():
    assert os.access(EC2CTL, os.X_OK), "build ec2ctl first: " + EC2CTL


# --- Requests -------------------------------------------------------------

SHAPES = [
    (["dev04", "status"], "status", {"refresh": False}),
    (["dev04", "status", "--refresh"], "status", {"refresh": True}),
    (["dev04", "status", "-f", "json"], "status", {"refresh": False}),
    (["dev04", "start"], "start", {}),
    (["dev04", "start", "-w", "3"], "start", {"workers": 3}),
    (["dev04", "start", "--workers=0"], "start", {"workers": 0}),
    (["dev04", "stop"], "stop", {}),
    (["dev04", "scale", "up"], "scale", {"direction": "up", "workers": 1}),
    (["dev04", "scale", "down", "-w", "2"], "scale",
     {"direction": "down", "workers": 2}),
    (["dev04", "scale_to", "4"], "scale_to", {"workers": 4}),
    (["dev04", "scale-to", "0"], "scale_to", {"workers": 0}),
    (["dev04", "maintenance", "on"], "maintenance", {"mode": "on"}),
    (["dev04", "maintenance", "off"], "maintenance", {"mode": "off"}),
    (["dev04", "autoscale"], "autoscale", {"action": "evaluate"}),
    (["dev04", "autoscale", "pause"], "autoscale", {"action": "pause"}),
    (["dev04", "autoscale", "resume"], "autoscale", {"action": "resume"}),
    (["dev04", "events"], "events", {"n": 20}),
    (["dev04", "events", "-n", "500"], "events", {"n": 500}),
    (["clusters"], "clusters", {}),
    (["ping"], "ping", {}),
    (["version"], "version", {}),
]


@pytest.mark.parametrize("argv,cmd,args", SHAPES,
                         ids=[" ".join(s[0]) for s in SHAPES])
def test_request_shape(fake, argv, cmd, args):
    d = fake()
    p = run(argv, d.path)
    assert p.returncode == 0, p.stderr
    cluster = None if cmd in ("clusters", "ping", "version") else "dev04"
    assert d.requests == [request(cmd, args, cluster=cluster)]
    # One compact line, as the protocol frames it.
    assert "\n" not in d.lines[0] and " " not in d.lines[0]


@pytest.mark.parametrize("opts,fields", [
    (["-n"], {"dry_run": True}),
    (["--dry-run", "--force"], {"dry_run": True, "force": True}),
    (["-f"], {"force": True}),
    (["--no-wait"], {"wait": False}),
    (["-d"], {"level": "debug"}),
    (["-q"], {"level": "warning"}),
    (["-q", "-v"], {"level": "info"}),
    (["-nfd", "--no-wait"], {"dry_run": True, "force": True,
                             "level": "debug", "wait": False}),
])
def test_global_options_in_request(fake, opts, fields):
    d = fake()
    p = run(opts + ["dev04", "stop"], d.path)
    assert p.returncode == 0, p.stderr
    want = request("stop", {})
    want.update(fields)
    assert d.requests == [want]


def test_chain_on_one_connection(fake):
    d = fake()
    p = run(["-n", "dev04", "maintenance", "on", "scale", "down", "-w", "2",
             "stop"], d.path)
    assert p.returncode == 0, p.stderr
    assert d.requests == [
        request("maintenance", {"mode": "on"}, id=1, dry_run=True),
        request("scale", {"direction": "down", "workers": 2}, id=2,
                dry_run=True),
        request("stop", {}, id=3, dry_run=True),
    ]
    assert d.connections == 1


def test_chain_stops_at_first_failure(fake):
    def script(req):
        if req["cmd"] == "scale":
            return [err(req, "refused", "Stopping 2 workers violates min "
                        "workers setting of 2")]
        return [ok(req)]

    d = fake(script)
    p = run(["dev04", "maintenance", "on", "scale", "down", "-w", "2",
             "stop"], d.path)
    assert p.returncode == 1
    assert p.stderr == ("ec2ctl: Stopping 2 workers violates min workers "
                        "setting of 2\n")
    d.sync()
    assert [r["cmd"] for r in d.requests] == ["maintenance", "scale"]


@pytest.mark.parametrize("argv", [
    [],
    ["dev04"],
    ["status"],
    ["dev04", "frobnicate"],
    ["dev04", "status", "--bogus"],
    ["dev04", "status", "-f", "xml"],
    ["dev04", "start", "-w", "10001"],
    ["dev04", "start", "-w", "-1"],
    ["dev04", "scale"],
    ["dev04", "scale", "up", "-w", "0"],
    ["dev04", "scale_to", "x"],
    ["dev04", "maintenance", "maybe"],
    ["dev04", "events", "-n", "501"],
    ["dev04", "-n", "stop"],
    ["--bogus", "dev04", "stop"],
    ["dev04", "ping"],
    ["bad/name", "stop"],
    # A usage error in the third command sends nothing at all.
    ["dev04", "maintenance", "on", "stop", "scale", "sideways"],
    ["dev04", "status", "--watch", "stop"],
], ids=lambda a: " ".join(a) or "(nothing)")
def test_usage_error_sends_nothing(fake, argv):
    d = fake()
    p = run(argv, d.path)
    assert p.returncode == 2
    assert p.stderr.startswith("ec2ctl: ")
    assert "usage: ec2ctl" in p.stderr
    assert p.stdout == ""
    d.sync()
    assert d.connections == 0 and d.lines == []


def test_help(fake):
    p = run(["--help"])
    assert p.returncode == 0
    assert p.stdout.startswith("usage: ec2ctl")
    for cmd in ("status", "start", "stop", "scale", "scale_to",
                "maintenance", "autoscale", "events", "clusters", "ping",
                "version"):
        assert "\n  " + cmd in p.stdout


# --- Exit statuses --------------------------------------------------------

def test_no_socket_is_69(sockdir):
    path = os.path.join(sockdir, "absent.sock")
    p = run(["dev04", "status"], path)
    assert p.returncode == 69
    assert p.stderr == ("ec2ctl: cannot connect to %s: No such file or "
                        "directory (is ec2-managerd running?)\n" % path)


def test_connection_refused_is_69(sockdir):
    path = os.path.join(sockdir, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)         # bound, never listening: a daemon that died
    try:
        p = run(["dev04", "stop"], path)
    finally:
        s.close()
    assert p.returncode == 69
    assert "Connection refused (is ec2-managerd running?)" in p.stderr


def test_daemon_closing_mid_request_is_69(fake):
    d = fake(lambda req: [progress(req, "wait_idle", 0, 2, "waiting"),
                          CLOSE])
    p = run(["dev04", "stop"], d.path)
    assert p.returncode == 69
    assert "ec2ctl: the daemon closed the connection on %s before replying" \
        % d.path in p.stderr


def test_daemon_closing_before_second_reply_is_69(fake):
    d = fake(lambda req: [ok(req)] if req["id"] == 1 else [CLOSE])
    p = run(["dev04", "status", "stop"], d.path)
    assert p.returncode == 69
    assert len(d.requests) == 2


def test_refused_is_1(fake):
    d = fake(lambda req: [err(req, "busy", "stop is running on dev04 "
                              "(step wait_idle)")])
    p = run(["dev04", "scale", "up"], d.path)
    assert p.returncode == 1
    assert p.stderr == "ec2ctl: stop is running on dev04 (step wait_idle)\n"
    # Piped, the refusal is a JSON line too.
    assert json_lines(p.stdout) == [err(d.requests[0], "busy",
                                        "stop is running on dev04 "
                                        "(step wait_idle)")]
    p = run(["dev04", "scale", "up", "-f", "table"], d.path)
    assert p.returncode == 1 and p.stdout == ""


def test_permission_denied_reply_is_77(fake):
    d = fake(lambda req: [err(req, "permission_denied",
                              "uid 1000 may not run stop")])
    p = run(["dev04", "stop"], d.path)
    assert p.returncode == 77
    assert p.stderr == "ec2ctl: permission denied: uid 1000 may not run stop\n"


def test_bad_request_with_id_0_is_still_reported(fake):
    d = fake(lambda req: [{"id": 0, "ok": False, "error": {
        "code": "bad_request", "message": "invalid request: x"}}])
    p = run(["dev04", "stop"], d.path)
    assert p.returncode == 1
    assert p.stderr == "ec2ctl: invalid request: x\n"


@pytest.mark.parametrize("reply", [
    "this is not json",
    "[1,2]",
    '{"id":1}',
    '{"ok":true}',
    '{"id":1,"ok":"yes","result":{}}',
    '{"id":2,"ok":true,"result":{}}',
    '{"id":1,"id":1,"ok":true}',
])
def test_invalid_reply_is_1(fake, reply):
    d = fake(lambda req: [reply])
    p = run(["dev04", "status"], d.path)
    assert p.returncode == 1
    assert p.stderr.startswith("ec2ctl: invalid reply from the daemon")
    assert p.stdout == ""


def test_long_reply_is_read(fake):
    """A reply is as long as it needs (SPEC §3): longer than a request may
    be, as a large cluster's status is."""
    d = fake(lambda req: ['{"id":1,"ok":true,"result":{"x":"%s"}}'
                          % ("x" * 500000)])
    p = run(["-j", "dev04", "status"], d.path)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) > 500000


def test_overlong_reply_is_1(fake):
    """ec2ctl reads replies of up to 64 MiB; a longer line is refused."""
    d = fake(lambda req: ['{"id":1,"ok":true,"result":{"x":"%s"}}'
                          % ("x" * (64 * 1024 * 1024))])
    p = run(["dev04", "status"], d.path)
    assert p.returncode == 1
    assert "longer than 67108864 bytes" in p.stderr


def setpriv_prefix():
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def unprivileged_or_skip():
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    p = subprocess.run(setpriv_prefix() + [EC2CTL, "--help"],
                       capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        pytest.skip("uid 65534 cannot run %s" % EC2CTL)
    return setpriv_prefix()


@pytest.mark.parametrize("mode", [0o600, 0o000])
def test_socket_file_mode_is_77(fake, mode):
    prefix = unprivileged_or_skip()
    d = fake()
    os.chmod(d.path, mode)
    p = run(["dev04", "stop"], d.path, prefix=prefix)
    assert p.returncode == 77, p.stderr
    assert p.stderr == ("ec2ctl: permission denied: cannot connect to %s: "
                        "Permission denied\n" % d.path)
    d.sync()
    assert d.connections == 0


def test_interrupt_leaves_the_operation_running(fake):
    release = threading.Event()
    d = fake(lambda req: [lambda: release.wait(TIMEOUT), ok(req)])
    proc = subprocess.Popen([EC2CTL, "--socket", d.path, "dev04", "stop"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env())
    try:
        d.wait_requests(1)
        proc.send_signal(signal.SIGINT)
        out, errout = proc.communicate(timeout=TIMEOUT)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "interrupted; the operation goes on in the daemon" in errout


# --- Output ---------------------------------------------------------------

def test_json_prints_every_line_verbatim(fake):
    lines = [
        '{"id": 1, "event": "log", "level": "debug", "ts": '
        '"2026-11-26T05:04:51Z", "msg": "spaced out"}',
        '{"event":"progress","id":1,"step":"wait_running","done":1,'
        '"total":3,"msg":"keys in any order"}',
        '{"id":1,"event":"log","level":"info","ts":"2026-11-26T05:04:52Z",'
        '"msg":"unicode \\u00e9 stays escaped"}',
        '{"id":1,"event":"new_kind","x":[1,2]}',
        '{"result": {"message": "Started 2 workers"}, "ok": true, "id": 1}',
    ]
    d = fake(lambda req: list(lines))
    p = run(["-j", "-q", "dev04", "start", "-w", "2"], d.path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join(line + "\n" for line in lines)
    assert p.stderr == ""
    assert d.requests[0]["level"] == "warning"


def test_json_error_reply(fake):
    line = ('{"id":1,"ok":false,"error":{"code":"refused",'
            '"message":"admin is not running"}}')
    d = fake(lambda req: [line])
    p = run(["--json", "dev04", "stop"], d.path)
    assert p.returncode == 1
    assert p.stdout == line + "\n"


def test_json_chain(fake):
    d = fake(lambda req: [log(req, "info", "hi"), ok(req, {"n": req["id"]})])
    p = run(["-j", "dev04", "status", "events"], d.path)
    assert p.returncode == 0
    got = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(m["id"], "event" in m) for m in got] == [
        (1, True), (1, False), (2, True), (2, False)]


def test_log_events_off_a_terminal(fake):
    def script(req):
        return [log(req, "debug", "debug detail"),
                log(req, "info", "Starting 2 workers"),
                log(req, "warning", "max_workers reached",
                    ts="2026-11-26T05:04:52Z"),
                log(req, "error", "worker i-1 failed"),
                ok(req, {"message": "Started 2 workers"})]

    d = fake(script)
    p = run(["dev04", "start", "-w", "2", "-f", "table"], d.path)
    assert p.returncode == 0
    assert p.stdout == "Started 2 workers\n"
    assert p.stderr == ("2026-11-26T05:04:51Z info: Starting 2 workers\n"
                        "2026-11-26T05:04:52Z warning: max_workers reached\n"
                        "2026-11-26T05:04:51Z error: worker i-1 failed\n")
    # Piped without -f: every line as JSON on stdout, and the same text
    # for people on stderr.
    p = run(["-q", "dev04", "start", "-w", "2"], d.path)
    req = d.requests[-1]
    assert json_lines(p.stdout) == script(req)
    assert p.stderr == ("2026-11-26T05:04:52Z warning: max_workers reached\n"
                        "2026-11-26T05:04:51Z error: worker i-1 failed\n")
    p = run(["-d", "dev04", "start", "-w", "2"], d.path)
    assert p.stderr.splitlines()[0] == \
        "2026-11-26T05:04:51Z debug: debug detail"


def test_progress_off_a_terminal(fake):
    def script(req):
        return [progress(req, "wait_running", i, 3, "Waiting for workers")
                for i in range(4)] + [ok(req)]

    d = fake(script)
    p = run(["dev04", "scale", "up", "-w", "3", "-f", "table"], d.path)
    assert p.returncode == 0
    lines = p.stderr.splitlines()
    assert len(lines) == 4
    for i, line in enumerate(lines):
        assert re.fullmatch(TS_RE + r" wait_running %d/3: Waiting for "
                            r"workers" % i, line), line
    assert p.stdout == "dev04: scale done\n"


def test_progress_on_a_terminal(fake):
    def script(req):
        return [progress(req, "start", 0, 2, "starting"),
                progress(req, "start", 2, 2, "started"),
                progress(req, "wait_running", 1, 2, ""),
                ok(req)]

    d = fake(script)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([EC2CTL, "--socket", d.path, "dev04", "start"],
                                stdout=subprocess.PIPE, stderr=slave,
                                env=child_env())
        os.close(slave)
        slave = None
        err = b""
        while True:
            r, _, _ = select.select([master], [], [], TIMEOUT)
            assert r, "no output from ec2ctl"
            try:
                chunk = os.read(master, 4096)
            except OSError:      # EIO: every writer has closed the pty
                break
            if not chunk:
                break
            err += chunk
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    assert proc.returncode == 0
    # The pty turns "\n" into "\r\n".
    assert err == (b"\r\x1b[Kstart 0/2: starting\r\x1b[Kstart 2/2: started"
                   b"\r\n\r\x1b[Kwait_running 1/2\r\n")
    assert json_lines(out.decode()) == script(d.requests[0])


STATUS = {
    "cluster": "dev04", "instances_online": 5, "workers": 6,
    "workers_online": 2, "queued_jobs": 3, "queued_high_load_jobs": 2,
    "running_jobs": 4,
    "instances": [
        {"id": "i-0abc", "name": "dev04-admin", "state": "running",
         "maintenance": False, "mh_host": "http://10.0.1.10:8080",
         "role": "admin", "held": False, "uptime_s": 5400,
         "running_jobs": 1},
        {"id": "i-0w1", "name": "dev04-worker1", "state": "stopped",
         "maintenance": None, "mh_host": None, "role": "worker",
         "held": True, "uptime_s": None, "running_jobs": None},
    ],
    "autoscale": {"enabled": True, "reason": None, "last_decision": None,
                  "next_tick_s": 75},
    "ec2": {"ok": True, "error": None},
    "opencast": {"reachable": True, "error": None},
    "operation": None,
    "updated_at": "2026-11-26T05:04:51Z",
}


def test_status_is_json_off_a_terminal(fake):
    d = fake(lambda req: [ok(req, STATUS)])
    p = run(["dev04", "status"], d.path)
    assert p.returncode == 0
    assert p.stdout.count("\n") == 1
    assert json.loads(p.stdout) == {"id": 1, "ok": True, "result": STATUS}
    # -j, -f json and --json say the same, byte for byte.
    for argv in (["-j", "dev04", "status"], ["dev04", "status", "-f",
                                               "json"],
                 ["dev04", "status", "--json"]):
        assert run(argv, d.path).stdout == p.stdout, argv


def test_status_table(fake):
    d = fake(lambda req: [ok(req, STATUS)])
    p = run(["dev04", "status", "-f", "table"], d.path)
    assert p.returncode == 0
    out = p.stdout.splitlines()
    assert "Cluster:    dev04" in out
    assert "Workers:    2 online of 6" in out
    assert "Autoscale:  on, next tick in 1m15s" in out
    head = next(line for line in out if line.startswith("NAME"))
    assert head.split() == ["NAME", "ID", "ROLE", "STATE", "MAINT", "JOBS",
                            "UPTIME", "HELD", "HOST"]
    admin = next(line for line in out if line.startswith("dev04-admin"))
    assert admin.split() == ["dev04-admin", "i-0abc", "admin", "running",
                             "no", "1", "1h30m", "no",
                             "http://10.0.1.10:8080"]
    worker = next(line for line in out if line.startswith("dev04-worker1"))
    assert worker.split() == ["dev04-worker1", "i-0w1", "worker", "stopped",
                              "-", "-", "-", "yes", "-"]


def test_status_refresh_failure(fake):
    d = fake(lambda req: [err(req, "upstream", "EC2: RequestLimitExceeded")])
    p = run(["dev04", "status", "--refresh"], d.path)
    assert p.returncode == 1
    assert p.stderr == "ec2ctl: EC2: RequestLimitExceeded\n"


def read_lines(stream, n, timeout=TIMEOUT):
    """Reads n lines from a pipe, failing after timeout seconds."""
    lines = []
    done = threading.Event()

    def reader():
        for _ in range(n):
            line = stream.readline()
            if not line:
                break
            lines.append(line)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    assert done.wait(timeout), "got %r" % lines
    return lines


def test_status_watch_off_a_terminal(fake):
    def script(req):
        st = dict(STATUS, queued_jobs=req["id"])
        return [ok(req, st)]

    d = fake(script)
    proc = subprocess.Popen([EC2CTL, "--socket", d.path, "dev04", "status",
                             "--watch", "--refresh"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env())
    try:
        lines = read_lines(proc.stdout, 2)
        proc.send_signal(signal.SIGINT)
        rest, errout = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, errout
    assert [json.loads(line)["result"]["queued_jobs"]
            for line in lines] == [1, 2]
    reqs = d.requests
    assert [r["id"] for r in reqs] == list(range(1, len(reqs) + 1))
    assert all(r["args"] == {"refresh": True} for r in reqs)
    assert d.connections == 1


def test_status_watch_ends_when_the_daemon_goes(fake):
    d = fake(lambda req: [ok(req, STATUS)] if req["id"] == 1 else [CLOSE])
    p = run(["dev04", "status", "--watch"], d.path)
    assert p.returncode == 69
    assert p.stdout.count("\n") == 1


def test_clusters_events_ping_version(fake):
    def script(req):
        if req["cmd"] == "clusters":
            return [ok(req, {"clusters": [
                dict(STATUS, operation={"cmd": "stop", "step": "wait_idle",
                                        "started_at": "x"}),
                dict(STATUS, cluster="prod", workers=10, workers_online=8,
                     autoscale={"enabled": False,
                                "reason": "autoscale = off in the config",
                                "last_decision": None,
                                "next_tick_s": None})]})]
        if req["cmd"] == "events":
            # The shape daemon/events.c writes.
            return [ok(req, {"cluster": "dev04", "events": [
                {"seq": 7, "ts": "2026-11-26T05:00:00Z", "kind": "decision",
                 "level": "info", "msg": "no change: 0 queued high-load "
                 "jobs"},
                {"seq": 8, "ts": "2026-11-26T05:02:00Z", "kind": "operation",
                 "level": "info", "msg": "scale up 1: done",
                 "data": {"workers": 1}}]})]
        if req["cmd"] == "version":
            return [ok(req, {"version": "9.9.9", "protocol": 1})]
        if req["cmd"] == "ping":
            return [ok(req, {"pong": True})]
        return [ok(req)]

    d = fake(script)
    p = run(["clusters", "-f", "table"], d.path)
    assert p.returncode == 0
    assert [re.split(r"  +", line) for line in p.stdout.splitlines()] == [
        ["dev04", "5 online", "workers 2/6", "autoscale on",
         "stop (wait_idle)"],
        ["prod", "5 online", "workers 8/10",
         "autoscale off (autoscale = off in the config)", "no operation"]]
    p = run(["dev04", "events", "-n", "2", "-f", "table"], d.path)
    assert p.stdout == (
        "2026-11-26T05:00:00Z  decision   no change: 0 queued high-load "
        "jobs\n"
        "2026-11-26T05:02:00Z  operation  scale up 1: done\n")
    assert d.requests[-1]["args"] == {"n": 2}
    p = run(["ping", "-f", "table"], d.path)
    assert (p.returncode, p.stdout) == (0, "pong\n")
    p = run(["version", "-f", "table"], d.path)
    assert (p.returncode, p.stdout) == (0, "ec2-managerd 9.9.9\n")
    # Piped, each is its reply as one JSON line.
    for argv in (["clusters"], ["dev04", "events", "-n", "2"], ["ping"],
                 ["version"]):
        p = run(argv, d.path)
        got = json_lines(p.stdout)
        assert got == script(d.requests[-1]), argv
    p = run(["--version"], d.path)
    assert (p.returncode, p.stdout) == (0, "ec2ctl %s\nec2-managerd 9.9.9\n"
                                        % VERSION)


def test_version_without_a_daemon(sockdir):
    p = run(["--version"], os.path.join(sockdir, "absent.sock"))
    assert (p.returncode, p.stdout, p.stderr) == (0, "ec2ctl %s\n" % VERSION,
                                                  "")


def test_operation_summaries(fake):
    d = fake(lambda req: [ok(req)] if req["cmd"] != "autoscale" else [
        ok(req, {"decision": {"action": "none",
                              "reason": "no workers available to stop"}})])
    p = run(["--no-wait", "dev04", "stop", "-f", "table"], d.path)
    assert p.stdout == "dev04: stop accepted\n"
    p = run(["-n", "dev04", "maintenance", "on", "-f", "table"], d.path)
    assert p.stdout == "dev04: maintenance would succeed (dry run)\n"
    p = run(["dev04", "autoscale", "-f", "table"], d.path)
    assert p.stdout == "dev04: autoscale: none: no workers available to stop\n"


# --- Finding the socket ---------------------------------------------------

def test_socket_from_environment(fake):
    d = fake()
    p = run(["ping", "-f", "table"], env=child_env(EC2CTL_SOCKET=d.path))
    assert (p.returncode, p.stdout) == (0, "pong\n")
    assert d.requests == [request("ping", {}, cluster=None)]


def test_socket_option_beats_environment(fake, sockdir):
    d = fake()
    p = run(["ping", "-f", "table"], d.path, env=child_env(
        EC2CTL_SOCKET=os.path.join(sockdir, "wrong.sock")))
    assert (p.returncode, p.stdout) == (0, "pong\n")


def test_socket_environment_names_the_path(sockdir):
    path = os.path.join(sockdir, "from-env.sock")
    p = run(["ping"], env=child_env(EC2CTL_SOCKET=path))
    assert p.returncode == 69
    assert "cannot connect to %s:" % path in p.stderr


def test_default_socket_path():
    if os.path.exists("/run/ec2-manager/ctl.sock"):
        pytest.skip("a daemon's socket exists at the default path")
    p = run(["ping"])
    assert p.returncode == 69
    assert "cannot connect to /run/ec2-manager/ctl.sock:" in p.stderr


def test_socket_is_a_regular_file(sockdir):
    path = os.path.join(sockdir, "file")
    with open(path, "w"):
        pass
    assert stat.S_ISREG(os.stat(path).st_mode)
    p = run(["ping"], path)
    assert p.returncode == 69


# --- One JSON shape (issue 14) ----------------------------------------------

@pytest.mark.parametrize("argv,cmd,args", SHAPES,
                         ids=[" ".join(s[0]) for s in SHAPES])
def test_piped_output_is_json_lines_as_with_j(fake, argv, cmd, args):
    """Every command, piped: each line the daemon sent as one JSON object
    on stdout, events then the reply, exactly what -j prints."""
    def script(req):
        return [log(req, "info", "working"),
                progress(req, "step", 1, 1, "half"),
                ok(req, {"message": "done", "n": req["id"]})]

    d = fake(script)
    piped = run(argv, d.path)
    j = run(["-j"] + argv, d.path)
    assert piped.returncode == j.returncode == 0, piped.stderr
    assert piped.stdout == j.stdout
    assert json_lines(piped.stdout) == script(d.requests[0])
    # People still see the events on stderr when piped; -j is JSON alone.
    assert "info: working" in piped.stderr
    assert j.stderr == ""


def test_chain_and_error_are_json_lines(fake):
    def script(req):
        if req["cmd"] == "scale":
            return [log(req, "warning", "checking"),
                    err(req, "refused", "min workers")]
        return [ok(req)]

    d = fake(script)
    p = run(["dev04", "status", "scale", "down", "stop"], d.path)
    assert p.returncode == 1
    got = json_lines(p.stdout)
    assert [(m["id"], m.get("ok")) for m in got] == [
        (1, True), (2, None), (2, False)]
    assert got[-1]["error"] == {"code": "refused", "message": "min workers"}
    assert p.stderr.endswith("ec2ctl: min workers\n")


def test_table_when_asked(fake):
    d = fake(lambda req: [ok(req, STATUS)])
    p = run(["dev04", "status", "-f", "table"], d.path)
    assert p.stdout.startswith("Cluster:    dev04\n")
    # -j wins over a command's -f.
    p = run(["-j", "dev04", "status", "-f", "table"], d.path)
    assert json.loads(p.stdout)["result"] == STATUS


# --- Help, offline (issue 14) -----------------------------------------------

@pytest.mark.parametrize("argv,head", [
    (["help"], "usage: ec2ctl [OPTIONS] CLUSTER COMMAND"),
    (["--help"], "usage: ec2ctl [OPTIONS] CLUSTER COMMAND"),
    (["help", "status"], "usage: ec2ctl [OPTIONS] CLUSTER status "
     "[--refresh] [--watch] [--all]\n\nShow a cluster's state.\n"),
    (["status", "--help"], "usage: ec2ctl [OPTIONS] CLUSTER status "),
    (["dev04", "status", "--help"], "usage: ec2ctl [OPTIONS] CLUSTER "
     "status "),
    (["help", "events"], "usage: ec2ctl [OPTIONS] CLUSTER events [-n N] "
     "[--follow]\n"),
    (["help", "scale-to"], "usage: ec2ctl [OPTIONS] CLUSTER scale_to N\n"),
    (["help", "clusters"], "usage: ec2ctl [OPTIONS] clusters\n"),
    (["dev04", "scale", "--help"], "usage: ec2ctl [OPTIONS] CLUSTER scale "
     "up|down [-w N]\n"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_help_is_offline(sockdir, argv, head):
    absent = os.path.join(sockdir, "absent.sock")
    p = run(argv, absent)
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    assert p.stdout.startswith(head), p.stdout
    assert "Exit status: 0 success" in p.stdout
    assert not os.path.exists(absent)


def test_help_of_each_command_comes_from_the_protocol():
    """Every command of common/commands.def has its help, which starts
    with its summary from there."""
    with open(os.path.join(ROOT, "common", "commands.def")) as f:
        cmds = re.findall(r'^CMD\(\w+,\s*"(\w+)",[^"]*"(.*)"\)$', f.read(),
                          re.M)
    assert len(cmds) >= 12
    main = run(["help"]).stdout
    for name, summary in cmds:
        assert re.search(r"^  %s\b" % name, main, re.M), name
        p = run(["help", name])
        assert p.returncode == 0, name
        assert p.stdout.split("\n")[2] == \
            summary[0].upper() + summary[1:] + ".", p.stdout
        assert "Options of %s:" % name in p.stdout
        assert all(len(line) <= 80 for line in p.stdout.splitlines()), name


def test_help_errors_are_usage_errors(fake):
    d = fake()
    for argv in (["help", "frobnicate"], ["help", "status", "stop"]):
        p = run(argv, d.path)
        assert p.returncode == 2 and p.stderr.startswith("ec2ctl: ")
    d.sync()
    assert d.connections == 0


# --- Colours (issue 14) -----------------------------------------------------

def run_on_pty(argv, env):
    """Runs ec2ctl with stdout on a pty; returns (rc, what it printed)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([EC2CTL] + argv, stdout=slave,
                                stderr=subprocess.PIPE, env=env)
        os.close(slave)
        slave = None
        out = b""
        while True:
            r, _, _ = select.select([master], [], [], TIMEOUT)
            assert r, "no output from ec2ctl"
            try:
                chunk = os.read(master, 4096)
            except OSError:      # EIO: every writer has closed the pty
                break
            if not chunk:
                break
            out += chunk
        proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    return proc.returncode, out


def test_colours_on_a_terminal_only(fake):
    st = dict(STATUS, ec2={"ok": False, "error": "throttled"})
    d = fake(lambda req: [ok(req, st)])
    argv = ["--socket", d.path, "dev04", "status"]
    env = {k: v for k, v in child_env(TERM="xterm").items()
           if k != "NO_COLOR"}
    rc, out = run_on_pty(argv, env)
    assert rc == 0
    assert b"\x1b[31mfailing\x1b[0m: throttled" in out
    assert b"\x1b[32mrunning\x1b[0m" in out
    for value in ("1", "yes"):
        rc, out = run_on_pty(argv, dict(env, NO_COLOR=value))
        assert rc == 0 and b"EC2:        failing: throttled" in out
        assert b"\x1b[3" not in out
    # An empty NO_COLOR does not count (no-color.org).
    rc, out = run_on_pty(argv, dict(env, NO_COLOR=""))
    assert b"\x1b[31m" in out
    # Never when piped, even with -f table.
    p = run(["dev04", "status", "-f", "table"], d.path, env=env)
    assert "\x1b" not in p.stdout + p.stderr


# --- events --follow against the fake ---------------------------------------

def entry(req, seq, msg, kind="decision", level="info"):
    return {"id": req["id"], "event": "entry", "seq": seq,
            "ts": "2026-11-26T05:0%d:00Z" % (seq % 10), "kind": kind,
            "level": level, "msg": msg}


def test_follow_until_interrupted(fake):
    more = threading.Event()

    def script(req):
        return [entry(req, 1, "old"), entry(req, 2, "older news"),
                lambda: more.wait(TIMEOUT), entry(req, 3, "new"),
                lambda: threading.Event().wait(TIMEOUT)]

    d = fake(script)
    proc = subprocess.Popen([EC2CTL, "--socket", d.path, "dev04", "events",
                             "--follow", "-n", "2", "-f", "table"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env())
    try:
        first = read_lines(proc.stdout, 2)
        more.set()
        third = read_lines(proc.stdout, 1)
        proc.send_signal(signal.SIGINT)
        rest, errout = proc.communicate(timeout=TIMEOUT)
    finally:
        more.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, errout
    assert [line.split(None, 2)[2] for line in first + third] == [
        "old\n", "older news\n", "new\n"]
    assert d.requests[0]["args"] == {"n": 2, "follow": True}


def test_follow_ends_when_the_daemon_says_so(fake):
    def script(req):
        return [entry(req, 1, "a"),
                {"id": req["id"], "event": "lost", "count": 4,
                 "msg": "4 events left out: the client read too slowly"},
                entry(req, 6, "b"),
                ok(req, {"cluster": "dev04",
                         "end": "the cluster is no longer managed"})]

    d = fake(script)
    p = run(["dev04", "events", "--follow", "-f", "table"], d.path)
    assert p.returncode == 0
    assert len(p.stdout.splitlines()) == 2
    assert p.stderr == ("warning: 4 events left out: the client read too "
                        "slowly\nec2ctl: dev04: no more events: the cluster "
                        "is no longer managed\n")
    p = run(["dev04", "events", "--follow"], d.path)
    assert json_lines(p.stdout) == script(d.requests[-1])
