#!/usr/bin/python3
"""ocsim: a test double of an Opencast admin node's REST API.

It answers the calls the ec2-manager daemon makes to Opencast with the shapes,
status codes and authentication behaviour of the real server (see
/work/shared/reference/opencast-api.md, cited below as "ref §N"), runs a small
job registry with a dispatcher, and offers a control API under /_sim/ that
tests use to arrange hosts, jobs, settings and faults.  Stdlib only; run it
with Debian's /usr/bin/python3.

Command line
------------
  /usr/bin/python3 tests/sim/ocsim.py [--port 0]
      [--user opencast_system_account] [--password CHANGE_ME]
      [--realm REALM] [--seed FILE.json] [--dispatch-interval 0.5]
      [--ec2-sim URL] [--host-port 8080]

It listens on 127.0.0.1:PORT (0 = any free port), prints exactly one line
{"port": N} to stdout once listening and logs only to stderr afterwards.
SIGTERM or SIGINT stops it at once.  --realm defaults to "Opencast", or
"Opencast Matterhorn" while the legacy setting is on.  --dispatch-interval is
the period in seconds of the dispatcher (it must be > 0; pause it with the
"dispatch" setting).  --ec2-sim enables linked mode (below); --host-port is the
port in the base_url of hosts registered in linked mode.

Authentication (ref §1, §7.1)
-----------------------------
HTTP Digest, MD5, qop="auth" (RFC 2617; the RFC 2069 form without qop is
accepted too), one user given by --user/--password with roles ROLE_ADMIN and
ROLE_SUDO.  Nonces are stateless, base64("<expiry-ms>:" + md5hex("<expiry-ms>:
opencast")), reusable with any nc until they expire (nonce_validity_s, default
300 s); the uri field is not compared with the request.  For every path
except /_sim/** and /login.html:
  - an "Authorization: Digest ..." header with the right user, password,
    realm and a valid nonce is served as that user; anything else wrong in it
    gets 401 with a fresh challenge; a correct digest over an expired nonce
    gets 401 with stale="true" added to the challenge;
  - without credentials, /info/** (legacy: /info/me.json only) is served to
    "anonymous" unless the anonymous filter is switched off by the request:
    by an X-Requested-Auth header (any value), or in legacy mode (MH1 to OC 8)
    only by a non-blank X-Opencast-Matterhorn-Authorization header;
  - otherwise "X-Requested-Auth: Digest" (exact value) gets 401 with
    WWW-Authenticate: Digest realm="<realm>", qop="auth", nonce="..." and an
    HTML body, and a request without it gets 302 to /login.html.  The legacy
    header alone therefore never earns a challenge, as in every real version.

Opencast endpoints
------------------
Every endpoint below is also served under /t/PREFIX/ (e.g.
/t/c07/services/hosts.json): one emulator then stands for many Opencast
servers, one per cluster, each listing only the hosts whose node name
starts with "PREFIX-", the jobs those hosts run and the jobs no host runs
yet (bench/rss_bench.py manages 50 clusters this way).  Digest
authentication covers the whole path, as a proxy prefix would on a real
server.
  GET  /info/me.json            user, userRole, roles, org (legacy: MH1 shape
                                with top-level username); anonymous: username
                                "anonymous", roles ["ROLE_ANONYMOUS"]
  GET  /services/hosts.json     active hosts (ref §3.2); legacy: base_url,
                                max_jobs, online, active, maintenance only
  GET  /services/services.json  ?serviceType=&host= filters; both given and
                                no match -> 404 (ref §3.3)
  GET  /services/statistics.json  one entry per registration of an active
                                host, sorted by type then host (ref §3.4)
  GET  /services/activeJobs.json  non-terminal jobs, oldest first (ref §3.8);
                                404 in legacy mode (added in OC 2.2)
  POST /services/maintenance    form host=<base_url>&maintenance=true
                                (ref §3.5) -> 204; unknown host -> 404
                                text/plain; another Content-Type -> 415
  GET  /services/count          ?serviceType=&status=&host=&operation= -> a
                                text/plain integer (ref §3.6); host or
                                operation without serviceType, host or
                                operation without status, or host with
                                operation -> 500; an unknown status -> 404
  GET  /services/currentload    text/xml (ref §3.9); 404 in legacy mode
  GET  /login.html              a static page, no authentication
A known path with another method gets 405; any other path 404 (after auth).

JSON shapes (ref §2).  Everything JAXB-backed goes through a Jettison-like
writer: the root element is the only key; a list of one is a bare object, an
empty list is "" (the inner key absent); null fields are omitted; each scalar
is written as Java's text and typed back from it the way Jettison does (so
max_load 8.0 -> 8, 4.5 -> 4.5, and a node_name "42" arrives as the number 42).
me.json is plain JSON with real arrays.

Hosts and services.  Every host has a role: "worker" registers composer
(/composer/ffmpeg), inspection (/inspection), videoeditor (/videoeditor) and
videosegmenter (/analysis/videosegmenter); "admin" registers workflow
(/workflow) and the light services caption, coverimage, execute, sox,
textanalyzer, timelinepreviews; "engage" registers search and
distribution.download.  A host spec may replace that list ("services").
Service fields: active, online and maintenance are the host's, jobproducer
true, service_state "NORMAL", onlinefrom/state_changed the registration time.

Job model (ref §4)
------------------
Jobs are QUEUED, DISPATCHING, RUNNING, RESTART or FINISHED; ids count up from
1001.  Every dispatch-interval the dispatcher
  1. finishes due jobs and promotes due DISPATCHING jobs (done lazily on every
     read as well, so durations are exact);
  2. heartbeat: an online host that is down (see below) and not in maintenance
     goes offline and its RUNNING/DISPATCHING jobs go to RESTART without a
     processingHost;
  3. unless the "dispatch" setting is off, takes QUEUED and RESTART jobs
     oldest first and gives each to the least loaded host that is active,
     online, up, not in maintenance, registers the job's type, and whose
     load + the job's load <= max_load.  A job heavier than the biggest such
     host's max_load goes to a biggest one that is idle.  Host load = sum of
     jobLoad of its DISPATCHING and RUNNING jobs, workflow jobs excluded
     (workflow jobs run on the admin, which registers that type).  In legacy
     mode every job weighs 1 against int(max_load), i.e. max_jobs.
A dispatched job is DISPATCHING with its processingHost for dispatching_s
seconds (default 0: RUNNING at once), then RUNNING (dateStarted, queueTime
set; a restarted job keeps its first dateStarted) for duration_s seconds, then
FINISHED (runTime set) and gone from activeJobs.json.  Jobs on a host that is
down make no progress.

A host is up or down besides its registry flags.  A host going down (POST
/_sim/hosts online=false, or its instance stopping in linked mode) that is not
in maintenance is a clean shutdown: online false, services offline, its jobs
RESTART at once.  A host in maintenance that goes down keeps looking online and
keeps its RUNNING jobs (the heartbeat skips it) until maintenance is switched
off (next heartbeat) or it comes back.  A host coming up (re)registers: online
true, onlinefrom now, its maintenance flag kept; jobs still RUNNING or
DISPATCHING on it go to RESTART.  A new host starts online with maintenance
false.  DELETE /_sim/hosts is disablehost: the row stays (active false,
maintenance kept), it vanishes from hosts/services/statistics/currentload and
gets no new jobs; "active": true in POST /_sim/hosts enables it again.

Statistics (ref §3.4): running = RUNNING jobs of that type processed on that
host; queued = QUEUED/DISPATCHING jobs of that type with that processor (the
dispatch backlog never shows); finished, meanruntime and meanqueuetime (ms)
over FINISHED jobs.  With jobstats off (default, as OC >= 12.11) all five are
0; in legacy mode they are always computed (MH1 had no switch).
count: no filter counts all jobs, FINISHED included; serviceType+host+status
counts jobs of that type with a processor that were created on host.

Linked mode (--ec2-sim URL)
---------------------------
Every 0.3 s GET URL/_sim/instances, a JSON list of objects with at least id,
name, state and private_ip.  Instances named as ec2-manager names Opencast
nodes (PREFIX-admin, PREFIX-worker, PREFIX-engage, optionally followed by
digits or "-anything": dev04-worker3, dev04-worker-b) map to the host http://<private_ip>:<host-port> (address
private_ip, node_name the instance name, role from the suffix; a new one gets
cores 4, max_load 4).  State "running": the host comes up registration_delay_s
after it was first seen running.  Any other state, or the instance leaving the
list: the host goes down.  Without --ec2-sim hosts come from the seed and the
control API only.

Seed file (--seed)
------------------
{"settings": {...as POST /_sim/settings...},
 "hosts": [{"base_url": "http://10.0.1.10:8080", "role": "admin", ...}],
 "jobs":  [{"type": "org.opencastproject.composer", "status": "RUNNING",
            "host": "http://10.0.1.11:8080", ...}]}
applied in that order; every key is optional.  A host spec is
  base_url (required, the identity), role ("worker" default, "admin",
  "engage"), address (default: the host part of base_url), node_name
  (default unset, i.e. omitted), memory (4294967296), cores (4), max_load
  (default cores), services (list of service types, default by role),
  online (true), maintenance (false), active (true).
Posting an existing base_url updates only the given keys; "online" makes the
host come up or go down as described above.  A job spec is
  type (required), load (default by type: composer 1.5, videoeditor 0.8,
  videosegmenter 0.3, inspection 0.2, else 0.1), duration_s (5), operation
  (default by type, e.g. "Encode"), args (list of strings, []), count (1),
  status ("QUEUED" default, or "RUNNING" which needs host = a registered
  base_url; such jobs start now).
Jobs of a type no host registers simply stay queued.  Jobs are created on the
first admin host (createdHost, and url = <it>/services/job/<id>.xml), or on
the emulator's own URL while there is no admin.

Control API (JSON, no authentication, never logged, never faulted)
------------------------------------------------------------------
  GET    /_sim/state            {"hosts": [...], "jobs": [...],
                                "settings": {...}} with internal fields
                                (host "up", "load", job "processing_host",
                                times as epoch seconds)
  POST   /_sim/hosts            host spec -> the host's state
  DELETE /_sim/hosts?base_url=X disablehost -> 204 (404 if unknown)
  POST   /_sim/jobs             job spec -> {"ids": [...]}
  DELETE /_sim/jobs             forget every job -> 204
  POST   /_sim/jobs/finish      {"host": base_url (optional)}: the RUNNING and
                                DISPATCHING jobs (of that host) finish now,
                                as if their work were done -> {"ids": [...]}
  POST   /_sim/settings         any subset of the settings -> all settings
  POST   /_sim/faults           {"path": P, "kind": K, "count": 1,
                                "seconds": 1, "for_s": S} -> {"faults": [...]}
  DELETE /_sim/faults           drop pending faults -> 204 (requests already
                                held stay held until released)
  GET    /_sim/held             {"held": N, "total": M}: requests waiting in a
                                "hold" fault now, and ever held
  POST   /_sim/release          answer every held request now ->
                                {"released": N}
  GET    /_sim/requests         [{"ts", "method", "path", "query", "status",
                                "user", "body"}] oldest first, the last 10000
                                non-control requests; status null = dropped;
                                user null = anonymous or not authenticated;
                                body = the text of a POST, else null
  POST   /_sim/requests/reset   empty the log and the counts -> 204
  GET    /_sim/counts           {"GET /services/activeJobs.json": n, ...}: the
                                requests that passed authentication (faulted
                                ones included, challenge round trips not)
Bad input gets 400 {"error": "..."}; unknown keys are errors.

Settings (all global, changeable at any time)
----------------------------------------------
  single_object  true   a one-element list is a bare object; false: arrays
  empty_string   true   an empty list is ""; false: {"host": []}
  string_numbers false  Jettison 1.3.1: XML attributes stay strings (job id,
                        version, type, status; the five statistics counters:
                        "running":"2") and "/" is written "\\/"
  jobstats       false  jobstats.collect: statistics counters are real
  legacy         false  Matterhorn 1.x: realm "Opencast Matterhorn" (unless
                        --realm), MH1 me.json and hosts, string_numbers
                        implied, statistics always counted, jobs weigh 1,
                        no activeJobs.json/currentload, legacy auth headers
  payload_bytes  0      each job in activeJobs.json carries a "payload"
                        string of that many characters
  nonce_validity_s 300  lifetime of nonces issued from now on
  registration_delay_s 1  linked mode: running -> registered delay
  dispatch       true   false pauses the dispatcher (running jobs go on)
  dispatching_s  0      how long a dispatched job stays DISPATCHING
  down_with_admin false the emulator is the admin node's API, so it goes down
                        with the admin: while admin hosts exist and none of
                        them is up (linked mode: its instance is stopping or
                        stopped, or not yet registered again), every
                        non-control request has its connection closed
                        without an answer (status null in the request log),
                        as a stopped Opencast's would

Faults (POST /_sim/faults)
--------------------------
A fault is consumed by each of the next "count" requests whose path equals
"path" ("*": any path) and that pass authentication, so a digest client's
unauthenticated first round trip does not use it up.  Several faults queue up
in order.  Kinds:
  "401"        401 with a fresh challenge although the credentials are good
  "5xx"        500 with an HTML body
  "503"        503 with an HTML body
  "latency"    sleep "seconds" (default 1), then answer normally
  "malformed"  200 application/json with a truncated JSON body
  "drop"       close the connection without any response
  "hold"       keep the request waiting, unanswered, until POST /_sim/release
               (or at most "seconds", default 60, when no "seconds" is
               given), then answer it normally: a server that is slow for as
               long as the test decides.  A client that gives up meanwhile
               just finds its connection answered late or not at all.
With "for_s" a fault is not counted but applies to every matching request
during the next for_s seconds from the moment it is queued (an outage of
that length: "503" with for_s 3 is Opencast answering 503 for 3 s and then
normally again); "count" is then not allowed.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import deque, namedtuple
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import quoteattr

# --- Opencast constants -----------------------------------------------------

WORKFLOW = "org.opencastproject.workflow"
COMPOSER = "org.opencastproject.composer"
INSPECTION = "org.opencastproject.inspection"
VIDEOEDITOR = "org.opencastproject.videoeditor"
VIDEOSEGMENTER = "org.opencastproject.videosegmenter"

SERVICE_PATHS = {
    WORKFLOW: "/workflow",
    COMPOSER: "/composer/ffmpeg",
    INSPECTION: "/inspection",
    VIDEOEDITOR: "/videoeditor",
    VIDEOSEGMENTER: "/analysis/videosegmenter",
    "org.opencastproject.caption": "/caption",
    "org.opencastproject.coverimage": "/cover-image",
    "org.opencastproject.execute": "/execute",
    "org.opencastproject.sox": "/sox",
    "org.opencastproject.textanalyzer": "/analysis/text",
    "org.opencastproject.timelinepreviews": "/timelinepreviews",
    "org.opencastproject.search": "/search",
    "org.opencastproject.distribution.download": "/distribution/download",
}

ROLE_SERVICES = {
    "admin": [WORKFLOW, "org.opencastproject.caption",
              "org.opencastproject.coverimage", "org.opencastproject.execute",
              "org.opencastproject.sox", "org.opencastproject.textanalyzer",
              "org.opencastproject.timelinepreviews"],
    "worker": [COMPOSER, INSPECTION, VIDEOEDITOR, VIDEOSEGMENTER],
    "engage": ["org.opencastproject.search",
               "org.opencastproject.distribution.download"],
}

DEFAULT_JOB_LOAD = 0.1
JOB_LOADS = {COMPOSER: 1.5, VIDEOEDITOR: 0.8, VIDEOSEGMENTER: 0.3,
             INSPECTION: 0.2}
DEFAULT_OPERATION = "Process"
OPERATIONS = {WORKFLOW: "START_OPERATION", COMPOSER: "Encode",
              INSPECTION: "Inspect", VIDEOEDITOR: "PROCESS_SMIL",
              VIDEOSEGMENTER: "Segment"}

# Job.Status names accepted by /services/count (MH1 spelled CANCELED and had
# no WAITING).
STATUS_NAMES = {"INSTANTIATED", "QUEUED", "PAUSED", "RUNNING", "FINISHED",
                "FAILED", "DELETED", "WAITING", "CANCELLED", "DISPATCHING",
                "RESTART"}
LEGACY_STATUS_NAMES = STATUS_NAMES - {"WAITING", "CANCELLED"} | {"CANCELED"}
ACTIVE = ("QUEUED", "DISPATCHING", "RUNNING", "RESTART")
ON_HOST = ("DISPATCHING", "RUNNING")
WAITING_FOR_DISPATCH = ("QUEUED", "RESTART")

ORG = {"id": "mh_default_org", "name": "Opencast Project",
       "adminRole": "ROLE_ADMIN", "anonymousRole": "ROLE_ANONYMOUS",
       "properties": {}}
ADMIN_ROLES = ["ROLE_ADMIN", "ROLE_SUDO"]
NONCE_KEY = "opencast"
LEGACY_AUTH_HEADER = "X-Opencast-Matterhorn-Authorization"
LEGACY_REALM = "Opencast Matterhorn"
NOT_FOUND_TEXT = "The resource you requested does not exist."
PAYLOAD_UNIT = ('<track type="presenter/source" id="track-1"><url>'
                'http://10.0.1.10:8080/files/mediapackage/mp-1/source.mp4'
                '</url></track>')

# PREFIX-ROLE, PREFIX-ROLE7 or PREFIX-ROLE-anything (the daemon's rule).
ROLE_NAME = re.compile(r"-(admin|worker|engage)(?:[0-9]|-|$)")
LINK_POLL_S = 0.3
TENANT_PATH = re.compile(r"^/t/([A-Za-z0-9_.-]+)(/.*)$")
REQUEST_LOG_MAX = 10000
LOAD_EPSILON = 1e-6

DEFAULT_SETTINGS = {
    "single_object": True, "empty_string": True, "string_numbers": False,
    "jobstats": False, "legacy": False, "payload_bytes": 0,
    "nonce_validity_s": 300.0, "registration_delay_s": 1.0,
    "dispatch": True, "dispatching_s": 0.0, "down_with_admin": False,
}
SETTING_TYPES = {"single_object": bool, "empty_string": bool,
                 "string_numbers": bool, "jobstats": bool, "legacy": bool,
                 "dispatch": bool, "payload_bytes": int,
                 "nonce_validity_s": float, "registration_delay_s": float,
                 "dispatching_s": float, "down_with_admin": bool}
FAULT_KINDS = ("401", "5xx", "503", "latency", "malformed", "drop", "hold")
HOST_KEYS = {"base_url", "role", "address", "node_name", "memory", "cores",
             "max_load", "services", "online", "maintenance", "active"}
JOB_KEYS = {"type", "load", "duration_s", "operation", "args", "count",
            "status", "host"}
FAULT_KEYS = {"path", "kind", "count", "seconds", "for_s"}


def log(fmt, *args):
    sys.stderr.write("ocsim: " + (fmt % args) + "\n")
    sys.stderr.flush()


# --- Jettison-like JSON writer (ref §2) --------------------------------------

class Attr:
    """A value that is an XML attribute in the JAXB class."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class XmlList:
    """A JAXB collection written as <item> elements (inside a wrapper)."""

    __slots__ = ("item", "items")

    def __init__(self, item, items):
        self.item = item
        self.items = items


