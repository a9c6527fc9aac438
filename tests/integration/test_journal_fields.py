"""The journal fields of ec2-managerd(8) (SPEC §8, issue 15): every entry
about a cluster carries EC2M_CLUSTER, about an operation EC2M_OP, about an
instance EC2M_INSTANCE, and the key events EC2M_EVENT with the MESSAGE_ID
that systemd/ec2-manager.catalog explains.

There is no journald here, so the daemon runs with EC2M_LOG_FIELDS_FILE: it
appends every entry's field list, the very pieces sd_journal_sendv() gets
(tests/unit/test_log.c checks that the two are the same list), as one JSON
array a line.  The real daemon and ec2ctl against the linked emulators.
"""
import json
import os
import re
import subprocess
import threading

import pytest

from conftest import reload_daemon, wait_for
from test_crash_safety import busy_worker, in_maintenance, kill, step
from test_operations import online_hosts, running_oc_nodes, workers

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.join(HERE, "..", "..", "systemd", "ec2-manager.catalog")

# The oracle: each key event's MESSAGE_ID (common/log.c has the table).
MESSAGE_IDS = {
    "op_started": "c82eac1539104e15b409c1347c15d387",
    "op_finished": "73e41cdd8f124749b8431a35c15a67db",
    "op_failed": "6c0934725eb2448fa50fc4e0a9a6be2e",
    "decision": "4d6fb6f60b624e38ae5b8b40e7d7c3e8",
    "maintenance_set": "cea861814c5946b1b57dcf259791e671",
    "maintenance_restored": "e72df63296cc4c6a97a723f572346d31",
    "reload_accepted": "1421dae3ad2143e6a2012cf9583ce20f",
    "reload_rejected": "43d784c58a674131a8aecf9f220a1342",
    "recovered": "eba0266cc7614b5cbb44af59f7fa5ad2",
}


def catalog_ids():
    with open(CATALOG) as f:
        return [m.group(1) for m in
                re.finditer(r"^-- ([0-9a-f]{32})$", f.read(), re.M)]


def entries(d):
    """Every entry so far, as a dict of its fields (each line is the list
    of "NAME=value" pieces of one entry)."""
    out = []
    try:
        text = d.fields_path.read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        pieces = json.loads(line)
        e = {}
        for p in pieces:
            name, _, value = p.partition("=")
            assert name not in e, "field %s twice in %r" % (name, pieces)
            e[name] = value
        out.append(e)
    return out


def events(d, event, **match):
    return [e for e in entries(d) if e.get("EC2M_EVENT") == event and
            all(e.get(k) == v for k, v in match.items())]


def check_invariants(d):
    """What must hold for every entry: the journal's own fields, an id
    for each event and only for events, a cluster for everything about an
    operation or an instance."""
    all_entries = entries(d)
    assert all_entries
    for e in all_entries:
        assert e["SYSLOG_IDENTIFIER"] == "ec2-managerd", e
        assert re.fullmatch("[0-7]", e["PRIORITY"]), e
        assert e["CODE_FILE"] and int(e["CODE_LINE"]) > 0, e
        assert "MESSAGE" in e, e
        ev = e.get("EC2M_EVENT")
        if ev is None:
            assert "MESSAGE_ID" not in e, e
        else:
            assert e["MESSAGE_ID"] == MESSAGE_IDS[ev], e
        if "EC2M_OP" in e or "EC2M_INSTANCE" in e:
            assert e.get("EC2M_CLUSTER"), e
        if ev in ("op_started", "op_finished", "op_failed", "decision",
                  "maintenance_set", "maintenance_restored", "recovered"):
            assert e.get("EC2M_CLUSTER") and e.get("EC2M_OP"), e
        if ev in ("maintenance_set", "maintenance_restored"):
            assert re.fullmatch(r"i-[0-9a-f]+", e.get("EC2M_INSTANCE", "")), e
    return all_entries


@pytest.fixture
def make(linked_sims, daemon_factory, tmp_path):
    def start(settings=()):
        ec2, oc = linked_sims()
        wait_for(lambda: online_hosts(oc) == running_oc_nodes(ec2),
                 what="hosts registered")
        fields = tmp_path / "fields.jsonl"
        d = daemon_factory(ec2, oc, {"dev04": [
            "wait_interval = 200ms", "wait_retries = 1000",
            "autoscale_interval = 1h", "cooldown = 0", *settings]},
            extra_env={"EC2M_LOG_FIELDS_FILE": str(fields),
                       "EC2M_LOG_JOURNAL": "0"})
        d.fields_path = fields
        d.start()
        return ec2, oc, d
    return start


def test_catalog_parses_and_matches_the_ids(tmp_path):
    """journalctl compiles the catalog into a root of its own and lists
    exactly the ids of the code, each with its subject."""
    ids = catalog_ids()
    assert sorted(ids) == sorted(MESSAGE_IDS.values())
    catdir = tmp_path / "usr" / "lib" / "systemd" / "catalog"
    catdir.mkdir(parents=True)
    with open(CATALOG) as f:
        (catdir / "ec2-manager.catalog").write_text(f.read())
    subprocess.run(["journalctl", "--root", str(tmp_path),
                    "--update-catalog"], check=True, capture_output=True)
    listed = subprocess.run(["journalctl", "--root", str(tmp_path),
                             "--list-catalog"], check=True,
                            capture_output=True, text=True).stdout
    rows = dict(line.split(" ", 1) for line in listed.splitlines())
    assert sorted(rows) == sorted(ids)
    for mid, subject in rows.items():
        assert subject.startswith("ec2-manager: "), subject
    assert "@EC2M_OP@" in rows[MESSAGE_IDS["op_failed"]]
    # The explanation of one id, as journalctl -x would show it.
    text = subprocess.run(["journalctl", "--root", str(tmp_path),
                           "--dump-catalog",
                           MESSAGE_IDS["recovered"]], check=True,
                          capture_output=True, text=True).stdout
    assert "never" in text and "repeats a stop" in text


