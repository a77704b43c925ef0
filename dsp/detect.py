"""Is the target transmitting?  Schedule correlation (GLRT) and CFAR bursts.

With a schedule: the operator's network makes the target SIM transmit on a
pseudo-random on/off code (one chip per slot of ``slot_s`` seconds, e.g. an
m-sequence; each SIM of a tasking gets its own code, :func:`sim_codes`).  The
measured power, in linear units, is regressed on the code

    p_k = b + a s_k + w_k,      s_k in {0, 1},  w_k ~ N(0, sigma^2)

and, were the w_k independent, the generalised likelihood-ratio test of a > 0
would be the one-sided t statistic of the least-squares slope (Student t, n - 2
degrees of freedom; ``method="iid"``).  They are not: a bystander's call lasts
tens of seconds and the background drifts as the officer walks, and that test
then alarms 30-150x too often.  The default judges the correlation against an
empirical null instead: the same correlation with cyclic shifts of the code
that no SIM uses, after detrending, AR(1) prewhitening and local-variance
weighting (:func:`schedule_glrt`).  ``a`` is the power the target alone adds
when on: the other phones in the channel are uncorrelated with the code; it is
what the localiser should use.  An unknown clock offset between the schedule
and the measurements is searched over lags, and the false-alarm probability
accounts for the search.

Without a schedule: cell-averaging CFAR on the power series
(:func:`cfar_bursts`; streaming form :class:`BurstDetector`).
"""

import numpy as np
import scipy.special
import scipy.stats

from dsp.checks import as_1d_float as _as_1d_float

# Primitive polynomials over GF(2) as feedback taps (exponents), one per
# degree: x^n + ... + 1 (Xilinx XAPP052 table of maximal-length LFSRs).
_PRIMITIVE_TAPS = {
    2: (2, 1), 3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6),
    8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1),
    13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4),
}


def m_sequence(degree, *, state=1):
    """Maximal-length sequence of 0/1 chips, period 2**degree - 1.

    Parameters
    ----------
    degree : int
        2..16.
    state : int
        Non-zero initial register state; a different state is a cyclic shift.

    Returns
    -------
    ndarray of uint8, shape (2**degree - 1,)
        Balanced: 2**(degree-1) ones.

    Examples
    --------
    >>> m_sequence(3).tolist()
    [0, 0, 1, 0, 1, 1, 1]
    """
    if degree not in _PRIMITIVE_TAPS:
        raise ValueError(
            f"degree must be in {min(_PRIMITIVE_TAPS)}..{max(_PRIMITIVE_TAPS)}, got {degree!r}")
    n = (1 << degree) - 1
    state = int(state) & n
    if state == 0:
        raise ValueError("state must be non-zero (an all-zero register never leaves zero)")
    taps = _PRIMITIVE_TAPS[degree]
    mask = 0
    for t in taps:
        mask |= 1 << (t - 1)
    out = np.empty(n, dtype=np.uint8)
    # Fibonacci LFSR, stages 1..degree: output stage `degree`, shift toward it,
    # feed the parity of the tapped stages into stage 1.
    for i in range(n):
        out[i] = (state >> (degree - 1)) & 1
        fb = bin(state & mask).count("1") & 1
        state = ((state << 1) | fb) & n
    return out


def sim_codes(n_sims, degree):
    """One on/off code per SIM: cyclic shifts of one m-sequence, evenly spaced.

    Shifts of an m-sequence are nearly orthogonal after removing the mean
    (normalised cross-correlation -1/(N - 1)), so one target's power does not leak into another
    target's statistic, provided the lag search stays below half the spacing
    ``(2**degree - 1) // n_sims`` slots.

    Returns
    -------
    ndarray of uint8, shape (n_sims, 2**degree - 1)
    """
    base = m_sequence(degree)
    n = base.size
    if not 1 <= int(n_sims) <= n:
        raise ValueError(f"n_sims must be 1..{n} for degree {degree}, got {n_sims!r}")
    spacing = n // int(n_sims)
    return np.stack([np.roll(base, -k * spacing) for k in range(int(n_sims))])


