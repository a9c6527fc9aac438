#!/usr/bin/python3
"""A double of Loggly's HTTPS bulk endpoint, for tests/integration/test_loggly.py.

  POST https://127.0.0.1:HTTPS_PORT/bulk/TOKEN/tag/TAG[,TAG...]/
       body: one JSON event a line (text/plain)

Every request is recorded with its token, tags, raw body and the events it
carried.  The answer depends on the mode: "ok" (200 {"response":"ok"}),
"fail" (503) or "hold" (the request waits until POST /_sim/release or the
mode changes, at most 120 s, then is answered as the mode then says).  A
token other than --token gets 403, as Loggly answers.

The control API is plain HTTP on its own port (the one harness.py reads):

  GET  /_sim/requests        [{"path", "token", "tags", "content_type",
                               "status", "events", "body", "bad_lines"}]
  POST /_sim/requests/reset  -> 204
  POST /_sim/mode            {"mode": "ok"|"fail"|"hold"} -> 204
  POST /_sim/release         answer the held requests -> 204
  GET  /_sim/state           {"mode", "held"}

Started with --cert and --key (PEM) for TLS; prints
{"port": CONTROL_PORT, "https_port": HTTPS_PORT} once both listen.
"""
import argparse
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_MAX_S = 120


class State:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Condition()
        self.mode = "ok"
        self.generation = 0     # bumped by release and mode changes
        self.held = 0
        self.requests = []


class BulkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        sys.stderr.write("logglysim: " + (fmt % args) + "\n")

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("/")
        # "", "bulk", TOKEN, "tag", TAGS, ""
        if len(parts) != 6 or parts[1] != "bulk" or parts[3] != "tag" \
                or parts[5] != "":
            self.reply(404, {"error": "not a bulk path"})
            return
        events, bad = [], []
        for line in body.decode("utf-8", "replace").split("\n"):
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except ValueError:
                bad.append(line)
        rec = {"path": self.path, "token": parts[2],
               "tags": parts[4].split(","),
               "content_type": self.headers.get("Content-Type"),
               "body": body.decode("utf-8", "replace"),
               "events": events, "bad_lines": bad, "status": None}
        with st.lock:
            st.requests.append(rec)
            if st.mode == "hold":
                st.held += 1
                gen = st.generation
                st.lock.wait_for(lambda: st.generation != gen, HOLD_MAX_S)
                st.held -= 1
            mode = st.mode
            if parts[2] != st.token:
                status = 403
            elif mode == "fail":
                status = 503
            else:
                status = 200
            rec["status"] = status
        if status == 200:
            self.reply(200, {"response": "ok"})
        else:
            self.reply(status, {"response": "error"})


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        st = self.state
        with st.lock:
            if self.path == "/_sim/requests":
                self.reply(200, st.requests)
            elif self.path == "/_sim/state":
                self.reply(200, {"mode": st.mode, "held": st.held})
            else:
                self.reply(404, {"error": "no such control call"})

    def do_POST(self):
        st = self.state
        body = self.read_json()
        with st.lock:
            if self.path == "/_sim/requests/reset":
                st.requests = []
            elif self.path == "/_sim/mode" and \
                    body.get("mode") in ("ok", "fail", "hold"):
                st.mode = body["mode"]
                st.generation += 1
                st.lock.notify_all()
            elif self.path == "/_sim/release":
                st.generation += 1
                st.lock.notify_all()
            else:
                self.reply(404, {"error": "no such control call"})
                return
        self.reply(204)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--token", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args(argv)
    st = State(args.token)
    BulkHandler.state = st
    ControlHandler.state = st
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    bulk = ThreadingHTTPServer(("127.0.0.1", 0), BulkHandler)
    bulk.daemon_threads = True
    bulk.socket = ctx.wrap_socket(bulk.socket, server_side=True)
    ctl = ThreadingHTTPServer(("127.0.0.1", 0), ControlHandler)
    ctl.daemon_threads = True
    threading.Thread(target=bulk.serve_forever, daemon=True).start()
    print(json.dumps({"port": ctl.server_address[1],
                      "https_port": bulk.server_address[1]}), flush=True)
    ctl.serve_forever()


if __name__ == "__main__":
    main()
