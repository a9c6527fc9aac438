"""The autoscaler (SPEC §5 "Autoscale evaluation") with the daemon and both
emulators: on demand with `ec2ctl CLUSTER autoscale` and on its timer.
Launch times are set through the EC2 emulator's control API instead of
waiting for billing hours to pass."""
import json
import re
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import CtlRun, wait_for
from test_operations import (COMPOSER, hold, host_of, hosts, instances,
                             online_hosts, release, run_jobs,
                             running_oc_nodes, workers)


def ago(minutes):
    t = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def make(linked_sims, daemon_factory):
    def start(settings=(), oc_settings=None):
        ec2, oc = linked_sims(oc_settings=oc_settings)
        wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
                 what="hosts registered")
        # Autoscaling is opt-in (SPEC §7): these clusters opt in.
        d = daemon_factory(ec2, oc, {"dev04": [
            "autoscale = on", "wait_interval = 200ms", "wait_retries = 40",
            "cooldown = 0", "autoscale_interval = 1h", *settings]}).start()
        return ec2, oc, d
    return start


def set_uptime(ec2, ids, minutes):
    for i in ids:
        ec2.ctl("POST", "instances/" + i, {"launch_time": ago(minutes)})


def autoscale(d, *flags):
    """`ec2ctl [FLAGS] dev04 autoscale` as people see it (-f table: the
    output is JSON lines when it is not a terminal)."""
    return d.ctl(*flags, "dev04", "autoscale", "-f", "table")


def idle_op(d):
    wait_for(lambda: d.status("dev04")["operation"] is None, timeout=60,
             what="operation finished")


def test_queued_heavy_jobs_start_a_worker(make):
    ec2, oc = None, None
    ec2, oc, d = make(oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 3})
    p = autoscale(d)
    assert p.returncode == 0, p.stderr
    assert "scale_up: 3 queued high-load jobs > max_queued_jobs 0: " \
        "start 1 worker" in p.stdout
    idle_op(d)
    assert len(workers(ec2, "running")) == 3
    ev = d.request("events", "dev04")["result"]["events"]
    dec = [e for e in ev if e["kind"] == "decision"][-1]
    assert dec["data"]["action"] == "scale_up"
    assert dec["data"]["inputs"]["queued_high_load_jobs"] == 3
    ops = [e for e in ev if e["kind"] == "operation"]
    assert ops[-2]["msg"] == "scale up 1 started by the autoscaler"
    assert ops[-1]["msg"].startswith("scale up 1 succeeded")


def test_idle_workers_past_threshold_stop_one_per_evaluation(make):
    ec2, oc, d = make(["min_workers = 0", "idle_uptime_threshold = 50m"])
    a, b = workers(ec2, "running")
    set_uptime(ec2, [a], 53)
    set_uptime(ec2, [b], 5 * 60 + 53)
    p = autoscale(d)
    assert p.returncode == 0, p.stderr
    assert "scale_down" in p.stdout and b in p.stdout
    idle_op(d)
    assert workers(ec2, "running") == [a]      # longest uptime went first
    p = autoscale(d)
    assert p.returncode == 0 and "scale_down" in p.stdout
    idle_op(d)
    assert workers(ec2, "running") == []


def test_recently_started_idle_workers_are_kept(make):
    ec2, oc, d = make(["min_workers = 0"])
    a, b = workers(ec2, "running")
    set_uptime(ec2, [a], 40)
    set_uptime(ec2, [b], 60 + 40)
    p = autoscale(d)
    assert p.returncode == 0, p.stderr
    assert "no workers available to stop" in p.stdout
    assert sorted(workers(ec2, "running")) == sorted([a, b])
    dec = [e for e in d.request("events", "dev04")["result"]["events"]
           if e["kind"] == "decision"][-1]
    assert {w["verdict"] for w in dec["data"]["workers"]
            if w["id"] in (a, b)} == {"billing"}


