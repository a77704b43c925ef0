"""Versioned calibration files: the fit of a sweep, and the table the firmware loads.

A calibration file is a superset of ``hardware/calibration/default.json``: the
firmware reads only ``calibration_id`` and ``entries`` (integer-scaled fields,
firmware/calibration.py); the rest documents the calibration for people and for
sessions, which record it by ``calibration_id``::

    format            "rfhound-calibration/1"
    calibration_id    u32, the creation time in UTC epoch seconds (unique per device)
    device_id         the handheld's id from its HELLO frame
    created_utc       ISO 8601
    instruments       generator *IDN?, handheld firmware, cable loss and its uncertainty
    bands[]           per band: name, range, frequencies, float coefficients with 1-sigma
                      errors, p1db, linear range, residual RMS, uncertainty
    entries[]         the firmware table (see firmware/calibration.py for the units)
"""
import datetime
import json
import math
import os

import numpy as np

from host.bench import response

FORMAT = "rfhound-calibration/1"
# The generator's level uncertainty when the technician gives none: a cautious
# bound for a lab CW generator's absolute level error at the low levels of the
# sweep. It is a +- bound, counted as rectangular (1/sqrt(3) at 1 sigma); the
# technician enters the data-sheet figure of the actual instrument.
DEFAULT_GENERATOR_UNCERTAINTY_DB = 1.0


class CalibrationFileError(ValueError):
    """A calibration file is unreadable or inconsistent."""


def _cdb(x_db):
    return int(round(x_db * 100.0))


def firmware_entry(lo_hz, hi_hz, resp):
    """One firmware table row (the fields of hardware/calibration/default.json)."""
    return {
        "band_lo_mhz": int(math.floor(lo_hz / 1e6)),
        "band_hi_mhz": int(math.ceil(hi_hz / 1e6)),
        "offset_cdb": _cdb(resp.offset_db),
        "slope_e4": int(round(resp.slope * 1e4)),
        "temp_coef_mdb_per_c": int(round(resp.temp_coeff_db_per_c * 1000.0)),
        "ref_temp_cdeg": _cdb(resp.t_ref_c),
        "floor_cdbm": _cdb(resp.noise_floor_dbm),
        "knee_cdbm": _cdb(resp.knee_dbm),
    }


def fit_bands(points, bands, *, generator_uncertainty_db=DEFAULT_GENERATOR_UNCERTAINTY_DB,
              cable_uncertainty_db=0.1):
    """Fit every band that has points.

    Parameters
    ----------
    points : list of dict
        Result lines of a :class:`host.bench.sweep.ResultsFile`.
    bands : sequence of (name, lo_hz, hi_hz)

    Returns
    -------
    list of (band dict for the file, BandResponse, fit props)
    """
    out = []
    for name, lo_hz, hi_hz in bands:
        mine = [p for p in points if p["band"] == name]
        if not mine:
            continue
        p_dbm = np.array([p["input_dbm"] for p in mine])
        r_db = np.array([p["reading_db"] for p in mine])
        temps = [p["temperature_c"] for p in mine]
        t = None if any(x is None for x in temps) else np.array(temps, dtype=float)
        resp, props = response.fit_response(p_dbm, r_db, t)
        # 1-sigma in dBm of a reading in the linear range: fit scatter, offset
        # error, generator level (rectangular bound) and cable loss
        u = math.sqrt(props["rms_linear_db"] ** 2 + (props["sigma"]["offset_db"] or 0.0) ** 2
                      + generator_uncertainty_db ** 2 / 3.0 + cable_uncertainty_db ** 2)
        band = {
            "name": name, "lo_hz": lo_hz, "hi_hz": hi_hz,
            "freqs_hz": sorted({p["freq_hz"] for p in mine}),
            "n_points": len(mine),
            "gain_db": mine[-1]["gain_db"],
            "temperature_range_c": None if t is None else [float(t.min()), float(t.max())],
            "coefficients": resp.as_dict(),
            "sigma": props["sigma"],
            "p1db_dbm": props["p1db_dbm"],
            "linear_range_dbm": list(props["linear_range_dbm"]),
            "knee_observed": props["knee_observed"],
            "floor_observed": props["floor_observed"],
            "temp_coeff_fitted": props["tc_fitted"],
            "residual_rms_db": props["rms_linear_db"],
            "uncertainty_db": u,
        }
        out.append((band, resp, props))
    return out


def build(device_id, fitted, *, instruments, created=None):
    """The calibration document for a list from :func:`fit_bands`."""
    created = created or datetime.datetime.now(datetime.timezone.utc)
    cal_id = int(created.timestamp()) & 0xFFFFFFFF
    return {
        "format": FORMAT,
        "calibration_id": cal_id,
        "device_id": None if device_id is None else int(device_id),
        "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": ("Lab calibration by rfhound bench. power_dBm = offset + slope * "
                 "(-rssi_dB - gain_dB) - temp_coef * (T - T_ref); "
                 "entries[] is the firmware table."),
        "instruments": instruments,
        "bands": [band for band, _, _ in fitted],
        "entries": [firmware_entry(band["lo_hz"], band["hi_hz"], resp)
                    for band, resp, _ in fitted],
    }


def save(doc, path):
    """Write a calibration document (atomically: a crash leaves the old file)."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


def load(path):
    """Read and check a calibration file (a bench calibration or default.json)."""
    from host import jsonfile
    from host.errors import UserError
    try:
        doc = jsonfile.load(path, what="the calibration file", max_bytes=1 << 20, expect=None)
    except UserError as exc:
        raise CalibrationFileError(str(exc)) from None
    if not isinstance(doc, dict) or "entries" not in doc or "calibration_id" not in doc:
        raise CalibrationFileError(f"{path}: no calibration_id/entries; not a calibration file")
    fields = ("band_lo_mhz", "band_hi_mhz", "offset_cdb", "slope_e4", "temp_coef_mdb_per_c",
              "ref_temp_cdeg", "floor_cdbm", "knee_cdbm")
    entries = doc["entries"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= 16:
        n = len(entries) if isinstance(entries, list) else "no list of"
        raise CalibrationFileError(f"{path}: {n} entries; the firmware holds 1..16")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise CalibrationFileError(f"{path}: entries[{i}] is not an object")
        missing = [f for f in fields if isinstance(e.get(f), bool) or not isinstance(e.get(f), int)]
        if missing:
            raise CalibrationFileError(f"{path}: entries[{i}] lacks integer {', '.join(missing)}")
        if e["band_lo_mhz"] >= e["band_hi_mhz"] or e["slope_e4"] <= 0:
            raise CalibrationFileError(f"{path}: entries[{i}] has an empty band or slope <= 0")
        for f in fields[2:]:
            if not -32768 <= e[f] <= 32767:
                raise CalibrationFileError(f"{path}: entries[{i}].{f} = {e[f]} does not fit int16")
    return doc


def band_response(band):
    """BandResponse of a band dict from a calibration file."""
    return response.BandResponse(**band["coefficients"])
