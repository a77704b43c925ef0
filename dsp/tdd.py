"""TDD frame structures: where the uplink is in time, and where the frame starts.

In a TDD band the base station and the handsets share one frequency and take turns, so a
power measurement over whole frames is mostly the downlink.  This module says which parts
of each frame are uplink, for LTE (frame structure type 2, TS 36.211 4.2) and NR
(TDD-UL-DL-ConfigCommon, TS 38.331 / TS 38.213 11.1), and finds the frame timing either
from GNSS time (TDD networks are GNSS-synchronised: frame boundaries fall on whole 10 ms
of GPS time, plus an operator's configured offset) or, when no precise time exists, from
the downlink's own power envelope.

Times are seconds from the start of a frame period; a :class:`TddPattern` lists the
downlink, guard and uplink intervals of one period.
"""

from dataclasses import dataclass

import numpy as np

# LTE basic time unit Ts = 1 / (15000 * 2048) s: one sample at 30.72 Msps.
LTE_TS_S = 1.0 / 30.72e6
LTE_SUBFRAME_S = 1e-3
LTE_FRAME_S = 10e-3

# TS 36.211 table 4.2-2: uplink-downlink configurations, subframes 0..9.
LTE_UL_DL_CONFIGS = {
    0: "DSUUUDSUUU",
    1: "DSUUDDSUUD",
    2: "DSUDDDSUDD",
    3: "DSUUUDDDDD",
    4: "DSUUDDDDDD",
    5: "DSUDDDDDDD",
    6: "DSUUUDSUUD",
}

# TS 36.211 table 4.2-1, normal cyclic prefix in both directions: (DwPTS, UpPTS) in Ts.
# The guard period is the rest of the 30720 Ts subframe.
LTE_SPECIAL_SUBFRAMES_TS = {
    0: (6592, 2192),
    1: (19760, 2192),
    2: (21952, 2192),
    3: (24144, 2192),
    4: (26336, 2192),
    5: (6592, 4384),
    6: (19760, 4384),
    7: (21952, 4384),
    8: (24144, 4384),
    9: (13168, 4384),
}

# A handset transmits its uplink frame N_TA + N_TA_offset before the downlink frame it
# receives; N_TA_offset = 624 Ts in LTE TDD (TS 36.211 8.1) and 25600 Tc = 13.0 us in NR
# FR1 without LTE coexistence (TS 38.133 table 7.1.2-2; 39936 Tc = 20.3 us with it).
LTE_TA_OFFSET_S = 624 * LTE_TS_S
NR_TA_OFFSET_S = 25600 / (480e3 * 4096)

# TS 38.331 dl-UL-TransmissionPeriodicity values, ms.
NR_PERIODS_MS = (0.5, 0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0)
NR_SYMBOLS_PER_SLOT = 14
NR_SCS_KHZ = (15, 30, 60)

# What Chinese operators deploy per band (China Mobile TD-LTE: configuration 2, special
# subframe 7 (10:2:2) on B38/B40/B41 and 5 (3:9:2) on B34/B39 for TD-SCDMA coexistence;
# NR: China Mobile n41 5 ms "DDDDDDDSUU" with a 6:4:4 special slot, Telecom/Unicom n78
# and China Mobile n79 2.5 ms "DDDSU" with 10:2:2).  A tasking's own fields override them.
BAND_DEFAULTS = {
    "B34": {"rat": "lte", "config": 2, "special": 5},
    "B38": {"rat": "lte", "config": 2, "special": 7},
    "B39": {"rat": "lte", "config": 2, "special": 5},
    "B40": {"rat": "lte", "config": 2, "special": 7},
    "B41": {"rat": "lte", "config": 2, "special": 7},
    "n41": {"rat": "nr", "period_ms": 5.0, "scs_khz": 30, "dl_slots": 7, "dl_symbols": 6,
            "ul_slots": 2, "ul_symbols": 4},
    "n77": {"rat": "nr", "period_ms": 2.5, "scs_khz": 30, "dl_slots": 3, "dl_symbols": 10,
            "ul_slots": 1, "ul_symbols": 2},
    "n78": {"rat": "nr", "period_ms": 2.5, "scs_khz": 30, "dl_slots": 3, "dl_symbols": 10,
            "ul_slots": 1, "ul_symbols": 2},
    "n79": {"rat": "nr", "period_ms": 2.5, "scs_khz": 30, "dl_slots": 3, "dl_symbols": 10,
            "ul_slots": 1, "ul_symbols": 2},
}


