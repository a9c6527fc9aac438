"""The real ec2ctl against the real ec2-managerd and the emulators."""
import json
import os
import re
import shutil

import pytest

from conftest import clean_env, wait_for


@pytest.fixture
def running(linked_sims, daemon_factory, public_dir):
    ec2, oc = linked_sims()
    wait_for(lambda: len([h for h in oc.ctl("GET", "state")["hosts"]
                          if h["online"]]) == 4, what="hosts registered")
    d = daemon_factory(ec2, oc, {"dev04": []}, socket_dir=public_dir)
    return ec2, oc, d.start()


def test_status_json_matches_emulators(running):
    ec2, oc, d = running
    # Nothing moves while the test compares: dispatching is paused.
    oc.ctl("POST", "settings", {"dispatch": False})
    worker = [h["base_url"] for h in oc.ctl("GET", "state")["hosts"]
              if h["role"] == "worker"][0]
    oc.ctl("POST", "jobs", {"type": "org.opencastproject.composer",
                            "count": 2, "duration_s": 600,
                            "status": "RUNNING", "host": worker})
    oc.ctl("POST", "jobs", {"type": "org.opencastproject.inspection",
                            "count": 3})
    p = d.ctl("dev04", "status", "--refresh", "-f", "json")
    assert p.returncode == 0, p.stderr
    st = json.loads(p.stdout)["result"]
    sim = {i["id"]: i for i in ec2.ctl("GET", "instances")}
    assert {i["id"]: i["state"] for i in st["instances"]} == \
        {i: v["state"] for i, v in sim.items()}
    jobs = oc.ctl("GET", "state")["jobs"]
    assert st["running_jobs"] == sum(1 for j in jobs
                                     if j["status"] == "RUNNING")
    assert st["queued_jobs"] == sum(1 for j in jobs
                                    if j["status"] in ("QUEUED", "RESTART"))
    assert (st["running_jobs"], st["queued_jobs"]) == (2, 3)
    busy = [i for i in st["instances"] if i["mh_host"] == worker]
    assert busy[0]["running_jobs"] == 2


def test_status_table_lists_every_instance(running):
    ec2, oc, d = running
    p = d.ctl("dev04", "status", "-f", "table")
    assert p.returncode == 0, p.stderr
    for inst in ec2.ctl("GET", "instances"):
        line = [l for l in p.stdout.splitlines() if inst["id"] in l]
        assert len(line) == 1, inst["id"]
        assert inst["name"] in line[0] and inst["state"] in line[0]
    assert "Workers:    2 online of 6" in p.stdout


def test_not_a_terminal_means_json(running):
    ec2, oc, d = running
    p = d.ctl("dev04", "status")
    assert p.returncode == 0
    reply = json.loads(p.stdout)
    assert (reply["id"], reply["ok"]) == (1, True)
    assert reply["result"]["cluster"] == "dev04"
    # clusters and events too: the daemon's reply line.
    for args in (["clusters"], ["dev04", "events", "-n", "3"]):
        p = d.ctl(*args)
        assert p.returncode == 0, p.stderr
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        assert lines[-1]["ok"] is True, args
        j = [json.loads(l) for l in d.ctl("-j", *args).stdout.splitlines()]
        assert [sorted(m) for m in j] == [sorted(m) for m in lines], args


def test_clusters_events_and_chaining(running):
    ec2, oc, d = running
    p = d.ctl("clusters", "-f", "table")
    assert p.returncode == 0 and p.stdout.startswith("dev04")
    p = d.ctl("-j", "dev04", "status", "events", "-n", "5")
    assert p.returncode == 0
    replies = [json.loads(l) for l in p.stdout.splitlines()]
    assert [r["id"] for r in replies] == [1, 2]
    assert all(r["ok"] for r in replies)


def test_exit_codes(running, tmp_path):
    ec2, oc, d = running
    assert d.ctl("nope", "status").returncode == 1
    assert "no cluster \"nope\"" in d.ctl("nope", "status").stderr
    p = d.ctl("dev04", "frobnicate")
    assert p.returncode == 2
    p = d.ctl("dev04", "status", "--refresh")
    assert p.returncode == 0
    p = d.ctl("--socket", str(tmp_path / "absent.sock"), "dev04", "status")
    assert p.returncode == 69 and "is ec2-managerd running" in p.stderr
    # Refresh failures are upstream errors: exit 1 with the reason.
    oc.ctl("POST", "faults", {"path": "*", "kind": "5xx", "count": 50})
    p = d.ctl("dev04", "status", "--refresh")
    assert p.returncode == 1 and "HTTP 500" in p.stderr


