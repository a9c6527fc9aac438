"""ec2-managerd under systemd's protocols, without systemd: socket
activation through systemd-socket-activate, the sd_notify messages on a
NOTIFY_SOCKET that the test owns, the journal's native protocol on a
datagram socket bind-mounted over /run/systemd/journal/socket in a private
mount namespace, the readable and secret-free stderr fallback, and the bash
completion.  What `meson install` puts where, checked with systemd-analyze,
systemd-sysusers and systemd-tmpfiles, is in test_install.py."""
import base64
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid

import pytest

from conftest import (DAEMON, EC2CTL, OC_PASSWORD, OC_USER, ROOT,
                      cluster_ec2_seed, ctl_request, wait_for)

SSA = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"
COMPLETION = os.path.join(ROOT, "etc", "bash-completion", "ec2ctl")
LINE_RE = re.compile(r"^ec2-managerd: (emerg|alert|crit|err|warning|notice|"
                     r"info|debug): \S")


def start_as(d, argv, env=None, wait_refresh=True):
    """Starts the daemon of Daemon d with another command line (a wrapper
    in front of it), as Daemon.start does; d.stop() still ends it."""
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen(argv, env=env or d.env, stdout=d.log,
                              stderr=subprocess.STDOUT)
    wait_for(lambda: d.proc.poll() is not None or d.answers(),
             what="daemon socket")
    assert d.proc.poll() is None, d.read_log()
    if wait_refresh:
        for name in d.cluster_names():
            wait_for(lambda: d.status(name)["updated_at"],
                     what="first refresh of " + name)
    return d


