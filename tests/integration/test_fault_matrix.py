"""The fault matrix (issue 13): every operation × every fault, with the same
invariants checked after every cell.

Each cell (test id OP-FAULT) starts its own EC2 and Opencast emulators
(linked: running Opencast instances register as hosts) and its own daemon on
ephemeral 127.0.0.1 ports, so cells run in parallel (pytest-xdist, `-n 2`).
A cell

1. arranges a small cluster dev04 (admin, engage, db, 4 workers) for its
   operation, with one *busy* worker (a job RUNNING on it in the Opencast
   emulator) wherever workers run;
2. starts the operation with the real ec2ctl and holds it at a fault point
   the test controls (a transition held in the EC2 emulator, a maintenance
   POST held in the Opencast emulator, or `stop` waiting for the busy
   worker);
3. injects the fault there, lets the operation go on, and takes the fault
   away again (Opencast answers again, EC2 answers again);
4. checks the invariants, each with a bound:

   busy_stopped      no busy worker was stopped (no StopInstances named it
                     while it ran a job; it is not stopping or stopped);
   maintenance_left  no running node is left in maintenance that the daemon
                     put there, once Opencast answers again (the restore
                     retries with backoff, so this waits up to RESTORE_S);
                     nodes in maintenance before stay out of this, and so do
                     the nodes of a `maintenance on` that succeeded;
   unanswered        ec2ctl exits within ANSWER_S with a status of SPEC §4,
                     every raw `status --refresh` gets its final reply;
   daemon            the daemon is alive and ends the operation (or, after
                     SIGKILL, restarts cleanly; after SIGTERM exits 0), and
                     at teardown SIGTERM ends it with exit status 0 and no
                     sanitizer report;
   outcome           for faults that must not change an operation's outcome
                     (none, EC2 throttling that retries absorb, SIGHUP —
                     SPEC §7 "an operation finishes with the settings and
                     upstream clients it started with" —, status --refresh —
                     SPEC §3 "a request that only reads never changes the
                     course or the outcome"), the operation succeeds;
   acted_after_sigterm  (SIGTERM only) no StartInstances or StopInstances
                     reaches EC2 after SIGTERM (SPEC §8).

Every cell writes its outcome to a file; at the end of the session conftest
aggregates them into fault-matrix.json and fault-matrix.md under
$EC2M_BUILD_DIR/results/ (docs/fault-matrix.md is a copy from a run).
"""
import json
import signal
import time
import urllib.parse

import pytest

from conftest import (BUILD_DIR, CTL_EXIT_CODES, CtlRun, Daemon,
                      RefreshSpam, admin_url_to_localhost, cluster_ec2_seed,
                      daemon_kill, daemon_wait_exit, matrix_write_cell,
                      reload_count, reload_daemon, sanitizer_report,
                      wait_until)
from test_operations import (COMPOSER, hold, hosts, instances, online_hosts,
                             release, running_oc_nodes, workers)

# Bounds (seconds).  Generous for an ASan build on a loaded 2-core machine;
# a cell that passes never waits for them.
ANSWER_S = 30        # ec2ctl answers within this after the fault point
FAULT_S = 8          # a lasting fault lasts until the client answers, or this
RESTORE_S = 30       # maintenance restored after Opencast answers again
OP_END_S = 30        # the operation ends after its client was answered
EXIT_S = 30          # SIGTERM ends the daemon (its grace is 20 s)
HOLD_S = 30          # the operation reaches its fault point

OPS = {
    # args: the ec2ctl command; running: workers running at the start;
    # hold: the fault point; stopped: the whole cluster stopped first;
    # pre_maintenance: every node in maintenance before (by an operator).
    "start": {"args": ["start", "-w", "2"], "running": 0, "hold": "pending",
              "stopped": True},
    "stop": {"args": ["stop"], "running": 2, "hold": "idle"},
    "scale_up": {"args": ["scale", "up"], "running": 2, "hold": "pending"},
    "scale_down": {"args": ["scale", "down"], "running": 3,
                   "hold": "maintenance"},
    "scale_to": {"args": ["scale_to", "2"], "running": 3,
                 "hold": "maintenance"},
    "maintenance_on": {"args": ["maintenance", "on"], "running": 2,
                       "hold": "maintenance"},
    "maintenance_off": {"args": ["maintenance", "off"], "running": 2,
                        "hold": "maintenance", "pre_maintenance": True},
    "autoscale": {"args": ["autoscale"], "running": 3,
                  "hold": "maintenance", "autoscale": True},
}

