"""The daemon's EC2 client (tests/tools/ec2-probe runs the real C code)
against the EC2 emulator, which checks every SigV4 signature with botocore."""
import json

from conftest import ACCESS_KEY, REGION, wait_for


def sim_instances(sim, prefix):
    return {i["id"]: i for i in sim.ctl("GET", "instances")
            if i["name"].startswith(prefix + "-")}


def ids_in_state(sim, prefix, state, role="worker"):
    return sorted(i["id"] for i in sim_instances(sim, prefix).values()
                  if i["state"] == state and i["name"].endswith("-" + role))


def test_describe_cluster_matches_emulator(ec2sim, probe):
    rc, out, err = probe.run("describe", "dev04", sim=ec2sim)
    assert rc == 0, err
    res = out[0]
    assert res["ok"] and res["source"] == "environment"
    want = {i: v for i, v in sim_instances(ec2sim, "dev04").items()
            if v["state"] != "terminated"}
    got = {i["id"]: i for i in res["instances"]}
    # Only dev04-*: not prod-*, not dev04x-*, not the terminated worker.
    assert set(got) == set(want)
    assert len(got) == 10
    for iid, inst in got.items():
        assert inst["name"] == want[iid]["name"]
        assert inst["state"] == want[iid]["state"]
        assert inst["private_ip"] == want[iid]["private_ip"]
        assert inst["tags"]["Name"] == inst["name"]
    running = [i for i in got.values() if i["state"] == "running"]
    assert all(i["launch_time"] and i["public_ip"] for i in running)
    # One signed DescribeInstances with the prefix filter.
    reqs = [r for r in ec2sim.ctl("GET", "requests")
            if r["action"] == "DescribeInstances"]
    assert len(reqs) == 1
    assert reqs[0]["params"]["Filter.1.Name"] == "tag:Name"
    assert reqs[0]["params"]["Filter.1.Value.1"] == "dev04-*"
    assert reqs[0]["access_key"] == ACCESS_KEY


def test_start_and_stop_with_every_id_in_one_call(ec2sim, probe):
    stopped = ids_in_state(ec2sim, "dev04", "stopped")
    assert len(stopped) == 4
    rc, out, err = probe.run("start", *stopped, sim=ec2sim)
    assert rc == 0, err
    changes = {c["id"]: c for c in out[0]["changes"]}
    assert set(changes) == set(stopped)
    assert all(c["previous"] == "stopped" and c["current"] == "pending"
               for c in changes.values())
    wait_for(lambda: ids_in_state(ec2sim, "dev04", "running") ==
             sorted(set(stopped) | set(ids_in_state(ec2sim, "dev04",
                                                    "running"))) and
             not ids_in_state(ec2sim, "dev04", "pending"),
             what="workers running")
    assert not ids_in_state(ec2sim, "dev04", "stopped")

    rc, out, err = probe.run("stop", *stopped, sim=ec2sim)
    assert rc == 0, err
    assert {c["current"] for c in out[0]["changes"]} == {"stopping"}
    wait_for(lambda: ids_in_state(ec2sim, "dev04", "stopped") ==
             sorted(stopped), what="workers stopped")

    starts = [r for r in ec2sim.ctl("GET", "requests")
              if r["action"] in ("StartInstances", "StopInstances")]
    assert [r["action"] for r in starts] == ["StartInstances",
                                             "StopInstances"]
    for r in starts:
        ids = sorted(v for k, v in r["params"].items()
                     if k.startswith("InstanceId."))
        assert ids == sorted(stopped)


def test_dry_run_changes_nothing(ec2sim, probe):
    before = sim_instances(ec2sim, "dev04")
    stopped = ids_in_state(ec2sim, "dev04", "stopped")
    running = ids_in_state(ec2sim, "dev04", "running")
    rc, out, _ = probe.run("start", "--dry-run", *stopped, sim=ec2sim)
    assert rc == 0 and out[0]["ok"] and out[0]["dry_run"]
    assert out[0]["changes"] == []
    rc, out, _ = probe.run("stop", "--dry-run", *running, sim=ec2sim)
    assert rc == 0 and out[0]["ok"]
    after = sim_instances(ec2sim, "dev04")
    assert {i: v["state"] for i, v in after.items()} == \
        {i: v["state"] for i, v in before.items()}
    counts = ec2sim.ctl("GET", "counts")
    assert counts["StartInstances"]["calls"] == 1
    assert counts["StartInstances"]["dry_run"] == 1
    assert counts["StopInstances"]["dry_run"] == 1


def test_dry_run_still_validates(ec2sim, probe):
    rc, out, _ = probe.run("start", "--dry-run", "i-0123456789abcdef0",
                           sim=ec2sim)
    assert rc == 1
    assert out[0]["error"]["code"] == "InvalidInstanceID.NotFound"


