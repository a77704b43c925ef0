"""Verification of a calibrated handheld at spot levels.

With the calibration loaded in the handheld, the generator sets spot levels in
each band's linear range and the handheld's own calibrated ``rssi_dbm`` is
compared with the level at its RF port. Every point passes or fails on its own.
"""
import math
import time

import numpy as np

from host.bench import calfile


def spot_levels_dbm(band, step_db=10.0, margin_db=5.0):
    """Round levels inside a band's linear range, ``margin_db`` from its ends."""
    lo, hi = band["linear_range_dbm"]
    first = math.ceil((lo + margin_db) / step_db) * step_db
    return [float(x) for x in np.arange(first, hi - margin_db + 1e-9, step_db)]


def verify(generator, handheld, doc, *, cable_loss_db, levels_dbm=None, tolerance_db=1.0,
           n_readings=8, settle_s=0.05, gain_db=None):
    """Measure spot levels at each calibrated band's centre; RF output off on every exit.

    Parameters
    ----------
    doc : dict
        Calibration document (:mod:`host.bench.calfile`) loaded in the handheld.
    levels_dbm : sequence of float, optional
        Levels at the RF port; default :func:`spot_levels_dbm` per band.
    tolerance_db : float
        Largest |error| that passes.

    Returns
    -------
    list of dict
        ``band``, ``freq_hz``, ``input_dbm``, ``measured_dbm`` (None: not
        detected), ``error_db``, ``passed``.
    """
    rows = []
    bands = doc.get("bands") or []
    if not bands:
        raise calfile.CalibrationFileError("calibration has no bands[] (not a bench calibration)")
    plan = []
    for band in bands:
        if "linear_range_dbm" not in band:
            raise calfile.CalibrationFileError(f"band {band['name']} has no linear_range_dbm: "
                                               "calibrate it on the bench first")
        freq_hz = round((band["lo_hz"] + band["hi_hz"]) / 2 / 1e5) * 1e5
        for level in (levels_dbm if levels_dbm is not None else spot_levels_dbm(band)):
            plan.append((band["name"], float(freq_hz), float(level)))
    lowest = min(level for _, _, level in plan) + cable_loss_db
    generator.set_level_dbm(lowest)
    with generator.rf_on():
        current = None
        for name, freq_hz, level in plan:
            if freq_hz != current:
                generator.set_level_dbm(lowest)
                generator.set_frequency_hz(freq_hz)
                handheld.tune(freq_hz, gain_db)
                current = freq_hz
            generator.set_level_dbm(level + cable_loss_db)
            after_s = time.time() + settle_s
            time.sleep(settle_s)
            recs = handheld.readings(n_readings, after_s=after_s)
            vals = [r["rssi_dbm"] for r in recs if r["rssi_dbm"] is not None]
            measured = float(np.mean(vals)) if len(vals) == len(recs) else None
            error = None if measured is None else measured - level
            rows.append({"band": name, "freq_hz": freq_hz, "input_dbm": level,
                         "measured_dbm": measured, "error_db": error,
                         "passed": error is not None and abs(error) <= tolerance_db})
    return rows