def test_per_second_billing(make):
    ec2, oc, d = make(["min_workers = 1", "billing = per-second",
                       "min_uptime = 10m"])
    a, b = workers(ec2, "running")
    set_uptime(ec2, [a], 9)
    set_uptime(ec2, [b], 11)
    p = autoscale(d)
    assert p.returncode == 0 and "scale_down" in p.stdout
    idle_op(d)
    assert workers(ec2, "running") == [a]


def test_limits_give_warnings_and_no_change(make):
    ec2, oc, d = make(["min_workers = 2", "max_workers = 2"],
                      oc_settings={"dispatch": False})
    set_uptime(ec2, workers(ec2, "running"), 55)
    p = autoscale(d)
    assert p.returncode == 0
    assert "but min_workers 2 is reached" in p.stdout
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 2})
    p = autoscale(d)
    assert p.returncode == 0
    assert "but max_workers 2 is reached (2 running)" in p.stdout
    assert len(workers(ec2, "running")) == 2
    assert re.search(r"warning: \[dev04[^]]*\] autoscale: none:",
                     d.read_log())


def test_busy_and_held_workers_are_never_stopped(make):
    ec2, oc, d = make(["min_workers = 0"])
    a, b = workers(ec2, "running")
    set_uptime(ec2, [a, b], 55)
    run_jobs(oc, host_of(ec2, oc, a)["base_url"])
    ec2.ctl("POST", "instances/" + b, {"tags": {"Name": "dev04-worker",
                                                "hold": "1"}})
    p = autoscale(d)
    assert p.returncode == 0
    assert "scale_down" not in p.stdout
    assert sorted(workers(ec2, "running")) == sorted([a, b])


def test_opencast_down_means_no_change(make):
    ec2, oc, d = make(["min_workers = 0"])
    set_uptime(ec2, workers(ec2, "running"), 55)
    oc.ctl("POST", "faults", {"path": "*", "kind": "503", "count": 1000})
    p = autoscale(d)
    assert p.returncode == 1
    assert "autoscale could not run: Opencast is not reachable" in p.stderr
    assert len(workers(ec2, "running")) == 2


def test_switches_stop_evaluations(make):
    ec2, oc, d = make(oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 5})
    admin = [i for i in instances(ec2) if i["name"] == "dev04-admin"][0]
    # The admin's autoscale=off tag (any case).
    ec2.ctl("POST", "instances/" + admin["id"],
            {"tags": {"Name": "dev04-admin", "autoscale": "OFF"}})
    d.status("dev04", refresh=True)
    p = autoscale(d)
    assert p.returncode == 1
    assert "autoscale is off: tag autoscale=off on the admin" in p.stderr
    # The legacy tag.
    ec2.ctl("POST", "instances/" + admin["id"],
            {"tags": {"Name": "dev04-admin", "ec2m:autoscale_off": "yes"}})
    d.status("dev04", refresh=True)
    p = autoscale(d)
    assert p.returncode == 1 and "ec2m:autoscale_off" in p.stderr
    ec2.ctl("POST", "instances/" + admin["id"],
            {"tags": {"Name": "dev04-admin"}})
    d.status("dev04", refresh=True)
    # Paused with the ctl.
    assert d.ctl("dev04", "autoscale", "pause").returncode == 0
    st = d.status("dev04")
    assert st["autoscale"]["enabled"] is False
    assert st["autoscale"]["paused"] is True
    p = autoscale(d)
    assert p.returncode == 1 and "paused" in p.stderr
    assert d.ctl("dev04", "autoscale", "resume").returncode == 0
    assert d.status("dev04")["autoscale"]["enabled"] is True
    assert len(workers(ec2, "running")) == 2


def test_config_switch(make):
    ec2, oc, d = make(["autoscale = off"], oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 5})
    p = autoscale(d)
    assert p.returncode == 1
    assert "autoscale = off in the configuration" in p.stderr
    st = d.status("dev04")
    assert st["autoscale"]["reason"] == \
        "autoscale = off in the configuration"


