"""The daemon's Zadara client (tests/tools/zadara-probe runs the real C
code) against the Zadara portal emulator: reads, hibernate and restore,
zadara_ensure's waits, the token's handling, and every fault kind.  Waits
are bounded polls of the emulator's state or the probe's output, never
sleeps."""
import json
import os
import subprocess

import pytest

from conftest import BUILD_DIR, ROOT, clean_env, wait_for
import harness

ZADARASIM = os.path.join(ROOT, "tests", "sim", "zadarasim.py")
ZADARA_PROBE = os.path.join(BUILD_DIR, "tests", "tools", "zadara-probe")
TOKEN = "zt-3f9a1c0e5b7d4e2a8c6f1b0d9e7a5c3b"
VPSA = "1234"
STATE = "/api/vpsas/1234.json"
RESTORE = "/api/vpsas/1234/restore.json"
HIBERNATE = "/api/vpsas/1234/hibernate.json"
FAST = {"restore": [["launching", 0.3], ["booting", 0.3]],
        "hibernate": [["hibernate_offlining", 0.3], ["hibernating", 0.3]]}
# Polls every 50 ms, many of them: generous under ASan, quick otherwise.
WAIT = ["--interval-ms", "50", "--polls", "200"]


@pytest.fixture
def zsim(tmp_path):
    """Starts a Zadara emulator holding VPSA 1234 in the given status."""
    started = []

    def start(status="created", delays=None, vpsas=None):
        seed = {"vpsas": vpsas or [{"id": 1234, "name": "dev04-vpsa",
                                    "status": status}],
                "delays": delays or FAST}
        path = tmp_path / ("zseed-%d.json" % len(started))
        path.write_text(json.dumps(seed))
        sim = harness.SimProcess(
            [harness.PYTHON, ZADARASIM, "--port", "0", "--token", TOKEN,
             "--seed", str(path)],
            log_path=str(tmp_path / ("zadarasim-%d.log" % len(started))))
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


class ZadaraProbe:
    """Runs tests/tools/zadara-probe against a portal URL."""

    def __init__(self, home):
        self.home = home

    def env(self, token=TOKEN, **extra):
        base = {"ZADARA_ACCOUNT_TOKEN": token, "CREDENTIALS_DIRECTORY": None}
        base.update(extra)
        return clean_env(self.home, **base)

    def argv(self, url, *args):
        return [ZADARA_PROBE, "--url", url, "--backoff-s", "0.05", *args]

    def run(self, url, *args, env=None, timeout=120):
        proc = subprocess.run(self.argv(url, *args),
                              env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout)
        lines = [json.loads(line) for line in proc.stdout.splitlines()
                 if line]
        return proc.returncode, lines, proc.stdout + proc.stderr


@pytest.fixture
def zprobe(tmp_path):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return ZadaraProbe(home)


def requests(sim):
    return sim.ctl("GET", "requests")


def posts(sim):
    return [r for r in requests(sim) if r["method"] == "POST"]


def status_of(sim):
    return sim.ctl("GET", "state")["vpsas"][0]["status"]


def assert_token_only_in_header(sim):
    log = requests(sim)
    assert log
    for r in log:
        assert r["token_in"] == "header", r
        assert r["query"] == "", r
        assert r["content_type"] == "application/json", r


def test_state(zsim, zprobe):
    sim = zsim("hibernated")
    rc, out, text = zprobe.run(sim.url, "state", VPSA)
    assert rc == 0, text
    assert out == [{"ok": True, "vpsa": {"id": VPSA, "name": "dev04-vpsa",
                                         "status": "hibernated",
                                         "state": "down"}}]
    assert [(r["method"], r["path"]) for r in requests(sim)] == \
        [("GET", STATE)]
    assert_token_only_in_header(sim)


