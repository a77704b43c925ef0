"""Honest ellipses under errors the residuals hide: a slow field under a nugget, a GNSS offset."""

import numpy as np
import pytest

from dsp.locate import Grid, estimate_position
from dsp.rss import fit_variogram

CHI2_2DOF_95 = 5.991464547107979


def test_variogram_sees_a_slow_field_under_a_nugget():
    """Along a 3 km walk in 1.5 m steps: 5 dB of white noise (fading left in a local
    median) plus a 4 dB AR(1) field correlated over 20 m (walls and floors the model does
    not know).  D within 40 % of 20 m and the correlated share 16/41 within 0.12.  A pure
    exponential variogram without a nugget called this uncorrelated (D about 1 m), and the
    hunt's ellipses were then as narrow as if every reading were independent."""
    rng = np.random.default_rng(7)
    x = np.arange(0.0, 3000.0, 1.5)
    rho = np.exp(-1.5 / 20.0)
    field = np.empty(len(x))
    field[0] = rng.normal(0, 4.0)
    for i in range(1, len(x)):
        field[i] = rho * field[i - 1] + np.sqrt(1 - rho**2) * rng.normal(0, 4.0)
    e = field + rng.normal(0, 5.0, len(x))
    corr_m, share = fit_variogram(x, np.zeros_like(x), e, np.hypot(4.0, 5.0))
    assert corr_m == pytest.approx(20.0, rel=0.4)
    assert share == pytest.approx(16.0 / 41.0, abs=0.12)
    assert fit_variogram(x, np.zeros_like(x), rng.normal(0, 6.0, len(x)), 6.0) == (0.0, 0.0)


def test_position_error_common_to_the_walk_is_in_the_ellipse(synth):
    """A GNSS offset shared by every reading moves the estimate by exactly that offset
    (the model is translation invariant), and the residuals cannot show it.  With 1 dB
    of shadowing the RSS ellipse alone has a semi-major axis of about 2 m, and an offset
    of 3 m per axis falls outside it in most walks (17 of these 20); with ``position_sigma_m=3`` the covariance is the
    RSS covariance plus 9 m^2 I and holds the truth in at least 16 of 20 walks
    (probability 0.016 of 16 or fewer at 95 %)."""
    x, y = synth.square_walk(100.0, 2.0)
    ex, ey = 14.0, -9.0
    grid = Grid.around(x, y, cells=32)
    inside = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        p = synth.model_rssi(x, y, ex, ey, -30.0, 3.0) + rng.normal(0.0, 1.0, len(x))
        dx, dy = rng.normal(0.0, 3.0, 2)
        bare = estimate_position(x + dx, y + dy, p, grid=grid, corr_m=0.0)
        est = estimate_position(x + dx, y + dy, p, grid=grid, corr_m=0.0, position_sigma_m=3.0)
        np.testing.assert_allclose(est.cov_m2, bare.cov_m2 + 9.0 * np.eye(2), rtol=1e-9, atol=1e-12)
        d = np.array([ex - est.x_m, ey - est.y_m])
        inside += float(d @ np.linalg.solve(est.cov_m2, d)) <= CHI2_2DOF_95
    assert inside >= 16
