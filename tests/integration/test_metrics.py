"""Prometheus metrics (issue 15): `[daemon] metrics_listen` serves
GET /metrics on the daemon's loop.  The exposition passes `promtool check
metrics`; Debian's real `prometheus` server scrapes the daemon and its query
API returns the values the emulated cluster implies; the sample alerting
rules pass `promtool check rules` and their unit tests (`promtool test
rules`).  Everything on 127.0.0.1; every wait has a bound."""
import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import (ACCESS_KEY, DAEMON, OC_PASSWORD, ROOT, SECRET_KEY,
                      clean_env, reload_daemon, wait_for)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULES = os.path.join(ROOT, "etc", "ec2-manager.rules.yml")
RULES_TEST = os.path.join(ROOT, "tests", "integration", "metrics",
                          "rules_test.yml")

needs_prometheus = pytest.mark.skipif(
    not (os.access(PROMETHEUS, os.X_OK) and os.access(PROMTOOL, os.X_OK)),
    reason="Debian package prometheus is not installed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, method="GET", timeout=5):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def samples(text):
    """{'name{labels}': value} of an exposition (labels as written)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@pytest.fixture
def make(linked_sims, daemon_factory):
    """Emulators with cluster dev04 (admin, engage, db, nfs, 6 workers of
    which 2 run) and the daemon with a metrics listener."""
    def start(settings=()):
        ec2, oc = linked_sims()
        wait_for(lambda: len([h for h in oc.ctl("GET", "state")["hosts"]
                              if h["online"]]) == 4,
                 what="hosts registered")
        port = free_port()
        d = daemon_factory(ec2, oc, {"dev04": ["wait_interval = 200ms",
                                               "wait_retries = 40",
                                               *settings]},
                           daemon_conf=["metrics_listen = 127.0.0.1:%d"
                                        % port])
        d.start()
        d.metrics_url = "http://127.0.0.1:%d/metrics" % port
        d.metrics_port = port
        # Opencast's numbers are in once the hosts are mapped.
        wait_for(lambda: d.status("dev04")["workers_online"] == 2 and
                 d.status("dev04")["opencast"]["reachable"],
                 what="first full refresh")
        return ec2, oc, d
    return start


def test_scrape(make):
    ec2, oc, d = make()
    status, headers, body = http_get(d.metrics_url)
    assert status == 200
    assert headers["Content-Type"] == \
        "text/plain; version=0.0.4; charset=utf-8"
    s = samples(body)
    c = 'cluster="dev04"'
    assert s['ec2m_instances{%s,role="worker",state="running"}' % c] == 2
    assert s['ec2m_instances{%s,role="worker",state="stopped"}' % c] == 4
    assert s['ec2m_instances{%s,role="admin",state="running"}' % c] == 1
    assert s['ec2m_workers{%s}' % c] == 6
    assert s['ec2m_workers_running{%s}' % c] == 2
    assert s['ec2m_workers_online{%s}' % c] == 2
    assert s['ec2m_workers_idle{%s}' % c] == 2
    assert s['ec2m_workers_busy{%s}' % c] == 0
    assert s['ec2m_workers_maintenance{%s}' % c] == 0
    assert s['ec2m_workers_held{%s}' % c] == 0
    assert s['ec2m_jobs_queued{%s}' % c] == 0
    assert s['ec2m_operation_in_progress{%s}' % c] == 0
    assert s['ec2m_build_info{version="0.1.0"}'] == 1
    assert s['ec2m_clusters'] == 1
    assert s['ec2m_last_refresh_success_timestamp_seconds{%s,source="ec2"}'
             % c] > 1.7e9
    # Upstream calls were counted by call and outcome, and timed.
    assert s['ec2m_upstream_requests_total{service="ec2",'
             'call="DescribeInstances",outcome="ok"}'] >= 1
    assert s['ec2m_upstream_requests_total{service="opencast",'
             'call="/services/hosts.json",outcome="ok"}'] >= 1
    assert s['ec2m_upstream_request_duration_seconds_count{service="ec2",'
             'call="DescribeInstances"}'] >= 1
    # The control requests of the fixture (ping, clusters, status).
    assert s['ec2m_control_requests_total{command="status",'
             'outcome="ok"}'] >= 1
    assert s['ec2m_control_connections_total'] >= 1
    assert s['ec2m_loggly_dropped_total'] == 0
    # No secret, whatever it is.
    for secret in (OC_PASSWORD, SECRET_KEY, ACCESS_KEY):
        assert secret not in body
    # Only GET (and HEAD) of /metrics.
    assert http_get(d.metrics_url.replace("/metrics", "/"))[0] == 404
    assert http_get(d.metrics_url, method="POST")[0] == 405


def test_job_gauges_all_and_high_load(make):
    """Queued and running jobs, all of them and those of the
    high_load_services types, as Opencast lists them."""
    ec2, oc, d = make()
    oc.ctl("POST", "settings", {"dispatch": False})
    worker = [h["base_url"] for h in oc.ctl("GET", "state")["hosts"]
              if h["role"] == "worker" and h["online"]][0]
    composer = "org.opencastproject.composer"
    oc.ctl("POST", "jobs", {"type": composer, "status": "RUNNING",
                            "host": worker, "duration_s": 600})
    oc.ctl("POST", "jobs", {"type": "org.opencastproject.workflow",
                            "status": "RUNNING", "host": worker,
                            "duration_s": 600})
    oc.ctl("POST", "jobs", {"type": composer, "count": 2})
    oc.ctl("POST", "jobs", {"type": "org.opencastproject.workflow"})
    p = d.ctl("dev04", "status", "--refresh", "-j")
    assert p.returncode == 0, p.stderr
    s = samples(http_get(d.metrics_url)[2])
    c = 'cluster="dev04"'
    assert s['ec2m_jobs_queued{%s}' % c] == 3
    assert s['ec2m_high_load_jobs_queued{%s}' % c] == 2
    assert s['ec2m_jobs_running{%s}' % c] == 2
    assert s['ec2m_high_load_jobs_running{%s}' % c] == 1
    assert s['ec2m_workers_busy{%s}' % c] == 1
    # Loads are the demand policy's: absent under the default policy.
    assert not any(k.startswith("ec2m_high_load_jobs_running_load")
                   for k in s)


@needs_prometheus
def test_promtool_check_metrics(make):
    ec2, oc, d = make()
    # An operation, a dry run and a refusal, so that the histograms and
    # counters have series too.
    assert d.ctl("dev04", "scale", "up").returncode == 0
    assert d.ctl("-n", "dev04", "scale", "down").returncode == 0
    assert d.ctl("dev04", "scale", "up", "-w", "9").returncode == 1
    body = http_get(d.metrics_url)[2]
    s = samples(body)
    c = 'cluster="dev04"'
    assert s['ec2m_operations_total{%s,kind="scale_up",outcome="succeeded",'
             'dry_run="false"}' % c] == 1
    assert s['ec2m_operations_total{%s,kind="scale_down",outcome='
             '"succeeded",dry_run="true"}' % c] == 1
    assert s['ec2m_operations_total{%s,kind="scale_up",outcome="refused",'
             'dry_run="false"}' % c] == 1
    assert s['ec2m_operation_duration_seconds_bucket{%s,kind="scale_up",'
             'le="+Inf"}' % c] == 2
    assert s['ec2m_control_requests_total{command="scale",'
             'outcome="refused"}'] == 1
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


@needs_prometheus
def test_outside_text_in_labels(linked_sims, daemon_factory):
    """An EC2 Name with a quote, a backslash, a newline and non-ASCII text
    is a label value escaped as the format says, which promtool parses."""
    ec2, oc = linked_sims()
    name = 'dev04-worker-"q\\z\n\u65e5'
    inst = ec2.ctl("POST", "instances", {"name": name, "state": "running"})
    wait_for(lambda: len([h for h in oc.ctl("GET", "state")["hosts"]
                          if h["online"]]) == 5, what="hosts registered")
    port = free_port()
    d = daemon_factory(ec2, oc, {"dev04": []}, daemon_conf=[
        "metrics_listen = 127.0.0.1:%d" % port]).start()
    url = "http://127.0.0.1:%d/metrics" % port
    wait_for(lambda: d.status("dev04")["workers_online"] == 3 and
             d.status("dev04")["opencast"]["reachable"],
             what="first full refresh")
    body = http_get(url)[2]
    line = ('ec2m_worker_maintenance{cluster="dev04",instance_id="%s",'
            'name="dev04-worker-\\"q\\\\z\\n\u65e5"} 0'
            % inst["id"])
    assert line in body.splitlines(), body
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def prometheus_config(tmp_path, target):
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "rule_files:\n"
        "  - %s\n"
        "scrape_configs:\n"
        "  - job_name: ec2-manager\n"
        "    static_configs:\n"
        "      - targets: ['%s']\n" % (RULES, target))
    return conf


def query(base, expr):
    """The vector of an instant query: [(labels, value)]."""
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, _, body = http_get(url)
    if status != 200:
        return []
    data = json.loads(body)
    assert data["status"] == "success", data
    return [(r["metric"], float(r["value"][1]))
            for r in data["data"]["result"]]


def value_is(base, expr, want):
    v = query(base, expr)
    return len(v) == 1 and v[0][1] == want


@needs_prometheus
def test_prometheus_scrapes_the_daemon(make, tmp_path):
    ec2, oc, d = make()
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    log = open(tmp_path / "prometheus.log", "wb")
    # Its own config, storage and port: no conflict with a system
    # prometheus service (if one runs at all).
    prom = subprocess.Popen(
        [PROMETHEUS,
         "--config.file=%s" % prometheus_config(
             tmp_path, "127.0.0.1:%d" % d.metrics_port),
         "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % port,
         "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
        env=clean_env(tmp_path), cwd=str(tmp_path))
    try:
        def ready():
            assert prom.poll() is None, (tmp_path /
                                         "prometheus.log").read_text()
            try:
                return http_get(base + "/-/ready", timeout=1)[0] == 200
            except OSError:
                return False
        wait_for(ready, timeout=20, what="prometheus ready")
        wait_for(lambda: value_is(base, 'up{job="ec2-manager"}', 1),
                 timeout=15, what="a successful scrape")
        assert value_is(base, 'ec2m_workers_running{cluster="dev04"}', 2)
        assert value_is(base, 'ec2m_instances{cluster="dev04",'
                        'role="worker",state="stopped"}', 4)
        # Nothing failed: the rule "an operation failed" is not firing.
        p = d.ctl("dev04", "scale", "up")
        assert p.returncode == 0, p.stderr
        wait_for(lambda: value_is(base, 'ec2m_workers_running{'
                                  'cluster="dev04"}', 3),
                 timeout=15, what="3 running workers in prometheus")
        assert value_is(base, 'ec2m_instances{cluster="dev04",'
                        'role="worker",state="stopped"}', 3)
        # (The operation has ended, but the sample after it may be a
        # scrape away.)
        wait_for(lambda: value_is(base, 'ec2m_operations_total{'
                                  'cluster="dev04",kind="scale_up",'
                                  'outcome="succeeded"}', 1),
                 timeout=15, what="the scale_up counted in prometheus")
        assert value_is(base, 'sum(ec2m_upstream_requests_total{'
                        'service="ec2",call="StartInstances"})', 1)
        # The rules file was loaded by the server, and its alerts are not
        # firing on a healthy cluster.
        status, _, body = http_get(base + "/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        names = {r["name"] for g in groups for r in g["rules"]}
        assert {"EC2ManagerNoFreshData", "EC2ManagerOperationFailed",
                "EC2ManagerWorkerInMaintenance"} <= names
        assert query(base, 'ALERTS{alertstate="firing"}') == []
    finally:
        prom.terminate()
        try:
            prom.wait(15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()


def refused(url):
    try:
        http_get(url, timeout=2)
    except urllib.error.URLError as e:
        return isinstance(e.reason, ConnectionRefusedError)
    return False


def test_reload_moves_and_closes_the_listener(make):
    ec2, oc, d = make()
    old_url = d.metrics_url
    new_port = free_port()
    new_url = "http://127.0.0.1:%d/metrics" % new_port
    assert reload_daemon(d, lambda t: t.replace(
        "metrics_listen = 127.0.0.1:%d" % d.metrics_port,
        "metrics_listen = 127.0.0.1:%d" % new_port))
    assert http_get(new_url)[0] == 200
    assert refused(old_url)
    # A bad address is rejected with the reason; the listener stays.
    assert reload_daemon(d, lambda t: t.replace(
        "metrics_listen = 127.0.0.1:%d" % new_port,
        "metrics_listen = 127.0.0.1:x"))
    assert "reload rejected" in d.read_log()
    assert http_get(new_url)[0] == 200
    # Taken out of the file: no listener any more.
    assert reload_daemon(d, lambda t: t.replace(
        "metrics_listen = 127.0.0.1:x\n", ""))
    assert refused(new_url)
    assert d.request("ping")["ok"]


def listening_tcp_ports(pid):
    """The ports of the TCP sockets that process pid listens on."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with open("/proc/%d/net/%s" % (pid, table)) as f:
            next(f)
            for line in f:
                fields = line.split()
                # st 0A is LISTEN; field 9 is the socket's inode.
                if fields[3] == "0A" and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_metrics_off_by_default(linked_sims, daemon_factory):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []}).start()
    assert listening_tcp_ports(d.proc.pid) == set()
    assert "metrics: serving" not in d.read_log()