def test_ticks_act_and_pause_survives_a_restart(linked_sims,
                                                 daemon_factory):
    ec2, oc = linked_sims(oc_settings={"dispatch": False})
    wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
             what="hosts registered")
    conf = {"dev04": ["autoscale = on", "wait_interval = 200ms",
                      "cooldown = 0",
                      "autoscale_interval = 1s", "max_workers = 3"]}
    d = daemon_factory(ec2, oc, conf).start()
    st = d.status("dev04")
    assert 0 <= st["autoscale"]["next_tick_s"] <= 2
    # A tick scales up when heavy jobs queue.
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 4})
    wait_for(lambda: len(workers(ec2, "running")) == 3, timeout=30,
             what="a tick started a worker")
    # Pause, restart the daemon: still paused, and ticks do nothing.
    assert d.ctl("dev04", "autoscale", "pause").returncode == 0
    assert d.stop() == 0
    state = json.loads((d.state_dir / "cluster-dev04.json").read_text())
    assert state["autoscale_paused"] is True
    d.start()
    st = d.status("dev04")
    assert st["autoscale"]["paused"] is True
    assert st["autoscale"]["reason"].startswith("paused")
    ec2.ctl("POST", "counts/reset")
    # Several ticks pass (each records that it did not run; repeats of
    # one event are kept as one entry with a count) ...
    wait_for(lambda: sum(e.get("repeats", 1) for e in d.request(
        "events", "dev04", {"n": 50})["result"]["events"]
        if "did not run" in e["msg"]) >= 2,
             timeout=30, what="ticks while paused")
    # ... without starting anything despite 4 queued jobs.
    assert ec2.ctl("GET", "counts").get("StartInstances", {}).get(
        "calls", 0) == 0
    assert len(workers(ec2, "running")) == 3


def test_cooldown_after_an_action(make):
    ec2, oc, d = make(["min_workers = 0", "cooldown = 5m"])
    set_uptime(ec2, workers(ec2, "running"), 55)
    p = autoscale(d)
    assert p.returncode == 0 and "scale_down" in p.stdout
    idle_op(d)
    p = autoscale(d)
    assert p.returncode == 0
    assert "in cooldown" in p.stdout and "left of 5m" in p.stdout
    assert len(workers(ec2, "running")) == 1


def test_dry_run_decides_but_changes_nothing(make):
    ec2, oc, d = make(["min_workers = 0"])
    set_uptime(ec2, workers(ec2, "running"), 55)
    p = autoscale(d, "-n")
    assert p.returncode == 0 and "scale_down" in p.stdout
    idle_op(d)
    assert len(workers(ec2, "running")) == 2
    # A dry run is no action: no cooldown starts.
    assert json.loads((d.state_dir / "cluster-dev04.json").read_text()
                      if (d.state_dir / "cluster-dev04.json").exists()
                      else '{"last_action_ms": 0}')["last_action_ms"] == 0


def test_demand_policy_starts_workers_for_the_queued_load(make):
    """policy = demand (issue 17): five queued composer jobs of load 4 on
    workers of max_load 4 need five workers; two run, so one evaluation
    starts three at once, where the seed rule starts scale_up_step (1).
    The decision records the demand figures."""
    ec2, oc, d = make(["policy = demand"], oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 5, "load": 4})
    d.status("dev04", refresh=True)
    p = autoscale(d)
    assert p.returncode == 0, p.stderr
    idle_op(d)
    ev = d.request("events", "dev04")["result"]["events"]
    dec = [e for e in ev if e["kind"] == "decision"][-1]["data"]
    assert dec["action"] == "scale_up" and dec["count"] == 3, dec
    assert dec["demand"]["needed"] == 5, dec["demand"]
    assert len(workers(ec2, "running")) == 5