def unshare_works():
    try:
        return subprocess.run(["unshare", "-m", "--propagation", "private",
                               "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# Socket activation.

@pytest.mark.skipif(not os.access(SSA, os.X_OK),
                    reason="no systemd-socket-activate")
def test_socket_activation(linked_sims, daemon_factory, public_dir):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       daemon_conf=["socket_group = nogroup"])
    own_socket = d.socket
    act = os.path.join(public_dir, "act.sock")
    d.socket = act
    # systemd-socket-activate hands the child only a few variables of its
    # own; the rest must be named.
    argv = [SSA, "-l", act]
    for k, v in sorted(d.env.items()):
        argv += ["-E", "%s=%s" % (k, v)]
    argv += [DAEMON, "-c", str(d.conf)]
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen(argv, env=d.env, stdout=d.log,
                              stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists(act) or d.proc.poll() is not None,
             what="activation socket")
    assert d.proc.poll() is None, d.read_log()
    # The first connection starts the daemon, which answers it on the
    # socket it was given.
    try:
        r = ctl_request(act, {"v": 1, "id": 3, "cmd": "ping"}, timeout=30)
    except OSError as e:
        raise AssertionError("%s; the daemon's log:\n%s" %
                             (e, d.read_log()))
    assert r[-1] == {"id": 3, "ok": True, "result": {"pong": True}}
    wait_for(lambda: d.status("dev04")["updated_at"], what="first refresh")
    assert "serving the socket passed by systemd" in d.read_log()
    assert not os.path.exists(own_socket), "bound its own socket as well"

    p = d.ctl("clusters", "-f", "table")
    assert p.returncode == 0, p.stderr
    assert "dev04" in p.stdout.split()
    p = d.ctl("-j", "dev04", "status")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["result"]["workers"] == 6

    # socket_group still decides who may change clusters, although the
    # daemon did not make the socket.
    if shutil.which("setpriv"):
        os.chmod(act, 0o666)
        code = ("import json,socket,sys\n"
                "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
                "s.sendall((json.dumps({'v':1,'id':1,'cmd':'stop',"
                "'cluster':'dev04','dry_run':True})+'\\n').encode())\n"
                "print(s.makefile('rb').readline().decode())\n")
        nogroup = subprocess.run(["getent", "group", "nogroup"],
                                 capture_output=True, text=True)
        gid = int(nogroup.stdout.split(":")[2])
        for group, allowed in ((gid, True), (gid - 1, False)):
            p = subprocess.run(["setpriv", "--reuid=65534",
                                "--regid=%d" % group, "--clear-groups",
                                "/usr/bin/python3", "-c", code, act],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr
            reply = json.loads(p.stdout)
            denied = reply.get("error", {}).get("code") == \
                "permission_denied"
            assert denied is not allowed, (group, reply)

    assert d.stop() == 0
    # The path belongs to the socket unit: the daemon leaves it alone.
    assert os.path.exists(act)


def test_socket_activation_rejects_unknown_socket_group(
        linked_sims, daemon_factory, tmp_path):
    if not os.access(SSA, os.X_OK):
        pytest.skip("no systemd-socket-activate")
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       daemon_conf=["socket_group = no-such-group-ec2m"])
    act = str(tmp_path / "act.sock")
    argv = [SSA, "-l", act]
    for k, v in sorted(d.env.items()):
        argv += ["-E", "%s=%s" % (k, v)]
    with open(d.log_path, "ab") as log:
        proc = subprocess.Popen(argv + [DAEMON, "-c", str(d.conf)],
                                env=d.env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: os.path.exists(act), what="activation socket")
            s = socket.socket(socket.AF_UNIX)
            s.connect(act)
            assert proc.wait(30) == 1
            s.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert 'socket_group "no-such-group-ec2m" does not exist' in \
        d.log_path.read_text()


# sd_notify.

class NotifyListener:
    """A datagram socket in the abstract namespace standing in for
    systemd's NOTIFY_SOCKET; a thread collects what arrives."""

    def __init__(self):
        self.name = "ec2m-test-notify-" + uuid.uuid4().hex
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.messages = []
        self.lock = threading.Lock()
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "@" + self.name

    def _run(self):
        while True:
            r, _, _ = select.select([self.sock, self.stop_r], [], [])
            if self.stop_r in r:
                return
            data = self.sock.recv(65536)
            with self.lock:
                self.messages.append((time.monotonic(),
                                      data.decode().split("\n")))

    def all(self):
        with self.lock:
            return list(self.messages)

    def lines(self, since=0):
        return [l for _, m in self.all()[since:] for l in m if l]

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join(5)
        self.sock.close()
        os.close(self.stop_r)
        os.close(self.stop_w)


@pytest.fixture
def notify():
    n = NotifyListener()
    yield n
    n.close()


def test_notify_ready_status_watchdog_reload_stop(linked_sims,
                                                  daemon_factory, notify):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       extra_env={"NOTIFY_SOCKET": notify.address,
                                  "WATCHDOG_USEC": "400000"}).start()
    wait_for(lambda: "READY=1" in notify.lines(), what="READY=1")
    # STATUS= follows the first refresh: 2 of the 6 workers run.
    wait_for(lambda: "STATUS=1 cluster, 2/6 workers online" in
             notify.lines(), what="STATUS with workers online")
    assert all(l.startswith("STATUS=") or l in ("READY=1", "WATCHDOG=1")
               for l in notify.lines()), notify.lines()

    # Pings every 200 ms from the loop: at least 3 more within a bound.
    def pings():
        return [t for t, m in notify.all() if "WATCHDOG=1" in m]
    n0 = len(pings())
    wait_for(lambda: len(pings()) >= n0 + 3, timeout=10,
             what="3 WATCHDOG=1 pings")
    gaps = [b - a for a, b in zip(pings(), pings()[1:])]
    # Never more than a whole watchdog period apart (generous for ASan).
    assert max(gaps) < 0.4 * 5, gaps
    assert "watchdog: pinging systemd every 200 ms" in d.read_log()

    # SIGHUP: RELOADING=1 with the monotonic time, then READY=1.
    mark = len(notify.all())
    before = time.monotonic_ns() // 1000
    d.signal(signal.SIGHUP)
    wait_for(lambda: "READY=1" in notify.lines(mark), what="READY after "
             "reload")
    msgs = [m for _, m in notify.all()[mark:]]
    reloading = [m for m in msgs if "RELOADING=1" in m]
    assert len(reloading) == 1
    usec = [l for l in reloading[0] if l.startswith("MONOTONIC_USEC=")]
    assert len(usec) == 1
    # CLOCK_MONOTONIC, as Python's time.monotonic() on Linux.
    assert before <= int(usec[0].split("=", 1)[1]) <= \
        time.monotonic_ns() // 1000
    assert msgs.index(reloading[0]) < \
        next(i for i, m in enumerate(msgs) if "READY=1" in m)

    # SIGTERM: STOPPING=1, then exit 0 with every handle closed.
    mark = len(notify.all())
    assert d.stop() == 0, d.read_log()
    # Sent before the exit; the listener thread may not have read it yet.
    wait_for(lambda: "STOPPING=1" in notify.lines(mark), timeout=5,
             what="STOPPING=1")


