"""BENCH readings without the rounding bias of raw_rssi, and F_SATURATED at 1 dB compression:
the real measurement loop (firmware/measure.py) in the MicroPython unix port, driven by a radio
whose RSSI reads the test chooses."""

import json
import math
import struct

import numpy as np
import pytest

from firmware import protocol as P
from firmware.calibration import P1DB_BELOW_KNEE_CDB, Calibration, reading_cdb
from host.bench import calfile, response

GAIN_DB = 30
# no compass and no GNSS fix on this bench
BASE = P.F_BENCH | P.F_NO_HEADING | P.F_POSITION_STALE
# nominal entry for 1700-1880 MHz: power = 10 dB + reading; knee -35 dBm
ENTRY = {"band_lo_mhz": 1700, "band_hi_mhz": 1880, "offset_cdb": 1000, "slope_e4": 10000,
         "temp_coef_mdb_per_c": 0, "ref_temp_cdeg": 2500, "floor_cdbm": -10000,
         "knee_cdbm": -3500, "gain_db": GAIN_DB}

# Runs firmware/measure.py's Hunter: each scenario is (freq_hz, reads per dwell, RSSI reads in
# order); the radio hands them out one by one and the outbox keeps every MEAS payload.
SCRIPT = """
import json, struct, protocol
from calibration import Calibration
from measure import Hunter, Position

class Radio:
    ref_hz = 40000000
    def __init__(self):
        self.q = []
        self.i = 0
    def set_rf_bandwidth(self, bw):
        pass
    def set_gain_index(self, idx):
        pass
    def tune_packed(self, buf, off):
        return True
    ovl = False
    def overloaded(self):
        return self.ovl
    def read_rssi_q(self):
        q = self.q[self.i]
        self.i += 1
        return q

class Outbox:
    def __init__(self):
        self.buf = bytearray(protocol.MAX_FRAME)
        self.frames = []
    def raw(self):
        return self.buf
    def send(self, msg_type, n, time_ms):
        off = protocol.PAYLOAD_OFFSET
        self.frames.append(struct.unpack("<BBhHb", self.buf[off:off + 7]))

cal = Calibration()
cal.load({"calibration_id": 2, "entries": [%(entry)s]})
radio = Radio()
radio.ovl = %(ovl)s
ob = Outbox()
out = []
for freq_hz, reads, qs in %(scenarios)s:
    h = Hunter(radio, None, cal, ob, Position(), dwell_ms=0, reads=reads, settle_us=0,
               gain_db=%(gain)d)
    h.set_bench(freq_hz, %(gain)d)
    radio.q = qs
    radio.i = 0
    ob.frames = []
    while radio.i < len(qs):
        h.bench_cycle()
    out.append(ob.frames)
print(json.dumps(out))
"""


def _bench(run_mpy, scenarios, overloaded=False):
    """MEAS frames of each scenario as (target, flags, rssi_cdbm, raw_rssi, gain_db) tuples;
    ``overloaded`` is what the radio's overload detectors report throughout."""
    got = run_mpy(SCRIPT % {"entry": json.dumps(ENTRY), "scenarios": repr(scenarios),
                            "gain": GAIN_DB, "ovl": overloaded}, heap_kb=4096)
    return [[tuple(f) for f in frames] for frames in got]


def test_reading_cdb_rounds_to_nearest_without_bias():
    for n in (1, 2, 3, 4, 5, 8, 16):
        sums = np.arange(100 * n, 140 * n)
        exact = -sums * 25.0 / n
        got = np.array([reading_cdb(int(s), n) for s in sums])
        assert np.max(np.abs(got - exact)) <= 0.5
        # ties go to the even centi-dB, so they cancel: no bias over the residues
        assert abs(np.mean(got - exact)) < 1e-9
    # the RSSI is input-referred (UG-570): no gain enters the reading
    assert reading_cdb(642, 4) == -4012     # 4012.5 -> 4012
    assert reading_cdb(646, 4) == -4038     # 4037.5 -> 4038


def _power_mean_db(qs):
    """The reads' mean power in dB below full scale: 10 log10 mean 10^(-q/40)."""
    return -10.0 * np.log10(np.mean(10.0 ** (-np.asarray(qs, float) / 40.0)))


