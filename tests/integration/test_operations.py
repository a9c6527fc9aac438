"""Cluster operations (SPEC §5) through the real ec2ctl and daemon against
the EC2 and Opencast emulators: every rule with and without --force, dry
runs, API-call counts, concurrency and faults in the middle of an
operation.  The emulators are linked: instances that run in EC2 register
as Opencast hosts."""
import json
import socket
import subprocess
import threading

import pytest

from conftest import EC2CTL, clean_env, ctl_request, wait_for

COMPOSER = "org.opencastproject.composer"


@pytest.fixture
def make(linked_sims, daemon_factory):
    """Starts emulators (cluster dev04: admin, engage, db, nfs, 6 workers
    with 2 running) and the daemon with the given cluster settings."""
    def start(settings=(), clusters=None, ec2_clusters=None):
        ec2, oc = linked_sims(clusters=ec2_clusters)
        wait_for(lambda: online_hosts(oc) == sum(
            running_oc_nodes(ec2, c["prefix"]) for c in
            (ec2_clusters or [{"prefix": "dev04"}])),
            what="hosts registered")
        conf = {"dev04": ["wait_interval = 200ms", "wait_retries = 40",
                          *settings]}
        conf.update(clusters or {})
        d = daemon_factory(ec2, oc, conf).start()
        return ec2, oc, d
    return start


def instances(ec2, prefix="dev04"):
    return [i for i in ec2.ctl("GET", "instances")
            if i["name"].startswith(prefix + "-")]


def workers(ec2, state=None, prefix="dev04"):
    return sorted(i["id"] for i in instances(ec2, prefix)
                  if i["name"] == prefix + "-worker"
                  and (state is None or i["state"] == state))


def running_oc_nodes(ec2, prefix="dev04"):
    return len([i for i in instances(ec2, prefix) if i["state"] == "running"
                and i["name"].split("-", 1)[1] in ("admin", "worker",
                                                   "engage")])


def hosts(oc):
    return {h["base_url"]: h for h in oc.ctl("GET", "state")["hosts"]}


def online_hosts(oc):
    return len([h for h in hosts(oc).values() if h["online"]])


def host_of(ec2, oc, iid):
    ip = [i for i in ec2.ctl("GET", "instances") if i["id"] == iid][0][
        "private_ip"]
    return [h for h in hosts(oc).values() if h["address"] == ip][0]


def maint_posts(oc):
    return [r for r in oc.ctl("GET", "requests")
            if r["method"] == "POST" and r["path"] == "/services/maintenance"
            and r["status"] == 204]


def ec2_calls(ec2, action):
    return [r for r in ec2.ctl("GET", "requests") if r["action"] == action]


def ids_of(req):
    return sorted(v for k, v in req["params"].items()
                  if k.startswith("InstanceId."))


# An instance that begins a transition under this delay stays in it until
# release() (no test runs for an hour): the test, not the clock, decides
# when an operation's wait ends.
HELD = 3600
SHORT = {"pending": 0.5, "stopping": 0.5}     # linked_sims' delays
FINAL = {"pending": "running", "stopping": "stopped"}


def hold(ec2, transition):
    """Instances that begin TRANSITION ("pending" or "stopping") from now
    on stay in it until release()."""
    ec2.ctl("POST", "delays", {transition: HELD})


def release(ec2, transition, prefix="dev04"):
    """Ends the hold: later transitions take the short delay again, and
    the instances held in TRANSITION finish it at once.  Returns their
    ids."""
    ec2.ctl("POST", "delays", {transition: SHORT[transition]})
    held = sorted(i["id"] for i in instances(ec2, prefix)
                  if i["state"] == transition)
    for iid in held:
        ec2.ctl("POST", "instances/" + iid, {"state": FINAL[transition]})
    return held


def run_jobs(oc, host, n=1, duration=600):
    oc.ctl("POST", "jobs", {"type": COMPOSER, "status": "RUNNING",
                            "host": host, "duration_s": duration,
                            "count": n})