def schedule_at(time_s, code, slot_s, *, t0_s=0.0):
    """On/off state (0/1) of a cyclic code at given times.

    Chip ``floor((t - t0_s) / slot_s) mod len(code)`` is in force at time t.
    """
    code = np.asarray(code)
    idx = np.floor((np.asarray(time_s, dtype=float) - t0_s) / slot_s).astype(np.int64)
    return code[np.mod(idx, code.size)].astype(float)


def _lag_grid(slot_s, max_lag_s, lag_step_s):
    """Lags searched and how many of them count as independent (half a slot apart)."""
    step = float(lag_step_s) if lag_step_s else slot_s / 4.0
    n_steps = int(np.floor(float(max_lag_s) / step + 1e-9))
    lags = step * np.arange(-n_steps, n_steps + 1)
    # Regressors at lags d apart correlate as 1 - |d|/slot_s; counting lags
    # half a slot apart as independent matches Monte Carlo within ~20 %.
    n_indep = min(lags.size, int(np.floor(4 * float(max_lag_s) / slot_s + 1e-9)) + 1)
    return lags, n_indep


def _sidak(p_single, n_indep):
    """False-alarm probability of the best of ``n_indep`` independent tries."""
    return float(-np.expm1(n_indep * np.log1p(-min(p_single, 1.0 - 1e-16))))


def _code_shift(code, other):
    """j such that ``other == np.roll(code, -j)``, or None."""
    other = np.asarray(other)
    if other.shape != code.shape:
        return None
    a = 2.0 * code - 1.0
    b = 2.0 * other - 1.0
    # circular cross-correlation: c[j] = sum_k a[k + j] b[k]
    c = np.real(np.fft.ifft(np.fft.fft(a) * np.conj(np.fft.fft(b))))
    j = int(np.argmax(c))
    return j if np.array_equal(np.roll(code, -j), other) else None


def _null_shifts(code, slot_s, max_lag_s, other_codes, max_null):
    """Cyclic shifts of ``code`` assigned to no SIM and out of reach of the lag search."""
    n = code.size
    # A shift j moves the schedule by j slots; with lags of +-max_lag_s on the
    # target and none on the null, the two stay at least one slot apart (and so
    # nearly orthogonal) when j slots >= 2 max_lag + 1 slot.
    radius = int(np.ceil(2.0 * float(max_lag_s) / slot_s - 1e-9)) + 1
    taken = [0]
    for k, other in enumerate(other_codes):
        j = _code_shift(code, other)
        if j is None:
            raise ValueError(
                f"other_codes[{k}] is not a cyclic shift of code: pass the tasking's "
                "codes from sim_codes()")
        taken.append(j)
    # In cyclic order from the target on, so that neighbours in the list are
    # neighbours in time shift (their dependence is measured, _effective_dof).
    j = np.arange(radius, n + radius) % n
    dist = np.min([np.minimum((j - t) % n, (t - j) % n) for t in taken], axis=0)
    free = j[dist >= radius][:max_null]
    return free, np.flatnonzero(dist >= radius)[:max_null]


def _ar1_whiten(x, rho):
    """Prais-Winsten transform along the last axis: the AR(1) innovations."""
    out = np.empty_like(x)
    out[..., 0] = np.sqrt(1.0 - rho * rho) * x[..., 0]
    out[..., 1:] = x[..., 1:] - rho * x[..., :-1]
    return out


def _project_out(q, x):
    """Residual of the rows of ``x`` after least squares on the orthonormal columns of q."""
    # einsum, not @: small matrix products lose more to BLAS threads than they compute
    return x - np.einsum("...k,nk->...n", np.einsum("...n,nk->...k", x, q), q)


