"""The daemon's Opencast client (tests/tools/oc-probe runs the real C code)
against the Opencast emulator, which demands digest auth and serves the
real JSON shapes."""
import http.server
import json
import subprocess
import threading

import pytest

import conftest
from conftest import OC_PASSWORD, OC_USER, clean_env

ADMIN = "http://10.0.1.10:8080"
W1 = "http://10.0.1.11:8080"
W2 = "http://10.0.1.12:8080"
W3 = "http://10.0.1.13:8080"
COMPOSER = "org.opencastproject.composer"
INSPECTION = "org.opencastproject.inspection"
WORKFLOW = "org.opencastproject.workflow"


def cluster_seed(**settings):
    """Admin and three workers; two workers run jobs, the dispatcher is
    paused so that nothing changes while a test looks."""
    base = {"dispatch": False}
    base.update(settings)
    return {
        "settings": base,
        "hosts": [{"base_url": ADMIN, "role": "admin", "node_name": "a"},
                  {"base_url": W1, "role": "worker"},
                  {"base_url": W2, "role": "worker"},
                  {"base_url": W3, "role": "worker", "maintenance": True}],
        "jobs": [
            {"type": COMPOSER, "status": "RUNNING", "host": W1,
             "duration_s": 600},
            {"type": INSPECTION, "status": "RUNNING", "host": W1,
             "duration_s": 600},
            {"type": COMPOSER, "status": "RUNNING", "host": W2,
             "duration_s": 600},
            {"type": WORKFLOW, "status": "RUNNING", "host": ADMIN,
             "duration_s": 600},
            {"type": COMPOSER, "count": 3},
            {"type": INSPECTION, "count": 1},
            {"type": "org.opencastproject.caption", "count": 2},
        ],
    }


def expected_counts(sim):
    """Busy/idle and queue numbers computed from the emulator's own state."""
    state = sim.ctl("GET", "state")
    heavy = {COMPOSER, INSPECTION, "org.opencastproject.videoeditor",
             "org.opencastproject.videosegmenter"}
    per_host = {}
    for j in state["jobs"]:
        if j["status"] in ("RUNNING", "DISPATCHING") and j["processing_host"]:
            per_host[j["processing_host"]] = \
                per_host.get(j["processing_host"], 0) + 1
    queued = [j for j in state["jobs"] if j["status"] in ("QUEUED", "RESTART")]
    return {
        "running": sum(1 for j in state["jobs"] if j["status"] == "RUNNING"),
        "queued": len(queued),
        "queued_high_load": sum(1 for j in queued if j["type"] in heavy),
        "running_per_host": per_host,
    }


def test_digest_auth_and_me(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    rc, out, err = oc_probe.run(sim.url, "me")
    assert rc == 0 and out == {"ok": True}, err
    reqs = [r for r in sim.ctl("GET", "requests")
            if r["path"] == "/info/me.json"]
    # Challenged first, then answered as the configured user.
    assert [r["status"] for r in reqs] == [401, 200]
    assert reqs[-1]["user"] == OC_USER
    assert OC_PASSWORD not in err


def test_wrong_password_is_a_clear_error(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    rc, out, err = oc_probe.run(sim.url, "hosts", password="wrong")
    assert rc == 1
    assert out["error"]["kind"] == "auth"
    assert out["error"]["message"] == (
        'authentication failed for user "%s" at %s/services/hosts.json'
        % (OC_USER, sim.url))
    assert out["error"]["attempts"] == 1      # not retried
    assert "wrong" not in err + out["error"]["message"]


class AnonymousServer(http.server.BaseHTTPRequestHandler):
    """A server that ignores the digest headers and answers me.json for
    `anonymous`, as Opencast does when auth is not switched on."""

    def do_GET(self):
        body = (b'{"user":{"username":"anonymous"},'
                b'"roles":["ROLE_ANONYMOUS"],"org":{}}')
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_anonymous_answer_is_an_auth_failure(oc_probe):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AnonymousServer)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d" % srv.server_address[1]
        rc, out, _ = oc_probe.run(url, "me")
    finally:
        srv.shutdown()
        srv.server_close()
    assert rc == 1
    assert out["error"]["kind"] == "auth"
    assert "anonymous" in out["error"]["message"]
    assert url + "/info/me.json" in out["error"]["message"]


def test_credentials_from_credentials_directory(ocsim_factory, oc_probe,
                                                tmp_path):
    sim = ocsim_factory(cluster_seed())
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "opencast-user").write_text(OC_USER + "\n")
    (creds / "opencast-password").write_text(OC_PASSWORD + "\n")
    # The credentials directory wins over a wrong environment.
    env = clean_env(oc_probe.home, CREDENTIALS_DIRECTORY=str(creds),
                    OPENCAST_USER="nobody", OPENCAST_PASSWORD="wrong")
    rc, out, err = oc_probe.run(sim.url, "me", env=env)
    assert rc == 0, (out, err)
    # The Matterhorn-era variable names work too.
    env = clean_env(oc_probe.home, MATTERHORN_ADMIN_SERVER_USER=OC_USER,
                    MATTERHORN_ADMIN_SERVER_PASS=OC_PASSWORD)
    rc, out, err = oc_probe.run(sim.url, "me", env=env)
    assert rc == 0, (out, err)
    rc, out, _ = oc_probe.run(sim.url, "me", env=clean_env(oc_probe.home))
    assert rc == 3 and "no Opencast user or password" in \
        out["error"]["message"]


