"""Hunt state shown by the console: targets, their measurements, scans, link status.

The model knows no Qt: record sources feed it record dicts (``host.records``
shape), views read it, the DSP worker writes estimates back into it.  Keeping
it plain Python lets the tests and the exporters use it without a window.
"""

import math

import numpy as np

from dsp.scans import coverage_deg as _coverage_deg
from host.app.geo import LocalFrame
from host.privacy import mask_imsi

#: A target counts as detected while its last detection is this recent.
DETECTION_HOLD_S = 10.0

#: A rotation scan is the run of headed measurements taken within this radius ...
SCAN_RADIUS_M = 3.0
#: ... with no pause longer than this ...
SCAN_GAP_S = 5.0
#: A turn in progress is shown once it covers this much ...
LIVE_SCAN_DEG = 45.0
#: ... and it gives a bearing when its headings cover this much of the circle
#: (the least ``dsp.bearing.scan_bearing`` accepts by default).
SCAN_COVERAGE_DEG = 270.0


class Columns:
    """Growable float64 columns with amortised O(1) append.

    Parameters
    ----------
    names : sequence of str
        Column names; every column starts as NaN.
    capacity : int
        Initial capacity; doubled when full.
    """

    def __init__(self, names, capacity=1024):
        self.names = tuple(names)
        self._data = {name: np.full(capacity, np.nan) for name in self.names}
        self.n = 0

    def append(self, *values):
        if self.n == len(self._data[self.names[0]]):
            for name, column in self._data.items():
                grown = np.full(2 * len(column), np.nan)
                grown[: self.n] = column
                self._data[name] = grown
        for name, value in zip(self.names, values):
            self._data[name][self.n] = np.nan if value is None else value
        self.n += 1

    def __getitem__(self, name):
        return self._data[name][: self.n]

    def __len__(self):
        return self.n


class EstimateView:
    """What the console shows of one ``dsp.locate.Estimate``.

    The 95 % ellipse is drawn from the covariance (chi-square, 2 dof), so the
    drawing does not depend on the ellipse-angle convention of the estimator.
    With building footprints, ``building`` is the index of the most probable one
    (in ``HuntModel.buildings``) and ``building_prob`` the posterior mass of each;
    both are None without.
    """

    #: chi-square quantile, 2 degrees of freedom, p = 0.95: -2 ln(0.05)
    CHI2_95 = -2.0 * math.log(0.05)

    def __init__(self, x_m, y_m, cov_m2, cep50_m, n_used, floor=None, floor_prob=None,
                 building=None, building_prob=None):
        self.x_m = float(x_m)
        self.y_m = float(y_m)
        self.cov_m2 = np.asarray(cov_m2, dtype=float).reshape(2, 2)
        self.cep50_m = float(cep50_m)
        self.n_used = int(n_used)
        self.floor = floor
        self.floor_prob = dict(floor_prob) if floor_prob else {}
        self.building = None if building is None else int(building)
        self.building_prob = None if building_prob is None else np.asarray(building_prob, float)

    def ellipse_xy(self, n=73):
        """Return the 95 % ellipse outline as ``(x_m, y_m)`` arrays of length ``n``."""
        vals, vecs = np.linalg.eigh(self.cov_m2)
        radii = np.sqrt(np.clip(vals, 0.0, None) * self.CHI2_95)
        t = np.linspace(0.0, 2.0 * np.pi, n)
        pts = vecs @ (radii[:, None] * np.vstack([np.cos(t), np.sin(t)]))
        return self.x_m + pts[0], self.y_m + pts[1]

    def semi_axes_m(self):
        """Return the 95 % ellipse semi-axes (major, minor) in metres."""
        vals = np.clip(np.linalg.eigvalsh(self.cov_m2), 0.0, None)
        return tuple(np.sqrt(vals[::-1] * self.CHI2_95))


class Scan:
    """One rotation scan: power against antenna heading at one place.

    ``bearing_deg`` and ``sigma_deg`` are filled by the DSP worker; ``rejected``
    holds its reason when the scan gave no bearing.
    """

    def __init__(self, target, x_m, y_m, heading_deg, power_dbm, time_s, start_s=None):
        self.target = target
        self.x_m = x_m
        self.y_m = y_m
        self.heading_deg = np.asarray(heading_deg, dtype=float)
        self.power_dbm = np.asarray(power_dbm, dtype=float)
        self.time_s = time_s
        self.start_s = time_s if start_s is None else start_s
        self.bearing_deg = None
        self.sigma_deg = None
        self.ambiguous = False
        self.rejected = None


