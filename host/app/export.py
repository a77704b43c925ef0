"""Hunt exports: the measurement CSV, KML (Google Earth), GeoJSON; data for the report.

One code path for the window's Export menu and the headless ``rfhound export``:
both hand the writers a ``HuntExport`` (a ``HuntModel`` with its estimates and a
few notes).  The window makes it from its live model (``from_hunt``); the command
from a session file (``from_session``), which streams the session's measurements
table into a model and estimates each target as the console does.  Which estimate
an export shows is decided in one place, ``session_estimates``.

The measurement CSV of a session is written straight from the indexed
measurements table (``write_session_csv``), one row at a time, in bounded memory,
with each reading's quality flags (docs/formats.md).

Positions go back from the local east/north frame to WGS84 with 7 decimals
(about 1 cm).  IMSIs appear masked only.
"""

import datetime
import json
from xml.sax.saxutils import escape

import numpy as np

from firmware import protocol as P
from host import meascsv

#: Decimals of exported degrees (1e-7 deg is about 1 cm).
DEGREE_DECIMALS = 7
#: Power colour scale of tracks: bins from weak (blue) to strong (red), KML aabbggrr.
POWER_COLOURS_KML = ("ffff0000", "ffff8000", "ffffff00", "ff00ff80", "ff00ffff", "ff0080ff",
                     "ff0000ff")
#: Colour of readings measured but not detected.
NOT_DETECTED_KML = "ff909090"

# Device flags (firmware/protocol.py) -> CSV flags (host/meascsv.py).
_CSV_FLAGS = ((P.F_RADIO_FAULT, meascsv.FLAG_RADIO_FAULT),
              (P.F_POSITION_STALE, meascsv.FLAG_POSITION_STALE),
              (P.F_SATURATED, meascsv.FLAG_SATURATED),
              (P.F_UNCALIBRATED, meascsv.FLAG_UNCALIBRATED))

#: Columns of the session CSV, in order.
SESSION_CSV_COLUMNS = ("time_s", "target", "rssi_dbm", "lat_deg", "lon_deg", "alt_m", "floor",
                       "heading_deg", "flags")


class ExportError(Exception):
    """An export that cannot be written; the message is one line for the operator."""


# ------------------------------------------------------------------ measurements
def csv_flags(device_flags):
    """The measurement CSV's flag bits (``host.meascsv.FLAG_*``) of a MEAS frame's flags."""
    device_flags = int(device_flags or 0)
    return sum(csv_bit for bit, csv_bit in _CSV_FLAGS if device_flags & bit)


def has_position(lat_deg, lon_deg):
    """False for a reading taken without a position: none given, or the 0,0 the handheld
    sends (flagged stale) before its first GNSS fix; a hunt is never at 0 N 0 E."""
    if lat_deg is None or lon_deg is None:
        return False
    return not (lat_deg == 0 and lon_deg == 0)


def reading_time_s(rx_time_s, device_time_ms):
    """Host arrival time, else the device clock, else None (a record that lost its times)."""
    if rx_time_s is not None:
        return rx_time_s
    if device_time_ms is not None:
        return device_time_ms / 1000.0
    return None


_NUMBER = (int, float)  # what SQLite gives back for INTEGER and REAL values (NaN is stored NULL)
_BIG = 1e300


def well_formed(row):
    """Whether an ``iter_measurements`` row holds what its columns promise (a record that
    came over MQTT or from an old tool may not): an integer target, numbers in range."""
    (_rid, target, rx_time_s, device_time_ms, rssi_dbm, heading_deg, lat_deg, lon_deg, alt_m,
     floor, flags) = row
    # one flat expression: it runs once per reading of a million-reading export
    return (type(target) is int and target >= 0
            and (rx_time_s is None or (type(rx_time_s) in _NUMBER and -_BIG < rx_time_s < _BIG))
            and (device_time_ms is None or (type(device_time_ms) in _NUMBER
                                            and -_BIG < device_time_ms < _BIG))
            and (rssi_dbm is None or (type(rssi_dbm) in _NUMBER and -200.0 <= rssi_dbm <= 50.0))
            and (heading_deg is None or (type(heading_deg) in _NUMBER
                                         and 0.0 <= heading_deg <= 360.0))
            and (lat_deg is None or (type(lat_deg) in _NUMBER and -90.0 <= lat_deg <= 90.0))
            and (lon_deg is None or (type(lon_deg) in _NUMBER and -180.0 <= lon_deg <= 180.0))
            and (alt_m is None or (type(alt_m) in _NUMBER and -_BIG < alt_m < _BIG))
            and (floor is None or type(floor) is int)
            and (flags is None or type(flags) is int))