@dataclass(frozen=True)
class TddPattern:
    """One period of a TDD frame structure.

    Attributes
    ----------
    period_s : float
        Repetition period (10 ms for LTE, the NR pattern's periodicity).
    downlink_s, guard_s, uplink_s : ndarray, shape (k, 2)
        (start, end) intervals within the period, seconds; uplink_s holds the
        uplink data subframes/slots/symbols that a handset's traffic uses.
    pilot_s : ndarray, shape (k, 2)
        LTE UpPTS (uplink, but only sounding and random access: not measured).
    ta_offset_s : float
        N_TA_offset: how much earlier than the downlink frame a handset's uplink frame
        starts, before its timing advance.
    name : str
    """

    period_s: float
    downlink_s: np.ndarray
    guard_s: np.ndarray
    uplink_s: np.ndarray
    pilot_s: np.ndarray
    ta_offset_s: float
    name: str

    @property
    def repeat_s(self):
        """Shortest shift that maps the pattern onto itself (5 ms for LTE configurations
        0-2 and 6, whose half-frames are alike; else the period)."""
        half, period = self.period_s / 2, self.period_s
        for name in ("downlink_s", "guard_s", "uplink_s", "pilot_s"):
            a = getattr(self, name)
            moved = []
            for x, y in a:
                x, y = x + half, y + half
                if x >= period - 1e-12:
                    moved.append((x - period, y - period))
                elif y > period + 1e-12:
                    moved += [(x, period), (0.0, y - period)]
                else:
                    moved.append((x, y))
            b = _merge(moved)
            if a.shape != b.shape or not np.allclose(a, b, atol=1e-9):
                return period
        return half

    @property
    def uplink_fraction(self):
        """Share of the period that is measured uplink."""
        return float(np.sum(self.uplink_s[:, 1] - self.uplink_s[:, 0]) / self.period_s)


def _merge(intervals):
    """Sorted, touching intervals joined: [(0, 1), (1, 2)] -> [(0, 2)]."""
    out = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1e-12:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.array(out, dtype=float).reshape(-1, 2)


def lte_pattern(config, special):
    """The LTE frame structure type 2 of an uplink-downlink and special subframe configuration.

    Parameters
    ----------
    config : int
        Uplink-downlink configuration 0-6 (TS 36.211 table 4.2-2).
    special : int
        Special subframe configuration 0-9, normal cyclic prefix (table 4.2-1).

    Returns
    -------
    TddPattern

    Examples
    --------
    Configuration 2 (D S U D D D S U D D) with special subframe 7 has two 1 ms uplink
    subframes in 10 ms:

    >>> p = lte_pattern(2, 7)
    >>> p.uplink_s.tolist(), round(p.uplink_fraction, 3)
    ([[0.002, 0.003], [0.007, 0.008]], 0.2)
    """
    if config not in LTE_UL_DL_CONFIGS:
        raise ValueError(f"LTE uplink-downlink configuration {config!r} is not one of 0-6 "
                         "(TS 36.211 table 4.2-2)")
    if special not in LTE_SPECIAL_SUBFRAMES_TS:
        raise ValueError(f"LTE special subframe configuration {special!r} is not one of 0-9 "
                         "(TS 36.211 table 4.2-1, normal cyclic prefix)")
    dwpts, uppts = (n * LTE_TS_S for n in LTE_SPECIAL_SUBFRAMES_TS[special])
    dl, gp, ul, pilot = [], [], [], []
    for k, kind in enumerate(LTE_UL_DL_CONFIGS[config]):
        t = k * LTE_SUBFRAME_S
        end = t + LTE_SUBFRAME_S
        if kind == "D":
            dl.append((t, end))
        elif kind == "U":
            ul.append((t, end))
        else:
            dl.append((t, t + dwpts))
            gp.append((t + dwpts, end - uppts))
            pilot.append((end - uppts, end))
    return TddPattern(LTE_FRAME_S, _merge(dl), _merge(gp), _merge(ul), _merge(pilot),
                      LTE_TA_OFFSET_S,
                      f"LTE TDD configuration {config}, special subframe {special}")