def test_explain_decides_without_acting(make):
    """`ec2ctl CLUSTER explain` (issue 17): the decision the autoscaler
    would take now, with the demand computation, the target and each
    worker's verdict, read afresh; it starts nothing, records nothing, and
    works while autoscaling is paused (the decision says why it would not
    run)."""
    ec2, oc, d = make(["policy = demand"], oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 5, "load": 4})
    ec2.ctl("POST", "requests/reset")
    before = len(d.request("events", "dev04", {"n": 500})["result"]
                 ["events"])
    p = d.ctl("dev04", "explain", "-f", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("scale_up: "), p.stdout
    assert "needed 5" in p.stdout and "target 5" in p.stdout, p.stdout
    assert "VERDICT" in p.stdout, p.stdout
    p = d.ctl("--json", "dev04", "explain")
    dec = json.loads(p.stdout)["result"]["decision"]
    assert dec["action"] == "scale_up" and dec["count"] == 3, dec
    assert dec["demand"]["target"] == 5, dec["demand"]
    assert len(dec["workers"]) == 6, dec["workers"]
    # Nothing acted, nothing recorded.
    assert [r for r in ec2.ctl("GET", "requests")
            if r["action"] in ("StartInstances", "StopInstances")] == []
    assert len(workers(ec2, "running")) == 2
    assert d.status("dev04")["operation"] is None
    after = d.request("events", "dev04", {"n": 500})["result"]["events"]
    assert len(after) == before, after[before:]
    # Paused: explain still answers, saying why it would not run.
    assert d.ctl("dev04", "autoscale", "pause").returncode == 0
    p = d.ctl("dev04", "explain", "-f", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("would not run: "), p.stdout
    assert "paused" in p.stdout, p.stdout


# Issue 14: `autoscale` as the tool it replaces did it, and causes in an
# operator's words.

def test_autoscale_follows_its_action_to_the_end(make):
    """Without --no-wait, `autoscale` prints the decision, shows the scale
    up's progress as `scale up` does, and ends with its outcome: while the
    new worker is held in pending, the ctl is still waiting."""
    ec2, oc, d = make(oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 3})
    before = workers(ec2, "running")
    hold(ec2, "pending")
    run = CtlRun(d, "dev04", "autoscale", "-f", "table", name="autoscale")
    try:
        wait_for(lambda: (d.status("dev04")["operation"] or {}).get(
            "step") == "wait_running", timeout=30,
            what="the action waits for the worker")
        assert not run.done(), run.stderr
        release(ec2, "pending")
        assert run.wait(60) == 0, run.stderr
        out, err = run.stdout, run.stderr
    finally:
        run.close()
    # Ended with the action: nothing runs on.
    assert d.status("dev04")["operation"] is None
    assert len(workers(ec2, "running")) == 3
    assert "autoscale decided scale_up: 3 queued high-load jobs > " \
        "max_queued_jobs 0: start 1 worker" in err, err
    assert "wait_running" in err and "wait_registered" in err, err
    assert out.strip() == "scale_up: 3 queued high-load jobs > " \
        "max_queued_jobs 0: start 1 worker; started 1 worker: %s" % \
        [w for w in workers(ec2, "running") if w not in before][0], out
    # -j: the reply is the operation's outcome with the decision.
    p = d.ctl("-j", "dev04", "autoscale")
    reply = [json.loads(l) for l in p.stdout.splitlines()][-1]
    assert p.returncode == 0 and reply["ok"], p.stdout
    assert reply["result"]["decision"]["action"] == "scale_up"
    assert reply["result"]["operation"] == "scale up 1"
    assert len(reply["result"]["started"]) == 1


def test_autoscale_exits_1_when_its_action_fails(make):
    ec2, oc, d = make(oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 3})
    ec2.ctl("POST", "faults", {"action": "StartInstances", "kind": "auth",
                               "count": 10})
    p = autoscale(d)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "ec2ctl: scale_up: 3 queued high-load jobs > max_queued_jobs " \
        "0: start 1 worker; " in p.stderr, p.stderr
    assert "AuthFailure" in p.stderr, p.stderr
    assert len(workers(ec2, "running")) == 2
    assert d.status("dev04")["operation"] is None