class Counts:
    """What a session export wrote and what it left out, and why."""

    def __init__(self):
        self.written = 0
        self.no_fix = 0
        self.no_time = 0
        self.bench = 0
        self.malformed = 0
        self.flagged = dict.fromkeys(meascsv.FLAGS, 0)

    def notes(self):
        """One line per kind of reading left out or flagged (nothing when there was none)."""
        lines = []
        if self.no_fix:
            lines.append(f"{self.no_fix} readings had no position fix and are left out")
        if self.no_time:
            lines.append(f"{self.no_time} readings had no time (neither host nor device clock) "
                         "and are left out")
        if self.malformed:
            lines.append(f"{self.malformed} readings had malformed values (a target that is not "
                         "an index, a number out of range) and are left out")
        if self.bench:
            lines.append(f"{self.bench} bench-mode readings (not a target) are left out")
        flagged = ", ".join(f"{n} {name}" for name, n in self.flagged.items() if n)
        if flagged:
            lines.append(f"flagged readings: {flagged} (column flags, docs/formats.md)")
        return lines


def _screen(row, counts):
    """The CSV flag bits of a measurement row worth exporting, or None (counted in
    ``counts``): malformed, bench-mode, without a position fix or without any time."""
    if not well_formed(row):
        counts.malformed += 1
        return None
    flags = int(row[10] or 0)
    if flags & P.F_BENCH:
        counts.bench += 1
        return None
    if not has_position(row[6], row[7]):
        counts.no_fix += 1
        return None
    if reading_time_s(row[2], row[3]) is None:
        counts.no_time += 1
        return None
    bits = csv_flags(flags)
    for name, bit in meascsv.FLAGS.items():
        if bits & bit:
            counts.flagged[name] += 1
    return bits


def session_csv_rows(reader, counts=None):
    """Yield measurement CSV rows (dicts) of a session in recording order, streaming.

    Left out (and counted in ``counts``): bench readings, readings without a
    position fix, readings without any time.  Every other reading is kept with
    its quality flags.
    """
    counts = Counts() if counts is None else counts
    labels = {k: v["label"] for k, v in reader.targets().items()}
    for row in reader.iter_measurements():
        bits = _screen(row, counts)
        if bits is None:
            continue
        (_rid, target, rx_time_s, device_time_ms, rssi_dbm, heading_deg, lat_deg, lon_deg,
         alt_m, floor, flags) = row
        flags = int(flags or 0)
        time_s = reading_time_s(rx_time_s, device_time_ms)
        counts.written += 1
        label = labels.get(target)
        yield {"time_s": round(time_s, 3),
               "target": label if label is not None else "T%d" % (target + 1),
               "rssi_dbm": None if flags & P.F_NOT_DETECTED else rssi_dbm,
               "lat_deg": lat_deg, "lon_deg": lon_deg, "alt_m": alt_m, "floor": floor,
               "heading_deg": None if flags & P.F_NO_HEADING else heading_deg, "flags": bits}


def write_session_csv(reader, path):
    """Write a session's measurements as the measurement CSV; return the ``Counts``."""
    counts = Counts()
    meascsv.write_measurements(path, session_csv_rows(reader, counts),
                               columns=SESSION_CSV_COLUMNS)
    return counts


# ------------------------------------------------------------------ hunt data
class HuntExport:
    """What every hunt export shows: a ``HuntModel`` (targets, tracks, estimates,
    buildings, marks) and notes on the readings it had to leave out."""

    def __init__(self, hunt, *, source_name="", counts=None, problems=()):
        self.hunt = hunt
        self.source_name = source_name
        self.counts = counts
        self.problems = list(problems)

    def notes(self):
        lines = [] if self.counts is None else self.counts.notes()
        return lines + self.problems

    def no_fix_line(self):
        """The report's line on readings without a position fix."""
        if self.counts is None:
            return "readings without a position fix are not shown (not counted: live source)"
        n = self.counts.no_fix
        return f"{n} readings had no position fix and are not shown" if n else \
            "every reading had a position fix"