FAULTS = ["none", "ec2_throttle", "ec2_5xx", "ec2_garbage", "oc_down",
          "oc_401", "oc_503", "sighup", "sigterm", "sigkill",
          "refresh_spam"]

# Faults after which the operation must still succeed.
UNAFFECTED = ("none", "ec2_throttle", "sighup", "refresh_spam")
# Faults that last until the client has its answer (or FAULT_S).
LASTING = ("ec2_5xx", "ec2_garbage", "oc_down", "oc_401")

FAULT_TEXT = {
    "none": "no fault (baseline)",
    "ec2_throttle": "EC2 answers RequestLimitExceeded to the next 2 calls",
    "ec2_5xx": "EC2 answers 500 InternalError to every call (through all "
               "retries) until the client has its answer",
    "ec2_garbage": "EC2 answers 200 with a non-XML body to every call until "
                   "the client has its answer",
    "oc_down": "Opencast closes every connection unanswered until the "
               "client has its answer",
    "oc_401": "Opencast rejects the good credentials (401) until the client "
              "has its answer",
    "oc_503": "Opencast answers 503 for 3 s, then normally",
    "sighup": "SIGHUP with admin_url changed to the equivalent "
              "http://localhost:PORT, then a SIGHUP after each finished "
              "reload until the client has its answer",
    "sigterm": "SIGTERM (a held maintenance POST is answered once the "
               "daemon has sent its next Opencast request, exited, or "
               "waited 2 s for it)",
    "sigkill": "SIGKILL, then the daemon is started again",
    "refresh_spam": "status --refresh over and over (raw and ec2ctl) until "
                    "the client has its answer",
}
OP_TEXT = {
    "start": "start -w 2 on a stopped cluster; held while the support "
             "nodes are pending",
    "stop": "stop; held while it waits for the busy worker to finish its "
            "job (every node in maintenance)",
    "scale_up": "scale up; held while the new worker is pending",
    "scale_down": "scale down (1 of 3 running, one busy); held in its "
                  "maintenance POST",
    "scale_to": "scale_to 2 (from 3 running, one busy); held in its "
                "maintenance POST",
    "maintenance_on": "maintenance on; held in a maintenance POST",
    "maintenance_off": "maintenance off (every node in maintenance before); "
                       "held in a maintenance POST",
    "autoscale": "ec2ctl autoscale deciding to stop an idle worker past the "
                 "billing threshold; held in its maintenance POST",
}


def ago(minutes):
    from datetime import datetime, timedelta, timezone
    t = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def epoch(iso):
    from datetime import datetime, timezone
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def ids_of(req):
    return sorted(v for k, v in req["params"].items()
                  if k.startswith("InstanceId."))


def tail(text, n=300):
    text = " ".join(text.split())
    return text if len(text) <= n else "..." + text[-n:]


