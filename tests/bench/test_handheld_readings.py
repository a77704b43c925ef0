"""The bench takes its readings from the firmware's unrounded BENCH frames and its verification
from the calibrated ones: the real firmware in the MicroPython unix port (simulated response,
0.3 dB noise per read), nominal calibration (power = reading + 10 dB, 1700-1880 MHz)."""

import time

import numpy as np
import pytest

from firmware import protocol as P
from host.bench import simbench
from host.bench.handheld import HandheldError, reading_db
from host.virtual.env import StaticEnv


def test_raw_and_calibrated_bench_readings():
    with simbench.virtual_handheld(StaticEnv(power_dbm=-60.0)) as handheld:
        handheld.tune(1747.5e6, 40)
        after_s = time.time()
        raw = handheld.readings(16, after_s=after_s, raw=True)
        cal = handheld.readings(16, after_s=after_s)
        assert all(r["flags"] & P.F_UNCALIBRATED and r["bench"] for r in raw)
        assert not any(r["flags"] & P.F_UNCALIBRATED for r in cal)
        r_db = reading_db(raw)
        # the rounded raw_rssi is within half a 0.25 dB step of the unrounded mean
        # (input-referred: the 40 dB gain is already out of the RSSI)
        rounded = -0.25 * np.array([r["raw_rssi"] for r in raw])
        assert np.all(np.abs(r_db - rounded) <= 0.125 + 0.005)
        # same dwell (same device time): calibrated = reading + 10 dB offset
        by_time = {r["device_time_ms"]: r["rssi_dbm"] for r in cal}
        pairs = [(by_time[r["device_time_ms"]], x) for r, x in zip(raw, r_db)
                 if r["device_time_ms"] in by_time]
        assert pairs and all(p == pytest.approx(x + 10.0, abs=0.011) for p, x in pairs)
        with pytest.raises(ValueError, match="raw=True"):
            reading_db(cal)
        # 1000 MHz lies between calibration bands: readings, but no calibrated power
        handheld.tune(1000e6, 40)
        assert len(handheld.readings(2, after_s=time.time(), raw=True)) == 2
        with pytest.raises(HandheldError, match="no band at 1000.000 MHz"):
            handheld.readings(2, after_s=time.time(), timeout_s=1.0)
