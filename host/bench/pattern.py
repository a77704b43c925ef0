"""Antenna pattern on the turntable: step, measure, fit a Fourier series, save.

The handheld turns on a turntable (any rotator behind ``rotctld``) while a fixed
source transmits toward it. At each azimuth the handheld's power reading minus
what an isotropic antenna would receive there is the gain toward the source
(gain substitution: the isotropic level comes from a reference antenna of known
gain measured at the same spot). A truncated Fourier series in angle, fitted
in dB, smooths the measurement noise and gives the gain at every degree; the
result is written in the ``hardware/antennas`` CSV format
(``freq_hz,angle_deg,gain_dbi``, angle clockwise from boresight).
"""
import csv
import os
import time

import numpy as np

from host.bench import handheld as hh_mod
from host.bench import response

# Highest harmonic fitted by default: resolves a 60 deg beam and an 18 dB
# front-to-back ratio without following noise between 10-15 deg steps.
DEFAULT_ORDER = 10


def _design(angle_deg, order, symmetric):
    a = np.radians(np.asarray(angle_deg, dtype=float))[:, None]
    k = np.arange(1, order + 1)[None, :]
    cols = [np.ones((a.shape[0], 1)), np.cos(k * a)]
    if not symmetric:
        cols.append(np.sin(k * a))
    return np.hstack(cols)


def fit_pattern(angle_deg, gain_dbi, *, order=None, symmetric=False, step_deg=1.0):
    """Fit a Fourier series to a measured azimuth cut (in dB).

    ``g(a) = c0 + sum_k (c_k cos(k a) + s_k sin(k a))``; with ``symmetric`` only
    the cosine terms (a pattern symmetric about boresight, measured over
    0-180 deg only).

    Parameters
    ----------
    angle_deg : array_like
        Measured angles clockwise from boresight.
    gain_dbi : array_like
        Measured gain at each angle.
    order : int, optional
        Highest harmonic; default ``min(10, (m - 1) // 2)`` with ``m`` the number
        of distinct angles on the full circle (mirrored ones counted).
    symmetric : bool
    step_deg : float
        Angle step of the returned table.

    Returns
    -------
    out_angle_deg, out_gain_dbi : ndarray
        The fitted pattern on ``0, step_deg, ... < 360``.
    props : dict
        ``order``, ``residual_db`` (measured minus fit), ``rms_db``, ``peak_gain_dbi``,
        ``peak_angle_deg``.

    Examples
    --------
    >>> a = np.arange(0.0, 360.0, 10.0)
    >>> g = 5.0 + 3.0 * np.cos(np.radians(a))
    >>> ang, fit, props = fit_pattern(a, g)
    >>> round(float(fit[0]), 3), round(float(fit[180]), 3)
    (8.0, 2.0)
    """
    a = np.mod(np.asarray(angle_deg, dtype=float).ravel(), 360.0)
    g = np.asarray(gain_dbi, dtype=float).ravel()
    if a.size != g.size:
        raise ValueError(f"angle_deg has {a.size} values, gain_dbi {g.size}")
    ok = np.isfinite(g)
    a, g = a[ok], g[ok]
    full = np.unique(np.round(np.concatenate([a, (-a) % 360.0]) if symmetric else a, 6))
    if full.size < 8:
        raise ValueError(f"need at least 8 distinct angles on the circle, have {full.size}")
    max_order = (full.size - 1) // 2
    order = min(DEFAULT_ORDER, max_order) if order is None else int(order)
    if not 1 <= order <= max_order:
        raise ValueError(f"order {order} outside 1..{max_order} for {full.size} angles")
    coef, *_ = np.linalg.lstsq(_design(a, order, symmetric), g, rcond=None)
    out_a = np.arange(0.0, 360.0, step_deg)
    out_g = _design(out_a, order, symmetric) @ coef
    residual = g - _design(a, order, symmetric) @ coef
    return out_a, out_g, {
        "order": order, "residual_db": residual,
        "rms_db": float(np.sqrt(np.mean(residual ** 2))),
        "peak_gain_dbi": float(out_g.max()), "peak_angle_deg": float(out_a[np.argmax(out_g)]),
    }