def test_ensure_up_from_hibernated(zsim, zprobe):
    sim = zsim("hibernated")
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "up", *WAIT)
    assert rc == 0, text
    final = out[-1]
    assert final["ok"] and final["outcome"] == "changed"
    assert final["message"] == \
        "VPSA 1234 (dev04-vpsa) is up after %d polls" % final["polls"]
    assert final["vpsa"]["status"] == "created"
    progress = [line["progress"] for line in out[:-1]]
    assert progress[0]["phase"] == "action"
    assert progress[0]["message"] == "Zadara accepted the restore of VPSA " \
        "1234 (dev04-vpsa): VPSA restoring."
    target = progress[1:]
    assert [p["poll"] for p in target] == list(range(1, len(target) + 1))
    assert all(p["phase"] == "target" and p["max_polls"] == 200
               for p in target)
    assert target[-1]["status"] == "created"
    assert {p["status"] for p in target[:-1]} <= {"launching", "booting"}
    assert "booting" in {p["status"] for p in target}
    # One read, the restore (with an empty body), then reads until created.
    log = requests(sim)
    assert [(r["method"], r["path"]) for r in log[:2]] == \
        [("GET", STATE), ("POST", RESTORE)]
    assert log[1]["content_length"] == "0" and log[1]["status"] == 200
    assert all(r["method"] == "GET" for r in log[2:])
    assert len(log) == 2 + len(target)
    assert_token_only_in_header(sim)


def test_ensure_down_from_created(zsim, zprobe):
    sim = zsim("created")
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "down", *WAIT)
    assert rc == 0, text
    assert out[-1]["outcome"] == "changed"
    assert out[-1]["vpsa"]["status"] == "hibernated"
    assert "is hibernated after" in out[-1]["message"]
    seen = {line["progress"]["status"] for line in out[1:-1]}
    assert seen & {"hibernate_offlining", "hibernating"}
    assert [r["path"] for r in posts(sim)] == [HIBERNATE]
    assert status_of(sim) == "hibernated"


@pytest.mark.parametrize("status,target,word", [
    ("created", "up", "up"), ("hibernated", "down", "hibernated")])
def test_already_at_target(zsim, zprobe, status, target, word):
    sim = zsim(status)
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, target, *WAIT)
    assert rc == 0, text
    assert out == [{"ok": True, "outcome": "already", "polls": 0,
                    "message": "VPSA 1234 (dev04-vpsa) is already " + word,
                    "vpsa": {"id": VPSA, "name": "dev04-vpsa",
                             "status": status,
                             "state": "up" if target == "up" else "down"}}]
    assert posts(sim) == [] and len(requests(sim)) == 1


def test_waits_for_a_transition_before_acting(zsim, zprobe):
    """Someone else is hibernating the array: wait for that to end, then
    restore it, never sending a restore while it is in transition."""
    sim = zsim("created", delays={
        "hibernate": [["hibernate_offlining", 1.0], ["hibernating", 1.0]],
        "restore": FAST["restore"]})
    assert harness_post(sim, HIBERNATE) == 200
    sim.ctl("POST", "requests/reset")
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "up", *WAIT)
    assert rc == 0, text
    phases = [line["progress"]["phase"] for line in out[:-1]]
    settle = [line["progress"] for line in out[:-1]
              if line["progress"]["phase"] == "settle"]
    assert settle and settle[0]["poll"] == 0
    assert {p["status"] for p in settle} <= {"hibernate_offlining",
                                              "hibernating"}
    assert settle[0]["message"] == "VPSA 1234 (dev04-vpsa) is %s: waiting " \
        "for it to settle (poll 0 of 200)" % settle[0]["status"]
    assert phases.index("action") == len(settle)
    assert out[-1]["outcome"] == "changed"
    log = requests(sim)
    restore_at = [i for i, r in enumerate(log) if r["method"] == "POST"]
    assert len(restore_at) == 1 and log[restore_at[0]]["status"] == 200
    assert status_of(sim) == "created"


