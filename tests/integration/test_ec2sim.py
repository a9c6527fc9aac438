"""Integration tests for the EC2/IMDS test double tests/sim/ec2sim.py.

Every EC2 call goes through a real botocore client (or requests signed with
botocore's SigV4 code), so what passes here is what botocore accepts from
real EC2.  The environment is isolated: HOME is a temporary directory, no
AWS_* variable leaks in, IMDS at 169.254.169.254 is disabled, and all
traffic goes to the emulator on 127.0.0.1.
"""
import datetime
import http.client
import json
import math
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "sim"))

import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.config  # noqa: E402
import botocore.credentials  # noqa: E402
import botocore.exceptions  # noqa: E402
import botocore.parsers  # noqa: E402
import botocore.session  # noqa: E402
import botocore.utils  # noqa: E402

import ec2sim  # noqa: E402
import harness  # noqa: E402
from conftest import wait_for  # noqa: E402

REGION = "eu-west-1"
AK = "AKIDEXAMPLESIM000001"
SK = "c2VjcmV0LXNpbS1rZXk/EXAMPLE+not+real0001"
TOKEN_AK = "ASIAEXAMPLESIM000002"
TOKEN_SK = "dG9rZW4tc2VjcmV0/EXAMPLE+not+real0002"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCWV1LXdlc3QtMSJ="
NO_RETRY = {"total_max_attempts": 1}

BASE_SEED = {
    "credentials": [
        {"access_key_id": AK, "secret_access_key": SK, "session_token": None},
        {"access_key_id": TOKEN_AK, "secret_access_key": TOKEN_SK,
         "session_token": TOKEN},
    ],
    "delays": {"pending": 1.0, "stopping": 1.0},
    "clusters": [{"prefix": "dev04", "workers": 6, "workers_running": 2}],
}


@pytest.fixture(autouse=True)
def isolated_aws_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE",
                       str(tmp_path / "no-credentials"))


@pytest.fixture
def start_sim(tmp_path):
    """Start emulators from seed dicts; all are stopped after the test."""
    sims = []

    def start(seed=None, *extra_args):
        path = tmp_path / ("seed%d.json" % len(sims))
        path.write_text(json.dumps(BASE_SEED if seed is None else seed))
        sim = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ec2sim.py"),
             "--seed", str(path), *extra_args],
            log_path=str(tmp_path / ("ec2sim%d.log" % len(sims))))
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


@pytest.fixture
def sim(start_sim):
    return start_sim()


def make_client(sim, key=AK, secret=SK, token=None, region=REGION,
                retries=NO_RETRY, read_timeout=15):
    session = botocore.session.get_session()
    return session.create_client(
        "ec2", endpoint_url=sim.url, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret,
        aws_session_token=token,
        config=botocore.config.Config(retries=retries, connect_timeout=5,
                                      read_timeout=read_timeout))


@pytest.fixture
def ec2(sim):
    return make_client(sim)


