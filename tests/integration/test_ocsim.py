"""Integration tests of tests/sim/ocsim.py, the Opencast admin test double.

Each test starts the emulator through harness.SimProcess with a seed in
tmp_path and talks to it like a client would: urllib with its digest handler
for ordinary calls, and DigestSession (below) where a test needs libcurl's
behaviour: one kept-alive connection, the nonce cached and re-sent with a
growing nc.  Conditions are awaited with bounded polling, never fixed sleeps.

Run from /work/main:
  /usr/bin/python3 -m pytest -q tests/integration/test_ocsim.py
"""
import base64
import hashlib
import http.client
import itertools
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "sim"))
import harness  # noqa: E402
from conftest import wait_for  # noqa: E402

OCSIM = os.path.join(harness.SIM_DIR, "ocsim.py")
USER = "opencast_system_account"
PASSWORD = "CHANGE_ME"
AUTH_HEADERS = {"X-Requested-Auth": "Digest",
                "X-Opencast-Matterhorn-Authorization": "true"}
ADMIN = "http://10.0.1.10:8080"
W1 = "http://10.0.1.11:8080"
W2 = "http://10.0.1.12:8080"
W3 = "http://10.0.1.13:8080"
COMPOSER = "org.opencastproject.composer"
INSPECTION = "org.opencastproject.inspection"
WORKFLOW = "org.opencastproject.workflow"
NOT_FOUND_TEXT = b"The resource you requested does not exist."
COUNTERS = ("meanruntime", "meanqueuetime", "finished", "running", "queued")


# --- helpers -----------------------------------------------------------------

@pytest.fixture
def start(tmp_path):
    """Start ocsim with a seed and extra arguments; stopped after the test."""
    sims = []

    def _start(seed, *args):
        n = len(sims)
        seed_path = tmp_path / ("seed%d.json" % n)
        seed_path.write_text(json.dumps(seed))
        argv = [harness.PYTHON, OCSIM, "--port", "0", "--seed", str(seed_path),
                "--dispatch-interval", "0.1", *args]
        log_path = str(tmp_path / ("ocsim%d.log" % n))
        sim = harness.SimProcess(argv, log_path=log_path)
        sims.append(sim)
        return sim

    yield _start
    for sim in sims:
        sim.stop()


def cluster(jobs=(), workers=(W1, W2), **settings):
    """A seed with an admin and workers (max_load 4 each)."""
    hosts = [{"base_url": ADMIN, "role": "admin", "node_name": "dev04-admin"}]
    hosts += [{"base_url": url, "role": "worker", "max_load": 4}
              for url in workers]
    return {"hosts": hosts, "jobs": list(jobs), "settings": settings}


def running_job(host, duration_s=30, job_type=COMPOSER):
    return {"type": job_type, "status": "RUNNING", "host": host,
            "duration_s": duration_s}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def call(sim, path, data=None, method=None, headers=AUTH_HEADERS,
         password=PASSWORD, content_type=None, timeout=10):
    """One call through urllib's digest handler -> (status, headers, body)."""
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, sim.url, USER, password)
    opener = urllib.request.build_opener(
        urllib.request.HTTPDigestAuthHandler(passwords), NoRedirect)
    request = urllib.request.Request(sim.url + path, data=data, method=method,
                                     headers=dict(headers))
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        body = err.read() or b""
        err.close()
        return err.code, err.headers, body


def get_json(sim, path):
    status, headers, body = call(sim, path)
    assert status == 200, (path, status, body)
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


def post_maintenance(sim, host, value):
    form = {"host": host}
    if value is not None:
        form["maintenance"] = value
    return call(sim, "/services/maintenance",
                data=urllib.parse.urlencode(form).encode(),
                content_type="application/x-www-form-urlencoded")


def as_list(value, inner):
    """Read a list that may be "", one bare object or an array."""
    if value == "":
        return []
    items = value[inner]
    return items if isinstance(items, list) else [items]


def hosts_by_url(sim):
    return {h["base_url"]: h
            for h in as_list(get_json(sim, "/services/hosts.json")["hosts"],
                             "host")}


def active_jobs(sim):
    return as_list(get_json(sim, "/services/activeJobs.json")["jobs"], "job")


def statistics(sim):
    """{(type, host): entry} from statistics.json."""
    entries = as_list(get_json(sim, "/services/statistics.json")["statistics"],
                      "service")
    return {(e["serviceRegistration"]["type"],
             e["serviceRegistration"]["host"]): e for e in entries}


