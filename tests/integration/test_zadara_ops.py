"""Zadara arrays follow their cluster through start and stop (SPEC §5):
start resumes the array first, stop hibernates it last; with the daemon,
the EC2, Opencast and Zadara emulators and the real ec2ctl."""
from datetime import datetime

import pytest

from conftest import wait_for
from test_operations import instances, online_hosts, running_oc_nodes
from test_zadara_client import FAST, TOKEN, zsim  # noqa: F401 (fixture)


@pytest.fixture
def make(linked_sims, daemon_factory, zsim):  # noqa: F811
    def start(status, settings=(), token=TOKEN, delays=None):
        ec2, oc = linked_sims()
        z = zsim(status, delays=delays)
        wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
                 what="hosts registered")
        d = daemon_factory(
            ec2, oc, {"dev04": ["zadara_vpsa = 1234",
                                "wait_interval = 200ms",
                                "wait_retries = 40", *settings]},
            extra_env={"ZADARA_ACCOUNT_TOKEN": token},
            extra_conf=["[zadara]", "url = " + z.url])
        return ec2, oc, z, d.start()
    return start


def stop_everything(ec2, oc):
    for i in instances(ec2):
        ec2.ctl("POST", "instances/" + i["id"], {"state": "stopped"})
    wait_for(lambda: online_hosts(oc) == 0, what="hosts down")


def epoch(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def zposts(z):
    return [r for r in z.ctl("GET", "requests") if r["method"] == "POST"]


def zstatus(z):
    return z.ctl("GET", "state")["vpsas"][0]["status"]


def test_start_resumes_the_array_first(make):
    ec2, oc, z, d = make("hibernated")
    stop_everything(ec2, oc)
    ec2.ctl("POST", "requests/reset")
    p = d.ctl("dev04", "start")
    assert p.returncode == 0, p.stderr
    assert zstatus(z) == "created"
    (restore,) = zposts(z)
    assert restore["path"] == "/api/vpsas/1234/restore.json"
    assert restore["token_in"] == "header"
    starts = [r for r in ec2.ctl("GET", "requests")
              if r["action"] == "StartInstances"]
    # The array was up before the first instance was started (the EC2
    # emulator's times are cut to milliseconds).
    first_start = min(epoch(r["ts"]) for r in starts)
    last_poll = max(r["ts"] for r in z.ctl("GET", "requests"))
    assert restore["ts"] < first_start
    assert last_poll < first_start + 0.001
    assert "zadara_resume" in p.stderr
    assert d.status("dev04")["zadara"] == {"vpsa": "1234",
                                           "status": "created",
                                           "error": None}


def test_stop_hibernates_the_array_last(make):
    ec2, oc, z, d = make("created")
    ec2.ctl("POST", "requests/reset")
    z.ctl("POST", "requests/reset")
    p = d.ctl("dev04", "stop")
    assert p.returncode == 0, p.stderr
    assert zstatus(z) == "hibernated"
    (hib,) = zposts(z)
    assert hib["path"] == "/api/vpsas/1234/hibernate.json"
    stops = [r for r in ec2.ctl("GET", "requests")
             if r["action"] == "StopInstances"]
    assert max(epoch(r["ts"]) for r in stops) < hib["ts"]
    assert "zadara_hibernate" in p.stderr


@pytest.mark.parametrize("cmd,status", [("start", "created"),
                                        ("stop", "hibernated")])
def test_already_in_the_wanted_state(make, cmd, status):
    ec2, oc, z, d = make(status)
    if cmd == "start":
        stop_everything(ec2, oc)
    p = d.ctl("dev04", cmd)
    assert p.returncode == 0, p.stderr
    assert zposts(z) == []
    assert "already" in p.stderr


def test_transitional_state_at_the_beginning(make):
    ec2, oc, z, d = make("created", delays={
        "hibernate": [["hibernate_offlining", 0.5], ["hibernating", 0.5]],
        "restore": FAST["restore"]})
    stop_everything(ec2, oc)
    # Someone else began to hibernate the array just before `start`.
    import urllib.request
    req = urllib.request.Request(z.url + "/api/vpsas/1234/hibernate.json",
                                 data=b"", method="POST",
                                 headers={"X-Token": TOKEN})
    urllib.request.urlopen(req, timeout=10).read()
    z.ctl("POST", "requests/reset")
    p = d.ctl("dev04", "start")
    assert p.returncode == 0, p.stderr
    assert zstatus(z) == "created"
    # It waited for hibernation to finish, then restored it: one POST.
    assert [r["path"] for r in zposts(z)] == [
        "/api/vpsas/1234/restore.json"]


def test_array_that_never_comes_up(make):
    ec2, oc, z, d = make("hibernated", settings=["wait_retries = 5"])
    stop_everything(ec2, oc)
    z.ctl("POST", "faults", {"path": "*", "kind": "stuck", "count": 1})
    p = d.ctl("dev04", "start")
    assert p.returncode == 1
    assert "Zadara array 1234" in p.stderr
    # Nothing else was started.
    assert all(i["state"] == "stopped" for i in instances(ec2))
    # With --force the give-up is a warning and the cluster starts.
    z.ctl("DELETE", "faults")
    z.ctl("POST", "vpsas", {"id": 1234, "status": "hibernated"})
    z.ctl("POST", "faults", {"path": "*", "kind": "stuck", "count": 1})
    p = d.ctl("-f", "dev04", "start")
    assert p.returncode == 0, p.stderr
    assert "gave up waiting to resume the Zadara array" in p.stderr
    assert any(i["state"] == "running" for i in instances(ec2))


@pytest.mark.parametrize("cmd,status", [("start", "hibernated"),
                                        ("stop", "created")])
def test_dry_run(make, cmd, status):
    ec2, oc, z, d = make(status)
    if cmd == "start":
        stop_everything(ec2, oc)
    p = d.ctl("-n", "dev04", cmd)
    assert p.returncode == 0, p.stderr
    assert zposts(z) == []
    assert zstatus(z) == status
    assert "would" in p.stderr


def test_wrong_token(make):
    ec2, oc, z, d = make("hibernated", token="not-the-token-0123")
    stop_everything(ec2, oc)
    p = d.ctl("dev04", "start")
    assert p.returncode == 1
    assert "Zadara rejected the account token" in p.stderr
    assert "not-the-token-0123" not in p.stderr + p.stdout + d.read_log()
    st = d.status("dev04")
    assert "not-the-token" not in str(st)
    assert all(i["state"] == "stopped" for i in instances(ec2))