def client_error(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def describe_error_message(client, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.describe_instances(**kwargs)
    return excinfo.value.response["Error"]["Message"]


def all_instances(client, **kwargs):
    reservations = client.describe_instances(**kwargs)["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def describe_one(client, iid):
    return all_instances(client, InstanceIds=[iid])[0]


def name_of(instance):
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get(
        "Name")


def ids_named(sim, name, state=None):
    return [i["id"] for i in sim.ctl("GET", "instances")
            if i["name"] == name and (state is None or i["state"] == state)]


class SigV4AtTime(botocore.auth.SigV4Auth):
    """botocore's pure-Python SigV4 signer, signing at an explicit time.

    A botocore client picks its signer from what is installed (the CRT
    signer when python3-awscrt is present) and reads the clock itself, so
    neither patching botocore.auth's clock nor the client can set the
    signing time reliably.  This class is always the pure-Python signer and
    never reads the clock: the steps of SigV4Auth.add_auth with the
    timestamp given.
    """

    def __init__(self, credentials, service, region, when):
        super().__init__(credentials, service, region)
        self.when = when

    def add_auth(self, request):
        request.context["timestamp"] = self.when.strftime(
            botocore.auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(
            request, self.signature(string_to_sign, request))


def signed_request(sim, params, method="POST", key=AK, secret=SK, token=None,
                   region=REGION, body=None, conn=None, when=None):
    """Send one EC2 request signed by botocore; returns (status, body).

    POST sends PARAMS as a form body (or BODY verbatim); GET sends them as
    the query string.  CONN, when given, is a reused keep-alive connection.
    WHEN (a naive UTC datetime), when given, is the signing time; otherwise
    botocore's pure-Python SigV4Auth signs with the current time.
    """
    creds = botocore.credentials.Credentials(key, secret, token)
    if method == "POST":
        if body is None:
            body = urllib.parse.urlencode(params).encode()
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=sim.url + "/", data=body,
            headers={"Content-Type":
                     "application/x-www-form-urlencoded; charset=utf-8"})
    else:
        request = botocore.awsrequest.AWSRequest(
            method="GET", url=sim.url + "/", params=params)
    if when is None:
        botocore.auth.SigV4Auth(creds, "ec2", region).add_auth(request)
    else:
        SigV4AtTime(creds, "ec2", region, when).add_auth(request)
    prepared = request.prepare()
    split = urllib.parse.urlsplit(prepared.url)
    target = split.path + ("?" + split.query if split.query else "")
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        conn.request(method, target, body=prepared.body,
                     headers=dict(prepared.headers.items()))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def error_code(xml_bytes):
    root = ET.fromstring(xml_bytes)
    assert root.tag == "Response"
    assert root.find("RequestID").text
    return root.find("Errors/Error/Code").text


# --------------------------------------------------------------------------
# Signatures

def test_verifier_accepts_reference_sigv4_vectors():
    """The worked example of aws-ec2-api.md section 1.5, with variants."""
    secret = "dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001"
    static = ec2sim.Credential("AKIDEXAMPLEDAEMON001", secret)
    session = ec2sim.Credential("AKIDEXAMPLEDAEMON001", secret,
                                "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////"
                                "wEaCWV1LXdlc3QtMSJ=")
    now = datetime.datetime(2024, 1, 15, 9, 30,
                            tzinfo=datetime.timezone.utc).timestamp()
    body = (b"Action=DescribeInstances&Filter.1.Name=tag%3AName"
            b"&Filter.1.Value.1=web-%2A&Filter.2.Name=instance-state-name"
            b"&Filter.2.Value.1=running&MaxResults=50&Version=2016-11-15")
    scope = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEDAEMON001/20240115/"
             "eu-west-1/ec2/aws4_request, ")
    common = [("Host", "ec2.eu-west-1.amazonaws.com"),
              ("X-Amz-Date", "20240115T093000Z")]
    form = [("Content-Type",
             "application/x-www-form-urlencoded; charset=utf-8")]

    def verify(method, query, headers, payload, cred):
        return ec2sim.verify_sigv4(method, "/", query, headers, payload,
                                   REGION, lambda key: cred, now)

    post = common + form + [("Authorization", scope +
                             "SignedHeaders=content-type;host;x-amz-date, "
                             "Signature=d982b7e4753e3af30587fc6f4121d260c8e6"
                             "aa3af3908be034427bb106b3be78")]
    assert verify("POST", [], post, body, static) is static

    query = urllib.parse.parse_qsl(body.decode())
    get = common + [("Authorization", scope +
                     "SignedHeaders=host;x-amz-date, Signature=9c042ceea018"
                     "6055cf4a70882b91d93ee5b3233b2974cf5b118a662c0c386e1d")]
    assert verify("GET", query, get, b"", static) is static

    with_token = common + form + [
        ("X-Amz-Security-Token", session.session_token),
        ("Authorization", scope + "SignedHeaders=content-type;host;"
         "x-amz-date;x-amz-security-token, Signature=e5a0ca196d17d1f13340e3c"
         "907e1eb382ea79cde2d6546e52be76a869ef9a478")]
    assert verify("POST", [], with_token, body, session) is session

    with pytest.raises(ec2sim.Ec2Error) as excinfo:
        verify("POST", [], post, body.replace(b"=50", b"=51"), static)
    assert (excinfo.value.status, excinfo.value.code) == (401, "AuthFailure")


def test_wrong_secret_unknown_key_and_wrong_region_fail(sim):
    for client in (make_client(sim, secret=SK[:-1] + "X"),
                   make_client(sim, key="AKIDUNKNOWNKEY000000"),
                   make_client(sim, region="us-east-1")):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            client.describe_instances()
        assert client_error(excinfo) == ("AuthFailure", 401)
    counts = sim.ctl("GET", "counts")["DescribeInstances"]
    assert counts == {"calls": 0, "dry_run": 0, "errors": 3}
    assert all(r["access_key"] is None and r["status"] == 401
               for r in sim.ctl("GET", "requests"))


def test_session_token_is_required_and_checked(sim):
    assert all_instances(make_client(sim, TOKEN_AK, TOKEN_SK, TOKEN))
    for token in (None, TOKEN + "x"):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            make_client(sim, TOKEN_AK, TOKEN_SK, token).describe_instances()
        assert client_error(excinfo) == ("AuthFailure", 401)
    # A token sent for a key that has none is rejected as well.
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        make_client(sim, token=TOKEN).describe_instances()
    assert client_error(excinfo) == ("AuthFailure", 401)


@pytest.mark.parametrize("skew_minutes, ok", [(-90 * 24 * 60, False),
                                              (-20, False), (20, False),
                                              (-10, True), (10, True)])
def test_signing_time_window(sim, skew_minutes, ok):
    """X-Amz-Date more than 15 minutes from the emulator's clock is refused.

    The request is signed by botocore's pure-Python SigV4 code at an
    explicit time, so the result does not depend on whether botocore would
    pick its CRT signer (python3-awscrt installed) or on patching its clock.
    """
    signing_time = (datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None) + datetime.timedelta(minutes=skew_minutes))
    status, body = signed_request(
        sim, [("Action", "DescribeInstances"), ("Version", "2016-11-15")],
        when=signing_time)
    if ok:
        assert status == 200, body
        root = ET.fromstring(body)
        assert root.tag.endswith("DescribeInstancesResponse")
        assert b"dev04-worker" in body
    else:
        assert (status, error_code(body)) == (400, "RequestExpired")
    sent = sim.ctl("GET", "requests")[-1]
    assert sent["status"] == status


def test_get_query_and_form_body_encodings_verify(sim):
    iid = sim.ctl("POST", "instances", {"name": "web 1/a:b*", "tags": {
        "team": "a+b"}})["id"]
    params = [("Action", "DescribeInstances"), ("Version", "2016-11-15"),
              ("Filter.1.Name", "tag:Name"), ("Filter.1.Value.1", "web 1/*"),
              ("Filter.2.Name", "tag:team"), ("Filter.2.Value.1", "a+b")]
    status, body = signed_request(sim, params, method="GET")
    assert status == 200 and iid.encode() in body
    # Form body with %20 for spaces, unsorted, instead of botocore's '+'.
    form = ("Version=2016-11-15&Filter.1.Value.1=web%201%2F%2A"
            "&Filter.1.Name=tag%3AName&Action=DescribeInstances").encode()
    status, body = signed_request(sim, None, body=form)
    assert status == 200 and iid.encode() in body
    # botocore itself sends '+' for spaces in bodies.
    found = all_instances(make_client(sim), Filters=[
        {"Name": "tag:Name", "Values": ["web 1/a:b*"]}])
    assert [i["InstanceId"] for i in found] == [iid]


def test_missing_authorization_and_malformed_requests(sim):
    request = urllib.request.Request(
        sim.url + "/", data=b"Action=DescribeInstances&Version=2016-11-15")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)
    assert excinfo.value.code == 403
    assert error_code(excinfo.value.read()) == "MissingAuthenticationToken"

    cases = [([("Version", "2016-11-15")], 400, "MissingAction"),
             ([("Action", "DescribeInstances")], 400, "MissingParameter"),
             ([("Action", "RunInstances"), ("Version", "2016-11-15")], 400,
              "InvalidAction"),
             ([("Action", "DescribeInstances"), ("Version", "2016-11-15"),
               ("Filter.1.Values.1", "x")], 400, "UnknownParameter")]
    for params, status, code in cases:
        got_status, body = signed_request(sim, params)
        assert (got_status, error_code(body)) == (status, code)


