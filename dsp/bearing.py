"""Bearing of an emitter from a rotation scan with a directional antenna.

The officer turns on the spot; each sample pairs the antenna boresight
``heading_deg`` (clockwise from true north) with the received power.  With the
antenna pattern G (angles clockwise from boresight) and an emitter at bearing
theta, the model is

    p_k = P0 + G(theta - h_k) + w_k,          w_k ~ N(0, sigma_p^2)

with the unknown level P0 profiled out by least squares.  The bearing is the
theta that minimises the residual sum of squares, searched on a 1 deg grid and
refined below a degree.

Its stated standard deviation (:func:`bearing_sigma_deg`) adds, in quadrature,
the three things that move a field bearing:

* the fit: the sandwich (heteroscedasticity-robust) variance of the
  least-squares bearing, from the residuals weighted by the pattern's slope, so
  that fades where the pattern is steep count and noise in the flat back lobe
  does not (with white residuals it is the Cramér-Rao bound);
* diffuse multipath: power arriving from everywhere fills the pattern's nulls
  and, coming in through the same pattern from a few scatterers, pulls the
  fitted peak toward them.  The diffuse share ``f`` is estimated from the scan
  (the linear power regressed on the pattern at the estimate: the constant is
  the null fill) and the pull is the first-order shift a scatterer of power
  ratio ``f / (1 - f) / L`` at a uniform random azimuth causes, for ``L``
  scatterers with exponential powers (:data:`DIFFUSE_ARRIVALS`);
* the compass: a heading bias over the turn moves the bearing one for one and
  leaves no trace in the scan (:data:`COMPASS_SIGMA_DEG`).

:func:`floor_sigma_deg` is the one floor every user of a bearing applies.
"""

import numpy as np
from scipy.optimize import minimize_scalar

from dsp.antenna import AntennaPattern, load_pattern
from dsp.checks import as_1d_float as _as_1d_float
from dsp.scans import coverage_deg as _coverage_deg

_GRID_DEG = np.arange(0.0, 360.0, 1.0)

#: Heading error of the handheld's compass over one turn, 1 sigma (deg).  The
#: LIS3MDL/LSM6DSOX pair resolves the heading to well under a degree, but a
#: hard/soft-iron calibration done once leaves errors that local fields (steel
#: frames, cars, the rack's own cabinets) change from place to place: a few
#: degrees in streets and stairwells.  4 deg is the simulator's default heading
#: error and, with a 1-3 deg fit, gives the 4-6 deg that rotating-antenna
#: bearings show in the field, compass included.  Pass the heading module's
#: own figure when it is known better (0 on a turntable).
COMPASS_SIGMA_DEG = 4.0

#: Scatterers the diffuse power arrives from (equal mean powers, each
#: exponentially faded).  3GPP TR 38.901 (tables 7.5-6) gives 19-20 clusters
#: for NLOS urban micro/macro and indoor-office channels.
DIFFUSE_ARRIVALS = 20

#: Least sigma any user of a bearing works with (deg): the boresight is
#: aligned with the magnetometer's axis by hand, and the pattern files are
#: measured on a 5 deg grid.
SIGMA_FLOOR_DEG = 1.0


def floor_sigma_deg(sigma_deg):
    """The one floor on a bearing's stated sigma: ``max(sigma_deg, SIGMA_FLOOR_DEG)``.

    Everything that weights a bearing (``rfhound locate``, the console, the
    simulator's hunt) goes through this, so that one number rules how sure a
    bearing can claim to be.  NaN and inf pass through (no bearing).
    """
    sigma_deg = float(sigma_deg)
    if not np.isfinite(sigma_deg):
        return sigma_deg
    return max(sigma_deg, SIGMA_FLOOR_DEG)


def bearing_sigma_deg(fit_deg, diffuse_deg, compass_deg):
    """Stated bearing sigma: the three independent errors in quadrature, floored.

    >>> round(bearing_sigma_deg(3.0, 0.0, 4.0), 6)
    5.0
    """
    return floor_sigma_deg(np.sqrt(fit_deg ** 2 + diffuse_deg ** 2 + compass_deg ** 2))


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


def _sse(theta_deg, heading_deg, power_dbm, pattern):
    """Residual sum of squares with P0 profiled out, for each theta (vectorised)."""
    theta = np.atleast_1d(theta_deg)
    model = pattern.gain(theta[:, None] - heading_deg[None, :])
    resid = power_dbm[None, :] - model
    resid -= resid.mean(axis=1, keepdims=True)
    return np.einsum("ij,ij->i", resid, resid)


def _diffuse_share(heading, power_dbm, pat, theta):
    """Share of the power arriving diffusely, from the null fill of the scan.

    Mean received power (mW) at heading h: P_d G(theta - h) + P_D <G>, the
    direct path through the pattern plus diffuse power from all around through
    its mean; least squares of the linear power on (G, 1) gives P_d and P_D <G>.
    Returns P_D / (P_d + P_D), in [0, 1].
    """
    g = 10.0 ** (pat.gain(theta - heading) / 10.0)
    g_mean = float(np.mean(10.0 ** (pat.gain(_GRID_DEG) / 10.0)))
    p = 10.0 ** ((power_dbm - power_dbm.max()) / 10.0)
    x = np.stack([g, np.ones_like(g)], axis=1)
    (direct, fill), *_ = np.linalg.lstsq(x, p, rcond=None)
    diffuse = max(float(fill), 0.0) / g_mean
    direct = max(float(direct), 0.0)
    return diffuse / (direct + diffuse) if direct + diffuse > 0 else 1.0


