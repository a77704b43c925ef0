"""Summaries of a 2-D Gaussian position error: the 95 % ellipse and CEP50, and the
heat-map spread and covariance widening the locator builds them from."""

import numpy as np
from scipy import optimize, special


def second_moment_m2(weight, x_m, y_m, about_xy):
    """Weighted second moment (2x2, m^2) of points about ``about_xy``: a heat map's spread."""
    dev = np.column_stack([np.ravel(x_m) - about_xy[0], np.ravel(y_m) - about_xy[1]])
    return (dev * np.ravel(weight)[:, None]).T @ dev


def widened_m2(cov_m2, other_m2):
    """``cov_m2``, widened to ``other_m2`` along every direction where that is wider."""
    lam, vec = np.linalg.eigh(other_m2 - cov_m2)
    return cov_m2 + (vec * np.clip(lam, 0.0, None)) @ vec.T


def chi2_2dof_quantile(prob):
    """Quantile of the chi-square of 2 degrees of freedom: -2 ln(1 - prob) (closed form)."""
    return -2.0 * np.log1p(-prob)


# Gauss-Legendre nodes on t in (-pi/2, pi/2).
_GL_T, _GL_W = np.polynomial.legendre.leggauss(96)
_GL_T, _GL_W = _GL_T * np.pi / 2.0, _GL_W * np.pi / 2.0


def error_ellipse(cov_m2, prob=0.95):
    """Confidence ellipse of a 2x2 east/north covariance.

    Returns
    -------
    dict
        ``semi_major_m``, ``semi_minor_m`` and ``orientation_deg``: direction
        of the major axis in degrees clockwise from north, in [0, 180).

    Examples
    --------
    >>> e = error_ellipse(np.diag([4.0, 1.0]))
    >>> round(e["semi_major_m"], 3), round(e["orientation_deg"], 1)
    (4.895, 90.0)
    """
    cov = np.asarray(cov_m2, dtype=float)
    k2 = chi2_2dof_quantile(prob)
    lam, vec = np.linalg.eigh(cov)
    lam = np.clip(lam, 0.0, None)
    east, north = vec[0, 1], vec[1, 1]
    # atan2(east, north) is a compass bearing; an axis has no sign, hence mod 180.
    orientation = float(np.degrees(np.arctan2(east, north)) % 180.0)
    return {
        "semi_major_m": float(np.sqrt(k2 * lam[1])),
        "semi_minor_m": float(np.sqrt(k2 * lam[0])),
        "orientation_deg": orientation,
    }


def circle_probability(r_m, sigma1_m, sigma2_m):
    """P(|e| <= r) for e ~ N(0, diag(sigma1^2, sigma2^2)).

    Integrating the minor axis in closed form leaves
    P(r) = integral_{-r}^{r} phi(x/s1)/s1 * (2 Phi(sqrt(r^2 - x^2)/s2) - 1) dx;
    with x = r sin(t) the integrand is smooth, so Gauss-Legendre is accurate,
    and it stays finite when s2 -> 0 (a line-shaped error).
    """
    x = r_m * np.sin(_GL_T)
    chord = r_m * np.cos(_GL_T)
    inner = special.erf(chord / (np.sqrt(2.0) * sigma2_m)) if sigma2_m > 0 else 1.0
    f = np.exp(-0.5 * (x / sigma1_m) ** 2) / (np.sqrt(2.0 * np.pi) * sigma1_m) * inner * chord
    return float(np.sum(_GL_W * f))


def cep50_m(cov_m2):
    """Radius of the circle around the estimate holding the emitter with 50 %.

    Examples
    --------
    >>> round(cep50_m(np.eye(2)), 4)  # sqrt(2 ln 2) for a circular error
    1.1774
    """
    lam = np.clip(np.linalg.eigvalsh(np.asarray(cov_m2, dtype=float)), 0.0, None)
    s_min, s_max = np.sqrt(lam)
    if s_max == 0.0:
        return 0.0
    return float(optimize.brentq(lambda r: circle_probability(r, s_max, s_min) - 0.5,
                                 0.0, 3.0 * s_max, xtol=1e-12 * s_max))
