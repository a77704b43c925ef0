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
    # -60 dBm: input-referred -70 dB (UG-570: the chip subtracts the 40 dB gain) -> RSSI
    # 280 quarter-dB; the nominal calibration (offset 10 dB, slope 1) maps it back to
    # -60.00 dBm (the ADC at -30 dBFS, 0.014 dB into the limiter).
    assert meas["raw_rssi"] == 280
    assert meas["gain_db"] == 40
    assert meas["rssi_dbm"] == pytest.approx(-60.0, abs=0.01)
    assert meas["heading_deg"] == pytest.approx(123.0, abs=0.3)
    assert meas["lat_deg"] == pytest.approx(52.52, abs=1e-6)
    assert meas["lon_deg"] == pytest.approx(13.405, abs=1e-6)
    assert meas["alt_m"] == pytest.approx(34.0, abs=0.05)
    assert hh.radio.tunes[-1] == pytest.approx(1747.5e6, abs=5)
    assert hh.radio.tx_requests == 0


def _hunting(handheld, env=None, targets=None, **kw):
    hh, env, dev = handheld(env, **kw)
    assert dev.upload_tasking(T.sign(KEY, tasking_body(targets=targets)))["kind"] == "ACK"
    assert dev.request(P.START)["kind"] == "ACK"
    return hh, env, dev


def _meas(dev, pred=lambda r: True, timeout_s=5):
    return dev.wait(lambda r: r["kind"] == "MEAS" and pred(r), timeout_s)


def test_round_robin_over_128_targets(handheld):
    targets = [{"label": "port %d" % i, "rat": "LTE", "channel": 19575 + i,
                "uplink_hz": 1710000000 + 200000 * i, "bandwidth_hz": 5000000} for i in range(128)]
    hh, env, dev = _hunting(handheld, StaticEnv(power_dbm=lambda f: -90.0 + (f - 1.71e9) / 1e7),
                            targets=targets)
    seen = {}
    deadline = time.monotonic() + 20
    while len(seen) < 128 and time.monotonic() < deadline:
        r = _meas(dev)
        seen[r["target"]] = r["rssi_dbm"]
    assert sorted(seen) == list(range(128))
    # -90 dBm + 0.02 dB per 200 kHz step: target 100 is at -88.0 dBm (noise floor +0.0 dB)
    assert seen[100] == pytest.approx(-88.0 + 10 * __import__("math").log10(1 + 10 ** -1.2), abs=0.26)


def test_gnss_loss_keeps_measuring_with_stale_last_fix(handheld):
    hh, env, dev = _hunting(handheld)
    fresh = _meas(dev, lambda r: not r["position_stale"])
    env.fix_ok = False
    env.lat += 0.01  # wherever the officer walks now, the handheld cannot know
    stale = _meas(dev, lambda r: r["position_stale"], timeout_s=6)
    assert stale["lat_deg"] == fresh["lat_deg"] and stale["lon_deg"] == fresh["lon_deg"]
    status = dev.wait(lambda r: r["kind"] == "STATUS" and r["fault_flags"] & P.FAULT_GNSS, 10)
    assert status["gnss_fix"] == 0
    env.fix_ok = True
    back = _meas(dev, lambda r: not r["position_stale"], timeout_s=6)
    assert back["lat_deg"] == pytest.approx(env.lat, abs=1e-6)


def test_radio_losing_lock_is_reset_and_reported(handheld):
    hh, env, dev = _hunting(handheld)
    _meas(dev)
    hh.radio.fault = "unlock"          # clears when the firmware pulses RESETB
    faulty = _meas(dev, lambda r: r["radio_fault"])
    status = dev.wait(lambda r: r["kind"] == "STATUS" and r["fault_flags"] & P.FAULT_RADIO_RESET, 4)
    assert status["radio_lock"] == 1
    log = dev.wait(lambda r: r["kind"] == "LOG" and "radio reset" in r["text"], 1, since=0)
    assert hh.radio.resets >= 2       # power-on reset + recovery
    good = _meas(dev, lambda r: not r["radio_fault"] and r["seq"] > faulty["seq"])
    assert good["rssi_dbm"] == pytest.approx(-60.0, abs=0.01)
    assert log["level"] == P.LOG_WARN