# --------------------------------------------------------------------------
# DescribeInstances

def test_seeded_cluster_shape(sim, ec2):
    instances = all_instances(ec2)
    names = sorted(name_of(i) for i in instances)
    assert names == ["dev04-admin", "dev04-db", "dev04-engage"] + [
        "dev04-worker"] * 6
    workers = [i for i in instances if name_of(i) == "dev04-worker"]
    assert sorted(i["State"]["Name"] for i in workers) == [
        "running"] * 2 + ["stopped"] * 4
    reservations = ec2.describe_instances()["Reservations"]
    assert len(reservations) == 4    # three support nodes + the workers
    for inst in instances:
        assert inst["InstanceId"].startswith("i-")
        assert len(inst["InstanceId"]) == 19
        assert inst["PrivateDnsName"] == "ip-%s.%s.compute.internal" % (
            inst["PrivateIpAddress"].replace(".", "-"), REGION)
        assert inst["Placement"]["AvailabilityZone"] == REGION + "a"
        if inst["State"]["Name"] == "running":
            assert inst["PublicDnsName"].startswith("ec2-")
            assert "PublicIpAddress" in inst
            assert "StateReason" not in inst
        else:
            assert inst["PublicDnsName"] == ""
            assert "PublicIpAddress" not in inst
            assert inst["StateReason"]["Code"] == \
                "Client.UserInitiatedShutdown"
    assert len({i["PrivateIpAddress"] for i in instances}) == 9

    status, body = signed_request(sim, [("Action", "DescribeInstances"),
                                        ("Version", "2016-11-15")])
    root = ET.fromstring(body)
    assert root.tag == "{%s}DescribeInstancesResponse" % ec2sim.XMLNS
    launch = root.find(".//{%s}launchTime" % ec2sim.XMLNS).text
    assert len(launch) == 24 and launch.endswith("Z") and launch[19] == "."


def test_untagged_and_terminated_instances(start_sim):
    sim = start_sim(dict(BASE_SEED, clusters=[], instances=[
        {"state": "running"},
        {"id": "i-0123456789abcdef0", "name": "gone", "state": "terminated"},
    ]))
    instances = {i["InstanceId"]: i for i in all_instances(make_client(sim))}
    untagged, gone = [instances[i["id"]] for i in sim.ctl("GET",
                                                            "instances")]
    assert "Tags" not in untagged
    assert gone["State"] == {"Code": 48, "Name": "terminated"}
    assert "PrivateIpAddress" not in gone and gone["PrivateDnsName"] == ""


