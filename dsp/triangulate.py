"""Position fixes from bearings, and bearings as likelihood wedges on a grid.

A bearing ``b_i`` (degrees clockwise from north) taken at ``r_i`` towards an
emitter at ``p`` is ``b_i = h_i(p) + e_i`` with
``h_i(p) = atan2(p_x - r_ix, p_y - r_iy)`` and ``e_i ~ N(0, sigma_i^2)``.

Two estimators, the first the start of the second:

* pseudo-linear (Stansfield): ``a_i^T (p - r_i) = 0`` with
  ``a_i = (cos b_i, -sin b_i)``, a linear least-squares problem, weighted by
  ``1 / (sigma_i d_i)^2`` (the variance of ``a_i^T (p - r_i) = -d_i sin e_i``)
  with the distances of the previous iterate;
* maximum likelihood (Levenberg-Marquardt via `scipy.optimize.least_squares`),
  with its second-order bias (Box 1971) subtracted.
"""

import numpy as np
from scipy import optimize

_ITERATIONS = 5


def _validate(x_m, y_m, bearing_deg, sigma_deg):
    arrays = [np.atleast_1d(np.asarray(a, dtype=float)) for a in (x_m, y_m, bearing_deg, sigma_deg)]
    n = len(arrays[0])
    for name, a in zip(("x_m", "y_m", "bearing_deg", "sigma_deg"), arrays):
        if a.ndim != 1 or len(a) != n or not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be a finite 1-D array of the bearings' length")
    if n < 2:
        raise ValueError("a bearing fix needs at least two bearings")
    if np.any(arrays[3] <= 0):
        raise ValueError("sigma_deg must be positive")
    x, y, b, s = arrays
    return x, y, np.radians(b), np.radians(np.broadcast_to(s, x.shape))


def wrap_rad(a):
    """Angle wrapped to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi


def predicted_bearing_rad(x_m, y_m, px_m, py_m):
    """Bearing from each reading to the point (px, py), radians clockwise from north."""
    return np.arctan2(px_m - x_m, py_m - y_m)


def _pseudolinear(x, y, b, s):
    a = np.column_stack([np.cos(b), -np.sin(b)])
    dist = np.ones_like(x)
    p = None
    for _ in range(_ITERATIONS):
        w = 1.0 / (s * dist) ** 2
        m = np.einsum("i,ij,ik->jk", w, a, a)
        rhs = np.einsum("i,ij,i->j", w, a, np.einsum("ij,ij->i", a, np.column_stack([x, y])))
        p = np.linalg.solve(m, rhs)
        dist = np.maximum(np.hypot(p[0] - x, p[1] - y), 1e-6)
    return p


def pseudolinear_fix(x_m, y_m, bearing_deg, sigma_deg):
    """Stansfield / pseudo-linear fix, (x_m, y_m).

    Examples
    --------
    >>> pseudolinear_fix([0.0, 10.0], [0.0, 0.0], [45.0, 315.0], [1.0, 1.0]).round(9)
    array([5., 5.])
    """
    return _pseudolinear(*_validate(x_m, y_m, bearing_deg, sigma_deg))


def _jacobian(x, y, p):
    dx, dy = p[0] - x, p[1] - y
    d2 = dx * dx + dy * dy
    return np.column_stack([dy / d2, -dx / d2]), dx, dy, d2


def ml_fix(x_m, y_m, bearing_deg, sigma_deg, *, start=None, bias_correct=True):
    """Maximum-likelihood bearing fix with its covariance.

    Returns
    -------
    xy_m : ndarray, shape (2,)
    cov_m2 : ndarray, shape (2, 2)
        Inverse Fisher information at the fix, (F^T W F)^-1.
    """
    x, y, b, s = _validate(x_m, y_m, bearing_deg, sigma_deg)
    p0 = _pseudolinear(x, y, b, s) if start is None else np.asarray(start, float)

    def fun(p):
        return wrap_rad(b - predicted_bearing_rad(x, y, p[0], p[1])) / s

    def jac(p):
        return -_jacobian(x, y, p)[0] / s[:, None]

    res = optimize.least_squares(fun, p0, jac=jac, method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    p = res.x
    f, dx, dy, d2 = _jacobian(x, y, p)
    w = 1.0 / s**2
    cov = np.linalg.inv(f.T @ (w[:, None] * f))
    if bias_correct:
        # Box (1971): bias = -1/2 (F^T W F)^-1 F^T W v, v_i = tr((F^T W F)^-1 H_i),
        # H_i the Hessian of h_i: h_xx = -2 dx dy / d^4, h_yy = -h_xx, h_xy = (dx^2 - dy^2) / d^4.
        hxx = -2.0 * dx * dy / d2**2
        hxy = (dx * dx - dy * dy) / d2**2
        v = cov[0, 0] * hxx - cov[1, 1] * hxx + 2.0 * cov[0, 1] * hxy
        p = p + 0.5 * cov @ (f.T @ (w * v))
    return p, cov


def bearing_loglik(cell_x_m, cell_y_m, x_m, y_m, bearing_deg, sigma_deg, *, nu=None):
    """Log-likelihood of each cell given the bearings (the wedges), up to a constant.

    Von Mises by default: ``sum_i kappa_i (cos(b_i - h_i(cell)) - 1)`` with
    ``kappa_i = 1 / sigma_i^2``, the density that matches a Gaussian bearing
    error of small sigma.  With ``nu``, the Student-t loss of the wrapped
    residual ``r_i = wrap(b_i - h_i) / sigma_i``,
    ``-(nu / 2) sum_i log(1 + r_i^2 / nu)``: the loss `bearing_residuals`
    gets in a robust refinement, so that one bearing off by a reflection
    lowers a region rather than vetoing it.
    """
    x = np.atleast_1d(np.asarray(x_m, float))
    y = np.atleast_1d(np.asarray(y_m, float))
    b = np.radians(np.atleast_1d(np.asarray(bearing_deg, float)))
    sigma = np.radians(np.broadcast_to(np.asarray(sigma_deg, float), x.shape))
    out = np.zeros(np.shape(cell_x_m))
    for xi, yi, bi, si in zip(x, y, b, sigma):
        h = predicted_bearing_rad(xi, yi, cell_x_m, cell_y_m)
        if nu is None:
            out += (np.cos(bi - h) - 1.0) / si**2
        else:
            out -= 0.5 * nu * np.log1p((wrap_rad(bi - h) / si) ** 2 / nu)
    return out


def bearing_residuals(x_m, y_m, bearing_deg, sigma_deg, px_m, py_m):
    """Standardised bearing residuals wrap(b - h(p)) / sigma, for a joint refinement."""
    b = np.radians(bearing_deg)
    return wrap_rad(b - predicted_bearing_rad(x_m, y_m, px_m, py_m)) / np.radians(sigma_deg)