def _diffuse_pull_deg(heading, pat, theta, share, arrivals, grid_model, draws=64):
    """RMS pull of the fitted bearing by diffuse power of the given share.

    Parametric bootstrap at the estimate: the direct path through the pattern
    plus ``arrivals`` scatterers at uniform azimuths with exponential powers
    summing on average to ``share / (1 - share)`` of the direct power, each
    through the pattern; the scan is fitted as :func:`scan_bearing` fits it
    (1 deg grid, parabolic refinement) and the RMS shift returned.  Fast
    fading is left out: the residuals carry it into the fit's own sigma.
    Seeded: the same scan always states the same sigma.
    """
    if share <= 0:
        return 0.0
    ratio = min(share / max(1.0 - share, 1e-9), 100.0)
    rng = np.random.default_rng(0x5CA7)
    az = rng.uniform(0.0, 360.0, (draws, arrivals))
    w = rng.exponential(ratio / arrivals, (draws, arrivals))
    # Gain by table lookup on a 0.25 deg grid (np.interp over every
    # scatterer-heading pair costs more than the rest of the fit).
    table = 10.0 ** (pat.gain(np.arange(0.0, 360.0, 0.25)) / 10.0)
    idx = np.rint((az[:, :, None] - heading[None, None, :]) * 4.0).astype(np.int64) % table.size
    g_scat = table[idx]
    p_lin = 10.0 ** (pat.gain(theta - heading) / 10.0)[None, :] + np.einsum("rl,rlk->rk", w, g_scat)
    p_db = 10.0 * np.log10(p_lin)
    model = grid_model - grid_model.mean(axis=1, keepdims=True)      # (grid, n)
    p_c = p_db - p_db.mean(axis=1, keepdims=True)
    # sse(theta) = |p_c|^2 - 2 p_c . m + |m|^2 for every draw and grid angle
    # (einsum, not @: a BLAS matrix product of this size loses more to thread
    # start-up than it computes)
    cost = (np.einsum("gk,gk->g", model, model)[None, :]
            - 2.0 * np.einsum("rk,gk->rg", p_c, model))
    i = np.argmin(cost, axis=1)
    r = np.arange(draws)
    c0, cm, cp = cost[r, i], cost[r, i - 1], cost[r, (i + 1) % _GRID_DEG.size]
    den = cm - 2.0 * c0 + cp
    frac = np.where(den > 0, 0.5 * (cm - cp) / np.where(den > 0, den, 1.0), 0.0)
    est = _GRID_DEG[i] + np.clip(frac, -0.5, 0.5)
    shift = (est - theta + 180.0) % 360.0 - 180.0
    return float(np.sqrt(np.mean(shift ** 2)))


def scan_bearing(heading_deg, power_dbm, pattern, *, freq_hz=None, reference_dbm=None,
                 max_change_db=3.0, min_coverage_deg=270.0, ambiguity_chi2=9.0,
                 compass_sigma_deg=COMPASS_SIGMA_DEG, diffuse_arrivals=DIFFUSE_ARRIVALS):
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
    compass_sigma_deg : float
        Heading error over the turn, 1 sigma (default :data:`COMPASS_SIGMA_DEG`).
    diffuse_arrivals : int
        Scatterers the diffuse power comes from (default :data:`DIFFUSE_ARRIVALS`).

    Returns
    -------
    bearing_deg : float
        In [0, 360).
    props : dict
        ``sigma_deg`` (stated standard deviation: fit, diffuse multipath and
        compass in quadrature, floored by :func:`floor_sigma_deg`),
        ``sigma_fit_deg``, ``sigma_diffuse_deg``, ``sigma_compass_deg`` (its
        parts), ``sigma_crb_deg`` (the Cramér-Rao bound with white residuals,
        for reference), ``diffuse_share`` (estimated share of the power
        arriving diffusely),
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
    >>> round(props["sigma_compass_deg"]), props["sigma_deg"] > props["sigma_compass_deg"]
    (4, True)
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

    grid_model = pat.gain(_GRID_DEG[:, None] - heading[None, :])
    resid = power[None, :] - grid_model
    resid -= resid.mean(axis=1, keepdims=True)
    cost = np.einsum("ij,ij->i", resid, resid)            # _sse over the grid
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
    dc = d - d.mean()
    sxx = float(dc @ dc)
    info = sxx / var_p
    crb_deg = float(1.0 / np.sqrt(info)) if info > 0 else float("inf")

    level = power - pat.gain(theta - heading)
    # Sandwich variance of the LS bearing, (sum dG^2)^-2 sum dG_k^2 r_k^2, with
    # the n / (n - 2) small-sample factor (HC1): fades where the pattern is
    # steep weigh in, noise where it is flat does not.
    resid = level - level.mean()
    fit_deg = (float(np.sqrt(np.sum(dc ** 2 * resid ** 2) * n / dof)) / sxx
               if sxx > 0 else float("inf"))
    share = _diffuse_share(heading, power, pat, theta)
    diffuse_deg = (_diffuse_pull_deg(heading, pat, theta, share, int(diffuse_arrivals), grid_model)
                   if sxx > 0 else float("inf"))
    sigma_deg = bearing_sigma_deg(fit_deg, diffuse_deg, float(compass_sigma_deg))
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
        "sigma_fit_deg": fit_deg,
        "sigma_diffuse_deg": diffuse_deg,
        "sigma_compass_deg": float(compass_sigma_deg),
        "sigma_crb_deg": crb_deg,
        "diffuse_share": share,
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
