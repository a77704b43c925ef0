"""Cramer-Rao bound on the emitter position for a measurement geometry.

For detected readings ``y = mu(theta) + e`` with ``e ~ N(0, C)`` the Fisher
information is ``J = H^T C^-1 H``, ``H = d mu / d theta``, theta =
(x, y, P0, n).  With ``l_i = -10 log10 d_i``::

    d mu_i / d x = -10 n (x - x_i) / (ln(10) d_i^2),    (y likewise)
    d mu_i / d P0 = 1,    d mu_i / d n = l_i.

Correlated shadowing enters through ``C_ij = sigma^2 exp(-|p_i - p_j| / corr_m)``
(Gudmundson), the full matrix, not the walk-order approximation the
estimator uses.  Unknown P0 and n are nuisance parameters: the bound is the
(x, y) block of ``J^-1``.  So, optionally, is the rack's height z (its floor
unknown): ``d mu_i / d z = -10 n (z - z_i) / (ln(10) d_i^2)``.  Bearings add ``grad h_i grad h_i^T / sigma_i^2``
to the (x, y) block (see `dsp.triangulate`).
"""

import numpy as np
from scipy import linalg

from dsp import propagation


def shadowing_covariance(x_m, y_m, sigma_db, corr_m=None):
    """Covariance (dB^2) of log-normal shadowing at the given points."""
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    if not corr_m:
        return sigma_db**2 * np.eye(len(x))
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    return sigma_db**2 * np.exp(-dist / corr_m)


def crb_position(x_m, y_m, true_xy, *, n_exp, sigma_db, corr_m=None, z_m=None, tx_z_m=None,
                 p0_known=False, n_known=False, tx_z_known=True, bearings=None):
    """Lower bound on the covariance (m^2) of any unbiased estimate of the position.

    Parameters
    ----------
    x_m, y_m : array_like, shape (N,)
        Positions of the detected readings (m).
    true_xy : (float, float)
        Emitter position (m).
    n_exp, sigma_db : float
        Path-loss exponent and shadowing standard deviation (dB).
    corr_m : float, optional
        Shadowing correlation distance (m); None or 0 = independent.
    z_m, tx_z_m : array_like or float, optional
        Heights of readings and emitter (m); default the model's hand and rack heights.
    p0_known, n_known, tx_z_known : bool
        Whether P0, n or the emitter's height are known (otherwise
        estimated alongside).
    bearings : tuple, optional
        ``(x_m, y_m, sigma_deg)`` of bearings also taken.

    Returns
    -------
    ndarray, shape (2, 2)

    Examples
    --------
    Four readings on a circle of radius 10 m, P0 and n known: the bound is
    sigma^2 ln(10)^2 r^2 / (100 n^2 * N / 2) on each axis.

    >>> a = np.radians([0, 90, 180, 270])
    >>> c = crb_position(10 * np.cos(a), 10 * np.sin(a), (0.0, 0.0), n_exp=2.0, sigma_db=4.0,
    ...                  z_m=1.0, tx_z_m=1.0, p0_known=True, n_known=True)
    >>> bool(np.isclose(c[0, 0], 16 * np.log(10)**2 * 100 / (100 * 4 * 2)))
    True
    """
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    z = np.full(len(x), propagation.RX_ABOVE_FLOOR_M) if z_m is None else np.broadcast_to(z_m, x.shape)
    tz = propagation.TX_ABOVE_FLOOR_M if tx_z_m is None else tx_z_m
    ex, ey = true_xy
    d = propagation.distance_m(x, y, z, ex, ey, tz)
    k = -10.0 * n_exp / (np.log(10.0) * d * d)
    cols = [k * (ex - x), k * (ey - y)]
    if not p0_known:
        cols.append(np.ones(len(x)))
    if not n_known:
        cols.append(propagation.distance_term(d))
    if not tx_z_known:
        cols.append(k * (tz - z))
    h = np.column_stack(cols)
    cov = shadowing_covariance(x, y, sigma_db, corr_m)
    # Two readings at one spot share their shadowing exactly; a 1e-6 nugget keeps C invertible
    # without creating information (their rows of H are equal too).
    cho = linalg.cho_factor(cov + 1e-6 * sigma_db**2 * np.eye(len(x)))
    info = h.T @ linalg.cho_solve(cho, h)
    if bearings is not None:
        bx, by, bs = (np.asarray(a, float) for a in bearings)
        dx, dy = ex - bx, ey - by
        d2 = dx * dx + dy * dy
        g = np.column_stack([dy / d2, -dx / d2]) / np.radians(np.broadcast_to(bs, bx.shape))[:, None]
        info[:2, :2] += g.T @ g
    return np.linalg.inv(info)[:2, :2]
