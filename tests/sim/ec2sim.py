#!/usr/bin/python3
"""ec2sim: a test double of the AWS EC2 Query API and of IMDSv2.

It serves, on one threaded HTTP/1.1 server bound to 127.0.0.1:

* the EC2 Query API (version 2016-11-15) on every path outside /latest/ and
  /_sim/, with real SigV4 checking, for DescribeInstances, StartInstances,
  StopInstances, CreateTags and DeleteTags;
* IMDSv2 under /latest/ (point AWS_EC2_METADATA_SERVICE_ENDPOINT at the
  server) handing out expiring instance-role credentials that the EC2 API
  then accepts;
* an unauthenticated JSON control API under /_sim/ for tests.

It needs only Debian's /usr/bin/python3 and python3-botocore (signatures are
recomputed with botocore's own SigV4 code).  A real botocore EC2 client works
against it unchanged; the integration tests in
tests/integration/test_ec2sim.py use one to prove it.

Command line
------------
    /usr/bin/python3 tests/sim/ec2sim.py --seed FILE.json [--port 0]
        [--region REGION] [--pending-delay S] [--stopping-delay S]

--port 0 (the default) picks a free port.  Once listening, the emulator
prints exactly one line to stdout, {"port": N, "region": "..."}, and then
logs only to stderr (one line per HTTP request; the canonical request and
string to sign whenever a signature does not match).  SIGTERM or SIGINT
stops it promptly with exit status 0.  Region and delays given on the
command line win over the seed file; the defaults are eu-west-1 and 2.0 s.

Seed file
---------
    {
      "region": "eu-west-1",
      "credentials": [{"access_key_id": "AKID...",
                       "secret_access_key": "...",
                       "session_token": null}],
      "delays": {"pending": 1.0, "stopping": 1.0},
      "instances": [{"id": "i-0123456789abcdef0", "name": "dev04-admin",
                     "state": "running", "tags": {"k": "v"},
                     "private_ip": "10.0.1.10", "instance_type": "c5.xlarge",
                     "launch_time": "2026-11-26T05:00:00.000Z"}],
      "clusters": [{"prefix": "dev04", "admin": 1, "engage": 1, "db": 1,
                    "nfs": 0, "workers": 6, "workers_running": 2,
                    "support_running": true, "tags": {}}]
    }

Every key is optional and unknown keys are rejected.  A credential with a
session_token requires requests to carry that token in a signed
X-Amz-Security-Token header.

Every instance field is optional.  "state" is pending, running (the
default), stopping, stopped or terminated.  "name" becomes the Name tag,
merged over "tags".  Missing values are generated: id ("i-" + 17 hex
digits), a unique private IP 10.x.y.z, instance type c5.xlarge, and a launch
time of now (pending), 10 minutes ago (running, stopping) or one day ago
(stopped, terminated).  Each seed instance gets its own reservation.
Seeded pending/stopping instances finish their transition one delay after
start-up.

"clusters" is shorthand for the instances of an Opencast cluster, created in
this order: `admin` instances named PREFIX-admin, `engage` named
PREFIX-engage, `db` named PREFIX-db, `nfs` named PREFIX-nfs (defaults 1, 1,
1, 0), then `workers` instances all named PREFIX-worker (the same Name tag
on each, as real clusters do; default 0).  The support nodes are running
when support_running (default true), else stopped; the first
workers_running workers (default 0) are running, the rest stopped.  "tags"
is added to every instance of the cluster.  The workers share one
reservation; every support node has its own.

Instances as EC2 shows them
---------------------------
Each carries instanceId, imageId, instanceState {code, name}, privateDnsName
(ip-10-0-1-23.REGION.compute.internal; ec2.internal in us-east-1), dnsName
(ec2-A-B-C-D.REGION.compute.amazonaws.com, empty unless running), reason,
instanceType, launchTime (ms precision, Z), placement (availability zone
REGION + "a"), privateIpAddress, ipAddress (only while running; a new one
on every start), tagSet (absent without tags), stateReason
(Client.UserInitiatedShutdown) while stopping, stopped or terminated, and a
few constant fields (architecture, rootDeviceType, platformDetails...).
Terminated instances are still returned by DescribeInstances, without
privateIpAddress and with an empty privateDnsName, as on AWS.

State transitions are computed lazily from timestamps on every request
(control API reads included):
    Start: stopped(80) -> pending(0) -> running(16) after the pending delay;
           launchTime becomes the time of the StartInstances call.
    Stop:  running(16) -> stopping(64) -> stopped(80) after the stopping
           delay; the public IP is gone once stopped, the private IP stays.
Start on running/pending and stop on stopped/stopping succeed without a
change.  IncorrectInstanceState (400) for start while stopping, stop while
pending, and either on a terminated instance.

EC2 Query API
-------------
GET (query string) and POST (form body) on any path other than
/latest/... and /_sim/...; in both, '+' and %20 read as a space.
Responses use namespace http://ec2.amazonaws.com/doc/2016-11-15/ with a
requestId; errors use
<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>
</Response>.  Checks, in order:

1. Signature (SigV4): no Authorization header -> 403
   MissingAuthenticationToken; malformed Authorization, missing or malformed
   X-Amz-Date, host or x-amz-date not signed -> 400 IncompleteSignature;
   X-Amz-Date more than 15 minutes from now -> 400 RequestExpired; scope
   date/region/service wrong, unknown access key, missing or wrong (or
   unsigned) X-Amz-Security-Token, a signed header that was not sent, or a
   signature mismatch -> 401 AuthFailure; an expired IMDS key -> 400
   RequestExpired (what EC2 answers for expired temporary credentials).
   The signature is recomputed with botocore.auth.SigV4Auth over the
   received method, path, decoded-and-re-encoded query parameters, exactly
   the headers named in SignedHeaders (Host as received, with :port) and
   the exact body bytes.
2. Action/Version: missing Action -> 400 MissingAction; missing Version ->
   400 MissingParameter; unsupported Action -> 400 InvalidAction.
3. Faults queued through the control API (below).
4. The action: unknown parameters -> 400 UnknownParameter; then parameter
   validation; then DryRun=true -> 412 DryRunOperation "Request would have
   succeeded, but DryRun flag is set." with no side effect.

DescribeInstances: InstanceId.N (malformed -> InvalidInstanceID.Malformed,
unknown -> the whole call fails with InvalidInstanceID.NotFound),
Filter.N.Name / Filter.N.Value.M (AND across filters, OR within values,
case-sensitive, `*` `?` wildcards and `\\` escapes; a filter without values
matches instances that have a non-empty value for it; an unknown filter
name -> InvalidParameterValue).  Filters: tag:KEY, tag-key, tag-value,
instance-id, instance-state-name, instance-state-code, instance-type,
private-ip-address, ip-address, private-dns-name, dns-name, launch-time,
reservation-id, availability-zone, image-id.  MaxResults 5..1000 (else
InvalidParameterValue) counts instances; with InstanceId.N it is
InvalidParameterCombination.  nextToken is opaque, present only while more
instances match, and tied to the filters and ids of the first request (a
foreign or junk token -> InvalidPaginationToken).  Pages follow creation
order, so no instance appears on two pages and one that matches throughout
is never skipped, even when others change state between pages.

StartInstances / StopInstances: InstanceId.N required (MissingParameter),
DryRun, Stop also Force and Hibernate (accepted, no effect).  instancesSet
items carry currentState and previousState.  All ids are validated before
anything changes.

CreateTags / DeleteTags: ResourceId.N (instance ids only; other ids ->
InvalidID), Tag.N.Key, Tag.N.Value.  Keys beginning with "aws:", keys over
127 or values over 256 characters -> InvalidParameterValue; more than 50
tags -> TagLimitExceeded.  DeleteTags: key only deletes whatever the value,
key plus value (even empty) deletes only on an equal value, no Tag.N at all
deletes every tag.

IMDSv2
------
    PUT /latest/api/token  with X-aws-ec2-metadata-token-ttl-seconds 1..21600
        -> text token valid for that many seconds (missing/bad TTL -> 400).
    GET /latest/meta-data/iam/security-credentials/  -> "ec2-manager-role"
    GET /latest/meta-data/iam/security-credentials/ec2-manager-role
        -> {"Code": "Success", "LastUpdated", "Type": "AWS-HMAC",
            "AccessKeyId": "ASIA...", "SecretAccessKey", "Token",
            "Expiration": "YYYY-MM-DDTHH:MM:SSZ"}
GETs need a live X-aws-ec2-metadata-token (missing, unknown or expired ->
401); another role -> 404, another path -> 404.  Every credential fetch
issues new keys (a counter in the key id) valid until their Expiration
(lifetime 6 h unless set through /_sim/imds, rounded up to the second).
While IMDS is disabled, requests under /latest/ get no answer: the
connection is closed.  While it is "forbidden", every request under
/latest/ is answered 403 Forbidden, as an instance whose metadata service
refuses the caller answers (and as seen on machines without an instance
role behind some proxies).

Control API (JSON, no authentication)
-------------------------------------
Bad JSON, unknown keys or bad values -> 400 {"error": "..."}; unknown ids or
paths -> 404.  Instance objects are {"id", "name", "state", "state_code",
"tags", "private_ip", "public_ip" (null unless running), "launch_time"
(ISO, ms, Z), "instance_type", "reservation_id"}.

GET    /_sim/instances        all instances, in creation order.
POST   /_sim/instances        {seed instance fields} -> the new instance.
POST   /_sim/instances/ID     {"launch_time": ISO, "tags": {...} (replaces
                              all tags), "state": "running"|"stopped"|
                              "terminated" (immediate; becoming running
                              sets launch_time to now unless given)}
                              -> the updated instance.
POST   /_sim/generate         {"prefix", "count", "state" (default running),
                              "tags", "instance_type"} adds COUNT instances
                              named PREFIX-worker in one reservation
                              -> {"ids": [...]}.
GET    /_sim/faults           the pending faults.
POST   /_sim/faults           {"action": NAME or "*" (default "*"), "kind",
                              "count" (default 1), "seconds" (latency only),
                              "ids" (ice only)} queues a fault for the next
                              COUNT matching EC2 calls -> the pending faults.
                              An ice fault's action defaults to (and must
                              be) StartInstances or "*".
DELETE /_sim/faults           drops all pending faults.
GET    /_sim/counts           {"DescribeInstances": {"calls", "dry_run",
                              "errors"}, ...}.  calls: requests that passed
                              the signature check; dry_run: those of them
                              with DryRun=true; errors: requests answered
                              with an error (signature failures included,
                              DryRunOperation excluded) or hit by a
                              drop/malformed/bad_bytes/truncated/short_body
                              fault.
                              Requests without Action count as "(none)".
POST   /_sim/counts/reset
GET    /_sim/requests         the last 10000 EC2 requests: {"ts", "action",
                              "params", "status" (null when dropped),
                              "error" (error code, or "fault:KIND" for
                              transport faults), "access_key", "dry_run"}.
POST   /_sim/requests/reset
GET    /_sim/imds             {"enabled", "token_requests",
                              "credential_requests", "lifetime_s"}.
POST   /_sim/imds             {"lifetime_s": S (>= 1), "enabled": bool,
                              "forbidden": bool};
                              a new lifetime applies to keys issued
                              afterwards.
GET    /_sim/delays           {"pending", "stopping"} in seconds.
POST   /_sim/delays           {"pending": S, "stopping": S}; applies to
                              transitions that begin afterwards.
POST   /_sim/credentials      {"access_key_id", "secret_access_key",
                              "session_token" (optional)} adds a static key.
GET    /_sim/clock            {"now": ISO, "epoch": seconds}: the clock used
                              for signatures, key expiry and transitions.

Fault kinds.  Faults are taken in the order queued; one matching a call is
consumed by it.  Error and transport faults apply after the signature and
Action checks; "ice" applies inside StartInstances after validation and
DryRun.
    throttle     503 RequestLimitExceeded "Request limit exceeded."
    5xx          500 InternalError "An internal error has occurred."
    unavailable  503 Unavailable "The server is overloaded and can't
                 handle the request."
    auth         401 AuthFailure
    ice          500 InsufficientInstanceCapacity "Insufficient capacity."
                 for a StartInstances naming any of "ids" (any, without
                 ids); nothing is started.
    latency      sleep "seconds" (default 1.0), then answer normally.
    malformed    200 with a garbage, non-XML body; the call is not executed.
    bad_bytes    200 with an XML body that is not well-formed and has a
                 Latin-1 byte (0xE9) in a tag name, which libxml2 quotes in
                 its error text; the call is not executed.
    drop         close the connection without any response; not executed.
    truncated    the call is executed; its response is cut in half
                 (Content-Length matches the cut body).
    short_body   the call is executed; the headers announce the full length,
                 half the body is sent and the connection is closed.
"""

