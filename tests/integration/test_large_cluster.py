"""A cluster of 2,500 instances through ec2ctl (issue 18): its status is a
reply of about 400 KB, longer than a request may be (64 KiB), and must come
through status --refresh --json, the table, status --watch and events, with
DescribeInstances batched (1,000 instances a page) rather than per
instance.
"""
import json
import signal
import subprocess
import threading

import pytest

from conftest import EC2CTL, cluster_ec2_seed, ctl_request, wait_for

RUNNING = 1200          # workers running
STOPPED = 1296          # workers stopped
TOTAL = 4 + RUNNING + STOPPED   # admin, engage, db, nfs and the workers
PAGES = 3               # DescribeInstances pages of 1,000 per refresh


def describe_calls(ec2):
    return ec2.ctl("GET", "counts").get("DescribeInstances",
                                         {}).get("calls", 0)


@pytest.fixture
def big(linked_sims, daemon_factory):
    ec2, oc = linked_sims(clusters=[cluster_ec2_seed(
        "big", workers=0, running=0)])
    ids = ec2.ctl("POST", "generate", {"prefix": "big", "count": RUNNING,
                                       "state": "running"})["ids"]
    ec2.ctl("POST", "generate", {"prefix": "big", "count": STOPPED,
                                 "state": "stopped"})
    d = daemon_factory(ec2, oc, {"big": []},
                       defaults=["refresh_interval = 1h", "autoscale = off",
                                 "max_workers = 3000"]).start()
    # Two workers go into maintenance in Opencast, so that the table has
    # workers worth a row of their own.
    instances = {i["id"]: i for i in ec2.ctl("GET", "instances")}
    maint = [instances[i]["private_ip"] for i in ids[:2]]
    for ip in maint:
        url = "http://%s:8080" % ip
        wait_for(lambda: any(h["base_url"] == url and h["up"] for h in
                             oc.ctl("GET", "state")["hosts"]),
                 timeout=60, what="host %s registered" % url)
        oc.ctl("POST", "hosts", {"base_url": url, "maintenance": True})
    ec2.ctl("POST", "counts/reset")
    return ec2, oc, d, ids[:2]


def test_large_cluster_through_ec2ctl(big):
    ec2, oc, d, maint_ids = big

    # status --refresh --json: one refresh, three pages, every instance
    # once, in a reply far longer than 64 KiB.
    p = d.ctl("big", "status", "--refresh", "--json", timeout=120)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) > 64 * 1024
    st = json.loads(p.stdout)["result"]
    ids = [i["id"] for i in st["instances"]]
    assert len(ids) == TOTAL and len(set(ids)) == TOTAL
    assert st["workers"] == RUNNING + STOPPED
    assert st["ec2"]["ok"]
    assert describe_calls(ec2) == PAGES
    assert {i["id"] for i in st["instances"]
            if i["maintenance"]} == set(maint_ids)

    # -j passes the daemon's line through as it came: one line.
    p = d.ctl("-j", "big", "status", timeout=120)
    assert p.returncode == 0, p.stderr
    line, = p.stdout.splitlines()
    assert len(line) > 64 * 1024
    assert len(json.loads(line)["result"]["instances"]) == TOTAL

    # The table is a summary that fits a screen.
    p = d.ctl("big", "status", "-f", "table", timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) < 60, p.stdout
    worker = [l.split() for l in lines if l.startswith("worker ")][0]
    assert worker[:6] == ["worker", str(RUNNING + STOPPED), str(RUNNING),
                          "0", "0", str(STOPPED)]
    assert worker[7] == "2"             # in maintenance
    total = [l.split() for l in lines if l.startswith("total ")][0]
    assert total[1] == str(TOTAL)
    assert "%d instances summarised" % TOTAL in p.stdout
    for name in ("big-admin", "big-engage", "big-db", "big-nfs"):
        assert any(l.startswith(name + " ") for l in lines), name
    rows = [l for l in lines if l.startswith("big-worker ")]
    assert {r.split()[1] for r in rows} == set(maint_ids)
    # --all lists every instance.
    p = d.ctl("big", "status", "-f", "table", "--all", timeout=120)
    assert p.returncode == 0, p.stderr
    assert sum(l.startswith("big-") for l in p.stdout.splitlines()) == TOTAL

    # status --watch: the first picture and one redraw, then Ctrl-C.
    watch = subprocess.Popen([EC2CTL, "--socket", d.socket, "big", "status",
                              "-f", "table", "--watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    pictures = []
    seen = threading.Event()

    def read():
        for l in watch.stdout:
            if "instances summarised" in l:
                pictures.append(l)
                if len(pictures) == 2:
                    seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(60), "status --watch did not redraw"
    finally:
        watch.send_signal(signal.SIGINT)
        rc = watch.wait(30)
        reader.join(10)
    assert rc == 0, watch.stderr.read()

    # Only --refresh read EC2; showing the state never does.
    assert describe_calls(ec2) == PAGES

    # An operation on the large cluster: one StartInstances for the three
    # workers, and every wait poll reads the whole cluster in three pages,
    # never one call per instance.
    p = d.ctl("big", "scale", "up", "-w", "3", timeout=300)
    assert p.returncode == 0, p.stderr
    counts = ec2.ctl("GET", "counts")
    assert counts["StartInstances"]["calls"] == 1
    calls = describe_calls(ec2)
    assert calls > PAGES and calls % PAGES == 0, calls
    started = [r for r in ec2.ctl("GET", "requests")
               if r["action"] == "StartInstances"]
    assert len([k for k in started[0]["params"]
                if k.startswith("InstanceId.")]) == 3

    # events shows what happened, on a cluster of any size.
    p = d.ctl("big", "events", "-n", "50", timeout=120)
    assert p.returncode == 0, p.stderr
    assert "scale" in p.stdout, p.stdout
    p = d.ctl("-j", "big", "events", timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["result"]["events"]

    p = d.ctl("big", "status", "--json", timeout=120)
    st = json.loads(p.stdout)["result"]
    assert st["workers_online"] >= RUNNING + 3 - 2   # two in maintenance
    assert sum(i["state"] == "running" for i in st["instances"]) == \
        4 + RUNNING + 3


def test_pipelined_large_replies(big):
    """The daemon answers several 400 KB replies on one connection to a
    client that sends every request before reading any answer."""
    ec2, oc, d, _ = big
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(d.socket)
    try:
        n = 5
        s.sendall(b"".join(
            (json.dumps({"v": 1, "id": i + 1, "cmd": "status",
                         "cluster": "big"}) + "\n").encode()
            for i in range(n)))
        buf, replies = b"", []
        while len(replies) < n:
            chunk = s.recv(1 << 20)
            assert chunk, "the daemon closed the connection"
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                replies.append(json.loads(line))
    finally:
        s.close()
    assert [r["id"] for r in replies] == list(range(1, n + 1))
    assert all(r["ok"] and len(r["result"]["instances"]) == TOTAL
               for r in replies)
    # A request stays limited to 64 KiB.
    r = ctl_request(d.socket, {"v": 1, "id": 9, "cmd": "ping",
                               "pad": "x" * (64 * 1024)})
    assert not r[-1]["ok"] and r[-1]["error"]["code"] == "bad_request"
