"""Bearing of an emitter from a rotation scan with a directional antenna.

The officer turns on the spot; each sample pairs the antenna boresight
``heading_deg`` (clockwise from true north) with the received power.  With the
antenna pattern G (angles clockwise from boresight) and an emitter at bearing
theta, the model is

    p_k = P0 + G(theta - h_k) + w_k,          w_k ~ N(0, sigma_p^2)

with the unknown level P0 profiled out by least squares.  The bearing is the
theta that minimises the residual sum of squares, searched on a 1 deg grid and
refined below a degree; its standard deviation is the Cramér-Rao bound at the
estimate with sigma_p taken from the residuals.
"""

import numpy as np
from scipy.optimize import minimize_scalar

from dsp.antenna import AntennaPattern, load_pattern
from dsp.checks import as_1d_float as _as_1d_float

_GRID_DEG = np.arange(0.0, 360.0, 1.0)


def _pattern_row(pattern, freq_hz):
    if isinstance(pattern, str) or hasattr(pattern, "__fspath__"):
        pattern = load_pattern(pattern)
    if not isinstance(pattern, AntennaPattern):
        raise ValueError("pattern must be an AntennaPattern or an antenna id")
    if freq_hz is not None:
        pattern = pattern.at(freq_hz)
    elif len(pattern.freq_hz) != 1:
        raise ValueError(
            f"antenna {pattern.antenna_id!r} has patterns for {len(pattern.freq_hz)} "
            "frequencies: pass freq_hz")
    return pattern


def _coverage_deg(heading_deg):
    """Angular span covered by the headings: 360 minus the largest gap."""
    h = np.sort(np.mod(heading_deg, 360.0))
    gaps = np.diff(np.concatenate([h, h[:1] + 360.0]))
    return 360.0 - float(gaps.max()) if len(h) > 1 else 0.0


def _sse(theta_deg, heading_deg, power_dbm, pattern):
    """Residual sum of squares with P0 profiled out, for each theta (vectorised)."""
    theta = np.atleast_1d(theta_deg)
    model = pattern.gain(theta[:, None] - heading_deg[None, :])
    resid = power_dbm[None, :] - model
    resid -= resid.mean(axis=1, keepdims=True)
    return np.einsum("ij,ij->i", resid, resid)


