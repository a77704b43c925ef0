"""RSS localisation against analytic truth and the Cramer-Rao bound."""

import numpy as np
import pytest

from dsp.locate import Grid, LiveLocator, crb_position, estimate_position


@pytest.mark.parametrize("ex, ey, p0, n", [(15.0, -10.0, -30.0, 3.0), (-42.0, 37.5, -12.0, 2.2),
                                            (80.0, 5.0, -45.0, 4.1)])
def test_noise_free_recovers_position_p0_and_n(synth, ex, ey, p0, n):
    x, y = synth.square_walk(120.0, 4.0)
    est = estimate_position(x, y, synth.model_rssi(x, y, ex, ey, p0, n))
    assert est.x_m == pytest.approx(ex, abs=1e-6)
    assert est.y_m == pytest.approx(ey, abs=1e-6)
    assert est.p0_dbm == pytest.approx(p0, abs=1e-6)
    assert est.n_exp == pytest.approx(n, abs=1e-7)
    assert est.posterior.sum() == pytest.approx(1.0)
    assert est.posterior.shape == est.grid.shape


def test_noise_free_with_heights_from_z(synth):
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-60, 60, (2, 50))
    z = rng.uniform(0.5, 20.0, 50)
    p = synth.model_rssi(x, y, 10.0, 20.0, -25.0, 2.7, rx_z=z)
    est = estimate_position(x, y, p, z_m=z)
    assert np.hypot(est.x_m - 10.0, est.y_m - 20.0) < 1e-6


def test_monte_carlo_unbiased_and_efficient(synth):
    """Mean error within 3 standard errors of 0 and MSE close to the CRB (trace)."""
    rng = np.random.default_rng(11)
    x, y = synth.square_walk(100.0, 2.5)
    ex, ey, sigma = 12.0, -8.0, 2.0
    bound = crb_position(x, y, (ex, ey), n_exp=3.0, sigma_db=sigma)
    err, reported = [], []
    # Cells (3.4 m) not much wider than the error (1.4 m per axis): the reported
    # covariance then has no quantisation to absorb.
    grid = Grid.around(x, y, cells=48)
    for _ in range(100):
        p = synth.model_rssi(x, y, ex, ey, -30.0, 3.0) + rng.normal(0.0, sigma, len(x))
        e = estimate_position(x, y, p, corr_m=0.0, grid=grid)
        err.append((e.x_m - ex, e.y_m - ey))
        reported.append(np.trace(e.cov_m2))
    err = np.array(err)
    se = np.sqrt(np.diag(bound) / len(err))
    assert np.all(np.abs(err.mean(axis=0)) < 3.5 * se + 0.05)
    ratio = np.mean(np.sum(err**2, axis=1)) / np.trace(bound)
    # ML is efficient: a centroid or a fixed-n fit lands far outside this band.
    assert 0.75 < ratio < 1.35
    # Its reported covariance agrees with the bound on average.
    assert np.mean(reported) == pytest.approx(np.trace(bound), rel=0.25)


def test_correlated_shadowing(synth):
    """Correlation estimated, error near the bound with the true 2-D correlation, honest ellipse.

    Default (working independence with the sandwich) and whitened (GLS) alike.
    """
    rng = np.random.default_rng(12)
    x, y = synth.square_walk(160.0, 1.5)
    xs = np.arange(-80.0, 80.0, 1.5)
    x, y = np.concatenate([x, xs]), np.concatenate([y, np.zeros_like(xs)])
    ex, ey, sigma, corr = 10.0, 15.0, 4.0, 10.0
    bound = crb_position(x, y, (ex, ey), n_exp=3.0, sigma_db=sigma, corr_m=corr)
    naive = crb_position(x, y, (ex, ey), n_exp=3.0, sigma_db=sigma)
    assert np.trace(bound) > 5 * np.trace(naive)  # correlated readings carry less
    grid = Grid.around(x, y, cells=32)
    se, se_indep, se_gls, inside, inside_indep, inside_gls, corr_hat = [], [], [], [], [], [], []
    for _ in range(20):
        p = synth.model_rssi(x, y, ex, ey, -25.0, 3.0) + synth.correlated_noise(rng, x, y, sigma, corr)
        default = estimate_position(x, y, p, grid=grid)
        indep = estimate_position(x, y, p, corr_m=0.0, grid=grid)
        gls = estimate_position(x, y, p, grid=grid, whiten=True)
        corr_hat.append(default.corr_m)
        for est, sq, ins in ((default, se, inside), (indep, se_indep, inside_indep),
                             (gls, se_gls, inside_gls)):
            d = np.array([est.x_m - ex, est.y_m - ey])
            sq.append(d @ d)
            ins.append(d @ np.linalg.solve(est.cov_m2, d) < 5.99)
    assert 6.0 < np.median(corr_hat) < 16.0
    assert np.mean(se) < 2.0 * np.trace(bound)
    assert np.mean(se_gls) < 2.0 * np.trace(bound)
    # Assuming independence claims ellipses ten times too small; the correlation model does not.
    assert np.mean(inside) >= 0.75 and np.mean(inside_gls) >= 0.6
    assert np.mean(inside_indep) < 0.5 * np.mean(inside)


