"""Calibration sweep speed on the simulated bench: points per second, against the
handheld's own BENCH frame rate measured in the same run.

A point costs one generator level change (SCPI write + SYST:ERR? check), a settle
wait and N bench frames; the reference is the rate at which the virtual handheld
(real firmware, MicroPython unix port) delivers bench frames at all, so the ratio
shows how much of the handheld's rate the sweep turns into points.

    .venv/bin/python bench/bench_sweep.py [--points 60] [--readings 8]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from host.bench import simbench, sweep


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=60)
    ap.add_argument("--readings", type=int, default=8)
    args = ap.parse_args()
    levels = np.linspace(-110.0, -30.0, args.points)
    points = sweep.plan_points([("1800", 1700e6, 1880e6)], levels, freqs_per_band=1)
    with simbench.calibration_bench(10.0) as (gen, handheld, _), \
            tempfile.TemporaryDirectory() as tmp:
        handheld.tune(1790e6)
        dev = handheld.device
        dev.drain()
        start = len(dev.records)
        t0 = time.monotonic()
        time.sleep(3.0)
        dev.drain()
        frames = sum(1 for r in dev.records[start:] if r["kind"] == "MEAS")
        frame_rate = frames / (time.monotonic() - t0)

        results = sweep.ResultsFile(Path(tmp) / "r.jsonl", {
            "kind": "calibration", "device_id": handheld.device_id, "cable_loss_db": 10.0,
            "generator": gen.identity()})
        t0 = time.monotonic()
        sweep.run_sweep(gen, handheld, points, results, cable_loss_db=10.0,
                        n_readings=args.readings)
        elapsed = time.monotonic() - t0
    point_rate = len(points) / elapsed
    ceiling = frame_rate / args.readings
    print(f"bench frames (reference):  {frame_rate:7.1f} frames/s")
    print(f"sweep:                     {point_rate:7.2f} points/s "
          f"({len(points)} points x {args.readings} readings in {elapsed:.1f} s)")
    print(f"ceiling frames/readings:   {ceiling:7.2f} points/s")
    print(f"ratio sweep/ceiling:       {point_rate / ceiling:7.2f}")


if __name__ == "__main__":
    main()