INTEGER_RE = re.compile(r"-?[0-9]+")


def java_text(value):
    """The text JAXB writes for a Java value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Python's shortest repr equals Java's Float/Double.toString for the
        # plain decimals used here ("8.0", "1.5", "0.1").
        return repr(value)
    return str(value)


def jettison_primitive(text):
    """Type a text the way Jettison's DefaultConverter does.

    Long, then Double, then boolean; a conversion counts only if the value
    prints back as the same text.  Doubles are written with trailing zeros
    stripped, so 8.0 becomes 8.
    """
    if INTEGER_RE.fullmatch(text) and str(int(text)) == text \
            and -2 ** 63 <= int(text) < 2 ** 63:
        return int(text)
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and repr(number) == text:
        return int(number) if number.is_integer() else number
    if text in ("true", "false"):
        return text == "true"
    return text


def render(value, settings, string_attrs):
    """Turn a tree of dicts, XmlLists, Attrs and scalars into JSON values."""
    if isinstance(value, dict):
        return {key: render(item, settings, string_attrs)
                for key, item in value.items() if item is not None}
    if isinstance(value, XmlList):
        items = [render(item, settings, string_attrs) for item in value.items]
        if not items:
            return "" if settings["empty_string"] else {value.item: []}
        if len(items) == 1 and settings["single_object"]:
            return {value.item: items[0]}
        return {value.item: items}
    if isinstance(value, Attr):
        text = java_text(value.value)
        return text if string_attrs else jettison_primitive(text)
    return jettison_primitive(java_text(value))


def jettison_dumps(tree, settings):
    """Serialize a JAXB-like tree as Opencast's JSON provider would."""
    string_attrs = settings["string_numbers"] or settings["legacy"]
    text = json.dumps(render(tree, settings, string_attrs),
                      separators=(",", ":"), ensure_ascii=False)
    if string_attrs:
        text = text.replace("/", "\\/")
    return text