@pytest.mark.parametrize("shape", [
    {}, {"single_object": False, "empty_string": False},
    {"string_numbers": True}])
def test_jobs_match_the_job_model(ocsim_factory, oc_probe, shape):
    sim = ocsim_factory(cluster_seed(**shape))
    want = expected_counts(sim)
    assert want["running_per_host"] == {W1: 2, W2: 1, ADMIN: 1}
    rc, out, err = oc_probe.run(sim.url, "jobs")
    assert rc == 0, err
    for key in ("running", "queued", "queued_high_load", "running_per_host"):
        assert out[key] == want[key], key
    assert out["queued_high_load"] == 4 and out["queued"] == 6
    # One request for the whole job state.
    assert sim.ctl("GET", "counts") == {"GET /services/activeJobs.json": 1}


def test_jobs_follow_dispatch(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "settings", {"dispatch": True})
    # Idle workers take the queued composer jobs; W3 is in maintenance and
    # gets none.  Wait until the emulator's queue of heavy jobs is empty.
    import conftest
    conftest.wait_for(lambda: expected_counts(sim)["queued_high_load"] == 0,
                      what="heavy jobs dispatched")
    want = expected_counts(sim)
    rc, out, _ = oc_probe.run(sim.url, "jobs")
    assert rc == 0
    assert out["running_per_host"] == want["running_per_host"]
    assert W3 not in out["running_per_host"]