def test_autoscale_no_wait_returns_after_the_decision(make):
    ec2, oc, d = make(oc_settings={"dispatch": False})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 3})
    hold(ec2, "pending")
    p = autoscale(d, "--no-wait")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "scale_up: 3 queued high-load jobs > " \
        "max_queued_jobs 0: start 1 worker; started, not waited for " \
        "(--no-wait)", p.stdout
    # The action runs on, held in pending, after the ctl has returned.
    assert d.status("dev04")["operation"]["cmd"] == "scale up 1"
    release(ec2, "pending")
    idle_op(d)
    assert len(workers(ec2, "running")) == 3


def test_force_ignores_the_limits_and_the_billing_threshold(make):
    """--force: min_workers, max_workers and the billing threshold do not
    hold the evaluation back (it is said so); a busy worker and a held one
    are still never stopped."""
    ec2, oc, d = make(["min_workers = 3", "max_workers = 3",
                       "scale_down_step = 5", "idle_uptime_threshold = 50m"],
                      oc_settings={"dispatch": False})
    a, b = workers(ec2, "running")
    c = workers(ec2, "stopped")[0]
    ec2.ctl("POST", "instances/" + c, {"state": "running"})
    wait_for(lambda: [h for h in hosts(oc).values() if h["address"] ==
                      [i for i in instances(ec2) if i["id"] == c][0]
                      ["private_ip"]], what="third worker registered")
    set_uptime(ec2, [a, b, c], 10)             # within the billing hour
    run_jobs(oc, host_of(ec2, oc, a)["base_url"])
    ec2.ctl("POST", "instances/" + c, {"tags": {"Name": "dev04-worker",
                                                "hold": "yes"}})
    p = autoscale(d)
    assert p.returncode == 0, p.stderr
    assert "scale_down" not in p.stdout and "min_workers 3 is reached" \
        in p.stdout, p.stdout
    p = autoscale(d, "--force")
    assert p.returncode == 0, p.stderr
    assert "scale_down: 1 idle worker > min_idle_workers 0: stop 1 " \
        "worker (%s); --force: min_workers and the billing threshold " \
        "ignored; stopped 1 worker: %s" % (b, b) in p.stdout, p.stdout
    assert sorted(workers(ec2, "running")) == sorted([a, c])
    dec = [e for e in d.request("events", "dev04")["result"]["events"]
           if e["kind"] == "decision"][-1]["data"]
    assert dec["inputs"]["force"] is True
    assert {w["id"]: w["verdict"] for w in dec["workers"]
            if w["id"] in (a, c)} == {a: "busy", c: "held"}

    # Up to max_workers 3 as usual, then past it only with --force.
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 3})
    p = autoscale(d)
    assert p.returncode == 0 and "; started 1 worker: " in p.stdout, \
        p.stdout
    p = autoscale(d)
    assert p.returncode == 0
    assert "max_workers 3 is reached (3 running)" in p.stdout, p.stdout
    p = autoscale(d, "-f")
    assert p.returncode == 0, p.stderr
    assert "start 1 worker (max_workers 3 ignored: --force); started 1 " \
        "worker: " in p.stdout, p.stdout
    assert len(workers(ec2, "running")) == 4


def test_force_still_keeps_a_worker_that_took_a_job(make):
    """A forced scale-down lifts the limits only: the chosen worker that
    takes a job between the decision and the stop stays (the operation's
    own --force would stop it)."""
    ec2, oc, d = make(["min_workers = 2"])
    a, b = workers(ec2, "running")
    set_uptime(ec2, [a], 30)
    set_uptime(ec2, [b], 20)
    target = host_of(ec2, oc, a)["base_url"]
    oc.ctl("POST", "faults", {"path": "/services/maintenance",
                              "kind": "hold", "count": 1})
    run = CtlRun(d, "-f", "dev04", "autoscale", "-f", "table",
                 name="autoscale")
    try:
        wait_for(lambda: oc.ctl("GET", "held")["held"] == 1,
                 what="maintenance request held")
        run_jobs(oc, target)
        oc.ctl("POST", "release")
        assert run.wait(60) == 1, run.stdout
        err = run.stderr
    finally:
        run.close()
    assert "every chosen worker took a job meanwhile" in err, err
    assert sorted(workers(ec2, "running")) == sorted([a, b])
    assert hosts(oc)[target]["maintenance"] is False


