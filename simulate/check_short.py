#!/usr/bin/python3
"""meson test simulate_short: runs ec2m-simulate on traces/short.jsonl and
checks that its output is consistent (not how fast it is):
six result lines (seed, demand, reference; per-second and hourly billing),
every heavy job dispatched, waits ordered mean <= p95 <= max, hourly
billing never below per-second billing, the billed hours at least the
work's load-hours over max_load, the reference's ratios 1, and the same
output twice (the model is deterministic)."""
import json
import subprocess
import sys

exe, srcdir = sys.argv[1], sys.argv[2]
trace = srcdir + "/traces/short.jsonl"
cmd = [exe, "-c", srcdir + "/sim.conf", "-m", "8", trace]
out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
again = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)


check(out == again, "two runs differ")
heavy = set(("org.opencastproject.composer", "org.opencastproject.inspection",
             "org.opencastproject.videoeditor",
             "org.opencastproject.videosegmenter"))
nheavy = 0
work = 0.0
with open(trace) as f:
    for line in f:
        j = json.loads(line)
        nheavy += j["type"] in heavy
        work += j["load"] * j["duration"]
floor_h = work / 8.0 / 3600.0

rows = {}
for line in out.splitlines()[1:]:
    kv = dict(w.split("=", 1) for w in line.split())
    rows[(kv["billing"], kv["policy"])] = kv
check(len(rows) == 6, "expected 6 result lines, got %d" % len(rows))
for b in ("per-second", "hourly"):
    for p in ("seed", "demand", "reference"):
        r = rows.get((b, p))
        if r is None:
            fails.append("no line for %s %s" % (b, p))
            continue
        name = "%s/%s: " % (b, p)
        f = {k: float(v) for k, v in r.items() if k not in
             ("billing", "policy")}
        check(int(f["heavy_jobs"]) == nheavy, name + "heavy jobs %d != %d"
              % (f["heavy_jobs"], nheavy))
        check(f["wait_mean_s"] <= f["wait_p95_s"] <= f["wait_max_s"],
              name + "waits not ordered")
        check(f["worker_hours_hourly"] + 1e-6 >= f["worker_hours_per_second"],
              name + "hourly billing below per-second")
        check(f["worker_hours_per_second"] + 1e-6 >= floor_h,
              name + "billed hours below the work's load-hours")
        check(f["worker_hours"] == (f["worker_hours_hourly"] if b == "hourly"
              else f["worker_hours_per_second"]) or
              abs(f["worker_hours"] - f["worker_hours_per_second"]) < 0.01,
              name + "worker_hours is not the billing mode's")
        check(0 <= f["starts"] - f["stops"] <= 10, name + "starts/stops")
        if p == "reference":
            check(f["hours_vs_reference"] == 1.0 and
                  f["p95_vs_reference"] == 1.0, name + "reference ratio")
print(out, end="")
for m in fails:
    print("FAIL: " + m)
sys.exit(1 if fails else 0)