def from_hunt(hunt, source_name="", session=None):
    """The window's export data: its live model as it stands; with the ``session`` file
    it replays or records, the readings left out are counted from that file."""
    if isinstance(hunt, HuntExport):
        return hunt
    counts = None
    if session is not None:
        from host.session import SessionError, SessionReader

        try:
            with SessionReader(session) as reader:
                counts = Counts()
                for _row in session_csv_rows(reader, counts):
                    pass
        except SessionError:
            counts = None
    return HuntExport(hunt, source_name=source_name, counts=counts)


def _meas_record(row, labels):
    """A ``host.records``-shaped MEAS dict from an ``iter_measurements`` row (no JSON parsed)."""
    (_rid, target, rx_time_s, device_time_ms, rssi_dbm, heading_deg, lat_deg, lon_deg, alt_m,
     floor, flags) = row
    flags = int(flags or 0)
    return {"kind": "MEAS", "target": int(target), "rx_time_s": rx_time_s,
            "device_time_ms": device_time_ms, "rssi_dbm": rssi_dbm,
            "heading_deg": None if flags & P.F_NO_HEADING else heading_deg,
            "lat_deg": lat_deg, "lon_deg": lon_deg, "alt_m": alt_m, "floor": floor,
            "not_detected": bool(flags & P.F_NOT_DETECTED),
            "position_stale": bool(flags & P.F_POSITION_STALE)}


def from_session(reader, footprints=None, batch=4096):
    """Read a session into a ``HuntExport``, estimates included (``session_estimates``).

    Measurements stream from the indexed table into a ``HuntModel`` (compact
    columns per target); readings the locator must not take (radio fault, stale
    position, bench, no fix, no time; uncalibrated ones of a target that also has
    calibrated readings) stay out and are counted.  Saturated readings stay in at
    their value (a lower bound the console's estimator cannot yet treat as one).  ``footprints`` is ``(names, rings)``
    with rings ``(n, 2)`` arrays of ``[lon, lat]``; the estimate is then confined
    to them and names its building.
    """
    from host.app.model import HuntModel

    hunt = HuntModel()
    hunt.set_tasking(reader.tasking)
    meta = reader.meta
    world = _sim_world(meta.get("sim_world"))
    if world is not None:  # as the window replays a simulated hunt: its world's frame
        from host.app.geo import LocalFrame

        hunt.frame = LocalFrame(*world.origin)
    hunt.status.calibration_id = meta.get("calibration_id", "")
    hunt.status.device = meta.get("device_id", "")
    labels = {k: v["label"] for k, v in reader.targets().items()}
    counts = Counts()
    # raw levels do not mix with calibrated powers: a target's uncalibrated readings stay
    # out of its estimate when it has calibrated ones
    calibrated = {t for t, (n, k) in reader.flag_counts(P.F_UNCALIBRATED).items() if n > k}
    scans, pending = [], []
    for row in reader.iter_measurements():
        bits = _screen(row, counts)
        if bits is None:
            continue
        if bits & meascsv.FLAGS_LEAVE_OUT:
            continue  # no power or no place: not on the track the estimate is made from
        if bits & meascsv.FLAG_UNCALIBRATED and row[1] in calibrated:
            continue
        pending.append(_meas_record(row, labels))
        if len(pending) >= batch:
            scans += hunt.ingest(pending)[2]
            pending = []
    scans += hunt.ingest(pending)[2]
    scans += hunt.finish_scans()
    marks = []
    for _rid, rx_time_s, device_time_ms, body in reader.iter_records(kinds=("MARK",)):
        try:
            rec = json.loads(body)
        except ValueError:
            continue
        if isinstance(rec, dict) and reading_time_s(rx_time_s, device_time_ms) is not None \
                and has_position(rec.get("lat_deg"), rec.get("lon_deg")):
            marks.append(rec)
    hunt.ingest(marks)
    problems = []
    if footprints is not None and hunt.frame is not None:
        names, rings = footprints
        polys = [_to_local(hunt.frame, np.asarray(r)[:, 1], np.asarray(r)[:, 0]) for r in rings]
        hunt.set_buildings(polys, names)
    elif world is not None:
        hunt.set_buildings([b.footprint_m for b in world.buildings],
                           [b.id for b in world.buildings])
    problems += session_estimates(hunt, scans, final=_final_estimate(reader, world))
    return HuntExport(hunt, source_name=str(reader.path), counts=counts, problems=problems)


