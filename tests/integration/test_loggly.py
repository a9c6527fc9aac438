"""The Loggly sink (issue 15): with a Loggly token the daemon also sends its
log to the bulk endpoint, tagged ec2-manager and the cluster, batched,
through a bounded queue that drops the oldest events, and never sends a
secret.  The real daemon against tests/sim/logglysim.py, an HTTPS double
with a self-signed certificate made here with openssl and trusted through
[daemon] loggly_ca_file.
"""
import os
import re
import subprocess

import pytest

import harness
from conftest import OC_PASSWORD, SECRET_KEY, wait_for
from test_operations import online_hosts, running_oc_nodes

HERE = os.path.dirname(os.path.abspath(__file__))
LOGGLYSIM = os.path.join(HERE, "..", "sim", "logglysim.py")
TOKEN = "b0c1d2e3-loggly-test-token"
ZADARA_TOKEN = "zadara-secret-token-42"
QUEUE_MAX = 20


@pytest.fixture
def cert(tmp_path):
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    crt, key = tmp_path / "loggly.crt", tmp_path / "loggly.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    return crt, key


@pytest.fixture
def loggly(cert, tmp_path):
    crt, key = cert
    sim = harness.SimProcess([harness.PYTHON, LOGGLYSIM, "--token", TOKEN,
                              "--cert", str(crt), "--key", str(key)],
                             log_path=str(tmp_path / "logglysim.log"))
    sim.https_url = "https://127.0.0.1:%d" % sim.info["https_port"]
    sim.crt = crt
    yield sim
    sim.ctl("POST", "mode", {"mode": "ok"})
    sim.stop()


@pytest.fixture
def make(linked_sims, daemon_factory, loggly):
    def start(extra_env=None, ca_file=None):
        ec2, oc = linked_sims()
        wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
                 what="hosts registered")
        env = {"LOGGLY_TOKEN": TOKEN, "EC2M_LOGGLY_FLUSH_MS": "200",
               "ZADARA_ACCOUNT_TOKEN": ZADARA_TOKEN}
        env.update(extra_env or {})
        d = daemon_factory(
            ec2, oc, {"dev04": ["wait_interval = 200ms"]},
            daemon_conf=["loggly_url = " + loggly.https_url,
                         "loggly_ca_file = " + str(ca_file or loggly.crt)],
            extra_env=env).start()
        return ec2, oc, d
    return start


def posts(loggly):
    return loggly.ctl("GET", "requests")


def received(loggly):
    """Every event that arrived in an accepted request."""
    return [e for r in posts(loggly) if r["status"] == 200
            for e in r["events"]]


def test_events_arrive_batched_and_tagged(make, loggly):
    ec2, oc, d = make()
    # The start-up messages, the first refresh of dev04 among them.
    wait_for(lambda: any(e.get("EC2M_CLUSTER") == "dev04"
                         for e in received(loggly)) and any(e["MESSAGE"].startswith("ready") for e in
                     received(loggly)), what="start-up events")
    reqs = posts(loggly)
    for r in reqs:
        assert r["token"] == TOKEN, r["path"]
        assert r["status"] == 200
        assert r["bad_lines"] == [], r["bad_lines"]
        assert r["content_type"] == "text/plain"
        assert r["events"], r
        # The cluster of every event is a tag of its request.
        clusters = {e.get("EC2M_CLUSTER") for e in r["events"]}
        assert len(clusters) == 1, clusters
        (cluster,) = clusters
        assert r["tags"] == (["ec2-manager", cluster] if cluster
                             else ["ec2-manager"]), r["path"]
    # Batched: several events in one POST (start-up logs a burst).
    assert max(len(r["events"]) for r in reqs) > 1
    # Each event is a journal entry plus a timestamp and a number.
    evs = received(loggly)
    for e in evs:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                            e["timestamp"]), e
        assert e["SYSLOG_IDENTIFIER"] == "ec2-managerd"
        assert e["PRIORITY"] in list("01234567")
    seqs = [e["seq"] for e in evs]
    assert len(seqs) == len(set(seqs))
    # An operation's key events with their fields.
    p = d.ctl("dev04", "maintenance", "on")
    assert p.returncode == 0, p.stderr
    done = wait_for(lambda: [e for e in received(loggly)
                             if e.get("EC2M_EVENT") == "op_finished"],
                    what="the operation's outcome")
    assert done[0]["EC2M_OP"] == "maintenance_on"
    assert done[0]["MESSAGE_ID"] == "73e41cdd8f124749b8431a35c15a67db"
    assert [e for e in received(loggly)
            if e.get("EC2M_EVENT") == "maintenance_set" and
            e["EC2M_INSTANCE"].startswith("i-")]