# scale up ------------------------------------------------------------------

def test_scale_up(make):
    ec2, oc, d = make()
    stopped = workers(ec2, "stopped")
    ec2.ctl("POST", "requests/reset")
    p = d.ctl("dev04", "scale", "up", "-w", "2", "-f", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("started 2 workers")
    assert len(workers(ec2, "running")) == 4
    # One StartInstances with both ids; the first two stopped ones by id.
    (call,) = ec2_calls(ec2, "StartInstances")
    assert ids_of(call) == stopped[:2]
    # Registered in Opencast and not in maintenance.
    for iid in stopped[:2]:
        h = host_of(ec2, oc, iid)
        assert h["online"] and not h["maintenance"]
    assert "wait_running" in p.stderr and "wait_registered" in p.stderr


def test_scale_up_takes_new_workers_out_of_maintenance(make):
    ec2, oc, d = make()
    stopped = workers(ec2, "stopped")
    # The worker was stopped in maintenance earlier: its host row keeps
    # the flag when it comes back (Opencast behaviour).
    ip = [i for i in instances(ec2) if i["id"] == stopped[0]][0][
        "private_ip"]
    oc.ctl("POST", "hosts", {"base_url": "http://%s:8080" % ip,
                             "role": "worker", "maintenance": True,
                             "online": False})
    p = d.ctl("dev04", "scale", "up")
    assert p.returncode == 0, p.stderr
    assert "maintenance_off" in p.stderr
    # Switched off before it registered; once it has, it serves.
    h = wait_for(lambda: (lambda h: h if h["online"] else None)(
        host_of(ec2, oc, stopped[0])), what="worker online")
    assert not h["maintenance"]


def test_scale_up_refusals(make):
    ec2, oc, d = make(["max_workers = 3"])
    p = d.ctl("dev04", "scale", "up", "-w", "5")
    assert p.returncode == 1
    assert "Cluster only has 4 stopped workers that may be started but " \
        "was asked to start 5" in p.stderr
    p = d.ctl("dev04", "scale", "up", "-w", "2")
    assert p.returncode == 1
    assert "Starting 2 workers violates max workers setting of 3 " \
        "(2 running)" in p.stderr
    assert ec2_calls(ec2, "StartInstances") == []
    p = d.ctl("-f", "dev04", "scale", "up", "-w", "2")
    assert p.returncode == 0, p.stderr
    assert "exceeds max workers setting of 3" in p.stderr
    assert len(workers(ec2, "running")) == 4


def test_scale_up_needs_the_admin(make):
    ec2, oc, d = make()
    admin = [i for i in instances(ec2) if i["name"] == "dev04-admin"][0]
    ec2.ctl("POST", "instances/" + admin["id"], {"state": "stopped"})
    p = d.ctl("dev04", "scale", "up")
    assert p.returncode == 1
    assert "The admin instance %s is stopped" % admin["id"] in p.stderr


def test_capacity_error_tries_the_next_worker(make):
    ec2, oc, d = make()
    stopped = workers(ec2, "stopped")
    ec2.ctl("POST", "faults", {"kind": "ice", "ids": [stopped[0]],
                               "count": 5})
    p = d.ctl("dev04", "scale", "up")
    assert p.returncode == 0, p.stderr
    assert "no capacity for %s" % stopped[0] in p.stderr
    running = workers(ec2, "running")
    assert stopped[1] in running and stopped[0] not in running


# scale down -----------------------------------------------------------------

def test_scale_down_is_race_free(make):
    ec2, oc, d = make(["min_workers = 1"])
    running = workers(ec2, "running")
    p = d.ctl("dev04", "scale", "down", "-f", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("stopped 1 worker")
    assert len(workers(ec2, "running")) == 1
    stopped_now = (set(running) - set(workers(ec2, "running"))).pop()
    # Only the chosen worker went into maintenance; never the cluster.
    posts = maint_posts(oc)
    assert len(posts) == 1
    assert posts[0]["body"].endswith("maintenance=true")
    ip = [i for i in instances(ec2) if i["id"] == stopped_now][0][
        "private_ip"]
    assert ip in posts[0]["body"]


def test_scale_down_prefers_idle_longest_uptime(make):
    ec2, oc, d = make(["min_workers = 0"])
    a, b = workers(ec2, "running")
    ec2.ctl("POST", "instances/" + a, {"launch_time":
                                       "2026-01-01T00:00:00.000Z"})
    ec2.ctl("POST", "instances/" + b, {"launch_time":
                                       "2026-01-02T00:00:00.000Z"})
    d.status("dev04", refresh=True)
    p = d.ctl("dev04", "scale", "down")
    assert p.returncode == 0, p.stderr
    assert workers(ec2, "running") == [b]
    # A busy worker is not taken while an idle one is left.
    run_jobs(oc, host_of(ec2, oc, b)["base_url"])
    ec2.ctl("POST", "instances/" + a, {"state": "running"})
    wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
             what="a registered again")
    p = d.ctl("dev04", "scale", "down")
    assert p.returncode == 0, p.stderr
    assert workers(ec2, "running") == [b]


def test_scale_down_refusals_and_force(make):
    ec2, oc, d = make(["min_workers = 2"])
    p = d.ctl("dev04", "scale", "down")
    assert p.returncode == 1
    assert "Stopping 1 worker violates min workers setting of 2" in p.stderr
    p = d.ctl("dev04", "scale", "down", "-w", "3")
    assert p.returncode == 1
    assert "Cluster only has 2 running workers but was asked to stop 3" \
        in p.stderr
    assert maint_posts(oc) == []
    # Both busy (and min_workers no longer in the way): refused, and with
    # --force the busy ones go too.
    for w in workers(ec2, "running"):
        run_jobs(oc, host_of(ec2, oc, w)["base_url"])
    d.conf.write_text(d.conf.read_text().replace("min_workers = 2",
                                                 "min_workers = 0"))
    d.signal(__import__("signal").SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.read_log(),
             what="reload")
    p = d.ctl("dev04", "scale", "down")
    assert p.returncode == 1
    assert "Only 0 of 2 running workers are idle but 1 was asked to " \
        "stop" in p.stderr
    assert maint_posts(oc) == []
    p = d.ctl("-f", "dev04", "scale", "down")
    assert p.returncode == 0, p.stderr
    assert "stopping busy workers too because of --force" in p.stderr
    assert len(workers(ec2, "running")) == 1


def test_scale_down_keeps_a_worker_that_took_a_job(make):
    ec2, oc, d = make(["min_workers = 1"])
    a, b = workers(ec2, "running")
    run_jobs(oc, host_of(ec2, oc, b)["base_url"])
    target = host_of(ec2, oc, a)["base_url"]
    # The maintenance call is held until the test releases it; meanwhile
    # a job lands on the chosen worker (dispatched just before maintenance
    # took effect).
    oc.ctl("POST", "faults", {"path": "/services/maintenance",
                              "kind": "hold", "count": 1})
    done = {}
    t = threading.Thread(target=lambda: done.update(
        p=d.ctl("dev04", "scale", "down")))
    t.start()
    wait_for(lambda: oc.ctl("GET", "held")["held"] == 1,
             what="maintenance request held")
    run_jobs(oc, target)
    oc.ctl("POST", "release")
    t.join(60)
    p = done["p"]
    assert p.returncode == 1
    assert "every chosen worker took a job meanwhile" in p.stderr
    assert sorted(workers(ec2, "running")) == sorted([a, b])
    # Taken back out of maintenance: the daemon left nothing behind.
    assert hosts(oc)[target]["maintenance"] is False
    bodies = [r["body"] for r in maint_posts(oc)]
    assert [b.endswith("maintenance=true") for b in bodies] == [True, False]


# scale_to -------------------------------------------------------------------

def test_scale_to_both_ways_and_limits(make):
    ec2, oc, d = make(["min_workers = 1", "max_workers = 4"])
    p = d.ctl("dev04", "scale_to", "2", "-f", "table")
    assert p.returncode == 0
    assert "already running: nothing to do" in p.stdout
    p = d.ctl("dev04", "scale-to", "4")
    assert p.returncode == 0, p.stderr
    assert len(workers(ec2, "running")) == 4
    p = d.ctl("dev04", "scale_to", "5")
    assert p.returncode == 1
    assert "violates max workers setting of 4" in p.stderr
    p = d.ctl("dev04", "scale_to", "0")
    assert p.returncode == 1
    assert "Stopping 4 workers violates min workers setting of 1" \
        in p.stderr
    p = d.ctl("dev04", "scale_to", "1")
    assert p.returncode == 0, p.stderr
    assert len(workers(ec2, "running")) == 1


# maintenance ------------------------------------------------------------------

def test_maintenance_on_and_off(make):
    ec2, oc, d = make()
    p = d.ctl("dev04", "maintenance", "on")
    assert p.returncode == 0, p.stderr
    assert all(h["maintenance"] for h in hosts(oc).values() if h["online"])
    st = d.status("dev04")
    assert all(i["maintenance"] for i in st["instances"]
               if i["mh_host"])
    p = d.ctl("dev04", "maintenance", "off")
    assert p.returncode == 0, p.stderr
    assert not any(h["maintenance"] for h in hosts(oc).values())


# start and stop -----------------------------------------------------------------

def stop_everything(ec2):
    for i in instances(ec2):
        ec2.ctl("POST", "instances/" + i["id"], {"state": "stopped"})


def test_start_refusals(make):
    ec2, oc, d = make()
    p = d.ctl("dev04", "start", "-w", "7")
    assert p.returncode == 1
    assert "Cluster only has 6 workers but was asked to start with 7" \
        in p.stderr
    p = d.ctl("dev04", "start", "-w", "1")
    assert p.returncode == 1
    assert "Cluster already has 2 workers running, more than the 1 " \
        "asked for" in p.stderr
    p = d.ctl("dev04", "start", "-w", "11")
    assert p.returncode == 1 and "Cluster only has 6 workers" in p.stderr


def test_start_a_stopped_cluster(make):
    ec2, oc, d = make(["min_workers = 3"])
    stop_everything(ec2)
    wait_for(lambda: online_hosts(oc) == 0, what="hosts down")
    # Opencast remembers: nodes that were stopped in maintenance keep it.
    for h in hosts(oc):
        oc.ctl("POST", "hosts", {"base_url": h, "maintenance": True})
    ec2.ctl("POST", "requests/reset")
    p = d.ctl("dev04", "start", "-f", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("started the cluster with 3 workers")
    byname = {}
    for i in instances(ec2):
        byname.setdefault(i["name"], []).append(i["state"])
    assert byname["dev04-db"] == ["running"]
    assert byname["dev04-nfs"] == ["running"]
    assert byname["dev04-admin"] == ["running"]
    assert sorted(byname["dev04-worker"]).count("running") == 3
    # Support nodes first, in one call; then the Opencast nodes, in one.
    starts = ec2_calls(ec2, "StartInstances")
    assert len(starts) == 2
    names = {i["id"]: i["name"] for i in instances(ec2)}
    assert {names[x] for x in ids_of(starts[0])} == {"dev04-db",
                                                     "dev04-nfs"}
    assert {names[x] for x in ids_of(starts[1])} == \
        {"dev04-admin", "dev04-engage", "dev04-worker"}
    assert len(ids_of(starts[1])) == 5
    # Every poll is one DescribeInstances for the cluster.
    describes = ec2_calls(ec2, "DescribeInstances")
    assert all(r["params"].get("Filter.1.Value.1") == "dev04-*"
               and not any(k.startswith("InstanceId") for k in r["params"])
               for r in describes)
    # Every running node is out of maintenance again.
    assert not any(h["maintenance"] for h in hosts(oc).values()
                   if h["online"])


def test_start_with_six_workers_call_counts(make):
    ec2, oc, d = make(["max_workers = 6"])
    stop_everything(ec2)
    wait_for(lambda: online_hosts(oc) == 0, what="hosts down")
    ec2.ctl("POST", "counts/reset")
    p = d.ctl("dev04", "start", "-w", "6")
    assert p.returncode == 0, p.stderr
    counts = ec2.ctl("GET", "counts")
    # Two steps start instances: support nodes, then Opencast nodes.
    assert counts["StartInstances"]["calls"] == 2
    waits = p.stderr.count("wait_support_running") + \
        p.stderr.count("wait_running") + p.stderr.count("wait_opencast")
    # One DescribeInstances per poll plus the refresh at the start (and
    # the refreshes of the Opencast wait): never one per instance.
    assert counts["DescribeInstances"]["calls"] <= waits + 2
    assert len(workers(ec2, "running")) == 6


def test_stop_refuses_held_unless_forced(make):
    ec2, oc, d = make()
    w = workers(ec2, "running")[0]
    ec2.ctl("POST", "instances/" + w, {"tags": {"Name": "dev04-worker",
                                                "Hold": "debugging"}})
    p = d.ctl("dev04", "stop")
    assert p.returncode == 1
    assert "The cluster has 1 held instance (dev04-worker)" in p.stderr
    assert maint_posts(oc) == []
    p = d.ctl("-f", "dev04", "stop")
    assert p.returncode == 0, p.stderr
    assert "Stopping held instance (dev04-worker) because of --force" \
        in p.stderr
    assert all(i["state"] == "stopped" for i in instances(ec2))


def test_stop_order_and_maintenance(make):
    ec2, oc, d = make()
    ec2.ctl("POST", "requests/reset")
    p = d.ctl("dev04", "stop")
    assert p.returncode == 0, p.stderr
    assert all(i["state"] == "stopped" for i in instances(ec2))
    stops = ec2_calls(ec2, "StopInstances")
    names = {i["id"]: i["name"] for i in instances(ec2)}
    assert len(stops) == 2
    assert {names[x] for x in ids_of(stops[0])} == \
        {"dev04-admin", "dev04-engage", "dev04-worker"}
    assert {names[x] for x in ids_of(stops[1])} == {"dev04-db", "dev04-nfs"}
    # Opencast nodes went into maintenance before they were stopped.
    assert len(maint_posts(oc)) == 4


def test_stop_with_busy_workers(make):
    ec2, oc, d = make(["wait_retries = 3"])
    before = {i["id"]: i["state"] for i in instances(ec2)}
    w = workers(ec2, "running")[0]
    url = host_of(ec2, oc, w)["base_url"]
    run_jobs(oc, url)
    p = d.ctl("dev04", "stop")
    assert p.returncode == 1
    assert "gave up waiting until the workers are idle after 3 polls " \
        "200ms apart" in p.stderr
    assert "1 worker still runs 1 job" in p.stderr
    # Nothing stopped, and every node is out of maintenance again.
    assert {i["id"]: i["state"] for i in instances(ec2)} == before
    assert not any(h["maintenance"] for h in hosts(oc).values())
    # With --force the give-up is a warning and the cluster stops (its
    # short waits give up under --force too, so it may still be stopping
    # when the command returns).
    p = d.ctl("-f", "dev04", "stop")
    assert p.returncode == 0, p.stderr
    assert "gave up waiting until the workers are idle" in p.stderr
    assert all(i["state"] in ("stopping", "stopped")
               for i in instances(ec2))
    wait_for(lambda: all(i["state"] == "stopped" for i in instances(ec2)),
             what="cluster stopped")


def test_stop_waits_for_jobs_to_finish(make):
    ec2, oc, d = make(["wait_retries = 1000"])
    w = workers(ec2, "running")[0]
    # The job runs until the test ends it, once the stop has reported it.
    run_jobs(oc, host_of(ec2, oc, w)["base_url"])
    proc = subprocess.Popen([EC2CTL, "--socket", d.socket, "dev04", "stop"],
                            env=clean_env(d.home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err = []

    def read_stderr():
        for line in proc.stderr:
            err.append(line)
    reader = threading.Thread(target=read_stderr)
    reader.start()
    try:
        wait_for(lambda: any("still runs 1 job" in l for l in err),
                 what="the stop reporting the busy worker")
        assert [i["state"] for i in instances(ec2) if i["id"] == w] == [
            "running"]
    finally:
        oc.ctl("DELETE", "jobs")
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(10)
            proc.stdout.close()
            proc.stderr.close()
    assert proc.returncode == 0, "".join(err)
    assert all(i["state"] == "stopped" for i in instances(ec2))


# dry run -------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["start", "-w", "2"], ["stop"], ["scale", "up", "-w", "2"],
    ["scale", "down"], ["scale_to", "4"], ["scale_to", "1"],
    ["maintenance", "on"], ["maintenance", "off"]])
def test_dry_run_changes_nothing(make, args):
    ec2, oc, d = make(["min_workers = 1"])
    if args[0] == "start":
        stop_everything(ec2)
        wait_for(lambda: online_hosts(oc) == 0, what="hosts down")
    before = {i["id"]: i["state"] for i in instances(ec2)}
    maint_before = {u: h["maintenance"] for u, h in hosts(oc).items()}
    ec2.ctl("POST", "requests/reset")
    oc.ctl("POST", "requests/reset")
    p = d.ctl("-n", "dev04", *args, "-f", "table")
    assert p.returncode == 0, p.stderr
    assert "dry run of" in p.stdout and "passed every rule" in p.stdout
    assert {i["id"]: i["state"] for i in instances(ec2)} == before
    assert {u: h["maintenance"] for u, h in hosts(oc).items()} == \
        maint_before
    for r in ec2.ctl("GET", "requests"):
        assert r["action"] == "DescribeInstances" or r["dry_run"], r
    assert all(r["method"] == "GET" for r in oc.ctl("GET", "requests"))


def test_dry_run_breaking_a_rule_is_refused(make):
    ec2, oc, d = make()
    p = d.ctl("-n", "dev04", "scale", "down")
    assert p.returncode == 1
    assert "violates min workers setting of 2" in p.stderr


# concurrency ------------------------------------------------------------------------

def test_second_request_is_busy_and_clusters_run_in_parallel(make):
    # dev04 never gives up its wait on its own while the test holds it.
    ec2, oc, d = make(["min_workers = 0", "wait_retries = 1000"],
                      clusters={"dev05": [
        "wait_interval = 200ms", "min_workers = 0"]},
        ec2_clusters=[{"prefix": "dev04", "admin": 1, "engage": 1, "db": 1,
                       "nfs": 1, "workers": 6, "workers_running": 2},
                      {"prefix": "dev05", "admin": 1, "workers": 3,
                       "workers_running": 1}])
    wait_for(lambda: d.status("dev05", refresh=True)["opencast"][
        "reachable"], what="dev05 ready")
    # dev04's new worker stays pending until released, so its operation
    # is still waiting for it whatever dev05 does meanwhile.
    hold(ec2, "pending")
    results = {}
    t1 = threading.Thread(target=lambda: results.update(
        a=d.ctl("dev04", "scale", "up")))
    t1.start()
    try:
        wait_for(lambda: workers(ec2, "pending"), what="dev04 worker held")
        wait_for(lambda: d.status("dev04")["operation"], what="op running")
        p = d.ctl("dev04", "scale", "up")
        assert p.returncode == 1
        assert "dev04 is busy with \"scale up 1\"" in p.stderr
        # Another cluster is not held up by dev04's operation: it runs a
        # whole operation while dev04's still waits.
        p = d.ctl("dev05", "scale", "down", timeout=30)
        assert p.returncode == 0, p.stderr
        assert workers(ec2, "running", "dev05") == []
        assert results.get("a") is None       # dev04 still waiting
        op = d.status("dev04")["operation"]
        assert op is not None and op["cmd"] == "scale up 1", op
    finally:
        held = release(ec2, "pending")
        t1.join(60)
    assert len(held) == 1
    assert not t1.is_alive(), "dev04's scale up did not end once released"
    assert results["a"].returncode == 0, results["a"].stderr
    assert d.status("dev04")["operation"] is None


def test_client_leaving_does_not_stop_the_operation(make):
    ec2, oc, d = make(["wait_retries = 1000"])
    # The Opencast nodes stay stopping until released, so the operation is
    # still in progress when the client leaves.
    hold(ec2, "stopping")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(d.socket)
        s.sendall(b'{"v":1,"id":1,"cmd":"stop","cluster":"dev04"}\n')
        wait_for(lambda: d.status("dev04")["operation"], what="stop running")
    finally:
        s.close()
    try:
        wait_for(lambda: any(i["state"] == "stopping"
                             for i in instances(ec2)), what="nodes held")
        assert d.status("dev04")["operation"] is not None
    finally:
        release(ec2, "stopping")
    wait_for(lambda: all(i["state"] == "stopped" for i in instances(ec2)),
             timeout=60, what="cluster stopped")
    wait_for(lambda: d.status("dev04")["operation"] is None,
             what="operation ended")
    ev = d.request("events", "dev04")["result"]["events"]
    assert any(e["msg"].startswith("stop succeeded") for e in ev)


def test_no_wait_returns_once_accepted(make):
    # The new worker stays pending until released, and the daemon does not
    # give up waiting for it meanwhile: an ec2ctl that waited for the end
    # of the operation could not return before release().
    ec2, oc, d = make(["wait_retries = 1000"])
    first = workers(ec2, "stopped")[0]
    hold(ec2, "pending")
    try:
        try:
            p = d.ctl("--no-wait", "dev04", "scale", "up", "-f", "table",
                      timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("ec2ctl --no-wait waited for the "
                                 "operation to end") from None
        assert p.returncode == 0, p.stderr
        assert p.stdout == "accepted\n", p.stdout
        # Returned while the operation is observably still in progress.
        assert workers(ec2, "pending") == [first]
        op = d.status("dev04")["operation"]
        assert op is not None, "the operation ended before release"
        assert op["cmd"] == "scale up 1" and op["step"] == "wait_running", op
    finally:
        held = release(ec2, "pending")
    assert held == [first]
    wait_for(lambda: d.status("dev04")["operation"] is None, timeout=60,
             what="operation finished")
    assert len(workers(ec2, "running")) == 3
    ev = d.request("events", "dev04")["result"]["events"]
    msgs = [e["msg"] for e in ev if e["kind"] == "operation"]
    assert msgs[-1].startswith("scale up 1 succeeded"), msgs


# faults in the middle --------------------------------------------------------------

def test_ec2_failure_mid_operation(make):
    ec2, oc, d = make()
    ec2.ctl("POST", "faults", {"action": "StartInstances", "kind": "5xx",
                               "count": 10})
    p = d.ctl("dev04", "scale", "up")
    assert p.returncode == 1
    assert "EC2 StartInstances failed: InternalError" in p.stderr
    assert "after 3 attempts" in p.stderr
    assert len(workers(ec2, "running")) == 2


def test_opencast_failure_mid_stop_restores_maintenance(make):
    ec2, oc, d = make()
    w = workers(ec2, "running")[0]
    run_jobs(oc, host_of(ec2, oc, w)["base_url"], duration=30)
    before = {i["id"]: i["state"] for i in instances(ec2)}
    # Once the daemon waits for idle workers, the job reads fail (beyond
    # the client's retries); the maintenance switch still works.
    done = {}
    t = threading.Thread(target=lambda: done.update(
        p=d.ctl("dev04", "stop")))
    t.start()
    wait_for(lambda: (d.status("dev04")["operation"] or {}).get("step")
             == "wait_idle", what="waiting for idle workers")
    oc.ctl("POST", "faults", {"path": "/services/activeJobs.json",
                              "kind": "5xx", "count": 3})
    t.join(60)
    p = done["p"]
    assert p.returncode == 1
    assert "HTTP 500" in p.stderr
    assert not any(h["maintenance"] for h in hosts(oc).values())
    assert {i["id"]: i["state"] for i in instances(ec2)} == before
    bodies = [r["body"] for r in maint_posts(oc)]
    assert sum(b.endswith("=true") for b in bodies) == 4
    assert sum(b.endswith("=false") for b in bodies) == 4


def test_operation_shows_in_status_and_events(make):
    ec2, oc, d = make(["wait_retries = 1000"])
    hold(ec2, "pending")
    done = {}
    t = threading.Thread(target=lambda: done.update(
        p=d.ctl("dev04", "scale", "up")))
    t.start()
    try:
        op = wait_for(lambda: d.status("dev04")["operation"], what="op")
        assert op["cmd"] == "scale up 1" and op["step"] and op["started_at"]
        # Held there: the operation waits for the worker to run.
        wait_for(lambda: (d.status("dev04")["operation"] or {}).get("step")
                 == "wait_running", what="waiting for the held worker")
        assert len(workers(ec2, "pending")) == 1
    finally:
        release(ec2, "pending")
        t.join(60)
    assert not t.is_alive()
    assert done["p"].returncode == 0, done["p"].stderr
    ev = d.request("events", "dev04")["result"]["events"]
    msgs = [e["msg"] for e in ev if e["kind"] == "operation"]
    assert msgs[-2].startswith("scale up 1 started by uid 0")
    assert msgs[-1].startswith("scale up 1 succeeded")
    log = d.read_log()
    assert "before scale up 1:" in log and "after scale up 1:" in log


def test_stop_needs_opencast_unless_forced(make):
    ec2, oc, d = make()
    oc.ctl("POST", "faults", {"path": "*", "kind": "503", "count": 1000})
    p = d.ctl("dev04", "stop")
    assert p.returncode == 1
    assert "Opencast cannot be read, so its nodes cannot be put in " \
        "maintenance" in p.stderr
    assert all(i["state"] != "stopping" for i in instances(ec2))
    p = d.ctl("-f", "dev04", "stop")
    assert p.returncode == 0, p.stderr
    assert "stopping without maintenance" in p.stderr
    assert all(i["state"] == "stopped" for i in instances(ec2))


def test_sigterm_mid_operation_restores_maintenance(make):
    import signal as sig
    ec2, oc, d = make()
    before = {i["id"]: i["state"] for i in instances(ec2)}
    w = workers(ec2, "running")[0]
    run_jobs(oc, host_of(ec2, oc, w)["base_url"])
    # Some node was in maintenance before: it must stay so.
    engage = [i for i in instances(ec2) if i["name"] == "dev04-engage"][0]
    oc.ctl("POST", "hosts", {"base_url": host_of(ec2, oc, engage["id"])[
        "base_url"], "maintenance": True})
    done = {}
    t = threading.Thread(target=lambda: done.update(
        p=d.ctl("dev04", "stop")))
    t.start()
    wait_for(lambda: (d.status("dev04")["operation"] or {}).get("step")
             == "wait_idle", what="stop waiting for idle workers")
    assert sum(h["maintenance"] for h in hosts(oc).values()) == 4
    d.signal(sig.SIGTERM)
    assert d.proc.wait(30) == 0
    t.join(30)
    p = done["p"]
    assert p.returncode == 1
    assert "interrupted: the daemon is shutting down" in p.stderr
    maint = {u for u, h in hosts(oc).items() if h["maintenance"]}
    assert maint == {host_of(ec2, oc, engage["id"])["base_url"]}
    assert {i["id"]: i["state"] for i in instances(ec2)} == before
    assert "taking 3 nodes out of maintenance again" in d.read_log()
