"""The console's hunt model without Qt: targets, scans, positions."""

import numpy as np
import pymap3d
import pytest

from host.app.geo import LocalFrame
from host.app.model import HuntModel

LAT0, LON0 = 52.52, 13.405


def meas(t_s, x_m, y_m, rssi_dbm=-80.0, heading_deg=None, target=0, stale=False):
    lat, lon, _ = pymap3d.enu2geodetic(x_m, y_m, 0.0, LAT0, LON0, 0.0)
    return {"kind": "MEAS", "rx_time_s": t_s, "target": target, "rssi_dbm": rssi_dbm,
            "heading_deg": heading_deg, "lat_deg": float(lat), "lon_deg": float(lon),
            "alt_m": 0.0, "floor": 0, "not_detected": rssi_dbm is None, "position_stale": stale}


def test_two_scans_in_a_row_keep_every_reading():
    m = HuntModel()
    recs = [meas(0.0, 0.0, 0.0)]
    t = 1.0
    for x in (0.0, 20.0):
        for h in range(0, 360, 10):
            recs.append(meas(t, x, 0.0, heading_deg=float(h)))
            t += 0.3
    _, _, scans = m.ingest(recs)
    scans += m.finish_scans()
    assert [len(s.heading_deg) for s in scans] == [36, 36]
    assert [round(s.x_m) for s in scans] == [0, 20]


def test_a_partial_turn_is_no_scan():
    m = HuntModel()
    recs = [meas(i * 0.3, 5.0, 5.0, heading_deg=float(h)) for i, h in enumerate(range(0, 250, 10))]
    _, _, scans = m.ingest(recs)
    assert scans == [] and m.finish_scans() == []


def test_no_fix_since_power_on_is_not_drawn_and_does_not_anchor_the_map():
    m = HuntModel()
    no_fix = dict(meas(0.0, 0.0, 0.0, stale=True), lat_deg=0.0, lon_deg=0.0)
    m.ingest([no_fix, meas(1.0, 30.0, 40.0)])
    t = m.targets[0]
    assert len(t.meas) == 1
    assert (t.meas["x_m"][0], t.meas["y_m"][0]) == (0.0, 0.0)  # the first real fix anchors
    assert (m.frame.lat0_deg, m.frame.lon0_deg) == pytest.approx(
        pymap3d.enu2geodetic(30.0, 40.0, 0.0, LAT0, LON0, 0.0)[:2], abs=1e-9)


def test_frame_through_a_fix_puts_it_at_its_given_position():
    lat, lon, _ = pymap3d.enu2geodetic(120.0, -35.0, 0.0, LAT0, LON0, 0.0)
    frame = LocalFrame.through(float(lat), float(lon), 120.0, -35.0)
    # the two tangent planes differ by about d^2 / R_earth = 125^2 / 6.4e6 m = 2.4 mm
    np.testing.assert_allclose(frame.to_xy(float(lat), float(lon)), (120.0, -35.0), atol=5e-3)
    np.testing.assert_allclose((frame.lat0_deg, frame.lon0_deg), (LAT0, LON0), atol=5e-8)


def test_tasking_targets_are_masked_and_named():
    m = HuntModel()
    m.set_tasking({"targets": [{"label": "rack-A", "imsi": "460001234567812", "rat": "LTE",
                                "channel": 1300, "uplink_hz": 1720000000, "group": "box"}]})
    t = m.targets[0]
    assert (t.label, t.imsi_masked, t.channel, t.group, t.freq_hz) == (
        "rack-A", "46000********12", "LTE 1300", "box", 1720000000.0)
    m.ingest([meas(0.0, 0.0, 0.0, target=3)])
    assert m.targets[3].label == "T4"


def test_fault_and_stale_readings_are_shown_but_not_located():
    m = HuntModel()
    fault = dict(meas(2.0, 5.0, 5.0, rssi_dbm=0.0), radio_fault=True)
    touched, points, _ = m.ingest([meas(0.0, 0.0, 0.0), meas(1.0, 1.0, 0.0, stale=True), fault,
                                   meas(3.0, 2.0, 0.0)])
    assert touched == {0}
    assert [p[5] for p in points] == [0.0, 3.0]
    assert m.targets[0].meas.n == 4   # all four kept for the track and the strip chart