class Target:
    """One tasked target and everything measured on it."""

    def __init__(self, index, label=None, imsi=None, channel="", group="", freq_hz=None):
        self.index = index
        self.label = label or f"T{index + 1}"
        self.imsi_masked = _masked(imsi)
        self.channel = channel
        self.group = group
        self.freq_hz = freq_hz
        self.meas = Columns(("time_s", "x_m", "y_m", "rssi_dbm", "floor", "heading_deg", "alt_m"))
        self.last_rssi_dbm = None
        self.last_time_s = None
        self.last_detect_s = None
        self.estimate = None
        #: The estimates so far (time of the latest reading they used, position): the trail.
        self.trail = Columns(("time_s", "x_m", "y_m", "cep50_m"))
        #: ``(time_s, text)`` each time the most probable building changed.
        self.changes = []
        self.heat = None
        self.scan = None
        self.bearings = []
        self.scan_rows = []

    def detection_state(self):
        """Return ``"detected"``, ``"lost"`` (measured, not heard lately) or ``"no data"``."""
        if self.last_time_s is None:
            return "no data"
        if self.last_detect_s is not None and self.last_time_s - self.last_detect_s <= DETECTION_HOLD_S:
            return "detected"
        return "lost"

    def live_scan(self):
        """Return the turn in progress as a Scan without bearing, or None.

        Only a turn of at least ``LIVE_SCAN_DEG`` counts: walking and standing
        also give headings, and a few degrees of them are no scan.
        """
        if len(self.scan_rows) < 4 or _coverage_deg([r[2] for r in self.scan_rows]) < LIVE_SCAN_DEG:
            return None
        arr = np.array(self.scan_rows)
        return Scan(self.index, float(arr[:, 0].mean()), float(arr[:, 1].mean()), arr[:, 2],
                    arr[:, 3], float(arr[-1, 4]))

    def quality(self):
        """Return a short estimate-quality text: CEP50 and the number of measurements used."""
        if self.estimate is None:
            return ""
        return f"CEP50 {self.estimate.cep50_m:.0f} m (n={self.estimate.n_used})"


def _masked(imsi):
    if not imsi:
        return ""
    imsi = str(imsi)
    return imsi if "*" in imsi else mask_imsi(imsi)


class LinkStatus:
    """Link and device health shown in the status bar."""

    def __init__(self):
        self.state = "no source"
        self.frames_per_s = 0.0
        self.crc_errors = 0
        self.battery = ""
        self.gnss = ""
        self.calibration_id = ""
        self.recording = ""
        self.device = ""


