"""Which AWS profile, key and region the daemon uses (issue 18), row by row
of the table in ec2-manager.conf(5), and what --check-config says about
them.

Every row starts a real ec2-managerd against the EC2 emulator, which knows
every key of the row's files and environment, and asserts which key signed
the daemon's DescribeInstances requests (the emulator records the key of
every request) and that the signature's region was the emulator's.  The
same rows are given to Debian's AWS CLI v2, when it is installed, which
must pick the same key and region: the daemon follows the CLI.
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import (DAEMON, OC_PASSWORD, OC_USER, REGION, clean_env,
                      cluster_ec2_seed, wait_for)

SECRETS = {
    "AKIDENV0000000000001": "env-secret-0001",
    "AKIDCRED000000000001": "credentials-file-secret-0001",
    "AKIDCONF000000000001": "config-file-secret-0001",
    "AKIDDEFAULT000000001": "default-profile-secret-0001",
    "AKIDTOKEN00000000001": "token-profile-secret-0001",
}
# A session token as long as STS hands out (~1 KB): it must be read whole.
TOKEN = "IQoJb3JpZ2luX2VjE" + "x" * 1100 + "END"

CREDENTIALS = """\
[cred]
aws_access_key_id = AKIDCRED000000000001
aws_secret_access_key = credentials-file-secret-0001
region = {region}

[default]
aws_access_key_id = AKIDDEFAULT000000001
aws_secret_access_key = default-profile-secret-0001

[token]
aws_access_key_id = AKIDTOKEN00000000001
aws_secret_access_key = token-profile-secret-0001
aws_session_token = {token}
""".format(region=REGION, token=TOKEN)

CONFIG = """\
[profile cred]
# The credentials file's region wins over this one.
region = ap-south-1

[profile conf]
aws_access_key_id = AKIDCONF000000000001
aws_secret_access_key = config-file-secret-0001
region = {region}
""".format(region=REGION)

ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKIDENV0000000000001",
            "AWS_SECRET_ACCESS_KEY": "env-secret-0001"}

# (id, [aws] profile, [aws] region, environment, files?, expected key or
#  None for "refuses to start", what --check-config reports or refuses)
ROWS = [
    ("env-only", None, REGION, ENV_KEYS, False,
     "AKIDENV0000000000001", "AWS credentials: environment"),
    ("profile-in-config-only", None, REGION, {"AWS_PROFILE": "conf"}, True,
     "AKIDCONF000000000001", 'AWS credentials: profile "conf" from {conf}'),
    ("profile-in-credentials-only", None, REGION, {"AWS_PROFILE": "cred"},
     True, "AKIDCRED000000000001",
     'AWS credentials: profile "cred" from {cred}'),
    ("explicit-profile-beats-env-keys", "cred", REGION, ENV_KEYS, True,
     "AKIDCRED000000000001", "AWS profile: cred ([aws] profile)"),
    ("env-keys-beat-AWS_PROFILE", None, REGION,
     dict(ENV_KEYS, AWS_PROFILE="cred"), True,
     "AKIDENV0000000000001", "AWS credentials: environment"),
    ("both-profile-variables", None, REGION,
     {"AWS_PROFILE": "cred", "AWS_DEFAULT_PROFILE": "conf"}, True,
     "AKIDCRED000000000001", "AWS profile: cred (AWS_PROFILE)"),
    ("region-in-credentials-file", None, None, {"AWS_PROFILE": "cred"}, True,
     "AKIDCRED000000000001",
     'AWS region: %s (profile "cred" in {cred})' % REGION),
    ("default-profile", None, REGION, {}, True,
     "AKIDDEFAULT000000001", 'AWS profile: default (the default'),
    ("long-session-token", None, REGION, {"AWS_PROFILE": "token"}, True,
     "AKIDTOKEN00000000001", 'AWS credentials: profile "token" from'),
    ("none-at-all", None, REGION, {}, False, None,
     "AWS credentials: no AWS credentials"),
]


def write_files(tmp_path):
    cred = tmp_path / "aws-credentials"
    conf = tmp_path / "aws-config"
    cred.write_text(CREDENTIALS)
    conf.write_text(CONFIG)
    return cred, conf


def row_env(home, env, files, cred, conf):
    e = {"OPENCAST_USER": OC_USER, "OPENCAST_PASSWORD": OC_PASSWORD}
    e.update(env)
    if files:
        e["AWS_SHARED_CREDENTIALS_FILE"] = str(cred)
        e["AWS_CONFIG_FILE"] = str(conf)
    # clean_env drops AWS_* from the caller and turns IMDS off.
    return clean_env(home, **e)


def aws_conf(d, profile, region):
    """Rewrites the [aws] section of the daemon's configuration."""
    lines = []
    for line in d.conf.read_text().splitlines():
        if line.startswith("region = ") and region is None:
            continue
        if line.startswith("region = "):
            line = "region = " + region
        lines.append(line)
        if line == "[aws]" and profile:
            lines.append("profile = " + profile)
    d.conf.write_text("\n".join(lines) + "\n")


def signed_keys(ec2):
    return {r["access_key"] for r in ec2.ctl("GET", "requests")
            if r["action"] == "DescribeInstances"}