def scan_bearing(heading_deg, power_dbm, pattern, *, freq_hz=None, reference_dbm=None,
                 max_change_db=3.0, min_coverage_deg=270.0, ambiguity_chi2=9.0):
    """Bearing from one rotation scan.

    Parameters
    ----------
    heading_deg : array_like, shape (n,)
        Antenna boresight per sample, degrees clockwise from true north.
    power_dbm : array_like, shape (n,)
        Power received by the directional antenna, dBm.
    pattern : AntennaPattern or str
        The antenna's pattern (``dsp.antenna.load_pattern``) or its id.
    freq_hz : float, optional
        Frequency to evaluate a multi-frequency pattern at.
    reference_dbm : array_like, shape (n,), optional
        The target's power over the same samples from a reference that does
        not turn with the antenna (omni antenna or the detector's on-minus-off
        power).  A scan is rejected when it changed by more than
        ``max_change_db`` (trend across the scan or spread of the samples).
        NaN marks a sample where the reference did not detect the target; a
        scan with fewer than half its samples detected is rejected.
    max_change_db : float
        Threshold for the reference check.
    min_coverage_deg : float
        Scans covering less azimuth are rejected (the pattern fit then
        confuses a slope with a peak).
    ambiguity_chi2 : float
        The scan is flagged ``ambiguous`` when the best bearing more than 90 deg
        away from the estimate fits worse by less than this many residual
        variances (a likelihood-ratio statistic).

    Returns
    -------
    bearing_deg : float
        In [0, 360).
    props : dict
        ``sigma_deg`` (Cramér-Rao standard deviation at the estimate),
        ``ambiguous`` (bool), ``alt_bearing_deg`` (best bearing > 90 deg away),
        ``rejected`` (None or a one-line reason), ``peak_dbm`` (power that
        boresight on the emitter would read), ``residual_db`` (RMS),
        ``coverage_deg``, ``n``, ``grid_deg`` and ``cost`` (normalised residual
        sum of squares over the 1 deg grid, for plots).

    Raises
    ------
    ValueError
        Empty, non-finite or mismatched inputs, fewer than 4 samples.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> lpda = load_pattern("lpda-700-2700", freq_hz=1747.5e6)
    >>> heading = np.arange(0.0, 360.0, 10.0)
    >>> power = -70.0 + lpda.gain(123.0 - heading) + rng.normal(0.0, 1.0, heading.size)
    >>> bearing, props = scan_bearing(heading, power, lpda)
    >>> abs(bearing - 123.0) < 4 * props["sigma_deg"], props["rejected"]
    (True, None)
    """
    heading = _as_1d_float(heading_deg, "heading_deg")
    power = _as_1d_float(power_dbm, "power_dbm")
    if heading.size != power.size:
        raise ValueError(
            f"heading_deg has {heading.size} samples but power_dbm has {power.size}")
    if heading.size < 4:
        raise ValueError(f"a rotation scan needs at least 4 samples, got {heading.size}")
    reference = None
    if reference_dbm is not None:
        reference = np.asarray(reference_dbm)
        if reference.dtype.kind not in "iuf" or reference.ndim != 1:
            raise ValueError(
                "reference_dbm must be a 1-D array of real numbers (NaN = not detected)")
        reference = np.where(np.isfinite(reference), reference, np.nan).astype(float)
        if reference.size != heading.size:
            raise ValueError(
                f"reference_dbm has {reference.size} samples, heading_deg {heading.size}")
    pat = _pattern_row(pattern, freq_hz)
    heading = np.mod(heading, 360.0)
    n = heading.size

    cost = _sse(_GRID_DEG, heading, power, pat)
    i0 = int(np.argmin(cost))
    # Sub-degree refinement on the continuous (interpolated) pattern.
    res = minimize_scalar(lambda t: float(_sse(t, heading, power, pat)[0]),
                          bounds=(_GRID_DEG[i0] - 1.0, _GRID_DEG[i0] + 1.0),
                          method="bounded", options={"xatol": 1e-3})
    theta = float(np.mod(res.x, 360.0))
    sse_min = min(float(res.fun), float(cost[i0]))
    dof = max(n - 2, 1)
    var_p = max(sse_min / dof, 1e-12)

    # CRB for theta with P0 as nuisance: J = sum (dG_k - mean dG)^2 / sigma_p^2,
    # dG_k = d/dtheta G(theta - h_k) by central difference (deg^-1).
    step = 0.25
    d = (pat.gain(theta + step - heading) - pat.gain(theta - step - heading)) / (2 * step)
    info = float(np.sum((d - d.mean()) ** 2)) / var_p
    sigma_deg = float(1.0 / np.sqrt(info)) if info > 0 else float("inf")

    level = power - pat.gain(theta - heading)
    peak_dbm = float(level.mean() + pat.peak_gain_dbi[0])

    # Front/back: the best competitor more than 90 deg from the estimate.
    far = np.abs((_GRID_DEG - theta + 180.0) % 360.0 - 180.0) > 90.0
    j = int(np.flatnonzero(far)[np.argmin(cost[far])])
    delta_chi2 = (float(cost[j]) - sse_min) / var_p
    ambiguous = bool(delta_chi2 < ambiguity_chi2)

    coverage = _coverage_deg(heading)
    rejected = None
    if coverage < min_coverage_deg:
        rejected = (f"scan covers {coverage:.0f} deg of azimuth, "
                    f"need {min_coverage_deg:.0f}: turn a full circle")
    elif reference is not None:
        seen = np.isfinite(reference)
        if seen.sum() < max(3, n / 2):
            rejected = (f"the reference detected the target in only {int(seen.sum())} of {n} "
                        "samples: repeat the scan")
        else:
            idx = np.flatnonzero(seen).astype(float)
            slope, _ = np.polyfit(idx, reference[seen], 1)
            trend_db = abs(slope) * (n - 1)
            spread_db = float(np.std(reference[seen]))
        if rejected is None and (trend_db > max_change_db or spread_db > max_change_db):
            rejected = (f"target power changed during the scan (reference trend "
                        f"{trend_db:.1f} dB, spread {spread_db:.1f} dB > {max_change_db:g} dB): "
                        "repeat the scan")

    props = {
        "sigma_deg": sigma_deg,
        "ambiguous": ambiguous,
        "alt_bearing_deg": float(_GRID_DEG[j]),
        "delta_chi2": delta_chi2,
        "rejected": rejected,
        "peak_dbm": peak_dbm,
        "residual_db": float(np.sqrt(sse_min / n)),
        "coverage_deg": coverage,
        "n": n,
        "grid_deg": _GRID_DEG.copy(),
        "cost": cost / var_p,
    }
    return theta, props
