#!/usr/bin/python3
"""Whole-process benchmarks of ec2-managerd and ec2ctl against the emulators.

Starts the EC2 and Opencast emulators (one cluster of N instances, linked so
that running Opencast instances are registered hosts) and the daemon on
127.0.0.1 / a temporary socket, then measures:
  1. `ec2ctl CLUSTER status --json` wall time per whole process (median of
     RUNS runs, after warm-up), the way an operator or a script calls it;
  2. the daemon's request throughput with bench_socket: many concurrent
     connections with pipelined status requests.
Everything it starts is stopped at the end.

With --compare EC2CTL, a second ec2ctl binary (say, one built before a
change) is timed too, its runs alternating with the first's against the same
daemon, and both medians are printed side by side.  --no-socket skips 2.

  bench/ctl_bench.py [--build DIR] [--runs 300] [--instances 50]
                     [--compare EC2CTL] [--no-socket]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import harness  # noqa: E402

AK, SK = "AKIDBENCH0000000001", "bench/secret/key/not/real/000000000001"


def wait(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the set-up")
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--instances", type=int, default=50)
    ap.add_argument("--compare", metavar="EC2CTL")
    ap.add_argument("--no-socket", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ec2m-bench-")
    workers = a.instances - 4
    seed = {"region": "eu-west-1",
            "credentials": [{"access_key_id": AK, "secret_access_key": SK,
                             "session_token": None}],
            "clusters": [{"prefix": "bench", "admin": 1, "engage": 1,
                          "db": 1, "nfs": 1, "workers": workers,
                          "workers_running": workers // 2}]}
    with open(os.path.join(tmp, "seed.json"), "w") as f:
        json.dump(seed, f)
    procs = []
    try:
        ec2 = harness.SimProcess([harness.PYTHON, os.path.join(
            harness.SIM_DIR, "ec2sim.py"), "--seed",
            os.path.join(tmp, "seed.json")])
        procs.append(ec2)
        oc = harness.SimProcess([harness.PYTHON, os.path.join(
            harness.SIM_DIR, "ocsim.py"), "--user", "u", "--password", "p",
            "--ec2-sim", ec2.url])
        procs.append(oc)
        oc.ctl("POST", "settings", {"registration_delay_s": 0})
        sock = os.path.join(tmp, "ctl.sock")
        conf = os.path.join(tmp, "ec2m.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\nstate_dir = %s\n"
                    "log_level = warning\n[aws]\nregion = eu-west-1\n"
                    "endpoint = %s\n[defaults]\nadmin_url = %s\n"
                    "[cluster bench]\n" % (sock, tmp, ec2.url, oc.url))
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp,
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK,
               "OPENCAST_USER": "u", "OPENCAST_PASSWORD": "p"}
        daemon = subprocess.Popen([os.path.join(a.build, "daemon",
                                                "ec2-managerd"), "-c", conf],
                                  env=env)
        ctl = [os.path.join(a.build, "ctl", "ec2ctl"), "--socket", sock]

        def status():
            p = subprocess.run(ctl + ["bench", "status", "--json"],
                               capture_output=True, text=True, env=env)
            # The reply line: {"id":1,"ok":true,"result":STATUS}.
            return json.loads(p.stdout)["result"] if p.returncode == 0 \
                else None

        try:
            wait(lambda: os.path.exists(sock) and status() and
                 status()["opencast"]["reachable"])
        except SystemExit:
            print(json.dumps(status(), indent=1)[:3000], file=sys.stderr)
            raise
        st = status()
        ctls = [(ctl[0], ctl)]
        if a.compare:
            ctls.append((a.compare, [a.compare] + ctl[1:]))
        times = [[] for _ in ctls]
        for i in range(a.runs + 20):
            for k, (_, argv) in enumerate(ctls):
                t0 = time.perf_counter()
                subprocess.run(argv + ["bench", "status", "--json"],
                               stdout=subprocess.DEVNULL, env=env,
                               check=True)
                if i >= 20:
                    times[k].append(time.perf_counter() - t0)
        for (path, _), t in zip(ctls, times):
            t.sort()
            print("ec2ctl status --json: %d instances, %d runs: median "
                  "%.2f ms, p90 %.2f ms (whole process) %s" % (
                      len(st["instances"]), a.runs,
                      statistics.median(t) * 1e3,
                      t[len(t) * 9 // 10] * 1e3, path))
        bs = os.path.join(a.build, "bench", "bench_socket")
        for clients, depth in (() if a.no_socket else
                               ((1, 1), (16, 4), (64, 4))):
            subprocess.run([bs, sock, "bench", str(clients), str(depth),
                            "5"], check=True)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(20)
    finally:
        for p in procs:
            p.stop()
        if "daemon" in locals() and daemon.poll() is None:
            daemon.kill()


if __name__ == "__main__":
    main()