def test_bench_reading_carries_the_unrounded_power_mean(run_mpy):
    # 4 reads a dwell, up to 4 steps apart, over 8 levels: the reading is their mean power
    rng = np.random.default_rng(3)
    dwells = [list(280 + (k // 4) % 8 + rng.integers(0, 5, 4)) for k in range(384)]
    qs = [int(q) for d in dwells for q in d]
    frames, = _bench(run_mpy, [(1747500000, 4, qs)])
    assert len(frames) == 2 * len(dwells)
    cal_frames, raw_frames = frames[0::2], frames[1::2]
    assert all(f[0] == 255 and f[1] == BASE for f in cal_frames)
    assert all(f[1] == BASE | P.F_UNCALIBRATED for f in raw_frames)
    # the RSSI is input-referred (UG-570): the gain does not enter the reading
    exact_db = np.array([-_power_mean_db(d) for d in dwells])
    from_raw_db = np.array([-0.25 * f[3] for f in raw_frames])
    from_cdbm_db = np.array([f[2] / 100.0 for f in raw_frames])
    # raw_rssi is the mean rounded to a 0.25 dB step
    assert np.max(np.abs(from_raw_db - exact_db)) <= 0.125 + 0.01
    # the unrounded reading: within 0.01 dB per frame (a centi-dB and the table's
    # interpolation), unbiased
    assert np.max(np.abs(from_cdbm_db - exact_db)) <= 0.01
    assert abs(np.mean(from_cdbm_db - exact_db)) < 0.002
    # the calibrated frame is the same reading through the entry (offset +10 dB)
    assert [f[2] for f in cal_frames] == [f[2] + 1000 for f in raw_frames]


def test_reads_average_as_power_not_db(run_mpy):
    # issue 14: one read of four at 30 dB below full scale, three 40 dB weaker: the power
    # mean is 6.02 dB below the strong read (the dB mean would be 30 dB below it)
    frames, = _bench(run_mpy, [(1000000000, 4, [120, 280, 280, 280])])
    reading = frames[0][2] / 100.0
    assert reading == pytest.approx(-_power_mean_db([120, 280, 280, 280]), abs=0.01)
    assert reading == pytest.approx(-30.0 - 6.02, abs=0.02)


def test_uncalibrated_frequency_sends_the_reading_once(run_mpy):
    frames, = _bench(run_mpy, [(1000000000, 4, [100, 101, 100, 101])])
    level_cdb = _power_mean_db([100, 101, 100, 101]) * 100     # 2512.4, 100.5 steps
    (target, flags, cdbm, raw, gain), = frames
    assert (target, flags, gain) == (255, BASE | P.F_UNCALIBRATED, GAIN_DB)
    # a centi-dB of rounding and the table's interpolation within a 0.25 dB step; the RSSI
    # is input-referred (UG-570): no gain enters the reading
    assert cdbm == pytest.approx(-level_cdb, abs=1.0)
    assert raw in (100, 101)


def test_p1db_constant_follows_from_the_response_model():
    # Rapp s = 1: 1 dB compression at r_l - r_k = 10 log10(10^0.1 - 1), the reading 1 dB below
    x_db = 10.0 * math.log10(10.0 ** 0.1 - 1.0)
    assert x_db == pytest.approx(-5.868, abs=5e-4)
    assert P1DB_BELOW_KNEE_CDB == round(-(x_db - 1.0) * 100)
    # the same point from host/bench/response.py, for a fitted-looking band
    resp = response.BandResponse(offset_db=12.3, slope=0.97, knee_dbm=-32.32, smoothness=1.0,
                                 noise_floor_dbm=-200.0)
    p1db = response.p1db_dbm(resp)
    assert resp.knee_dbm - p1db == pytest.approx(5.868 * 0.97, abs=1e-3)
    reported = response.firmware_power_dbm(response.reading_db(p1db, resp), resp)
    cal = Calibration()
    cal.load({"calibration_id": 3, "entries": [calfile.firmware_entry(1700e6, 1880e6, resp, GAIN_DB)]})
    assert cal.sat_cdbm[0] / 100.0 == pytest.approx(float(reported), abs=0.015)
    # the knee itself is never reached: a flag there would not fire even 30 dB above p1dB
    top = response.firmware_power_dbm(response.reading_db(p1db + 30.0, resp), resp)
    assert top < resp.knee_dbm - 0.001


def test_saturated_from_the_1db_compression_point(run_mpy):
    # threshold (entry made at this gain): knee -35 dBm - 6.87 dB = -41.87 dBm, i.e. an
    # input-referred reading of -51.87 dB. Power means: [208, 208, 208, 207] 51.936 dB
    # below (-41.94 dBm), [207, 207, 207, 208] 51.811 dB (-41.81 dBm)
    below = [208, 208, 208, 207]
    above = [207, 207, 207, 208]
    far_below = [280, 280, 280, 280]    # -70 dB: -60 dBm
    frames, = _bench(run_mpy, [(1747500000, 4, below + above + far_below)])
    cal_frames = frames[0::2]
    assert [bool(f[1] & P.F_SATURATED) for f in cal_frames] == [False, True, False]
    expect = [1000 - round(_power_mean_db(d) * 100) for d in (below, above)]
    assert [f[2] for f in cal_frames] == expect + [-6000]
    assert expect == [-4194, -4181]
    # the raw readings carry no calibration verdict
    assert not any(f[1] & (P.F_SATURATED | P.F_NOT_DETECTED) for f in frames[1::2])


def test_overload_detectors_flag_every_frame(run_mpy):
    # Saturation is the chip's overload detectors' verdict (UG-570): a weak reading is
    # flagged while they fire, and an RSSI near 0 dB alone flags no raw reading.
    weak, = _bench(run_mpy, [(1747500000, 2, [280, 281])], overloaded=True)
    assert len(weak) == 2 and all(f[1] & P.F_SATURATED for f in weak)
    strong, = _bench(run_mpy, [(1747500000, 2, [2, 2])], overloaded=False)
    assert not strong[1][1] & P.F_SATURATED


def test_sat_threshold_follows_slope():
    cal = Calibration()
    cal.load({"calibration_id": 4, "entries": [dict(ENTRY, slope_e4=9700, knee_cdbm=-3232)]})
    assert cal.sat_cdbm[0] == -3232 - (9700 * P1DB_BELOW_KNEE_CDB) // 10000
    assert struct.calcsize("<BBhHbHiiibH") == P.PAYLOAD_SIZE[P.MEAS]
