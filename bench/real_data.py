"""Locate accuracy on real measurement walks, against three simple estimators in the same run.

Every folder of ``../shared/data/real/`` (or the folders given) holds
measurement CSVs (docs/formats.md) with the surveyed truth beside each in
``NAME.truth.json`` (``lat_deg``, ``lon_deg``).  For each file it runs
``rfhound locate`` (`host.commands.locate.locate_file`, the CLI's own path)
and, on the same readings, three references written here from their
textbook definitions, independent of the project's locator:

* ``strongest``  the position of the strongest reading;
* ``centroid``   the centroid of the readings weighted by linear power;
* ``plain_ml``   a plain grid maximum-likelihood fit of ``P0 - 10 n log10 d``
  (P0 and n unknown, least squares per cell, the emitter 20 m above the
  readings, 5 m cells over the readings' box plus 10 %).

It prints each file's horizontal errors, then per folder and overall: the
median error of each, our median over the best reference's median (target
<= 0.8), the worst case of our error over the best reference's error for that
case (target <= 3), and the share of cases whose 95 % ellipse holds the truth
(target 85-98 %).

Run: ``.venv/bin/python bench/real_data.py [FOLDER ...]``.
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

from dsp import geo
from host.commands.locate import locate_file
from host.meascsv import read_measurements

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
REFS = ("strongest", "centroid", "plain_ml")
PLAIN_HEIGHT_M = 20.0
PLAIN_CELL_M = 5.0


def strongest(x, y, p):
    i = int(np.nanargmax(p))
    return x[i], y[i]


def centroid(x, y, p):
    det = np.isfinite(p)
    w = 10.0 ** (p[det] / 10.0)
    return float(np.sum(w * x[det]) / w.sum()), float(np.sum(w * y[det]) / w.sum())


def plain_ml(x, y, p):
    """Least squares of y = P0 - 10 n log10 d in every cell; the best cell (chunked for memory)."""
    det = np.isfinite(p)
    x, y, p = x[det], y[det], p[det]
    pad = 0.1 * max(np.ptp(x), np.ptp(y), 1.0)
    gx = np.arange(x.min() - pad, x.max() + pad, PLAIN_CELL_M)
    gy = np.arange(y.min() - pad, y.max() + pad, PLAIN_CELL_M)
    cx, cy = (a.ravel() for a in np.meshgrid(gx, gy))
    best, best_rss = (np.nan, np.nan), np.inf
    step = max(1, 2_000_000 // len(x))
    pc = p - p.mean()
    for s in range(0, len(cx), step):
        d2 = (cx[s:s + step, None] - x) ** 2 + (cy[s:s + step, None] - y) ** 2 + PLAIN_HEIGHT_M**2
        l = -5.0 * np.log10(d2)
        l -= l.mean(axis=1, keepdims=True)
        n = (l @ pc) / np.einsum("ij,ij->i", l, l)
        rss = pc @ pc - n * (l @ pc)
        k = int(np.argmin(rss))
        if rss[k] < best_rss:
            best, best_rss = (cx[s + k], cy[s + k]), rss[k]
    return best


def one_case(csv_path):
    truth = json.loads(pathlib.Path(str(csv_path)[:-4] + ".truth.json").read_text())
    data = read_measurements(csv_path)
    lat0, lon0 = geo.origin_of(data["lat_deg"], data["lon_deg"])
    x, y, _ = geo.enu_from_lla(data["lat_deg"], data["lon_deg"], 0.0, lat0, lon0)
    tx, ty, _ = geo.enu_from_lla(truth["lat_deg"], truth["lon_deg"], 0.0, lat0, lon0)
    p = data["rssi_dbm"]
    errs = {}
    for name, fn in (("strongest", strongest), ("centroid", centroid), ("plain_ml", plain_ml)):
        ex, ey = fn(x, y, p)
        errs[name] = float(np.hypot(ex - tx, ey - ty))
    t0 = time.perf_counter()
    res = locate_file(csv_path)
    took = time.perf_counter() - t0
    row = res["targets"][0]
    ex, ey, _ = geo.enu_from_lla(row["lat_deg"], row["lon_deg"], 0.0, lat0, lon0)
    d = np.array([ex - tx, ey - ty])
    errs["rfhound"] = float(np.hypot(*d))
    e = row["ellipse"]
    # Inside the 95 % ellipse: project on its axes (orientation clockwise from north).
    th = np.radians(e["orientation_deg"])
    major = d @ [np.sin(th), np.cos(th)]
    minor = d @ [np.cos(th), -np.sin(th)]
    a, b = max(e["semi_major_m"], 1e-9), max(e["semi_minor_m"], 1e-9)
    inside = (major / a) ** 2 + (minor / b) ** 2 <= 1.0
    return errs, bool(inside), e, took, len(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=pathlib.Path)
    args = ap.parse_args()
    folders = args.folders or sorted(f for f in DATA.resolve().iterdir() if f.is_dir())
    all_rows = []
    for folder in folders:
        rows = []
        print(f"== {folder.name}")
        print(f"{'case':<28} {'n':>5} {'rfhound':>8} {'strong':>7} {'centr':>7} {'plainML':>7} "
              f"{'ours/best':>9} {'ellipse a x b (m)':>18} {'in95':>4} {'s':>5}")
        for csv_path in sorted(folder.glob("*.csv")):
            errs, inside, e, took, n = one_case(csv_path)
            best = min(errs[k] for k in REFS)
            rows.append((errs, inside, best))
            print(f"{csv_path.stem[:28]:<28} {n:5d} {errs['rfhound']:8.1f} {errs['strongest']:7.1f} "
                  f"{errs['centroid']:7.1f} {errs['plain_ml']:7.1f} {errs['rfhound'] / best:9.2f} "
                  f"{e['semi_major_m']:8.0f} x {e['semi_minor_m']:<7.0f} {'yes' if inside else 'no':>4} "
                  f"{took:5.1f}")
        summarise(folder.name, rows)
        all_rows += rows
    if len(folders) > 1:
        summarise("all", all_rows)


def summarise(name, rows):
    if not rows:
        print(f"{name}: no cases")
        return
    med = {k: float(np.median([r[0][k] for r in rows])) for k in ("rfhound",) + REFS}
    best_ref = min(REFS, key=lambda k: med[k])
    worst = max(r[0]["rfhound"] / r[2] for r in rows)
    cover = np.mean([r[1] for r in rows])
    print(f"{name}: {len(rows)} cases; median error rfhound {med['rfhound']:.1f} m, strongest "
          f"{med['strongest']:.1f} m, centroid {med['centroid']:.1f} m, plain ML {med['plain_ml']:.1f} m")
    print(f"{name}: median / best reference's ({best_ref}) = {med['rfhound'] / med[best_ref]:.2f} "
          f"(target <= 0.8); worst case / that case's best reference = {worst:.2f} (target <= 3); "
          f"95 % ellipse holds the truth in {cover:.0%} (target 85-98 %)")


if __name__ == "__main__":
    sys.exit(main())
