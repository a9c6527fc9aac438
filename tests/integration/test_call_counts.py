"""Issue 16: every operation makes the fewest upstream calls its steps
need, and this test counts them.

The minimum, per step (what the machines in daemon/operation_*.c read):

- plan: one DescribeInstances, plus what the rules need of Opencast:
  start nothing (the waits read it once it answers), stop, scale up and
  maintenance the hosts (maintenance flags, the nodes' base URLs), scale
  down the hosts and the jobs (idle or busy); scale_to reads EC2 first and
  then what the direction it takes needs;
- a step that acts: one StartInstances/StopInstances with every id, or one
  POST /services/maintenance per node that needs switching;
- a wait: per poll one DescribeInstances (an EC2 state) or the one
  Opencast part its predicate looks at: hosts.json for registration and
  maintenance, activeJobs.json for idle workers;
- scale down's race-free recheck: activeJobs.json once.

One exception is part of the minimum: while the daemon has no complete
Opencast view (after the admin was stopped), the first read that reaches
Opencast reads both parts, so that status and the autoscaler have one
again (daemon/cluster.c).

Each row runs one operation on the linked emulators with EC2 transitions
that take no time, so every EC2 wait ends at its first poll; Opencast's
registration takes its own time, so the polls of those waits are counted
from the progress the daemon reports (one event per poll that did not
end the wait).  The expected counts are then exact.  No timer refresh or
autoscale tick runs in the measured window (refresh_interval = 1h,
autoscale = off), and the counts are reset after the set-up.
"""
import re

import pytest

from conftest import wait_for

EC2, HOSTS, JOBS = "ec2", "hosts", "jobs"
DI, START, STOP = "DescribeInstances", "StartInstances", "StopInstances"
OC_PATHS = {HOSTS: "GET /services/hosts.json",
            JOBS: "GET /services/activeJobs.json",
            "maint": "POST /services/maintenance",
            "me": "GET /info/me.json"}

# operation -> (ec2ctl arguments, set-up, calls besides the waits' polls,
# the waits and what each poll reads).  Calls are EC2 actions, or HOSTS,
# JOBS, "maint" (one POST per node) and "me" for Opencast.
ROWS = {
    "start_stopped": (
        ["start", "-w", "2"], "stopped",
        {DI: 1, START: 2, JOBS: 1},
        {"wait_support_running": EC2, "wait_running": EC2,
         "wait_opencast": HOSTS, "wait_maintenance_off": HOSTS}),
    "start_w6": (
        ["start", "-w", "6"], None,
        {DI: 1, START: 1},
        {"wait_running": EC2, "wait_opencast": HOSTS,
         "wait_maintenance_off": HOSTS}),
    "stop": (
        ["stop"], None,
        {DI: 1, HOSTS: 1, "maint": 4, STOP: 2},
        {"wait_idle": JOBS, "wait_stopped": EC2,
         "wait_support_stopped": EC2}),
    "scale_up": (
        ["scale", "up", "-w", "2"], None,
        {DI: 1, HOSTS: 1, START: 1},
        {"wait_running": EC2, "wait_registered": HOSTS}),
    "scale_down": (
        ["scale", "down"], None,
        {DI: 1, HOSTS: 1, JOBS: 2, "maint": 1, STOP: 1},
        {"wait_stopped": EC2}),
    "scale_to_up": (
        ["scale_to", "4"], None,
        {DI: 1, HOSTS: 1, START: 1},
        {"wait_running": EC2, "wait_registered": HOSTS}),
    "scale_to_down": (
        ["scale_to", "1"], None,
        {DI: 1, HOSTS: 1, JOBS: 2, "maint": 1, STOP: 1},
        {"wait_stopped": EC2}),
    "scale_to_same": (
        ["scale_to", "2"], None,
        {DI: 1},
        {}),
    "maintenance_on": (
        ["maintenance", "on"], None,
        {DI: 1, HOSTS: 1, "maint": 4},
        {"wait_maintenance": HOSTS}),
    "maintenance_off": (
        ["maintenance", "off"], "in_maintenance",
        {DI: 1, HOSTS: 1, "maint": 4},
        {"wait_maintenance": HOSTS}),
}