def nr_pattern(period_ms, scs_khz, dl_slots, dl_symbols, ul_slots, ul_symbols):
    """An NR TDD pattern as TDD-UL-DL-ConfigCommon's pattern1 gives it (TS 38.331).

    The period starts with ``dl_slots`` downlink slots, then ``dl_symbols`` downlink
    symbols; it ends with ``ul_slots`` uplink slots, preceded by ``ul_symbols`` uplink
    symbols; what lies between is flexible (the guard).  Symbols are taken as 1/14 of a
    slot (normal cyclic prefix; the longer first symbol of each half-subframe is 0.5 us).

    Parameters
    ----------
    period_ms : float
        dl-UL-TransmissionPeriodicity, one of 0.5 .. 10 ms.
    scs_khz : int
        Reference subcarrier spacing, 15, 30 or 60 kHz (FR1).
    dl_slots, dl_symbols, ul_slots, ul_symbols : int

    Returns
    -------
    TddPattern

    Examples
    --------
    "DDDSU" at 30 kHz (2.5 ms; the special slot 10:2:2): one 0.5 ms uplink slot plus
    two uplink symbols:

    >>> p = nr_pattern(2.5, 30, 3, 10, 1, 2)
    >>> np.round(p.uplink_s * 1e3, 4).tolist(), round(p.uplink_fraction, 4)
    ([[1.9286, 2.5]], 0.2286)
    """
    period_ms = float(period_ms)
    if not any(abs(period_ms - p) < 1e-9 for p in NR_PERIODS_MS):
        raise ValueError(f"NR TDD period {period_ms:g} ms is not one of "
                         f"{', '.join(f'{p:g}' for p in NR_PERIODS_MS)} ms (TS 38.331)")
    if (10.0 / period_ms) % 1 > 1e-9:
        raise ValueError(f"NR TDD period {period_ms:g} ms does not divide the 10 ms frame: it "
                         "is used only with a second pattern (pattern2), which is not supported")
    if scs_khz not in NR_SCS_KHZ:
        raise ValueError(f"NR subcarrier spacing {scs_khz!r} kHz is not one of 15, 30, 60")
    slot_s = 1e-3 * 15 / scs_khz
    n_slots = int(round(period_ms * 1e-3 / slot_s))
    if abs(n_slots * slot_s - period_ms * 1e-3) > 1e-12:
        raise ValueError(f"a {period_ms:g} ms period is not a whole number of {scs_khz} kHz slots")
    for name, v, hi in (("dl_slots", dl_slots, n_slots), ("ul_slots", ul_slots, n_slots),
                        ("dl_symbols", dl_symbols, NR_SYMBOLS_PER_SLOT - 1),
                        ("ul_symbols", ul_symbols, NR_SYMBOLS_PER_SLOT - 1)):
        if int(v) != v or not 0 <= v <= hi:
            raise ValueError(f"NR TDD {name} = {v!r} must be an integer 0..{hi}")
    sym_s = slot_s / NR_SYMBOLS_PER_SLOT
    dl_end = dl_slots * slot_s + dl_symbols * sym_s
    ul_start = (n_slots - ul_slots) * slot_s - ul_symbols * sym_s
    if ul_start < dl_end - 1e-12:
        raise ValueError(f"NR TDD pattern overlaps: {dl_slots} DL slots + {dl_symbols} symbols "
                         f"and {ul_slots} UL slots + {ul_symbols} symbols exceed {n_slots} slots")
    period_s = n_slots * slot_s
    gp = [(dl_end, ul_start)] if ul_start > dl_end else []
    ul = [(ul_start, period_s)] if period_s > ul_start else []
    return TddPattern(period_s, _merge([(0.0, dl_end)] if dl_end > 0 else []), _merge(gp),
                      _merge(ul), np.empty((0, 2)), NR_TA_OFFSET_S,
                      f"NR TDD {period_ms:g} ms at {scs_khz} kHz: {dl_slots}D+{dl_symbols} "
                      f"symbols, {ul_symbols} symbols+{ul_slots}U")


