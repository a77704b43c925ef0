"""Accuracy of dsp.locate against the Cramer-Rao bound and three reference estimators.

Seeded Monte-Carlo street walks around blocks of buildings with the rack on a
random floor of a random building; correlated shadowing of 5-8 dB, unknown P0
and n, GPS error, 3 % outliers and censoring below a noise floor.  On the
same data it prints RMSE and median error of:

* ``ml``        dsp.locate.estimate_position (this project), no map;
* ``ml+map``    the same with the building footprints as prior (each block
  holds four 25 m buildings wall to wall);
* ``max_rssi``  the position of the strongest reading;
* ``centroid``  the centroid weighted by linear power;
* ``cent+map``  that centroid moved to the nearest footprint point (the
  map-aware reference: the centroid nearly always lies in a street);
* ``plain_ls``  least squares of the log-distance model (x, y, P0, n) on the
  detections, Gaussian and independent, started at the centroid;

the ratio of our RMSE to the Cramer-Rao bound with the true correlation
(detected readings, true positions, P0 and n unknown), the median error an
efficient unbiased estimator would have (the errors drawn from each walk's
bound, pooled), how often the truth lies inside our 95 % ellipse, and how
often ``ml+map`` names the right building.  Then the same walks followed by
a climb up a stairwell of the rack's block: how often the floor is right.

Run: ``.venv/bin/python bench/locate_accuracy.py [--trials N] [--seed S]``.
"""

import argparse
import time

import numpy as np
from scipy import optimize

from dsp import footprints
from dsp.crb import crb_position, shadowing_covariance
from dsp.locate import estimate_position

BLOCK_M = 50.0          # building block side
STREET_M = 15.0         # street width (walks follow the centre line)
PITCH_M = BLOCK_M + STREET_M
STEP_M = 1.5            # distance walked between readings
NOISE_FLOOR_DBM = -105.0
OUTLIER_RATE = 0.03
GPS_SIGMA_M = 2.5
GPS_CORR_M = 30.0


def building_footprints():
    """Four square buildings wall to wall in each of the 3x3 blocks, and the block of each."""
    half = BLOCK_M / 2
    polys = []
    for bx in (-PITCH_M, 0.0, PITCH_M):
        for by in (-PITCH_M, 0.0, PITCH_M):
            for x0 in (bx - half, bx):
                for y0 in (by - half, by):
                    polys.append(np.array([[x0, y0], [x0 + half, y0], [x0 + half, y0 + half],
                                           [x0, y0 + half]]))
    return polys


def street_walk(rng):
    """Centre lines of the streets around the 3x3 blocks about the origin, in a walking order.

    The walker covers the ring of streets around the centre block, then the
    outer ring, turning around at random corners, like an officer circling
    the suspected building.
    """
    h1, h2 = PITCH_M / 2, 1.5 * PITCH_M
    rings = [[(-h1, -h1), (h1, -h1), (h1, h1), (-h1, h1), (-h1, -h1)],
             [(-h2, -h2), (h2, -h2), (h2, h2), (-h2, h2), (-h2, -h2)]]
    route = rings[0] + [(-h1, -h2)] + rings[1][rng.integers(0, 4):][:3]
    pts = []
    for (x0, y0), (x1, y1) in zip(route[:-1], route[1:]):
        n = max(int(np.hypot(x1 - x0, y1 - y0) / STEP_M), 1)
        t = np.arange(n) / n
        pts.append(np.column_stack([x0 + t * (x1 - x0), y0 + t * (y1 - y0)]))
    p = np.concatenate(pts)
    return p[:, 0], p[:, 1]


def scenario(rng):
    x, y = street_walk(rng)
    # The rack is inside one of the 3x3 blocks, 5 m or more from its facade.
    bx, by = rng.integers(-1, 2, 2) * PITCH_M
    ex, ey = bx + rng.uniform(-BLOCK_M / 2 + 5, BLOCK_M / 2 - 5, 2) * [1, 1]
    tx_floor = int(rng.integers(0, 6))
    tx_z = tx_floor * 3.0 + 1.0
    sigma, corr = rng.uniform(5.0, 8.0), rng.uniform(10.0, 25.0)
    p0, n = rng.uniform(-25.0, -5.0), rng.uniform(2.7, 3.8)
    d = np.maximum(np.sqrt((x - ex) ** 2 + (y - ey) ** 2 + (1.5 - tx_z) ** 2), 1.0)
    cov = shadowing_covariance(x, y, sigma, corr) + 1e-9 * np.eye(len(x))
    rssi = p0 - 10 * n * np.log10(d) + np.linalg.cholesky(cov) @ rng.standard_normal(len(x))
    outlier = rng.random(len(x)) < OUTLIER_RATE
    rssi[outlier] += rng.uniform(10.0, 25.0, outlier.sum())
    rssi[rssi < NOISE_FLOOR_DBM] = np.nan
    # GPS: a slowly wandering error along the walk.
    gcov = shadowing_covariance(x, y, GPS_SIGMA_M, GPS_CORR_M) + 1e-9 * np.eye(len(x))
    chol = np.linalg.cholesky(gcov)
    xm = x + chol @ rng.standard_normal(len(x))
    ym = y + chol @ rng.standard_normal(len(x))
    det = np.isfinite(rssi)
    bound = crb_position(x[det], y[det], (ex, ey), n_exp=n, sigma_db=sigma, corr_m=corr,
                         tx_z_m=tx_z)
    # The locator does not know the rack's floor either.
    bound_z = crb_position(x[det], y[det], (ex, ey), n_exp=n, sigma_db=sigma, corr_m=corr,
                           tx_z_m=tx_z, tx_z_known=False)
    return dict(x=xm, y=ym, rssi=rssi, truth=(ex, ey), bound=bound, bound_z=bound_z, floor=tx_floor,
                sigma=sigma, corr=corr, p0=p0, n=n, block=(bx, by))