def _sim_world(name):
    """The simulator's world a session was recorded in (meta ``sim_world``), or None."""
    if not name:
        return None
    from host.errors import UserError
    from host.sim.world import load_world

    try:
        return load_world(name)
    except (UserError, OSError, ValueError):
        return None


def _final_estimate(reader, world):
    """The session's own final answer: the last ``ESTIMATE`` record marked ``final`` whose
    ``estimate`` has a position and a 95 % ellipse, in the frame of its world; else None.

    The simulator stores one (``host.sim.hunt``), in its world's east/north metres.
    """
    if world is None:
        return None
    final = None
    for _rid, _t, _d, body in reader.iter_records(kinds=("ESTIMATE",)):
        try:
            rec = json.loads(body)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("final") and isinstance(rec.get("estimate"), dict):
            final = rec["estimate"]
    try:
        ell = final["ellipse"]
        x, y = float(final["x_m"]), float(final["y_m"])
        a, b = float(ell["semi_major_m"]), float(ell["semi_minor_m"])
        theta = np.radians(float(ell["orientation_deg"]))
    except (TypeError, KeyError, ValueError):
        return None
    return {"x_m": x, "y_m": y, "semi_major_m": a, "semi_minor_m": b, "theta_rad": theta,
            "floor": final.get("floor"), "building": final.get("building"),
            "building_prob": final.get("building_prob")}


def session_estimates(hunt, scans, final=None):
    """Put an estimate on every target of ``hunt`` that has enough readings; return problems.

    The one place that decides which estimate a session's exports show.  Today:
    the session's own final answer when it stores one (``final``, see
    ``_final_estimate``: one answer for the hunt, so every target), else what
    the console shows at the end of a replay, ``dsp.locate.estimate_position``
    over each target (the SIMs of one tasked group together), rotation-scan
    readings left out of the fit and used as bearings (``host.app.estimator``).
    """
    from host.app.dsp_worker import MIN_DETECTIONS, ROW_COLUMNS
    from host.app.estimator import estimate_view

    if final is not None:
        view = _view_of_final(hunt, final)
        for t in hunt.targets.values():
            if len(t.meas):
                t.estimate = view
        return []

    spans, bearings = {}, {}
    for scan in scans:
        spans.setdefault(scan.target, []).append((scan.start_s, scan.time_s))
        b = _scan_bearing(scan, hunt.targets[scan.target].freq_hz)
        if b is not None:
            bearings.setdefault(scan.target, []).append(b)
    groups = {}
    for t in sorted(hunt.targets.values(), key=lambda t: t.index):
        groups.setdefault(t.group or ("", t.index), []).append(t)
    footprints = tuple(hunt.buildings) or None
    problems = []
    for members in groups.values():
        parts, labels, brg = [], [], []
        for k, t in enumerate(members):
            arr = np.column_stack([t.meas[name] for name in ("x_m", "y_m", "rssi_dbm", "floor",
                                                             "time_s")])
            for t0, t1 in spans.get(t.index, ()):
                arr = arr[(arr[:, 4] < t0) | (arr[:, 4] > t1)]
            parts.append(arr)
            labels.append(np.full(len(arr), k))
            brg += bearings.get(t.index, [])
        arr = np.concatenate(parts) if parts else np.empty((0, len(ROW_COLUMNS)))
        if np.count_nonzero(np.isfinite(arr[:, 2])) < MIN_DETECTIONS:
            continue
        group = np.concatenate(labels) if len(members) > 1 else None
        brg = tuple(np.array(c) for c in zip(*brg)) if brg else None
        view, error, _took = estimate_view(arr, brg, members[0].index, group, footprints)
        if view is None:
            problems.append(error)
            continue
        for t in members:
            t.estimate = view
    return problems