def schedule_glrt(time_s, power_dbm, code, slot_s, *, t0_s=0.0, max_lag_s=0.0,
                  lag_step_s=None, pfa=1e-3, other_codes=(), method="null",
                  detrend_degree=2, max_null=128, weight_window=None):
    """Correlate a power series with a known on/off schedule (GLRT, lag search).

    Two ways of judging the correlation:

    ``method="null"`` (default): the power, in mW, is detrended (Legendre
    polynomials up to ``detrend_degree`` in time: the officer walks, the
    background drifts; the other SIMs' schedules go with it), prewhitened by an
    AR(1) fitted to the residuals (Prais-Winsten; other phones' calls and
    shadowing are slow) and weighted by the inverse local RMS of the whitened
    data (a faded call makes some stretches noisier than others).  The
    normalised correlation with the target's code is then compared with the
    same correlation against cyclic shifts of the code that no SIM uses (the
    empirical null): their mean square is the variance the statistic has on
    *this* data, whatever the interference does, and the statistic is taken as
    Student t with as many degrees of freedom as null shifts.

    ``method="iid"``: the classical regression t-test, which assumes
    independent Gaussian samples (the false-alarm rate is exact on white noise
    and 40-50x too high under bystanders' calls or a drifting background; kept
    as the reference).

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Measurement times on the schedule's clock (up to the unknown lag), s;
        roughly evenly spaced (the AR(1) runs over the sample index).
    power_dbm : array_like, shape (n,)
        Measured channel power, dBm (regressed in mW).
    code : array_like of 0/1
        The target's chips, cyclic.
    slot_s : float
        Chip duration, s.
    t0_s : float
        Start of chip 0, s.
    max_lag_s : float
        Clock offsets in [-max_lag_s, max_lag_s] are searched.
    lag_step_s : float, optional
        Lag grid step (default slot_s / 4).
    pfa : float
        False-alarm probability at which ``detected`` is set.
    other_codes : sequence of array_like
        Codes of the other SIMs of the tasking (cyclic shifts of ``code``, as
        :func:`sim_codes` makes them): kept out of the null, where an active
        SIM would inflate the variance.
    method : {"null", "iid"}
    detrend_degree : int
        Polynomial degree of the background removed (``"null"`` only; 0 = mean).
    max_null : int
        At most this many null shifts are used (the nearest in shift).
    weight_window : int, optional
        Samples over which the local RMS for the weights is taken (``"null"``
        only; default :data:`WEIGHT_WINDOW`, 0 = unweighted).

    Returns
    -------
    statistic : float
        Largest one-sided t statistic over the lags.
    props : dict
        ``p_fa`` (false-alarm probability of a statistic this large, lag search
        included), ``detected`` (p_fa <= pfa), ``lag_s``, ``on_minus_off_mw``,
        ``on_minus_off_dbm`` (NaN when not positive), ``off_dbm``, ``n``,
        ``n_lags``, ``method``, ``dof``, and for ``"null"`` ``n_null`` (null
        shifts used), ``ar1`` (the prewhitening coefficient) and
        ``variance_ratio`` (null variance over the white-noise variance of the
        residuals: how much the samples' dependence inflates the statistic).

    Raises
    ------
    ValueError
        Bad inputs, fewer than 4 samples, a code that is constant over the
        samples, or (``"null"``) a code with fewer than 8 free shifts.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> code = m_sequence(5)
    >>> t = np.arange(0.0, 62.0, 0.5)                 # 2 s slots, 2 samples/s
    >>> on = schedule_at(t, code, 2.0)
    >>> p_mw = 1e-9 + 1e-9 * on + rng.normal(0, 2e-10, t.size)   # -90 dBm when on
    >>> stat, props = schedule_glrt(t, 10 * np.log10(p_mw), code, 2.0)
    >>> props["detected"], round(props["on_minus_off_dbm"])
    (True, -90)
    """
    t = _as_1d_float(time_s, "time_s")
    p_dbm = _as_1d_float(power_dbm, "power_dbm")
    if t.size != p_dbm.size:
        raise ValueError(f"time_s has {t.size} samples but power_dbm has {p_dbm.size}")
    n = t.size
    if n < 4:
        raise ValueError(f"schedule detection needs at least 4 samples, got {n}")
    code = np.asarray(code)
    if code.ndim != 1 or code.size < 2 or not np.isin(code, (0, 1)).all():
        raise ValueError("code must be a 1-D sequence of 0/1 chips")
    code = code.astype(np.uint8)
    slot_s = float(slot_s)
    if not slot_s > 0:
        raise ValueError(f"slot_s must be positive, got {slot_s!r}")
    if method not in ("null", "iid"):
        raise ValueError(f"method must be 'null' or 'iid', got {method!r}")
    lags, n_indep = _lag_grid(slot_s, max_lag_s, lag_step_s)
    p = 10.0 ** (p_dbm / 10.0)
    # Regressors for every lag at once: (n_lags, n)
    s = schedule_at(t[None, :] - lags[:, None], code, slot_s, t0_s=t0_s)
    if method == "iid":
        stat, best, a, dof, p_single, extra = _iid_statistic(p, s)
    else:
        null, place = _null_shifts(code, slot_s, max_lag_s, other_codes, int(max_null))
        if null.size < 8:
            raise ValueError(
                f"only {null.size} code shifts are free for the empirical null (need 8): "
                "use a longer code or a shorter lag search")
        # null shift j at lag 0: chip (idx + j) mod N, i.e. the schedule moved j slots
        idx = np.floor((t - t0_s) / slot_s).astype(np.int64)
        s_null = code[np.mod(idx[None, :] + null[:, None], code.size)].astype(float)
        others = [schedule_at(t[None, :] - lags[:, None], np.asarray(c), slot_s, t0_s=t0_s)
                  for c in other_codes]
        stat, best, a, dof, p_single, extra = _null_statistic(
            p, t, s, s_null, place, int(detrend_degree), others, weight_window)
    p_fa = _sidak(p_single, n_indep) if method == "iid" else p_single
    off_mw = float(p.mean() - a * s[best].mean())
    props = {
        "p_fa": p_fa,
        "detected": bool(p_fa <= pfa),
        "lag_s": float(lags[best]),
        "on_minus_off_mw": a,
        "on_minus_off_dbm": float(10 * np.log10(a)) if a > 0 else float("nan"),
        "off_dbm": float(10 * np.log10(off_mw)) if off_mw > 0 else float("nan"),
        "n": n,
        "n_lags": int(lags.size),
        "method": method,
        "dof": dof,
    }
    props.update(extra)
    return stat, props