PROGRESS = re.compile(r"^\S+ (\w+) (\d+)/(\d+)(?::|$)")


def instances(ec2):
    return [i for i in ec2.ctl("GET", "instances")
            if i["name"].startswith("dev04-")]


def online_hosts(oc):
    return [h for h in oc.ctl("GET", "state")["hosts"] if h["online"]]


def running_oc_nodes(ec2):
    return [i for i in instances(ec2) if i["state"] == "running" and
            i["name"].split("-", 1)[1] in ("admin", "worker", "engage")]


def wait_polls(stderr, steps):
    """Polls per wait step, from ec2ctl's progress lines: the step's own
    line says done 0; each poll that did not end the wait adds a line
    with done >= 1; the poll that ended it adds none."""
    seen = {s: False for s in steps}
    polls = {s: 1 for s in steps}
    for line in stderr.splitlines():
        m = PROGRESS.match(line)
        if m is None or m.group(1) not in steps:
            continue
        seen[m.group(1)] = True
        if int(m.group(2)) >= 1:
            polls[m.group(1)] += 1
    missing = [s for s, v in seen.items() if not v]
    assert not missing, "steps not reported: %s\n%s" % (missing, stderr)
    return polls


def measured(ec2, oc):
    counts = ec2.ctl("GET", "counts")
    out = {a: c["calls"] for a, c in counts.items() if c["calls"]}
    occ = oc.ctl("GET", "counts")
    for key, path in OC_PATHS.items():
        if occ.get(path):
            out[key] = occ[path]
    other = {p: n for p, n in occ.items() if p not in OC_PATHS.values()}
    assert not other, "Opencast calls outside the table: %s" % other
    return out


@pytest.mark.parametrize("row", list(ROWS))
def test_operation_calls_are_the_minimum(row, linked_sims, daemon_factory):
    argv, setup, fixed, waits = ROWS[row]
    ec2, oc = linked_sims(delays={"pending": 0, "stopping": 0})
    wait_for(lambda: len(online_hosts(oc)) == len(running_oc_nodes(ec2)),
             what="hosts registered")
    d = daemon_factory(ec2, oc, {"dev04": [
        "min_workers = 1", "wait_interval = 200ms", "wait_retries = 100",
        "refresh_interval = 1h", "autoscale = off"]}).start()
    if setup == "stopped":
        for i in instances(ec2):
            ec2.ctl("POST", "instances/" + i["id"], {"state": "stopped"})
        wait_for(lambda: not online_hosts(oc), what="hosts down")
        # What the daemon knows of a stopped cluster: Opencast unknown.
        r = d.request("status", "dev04", {"refresh": True})
        assert not r["ok"] and "is stopped" in r["error"]["message"], r
    elif setup == "in_maintenance":
        for h in online_hosts(oc):
            oc.ctl("POST", "hosts", {"base_url": h["base_url"],
                                     "maintenance": True})
    ec2.ctl("POST", "counts/reset")
    oc.ctl("POST", "requests/reset")

    p = d.ctl("dev04", *argv)
    assert p.returncode == 0, p.stderr

    got = measured(ec2, oc)
    polls = wait_polls(p.stderr, waits)
    # EC2 transitions take no time: every EC2 wait ends at its first poll.
    assert all(polls[s] == 1 for s, part in waits.items() if part == EC2), \
        polls
    want = dict(fixed)
    for step, part in waits.items():
        key = DI if part == EC2 else part
        want[key] = want.get(key, 0) + polls[step]
    assert got == want, "%s: calls %s, minimum %s (polls %s)\n%s" % (
        row, got, want, polls, p.stderr)
