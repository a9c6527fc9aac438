"""ec2-managerd's state, control socket and reload, against the EC2 and
Opencast emulators (linked: running Opencast instances register as hosts).
These tests speak the protocol over raw sockets; test_ctl.py drives the
same daemon through ec2ctl."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading

import pytest

from conftest import DAEMON, ctl_request, wait_for

COMPOSER = "org.opencastproject.composer"


def sim_cluster(ec2, prefix):
    return {i["id"]: i for i in ec2.ctl("GET", "instances")
            if i["name"].startswith(prefix + "-")
            and i["state"] != "terminated"}


def hosts_registered(oc, n):
    return len([h for h in oc.ctl("GET", "state")["hosts"]
                if h["online"]]) == n


@pytest.fixture
def running(linked_sims, daemon_factory):
    ec2, oc = linked_sims()
    # admin + engage + 2 workers run and register in Opencast.
    wait_for(lambda: hosts_registered(oc, 4), what="hosts registered")
    d = daemon_factory(ec2, oc, {"dev04": []}).start()
    return ec2, oc, d


def test_status_matches_emulators(running):
    ec2, oc, d = running
    oc.ctl("POST", "settings", {"dispatch": False})
    workers = sorted(h["base_url"] for h in oc.ctl("GET", "state")["hosts"]
                     if h["role"] == "worker")
    oc.ctl("POST", "jobs", {"type": COMPOSER, "status": "RUNNING",
                            "host": workers[0], "duration_s": 600,
                            "count": 2})
    oc.ctl("POST", "jobs", {"type": COMPOSER, "count": 3})
    oc.ctl("POST", "jobs", {"type": "org.opencastproject.caption"})
    st = d.status("dev04", refresh=True)

    sim = sim_cluster(ec2, "dev04")
    assert {i["id"] for i in st["instances"]} == set(sim)
    by_id = {i["id"]: i for i in st["instances"]}
    for iid, inst in sim.items():
        got = by_id[iid]
        assert got["name"] == inst["name"]
        assert got["state"] == inst["state"]
        assert got["role"] == inst["name"].split("-", 1)[1]
        assert got["held"] is False
        if inst["state"] == "running":
            assert got["uptime_s"] is not None and got["uptime_s"] >= 0
        else:
            assert got["uptime_s"] is None
            assert got["maintenance"] is None and got["mh_host"] is None
    assert st["cluster"] == "dev04"
    assert st["instances_online"] == sum(
        1 for i in sim.values() if i["state"] == "running")
    assert st["workers"] == 6 and st["workers_online"] == 2
    assert st["queued_jobs"] == 4
    assert st["queued_high_load_jobs"] == 3
    assert st["running_jobs"] == 2
    busy = [i for i in st["instances"]
            if i["mh_host"] == workers[0]]
    assert len(busy) == 1 and busy[0]["running_jobs"] == 2
    idle = [i for i in st["instances"] if i["mh_host"] == workers[1]]
    assert idle[0]["running_jobs"] == 0 and idle[0]["maintenance"] is False
    for inst in st["instances"]:
        if inst["role"] in ("db", "nfs"):
            assert inst["maintenance"] is None and inst["mh_host"] is None
            assert inst["running_jobs"] is None
    # last_ok_at: when each was last read completely (issue 14).
    assert st["ec2"] == {"ok": True, "error": None,
                         "last_ok_at": st["ec2"]["last_ok_at"]}
    assert st["opencast"] == {"reachable": True, "error": None,
                              "last_ok_at": st["opencast"]["last_ok_at"]}
    assert st["ec2"]["last_ok_at"] <= st["updated_at"]
    assert st["opencast"]["last_ok_at"] <= st["updated_at"]
    assert st["autoscale"]["enabled"] is True
    assert st["operation"] is None
    assert st["updated_at"].endswith("Z")
    # Every key of SPEC §6 is present.
    for key in ("cluster", "instances_online", "workers", "workers_online",
                "queued_jobs", "queued_high_load_jobs", "running_jobs",
                "instances", "autoscale", "ec2", "opencast", "operation",
                "updated_at"):
        assert key in st


def test_status_shows_hold_and_autoscale_tag(running):
    ec2, oc, d = running
    sim = sim_cluster(ec2, "dev04")
    worker = [i for i in sim.values() if i["name"] == "dev04-worker"][0]
    admin = [i for i in sim.values() if i["name"] == "dev04-admin"][0]
    ec2.ctl("POST", "instances/" + worker["id"],
            {"tags": {"Name": "dev04-worker", "HOLD": "yes"}})
    ec2.ctl("POST", "instances/" + admin["id"],
            {"tags": {"Name": "dev04-admin", "autoscale": "Off"}})
    st = d.status("dev04", refresh=True)
    held = [i for i in st["instances"] if i["held"]]
    assert [i["id"] for i in held] == [worker["id"]]
    assert st["autoscale"]["enabled"] is False
    assert "autoscale=off" in st["autoscale"]["reason"]


def test_opencast_down_makes_numbers_unknown(running):
    ec2, oc, d = running
    oc.ctl("POST", "faults", {"path": "*", "kind": "503", "count": 100})
    r = d.request("status", "dev04", {"refresh": True})
    assert r["ok"] is False and r["error"]["code"] == "upstream"
    assert "Opencast" in r["error"]["message"]
    st = d.status("dev04")
    assert st["opencast"]["reachable"] is False
    assert "HTTP 503" in st["opencast"]["error"]
    assert st["queued_jobs"] is None and st["running_jobs"] is None
    assert all(i["running_jobs"] is None for i in st["instances"])
    # EC2 data is still there.
    assert st["ec2"]["ok"] is True and len(st["instances"]) == 10
    ev = d.request("events", "dev04", {"n": 5})["result"]["events"]
    assert ev[-1]["kind"] == "refresh" and "HTTP 503" in ev[-1]["msg"]
    oc.ctl("DELETE", "faults")
    st = d.status("dev04", refresh=True)
    assert st["opencast"]["reachable"] is True
    ev = d.request("events", "dev04")["result"]["events"]
    assert ev[-1]["msg"] == "refresh succeeded again"


def test_ec2_failure_is_reported(running):
    ec2, oc, d = running
    ec2.ctl("POST", "faults", {"action": "*", "kind": "auth", "count": 5})
    r = d.request("status", "dev04", {"refresh": True})
    assert r["ok"] is False and r["error"]["code"] == "upstream"
    assert "AuthFailure" in r["error"]["message"]
    st = d.status("dev04")
    assert st["ec2"]["ok"] is False and "AuthFailure" in st["ec2"]["error"]
    # The last good instance list is kept; Opencast's view is not joined.
    assert len(st["instances"]) == 10
    assert st["opencast"]["reachable"] is False


def test_clusters_version_ping_events(running):
    ec2, oc, d = running
    r = d.request("clusters")
    assert r["ok"]
    (c,) = r["result"]["clusters"]
    assert c["cluster"] == "dev04" and c["workers_online"] == 2
    assert d.request("version")["result"]["version"]
    assert d.request("ping")["result"] == {"pong": True}
    r = d.request("events", "dev04", {"n": 0})
    assert r["ok"] is False and r["error"]["code"] == "bad_request"
    r = d.request("status", "nope")
    assert r["error"]["code"] == "unknown_cluster"


@pytest.mark.parametrize("line,code,text", [
    (b"not json\n", "bad_request", "malformed JSON"),
    (b"[1,2]\n", "bad_request", "must be a JSON object"),
    (b'{"v":1,"id":5}\n', "bad_request", "invalid request"),
    (b'{"v":2,"id":5,"cmd":"ping"}\n', "bad_request", "version"),
    (b'{"v":1,"id":5,"cmd":"ping","bogus":1}\n', "bad_request",
     "invalid request"),
    (b'{"v":1,"id":5,"id":6,"cmd":"ping"}\n', "bad_request", "duplicate"),
    (b'{"v":1,"id":5,"cmd":"fly"}\n', "unknown_command", "fly"),
    (b'{"v":1,"id":5,"cmd":"status"}\n', "bad_request", "needs a cluster"),
    (b'{"v":1,"id":5,"cmd":"status","cluster":"../x"}\n', "bad_request",
     "invalid cluster"),
    (b'{"v":1,"id":5,"cmd":"status","cluster":"dev04","args":{"x":1}}\n',
     "bad_request", "invalid arguments"),
    (b'{"v":1,"id":5,"cmd":"events","cluster":"dev04","args":{"n":"3"}}\n',
     "bad_request", "invalid arguments"),
])
def test_bad_requests(running, line, code, text):
    ec2, oc, d = running
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(d.socket)
    s.sendall(line + b'{"v":1,"id":9,"cmd":"ping"}\n')
    f = s.makefile("rb")
    bad = json.loads(f.readline())
    assert bad["ok"] is False
    assert bad["error"]["code"] == code
    assert text in bad["error"]["message"]
    # The connection stays usable: the next request is answered.
    good = json.loads(f.readline())
    assert good == {"id": 9, "ok": True, "result": {"pong": True}}
    s.close()


def test_oversized_line_is_refused_and_others_are_served(running):
    ec2, oc, d = running
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(d.socket)
    try:
        s.sendall(b"x" * (70 * 1024))
    except OSError:
        pass
    f = s.makefile("rb")
    reply = json.loads(f.readline())
    assert reply["error"]["code"] == "bad_request"
    assert "too large" in reply["error"]["message"]
    # Then closed; with the client's surplus bytes unread the kernel may
    # signal that as a reset.
    try:
        rest = f.readline()
    except ConnectionResetError:
        rest = b""
    assert rest == b""
    s.close()
    # A line of exactly the limit (newline included) is still accepted.
    pad = 64 * 1024 - len('{"v":1,"id":3,"cmd":"ping","cluster":""}\n')
    line = '{"v":1,"id":3,"cmd":"ping","cluster":"%s"}\n' % ("a" * pad)
    assert len(line) == 64 * 1024
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(d.socket)
    s.sendall(line.encode())
    reply = json.loads(s.makefile("rb").readline())
    # Read and parsed (the long cluster name is then a bad request).
    assert reply["id"] == 3 and "too large" not in json.dumps(reply)
    s.close()
    assert d.request("ping")["ok"]


def test_pipelined_requests_answered_in_order(running):
    ec2, oc, d = running
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(d.socket)
    reqs = [{"v": 1, "id": i, "cmd": "status", "cluster": "dev04",
             "args": {"refresh": i % 3 == 0}} for i in range(1, 10)]
    reqs.append({"v": 1, "id": 10, "cmd": "ping"})
    s.sendall(b"".join((json.dumps(r) + "\n").encode() for r in reqs))
    f = s.makefile("rb")
    ids = [json.loads(f.readline())["id"] for _ in reqs]
    assert ids == list(range(1, 11))
    s.close()


def test_half_closed_client_still_gets_its_answer(running):
    ec2, oc, d = running
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(d.socket)
    s.sendall(b'{"v":1,"id":1,"cmd":"status","cluster":"dev04",'
              b'"args":{"refresh":true}}\n')
    s.shutdown(socket.SHUT_WR)
    reply = json.loads(s.makefile("rb").readline())
    assert reply["id"] == 1 and reply["ok"] is True
    s.close()


def test_misbehaving_clients_do_not_block_others(running):
    ec2, oc, d = running
    socks = []
    try:
        # Half a message then silence.
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.socket)
        s.sendall(b'{"v":1,"id":1,"cmd":"st')
        socks.append(s)
        # A client that never reads a stream of answers.
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.socket)
        s.sendall(b'{"v":1,"id":1,"cmd":"status","cluster":"dev04"}\n' * 50)
        socks.append(s)
        # 1,000 idle connections.
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.socket)
            socks.append(s)
        # Answered (ctl_request gives up after 10 s) while the client
        # with half a line still waits: it has had no answer and its
        # connection is open, so ours did not queue behind it.
        assert d.request("ping")["ok"]
        st = d.status("dev04")
        assert len(st["instances"]) == 10
        socks[0].setblocking(False)
        with pytest.raises(BlockingIOError):
            socks[0].recv(1)
    finally:
        for s in socks:
            s.close()
    assert d.request("ping")["ok"]
    assert d.proc.poll() is None


def test_200_concurrent_clients(running):
    ec2, oc, d = running
    want = d.status("dev04")
    results = [None] * 200
    errors = []

    def client(i):
        try:
            if i % 2:
                results[i] = ctl_request(d.socket, {
                    "v": 1, "id": i, "cmd": "status",
                    "cluster": "dev04"}, timeout=30)[-1]
            else:
                results[i] = ctl_request(d.socket, {
                    "v": 1, "id": i, "cmd": "ping"}, timeout=30)[-1]
        except Exception as e:      # noqa: BLE001 - collected and asserted
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for i, r in enumerate(results):
        assert r["id"] == i and r["ok"] is True
        if i % 2:
            assert {x["id"] for x in r["result"]["instances"]} == \
                {x["id"] for x in want["instances"]}
        else:
            assert r["result"] == {"pong": True}


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="no setpriv")
def test_unprivileged_peer_reads_but_may_not_change(linked_sims,
                                                    daemon_factory,
                                                    public_dir):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []}, socket_dir=public_dir).start()
    os.chmod(d.socket, 0o666)    # an operator opened it for monitoring
    code = (
        "import json,socket,sys\n"
        "def ask(req):\n"
        "    s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "    s.sendall((json.dumps(req)+'\\n').encode())\n"
        "    return json.loads(s.makefile('rb').readline())\n"
        "print(json.dumps([ask({'v':1,'id':1,'cmd':'status',"
        "'cluster':'dev04'}), ask({'v':1,'id':2,'cmd':'stop',"
        "'cluster':'dev04'})]))\n")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", "/usr/bin/python3", "-c", code,
                        d.socket], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    status, stop = json.loads(p.stdout)
    assert status["ok"] is True and status["result"]["cluster"] == "dev04"
    assert stop["ok"] is False
    assert stop["error"]["code"] == "permission_denied"
    assert "denied \"stop\" on dev04 to uid 65534" in d.read_log()


def test_sighup_good_and_bad_config(running, tmp_path):
    ec2, oc, d = running
    ec2.ctl("POST", "generate", {"prefix": "dev05", "count": 2,
                                 "state": "running"})
    # A bad file is rejected and the old one stays in force.
    good = d.conf.read_text()
    d.conf.write_text(good + "\n[cluster dev05]\nmin_worker = 1\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reload rejected" in d.read_log(), what="rejection")
    assert 'unknown key "min_worker"' in d.read_log()
    assert d.cluster_names() == ["dev04"]
    # A good one adds dev05 and is applied at once.
    d.conf.write_text(good + "\n[cluster dev05]\nmin_workers = 1\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.cluster_names() == ["dev04", "dev05"],
             what="dev05 managed")
    st = wait_for(lambda: (lambda s: s if s["updated_at"] else None)(
        d.status("dev05")), what="dev05 refreshed")
    assert len(st["instances"]) == 2
    ev = d.request("events", "dev04")["result"]["events"]
    assert any(e["kind"] == "config" for e in ev)
    # Removing it stops managing it.
    d.conf.write_text(good)
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.cluster_names() == ["dev04"], what="dev05 removed")
    assert d.request("status", "dev05")["error"]["code"] == "unknown_cluster"


def test_refresh_runs_on_its_timer(linked_sims, daemon_factory):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": ["refresh_interval = 1s"]}).start()
    first = ec2.ctl("GET", "counts")["DescribeInstances"]["calls"]
    wait_for(lambda: ec2.ctl("GET", "counts")["DescribeInstances"]["calls"]
             >= first + 2, what="two timed refreshes")


def test_stale_socket_replaced_and_live_one_refused(linked_sims,
                                                    daemon_factory):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []})
    # A socket file nobody listens on is stale: it is replaced.
    s = socket.socket(socket.AF_UNIX)
    s.bind(d.socket)
    s.close()
    d.start(wait_refresh=False)
    assert oct(os.stat(d.socket).st_mode & 0o777) == "0o660"
    # A second daemon on the same socket refuses to start.
    p = subprocess.run([DAEMON, "-c", str(d.conf)], env=d.env,
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "another daemon is serving" in p.stderr
    assert d.request("ping")["ok"]


def test_check_config(linked_sims, daemon_factory):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": [], "dev05": []})
    p = subprocess.run([DAEMON, "--check-config", "-c", str(d.conf)],
                       env=d.env, capture_output=True, text=True)
    assert p.returncode == 0
    assert "configuration OK" in p.stdout and "2 clusters" in p.stdout
    d.conf.write_text(d.conf.read_text() + "\n[cluster x]\nbilling = weekly\n")
    p = subprocess.run([DAEMON, "--check-config", "-c", str(d.conf)],
                       env=d.env, capture_output=True, text=True)
    assert p.returncode == 1
    assert str(d.conf) in p.stderr and "billing" in p.stderr


def test_one_left_pairing_and_unmapped_hosts(running):
    ec2, oc, d = running
    engage = [i for i in sim_cluster(ec2, "dev04").values()
              if i["name"] == "dev04-engage"][0]
    engage_url = "http://%s:8080" % engage["private_ip"]
    # The engage node registered under a DNS name that matches none of
    # the instance's addresses: it is the only unmapped host and instance,
    # so the two are paired.
    oc.ctl("DELETE", "hosts?base_url=" + engage_url)
    oc.ctl("POST", "hosts", {"base_url": "http://engage.example.org",
                             "role": "engage"})
    st = d.status("dev04", refresh=True)
    got = [i for i in st["instances"] if i["id"] == engage["id"]][0]
    assert got["mh_host"] == "http://engage.example.org"
    wait_for(lambda: "paired dev04-engage (%s) with Opencast host "
             "http://engage.example.org" % engage["id"] in d.read_log(),
             what="pairing logged")
    # A second stray host makes it ambiguous: nothing is paired and both
    # the instance and the hosts are named in the log.
    oc.ctl("POST", "hosts", {"base_url": "http://10.99.99.99:8080",
                             "role": "worker"})
    st = d.status("dev04", refresh=True)
    got = [i for i in st["instances"] if i["id"] == engage["id"]][0]
    assert got["mh_host"] is None
    log = wait_for(lambda: (lambda l: l if "matches no instance" in l
                            else None)(d.read_log()), what="unmapped logged")
    assert "instance dev04-engage (%s) has no Opencast host" % \
        engage["id"] in log
    assert "Opencast host http://10.99.99.99:8080 matches no instance" in log
