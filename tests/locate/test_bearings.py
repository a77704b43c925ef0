"""Bearing fixes against hand-computed intersections, bias and fusion with RSS."""

import numpy as np
import pytest

from dsp import triangulate
from dsp.locate import Grid, crb_position, estimate_position

FIXES = [triangulate.pseudolinear_fix, lambda *a: triangulate.ml_fix(*a)[0]]


@pytest.mark.parametrize("fix", FIXES)
@pytest.mark.parametrize("stations, bearings, truth", [
    # From the origin north-east and from (10, 0) north-west: the lines meet at (5, 5).
    ([(0, 0), (10, 0)], [45.0, 315.0], (5.0, 5.0)),
    # Due north from the origin, due west from (10, 10): (0, 10).
    ([(0, 0), (10, 10)], [0.0, 270.0], (0.0, 10.0)),
    # tan(b) = dx / dy: from (0, 0) to (40, 70) b = atan(4/7); from (100, 0) b = 360 - atan(60/70);
    # from (0, 100) b = 180 - atan(40/30).
    ([(0, 0), (100, 0), (0, 100)],
     [np.degrees(np.arctan(40 / 70)), 360 - np.degrees(np.arctan(60 / 70)),
      180 - np.degrees(np.arctan(40 / 30))], (40.0, 70.0)),
])
def test_noise_free_bearings_meet_at_the_hand_computed_point(fix, stations, bearings, truth):
    x, y = np.array(stations, float).T
    # Noise-free: sigma -> 0 also makes the ML's second-order bias correction vanish.
    xy = fix(x, y, bearings, np.full(len(x), 1e-6))
    np.testing.assert_allclose(xy, truth, atol=1e-9)


def test_ml_bias_correction_and_covariance():
    """3 deg errors at 150-250 m: the ML's O(sigma^2) range bias is removed, its spread is the CRB."""
    rng = np.random.default_rng(21)
    x = np.array([0.0, 80.0, 160.0, 240.0])
    y = np.zeros(4)
    truth = np.array([120.0, 200.0])
    b_true = np.degrees(np.arctan2(truth[0] - x, truth[1] - y))
    sigma = np.full(4, 3.0)
    plain, corrected = [], []
    for _ in range(1500):
        b = b_true + rng.normal(0.0, 3.0, 4)
        corrected.append(triangulate.ml_fix(x, y, b, sigma)[0])
        plain.append(triangulate.ml_fix(x, y, b, sigma, bias_correct=False)[0])
    plain, corrected = np.array(plain), np.array(corrected)
    se = plain.std(axis=0) / np.sqrt(len(plain))
    # The Box bias at the truth predicts what the uncorrected ML shows.
    shift = triangulate.ml_fix(x, y, b_true, sigma)[0] - truth
    bias_plain = plain.mean(axis=0) - truth
    assert np.all(np.abs(bias_plain + shift) < 3.5 * se)
    assert np.all(np.abs(corrected.mean(axis=0) - truth) < 3.5 * se)
    _, cov = triangulate.ml_fix(x, y, b_true, sigma)
    np.testing.assert_allclose(np.diag(np.cov(corrected.T)), np.diag(cov), rtol=0.15)
    # The ML covariance is the bearing-only Cramer-Rao bound at the truth.
    ref = crb_position(x, y, truth, n_exp=3.0, sigma_db=1e9, p0_known=True, n_known=True,
                       bearings=(x, y, sigma))
    np.testing.assert_allclose(cov, ref, rtol=1e-6, atol=1e-9)


def test_von_mises_wedges_peak_on_the_intersection():
    grid = Grid(np.linspace(-20, 20, 81), np.linspace(-20, 20, 81))
    cx, cy = grid.cells()
    ll = triangulate.bearing_loglik(cx, cy, [0.0, 10.0], [-10.0, 0.0], [0.0, 270.0], [3.0, 3.0])
    i = np.argmax(ll)
    assert (cx[i], cy[i]) == pytest.approx((0.0, 0.0))


def test_robust_wedges_outvote_a_reflected_bearing():
    """Three bearings cross at the origin; a fourth, from a reflection, points 90 degrees off.

    Von Mises lets the bad one veto the crossing (it costs kappa = 1/sigma^2 = 365 nats there);
    the Student-t loss (nu = 4) costs it 2 log(1 + (90/3)^2 / 4) = 11.3 nats, so the crossing of
    the three stays the peak.
    """
    grid = Grid(np.linspace(-20, 20, 81), np.linspace(-20, 20, 81))
    cx, cy = grid.cells()
    bx, by = [0.0, 10.0, -10.0, 0.0], [-10.0, 0.0, 0.0, 10.0]
    brg = [0.0, 270.0, 90.0, 90.0]          # the last should be 180 (due south)
    sig = [3.0] * 4
    robust = triangulate.bearing_loglik(cx, cy, bx, by, brg, sig, nu=4.0)
    plain = triangulate.bearing_loglik(cx, cy, bx, by, brg, sig)
    i0 = int(np.flatnonzero((cx == 0.0) & (cy == 0.0))[0])
    assert robust[i0] == pytest.approx(-2.0 * np.log1p(30.0**2 / 4.0))
    assert plain[i0] == pytest.approx(-1.0 / np.radians(3.0) ** 2)
    assert (cx[np.argmax(robust)], cy[np.argmax(robust)]) == pytest.approx((0.0, 0.0))
    assert np.hypot(cx[np.argmax(plain)], cy[np.argmax(plain)]) > 1.0


def test_bearings_fuse_with_rss(synth):
    rng = np.random.default_rng(22)
    x, y = synth.square_walk(120.0, 3.0)
    ex, ey = 20.0, -15.0
    bx, by = np.array([-60.0, 60.0]), np.array([-60.0, 60.0])
    bearing = np.degrees(np.arctan2(ex - bx, ey - by)) + rng.normal(0, 3.0, 2)
    grid = Grid.around(x, y, cells=48)
    both, alone = [], []
    for _ in range(6):
        p = synth.model_rssi(x, y, ex, ey, -30.0, 3.0) + rng.normal(0, 6.0, len(x))
        a = estimate_position(x, y, p, grid=grid, corr_m=0.0)
        b = estimate_position(x, y, p, grid=grid, corr_m=0.0,
                              bearings=(bx, by, bearing, np.full(2, 3.0)))
        assert b.cep50_m < a.cep50_m
        both.append(np.hypot(b.x_m - ex, b.y_m - ey))
        alone.append(np.hypot(a.x_m - ex, a.y_m - ey))
    assert np.mean(both) < np.mean(alone)


def test_bearings_alone():
    grid = Grid(np.linspace(-50, 50, 41), np.linspace(-50, 50, 41))
    est = estimate_position([], [], [], bearings=([0.0, 10.0], [0.0, 0.0], [45.0, 315.0], [1.0, 1.0]),
                            grid=grid)
    assert (est.x_m, est.y_m) == pytest.approx((5.0, 5.0), abs=1e-6)
    assert est.posterior.sum() == pytest.approx(1.0)