def stairwell_climb(rng, s):
    """A climb of the rack's building: 4 readings on each floor 0-6 at a stairwell in its block.

    Slab losses are drawn per building (first slab 10-20 dB, each further one
    3-8 dB); indoor shadowing 4 dB, independent; positions +-1 m.
    """
    sx, sy = np.asarray(s["block"]) + rng.uniform(-BLOCK_M / 2 + 3, BLOCK_M / 2 - 3, 2)
    floor = np.repeat(np.arange(0, 7), 4).astype(float)
    x = sx + rng.normal(0.0, 1.0, len(floor))
    y = sy + rng.normal(0.0, 1.0, len(floor))
    ex, ey = s["truth"]
    dz = floor * 3.0 + 1.5 - (s["floor"] * 3.0 + 1.0)
    d = np.maximum(np.sqrt((x - ex) ** 2 + (y - ey) ** 2 + dz**2), 1.0)
    k = np.abs(floor - s["floor"])
    first_db, next_db = rng.uniform(10.0, 20.0), rng.uniform(3.0, 8.0)
    rssi = (s["p0"] - 10 * s["n"] * np.log10(d) - first_db * (k >= 1)
            - next_db * np.maximum(k - 1, 0) + rng.normal(0.0, 4.0, len(floor)))
    rssi[rssi < NOISE_FLOOR_DBM] = np.nan
    return x, y, floor, rssi


def max_rssi(x, y, p):
    i = np.nanargmax(p)
    return x[i], y[i]


def centroid(x, y, p):
    det = np.isfinite(p)
    w = 10.0 ** (p[det] / 10.0)
    return np.sum(w * x[det]) / w.sum(), np.sum(w * y[det]) / w.sum()


def snapped(xy, polys):
    """The footprint point nearest to xy."""
    pts = [footprints.closest_point_in(q, *xy) for q in polys]
    return min(pts, key=lambda q: np.hypot(q[0] - xy[0], q[1] - xy[1]))


def crb_median(bounds, rng, draws=2000):
    """Median error of an efficient unbiased estimator: errors drawn from each walk's bound, pooled."""
    errs = [np.hypot(*rng.multivariate_normal([0.0, 0.0], b, draws).T) for b in bounds]
    return float(np.median(np.concatenate(errs)))


