"""Ellipse, CEP50, Cramer-Rao bound and the geodetic frame against closed forms."""

import numpy as np
import pytest

from dsp import geo
from dsp.crb import crb_position
from dsp.ellipse import cep50_m, error_ellipse, second_moment_m2, widened_m2


def test_cep50_closed_forms():
    assert cep50_m(np.eye(2) * 9.0) == pytest.approx(3.0 * np.sqrt(2.0 * np.log(2.0)), rel=1e-10)
    # A line-shaped error: the median of |N(0, s^2)| is 0.6744897502 s.
    assert cep50_m(np.diag([16.0, 0.0])) == pytest.approx(4.0 * 0.6744897501960817, rel=1e-10)


def test_cep50_and_ellipse_hold_their_probability():
    rng = np.random.default_rng(50)
    cov = np.array([[30.0, 12.0], [12.0, 8.0]])
    e = rng.multivariate_normal([0.0, 0.0], cov, 200_000)
    assert np.mean(np.hypot(e[:, 0], e[:, 1]) <= cep50_m(cov)) == pytest.approx(0.5, abs=0.005)
    inside = np.einsum("ij,jk,ik->i", e, np.linalg.inv(cov), e) <= -2 * np.log(0.05)
    assert inside.mean() == pytest.approx(0.95, abs=0.003)


def test_ellipse_axes_and_compass_orientation():
    # Variance 9 along the north-east diagonal, 1 across it.
    u = np.array([1.0, 1.0]) / np.sqrt(2.0)
    v = np.array([1.0, -1.0]) / np.sqrt(2.0)
    e = error_ellipse(9.0 * np.outer(u, u) + np.outer(v, v))
    k = np.sqrt(-2.0 * np.log(0.05))
    assert e["semi_major_m"] == pytest.approx(3.0 * k)
    assert e["semi_minor_m"] == pytest.approx(k)
    assert e["orientation_deg"] == pytest.approx(45.0)
    assert error_ellipse(np.diag([1.0, 4.0]))["orientation_deg"] == pytest.approx(0.0)


def test_spread_and_widening_by_hand():
    # Weights 1/4 at (+-2, 0) and (0, +-1) about the origin: variances 2 and 0.5; about (1, 0)
    # the east one grows by 1^2.
    x, y, w = np.array([2.0, -2.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0, -1.0]), np.full(4, 0.25)
    assert second_moment_m2(w, x, y, (0.0, 0.0)) == pytest.approx(np.diag([2.0, 0.5]))
    assert second_moment_m2(w, x, y, (1.0, 0.0)) == pytest.approx(np.diag([3.0, 0.5]))
    # Widening takes the wider of the two along each principal direction, never narrower.
    assert widened_m2(np.diag([4.0, 1.0]), np.diag([1.0, 9.0])) == pytest.approx(np.diag([4.0, 9.0]))
    a = np.array([[5.0, 2.0], [2.0, 3.0]])
    assert widened_m2(a, 0.5 * a) == pytest.approx(a)
    assert widened_m2(a, 2.0 * a) == pytest.approx(2.0 * a)


def test_crb_limits():
    rng = np.random.default_rng(51)
    x, y = rng.uniform(-80, 80, (2, 60))
    kw = dict(n_exp=3.0, sigma_db=6.0)
    indep = crb_position(x, y, (10.0, 5.0), **kw)
    assert crb_position(x, y, (10.0, 5.0), corr_m=1e-6, **kw) == pytest.approx(indep)
    # Knowing a nuisance parameter can only help; correlation can only hurt here.
    assert np.all(np.linalg.eigvalsh(indep - crb_position(x, y, (10.0, 5.0), n_known=True, **kw)) >= -1e-9)
    assert np.trace(crb_position(x, y, (10.0, 5.0), corr_m=30.0, **kw)) > np.trace(indep)
    # Scales with sigma^2.
    assert crb_position(x, y, (10.0, 5.0), n_exp=3.0, sigma_db=3.0) == pytest.approx(indep / 4.0)


def test_crb_with_the_rack_height_unknown():
    # Readings on a circle around the emitter, 6 m below it, P0 and n known: the height's
    # column k (z - z_i) is the same for every reading and the position columns sum to zero
    # against it, so not knowing the height costs nothing; the bound stays the closed form
    # sigma^2 ln(10)^2 d^4 / (100 n^2 r^2 N / 2) per axis.
    a = np.radians(np.arange(0, 360, 30))
    r, h, n, s = 20.0, 6.0, 3.0, 5.0
    kw = dict(n_exp=n, sigma_db=s, z_m=1.5, tx_z_m=7.5, p0_known=True, n_known=True)
    known = crb_position(r * np.cos(a), r * np.sin(a), (0.0, 0.0), **kw)
    unknown = crb_position(r * np.cos(a), r * np.sin(a), (0.0, 0.0), tx_z_known=False, **kw)
    d2 = r * r + h * h
    # (rel 1e-5: the bound keeps a 1e-6 nugget on the shadowing covariance)
    assert known[0, 0] == pytest.approx(s**2 * np.log(10) ** 2 * d2**2 / (100 * n**2 * r**2 * 6), rel=1e-5)
    assert unknown == pytest.approx(known)
    # Readings along one street on one side: range and height trade off, the bound grows.
    x = np.linspace(-60.0, 60.0, 41)
    y = np.full_like(x, -15.0)
    kw = dict(n_exp=3.0, sigma_db=6.0, z_m=1.5, tx_z_m=10.0)
    k2 = crb_position(x, y, (5.0, 10.0), **kw)
    u2 = crb_position(x, y, (5.0, 10.0), tx_z_known=False, **kw)
    assert np.all(np.linalg.eigvalsh(u2 - k2) >= -1e-9)
    assert u2[1, 1] > 1.2 * k2[1, 1]


def test_geo_round_trip_and_scale():
    lat0, lon0 = 48.2, 16.37
    e, n, _ = geo.enu_from_lla(48.201, 16.371, 0.0, lat0, lon0)
    lat, lon, _ = geo.lla_from_enu(e, n, 0.0, lat0, lon0)
    assert (float(lat), float(lon)) == pytest.approx((48.201, 16.371), abs=1e-10)
    # 0.001 deg of longitude on the equator is a * pi / 180 / 1000 (WGS84 a = 6378137 m).
    e, n, _ = geo.enu_from_lla(0.0, 0.001, 0.0, 0.0, 0.0)
    assert float(e) == pytest.approx(6378137.0 * np.pi / 180.0 / 1000.0, rel=1e-7)