class HuntModel:
    """Everything the console shows, fed one record dict at a time.

    Parameters
    ----------
    frame : LocalFrame or None
        Local east/north frame; by default anchored at the first position fix.
    """

    def __init__(self, frame=None):
        self.frame = frame
        self.targets = {}
        self.marks = Columns(("time_s", "x_m", "y_m"))
        self.status = LinkStatus()
        self.buildings = []
        self.building_names = []
        self.building_levels = []
        self.position = None
        self.n_records = 0
        #: Time (s) of the session's first record: zero of the strip chart's session time.
        self.start_s = None

    def set_buildings(self, polygons, names=None, levels=None):
        """Take the building footprints (``(n, 2)`` east/north metres), their names and
        floor counts.

        Names default to ``B0``, ``B1``, ... (the index); levels (int or None each)
        to None, unknown.  The building of an
        estimate made on other footprints means nothing here, so it is dropped
        until the next estimate.

        Raises
        ------
        ValueError
            A footprint is not a polygon (naming which), or the names do not
            match the footprints one to one.
        """
        from dsp.footprints import as_polygons

        polys = as_polygons(polygons)
        names = [f"B{i}" for i in range(len(polys))] if names is None else [str(n) for n in names]
        if len(names) != len(polys):
            raise ValueError(f"{len(names)} building names for {len(polys)} footprints")
        levels = [None] * len(polys) if levels is None else list(levels)
        if len(levels) != len(polys):
            raise ValueError(f"{len(levels)} floor counts for {len(polys)} footprints")
        self.buildings, self.building_names, self.building_levels = polys, names, levels
        for t in self.targets.values():
            if t.estimate is not None:
                t.estimate.building = t.estimate.building_prob = None

    def likely_building(self, target):
        """Return ``(index, name, probability)`` of the target's most probable building, or None."""
        t = self.targets.get(target)
        est = None if t is None else t.estimate
        if est is None or est.building is None or est.building >= len(self.buildings):
            return None
        k = est.building
        return k, self.building_names[k], float(est.building_prob[k])

    def estimate_latlon(self, target):
        """Return ``(lat_deg, lon_deg)`` of the target's estimate, or None (no estimate or
        no geographic frame yet)."""
        t = self.targets.get(target)
        if t is None or t.estimate is None or self.frame is None:
            return None
        lat, lon = self.frame.to_latlon(t.estimate.x_m, t.estimate.y_m)
        return float(lat), float(lon)

    def estimate_record(self, target, time_s=None):
        """The target's current answer as an ESTIMATE session record, or None.

        What the operations centre shows of a hunt: position (east/north metres and,
        with a geographic frame, degrees to 7 decimals), CEP50, the 95 % ellipse
        (semi-axes, major axis clockwise from north), the most probable building
        (name, probability, floor count) and floor (``floor_prob`` by floor).
        """
        import time

        t = self.targets.get(target)
        est = None if t is None else t.estimate
        if est is None:
            return None
        major, minor = est.semi_axes_m()
        vals, vecs = np.linalg.eigh(est.cov_m2)
        ex, ey = vecs[:, int(np.argmax(vals))]
        rec = {"kind": "ESTIMATE", "rx_time_s": time.time() if time_s is None else time_s,
               "target": int(target), "label": t.label,
               "x_m": round(est.x_m, 2), "y_m": round(est.y_m, 2),
               "cep50_m": round(est.cep50_m, 2), "n_used": est.n_used,
               "ellipse": {"semi_major_m": round(float(major), 2),
                           "semi_minor_m": round(float(minor), 2),
                           "orientation_deg": round(math.degrees(math.atan2(ex, ey)) % 180.0, 1)}}
        ll = self.estimate_latlon(target)
        if ll is not None:
            rec["lat_deg"], rec["lon_deg"] = round(ll[0], 7), round(ll[1], 7)
        likely = self.likely_building(target)
        if likely is not None:
            k, name, prob = likely
            rec.update(building=name, building_prob=round(prob, 4),
                       building_levels=self.building_levels[k]
                       if k < len(self.building_levels) else None)
        floor = self.likely_floor(target)
        if floor is not None:
            rec["floor"] = floor[0]
            rec["floor_prob"] = {str(int(f)): round(float(p), 4) for f, p in est.floor_prob.items()}
        return rec

    def likely_floor(self, target):
        """Return ``(floor, probability, floors_of_the_building or None)``, or None."""
        t = self.targets.get(target)
        est = None if t is None else t.estimate
        if est is None or not est.floor_prob:
            return None
        floor, prob = max(est.floor_prob.items(), key=lambda kv: kv[1])
        likely = self.likely_building(target)
        levels = None
        if likely is not None and likely[0] < len(self.building_levels):
            levels = self.building_levels[likely[0]]
        return int(floor), float(prob), levels

    def set_tasking(self, tasking):
        """Create the targets named by a (masked) tasking dict.

        Accepts the tasking as ``host.session.SessionReader.tasking`` and
        ``firmware.tasking`` give it: a dict with a ``targets`` list (target
        index = list position) whose items carry ``label``, ``imsi``, ``rat``,
        ``channel``, the uplink (``freq_hz`` or ``uplink_hz``) and optionally
        ``group`` (targets in one box).
        """
        for index, item in enumerate((tasking or {}).get("targets", [])):
            channel = "" if item.get("channel") is None else item["channel"]
            self.targets[index] = Target(
                index, item.get("label"), item.get("imsi"),
                f"{item.get('rat', '')} {channel}".strip(), str(item.get("group") or ""),
                _freq_hz(item))

    def target(self, index):
        """Return target ``index``, creating an untasked one on first sight."""
        if index not in self.targets:
            self.targets[index] = Target(index)
        return self.targets[index]

    def ingest(self, records):
        """Apply a batch of record dicts.

        Returns
        -------
        touched : set of int
            Targets with new measurements.
        points : list of tuple
            ``(target, x_m, y_m, rssi_dbm, floor, time_s)`` for the DSP worker;
            ``rssi_dbm`` is NaN when measured but not detected; readings flagged as a
            radio fault or with a stale position are left out.
        scans : list of Scan
            Rotation scans completed by this batch.
        """
        touched, points, scans = set(), [], []
        for rec in records:
            self.n_records += 1
            if self.start_s is None and (rec.get("rx_time_s") is not None
                                         or rec.get("device_time_ms") is not None):
                self.start_s = _time(rec)
            kind = rec.get("kind")
            if kind == "MEAS":
                point = self._meas(rec, scans)
                if point is not None:
                    touched.add(point[0])
                    # shown and kept, but a radio fault or a stale position is no evidence
                    # of where the target is: not for the locator
                    if not (rec.get("radio_fault") or rec.get("position_stale")):
                        points.append(point)
            elif kind == "STATUS":
                self._device_status(rec)
            elif kind == "HELLO":
                self.status.device = str(rec.get("device_id") or "")
                if rec.get("calibration_id"):
                    self.status.calibration_id = str(rec["calibration_id"])
            elif kind == "MARK" or (kind == "EVENT" and rec.get("text") == "mark"):
                xy = self._xy(rec) or self.position
                if xy is not None:
                    self.marks.append(_time(rec), *xy)
        return touched, points, scans

    def _meas(self, rec, scans):
        xy = self._xy(rec)
        if xy is None:
            return None
        t = self.target(int(rec.get("target", 0)))
        rssi = rec.get("rssi_dbm")
        if rec.get("not_detected"):
            rssi = None
        time_s = _time(rec)
        heading = rec.get("heading_deg")
        t.meas.append(time_s, xy[0], xy[1], rssi, rec.get("floor"), heading, rec.get("alt_m"))
        t.last_time_s = time_s
        if rssi is not None:
            t.last_rssi_dbm = float(rssi)
            t.last_detect_s = time_s
        if not rec.get("position_stale"):
            self.position = xy
        scan = self._collect_scan(t, xy, heading, rssi, time_s)
        if scan is not None:
            t.scan = scan
            scans.append(scan)
        return (t.index, xy[0], xy[1], np.nan if rssi is None else float(rssi),
                rec.get("floor"), time_s)

    def _xy(self, rec):
        lat, lon = rec.get("lat_deg"), rec.get("lon_deg")
        if rec.get("position_stale") and lat == 0 and lon == 0:
            # stale with nothing to be stale from: no fix since power-on, no position
            lat = lon = None
        if rec.get("x_m") is not None and rec.get("y_m") is not None:
            # a source drawing in its own frame (the simulator's world): anchor the
            # export frame so that this fix lands on its given east/north
            x, y = float(rec["x_m"]), float(rec["y_m"])
            if self.frame is None and lat is not None and lon is not None:
                self.frame = LocalFrame.through(lat, lon, x, y)
            return x, y
        if lat is None or lon is None:
            return None
        if self.frame is None:
            self.frame = LocalFrame(lat, lon, rec.get("alt_m") or 0.0)
        return self.frame.to_xy(lat, lon)

    def _collect_scan(self, t, xy, heading, rssi, time_s):
        """Gather headed detections taken in one place; return the Scan that this reading ends."""
        rows = t.scan_rows
        done = None
        if rows and (heading is None
                     or math.hypot(xy[0] - rows[0][0], xy[1] - rows[0][1]) > SCAN_RADIUS_M
                     or time_s - rows[-1][4] > SCAN_GAP_S):
            done = _close_scan(t)
        if heading is not None and rssi is not None:
            t.scan_rows.append((xy[0], xy[1], float(heading) % 360.0, float(rssi), time_s))
        return done

    def finish_scans(self):
        """Close the scans still open (the source has ended); return those complete enough."""
        scans = []
        for t in self.targets.values():
            scan = _close_scan(t)
            if scan is not None:
                t.scan = scan
                scans.append(scan)
        return scans

    def _device_status(self, rec):
        if rec.get("battery_pct") is not None:
            self.status.battery = f"{rec['battery_pct']:.0f} %"
        if rec.get("gnss_fix") is not None:
            sats = rec.get("gnss_sats")
            self.status.gnss = _fix_text(rec["gnss_fix"]) + (f", {sats} sats" if sats is not None else "")
        if rec.get("calibration_id"):
            self.status.calibration_id = str(rec["calibration_id"])


