"""The real ec2ctl against the real ec2-managerd and the emulators."""
import json
import os
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
    st = json.loads(p.stdout)
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
    assert json.loads(p.stdout)["cluster"] == "dev04"


def test_clusters_events_and_chaining(running):
    ec2, oc, d = running
    p = d.ctl("clusters")
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
    p = subprocess.run([EC2CTL, "clusters"], env=env, capture_output=True,
                       text=True, timeout=30)
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
    assert json.loads(p.stdout)["cluster"] == "dev04"
    p = d.ctl("dev04", "stop", user=65534)
    assert p.returncode == 77
    assert "permission denied" in p.stderr
