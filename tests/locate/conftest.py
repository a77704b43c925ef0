"""Synthetic walks for the localisation tests, written from the equations, not from dsp."""

import numpy as np
import pytest

RX_Z_M, TX_Z_M, STOREY_M = 1.5, 1.0, 3.0


def model_rssi(x, y, ex, ey, p0_dbm, n_exp, *, rx_z=RX_Z_M, tx_z=TX_Z_M):
    """P0 - 10 n log10(d), d the 3-D distance clamped at 1 m."""
    d = np.maximum(np.sqrt((x - ex) ** 2 + (y - ey) ** 2 + (rx_z - tx_z) ** 2), 1.0)
    return p0_dbm - 10.0 * n_exp * np.log10(d)


def correlated_noise(rng, x, y, sigma_db, corr_m):
    """Gaussian shadowing with covariance sigma^2 exp(-distance / corr_m)."""
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    cov = sigma_db**2 * np.exp(-dist / corr_m) + 1e-9 * np.eye(len(x))
    return np.linalg.cholesky(cov) @ rng.standard_normal(len(x))


def square_walk(side_m=120.0, step_m=2.0, centre=(0.0, 0.0)):
    """Readings every step_m along the four streets of a square block."""
    h = side_m / 2
    s = np.arange(-h, h, step_m)
    x = np.concatenate([s, np.full_like(s, h), -s, np.full_like(s, -h)]) + centre[0]
    y = np.concatenate([np.full_like(s, -h), s, np.full_like(s, h), -s]) + centre[1]
    return x, y


@pytest.fixture
def rng():
    return np.random.default_rng(20261128)


@pytest.fixture
def synth():
    """The walk and model helpers above, for tests (conftest is not importable by name)."""
    import types
    return types.SimpleNamespace(model_rssi=model_rssi, correlated_noise=correlated_noise,
                                 square_walk=square_walk)