def current_load(sim):
    status, headers, body = call(sim, "/services/currentload")
    assert status == 200 and headers["Content-Type"] == "text/xml"
    ns = "{http://serviceregistry.opencastproject.org}"
    return {node.get("host"): float(node.get("currentLoad"))
            for node in ET.fromstring(body).iter(ns + "node")}


def md5_hex(text):
    return hashlib.md5(text.encode()).hexdigest()


def parse_challenge(value):
    assert value.startswith("Digest ")
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


class DigestSession:
    """A libcurl-like digest client on one keep-alive connection.

    It re-sends the cached nonce with nc+1 and retries once only after a
    challenge to an unauthenticated request or a stale="true" one.
    """

    def __init__(self, sim, user=USER, password=PASSWORD, realm=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", sim.port,
                                               timeout=10)
        self.user, self.password, self.realm = user, password, realm
        self.challenge = None
        self.nc = 0

    def send(self, method, path, body=None, headers=None):
        """One request with the cached credentials, if any."""
        all_headers = dict(AUTH_HEADERS, **(headers or {}))
        if self.challenge is not None:
            self.nc += 1
            all_headers["Authorization"] = self.authorization(method, path)
        self.conn.request(method, path, body=body, headers=all_headers)
        resp = self.conn.getresponse()
        return resp.status, resp.headers, resp.read()

    def request(self, method, path, body=None, headers=None):
        sent_credentials = self.challenge is not None
        result = self.send(method, path, body, headers)
        if result[0] == 401:
            challenge = parse_challenge(result[1]["WWW-Authenticate"])
            if not sent_credentials or challenge.get("stale") == "true":
                self.challenge, self.nc = challenge, 0
                result = self.send(method, path, body, headers)
        return result

    def authorization(self, method, uri):
        realm = self.realm or self.challenge["realm"]
        nonce = self.challenge["nonce"]
        nc = "%08x" % self.nc
        cnonce = os.urandom(8).hex()
        ha1 = md5_hex("%s:%s:%s" % (self.user, realm, self.password))
        ha2 = md5_hex("%s:%s" % (method, uri))
        response = md5_hex(":".join((ha1, nonce, nc, cnonce, "auth", ha2)))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'qop=auth, nc=%s, cnonce="%s", response="%s"'
                % (self.user, realm, nonce, uri, nc, cnonce, response))

    def close(self):
        self.conn.close()