def test_statistics_source_and_zero_counters(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    # Job statistics off (Opencast >= 12.11 default): every counter is 0,
    # although activeJobs shows busy workers.  This is why statistics.json
    # is not the default source.
    rc, out, _ = oc_probe.run(sim.url, "--source", "statistics", "jobs")
    assert rc == 0
    assert out["running"] == 0 and out["running_per_host"] == {}
    rc, out, _ = oc_probe.run(sim.url, "jobs")
    assert out["running_per_host"][W1] == 2
    # With jobstats.collect=true the counters are real; queued counts only
    # jobs that already have a processor, so the backlog is invisible.
    sim.ctl("POST", "settings", {"jobstats": True})
    rc, out, _ = oc_probe.run(sim.url, "--source", "statistics", "jobs")
    assert rc == 0
    assert out["running_per_host"] == {W1: 2, W2: 1, ADMIN: 1}
    assert out["running"] == 4
    assert out["queued_high_load"] == 0


def test_legacy_matterhorn(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed(legacy=True))
    rc, out, err = oc_probe.run(sim.url, "me")
    assert rc == 0, (out, err)
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert rc == 0
    assert {h["base_url"] for h in out["hosts"]} == {ADMIN, W1, W2, W3}
    assert all(h["max_load"] == 4 for h in out["hosts"])
    rc, out, _ = oc_probe.run(sim.url, "--source", "statistics", "jobs")
    assert rc == 0
    assert out["running_per_host"] == {W1: 2, W2: 1, ADMIN: 1}


@pytest.mark.parametrize("shape", [{}, {"single_object": False}])
def test_hosts(ocsim_factory, oc_probe, shape):
    sim = ocsim_factory(cluster_seed(**shape))
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert rc == 0
    hosts = {h["base_url"]: h for h in out["hosts"]}
    assert set(hosts) == {ADMIN, W1, W2, W3}
    assert hosts[W3]["maintenance"] and not hosts[W1]["maintenance"]
    assert hosts[ADMIN]["node_name"] == "a"
    assert hosts[W1]["address"] == "10.0.1.11"
    sim.ctl("DELETE", "hosts?base_url=" + W3)
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert {h["base_url"] for h in out["hosts"]} == {ADMIN, W1, W2}


def test_one_and_zero_hosts(ocsim_factory, oc_probe):
    sim = ocsim_factory({"hosts": [{"base_url": ADMIN, "role": "admin"}]})
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert rc == 0 and [h["base_url"] for h in out["hosts"]] == [ADMIN]
    sim.ctl("DELETE", "hosts?base_url=" + ADMIN)
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert rc == 0 and out["hosts"] == []
    rc, out, _ = oc_probe.run(sim.url, "jobs")
    assert rc == 0 and out["jobs"] == 0


def host_state(sim, url):
    return [h for h in sim.ctl("GET", "state")["hosts"]
            if h["base_url"] == url][0]


def test_maintenance_round_trip(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    rc, out, _ = oc_probe.run(sim.url, "maintenance", W1, "on")
    assert rc == 0 and out == {"ok": True}
    assert host_state(sim, W1)["maintenance"] is True
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert [h for h in out["hosts"] if h["base_url"] == W1][0]["maintenance"]
    rc, out, _ = oc_probe.run(sim.url, "maintenance", W1, "off")
    assert rc == 0
    assert host_state(sim, W1)["maintenance"] is False
    posts = [r for r in sim.ctl("GET", "requests")
             if r["method"] == "POST" and r["status"] == 204]
    assert [r["body"] for r in posts] == [
        "host=http%3A%2F%2F10.0.1.11%3A8080&maintenance=true",
        "host=http%3A%2F%2F10.0.1.11%3A8080&maintenance=false"]
    rc, out, _ = oc_probe.run(sim.url, "maintenance", "http://10.9.9.9:8080",
                              "on")
    assert rc == 1 and out["error"]["kind"] == "not_found"


# Auth and parse errors are final; no answer and 5xx are retried (3 tries).
# libcurl itself re-sends once on a fresh connection when a reused one dies
# without an answer, so a try may use up two "drop" faults: inject plenty
# and clear what is left.
@pytest.mark.parametrize("kind,attempts,want_kind,text", [
    ("401", 1, "auth", "authentication failed"),
    ("5xx", 3, "http", "Opencast answered HTTP 500 to GET"),
    ("503", 3, "http", "HTTP 503"),
    ("malformed", 1, "parse", "malformed JSON in hosts.json"),
    ("drop", 3, "unreachable", "Opencast unreachable at"),
])
def test_faults_give_errors_then_recover(ocsim_factory, oc_probe, kind,
                                         attempts, want_kind, text):
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "faults", {"path": "/services/hosts.json", "kind": kind,
                               "count": 10})
    rc, out, _ = oc_probe.run(sim.url, "--attempts", "3", "hosts")
    assert rc == 1
    assert out["error"]["kind"] == want_kind
    assert text in out["error"]["message"]
    assert out["error"]["attempts"] == attempts
    sim.ctl("DELETE", "faults")
    rc, out, _ = oc_probe.run(sim.url, "hosts")
    assert rc == 0 and len(out["hosts"]) == 4


def test_transient_faults_are_retried(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "faults", {"path": "*", "kind": "5xx", "count": 1})
    sim.ctl("POST", "faults", {"path": "*", "kind": "503", "count": 1})
    rc, out, err = oc_probe.run(sim.url, "jobs")
    assert rc == 0, err
    assert "retry 1 of 2" in err and "retry 2 of 2" in err


def test_slow_answer_times_out(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "faults", {"path": "*", "kind": "latency",
                               "seconds": 3})
    rc, out, _ = oc_probe.run(sim.url, "--timeout-ms", "500",
                              "--attempts", "1", "jobs")
    assert rc == 1
    assert out["error"]["kind"] == "unreachable"
    assert "imed out" in out["error"]["message"]


def test_unreachable_admin(oc_probe):
    rc, out, _ = oc_probe.run("http://127.0.0.1:9", "--attempts", "2", "me")
    assert rc == 1
    assert out["error"]["kind"] == "unreachable"
    assert out["error"]["message"].startswith(
        "Opencast unreachable at http://127.0.0.1:9")
    assert out["error"]["attempts"] == 2


def test_large_active_jobs(ocsim_factory, oc_probe):
    sim = ocsim_factory({"settings": {"dispatch": False,
                                      "payload_bytes": 20000},
                         "hosts": [{"base_url": ADMIN, "role": "admin"}],
                         "jobs": [{"type": COMPOSER, "count": 3000}]})
    rc, out, err = oc_probe.run(sim.url, "jobs", timeout=120)
    assert rc == 0, err
    assert out["jobs"] == 3000 and out["queued_high_load"] == 3000



def probe_all(oc_probe, url, *args, background=False):
    """Runs oc-probe; every output line.  With background, the Popen."""
    env = clean_env(oc_probe.home, OPENCAST_USER=OC_USER,
                    OPENCAST_PASSWORD=OC_PASSWORD)
    cmd = [conftest.OC_PROBE, "--url", url, *args]
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=60)
    return (proc.returncode,
            [json.loads(l) for l in proc.stdout.splitlines() if l],
            proc.stderr)


