#!/usr/bin/python3
"""What a Prometheus scrape of ec2-managerd costs (issue 15): the daemon's
CPU time per GET /metrics (the time its loop is busy with it) and the
scrape's wall time, with CLUSTERS clusters of INSTANCES instances each, next
to the same figures for a `status` request of one cluster over the control
socket, measured in the same run.

Starts on 127.0.0.1, in a temporary directory: the EC2 emulator, the
Opencast emulator linked to it (each cluster with an Opencast of its own
under /t/NAME/), and ec2-managerd with metrics_listen.  Once every cluster
was read, it makes N scrapes one after another (a new connection each, as
a scraper that does not keep connections alive), then N status requests,
and reads the daemon's utime+stime from /proc before and after each series.

  bench/metrics_bench.py [--build DIR] [--clusters 50] [--instances 20]
                         [--n 200]
"""
import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

AK, SK = "AKIDBENCH00000000001", "bench/secret/key/not/real/000000000001"
OC_USER, OC_PASSWORD = "opencast_system_account", "bench-password"
RUNNING = 4


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ctl(sock_path, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf.splitlines()[-1])


def series(n, fn, pid):
    times = []
    c0 = cpu_s(pid)
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    cpu = (cpu_s(pid) - c0) / n
    times.sort()
    return (statistics.median(times), times[int(len(times) * 0.99) - 1],
            cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get(
        "EC2M_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--clusters", type=int, default=50)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--n", type=int, default=200)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ec2m-metrics-")
    names = ["c%02d" % i for i in range(a.clusters)]
    procs, daemon = [], None
    try:
        seed = {"region": "eu-west-1",
                "credentials": [{"access_key_id": AK,
                                 "secret_access_key": SK,
                                 "session_token": None}],
                "clusters": [{"prefix": n, "admin": 1, "engage": 1, "db": 1,
                              "nfs": 1, "workers": a.instances - 4,
                              "workers_running": RUNNING} for n in names]}
        with open(os.path.join(tmp, "seed.json"), "w") as f:
            json.dump(seed, f)
        ec2 = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ec2sim.py"),
             "--seed", os.path.join(tmp, "seed.json")],
            log_path=os.path.join(tmp, "ec2sim.log"))
        procs.append(ec2)
        oc = harness.SimProcess(
            [harness.PYTHON, os.path.join(harness.SIM_DIR, "ocsim.py"),
             "--user", OC_USER, "--password", OC_PASSWORD,
             "--ec2-sim", ec2.url], log_path=os.path.join(tmp, "ocsim.log"))
        procs.append(oc)
        sock = os.path.join(tmp, "ctl.sock")
        port = free_port()
        lines = ["[daemon]", "socket = " + sock, "state_dir = " + tmp,
                 "log_level = warning",
                 "metrics_listen = 127.0.0.1:%d" % port,
                 "[aws]", "region = eu-west-1", "endpoint = " + ec2.url,
                 "[defaults]", "refresh_interval = 1h"]
        for n in names:
            lines += ["[cluster %s]" % n,
                      "admin_url = %s/t/%s" % (oc.url, n)]
        conf = os.path.join(tmp, "ec2-manager.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp,
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK,
               "OPENCAST_USER": OC_USER, "OPENCAST_PASSWORD": OC_PASSWORD}
        log = open(os.path.join(tmp, "daemon.log"), "wb")
        daemon = subprocess.Popen(
            [os.path.join(a.build, "daemon", "ec2-managerd"), "-c", conf],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        url = "http://127.0.0.1:%d/metrics" % port
        deadline = time.monotonic() + 120
        while True:
            try:
                body = urllib.request.urlopen(url, timeout=5).read()
                if body.count(b"ec2m_last_refresh_success_timestamp_seconds"
                              b"{") == 2 * a.clusters:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit("clusters not read; see %s" % log.name)
            time.sleep(0.2)
        m = series(a.n, lambda: urllib.request.urlopen(url,
                                                       timeout=5).read(),
                   daemon.pid)
        s = series(a.n, lambda: ctl(sock, {"v": 1, "id": 1, "cmd": "status",
                                           "cluster": names[0]}),
                   daemon.pid)
        print("machine: %s, %d CPUs, %s" % (platform.machine(),
                                            os.cpu_count(),
                                            platform.python_version()))
        print("%d clusters x %d instances, %d requests each, body %d bytes"
              % (a.clusters, a.instances, a.n, len(body)))
        print("GET /metrics:       median %.2f ms, p99 %.2f ms, daemon CPU "
              "%.3f ms per scrape" % (m[0] * 1e3, m[1] * 1e3, m[2] * 1e3))
        print("status (reference): median %.2f ms, p99 %.2f ms, daemon CPU "
              "%.3f ms per request" % (s[0] * 1e3, s[1] * 1e3, s[2] * 1e3))
    finally:
        if daemon and daemon.poll() is None:
            daemon.terminate()
            daemon.wait(60)
        for p in procs:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
