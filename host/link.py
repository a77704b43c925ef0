"""The host end of the serial link: frames from any pyserial URL on a background thread.

The reader resynchronises after garbage (COBS framing), counts CRC errors, sequence gaps
and device resets, and reopens the port when it disappears and comes back (a handheld
unplugged and plugged in again). Decoded records go to one callback or queue that the
recorder and the console share.
"""

import queue
import threading
import time

import serial

from firmware import protocol as P
from host.records import frame_to_record


class Link:
    """Read frames from `url` (``/dev/ttyACM0``, a pty path, ``loop://``...)."""

    def __init__(self, url, on_record=None, baudrate=115200, reconnect_s=0.5,
                 read_timeout_s=0.05, on_state=None):
        self.url = url
        self.baudrate = baudrate
        self.reconnect_s = reconnect_s
        self.read_timeout_s = read_timeout_s
        self.records = queue.Queue() if on_record is None else None
        self._on_record = on_record if on_record is not None else self.records.put
        self._on_state = on_state
        self._deframer = P.Deframer()
        self._lock = threading.Lock()
        self._port = None
        self._thread = None
        self._stop = threading.Event()
        self._tx_seq = 0
        self._last_seq = None
        self._last_time_ms = None
        self.bytes = 0
        self.seq_gaps = 0
        self.lost_frames = 0
        self.device_resets = 0
        self.reconnects = 0
        self.connected = False
        self.last_error = None
        self._opened_once = False

    # -- life cycle -------------------------------------------------------------------
    def start(self):
        """Start the reader thread (it opens the port, and reopens it after a loss)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rfhound-link", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_connected(self, timeout_s=5.0):
        deadline = time.monotonic() + timeout_s
        while not self.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connected

    # -- sending ----------------------------------------------------------------------
    def send(self, msg_type, fields=(), tail=b""):
        """Send one host->device message; returns its sequence number."""
        with self._lock:
            seq = self._tx_seq
            self._tx_seq = (self._tx_seq + 1) & 0xFFFF
            frame = P.encode(msg_type, seq, int(time.monotonic() * 1000), fields, tail)
            port = self._port
            if port is None:
                raise ConnectionError("link to %s is down" % self.url)
            port.write(frame)
        return seq

    # -- statistics -------------------------------------------------------------------
    def stats(self):
        d = self._deframer
        return {
            "frames": d.frames, "bytes": self.bytes,
            "crc_errors": d.crc_errors, "cobs_errors": d.cobs_errors,
            "other_errors": d.length_errors + d.type_errors + d.version_errors + d.overflows,
            "seq_gaps": self.seq_gaps, "lost_frames": self.lost_frames,
            "device_resets": self.device_resets, "reconnects": self.reconnects,
            "connected": self.connected,
        }

    # -- reader thread ----------------------------------------------------------------
    def _open(self):
        port = serial.serial_for_url(self.url, baudrate=self.baudrate,
                                     timeout=self.read_timeout_s, do_not_open=True)
        port.open()
        with self._lock:
            self._port = port
        if self._opened_once:
            self.reconnects += 1
        self._opened_once = True
        self.connected = True
        self._state("connected", None)

    def _close(self):
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (OSError, serial.SerialException):
                pass
        self.connected = False

    def _state(self, state, error):
        if self._on_state is not None:
            self._on_state(state, error)

    def _run(self):
        while not self._stop.is_set():
            if self._port is None:
                try:
                    self._open()
                except (OSError, serial.SerialException) as exc:
                    self.last_error = str(exc)
                    self._stop.wait(self.reconnect_s)
                    continue
            try:
                port = self._port
                data = port.read(max(1, port.in_waiting or 1))
                if not data:
                    continue
            except (OSError, serial.SerialException, TypeError, AttributeError) as exc:
                self.last_error = str(exc)
                self._close()
                self._state("disconnected", self.last_error)
                self._stop.wait(self.reconnect_s)
                continue
            self.bytes += len(data)
            now = time.time()
            for frame in self._deframer.feed(data):
                self._track(frame)
                self._on_record(frame_to_record(frame, rx_time_s=now))

    def _track(self, frame):
        boot_hello = frame.msg_type == P.HELLO and frame.seq == 0
        clock_back = self._last_time_ms is not None and frame.time_ms + 1000 < self._last_time_ms
        if boot_hello or clock_back:
            # A device sends HELLO with seq 0 once after boot (later HELLOs answer a PING);
            # a device clock that jumps back also means a reset.
            if self._last_seq is not None:
                self.device_resets += 1
            self._last_seq = frame.seq
            self._last_time_ms = frame.time_ms
            return
        if self._last_seq is not None:
            expected = (self._last_seq + 1) & 0xFFFF
            if frame.seq != expected:
                self.seq_gaps += 1
                self.lost_frames += (frame.seq - expected) & 0xFFFF
        self._last_seq = frame.seq
        self._last_time_ms = frame.time_ms
