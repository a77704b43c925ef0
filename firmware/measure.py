# The measurement loop: round-robin over the tasking's targets (up to 128, a GOIP rack);
# per target tune, settle, read the RSSI over the dwell, calibrate, tag with heading,
# position, floor and device time, and queue a MEAS frame.
#
# Everything a cycle touches is made in __init__ or load_targets: the synthesizer words are
# precomputed per target, reads go into preallocated buffers, the frame is packed with
# struct.pack_into and swapped into the outbox. tests/firmware proves cycle() and
# bench_cycle() allocate nothing under micropython.heap_lock().
import array
import struct
import time
from micropython import const

import protocol
import ad9363
from calibration import reading_cdb

MAX_TARGETS = const(128)
_BENCH_SLOT = const(128)
_NO_BAND = const(255)
_MEAS_FMT = "<BBhHbHiiibH"
_DETECT_MARGIN_CDB = const(300)  # detected when 3 dB above the calibrated noise floor


class Position:
    """The latest fix, as integers; `stale` once the receiver stops confirming it."""

    def __init__(self):
        self.lat_e7 = 0
        self.lon_e7 = 0
        self.alt_dm = 0
        self.floor = 0
        self.valid = False
        self.stale = True


class Hunter:
    def __init__(self, radio, compass, calibration, outbox, position, dwell_ms=8, reads=4,
                 settle_us=200, gain_db=40):
        self.radio = radio
        self.compass = compass
        self.cal = calibration
        self.outbox = outbox
        self.pos = position
        self.dwell_ms = dwell_ms
        self.reads = reads
        self.settle_us = settle_us
        self.default_gain_db = gain_db
        slots = MAX_TARGETS + 1
        self._tune = bytearray(ad9363.WORDS_PER_TUNE * slots)
        self._band = bytearray(slots)
        self._gain_idx = bytearray(slots)
        self._gain_db = array.array("b", [0] * slots)
        self._bw_hz = array.array("i", [0] * slots)
        self._freq_khz = array.array("I", [0] * slots)
        self.enabled = bytearray(MAX_TARGETS)
        self.last_cdbm = array.array("h", [0] * slots)
        self.last_flags = bytearray(slots)
        self.n_targets = 0
        self.focus = -1          # hunt one target only when >= 0
        self.next_index = 0
        self.active_target = 0
        self.temp_cdeg = 2500
        self.radio_fault = False
        self.radio_fault_count = 0
        self.heading_faults = 0
        self.cycles = 0
        self.last_heading_cdeg = protocol.HEADING_NONE
        self._cur_gain_idx = -1
        self._cur_bw = -1
        self._meas_size = protocol.PAYLOAD_SIZE[protocol.MEAS]

    # -- configuration (allocates; not in the loop) -------------------------------------
    def _prepare(self, slot, freq_hz, bw_hz, gain_db):
        ad9363.pack_tune(self._tune, slot * ad9363.WORDS_PER_TUNE, freq_hz, self.radio.ref_hz)
        b = self.cal.band_index(freq_hz)
        self._band[slot] = _NO_BAND if b < 0 else b
        idx = ad9363.gain_index(gain_db, freq_hz)
        self._gain_idx[slot] = idx
        self._gain_db[slot] = ad9363.index_gain_db(idx, freq_hz)
        self._bw_hz[slot] = bw_hz

    def prepare_target(self, i, freq_hz, bw_hz):
        """Precompute target i (tuning words, band, gain); takes effect at commit_targets."""
        if not 0 <= i < MAX_TARGETS:
            raise ValueError("at most %d targets" % MAX_TARGETS)
        self._prepare(i, freq_hz, bw_hz, self.default_gain_db)
        self._freq_khz[i] = freq_hz // 1000
        self.enabled[i] = 1

    def commit_targets(self, n):
        self.n_targets = n
        self.next_index = 0
        self.focus = -1

    def load_targets(self, targets):
        """targets: list of (uplink_hz, bandwidth_hz). Replaces the round-robin list."""
        for i, (freq_hz, bw_hz) in enumerate(targets):
            self.prepare_target(i, freq_hz, bw_hz)
        self.commit_targets(len(targets))

    def recalibrate_bands(self):
        """Re-resolve calibration bands after a new table."""
        for i in range(self.n_targets):
            b = self.cal.band_index(self._freq_khz[i] * 1000)
            self._band[i] = _NO_BAND if b < 0 else b

    def set_bench(self, freq_hz, gain_db, bw_hz=1000000):
        self._prepare(_BENCH_SLOT, freq_hz, bw_hz, self.default_gain_db if
                      gain_db == protocol.GAIN_AUTO else gain_db)

    def radio_restored(self):
        """After a radio reset, the chip's gain and filter settings must be written again."""
        self._cur_gain_idx = -1
        self._cur_bw = -1
        self.radio_fault = False

    # -- the loop ---------------------------------------------------------------------
    def _pick(self):
        if self.focus >= 0:
            return self.focus
        n = self.n_targets
        for _ in range(n):
            i = self.next_index
            self.next_index = i + 1 if i + 1 < n else 0
            if self.enabled[i]:
                return i
        return -1

    def cycle(self):
        """Measure the next target. Returns the target index, or -1 when none is active."""
        i = self._pick()
        if i < 0:
            return -1
        self.active_target = i
        self._measure(i, i, 0)
        return i

    def bench_cycle(self):
        """A raw reading at the bench frequency (target 255, F_BENCH) for the lab bench."""
        self._measure(_BENCH_SLOT, 255, protocol.F_BENCH)

    def _measure(self, slot, target, flags):
        radio = self.radio
        t0 = time.ticks_ms()
        if self._bw_hz[slot] != self._cur_bw:
            radio.set_rf_bandwidth(self._bw_hz[slot])
            self._cur_bw = self._bw_hz[slot]
        if self._gain_idx[slot] != self._cur_gain_idx:
            radio.set_gain_index(self._gain_idx[slot])
            self._cur_gain_idx = self._gain_idx[slot]
        if not radio.tune_packed(self._tune, slot * ad9363.WORDS_PER_TUNE):
            flags |= protocol.F_RADIO_FAULT
            self.radio_fault = True
            self.radio_fault_count += 1
        time.sleep_us(self.settle_us)
        n = self.reads
        gap_us = (self.dwell_ms * 1000) // n
        total = 0
        for _ in range(n):
            total += radio.read_rssi_q()
            time.sleep_us(gap_us)
        gain_db = self._gain_db[slot]
        # input-referred (the chip subtracts the gain), 0..-12775: fits the int16 field
        reading = reading_cdb(total, n)
        # saturation from the chip's overload detectors, not from an RSSI value
        if radio.overloaded():
            flags |= protocol.F_SATURATED
        heading = self._heading()
        if heading < 0:
            flags |= protocol.F_NO_HEADING
            heading = protocol.HEADING_NONE
        pos = self.pos
        if pos.stale:
            flags |= protocol.F_POSITION_STALE
        b = self._band[slot]
        if b == _NO_BAND:
            cal_flags = flags | protocol.F_UNCALIBRATED
            power = reading
        else:
            cal = self.cal
            cal_flags = flags
            power = cal.power_cdbm(b, reading, self.temp_cdeg)
            if power < cal.floor_cdbm[b] + _DETECT_MARGIN_CDB:
                cal_flags |= protocol.F_NOT_DETECTED
            if power >= cal.sat_cdbm_at(b, gain_db):
                cal_flags |= protocol.F_SATURATED
            if power > 32767:
                power = 32767
            elif power < -32768:
                power = -32768
        self.last_cdbm[slot] = power
        self.last_flags[slot] = cal_flags
        dwell = time.ticks_diff(time.ticks_ms(), t0)
        self._send(target, cal_flags, power, total, n, gain_db, heading, dwell, t0)
        if slot == _BENCH_SLOT and b != _NO_BAND:
            # raw_rssi is rounded to 0.25 dB, which biases a mean of n reads by 1/(2n) of
            # a step; the bench fits the reading the calibration is applied to, so a
            # calibrated BENCH reading is followed by that reading, unrounded
            self._send(target, flags | protocol.F_UNCALIBRATED, reading, total, n, gain_db,
                       heading, dwell, t0)
        self.cycles += 1

    def _send(self, target, flags, cdbm, total, n, gain_db, heading, dwell, t0):
        pos = self.pos
        ob = self.outbox
        struct.pack_into(_MEAS_FMT, ob.raw(), protocol.PAYLOAD_OFFSET, target, flags, cdbm,
                         (total + (n >> 1)) // n, gain_db, heading, pos.lat_e7, pos.lon_e7,
                         pos.alt_dm, pos.floor, dwell)
        ob.send(protocol.MEAS, self._meas_size, t0)

    def _heading(self):
        if self.compass is None:
            return -1
        try:
            h = self.compass.heading_cdeg()
        except OSError:
            self.heading_faults += 1
            return -1
        self.last_heading_cdeg = h
        return h