def band_pattern(band):
    """The default pattern of a TDD band ("B39", "n41", ...), or None for FDD bands."""
    d = BAND_DEFAULTS.get(str(band))
    if d is None:
        return None
    if d["rat"] == "lte":
        return lte_pattern(d["config"], d["special"])
    return nr_pattern(d["period_ms"], d["scs_khz"], d["dl_slots"], d["dl_symbols"],
                      d["ul_slots"], d["ul_symbols"])


def frame_start_from_time(t_s, frac_s, offset_s=0.0, period_s=LTE_FRAME_S):
    """Seconds from a GNSS-timed instant to the next frame start.

    TDD frames start on whole multiples of the period (10 ms divides the second, so UTC
    and GPS agree) plus the network's configured offset.

    Parameters
    ----------
    t_s : int
        Whole seconds of the instant (Unix or GPS; only its parity with the period matters
        when the period does not divide one second).
    frac_s : float
        Fraction of a second of the instant, 0 <= frac_s < 1 (kept apart so that
        nanoseconds survive).
    offset_s : float
        Frame timing offset of the network relative to GNSS time.
    period_s : float
        Frame (pattern) period.

    Returns
    -------
    float
        0 <= delay < period_s.
    """
    # Periods dividing 10 ms all divide 2 s; work in the 2 s cycle to keep precision.
    phase = ((int(t_s) % 2) + float(frac_s) - float(offset_s)) % period_s
    return float((period_s - phase) % period_s)


def _envelope_db(iq, fs, bin_s):
    n = max(1, int(round(bin_s * fs)))
    m = iq.size // n
    if m == 0:
        raise ValueError("iq is shorter than one envelope bin")
    v = np.ascontiguousarray(iq[: m * n]).view(np.float32).reshape(m, 2 * n)
    # float32 sums: a few hundred terms per bin lose ~1e-5 of relative precision, nothing
    # at the envelope's dB scale, and run ~4x faster than float64 accumulation
    p = np.einsum("ij,ij->i", v, v).astype(np.float64) / n
    tiny = max(float(p.max()) * 1e-12, 1e-30)
    return 10.0 * np.log10(p + tiny), n / float(fs)


def _indicator(intervals_s, period_s, n_bins):
    """Fraction of each phase bin covered by the intervals."""
    edges = np.linspace(0.0, period_s, n_bins + 1)
    ind = np.zeros(n_bins)
    for a, b in intervals_s:
        # an interval moved before the period's start wraps round to its end
        for lo, hi in ((a, b), (a + period_s, b + period_s), (a - period_s, b - period_s)):
            ind += np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None)
    return ind * n_bins / period_s