def _freq_hz(item):
    """Uplink frequency of a tasking target: given, or from its RAT and channel."""
    for key in ("freq_hz", "uplink_hz"):
        if item.get(key):
            return float(item[key])
    if item.get("rat") and item.get("channel") is not None:
        from dsp.bands import uplink_hz

        try:
            return float(uplink_hz(str(item["rat"]).lower(), item["channel"], item.get("band")))
        except ValueError:
            return None
    return None


def _close_scan(t):
    rows, t.scan_rows = t.scan_rows, []
    if len(rows) < 4 or _coverage_deg([r[2] for r in rows]) < SCAN_COVERAGE_DEG:
        return None
    arr = np.array(rows)
    return Scan(t.index, float(arr[:, 0].mean()), float(arr[:, 1].mean()), arr[:, 2], arr[:, 3],
                float(arr[-1, 4]), float(arr[0, 4]))


#: STATUS.gnss_fix is the NMEA 0183 GGA fix-quality field.
_GGA_QUALITY = {0: "no fix", 1: "GPS fix", 2: "DGPS fix", 3: "PPS fix", 4: "RTK fixed",
                5: "RTK float", 6: "dead reckoning"}


def _fix_text(fix):
    return _GGA_QUALITY.get(int(fix), f"fix quality {fix}")


def _time(rec):
    if rec.get("rx_time_s") is not None:
        return float(rec["rx_time_s"])
    return float(rec.get("device_time_ms", 0)) / 1000.0