def test_filters(sim, ec2):
    sim.ctl("POST", "instances", {"name": "odd*name?", "tags": {"x": ""}})

    def names(*filters):
        return sorted(name_of(i) for i in all_instances(
            ec2, Filters=[{"Name": n, "Values": v} for n, v in filters]))

    assert names(("tag:Name", ["dev04-worker"]),
                 ("instance-state-name", ["running"])) == [
        "dev04-worker"] * 2
    assert names(("tag:Name", ["dev04-a*", "*-db"])) == ["dev04-admin",
                                                         "dev04-db"]
    assert names(("tag:Name", ["dev04-??gage"])) == ["dev04-engage"]
    assert names(("tag:Name", ["DEV04-*"])) == []
    assert names(("tag:Name", [r"odd\*name\?"])) == ["odd*name?"]
    assert names(("tag:Name", [r"odd\*name"])) == []
    assert names(("tag-key", ["x"])) == ["odd*name?"]
    assert len(names(("instance-state-code", ["80"]))) == 4
    admin = ids_named(sim, "dev04-admin")[0]
    ip = next(i["private_ip"] for i in sim.ctl("GET", "instances")
              if i["id"] == admin)
    assert names(("private-ip-address", [ip])) == ["dev04-admin"]
    assert names(("instance-id", [admin])) == ["dev04-admin"]
    # A filter without values requires a value to be present.
    assert len(names(("ip-address", []))) == 6
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        names(("no-such-filter", ["x"]))
    assert client_error(excinfo) == ("InvalidParameterValue", 400)


def test_paginator_walks_every_page(sim, ec2):
    sim.ctl("POST", "generate", {"prefix": "web", "count": 30})
    paginator = ec2.get_paginator("describe_instances")
    pages = list(paginator.paginate(
        Filters=[{"Name": "tag:Name", "Values": ["web-*"]}],
        PaginationConfig={"PageSize": 5}))
    sizes = [sum(len(r["Instances"]) for r in p["Reservations"])
             for p in pages]
    assert sizes == [5] * 6
    assert "NextToken" not in pages[-1]
    assert all(p.get("NextToken") for p in pages[:-1])
    seen = [i["InstanceId"] for p in pages for r in p["Reservations"]
            for i in r["Instances"]]
    assert sorted(seen) == sorted(ids_named(sim, "web-worker"))

    # A token only continues the query it came from.
    token = pages[0]["NextToken"]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.describe_instances(MaxResults=5, NextToken=token)
    assert client_error(excinfo) == ("InvalidPaginationToken", 400)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.describe_instances(MaxResults=5, NextToken="bm9wZQ==")
    assert client_error(excinfo) == ("InvalidPaginationToken", 400)


def test_describe_parameter_errors(sim, ec2):
    admin = ids_named(sim, "dev04-admin")[0]
    cases = [
        ({"InstanceIds": [admin, "i-0000000000000dead"]},
         "InvalidInstanceID.NotFound"),
        ({"InstanceIds": ["i-xyz"]}, "InvalidInstanceID.Malformed"),
        ({"InstanceIds": [admin], "MaxResults": 5},
         "InvalidParameterCombination"),
        ({"MaxResults": 4}, "InvalidParameterValue"),
        ({"MaxResults": 1001}, "InvalidParameterValue"),
    ]
    for kwargs, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            ec2.describe_instances(**kwargs)
        assert client_error(excinfo) == (code, 400), kwargs
    assert "i-0000000000000dead" in describe_error_message(
        ec2, InstanceIds=["i-0000000000000dead"])


# --------------------------------------------------------------------------
# StartInstances / StopInstances