def xs_datetime(ts):
    """xs:dateTime in UTC with milliseconds only when non-zero."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    millis = moment.microsecond // 1000
    return (moment.strftime("%Y-%m-%dT%H:%M:%S")
            + (".%03d" % millis if millis else "") + "Z")


# --- HTTP Digest, server side (RFC 2617, Spring Security's rules) ------------

DIGEST_PARAM_RE = re.compile(
    r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def md5_hex(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def make_nonce(validity_s):
    expiry = int(time.time() * 1000 + validity_s * 1000)
    raw = "%d:%s" % (expiry, md5_hex("%d:%s" % (expiry, NONCE_KEY)))
    return base64.b64encode(raw.encode()).decode()


def parse_digest_params(text):
    params = {}
    for match in DIGEST_PARAM_RE.finditer(text):
        name, quoted, token = match.groups()
        params[name] = token if quoted is None else re.sub(r"\\(.)", r"\1",
                                                           quoted)
    return params


def check_digest(params, method, realm, user, password):
    """Return "ok", "stale" (right digest, expired nonce) or "bad"."""
    if any(not params.get(key) for key in
           ("username", "realm", "nonce", "uri", "response")):
        return "bad"
    qop = params.get("qop")
    if qop not in (None, "auth"):
        return "bad"
    if qop and not (params.get("nc") and params.get("cnonce")):
        return "bad"
    if params["realm"] != realm or params["username"] != user:
        return "bad"
    try:
        expiry, signature = base64.b64decode(
            params["nonce"], validate=True).decode().split(":")
    except ValueError:
        return "bad"
    if not expiry.isdigit() or signature != md5_hex(expiry + ":" + NONCE_KEY):
        return "bad"
    ha1 = md5_hex("%s:%s:%s" % (user, realm, password))
    ha2 = md5_hex("%s:%s" % (method, params["uri"]))
    if qop:
        expected = md5_hex(":".join((ha1, params["nonce"], params["nc"],
                                     params["cnonce"], qop, ha2)))
    else:
        expected = md5_hex("%s:%s:%s" % (ha1, params["nonce"], ha2))
    if not hmac.compare_digest(expected, params["response"]):
        return "bad"
    if int(expiry) < time.time() * 1000:
        return "stale"
    return "ok"


# --- Responses ---------------------------------------------------------------

Response = namedtuple("Response", "status content_type body headers")
Request = namedtuple("Request",
                     "method path query query_string body headers user")


def respond(status, content_type=None, body=b"", headers=()):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return Response(status, content_type, body, tuple(headers))


def json_response(obj, status=200):
    return respond(status, "application/json",
                   json.dumps(obj, separators=(",", ":")))


def text_response(status, text):
    return respond(status, "text/plain;charset=UTF-8", text)


def html_error(status, reason):
    return respond(status, "text/html;charset=ISO-8859-1",
                   "<html><head><title>Error %d %s</title></head><body>"
                   "<h2>HTTP ERROR %d</h2><p>Reason:<pre>    %s</pre></p>"
                   "</body></html>\n" % (status, reason, status, reason))


class BadRequest(Exception):
    """A control API call or seed entry that cannot be applied."""


class NotFound(Exception):
    """A control API call naming something that does not exist."""


# --- Validation of control input ---------------------------------------------

def expect(condition, message):
    if not condition:
        raise BadRequest(message)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_keys(spec, allowed, what):
    expect(isinstance(spec, dict), "%s must be a JSON object" % what)
    unknown = sorted(set(spec) - allowed)
    expect(not unknown, "unknown %s keys: %s" % (what, ", ".join(unknown)))


def check_host_spec(spec):
    check_keys(spec, HOST_KEYS, "host")
    url = spec.get("base_url")
    expect(isinstance(url, str) and re.fullmatch(r"https?://[^/\s]+", url),
           "base_url must look like http://HOST[:PORT]")
    expect(spec.get("role", "worker") in ROLE_SERVICES,
           "role must be one of %s" % ", ".join(ROLE_SERVICES))
    for key in ("address", "node_name"):
        expect(key not in spec or isinstance(spec[key], str),
               "%s must be a string" % key)
    for key in ("memory", "cores"):
        expect(key not in spec or (is_number(spec[key])
                                   and int(spec[key]) == spec[key] > 0),
               "%s must be a positive integer" % key)
    expect("max_load" not in spec or (is_number(spec["max_load"])
                                      and spec["max_load"] > 0),
           "max_load must be a positive number")
    for key in ("online", "maintenance", "active"):
        expect(key not in spec or isinstance(spec[key], bool),
               "%s must be a boolean" % key)
    services = spec.get("services", [])
    expect(isinstance(services, list)
           and all(service in SERVICE_PATHS for service in services),
           "services must list known service types: %s"
           % ", ".join(SERVICE_PATHS))


def check_job_spec(spec):
    check_keys(spec, JOB_KEYS, "job")
    expect(isinstance(spec.get("type"), str) and spec["type"],
           "type is required")
    for key in ("load", "duration_s"):
        expect(key not in spec or (is_number(spec[key]) and spec[key] >= 0),
               "%s must be a number >= 0" % key)
    count = spec.get("count", 1)
    expect(is_number(count) and int(count) == count >= 1,
           "count must be an integer >= 1")
    if "operation" in spec:
        expect(isinstance(spec["operation"], str) and spec["operation"],
               "operation must be a non-empty string")
    args = spec.get("args", [])
    expect(isinstance(args, list) and all(isinstance(a, str) for a in args),
           "args must be a list of strings")
    status = spec.get("status", "QUEUED")
    expect(status in ("QUEUED", "RUNNING"), "status must be QUEUED or RUNNING")
    expect(status == "QUEUED" or isinstance(spec.get("host"), str),
           "a RUNNING job needs host")


def parse_settings(spec):
    """Validate a settings update; return it with each value of its type."""
    check_keys(spec, set(SETTING_TYPES), "settings")
    for key, value in spec.items():
        if SETTING_TYPES[key] is bool:
            expect(isinstance(value, bool), "%s must be a boolean" % key)
        elif SETTING_TYPES[key] is int:
            expect(is_number(value) and int(value) == value >= 0,
                   "%s must be an integer >= 0" % key)
        else:
            expect(is_number(value) and value >= 0,
                   "%s must be a number >= 0" % key)
    return {key: SETTING_TYPES[key](value) for key, value in spec.items()}


def check_fault(spec):
    check_keys(spec, FAULT_KEYS, "fault")
    expect(isinstance(spec.get("path"), str)
           and (spec["path"] == "*" or spec["path"].startswith("/")),
           'path must be "*" or start with "/"')
    expect(spec.get("kind") in FAULT_KINDS,
           "kind must be one of %s" % ", ".join(FAULT_KINDS))
    count = spec.get("count", 1)
    expect(is_number(count) and int(count) == count >= 1,
           "count must be an integer >= 1")
    expect(is_number(spec.get("seconds", 1)) and spec.get("seconds", 1) >= 0,
           "seconds must be a number >= 0")
    if "for_s" in spec:
        expect(is_number(spec["for_s"]) and spec["for_s"] > 0,
               "for_s must be a number > 0")
        expect("count" not in spec, "give count or for_s, not both")


def parse_json_body(body):
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequest("body is not JSON: %s" % exc) from None


# --- The registry ------------------------------------------------------------

class Host:
    """A host registration plus whether the node is really up."""

    def __init__(self, base_url, role, now):
        self.base_url = base_url
        self.role = role
        self.services = list(ROLE_SERVICES[role])
        self.address = urllib.parse.urlsplit(base_url).hostname
        self.node_name = None
        self.memory = 4294967296
        self.cores = 4
        self.max_load = 4.0
        self.online = True
        self.active = True
        self.maintenance = False
        self.up = True
        self.online_from = now


class Job:
    def __init__(self, job_id, spec, created_host, now):
        self.id = job_id
        self.type = spec["type"]
        self.operation = spec.get("operation",
                                  OPERATIONS.get(self.type, DEFAULT_OPERATION))
        self.load = float(spec.get("load",
                                   JOB_LOADS.get(self.type, DEFAULT_JOB_LOAD)))
        self.duration_s = float(spec.get("duration_s", 5))
        self.args = list(spec.get("args", []))
        self.created_host = created_host
        self.created = now
        self.status = "QUEUED"
        self.version = 1
        self.processing_host = None
        self.dispatched = None   # when the current DISPATCHING phase began
        self.started = None      # dateStarted: the first start only
        self.run_from = None     # when the current run began
        self.completed = None
        self.queue_time_ms = 0
        self.run_time_ms = 0


class Simulator:
    """All emulator state; self.lock guards every attribute below."""

    def __init__(self, user, password, realm, host_port):
        self.user = user
        self.password = password
        self.realm_arg = realm
        self.host_port = host_port
        self.own_url = None
        self.lock = threading.Lock()
        self.tenant = threading.local()   # .prefix: see /t/PREFIX/
        self.settings = dict(DEFAULT_SETTINGS)
        self.hosts = {}          # base_url -> Host, in registration order
        self.jobs = {}           # id -> Job, in creation order
        self.next_job_id = 1001
        self.faults = []
        self.held = 0            # requests waiting in a "hold" fault
        self.held_total = 0
        self.release_gen = 0     # bumped by POST /_sim/release
        self.release_cond = threading.Condition(self.lock)
        self.requests = deque(maxlen=REQUEST_LOG_MAX)
        self.counts = {}
        self.pending = {}        # linked mode: base_url -> registration time
        self.linked = set()      # linked mode: base_urls listed last poll
        self.control_routes = {
            "/_sim/state": {"GET": self.ctl_state},
            "/_sim/hosts": {"POST": self.ctl_post_host,
                            "DELETE": self.ctl_delete_host},
            "/_sim/jobs": {"POST": self.ctl_post_jobs,
                           "DELETE": self.ctl_delete_jobs},
            "/_sim/settings": {"POST": self.ctl_post_settings},
            "/_sim/faults": {"POST": self.ctl_post_faults,
                             "DELETE": self.ctl_delete_faults},
            "/_sim/held": {"GET": self.ctl_held},
            "/_sim/release": {"POST": self.ctl_release},
            "/_sim/jobs/finish": {"POST": self.ctl_finish_jobs},
            "/_sim/requests": {"GET": self.ctl_requests},
            "/_sim/requests/reset": {"POST": self.ctl_reset_requests},
            "/_sim/counts": {"GET": self.ctl_counts},
        }
        self.routes = {
            "/login.html": ("GET", self.login_page),
            "/info/me.json": ("GET", self.me_json),
            "/services/hosts.json": ("GET", self.hosts_json),
            "/services/services.json": ("GET", self.services_json),
            "/services/statistics.json": ("GET", self.statistics_json),
            "/services/activeJobs.json": ("GET", self.active_jobs_json),
            "/services/maintenance": ("POST", self.maintenance),
            "/services/count": ("GET", self.count),
            "/services/currentload": ("GET", self.current_load),
        }

    # -- seed and control API -----------------------------------------------

    def load_seed(self, seed):
        check_keys(seed, {"settings", "hosts", "jobs"}, "seed")
        settings = parse_settings(seed.get("settings", {}))
        with self.lock:
            self.settings.update(settings)
            now = time.time()
            for spec in seed.get("hosts", []):
                check_host_spec(spec)
                self._apply_host(spec, now)
            for spec in seed.get("jobs", []):
                check_job_spec(spec)
                self._add_jobs(spec, now)

    def control(self, request):
        methods = self.control_routes.get(request.path.rstrip("/"))
        if methods is None:
            return json_response({"error": "no such control path"}, 404)
        if request.method not in methods:
            return json_response({"error": "method not allowed"}, 405)
        try:
            return methods[request.method](request)
        except BadRequest as exc:
            return json_response({"error": str(exc)}, 400)
        except NotFound as exc:
            return json_response({"error": str(exc)}, 404)

    def ctl_state(self, request):
        with self.lock:
            now = time.time()
            self._advance(now)
            loads = self._loads()
            hosts = [self._host_state(host, loads) for host in
                     self.hosts.values()]
            jobs = [self._job_state(job) for job in self.jobs.values()]
            return json_response({"hosts": hosts, "jobs": jobs,
                                  "settings": dict(self.settings)})

    def ctl_post_host(self, request):
        spec = parse_json_body(request.body)
        check_host_spec(spec)
        with self.lock:
            now = time.time()
            self._advance(now)
            host = self._apply_host(spec, now)
            return json_response(self._host_state(host, self._loads()))

    def ctl_delete_host(self, request):
        base_url = request.query.get("base_url", [""])[0]
        with self.lock:
            host = self.hosts.get(base_url)
            if host is None:
                raise NotFound("no host %s" % base_url)
            host.active = False
        return respond(204)

    def ctl_post_jobs(self, request):
        spec = parse_json_body(request.body)
        check_job_spec(spec)
        with self.lock:
            now = time.time()
            self._advance(now)
            return json_response({"ids": self._add_jobs(spec, now)})

    def ctl_delete_jobs(self, request):
        with self.lock:
            self.jobs.clear()
        return respond(204)

    def ctl_post_settings(self, request):
        settings = parse_settings(parse_json_body(request.body))
        with self.lock:
            self._advance(time.time())
            self.settings.update(settings)
            return json_response(dict(self.settings))

    def ctl_post_faults(self, request):
        spec = parse_json_body(request.body)
        check_fault(spec)
        default_s = 60 if spec["kind"] == "hold" else 1
        fault = {"path": spec["path"], "kind": spec["kind"],
                 "count": int(spec.get("count", 1)),
                 "seconds": float(spec.get("seconds", default_s))}
        if "for_s" in spec:
            fault["until"] = time.time() + float(spec["for_s"])
        with self.lock:
            self.faults.append(fault)
            return json_response({"faults": [dict(f) for f in self.faults]})

    def ctl_delete_faults(self, request):
        with self.lock:
            self.faults.clear()
        return respond(204)

    def api_down(self):
        """down_with_admin: no admin host is up (but some exist)."""
        with self.lock:
            if not self.settings["down_with_admin"]:
                return False
            admins = [h for h in self.hosts.values()
                      if h.role == "admin" and h.active]
            return bool(admins) and not any(h.up for h in admins)

    def ctl_held(self, request):
        with self.lock:
            return json_response({"held": self.held,
                                  "total": self.held_total})

    def ctl_release(self, request):
        with self.release_cond:
            n = self.held
            self.release_gen += 1
            self.release_cond.notify_all()
        return json_response({"released": n})

    def wait_release(self, seconds):
        """Blocks a "hold" request until released or seconds pass."""
        with self.release_cond:
            gen = self.release_gen
            self.held += 1
            self.held_total += 1
            try:
                self.release_cond.wait_for(lambda: self.release_gen != gen,
                                           timeout=seconds)
            finally:
                self.held -= 1

    def ctl_finish_jobs(self, request):
        spec = parse_json_body(request.body) or {}
        expect(isinstance(spec, dict), "body must be an object")
        check_keys(spec, {"host"}, "finish")
        host = spec.get("host")
        expect(host is None or isinstance(host, str),
               "host must be a string")
        with self.lock:
            now = time.time()
            self._advance(now)
            ids = []
            for job in self.jobs.values():
                if job.status in ON_HOST and job.processing_host and \
                        (host is None or job.processing_host == host):
                    if job.started is None:
                        job.started = now
                    job.status = "FINISHED"
                    job.version += 1
                    job.completed = now
                    job.run_time_ms = int((now - job.started) * 1000)
                    ids.append(job.id)
            return json_response({"ids": ids})

    def ctl_requests(self, request):
        with self.lock:
            return json_response(list(self.requests))

    def ctl_reset_requests(self, request):
        with self.lock:
            self.requests.clear()
            self.counts.clear()
        return respond(204)

    def ctl_counts(self, request):
        with self.lock:
            return json_response(dict(self.counts))

    # -- host and job life cycle (self.lock held) -----------------------------

    def _apply_host(self, spec, now):
        host = self.hosts.get(spec["base_url"])
        if host is None:
            host = Host(spec["base_url"], spec.get("role", "worker"), now)
            if "cores" in spec:
                host.max_load = float(spec["cores"])
            self.hosts[host.base_url] = host
        elif "role" in spec:
            host.role = spec["role"]
            host.services = list(ROLE_SERVICES[host.role])
        for key in ("address", "node_name", "services", "maintenance",
                    "active"):
            if key in spec:
                setattr(host, key, spec[key])
        for key in ("memory", "cores"):
            if key in spec:
                setattr(host, key, int(spec[key]))
        if "max_load" in spec:
            host.max_load = float(spec["max_load"])
        if spec.get("online") is True:
            self._host_up(host, now)
        elif spec.get("online") is False:
            self._host_down(host)
        return host

    def _host_up(self, host, now):
        """The node (re)starts and registers itself."""
        if host.up:
            return
        self._restart_jobs(host)
        host.up = True
        host.online = True
        host.online_from = now

    def _host_down(self, host):
        """The node goes away; see the module docstring for maintenance."""
        host.up = False
        if not host.maintenance:
            host.online = False
            self._restart_jobs(host)

    def _restart_jobs(self, host):
        for job in self.jobs.values():
            if job.processing_host == host.base_url and job.status in ON_HOST:
                job.status = "RESTART"
                job.processing_host = None
                job.version += 1

    def _add_jobs(self, spec, now):
        host = None
        if spec.get("status") == "RUNNING":
            host = self.hosts.get(spec["host"])
            expect(host is not None, "no host %s" % spec["host"])
        created_host = self._api_url()
        ids = []
        for _ in range(int(spec.get("count", 1))):
            job = Job(self.next_job_id, spec, created_host, now)
            self.next_job_id += 1
            self.jobs[job.id] = job
            if host is not None:
                job.processing_host = host.base_url
                self._start(job, now)
            ids.append(job.id)
        return ids

    def _api_url(self):
        """The admin node's base_url: createdHost and job URLs use it."""
        for host in self.hosts.values():
            if host.role == "admin" and host.active:
                return host.base_url
        return self.own_url

    def _start(self, job, when):
        job.status = "RUNNING"
        job.version += 1
        job.run_from = when
        if job.started is None:
            job.started = when
            job.queue_time_ms = int((when - job.created) * 1000)

    def _advance(self, now):
        """Apply every state change that is due by now."""
        dispatching_s = self.settings["dispatching_s"]
        for job in self.jobs.values():
            host = self.hosts.get(job.processing_host)
            if host is None or not host.up:
                continue
            if job.status == "DISPATCHING" \
                    and now >= job.dispatched + dispatching_s:
                self._start(job, job.dispatched + dispatching_s)
            if job.status == "RUNNING" \
                    and now >= job.run_from + job.duration_s:
                job.status = "FINISHED"
                job.version += 1
                job.completed = job.run_from + job.duration_s
                job.run_time_ms = int((job.completed - job.started) * 1000)

    def _heartbeat(self):
        for host in self.hosts.values():
            if host.active and host.online and not host.up \
                    and not host.maintenance:
                self._host_down(host)

    def _weight(self, job):
        return 1.0 if self.settings["legacy"] else job.load

    def _capacity(self, host):
        if self.settings["legacy"]:
            return float(int(host.max_load))
        return host.max_load

    def _loads(self, statuses=ON_HOST):
        """Per base_url: the load of its non-workflow jobs in statuses."""
        loads = dict.fromkeys(self.hosts, 0.0)
        for job in self.jobs.values():
            if job.status in statuses and job.type != WORKFLOW \
                    and job.processing_host in loads:
                loads[job.processing_host] += self._weight(job)
        return loads

    def _dispatch(self, now):
        loads = self._loads()
        waiting = sorted((job for job in self.jobs.values()
                          if job.status in WAITING_FOR_DISPATCH),
                         key=lambda job: (job.created, job.id))
        for job in waiting:
            candidates = [host for host in self.hosts.values()
                          if host.active and host.online and host.up
                          and not host.maintenance
                          and job.type in host.services]
            if not candidates:
                continue
            weight = self._weight(job)
            fitting = [host for host in candidates
                       if loads[host.base_url] + weight
                       <= self._capacity(host) + LOAD_EPSILON]
            if fitting:
                target = min(fitting, key=lambda host: loads[host.base_url])
            else:
                biggest = max(self._capacity(host) for host in candidates)
                idle = [host for host in candidates
                        if self._capacity(host) == biggest
                        and loads[host.base_url] == 0]
                if weight <= biggest or not idle:
                    continue
                target = idle[0]
            job.status = "DISPATCHING"
            job.version += 1
            job.processing_host = target.base_url
            job.dispatched = now
            if self.settings["dispatching_s"] == 0:
                self._start(job, now)
            if job.type != WORKFLOW:
                loads[target.base_url] += weight

    def run_dispatcher(self, interval, stop):
        while not stop.wait(interval):
            with self.lock:
                now = time.time()
                self._advance(now)
                self._heartbeat()
                if self.settings["dispatch"]:
                    self._dispatch(now)

    # -- linked mode ----------------------------------------------------------

    def run_linked(self, ec2_url, stop):
        url = ec2_url.rstrip("/") + "/_sim/instances"
        failing = False
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    instances = json.loads(resp.read())
                if not isinstance(instances, list):
                    raise ValueError("not a JSON list")
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if not failing:
                    log("cannot read %s: %s", url, exc)
                failing = True
            else:
                failing = False
                with self.lock:
                    now = time.time()
                    self._advance(now)
                    self._sync_instances(instances, now)
            if stop.wait(LINK_POLL_S):
                return

    def _sync_instances(self, instances, now):
        listed = set()
        for inst in instances:
            if not isinstance(inst, dict):
                continue
            name = inst.get("name") or ""
            m = ROLE_NAME.search(name)
            role = m.group(1) if m else None
            address = inst.get("private_ip")
            if role is None or not address:
                continue
            base_url = "http://%s:%d" % (address, self.host_port)
            listed.add(base_url)
            host = self.hosts.get(base_url)
            if inst.get("state") != "running":
                self.pending.pop(base_url, None)
                if host is not None and host.up:
                    self._host_down(host)
            elif host is not None and host.up:
                self.pending.pop(base_url, None)
            elif now >= self.pending.setdefault(
                    base_url, now + self.settings["registration_delay_s"]):
                del self.pending[base_url]
                spec = {"base_url": base_url, "address": address,
                        "node_name": name, "role": role, "online": True}
                if host is None:
                    spec["cores"] = 4
                self._apply_host(spec, now)
        for base_url in self.linked - listed:
            self.pending.pop(base_url, None)
            host = self.hosts.get(base_url)
            if host is not None and host.up:
                self._host_down(host)
        self.linked = listed

    # -- authentication -------------------------------------------------------

    def realm(self):
        if self.realm_arg is not None:
            return self.realm_arg
        return LEGACY_REALM if self.settings["legacy"] else "Opencast"

    def challenge(self, stale=False):
        with self.lock:
            realm = self.realm()
            nonce = make_nonce(self.settings["nonce_validity_s"])
        value = 'Digest realm="%s", qop="auth", nonce="%s"' % (realm, nonce)
        if stale:
            value += ', stale="true"'
        return html_error(401, "Full authentication is required to access "
                          "this resource")._replace(
                              headers=(("WWW-Authenticate", value),))

    def authenticate(self, method, path, headers):
        """Return (user, None) to serve, or (None, the refusal)."""
        with self.lock:
            legacy = self.settings["legacy"]
            realm = self.realm()
        authorization = headers.get("Authorization", "")
        if authorization[:7].lower() == "digest ":
            verdict = check_digest(parse_digest_params(authorization[7:]),
                                   method, realm, self.user, self.password)
            if verdict == "ok":
                return self.user, None
            return None, self.challenge(stale=verdict == "stale")
        if legacy:
            anonymous_path = path == "/info/me.json"
            anonymous_off = bool(headers.get(LEGACY_AUTH_HEADER, "").strip())
        else:
            anonymous_path = path.startswith("/info/")
            anonymous_off = headers.get("X-Requested-Auth") is not None
        if anonymous_path and not anonymous_off:
            return None, None
        if headers.get("X-Requested-Auth") == "Digest":
            return None, self.challenge()
        location = "/login.html"
        if headers.get("Host"):
            location = "http://%s/login.html" % headers["Host"]
        return None, respond(302, headers=(("Location", location),))

    # -- faults and the request log -------------------------------------------

    def take_fault(self, method, path):
        """Count a request that passed authentication; return its fault."""
        with self.lock:
            key = "%s %s" % (method, path)
            self.counts[key] = self.counts.get(key, 0) + 1
            now = time.time()
            self.faults = [f for f in self.faults
                           if "until" not in f or f["until"] > now]
            for fault in self.faults:
                if fault["path"] in ("*", path):
                    if "until" in fault:
                        return fault
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def log_request(self, ts, request, status, user):
        body = None
        if request.method == "POST":
            body = request.body.decode("utf-8", "replace")
        with self.lock:
            self.requests.append({
                "ts": ts, "method": request.method, "path": request.path,
                "query": request.query_string,
                "status": status, "user": user, "body": body})

    # -- Opencast endpoints ---------------------------------------------------

    def route(self, request):
        method, handler = self.routes.get(request.path, (None, None))
        if handler is None:
            return text_response(404, NOT_FOUND_TEXT)
        if request.method != method:
            return respond(405, headers=(("Allow", method),))
        with self.lock:
            self._advance(time.time())
            return handler(request)

    def login_page(self, request):
        return respond(200, "text/html;charset=UTF-8",
                       "<html><head><title>Opencast</title></head><body>"
                       '<form method="post" '
                       'action="/j_spring_security_check"></form>'
                       "</body></html>\n")

    def me_json(self, request):
        if request.user is None:
            username, name = "anonymous", "Anonymous"
            roles = ["ROLE_ANONYMOUS"]
        else:
            username, name, roles = request.user, "System User", ADMIN_ROLES
        if self.settings["legacy"]:
            return json_response({"username": username, "roles": roles,
                                  "org": ORG})
        user_role = "ROLE_USER_" + re.sub(r"[^A-Z0-9]", "_", username.upper())
        return json_response({
            "user": {"username": username, "name": name,
                     "provider": "opencast"},
            "userRole": user_role, "roles": roles, "org": ORG})

    def _jaxb(self, tree):
        return respond(200, "application/json",
                       jettison_dumps(tree, self.settings))

    def _active_hosts(self):
        prefix = getattr(self.tenant, "prefix", None)
        return [host for host in self.hosts.values() if host.active and (
            prefix is None or (host.node_name or "").startswith(
                prefix + "-"))]

    def _host_tree(self, host):
        if self.settings["legacy"]:
            return {"base_url": host.base_url, "max_jobs": int(host.max_load),
                    "online": host.online, "active": host.active,
                    "maintenance": host.maintenance}
        return {"base_url": host.base_url, "address": host.address,
                "node_name": host.node_name, "memory": host.memory,
                "cores": host.cores, "max_load": float(host.max_load),
                "online": host.online, "active": host.active,
                "maintenance": host.maintenance}

    def _service_tree(self, host, service_type):
        since = xs_datetime(host.online_from)
        return {"type": service_type, "host": host.base_url,
                "path": SERVICE_PATHS[service_type], "active": host.active,
                "online": host.online, "maintenance": host.maintenance,
                "jobproducer": True, "onlinefrom": since,
                "service_state": "NORMAL", "state_changed": since,
                "error_state_trigger": 0, "warning_state_trigger": 0}

    def _registrations(self):
        return [(host, service) for host in self._active_hosts()
                for service in host.services]

    def hosts_json(self, request):
        return self._jaxb({"hosts": XmlList(
            "host", [self._host_tree(host) for host in self._active_hosts()])})

    def services_json(self, request):
        service_type = request.query.get("serviceType", [""])[0]
        base_url = request.query.get("host", [""])[0]
        entries = [self._service_tree(host, service)
                   for host, service in self._registrations()
                   if service_type in ("", service)
                   and base_url in ("", host.base_url)]
        if service_type and base_url and not entries:
            return text_response(404, NOT_FOUND_TEXT)
        return self._jaxb({"services": XmlList("service", entries)})

    def statistics_json(self, request):
        counting = self.settings["jobstats"] or self.settings["legacy"]
        entries = []
        for host, service in sorted(self._registrations(),
                                    key=lambda reg: (reg[1], reg[0].base_url)):
            jobs = [job for job in self.jobs.values() if job.type == service
                    and job.processing_host == host.base_url]
            finished = [job for job in jobs if job.status == "FINISHED"]
            counters = [0, 0, len(finished),
                        sum(job.status == "RUNNING" for job in jobs),
                        sum(job.status in ("QUEUED", "DISPATCHING")
                            for job in jobs)]
            if finished:
                counters[0] = sum(j.run_time_ms for j in finished)
                counters[1] = sum(j.queue_time_ms for j in finished)
                counters[0] //= len(finished)
                counters[1] //= len(finished)
            if not counting:
                counters = [0] * 5
            names = ("meanruntime", "meanqueuetime", "finished", "running",
                     "queued")
            entry = {name: Attr(value) for name, value in zip(names, counters)}
            entry["serviceRegistration"] = self._service_tree(host, service)
            entries.append(entry)
        return self._jaxb({"statistics": XmlList("service", entries)})

    def _job_tree(self, job):
        payload_bytes = self.settings["payload_bytes"]
        payload = None
        if payload_bytes:
            repeats = payload_bytes // len(PAYLOAD_UNIT) + 1
            payload = (PAYLOAD_UNIT * repeats)[:payload_bytes]
        return {
            "id": Attr(job.id), "version": Attr(job.version),
            "type": Attr(job.type), "status": Attr(job.status),
            "creator": "admin", "organization": ORG["id"],
            "url": "%s/services/job/%d.xml" % (self._api_url(), job.id),
            "operation": job.operation, "args": XmlList("arg", job.args),
            "createdHost": job.created_host,
            "processingHost": job.processing_host,
            "dateCreated": xs_datetime(job.created),
            "dateStarted": xs_datetime(job.started) if job.started else None,
            "queueTime": job.queue_time_ms, "runTime": job.run_time_ms,
            "payload": payload, "dispatchable": True, "jobLoad": job.load,
            "blockingJobId": XmlList("jobId", []),
        }

    def active_jobs_json(self, request):
        if self.settings["legacy"]:
            return text_response(404, NOT_FOUND_TEXT)
        mine = None
        if getattr(self.tenant, "prefix", None) is not None:
            mine = {host.base_url for host in self._active_hosts()}
        jobs = sorted((job for job in self.jobs.values()
                       if job.status in ACTIVE and (
                           mine is None or job.processing_host is None
                           or job.processing_host in mine)),
                      key=lambda job: (job.created, job.id))
        return self._jaxb({"jobs": XmlList(
            "job", [self._job_tree(job) for job in jobs])})

    def maintenance(self, request):
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != \
                "application/x-www-form-urlencoded":
            return respond(415)
        form = urllib.parse.parse_qs(request.body.decode("utf-8", "replace"),
                                     keep_blank_values=True)
        host = self.hosts.get(form.get("host", [""])[0])
        if host is None:
            return text_response(404, NOT_FOUND_TEXT)
        host.maintenance = form.get("maintenance", [""])[0].lower() == "true"
        return respond(204)

    def count(self, request):
        def param(name):
            return request.query.get(name, [""])[0].strip()
        service_type, status = param("serviceType"), param("status")
        host, operation = param("host"), param("operation")
        names = STATUS_NAMES
        if self.settings["legacy"]:
            names = LEGACY_STATUS_NAMES
        if status and status not in names:
            return text_response(404, NOT_FOUND_TEXT)
        if not service_type and (host or operation):
            return text_response(500, "Service type must not be null")
        if (host or operation) and (not status or (host and operation)):
            return text_response(500, "service type, host, operation and "
                                 "status must be provided")
        jobs = [job for job in self.jobs.values()
                if service_type in ("", job.type)
                and status in ("", job.status)
                and operation in ("", job.operation)]
        if host:
            jobs = [job for job in jobs if job.processing_host is not None
                    and job.created_host == host]
        return text_response(200, str(len(jobs)))

    def current_load(self, request):
        if self.settings["legacy"]:
            return text_response(404, NOT_FOUND_TEXT)
        loads = self._loads(statuses=("RUNNING",))
        nodes = "".join(
            "<node host=%s currentLoad=\"%r\" maxLoad=\"%r\"/>"
            % (quoteattr(host.base_url),
               0.0 if host.maintenance else round(loads[host.base_url], 6),
               float(host.max_load))
            for host in self._active_hosts())
        body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<load xmlns="http://serviceregistry.opencastproject.org">'
                + ("<nodes>%s</nodes>" % nodes if nodes else "<nodes/>")
                + "</load>")
        return respond(200, "text/xml", body)

    # -- control API views (self.lock held) -----------------------------------

    def _host_state(self, host, loads):
        return {"base_url": host.base_url, "role": host.role,
                "address": host.address, "node_name": host.node_name,
                "memory": host.memory, "cores": host.cores,
                "max_load": host.max_load, "online": host.online,
                "active": host.active, "maintenance": host.maintenance,
                "up": host.up, "load": round(loads[host.base_url], 6),
                "services": list(host.services),
                "online_from": host.online_from}

    @staticmethod
    def _job_state(job):
        return {"id": job.id, "type": job.type, "operation": job.operation,
                "status": job.status, "load": job.load,
                "duration_s": job.duration_s, "args": list(job.args),
                "created_host": job.created_host,
                "processing_host": job.processing_host,
                "created": job.created, "started": job.started,
                "completed": job.completed}


