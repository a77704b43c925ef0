"""The handheld receiver's power response: model, inverse and fit.

The firmware turns an input-referred reading ``r = -rssi_db - gain_db`` (dB) into
power with ``P = offset + slope * r - tc * (T - T_ref)`` (firmware/calibration.py).
That straight line is the middle of the true response; at its ends the receiver's
noise floor and the ADC's compression bend it. The model fitted here is the
straight line plus those two bends, in the order the signal meets them::

    P_t = P + tc (T - T_ref)                                 temperature drift
    P_n = 10 log10(10^(P_t/10) + 10^(floor/10))              noise floor added in power
    r_l = (P_n - offset) / slope                             the straight line
    r   = r_l - (10/s) log10(1 + 10^(s (r_l - r_k)/10))      compression (Rapp, smoothness s)
    r_k = (knee - offset) / slope

``knee`` (dBm, input-referred at the bench gain) is where the compressed reading
saturates; compression there is ``10 log10(2) / s`` dB. The 1 dB compression
point ``p1db`` follows from ``knee`` and ``s``. Every step inverts in closed form,
so :func:`input_dbm` maps a reading back to dBm between floor and saturation.
"""
import dataclasses

import numpy as np
from scipy import optimize

#: Reference temperature of the temperature coefficient (deg C).
T_REF_C = 25.0
# A temperature coefficient is identifiable only if the run spans this much.
_MIN_TEMPERATURE_SPAN_C = 3.0
# Deviation from the straight line that still counts as "linear" (dB).
_LINEAR_TOLERANCE_DB = 0.5
_NAMES = ("offset_db", "slope", "knee_dbm", "smoothness", "noise_floor_dbm",
          "temp_coeff_db_per_c")


@dataclasses.dataclass
class BandResponse:
    """Coefficients of one band's response (see the module docstring)."""

    offset_db: float
    slope: float
    knee_dbm: float
    smoothness: float
    noise_floor_dbm: float
    temp_coeff_db_per_c: float = 0.0
    t_ref_c: float = T_REF_C

    def as_dict(self):
        return dataclasses.asdict(self)


def _temperature(t, resp):
    return resp.t_ref_c if t is None else np.asarray(t, dtype=float)


def reading_db(p_dbm, resp, temperature_c=None):
    """Forward model: expected reading ``r`` (dB) for input power ``p_dbm`` (dBm)."""
    p_t = np.asarray(p_dbm, dtype=float) + resp.temp_coeff_db_per_c * (
        _temperature(temperature_c, resp) - resp.t_ref_c)
    p_n = 10.0 * np.log10(10.0 ** (p_t / 10.0) + 10.0 ** (resp.noise_floor_dbm / 10.0))
    r_l = (p_n - resp.offset_db) / resp.slope
    r_k = (resp.knee_dbm - resp.offset_db) / resp.slope
    s = resp.smoothness
    return r_l - (10.0 / s) * np.log10(1.0 + 10.0 ** (s * (r_l - r_k) / 10.0))


def firmware_power_dbm(reading, resp, temperature_c=None):
    """What the firmware reports for a reading: only the straight line, no bends."""
    return (resp.offset_db + resp.slope * np.asarray(reading, dtype=float)
            - resp.temp_coeff_db_per_c * (_temperature(temperature_c, resp) - resp.t_ref_c))


def input_dbm(reading, resp, temperature_c=None):
    """Inverse of :func:`reading_db`; NaN at or beyond the noise floor or saturation."""
    r = np.asarray(reading, dtype=float)
    s = resp.smoothness
    r_k = (resp.knee_dbm - resp.offset_db) / resp.slope
    with np.errstate(invalid="ignore", divide="ignore"):
        # Rapp: 10^(-s r/10) = 10^(-s r_l/10) + 10^(-s r_k/10)
        r_l = -(10.0 / s) * np.log10(10.0 ** (-s * r / 10.0) - 10.0 ** (-s * r_k / 10.0))
        p_n = resp.offset_db + resp.slope * r_l
        p_t = 10.0 * np.log10(10.0 ** (p_n / 10.0) - 10.0 ** (resp.noise_floor_dbm / 10.0))
    p = p_t - resp.temp_coeff_db_per_c * (_temperature(temperature_c, resp) - resp.t_ref_c)
    return np.where(np.isfinite(p), p, np.nan)


def p1db_dbm(resp):
    """Input level (dBm) at 1 dB compression, at the reference temperature."""
    return compression_point_dbm(resp, 1.0)


def compression_point_dbm(resp, compression_db):
    """Input level where the reading is ``compression_db`` below the straight line.

    With the slope applied in the reading domain, ``(10/s) log10(1 + 10^(s x/10)) = c``
    gives ``x = (10/s) log10(10^(s c/10) - 1)`` dB of reading above ``r_k``.
    """
    s = resp.smoothness
    x_db = (10.0 / s) * np.log10(10.0 ** (s * compression_db / 10.0) - 1.0)
    return float(resp.knee_dbm + resp.slope * x_db)


def linear_range_dbm(resp):
    """Input range (dBm) where the response is within 0.5 dB of the straight line."""
    tol = _LINEAR_TOLERANCE_DB
    # noise floor: 10 log10(1 + 10^((floor - P)/10)) = tol
    lo = resp.noise_floor_dbm - 10.0 * np.log10(10.0 ** (tol / 10.0) - 1.0)
    # compression of tol dB in the reading is tol * slope dB at the input
    hi = compression_point_dbm(resp, tol / resp.slope)
    return float(lo), float(hi)


