"""Bench: hunt quality of the rfhound search against a 'hotter/colder' officer, same worlds, same seeds.

For each seed, two headless hunts in the same simulated world (same rack, same
shadowing, same sensor errors): the search officer (route with rotation scans,
estimate-driven approach, posterior-chosen building, stairwell climb) and the
hotter/colder officer (walk, go back to the strongest reading, follow the street
while it gets hotter, climb the nearest building), the way hunts are done today.
Prints per hunt and per officer the success rate (right building and right floor),
median final error, median time-to-fix (95 % ellipse under 10 m holding the
rack; hotter/colder never has one) and median hunt duration, and the ratio of the
success rates: the reference is the hotter/colder officer of the same run.

The default handheld is the real firmware in MicroPython over a pty (as
``rfhound demo``); ``--handheld model`` samples the world directly (no firmware,
no link) to run many seeds quickly, and is labelled so in the output.

Run: .venv/bin/python bench/hunt.py [--world old-town] [--seeds 1-6] [--speed 10] [--handheld model]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from host.sim.hunt import simulate
from host.sim.world import load_world


def _seeds(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(v, unit=""):
    return "n/a" if v is None else "%.1f%s" % (v, unit)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", default="old-town")
    ap.add_argument("--seeds", default="1-6", help="e.g. 1-10 or 1,4,7")
    ap.add_argument("--speed", type=float, default=10.0)
    ap.add_argument("--handheld", default="micropython", choices=("micropython", "cpython", "model"))
    ap.add_argument("--json", metavar="OUT", help="also write every hunt's result as JSON lines")
    args = ap.parse_args(argv)
    world = load_world(args.world)
    seeds = _seeds(args.seeds)
    results = {"search": [], "hotter-colder": []}
    wall0 = time.monotonic()
    label = "MODEL-ONLY handheld (no firmware, no link)" if args.handheld == "model" else \
        "real firmware (%s) over a pty link" % args.handheld
    print("bench/hunt: world %s, seeds %s, speed %gx, %s" % (world.name, args.seeds, args.speed, label))
    with tempfile.TemporaryDirectory(prefix="rfhound-bench-") as tmp:
        for seed in seeds:
            for strategy in results:
                path = os.path.join(tmp, "%s-%d.sqlite" % (strategy, seed))
                r, _ = simulate(world, seed, path, handheld=args.handheld, strategy=strategy,
                                speed=args.speed)
                results[strategy].append(r)
                print("  seed %3d %-13s error %6s  building %-5s floor %-5s fix %8s  %6.0f s sim %5.1f s wall"
                      % (seed, strategy, _fmt(r["error_m"], " m"), r["right_building"], r["right_floor"],
                         _fmt(r["time_to_fix_s"], " s"), r["sim_time_s"], r["wall_time_s"]), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r, sort_keys=True) + "\n")
    print()
    rates = {}
    for strategy, rs in results.items():
        ok = sum(1 for r in rs if r["right_building"] and r["right_floor"])
        rates[strategy] = ok / len(rs)
        print("%-13s success %d/%d (%.0f %%)  right building %d/%d  median error %s  "
              "median time-to-fix %s (%d fixes)  median duration %s"
              % (strategy, ok, len(rs), 100.0 * rates[strategy],
                 sum(r["right_building"] for r in rs), len(rs),
                 _fmt(_median([r["error_m"] for r in rs]), " m"),
                 _fmt(_median([r["time_to_fix_s"] for r in rs]), " s"),
                 sum(r["time_to_fix_s"] is not None for r in rs),
                 _fmt(_median([r["sim_time_s"] for r in rs]), " s")))
    ref = rates["hotter-colder"]
    print("success ratio search / hotter-colder (reference, same run): %s"
          % ("inf" if ref == 0 and rates["search"] > 0 else _fmt(rates["search"] / ref if ref else None)))
    print("wall time %.0f s" % (time.monotonic() - wall0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