def test_throttling_and_5xx_are_retried(ec2sim, probe):
    ec2sim.ctl("POST", "faults", {"action": "DescribeInstances",
                                  "kind": "throttle", "count": 1})
    ec2sim.ctl("POST", "faults", {"action": "DescribeInstances",
                                  "kind": "5xx", "count": 1})
    rc, out, err = probe.run("describe", "dev04", sim=ec2sim)
    assert rc == 0, err
    assert out[0]["ok"] and out[0]["count"] == 10
    assert out[0]["retries"] == 2 and out[0]["requests"] == 3
    assert "RequestLimitExceeded" in err and "retry 1 of 2" in err


def test_transport_faults_are_retried(ec2sim, probe):
    for kind in ("drop", "short_body", "unavailable"):
        ec2sim.ctl("POST", "faults", {"action": "*", "kind": kind})
        rc, out, err = probe.run("describe", "dev04", sim=ec2sim)
        assert rc == 0, (kind, err)
        assert out[0]["retries"] == 1, kind


def test_timeout_is_retried(ec2sim, probe):
    ec2sim.ctl("POST", "faults", {"action": "DescribeInstances",
                                  "kind": "latency", "seconds": 3})
    rc, out, err = probe.run("--timeout-ms", "700", "describe", "dev04",
                             sim=ec2sim)
    assert rc == 0, err
    assert out[0]["retries"] == 1
    assert "imed out" in err


def test_persistent_failure_surfaces_code_and_message(ec2sim, probe):
    ec2sim.ctl("POST", "faults", {"action": "*", "kind": "throttle",
                                  "count": 10})
    rc, out, _ = probe.run("describe", "dev04", sim=ec2sim)
    assert rc == 1
    e = out[0]["error"]
    assert e["code"] == "RequestLimitExceeded"
    assert e["http_status"] == 503
    assert e["attempts"] == 3
    assert e["message"]
    assert e["text"].startswith("EC2 DescribeInstances failed: "
                                "RequestLimitExceeded: ")
    assert "after 3 attempts" in e["text"]


def test_garbage_answers_are_errors_not_crashes(ec2sim, probe):
    for kind in ("malformed", "truncated"):
        ec2sim.ctl("POST", "faults", {"action": "*", "kind": kind})
        rc, out, _ = probe.run("describe", "dev04", sim=ec2sim)
        assert rc == 1, kind
        assert out[0]["error"]["kind"] == "parse", kind
        assert "malformed XML" in out[0]["error"]["message"]
    # The next call is served normally.
    rc, out, _ = probe.run("describe", "dev04", sim=ec2sim)
    assert rc == 0 and out[0]["count"] == 10


def test_client_errors_are_not_retried(ec2sim, probe):
    rc, out, _ = probe.run("stop", "i-0123456789abcdef0", sim=ec2sim)
    assert rc == 1
    e = out[0]["error"]
    assert e["code"] == "InvalidInstanceID.NotFound"
    assert e["http_status"] == 400 and e["attempts"] == 1
    assert e["request_id"]


def test_wrong_secret_gives_clear_auth_error(ec2sim, probe):
    env = probe.env(ec2sim, AWS_SECRET_ACCESS_KEY="not-the-secret")
    rc, out, _ = probe.run("describe", "dev04", env=env)
    assert rc == 1
    e = out[0]["error"]
    assert e["code"] == "AuthFailure" and e["http_status"] == 401
    assert e["attempts"] == 1
    assert "not-the-secret" not in json.dumps(out)


def test_unreachable_endpoint(probe):
    env = probe.env(None, AWS_ENDPOINT_URL_EC2="http://127.0.0.1:9",
                    AWS_MAX_ATTEMPTS="2")
    rc, out, _ = probe.run("describe", "dev04", env=env)
    assert rc == 1
    e = out[0]["error"]
    assert e["kind"] == "transport" and e["attempts"] == 2


def test_credentials_from_profile_file(ec2sim, probe, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = WRONG\n"
                     "aws_secret_access_key = WRONG\n\n"
                     "[scaler]\naws_access_key_id = %s\n"
                     "aws_secret_access_key = %s\n" %
                     (ACCESS_KEY, "dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001"))
    config = tmp_path / "config"
    config.write_text("[profile scaler]\nregion = %s\n" % REGION)
    env = probe.env(ec2sim, AWS_ACCESS_KEY_ID=None,
                    AWS_SECRET_ACCESS_KEY=None, AWS_REGION=None,
                    AWS_SHARED_CREDENTIALS_FILE=str(creds),
                    AWS_CONFIG_FILE=str(config))
    # Region and keys come from the profile named on the command line...
    rc, out, err = probe.run("--profile", "scaler", "describe", "dev04",
                             env=env)
    assert rc == 0, err
    assert out[0]["source"] == "shared-files" and out[0]["count"] == 10
    # ...or through AWS_PROFILE; the default profile's keys are wrong.
    env["AWS_PROFILE"] = "scaler"
    rc, out, _ = probe.run("describe", "dev04", env=env)
    assert rc == 0 and out[0]["ok"]
    del env["AWS_PROFILE"]
    rc, out, _ = probe.run("--region", REGION, "describe", "dev04", env=env)
    assert rc == 1 and out[0]["error"]["code"] == "AuthFailure"
    # A named profile that does not exist stops before any call.
    rc, out, _ = probe.run("--profile", "nope", "describe", "dev04", env=env)
    assert rc == 3
    assert "profile \"nope\" not found" in out[0]["error"]["message"]


