"""Integration tests of tests/sim/zadarasim.py, the Zadara portal test
double, driven with urllib: paths and shapes, authentication, transitions
with their delays, the double restore, refusals and faults.  Conditions are
awaited with bounded polling, never fixed sleeps.

Run from /work/main:
  /usr/bin/python3 -m pytest -q tests/integration/test_zadarasim.py
"""
import json
import os
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "sim"))
import harness  # noqa: E402
from conftest import wait_for  # noqa: E402

ZADARASIM = os.path.join(harness.SIM_DIR, "zadarasim.py")
TOKEN = "zt-sim-5b7d4e2a8c6f1b0d9e7a5c3b"


@pytest.fixture
def start(tmp_path):
    """Start zadarasim with a seed; stopped after the test."""
    sims = []

    def _start(seed):
        n = len(sims)
        path = tmp_path / ("zseed%d.json" % n)
        path.write_text(json.dumps(seed))
        sim = harness.SimProcess(
            [harness.PYTHON, ZADARASIM, "--port", "0", "--token", TOKEN,
             "--seed", str(path)],
            log_path=str(tmp_path / ("zadarasim%d.log" % n)))
        sims.append(sim)
        return sim

    yield _start
    for sim in sims:
        sim.stop()


def call(sim, method, path, token=TOKEN, query_token=None, timeout=10):
    """A portal request; returns (status, parsed JSON or raw bytes)."""
    url = sim.url + path
    if query_token is not None:
        url += "?token=" + query_token
    req = urllib.request.Request(url, method=method,
                                 data=b"" if method == "POST" else None)
    if token is not None:
        req.add_header("X-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def status_of(sim, vid=1234):
    return call(sim, "GET", "/api/vpsas/%d.json" % vid)[1]["vpsa"]["status"]


def test_paths_and_shapes(start):
    sim = start({"vpsas": [{"id": 1234, "name": "dev04-vpsa"},
                           {"id": 7, "status": "hibernated"}]})
    status, body = call(sim, "GET", "/api/vpsas.json")
    assert status == 200
    assert [v["id"] for v in body["vpsas"]] == [7, 1234]
    status, body = call(sim, "GET", "/api/vpsas/1234.json")
    vpsa = body["vpsa"]
    assert vpsa["id"] == 1234 and vpsa["name"] == "dev04-vpsa"
    assert vpsa["status"] == "created"
    assert vpsa["management_url"] == \
        "https://vpsa-00001234-aws2.zadaravpsa.com"
    assert {"ip_address", "engine", "provider", "drives"} <= set(vpsa)
    assert call(sim, "GET", "/api/vpsas/99.json") == \
        (404, {"status": 404, "error": "Not Found"})
    # Unknown routes are 404 before authentication; a wrong method too.
    assert call(sim, "GET", "/api/nothing.json", token=None)[0] == 404
    assert call(sim, "GET", "/api/vpsas/1234/restore.json")[0] == 404


def test_authentication(start, tmp_path):
    sim = start({"vpsas": [{"id": 1234}]})
    for token in (None, "wrong"):
        status, body = call(sim, "GET", "/api/vpsas/1234.json", token=token)
        assert status == 401
        assert body == {"error": "You need to sign in or sign up before "
                                 "continuing."}
    # ec2-management's query parameter works and is recorded as such.
    assert call(sim, "GET", "/api/vpsas/1234.json", token=None,
                query_token=TOKEN)[0] == 200
    log = sim.ctl("GET", "requests")
    assert [r["token_in"] for r in log] == [None, "header", "query"]
    assert [r["status"] for r in log] == [401, 401, 200]
    assert log[2]["query"] == "token=REDACTED"
    # The token never reaches the emulator's own log.
    sim.stop()
    assert TOKEN not in (tmp_path / "zadarasim0.log").read_text()


def test_restore_and_hibernate_transitions(start):
    sim = start({"vpsas": [{"id": 1234, "status": "hibernated"}],
                 "delays": {"restore": [["launching", 0.3],
                                        ["booting", 0.3]],
                            "hibernate": [["hibernate_offlining", 0.3],
                                          ["hibernating", 0.3]]}})
    assert call(sim, "POST", "/api/vpsas/1234/restore.json") == \
        (200, {"response": "VPSA restoring."})
    seen = [status_of(sim)]
    wait_for(lambda: seen.append(status_of(sim)) or seen[-1] == "created",
             what="created")
    assert seen[0] == "launching" and "booting" in seen
    path = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert path == ["launching", "booting", "created"]

    assert call(sim, "POST", "/api/vpsas/1234/hibernate.json") == \
        (200, {"response": "VPSA being put into hibernating state."})
    seen = [status_of(sim)]
    wait_for(lambda: seen.append(status_of(sim)) or
             seen[-1] == "hibernated", what="hibernated")
    path = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert path == ["hibernate_offlining", "hibernating", "hibernated"]
    transition = sim.ctl("GET", "state")["vpsas"][0]["transition"]
    assert transition is None


def test_refusals_and_double_restore(start):
    sim = start({"vpsas": [{"id": 1234, "status": "created"}],
                 "delays": {"restore": [["launching", 30],
                                        ["booting", 30]]}})
    assert call(sim, "POST", "/api/vpsas/1234/restore.json") == \
        (400, {"error": "Cannot restore VPSA 1234: its status is created."})
    sim.ctl("POST", "vpsas", {"id": 1234, "status": "hibernated"})
    assert call(sim, "POST", "/api/vpsas/1234/hibernate.json")[0] == 400
    assert call(sim, "POST", "/api/vpsas/1234/restore.json")[0] == 200
    assert status_of(sim) == "launching"
    # A second restore while the first runs drives the array to failed.
    assert call(sim, "POST", "/api/vpsas/1234/restore.json")[0] == 200
    assert status_of(sim) == "failed"
    assert call(sim, "POST", "/api/vpsas/1234/restore.json")[0] == 400


def test_faults(start):
    sim = start({"vpsas": [{"id": 1234, "status": "hibernated"}],
                 "delays": {"restore": [["launching", 0.1],
                                        ["booting", 0.1]]}})
    path = "/api/vpsas/1234.json"
    sim.ctl("POST", "faults", {"path": path, "kind": "5xx"})
    sim.ctl("POST", "faults", {"path": "*", "kind": "503"})
    sim.ctl("POST", "faults", {"path": path, "kind": "malformed"})
    assert call(sim, "GET", path)[0] == 500
    assert call(sim, "GET", path)[0] == 503
    status, raw = call(sim, "GET", path)
    assert status == 200 and isinstance(raw, bytes)
    assert raw.startswith(b'{"vpsa":{')
    assert call(sim, "GET", path)[0] == 200
    # drop: no answer at all.
    sim.ctl("POST", "faults", {"path": path, "kind": "drop"})
    with pytest.raises((urllib.error.URLError, ConnectionError,
                        OSError)):
        call(sim, "GET", path)
    # latency: answered late; a client that gives up finds the action done.
    sim.ctl("POST", "faults", {"path": "/api/vpsas/1234/restore.json",
                               "kind": "latency", "seconds": 2})
    with pytest.raises(OSError):
        call(sim, "POST", "/api/vpsas/1234/restore.json", timeout=0.3)
    assert status_of(sim) in ("launching", "booting", "created")
    wait_for(lambda: status_of(sim) == "created", what="created")
    # stuck: reads pass it by; the next transition never completes.
    sim.ctl("POST", "faults", {"path": "*", "kind": "stuck"})
    assert call(sim, "GET", path)[0] == 200
    assert len(sim.ctl("GET", "state")["faults"]) == 1
    assert call(sim, "POST", "/api/vpsas/1234/hibernate.json")[0] == 200
    state = sim.ctl("GET", "state")
    assert state["faults"] == []
    assert state["vpsas"][0]["transition"]["stuck"] is True
    wait_for(lambda: status_of(sim) == "hibernating", what="last phase")
    assert state["vpsas"][0]["transition"]["phases"][-1][1] is None
    log = sim.ctl("GET", "requests")
    assert [r["fault"] for r in log][:4] == ["5xx", "503", "malformed", None]
    assert log[4]["status"] is None and log[4]["fault"] == "drop"
    sim.ctl("DELETE", "faults")
    sim.ctl("POST", "requests/reset")
    assert sim.ctl("GET", "requests") == []


def test_control_api_validation(start):
    sim = start({})
    for path, body in [("vpsas", {"id": "x"}), ("vpsas", {"id": 1, "k": 2}),
                       ("delays", {"restore": [["booting", -1]]}),
                       ("faults", {"path": "*", "kind": "401"})]:
        with pytest.raises(urllib.error.HTTPError) as exc:
            sim.ctl("POST", path, body)
        assert exc.value.code == 400
    vpsa = sim.ctl("POST", "vpsas", {"id": 5, "status": "booting"})
    assert vpsa["status"] == "booting" and vpsa["transition"] is None
    sim.ctl("DELETE", "vpsas?id=5")
    assert sim.ctl("GET", "state")["vpsas"] == []