def _view_of_final(hunt, final):
    """An ``EstimateView`` of a stored final answer (no covariance stored: the one whose 95 %
    ellipse it gave; the floor probabilities stored with it, if any)."""
    from host.app.model import EstimateView

    k = EstimateView.CHI2_95
    # orientation of the major axis clockwise from north: direction (east, north)
    u = np.array([np.sin(final["theta_rad"]), np.cos(final["theta_rad"])])
    v = np.array([u[1], -u[0]])
    cov = (final["semi_major_m"] ** 2 * np.outer(u, u) + final["semi_minor_m"] ** 2
           * np.outer(v, v)) / k
    # CEP50 of a circular normal with the same trace (Rayleigh median): an approximation
    cep50 = float(np.sqrt(np.trace(cov) / 2.0) * np.sqrt(2.0 * np.log(2.0)))
    building = building_prob = None
    names = list(hunt.building_names)
    if final.get("building") in names and final.get("building_prob") is not None:
        building = names.index(final["building"])
        building_prob = np.zeros(len(names))
        building_prob[building] = float(final["building_prob"])
    floor = final.get("floor")
    floor_prob = {int(k): float(v) for k, v in (final.get("floor_prob") or {}).items()} or None
    return EstimateView(final["x_m"], final["y_m"], cov, cep50, 0,
                        floor=None if floor is None else int(floor), floor_prob=floor_prob,
                        building=building, building_prob=building_prob)


def _scan_bearing(scan, freq_hz):
    """``(x_m, y_m, bearing_deg, sigma_deg)`` of a rotation scan with the default antenna, or None."""
    from dsp.antenna import load_pattern
    from dsp.bearing import scan_bearing

    try:
        pattern = load_pattern()
        if freq_hz is None and len(pattern.freq_hz) > 1:
            freq_hz = float(np.median(pattern.freq_hz))
        bearing, props = scan_bearing(scan.heading_deg, scan.power_dbm, pattern, freq_hz=freq_hz)
    except (OSError, ValueError):
        return None
    if props["rejected"] is not None or not np.isfinite(props["sigma_deg"]):
        return None
    return (scan.x_m, scan.y_m, float(bearing), float(props["sigma_deg"]))


# ------------------------------------------------------------------ geometry helpers
def _hunt_of(data):
    return data.hunt if isinstance(data, HuntExport) else data


def _targets_with_data(hunt):
    targets = [t for t in sorted(hunt.targets.values(), key=lambda t: t.index) if len(t.meas)]
    if not targets or hunt.frame is None:
        raise ExportError("nothing to export: no measurement with a position fix")
    return targets


def _lonlat(frame, x_m, y_m):
    lat, lon = frame.to_latlon(np.asarray(x_m, float), np.asarray(y_m, float))
    return np.round(np.column_stack([np.atleast_1d(lon), np.atleast_1d(lat)]), DEGREE_DECIMALS)


def _to_local(frame, lat_deg, lon_deg):
    import pymap3d

    e, n, _ = pymap3d.geodetic2enu(lat_deg, lon_deg, frame.alt0_m, frame.lat0_deg, frame.lon0_deg,
                                   frame.alt0_m)
    return np.column_stack([e, n])


def ccw_ring(lonlat):
    """The closed ring with counter-clockwise orientation (RFC 7946 outer rings)."""
    ring = np.asarray(lonlat, float)
    if not np.array_equal(ring[0], ring[-1]):
        ring = np.vstack([ring, ring[:1]])
    x, y = ring[:, 0], ring[:, 1]
    signed_area = 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))
    return ring if signed_area > 0 else ring[::-1]