class Cell:
    """One cell: its emulators, daemon, operation and findings."""

    def __init__(self, tmp_path, linked_sims, op, fault):
        self.tmp = tmp_path
        self.op = op
        self.fault = fault
        self.spec = OPS[op]
        self.violations = []          # (invariant, message)
        self.notes = []
        self.busy = {}                # instance id -> time it went idle
        self.busy_urls = {}
        self.ctl = None
        self.spam = None
        self.sigterm_at = None
        self.alive = True             # the daemon should be running
        self.linked_sims = linked_sims

    def violate(self, invariant, message):
        self.violations.append((invariant, message))

    # -- arrangement --------------------------------------------------------

    def arrange(self):
        spec = self.spec
        # The Opencast emulator is the admin's API: down while it is.
        self.ec2, self.oc = self.linked_sims(clusters=[cluster_ec2_seed(
            "dev04", workers=4, running=spec["running"], nfs=0)],
            oc_settings={"down_with_admin": True})
        ec2, oc = self.ec2, self.oc
        if spec.get("stopped"):
            for i in instances(ec2):
                ec2.ctl("POST", "instances/" + i["id"], {"state": "stopped"})
        wait_until(lambda: online_hosts(oc) == running_oc_nodes(ec2), 20)
        assert online_hosts(oc) == running_oc_nodes(ec2), \
            "setup: hosts did not register"
        running = workers(ec2, "running")
        if running:
            busy = running[0]
            url = self.host_url(busy)
            oc.ctl("POST", "jobs", {"type": COMPOSER, "status": "RUNNING",
                                    "host": url, "duration_s": 3600})
            self.busy[busy] = None
            self.busy_urls[busy] = url
        if spec.get("autoscale"):
            # Every running worker is past the billing threshold.
            for iid in running:
                ec2.ctl("POST", "instances/" + iid,
                        {"launch_time": ago(55)})
        if spec.get("pre_maintenance"):
            for url, h in hosts(oc).items():
                if h["online"]:
                    oc.ctl("POST", "hosts", {"base_url": url,
                                             "maintenance": True})
        conf = ["wait_interval = 200ms", "wait_retries = 25",
                "min_workers = 1", "max_workers = 4"]
        if spec.get("autoscale"):
            conf += ["autoscale = on", "cooldown = 0",
                     "autoscale_interval = 1h"]
        self.d = Daemon(self.tmp, ec2, oc, {"dev04": conf})
        self.d.start()
        self.pre_maint = {u for u, h in hosts(oc).items()
                          if h["maintenance"]}
        ec2.ctl("POST", "requests/reset")
        oc.ctl("POST", "requests/reset")

    def host_url(self, iid):
        ip = [i for i in instances(self.ec2) if i["id"] == iid][0][
            "private_ip"]
        return [u for u, h in hosts(self.oc).items()
                if h["address"] == ip][0]

    # -- the fault point ----------------------------------------------------

    def arm(self):
        h = self.spec["hold"]
        if h == "pending":
            hold(self.ec2, "pending")
        elif h == "maintenance":
            self.oc.ctl("POST", "faults", {"path": "/services/maintenance",
                                           "kind": "hold", "count": 1})

    def at_hold(self):
        h = self.spec["hold"]
        if h == "pending":
            return bool(workers(self.ec2, "pending") or any(
                i["state"] == "pending" for i in instances(self.ec2)))
        if h == "maintenance":
            return self.oc.ctl("GET", "held")["held"] > 0
        op = self.d.status("dev04")["operation"] or {}
        return op.get("step") == "wait_idle"

    def release(self):
        h = self.spec["hold"]
        if h == "pending":
            release(self.ec2, "pending")
        elif h == "maintenance":
            if self.fault == "sigterm":
                # Opencast answers the held POST only after the daemon has
                # had a moment to act on SIGTERM: the next request it sends
                # (its restore), or its exit, or 2 s (less than its
                # Opencast timeout) of waiting for the call in flight.
                n = len(self.oc.ctl("GET", "requests"))
                wait_until(lambda: len(self.oc.ctl("GET", "requests")) > n
                           or self.d.proc.poll() is not None, 2.0)
            self.oc.ctl("POST", "release")
        else:
            now = time.time()
            for iid, url in self.busy_urls.items():
                self.oc.ctl("POST", "jobs/finish", {"host": url})
                self.busy[iid] = now

    # -- faults -------------------------------------------------------------

    def inject(self):
        f, ec2, oc, d = self.fault, self.ec2, self.oc, self.d
        if f == "ec2_throttle":
            ec2.ctl("POST", "faults", {"action": "*", "kind": "throttle",
                                       "count": 2})
        elif f == "ec2_5xx":
            ec2.ctl("POST", "faults", {"action": "*", "kind": "5xx",
                                       "count": 100000})
        elif f == "ec2_garbage":
            ec2.ctl("POST", "faults", {"action": "*", "kind": "malformed",
                                       "count": 100000})
        elif f == "oc_down":
            oc.ctl("POST", "faults", {"path": "*", "kind": "drop",
                                      "count": 100000})
        elif f == "oc_401":
            oc.ctl("POST", "faults", {"path": "*", "kind": "401",
                                      "count": 100000})
        elif f == "oc_503":
            oc.ctl("POST", "faults", {"path": "*", "kind": "503",
                                      "for_s": 3})
        elif f == "sighup":
            if not reload_daemon(d, admin_url_to_localhost):
                self.notes.append("the first reload did not finish")
        elif f == "sigterm":
            self.sigterm_at = time.time()
            d.signal(signal.SIGTERM)
            self.alive = False
        elif f == "sigkill":
            daemon_kill(d)
        elif f == "refresh_spam":
            self.spam = RefreshSpam(d, "dev04")

    def clear_faults(self):
        self.ec2.ctl("DELETE", "faults")
        self.oc.ctl("DELETE", "faults")

    def after(self):
        """From the release of the fault point until the client's answer."""
        f, d = self.fault, self.d
        start = time.monotonic()
        if f == "sigkill":
            try:
                d.start()
            except AssertionError as e:
                self.violate("daemon", "did not start again after SIGKILL: "
                             "%s; log: %s" % (e, tail(d.read_log())))
                self.alive = False
        if f in LASTING:
            wait_until(self.ctl.done, FAULT_S)
            self.clear_faults()
        storms = 0
        while not self.ctl.done() and \
                time.monotonic() - start < ANSWER_S:
            if f == "sighup" and storms < 8 and d.proc.poll() is None:
                storms += 1
                reload_daemon(d)
            else:
                wait_until(self.ctl.done, 0.5)
        if self.spam:
            stuck = self.spam.stop()
            if stuck:
                self.violate("unanswered", "%d status --refresh clients "
                             "still waiting" % len(stuck))
            if self.spam.unanswered:
                self.violate("unanswered", "%d of %d status --refresh "
                             "requests got no final reply (first: %s)" % (
                                 len(self.spam.unanswered), self.spam.sent,
                                 self.spam.unanswered[0]))
        self.clear_faults()
        if f == "sigterm":
            rc = daemon_wait_exit(d, EXIT_S)
            if rc != 0:
                self.violate("daemon", "after SIGTERM mid-operation the "
                             "daemon exited with %r: %s" % (
                                 rc, tail(d.read_log())))
            rep = sanitizer_report(d.read_log())
            if rep:
                self.violate("daemon", "sanitizer: " + rep)

    # -- invariants ---------------------------------------------------------

    def check_answer(self):
        rc = self.ctl.wait(0)
        if rc is None:
            self.violate("unanswered", "ec2ctl %s still waiting %d s after "
                         "the fault point" % (" ".join(self.spec["args"]),
                                              ANSWER_S))
        elif rc not in CTL_EXIT_CODES:
            self.violate("unanswered", "ec2ctl exited with %r (not a status "
                         "of SPEC §4): %s" % (rc, tail(self.ctl.stderr)))

    def operation_events(self):
        r = self.d.request("events", "dev04", {"n": 100})
        return [e for e in r["result"]["events"] if e["kind"] == "operation"]

    def check_daemon(self):
        d = self.d
        if not self.alive:
            return
        if d.proc.poll() is not None:
            self.violate("daemon", "the daemon died (exit %r): %s" % (
                d.proc.returncode, tail(d.read_log())))
            self.alive = False
            return
        if not d.answers():
            self.violate("daemon", "the daemon does not answer ping")
            return
        # A client still waiting: its operation has already had ANSWER_S.
        bound = 0 if not self.ctl.done() else OP_END_S
        if not wait_until(lambda: d.status("dev04")["operation"] is None,
                          bound):
            op = d.status("dev04")["operation"]
            self.violate("daemon", "the operation never ended: still %s "
                         "at step %s" % (op["cmd"], op["step"]))

    def check_outcome(self):
        if self.fault not in UNAFFECTED:
            return
        rc = self.ctl.wait(0)
        if rc != 0:
            self.violate("outcome", "ec2ctl %s exited %r under a fault that "
                         "must not change the outcome: %s" % (
                             " ".join(self.spec["args"]), rc,
                             tail(self.ctl.stderr)))
            return
        if self.alive and self.d.proc.poll() is None:
            ends = [e for e in self.operation_events()
                    if " succeeded" in e["msg"] or " failed" in e["msg"]]
            if self.spec.get("autoscale") and not ends:
                self.violate("outcome", "the autoscaler's action never ran")
            elif ends and " failed" in ends[-1]["msg"]:
                self.violate("outcome", "the operation failed: " +
                             tail(ends[-1]["msg"]))

    def maintenance_violations(self, allowed=()):
        by_ip = {i["private_ip"]: i for i in instances(self.ec2)}
        bad = []
        for url, h in hosts(self.oc).items():
            if not h["maintenance"] or url in self.pre_maint or \
                    url in allowed:
                continue
            i = by_ip.get(h["address"])
            if i is None or i["state"] not in ("running", "pending"):
                continue
            bad.append("%s %s%s" % (i["name"], i["id"],
                                    self.maintenance_posts(url)))
        return bad

    def maintenance_posts(self, url):
        """Opencast's maintenance POSTs for url in the order it finished
        them, with when each arrived (s after the first)."""
        posts = [r for r in self.oc.ctl("GET", "requests")
                 if r["path"] == "/services/maintenance" and
                 r["method"] == "POST" and
                 urllib.parse.parse_qs(r["body"] or "").get("host") ==
                 [url]]
        if not posts:
            return " (no maintenance POST for it reached Opencast)"
        t0 = min(r["ts"] for r in posts)
        return " (Opencast finished its maintenance POSTs in this order: " \
            "%s)" % ", ".join("%s sent at +%.2fs -> %s" % (
                "on" if "maintenance=true" in r["body"] else "off",
                r["ts"] - t0, r["status"]) for r in posts)

    def check_maintenance(self):
        allowed = ()
        if self.op == "maintenance_on" and self.ctl.wait(0) == 0:
            allowed = set(hosts(self.oc))     # asked for, and done
        bound = RESTORE_S if self.alive else 3
        if not wait_until(lambda: not self.maintenance_violations(allowed),
                          bound, interval=0.2):
            bad = self.maintenance_violations(allowed)
            self.violate("maintenance_left", "%d running node%s still in "
                         "maintenance %d s after the faults ended: "
                         "%s" % (len(bad), "" if len(bad) == 1 else "s",
                                 bound, ", ".join(sorted(bad))))

    def check_busy(self):
        for r in self.ec2.ctl("GET", "requests"):
            if r["action"] != "StopInstances" or r["dry_run"] or \
                    r["status"] != 200:
                continue
            for iid in ids_of(r):
                if iid in self.busy and (self.busy[iid] is None or
                                         epoch(r["ts"]) < self.busy[iid]):
                    self.violate("busy_stopped", "StopInstances at %s named "
                                 "busy worker %s" % (r["ts"], iid))
        for i in instances(self.ec2):
            if i["id"] in self.busy and self.busy[i["id"]] is None and \
                    i["state"] in ("stopping", "stopped"):
                self.violate("busy_stopped", "busy worker %s is %s" % (
                    i["id"], i["state"]))

    def check_sigterm(self):
        if self.sigterm_at is None:
            return
        for r in self.ec2.ctl("GET", "requests"):
            if r["action"] in ("StartInstances", "StopInstances") and \
                    not r["dry_run"] and epoch(r["ts"]) >= self.sigterm_at:
                self.violate("acted_after_sigterm", "%s %s after SIGTERM" %
                             (r["action"], ",".join(ids_of(r))))

    def teardown(self):
        d = self.d
        if self.alive and d.proc.poll() is None:
            d.signal(signal.SIGTERM)
            rc = daemon_wait_exit(d, EXIT_S)
            if rc != 0:
                self.violate("daemon", "SIGTERM at teardown: exit %r: %s" %
                             (rc, tail(d.read_log())))
            rep = sanitizer_report(d.read_log())
            if rep and not any("sanitizer" in m for _, m in
                               self.violations):
                self.violate("daemon", "sanitizer: " + rep)

    # -- the whole cell -----------------------------------------------------

    def run(self):
        self.arrange()
        self.arm()
        self.ctl = CtlRun(self.d, "dev04", *self.spec["args"], name="op")
        # (ec2ctl autoscale may return once the action has started.)
        if not wait_until(lambda: self.at_hold() or (
                self.ctl.done() and
                self.d.status("dev04")["operation"] is None), HOLD_S,
                interval=0.05) or not self.at_hold():
            self.violate("setup", "the operation never reached its fault "
                         "point (ec2ctl %r): %s %s" % (
                             self.ctl.returncode, tail(self.ctl.stdout),
                             tail(self.ctl.stderr)))
        self.inject()
        self.release()
        self.after()
        self.check_answer()
        self.check_daemon()
        self.check_outcome()
        self.check_maintenance()
        self.check_busy()
        self.check_sigterm()
        self.teardown()

    def close(self):
        if self.ctl:
            self.ctl.close()
        if self.spam:
            self.spam.stop()
        d = getattr(self, "d", None)
        if d and d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