def harness_post(sim, path):
    """A portal POST from another actor (the test itself)."""
    import urllib.request
    req = urllib.request.Request(sim.url + path, data=b"", method="POST",
                                 headers={"X-Token": TOKEN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def test_never_comes_up(zsim, zprobe):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": "stuck"})
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "up",
                               "--interval-ms", "50", "--polls", "12")
    assert rc == 1, text
    err = out[-1]["error"]
    assert err["kind"] == "timeout"
    assert err["message"] == "VPSA 1234 (dev04-vpsa) did not come up: " \
        "still booting after 12 polls"
    assert out[-1]["polls"] == 12 and out[-1]["vpsa"]["status"] == "booting"
    assert out[-2]["progress"]["poll"] == 12
    assert len(posts(sim)) == 1


def test_unknown_status_is_never_acted_on(zsim, zprobe):
    sim = zsim("deleting")
    rc, out, _ = zprobe.run(sim.url, "ensure", VPSA, "up", "--interval-ms",
                            "20", "--polls", "3")
    assert rc == 1
    assert out[-1]["error"]["kind"] == "timeout"
    assert out[-1]["error"]["message"] == "VPSA 1234 (dev04-vpsa) is " \
        "still deleting after 3 polls; not resumed"
    assert [line["progress"]["poll"] for line in out[:-1]] == [0, 1, 2, 3]
    assert posts(sim) == []


def test_failed_state_is_an_error(zsim, zprobe):
    sim = zsim("failed")
    rc, out, _ = zprobe.run(sim.url, "ensure", VPSA, "up", *WAIT)
    assert rc == 1
    assert out == [{"ok": False, "polls": 0, "error": {
        "kind": "failed", "http_status": 0, "attempts": 0,
        "message": "VPSA 1234 (dev04-vpsa) is in state failed; see the "
                   "Zadara provisioning portal"},
        "vpsa": {"id": VPSA, "name": "dev04-vpsa", "status": "failed",
                 "state": "failed"}}]
    assert posts(sim) == []


def test_failing_during_the_wait(zsim, zprobe):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": "stuck"})
    proc = subprocess.Popen(zprobe.argv(sim.url, "ensure", VPSA, "up",
                                        *WAIT), env=zprobe.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for(lambda: posts(sim), what="the restore")
        sim.ctl("POST", "vpsas", {"id": 1234, "status": "failed"})
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = [json.loads(line) for line in stdout.splitlines()]
    assert proc.returncode == 1
    assert out[-1]["error"]["kind"] == "failed"


@pytest.mark.parametrize("status,target,text", [
    ("hibernated", "up", "would resume VPSA 1234 (dev04-vpsa), which is "
                         "hibernated"),
    ("created", "down", "would hibernate VPSA 1234 (dev04-vpsa), which is "
                        "created"),
    ("booting", "up", "VPSA 1234 (dev04-vpsa) is booting: would wait for it "
                      "to settle, then resume it unless it is up"),
])
def test_dry_run(zsim, zprobe, status, target, text):
    sim = zsim(status)
    rc, out, _ = zprobe.run(sim.url, "ensure", VPSA, target, "--dry-run",
                            *WAIT)
    assert rc == 0
    assert out[-1]["outcome"] == "would_change"
    assert out[-1]["message"] == text
    # One read; nothing sent, nothing waited for.
    assert [r["method"] for r in requests(sim)] == ["GET"]
    assert status_of(sim) == status


def test_wrong_token(zsim, zprobe):
    sim = zsim("hibernated")
    wrong = "zt-wrong-0123456789abcdef0123"
    for args in (["state", VPSA], ["ensure", VPSA, "up"]):
        rc, out, text = zprobe.run(sim.url, *args,
                                   env=zprobe.env(token=wrong))
        assert rc == 1
        err = out[-1]["error"]
        assert err["kind"] == "auth" and err["http_status"] == 401
        assert err["message"] == "Zadara rejected the account token (HTTP " \
            "401 from %s%s)" % (sim.url, STATE)
        assert err["attempts"] == 1            # not retried
        assert wrong not in text and TOKEN not in text
    assert posts(sim) == []


def test_token_never_logged(zsim, zprobe):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": "*", "kind": "503"})
    env = zprobe.env(ZADARA_PROBE_DEBUG="1")
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "up", *WAIT,
                               env=env)
    assert rc == 0, text
    assert "Zadara GET /api/vpsas/1234.json: try 1" in text   # debug on
    assert "retry 1 of 2" in text
    assert TOKEN not in text
    assert_token_only_in_header(sim)


def test_token_sources(zsim, zprobe, tmp_path):
    sim = zsim("created")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "zadara-token").write_text(TOKEN + "\n")
    # The credentials directory wins over a wrong environment.
    env = zprobe.env(token="wrong-token", CREDENTIALS_DIRECTORY=str(creds))
    rc, out, text = zprobe.run(sim.url, "state", VPSA, env=env)
    assert rc == 0, text
    rc, out, _ = zprobe.run(sim.url, "state", VPSA,
                            env=zprobe.env(token=None))
    assert rc == 3
    assert out[0]["error"]["message"] == "no Zadara account token " \
        "(credential zadara-token or ZADARA_ACCOUNT_TOKEN)"
    # A token that would split the header is refused before sending.
    rc, out, text = zprobe.run(sim.url, "state", VPSA,
                               env=zprobe.env(token="zt-abc\r\nX-Evil: 1"))
    assert rc == 1
    assert out[0]["error"] == {"kind": "config", "http_status": 0,
                               "attempts": 0, "message": "the Zadara "
                               "account token contains a line break or tab"}
    assert "zt-abc" not in text
    assert len(requests(sim)) == 1


