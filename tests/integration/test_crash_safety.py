"""Crash safety and shutdown of operations (SPEC §8, issue 13): the crash
record in state_dir, the recovery after SIGKILL, restores of maintenance
that outlast an Opencast outage (or give up after their time), and no new
operation once SIGTERM has arrived.  The real daemon and ec2ctl against the
linked EC2 and Opencast emulators.

Every fault point is held by the test (a job that runs for an hour, an EC2
transition held until released, Opencast answering 503 until the test drops
the fault) and every wait is bounded (conftest.wait_for); nothing here
races a fixed delay or asserts how long something took.
"""
import json
import signal
import socket
import threading

import pytest

from conftest import wait_for
from test_operations import (COMPOSER, ec2_calls, hold, host_of, hosts,
                             instances, online_hosts, release,
                             running_oc_nodes, workers)

RESTORE_S = 60      # bound for a restore once Opencast answers again


@pytest.fixture
def make(linked_sims, daemon_factory):
    """Emulators with cluster dev04 (admin, engage, db, nfs, 6 workers of
    which 2 run) and the daemon; polls are short, waits long enough that
    only the test ends them."""
    def start(settings=(), extra_env=None):
        ec2, oc = linked_sims()
        wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
                 what="hosts registered")
        conf = {"dev04": ["wait_interval = 200ms", "wait_retries = 1000",
                          *settings]}
        d = daemon_factory(ec2, oc, conf, extra_env=extra_env).start()
        return ec2, oc, d
    return start


def record_path(d):
    return d.state_dir / "op-dev04.json"


def record(d):
    """The crash record as JSON, or None."""
    try:
        return json.loads(record_path(d).read_text())
    except FileNotFoundError:
        return None


def step(d):
    return (d.status("dev04")["operation"] or {}).get("step")


def events(d, kind=None):
    ev = d.request("events", "dev04", {"n": 200})["result"]["events"]
    return [e for e in ev if kind is None or e["kind"] == kind]


def in_maintenance(oc):
    return sorted(u for u, h in hosts(oc).items() if h["maintenance"])


def busy_worker(ec2, oc):
    """The first running worker gets a job that runs for an hour, so a
    stop waits for it (until the test ends the wait)."""
    w = workers(ec2, "running")[0]
    oc.ctl("POST", "jobs", {"type": COMPOSER, "status": "RUNNING",
                            "host": host_of(ec2, oc, w)["base_url"],
                            "duration_s": 3600, "count": 1})
    return w


class Ctl:
    """ec2ctl in a thread: the test goes on while it waits."""

    def __init__(self, d, *args):
        self.p = None
        self.t = threading.Thread(target=self.run, args=(d, args))
        self.t.start()

    def run(self, d, args):
        self.p = d.ctl(*args, timeout=120)

    def wait(self):
        self.t.join(120)
        assert not self.t.is_alive(), "ec2ctl was not answered"
        return self.p


def kill(d):
    """SIGKILL, as a crash or a power loss ends the daemon."""
    d.proc.kill()
    d.proc.wait()
    d.log.close()


def restart(d):
    d.start()
    return d


def maintenance_503(oc):
    """Opencast answers every maintenance switch with 503 until
    opencast_back()."""
    oc.ctl("POST", "faults", {"path": "/services/maintenance",
                              "kind": "503", "count": 1000000})


def opencast_back(oc):
    oc.ctl("DELETE", "faults")


def refused_restores(oc):
    return [r for r in oc.ctl("GET", "requests")
            if r["path"] == "/services/maintenance" and r["status"] == 503
            and (r["body"] or "").endswith("maintenance=false")]


# The crash record ------------------------------------------------------------

def test_record_lists_maintenance_and_goes_after_a_clean_end(make):
    ec2, oc, d = make()
    busy_worker(ec2, oc)
    assert record(d) is None
    c = Ctl(d, "dev04", "stop")
    wait_for(lambda: step(d) == "wait_idle", what="stop waits for the job")
    rec = record(d)
    assert rec["version"] == 1 and rec["cluster"] == "dev04"
    assert rec["operation"] == "stop"
    assert rec["initiator"].startswith("uid ")
    assert sorted(n["host"] for n in rec["maintenance"]) == \
        in_maintenance(oc)
    assert len(rec["maintenance"]) == 4
    assert {n["instance"] for n in rec["maintenance"]} == {
        i["id"] for i in instances(ec2) if i["state"] == "running" and
        i["name"].split("-", 1)[1] in ("admin", "engage", "worker")}
    assert rec["stopping"] == []
    # Ended by a failure whose restore succeeds: nothing is left behind.
    oc.ctl("DELETE", "jobs")
    p = c.wait()
    assert p.returncode == 0, p.stderr
    assert record(d) is None
    assert not list(d.state_dir.glob("op-*"))