def test_listens_on_the_configured_port_only(make):
    ec2, oc, d = make()
    assert listening_tcp_ports(d.proc.pid) == {d.metrics_port}


@pytest.mark.parametrize("value,why", [
    ("localhost:9780", "is not an IPv4 address"),
    ("127.0.0.1:0", "is not 1 to 65535"),
    ("127.0.0.1", "is not ADDRESS:PORT"),
    ("[::1]9780", "is not [IPV6]:PORT"),
])
def test_bad_metrics_listen(linked_sims, daemon_factory, value, why):
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []},
                       daemon_conf=["metrics_listen = " + value])
    p = subprocess.run([DAEMON, "-c", str(d.conf)], env=d.env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    # FILE:LINE: the key and the reason.
    line = [n for n, text in enumerate(d.conf.read_text().splitlines(), 1)
            if text.startswith("metrics_listen")][0]
    assert "%s:%d:" % (d.conf, line) in p.stderr, p.stderr
    assert why in p.stderr, p.stderr


def test_metrics_port_taken(linked_sims, daemon_factory):
    ec2, oc = linked_sims()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        d = daemon_factory(ec2, oc, {"dev04": []}, daemon_conf=[
            "metrics_listen = 127.0.0.1:%d" % s.getsockname()[1]])
        p = subprocess.run([DAEMON, "-c", str(d.conf)], env=d.env,
                           capture_output=True, text=True, timeout=30)
    finally:
        s.close()
    assert p.returncode == 1
    assert "cannot listen on 127.0.0.1:" in p.stderr, p.stderr


@needs_prometheus
def test_alerting_rules(tmp_path):
    p = subprocess.run([PROMTOOL, "check", "rules", RULES],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 3 rules found" in p.stdout, p.stdout
    # Each alert fires on the series that should fire it, and only then.
    p = subprocess.run([PROMTOOL, "test", "rules", RULES_TEST],
                       capture_output=True, text=True, timeout=60,
                       cwd=os.path.dirname(RULES_TEST))
    assert p.returncode == 0, p.stdout + p.stderr
