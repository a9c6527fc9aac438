#!/usr/bin/python3
"""zadarasim: a test double of the Zadara provisioning portal's VPSA API.

It answers the calls the ec2-manager daemon makes to hibernate and resume a
Zadara VPSA (storage array) with the paths, shapes, status codes and state
transitions known from the clients that used the real portal (see
/work/shared/reference/aws-ec2-api.md §6, cited as "ref §6"), and offers a
control API under /_sim/ that tests use to arrange arrays, delays and
faults.  Stdlib only; run it with Debian's /usr/bin/python3.

Command line
------------
  /usr/bin/python3 tests/sim/zadarasim.py --token TOKEN [--port 0]
      [--seed FILE.json]

It listens on 127.0.0.1:PORT (0 = any free port), prints exactly one line
{"port": N} to stdout once listening and logs only to stderr afterwards (the
token never appears in its log: a token= query parameter is masked).
SIGTERM or SIGINT stops it at once.  A seed it cannot apply makes it exit
with status 2 before listening.

Portal endpoints (ref §6)
-------------------------
  GET  /api/vpsas.json              {"vpsas": [VPSA, ...]} sorted by id
  GET  /api/vpsas/<id>.json         {"vpsa": VPSA}
  POST /api/vpsas/<id>/hibernate.json  200 {"response": "VPSA being put
                                    into hibernating state."}
  POST /api/vpsas/<id>/restore.json    200 {"response": "VPSA restoring."}
A VPSA is the object of the zadarest.py test fixture: allocation_zones,
cache, description, drive_count, drives, engine, id (a number), ip_address,
locked_down, management_url ("https://vpsa-%08d-aws2.zadaravpsa.com" % id
unless set), name, provider, status, time_created_gmt (when the VPSA was
added), version; the fixture's initial_passcode is left out.  JSON
answers are "application/json; charset=utf-8".  The body of a POST is
ignored (clients send none, with Content-Length: 0).  A request with
Transfer-Encoding gets 411, one with a bad Content-Length 400 (both JSON
{"error": ...}, connection closed).

Any other path or method gets 404 {"status": 404, "error": "Not Found"}
without an authentication check (routing comes first, as in Rails); a
known route with an id that names no VPSA gets the same 404 after it.

Authentication: the account token, as an "X-Token" header (zadarest.py) or
a "token" query parameter (ec2-management).  When both are sent the header
is the one checked.  A missing or wrong token gets
401 {"error": "You need to sign in or sign up before continuing."}.

Status transitions (ref §6)
---------------------------
  hibernate: created -> hibernate_offlining -> hibernating -> hibernated
  restore:   hibernated -> launching -> booting -> created
Each phase lasts its configured delay (seed "delays" or POST /_sim/delays:
a list of [status, seconds] pairs per action; the default is
[["hibernate_offlining", 1.0], ["hibernating", 1.0]] and
[["launching", 1.0], ["booting", 1.0]]).  Any status names may be used in
the phases (e.g. "restoring"); an empty list makes the change immediate.
Time is evaluated on every read, so the phases are exact.

Refusals and the double restore.  UNVERIFIED: the real portal's answers to
these were never captured; the texts and codes below are this emulator's
choice.
  - hibernate of a VPSA that is not "created": 400
    {"error": "Cannot hibernate VPSA <id>: its status is <status>."}
  - restore of a VPSA that is launching, booting or restoring (a restore in
    progress, also when that status was set through the control API): the
    request is accepted (200, "VPSA restoring.") and the VPSA goes to
    "failed" at once, its transition abandoned.  An operator note says
    that two concurrent restores can drive a VPSA to "failed" (ref §6).
  - any other restore of a VPSA that is not "hibernated": 400
    {"error": "Cannot restore VPSA <id>: its status is <status>."}
"failed" is final until the control API changes the status.

Seed file (--seed)
------------------
  {"vpsas": [VPSA spec, ...], "delays": {...as POST /_sim/delays...}}
Every key is optional.  A VPSA spec is
  id (required, an integer > 0), name (default "vpsa-<id>"), status
  (default "created"; any non-empty string), ip_address (default
  "10.0.<id / 256 % 256>.<id % 256>"), management_url (default as above),
  description (default "Description for vpsa <name>").
Posting an existing id updates only the given keys; a given status ends
any transition in progress.

Control API (JSON, no authentication, never logged, never faulted)
------------------------------------------------------------------
  GET    /_sim/state            {"vpsas": [VPSA + "transition"], "delays":
                                {...}, "faults": [...]}; "transition" is
                                null or {"action": "hibernate"|"restore",
                                "phases": [[status, until_epoch_s], ...],
                                "final": status, "stuck": bool}
  POST   /_sim/vpsas            VPSA spec -> the VPSA (as the portal shows
                                it, plus "transition")
  DELETE /_sim/vpsas?id=N       forget a VPSA -> 204 (404 if unknown)
  POST   /_sim/delays           {"hibernate": [[status, s], ...],
                                "restore": [...]} (either or both) -> all
                                delays; applies to transitions started
                                afterwards
  POST   /_sim/faults           {"path": P, "kind": K, "count": 1,
                                "seconds": 1} -> {"faults": [...]}
  DELETE /_sim/faults           drop pending faults -> 204
  GET    /_sim/requests         [{"ts", "method", "path", "query",
                                "status", "token_in", "fault",
                                "content_type", "content_length"}] oldest
                                first, the last 10000 portal requests;
                                query has any token value replaced by
                                "REDACTED"; status null = dropped;
                                token_in is "query" when the query carried
                                a token (whether or not a header did too),
                                else "header" when an X-Token header was
                                sent, else null; fault = the kind applied
                                or null; content_type and content_length
                                are the request's headers (or null)
  POST   /_sim/requests/reset   empty the log -> 204
Bad input gets 400 {"error": "..."}; unknown keys are errors.  Any other
/_sim/ path or method gets 404 {"error": "no such control call"}.

Faults (POST /_sim/faults)
--------------------------
A fault is consumed by each of the next "count" portal requests whose path
equals "path" ("*": any path) and that pass authentication.  Several faults
queue up in order; the first matching one applies.  Kinds:
  "5xx"        500 with the portal's HTML error page; not processed
  "503"        503 with a proxy's HTML page; not processed
  "latency"    processed and logged at once, the answer sent "seconds"
               (default 1) later (so a client that times out may find the
               action done)
  "malformed"  processed; 200 application/json with the real answer's body
               cut in half
  "drop"       the connection is closed without any answer; not processed
  "stuck"      only consumed by a hibernate or restore POST (other requests
               pass it by): the request is answered normally, but the
               transition it starts never leaves its last phase (e.g.
               "booting"; with no phases configured, "hibernating" or
               "booting"), until the control API sets a status.  A POST that
               starts no transition (400, or the double restore) uses it up
               without effect.
"""
import argparse
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections import deque, namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_DELAYS = {
    "hibernate": [["hibernate_offlining", 1.0], ["hibernating", 1.0]],
    "restore": [["launching", 1.0], ["booting", 1.0]],
}
FINAL = {"hibernate": "hibernated", "restore": "created"}
RESTORING = ("launching", "booting", "restoring")
FAULT_KINDS = ("5xx", "503", "latency", "malformed", "drop", "stuck")
FAULT_KEYS = {"path", "kind", "count", "seconds"}
VPSA_KEYS = {"id", "name", "status", "ip_address", "management_url",
             "description"}
