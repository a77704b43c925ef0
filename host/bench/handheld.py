"""The handheld as a bench instrument: BENCH mode over the serial link.

In BENCH mode the firmware measures one fixed frequency continuously and sends
MEAS frames flagged ``F_BENCH`` (target 255); STATUS frames (1 Hz) carry the
die temperature. Each dwell gives a frame flagged ``F_UNCALIBRATED`` whose
``rssi_cdbm`` is the input-referred reading ``r = -rssi`` (0.01 dB, the mean of
the dwell's reads unrounded; the AD9363 has already subtracted the receive gain,
UG-570 RSSI) that the calibration maps to dBm (firmware/calibration.py); in a
calibrated band it follows a frame with the calibrated power. The bench fits
``r`` rather than ``-raw_rssi / 4``:
``raw_rssi`` is rounded half up to 0.25 dB, 1/(2 n) of a step high on average
for n reads per dwell (0.03 dB at n = 4).
"""
import time

import numpy as np

from firmware import protocol as P


class HandheldError(RuntimeError):
    """The handheld refused a request or stopped sending readings."""


def reading_db(records):
    """Input-referred readings (dB) of bench MEAS records from ``readings(raw=True)``."""
    if not all(rec["flags"] & P.F_UNCALIBRATED for rec in records):
        raise ValueError("reading_db needs the F_UNCALIBRATED bench readings (raw=True)")
    return np.array([rec["rssi_dbm"] for rec in records], dtype=float)


class BenchHandheld:
    """A handheld in BENCH mode behind a :class:`host.virtual.device.DeviceClient`.

    Parameters
    ----------
    device : host.virtual.device.DeviceClient
        Client on a started :class:`host.link.Link` (real or virtual handheld).
    hello_timeout_s : float
        How long to wait for the HELLO frame the firmware sends after boot.
    """

    def __init__(self, device, *, hello_timeout_s=3.0):
        self.device = device
        self._status_seen = 0
        self._clock_offset_s = float("inf")
        self.freq_hz = None
        self.device_id = self.calibration_id = None
        self.fw_version = "unknown"
        try:
            hello = device.wait(lambda rec: rec["kind"] == "HELLO", hello_timeout_s, since=0)
        except TimeoutError:
            # HELLO comes only after boot: a handheld that was already running is
            # asked whether it is there at all, and stays anonymous
            self._request(P.PING, (0,), "PING")
        else:
            self.device_id = hello["device_id"]
            self.calibration_id = hello["calibration_id"]
            self.fw_version = hello["fw_version"]
            if not hello["capabilities"] & P.CAP_BENCH:
                raise HandheldError(f"handheld {self.name} firmware {self.fw_version} "
                                    "has no BENCH mode")
        for rec in device.records:
            self._track_clock(rec)

    @property
    def name(self):
        """The device id as the handheld's label shows it, or a note that it is unknown."""
        if self.device_id is None:
            return f"on {self.device.link.url} (id unknown: no HELLO since the port opened)"
        return f"{self.device_id:#010x}"

    def _request(self, msg_type, fields, what):
        try:
            rec = self.device.request(msg_type, fields)
        except (ConnectionError, TimeoutError) as exc:
            raise HandheldError(
                f"handheld {self.name} on {self.device.link.url} did not answer "
                f"{what} ({exc or 'timeout'}); check the USB cable") from None
        if rec["kind"] == "NAK":
            raise HandheldError(
                f"handheld {self.name} refused {what}: {rec['reason_text']}")
        return rec

    def tune(self, freq_hz, gain_db=None):
        """Enter BENCH mode at ``freq_hz`` (gain: the firmware's hunt gain if None)."""
        gain = P.GAIN_AUTO if gain_db is None else int(gain_db)
        self._request(P.SET_MODE, (P.MODE_BENCH, int(round(freq_hz / 1e3)), gain, 0),
                      f"BENCH mode at {freq_hz / 1e6:.3f} MHz")
        self.freq_hz = freq_hz

    def idle(self):
        """Leave BENCH mode."""
        self._request(P.SET_MODE, (P.MODE_IDLE, 0, 0, 0), "IDLE mode")

    def readings(self, n, *, after_s, timeout_s=5.0, raw=False):
        """``n`` bench MEAS records received after host time ``after_s`` (epoch s).

        Parameters
        ----------
        raw : bool
            True: the input-referred readings (``F_UNCALIBRATED``; :func:`reading_db`).
            False: the handheld's calibrated power (``rssi_dbm``).

        Returns
        -------
        list of dict
            MEAS records.
        """
        dev = self.device
        dev.drain()
        deadline = time.monotonic() + timeout_s
        # records arrive in time order: step back to the first one after after_s
        i = len(dev.records)
        while i > 0 and (dev.records[i - 1]["rx_time_s"] or 0.0) >= after_s:
            i -= 1
        got = []
        others = 0
        while len(got) < n:
            for rec in dev.records[i:]:
                self._track_clock(rec)
                # a frame can arrive late (busy host, full USB buffer): what counts is
                # when the handheld started measuring, on the host clock
                if (rec["kind"] == "MEAS" and rec.get("bench") and not rec.get("radio_fault")
                        and rec["device_time_ms"] / 1e3 + self._clock_offset_s >= after_s):
                    if bool(rec["flags"] & P.F_UNCALIBRATED) == raw:
                        got.append(rec)
                    else:
                        others += 1
            i = len(dev.records)
            if len(got) >= n:
                break
            if time.monotonic() > deadline:
                if others and not got:
                    raise HandheldError(
                        f"handheld {self.name} sent only "
                        + ("calibrated bench readings (firmware without unrounded "
                           "bench readings: update it)" if raw else
                           f"uncalibrated bench readings: its calibration has no band at "
                           f"{self.freq_hz / 1e6:.3f} MHz"))
                raise HandheldError(
                    f"handheld {self.name} sent {len(got)} of {n} bench readings "
                    f"in {timeout_s:.0f} s on {dev.link.url}")
            time.sleep(0.01)
            dev.drain()
        return got[:n]

    def _track_clock(self, rec):
        # host time = device time + offset; the smallest (receive - device) time seen is
        # the offset plus the shortest link latency, so mapped times are never early
        offset = rec["rx_time_s"] - rec["device_time_ms"] / 1e3
        if offset < self._clock_offset_s:
            self._clock_offset_s = offset

    def temperatures(self):
        """``(rx_time_s, temp_c)`` of the STATUS records not returned before."""
        dev = self.device
        dev.drain()
        out = [(rec["rx_time_s"], rec["temp_c"]) for rec in dev.records[self._status_seen:]
               if rec["kind"] == "STATUS"]
        self._status_seen = len(dev.records)
        return out