CELLS = [(op, fault) for op in OPS for fault in FAULTS]


@pytest.mark.parametrize("op,fault", CELLS,
                         ids=["%s-%s" % c for c in CELLS])
def test_cell(tmp_path, linked_sims, op, fault):
    cell = Cell(tmp_path, linked_sims, op, fault)
    t0 = time.monotonic()
    try:
        cell.run()
    except Exception as e:     # the harness itself broke: still a row
        cell.violate("error", "%s: %s" % (type(e).__name__, e))
        raise
    finally:
        cell.close()
        matrix_write_cell(op, fault, cell.violations, cell.notes,
                          time.monotonic() - t0,
                          {"op": OP_TEXT[op], "fault": FAULT_TEXT[fault]})
    assert not cell.violations, "\n".join(
        "%s: %s" % v for v in cell.violations)


# The emulator controls the matrix relies on (tests/sim/ocsim.py). -----------

def test_ocsim_hold_until_released(tmp_path):
    import threading
    from test_ocsim import W1, call, cluster
    import harness
    from conftest import OCSIM
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(cluster()))
    sim = harness.SimProcess([harness.PYTHON, OCSIM, "--port", "0",
                              "--password", "CHANGE_ME",
                              "--seed", str(seed)])
    try:
        sim.ctl("POST", "faults", {"path": "/services/hosts.json",
                                   "kind": "hold"})
        got = {}
        t = threading.Thread(target=lambda: got.update(
            r=call(sim, "/services/hosts.json", timeout=30)))
        t.start()
        assert wait_until(lambda: sim.ctl("GET", "held")["held"] == 1, 10)
        assert call(sim, "/services/services.json")[0] == 200
        assert t.is_alive() and "r" not in got       # still unanswered
        assert sim.ctl("POST", "release") == {"released": 1}
        t.join(10)
        assert got["r"][0] == 200
        assert sim.ctl("GET", "held") == {"held": 0, "total": 1}
        # Finishing the jobs of one host.
        ids = sim.ctl("POST", "jobs", {"type": COMPOSER, "status": "RUNNING",
                                       "host": W1, "duration_s": 600})["ids"]
        assert sim.ctl("POST", "jobs/finish", {"host": W1}) == {"ids": ids}
        job = [j for j in sim.ctl("GET", "state")["jobs"]
               if j["id"] == ids[0]][0]
        assert job["status"] == "FINISHED" and job["completed"]
    finally:
        sim.stop()