REQUEST_LOG_MAX = 10000
JSON_TYPE = "application/json; charset=utf-8"
UNAUTHORIZED = "You need to sign in or sign up before continuing."

Response = namedtuple("Response", "status content_type body")


def log(fmt, *args):
    sys.stderr.write("zadarasim: " + (fmt % args) + "\n")
    sys.stderr.flush()


def mask_token(text):
    """Mask the value of any token= parameter in a URL or request line."""
    return re.sub(r"(token=)[^&\s]*", r"\1REDACTED", text)


def json_response(obj, status=200):
    return Response(status, JSON_TYPE,
                    json.dumps(obj, separators=(",", ":")).encode())


def not_found():
    return json_response({"status": 404, "error": "Not Found"}, 404)


FAULT_PAGES = {
    "5xx": Response(500, "text/html; charset=utf-8", (
        "<!DOCTYPE html>\n<html>\n<head>\n  <title>We're sorry, but "
        "something went wrong (500)</title>\n</head>\n<body>\n  <h1>We're "
        "sorry, but something went wrong.</h1>\n</body>\n</html>\n"
    ).encode()),
    "503": Response(503, "text/html", (
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title>"
        "</head>\r\n<body>\r\n<center><h1>503 Service Temporarily "
        "Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n").encode()),
}


class BadRequest(Exception):
    """A control API call or seed entry that cannot be applied."""