import argparse
import base64
import dataclasses
import datetime
import hashlib
import hmac
import http.server
import json
import math
import re
import secrets
import signal
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections import deque
from xml.sax.saxutils import escape

import botocore.auth
import botocore.awsrequest
import botocore.compat
import botocore.credentials

API_VERSION = "2016-11-15"
XMLNS = "http://ec2.amazonaws.com/doc/%s/" % API_VERSION
OWNER_ID = "123456789012"
IMAGE_ID = "ami-0c1d2e3f4a5b6c7d8"
DEFAULT_REGION = "eu-west-1"
DEFAULT_DELAY = 2.0
DEFAULT_INSTANCE_TYPE = "c5.xlarge"
ROLE_NAME = "ec2-manager-role"
DEFAULT_CRED_LIFETIME = 6 * 3600.0
MAX_SKEW = 15 * 60
REQUEST_LOG_SIZE = 10000
MAX_TAGS = 50

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32,
               "terminated": 48, "stopping": 64, "stopped": 80}
SEED_STATES = ("pending", "running", "stopping", "stopped", "terminated")
INSTANCE_ID_RE = re.compile(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")

AUTH_FAILURE_MSG = ("AWS was not able to validate the provided access "
                    "credentials")
DRY_RUN_MSG = "Request would have succeeded, but DryRun flag is set."

ERROR_FAULTS = {
    "throttle": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "5xx": (500, "InternalError", "An internal error has occurred."),
    "unavailable": (503, "Unavailable",
                    "The server is overloaded and can't handle the request."),
    "auth": (401, "AuthFailure", AUTH_FAILURE_MSG),
}
TRANSPORT_FAULTS = ("malformed", "bad_bytes", "drop", "truncated",
                    "short_body")
FAULT_KINDS = set(ERROR_FAULTS) | set(TRANSPORT_FAULTS) | {"latency", "ice"}
MALFORMED_BODY = b"\x00\x13garbage {not: xml} \xff\xfe<<<"
BAD_BYTES_BODY = (b"<DescribeInstancesResponse><r\xe9servationSet></item>"
                  b"</DescribeInstancesResponse>")


class Ec2Error(Exception):
    """An EC2 error response: HTTP status, error code and message."""

    def __init__(self, status, code, message):
        super().__init__("%s: %s" % (code, message))
        self.status = status
        self.code = code
        self.message = message


class ControlError(Exception):
    """A control API error: HTTP status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_param(message):
    return Ec2Error(400, "InvalidParameterValue", message)


# --------------------------------------------------------------------------
# Time formats

def iso_ms(epoch):
    """2024-01-15T08:02:11.000Z, the launchTime format."""
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond
                                                          // 1000)


def iso_s(epoch):
    """2024-01-15T08:02:11Z, the IMDS Expiration format."""
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """Parse an ISO 8601 time (naive means UTC) into epoch seconds (ms)."""
    try:
        dt = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError("not an ISO 8601 time: %r" % (text,)) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return ms(dt.timestamp())


def ms(epoch):
    """Epoch seconds truncated to milliseconds, EC2's launchTime precision."""
    return math.floor(epoch * 1000) / 1000


# --------------------------------------------------------------------------
# SigV4 verification

@dataclasses.dataclass
class Credential:
    access_key_id: str
    secret_access_key: str
    session_token: str = None
    expires: float = None       # epoch seconds; None for static keys


class _ReceivedRequestSigner(botocore.auth.SigV4Auth):
    """botocore's SigV4 signer restricted to the headers the client signed."""

    def __init__(self, credential, region, signed_headers):
        creds = botocore.credentials.Credentials(
            credential.access_key_id, credential.secret_access_key,
            credential.session_token)
        super().__init__(creds, "ec2", region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request):
        return self._signed_headers


def _parse_authorization(value):
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise Ec2Error(400, "IncompleteSignature",
                       "Unsupported AWS 'algorithm': '%s'." % algorithm)
    fields = {}
    for piece in rest.split(","):
        name, sep, val = piece.strip().partition("=")
        if sep:
            fields[name] = val
    missing = [f for f in ("Credential", "SignedHeaders", "Signature")
               if f not in fields]
    if missing:
        raise Ec2Error(400, "IncompleteSignature",
                       "Authorization header requires '%s' parameter. "
                       "Authorization=%s" % (missing[0], value))
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise Ec2Error(400, "IncompleteSignature",
                       "Credential should be scoped to a valid region. "
                       "Credential=%s" % fields["Credential"])
    return scope, fields["SignedHeaders"].split(";"), fields["Signature"]


def verify_sigv4(method, path, query_pairs, headers, body, region, lookup,
                 now):
    """Check the SigV4 signature of a received EC2 request.

    query_pairs are the decoded query parameters, headers the received
    (name, value) pairs, body the exact body bytes, lookup a function from
    access key id to Credential (or None) and now the epoch time.  Returns
    the Credential; raises Ec2Error with EC2's code when the check fails.
    """
    received = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)
    if "authorization" not in received:
        raise Ec2Error(403, "MissingAuthenticationToken",
                       "Request is missing Authentication Token")
    scope, signed_names, signature = _parse_authorization(
        received["authorization"][0])
    if "x-amz-date" not in received:
        raise Ec2Error(400, "IncompleteSignature",
                       "Authorization header requires existence of either "
                       "a 'X-Amz-Date' or a 'Date' header.")
    amz_date = received["x-amz-date"][0]
    try:
        signed_at = datetime.datetime.strptime(
            amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise Ec2Error(400, "IncompleteSignature",
                       "Date must be in ISO-8601 'basic format'. Got '%s'."
                       % amz_date) from None
    for required in ("host", "x-amz-date"):
        if required not in signed_names:
            raise Ec2Error(400, "IncompleteSignature",
                           "'%s' must be a 'SignedHeader' in the AWS "
                           "Authorization." % required.title())
    if abs(now - signed_at) > MAX_SKEW:
        raise Ec2Error(400, "RequestExpired", "Request has expired.")
    access_key, date, scope_region, service, _ = scope
    if date != amz_date[:8]:
        raise Ec2Error(401, "AuthFailure",
                       "Date in Credential scope does not match YYYYMMDD "
                       "from ISO-8601 version of date from HTTP: '%s' != "
                       "'%s', from '%s'." % (date, amz_date[:8], amz_date))
    if scope_region != region:
        raise Ec2Error(401, "AuthFailure",
                       "Credential should be scoped to a valid region, "
                       "not '%s'." % scope_region)
    if service != "ec2":
        raise Ec2Error(401, "AuthFailure",
                       "Credential should be scoped to correct service: "
                       "'ec2'.")
    credential = lookup(access_key)
    if credential is None:
        raise Ec2Error(401, "AuthFailure", AUTH_FAILURE_MSG)
    if credential.expires is not None and now >= credential.expires:
        raise Ec2Error(400, "RequestExpired", "Request has expired.")
    token = received.get("x-amz-security-token", [None])[0]
    if credential.session_token is not None or token is not None:
        if (token is None or credential.session_token is None
                or "x-amz-security-token" not in signed_names
                or not hmac.compare_digest(token.encode(),
                                           credential.session_token.encode())):
            raise Ec2Error(401, "AuthFailure", AUTH_FAILURE_MSG)

    to_sign = botocore.compat.HTTPHeaders()
    for name in signed_names:
        if name not in received:
            raise Ec2Error(401, "AuthFailure",
                           "Signed header '%s' is missing." % name)
        for value in received[name]:
            to_sign[name] = value
    signer = _ReceivedRequestSigner(credential, region, to_sign)
    request = botocore.awsrequest.AWSRequest(
        method=method, url="http://%s%s" % (received["host"][0], path),
        data=body, params=list(query_pairs))
    request.context["timestamp"] = amz_date
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        sys.stderr.write("ec2sim: signature mismatch for %s\n"
                         "--- canonical request ---\n%s\n"
                         "--- string to sign ---\n%s\n"
                         % (access_key, canonical, string_to_sign))
        raise Ec2Error(401, "AuthFailure",
                       AUTH_FAILURE_MSG + " (signature does not match)")
    return credential


# --------------------------------------------------------------------------
# Request parameters

def _indexed(params, prefix):
    """Values of PREFIX.N parameters, ordered by N."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\Z")
    found = sorted((int(m.group(1)), v) for k, v in params.items()
                   for m in [pattern.match(k)] if m)
    return [v for _, v in found]


def _bool_param(params, name):
    value = params.get(name)
    if value is None:
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_param("Invalid value '%s' for %s" % (value, name))


def _check_known(params, allowed):
    for name in params:
        if name not in ("Action", "Version") and not allowed.match(name):
            raise Ec2Error(400, "UnknownParameter",
                           "The parameter %s is not recognized" % name)


def _instance_ids(params, required):
    ids = list(dict.fromkeys(_indexed(params, "InstanceId")))
    if required and not ids:
        raise Ec2Error(400, "MissingParameter",
                       "The request must contain the parameter InstanceId")
    for iid in ids:
        if not INSTANCE_ID_RE.match(iid):
            raise Ec2Error(400, "InvalidInstanceID.Malformed",
                           'Invalid id: "%s"' % iid)
    return ids


def _not_found(ids):
    if len(ids) == 1:
        message = "The instance ID '%s' does not exist" % ids[0]
    else:
        message = "The instance IDs '%s' do not exist" % ", ".join(ids)
    return Ec2Error(400, "InvalidInstanceID.NotFound", message)


def _wildcard(value):
    """Compile an EC2 filter value: * any run, ? one char, \\ escapes."""
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _parse_filters(params):
    """[(filter name, [compiled values])] from Filter.N.Name/Value.M."""
    names = {}
    values = {}
    for key, value in params.items():
        m = re.match(r"Filter\.(\d+)\.Name\Z", key)
        if m:
            names[int(m.group(1))] = value
            continue
        m = re.match(r"Filter\.(\d+)\.Value\.(\d+)\Z", key)
        if m:
            values.setdefault(int(m.group(1)), []).append(
                (int(m.group(2)), value))
    filters = []
    for n in sorted(set(names) | set(values)):
        name = names.get(n)
        if name is None or not (name.startswith("tag:")
                                or name in FILTER_FIELDS):
            raise bad_param("The filter '%s' is invalid" % name)
        filters.append((name, [_wildcard(v)
                               for _, v in sorted(values.get(n, []))]))
    return filters


# --------------------------------------------------------------------------
# Instances

@dataclasses.dataclass
class Instance:
    id: str
    seq: int                    # creation order; pagination follows it
    reservation_id: str
    state: str
    tags: dict
    private_ip: str
    instance_type: str
    launch_time: float          # epoch seconds, ms precision
    public_ip: str = None       # kept while running only
    transition_at: float = None  # when pending/stopping ends
    stopped_at: float = None    # time of the last user stop


def _dns_names(inst, region):
    """(private DNS name, public DNS name) as EC2 shows them."""
    if region == "us-east-1":
        private_domain, public_domain = "ec2.internal", "compute-1"
    else:
        private_domain = region + ".compute.internal"
        public_domain = region + ".compute"
    private = ("ip-%s.%s" % (inst.private_ip.replace(".", "-"),
                             private_domain)
               if inst.state != "terminated" else "")
    public = ("ec2-%s.%s.amazonaws.com" % (inst.public_ip.replace(".", "-"),
                                           public_domain)
              if inst.state == "running" else "")
    return private, public


FILTER_FIELDS = {
    "tag-key": lambda i, r: list(i.tags),
    "tag-value": lambda i, r: list(i.tags.values()),
    "instance-id": lambda i, r: [i.id],
    "instance-state-name": lambda i, r: [i.state],
    "instance-state-code": lambda i, r: [str(STATE_CODES[i.state])],
    "instance-type": lambda i, r: [i.instance_type],
    "private-ip-address": lambda i, r: ([i.private_ip]
                                        if i.state != "terminated" else []),
    "ip-address": lambda i, r: [i.public_ip] if i.state == "running" else [],
    "private-dns-name": lambda i, r: [_dns_names(i, r)[0]],
    "dns-name": lambda i, r: [_dns_names(i, r)[1]],
    "launch-time": lambda i, r: [iso_ms(i.launch_time)],
    "reservation-id": lambda i, r: [i.reservation_id],
    "availability-zone": lambda i, r: [r + "a"],
    "image-id": lambda i, r: [IMAGE_ID],
}


def _filter_values(inst, name, region):
    if name.startswith("tag:"):
        key = name[4:]
        return [inst.tags[key]] if key in inst.tags else []
    return FILTER_FIELDS[name](inst, region)


def _matches(inst, filters, region):
    for name, patterns in filters:
        values = _filter_values(inst, name, region)
        if patterns:
            if not any(p.match(v) for p in patterns for v in values):
                return False
        elif not any(values):
            return False
    return True


def _gmt(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(epoch))


def _state_xml(tag, state):
    return "<%s><code>%d</code><name>%s</name></%s>" % (
        tag, STATE_CODES[state], state, tag)


def _instance_xml(inst, region):
    private_dns, public_dns = _dns_names(inst, region)
    stopped = inst.state in ("stopping", "stopped", "terminated")
    parts = [
        "<item>",
        "<instanceId>%s</instanceId>" % inst.id,
        "<imageId>%s</imageId>" % IMAGE_ID,
        _state_xml("instanceState", inst.state),
        "<privateDnsName>%s</privateDnsName>" % private_dns,
        "<dnsName>%s</dnsName>" % public_dns,
        "<reason>%s</reason>" % ("User initiated (%s)" % _gmt(inst.stopped_at)
                                 if stopped else ""),
        "<amiLaunchIndex>0</amiLaunchIndex>",
        "<instanceType>%s</instanceType>" % escape(inst.instance_type),
        "<launchTime>%s</launchTime>" % iso_ms(inst.launch_time),
        "<placement><availabilityZone>%sa</availabilityZone>"
        "<groupName/><tenancy>default</tenancy></placement>" % region,
        "<monitoring><state>disabled</state></monitoring>",
    ]
    if inst.state != "terminated":
        parts.append("<privateIpAddress>%s</privateIpAddress>"
                     % inst.private_ip)
    if inst.state == "running":
        parts.append("<ipAddress>%s</ipAddress>" % inst.public_ip)
    if stopped:
        parts.append("<stateReason><code>Client.UserInitiatedShutdown</code>"
                     "<message>Client.UserInitiatedShutdown: User initiated "
                     "shutdown</message></stateReason>")
    parts += ["<architecture>x86_64</architecture>",
              "<rootDeviceType>ebs</rootDeviceType>",
              "<rootDeviceName>/dev/xvda</rootDeviceName>",
              "<virtualizationType>hvm</virtualizationType>"]
    if inst.tags:
        parts.append("<tagSet>")
        for key, value in inst.tags.items():
            parts.append("<item><key>%s</key><value>%s</value></item>"
                         % (escape(key), escape(value)))
        parts.append("</tagSet>")
    parts += ["<hypervisor>xen</hypervisor>",
              "<ebsOptimized>false</ebsOptimized>",
              "<platformDetails>Linux/UNIX</platformDetails>",
              "<usageOperation>RunInstances</usageOperation>",
              "</item>"]
    return "".join(parts)


def _response_xml(action, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<%sResponse xmlns="%s"><requestId>%s</requestId>%s'
            '</%sResponse>' % (action, XMLNS, uuid.uuid4(), inner, action))


def error_xml(err):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Response><Errors><Error><Code>%s</Code><Message>%s</Message>"
            "</Error></Errors><RequestID>%s</RequestID></Response>"
            % (escape(err.code), escape(err.message), uuid.uuid4()))


def _random_hex_id(prefix):
    return prefix + secrets.token_hex(9)[:17]


def _new_secret():
    return base64.b64encode(secrets.token_bytes(30)).decode()


# --------------------------------------------------------------------------
# Control API input checks

def _check_keys(obj, allowed, what):
    if not isinstance(obj, dict):
        raise ControlError(400, "%s must be a JSON object" % what)
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise ControlError(400, "unknown key(s) in %s: %s"
                           % (what, ", ".join(unknown)))


def _check_tags(tags, what):
    if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in tags.items()):
        raise ControlError(400, "%s: tags must map strings to strings" % what)
    return dict(tags)


def _check_number(value, what, minimum=0.0):
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or value < minimum):
        raise ControlError(400, "%s must be a number >= %s" % (what, minimum))
    return float(value)


def _check_count(value, what, minimum=0):
    if (isinstance(value, bool) or not isinstance(value, int)
            or value < minimum):
        raise ControlError(400, "%s must be an integer >= %d"
                           % (what, minimum))
    return value


INSTANCE_KEYS = ("id", "name", "state", "tags", "private_ip",
                 "instance_type", "launch_time")
CLUSTER_KEYS = ("prefix", "admin", "engage", "db", "nfs", "workers",
                "workers_running", "support_running", "tags")
SEED_KEYS = ("region", "credentials", "delays", "instances", "clusters")
CREDENTIAL_KEYS = ("access_key_id", "secret_access_key", "session_token")


# --------------------------------------------------------------------------
# The emulated account

class Ec2Sim:
    """All emulator state, guarded by one lock."""

    def __init__(self, region, pending_delay, stopping_delay):
        self.region = region
        self.lock = threading.Lock()
        self.delays = {"pending": pending_delay, "stopping": stopping_delay}
        self.instances = {}             # id -> Instance, creation order
        self._transitioning = set()     # ids in pending or stopping
        self._seq = 0
        self._private_counter = 0
        self._public_counter = 0
        self._used_private_ips = set()
        self.credentials = {}           # access key id -> Credential
        self.imds_enabled = True
        self.imds_forbidden = False
        self.imds_lifetime = DEFAULT_CRED_LIFETIME
        self.imds_tokens = {}           # token -> expiry epoch
        self.imds_counts = {"token_requests": 0, "credential_requests": 0}
        self._imds_key_counter = 0
        self.faults = []
        self.counts = {}
        self.requests = deque(maxlen=REQUEST_LOG_SIZE)
        self._token_key = secrets.token_bytes(32)

    # -- seeding and instance creation (lock held by callers at run time) --

    def load_seed(self, seed, now):
        """Add the credentials, instances and clusters of a seed dict."""
        for key in ("credentials", "instances", "clusters"):
            if not isinstance(seed.get(key, []), list):
                raise ControlError(400, "%s must be a list" % key)
        for cred in seed.get("credentials", []):
            self.add_credential(cred)
        for spec in seed.get("instances", []):
            self.add_instance(spec, _random_hex_id("r-"), now)
        for spec in seed.get("clusters", []):
            self._add_cluster(spec, now)

    def add_credential(self, spec):
        _check_keys(spec, CREDENTIAL_KEYS, "credential")
        ak, secret = spec.get("access_key_id"), spec.get("secret_access_key")
        token = spec.get("session_token")
        if not (isinstance(ak, str) and ak and isinstance(secret, str)
                and secret) or not (token is None or isinstance(token, str)):
            raise ControlError(400, "credential needs access_key_id and "
                                    "secret_access_key strings")
        self.credentials[ak] = Credential(ak, secret, token)
        return {"access_key_id": ak}

    def _next_private_ip(self):
        while True:
            self._private_counter += 1
            n = 256 + self._private_counter   # start in 10.0.1.0/24
            ip = "10.%d.%d.%d" % (n >> 16 & 255, n >> 8 & 255, n & 255)
            if n & 255 not in (0, 1, 2, 3, 255) and \
                    ip not in self._used_private_ips:
                return ip

    def _next_public_ip(self):
        while True:
            self._public_counter += 1
            n = self._public_counter
            if n & 255 not in (0, 255):
                return "52.%d.%d.%d" % (16 + (n >> 16 & 15), n >> 8 & 255,
                                        n & 255)

    def add_instance(self, spec, reservation_id, now):
        _check_keys(spec, INSTANCE_KEYS, "instance")
        state = spec.get("state", "running")
        if state not in SEED_STATES:
            raise ControlError(400, "state must be one of %s"
                               % ", ".join(SEED_STATES))
        iid = spec.get("id")
        if iid is None:
            iid = _random_hex_id("i-")
            while iid in self.instances:
                iid = _random_hex_id("i-")
        elif not isinstance(iid, str) or not INSTANCE_ID_RE.match(iid):
            raise ControlError(400, "bad instance id %r" % (iid,))
        elif iid in self.instances:
            raise ControlError(400, "duplicate instance id %s" % iid)
        tags = _check_tags(spec.get("tags", {}), iid)
        if "name" in spec:
            if not isinstance(spec["name"], str):
                raise ControlError(400, "name must be a string")
            tags["Name"] = spec["name"]
        private_ip = spec.get("private_ip")
        if private_ip is None:
            private_ip = self._next_private_ip()
        elif not isinstance(private_ip, str) or not re.match(
                r"\d{1,3}(\.\d{1,3}){3}\Z", private_ip):
            raise ControlError(400, "bad private_ip %r" % (private_ip,))
        elif private_ip in self._used_private_ips:
            raise ControlError(400, "duplicate private_ip %s" % private_ip)
        instance_type = spec.get("instance_type", DEFAULT_INSTANCE_TYPE)
        if not isinstance(instance_type, str):
            raise ControlError(400, "instance_type must be a string")
        if "launch_time" in spec:
            try:
                launch_time = parse_iso(spec["launch_time"])
            except ValueError as e:
                raise ControlError(400, str(e)) from None
        elif state in ("stopped", "terminated"):
            launch_time = ms(now - 86400)
        elif state == "pending":
            launch_time = ms(now)
        else:
            launch_time = ms(now - 600)
        self._seq += 1
        inst = Instance(id=iid, seq=self._seq, reservation_id=reservation_id,
                        state=state, tags=tags, private_ip=private_ip,
                        instance_type=instance_type, launch_time=launch_time)
        if state == "running":
            inst.public_ip = self._next_public_ip()
        if state in ("pending", "stopping"):
            inst.transition_at = now + self.delays[state]
            self._transitioning.add(iid)
        if state in ("stopping", "stopped", "terminated"):
            inst.stopped_at = now
        self._used_private_ips.add(private_ip)
        self.instances[iid] = inst
        return inst

    def _add_cluster(self, spec, now):
        _check_keys(spec, CLUSTER_KEYS, "cluster")
        prefix = spec.get("prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ControlError(400, "cluster needs a prefix")
        tags = _check_tags(spec.get("tags", {}), prefix)
        support = ("running" if spec.get("support_running", True)
                   else "stopped")
        for role, default in (("admin", 1), ("engage", 1), ("db", 1),
                              ("nfs", 0)):
            for _ in range(_check_count(spec.get(role, default), role)):
                self.add_instance({"name": "%s-%s" % (prefix, role),
                                   "state": support, "tags": tags},
                                  _random_hex_id("r-"), now)
        workers = _check_count(spec.get("workers", 0), "workers")
        running = _check_count(spec.get("workers_running", 0),
                               "workers_running")
        reservation = _random_hex_id("r-")
        for n in range(workers):
            self.add_instance({"name": prefix + "-worker", "tags": tags,
                               "state": "running" if n < running
                               else "stopped"}, reservation, now)

    # -- lazy state transitions --

    def advance(self, now):
        """Finish every pending/stopping transition that is due."""
        for iid in list(self._transitioning):
            inst = self.instances[iid]
            if inst.transition_at > now:
                continue
            if inst.state == "pending":
                inst.state = "running"
                inst.public_ip = self._next_public_ip()
            else:
                inst.state = "stopped"
                inst.public_ip = None
            inst.transition_at = None
            self._transitioning.discard(iid)

    def _set_state(self, inst, state, now):
        """Control API: put an instance into a state immediately."""
        self._transitioning.discard(inst.id)
        inst.transition_at = None
        if state == "running" and inst.state != "running":
            inst.public_ip = self._next_public_ip()
            inst.launch_time = ms(now)
        elif state != "running":
            inst.public_ip = None
            if inst.state not in ("stopped", "terminated"):
                inst.stopped_at = now
        inst.state = state

    def lookup_credential(self, access_key):
        with self.lock:
            return self.credentials.get(access_key)

    # -- faults and bookkeeping --

    def take_fault(self, action):
        """Consume the first queued non-ice fault matching ACTION."""
        with self.lock:
            for fault in self.faults:
                if fault["kind"] != "ice" and fault["action"] in ("*",
                                                                  action):
                    return self._consume(fault)
        return None

    def _take_ice(self, ids):
        for fault in self.faults:
            if fault["kind"] == "ice" and (not fault.get("ids") or
                                           set(fault["ids"]) & set(ids)):
                return self._consume(fault)
        return None

    def _consume(self, fault):
        fault["remaining"] -= 1
        if fault["remaining"] == 0:
            self.faults.remove(fault)
        return dict(fault)

    def record(self, action, params, access_key, status, error, now):
        """Count one EC2 request and append it to the request log."""
        dry_run = params.get("DryRun", "").lower() == "true"
        with self.lock:
            c = self.counts.setdefault(action or "(none)",
                                       {"calls": 0, "dry_run": 0,
                                        "errors": 0})
            if access_key is not None:
                c["calls"] += 1
                c["dry_run"] += dry_run
            if error is not None and error != "DryRunOperation":
                c["errors"] += 1
            self.requests.append({"ts": iso_ms(now), "action": action,
                                  "params": params, "status": status,
                                  "error": error, "access_key": access_key,
                                  "dry_run": dry_run})

    # -- EC2 actions --

    def call(self, action, params, now):
        """Run one EC2 action; returns response XML or raises Ec2Error."""
        allowed, handler = ACTIONS[action]
        _check_known(params, allowed)
        return _response_xml(action, handler(self, params, now))

    def describe_instances(self, params, now):
        ids = _instance_ids(params, required=False)
        filters = _parse_filters(params)
        max_results = params.get("MaxResults")
        page_size = None
        if max_results is not None:
            if ids:
                raise Ec2Error(400, "InvalidParameterCombination",
                               "The parameter instancesSet cannot be used "
                               "with the parameter maxResults")
            if not re.match(r"\d+\Z", max_results) or not (
                    5 <= int(max_results) <= 1000):
                raise bad_param("Value ( %s ) for parameter maxResults is "
                                "invalid. Expecting a value between 5 and "
                                "1000." % max_results)
            page_size = int(max_results)
        dry_run = _bool_param(params, "DryRun")
        query_hash = self._query_hash(params)
        after = 0
        if "NextToken" in params:
            after = self._decode_token(params["NextToken"], query_hash)
        with self.lock:
            self.advance(now)
            missing = [i for i in ids if i not in self.instances]
            if missing:
                raise _not_found(missing)
            if dry_run:
                raise Ec2Error(412, "DryRunOperation", DRY_RUN_MSG)
            pool = ([self.instances[i] for i in ids] if ids
                    else self.instances.values())
            matching = sorted((inst for inst in pool if inst.seq > after and
                               _matches(inst, filters, self.region)),
                              key=lambda inst: inst.seq)
            page = matching if page_size is None else matching[:page_size]
            reservations = {}
            for inst in page:
                reservations.setdefault(inst.reservation_id, []).append(
                    _instance_xml(inst, self.region))
        out = ["<reservationSet>"]
        for rid, items in reservations.items():
            out.append("<item><reservationId>%s</reservationId>"
                       "<ownerId>%s</ownerId><groupSet/><instancesSet>%s"
                       "</instancesSet></item>"
                       % (rid, OWNER_ID, "".join(items)))
        out.append("</reservationSet>")
        if len(page) < len(matching):
            out.append("<nextToken>%s</nextToken>"
                       % self._encode_token(page[-1].seq, query_hash))
        return "".join(out)

    def _query_hash(self, params):
        ignored = ("Action", "Version", "NextToken", "MaxResults", "DryRun")
        query = sorted((k, v) for k, v in params.items() if k not in ignored)
        return hashlib.sha256(json.dumps(query).encode()).hexdigest()[:16]

    def _encode_token(self, after_seq, query_hash):
        payload = "%d.%s" % (after_seq, query_hash)
        mac = hmac.new(self._token_key, payload.encode(),
                       hashlib.sha256).hexdigest()[:32]
        return base64.urlsafe_b64encode(
            ("%s.%s" % (payload, mac)).encode()).decode()

    def _decode_token(self, token, query_hash):
        invalid = Ec2Error(400, "InvalidPaginationToken",
                           "Invalid pagination token")
        try:
            seq, token_hash, mac = base64.urlsafe_b64decode(
                token.encode()).decode("ascii").split(".")
            payload = "%s.%s" % (seq, token_hash)
            expected = hmac.new(self._token_key, payload.encode(),
                                hashlib.sha256).hexdigest()[:32]
        except (ValueError, UnicodeError):
            raise invalid from None
        if not hmac.compare_digest(mac, expected) or token_hash != query_hash:
            raise invalid
        return int(seq)

    def _state_change(self, params, now, start):
        ids = _instance_ids(params, required=True)
        dry_run = _bool_param(params, "DryRun")
        for flag in ("Force", "Hibernate"):
            _bool_param(params, flag)
        verb = "started" if start else "stopped"
        with self.lock:
            self.advance(now)
            missing = [i for i in ids if i not in self.instances]
            if missing:
                raise _not_found(missing)
            for iid in ids:
                state = self.instances[iid].state
                if not start and state == "pending":
                    raise Ec2Error(400, "IncorrectInstanceState",
                                   "The instance '%s' cannot be stopped as "
                                   "it has never reached the 'running' "
                                   "state." % iid)
                if state in ("terminated", "shutting-down") or (
                        start and state == "stopping"):
                    raise Ec2Error(400, "IncorrectInstanceState",
                                   "The instance '%s' is not in a state from "
                                   "which it can be %s." % (iid, verb))
            if dry_run:
                raise Ec2Error(412, "DryRunOperation", DRY_RUN_MSG)
            if start and self._take_ice(ids):
                raise Ec2Error(500, "InsufficientInstanceCapacity",
                               "Insufficient capacity.")
            items = []
            for iid in ids:
                inst = self.instances[iid]
                previous = inst.state
                if start and previous == "stopped":
                    inst.state = "pending"
                    inst.launch_time = ms(now)
                elif not start and previous == "running":
                    inst.state = "stopping"
                    inst.stopped_at = now
                if inst.state != previous:
                    inst.transition_at = now + self.delays[inst.state]
                    self._transitioning.add(iid)
                items.append("<item><instanceId>%s</instanceId>%s%s</item>"
                             % (iid, _state_xml("currentState", inst.state),
                                _state_xml("previousState", previous)))
        return "<instancesSet>%s</instancesSet>" % "".join(items)

    def start_instances(self, params, now):
        return self._state_change(params, now, start=True)

    def stop_instances(self, params, now):
        return self._state_change(params, now, start=False)

    def _tag_request(self, params, create):
        resources = list(dict.fromkeys(_indexed(params, "ResourceId")))
        if not resources:
            raise Ec2Error(400, "MissingParameter",
                           "The request must contain the parameter "
                           "ResourceId")
        for rid in resources:
            if not rid.startswith("i-"):
                raise Ec2Error(400, "InvalidID",
                               "The ID '%s' is not valid" % rid)
            if not INSTANCE_ID_RE.match(rid):
                raise Ec2Error(400, "InvalidInstanceID.Malformed",
                               'Invalid id: "%s"' % rid)
        numbers = sorted({int(m.group(1)) for k in params
                          for m in [re.match(r"Tag\.(\d+)\.", k)] if m})
        tags = []
        for n in numbers:
            key = params.get("Tag.%d.Key" % n)
            if key is None:
                raise Ec2Error(400, "MissingParameter",
                               "The request must contain the parameter "
                               "Tag.%d.Key" % n)
            if key.startswith("aws:"):
                raise bad_param("Tag keys starting with 'aws:' are reserved "
                                "for internal use")
            value = params.get("Tag.%d.Value" % n)
            if len(key) > 127 or (value is not None and len(value) > 256):
                raise bad_param("Tag key must be at most 127 and value at "
                                "most 256 characters long")
            tags.append((key, value))
        if create and not tags:
            raise Ec2Error(400, "MissingParameter",
                           "The request must contain the parameter Tag")
        return resources, tags, _bool_param(params, "DryRun")

    def create_tags(self, params, now):
        resources, tags, dry_run = self._tag_request(params, create=True)
        with self.lock:
            missing = [r for r in resources if r not in self.instances]
            if missing:
                raise _not_found(missing)
            for rid in resources:
                keys = set(self.instances[rid].tags) | {k for k, _ in tags}
                if len(keys) > MAX_TAGS:
                    raise Ec2Error(400, "TagLimitExceeded",
                                   "The maximum number of Tags for a "
                                   "resource has been reached.")
            if dry_run:
                raise Ec2Error(412, "DryRunOperation", DRY_RUN_MSG)
            for rid in resources:
                for key, value in tags:
                    self.instances[rid].tags[key] = value or ""
        return "<return>true</return>"

    def delete_tags(self, params, now):
        resources, tags, dry_run = self._tag_request(params, create=False)
        with self.lock:
            missing = [r for r in resources if r not in self.instances]
            if missing:
                raise _not_found(missing)
            if dry_run:
                raise Ec2Error(412, "DryRunOperation", DRY_RUN_MSG)
            for rid in resources:
                inst_tags = self.instances[rid].tags
                if not tags:
                    inst_tags.clear()
                for key, value in tags:
                    if key in inst_tags and value in (None, inst_tags[key]):
                        del inst_tags[key]
        return "<return>true</return>"

    # -- IMDS --

    def imds_token(self, ttl_header, now):
        with self.lock:
            self.imds_counts["token_requests"] += 1
            if ttl_header is None or not re.match(r"\d+\Z", ttl_header) or \
                    not 1 <= int(ttl_header) <= 21600:
                return None
            token = base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()
            self.imds_tokens[token] = now + int(ttl_header)
            return token

    def imds_token_valid(self, token, now):
        with self.lock:
            expiry = self.imds_tokens.get(token)
            return expiry is not None and now < expiry

    def imds_credentials(self, now):
        with self.lock:
            self.imds_counts["credential_requests"] += 1
            self._imds_key_counter += 1
            expires = math.ceil(now + self.imds_lifetime)
            cred = Credential(
                "ASIAEC2SIM%010d" % self._imds_key_counter, _new_secret(),
                "IQoJb3JpZ2luX2VjE" + base64.b64encode(
                    secrets.token_bytes(600)).decode(), expires)
            self.credentials[cred.access_key_id] = cred
        return {"Code": "Success", "LastUpdated": iso_s(now),
                "Type": "AWS-HMAC", "AccessKeyId": cred.access_key_id,
                "SecretAccessKey": cred.secret_access_key,
                "Token": cred.session_token, "Expiration": iso_s(expires)}

    # -- control API --

    def instance_json(self, inst):
        return {"id": inst.id, "name": inst.tags.get("Name"),
                "state": inst.state, "state_code": STATE_CODES[inst.state],
                "tags": dict(inst.tags), "private_ip": inst.private_ip,
                "public_ip": inst.public_ip if inst.state == "running"
                else None,
                "launch_time": iso_ms(inst.launch_time),
                "instance_type": inst.instance_type,
                "reservation_id": inst.reservation_id}

    def control(self, method, parts, body, now):
        """Serve /_sim/PARTS...; returns (status, JSON text).

        The result is serialised while the lock is held, so it is a
        consistent snapshot.  Raises ControlError.
        """
        with self.lock:
            self.advance(now)
            status, result = self._control(method, parts, body, now)
            return status, json.dumps(result)

    def _control(self, method, parts, body, now):
        route = (method, parts[0] if parts else "", len(parts))
        if route == ("GET", "instances", 1):
            return 200, [self.instance_json(i)
                         for i in self.instances.values()]
        if route == ("POST", "instances", 1):
            inst = self.add_instance(body, _random_hex_id("r-"), now)
            return 200, self.instance_json(inst)
        if route == ("POST", "instances", 2):
            return 200, self._update_instance(parts[1], body, now)
        if route == ("POST", "generate", 1):
            return 200, self._generate(body, now)
        if route == ("GET", "faults", 1):
            return 200, self.faults
        if route == ("POST", "faults", 1):
            return 200, self._add_fault(body)
        if route == ("DELETE", "faults", 1):
            self.faults.clear()
            return 200, self.faults
        if route == ("GET", "counts", 1):
            return 200, self.counts
        if route == ("GET", "requests", 1):
            return 200, list(self.requests)
        if route in (("POST", "counts", 2), ("POST", "requests", 2)) \
                and parts[1] == "reset":
            getattr(self, parts[0]).clear()
            return 200, {}
        if route == ("POST", "imds", 1):
            self._configure_imds(body)
        if route[1:] == ("imds", 1) and method in ("GET", "POST"):
            return 200, dict(self.imds_counts, enabled=self.imds_enabled,
                             forbidden=self.imds_forbidden,
                             lifetime_s=self.imds_lifetime)
        if route == ("POST", "delays", 1):
            _check_keys(body, ("pending", "stopping"), "delays")
            for key, value in body.items():
                self.delays[key] = _check_number(value, key)
        if route[1:] == ("delays", 1) and method in ("GET", "POST"):
            return 200, dict(self.delays)
        if route == ("POST", "credentials", 1):
            return 200, self.add_credential(body)
        if route == ("GET", "clock", 1):
            return 200, {"now": iso_ms(now), "epoch": now}
        raise ControlError(404, "no such control endpoint: %s /_sim/%s"
                           % (method, "/".join(parts)))

    def _update_instance(self, iid, body, now):
        inst = self.instances.get(iid)
        if inst is None:
            raise ControlError(404, "no instance %s" % iid)
        _check_keys(body, ("launch_time", "tags", "state"), "update")
        state = body.get("state")
        if state is not None and state not in ("running", "stopped",
                                               "terminated"):
            raise ControlError(400, "state must be running, stopped or "
                                    "terminated")
        try:
            launch_time = (parse_iso(body["launch_time"])
                           if "launch_time" in body else None)
        except ValueError as e:
            raise ControlError(400, str(e)) from None
        tags = _check_tags(body["tags"], iid) if "tags" in body else None
        if state is not None:
            self._set_state(inst, state, now)
        if launch_time is not None:
            inst.launch_time = launch_time
        if tags is not None:
            inst.tags = tags
        return self.instance_json(inst)

    def _generate(self, body, now):
        _check_keys(body, ("prefix", "count", "state", "tags",
                           "instance_type"), "generate")
        prefix = body.get("prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ControlError(400, "generate needs a prefix")
        spec = {"name": prefix + "-worker",
                "state": body.get("state", "running"),
                "tags": body.get("tags", {})}
        if "instance_type" in body:
            spec["instance_type"] = body["instance_type"]
        reservation = _random_hex_id("r-")
        ids = [self.add_instance(spec, reservation, now).id
               for _ in range(_check_count(body.get("count"), "count", 1))]
        return {"ids": ids}

    def _add_fault(self, body):
        _check_keys(body, ("action", "kind", "count", "seconds", "ids"),
                    "fault")
        kind = body.get("kind")
        if kind not in FAULT_KINDS:
            raise ControlError(400, "kind must be one of %s"
                               % ", ".join(sorted(FAULT_KINDS)))
        action = body.get("action", "StartInstances" if kind == "ice"
                          else "*")
        if action != "*" and action not in ACTIONS:
            raise ControlError(400, "unknown action %r" % (action,))
        if kind == "ice" and action not in ("*", "StartInstances"):
            raise ControlError(400, "ice faults apply to StartInstances")
        fault = {"action": action, "kind": kind,
                 "remaining": _check_count(body.get("count", 1), "count", 1)}
        if "seconds" in body or kind == "latency":
            if kind != "latency":
                raise ControlError(400, "seconds is for latency faults")
            fault["seconds"] = _check_number(body.get("seconds", 1.0),
                                             "seconds")
        if "ids" in body:
            ids = body["ids"]
            if kind != "ice" or not isinstance(ids, list) or not all(
                    isinstance(i, str) for i in ids):
                raise ControlError(400, "ids is a list of instance ids for "
                                        "ice faults")
            fault["ids"] = ids
        self.faults.append(fault)
        return self.faults

    def _configure_imds(self, body):
        _check_keys(body, ("lifetime_s", "enabled", "forbidden"), "imds")
        if "forbidden" in body:
            if not isinstance(body["forbidden"], bool):
                raise ControlError(400, "forbidden must be true or false")
            self.imds_forbidden = body["forbidden"]
        if "lifetime_s" in body:
            self.imds_lifetime = _check_number(body["lifetime_s"],
                                               "lifetime_s", 1.0)
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise ControlError(400, "enabled must be true or false")
            self.imds_enabled = body["enabled"]


ACTIONS = {
    "DescribeInstances": (
        re.compile(r"(InstanceId\.\d+|Filter\.\d+\.Name|Filter\.\d+\.Value"
                   r"\.\d+|MaxResults|NextToken|DryRun)\Z"),
        Ec2Sim.describe_instances),
    "StartInstances": (
        re.compile(r"(InstanceId\.\d+|AdditionalInfo|DryRun)\Z"),
        Ec2Sim.start_instances),
    "StopInstances": (
        re.compile(r"(InstanceId\.\d+|Force|Hibernate|DryRun)\Z"),
        Ec2Sim.stop_instances),
    "CreateTags": (
        re.compile(r"(ResourceId\.\d+|Tag\.\d+\.(Key|Value)|DryRun)\Z"),
        Ec2Sim.create_tags),
    "DeleteTags": (
        re.compile(r"(ResourceId\.\d+|Tag\.\d+\.(Key|Value)|DryRun)\Z"),
        Ec2Sim.delete_tags),
}


# --------------------------------------------------------------------------
# HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""

    def do_GET(self):
        self._route()

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, fmt, *args):
        sys.stderr.write("ec2sim: %s %s\n" % (self.address_string(),
                                              fmt % args))

    def _send(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self):
        """Close the connection without answering."""
        self.close_connection = True

    def _route(self):
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urllib.parse.urlsplit(self.path)
        try:
            if split.path == "/_sim" or split.path.startswith("/_sim/"):
                self._handle_control(sim, split.path, body)
            elif split.path.startswith("/latest/"):
                self._handle_imds(sim, split.path)
            elif self.command in ("GET", "POST"):
                self._handle_ec2(sim, split, body)
            else:
                self._send(405, b"", "text/plain")
        except Exception:
            traceback.print_exc()
            self._send(500, b"internal emulator error\n", "text/plain")

    # -- control API --

    def _handle_control(self, sim, path, body):
        parts = [p for p in path.split("/")[2:] if p]
        try:
            data = json.loads(body) if body.strip() else {}
            status, text = sim.control(self.command, parts, data,
                                       time.time())
        except json.JSONDecodeError as e:
            status, text = 400, json.dumps({"error": "bad JSON: %s" % e})
        except ControlError as e:
            status, text = e.status, json.dumps({"error": e.message})
        self._send(status, text.encode(), "application/json")

    # -- IMDS --

    def _handle_imds(self, sim, path):
        now = time.time()
        with sim.lock:
            enabled = sim.imds_enabled
            forbidden = sim.imds_forbidden
        if not enabled:
            self._drop()
            return
        if forbidden:
            self._send(403, b"Forbidden\n", "text/plain")
            return
        if path == "/latest/api/token":
            if self.command != "PUT":
                self._send(405, b"", "text/plain")
                return
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            token = sim.imds_token(ttl, now)
            if token is None:
                self._send(400, b"Bad Request\n", "text/plain")
            else:
                self._send(200, token.encode(), "text/plain",
                           [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
            return
        if self.command != "GET":
            self._send(405, b"", "text/plain")
            return
        if not sim.imds_token_valid(
                self.headers.get("X-aws-ec2-metadata-token"), now):
            self._send(401, b"Unauthorized\n", "text/plain")
            return
        base = "/latest/meta-data/iam/security-credentials"
        if path in (base, base + "/"):
            self._send(200, ROLE_NAME.encode(), "text/plain")
        elif path == "%s/%s" % (base, ROLE_NAME):
            doc = json.dumps(sim.imds_credentials(now), indent=2).encode()
            self._send(200, doc, "text/plain")
        else:
            self._send(404, b"Not Found\n", "text/plain")

    # -- EC2 --

    def _handle_ec2(self, sim, split, body):
        now = time.time()
        query_pairs = urllib.parse.parse_qsl(split.query,
                                             keep_blank_values=True)
        pairs = list(query_pairs)
        if self.command == "POST":
            pairs += urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                            keep_blank_values=True)
        params = dict(pairs)
        action = params.get("Action")
        try:
            credential = verify_sigv4(self.command, split.path, query_pairs,
                                      self.headers.items(), body, sim.region,
                                      sim.lookup_credential, now)
        except Ec2Error as e:
            sim.record(action, params, None, e.status, e.code, now)
            self._send_ec2(e.status, error_xml(e).encode())
            return
        access_key = credential.access_key_id
        kind = None
        try:
            if action is None:
                raise Ec2Error(400, "MissingAction",
                               "The request must contain the parameter "
                               "Action")
            if "Version" not in params:
                raise Ec2Error(400, "MissingParameter",
                               "The request must contain the parameter "
                               "Version")
            if action not in ACTIONS:
                raise Ec2Error(400, "InvalidAction",
                               "The action %s is not valid for this web "
                               "service." % action)
            fault = sim.take_fault(action)
            kind = fault["kind"] if fault else None
            if kind in ERROR_FAULTS:
                raise Ec2Error(*ERROR_FAULTS[kind])
            if kind == "drop":
                sim.record(action, params, access_key, None, "fault:drop",
                           now)
                self._drop()
                return
            if kind in ("malformed", "bad_bytes"):
                sim.record(action, params, access_key, 200,
                           "fault:" + kind, now)
                self._send_ec2(200, MALFORMED_BODY if kind == "malformed"
                               else BAD_BYTES_BODY)
                return
            if kind == "latency":
                time.sleep(fault["seconds"])
            status, error = 200, None
            xml = sim.call(action, params, time.time())
        except Ec2Error as e:
            status, error, xml = e.status, e.code, error_xml(e)
        payload = xml.encode()
        if kind in ("truncated", "short_body"):
            error = "fault:" + kind
        sim.record(action, params, access_key, status, error, now)
        if kind == "truncated":
            self._send_ec2(status, payload[:len(payload) // 2])
        elif kind == "short_body":
            self.send_response(status)
            self.send_header("Content-Type", "text/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[:len(payload) // 2])
            self._drop()
        else:
            self._send_ec2(status, payload)

    def _send_ec2(self, status, payload):
        self._send(status, payload, "text/xml;charset=UTF-8",
                   [("x-amzn-RequestId", str(uuid.uuid4()))])


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, port, sim):
        self.sim = sim
        super().__init__(("127.0.0.1", port), Handler)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="EC2 Query API and IMDSv2 test double")
    parser.add_argument("--seed", required=True, help="seed JSON file")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--region")
    parser.add_argument("--pending-delay", type=float)
    parser.add_argument("--stopping-delay", type=float)
    args = parser.parse_args(argv)

    try:
        with open(args.seed, encoding="utf-8") as f:
            seed = json.load(f)
    except (OSError, ValueError) as e:
        parser.error("cannot read seed file %s: %s" % (args.seed, e))
    try:
        _check_keys(seed, SEED_KEYS, "seed")
        delays = seed.get("delays", {})
        _check_keys(delays, ("pending", "stopping"), "delays")
        pending = (args.pending_delay if args.pending_delay is not None else
                   _check_number(delays.get("pending", DEFAULT_DELAY),
                                 "pending"))
        stopping = (args.stopping_delay if args.stopping_delay is not None
                    else _check_number(delays.get("stopping", DEFAULT_DELAY),
                                       "stopping"))
        region = args.region or seed.get("region") or DEFAULT_REGION
        if not isinstance(region, str):
            raise ControlError(400, "region must be a string")
        sim = Ec2Sim(region, pending, stopping)
        sim.load_seed(seed, time.time())
    except ControlError as e:
        parser.error("bad seed file %s: %s" % (args.seed, e.message))

    server = Server(args.port, sim)

    def on_signal(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write(json.dumps({"port": server.server_address[1],
                                 "region": region}) + "\n")
    sys.stdout.flush()
    sys.stderr.write("ec2sim: listening on 127.0.0.1:%d, region %s, %d "
                     "instances\n" % (server.server_address[1], region,
                                      len(sim.instances)))
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