def raw(sim, method, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


# --- authentication ----------------------------------------------------------

def test_digest_challenge_and_urllib_login(start):
    sim = start(cluster())
    asked_at = time.time()
    status, headers, _ = raw(sim, "GET", "/services/hosts.json",
                             {"X-Requested-Auth": "Digest"})
    answered_at = time.time()
    assert status == 401
    match = re.fullmatch(
        r'Digest realm="Opencast", qop="auth", nonce="([^"]+)"',
        headers["WWW-Authenticate"])
    expiry, signature = base64.b64decode(match.group(1)).decode().split(":")
    assert signature == md5_hex(expiry + ":opencast")
    # Valid for 300 s from when it was issued (epoch milliseconds).
    assert int(asked_at * 1000 + 300000) <= int(expiry) <= \
        int(answered_at * 1000 + 300000)

    me = get_json(sim, "/info/me.json")
    assert me["user"]["username"] == USER
    assert "ROLE_ADMIN" in me["roles"]
    log = sim.ctl("GET", "requests")
    assert [(e["status"], e["user"]) for e in log][-2:] == [(401, None),
                                                            (200, USER)]
    assert sim.ctl("GET", "counts") == {"GET /info/me.json": 1}


def test_wrong_credentials_are_challenged_again(start):
    sim = start(cluster())
    assert call(sim, "/services/hosts.json", password="wrong")[0] == 401
    for session in (DigestSession(sim, password="wrong"),
                    DigestSession(sim, user="admin"),
                    DigestSession(sim, realm="Opencast Matterhorn")):
        status, headers, _ = session.request("GET", "/services/hosts.json")
        assert status == 401
        assert "stale" not in headers["WWW-Authenticate"]
        session.close()
    tampered = DigestSession(sim)
    assert tampered.request("GET", "/services/hosts.json")[0] == 200
    tampered.challenge["nonce"] = base64.b64encode(
        b"99999999999999:" + b"0" * 32).decode()
    assert tampered.send("GET", "/services/hosts.json")[0] == 401
    tampered.close()
    assert sim.ctl("GET", "counts") == {"GET /services/hosts.json": 1}


def test_nonce_is_reused_until_it_goes_stale(start):
    sim = start(cluster(nonce_validity_s=1))
    session = DigestSession(sim)
    assert session.request("GET", "/services/hosts.json")[0] == 200
    assert session.request("GET", "/services/services.json")[0] == 200
    assert [e["status"] for e in sim.ctl("GET", "requests")] == [401, 200, 200]

    def stale_challenge():
        status, headers, _ = session.send("GET", "/services/hosts.json")
        return status == 401 and headers["WWW-Authenticate"]

    challenge = wait_for(stale_challenge, what="stale nonce")
    assert re.fullmatch(r'Digest realm="Opencast", qop="auth", '
                        r'nonce="[^"]+", stale="true"', challenge)
    assert session.request("GET", "/services/hosts.json")[0] == 200
    session.close()


def test_redirect_and_anonymous_access(start):
    sim = start(cluster())
    for headers in ({}, {"X-Opencast-Matterhorn-Authorization": "true"}):
        status, resp_headers, body = raw(sim, "GET", "/services/hosts.json",
                                         headers)
        assert status == 302 and body == b""
        assert resp_headers["Location"].endswith("/login.html")
    status, headers, _ = raw(sim, "GET", "/login.html")
    assert status == 200 and headers["Content-Type"].startswith("text/html")

    status, _, body = call(sim, "/info/me.json", headers={})
    me = json.loads(body)
    assert status == 200 and me["user"]["username"] == "anonymous"
    assert me["roles"] == ["ROLE_ANONYMOUS"]
    assert raw(sim, "GET", "/info/me.json",
               {"X-Requested-Auth": "Digest"})[0] == 401


def test_legacy_matterhorn_mode(start):
    sim = start(cluster(jobs=[running_job(W1)], legacy=True))
    status, headers, _ = raw(sim, "GET", "/services/hosts.json",
                             {"X-Requested-Auth": "Digest"})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith(
        'Digest realm="Opencast Matterhorn", qop="auth", nonce="')

    me = get_json(sim, "/info/me.json")
    assert me["username"] == USER and "ROLE_ADMIN" in me["roles"]
    status, _, body = call(sim, "/info/me.json",
                           headers={"X-Requested-Auth": "Digest"})
    assert status == 200 and json.loads(body)["username"] == "anonymous"

    host = hosts_by_url(sim)[W1]
    assert host == {"base_url": W1, "max_jobs": 4, "online": True,
                    "active": True, "maintenance": False}
    status, _, body = call(sim, "/services/statistics.json")
    assert b'"running":"1"' in body and b'"http:\\/\\/10.0.1.11:8080"' in body
    assert statistics(sim)[(COMPOSER, W1)]["running"] == "1"
    assert call(sim, "/services/activeJobs.json")[0] == 404
    assert call(sim, "/services/currentload")[0] == 404


# --- JSON shapes -------------------------------------------------------------

def add_host(sim, i):
    sim.ctl("POST", "hosts", {"base_url": "http://10.0.2.%d:8080" % i,
                              "services": [COMPOSER]})


def add_job(sim, i):
    sim.ctl("POST", "jobs", {"type": COMPOSER})


@pytest.mark.parametrize("path,wrapper,inner,grow", [
    ("/services/hosts.json", "hosts", "host", add_host),
    ("/services/services.json", "services", "service", add_host),
    ("/services/statistics.json", "statistics", "service", add_host),
    ("/services/activeJobs.json", "jobs", "job", add_job),
])
def test_list_shapes_follow_the_switches(start, path, wrapper, inner, grow):
    sim = start({"settings": {"dispatch": False}})
    for n in range(3):
        if n:
            grow(sim, n)
        for single, empty in itertools.product((True, False), repeat=2):
            sim.ctl("POST", "settings", {"single_object": single,
                                         "empty_string": empty})
            doc = get_json(sim, path)
            assert list(doc) == [wrapper]
            value = doc[wrapper]
            if n == 0:
                assert value == ("" if empty else {inner: []})
            elif n == 1 and single:
                assert isinstance(value[inner], dict)
            else:
                assert isinstance(value[inner], list)
                assert len(value[inner]) == n


def test_job_fields_and_nested_lists(start):
    sim = start(cluster(dispatch=False))
    for args in ([], ["a"], ["a", "42"]):
        sim.ctl("POST", "jobs", {"type": COMPOSER, "args": args,
                                 "operation": "Encode"})
    jobs = active_jobs(sim)
    assert [job["args"] for job in jobs] == ["", {"arg": "a"},
                                             {"arg": ["a", 42]}]
    job = jobs[0]
    assert job["id"] == 1001 and job["status"] == "QUEUED"
    assert job["type"] == COMPOSER and job["jobLoad"] == 1.5
    assert job["createdHost"] == ADMIN
    assert job["url"] == ADMIN + "/services/job/1001.xml"
    assert "processingHost" not in job and "dateStarted" not in job
    assert job["dispatchable"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z",
                        job["dateCreated"])


def test_scalar_typing_and_string_numbers(start):
    seed = cluster(jobs=[running_job(W1)], jobstats=True)
    seed["hosts"][1].update(node_name="42", max_load=4.5)
    seed["hosts"][2].update(max_load=8)
    sim = start(seed)
    _, _, body = call(sim, "/services/hosts.json")
    assert b'"node_name":42,' in body
    assert b'"max_load":4.5,' in body and b'"max_load":8,' in body
    assert b"\\/" not in body
    assert statistics(sim)[(COMPOSER, W1)]["running"] == 1

    sim.ctl("POST", "settings", {"string_numbers": True})
    _, _, body = call(sim, "/services/statistics.json")
    assert b'"running":"1"' in body and b'"http:\\/\\/10.0.1.11:8080"' in body
    entry = statistics(sim)[(COMPOSER, W1)]
    assert [entry[name] for name in COUNTERS] == ["0", "0", "0", "1", "0"]
    assert entry["serviceRegistration"]["error_state_trigger"] == 0
    job = active_jobs(sim)[0]
    assert job["id"] == "1001" and job["version"] == "2"
    assert job["jobLoad"] == 1.5 and job["queueTime"] == 0
    assert hosts_by_url(sim)[W1]["max_load"] == 4.5


def test_payload_makes_large_answers(start):
    sim = start(cluster(dispatch=False, payload_bytes=50000))
    sim.ctl("POST", "jobs", {"type": COMPOSER, "count": 40})
    session = DigestSession(sim)
    status, headers, body = session.request("GET", "/services/activeJobs.json")
    assert status == 200
    assert int(headers["Content-Length"]) == len(body) > 2000000
    jobs = as_list(json.loads(body)["jobs"], "job")
    assert len(jobs) == 40 and all(len(j["payload"]) == 50000 for j in jobs)
    assert session.request("GET", "/services/hosts.json")[0] == 200
    session.close()


# --- maintenance -------------------------------------------------------------

def test_maintenance_round_trip(start):
    sim = start(cluster())
    status, headers, body = post_maintenance(sim, W1, "TRUE")
    assert (status, body) == (204, b"") and "Content-Type" not in headers
    hosts = hosts_by_url(sim)
    assert hosts[W1]["maintenance"] is True
    assert hosts[W2]["maintenance"] is False
    services = as_list(get_json(sim, "/services/services.json?host=" + W1)
                       ["services"], "service")
    assert len(services) == 4 and all(s["maintenance"] for s in services)
    stats = statistics(sim)
    assert stats[(COMPOSER, W1)]["serviceRegistration"]["maintenance"] is True
    assert stats[(COMPOSER, W2)]["serviceRegistration"]["maintenance"] is False

    assert post_maintenance(sim, W1, "true")[0] == 204
    assert hosts_by_url(sim)[W1]["maintenance"] is True
    for value, expected in (("yes", False), ("True", True), (None, False)):
        assert post_maintenance(sim, W1, value)[0] == 204
        assert hosts_by_url(sim)[W1]["maintenance"] is expected

    for host in ("http://10.0.9.9:8080", W1 + "/", "http://10.0.1.11"):
        status, headers, body = post_maintenance(sim, host, "true")
        assert (status, body) == (404, NOT_FOUND_TEXT)
        assert headers["Content-Type"].startswith("text/plain")
    assert call(sim, "/services/maintenance",
                data=json.dumps({"host": W1}).encode(),
                content_type="application/json")[0] == 415
    assert call(sim, "/services/maintenance")[0] == 405

    posts = [e for e in sim.ctl("GET", "requests")
             if e["method"] == "POST" and e["user"] == USER]
    assert posts[0]["body"] == ("host=http%3A%2F%2F10.0.1.11%3A8080"
                                "&maintenance=TRUE")


# --- job model ---------------------------------------------------------------

def test_dispatch_respects_max_load_and_maintenance(start):
    seed = cluster(jobs=[{"type": COMPOSER, "count": 6, "duration_s": 0.8}],
                   workers=(W1, W2, W3))
    seed["hosts"][3]["maintenance"] = True
    sim = start(seed)
    most_running = 0

    def drained():
        nonlocal most_running
        jobs = active_jobs(sim)
        running = [j for j in jobs if j["status"] == "RUNNING"]
        for host in (W1, W2):
            assert sum(j["jobLoad"] for j in running
                       if j["processingHost"] == host) <= 4
        assert all(j["processingHost"] in (W1, W2) for j in running)
        assert all("processingHost" not in j for j in jobs
                   if j["status"] == "QUEUED")
        most_running = max(most_running, len(running))
        return not jobs

    wait_for(drained, what="all jobs finished")
    assert most_running == 4
    finished = sim.ctl("GET", "state")["jobs"]
    assert [j["status"] for j in finished] == ["FINISHED"] * 6
    assert {j["processing_host"] for j in finished} == {W1, W2}


def test_maintenance_host_finishes_its_jobs_but_gets_no_new_ones(start):
    sim = start(cluster(jobs=[running_job(W1, duration_s=1.5)], jobstats=True))
    assert post_maintenance(sim, W1, "true")[0] == 204
    assert current_load(sim) == {ADMIN: 0.0, W1: 0.0, W2: 0.0}
    assert statistics(sim)[(COMPOSER, W1)]["running"] == 1
    sim.ctl("POST", "jobs", {"type": COMPOSER, "count": 2, "duration_s": 30})

    def w1_drained():
        jobs = active_jobs(sim)
        return (statistics(sim)[(COMPOSER, W1)]["running"] == 0
                and len(jobs) == 2
                and all(j["status"] == "RUNNING" and j["processingHost"] == W2
                        for j in jobs))

    wait_for(w1_drained, what="W1 drained, new jobs on W2")
    assert current_load(sim) == {ADMIN: 0.0, W1: 0.0, W2: 3.0}
    assert statistics(sim)[(COMPOSER, W1)]["finished"] == 1


def test_offline_host_restarts_its_jobs(start):
    sim = start(cluster(jobs=[running_job(W1)]))
    first_start = active_jobs(sim)[0]["dateStarted"]
    sim.ctl("POST", "settings", {"dispatch": False})
    sim.ctl("POST", "hosts", {"base_url": W1, "online": False})
    assert hosts_by_url(sim)[W1]["online"] is False
    services = as_list(get_json(sim, "/services/services.json?host=" + W1)
                       ["services"], "service")
    assert not any(s["online"] for s in services)
    job = active_jobs(sim)[0]
    assert job["status"] == "RESTART" and "processingHost" not in job

    sim.ctl("POST", "settings", {"dispatch": True})
    job = wait_for(lambda: [j for j in active_jobs(sim)
                            if j["status"] == "RUNNING"], what="redispatch")[0]
    assert job["processingHost"] == W2 and job["dateStarted"] == first_start

    sim.ctl("POST", "hosts", {"base_url": W1, "online": True})
    host = hosts_by_url(sim)[W1]
    assert host["online"] is True and host["maintenance"] is False


def test_maintenance_host_that_goes_away_keeps_looking_online(start):
    seed = cluster(jobs=[running_job(W1)])
    seed["hosts"][1]["maintenance"] = True
    sim = start(seed)
    sim.ctl("POST", "hosts", {"base_url": W1, "online": False})
    # A job dispatched after the change proves dispatcher rounds have run.
    sim.ctl("POST", "jobs", {"type": INSPECTION, "duration_s": 30})
    wait_for(lambda: [j["status"] for j in active_jobs(sim)]
             == ["RUNNING"] * 2, what="inspection job dispatched")
    assert hosts_by_url(sim)[W1]["online"] is True
    stuck = active_jobs(sim)[0]
    assert stuck["status"] == "RUNNING" and stuck["processingHost"] == W1

    sim.ctl("POST", "hosts", {"base_url": W1, "online": True})
    wait_for(lambda: all(j["status"] == "RUNNING" and j["processingHost"] == W2
                         for j in active_jobs(sim)), what="restart on W2")
    assert hosts_by_url(sim)[W1]["maintenance"] is True

    sim.ctl("POST", "hosts", {"base_url": W1, "online": False})
    assert hosts_by_url(sim)[W1]["online"] is True
    assert post_maintenance(sim, W1, "false")[0] == 204
    wait_for(lambda: hosts_by_url(sim)[W1]["online"] is False,
             what="heartbeat marks the dead host offline")


def test_statistics_counters_and_jobstats_switch(start):
    sim = start(cluster(jobs=[running_job(W1)]))
    assert [j["status"] for j in active_jobs(sim)] == ["RUNNING"]
    stats = statistics(sim)
    assert len(stats) == 7 + 4 + 4
    assert all(entry[name] == 0
               for entry in stats.values() for name in COUNTERS)

    sim.ctl("POST", "settings", {"jobstats": True, "dispatching_s": 30})
    assert statistics(sim)[(COMPOSER, W1)]["running"] == 1
    sim.ctl("POST", "jobs", {"type": COMPOSER})
    dispatching = wait_for(lambda: [j for j in active_jobs(sim)
                                    if j["status"] == "DISPATCHING"],
                           what="a DISPATCHING job")[0]
    sim.ctl("POST", "settings", {"dispatch": False})
    sim.ctl("POST", "jobs", {"type": COMPOSER})
    stats = statistics(sim)
    assert stats[(COMPOSER, dispatching["processingHost"])]["queued"] == 1
    assert sum(entry["queued"] for entry in stats.values()) == 1
    assert sum(entry["running"] for entry in stats.values()) == 1


def test_count(start):
    sim = start(cluster(jobs=[running_job(W1), running_job(W1),
                              {"type": INSPECTION}], dispatch=False))

    def count(query):
        status, headers, body = call(sim, "/services/count?" + query)
        if status == 200:
            assert headers["Content-Type"].startswith("text/plain")
            return int(body)
        return status

    assert count("") == 3
    assert count("status=RUNNING") == 2
    assert count("serviceType=%s" % COMPOSER) == 2
    assert count("serviceType=%s&status=QUEUED" % INSPECTION) == 1
    assert count("serviceType=%s&operation=Encode&status=RUNNING"
                 % COMPOSER) == 2
    # host means "created on", not "running on" (ref §3.6).
    assert count("serviceType=%s&host=%s&status=RUNNING"
                 % (COMPOSER, ADMIN)) == 2
    assert count("serviceType=%s&host=%s&status=RUNNING"
                 % (COMPOSER, W1)) == 0
    assert count("host=%s" % W1) == 500
    assert count("operation=Encode&status=RUNNING") == 500
    assert count("serviceType=%s&host=%s" % (COMPOSER, W1)) == 500
    assert count("status=BOGUS") == 404


def test_workflow_on_admin_and_oversized_job_on_largest_idle_host(start):
    seed = cluster(jobs=[{"type": WORKFLOW}, {"type": COMPOSER, "load": 6}])
    seed["hosts"][1]["max_load"] = 2
    sim = start(seed)
    def all_running():
        jobs = active_jobs(sim)
        return all(j["status"] == "RUNNING" for j in jobs) and jobs

    jobs = wait_for(all_running, what="both jobs running")
    assert [(j["type"], j["processingHost"]) for j in jobs] == [
        (WORKFLOW, ADMIN), (COMPOSER, W2)]
    assert current_load(sim) == {ADMIN: 0.0, W1: 0.0, W2: 6.0}


# --- faults ------------------------------------------------------------------

@pytest.mark.parametrize("kind",
                         ["5xx", "503", "malformed", "drop", "latency"])
def test_fault_then_recovery(start, kind):
    sim = start(cluster())
    # A latency fault holds its answer far longer than the client waits.
    sim.ctl("POST", "faults", {"path": "/services/hosts.json", "kind": kind,
                               "seconds": 600})
    assert get_json(sim, "/services/services.json")  # other paths unaffected
    if kind == "drop":
        with pytest.raises((http.client.HTTPException, ConnectionError,
                            urllib.error.URLError)):
            call(sim, "/services/hosts.json")
    elif kind == "latency":
        with pytest.raises((TimeoutError, urllib.error.URLError)) as exc:
            call(sim, "/services/hosts.json", timeout=0.5)
        if isinstance(exc.value, urllib.error.URLError):
            assert isinstance(exc.value.reason, TimeoutError), exc.value
    else:
        status, headers, body = call(sim, "/services/hosts.json")
        if kind == "malformed":
            assert status == 200
            assert headers["Content-Type"] == "application/json"
            with pytest.raises(ValueError):
                json.loads(body)
        else:
            assert status == {"5xx": 500, "503": 503}[kind]
            assert headers["Content-Type"].startswith("text/html")
            with pytest.raises(ValueError):
                json.loads(body)
    assert len(hosts_by_url(sim)) == 3
    log = sim.ctl("GET", "requests")
    # The faulted call's challenge round trip, its answer, then the next
    # call's; a held call is logged once answered, so the next call's
    # answer is logged while the held one is not.
    faulted = {"5xx": [500], "503": [503], "malformed": [200],
               "drop": [None], "latency": []}[kind]
    assert [e["status"] for e in log
            if e["path"] == "/services/hosts.json"] == \
        [401] + faulted + [401, 200]


def test_401_fault_rejects_good_credentials(start):
    sim = start(cluster())
    session = DigestSession(sim)
    assert session.request("GET", "/services/hosts.json")[0] == 200
    sim.ctl("POST", "faults", {"path": "/services/hosts.json", "kind": "401"})
    status, headers, _ = session.request("GET", "/services/hosts.json")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Digest realm="Opencast"')
    assert session.request("GET", "/services/hosts.json")[0] == 200
    session.close()


def test_fault_matching_count_and_clearing(start):
    sim = start(cluster())
    faults = sim.ctl("POST", "faults",
                     {"path": "*", "kind": "503", "count": 2})
    assert faults == {"faults": [{"path": "*", "kind": "503", "count": 2,
                                  "seconds": 1.0}]}
    assert sim.ctl("GET", "state")["hosts"]  # control calls never consume
    assert call(sim, "/services/hosts.json")[0] == 503
    assert call(sim, "/info/me.json")[0] == 503
    assert call(sim, "/services/hosts.json")[0] == 200
    sim.ctl("POST", "faults", {"path": "/services/hosts.json", "kind": "5xx"})
    sim.ctl("DELETE", "faults")
    assert call(sim, "/services/hosts.json")[0] == 200


# --- linked mode -------------------------------------------------------------

class FakeEc2:
    """Serves GET /_sim/instances from a list the test changes.

    set_state(..., hold_after=True) answers exactly one more poll (which
    shows the change) and holds every later one until release(), so the
    test knows what the emulator has seen: once a poll is held, the
    emulator has acted on the one before it (it polls one at a time)."""

    def __init__(self, instances):
        self.lock = threading.Lock()
        self.instances = instances
        self.answered = 0           # polls answered
        self.answer_until = None    # polls past this many wait
        self.waiting = 0            # polls waiting now
        self.released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with fake.lock:
                    held = (fake.answer_until is not None
                            and fake.answered >= fake.answer_until)
                    if held:
                        fake.waiting += 1
                    else:
                        body = fake.answer()
                if held:
                    fake.released.wait(60)
                    with fake.lock:
                        fake.waiting -= 1
                        body = fake.answer()
                known = self.path == "/_sim/instances"
                try:
                    self.send_response(200 if known else 404)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:     # a held poll its client gave up on
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()

    def answer(self):
        """The body of one poll (lock held)."""
        self.answered += 1
        return json.dumps(self.instances).encode()

    def set_state(self, name, state, hold_after=False):
        with self.lock:
            for inst in self.instances:
                if inst["name"] == name:
                    inst["state"] = state
            if hold_after:
                self.released.clear()
                self.answer_until = self.answered + 1

    def release(self):
        with self.lock:
            self.answer_until = None
        self.released.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_linked_mode_follows_instances(start):
    ec2 = FakeEc2([
        {"id": "i-1", "name": "dev04-admin", "state": "running",
         "private_ip": "10.0.1.10", "public_ip": "54.0.0.10"},
        {"id": "i-2", "name": "dev04-worker", "state": "stopped",
         "private_ip": "10.0.1.11", "public_ip": None},
        {"id": "i-3", "name": "dev04-db", "state": "running",
         "private_ip": "10.0.1.99", "public_ip": None},
    ])
    try:
        sim = start({"settings": {"registration_delay_s": 0.3}},
                    "--ec2-sim", ec2.url, "--host-port", "8080")
        wait_for(lambda: ADMIN in hosts_by_url(sim), what="admin registered")
        assert list(hosts_by_url(sim)) == [ADMIN]
        services = get_json(
            sim, "/services/services.json?serviceType=" + WORKFLOW)
        assert services["services"]["service"]["host"] == ADMIN

        # The emulator sees the worker running on one poll, and has acted
        # on it once it asks again: not registered yet (the registration
        # delay), only on a later poll.
        ec2.set_state("dev04-worker", "running", hold_after=True)
        try:
            wait_for(lambda: ec2.waiting, what="the poll after the change")
            assert W1 not in hosts_by_url(sim)
        finally:
            ec2.release()
        worker = wait_for(lambda: hosts_by_url(sim).get(W1), what="worker up")
        assert worker == {"base_url": W1, "address": "10.0.1.11",
                          "node_name": "dev04-worker", "memory": 4294967296,
                          "cores": 4, "max_load": 4, "online": True,
                          "active": True, "maintenance": False}

        ec2.set_state("dev04-worker", "stopped")
        wait_for(lambda: hosts_by_url(sim)[W1]["online"] is False,
                 what="worker offline")
        assert post_maintenance(sim, W1, "true")[0] == 204
        ec2.set_state("dev04-worker", "running")
        wait_for(lambda: hosts_by_url(sim)[W1]["online"] is True,
                 what="worker back")
        assert hosts_by_url(sim)[W1]["maintenance"] is True
    finally:
        ec2.close()


def test_tenant_prefix_serves_one_clusters_opencast(start):
    """/t/PREFIX/ stands for the Opencast of cluster PREFIX alone: its
    hosts, the jobs they run and the jobs no host runs yet (the memory
    benchmark points each of its 50 clusters at one)."""
    seed = cluster(workers=(W1, W2), dispatch=False)
    seed["hosts"][1]["node_name"] = "dev04-worker"
    seed["hosts"][2]["node_name"] = "dev05-worker"
    seed["jobs"] = [running_job(W1), running_job(W2),
                    {"type": COMPOSER}]
    sim = start(seed)
    everything = hosts_by_url(sim)
    assert set(everything) == {ADMIN, W1, W2}
    dev04 = {h["base_url"] for h in as_list(get_json(
        sim, "/t/dev04/services/hosts.json")["hosts"], "host")}
    assert dev04 == {ADMIN, W1}
    dev05 = {h["base_url"] for h in as_list(get_json(
        sim, "/t/dev05/services/hosts.json")["hosts"], "host")}
    assert dev05 == {W2}
    jobs = as_list(get_json(sim, "/t/dev04/services/activeJobs.json")[
        "jobs"], "job")
    assert sorted((j["status"], j.get("processingHost")) for j in jobs) == [
        ("QUEUED", None), ("RUNNING", W1)]
    assert len(active_jobs(sim)) == 3
    # Authentication covers the prefixed path: without credentials, the
    # challenge, as anywhere else.
    status, _, _ = call(sim, "/t/dev04/services/hosts.json",
                        password="wrong")
    assert status == 401


# --- control API and process -------------------------------------------------

def test_control_api(start):
    sim = start(cluster(dispatch=False))
    with pytest.raises(urllib.error.HTTPError) as err:
        sim.ctl("POST", "settings", {"jobstat": True})
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        sim.ctl("POST", "hosts", {"base_url": "10.0.1.20"})
    assert err.value.code == 400

    assert sim.ctl("POST", "jobs", {"type": COMPOSER, "count": 2}) == {
        "ids": [1001, 1002]}
    state = sim.ctl("GET", "state")
    assert [h["base_url"] for h in state["hosts"]] == [ADMIN, W1, W2]
    assert state["settings"]["dispatch"] is False
    assert [j["status"] for j in state["jobs"]] == ["QUEUED", "QUEUED"]
    sim.ctl("DELETE", "jobs")
    assert get_json(sim, "/services/activeJobs.json") == {"jobs": ""}

    assert post_maintenance(sim, W2, "true")[0] == 204
    sim.ctl("DELETE", "hosts?base_url=" + urllib.parse.quote(W2, safe=""))
    assert list(hosts_by_url(sim)) == [ADMIN, W1]
    assert (COMPOSER, W2) not in statistics(sim)
    sim.ctl("POST", "hosts", {"base_url": W2, "active": True})
    assert hosts_by_url(sim)[W2]["maintenance"] is True

    counts = sim.ctl("GET", "counts")
    assert counts["GET /services/hosts.json"] == 2
    assert counts["POST /services/maintenance"] == 1
    sim.ctl("POST", "requests/reset")
    assert sim.ctl("GET", "requests") == [] and sim.ctl("GET", "counts") == {}


def test_keepalive_and_sigterm(start):
    sim = start(cluster())
    session = DigestSession(sim)
    assert session.request("GET", "/services/hosts.json")[0] == 200
    sock = session.conn.sock
    form = urllib.parse.urlencode({"host": W1, "maintenance": "true"})
    status, _, _ = session.request(
        "POST", "/services/maintenance", body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 204
    assert session.request("GET", "/services/statistics.json")[0] == 200
    assert session.request("GET", "/nonexistent")[0] == 404
    assert session.conn.sock is sock

    # SIGTERM ends it although a keep-alive connection is still open and
    # idle: it does not wait for its clients to leave.
    try:
        sim.proc.terminate()
        assert sim.proc.wait(timeout=10) == 0
        assert session.conn.sock is sock
    finally:
        session.close()