def test_stop_and_start_walk_through_transitions(sim, ec2):
    iid = ids_named(sim, "dev04-worker", "running")[0]
    before = describe_one(ec2, iid)

    reply = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert reply["PreviousState"] == {"Code": 16, "Name": "running"}
    assert reply["CurrentState"] == {"Code": 64, "Name": "stopping"}
    assert describe_one(ec2, iid)["State"]["Name"] == "stopping"
    stopped = wait_for(lambda: (lambda i: i["State"]["Name"] == "stopped"
                                and i)(describe_one(ec2, iid)),
                       what="stopped")
    assert "PublicIpAddress" not in stopped
    assert stopped["PrivateIpAddress"] == before["PrivateIpAddress"]
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert stopped["StateTransitionReason"].startswith("User initiated (")
    again = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert again["PreviousState"] == again["CurrentState"] == {
        "Code": 80, "Name": "stopped"}

    # launchTime is the time of the call, truncated to milliseconds.
    called_at = datetime.datetime.now(datetime.timezone.utc)
    called_at = called_at.replace(
        microsecond=called_at.microsecond // 1000 * 1000)
    reply = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    answered_at = datetime.datetime.now(datetime.timezone.utc)
    assert reply["PreviousState"] == {"Code": 80, "Name": "stopped"}
    assert reply["CurrentState"] == {"Code": 0, "Name": "pending"}
    pending = describe_one(ec2, iid)
    assert pending["State"]["Name"] == "pending"
    assert pending["LaunchTime"] > before["LaunchTime"]
    assert called_at <= pending["LaunchTime"] <= answered_at
    running = wait_for(lambda: (lambda i: i["State"]["Name"] == "running"
                                and i)(describe_one(ec2, iid)),
                       what="running")
    assert running["LaunchTime"] == pending["LaunchTime"]
    assert running["PublicIpAddress"] != before["PublicIpAddress"]
    assert running["PrivateIpAddress"] == before["PrivateIpAddress"]
    again = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert again["PreviousState"] == again["CurrentState"] == {
        "Code": 16, "Name": "running"}


def test_incorrect_instance_state(start_sim):
    sim = start_sim(dict(BASE_SEED, clusters=[], instances=[
        {"name": "a", "state": "running"}, {"name": "b", "state": "stopped"},
        {"name": "c", "state": "terminated"}]), "--pending-delay", "30",
        "--stopping-delay", "30")
    ec2 = make_client(sim)
    a, b, c = (ids_named(sim, n)[0] for n in "abc")
    ec2.stop_instances(InstanceIds=[a])
    ec2.start_instances(InstanceIds=[b])
    attempts = [(ec2.start_instances, [a]), (ec2.stop_instances, [b]),
                (ec2.start_instances, [c]), (ec2.stop_instances, [c])]
    for call, ids in attempts:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            call(InstanceIds=ids)
        assert client_error(excinfo) == ("IncorrectInstanceState", 400)
    # One bad instance fails the whole call before anything changes.
    sim.ctl("POST", "instances/" + a, {"state": "stopped"})
    with pytest.raises(botocore.exceptions.ClientError):
        ec2.start_instances(InstanceIds=[a, c])
    assert describe_one(ec2, a)["State"]["Name"] == "stopped"


def test_unknown_or_missing_ids_fail_the_whole_call(sim, ec2):
    running = ids_named(sim, "dev04-worker", "running")[0]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.stop_instances(InstanceIds=[running, "i-0000000000000dead"])
    assert client_error(excinfo) == ("InvalidInstanceID.NotFound", 400)
    assert describe_one(ec2, running)["State"]["Name"] == "running"
    status, body = signed_request(sim, [("Action", "StartInstances"),
                                        ("Version", "2016-11-15")])
    assert (status, error_code(body)) == (400, "MissingParameter")


def test_dry_run_validates_then_changes_nothing(sim, ec2):
    running = ids_named(sim, "dev04-worker", "running")[0]
    stopped = ids_named(sim, "dev04-worker", "stopped")[0]
    before = sim.ctl("GET", "instances")
    calls = [(ec2.stop_instances, {"InstanceIds": [running]}),
             (ec2.start_instances, {"InstanceIds": [stopped]}),
             (ec2.describe_instances, {}),
             (ec2.create_tags, {"Resources": [running],
                                "Tags": [{"Key": "k", "Value": "v"}]})]
    for call, kwargs in calls:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            call(DryRun=True, **kwargs)
        assert client_error(excinfo) == ("DryRunOperation", 412)
        assert excinfo.value.response["Error"]["Message"] == \
            "Request would have succeeded, but DryRun flag is set."
    assert sim.ctl("GET", "instances") == before
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.start_instances(InstanceIds=["i-0000000000000dead"], DryRun=True)
    assert client_error(excinfo) == ("InvalidInstanceID.NotFound", 400)
    counts = sim.ctl("GET", "counts")
    assert counts["StartInstances"] == {"calls": 2, "dry_run": 2,
                                        "errors": 1}


# --------------------------------------------------------------------------
# Tags

def test_create_and_delete_tags(sim, ec2):
    iid = ids_named(sim, "dev04-admin")[0]

    def tags():
        return {t["Key"]: t["Value"]
                for t in describe_one(ec2, iid).get("Tags", [])}

    ec2.create_tags(Resources=[iid], Tags=[{"Key": "a", "Value": "1"},
                                           {"Key": "b", "Value": ""},
                                           {"Key": "c", "Value": "3"}])
    assert tags() == {"Name": "dev04-admin", "a": "1", "b": "", "c": "3"}
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "a", "Value": "other"},
                                           {"Key": "b", "Value": ""},
                                           {"Key": "c"}])
    assert tags() == {"Name": "dev04-admin", "a": "1"}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.create_tags(Resources=[iid], Tags=[{"Key": "aws:x",
                                                "Value": "1"}])
    assert client_error(excinfo) == ("InvalidParameterValue", 400)
    ec2.delete_tags(Resources=[iid])
    assert tags() == {}


# --------------------------------------------------------------------------
# Faults