def test_ocsim_fault_window(tmp_path):
    import urllib.error
    from test_ocsim import call, cluster
    import harness
    from conftest import OCSIM
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(cluster()))
    sim = harness.SimProcess([harness.PYTHON, OCSIM, "--port", "0",
                              "--password", "CHANGE_ME",
                              "--seed", str(seed)])
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            sim.ctl("POST", "faults", {"path": "*", "kind": "503",
                                       "count": 2, "for_s": 1})
        assert e.value.code == 400
        sim.ctl("POST", "faults", {"path": "*", "kind": "503",
                                   "for_s": 1.5})
        # Not used up by requests: every one within the window is refused.
        assert [call(sim, "/services/hosts.json")[0] for _ in range(3)] \
            == [503] * 3
        # Then it answers again by itself.
        assert wait_until(lambda: call(sim, "/services/hosts.json")[0]
                          == 200, 10, interval=0.1)
    finally:
        sim.stop()


def test_ocsim_goes_down_with_its_admin(tmp_path):
    import http.client
    import urllib.error
    from test_ocsim import ADMIN, call, cluster
    import harness
    from conftest import OCSIM
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(cluster()))
    sim = harness.SimProcess([harness.PYTHON, OCSIM, "--port", "0",
                              "--password", "CHANGE_ME",
                              "--seed", str(seed)])
    try:
        sim.ctl("POST", "hosts", {"base_url": ADMIN, "online": False})
        assert call(sim, "/services/hosts.json")[0] == 200   # setting off
        sim.ctl("POST", "settings", {"down_with_admin": True})
        with pytest.raises((http.client.HTTPException, ConnectionError,
                            urllib.error.URLError)):
            call(sim, "/info/me.json")
        assert sim.ctl("GET", "requests")[-1]["status"] is None
        sim.ctl("POST", "hosts", {"base_url": ADMIN, "online": True})
        assert call(sim, "/services/hosts.json")[0] == 200
    finally:
        sim.stop()
