"""The status answer cache (issue 16, docs/design.md "The status answer"):
the daemon keeps a cluster's encoded status until something it shows
changes.  These tests change each kind of state and check that the very
next answer shows it, and that the fields that move with the clock
(uptime_s, next_tick_s) move.  Every daemon the tests start runs with
EC2M_STATUS_CACHE_CHECK=1 (conftest.py): each answer served from the cache
is compared with one built afresh and a difference ends the daemon, which
fails the test at teardown."""
import datetime
import json
import math
import socket
import threading
import time

import pytest

from conftest import reload_daemon, wait_for


def sim_instances(ec2, prefix="dev04"):
    return {i["id"]: i for i in ec2.ctl("GET", "instances")
            if i["name"].startswith(prefix + "-")
            and i["state"] != "terminated"}


def hosts_registered(oc, n):
    return len([h for h in oc.ctl("GET", "state")["hosts"]
                if h["online"]]) == n


@pytest.fixture
def running(linked_sims, daemon_factory):
    ec2, oc = linked_sims()
    wait_for(lambda: hosts_registered(oc, 4), what="hosts registered")
    d = daemon_factory(ec2, oc, {"dev04": [
        "autoscale = on", "autoscale_interval = 1h", "cooldown = 0",
        "min_workers = 1", "wait_interval = 200ms",
        "wait_retries = 50"]}).start()
    return ec2, oc, d


def by_id(st):
    return {i["id"]: i for i in st["instances"]}


def test_each_kind_of_change_shows_in_the_next_answer(running):
    ec2, oc, d = running
    first = d.status("dev04")
    assert d.status("dev04")["instances"] == first["instances"]

    # The autoscaler's switches.
    p = d.ctl("dev04", "autoscale", "pause")
    assert p.returncode == 0, p.stderr
    st = d.status("dev04")
    assert st["autoscale"]["paused"] is True
    assert st["autoscale"]["enabled"] is False
    p = d.ctl("dev04", "autoscale", "resume")
    assert p.returncode == 0, p.stderr
    st = d.status("dev04")
    assert st["autoscale"]["paused"] is False
    assert st["autoscale"]["enabled"] is True

    # A refresh's results: EC2 changed behind the daemon's back.  Until a
    # refresh reads it the daemon does not know (that is not stale); the
    # answer after the refresh shows it, and so does the next plain one.
    worker = [i for i in sim_instances(ec2).values()
              if i["name"] == "dev04-worker" and i["state"] == "running"][0]
    ec2.ctl("POST", "instances/" + worker["id"],
            {"tags": {"Name": "dev04-worker", "hold": "1"}})
    assert by_id(d.status("dev04"))[worker["id"]]["held"] is False
    assert by_id(d.status("dev04", refresh=True))[worker["id"]]["held"]
    assert by_id(d.status("dev04"))[worker["id"]]["held"] is True

    # An autoscale decision: last_decision is the new one at once.
    before = d.status("dev04")["autoscale"]["last_decision"]
    p = d.ctl("dev04", "autoscale")
    assert p.returncode == 0, p.stdout + p.stderr
    after = d.status("dev04")["autoscale"]["last_decision"]
    assert after is not None and after != before

    # An operation: shown while it runs (its steps), gone when it ended.
    online = d.status("dev04")["workers_online"]
    r = d.ctl("--no-wait", "dev04", "scale", "up")
    assert r.returncode == 0, r.stderr
    steps = set()

    def op_seen():
        op = d.status("dev04")["operation"]
        if op:
            steps.add(op["step"])
        return op is None and d.status("dev04")["workers_online"] == \
            online + 1
    wait_for(op_seen, timeout=30, what="scale up to end")
    assert steps, "the operation never showed in status"
    assert d.status("dev04")["operation"] is None

    # A reload: autoscale = off in the new settings.
    assert reload_daemon(d, lambda t: t.replace("autoscale = on",
                                                "autoscale = off"))
    st = d.status("dev04")
    assert st["autoscale"]["enabled"] is False
    assert "configuration" in st["autoscale"]["reason"]


def iso_ms(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.timestamp() * 1000


def test_uptime_and_next_tick_move_with_the_clock(running):
    ec2, oc, d = running
    running_ids = {i["id"]: iso_ms(i["launch_time"])
                   for i in sim_instances(ec2).values()
                   if i["state"] == "running"}
    seen_uptimes, ticks = set(), []
    deadline = time.monotonic() + 10
    # Ask many times over a little more than two seconds: each answer's
    # uptime is what the clock says between the request and the reply.
    while len(seen_uptimes) < 3 and time.monotonic() < deadline:
        t0 = time.time() * 1000
        st = d.status("dev04")
        t1 = time.time() * 1000
        for iid, launch in running_ids.items():
            up = by_id(st)[iid]["uptime_s"]
            assert math.floor((t0 - launch) / 1000) <= up <= \
                math.floor((t1 - launch) / 1000), (iid, up, t0, t1)
        seen_uptimes.add(by_id(st)[next(iter(running_ids))]["uptime_s"])
        ticks.append((t0, t1, st["autoscale"]["next_tick_s"]))
    assert len(seen_uptimes) >= 3, "uptime_s did not advance"
    # next_tick_s counts down: never up while no tick ran, and down by as
    # much as the time that passed, within the rounding to seconds.
    for (a0, a1, a), (b0, b1, b) in zip(ticks, ticks[1:]):
        assert b <= a
    (f0, f1, first), (l0, l1, last) = ticks[0], ticks[-1]
    assert first - last >= math.floor((l0 - f1) / 1000)
    assert first - last <= math.ceil((l1 - f0) / 1000) + 1


def test_pipelined_status_stays_exact_under_changes(running):
    """Status requests without pause on one connection while an operation
    runs, refreshes complete and the autoscaler is paused and resumed: the
    daemon (checking every cached answer) must answer every one."""
    ec2, oc, d = running
    stop = threading.Event()
    answers = []

    def hammer():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        f = s.makefile("rb")
        n = 0
        while not stop.is_set():
            n += 1
            s.sendall(b'{"v":1,"id":%d,"cmd":"status","cluster":"dev04"}\n'
                      % n)
            answers.append(json.loads(f.readline()))
        s.close()

    t = threading.Thread(target=hammer)
    t.start()
    try:
        r = d.ctl("dev04", "scale", "up")
        assert r.returncode == 0, r.stdout + r.stderr
        for _ in range(3):
            assert d.ctl("dev04", "autoscale", "pause").returncode == 0
            d.status("dev04", refresh=True)
            assert d.ctl("dev04", "autoscale", "resume").returncode == 0
    finally:
        stop.set()
        t.join(30)
    assert d.proc.poll() is None, d.read_log()[-3000:]
    assert len(answers) > 50
    assert all(a["ok"] for a in answers)
    assert "differs from a fresh one" not in d.read_log()