def test_unknown_vpsa_and_refusal(zsim, zprobe):
    sim = zsim("created")
    rc, out, _ = zprobe.run(sim.url, "state", "99")
    assert rc == 1
    assert out[0]["error"]["kind"] == "not_found"
    assert out[0]["error"]["message"].startswith("no VPSA 99 at " + sim.url)
    rc, out, _ = zprobe.run(sim.url, "restore", VPSA)
    assert rc == 1
    assert out[0]["error"] == {
        "kind": "refused", "http_status": 400, "attempts": 1,
        "message": "Zadara refused to restore VPSA 1234 (HTTP 400): Cannot "
                   "restore VPSA 1234: its status is created."}
    rc, out, _ = zprobe.run(sim.url, "hibernate", VPSA)
    assert rc == 0
    assert out == [{"ok": True,
                    "response": "VPSA being put into hibernating state."}]


# Reads: 5xx and no answer are retried (3 tries), parse errors are not.
# libcurl re-sends once on a fresh connection when a reused one dies
# without an answer, so inject plenty and clear what is left.
@pytest.mark.parametrize("kind,attempts,want_kind,text", [
    ("5xx", 3, "http", "Zadara answered HTTP 500 to GET "),
    ("503", 3, "http", "Zadara answered HTTP 503 to GET "),
    ("malformed", 1, "parse", "/api/vpsas/1234.json: malformed JSON in the "
                              "VPSA answer: "),
    ("drop", 3, "unreachable", "Zadara unreachable at "),
])
def test_read_faults_give_errors_then_recover(zsim, zprobe, kind, attempts,
                                              want_kind, text):
    sim = zsim("created")
    sim.ctl("POST", "faults", {"path": STATE, "kind": kind, "count": 20})
    rc, out, _ = zprobe.run(sim.url, "--attempts", "3", "state", VPSA)
    assert rc == 1
    err = out[0]["error"]
    assert err["kind"] == want_kind and err["attempts"] == attempts
    assert text in err["message"]
    if kind == "malformed":
        assert "position" in err["message"]
    sim.ctl("DELETE", "faults")
    rc, out, _ = zprobe.run(sim.url, "state", VPSA)
    assert rc == 0 and out[0]["vpsa"]["status"] == "created"


def test_slow_answer_times_out(zsim, zprobe):
    sim = zsim("created")
    sim.ctl("POST", "faults", {"path": "*", "kind": "latency",
                               "seconds": 3})
    rc, out, _ = zprobe.run(sim.url, "--timeout-ms", "500", "--attempts",
                            "1", "state", VPSA)
    assert rc == 1
    assert out[0]["error"]["kind"] == "unreachable"
    assert "imed out" in out[0]["error"]["message"]


def test_transient_read_faults_are_retried(zsim, zprobe):
    sim = zsim("created")
    sim.ctl("POST", "faults", {"path": "*", "kind": "5xx"})
    sim.ctl("POST", "faults", {"path": "*", "kind": "503"})
    rc, out, text = zprobe.run(sim.url, "state", VPSA)
    assert rc == 0, text
    assert "retry 1 of 2" in text and "retry 2 of 2" in text


@pytest.mark.parametrize("kind", ["5xx", "503", "drop"])
def test_action_not_carried_out_is_sent_again(zsim, zprobe, kind):
    """The portal did not act: a fresh read shows the array still
    hibernated, so the restore goes out again."""
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": kind})
    rc, out, text = zprobe.run(sim.url, "restore", VPSA)
    assert rc == 0, text
    assert out == [{"ok": True, "response": "VPSA restoring."}]
    assert "still hibernated: sending restore again" in text
    log = [(r["method"], r["path"], r["fault"]) for r in requests(sim)]
    # libcurl may re-send a dropped request once by itself.
    assert log[-3:] == [("POST", RESTORE, kind), ("GET", STATE, None),
                        ("POST", RESTORE, None)]
    assert status_of(sim) in ("launching", "booting", "created")