def test_radio_that_stops_answering_never_hangs_the_handheld(handheld):
    hh, env, dev = _hunting(handheld)
    _meas(dev)
    hh.radio.fault_clears_on_reset = False
    hh.radio.fault = "silent"
    s1 = dev.wait(lambda r: r["kind"] == "STATUS" and r["fault_flags"] & P.FAULT_RADIO, 4)
    s2 = dev.wait(lambda r: r["kind"] == "STATUS", 2)   # still alive, still reporting
    assert s1["radio_lock"] == 0 and s2["fault_flags"] & P.FAULT_RADIO
    dev.wait(lambda r: r["kind"] == "LOG" and "product ID reads 0x00" in r["text"], 3, since=0)
    hh.radio.fault = None
    after = _meas(dev, lambda r: not r["radio_fault"], timeout_s=5)
    assert after["rssi_dbm"] == pytest.approx(-60.0, abs=0.01)
    assert hh.restarts == 0  # recovered without the watchdog


def test_mark_button_sends_a_mark_with_position(handheld):
    hh, env, dev = _hunting(handheld, StaticEnv(heading_deg=271.0))
    _meas(dev, lambda r: not r["position_stale"])
    env.held = {"mark"}
    time.sleep(0.3)
    env.held = set()
    mark = dev.wait(lambda r: r["kind"] == "MARK", 3)
    assert mark["mark_id"] == 1
    assert mark["lat_deg"] == pytest.approx(env.lat, abs=1e-6)
    assert mark["heading_deg"] == pytest.approx(271.0, abs=0.3)
    time.sleep(0.3)
    assert [r for r in dev.drain() if r["kind"] == "MARK"] == [mark]  # debounced: one press


def test_buzzer_pitch_rises_with_power_and_squelch_silences_it(handheld):
    hh, env, dev = _hunting(handheld, StaticEnv(power_dbm=-80.0))
    _meas(dev, lambda r: r["rssi_dbm"] == pytest.approx(-80.0, abs=0.3))
    time.sleep(0.6)
    low = hh.buzzer_log[-1]
    env.power_dbm = -55.0
    time.sleep(0.8)
    high = hh.buzzer_log[-1]
    env.power_dbm = -95.0   # under the -90 dBm squelch
    time.sleep(0.8)
    quiet = hh.buzzer_log[-1]
    # pitch = 400 + 3600 * (P - (-90)) / 60 Hz: -80 dBm -> 1000 Hz, -55 dBm -> 2500 Hz
    # (-55 dBm: ADC at -25 dBFS, 0.04 dB compression, RSSI 100 quarter-dB exactly)
    assert low[1] == pytest.approx(1000, abs=10) and low[2] > 0
    assert high[1] == pytest.approx(2500, abs=10) and high[2] > 0
    assert quiet[2] == 0
    assert hh.display.data_writes > 0 and hh.display.lit_pixels() > 50


def test_refused_taskings_nak_with_the_reason(handheld):
    hh, env, dev = handheld()
    assert dev.request(P.START)["reason"] == P.NAK_NO_TASKING
    assert dev.upload_tasking(T.sign(b"not-the-key", tasking_body()))["reason"] == P.NAK_BAD_SIGNATURE
    now = int(time.time())
    assert dev.upload_tasking(T.sign(KEY, tasking_body(now=now - 7200)))["reason"] == P.NAK_EXPIRED
    assert dev.upload_tasking(T.sign(KEY, tasking_body(now=now + 7200)))["reason"] == \
        P.NAK_NOT_YET_VALID
    assert dev.upload_tasking(T.sign(KEY, tasking_body(serial=7)))["kind"] == "ACK"
    nak = dev.upload_tasking(T.sign(KEY, tasking_body(serial=6)))
    assert nak["reason"] == P.NAK_REPLAYED
    log = dev.wait(lambda r: r["kind"] == "LOG" and "serial 6" in r["text"], 2, since=0)
    assert "last accepted 7" in log["text"]


def test_bench_mode_reports_raw_rssi_and_gain(handheld):
    hh, env, dev = handheld(StaticEnv(power_dbm=-60.0))
    assert dev.request(P.SET_MODE, (P.MODE_BENCH, 1747500, 30, 255))["kind"] == "ACK"
    r = _meas(dev, lambda r: r["bench"])
    # -60 dBm at 30 dB gain: input-referred -70 dB -> 280 quarter-dB, as at any gain
    assert r["target"] == 255 and r["raw_rssi"] == 280 and r["gain_db"] == 30
    assert hh.radio.tunes[-1] == pytest.approx(1747.5e6, abs=5)


