"""The real firmware in the MicroPython unix port, its USB on a pty read by host.link.Link,
its chips faked at register level from a settable environment."""

import time

import pytest

from firmware import protocol as P
from host.link import Link
from host.virtual.device import DeviceClient
from host.virtual.env import StaticEnv
from host.virtual.handheld import VirtualHandheld

from .conftest import DEVICE_ID, KEY, tasking_body
from firmware import tasking as T


@pytest.fixture
def handheld(micropython_bin):
    made = []

    def make(env=None, **kw):
        env = env or StaticEnv()
        kw.setdefault("config", {"dwell_ms": 2, "reads": 2})
        hh = VirtualHandheld(env, key=KEY, device_id=DEVICE_ID, **kw)
        link = Link(hh.start()).start()
        dev = DeviceClient(link)
        made.append((hh, link))
        dev.wait(lambda r: r["kind"] == "HELLO", 10)
        return hh, env, dev

    yield make
    for hh, link in made:
        link.stop()
        hh.stop()


def test_meas_frames_reach_the_host_link_calibrated(handheld):
    hh, env, dev = handheld(StaticEnv(power_dbm=-60.0, heading_deg=123.0, pitch_deg=10,
                                      roll_deg=-20, lat_deg=52.52, lon_deg=13.405, alt_m=34.0))
    hello = dev.records[0]
    assert hello["device_id"] == DEVICE_ID and hello["max_targets"] == 128
    assert dev.upload_tasking(T.sign(KEY, tasking_body()))["kind"] == "ACK"
    assert dev.request(P.START)["kind"] == "ACK"
    meas = dev.wait(lambda r: r["kind"] == "MEAS", 5)
    meas = dev.wait(lambda r: r["kind"] == "MEAS" and not r["position_stale"], 5)
    # -60 dBm at 40 dB gain: ADC at -30 dBFS -> RSSI 120 quarter-dB; the nominal calibration
    # (offset 10 dB, slope 1) maps it back to -60.00 dBm (compression at -30 dBFS: 0.014 dB).
    assert meas["raw_rssi"] == 120
    assert meas["gain_db"] == 40
    assert meas["rssi_dbm"] == pytest.approx(-60.0, abs=0.01)
    assert meas["heading_deg"] == pytest.approx(123.0, abs=0.3)
    assert meas["lat_deg"] == pytest.approx(52.52, abs=1e-6)
    assert meas["lon_deg"] == pytest.approx(13.405, abs=1e-6)
    assert meas["alt_m"] == pytest.approx(34.0, abs=0.05)
    assert hh.radio.tunes[-1] == pytest.approx(1747.5e6, abs=5)
    assert hh.radio.tx_requests == 0