def expect(condition, message):
    if not condition:
        raise BadRequest(message)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_keys(spec, allowed, what):
    expect(isinstance(spec, dict), "%s must be a JSON object" % what)
    unknown = sorted(set(spec) - allowed)
    expect(not unknown, "unknown %s keys: %s" % (what, ", ".join(unknown)))


def check_vpsa_spec(spec):
    check_keys(spec, VPSA_KEYS, "vpsa")
    vid = spec.get("id")
    expect(isinstance(vid, int) and not isinstance(vid, bool) and vid > 0,
           "id must be an integer > 0")
    for key in VPSA_KEYS - {"id"}:
        expect(key not in spec or (isinstance(spec[key], str)
                                   and spec[key] != ""),
               "%s must be a non-empty string" % key)


def parse_delays(spec):
    check_keys(spec, set(DEFAULT_DELAYS), "delays")
    out = {}
    for action, phases in spec.items():
        expect(isinstance(phases, list), "%s must be a list" % action)
        for phase in phases:
            expect(isinstance(phase, list) and len(phase) == 2
                   and isinstance(phase[0], str) and phase[0]
                   and is_number(phase[1]) and phase[1] >= 0,
                   "%s phases must be [status, seconds >= 0]" % action)
        out[action] = [[status, float(secs)] for status, secs in phases]
    return out


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
    seconds = spec.get("seconds", 1)
    expect(is_number(seconds) and seconds >= 0, "seconds must be >= 0")


def parse_json_body(body):
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequest("body is not JSON: %s" % exc) from None


