# The measurement loop: round-robin over the tasking's targets (up to 128, a GOIP rack);
# per target tune, settle, read the RSSI over the dwell, calibrate, tag with heading,
# position, floor and device time, and queue a MEAS frame.
#
# What a dwell reads depends on the air interface (the tasking says which):
# - continuous (FDD LTE/NR/UMTS): `reads` reads spread over `dwell_ms`;
# - TDD (the tasking's tdd_config or nr_tdd): reads only inside the uplink windows of the
#   frame, timed off the GNSS PPS edge (frame_timing.FrameClock); without a pulse, as
#   continuous (the downlink then dominates: the PPS comes with the GNSS fix);
# - GSM: `gsm_reads` reads spread over one 4.615 ms TDMA frame, keeping those within 3 dB
#   of the strongest (the ones that caught the handset's 577 us burst);
# - GSM with a hopping list (hop_hz): one TDMA frame on each ARFCN of the list, keeping the
#   ARFCN whose burst reading is strongest (the one the handset was on).
# Reads are always averaged as power, not dB (rssi_linear).
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
import frame_timing
from rssi_linear import LinearMean

MAX_TARGETS = const(128)
_BENCH_SLOT = const(128)
_NO_BAND = const(255)
_MEAS_FMT = "<BBhHbHiiibH"
_DETECT_MARGIN_CDB = const(300)  # detected when 3 dB above the calibrated noise floor
MODE_CONTINUOUS = const(0)
MODE_GSM = const(1)
MODE_TDD = const(2)
MAX_READS = const(64)
MAX_HOPS = const(256)            # hopping ARFCNs over all targets (a GSM MA list: <= 64)
GSM_FRAME_US = const(4615)       # 120/26 ms (TS 45.002)
_GSM_KEEP_STEPS = const(12)      # reads within 3 dB of the strongest caught the burst
# A read starts at least this long before its uplink window closes: the RSSI averages over
# its measurement duration, and the read itself takes time (tens of us on the board's SPI,
# a few hundred over the virtual bus of the tests).
_TDD_READ_US = const(250)
_TDD_GAP_US = const(110)         # spreads a dwell's reads over the window


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
                 settle_us=200, gain_db=40, clock=None, gsm_reads=16, tdd_reads=8):
        self.radio = radio
        self.compass = compass
        self.cal = calibration
        self.outbox = outbox
        self.pos = position
        self.dwell_ms = dwell_ms
        self.reads = min(reads, MAX_READS)
        self.gsm_reads = min(gsm_reads, MAX_READS)
        self.tdd_reads = min(tdd_reads, MAX_READS)
        self.clock = clock
        self.settle_us = settle_us
        self.default_gain_db = gain_db
        slots = MAX_TARGETS + 1
        self._tune_words = bytearray(ad9363.WORDS_PER_TUNE * slots)
        self._band = bytearray(slots)
        self._gain_idx = bytearray(slots)
        self._gain_db = array.array("b", [0] * slots)
        self._bw_hz = array.array("i", [0] * slots)
        self._freq_khz = array.array("I", [0] * slots)
        self.enabled = bytearray(MAX_TARGETS)
        self.last_cdbm = array.array("h", [0] * slots)
        self.last_flags = bytearray(slots)
        self._mode = bytearray(slots)
        self._period_us = array.array("H", bytes(2 * slots))
        # zeroed from bytes: a [0] * n list would need 8 bytes a slot on the way
        self._win = array.array("H", bytes(2 * slots * 2 * frame_timing.MAX_WINDOWS))
        self._n_win = bytearray(slots)
        self._hop_tune = bytearray(ad9363.WORDS_PER_TUNE * MAX_HOPS)
        self._hop_first = array.array("H", bytes(2 * slots))
        self._hop_n = bytearray(slots)
        self._hops_used = 0
        self._q = array.array("H", bytes(2 * MAX_READS))
        self._lin = LinearMean()
        self.gated_reads = 0     # TDD reads taken inside an uplink window off the PPS
        self.ungated_tdd = 0     # TDD dwells read without a pulse
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
        ad9363.pack_tune(self._tune_words, slot * ad9363.WORDS_PER_TUNE, freq_hz, self.radio.ref_hz)
        b = self.cal.band_index(freq_hz)
        self._band[slot] = _NO_BAND if b < 0 else b
        idx = ad9363.gain_index(gain_db, freq_hz)
        self._gain_idx[slot] = idx
        self._gain_db[slot] = ad9363.index_gain_db(idx, freq_hz)
        self._bw_hz[slot] = bw_hz

    def prepare_target(self, i, freq_hz, bw_hz, options=None):
        """Precompute target i (tuning words, band, gain); takes effect at commit_targets.

        options: the tasking's target dict (rat, tdd_config, nr_tdd, tdd_offset_us, hop_hz)
        choosing how the dwell reads (see the top of this file)."""
        if not 0 <= i < MAX_TARGETS:
            raise ValueError("at most %d targets" % MAX_TARGETS)
        if i == 0:
            self._hops_used = 0
        self._prepare(i, freq_hz, bw_hz, self.default_gain_db)
        self._freq_khz[i] = freq_hz // 1000
        self.enabled[i] = 1
        self._mode[i] = MODE_CONTINUOUS
        self._n_win[i] = 0
        self._hop_n[i] = 0
        if not options:
            return
        offset = options.get("tdd_offset_us", 0)
        wins = None
        if options.get("tdd_config") is not None:
            period, wins = frame_timing.lte_windows(options["tdd_config"], offset)
        elif options.get("nr_tdd") is not None:
            nr = options["nr_tdd"]
            period, wins = frame_timing.nr_windows(nr[0], nr[1], nr[2], nr[3], nr[4], nr[5],
                                                   offset)
        if wins is not None:
            self._mode[i] = MODE_TDD
            self._period_us[i] = period
            base = i * 2 * frame_timing.MAX_WINDOWS
            for k, (a, b) in enumerate(wins):
                # stored: where reads may start, window start to _TDD_READ_US before its end
                # (at least the first half of a short window)
                span = b - a - _TDD_READ_US
                self._win[base + 2 * k] = a % period
                self._win[base + 2 * k + 1] = span if span > (b - a) // 2 else (b - a + 1) // 2
            self._n_win[i] = len(wins)
        elif options.get("rat") == "GSM":
            self._mode[i] = MODE_GSM
            hops = options.get("hop_hz") or ()
            if self._hops_used + len(hops) > MAX_HOPS:
                raise ValueError("more than %d hopping ARFCNs in the tasking" % MAX_HOPS)
            self._hop_first[i] = self._hops_used
            for h in hops:
                ad9363.pack_tune(self._hop_tune, self._hops_used * ad9363.WORDS_PER_TUNE, h,
                                 self.radio.ref_hz)
                self._hops_used += 1
            self._hop_n[i] = len(hops)

    def commit_targets(self, n):
        self.n_targets = n
        self.next_index = 0
        self.focus = -1

    def load_targets(self, targets):
        """targets: list of (uplink_hz, bandwidth_hz[, options]). Replaces the round-robin list."""
        for i, t in enumerate(targets):
            self.prepare_target(i, t[0], t[1], t[2] if len(t) > 2 else None)
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

    def _tune(self, words, offset, flags):
        if not self.radio.tune_packed(words, offset):
            flags |= protocol.F_RADIO_FAULT
            self.radio_fault = True
            self.radio_fault_count += 1
        time.sleep_us(self.settle_us)
        return flags

    def _read_spread(self, n, span_us, keep):
        """n reads at even intervals over span_us; their linear mean (centi-dB below FS)."""
        radio = self.radio
        q = self._q
        gap = span_us // n
        start = time.ticks_us()
        for k in range(n):
            wait = time.ticks_diff(time.ticks_add(start, k * gap), time.ticks_us())
            if wait > 0:
                time.sleep_us(wait)
            q[k] = radio.read_rssi_q()
        if gap:
            wait = time.ticks_diff(time.ticks_add(start, n * gap), time.ticks_us())
            if wait > 0:
                time.sleep_us(wait)
        return self._lin.mean_cq(q, n, keep)

    def _read_tdd(self, slot):
        """tdd_reads reads, each started inside an uplink window of the frame (PPS-timed)."""
        radio = self.radio
        clock = self.clock
        q = self._q
        period = self._period_us[slot]
        base = slot * 2 * frame_timing.MAX_WINDOWS
        nw = self._n_win[slot]
        win = self._win
        for k in range(self.tdd_reads):
            while True:
                phase = clock.phase_us(time.ticks_us(), period)
                wait = period
                for w in range(nw):
                    into = (phase - win[base + 2 * w]) % period
                    if into < win[base + 2 * w + 1]:
                        wait = 0
                        break
                    ahead = period - into
                    if ahead < wait:
                        wait = ahead
                if wait == 0:
                    break
                time.sleep_us(wait)
            q[k] = radio.read_rssi_q()
            self.gated_reads += 1
            time.sleep_us(_TDD_GAP_US)
        return self._lin.mean_cq(q, self.tdd_reads, 1000)

    def _measure(self, slot, target, flags):
        radio = self.radio
        t0 = time.ticks_ms()
        if self._bw_hz[slot] != self._cur_bw:
            radio.set_rf_bandwidth(self._bw_hz[slot])
            self._cur_bw = self._bw_hz[slot]
        if self._gain_idx[slot] != self._cur_gain_idx:
            radio.set_gain_index(self._gain_idx[slot])
            self._cur_gain_idx = self._gain_idx[slot]
        mode = self._mode[slot]
        n_hops = self._hop_n[slot]
        if n_hops:
            # one TDMA frame on each ARFCN of the hopping list; the handset was on the one
            # that reads strongest
            cq = 1 << 20
            first = self._hop_first[slot]
            for h in range(n_hops):
                flags = self._tune(self._hop_tune, (first + h) * ad9363.WORDS_PER_TUNE, flags)
                c = self._read_spread(self.gsm_reads, GSM_FRAME_US, _GSM_KEEP_STEPS)
                if c < cq:
                    cq = c
        else:
            flags = self._tune(self._tune_words, slot * ad9363.WORDS_PER_TUNE, flags)
            if mode == MODE_GSM:
                cq = self._read_spread(self.gsm_reads, GSM_FRAME_US, _GSM_KEEP_STEPS)
            elif mode == MODE_TDD and self.clock is not None and \
                    self.clock.valid(time.ticks_us()):
                cq = self._read_tdd(slot)
            else:
                if mode == MODE_TDD:
                    self.ungated_tdd += 1
                cq = self._read_spread(self.reads, self.dwell_ms * 1000, 1000)
        gain_db = self._gain_db[slot]
        # input-referred (the chip subtracts the gain, UG-570), 0..-12775: fits the int16 field
        reading = -cq
        raw_q = (cq + 12) // 25
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
        self._send(target, cal_flags, power, raw_q, gain_db, heading, dwell, t0)
        if slot == _BENCH_SLOT and b != _NO_BAND:
            # raw_rssi is rounded to 0.25 dB; the bench fits the reading the calibration is
            # applied to, so a calibrated BENCH reading is followed by that reading, unrounded
            self._send(target, flags | protocol.F_UNCALIBRATED, reading, raw_q, gain_db,
                       heading, dwell, t0)
        self.cycles += 1

    def _send(self, target, flags, cdbm, raw_q, gain_db, heading, dwell, t0):
        pos = self.pos
        ob = self.outbox
        struct.pack_into(_MEAS_FMT, ob.raw(), protocol.PAYLOAD_OFFSET, target, flags, cdbm,
                         raw_q, gain_db, heading, pos.lat_e7, pos.lon_e7,
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
