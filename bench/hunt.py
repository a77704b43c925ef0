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

Several worlds (``--world old-town,gsm900-hopping,tdlte-b41``) run one after the
other and end with one line per world side by side, naming each world's air
interface (continuous carrier, GSM bursts with or without hopping, TD-LTE).
``--gsm-tdma on|off`` overrides the worlds' ``network.gsm_tdma`` to measure one
world with and without GSM bursts.

Run: .venv/bin/python bench/hunt.py [--world old-town[,tdlte-b41...]] [--seeds 1-6] [--speed 10]
     [--handheld model] [--gsm-tdma world|on|off]
"""

import argparse
import dataclasses
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


def air_label(world):
    """One phrase for how the world's targets are on the air."""
    net = world.network
    t = world.targets[0]
    if t.rat == "gsm":
        if not net.gsm_tdma:
            return "GSM continuous carrier"
        hop = len(t.hopping_arfcns)
        return "GSM bursts 1/8" + (", hopping over %d" % hop if hop > 1 else "")
    if net.duplex == "tdd":
        return "TD-%s config %d, DL in channel" % (t.rat.upper(), net.tdd_config)
    return "%s FDD continuous" % t.rat.upper()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", default="old-town", help="a world, or several separated by commas")
    ap.add_argument("--gsm-tdma", default="world", choices=("world", "on", "off"),
                    help="GSM bursts as the world says, or forced on or off")
    ap.add_argument("--seeds", default="1-6", help="e.g. 1-10 or 1,4,7")
    ap.add_argument("--speed", type=float, default=10.0)
    ap.add_argument("--handheld", default="micropython", choices=("micropython", "cpython", "model"))
    ap.add_argument("--json", metavar="OUT", help="also write every hunt's result as JSON lines")
    args = ap.parse_args(argv)
    seeds = _seeds(args.seeds)
    label = "MODEL-ONLY handheld (no firmware, no link)" if args.handheld == "model" else \
        "real firmware (%s) over a pty link" % args.handheld
    wall0 = time.monotonic()
    rows = []
    for name in args.world.split(","):
        world = load_world(name)
        if args.gsm_tdma != "world":
            world = dataclasses.replace(world, network=dataclasses.replace(
                world.network, gsm_tdma=args.gsm_tdma == "on"))
        rows.append((world, _bench_world(world, seeds, args, label)))
    if len(rows) > 1:
        print()
        print("%-16s %-42s %-9s %-9s %-8s %s" % ("world", "air interface", "search", "hot/cold", "ratio",
                                                  "search median error"))
        for world, (rates, n, err) in rows:
            ref = rates["hotter-colder"]
            ratio = "inf" if ref == 0 and rates["search"] > 0 else _fmt(rates["search"] / ref if ref else None)
            print("%-16s %-42s %-9s %-9s %-8s %s" % (world.name, air_label(world),
                                                     "%d/%d" % (round(rates["search"] * n), n),
                                                     "%d/%d" % (round(rates["hotter-colder"] * n), n),
                                                     ratio, _fmt(err, " m")))
    print("wall time %.0f s" % (time.monotonic() - wall0))
    return 0


def _bench_world(world, seeds, args, label):
    results = {"search": [], "hotter-colder": []}
    print("bench/hunt: world %s (%s), seeds %s, speed %gx, %s"
          % (world.name, air_label(world), args.seeds, args.speed, label))
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
                        f.write(json.dumps(dict(r, air=air_label(world)), sort_keys=True) + "\n")
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
    return rates, len(seeds), _median([r["error_m"] for r in results["search"]])


if __name__ == "__main__":
    sys.exit(main())
