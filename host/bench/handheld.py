"""The handheld as a bench instrument: BENCH mode over the serial link.

In BENCH mode the firmware measures one fixed frequency continuously and sends
MEAS frames flagged ``F_BENCH`` (target 255) with the raw RSSI (quarter-dB
steps) and the receive gain; STATUS frames (1 Hz) carry the die temperature.
The bench needs only those: ``r = -raw_rssi / 4 - gain_db`` is the
input-referred reading the calibration maps to dBm (firmware/calibration.py).
"""
import time

import numpy as np

from firmware import protocol as P

#: quarter-dB steps of the AD9363 RSSI read-back
RSSI_STEP_DB = 0.25


class HandheldError(RuntimeError):
    """The handheld refused a request or stopped sending readings."""


def reading_db(raw_rssi, gain_db):
    """Input-referred reading (dB) of a MEAS record's raw RSSI and gain."""
    return -RSSI_STEP_DB * np.asarray(raw_rssi, dtype=float) - np.asarray(gain_db, dtype=float)


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

    def readings(self, n, *, after_s, timeout_s=5.0):
        """``n`` bench MEAS records received after host time ``after_s`` (epoch s).

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
        while len(got) < n:
            for rec in dev.records[i:]:
                self._track_clock(rec)
                # a frame can arrive late (busy host, full USB buffer): what counts is
                # when the handheld started measuring, on the host clock
                if (rec["kind"] == "MEAS" and rec.get("bench") and not rec.get("radio_fault")
                        and rec["device_time_ms"] / 1e3 + self._clock_offset_s >= after_s):
                    got.append(rec)
            i = len(dev.records)
            if len(got) >= n:
                break
            if time.monotonic() > deadline:
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
