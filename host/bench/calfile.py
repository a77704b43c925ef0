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
    bands[]           per band: name, range, frequencies, the gain and die temperature
                      the band was measured at (gain_db, ref_temp_c, temp_coef_db_per_c),
                      float coefficients with 1-sigma errors, p1db, linear range,
                      residual RMS, uncertainty
    entries[]         the firmware table (see firmware/calibration.py for the units)
"""
import dataclasses
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
# The gain a band is taken to be measured at when its record has none: the firmware's
# hunting gain, which the nominal table (hardware/calibration/default.json) assumes.
DEFAULT_GAIN_DB = 40


class CalibrationFileError(ValueError):
    """A calibration file is unreadable or inconsistent."""


def _cdb(x_db):
    return int(round(x_db * 100.0))


def firmware_entry(lo_hz, hi_hz, resp, gain_db):
    """One firmware table row (the fields of hardware/calibration/default.json).

    ``gain_db`` is the receive gain the band was measured at: the AD9363's RSSI does not
    depend on it (the chip subtracts the gain), but the compression knee does."""
    return {
        "band_lo_mhz": int(math.floor(lo_hz / 1e6)),
        "band_hi_mhz": int(math.ceil(hi_hz / 1e6)),
        "offset_cdb": _cdb(resp.offset_db),
        "slope_e4": int(round(resp.slope * 1e4)),
        "temp_coef_mdb_per_c": int(round(resp.temp_coeff_db_per_c * 1000.0)),
        "ref_temp_cdeg": _cdb(resp.t_ref_c),
        "floor_cdbm": _cdb(resp.noise_floor_dbm),
        "knee_cdbm": _cdb(resp.knee_dbm),
        "gain_db": int(gain_db),
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
            "ref_temp_c": resp.t_ref_c,
            "temp_coef_db_per_c": resp.temp_coeff_db_per_c,
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
                 "(-rssi_dB) - temp_coef * (T - T_ref); the AD9363 RSSI is gain-"
                 "compensated and input-referred (UG-570), gain_db is the gain each band "
                 "was measured at (it moves the compression knee); "
                 "entries[] is the firmware table."),
        "instruments": instruments,
        "bands": [band for band, _, _ in fitted],
        "entries": [firmware_entry(band["lo_hz"], band["hi_hz"], resp,
                                   band.get("gain_db", DEFAULT_GAIN_DB))
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
    cal_id = doc["calibration_id"]
    if isinstance(cal_id, bool) or not isinstance(cal_id, int) or not 0 <= cal_id < 2 ** 32:
        raise CalibrationFileError(f"{path}: calibration_id must be an integer 0..2**32-1")
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
        if "gain_db" in e and not (isinstance(e["gain_db"], int) and -10 <= e["gain_db"] <= 77):
            raise CalibrationFileError(f"{path}: entries[{i}].gain_db must be an integer "
                                       f"gain in dB (-10..77)")
        if e["band_lo_mhz"] >= e["band_hi_mhz"] or e["slope_e4"] <= 0:
            raise CalibrationFileError(f"{path}: entries[{i}] has an empty band or slope <= 0")
        for f in fields[2:]:
            if not -32768 <= e[f] <= 32767:
                raise CalibrationFileError(f"{path}: entries[{i}].{f} = {e[f]} does not fit int16")
    bands = doc.get("bands")
    if bands is not None:
        if not isinstance(bands, list):
            raise CalibrationFileError(f"{path}: bands must be a list of band fits")
        for i, band in enumerate(bands):
            _check_band(f"{path}: bands[{i}]", band)
    return doc


#: Physically sensible ranges of the fitted coefficients (far wider than any real fit): a
#: value beyond them is a broken or hand-edited file, and would give inf or nonsense powers.
_COEFFICIENT_RANGES = {"offset_db": (-200.0, 200.0), "slope": (0.05, 20.0),
                       "knee_dbm": (-200.0, 100.0), "smoothness": (0.01, 100.0),
                       "noise_floor_dbm": (-250.0, 100.0), "temp_coeff_db_per_c": (-10.0, 10.0),
                       "t_ref_c": (-100.0, 200.0)}


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(float(value))


def _check_band(where, band):
    """A bench band as the bench commands read it: name and edges; the coefficients and the
    linear range, when there (upload needs only entries[]), must be usable."""
    if not isinstance(band, dict):
        raise CalibrationFileError(f"{where} is not an object")
    if not isinstance(band.get("name"), str):
        raise CalibrationFileError(f"{where}.name must be a string")
    lo, hi = band.get("lo_hz"), band.get("hi_hz")
    if not (_finite(lo) and _finite(hi) and 0 < lo < hi):
        raise CalibrationFileError(f"{where}: lo_hz and hi_hz must be numbers with 0 < lo_hz < hi_hz")
    c = band.get("coefficients", {})
    if not isinstance(c, dict):
        raise CalibrationFileError(f"{where}.coefficients must be an object")
    names = [f.name for f in dataclasses.fields(response.BandResponse)]
    required = [f.name for f in dataclasses.fields(response.BandResponse)
                if f.default is dataclasses.MISSING]
    bad = [k for k in c if k not in names] + [k for k in required if k not in c] + \
        [k for k in names if k in c and not _finite(c[k])]
    if bad and c:
        raise CalibrationFileError(f"{where}.coefficients: {', '.join(map(str, bad))[:120]} missing, "
                                   f"unknown or not a finite number")
    if c and (c["slope"] <= 0 or c["smoothness"] <= 0):
        raise CalibrationFileError(f"{where}.coefficients: slope and smoothness must be above 0")
    for k, v in c.items():
        lo_v, hi_v = _COEFFICIENT_RANGES.get(k, (-math.inf, math.inf))
        if not lo_v <= v <= hi_v:
            raise CalibrationFileError(f"{where}.coefficients.{k} = {v:g} is outside {lo_v:g}..{hi_v:g}: "
                                       "not a receiver this bench calibrates")
    rng = band.get("linear_range_dbm")
    if "linear_range_dbm" in band and not (isinstance(rng, list) and len(rng) == 2 and all(map(_finite, rng))
                                and rng[0] < rng[1]):
        raise CalibrationFileError(f"{where}.linear_range_dbm must be [low, high] dBm")


def band_response(band):
    """BandResponse of a band dict from a calibration file."""
    if not band.get("coefficients"):
        raise CalibrationFileError(f"band {band.get('name')} has no fitted coefficients: "
                                   "calibrate it on the bench first")
    return response.BandResponse(**band["coefficients"])