def estimate_summary(hunt, t):
    """Plain properties of a target and its estimate (what KML, GeoJSON and report show)."""
    props = {"target": t.index, "label": t.label, "imsi_masked": t.imsi_masked,
             "channel": t.channel, "group": t.group, "n_meas": len(t.meas)}
    est = t.estimate
    if est is None:
        return props
    lon, lat = _lonlat(hunt.frame, [est.x_m], [est.y_m])[0]
    major, minor = est.semi_axes_m()
    props.update(lat_deg=float(lat), lon_deg=float(lon), cep50_m=round(est.cep50_m, 2),
                 ellipse95_major_axis_m=round(2 * major, 2),
                 ellipse95_minor_axis_m=round(2 * minor, 2),
                 ellipse95_semi_major_m=round(major, 2), ellipse95_semi_minor_m=round(minor, 2),
                 n_used=est.n_used or None,  # 0: a stored answer that did not say
                 floor=None if est.floor is None else int(est.floor),
                 floor_prob={str(int(k)): round(float(v), 4)
                             for k, v in sorted(est.floor_prob.items())})
    likely = hunt.likely_building(t.index)
    props["building"] = None if likely is None else likely[1]
    props["building_prob"] = None if likely is None else round(likely[2], 4)
    return props


# ------------------------------------------------------------------ GeoJSON
def geojson_dict(data):
    """The hunt as a GeoJSON FeatureCollection dict (RFC 7946: lon/lat, CCW outer rings)."""
    hunt = _hunt_of(data)
    features = []
    for t in _targets_with_data(hunt):
        props = estimate_summary(hunt, t)
        m = t.meas
        track = _lonlat(hunt.frame, m["x_m"], m["y_m"])
        track_props = dict(props, kind="track",
                           time_s=[round(float(v), 3) for v in m["time_s"]],
                           rssi_dbm=[_opt(v) for v in m["rssi_dbm"]])
        features.append({"type": "Feature", "properties": track_props,
                         "geometry": {"type": "LineString" if len(track) > 1 else "Point",
                                      "coordinates": track.tolist() if len(track) > 1
                                      else track[0].tolist()}})
        est = t.estimate
        if est is None:
            continue
        point = [props["lon_deg"], props["lat_deg"]]
        ring = ccw_ring(_lonlat(hunt.frame, *est.ellipse_xy()))
        features.append({"type": "Feature", "properties": dict(props, kind="estimate"),
                         "geometry": {"type": "Point", "coordinates": point}})
        features.append({"type": "Feature", "properties": dict(props, kind="ellipse95"),
                         "geometry": {"type": "Polygon", "coordinates": [ring.tolist()]}})
        likely = hunt.likely_building(t.index)
        if likely is not None:
            outline = ccw_ring(_lonlat(hunt.frame, *np.asarray(hunt.buildings[likely[0]]).T))
            features.append({"type": "Feature",
                             "properties": dict(props, kind="building"),
                             "geometry": {"type": "Polygon", "coordinates": [outline.tolist()]}})
    if hunt.marks.n:
        for lon, lat in _lonlat(hunt.frame, hunt.marks["x_m"], hunt.marks["y_m"]):
            features.append({"type": "Feature", "properties": {"kind": "mark"},
                             "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    return {"type": "FeatureCollection", "features": features}


def write_geojson(data, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(geojson_dict(data), f, indent=1)


# ------------------------------------------------------------------ KML
def _coords(lonlat):
    return " ".join(f"{lon:.7f},{lat:.7f},0" for lon, lat in lonlat)


def _when(time_s):
    return datetime.datetime.fromtimestamp(float(time_s), datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def power_bins(rssi_dbm):
    """Colour bin per reading: 0..len(POWER_COLOURS_KML)-1 from the target's weakest to
    strongest detection (5th to 95th percentile), -1 for not detected."""
    rssi = np.asarray(rssi_dbm, float)
    bins = np.full(len(rssi), -1)
    ok = np.isfinite(rssi)
    if ok.any():
        lo, hi = np.percentile(rssi[ok], [5, 95])
        span = max(hi - lo, 1e-9)
        k = len(POWER_COLOURS_KML)
        bins[ok] = np.clip(((rssi[ok] - lo) / span * k).astype(int), 0, k - 1)
    return bins, (None if not ok.any() else (float(lo), float(hi)))


def _runs(bins):
    """(start, stop) of runs of equal bins; each run also takes the next reading so the
    coloured pieces join up."""
    edges = np.flatnonzero(np.diff(bins)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(bins)]])
    return [(int(a), int(min(b + 1, len(bins)))) for a, b in zip(starts, stops)]


def _description(props):
    keys = ("imsi_masked", "channel", "group", "n_meas", "building", "building_prob", "floor",
            "floor_prob", "cep50_m", "ellipse95_major_axis_m", "ellipse95_minor_axis_m", "n_used")
    return "; ".join(f"{k}={props[k]}" for k in keys if props.get(k) not in (None, ""))


def _extended(props):
    keys = ("building", "building_prob", "floor", "floor_prob", "cep50_m",
            "ellipse95_major_axis_m", "ellipse95_minor_axis_m", "imsi_masked")
    # a floor the readings cannot tell (street readings only) is said so, not left out
    shown = dict(props, floor="unknown") if props.get("floor_prob") and props.get("floor") is None \
        else props
    items = "".join(f'<Data name="{k}"><value>{escape(str(shown[k]))}</value></Data>'
                    for k in keys if shown.get(k) is not None)
    return f"<ExtendedData>{items}</ExtendedData>"


def write_kml(data, path):
    """Write the hunt as KML 2.2 (+ gx:Track for Google Earth's time slider).

    Per target a folder: the track as timed ``gx:Track`` pieces coloured by
    power (blue weak .. red strong, grey = not detected, each piece carrying its
    powers as ``rssi_dbm`` data), the estimate with building, floor and floor
    probabilities, the 95 % ellipse, and the most probable building's outline.
    """
    hunt = _hunt_of(data)
    targets = _targets_with_data(hunt)
    with open(path, "w", encoding="utf-8") as f:
        _write_kml(hunt, targets, _LineWriter(f))


class _LineWriter:
    """``append`` lines straight to a file: a long track's KML is never held whole."""

    def __init__(self, fh):
        self._fh = fh

    def append(self, line):
        self._fh.write(line)
        self._fh.write("\n")


_KML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">',
    "<Document><name>rfhound hunt</name>",
    '<Schema id="reading"><gx:SimpleArrayField name="rssi_dbm" type="float">'
    "<displayName>power (dBm)</displayName></gx:SimpleArrayField></Schema>",
    '<Style id="ellipse"><LineStyle><color>ff0000e6</color><width>2</width></LineStyle>'
    "<PolyStyle><color>400000e6</color></PolyStyle></Style>",
    '<Style id="building"><LineStyle><color>ff00a5ff</color><width>3</width></LineStyle>'
    "<PolyStyle><color>4000a5ff</color></PolyStyle></Style>",
    f'<Style id="power-nd"><LineStyle><color>{NOT_DETECTED_KML}</color><width>3</width>'
    "</LineStyle><IconStyle><scale>0</scale></IconStyle></Style>")


def _write_kml(hunt, targets, out):
    for line in _KML_HEAD:
        out.append(line)
    for k, colour in enumerate(POWER_COLOURS_KML):
        out.append(f'<Style id="power-{k}"><LineStyle><color>{colour}</color><width>4</width>'
                   "</LineStyle><IconStyle><scale>0</scale></IconStyle></Style>")
    for t in targets:
        props = estimate_summary(hunt, t)
        name = escape(t.label)
        out.append(f"<Folder><name>{name}</name>")
        est = t.estimate
        if est is not None:
            out.append(f"<Placemark><name>{name} estimate</name>"
                       f"<description>{escape(_description(props))}</description>"
                       f"{_extended(props)}<Point><coordinates>{props['lon_deg']:.7f},"
                       f"{props['lat_deg']:.7f},0</coordinates></Point></Placemark>")
            ring = ccw_ring(_lonlat(hunt.frame, *est.ellipse_xy()))
            out.append(f"<Placemark><name>{name} 95 % ellipse</name><styleUrl>#ellipse</styleUrl>"
                       "<Polygon><outerBoundaryIs><LinearRing>"
                       f"<coordinates>{_coords(ring)}</coordinates>"
                       "</LinearRing></outerBoundaryIs></Polygon></Placemark>")
            likely = hunt.likely_building(t.index)
            if likely is not None:
                outline = ccw_ring(_lonlat(hunt.frame, *np.asarray(hunt.buildings[likely[0]]).T))
                out.append(f"<Placemark><name>{name} building {escape(likely[1])} "
                           f"({likely[2]:.0%})</name><styleUrl>#building</styleUrl>"
                           "<Polygon><outerBoundaryIs><LinearRing>"
                           f"<coordinates>{_coords(outline)}</coordinates>"
                           "</LinearRing></outerBoundaryIs></Polygon></Placemark>")
        m = t.meas
        lonlat = _lonlat(hunt.frame, m["x_m"], m["y_m"])
        bins, scale = power_bins(m["rssi_dbm"])
        legend = "not detected = grey" if scale is None else \
            f"blue {scale[0]:.0f} dBm .. red {scale[1]:.0f} dBm; grey = not detected"
        out.append(f"<Folder><name>{name} track</name><description>{escape(legend)}</description>")
        times, rssi = m["time_s"], m["rssi_dbm"]
        for a, b in _runs(bins):
            style = "power-nd" if bins[a] < 0 else f"power-{bins[a]}"
            whens = "".join(f"<when>{_when(v)}</when>" for v in times[a:b])
            coords = "".join(f"<gx:coord>{lon:.7f} {lat:.7f} 0</gx:coord>" for lon, lat in lonlat[a:b])
            powers = "".join(f"<gx:value>{'' if not np.isfinite(v) else f'{v:.1f}'}</gx:value>"
                             for v in rssi[a:b])
            out.append(f"<Placemark><styleUrl>#{style}</styleUrl><gx:Track>"
                       f"<altitudeMode>clampToGround</altitudeMode>{whens}{coords}"
                       '<ExtendedData><SchemaData schemaUrl="#reading">'
                       f'<gx:SimpleArrayData name="rssi_dbm">{powers}</gx:SimpleArrayData>'
                       "</SchemaData></ExtendedData></gx:Track></Placemark>")
        out.append("</Folder></Folder>")
    if hunt.marks.n:
        for i, (lon, lat) in enumerate(_lonlat(hunt.frame, hunt.marks["x_m"], hunt.marks["y_m"])):
            out.append(f"<Placemark><name>mark {i + 1}</name><TimeStamp><when>"
                       f"{_when(hunt.marks['time_s'][i])}</when></TimeStamp>"
                       f"<Point><coordinates>{lon:.7f},{lat:.7f},0</coordinates></Point></Placemark>")
    out.append("</Document></kml>")


# ------------------------------------------------------------------ CSV of the window
def measurement_rows(data):
    """Measurement CSV rows (dicts, docs/formats.md columns) of every target, in time order."""
    hunt = _hunt_of(data)
    rows = []
    for t in _targets_with_data(hunt):
        m = t.meas
        lonlat = _lonlat(hunt.frame, m["x_m"], m["y_m"])
        for i in range(len(m)):
            rows.append({
                "time_s": round(float(m["time_s"][i]), 3), "target": t.label,
                "rssi_dbm": _opt(m["rssi_dbm"][i]),
                "lat_deg": float(lonlat[i, 1]), "lon_deg": float(lonlat[i, 0]),
                "alt_m": _opt(m["alt_m"][i]), "floor": _opt_int(m["floor"][i]),
                "heading_deg": _opt(m["heading_deg"][i]),
            })
    rows.sort(key=lambda r: r["time_s"])
    return rows


def write_measurement_csv(data, path):
    """The measurement CSV of a live model (no quality flags: the model does not keep them)."""
    meascsv.write_measurements(path, measurement_rows(data))


def window_session(window):
    """The session file behind a console window: the one it replays or records, or None."""
    writer = getattr(window, "writer", None)
    if writer is not None:
        return writer.path
    return getattr(getattr(window, "source", None), "path", None)


def write_window_csv(window, path):
    """The window's measurement CSV: from its session file when it has one (every reading,
    with quality flags, as ``rfhound export`` writes it), else from its live model."""
    from host.session import SessionError, SessionReader

    session = window_session(window)
    if session is None:
        write_measurement_csv(window.hunt, path)
        return
    try:
        with SessionReader(session) as reader:
            write_session_csv(reader, path)
    except SessionError as exc:
        raise ExportError(str(exc)) from None


def _opt(v):
    return None if not np.isfinite(v) else float(v)


def _opt_int(v):
    return None if not np.isfinite(v) else int(v)