def test_no_watchdog_pings_for_another_pid(linked_sims, daemon_factory,
                                           notify):
    """WATCHDOG_PID names the process that is watched; a daemon that
    merely inherited the variables stays quiet, but keeps STATUS=."""
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       extra_env={"NOTIFY_SOCKET": notify.address,
                                  "WATCHDOG_USEC": "400000",
                                  "WATCHDOG_PID": "1"}).start()
    wait_for(lambda: "READY=1" in notify.lines(), what="READY=1")
    # Five watchdog periods of silence, measured from READY.
    ready_at = next(t for t, m in notify.all() if "READY=1" in m)
    wait_for(lambda: time.monotonic() > ready_at + 1.0, what="1 s")
    assert "WATCHDOG=1" not in notify.lines()
    assert any(l.startswith("STATUS=") for l in notify.lines())
    assert "watchdog" not in d.read_log()


# The journal.

def parse_native(data):
    """One datagram of journald's native protocol: "NAME=value\\n", or
    "NAME\\n" + 64-bit little-endian length + value + "\\n"."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        eq = data.find(b"=", i, nl)
        if eq >= 0:
            name, value = data[i:eq], data[eq + 1:nl]
            i = nl + 1
        else:
            name = data[i:nl]
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            value = data[nl + 9:nl + 9 + n]
            assert data[nl + 9 + n:nl + 10 + n] == b"\n"
            i = nl + 10 + n
        assert re.fullmatch(rb"[A-Z0-9_]+", name), name
        assert name.decode() not in fields, "field %s twice" % name
        fields[name.decode()] = value.decode()
    return fields


MARKER = "-- test marker --"


class JournalSink:
    """A directory to bind-mount over /run in a private mount namespace,
    with a datagram socket at systemd/journal/socket that a thread
    reads."""

    def __init__(self, tmp_path):
        self.run_dir = tmp_path / "run"
        jdir = self.run_dir / "systemd" / "journal"
        jdir.mkdir(parents=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(str(jdir / "socket"))
        self.entries = []
        self.lock = threading.Lock()
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            r, _, _ = select.select([self.sock, self.stop_r], [], [])
            if self.stop_r in r:
                return
            data, anc, _, _ = self.sock.recvmsg(1 << 20,
                                                socket.CMSG_SPACE(16))
            # A message too large for a datagram comes as a memfd.
            for level, kind, fdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fd = struct.unpack("i", fdata[:4])[0]
                    with os.fdopen(fd, "rb") as f:
                        data = f.read()
            with self.lock:
                self.entries.append(parse_native(data))

    def all(self):
        with self.lock:
            return [e for e in self.entries if e.get("MESSAGE") != MARKER]

    def flush(self):
        """Returns once everything sent so far has been read: datagrams
        on a Unix socket arrive in order, so a marker of our own comes
        after them."""
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.sendto(b"MESSAGE=" + MARKER.encode() + b"\n",
                 str(self.run_dir / "systemd" / "journal" / "socket"))
        c.close()
        wait_for(lambda: any(e.get("MESSAGE") == MARKER
                             for e in self.entries), what="journal marker")
        with self.lock:
            self.entries = [e for e in self.entries
                            if e.get("MESSAGE") != MARKER]

    def wrap(self, argv):
        """argv run with our socket as /run/systemd/journal/socket."""
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /run && exec "$@"', str(self.run_dir)] + \
            list(argv)

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join(5)
        self.sock.close()
        os.close(self.stop_r)
        os.close(self.stop_w)


@pytest.fixture
def journal(tmp_path):
    if not unshare_works():
        pytest.skip("cannot make a private mount namespace here "
                    "(unshare -m needs CAP_SYS_ADMIN)")
    j = JournalSink(tmp_path)
    yield j
    j.close()


def journal_stream_of(f):
    st = os.fstat(f.fileno())
    return "%d:%d" % (st.st_dev, st.st_ino)


def test_journal_fields(linked_sims, daemon_factory, journal):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       extra_env={"OPENCAST_PASSWORD": "wrong-password"})
    # Like systemd: stdout and stderr are "the journal stream", and
    # JOURNAL_STREAM names it.
    d.log = open(d.log_path, "ab")
    env = dict(d.env, JOURNAL_STREAM=journal_stream_of(d.log))
    d.log.close()
    start_as(d, journal.wrap([DAEMON, "-c", str(d.conf)]), env=env)

    def find(pred):
        return [e for e in journal.all() if pred(e)]
    wait_for(lambda: find(lambda e: e["MESSAGE"].startswith("ready: ")),
             what="the ready message in the journal")
    wait_for(lambda: find(lambda e: "refresh failed" in e["MESSAGE"]),
             what="a cluster's warning in the journal")
    # A cluster added by a reload is announced with its cluster field.
    d.conf.write_text(d.conf.read_text() + "\n[cluster prod]\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: find(lambda e: e["MESSAGE"] == "now managed"),
             what="the new cluster in the journal")

    for e in journal.all():
        for f in ("MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE",
                  "CODE_LINE"):
            assert f in e, (f, e)
        assert e["SYSLOG_IDENTIFIER"] == "ec2-managerd"
        assert e["PRIORITY"] in "01234567" and len(e["PRIORITY"]) == 1
        assert e["CODE_FILE"].endswith(".c") and int(e["CODE_LINE"]) > 0
        # Fields without a value are left out, never sent empty.
        for f in ("EC2M_CLUSTER", "EC2M_OP", "EC2M_INSTANCE", "EC2M_EVENT"):
            assert e.get(f, "x") != "", (f, e)
        assert set(e) <= {"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER",
                          "CODE_FILE", "CODE_LINE", "EC2M_CLUSTER",
                          "EC2M_OP", "EC2M_INSTANCE", "EC2M_EVENT",
                          "MESSAGE_ID"}, e
        # A key event has its catalog id, and only a key event.
        assert ("EC2M_EVENT" in e) == ("MESSAGE_ID" in e), e

    (ready,) = find(lambda e: e["MESSAGE"].startswith("ready: "))
    assert ready["PRIORITY"] == "6" and "EC2M_CLUSTER" not in ready
    assert ready["CODE_FILE"].endswith("daemon/main.c")
    warn = find(lambda e: "refresh failed" in e["MESSAGE"])[0]
    assert warn["PRIORITY"] == "4"
    assert warn["EC2M_CLUSTER"] == "dev04"
    # The message itself does not repeat the cluster as stderr does.
    assert not warn["MESSAGE"].startswith("[dev04]")
    (added,) = find(lambda e: e["MESSAGE"] == "now managed")
    assert added["EC2M_CLUSTER"] == "prod" and added["PRIORITY"] == "5"
    # The reload is a key event (test_journal_fields.py has them all).
    (reloaded,) = wait_for(lambda: find(lambda e: e["MESSAGE"].startswith(
        "configuration reloaded")), what="the reload in the journal")
    assert reloaded["EC2M_EVENT"] == "reload_accepted"
    assert reloaded["MESSAGE_ID"] == "1421dae3ad2143e6a2012cf9583ce20f"
    # log_level = debug (the test config) lets debug messages through.
    assert find(lambda e: e["PRIORITY"] == "7")

    # Everything went to the journal, nothing to stderr.
    assert d.stop() == 0
    journal.flush()
    assert not [l for l in d.read_log().splitlines()
                if l.startswith("ec2-managerd:")], d.read_log()
    assert find(lambda e: e["MESSAGE"] == "shutting down")
    for e in journal.all():
        assert "wrong-password" not in json.dumps(e)


def test_journal_level_filter(linked_sims, daemon_factory, journal):
    """[daemon] log_level filters the journal as it does stderr."""
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       daemon_conf=["log_level = notice"],
                       extra_env={"EC2M_LOG_JOURNAL": "1"})
    start_as(d, journal.wrap([DAEMON, "-c", str(d.conf)]))
    d.conf.write_text(d.conf.read_text() + "\n[cluster prod]\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: [e for e in journal.all()
                      if e["MESSAGE"] == "now managed"], what="notice")
    assert d.stop() == 0
    journal.flush()
    prios = {int(e["PRIORITY"]) for e in journal.all()}
    assert prios and max(prios) <= 5, prios


def test_ctl_never_uses_the_journal(journal, tmp_path):
    """Even told to, ec2ctl writes its messages to stderr."""
    log = open(tmp_path / "ctl.err", "wb")
    env = dict(os.environ, EC2M_LOG_JOURNAL="1",
               JOURNAL_STREAM=journal_stream_of(log))
    p = subprocess.run(journal.wrap([EC2CTL, "--socket",
                                     str(tmp_path / "none.sock"), "ping"]),
                       env=env, stdout=subprocess.PIPE, stderr=log,
                       timeout=30)
    log.close()
    err = (tmp_path / "ctl.err").read_text()
    assert p.returncode == 69
    assert err.startswith("ec2ctl: ") and "none.sock" in err
    journal.flush()
    assert journal.all() == []


# Secrets and the stderr fallback.

OC_BAD_PASSWORD = "Pw-9f3kZq!not-the-right-one"
AWS_BAD_SECRET = "k2Jd/8QmZ+wrongSecretKeyForTheTest/0000"


@pytest.mark.parametrize("failing", ["opencast", "ec2"])
def test_stderr_lines_are_readable_and_secret_free(linked_sims,
                                                   daemon_factory, failing):
    ec2, oc = linked_sims()
    env = {"EC2M_LOG_JOURNAL": "0"}
    secrets = []
    if failing == "opencast":
        env["OPENCAST_PASSWORD"] = OC_BAD_PASSWORD
        secrets += [OC_BAD_PASSWORD, OC_PASSWORD]
        creds = "%s:%s" % (OC_USER, OC_BAD_PASSWORD)
    else:
        env["AWS_SECRET_ACCESS_KEY"] = AWS_BAD_SECRET
        secrets += [AWS_BAD_SECRET, OC_PASSWORD]
        creds = "%s:%s" % (OC_USER, OC_PASSWORD)
    # Basic authentication would carry them in base64.
    secrets.append(base64.b64encode(creds.encode()).decode())
    d = daemon_factory(ec2, oc, {"dev04": []}, extra_env=env).start()

    r = d.request("status", "dev04", {"refresh": True})
    assert r["ok"] is False and r["error"]["code"] == "upstream", r
    wait_for(lambda: "refresh failed" in d.read_log(), what="the failure "
             "in the log")
    st = d.status("dev04")
    ev = d.request("events", "dev04", {"n": 50})
    if failing == "opencast":
        assert st["opencast"]["reachable"] is False
    else:
        assert st["ec2"]["ok"] is False
    assert d.stop() == 0
    log = d.read_log()

    lines = log.splitlines()
    assert lines
    for line in lines:
        assert LINE_RE.match(line), "unreadable line: %r" % line
    warn = [l for l in lines if "refresh failed" in l]
    assert warn[0].startswith("ec2-managerd: warning: [dev04] refresh "
                              "failed: %s" % ("Opencast" if failing ==
                                              "opencast" else "EC2"))
    for text in (log, json.dumps(r), json.dumps(st), json.dumps(ev)):
        for s in secrets:
            assert s not in text


# Bash completion.

def complete(words, env):
    """COMPREPLY of _ec2ctl for the command line words, the last one
    being completed."""
    script = ('source /usr/share/bash-completion/bash_completion 2>/dev/null'
              '\nsource "$1"; shift\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))\n'
              'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}\n'
              '_ec2ctl ec2ctl "${COMP_WORDS[COMP_CWORD]}" '
              '"${COMP_WORDS[COMP_CWORD-1]}"\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    p = subprocess.run(["bash", "-c", script, "bash", COMPLETION] + words,
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return sorted(l for l in p.stdout.splitlines() if l)


def test_bash_completion(linked_sims, daemon_factory, tmp_path):
    ec2, oc = linked_sims(clusters=[cluster_ec2_seed("dev04"),
                                    cluster_ec2_seed("prod")])
    d = daemon_factory(ec2, oc, {"dev04": [], "prod": []}).start()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(EC2CTL, bindir / "ec2ctl")
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]))
    env.pop("EC2CTL_SOCKET", None)
    s = d.socket

    assert complete(["ec2ctl", "--socket", s, ""], env) == \
        ["clusters", "dev04", "help", "ping", "prod", "version"]
    assert complete(["ec2ctl", "--socket", s, "d"], env) == ["dev04"]
    env_sock = dict(env, EC2CTL_SOCKET=s)
    assert complete(["ec2ctl", "-n", "p"], env_sock) == \
        ["ping", "prod"]
    # No daemon: only the commands.
    assert complete(["ec2ctl", "--socket", s + ".none", ""], env) == \
        ["clusters", "help", "ping", "version"]
    assert "--dry-run" in complete(["ec2ctl", "--"], env)
    assert "--socket" in complete(["ec2ctl", "--"], env)
    assert complete(["ec2ctl", "dev04", "sc"], env) == \
        ["scale", "scale-to", "scale_to"]
    assert complete(["ec2ctl", "dev04", "scale", ""], env) == ["down", "up"]
    assert complete(["ec2ctl", "dev04", "scale", "up", "-"], env) == \
        ["--format", "--help", "--json", "--workers", "-f", "-h", "-j", "-w"]
    assert complete(["ec2ctl", "dev04", "status", "-f", ""], env) == \
        ["json", "table"]
    assert "--refresh" in complete(["ec2ctl", "dev04", "status", "--"], env)
    assert complete(["ec2ctl", "dev04", "maintenance", ""], env) == \
        ["off", "on"]
    assert complete(["ec2ctl", "dev04", "events", "-"], env) == \
        ["--count", "--follow", "--format", "--help", "--json", "-f", "-h",
         "-j", "-n"]
    # Every command's output format; help on any command, offline.
    assert complete(["ec2ctl", "dev04", "stop", "-f", ""], env) == \
        ["json", "table"]
    assert complete(["ec2ctl", "help", "sta"], env) == ["start", "status"]
    assert complete(["ec2ctl", "help", "status", ""], env) == []
    # After a complete command comes the next one.
    assert "status" in complete(["ec2ctl", "dev04", "maintenance", "on",
                                 ""], env)
    assert {"pause", "resume", "status"} <= \
        set(complete(["ec2ctl", "dev04", "autoscale", ""], env))
    assert complete(["ec2ctl", "dev04", "scale_to", ""], env) == []
    assert complete(["ec2ctl", "clusters", ""], env) == \
        ["clusters", "ping", "version"]


# What `meson install` puts where, and systemd's own tools on the installed
# units and snippets: tests/integration/test_install.py.