def test_operations_and_maintenance(make):
    ec2, oc, d = make()
    p = d.ctl("dev04", "scale", "up", "-w", "1")
    assert p.returncode == 0, p.stderr
    (started,) = events(d, "op_started", EC2M_OP="scale_up")
    assert started["EC2M_CLUSTER"] == "dev04"
    assert started["PRIORITY"] == "5"
    (done,) = wait_for(lambda: events(d, "op_finished", EC2M_OP="scale_up"),
                       what="scale_up finished")
    assert done["EC2M_CLUSTER"] == "dev04"
    assert "succeeded" in done["MESSAGE"]
    # The steps of the operation carry its op.
    steps = [e for e in entries(d) if e.get("EC2M_OP") == "scale_up" and
             "wait_running" in e["MESSAGE"]]
    assert steps and all(e["EC2M_CLUSTER"] == "dev04" for e in steps)

    # The audit line of a request names the cluster in the field too.
    audit = [e for e in entries(d) if e["MESSAGE"].startswith("control: uid")]
    assert audit and all(e.get("EC2M_CLUSTER") == "dev04" for e in audit)

    # Maintenance: one entry per node, with its instance.
    running = sorted(i["id"] for i in d.status("dev04")["instances"]
                     if i["mh_host"])
    assert len(running) >= 4
    p = d.ctl("dev04", "maintenance", "on")
    assert p.returncode == 0, p.stderr
    got = events(d, "maintenance_set", EC2M_OP="maintenance_on")
    assert sorted(e["EC2M_INSTANCE"] for e in got) == running
    p = d.ctl("dev04", "maintenance", "off")
    assert p.returncode == 0, p.stderr
    got = events(d, "maintenance_restored", EC2M_OP="maintenance_off")
    assert sorted(e["EC2M_INSTANCE"] for e in got) == running

    # A failed operation: every stopped worker refuses to start.
    stopped = workers(ec2, "stopped")
    ec2.ctl("POST", "faults", {"kind": "ice", "ids": stopped,
                               "count": 1000})
    p = d.ctl("dev04", "scale", "up")
    assert p.returncode != 0
    (failed,) = wait_for(lambda: events(d, "op_failed", EC2M_OP="scale_up"),
                         what="scale_up failed")
    assert failed["EC2M_CLUSTER"] == "dev04"
    assert failed["PRIORITY"] == "4"
    assert "failed" in failed["MESSAGE"]
    # Each worker it tried, one at a time, is named as the instance.
    tried = [e for e in entries(d) if e.get("EC2M_OP") == "scale_up" and
             "no capacity for" in e["MESSAGE"]]
    assert sorted(e["EC2M_INSTANCE"] for e in tried) == sorted(stopped)
    assert all(e["EC2M_INSTANCE"] in e["MESSAGE"] for e in tried)
    check_invariants(d)


def test_autoscale_decision(make):
    ec2, oc, d = make(["autoscale = on"])
    p = d.ctl("dev04", "autoscale")
    assert p.returncode == 0, p.stderr
    dec = wait_for(lambda: events(d, "decision"), what="decision")[-1]
    assert dec["EC2M_CLUSTER"] == "dev04"
    assert dec["EC2M_OP"] == "autoscale"
    assert dec["MESSAGE"].startswith("autoscale")
    check_invariants(d)


def test_reload_accepted_and_rejected(make):
    ec2, oc, d = make()
    assert reload_daemon(d)
    (ok,) = events(d, "reload_accepted")
    assert "configuration reloaded" in ok["MESSAGE"]
    assert "EC2M_CLUSTER" not in ok
    assert reload_daemon(d, lambda t: t + "\n[cluster dev04]\nmin_workers"
                         " = many\n")
    (bad,) = events(d, "reload_rejected")
    assert bad["PRIORITY"] == "3"
    assert "reload rejected" in bad["MESSAGE"]
    assert "min_workers" in bad["MESSAGE"]
    check_invariants(d)


def test_recovery_after_sigkill(make):
    ec2, oc, d = make()
    busy_worker(ec2, oc)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "p", d.ctl("dev04", "stop", timeout=120)))
    t.start()
    wait_for(lambda: step(d) == "wait_idle", what="stop waits for the job")
    left = in_maintenance(oc)
    assert len(left) == 4
    put = events(d, "maintenance_set", EC2M_OP="stop")
    assert len(put) == 4
    kill(d)
    t.join(120)
    assert result["p"].returncode != 0
    n_before = len(entries(d))
    d.start()
    wait_for(lambda: in_maintenance(oc) == [], timeout=60,
             what="the recorded nodes out of maintenance")
    rec = wait_for(lambda: [e for e in events(d, "recovered")
                            if "recovered from" in e["MESSAGE"]],
                   what="the recovery's outcome")
    assert rec[0]["EC2M_CLUSTER"] == "dev04"
    assert rec[0]["EC2M_OP"] == "recover"
    found = [e for e in events(d, "recovered")
             if e["MESSAGE"].startswith("found the crash record")]
    assert len(found) == 1
    # Each node the recovery took out, with its instance.
    after = entries(d)[n_before:]
    back = [e for e in after if e.get("EC2M_EVENT") ==
            "maintenance_restored" and e.get("EC2M_OP") == "recover"]
    assert sorted(e["EC2M_INSTANCE"] for e in back) == \
        sorted(e["EC2M_INSTANCE"] for e in put)
    check_invariants(d)