def _as_1d_float(x, name):
    arr = np.asarray(x, dtype=float).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _initial_guess(p, r):
    """Straight line through the middle third of the swept levels."""
    lo, hi = np.quantile(p, [1 / 3, 2 / 3])
    mid = (p >= lo) & (p <= hi)
    if np.count_nonzero(mid) < 2:
        mid = np.ones_like(p, dtype=bool)
    g, c = np.polyfit(p[mid], r[mid], 1)      # r = g P + c  =>  slope = 1/g, offset = -c/g
    g = g if g > 0 else 1.0
    slope, offset = 1.0 / g, -c / g
    floor0 = offset + slope * r.min() - 1.0
    knee0 = offset + slope * r.max() + 1.0
    return np.array([offset, slope, knee0, 1.0, floor0, 0.0])


def fit_response(p_dbm, r_db, temperature_c=None, *, t_ref_c=T_REF_C):
    """Fit one band's response to bench points.

    Parameters
    ----------
    p_dbm : array_like
        Input power at the handheld's RF port (generator level minus cable loss).
    r_db : array_like
        Input-referred reading ``-rssi_db - gain_db`` at each point (a mean).
    temperature_c : array_like, optional
        Handheld temperature at each point. The temperature coefficient is fitted
        only if these span at least 3 deg C; otherwise it stays 0 and is reported
        as not fitted.
    t_ref_c : float
        Reference temperature of the temperature coefficient.

    Returns
    -------
    resp : BandResponse
    props : dict
        ``residual_db`` (input-referred: measured minus model reading, times the
        slope), ``linear`` (mask of points in the fitted linear range),
        ``rms_linear_db``, ``linear_range_dbm``, ``p1db_dbm``, ``sigma`` (1-sigma
        standard errors by coefficient, None where not fitted), ``knee_observed``
        and ``floor_observed`` (whether the sweep reached them), ``tc_fitted``.

    Examples
    --------
    >>> true = BandResponse(12.0, 0.97, -32.0, 1.0, -104.0)
    >>> p = np.arange(-120.0, -19.0, 2.0)
    >>> r = reading_db(p, true) + np.random.default_rng(1).normal(0, 0.2, p.size)
    >>> resp, props = fit_response(p, r)
    >>> abs(resp.offset_db - true.offset_db) < 0.5 and props["rms_linear_db"] < 0.5
    True
    """
    p = _as_1d_float(p_dbm, "p_dbm")
    r = _as_1d_float(r_db, "r_db")
    if p.size != r.size or p.size < 6:
        raise ValueError(f"need >= 6 points of equal length, got p_dbm {p.size}, r_db {r.size}")
    t = (np.full_like(p, t_ref_c) if temperature_c is None
         else _as_1d_float(temperature_c, "temperature_c"))
    if t.size != p.size:
        raise ValueError(f"temperature_c has {t.size} values for {p.size} points")
    tc_fitted = bool(np.ptp(t) >= _MIN_TEMPERATURE_SPAN_C)

    lower = np.array([-200.0, 0.05, -150.0, 0.3, -220.0, -1.0])
    upper = np.array([200.0, 20.0, 60.0, 10.0, 20.0, 1.0])
    free = np.array([True, True, True, True, True, tc_fitted])

    def solve(start):
        def model(xf):
            full = start.copy()
            full[free] = xf
            return BandResponse(*(float(v) for v in full), t_ref_c=t_ref_c)

        def residual(xf):
            return reading_db(p, model(xf), t) - r

        x0 = np.clip(start[free], lower[free] + 1e-6, upper[free] - 1e-6)
        sol = optimize.least_squares(residual, x0, bounds=(lower[free], upper[free]),
                                     loss="soft_l1", f_scale=1.0, x_scale="jac")
        return model(sol.x), sol

    resp, sol = solve(_initial_guess(p, r))
    # A bend the sweep never reached is not determined by the data: pin it far
    # outside the swept range so that it cannot bend the straight line.
    knee_observed = p1db_dbm(resp) <= p.max() + 1.0
    floor_observed = resp.noise_floor_dbm >= p.min() - 10.0
    if not (knee_observed and floor_observed):
        start = np.array([getattr(resp, n) for n in _NAMES])
        if not knee_observed:
            start[2], start[3] = p.max() + 40.0, 1.0
            free[2] = free[3] = False
        if not floor_observed:
            start[4] = p.min() - 40.0
            free[4] = False
        resp, sol = solve(start)

    model_r = reading_db(p, resp, t)
    residual_db = (r - model_r) * resp.slope
    lo, hi = linear_range_dbm(resp)
    linear = (p >= lo) & (p <= hi)
    rms = float(np.sqrt(np.mean(residual_db[linear] ** 2))) if linear.any() else float("nan")

    # 1-sigma standard errors from the Gauss-Newton covariance s^2 (J^T J)^-1
    dof = max(p.size - int(free.sum()), 1)
    s2 = float(np.sum((r - model_r) ** 2) / dof)
    try:
        se = np.sqrt(np.clip(np.diag(np.linalg.inv(sol.jac.T @ sol.jac) * s2), 0.0, None))
    except np.linalg.LinAlgError:
        se = np.full(int(free.sum()), np.nan)
    sigma = dict.fromkeys(_NAMES)
    sigma.update({n: float(v) for n, v in zip(np.array(_NAMES)[free], se)})
    return resp, {
        "residual_db": residual_db, "linear": linear, "rms_linear_db": rms,
        "linear_range_dbm": (lo, hi), "p1db_dbm": p1db_dbm(resp), "sigma": sigma,
        "knee_observed": bool(knee_observed), "floor_observed": bool(floor_observed),
        "tc_fitted": tc_fitted,
    }