def test_ec2ctl_socket_env(running):
    ec2, oc, d = running
    env = clean_env(d.home, EC2CTL_SOCKET=d.socket)
    import subprocess
    from conftest import EC2CTL
    p = subprocess.run([EC2CTL, "clusters", "-f", "table"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "dev04" in p.stdout


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="no setpriv")
def test_unprivileged_user(running):
    ec2, oc, d = running
    # 0660 root:root: an unprivileged user cannot even connect.
    p = d.ctl("dev04", "status", user=65534)
    assert p.returncode == 77, p.stderr
    assert "ermission denied" in p.stderr
    # Opened for reading: status works, changes are refused by the daemon.
    os.chmod(d.socket, 0o666)
    p = d.ctl("dev04", "status", "-f", "json", user=65534)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["result"]["cluster"] == "dev04"
    p = d.ctl("dev04", "stop", user=65534)
    assert p.returncode == 77
    assert "permission denied" in p.stderr


# --- events --follow against the real daemon (issue 14) ---------------------

class Follower:
    """ec2ctl CLUSTER events --follow as a child, its stdout read by a
    thread into a list that the test waits on with a bound."""

    def __init__(self, d, *args):
        import subprocess
        import threading
        from conftest import EC2CTL
        self.proc = subprocess.Popen(
            [EC2CTL, "--socket", d.socket, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(d.home))
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(json.loads(line))
                self.cond.notify_all()

    def wait(self, predicate, what):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.lines), 20), \
                "timed out waiting for %s: %r" % (what, self.lines)

    def end(self, timeout=20):
        """Waits for ec2ctl to exit and for every line it wrote."""
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout)
        assert not self.reader.is_alive(), "stdout still open"
        return rc, self.proc.stderr.read()


def entries(lines):
    return [m for m in lines if m.get("event") == "entry"]


def with_an_event(d):
    """Makes sure dev04 has an event to follow: a reload records one."""
    import signal
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.request("events", "dev04", {"n": 1})["result"]
             ["events"], what="an event")


def test_events_follow_history_then_new_until_interrupted(running):
    import signal
    ec2, oc, d = running
    hist = d.request("events", "dev04", {"n": 500})["result"]["events"]
    f = Follower(d, "dev04", "events", "--follow", "-n", "500")
    f.wait(lambda ls: len(entries(ls)) >= len(hist), "the history")
    assert [e["seq"] for e in entries(f.lines)][:len(hist)] == \
        [e["seq"] for e in hist]
    # A new event: a reload records one per cluster.
    d.signal(signal.SIGHUP)
    f.wait(lambda ls: any(e["kind"] == "config" and
                          e["seq"] > (hist[-1]["seq"] if hist else 0)
                          for e in entries(ls)), "the reload's event")
    new = [e for e in entries(f.lines) if e["kind"] == "config"][-1]
    assert new["msg"] == "configuration reloaded"
    assert set(new) >= {"id", "event", "seq", "ts", "kind", "level", "msg"}
    f.proc.send_signal(signal.SIGINT)
    rc, err = f.end()
    assert rc == 0, err
    # The daemon let go of the follower: it still answers, and a reload
    # after the client left reaches nobody and harms nothing.
    d.signal(signal.SIGHUP)
    assert d.request("ping")["ok"]


def test_events_follow_ends_when_the_cluster_goes(running):
    import signal
    ec2, oc, d = running
    with_an_event(d)
    # Once the history is in, the follower is watching.
    f = Follower(d, "dev04", "events", "--follow", "-n", "1")
    f.wait(lambda ls: len(entries(ls)) >= 1, "the history")
    d.write_config({"other": []})
    d.signal(signal.SIGHUP)
    rc, err = f.end()
    assert rc == 0, err
    assert f.lines[-1]["ok"] is True
    assert f.lines[-1]["result"] == {
        "cluster": "dev04", "end": "the cluster is no longer managed"}
    assert "dev04: no more events: the cluster is no longer managed" in err


def test_events_follow_ends_when_the_daemon_stops(running):
    ec2, oc, d = running
    with_an_event(d)
    # Once the history is in, the follower is watching.
    f = Follower(d, "dev04", "events", "--follow", "-n", "1")
    f.wait(lambda ls: len(entries(ls)) >= 1, "the history")
    assert d.stop() == 0
    rc, err = f.end()
    assert rc == 0, err
    assert f.lines[-1]["result"]["end"] == "the daemon is stopping"


