"""Start and talk to the emulators in tests/sim/ as subprocesses.

Every emulator prints one JSON line {"port": N, ...} on stdout once it
listens on 127.0.0.1, and serves its control API under /_sim/ without
authentication.  Tests and scripts use SimProcess to start one, wait for that
line (with a bound, never a sleep), call the control API and stop it.
"""
import json
import os
import select
import subprocess
import time
import urllib.request

PYTHON = "/usr/bin/python3"
SIM_DIR = os.path.dirname(os.path.abspath(__file__))


class SimProcess:
    def __init__(self, argv, env=None, ready_timeout=15.0, log_path=None,
                 new_session=False):
        """new_session: run the emulator in a session of its own, out of
        reach of the terminal's Ctrl-C (scripts/demo stops it itself)."""
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env,
                                     start_new_session=new_session)
        self.info = self._read_ready(ready_timeout)
        self.port = self.info["port"]
        self.url = "http://127.0.0.1:%d" % self.port

    def _read_ready(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError("emulator did not report its port in time")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    rc = self.proc.wait()
                    raise RuntimeError("emulator exited with %s before "
                                       "reporting its port" % rc)
                buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])

    def ctl(self, method, path, body=None, timeout=10.0):
        """Call the control API; path is relative to /_sim/."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_sim/" + path.lstrip("/"),
                                     data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self._log is not subprocess.DEVNULL:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