@pytest.fixture
def sim(ec2sim_factory):
    seed = {"clusters": [cluster_ec2_seed(workers=2, running=1)],
            "credentials": [{"access_key_id": k, "secret_access_key": v,
                             "session_token": TOKEN if "TOKEN" in k else None}
                            for k, v in SECRETS.items()]}
    return ec2sim_factory(seed)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_which_key_signs(row, sim, daemon_factory, tmp_path):
    name, profile, region, env, files, want_key, report = row
    cred, conf = write_files(tmp_path)
    d = daemon_factory(sim, None, {"dev04": []})
    aws_conf(d, profile, region)
    d.env = row_env(d.home, env, files, cred, conf)
    report = report.format(cred=cred, conf=conf)

    check = subprocess.run([DAEMON, "--check-config", "-c", str(d.conf)],
                           env=d.env, capture_output=True, text=True,
                           timeout=30)
    # Never a secret, whatever the outcome.
    for secret in list(SECRETS.values()) + [TOKEN]:
        assert secret not in check.stdout + check.stderr

    if want_key is None:
        assert check.returncode == 1, check.stdout + check.stderr
        assert report in check.stderr
        assert "configuration OK" not in check.stdout
        # The daemon refuses to start for the same reason.
        p = subprocess.run([DAEMON, "-c", str(d.conf)], env=d.env,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1
        assert "no AWS credentials" in p.stderr
        return

    assert check.returncode == 0, check.stderr
    assert report in check.stdout, check.stdout
    assert "configuration OK" in check.stdout
    d.start()
    st = d.status("dev04")
    assert st["ec2"]["ok"], st["ec2"]
    assert len(st["instances"]) == 6
    assert signed_keys(sim) == {want_key}
    # Every request was accepted: signed for the emulator's region.
    assert not [r for r in sim.ctl("GET", "requests") if r["error"]]


def aws_cli_v2():
    """Debian's AWS CLI v2, or None."""
    path = "/usr/bin/aws"
    if not os.path.exists(path):
        return None
    p = subprocess.run([path, "--version"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    return path if p.stdout.startswith("aws-cli/2.") else None


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_aws_cli_v2_agrees(row, tmp_path):
    """The CLI, given the same environment and files, picks the same key
    and region (aws --profile is [aws] profile, aws --region [aws] region).
    """
    aws = aws_cli_v2()
    if aws is None:
        pytest.skip("Debian's AWS CLI v2 (package awscli) is not installed")
    name, profile, region, env, files, want_key, _ = row
    cred, conf = write_files(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    e = row_env(home, env, files, cred, conf)
    e["PATH"] = "/usr/bin:/bin"
    args = [aws] + (["--profile", profile] if profile else []) + \
        (["--region", region] if region else [])
    p = subprocess.run(args + ["configure", "export-credentials", "--format",
                               "process"], env=e, capture_output=True,
                       text=True, timeout=60)
    if want_key is None:
        assert p.returncode != 0
        return
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["AccessKeyId"] == want_key
    p = subprocess.run(args + ["configure", "get", "region"], env=e,
                       capture_output=True, text=True, timeout=60)
    if region is None:
        assert p.stdout.strip() == REGION


CHECK_FAILURES = [
    ("AWS_PROFILE=nosuch",
     {"AWS_PROFILE": "nosuch", "AWS_REGION": REGION},
     'AWS profile "nosuch" not found'),
    ("no credentials, IMDS disabled",
     {"AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"},
     "no AWS credentials: none in the environment, none for profile "
     "\"default\""),
    ("no region anywhere",
     dict(ENV_KEYS),
     "AWS region: none: set [aws] region, AWS_REGION, AWS_DEFAULT_REGION or "
     "region in profile \"default\""),
]


@pytest.mark.parametrize("case", CHECK_FAILURES,
                         ids=[c[0] for c in CHECK_FAILURES])
def test_check_config_refuses_what_start_up_refuses(case, sim, daemon_factory,
                                                   tmp_path):
    name, env, reason = case
    d = daemon_factory(sim, None, {"dev04": []})
    aws_conf(d, None, None)      # no [aws] region
    d.env = row_env(d.home, env, False, None, None)
    check = subprocess.run([DAEMON, "--check-config", "-c", str(d.conf)],
                           env=d.env, capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 1
    assert reason in check.stderr, check.stderr
    if "nosuch" in name:
        assert "(named by AWS_PROFILE)" in check.stderr
    assert "configuration OK" not in check.stdout
    # Whatever --check-config refuses, start-up refuses too.
    p = subprocess.run([DAEMON, "-c", str(d.conf)], env=d.env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1


def test_check_config_reports_every_problem(sim, daemon_factory):
    d = daemon_factory(sim, None, {"dev04": []})
    aws_conf(d, None, None)
    d.env = row_env(d.home, {"AWS_PROFILE": "nosuch"}, False, None, None)
    check = subprocess.run([DAEMON, "--check-config", "-c", str(d.conf)],
                           env=d.env, capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 1
    assert 'profile "nosuch"' in check.stderr
    assert "AWS region: none" in check.stderr


def test_check_config_accepts_the_instance_role(sim, daemon_factory):
    """The instance role is reported, not contacted: the daemon accepts it
    at start-up the same way and fetches its keys at the first refresh."""
    d = daemon_factory(sim, None, {"dev04": []})
    d.env = row_env(d.home, {"AWS_EC2_METADATA_DISABLED": None,
                             "AWS_EC2_METADATA_SERVICE_ENDPOINT": sim.url},
                    False, None, None)
    check = subprocess.run([DAEMON, "--check-config", "-c", str(d.conf)],
                           env=d.env, capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    assert ("AWS credentials: instance role (instance metadata service at "
            "%s)" % sim.url) in check.stdout
    assert sim.ctl("GET", "imds")["token_requests"] == 0
    d.start()
    assert d.status("dev04")["ec2"]["ok"]
    assert all(k.startswith("ASIA") for k in signed_keys(sim))
