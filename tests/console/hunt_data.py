"""A synthetic recorded hunt: a walk around a block with one emitter, and rotation scans.

Power follows the log-distance model p = P0 - 10 n log10(d) + shadowing, so the
true emitter position is known exactly; the tests check the console against it.
"""

import numpy as np
import pymap3d

from dsp.antenna import load_pattern

LAT0_DEG, LON0_DEG = 52.520000, 13.405000
EMITTER_XY_M = (60.0, 40.0)
P0_DBM, N_EXP, SIGMA_DB = -35.0, 3.0, 3.0
NOISE_FLOOR_DBM = -115.0
FREQ_HZ = 1747.5e6
TASKING = {"targets": [
    {"label": "rack-A", "imsi": "460001234567812", "rat": "lte", "channel": 19575,
     "freq_hz": FREQ_HZ, "group": "box 1"},
    {"label": "rack-B", "imsi": "460009876543221", "rat": "lte", "channel": 19575,
     "freq_hz": FREQ_HZ, "group": "box 1"},
]}
BUILDING_M = [[20.0, 10.0], [100.0, 10.0], [100.0, 70.0], [20.0, 70.0]]


def walk_xy(step_m=1.5):
    """A loop on the streets 15 m around the building, then a second, wider loop."""
    pts = []
    for margin in (15.0, 35.0):
        corners = np.array([[20 - margin, 10 - margin], [100 + margin, 10 - margin],
                            [100 + margin, 70 + margin], [20 - margin, 70 + margin],
                            [20 - margin, 10 - margin]])
        for a, b in zip(corners[:-1], corners[1:]):
            n = int(np.hypot(*(b - a)) / step_m)
            t = np.arange(n) / n
            pts.append(a + t[:, None] * (b - a))
    return np.vstack(pts)


def hunt_records(seed=7, t0_s=1_700_000_000.0, targets=(0, 1)):
    """Return the records of the hunt (HELLO, STATUS, MEAS; scans at two stops)."""
    rng = np.random.default_rng(seed)
    lpda = load_pattern("lpda-700-2700", freq_hz=FREQ_HZ)
    recs = [{"kind": "HELLO", "seq": 0, "device_time_ms": 0, "rx_time_s": t0_s,
             "fw_version": "1.0.0", "device_id": 4242, "calibration_id": 20260917}]
    seq, t = 1, t0_s

    def meas(target, x, y, p, heading=None):
        nonlocal seq
        e, n = x, y
        lat, lon, _ = pymap3d.enu2geodetic(e, n, 0.0, LAT0_DEG, LON0_DEG, 0.0)
        detected = p >= NOISE_FLOOR_DBM
        rec = {"kind": "MEAS", "seq": seq, "device_time_ms": int((t - t0_s) * 1000),
               "rx_time_s": t, "target": target, "rssi_dbm": round(p, 2) if detected else None,
               "raw_rssi": 0, "gain_db": None, "heading_deg": heading,
               "lat_deg": round(float(lat), 7), "lon_deg": round(float(lon), 7), "alt_m": 35.0,
               "floor": 0, "dwell_ms": 50, "flags": 0 if detected else 1,
               "not_detected": not detected, "position_stale": False}
        seq += 1
        return rec

    ex, ey = EMITTER_XY_M
    for i, (x, y) in enumerate(walk_xy()):
        t += 0.5
        for target in targets:
            offset_db = 0.0 if target == 0 else -20.0
            d = np.hypot(x - ex, y - ey)
            p = P0_DBM + offset_db - 10 * N_EXP * np.log10(d) + rng.normal(0, SIGMA_DB)
            recs.append(meas(target, x, y, p))
        if i % 40 == 0:
            recs.append({"kind": "STATUS", "seq": seq, "device_time_ms": int((t - t0_s) * 1000),
                         "rx_time_s": t, "battery_mv": 3900, "battery_pct": 81, "temp_c": 21.5,
                         "gnss_fix": 1, "gnss_sats": 9, "radio_lock": 1, "mode": 1,
                         "fault_flags": 0, "dropped_frames": 0, "active_target": 0, "floor": 0,
                         "n_targets": len(TASKING["targets"])})
            seq += 1
    for sx, sy in ((-20.0, -10.0), (140.0, 110.0)):
        bearing = np.degrees(np.arctan2(ex - sx, ey - sy)) % 360.0
        d = np.hypot(sx - ex, sy - ey)
        level = P0_DBM - 10 * N_EXP * np.log10(d)
        for heading in np.arange(0.0, 360.0, 10.0):
            t += 0.3
            p = level + float(lpda.gain(bearing - heading)) + rng.normal(0, 1.0)
            recs.append(meas(0, sx, sy, p, heading=float(heading)))
    return recs


def write_session(path, **kwargs):
    """Record the synthetic hunt into a session file with the real SessionWriter."""
    from host.session import SessionWriter

    with SessionWriter(str(path), tasking=TASKING, calibration_id=20260917,
                       meta={"source": "synthetic test hunt"}) as writer:
        for rec in hunt_records(**kwargs):
            writer.record(rec)
    return path
