#!/usr/bin/python3
"""Generates a workload trace for ec2m-simulate (docs/simulator.md).

Seeded and deterministic: the same arguments always give the same file.

  gentrace.py --kind lectures --days 5 --seed 17 > traces/lectures.jsonl
  gentrace.py --kind bursty   --days 5 --seed 23 > traces/bursty.jsonl

Time 0 is a Monday 00:00; days run Monday to Friday.

lectures: lecture weekdays.  Recordings end on the hour (10, 12, 14, 16, 18
h), a few minutes pass before the upload is in, and each recording goes
through Opencast's chain with the default job loads: inspection (0.2),
two encodes in parallel (composer, 1.5; about a third of the recording's
length each), the editor (0.8), the segmenter (0.3) and a final encode for
publication (1.5).  The morning and early afternoon slots are the busiest.

bursty: the same chains, but uploads come in bursts at random times of the
day (7-23 h: a course uploads a series at once) on top of a trickle of
single uploads, with recordings from 5 minutes to 2 hours.
"""
import argparse
import json
import random
import sys

DAY = 86400

INSPECT = "org.opencastproject.inspection"
COMPOSER = "org.opencastproject.composer"
EDITOR = "org.opencastproject.videoeditor"
SEGMENT = "org.opencastproject.videosegmenter"


class Trace:
    def __init__(self):
        self.jobs = []

    def add(self, t, kind, load, duration, after=None):
        job = {"id": len(self.jobs), "t": int(t), "type": kind,
               "load": load, "duration": int(max(1, duration))}
        if after is not None:
            job["after"] = after
        self.jobs.append(job)
        return job["id"]

    def recording(self, rng, t, minutes):
        """One recording's processing chain, its upload in at t."""
        length = minutes * 60
        insp = self.add(t, INSPECT, 0.2, rng.uniform(30, 90))
        enc1 = self.add(t, COMPOSER, 1.5, length * rng.uniform(0.25, 0.4),
                        insp)
        self.add(t, COMPOSER, 1.5, length * rng.uniform(0.25, 0.4), insp)
        edit = self.add(t, EDITOR, 0.8, rng.uniform(300, 600), enc1)
        self.add(t, SEGMENT, 0.3, rng.uniform(180, 480), edit)
        self.add(t, COMPOSER, 1.5, length * rng.uniform(0.1, 0.2), edit)


# Recordings per slot (hour the lectures end): low and high bounds.
SLOTS = {10: (22, 34), 12: (26, 38), 14: (20, 32), 16: (10, 20), 18: (4, 10)}


def lectures(rng, days):
    tr = Trace()
    for day in range(days):
        for hour, (lo, hi) in sorted(SLOTS.items()):
            for _ in range(rng.randint(lo, hi)):
                end = day * DAY + hour * 3600
                minutes = rng.choice((45, 90, 90, 90, 120))
                tr.recording(rng, end + rng.uniform(60, 420), minutes)
    return tr


def bursty(rng, days):
    tr = Trace()
    for day in range(days):
        base = day * DAY
        for _ in range(rng.randint(3, 7)):
            start = base + rng.uniform(7 * 3600, 23 * 3600)
            for _ in range(rng.randint(5, 35)):
                tr.recording(rng, start + rng.uniform(0, 600),
                             rng.randint(5, 120))
        for _ in range(rng.randint(20, 40)):
            tr.recording(rng, base + rng.uniform(7 * 3600, 22 * 3600),
                         rng.randint(5, 120))
    return tr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=("lectures", "bursty"),
                    required=True)
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tr = (lectures if a.kind == "lectures" else bursty)(rng, a.days)
    # The file is in arrival order; a job never comes before the one it
    # waits for (equal times keep creation order).
    order = sorted(tr.jobs, key=lambda j: (j["t"], j["id"]))
    out = sys.stdout
    for j in order:
        out.write(json.dumps(j, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