def azimuth_plan(step_deg, span_deg=360.0, start_deg=0.0):
    """Turntable azimuths from ``start_deg`` over ``span_deg`` (end included if < 360)."""
    n = int(round(span_deg / step_deg))
    count = n if span_deg >= 360.0 else n + 1
    return [start_deg + i * step_deg for i in range(count)]


def azimuth_key(azimuth_deg):
    """Results-file key of a turntable stop (centi-degrees)."""
    return (round(azimuth_deg * 100),)


def measure_pattern(rotator, handheld, azimuths_deg, *, freq_hz, isotropic_dbm, gain_db=None,
                    calibration=None, source_azimuth_deg=0.0, n_readings=8, settle_s=0.2,
                    results=None, progress=None, on_point=None):
    """Step the turntable and measure the gain toward the source at each azimuth.

    Parameters
    ----------
    rotator : host.bench.rotator.Rotctld
    handheld : host.bench.handheld.BenchHandheld
    azimuths_deg : sequence of float
    freq_hz : float
        The source's frequency.
    isotropic_dbm : float
        Power an isotropic antenna would receive at the turntable.
    calibration : host.bench.response.BandResponse, optional
        Turns raw readings into dBm on the host; without it the firmware's
        calibrated ``rssi_dbm`` is used.
    source_azimuth_deg : float
        Turntable azimuth that points boresight at the source.
    results : host.bench.sweep.ResultsFile, optional
        Every stop is appended as it is measured; stops already there are
        skipped (resume after an interruption).
    progress : callable, optional
        ``progress(total, initial) -> bar`` (tqdm).
    on_point : callable, optional
        Called with each new stop's dict after it is on disk.

    Returns
    -------
    list of dict
        One per stop, earlier runs' included: ``azimuth_deg`` (commanded),
        ``reached_deg`` (reported by the rotator), ``angle_deg`` (source direction
        clockwise from boresight), ``power_dbm``, ``gain_dbi``.
    """
    done = results.done_keys() if results is not None else set()
    todo = [az for az in azimuths_deg if azimuth_key(az) not in done]
    handheld.tune(freq_hz, gain_db)
    bar = progress(len(azimuths_deg), len(azimuths_deg) - len(todo)) if progress else None
    out = []
    try:
        for az in todo:
            reached = rotator.move_to(az)
            time.sleep(settle_s)
            recs = handheld.readings(n_readings, after_s=time.time(),
                                     raw=calibration is not None)
            if calibration is not None:
                r = hh_mod.reading_db(recs)
                temps = handheld.temperatures()
                temp = temps[-1][1] if temps else None
                power = float(response.input_dbm(float(np.mean(r)), calibration, temp))
            else:
                vals = [x["rssi_dbm"] for x in recs if x["rssi_dbm"] is not None]
                power = float(np.mean(vals)) if vals else float("nan")
            point = {"kind": "point", "key": list(azimuth_key(az)), "azimuth_deg": az,
                     "reached_deg": reached, "angle_deg": (source_azimuth_deg - reached) % 360.0,
                     "power_dbm": power, "gain_dbi": power - isotropic_dbm}
            if results is not None:
                results.append(point)
            out.append(point)
            if bar is not None:
                bar.update(1)
            if on_point is not None:
                on_point(point)
    finally:
        if bar is not None:
            bar.close()
        rotator.stop()
    if results is not None:
        return [p for p in results.points if p["kind"] == "point"]
    return out


def save_pattern(path, freq_hz, angle_deg, gain_dbi):
    """Write (or merge into) a pattern CSV in the ``hardware/antennas`` format.

    Rows of other frequencies already in the file are kept, rows at ``freq_hz``
    replaced; the file is replaced atomically.
    """
    rows = []
    if os.path.exists(path):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if round(float(row["freq_hz"])) != round(freq_hz):
                    rows.append(tuple(float(row[k]) for k in ("freq_hz", "angle_deg", "gain_dbi")))
    rows.extend((float(freq_hz), float(a), float(g)) for a, g in zip(angle_deg, gain_dbi))
    rows.sort()
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        fh.write("freq_hz,angle_deg,gain_dbi\n")
        for f, a, g in rows:
            fh.write(f"{f:.0f},{a:g},{g:.2f}\n")
    os.replace(tmp, path)
