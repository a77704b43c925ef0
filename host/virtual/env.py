"""A settable environment for the virtual handheld (tests, bench, quick demos).

Every quantity is an attribute the caller changes while the firmware runs; the simulator
brings its own environment with the same methods (see host/virtual/handheld.py).
"""

import time


class StaticEnv:
    def __init__(self, power_dbm=-60.0, heading_deg=0.0, pitch_deg=0.0, roll_deg=0.0,
                 lat_deg=52.52, lon_deg=13.405, alt_m=34.0, fix_ok=True, pressure_pa=101325.0,
                 temperature_c=25.0):
        self.power_dbm = power_dbm      # a number, or callable(freq_hz) -> dBm
        # callable(freq_hz, t_s) -> dBm, used instead when set: power that changes within a
        # frame (TDD subframes, GSM bursts; host.sim.air has the frame timing).
        self.power_at = None
        self.heading = heading_deg
        self.pitch = pitch_deg
        self.roll = roll_deg
        self.lat, self.lon, self.alt, self.fix_ok = lat_deg, lon_deg, alt_m, fix_ok
        self.pressure = pressure_pa
        self.temperature = temperature_c
        self.held = set()
        self._t0 = time.monotonic()

    def now_s(self):
        return time.monotonic() - self._t0

    def rf_power_dbm(self, freq_hz, t_s):
        if self.power_at is not None:
            return self.power_at(freq_hz, t_s)
        return self.power_dbm(freq_hz) if callable(self.power_dbm) else self.power_dbm

    def heading_deg(self, t_s):
        return self.heading

    def tilt_deg(self, t_s):
        return (self.pitch, self.roll)

    def position(self, t_s):
        return (self.lat, self.lon, self.alt, self.fix_ok)

    def pressure_pa(self, t_s):
        return self.pressure

    def temperature_c(self, t_s):
        return self.temperature

    def buttons(self, t_s):
        return self.held