def test_no_credentials_at_all(probe):
    env = probe.env(None, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    rc, out, _ = probe.run("describe", "dev04", env=env)
    assert rc == 3
    assert "no AWS credentials" in out[0]["error"]["message"]


def imds_env(probe, sim):
    return probe.env(sim, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                     AWS_EC2_METADATA_DISABLED=None,
                     AWS_EC2_METADATA_SERVICE_ENDPOINT=sim.url)


def test_credentials_from_imds(ec2sim, probe):
    rc, out, err = probe.run("describe", "dev04", env=imds_env(probe, ec2sim))
    assert rc == 0, err
    assert out[0]["source"] == "instance-role" and out[0]["count"] == 10
    imds = ec2sim.ctl("GET", "imds")
    assert imds["token_requests"] == 1 and imds["credential_requests"] == 1
    req = [r for r in ec2sim.ctl("GET", "requests")
           if r["action"] == "DescribeInstances"][0]
    assert req["access_key"].startswith("ASIA")


def test_imds_credentials_are_refreshed_before_expiry(ec2sim, probe):
    # Credentials that live 3 s; four describes 1.2 s apart span two
    # lifetimes, so the client must fetch new ones on the way.  The
    # emulator rejects expired keys, so a stale key would fail a call.
    ec2sim.ctl("POST", "imds", {"lifetime_s": 3})
    rc, out, err = probe.run("--repeat", "4", "--interval-ms", "1200",
                             "describe", "dev04",
                             env=imds_env(probe, ec2sim))
    assert rc == 0, err
    assert len(out) == 4 and all(o["ok"] for o in out)
    assert ec2sim.ctl("GET", "imds")["credential_requests"] >= 2
    keys = {r["access_key"] for r in ec2sim.ctl("GET", "requests")
            if r["action"] == "DescribeInstances"}
    assert len(keys) >= 2


def test_imds_unreachable_is_a_clear_error(probe):
    env = probe.env(None, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                    AWS_EC2_METADATA_DISABLED=None,
                    AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9",
                    AWS_ENDPOINT_URL_EC2="http://127.0.0.1:9")
    rc, out, _ = probe.run("describe", "dev04", env=env)
    assert rc == 1
    e = out[0]["error"]
    assert e["kind"] == "credentials"
    assert "instance metadata service unreachable" in e["message"]


def test_large_account_is_fully_paginated(ec2sim, probe):
    ec2sim.ctl("POST", "generate", {"prefix": "big", "count": 2500,
                                    "state": "running"})
    rc, out, err = probe.run("describe", "big", sim=ec2sim, timeout=120)
    assert rc == 0, err
    assert out[0]["count"] == 2500
    assert len({i["id"] for i in out[0]["instances"]}) == 2500
    assert ec2sim.ctl("GET", "counts")["DescribeInstances"]["calls"] == 3
    ec2sim.ctl("POST", "counts/reset")
    rc, out, _ = probe.run("--page-size", "100", "describe", "big",
                           sim=ec2sim, timeout=120)
    assert rc == 0 and out[0]["count"] == 2500
    assert ec2sim.ctl("GET", "counts")["DescribeInstances"]["calls"] == 25


def test_freed_client_still_answers_its_calls(ec2sim, probe):
    """Issue 13: the owner lets go of the client with a call in flight; the
    call goes on (here through a retry) and is answered."""
    ec2sim.ctl("POST", "faults", {"action": "DescribeInstances",
                                  "kind": "throttle", "count": 1})
    rc, out, err = probe.run("--free-client", "describe", "dev04",
                             sim=ec2sim)
    assert rc == 0, err
    assert out[0]["ok"] and out[0]["count"] == 10
    assert out[0]["retries"] == 1
    rc, out, err = probe.run("--free-client", "describe", "dev04",
                             env=imds_env(probe, ec2sim))
    assert rc == 0, err
    assert out[0]["source"] == "instance-role" and out[0]["count"] == 10


def test_teardown_answers_calls_as_cancelled(ec2sim, probe):
    ec2sim.ctl("POST", "faults", {"action": "DescribeInstances",
                                  "kind": "latency", "seconds": 3})
    rc, out, err = probe.run("--free-client", "--shutdown-after-ms", "300",
                             "describe", "dev04", sim=ec2sim)
    assert rc == 1, err
    e = out[0]["error"]
    assert e["kind"] == "cancelled" and e["attempts"] == 1
    assert e["message"] == "cancelled: the daemon is shutting down"