@pytest.mark.parametrize("kind, code, status", [
    ("throttle", "RequestLimitExceeded", 503),
    ("5xx", "InternalError", 500),
    ("unavailable", "Unavailable", 503),
    ("auth", "AuthFailure", 401),
])
def test_error_faults(sim, ec2, kind, code, status):
    sim.ctl("POST", "faults", {"action": "DescribeInstances", "kind": kind})
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.describe_instances()
    assert client_error(excinfo) == (code, status)
    assert all_instances(ec2)          # consumed by one call
    assert sim.ctl("GET", "counts")["DescribeInstances"] == {
        "calls": 2, "dry_run": 0, "errors": 1}


def test_fault_matching_count_and_clearing(sim, ec2):
    stopped = ids_named(sim, "dev04-worker", "stopped")
    sim.ctl("POST", "faults", {"action": "StartInstances", "kind": "5xx",
                               "count": 2})
    faults = sim.ctl("POST", "faults", {"kind": "throttle"})
    assert [f["kind"] for f in faults] == ["5xx", "throttle"]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.describe_instances()       # only the "*" fault matches
    assert client_error(excinfo)[0] == "RequestLimitExceeded"
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            ec2.start_instances(InstanceIds=stopped[:1])
        assert client_error(excinfo)[0] == "InternalError"
    assert sim.ctl("GET", "faults") == []
    sim.ctl("POST", "faults", {"kind": "5xx", "count": 5})
    assert sim.ctl("DELETE", "faults") == []
    ec2.start_instances(InstanceIds=stopped[:1])
    assert describe_one(ec2, stopped[0])["State"]["Name"] == "pending"


def test_standard_retry_absorbs_one_throttle(sim):
    client = make_client(sim, retries={"mode": "standard",
                                       "total_max_attempts": 2})
    sim.ctl("POST", "faults", {"kind": "throttle"})
    assert all_instances(client)
    assert sim.ctl("GET", "counts")["DescribeInstances"] == {
        "calls": 2, "dry_run": 0, "errors": 1}


def test_latency_fault(sim, ec2):
    """A latency fault holds back the answer to one call (far longer than
    this client waits for it) while later calls are answered; the held call
    has taken the fault, so the next one is not delayed."""
    sim.ctl("POST", "faults", {"kind": "latency", "seconds": 600})
    impatient = make_client(sim, read_timeout=0.5)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.describe_instances()
    assert sim.ctl("GET", "faults") == []
    assert all_instances(ec2)
    # Only the later call is logged: the held one has not been answered.
    log = sim.ctl("GET", "requests")
    assert [(r["action"], r["status"]) for r in log] == [
        ("DescribeInstances", 200)]


def test_malformed_truncated_and_short_body_faults(sim, ec2):
    running = ids_named(sim, "dev04-worker", "running")
    sim.ctl("POST", "faults", {"kind": "malformed"})
    with pytest.raises(botocore.parsers.ResponseParserError):
        ec2.describe_instances()
    # truncated and short_body responses come from executed calls.
    sim.ctl("POST", "faults", {"action": "StopInstances",
                               "kind": "truncated"})
    with pytest.raises(botocore.parsers.ResponseParserError):
        ec2.stop_instances(InstanceIds=running[:1])
    sim.ctl("POST", "faults", {"action": "StopInstances",
                               "kind": "short_body"})
    with pytest.raises(botocore.parsers.ResponseParserError):
        ec2.stop_instances(InstanceIds=running[1:])
    states = {i["id"]: i["state"] for i in sim.ctl("GET", "instances")}
    assert {states[i] for i in running} <= {"stopping", "stopped"}
    errors = [r["error"] for r in sim.ctl("GET", "requests")]
    assert errors == ["fault:malformed", "fault:truncated",
                      "fault:short_body"]

    # On the wire: short_body announces more than it sends, then closes.
    sim.ctl("POST", "faults", {"kind": "short_body"})
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    creds = botocore.credentials.Credentials(AK, SK)
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=sim.url + "/",
        data=b"Action=DescribeInstances&Version=2016-11-15")
    botocore.auth.SigV4Auth(creds, "ec2", REGION).add_auth(request)
    conn.request("POST", "/", body=request.body,
                 headers=dict(request.headers.items()))
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_drop_fault_closes_without_response(sim, ec2):
    stopped = ids_named(sim, "dev04-worker", "stopped")[0]
    sim.ctl("POST", "faults", {"action": "StartInstances", "kind": "drop"})
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        ec2.start_instances(InstanceIds=[stopped])
    assert describe_one(ec2, stopped)["State"]["Name"] == "stopped"
    log = sim.ctl("GET", "requests")
    assert log[0]["status"] is None and log[0]["error"] == "fault:drop"