def test_non_detections_resolve_the_mirror_ambiguity(synth):
    """Readings on one straight street cannot tell north from south; silence further south can."""
    rng = np.random.default_rng(13)
    xs = np.arange(-100.0, 100.0, 2.0)
    street = (xs, np.zeros_like(xs))
    south = (xs[::2], np.full(len(xs) // 2, -70.0))
    x, y = np.concatenate([street[0], south[0]]), np.concatenate([street[1], south[1]])
    ex, ey, floor_dbm = 5.0, 40.0, -95.0
    grid = Grid(np.linspace(-120, 120, 61), np.linspace(-120, 120, 61))
    err_with, err_without, mass_south, wrong_side = [], [], [], []
    for _ in range(8):
        p = synth.model_rssi(x, y, ex, ey, -30.0, 3.5) + rng.normal(0, 3.0, len(x))
        p[p < floor_dbm] = np.nan
        assert np.isnan(p[len(xs):]).mean() > 0.9
        w = estimate_position(x, y, p, noise_floor_dbm=floor_dbm, grid=grid)
        wo = estimate_position(x, y, p, grid=grid)
        assert wo.n_used < w.n_used
        assert w.y_m > 0
        err_with.append(np.hypot(w.x_m - ex, w.y_m - ey))
        err_without.append(np.hypot(wo.x_m - ex, wo.y_m - ey))
        mass_south.append(w.posterior[grid.y_m < 0].sum())
        wrong_side.append(wo.y_m < 0)
    assert max(mass_south) < 0.05
    assert np.mean(wrong_side) > 0.3  # without them it is a coin toss
    assert np.mean(err_with) < 0.6 * np.mean(err_without)


def test_five_percent_outliers(synth):
    rng = np.random.default_rng(14)
    x, y = synth.square_walk(120.0, 2.0)
    ex, ey = -20.0, 25.0
    grid = Grid.around(x, y, cells=32)
    clean, robust, plain = [], [], []
    for _ in range(12):
        p = synth.model_rssi(x, y, ex, ey, -30.0, 3.0) + rng.normal(0, 3.0, len(x))
        c = estimate_position(x, y, p, corr_m=0.0, grid=grid)
        bad = rng.choice(len(x), len(x) // 20, replace=False)
        p[bad] += rng.uniform(15.0, 30.0, len(bad))  # a co-channel phone nearby
        r = estimate_position(x, y, p, corr_m=0.0, grid=grid)
        g = estimate_position(x, y, p, corr_m=0.0, grid=grid, robust=False)
        for out, e in ((clean, c), (robust, r), (plain, g)):
            out.append(np.hypot(e.x_m - ex, e.y_m - ey))
    assert np.sqrt(np.mean(np.square(robust))) < 1.3 * np.sqrt(np.mean(np.square(clean))) + 0.5
    assert np.mean(robust) < 0.6 * np.mean(plain)


def test_p0_per_group_shares_position(synth):
    x, y = synth.square_walk(100.0, 4.0)
    p = np.concatenate([synth.model_rssi(x, y, 7.0, 9.0, -20.0, 3.0),
                        synth.model_rssi(x, y, 7.0, 9.0, -31.0, 3.0)])
    g = np.repeat([0, 1], len(x))
    est = estimate_position(np.tile(x, 2), np.tile(y, 2), p, group=g)
    assert np.hypot(est.x_m - 7.0, est.y_m - 9.0) < 1e-6
    np.testing.assert_allclose(est.p0_dbm, [-20.0, -31.0], atol=1e-6)


def test_group_labels_need_not_be_contiguous(synth):
    """Labels 2 and 5 are two SIMs; label 9 was never heard and is left out."""
    x, y = synth.square_walk(100.0, 4.0)
    p = np.concatenate([synth.model_rssi(x, y, 7.0, 9.0, -20.0, 3.0),
                        synth.model_rssi(x, y, 7.0, 9.0, -31.0, 3.0), np.full(len(x), np.nan)])
    est = estimate_position(np.tile(x, 3), np.tile(y, 3), p, group=np.repeat([5, 2, 9], len(x)),
                            noise_floor_dbm=-120.0)
    assert np.hypot(est.x_m - 7.0, est.y_m - 9.0) < 1e-6
    np.testing.assert_allclose(est.p0_dbm, [-31.0, -20.0], atol=1e-6)  # sorted labels 2, 5
    assert est.n_used == 2 * len(x)


def test_live_locator_agrees_with_batch(synth):
    rng = np.random.default_rng(15)
    x, y = synth.square_walk(100.0, 3.0)
    p = synth.model_rssi(x, y, 5.0, -12.0, -30.0, 3.0) + rng.normal(0, 5.0, len(x))
    p[p < -88.0] = np.nan
    grid = Grid(np.linspace(-90, 90, 50), np.linspace(-80, 80, 40))
    live = LiveLocator(grid, sigma_db=5.0, noise_floor_dbm=-88.0)
    for xi, yi, pi in zip(x, y, p):
        live.add(xi, yi, pi)
    batch = estimate_position(x, y, p, grid=grid, sigma_db=5.0, corr_m=0.0, robust=False,
                              noise_floor_dbm=-88.0)
    np.testing.assert_allclose(live.posterior(), batch.posterior, rtol=1e-6, atol=1e-12)
    full = live.estimate(sigma_db=5.0, corr_m=0.0, robust=False)
    assert (full.x_m, full.y_m) == pytest.approx((batch.x_m, batch.y_m), abs=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(x_m=[0, 1], y_m=[0], rssi_dbm=[1, 2]), "y_m"),
    (dict(x_m=[0, np.nan, 2, 3, 4], y_m=[0] * 5, rssi_dbm=[1] * 5), "finite"),
    (dict(x_m=[0, 1, 2], y_m=[0, 1, 2], rssi_dbm=[-50, -60, -70]), "at least"),
    (dict(x_m=np.zeros(20), y_m=np.linspace(0, 0.5, 20), rssi_dbm=np.linspace(-70, -75, 20)),
     "one spot"),
])
def test_bad_inputs_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        estimate_position(kwargs.pop("x_m"), kwargs.pop("y_m"), kwargs.pop("rssi_dbm"), **kwargs)


@pytest.mark.parametrize("corr", [8.0, 25.0])
def test_correlation_distance_from_the_variogram_despite_outliers(corr):
    """An AR(1) field along a 3 km walk in 1.5 m steps, 5 % of it +20 dB: D within 40 %."""
    from dsp.rss import fit_corr_m
    rng = np.random.default_rng(int(corr))
    x = np.arange(0.0, 3000.0, 1.5)
    rho = np.exp(-1.5 / corr)
    e = np.empty(len(x))
    e[0] = rng.normal(0, 6.0)
    for i in range(1, len(x)):
        e[i] = rho * e[i - 1] + np.sqrt(1 - rho**2) * rng.normal(0, 6.0)
    e[rng.random(len(x)) < 0.05] += 20.0
    assert fit_corr_m(x, np.zeros_like(x), e, 6.0) == pytest.approx(corr, rel=0.4)
    assert fit_corr_m(x, np.zeros_like(x), rng.normal(0, 6.0, len(x)), 6.0) <= 1.5