def plain_ls(x, y, p):
    det = np.isfinite(p)
    x, y, p = x[det], y[det], p[det]
    cx, cy = centroid(x, y, p)

    def resid(v):
        d = np.maximum(np.hypot(x - v[0], y - v[1]), 1.0)
        return p - (v[2] - 10 * v[3] * np.log10(d))
    v = optimize.least_squares(resid, [cx, cy, np.nanmax(p), 3.0]).x
    return v[0], v[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    names = ("ml", "ml+map", "max_rssi", "centroid", "cent+map", "plain_ls")
    err = {k: [] for k in names}
    polys = building_footprints()
    bounds, floor_hits, times, n_read, inside, inside_map = [], 0, [], [], [], []
    building_hits, building_prob, full_bounds, z_bounds = 0, [], [], []
    climb_hits, climb_prob, climb_err = 0, [], []
    for _ in range(args.trials):
        s = scenario(rng)
        x, y, p = s["x"], s["y"], s["rssi"]
        t0 = time.perf_counter()
        # The GNSS receiver states its accuracy (GPS_SIGMA_M); the locator adds it to the ellipse.
        est = estimate_position(x, y, p, floor=np.zeros(len(x)), noise_floor_dbm=NOISE_FLOOR_DBM,
                                position_sigma_m=GPS_SIGMA_M)
        times.append(time.perf_counter() - t0)
        mapped = estimate_position(x, y, p, floor=np.zeros(len(x)), noise_floor_dbm=NOISE_FLOOR_DBM,
                                   position_sigma_m=GPS_SIGMA_M, footprints=polys)
        n_read.append(len(x))
        guesses = {"ml": (est.x_m, est.y_m), "ml+map": (mapped.x_m, mapped.y_m),
                   "max_rssi": max_rssi(x, y, p), "centroid": centroid(x, y, p),
                   "plain_ls": plain_ls(x, y, p)}
        guesses["cent+map"] = snapped(guesses["centroid"], polys)
        for k in names:
            err[k].append(np.hypot(guesses[k][0] - s["truth"][0], guesses[k][1] - s["truth"][1]))
        for e, hits in ((est, inside), (mapped, inside_map)):
            d = np.array([e.x_m - s["truth"][0], e.y_m - s["truth"][1]])
            hits.append(d @ np.linalg.solve(e.cov_m2, d) <= -2.0 * np.log(0.05))
        building_hits += bool(footprints.contains(polys[mapped.building], *s["truth"]))
        building_prob.append(mapped.building_prob[mapped.building])
        bounds.append(np.trace(s["bound"]))
        full_bounds.append(s["bound"])
        z_bounds.append(s["bound_z"])
        floor_hits += est.floor == s["floor"]
        # The same walk, then up the stairwell (its own random stream: the table above is unchanged).
        cx, cy, cf, cp = stairwell_climb(np.random.default_rng([args.seed, len(bounds)]), s)
        both = estimate_position(np.r_[x, cx], np.r_[y, cy], np.r_[p, cp],
                                 floor=np.r_[np.zeros(len(x)), cf], noise_floor_dbm=NOISE_FLOOR_DBM)
        climb_hits += both.floor == s["floor"]
        climb_prob.append(both.floor_prob[s["floor"]])
        climb_err.append(np.hypot(both.x_m - s["truth"][0], both.y_m - s["truth"][1]))
    crb_rmse = float(np.sqrt(np.mean(bounds)))
    print(f"locate accuracy: {args.trials} seeded street walks (seed {args.seed}), "
          f"{np.mean(n_read):.0f} readings each, shadowing 5-8 dB correlated 10-25 m, "
          f"GPS {GPS_SIGMA_M} m, {OUTLIER_RATE:.0%} outliers, censored below {NOISE_FLOOR_DBM} dBm")
    print(f"{'estimator':<10} {'rmse_m':>8} {'median_m':>9} {'p90_m':>7} {'rmse/crb':>9}")
    for k in names:
        e = np.array(err[k])
        print(f"{k:<10} {np.sqrt(np.mean(e**2)):8.2f} {np.median(e):9.2f} "
              f"{np.percentile(e, 90):7.2f} {np.sqrt(np.mean(e**2)) / crb_rmse:9.2f}")
    ml_rmse = np.sqrt(np.mean(np.square(err["ml"])))
    print(f"CRB (true correlation) rmse_m {crb_rmse:.2f}; ml rmse / crb = {ml_rmse / crb_rmse:.2f} "
          f"(target <= 1.25)")
    med = {k: float(np.median(err[k])) for k in names}
    z_rmse = float(np.sqrt(np.mean([np.trace(b) for b in z_bounds])))
    print(f"CRB with the rack's height unknown too: rmse_m {z_rmse:.2f}; ml rmse / crb = "
          f"{ml_rmse / z_rmse:.2f}")
    print(f"median error of an efficient unbiased estimator (errors drawn from each walk's CRB): "
          f"{crb_median(full_bounds, np.random.default_rng(args.seed + 1)):.2f} m height known, "
          f"{crb_median(z_bounds, np.random.default_rng(args.seed + 1)):.2f} m height unknown")
    print(f"median / centroid median (target <= 0.5): ml {med['ml'] / med['centroid']:.2f}, "
          f"ml+map {med['ml+map'] / med['centroid']:.2f}; "
          f"ml+map / cent+map {med['ml+map'] / med['cent+map']:.2f}")
    print(f"truth inside our 95 % ellipse: ml {np.mean(inside):.0%}, ml+map {np.mean(inside_map):.0%} "
          f"of walks")
    print(f"ml+map names the right building (4 per block) in {building_hits}/{args.trials} walks; "
          f"mean probability it gives its choice {np.mean(building_prob):.2f}")
    print(f"walk + stairwell climb (floors 0-6, 4 readings each): floor right "
          f"{climb_hits}/{args.trials}, median probability given to the true floor "
          f"{np.median(climb_prob):.2f}; position rmse {np.sqrt(np.mean(np.square(climb_err))):.2f} m, "
          f"median {np.median(climb_err):.2f} m")
    print(f"floor right (street walk only, 6 floors possible): {floor_hits}/{args.trials}; "
          f"ml time per estimate {np.median(times) * 1e3:.0f} ms median")


if __name__ == "__main__":
    main()