FAULT_RESPONSES = {
    "5xx": html_error(500, "Server Error"),
    "503": html_error(503, "Service Unavailable"),
    "malformed": respond(200, "application/json",
                         '{"hosts":{"host":[{"base_url":"http:\\/\\/10.0.1.'),
}


# --- HTTP front end ----------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ocsim"
    sys_version = ""

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        sim = self.server.sim
        ts = time.time()
        split = urllib.parse.urlsplit(self.path)
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self.send(text_response(411, "Content-Length required"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self.send(text_response(400, "bad Content-Length"))
            return
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(method, split.path,
                          urllib.parse.parse_qs(split.query), split.query,
                          body, self.headers, None)
        if split.path.startswith("/_sim/"):
            self.send(sim.control(request))
            return
        if sim.api_down():
            self.close_connection = True
            sim.log_request(ts, request, None, None)
            return
        if split.path == "/login.html":
            user, refusal = None, None
        else:
            user, refusal = sim.authenticate(method, split.path, self.headers)
        if refusal is not None:
            sim.log_request(ts, request, refusal.status, None)
            self.send(refusal)
            return
        request = request._replace(user=user)
        tenant = TENANT_PATH.match(split.path)
        sim.tenant.prefix = tenant.group(1) if tenant else None
        if tenant:
            request = request._replace(path=tenant.group(2))
        fault = sim.take_fault(method, split.path)
        kind = fault["kind"] if fault else None
        if kind == "drop":
            self.close_connection = True
            sim.log_request(ts, request, None, user)
            return
        if kind == "latency":
            time.sleep(fault["seconds"])
        if kind == "hold":
            sim.wait_release(fault["seconds"])
        if kind == "401":
            response = sim.challenge()
        else:
            response = FAULT_RESPONSES.get(kind) or sim.route(request)
        # Logged before answering, so a client that reads the log next sees it.
        sim.log_request(ts, request, response.status, user)
        self.send(response)

    def send(self, response):
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        if response.status != 204:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204:
            self.wfile.write(response.body)

    def log_message(self, fmt, *args):
        log("%s %s", self.address_string(), fmt % args)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Test double of an Opencast admin node's REST API.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="opencast_system_account")
    parser.add_argument("--password", default="CHANGE_ME")
    parser.add_argument("--realm", default=None,
                        help='default "Opencast" ("Opencast Matterhorn" in '
                        "legacy mode)")
    parser.add_argument("--seed", help="JSON file with settings, hosts, jobs")
    parser.add_argument("--dispatch-interval", type=float, default=0.5)
    parser.add_argument("--ec2-sim", help="EC2 emulator URL (linked mode)")
    parser.add_argument("--host-port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.dispatch_interval <= 0:
        parser.error("--dispatch-interval must be > 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    sim = Simulator(args.user, args.password, args.realm, args.host_port)
    if args.seed:
        try:
            with open(args.seed, encoding="utf-8") as seed_file:
                sim.load_seed(json.load(seed_file))
        except (OSError, ValueError, BadRequest) as exc:
            log("bad seed %s: %s", args.seed, exc)
            return 2
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.sim = sim
    port = server.server_address[1]
    with sim.lock:
        sim.own_url = "http://127.0.0.1:%d" % port

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    workers = [threading.Thread(target=server.serve_forever,
                                kwargs={"poll_interval": 0.05}, daemon=True),
               threading.Thread(target=sim.run_dispatcher,
                                args=(args.dispatch_interval, stop),
                                daemon=True)]
    if args.ec2_sim:
        workers.append(threading.Thread(target=sim.run_linked,
                                        args=(args.ec2_sim, stop),
                                        daemon=True))
    for worker in workers:
        worker.start()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    log("listening on 127.0.0.1:%d", port)
    stop.wait()
    with sim.release_cond:           # held requests end with the emulator
        sim.release_gen += 1
        sim.release_cond.notify_all()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