def test_no_secret_is_sent(make, loggly):
    """The Opencast password and the Zadara token reach the log (as the
    names of clusters a client asks for), and still never Loggly."""
    ec2, oc, d = make(extra_env={"AWS_SESSION_TOKEN": "sessiontoken-xyz"})
    for name in (OC_PASSWORD, ZADARA_TOKEN):
        p = d.ctl(name, "start")
        assert p.returncode != 0
    wait_for(lambda: OC_PASSWORD in d.read_log() and
             ZADARA_TOKEN in d.read_log(), what="the secrets in the log")
    wait_for(lambda: sum(LOGGLY_REDACTED in e["MESSAGE"]
                         for e in received(loggly)) >= 2,
             what="the redacted messages at Loggly")
    others = (OC_PASSWORD, ZADARA_TOKEN, SECRET_KEY, "sessiontoken-xyz")
    for r in posts(loggly):
        for secret in others + (TOKEN,):
            assert secret not in r["body"], (secret, r["body"])
        # The cluster is a tag: the one that was a secret is redacted.
        for secret in others:
            assert secret not in r["path"], (secret, r["path"])
    assert any(r["tags"] == ["ec2-manager", "_redacted_"]
               for r in posts(loggly))


LOGGLY_REDACTED = "[redacted]"


def test_untrusted_certificate_is_refused(make, loggly, tmp_path):
    """Without the double's certificate as CA file, TLS fails and nothing
    is accepted; the daemon says so and goes on."""
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(other / "k"), "-out", str(other / "c")],
                   check=True, capture_output=True)
    ec2, oc, d = make(ca_file=other / "c")
    wait_for(lambda: "Loggly: sending failed" in d.read_log(),
             what="the TLS failure")
    assert posts(loggly) == []
    assert d.status("dev04")["updated_at"]


def test_drop_oldest_while_loggly_hangs_or_fails(make, loggly):
    loggly.ctl("POST", "mode", {"mode": "hold"})
    ec2, oc, d = make(extra_env={"EC2M_LOGGLY_QUEUE_MAX": str(QUEUE_MAX)})
    wait_for(lambda: loggly.ctl("GET", "state")["held"] == 1,
             what="a POST held")
    # The daemon keeps answering while its POST hangs; every refresh logs
    # (log_level = debug), far more than the queue holds.
    lines = d.read_log().count("\n")
    for _ in range(200):
        assert d.status("dev04", refresh=True)["updated_at"]
        if d.read_log().count("\n") - lines > 3 * QUEUE_MAX:
            break
    assert d.read_log().count("\n") - lines > 3 * QUEUE_MAX
    assert loggly.ctl("GET", "state")["held"] == 1
    # Then Loggly answers 503: the batch goes back, the daemon says so.
    loggly.ctl("POST", "mode", {"mode": "fail"})
    wait_for(lambda: "Loggly: sending failed: HTTP 503" in d.read_log(),
             what="the failure reported")
    assert d.request("ping")["ok"]
    # Back: what is queued arrives, with the count of dropped events.
    loggly.ctl("POST", "mode", {"mode": "ok"})
    note = wait_for(lambda: [e for e in received(loggly) if
                             e["MESSAGE"].startswith("Loggly: sending again")],
                    timeout=30, what="the notice")[0]
    dropped = int(re.search(r"(\d+) events dropped", note["MESSAGE"])[1])
    assert dropped > 0
    k = note["seq"]

    def missing():
        got = {e["seq"] for e in received(loggly)}
        return sorted(set(range(1, k)) - got)
    # Exactly the dropped ones never arrive, and they are the oldest: the
    # QUEUE_MAX newest before the notice were kept.
    wait_for(lambda: len(missing()) == dropped, timeout=30,
             what="every kept event sent")
    assert max(missing()) < k - QUEUE_MAX
    # Nothing arrived twice, and no POST carried more than a batch (a
    # quarter of the queue).
    seqs = [e["seq"] for e in received(loggly)]
    assert len(seqs) == len(set(seqs))
    assert max(len(r["events"]) for r in posts(loggly)) <= QUEUE_MAX // 4