def test_calibration_upload_changes_the_reported_power(handheld):
    hh, env, dev = _hunting(handheld, StaticEnv(power_dbm=-60.0))
    _meas(dev, lambda r: r["rssi_dbm"] == pytest.approx(-60.0, abs=0.01))
    doc = {"calibration_id": 7, "entries": [
        {"band_lo_mhz": 1000, "band_hi_mhz": 2000, "offset_cdb": 2000, "slope_e4": 10000,
         "temp_coef_mdb_per_c": 100, "ref_temp_cdeg": 2000, "floor_cdbm": -10000, "knee_cdbm": -3500}]}
    assert dev.upload_calibration(doc)["kind"] == "ACK"
    # offset +10 dB, 0.1 dB/C above 20 C at 25 C: -60 + 10 - 0.5 (register 28 -> 24.56 C: -0.456)
    r = _meas(dev, lambda r: r["rssi_dbm"] > -55, timeout_s=3)
    assert r["rssi_dbm"] == pytest.approx(-50.0 - 0.456, abs=0.02)


def test_watchdog_restart_keeps_the_tasking(handheld):
    hh, env, dev = _hunting(handheld)
    _meas(dev)
    hh._proc.send_signal(__import__("signal").SIGSTOP)  # a hung MCU stops feeding the watchdog
    hello = dev.wait(lambda r: r["kind"] == "HELLO", 12, since=len(dev.drain()))
    assert hh.restarts == 1
    status = dev.wait(lambda r: r["kind"] == "STATUS", 3)
    assert status["fault_flags"] & P.FAULT_WATCHDOG_RESET and status["n_targets"] == 1
    assert hello["device_id"] == DEVICE_ID


def test_cpython_runtime_runs_the_same_firmware(handheld):
    hh, env, dev = _hunting(handheld, StaticEnv(power_dbm=-60.0, heading_deg=45.0),
                            runtime="cpython")
    r = _meas(dev, lambda r: not r["position_stale"])
    assert r["raw_rssi"] == 280 and r["rssi_dbm"] == pytest.approx(-60.0, abs=0.01)
    assert r["heading_deg"] == pytest.approx(45.0, abs=0.3)


def test_host_not_reading_drops_oldest_frames_and_counts_them(handheld):
    hh, env, dev = _hunting(handheld, config={"dwell_ms": 0, "reads": 1})
    _meas(dev)
    dev.link.stop()          # the laptop stops reading: the USB buffer fills
    time.sleep(3.0)
    link = Link(hh.url).start()
    try:
        dev2 = DeviceClient(link)
        status = dev2.wait(lambda r: r["kind"] == "STATUS", 5)
        assert status["dropped_frames"] > 0 and status["fault_flags"] & P.FAULT_USB_OVERFLOW
        assert _meas(dev2)["rssi_dbm"] == pytest.approx(-60.0, abs=0.01)  # never blocked
        assert hh.restarts == 0
    finally:
        link.stop()


def test_floor_follows_buttons_and_barometric_height(handheld):
    hh, env, dev = _hunting(handheld, StaticEnv(pressure_pa=101325.0))
    dev.wait(lambda r: r["kind"] == "STATUS", 3)
    env.held = {"floor_up"}
    time.sleep(0.3)
    env.held = set()
    assert _meas(dev, lambda r: r["floor"] == 1, timeout_s=3)["floor"] == 1
    # Two storeys up the stairs (6 m): the standard atmosphere near sea level loses
    # 101325 * (1 - (1 - 6 / 44330.8)^(1 / 0.190263)) = 72.06 Pa.
    env.pressure = 101325.0 - 72.06
    r = _meas(dev, lambda r: r["floor"] != 1, timeout_s=4)
    assert r["floor"] == 3


def test_schedule_skips_inactive_targets_and_focus_picks_one(handheld):
    minute = int(time.time() // 60) % 1440
    off = [[(minute + 120) % 1440, (minute + 180) % 1440]]   # active two hours from now
    targets = [{"label": "always", "rat": "LTE", "channel": 19575, "uplink_hz": 1747500000,
                "bandwidth_hz": 5000000},
               {"label": "nights", "rat": "GSM", "channel": 62, "uplink_hz": 902400000,
                "bandwidth_hz": 200000, "schedule": off},
               {"label": "now", "rat": "LTE", "channel": 19675, "uplink_hz": 1757500000,
                "bandwidth_hz": 5000000, "schedule": [[minute, (minute + 2) % 1440 or 1440]]}]
    hh, env, dev = _hunting(handheld, targets=targets)
    seen = {r["target"] for r in dev.collect(1.5, kinds=("MEAS",))}
    assert seen == {0, 2}
    assert dev.request(P.SET_MODE, (P.MODE_HUNT, 0, P.GAIN_AUTO, 2))["kind"] == "ACK"
    dev.collect(0.3)
    assert {r["target"] for r in dev.collect(1.0, kinds=("MEAS",))} == {2}
    assert dev.request(P.SET_MODE, (P.MODE_HUNT, 0, P.GAIN_AUTO, 9))["reason"] == P.NAK_BAD_MODE