class Vpsa:
    def __init__(self, vid, now):
        self.id = vid
        self.name = "vpsa-%d" % vid
        self.status = "created"
        self.ip_address = "10.0.%d.%d" % (vid // 256 % 256, vid % 256)
        self.management_url = None
        self.description = None
        self.created = now
        self.action = None      # the transition in progress, if any
        self.phases = []        # [[status, until], ...] still to go
        self.stuck = False

    def apply(self, spec):
        for key in ("name", "ip_address", "management_url", "description"):
            if key in spec:
                setattr(self, key, spec[key])
        if "status" in spec:
            self.status = spec["status"]
            self.action, self.phases, self.stuck = None, [], False

    def start(self, action, delays, now, stuck):
        t = now
        self.phases = []
        for status, secs in delays[action]:
            t += secs
            self.phases.append([status, t])
        if stuck:
            if not self.phases:
                self.phases = [[DEFAULT_DELAYS[action][-1][0], 0]]
            self.phases[-1][1] = float("inf")
        self.action, self.stuck = action, stuck
        self.advance(now)

    def advance(self, now):
        if self.action is None:
            return
        while self.phases and now >= self.phases[0][1]:
            self.phases.pop(0)
        if self.phases:
            self.status = self.phases[0][0]
        else:
            self.status = FINAL[self.action]
            self.action, self.stuck = None, False

    def portal_view(self):
        """The object as the portal shows it (zadarest.py fixture)."""
        return {
            "allocation_zones": ["zone_0"],
            "cache": {"total_partitions": 1, "total_gb": 20,
                      "gb_from_engine": 20, "partitions_from_engine": 1},
            "description": self.description
            or "Description for vpsa %s" % self.name,
            "drive_count": 3,
            "drives": ["SAS_300GB_15KRPM"] * 3,
            "engine": {"key": "vsa.V2.xlarge.vf", "name": "1200",
                       "specs": "12 CPUs, 48GB RAM"},
            "id": self.id,
            "ip_address": self.ip_address,
            "locked_down": False,
            "management_url": self.management_url
            or "https://vpsa-%08d-aws2.zadaravpsa.com" % self.id,
            "name": self.name,
            "provider": {"key": "aws2",
                         "name": "AWS US East (N. Virginia) 2"},
            "status": self.status,
            "time_created_gmt": time.strftime("%Y-%m-%d %H:%M:%S",
                                              time.gmtime(self.created)),
            "version": "Z2",
        }

    def state_view(self):
        view = self.portal_view()
        view["transition"] = None
        if self.action:
            view["transition"] = {
                "action": self.action, "final": FINAL[self.action],
                "stuck": self.stuck,
                "phases": [[s, None if u == float("inf") else u]
                           for s, u in self.phases]}
        return view


class Simulator:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Lock()
        self.vpsas = {}
        self.delays = {k: [list(p) for p in v]
                       for k, v in DEFAULT_DELAYS.items()}
        self.faults = []
        self.requests = deque(maxlen=REQUEST_LOG_MAX)
        self.control_routes = {
            ("GET", "/_sim/state"): self.ctl_state,
            ("POST", "/_sim/vpsas"): self.ctl_post_vpsa,
            ("DELETE", "/_sim/vpsas"): self.ctl_delete_vpsa,
            ("POST", "/_sim/delays"): self.ctl_post_delays,
            ("POST", "/_sim/faults"): self.ctl_post_faults,
            ("DELETE", "/_sim/faults"): self.ctl_delete_faults,
            ("GET", "/_sim/requests"): self.ctl_requests,
            ("POST", "/_sim/requests/reset"): self.ctl_reset_requests,
        }

    # -- seed and control API --------------------------------------------

    def load_seed(self, seed):
        check_keys(seed, {"vpsas", "delays"}, "seed")
        if "delays" in seed:
            self.delays.update(parse_delays(seed["delays"]))
        vpsas = seed.get("vpsas", [])
        expect(isinstance(vpsas, list), "vpsas must be a list")
        for spec in vpsas:
            self._apply_vpsa(spec, time.time())

    def _apply_vpsa(self, spec, now):
        check_vpsa_spec(spec)
        vpsa = self.vpsas.get(spec["id"])
        if vpsa is None:
            vpsa = self.vpsas[spec["id"]] = Vpsa(spec["id"], now)
        vpsa.advance(now)
        vpsa.apply(spec)
        return vpsa

    def control(self, method, path, query, body):
        handler = self.control_routes.get((method, path))
        if handler is None:
            return json_response({"error": "no such control call"}, 404)
        try:
            with self.lock:
                return handler(query, body)
        except BadRequest as exc:
            return json_response({"error": str(exc)}, 400)

    def _advance_all(self, now):
        for vpsa in self.vpsas.values():
            vpsa.advance(now)

    def ctl_state(self, query, body):
        self._advance_all(time.time())
        return json_response({
            "vpsas": [v.state_view() for _, v in sorted(self.vpsas.items())],
            "delays": self.delays, "faults": [dict(f) for f in self.faults]})

    def ctl_post_vpsa(self, query, body):
        vpsa = self._apply_vpsa(parse_json_body(body), time.time())
        return json_response(vpsa.state_view())

    def ctl_delete_vpsa(self, query, body):
        try:
            vid = int(query.get("id", [""])[0])
        except ValueError:
            raise BadRequest("id must be an integer") from None
        if self.vpsas.pop(vid, None) is None:
            return json_response({"error": "no VPSA %d" % vid}, 404)
        return Response(204, None, b"")

    def ctl_post_delays(self, query, body):
        self.delays.update(parse_delays(parse_json_body(body)))
        return json_response(self.delays)

    def ctl_post_faults(self, query, body):
        spec = parse_json_body(body)
        check_fault(spec)
        self.faults.append({"path": spec["path"], "kind": spec["kind"],
                            "count": int(spec.get("count", 1)),
                            "seconds": float(spec.get("seconds", 1))})
        return json_response({"faults": [dict(f) for f in self.faults]})

    def ctl_delete_faults(self, query, body):
        self.faults.clear()
        return Response(204, None, b"")

    def ctl_requests(self, query, body):
        return json_response(list(self.requests))

    def ctl_reset_requests(self, query, body):
        self.requests.clear()
        return Response(204, None, b"")

    # -- the portal ------------------------------------------------------

    @staticmethod
    def route(method, path):
        """(handler name, id text) for a portal route, or None."""
        if path == "/api/vpsas.json":
            return ("list", None) if method == "GET" else None
        m = re.fullmatch(r"/api/vpsas/([^/.]+)\.json", path)
        if m:
            return ("show", m.group(1)) if method == "GET" else None
        m = re.fullmatch(r"/api/vpsas/([^/.]+)/(hibernate|restore)\.json",
                         path)
        if m and method == "POST":
            return (m.group(2), m.group(1))
        return None

    def authenticate(self, headers, query):
        """(token_in, ok) for a request."""
        header = headers.get("X-Token")
        from_query = query.get("token", [None])[0]
        token_in = "query" if from_query is not None else (
            "header" if header is not None else None)
        given = header if header is not None else from_query
        return token_in, given is not None and given == self.token

    def take_fault(self, path, action):
        with self.lock:
            for fault in self.faults:
                if fault["path"] not in ("*", path):
                    continue
                if fault["kind"] == "stuck" and not action:
                    continue
                fault["count"] -= 1
                if fault["count"] == 0:
                    self.faults.remove(fault)
                return dict(fault)
        return None

    def serve(self, name, vid_text, stuck):
        with self.lock:
            now = time.time()
            if name == "list":
                self._advance_all(now)
                return json_response({"vpsas": [
                    v.portal_view() for _, v in sorted(self.vpsas.items())]})
            vpsa = self.vpsas.get(int(vid_text)) \
                if vid_text.isdigit() else None
            if vpsa is None:
                return not_found()
            vpsa.advance(now)
            if name == "show":
                return json_response({"vpsa": vpsa.portal_view()})
            if name == "hibernate":
                if vpsa.status != "created":
                    return self._refuse("hibernate", vpsa)
                vpsa.start("hibernate", self.delays, now, stuck)
                return json_response(
                    {"response": "VPSA being put into hibernating state."})
            if vpsa.action == "restore" or vpsa.status in RESTORING:
                log("second restore of VPSA %d while %s: now failed",
                    vpsa.id, vpsa.status)
                vpsa.apply({"status": "failed"})
                return json_response({"response": "VPSA restoring."})
            if vpsa.status != "hibernated":
                return self._refuse("restore", vpsa)
            vpsa.start("restore", self.delays, now, stuck)
            return json_response({"response": "VPSA restoring."})

    @staticmethod
    def _refuse(verb, vpsa):
        return json_response({"error": "Cannot %s VPSA %d: its status is "
                              "%s." % (verb, vpsa.id, vpsa.status)}, 400)

    def log_request(self, entry):
        with self.lock:
            self.requests.append(entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
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
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self.send(json_response({"error": "Content-Length required"},
                                    411))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self.send(json_response({"error": "bad Content-Length"}, 400))
            return
        body = self.rfile.read(length) if length > 0 else b""
        if split.path.startswith("/_sim/"):
            self.send(sim.control(method, split.path, query, body))
            return

        entry = {"ts": ts, "method": method, "path": split.path,
                 "query": mask_token(split.query), "status": None,
                 "token_in": None, "fault": None,
                 "content_type": self.headers.get("Content-Type"),
                 "content_length": self.headers.get("Content-Length")}
        route = sim.route(method, split.path)
        if route is None:
            self.finish_request(sim, entry, not_found())
            return
        entry["token_in"], ok = sim.authenticate(self.headers, query)
        if not ok:
            self.finish_request(sim, entry,
                                json_response({"error": UNAUTHORIZED}, 401))
            return
        name, vid_text = route
        fault = sim.take_fault(split.path, name in ("hibernate", "restore"))
        kind = fault["kind"] if fault else None
        entry["fault"] = kind
        if kind == "drop":
            self.close_connection = True
            sim.log_request(entry)
            return
        if kind in FAULT_PAGES:
            self.finish_request(sim, entry, FAULT_PAGES[kind])
            return
        response = sim.serve(name, vid_text, kind == "stuck")
        if kind == "malformed":
            response = Response(200, JSON_TYPE,
                                response.body[:max(1, len(response.body) // 2)])
        self.finish_request(sim, entry, response,
                            fault["seconds"] if kind == "latency" else 0)

    def finish_request(self, sim, entry, response, delay=0):
        # Logged before answering (and before a "latency" delay), so the log
        # is in the order requests were processed and a client that reads
        # it next sees its own request.
        entry["status"] = response.status
        sim.log_request(entry)
        if delay:
            time.sleep(delay)
        self.send(response)

    def send(self, response):
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            if response.status != 204:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.status != 204:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. it timed out during "latency").
            self.close_connection = True

    def log_message(self, fmt, *args):
        log("%s %s", self.address_string(), mask_token(fmt % args))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Test double of the Zadara provisioning portal.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True,
                        help="the account token the portal accepts")
    parser.add_argument("--seed", help="JSON file with vpsas and delays")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sim = Simulator(args.token)
    if args.seed:
        try:
            with open(args.seed, encoding="utf-8") as seed_file:
                sim.load_seed(json.load(seed_file))
        except (OSError, ValueError, BadRequest) as exc:
            log("bad seed %s: %s", args.seed, exc)
            return 2
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.sim = sim
    port = server.server_address[1]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    worker.start()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    log("listening on 127.0.0.1:%d", port)
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