def test_action_carried_out_is_not_sent_twice(zsim, zprobe):
    """The restore took effect but its answer came too late: sending it
    again would drive the array to failed; the client reads the state and
    sees that the first one went through."""
    sim = zsim("hibernated", delays={"restore": [["launching", 5],
                                                 ["booting", 5]]})
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": "latency",
                               "seconds": 3})
    rc, out, text = zprobe.run(sim.url, "--timeout-ms", "500", "restore",
                               VPSA)
    assert rc == 0, text
    assert out == [{"ok": True, "response": "VPSA 1234 is launching: the "
                                            "earlier restore request went "
                                            "through"}]
    assert [r["method"] for r in requests(sim)] == ["POST", "GET"]
    assert status_of(sim) == "launching"


def test_garbled_action_answer_counts_as_accepted(zsim, zprobe):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": "malformed"})
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "up", *WAIT)
    assert rc == 0, text
    assert "taking HTTP 200 as accepted" in text
    assert out[-1]["outcome"] == "changed"
    assert len(posts(sim)) == 1


def test_ensure_gives_up_after_action_retries(zsim, zprobe):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": "503", "count": 10})
    rc, out, _ = zprobe.run(sim.url, "--attempts", "2", "ensure", VPSA, "up",
                            *WAIT)
    assert rc == 1
    err = out[-1]["error"]
    assert err["kind"] == "http" and err["attempts"] == 2
    assert err["message"].startswith("Zadara answered HTTP 503 to POST ")
    assert [r["method"] for r in requests(sim)] == \
        ["GET", "POST", "GET", "POST"]


def test_unreachable_portal(zprobe):
    rc, out, _ = zprobe.run("http://127.0.0.1:9", "--attempts", "2",
                            "state", VPSA)
    assert rc == 1
    assert out[0]["error"]["kind"] == "unreachable"
    assert out[0]["error"]["message"].startswith(
        "Zadara unreachable at http://127.0.0.1:9")
    assert out[0]["error"]["attempts"] == 2


@pytest.mark.parametrize("how", [["--cancel-at-poll", "2"],
                                 ["--cancel-after-ms", "300"]])
def test_ensure_can_be_cancelled(zsim, zprobe, how):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": RESTORE, "kind": "stuck"})
    rc, out, text = zprobe.run(sim.url, "ensure", VPSA, "up", *WAIT, *how)
    # Exit 0 also means that every handle was closed (else 4).
    assert rc == 0, text
    assert out[-1] == {"cancelled": True}
    assert not any("ok" in line for line in out)
    if how[0] == "--cancel-at-poll":
        assert out[-2]["progress"]["poll"] == 2
        assert len(requests(sim)) == 4     # read, restore, two polls


def test_freed_client_still_answers_its_calls(zsim, zprobe):
    """Issue 13: the owner lets go of the client while an ensure is in
    flight; the ensure runs to its end and is answered."""
    sim = zsim("hibernated")
    rc, out, text = zprobe.run(sim.url, "--free-client", "ensure", VPSA,
                               "up", *WAIT)
    assert rc == 0, text
    assert out[-1]["ok"] and out[-1]["outcome"] == "changed"
    assert status_of(sim) == "created"


@pytest.mark.parametrize("cmd", [["state", VPSA],
                                 ["ensure", VPSA, "up", *WAIT]])
def test_teardown_answers_calls_as_cancelled(zsim, zprobe, cmd):
    sim = zsim("hibernated")
    sim.ctl("POST", "faults", {"path": "*", "kind": "latency",
                               "seconds": 5})
    rc, out, text = zprobe.run(sim.url, "--free-client",
                               "--shutdown-after-ms", "300", *cmd)
    assert rc == 1, text
    err = out[-1]["error"]
    assert err["kind"] == "cancelled"
    assert err["message"] == ("Zadara request for VPSA 1234 cancelled: "
                              "the daemon is shutting down")
