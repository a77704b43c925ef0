"""A model-only stand-in for the handheld: MEAS records computed straight from the env.

No firmware, no serial link: a thread samples the env at the handheld's dwell
rate and hands record dicts (the `host.records` MEAS shape) to a queue, behind
the same interface as `host.link.Link`.  The hunt uses it only when asked
(``handheld="model"``) to run many seeds quickly in ``bench/hunt.py``; the demo
and the tests run the real firmware in `host.virtual.handheld.VirtualHandheld`.
"""

import math
import queue
import threading
import time

import numpy as np

from dsp import propagation
from host.sim.env import BARO_EXP, BARO_K, SEA_LEVEL_PA
from host.sim.radio import noise_power_dbm

#: Receiver noise figure (dB) and the detection margin above the noise floor (dB).
NOISE_FIGURE_DB = 6.0
DETECT_MARGIN_DB = 3.0
#: Each target is measured for one dwell in turn (s).
DWELL_S = 0.05


def _alt_from_pressure_m(p_pa, p0_pa):
    return (1.0 - (p_pa / p0_pa) ** (1.0 / BARO_EXP)) / BARO_K


class ModelHandheld:
    """Link-shaped source of MEAS records sampled from a `SimEnv` in simulated time."""

    def __init__(self, env, freqs_hz, seed=0):
        self.env = env
        self.freqs_hz = list(freqs_hz)
        self.records = queue.Queue()
        self.noise_floor_dbm = noise_power_dbm(env.world.radio.channel_bw_hz) + NOISE_FIGURE_DB
        self._rx_noise_mw = 10.0 ** (self.noise_floor_dbm / 10.0) - 10.0 ** (
            noise_power_dbm(env.world.radio.channel_bw_hz) / 10.0)
        self._rng = np.random.default_rng(seed)
        self._stop = threading.Event()
        self._thread = None
        self._seq = 0
        self.frames = 0

    def start(self):
        self._thread = threading.Thread(target=self._run, name="rfhound-model-handheld", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def stats(self):
        return {"frames": self.frames, "crc_errors": 0, "cobs_errors": 0, "seq_gaps": 0,
                "lost_frames": 0, "device_resets": 0, "reconnects": 0, "connected": True}

    def _run(self):
        env, clock = self.env, self.env.clock
        p_street = None
        last_fix = env.position(0.0)[:3]
        t = clock.now_s()
        k = 0
        while not self._stop.is_set():
            # A real receiver dwells in real time: when the host falls behind
            # simulated time the handheld skips ahead rather than queueing up.
            t = max(t + DWELL_S, clock.now_s())
            clock.sleep_until(t)
            target = k % len(self.freqs_hz)
            k += 1
            p = env.pressure_pa(t)
            if p_street is None:
                p_street = p
            floor = int(round((_alt_from_pressure_m(p, SEA_LEVEL_PA) - _alt_from_pressure_m(
                p_street, SEA_LEVEL_PA)) / propagation.FLOOR_HEIGHT_M))
            power_mw = 10.0 ** (env.rf_power_dbm(self.freqs_hz[target], t) / 10.0) + self._rx_noise_mw
            rssi = 10.0 * math.log10(power_mw) + self._rng.normal(0.0, 0.5)
            lat, lon, alt, fix = env.position(t)
            if fix:
                last_fix = (lat, lon, alt)
            else:
                lat, lon, alt = last_fix
            detected = rssi > self.noise_floor_dbm + DETECT_MARGIN_DB
            self._seq = (self._seq + 1) & 0xFFFF
            self.frames += 1
            self.records.put({
                "kind": "MEAS", "seq": self._seq, "device_time_ms": int(t * 1000),
                "rx_time_s": time.time(), "target": target, "flags": 0 if detected else 1,
                "rssi_dbm": round(rssi, 2) if detected else None, "raw_rssi": 0, "gain_db": None,
                "heading_deg": round(env.heading_deg(t), 2), "lat_deg": lat, "lon_deg": lon,
                "alt_m": alt, "floor": floor, "dwell_ms": int(DWELL_S * 1000),
                "not_detected": not detected, "position_stale": not fix, "saturated": False,
                "radio_fault": False, "bench": False,
            })