def _iid_statistic(p, s):
    """Classical t-test of the slope: samples independent, Gaussian."""
    n = p.size
    yc = p - p.mean()
    sc = s - s.mean(axis=1, keepdims=True)
    sxx = np.einsum("ij,ij->i", sc, sc)
    if not np.any(sxx > 0):
        raise ValueError("the code is constant over the samples: measure over more slots")
    sxy = sc @ yc
    syy = float(yc @ yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_hat = np.where(sxx > 0, sxy / sxx, 0.0)
        sse = np.maximum(syy - np.where(sxx > 0, sxy ** 2 / sxx, 0.0), 1e-300)
        tstat = np.where(sxx > 0, a_hat * np.sqrt(sxx * (n - 2) / sse), -np.inf)
    best = int(np.argmax(tstat))
    stat = float(tstat[best])
    return stat, best, float(a_hat[best]), n - 2, float(scipy.stats.t.sf(stat, n - 2)), {}


def _effective_dof(z, place):
    """Degrees of freedom of mean(z**2) when neighbouring null shifts are dependent.

    The null statistics at shifts i and j correlate as the whitened noise does
    at a lag of (i - j) slots (an m-sequence's spectrum is flat).  Their sample
    correlation, Bartlett-tapered up to a quarter of the span, gives
    Satterthwaite's nu = M^2 / sum_ij rho(i - j)^2.
    """
    m = z.size
    span = int(place[-1]) + 1
    x = np.zeros(span)
    w = np.zeros(span)
    x[place] = z
    w[place] = 1.0
    c0 = float(np.mean(z * z))
    if c0 <= 0:
        return float(m)
    d_max = max(1, m // 4)
    total = float(m)
    for d in range(1, min(d_max, span - 1) + 1):
        pairs = float(w[d:] @ w[:-d])
        if pairs < 2:
            continue
        rho = float(x[d:] @ x[:-d]) / pairs / c0
        total += 2.0 * pairs * (rho * (1.0 - d / (d_max + 1))) ** 2
    return m * m / total


#: Samples over which the local spread of the residual is averaged for the weights.
WEIGHT_WINDOW = 16


def _local_weights(resid, window=None):
    """1 / local RMS of a residual series (moving mean of its square), floored."""
    window = WEIGHT_WINDOW if window is None else window
    if not window:
        return np.ones_like(resid)
    e2 = resid * resid
    k = min(int(window), e2.size)
    c = np.concatenate([[0.0], np.cumsum(e2)])
    i = np.arange(e2.size)
    lo = np.clip(i - k // 2, 0, e2.size - k)
    local = (c[lo + k] - c[lo]) / k
    floor = 0.1 * float(np.median(local)) + 1e-300
    return 1.0 / np.sqrt(np.maximum(local, floor))


def _null_statistic(p, t, s, s_null, place, degree, others, weight_window):
    """Detrended, AR(1)-prewhitened correlation judged against the null shifts.

    ``others`` holds, per other SIM of the tasking, its schedule at every lag
    (n_lags, n): they share the target's clock, so they are regressed out at
    the one lag that explains most of them (an active SIM left in the residual
    would pass for dependence and leak into the null shifts).
    """
    n = p.size
    # Background: Legendre polynomials of the time scaled to [-1, 1].
    span = float(t.max() - t.min())
    u = (t - t.min()) / span * 2.0 - 1.0 if span > 0 else np.zeros(n)
    x = np.polynomial.legendre.legvander(u, max(0, min(degree, n - 3)))
    scale = float(np.sqrt(np.mean(p * p)))
    y = p / scale                                  # mW ~ 1e-9: keep sums well-scaled
    if others and x.shape[1] + len(others) < n - 3:
        q, _ = np.linalg.qr(x)
        yr = y - q @ (q.T @ y)
        explained = []
        for lag in range(s.shape[0]):
            xo = _project_out(q, np.stack([o[lag] for o in others])).T
            coef, *_ = np.linalg.lstsq(xo, yr, rcond=None)
            explained.append(float(np.sum((xo @ coef) ** 2)))
        lag = int(np.argmax(explained))
        x = np.concatenate([x, np.stack([o[lag] for o in others], axis=1)], axis=1)
    q, _ = np.linalg.qr(x)
    sr = _project_out(q, s)
    sxx = np.einsum("ij,ij->i", sr, sr)
    if not np.any(sxx > 1e-9 * n):
        raise ValueError("the code is constant over the samples: measure over more slots")
    yr = y - q @ (q.T @ y)
    # AR(1) of the residuals once the target (at its best lag) is taken out,
    # so that a strong target does not read as dependence.
    with np.errstate(divide="ignore", invalid="ignore"):
        a0 = np.where(sxx > 1e-9 * n, (sr @ yr) / sxx, 0.0)
    b0 = int(np.argmax(a0 * np.sqrt(np.maximum(sxx, 0.0))))
    e = yr - a0[b0] * sr[b0]
    ee = float(e @ e)
    rho = float(np.clip((e[1:] @ e[:-1]) / ee, -0.9, 0.98)) if ee > 0 else 0.0
    # Whiten everything and weight each sample by the inverse local spread of the
    # whitened residual (a bystander's faded call makes some stretches far noisier
    # than others); then remove the whitened, weighted background.
    w = _local_weights(_ar1_whiten(yr, rho), weight_window)
    qw, _ = np.linalg.qr((_ar1_whiten(x.T, rho) * w).T)
    yw = _project_out(qw, (_ar1_whiten(y, rho) * w)[None, :])[0]
    sw = _project_out(qw, _ar1_whiten(s, rho) * w)
    nw = _project_out(qw, _ar1_whiten(s_null, rho) * w)
    sww = np.einsum("ij,ij->i", sw, sw)
    nww = np.einsum("ij,ij->i", nw, nw)
    ok = sww > 1e-9 * n
    # z = projection of the data on the unit regressor: the same variance for
    # every shift of the code (the code's spectrum is flat), data-dependent.
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok, (sw @ yw) / np.sqrt(sww), -np.inf)
        z_null = (nw @ yw) / np.sqrt(nww)
    usable = nww > 1e-9 * n
    z_null, place = z_null[usable], place[usable]
    m = z_null.size
    if m < 8:
        raise ValueError("fewer than 8 usable null shifts: measure over more slots")
    var_null = float(np.mean(z_null ** 2))
    best = int(np.argmax(z))
    stat = float(z[best] / np.sqrt(var_null)) if var_null > 0 else float("inf")
    dof = _effective_dof(z_null, place)
    p_single = float(scipy.stats.t.sf(stat, dof))
    # Lag search: the largest of the correlated z(lag).  Hunter's bound on a
    # chain, with Gaussian z of known neighbour correlation r (the whitened
    # unit regressors' inner products): P(max > h) <= Q(h) + sum over
    # neighbours of P(z_l <= h < z_l+1) = Q(h) + sum 2 T(h, sqrt((1-r)/(1+r))),
    # T Owen's function; h is the Gaussian level of the t tail.
    unit = sw[ok] / np.sqrt(sww[ok])[:, None]
    if unit.shape[0] > 1 and np.isfinite(stat):
        r = np.clip(np.einsum("ij,ij->i", unit[1:], unit[:-1]), -1.0, 1.0)
        h = float(scipy.stats.norm.isf(p_single)) if p_single > 0 else 40.0
        p_single = min(1.0, p_single + float(np.sum(
            2.0 * scipy.special.owens_t(h, np.sqrt((1.0 - r) / (1.0 + r))))))
    # The power estimate is the plain least-squares slope at the chosen lag
    # (detrended only): unbiased in mW, where data-dependent weights are not.
    a = float((sr[best] @ yr) / sxx[best]) * scale if sxx[best] > 0 else 0.0
    resid = yw - (sw[best] @ yw) / sww[best] * sw[best]
    var_white = float(resid @ resid) / max(n - x.shape[1] - 1, 1)
    extra = {"n_null": m, "ar1": rho,
             "variance_ratio": var_null / var_white if var_white > 0 else float("inf")}
    return stat, best, a, dof, p_single, extra


class ScheduleDetector:
    """Accumulating form of :func:`schedule_glrt` for a live power series.

    Parameters are those of :func:`schedule_glrt`; call :meth:`add` per
    measurement and :meth:`result` whenever a verdict is wanted.
    """

    def __init__(self, code, slot_s, **kwargs):
        self._args = (np.asarray(code), float(slot_s))
        self._kwargs = dict(kwargs)
        self._time_s = []
        self._power_dbm = []

    def add(self, time_s, power_dbm):
        """Append one measurement (or arrays of them)."""
        self._time_s.extend(np.atleast_1d(np.asarray(time_s, dtype=float)).tolist())
        self._power_dbm.extend(np.atleast_1d(np.asarray(power_dbm, dtype=float)).tolist())

    def result(self):
        """``(statistic, props)`` over everything added so far."""
        return schedule_glrt(self._time_s, self._power_dbm, *self._args, **self._kwargs)


def cfar_bursts(power_dbm, *, train=16, guard=2, pfa=1e-3, looks=1):
    """Bursts in a power series by cell-averaging CFAR.

    Each cell's power is compared with the mean of up to ``train`` cells on
    each side beyond ``guard`` cells.  A noise cell averaged over ``looks``
    independent periodogram values is Gamma(looks) distributed, so the ratio
    cell / training mean is F(2 looks, 2 looks N) under noise alone; the
    threshold is its 1 - pfa quantile for the N training cells actually
    available (fewer at the ends).

    Parameters
    ----------
    power_dbm : array_like, shape (n,)
    train, guard : int
        Training and guard cells per side.
    pfa : float
        False-alarm probability per cell.
    looks : int
        Independent power values averaged into each cell (1 = a single
        periodogram bin or |x|^2 sample).

    Returns
    -------
    bursts : ndarray of int, shape (m, 2)
        [start, stop) indices of runs of detected cells.
    props : dict
        ``detected`` (bool mask), ``threshold_dbm`` and ``noise_dbm`` per cell.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> p_mw = rng.exponential(1e-10, 400)            # -100 dBm noise
    >>> p_mw[200:203] += 1e-8                          # a -80 dBm burst
    >>> bursts, props = cfar_bursts(10 * np.log10(p_mw))
    >>> bursts.tolist()
    [[200, 203]]
    """
    p_dbm = _as_1d_float(power_dbm, "power_dbm")
    train, guard, looks = int(train), int(guard), int(looks)
    if train < 1 or guard < 0 or looks < 1:
        raise ValueError("train must be >= 1, guard >= 0 and looks >= 1")
    if not 0 < pfa < 1:
        raise ValueError(f"pfa must be in (0, 1), got {pfa!r}")
    n = p_dbm.size
    if n < 2 * (guard + 1) + 1:
        raise ValueError(f"power_dbm needs at least {2 * (guard + 1) + 1} cells, has {n}")
    p = 10.0 ** (p_dbm / 10.0)
    c = np.concatenate([[0.0], np.cumsum(p)])
    i = np.arange(n)

    def window_sum(lo, hi):
        lo = np.clip(lo, 0, n)
        hi = np.clip(hi, 0, n)
        return c[hi] - c[lo], hi - lo

    left_sum, left_n = window_sum(i - guard - train, i - guard)
    right_sum, right_n = window_sum(i + guard + 1, i + guard + 1 + train)
    count = np.maximum(left_n + right_n, 1)
    noise = (left_sum + right_sum) / count
    alpha = scipy.stats.f.isf(pfa, 2 * looks, 2 * looks * count)
    threshold = alpha * noise
    detected = (p > threshold) & (left_n + right_n > 0)
    edges = np.diff(np.concatenate([[0], detected.astype(np.int8), [0]]))
    bursts = np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)
    with np.errstate(divide="ignore"):
        return bursts, {
            "detected": detected,
            "threshold_dbm": 10 * np.log10(threshold),
            "noise_dbm": 10 * np.log10(noise),
        }


class BurstDetector:
    """Streaming form of :func:`cfar_bursts` for a live power series.

    A cell is decided as soon as its right-hand training cells have arrived
    (``guard + train`` cells later); :meth:`flush` decides the rest at the end
    of the stream with the shorter windows :func:`cfar_bursts` uses there.  The
    decisions equal those of :func:`cfar_bursts` over the whole series.

    Parameters
    ----------
    train, guard, pfa, looks
        As for :func:`cfar_bursts`.
    """

    def __init__(self, *, train=16, guard=2, pfa=1e-3, looks=1):
        self._kwargs = dict(train=int(train), guard=int(guard), pfa=pfa, looks=int(looks))
        self._reach = int(train) + int(guard)
        self._history = np.empty(0)
        self._offset = 0          # series index of self._history[0]
        self.decided = 0          # cells decided so far

    def _decide(self, stop):
        lo = max(self.decided - self._reach, self._offset)
        window = self._history[lo - self._offset:]
        if stop <= self.decided or window.size < 2 * (self._kwargs["guard"] + 1) + 1:
            return np.zeros(0, dtype=bool)
        _, props = cfar_bursts(window, **self._kwargs)
        out = props["detected"][self.decided - lo: stop - lo]
        self.decided = stop
        keep = max(self.decided - self._reach, self._offset)
        self._history = self._history[keep - self._offset:]
        self._offset = keep
        return out

    def add(self, power_dbm):
        """Append cells; returns the detection flags of the cells decided now, in order."""
        new = _as_1d_float(np.atleast_1d(power_dbm), "power_dbm")
        self._history = np.concatenate([self._history, new])
        return self._decide(self._offset + self._history.size - self._reach)

    def flush(self):
        """Decide the cells still waiting for right-hand training cells."""
        return self._decide(self._offset + self._history.size)