def test_one_round_trip_per_request(ocsim_factory, oc_probe):
    """The client keeps its curl handle, and with it the digest nonce:
    after the first challenge every request is answered at once."""
    sim = ocsim_factory(cluster_seed())
    rc, lines, err = probe_all(oc_probe, sim.url, "--repeat", "6", "hosts")
    assert rc == 0, err
    assert [l["ok"] for l in lines] == [True] * 6
    statuses = [r["status"] for r in sim.ctl("GET", "requests")]
    assert statuses == [401] + [200] * 6


def test_stale_nonce_is_renewed_without_an_error(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "settings", {"nonce_validity_s": 0.3})
    rc, lines, err = probe_all(oc_probe, sim.url, "--repeat", "3",
                               "--interval-ms", "600", "hosts")
    assert rc == 0, err
    assert [l["ok"] for l in lines] == [True] * 3
    # A challenge; then for each expired nonce libcurl takes the stale
    # challenge's new nonce and asks again.
    statuses = [r["status"] for r in sim.ctl("GET", "requests")]
    assert statuses == [401, 200, 401, 200, 401, 200]


def test_refused_nonce_gets_a_fresh_challenge(ocsim_factory, oc_probe):
    """A remembered nonce refused without stale=true (a server that
    forgot it) costs one fresh challenge, not an error."""
    sim = ocsim_factory(cluster_seed())
    proc = probe_all(oc_probe, sim.url, "--repeat", "2", "--interval-ms",
                     "1500", "hosts", background=True)
    try:
        conftest.wait_for(lambda: [r["status"] for r in
                                   sim.ctl("GET", "requests")] == [401, 200],
                          what="the first call")
        sim.ctl("POST", "faults", {"path": "/services/hosts.json",
                                   "kind": "401", "count": 1})
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = [json.loads(l) for l in out.splitlines() if l]
    assert [l["ok"] for l in lines] == [True, True]
    statuses = [r["status"] for r in sim.ctl("GET", "requests")]
    assert statuses == [401, 200, 401, 401, 200]


def test_freed_client_still_answers_its_calls(ocsim_factory, oc_probe):
    """Issue 13: the owner frees the client (a reload changed admin_url)
    while a call is in flight; the call is answered by its callback."""
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "faults", {"path": "*", "kind": "latency",
                               "seconds": 1})
    rc, out, err = oc_probe.run(sim.url, "--free-client", "maintenance", W1,
                                "on")
    assert rc == 0 and out == {"ok": True}, err
    assert host_state(sim, W1)["maintenance"] is True
    # A retry after a 5xx runs on the freed client too.
    sim.ctl("DELETE", "faults")
    sim.ctl("POST", "faults", {"path": "*", "kind": "503", "count": 1})
    rc, out, err = oc_probe.run(sim.url, "--free-client", "hosts")
    assert rc == 0 and len(out["hosts"]) == 4, err
    assert "retry 1 of 2" in err


def test_teardown_answers_calls_as_cancelled(ocsim_factory, oc_probe):
    sim = ocsim_factory(cluster_seed())
    sim.ctl("POST", "faults", {"path": "*", "kind": "latency",
                               "seconds": 5})
    rc, out, err = oc_probe.run(sim.url, "--free-client",
                                "--shutdown-after-ms", "300", "jobs")
    assert rc == 1, err
    assert out["error"]["kind"] == "cancelled"
    assert "shutting down" in out["error"]["message"]