def test_daemon_help_names_paths_secrets_and_exit_codes(tmp_path):
    import subprocess
    from conftest import DAEMON
    p = subprocess.run([DAEMON, "--help"], capture_output=True, text=True,
                       timeout=30, env=clean_env(tmp_path))
    assert p.returncode == 0 and p.stderr == ""
    out = p.stdout
    conf = re.search(r"by default\n  (\S+\.conf)\n", out).group(1)
    assert conf.endswith("/ec2-manager/ec2-manager.conf")
    assert "by default\n  %s/conf.d/*.conf\n" % os.path.dirname(conf) in out
    for name in ("CREDENTIALS_DIRECTORY", "opencast-user",
                 "opencast-password", "OPENCAST_USER", "OPENCAST_PASSWORD",
                 "MATTERHORN_ADMIN_SERVER_USER",
                 "MATTERHORN_ADMIN_SERVER_PASS", "ZADARA_ACCOUNT_TOKEN",
                 "ZADARA_TOKEN", "zadara-token", "LOGGLY_TOKEN",
                 "AWS_ACCESS_KEY_ID", "--check-config", "Exit status: 0",
                 "1 the configuration", "2 usage error"):
        assert name in out, name
    assert all(len(line) <= 80 for line in out.splitlines())
    # The check-config default and the help agree: -c is not needed to
    # see which file is read.
    bad = subprocess.run([DAEMON, "--bogus"], capture_output=True,
                         text=True, timeout=30, env=clean_env(tmp_path))
    assert bad.returncode == 2 and "usage: ec2-managerd" in bad.stderr


class Raw:
    """A raw control connection: send request dicts, read reply lines."""

    def __init__(self, path):
        import socket
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""

    def send(self, req):
        self.s.sendall((json.dumps(req) + "\n").encode())

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            assert chunk, "the daemon closed the connection"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.s.close()


def evaluations(conn, first_id, n):
    """n autoscale evaluations pipelined on conn; each records a decision
    in the cluster's events.  Returns the bytes of their replies."""
    for k in range(n):
        conn.send({"v": 1, "id": first_id + k, "cmd": "autoscale",
                   "cluster": "dev04", "args": {"action": "evaluate"},
                   "level": "error"})
    size = 0
    for k in range(n):
        while True:
            m = conn.line()
            if "ok" in m:
                break
        assert m["ok"], m
        size += len(json.dumps(m))
    return size


def test_events_follow_slow_reader_loses_events_not_memory(
        linked_sims, daemon_factory, public_dir):
    """A follower that does not read: the daemon keeps serving, leaves
    entries out once the bound is reached, and says how many; the seq
    numbers around the "lost" event prove nothing else went missing."""
    import threading
    ec2, oc = linked_sims()
    wait_for(lambda: len([h for h in oc.ctl("GET", "state")["hosts"]
                          if h["online"]]) == 4, what="hosts registered")
    d = daemon_factory(ec2, oc, {"dev04": [
        "autoscale = on", "cooldown = 1h", "autoscale_interval = 1h"]},
        socket_dir=public_dir,
        extra_env={"EC2M_FOLLOW_MAX_BACKLOG": "4096"}).start()
    stalled = Raw(d.socket)
    stalled.send({"v": 1, "id": 1, "cmd": "events", "cluster": "dev04",
                  "args": {"n": 1, "follow": True}})
    asker = Raw(d.socket)
    # Far more than the socket buffers and the bound hold.
    produced = 0
    for batch in range(40):
        evaluations(asker, 2 + batch * 50, 50)
        dec = d.request("events", "dev04", {"n": 1})["result"]["events"][0]
        produced += 50 * len(json.dumps(dec))
        # The loop is not held up by the reader that does not read.
        assert d.request("ping")["ok"]
        if produced > 1 << 20:
            break
    assert produced > 1 << 20, produced
    # Now read: everything the daemon kept, then, with the next event,
    # the count of those it left out.
    got = []
    cond = threading.Condition()

    def reader():
        try:
            while True:
                m = stalled.line()
                with cond:
                    got.append(m)
                    cond.notify_all()
        except (OSError, AssertionError):
            pass

    threading.Thread(target=reader, daemon=True).start()
    for k in range(50):
        evaluations(asker, 10000 + k, 1)
        with cond:
            if cond.wait_for(lambda: any(m.get("event") == "lost"
                                         for m in got), 2):
                break
    with cond:
        assert cond.wait_for(lambda: got and got[-1].get("event") ==
                             "entry" and any(m.get("event") == "lost"
                                             for m in got), 20), got[-3:]
        lines = list(got)
    i = [k for k, m in enumerate(lines) if m.get("event") == "lost"][0]
    lost = lines[i]
    before = [m for m in lines[:i] if m.get("event") == "entry"][-1]
    after = lines[i + 1]
    assert after["event"] == "entry"
    assert lost["count"] > 0
    assert after["seq"] == before["seq"] + lost["count"] + 1, \
        (before["seq"], lost, after["seq"])
    # What reached the slow reader is bounded, not all that was produced.
    kept = sum(len(json.dumps(m)) for m in lines[:i])
    assert kept < produced / 2, (kept, produced)
    stalled.close()
    asker.close()
    assert d.request("ping")["ok"]