def test_record_that_cannot_be_written_stops_the_operation_first(make):
    ec2, oc, d = make()
    # state_dir is no directory any more: nothing can be recorded.
    d.state_dir.rename(d.tmp / "state.away")
    d.state_dir.write_text("not a directory\n")
    try:
        p = d.ctl("dev04", "stop")
        assert p.returncode == 1
        assert "nothing was put in maintenance: the crash record cannot " \
            "be written" in p.stderr, p.stderr
        assert in_maintenance(oc) == []
        assert ec2_calls(ec2, "StopInstances") == []
    finally:
        d.state_dir.unlink()
        (d.tmp / "state.away").rename(d.state_dir)


# Recovery after SIGKILL ------------------------------------------------------

def test_sigkill_mid_stop_then_restart_recovers(make):
    ec2, oc, d = make()
    before = {i["id"]: i["state"] for i in instances(ec2)}
    busy_worker(ec2, oc)
    c = Ctl(d, "dev04", "stop")
    wait_for(lambda: step(d) == "wait_idle", what="stop waits for the job")
    left = in_maintenance(oc)
    assert len(left) == 4
    kill(d)
    assert c.wait().returncode != 0
    assert sorted(n["host"] for n in record(d)["maintenance"]) == left
    ec2.ctl("POST", "requests/reset")
    restart(d)
    wait_for(lambda: in_maintenance(oc) == [], timeout=RESTORE_S,
             what="the recorded nodes out of maintenance")
    rec = wait_for(lambda: events(d, "recovered"), what="recovered event")
    assert len(rec) == 1, rec
    msg = rec[0]["msg"]
    assert msg.startswith('recovered from an unclean end during "stop"'), msg
    assert "took 4 nodes out of maintenance" in msg, msg
    assert sorted(rec[0]["data"]["restored"]) == left
    assert rec[0]["data"]["ok"] is True
    # Never a stop (or a start) of its own, and the record is gone.
    assert ec2_calls(ec2, "StopInstances") == []
    assert ec2_calls(ec2, "StartInstances") == []
    assert {i["id"]: i["state"] for i in instances(ec2)} == before
    wait_for(lambda: record(d) is None, what="record removed")
    wait_for(lambda: d.status("dev04")["operation"] is None,
             what="recovery ended")


def test_sigkill_while_stopping_never_repeats_the_stop(make):
    ec2, oc, d = make()
    hold(ec2, "stopping")
    try:
        c = Ctl(d, "dev04", "stop")
        wait_for(lambda: step(d) == "wait_stopped", what="nodes stopping")
        rec = record(d)
        stopping = sorted(i["id"] for i in instances(ec2)
                          if i["state"] == "stopping")
        assert sorted(rec["stopping"]) == stopping and len(stopping) == 4
        # A node that is being stopped may stay in maintenance.
        assert rec["maintenance"] == []
        kill(d)
        assert c.wait().returncode != 0
    finally:
        release(ec2, "stopping")
    support = sorted(i["id"] for i in instances(ec2)
                     if i["name"] in ("dev04-db", "dev04-nfs"))
    ec2.ctl("POST", "requests/reset")
    restart(d)
    rec = wait_for(lambda: events(d, "recovered"), what="recovered event")
    msg = rec[0]["msg"]
    assert "nothing was left in maintenance" in msg, msg
    assert "it was stopping " in msg and "not repeated" in msg, msg
    assert sorted(rec[0]["data"]["stopping"]) == stopping
    wait_for(lambda: record(d) is None, what="record removed")
    # The stop of the support nodes is not carried on by the recovery.
    assert ec2_calls(ec2, "StopInstances") == []
    assert all(i["state"] == "running" for i in instances(ec2)
               if i["id"] in support)


def test_unreadable_record_is_set_aside_and_reported(make):
    ec2, oc, d = make()
    kill(d)
    record_path(d).write_text('{"version": 1, "cluster": "dev0')
    restart(d)
    # An operation asked for meets the record at the latest.
    p = d.ctl("dev04", "maintenance", "on")
    ev = wait_for(lambda: events(d, "recovered"), what="recovered event")
    assert "cannot be read" in ev[0]["msg"], ev
    assert "op-dev04.json.bad" in ev[0]["msg"], ev
    assert (d.state_dir / "op-dev04.json.bad").exists()
    assert not record_path(d).exists()
    if p.returncode != 0:
        assert "busy" in p.stderr, p.stderr
        p = d.ctl("dev04", "maintenance", "on")
    assert p.returncode == 0, p.stderr


# Restores that outlast Opencast ------------------------------------------------