def frame_start_from_envelope(iq, fs, pattern, *, bin_s=8e-6):
    """Where the downlink's frames start, from its power envelope alone.

    The envelope (mean |x|^2 over ``bin_s``, in dB) is folded at the pattern's period and
    fitted, at every circular shift, with a piecewise-constant profile: one level each for
    the downlink, the guard, the uplink and the LTE uplink pilots (UpPTS), the handsets'
    parts N_TA_offset early.  The shift with the
    least squared error is the frame start.  Levels are free, so it works whether the
    downlink or a nearby handset is the stronger, and the silent guard period anchors it.

    Parameters
    ----------
    iq : ndarray of complex
        At least one period; several periods average the noise down.
    fs : float
        Sample rate, Hz.
    pattern : TddPattern
    bin_s : float
        Envelope resolution.

    Returns
    -------
    t0_s : float
        Time from the first sample to the first frame start, 0 <= t0_s < period.
    properties : dict
        ``contrast_db`` (downlink level minus the quietest other region's: a low value
        means no TDD downlink of this pattern is visible), ``downlink_db``,
        ``guard_db``, ``uplink_db``, ``pilot_db`` (mean envelope levels, dB full scale).
    """
    iq = np.asarray(iq)
    env, dt = _envelope_db(iq.astype(np.complex64, copy=False), fs, bin_s)
    period = pattern.period_s
    if env.size * dt < period:
        raise ValueError(f"iq holds {env.size * dt * 1e3:.1f} ms, less than one "
                         f"{period * 1e3:g} ms frame period: the envelope cannot be folded")
    n_bins = max(8, int(round(period / dt)))
    phase = ((np.arange(env.size) + 0.5) * dt) % period
    idx = np.minimum((phase / period * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    sums = np.bincount(idx, weights=env, minlength=n_bins)
    keep = counts > 0
    folded = np.where(keep, sums / np.maximum(counts, 1), 0.0)
    w = keep.astype(float)
    # Handsets transmit N_TA_offset early: their regions move earlier; the guard is what
    # nobody transmits in (the guard period, and the switching gap after the uplink).
    early = pattern.ta_offset_s
    indicators = [_indicator(pattern.downlink_s, period, n_bins),
                  _indicator(pattern.uplink_s - early, period, n_bins),
                  _indicator(pattern.pilot_s - early, period, n_bins)]
    indicators.insert(1, np.clip(1.0 - sum(indicators), 0.0, 1.0))
    # For a shift s the region indicator r(phi - s); its sums over the folded envelope are
    # circular cross-correlations, done with FFTs:  score(s) = sum_j S_j(s)^2 / N_j(s).
    f_env = np.fft.rfft(folded * w)
    f_w = np.fft.rfft(w)
    score = np.zeros(n_bins)
    levels = []
    for ind in indicators:
        if not ind.any():
            levels.append(None)
            continue
        f_r = np.conj(np.fft.rfft(ind))
        s = np.fft.irfft(f_env * f_r, n_bins)
        cnt = np.fft.irfft(f_w * f_r, n_bins)
        score += np.where(cnt > 1e-9, s * s / np.maximum(cnt, 1e-9), 0.0)
        levels.append((s, cnt))
    # the indicator of region j shifted by s bins covers bins (phi - s): a frame start at
    # bin s in the folded envelope maximises the score there.
    best = int(np.argmax(score))
    t0 = best * period / n_bins
    props = {}
    for name, lv in zip(("downlink_db", "guard_db", "uplink_db", "pilot_db"), levels):
        props[name] = None if lv is None else float(lv[0][best] / max(lv[1][best], 1e-9))
    quiet = [props[k] for k in ("guard_db", "uplink_db", "pilot_db") if props[k] is not None]
    props["contrast_db"] = props["downlink_db"] - min(quiet) if quiet else None
    return float(t0 % period), props


def uplink_gates(pattern, frame_start_s, n_samples, fs, *, margin_s=25e-6,
                 timing_advance_s=0.0):
    """Sample intervals of a recording that hold only uplink, shape (k, 2), [start, end).

    Each uplink interval of the pattern is moved earlier by the handset's N_TA_offset and
    ``timing_advance_s`` (a handset transmits ahead of the downlink it hears) and shrunk by
    ``margin_s`` at both ends, so that timing error (the timing advance of an unknown
    distance, the envelope's resolution, a slow sample clock) cannot let the downlink in.

    Parameters
    ----------
    pattern : TddPattern
    frame_start_s : float
        Time from sample 0 to a frame start (any frame: the pattern repeats).
    n_samples : int
    fs : float
    margin_s : float
    timing_advance_s : float

    Returns
    -------
    ndarray of int64, shape (k, 2)
    """
    period = pattern.period_s
    dur = n_samples / float(fs)
    shift = frame_start_s - pattern.ta_offset_s - timing_advance_s
    first = int(np.floor((0.0 - shift) / period)) - 1
    last = int(np.ceil((dur - shift) / period)) + 1
    k = np.arange(first, last + 1)[:, None] * period + shift
    ul = pattern.uplink_s
    a = (k + ul[None, :, 0] + margin_s).ravel()
    b = (k + ul[None, :, 1] - margin_s).ravel()
    a_i = np.ceil(np.clip(a, 0, dur) * fs).astype(np.int64)
    b_i = np.floor(np.clip(b, 0, dur) * fs).astype(np.int64)
    keep = b_i > a_i
    out = np.stack([a_i[keep], b_i[keep]], axis=1)
    return out[np.argsort(out[:, 0], kind="stable")]
