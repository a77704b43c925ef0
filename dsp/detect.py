"""Is the target transmitting?  Schedule correlation (GLRT) and CFAR bursts.

With a schedule: the operator's network makes the target SIM transmit on a
pseudo-random on/off code (one chip per slot of ``slot_s`` seconds, e.g. an
m-sequence; each SIM of a tasking gets its own code, :func:`sim_codes`).  The
measured power, in linear units, is regressed on the code

    p_k = b + a s_k + w_k,      s_k in {0, 1},  w_k ~ N(0, sigma^2)

and the generalised likelihood-ratio test of a > 0 against a = 0 with b and
sigma unknown is the one-sided t statistic of the least-squares slope,

    t = a_hat / se(a_hat),   a_hat = sum (s_k - s_bar) p_k / sum (s_k - s_bar)^2,

Student-t with n - 2 degrees of freedom under H0.  ``a`` is the power the
target alone adds when on: the other phones in the channel are uncorrelated
with the code and fall into ``b``; it is what the localiser should use.  An
unknown clock offset between the schedule and the measurements is searched
over lags; the false-alarm probability then accounts for the independent
lags tried (Sidak, lags half a slot apart taken as independent).

Without a schedule: cell-averaging CFAR on the power series
(:func:`cfar_bursts`; streaming form :class:`BurstDetector`).
"""

import numpy as np
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


def schedule_glrt(time_s, power_dbm, code, slot_s, *, t0_s=0.0, max_lag_s=0.0,
                  lag_step_s=None, pfa=1e-3):
    """Correlate a power series with a known on/off schedule (GLRT, lag search).

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Measurement times on the schedule's clock (up to the unknown lag), s.
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

    Returns
    -------
    statistic : float
        Largest one-sided t statistic over the lags.
    props : dict
        ``p_fa`` (false-alarm probability of a statistic this large, lag search
        included), ``detected`` (p_fa <= pfa), ``lag_s``, ``on_minus_off_mw``,
        ``on_minus_off_dbm`` (NaN when not positive), ``off_dbm``, ``n``,
        ``n_lags``.

    Raises
    ------
    ValueError
        Bad inputs, fewer than 4 samples, or a code that is constant over the
        samples.

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
    slot_s = float(slot_s)
    if not slot_s > 0:
        raise ValueError(f"slot_s must be positive, got {slot_s!r}")
    step = float(lag_step_s) if lag_step_s else slot_s / 4.0
    n_steps = int(np.floor(float(max_lag_s) / step + 1e-9))
    lags = step * np.arange(-n_steps, n_steps + 1)

    p = 10.0 ** (p_dbm / 10.0)
    yc = p - p.mean()
    # Regressors for every lag at once: (n_lags, n)
    s = schedule_at(t[None, :] - lags[:, None], code, slot_s, t0_s=t0_s)
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
    p_single = float(scipy.stats.t.sf(stat, n - 2))
    # Regressors at lags d apart correlate as 1 - |d|/slot_s; counting lags
    # half a slot apart as independent matches Monte Carlo within ~20 %.
    n_indep = min(lags.size, int(np.floor(4 * float(max_lag_s) / slot_s + 1e-9)) + 1)
    p_fa = float(-np.expm1(n_indep * np.log1p(-min(p_single, 1.0 - 1e-16))))
    a = float(a_hat[best])
    off_mw = float(p.mean() - a * s[best].mean())
    return stat, {
        "p_fa": p_fa,
        "detected": bool(p_fa <= pfa),
        "lag_s": float(lags[best]),
        "on_minus_off_mw": a,
        "on_minus_off_dbm": float(10 * np.log10(a)) if a > 0 else float("nan"),
        "off_dbm": float(10 * np.log10(off_mw)) if off_mw > 0 else float("nan"),
        "n": n,
        "n_lags": int(lags.size),
    }


class ScheduleDetector:
    """Accumulating form of :func:`schedule_glrt` for a live power series.

    Parameters are those of :func:`schedule_glrt`; call :meth:`add` per
    measurement and :meth:`result` whenever a verdict is wanted.
    """

    def __init__(self, code, slot_s, *, t0_s=0.0, max_lag_s=0.0, lag_step_s=None, pfa=1e-3):
        self._args = (np.asarray(code), float(slot_s))
        self._kwargs = dict(t0_s=t0_s, max_lag_s=max_lag_s, lag_step_s=lag_step_s, pfa=pfa)
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