def test_reason_names_ec2_when_ec2_cannot_be_read(make):
    """EC2 unreadable: the evaluation says so (not "the admin is not
    running"), `clusters` shows it on the cluster's line, and the table's
    Updated: is the last successful refresh, with its age and the failed
    one after it."""
    ec2, oc, d = make()
    good = d.status("dev04")
    assert good["ec2"]["last_ok_at"] and good["opencast"]["last_ok_at"]
    ec2.ctl("POST", "faults", {"action": "DescribeInstances",
                               "kind": "auth", "count": 1000})
    p = autoscale(d)
    assert p.returncode == 1
    assert "dev04: autoscale could not run: the cluster's instances could " \
        "not be read: EC2 DescribeInstances failed: AuthFailure" \
        in p.stderr, p.stderr
    assert "admin" not in p.stderr, p.stderr
    st = d.status("dev04")
    assert st["ec2"]["ok"] is False
    assert st["ec2"]["last_ok_at"] == good["ec2"]["last_ok_at"]
    p = d.ctl("clusters", "-f", "table")
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.splitlines() if l.startswith("dev04")][0]
    assert "no operation; EC2 failing: EC2 DescribeInstances failed: " \
        "AuthFailure" in line, line
    p = d.ctl("dev04", "status", "-f", "table")
    upd = [l for l in p.stdout.splitlines() if l.startswith("Updated:")][0]
    last = min(good["ec2"]["last_ok_at"], good["opencast"]["last_ok_at"])
    assert upd.split(None, 1)[1].startswith(last + " ("), upd
    assert " ago); the refresh at %s failed" % st["updated_at"] in upd, upd
    # Opencast down while EC2 reads: said as what it is.
    ec2.ctl("DELETE", "faults")
    oc.ctl("POST", "faults", {"path": "*", "kind": "503", "count": 1000})
    p = autoscale(d)
    assert p.returncode == 1
    assert "autoscale could not run: Opencast is not reachable: " \
        in p.stderr, p.stderr
    line = [l for l in d.ctl("clusters", "-f", "table").stdout.splitlines()
            if l.startswith("dev04")][0]
    assert "; Opencast unreachable: " in line, line


def test_admin_stopped_is_named(make):
    ec2, oc, d = make()
    admin = [i for i in instances(ec2) if i["name"] == "dev04-admin"][0]
    ec2.ctl("POST", "instances/" + admin["id"], {"state": "stopped"})
    p = autoscale(d)
    assert p.returncode == 1
    assert "autoscale could not run: the admin is not running (the admin " \
        "instance %s is stopped)" % admin["id"] in p.stderr, p.stderr


def test_no_credentials_anywhere_says_so(linked_sims, daemon_factory):
    """No keys in the environment or the shared files, and an instance
    metadata service that answers 403: status says "no AWS credentials
    found" and where it looked, not a failed DescribeInstances."""
    ec2, oc = linked_sims()
    ec2.ctl("POST", "imds", {"forbidden": True})
    d = daemon_factory(ec2, oc, {"dev04": ["autoscale = on"]})
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_EC2_METADATA_DISABLED"):
        d.env.pop(k, None)
    d.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = ec2.url
    d.start()
    st = d.status("dev04")
    home = str(d.home)
    assert st["ec2"]["ok"] is False
    assert st["ec2"]["error"] == (
        "no AWS credentials found: none in the environment, none for "
        "profile \"default\" in the shared files %s/.aws/credentials and "
        "%s/.aws/config (HOME is %s), and no instance role: the instance "
        "metadata service at %s answered HTTP 403 to the token request"
        % (home, home, home, ec2.url)), st["ec2"]["error"]
    assert ec2.ctl("GET", "imds")["forbidden"] is True
    p = autoscale(d)
    assert p.returncode == 1
    assert "autoscale could not run: the cluster's instances could not be " \
        "read: no AWS credentials found: " in p.stderr, p.stderr