def test_restore_goes_on_until_opencast_answers(make):
    ec2, oc, d = make(["wait_retries = 3"])
    busy_worker(ec2, oc)
    c = Ctl(d, "dev04", "stop")
    wait_for(lambda: step(d) == "wait_idle", what="stop waits for the job")
    left = in_maintenance(oc)
    maintenance_503(oc)
    # The stop gives up waiting; its restore meets 503s; the client hears
    # the failure without waiting for Opencast.
    p = c.wait()
    assert p.returncode == 1
    assert "gave up waiting until the workers are idle" in p.stderr
    assert "4 nodes are still in maintenance" in p.stderr, p.stderr
    assert "keeps trying to take them out in the background" in p.stderr
    assert in_maintenance(oc) == left
    # The restore owns the cluster meanwhile, and says so.
    assert step(d) == "restore_maintenance"
    q = d.ctl("dev04", "scale", "up")
    assert q.returncode == 1
    assert "busy taking 4 nodes out of maintenance again after " \
        "\"stop\" failed" in q.stderr, q.stderr
    assert ec2_calls(ec2, "StartInstances") == []
    # A later round meets the 503s too (one round is a switch per node,
    # each with the client's own retries).
    n = len(refused_restores(oc))
    wait_for(lambda: len(refused_restores(oc)) > n, timeout=RESTORE_S,
             what="another round of the restore")
    opencast_back(oc)
    wait_for(lambda: in_maintenance(oc) == [], timeout=RESTORE_S,
             what="nodes out of maintenance once Opencast answers")
    wait_for(lambda: d.status("dev04")["operation"] is None,
             what="the cluster free again")
    msgs = [e["msg"] for e in events(d, "operation")]
    assert any(m.startswith("stop: took the last 4 nodes out of "
                            "maintenance again") for m in msgs), msgs
    assert record(d) is None
    assert d.ctl("dev04", "maintenance", "off").returncode == 0


def test_restore_gives_up_after_its_time(make):
    ec2, oc, d = make(["wait_retries = 3"],
                      extra_env={"EC2M_RESTORE_GIVE_UP_S": "3"})
    busy_worker(ec2, oc)
    c = Ctl(d, "dev04", "stop")
    wait_for(lambda: step(d) == "wait_idle", what="stop waits for the job")
    maintenance_503(oc)
    p = c.wait()
    assert p.returncode == 1
    assert "in the background for up to 3s" in p.stderr, p.stderr
    ev = wait_for(lambda: [e for e in events(d, "operation")
                           if "gave up taking" in e["msg"]],
                  timeout=RESTORE_S, what="the restore gives up")
    assert "take them out with `ec2ctl dev04 maintenance off`" in \
        ev[0]["msg"], ev
    assert ev[0]["level"] == "err", ev
    wait_for(lambda: d.status("dev04")["operation"] is None,
             what="the cluster free again")
    assert record(d) is None
    opencast_back(oc)
    p = d.ctl("dev04", "maintenance", "off")
    assert p.returncode == 0, p.stderr
    assert in_maintenance(oc) == []


# Shutdown ------------------------------------------------------------------------

def send(s, req):
    """One request on an open connection; the final reply."""
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while True:
        chunk = s.recv(65536)
        assert chunk, "the daemon closed the connection"
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            if "ok" in msg:
                return msg


def test_no_new_operation_after_sigterm(make):
    ec2, oc, d = make()
    busy_worker(ec2, oc)
    c = Ctl(d, "dev04", "stop")
    wait_for(lambda: step(d) == "wait_idle", what="stop waits for the job")
    # A client connected before SIGTERM; Opencast keeps the interrupted
    # stop's restore going (503), so the daemon is still winding down.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(d.socket)
    try:
        assert send(s, {"v": 1, "id": 1, "cmd": "ping"})["ok"]
        maintenance_503(oc)
        d.signal(signal.SIGTERM)
        p = c.wait()
        assert p.returncode == 1
        assert "interrupted: the daemon is shutting down" in p.stderr
        for i, (cmd, args) in enumerate((
                ("scale", {"direction": "up", "workers": 1}),
                ("start", {}), ("maintenance", {"mode": "on"}))):
            r = send(s, {"v": 1, "id": 10 + i, "cmd": cmd,
                         "cluster": "dev04", "args": args})
            assert r["ok"] is False, r
            assert r["error"]["code"] == "busy", r
            assert "shutting down" in r["error"]["message"], r
    finally:
        s.close()
        opencast_back(oc)
    assert d.proc.wait(60) == 0
    assert ec2_calls(ec2, "StartInstances") == []
    assert ec2_calls(ec2, "StopInstances") == []
    assert in_maintenance(oc) == []
    assert record(d) is None
