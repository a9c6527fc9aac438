#!/usr/bin/python3
"""Whole-process and socket benchmarks of ec2-managerd and ec2ctl, each
figure printed next to its reference measured in the same run (issue 16).

Starts the EC2 and Opencast emulators (one cluster "bench" of N instances,
linked so that running Opencast instances are registered hosts) and the
daemon on 127.0.0.1 / a temporary socket, waits until its status shows
Opencast reachable, then measures:

  1. `ec2ctl bench status --json`, whole process, against bench/min_client
     sending the very bytes ec2ctl sends (captured through a proxy socket)
     and writing the reply to stdout; runs alternate (bench_spawn).
     Target: ec2ctl within 1.3x of min_client.
  2. status replies/s with CLIENTS connections, one request in flight each,
     and the p50/p99 round trip, against bench/trivial_server answering
     every line with the same reply bytes; the same generator
     (bench_socket) drives both, ROUNDS times alternately; medians.
     Targets: >= 45,000 replies/s, p99 <= 2 ms, >= 75 % of the trivial
     server's rate.

Everything it starts is stopped at the end.  Use a release build:

  meson setup build-rel -Dbuildtype=release && ninja -C build-rel
  bench/ctl_bench.py --build build-rel [--runs 300] [--instances 20]
                     [--clients 32] [--seconds 5] [--rounds 5]
                     [--compare EC2CTL] [--no-socket] [--no-spawn]

With --compare EC2CTL, a second ec2ctl binary (say, one built before a
change) is timed in the same alternation.  Exit status 0 whether or not the
targets are met (the figures say); 1 when the set-up failed.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

import benchlib

ROOT = benchlib.ROOT


def wait(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the set-up")
        time.sleep(0.05)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs (%s), load average %s" % (
        os.cpu_count(), model, " ".join("%.2f" % x for x in os.getloadavg()))


def read_line(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("the daemon closed the connection")
        buf += chunk
    return buf


def capture_request(ctl, daemon_sock, tmp, env):
    """The exact request line `ec2ctl bench status --json` sends: ec2ctl
    talks to a proxy socket that records the line and passes the daemon's
    reply back."""
    path = os.path.join(tmp, "capture.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def serve():
        conn, _ = srv.accept()
        line = read_line(conn)
        got["line"] = line
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(daemon_sock)
        up.sendall(line)
        conn.sendall(read_line(up))
        up.close()
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    subprocess.run([ctl, "--socket", path, "bench", "status", "--json"],
                   env=env, stdout=subprocess.DEVNULL, check=True,
                   timeout=20)
    t.join(20)
    srv.close()
    return got["line"].rstrip(b"\n").decode()


def socket_run(bs, sock, clients, seconds):
    p = subprocess.run([bs, sock, "bench", str(clients), "1", str(seconds)],
                       capture_output=True, text=True, check=True)
    m = re.search(r"result replies_per_s=(\S+) p50_ms=(\S+) p99_ms=(\S+)",
                  p.stdout)
    return tuple(float(x) for x in m.groups())


def verdict(ok):
    return "meets the target" if ok else "MISSES the target"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare", metavar="EC2CTL")
    ap.add_argument("--no-socket", action="store_true")
    ap.add_argument("--no-spawn", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    workers = max(a.instances - 4, 1)
    print("machine: %s" % machine())
    print("build: %s" % build)
    with benchlib.Bench(build, {"admin": 1, "engage": 1, "db": 1, "nfs": 1,
                                "workers": workers,
                                "workers_running": workers // 2},
                        oc_settings={"registration_delay_s": 0}) as b:
        tmp, env, sock = b.tmp, b.env, b.sock
        # The running admin, engage and workers register as hosts before
        # the daemon's first refresh reads them.
        wait(lambda: len([h for h in b.oc.ctl("GET", "state")["hosts"]
                          if h["online"]]) >= 2 + workers // 2)
        b.start_daemon()
        ctl = os.path.join(build, "ctl", "ec2ctl")
        bench = os.path.join(build, "bench")

        def status():
            p = subprocess.run([ctl, "--socket", sock, "bench", "status",
                                "--json"], capture_output=True, text=True,
                               env=env)
            if p.returncode != 0:
                return None
            # The reply line as the daemon sent it, or (older ec2ctl)
            # its result alone.
            st = json.loads(p.stdout.splitlines()[-1])
            return st.get("result", st)

        def ready():
            st = os.path.exists(sock) and status()
            return st and st["opencast"]["reachable"] and all(
                i["mh_host"] for i in st["instances"]
                if i["state"] == "running" and
                i["role"] in ("admin", "worker", "engage"))

        try:
            wait(ready)
        except SystemExit:
            print(json.dumps(status(), indent=1)[:3000], file=sys.stderr)
            raise
        line = capture_request(ctl, sock, tmp, env)
        reply = subprocess.run([os.path.join(bench, "min_client"), sock,
                                line], capture_output=True, check=True,
                               env=env).stdout
        print("cluster: %d instances; request %d bytes, status reply %d "
              "bytes" % (len(status()["instances"]), len(line) + 1,
                         len(reply)))
        if not a.no_spawn:
            cmds = [[ctl, "--socket", sock, "bench", "status", "--json"]]
            if a.compare:
                cmds.append([a.compare] + cmds[0][1:])
            cmds.append([os.path.join(bench, "min_client"), sock, line])
            argv = [os.path.join(bench, "bench_spawn"), str(a.runs)]
            for c in cmds:
                argv += ["--"] + c
            print("\n1. whole process, alternating (the last is the "
                  "reference):")
            out = subprocess.run(argv, capture_output=True, text=True,
                                 env=env, check=True).stdout
            print(out, end="")
            ratio = float(re.search(r"([\d.]+)x the last", out).group(1))
            print("   ec2ctl / min_client = %.2f (target <= 1.30): %s" %
                  (ratio, verdict(ratio <= 1.3)))
        if not a.no_socket:
            rfile = os.path.join(tmp, "reply.bin")
            with open(rfile, "wb") as f:
                f.write(reply)
            tsock = os.path.join(tmp, "trivial.sock")
            b.spawn([os.path.join(bench, "trivial_server"), tsock, rfile])
            wait(lambda: os.path.exists(tsock))
            bs = os.path.join(bench, "bench_socket")
            print("\n2. status replies/s, %d clients, one request in flight "
                  "each, %d s x %d rounds alternating:" % (
                      a.clients, a.seconds, a.rounds))
            dm, tv = [], []
            for r in range(a.rounds):
                dm.append(socket_run(bs, sock, a.clients, a.seconds))
                tv.append(socket_run(bs, tsock, a.clients, a.seconds))
                print("   round %d: daemon %.0f/s p50 %.3f ms p99 %.3f ms; "
                      "trivial %.0f/s p50 %.3f ms p99 %.3f ms" % (
                          r + 1, *dm[-1], *tv[-1]))
            med = [statistics.median(x[i] for x in dm) for i in range(3)]
            tmed = [statistics.median(x[i] for x in tv) for i in range(3)]
            share = med[0] / tmed[0]
            print("   daemon : median %.0f replies/s, p50 %.3f ms, p99 "
                  "%.3f ms" % tuple(med))
            print("   trivial: median %.0f replies/s, p50 %.3f ms, p99 "
                  "%.3f ms (reference)" % tuple(tmed))
            print("   rate >= 45000/s: %s; p99 <= 2 ms: %s; share of the "
                  "trivial server %.0f %% (target >= 75 %%): %s" % (
                      verdict(med[0] >= 45000), verdict(med[2] <= 2.0),
                      share * 100, verdict(share >= 0.75)))


if __name__ == "__main__":
    main()
