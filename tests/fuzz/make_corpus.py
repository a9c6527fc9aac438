#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets under tests/fuzz/corpus/.

The seeds are the emulators' own answers (tests/sim/*.py, driven in-process,
no network), the unit tests' data files and fixtures, and the shipped sample
configuration.  Run it from anywhere after the emulators or fixtures change:

    /usr/bin/python3 tests/fuzz/make_corpus.py

It rewrites every seed it knows, the same bytes on every run (the
emulators' clock, request ids and secrets are fixed here), and leaves other
files alone (crash reproducers live in tests/fuzz/crashes/, not here).  Seeds of files that the
targets split use the "%%" separator line of tests/fuzz/fuzz.h.
"""
import json
import os
import random
import secrets
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "sim"))

import ec2sim  # noqa: E402
import ocsim  # noqa: E402
import zadarasim  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
SEP = b"%%\n"
MAX_SEED = 64 * 1024
# 2026-11-26T05:04:51Z: every emulator reads the clock, the seeds use this.
NOW = 1795669491.0


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) >= MAX_SEED:
        sys.exit("make_corpus: %s/%s is %d bytes, the limit is %d"
                 % (target, name, len(data), MAX_SEED))
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def read(*path):
    with open(os.path.join(TOP, *path), "rb") as f:
        return f.read()


def joined(*files):
    """Files as one input split by the targets at "%%" lines."""
    out = b""
    for i, data in enumerate(files):
        if i:
            if not out.endswith(b"\n"):
                out += b"\n"
            out += SEP
        out += data
    return out


# --- EC2 -------------------------------------------------------------------

def ec2_seeds():
    t = "fuzz_ec2_msg"
    sim = ec2sim.Ec2Sim("eu-west-1", 2.0, 2.0)
    sim.load_seed({
        "instances": [
            {"id": "i-0a00000000000000a", "name": "dev04-admin",
             "tags": {"Owner": "media", "hold": "yes"}},
            {"id": "i-0b00000000000000b", "name": "dev04-worker-\u65e5\u672c",
             "state": "stopped"},
            {"id": "i-0c00000000000000c", "name": "dev04-worker",
             "state": "stopping"},
            {"id": "i-0d00000000000000d", "name": "dev04-worker",
             "state": "pending"},
            {"id": "i-0e00000000000000e", "name": "dev04-old",
             "state": "terminated"},
            {"id": "i-0f00000000000000f"},
        ],
        "clusters": [{"prefix": "dev05", "workers": 4,
                      "workers_running": 2}],
    }, NOW)
    by_name = {"Filter.1.Name": "tag:Name", "Filter.1.Value.1": "dev04-*"}
    write(t, "describe_dev04.xml",
          sim.call("DescribeInstances", by_name, NOW))
    write(t, "describe_all.xml", sim.call("DescribeInstances", {}, NOW))
    first = sim.call("DescribeInstances", {"MaxResults": "5"}, NOW)
    write(t, "describe_page1.xml", first)
    token = first.split("<nextToken>")[1].split("</nextToken>")[0]
    write(t, "describe_page2.xml", sim.call(
        "DescribeInstances", {"MaxResults": "5", "NextToken": token}, NOW))
    write(t, "describe_none.xml", sim.call(
        "DescribeInstances", {"Filter.1.Name": "tag:Name",
                              "Filter.1.Value.1": "nothing-*"}, NOW))
    write(t, "start.xml", sim.call(
        "StartInstances", {"InstanceId.1": "i-0b00000000000000b"}, NOW))
    write(t, "stop.xml", sim.call(
        "StopInstances", {"InstanceId.1": "i-0a00000000000000a",
                          "InstanceId.2": "i-0c00000000000000c"}, NOW))
    errors = {
        "error_auth.xml": ec2sim.ERROR_FAULTS["auth"],
        "error_throttle.xml": ec2sim.ERROR_FAULTS["throttle"],
        "error_dry_run.xml": (412, "DryRunOperation", ec2sim.DRY_RUN_MSG),
        "error_not_found.xml": (400, "InvalidInstanceID.NotFound",
                                "The instance ID 'i-0123456789abcdef0' "
                                "does not exist"),
    }
    for name, (status, code, message) in errors.items():
        write(t, name, ec2sim.error_xml(ec2sim.Ec2Error(status, code,
                                                        message)))
    write(t, "malformed.bin", ec2sim.MALFORMED_BODY)
    # Issue 12, case 3: not well-formed, with a 0xE9 byte in a tag name.
    write(t, "latin1_tag_name.xml",
          b'<?xml version="1.0" encoding="UTF-8"?>\n'
          b"<DescribeInstancesResponse><reservationSet><caf\xe9>"
          b"</reservationSet></DescribeInstancesResponse>")
    for name in sorted(os.listdir(os.path.join(TOP, "tests/unit/data"))):
        if name.endswith(".xml"):
            write(t, "unit_" + name, read("tests/unit/data", name))


# --- Opencast --------------------------------------------------------------

def oc_get(sim, path, user="opencast_system_account"):
    request = ocsim.Request("GET", path, {}, "", b"", {}, user)
    response = sim.route(request)
    assert response.status == 200, (path, response.status)
    return response.body


def oc_new():
    sim = ocsim.Simulator("opencast_system_account", "CHANGE_ME", None, 8080)
    sim.own_url = "http://127.0.0.1:8080"
    return sim


def oc_sim(settings=None):
    sim = oc_new()
    sim.load_seed({
        "settings": dict({"dispatch": False}, **(settings or {})),
        "hosts": [
            {"base_url": "http://10.0.1.10:8080", "role": "admin",
             "node_name": "dev04-admin"},
            {"base_url": "http://10.0.1.11:8080", "role": "worker",
             "node_name": "dev04-worker", "max_load": 4.5},
            {"base_url": "https://ip-10-0-1-12.eu-west-1.compute.internal",
             "role": "worker", "maintenance": True, "node_name": "42"},
        ],
        "jobs": [
            {"type": ocsim.COMPOSER, "status": "RUNNING",
             "host": "http://10.0.1.11:8080", "count": 2},
            {"type": ocsim.INSPECTION, "status": "RUNNING",
             "host": "http://10.0.1.11:8080"},
            {"type": ocsim.WORKFLOW, "status": "RUNNING",
             "host": "http://10.0.1.10:8080"},
            {"type": ocsim.COMPOSER, "count": 2},
            {"type": ocsim.VIDEOEDITOR},
            {"type": "org.opencastproject.execute",
             "args": ["caf\u00e9", "\u65e5\u672c"]},
        ],
    })
    return sim


def oc_one_host_sim(settings):
    sim = oc_new()
    sim.load_seed({
        "settings": dict({"dispatch": False}, **settings),
        "hosts": [{"base_url": "http://10.0.1.11:8080", "role": "worker"}],
        "jobs": [{"type": ocsim.COMPOSER, "status": "RUNNING",
                  "host": "http://10.0.1.11:8080"}],
    })
    return sim


def opencast_seeds():
    t = "fuzz_opencast_msg"
    sim = oc_sim()
    write(t, "me.json", oc_get(sim, "/info/me.json"))
    write(t, "me_anonymous.json", oc_get(sim, "/info/me.json", None))
    write(t, "hosts.json", oc_get(sim, "/services/hosts.json"))
    write(t, "active_jobs.json", oc_get(sim, "/services/activeJobs.json"))
    write(t, "statistics_off.json",
          oc_get(sim, "/services/statistics.json"))

    counted = oc_sim({"jobstats": True})
    write(t, "statistics_jobstats.json",
          oc_get(counted, "/services/statistics.json"))
    strings = oc_sim({"string_numbers": True, "payload_bytes": 300})
    write(t, "active_jobs_string_numbers.json",
          oc_get(strings, "/services/activeJobs.json"))

    legacy = oc_sim({"legacy": True})
    write(t, "me_legacy.json", oc_get(legacy, "/info/me.json"))
    write(t, "hosts_legacy.json", oc_get(legacy, "/services/hosts.json"))
    write(t, "statistics_legacy.json",
          oc_get(legacy, "/services/statistics.json"))

    single = oc_one_host_sim({})
    write(t, "hosts_single.json", oc_get(single, "/services/hosts.json"))
    write(t, "active_jobs_single.json",
          oc_get(single, "/services/activeJobs.json"))

    arrays = oc_one_host_sim({"single_object": False})
    write(t, "hosts_single_array.json",
          oc_get(arrays, "/services/hosts.json"))

    empty = oc_new()
    write(t, "hosts_empty.json", oc_get(empty, "/services/hosts.json"))
    write(t, "statistics_empty.json",
          oc_get(empty, "/services/statistics.json"))
    empty.load_seed({"settings": {"empty_string": False}})
    write(t, "active_jobs_empty_list.json",
          oc_get(empty, "/services/activeJobs.json"))

    # One document that reads as hosts, jobs and statistics, so that the
    # target's cross-checks (busy + idle, the mapping) run on mutations.
    both = {}
    for path in ("/services/hosts.json", "/services/activeJobs.json",
                 "/services/statistics.json"):
        both.update(json.loads(oc_get(counted, path)))
    write(t, "hosts_and_jobs.json",
          json.dumps(both, separators=(",", ":"), ensure_ascii=False))


# --- Zadara ----------------------------------------------------------------

def zadara_body(response):
    return response.body


def zadara_seeds():
    t = "fuzz_zadara_msg"
    sim = zadarasim.Simulator("token")
    sim.load_seed({"vpsas": [
        {"id": 7, "name": "dev04-storage"},
        {"id": 8, "name": "archive-\u65e5\u672c", "status": "hibernated"},
    ], "delays": {"hibernate": [], "restore": []}})
    write(t, "vpsa.json", zadara_body(sim.serve("show", "7", False)))
    write(t, "vpsa_hibernated.json",
          zadara_body(sim.serve("show", "8", False)))
    write(t, "hibernate.json",
          zadara_body(sim.serve("hibernate", "7", False)))
    write(t, "refused.json", zadara_body(sim.serve("hibernate", "7", False)))
    write(t, "restore.json", zadara_body(sim.serve("restore", "8", False)))
    write(t, "not_found.json", zadara_body(zadarasim.not_found()))
    write(t, "unauthorized.json", json.dumps(
        {"error": zadarasim.UNAUTHORIZED}, separators=(",", ":")))
    # The shapes of zadara_msg.h that the emulator does not produce.
    write(t, "vpsa_api_refusal.json",
          '{"response": {"status": 1, "message": "VPSA is locked"}}')
    write(t, "vpsa_api_ok.json",
          '{"response": {"status": "0", "message": ""}}')
    write(t, "errors_list.json",
          '{"errors": ["Name is too long", "Status is invalid"]}')
    write(t, "error_object.json",
          '{"error": {"message": "Internal error", "code": 500}}')
    write(t, "vpsa_bare.json",
          '{"id": "vsa-0000000a", "status": "restoring", "name": 12}')


# --- Files read back, credentials ------------------------------------------

def state_seeds():
    t = "fuzz_state"
    write(t, "autoscale_state.json",
          '{"autoscale_paused":true,"last_action_ms":1795669491000}')
    write(t, "autoscale_state_empty.json", "{}")
    # Crash records as daemon/opjournal.c writes them (one line of JSON).
    record = {"version": 1, "cluster": "dev04", "operation": "stop",
              "initiator": "uid 0 pid 42",
              "started_at": "2026-11-26T05:04:51Z",
              "started_ms": 1795669491000, "pid": 4242,
              "maintenance": [{"host": "http://10.0.1.11:8080",
                               "instance": "i-0b00000000000000b"}],
              "stopping": ["i-0b00000000000000b"]}
    write(t, "crash_record.json",
          json.dumps(record, separators=(",", ":")) + "\n")
    record.update({
        "operation": "scale down 3", "initiator": None,
        "maintenance": [
            {"host": "http://10.0.1.%d:8080" % n,
             "instance": "i-0%d00000000000000%d" % (n % 10, n % 10)}
            for n in range(11, 15)] + [
            {"host": "http://caf\u00e9.example:8080",
             "instance": "i-0e00000000000000e"}],
        "stopping": []})
    write(t, "crash_record_scale_down.json",
          json.dumps(record, separators=(",", ":"), ensure_ascii=False)
          + "\n")
    sim = ec2sim.Ec2Sim("eu-west-1", 2.0, 2.0)
    creds = sim.imds_credentials(NOW)
    write(t, "imds_credentials.json", json.dumps(creds, indent=2))
    write(t, "imds_failure.json", json.dumps(
        {"Code": "AssumeRoleUnauthorizedAccess",
         "Message": "EC2 cannot assume the role",
         "LastUpdated": creds["LastUpdated"]}, indent=2))
    # The unit tests' shared credentials and config files.
    write(t, "profiles.ini", joined(
        b"[default]\n"
        b"aws_access_key_id = AKIDEXAMPLEDAEMON001\n"
        b"aws_secret_access_key = dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001"
        b"\n\n"
        b"[ec2m]\n"
        b"aws_access_key_id=AKIDSCALER\n"
        b"aws_secret_access_key=SCALERSECRET\n"
        b"aws_session_token = SCALERTOKEN\n",
        b"[default]\n"
        b"region = eu-west-1\n"
        b"[profile ec2m]\n"
        b"region = eu-central-1\n"
        b"aws_access_key_id = AKIDFROMCONFIG\n"
        b"aws_secret_access_key = CONFIGSECRET\n"
        b"[ec2m]\n"
        b"; a bare section in the config file is not a profile\n"
        b"region = us-west-2\n"
        b"[services local]\n"
        b"ec2 =\n"
        b"  endpoint_url = http://127.0.0.1:4566\n"))


# --- Configuration ---------------------------------------------------------

EVERY_CLUSTER_KEY = (
    b"min_workers = 0\n"
    b"max_workers = 25\n"
    b"min_idle_workers = 2\n"
    b"max_queued_jobs = 4\n"
    b"high_load_services = org.opencastproject.composer "
    b"org.opencastproject.execute\n"
    b"job_source = statistics\n"
    b"billing = per-second\n"
    b"idle_uptime_threshold = 0\n"
    b"min_uptime = 90s\n"
    b"wait_retries = 3\n"
    b"wait_interval = 500ms\n"
    b"refresh_interval = 2min\n"
    b"autoscale = off\n"
    b"autoscale_interval = 1h\n"
    b"scale_up_step = 2\n"
    b"scale_down_step = 3\n"
    b"cooldown = 0\n"
    b"admin_url = https://{public_dns}:8443/\n"
    b"zadara_vpsa = vsa-0000000a\n"
    b"policy = demand\n"
    b"scale_up_max_step = 4\n")


def config_seeds():
    t = "fuzz_config"
    write(t, "sample.conf", read("etc", "ec2-manager.conf"))
    write(t, "unit_dropin.conf", joined(
        read("tests/unit/data/config/relative.conf"),
        read("tests/unit/data/config/conf.d/10-cluster.conf")))
    write(t, "every_key.conf",
          b"[daemon]\n"
          b"socket = /tmp/ec2m.sock\n"
          b"socket_group = ec2-manager\n"
          b"state_dir = /srv/ec2m\n"
          b"log_level = debug\n"
          b"[aws]\n"
          b"region = eu-central-1\n"
          b"endpoint = http://127.0.0.1:4566\n"
          b"profile = scaler\n"
          b"[opencast]\n"
          b"timeout = 1500ms\n"
          b"[zadara]\n"
          b"url = https://zadara.example.org\n"
          b"[cluster dev04]\n" + EVERY_CLUSTER_KEY +
          b"[cluster plain]\n")
    write(t, "syntax.conf",
          b"\xef\xbb\xbf[daemon]\r\n"
          b"  log_level = debug   ; an inline comment\r\n"
          b"\t# a comment\r\n"
          b"; a comment\r\n"
          b"\r\n"
          b"socket_group = staff # not a comment\r\n"
          b"[aws]\r\n"
          b"region: eu-west-1\r\n"
          b"  [opencast]\r\n"
          b"    timeout = 30s\r\n"
          b"    [defaults]\n"
          b"    min_workers = 1\n"
          b"    max_workers = 3\n"
          b"[cluster x];comment\n"
          b"zadara_vpsa = vsa-1")
    write(t, "three_files.conf", joined(
        b"[defaults]\nmin_workers = 1\nautoscale = on\n"
        b"[cluster dev04]\nmax_workers = 6\n",
        b"[daemon]\nstate_dir = /a\n[cluster dev04]\nmin_workers = 3\n"
        b"[defaults]\ncooldown = 10m\n",
        b"[cluster caf\xc3\xa9]\n[cluster dev05]\n"
        b"admin_url = http://{private_ip}:8080\n"))
    write(t, "min_above_max.conf", joined(
        b"[defaults]\nmin_workers = 4\n",
        b"[cluster dev04]\nmax_workers = 3\n"))
    write(t, "bad_values.conf",
          b"[cluster dev04]\nidle_uptime_threshold = 60m\n"
          b"admin_url = ftp://{nope}\nlog_level = loud\n")
    # Issue 14: every error at once, "did you mean", an unclosed header,
    # a section twice in a file, the old tool's operation ids, inline "#".
    write(t, "every_error.conf", joined(
        b"[daemon\nsocket = /x\n[aws]\nregoin = eu-west-1\n"
        b"region = eu-west-1   # Ireland\n[Defaults]\n[defaults]\n"
        b"min_worker = 1\nsocket_group = staff\n"
        b"high_load_services = compose editor inspect video-segment\n"
        b"[cluster dev04]\nno equals sign\n[cluster dev04]\n"
        b"[aws ;x]\n",
        b"[cluster dev04]\nautoscale = sometimes\n"))


def main():
    ec2_seeds()
    opencast_seeds()
    zadara_seeds()
    state_seeds()
    config_seeds()


def fix_randomness():
    """The emulators' clock, request ids and secrets, made repeatable."""
    rng = random.Random(12)
    time.time = lambda: NOW
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    secrets.token_bytes = lambda n=32: rng.randbytes(n)
    secrets.token_hex = lambda n=32: rng.randbytes(n).hex()


if __name__ == "__main__":
    fix_randomness()
    main()