def test_insufficient_capacity_fault(sim, ec2):
    first, second = ids_named(sim, "dev04-worker", "stopped")[:2]
    sim.ctl("POST", "faults", {"kind": "ice", "ids": [first]})
    ec2.start_instances(InstanceIds=[second])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.start_instances(InstanceIds=[first, second])
    assert client_error(excinfo) == ("InsufficientInstanceCapacity", 500)
    assert excinfo.value.response["Error"]["Message"] == \
        "Insufficient capacity."
    assert describe_one(ec2, first)["State"]["Name"] == "stopped"
    ec2.start_instances(InstanceIds=[first])
    assert describe_one(ec2, first)["State"]["Name"] == "pending"


# --------------------------------------------------------------------------
# IMDSv2

def imds(sim, path, method="GET", headers=None):
    request = urllib.request.Request(sim.url + path, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


CREDS_PATH = "/latest/meta-data/iam/security-credentials/"


def imds_token(sim, ttl="60"):
    status, token = imds(sim, "/latest/api/token", "PUT",
                         {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    assert status == 200
    return token


def imds_fetcher(sim):
    """botocore's own IMDS client, pointed at the emulator."""
    return botocore.utils.InstanceMetadataFetcher(
        timeout=5, num_attempts=1, base_url=sim.url,
        env={"AWS_EC2_METADATA_DISABLED": "false"})


def test_imds_credentials_flow(sim):
    for headers in ({}, {"X-aws-ec2-metadata-token-ttl-seconds": "0"},
                    {"X-aws-ec2-metadata-token-ttl-seconds": "21601"}):
        assert imds(sim, "/latest/api/token", "PUT", headers)[0] == 400
    token = imds_token(sim)
    auth = {"X-aws-ec2-metadata-token": token}
    assert imds(sim, CREDS_PATH)[0] == 401
    assert imds(sim, CREDS_PATH, headers={
        "X-aws-ec2-metadata-token": "bogus"})[0] == 401
    assert imds(sim, CREDS_PATH, headers=auth) == (200, "ec2-manager-role")
    assert imds(sim, CREDS_PATH + "other-role", headers=auth)[0] == 404

    asked_at = time.time()
    docs = [json.loads(imds(sim, CREDS_PATH + "ec2-manager-role",
                            headers=auth)[1]) for _ in range(2)]
    answered_at = time.time()
    assert docs[0]["Code"] == "Success" and docs[0]["Type"] == "AWS-HMAC"
    assert docs[0]["AccessKeyId"].startswith("ASIA")
    assert docs[0]["AccessKeyId"] != docs[1]["AccessKeyId"]
    # Six hours after issue, rounded up to the second.
    expiration = datetime.datetime.strptime(
        docs[0]["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    assert math.ceil(asked_at + 6 * 3600) <= expiration <= \
        math.ceil(answered_at + 6 * 3600)
    for doc in docs:
        client = make_client(sim, doc["AccessKeyId"], doc["SecretAccessKey"],
                             doc["Token"])
        assert all_instances(client)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        make_client(sim, docs[0]["AccessKeyId"],
                    docs[0]["SecretAccessKey"]).describe_instances()
    assert client_error(excinfo) == ("AuthFailure", 401)

    # botocore's own IMDS client reads the same documents.
    fetched = imds_fetcher(sim).retrieve_iam_role_credentials()
    assert fetched["role_name"] == "ec2-manager-role"
    assert fetched["access_key"].startswith("ASIA")
    assert sim.ctl("GET", "imds") == {
        "enabled": True, "forbidden": False, "token_requests": 5,
        "credential_requests": 3, "lifetime_s": 21600.0}


def test_imds_forbidden_answers_403(sim):
    """"forbidden": every IMDS request gets 403, as on a machine whose
    metadata service refuses the caller (issue 14)."""
    sim.ctl("POST", "imds", {"forbidden": True})
    assert imds(sim, "/latest/api/token", "PUT",
                {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 403
    assert imds(sim, CREDS_PATH)[0] == 403
    assert sim.ctl("GET", "imds")["forbidden"] is True
    sim.ctl("POST", "imds", {"forbidden": False})
    assert imds(sim, "/latest/api/token", "PUT",
                {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 200


def test_imds_tokens_and_credentials_expire(sim):
    sim.ctl("POST", "imds", {"lifetime_s": 1})
    token = imds_token(sim, ttl="1")
    auth = {"X-aws-ec2-metadata-token": token}
    doc = json.loads(imds(sim, CREDS_PATH + "ec2-manager-role",
                          headers=auth)[1])
    client = make_client(sim, doc["AccessKeyId"], doc["SecretAccessKey"],
                         doc["Token"])
    expires = datetime.datetime.strptime(
        doc["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    # The keys work until Expiration, at least lifetime_s after they were
    # issued; only a machine too slow to call within that is spared this.
    if sim.ctl("GET", "clock")["epoch"] < expires - 0.5:
        assert all_instances(client)
    wait_for(lambda: sim.ctl("GET", "clock")["epoch"] >= expires,
             timeout=5, what="IMDS credential expiry")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.describe_instances()
    assert client_error(excinfo) == ("RequestExpired", 400)
    assert imds(sim, CREDS_PATH, headers=auth)[0] == 401


def test_imds_can_be_disabled(sim):
    sim.ctl("POST", "imds", {"enabled": False})
    with pytest.raises((urllib.error.URLError, http.client.HTTPException,
                        ConnectionError)):
        imds(sim, "/latest/api/token", "PUT",
             {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert imds_fetcher(sim).retrieve_iam_role_credentials() == {}
    assert sim.ctl("GET", "imds")["token_requests"] == 0


# --------------------------------------------------------------------------
# Control API, HTTP behaviour, process

def test_control_api(sim, ec2):
    iid = ids_named(sim, "dev04-admin")[0]
    updated = sim.ctl("POST", "instances/" + iid, {
        "launch_time": "2026-01-02T03:04:05.678Z", "tags": {"Name": "x"}})
    assert updated["launch_time"] == "2026-01-02T03:04:05.678Z"
    assert updated["tags"] == {"Name": "x"} and updated["name"] == "x"
    assert str(describe_one(ec2, iid)["LaunchTime"]) == \
        "2026-01-02 03:04:05.678000+00:00"
    stopped = sim.ctl("POST", "instances/" + iid, {"state": "stopped"})
    assert stopped["state"] == "stopped" and stopped["public_ip"] is None

    added = sim.ctl("POST", "instances", {"id": "i-00000000000000abc",
                                          "name": "extra",
                                          "private_ip": "10.9.9.9",
                                          "instance_type": "m5.large"})
    assert describe_one(ec2, added["id"])["InstanceType"] == "m5.large"

    created = sim.ctl("POST", "generate", {"prefix": "big", "count": 2500,
                                           "state": "stopped"})["ids"]
    assert len(created) == len(set(created)) == 2500
    paginator = ec2.get_paginator("describe_instances")
    seen = sum(len(r["Instances"]) for page in paginator.paginate(
        Filters=[{"Name": "tag:Name", "Values": ["big-worker"]}],
        PaginationConfig={"PageSize": 1000}) for r in page["Reservations"])
    assert seen == 2500

    assert sim.ctl("POST", "delays", {"pending": 0}) == {"pending": 0.0,
                                                         "stopping": 1.0}
    ec2.start_instances(InstanceIds=created[:1])
    wait_for(lambda: describe_one(ec2, created[0])["State"]["Name"] ==
             "running", what="instant start")

    sim.ctl("POST", "credentials", {"access_key_id": "AKIDADDED00000000001",
                                    "secret_access_key": "s3cret"})
    assert all_instances(make_client(sim, "AKIDADDED00000000001", "s3cret"),
                         InstanceIds=[iid])

    log = sim.ctl("GET", "requests")
    assert log[-1]["access_key"] == "AKIDADDED00000000001"
    assert log[-1]["params"]["InstanceId.1"] == iid
    assert set(log[-1]) == {"ts", "action", "params", "status", "error",
                            "access_key", "dry_run"}
    sim.ctl("POST", "requests/reset")
    sim.ctl("POST", "counts/reset")
    assert sim.ctl("GET", "requests") == [] and sim.ctl("GET",
                                                        "counts") == {}

    for method, path, body, status in [
            ("POST", "instances/i-0000000000000dead", {}, 404),
            ("POST", "instances/" + iid, {"colour": "red"}, 400),
            ("POST", "faults", {"kind": "meteor"}, 400),
            ("GET", "nothing", None, 404)]:
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            sim.ctl(method, path, body)
        assert excinfo.value.code == status
        assert "error" in json.loads(excinfo.value.read())


def test_keep_alive_connection_is_reused(sim):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    params = [("Action", "DescribeInstances"), ("Version", "2016-11-15")]
    status, _ = signed_request(sim, params, conn=conn)
    sock = conn.sock
    assert status == 200 and sock is not None
    status, body = signed_request(sim, params + [("MaxResults", "1")],
                                  conn=conn)
    assert (status, error_code(body)) == (400, "InvalidParameterValue")
    conn.request("GET", "/_sim/clock")
    assert "epoch" in json.loads(conn.getresponse().read())
    status, _ = signed_request(sim, params, method="GET", conn=conn)
    assert status == 200 and conn.sock is sock
    conn.close()


def test_cli_overrides_seed_and_sigterm_exits(start_sim):
    sim = start_sim(dict(BASE_SEED, region="ap-south-1"), "--region",
                    "us-east-1", "--stopping-delay", "7")
    assert sim.info == {"port": sim.port, "region": "us-east-1"}
    assert sim.ctl("GET", "delays") == {"pending": 1.0, "stopping": 7.0}
    instances = all_instances(make_client(sim, region="us-east-1"))
    running = next(i for i in instances if i["State"]["Name"] == "running")
    assert running["PrivateDnsName"].endswith(".ec2.internal")
    assert running["PublicDnsName"].endswith(".compute-1.amazonaws.com")

    idle = socket.create_connection(("127.0.0.1", sim.port))  # keep-alive
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(timeout=5) == 0
    idle.close()
