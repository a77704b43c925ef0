# rfhound handheld firmware: boot, host commands, the measurement loop and housekeeping.
#
# The loop never blocks: the measurement cycle is allocation-free (measure.py), frames go
# through a drop-oldest outbox (outbox.py), and everything slow (GNSS sentences, display,
# barometer, STATUS) runs on timers between cycles. A watchdog resets the MCU if the loop
# ever stops; a radio that stops answering or loses lock is reset and reported in STATUS.
import binascii
import gc
import json
import os
import struct
import sys
import time
import micropython

import protocol as P
import board as board_mod
import tasking
import nmea
import ui
from ad9363 import Ad9363
from lis3mdl import Lis3mdl
from lsm6dsox import Lsm6dsox
from heading import Compass
from baro import Bmp388, FloorTracker
from calibration import Calibration, DEFAULT_CALIBRATION
from measure import Hunter, Position
from frame_timing import FrameClock
from outbox import Outbox

FW_VERSION = (0, 1, 0)
HW_REV = 1
CONFIG_FILE = "config.json"
CALIBRATION_FILE = "calibration.json"
TASKING_FILE = "tasking.rft"
TASKING_STATE_FILE = "tasking_state.json"
TASKING_PART_FILE = "tasking.part"  # chunks of an upload in progress (unsigned until checked)
GNSS_STALE_MS = 2500
# Unsigned TASKING chunks wait on flash (TASKING_PART_FILE) until the last one arrives and
# the signature can be checked; an upload announcing more than this is refused at its first
# chunk. 32 kB is above the largest real tasking (128 targets with long labels, IMSIs and
# schedules: about 24 kB).
MAX_TASKING_BYTES = 32768
_CHUNK_BYTES = P.MAX_PAYLOAD - P.PAYLOAD_SIZE[P.TASKING]
RADIO_RETRY_MS = 1000
RADIO_RESET_REPORT_MS = 3000

_NAK_BY_REASON = {
    tasking.BAD_SIGNATURE: P.NAK_BAD_SIGNATURE,
    tasking.EXPIRED: P.NAK_EXPIRED,
    tasking.NOT_YET_VALID: P.NAK_NOT_YET_VALID,
    tasking.REPLAYED: P.NAK_REPLAYED,
    tasking.MALFORMED: P.NAK_BAD_TASKING,
}


def _trace(e):
    # The traceback goes to stderr where there is one (the unix port); USB carries the LOG.
    if hasattr(sys, "print_exception"):
        sys.print_exception(e, sys.stderr)


def _load_json(name, default):
    try:
        with open(name) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


_PIECE = 512


def _read_pieces(name, size):
    # A tasking as small pieces (tasking.py takes a list): they fit a fragmented heap.
    parts = []
    with open(name, "rb") as f:
        while size > 0:
            piece = f.read(_PIECE if size > _PIECE else size)
            if not piece:
                break
            parts.append(piece)
            size -= len(piece)
    return parts


def _save(name, data, binary=False):
    tmp = name + ".tmp"
    with open(tmp, "wb" if binary else "w") as f:
        if binary:
            f.write(data)
        else:
            json.dump(data, f)
    os.rename(tmp, name)


class App:
    def __init__(self):
        # Frame bytes may contain 0x03: Ctrl-C on the USB port must not interrupt the loop.
        micropython.kbd_intr(-1)
        self.board = b = board_mod.Board()
        self.wdt = b.watchdog()
        cfg = _load_json(CONFIG_FILE, {})
        self.config = cfg
        self.device_id = cfg.get("device_id") or b.device_id_hw()
        key_hex = cfg.get("key_hex")
        self.key = binascii.unhexlify(key_hex) if key_hex else None
        self.outbox = Outbox(b.usb, slots=cfg.get("outbox_slots", 32))
        self.cal = Calibration()
        try:
            self.cal.load(_load_json(CALIBRATION_FILE, DEFAULT_CALIBRATION))
        except (KeyError, ValueError, TypeError):
            self.cal.load(DEFAULT_CALIBRATION)
        self.pos = Position()
        self.sticky = P.FAULT_WATCHDOG_RESET if b.reset_cause_watchdog() else 0
        self.radio = Ad9363(b.radio_spi, b.radio_cs, b.radio_resetb)
        self.radio_up = False
        self.radio_reset_at = None
        self.radio_resets = 0
        self.compass = None
        self.baro = None
        self.floor = FloorTracker(cfg.get("floor_height_m", 3.0))
        self.display = None
        self._init_sensors(cfg)
        self.frame_clock = FrameClock()
        self.frame_clock.attach(b.gnss_pps)
        self.hunter = Hunter(self.radio, self.compass, self.cal, self.outbox, self.pos,
                             dwell_ms=cfg.get("dwell_ms", 8), reads=cfg.get("reads", 4),
                             settle_us=cfg.get("settle_us", 200), gain_db=cfg.get("gain_db", 40),
                             clock=self.frame_clock)
        self.mode = P.MODE_IDLE
        self.labels = []        # per target, for the display
        self.schedules = []     # per target: activity windows or None
        self.tasking_serial = 0
        self.tasking_digest = None
        self.tasking_not_after = None
        self.tasking_expired = False
        state = _load_json(TASKING_STATE_FILE, {})
        # The clock never goes back past this (minus a bound): see _sync_clock.
        self.clock_floor_s = state.get("floor_s", 0) if isinstance(state, dict) else 0
        self.clock_refused = False
        # TASKING chunks go to a file at their offsets, not into RAM: a flood of unsigned
        # chunks can neither grow the heap nor break it into pieces.
        self._part_size = 0
        self._chunk_seen = bytearray(256)
        self._chunk_count = 0
        self._chunks_got = 0
        self.deframer = P.Deframer()
        self._rx = bytearray(1)
        self.gnss = nmea.LineReader(b.gnss_uart)
        self.gnss_fix = 0
        self.gnss_sats = 0
        self.last_fix_ms = None
        self.buttons = ui.Buttons(b.buttons)
        self.buzzer = ui.Buzzer(b.buzzer)
        self.selected = 0
        self.mark_id = 0
        self.pressure_pa = None
        self.battery_mv = 0
        now = time.ticks_ms()
        self._t = {"buttons": now, "gnss": now, "ui": now, "status": now, "wdt": now}
        self._radio_retry_at = now
        if self._bring_up_radio() is None:
            # The first MEAS must already carry the die-temperature correction.
            self.hunter.temp_cdeg = self.radio.temperature_cdeg()
        self._restore_tasking()
        self.hello()
        if self.sticky & P.FAULT_WATCHDOG_RESET:
            self.log(P.LOG_WARN, "restarted by the watchdog")

    # -- bring-up ---------------------------------------------------------------------
    def _init_sensors(self, cfg):
        b = self.board
        addr = board_mod.I2C_ADDR
        try:
            mag = Lis3mdl(b.i2c, addr["magnetometer"])
            imu = Lsm6dsox(b.i2c, addr["imu"])
            mag.init()
            imu.init()
            comp = cfg.get("compass", {})
            self.compass = Compass(mag, imu, comp.get("hard_iron", (0, 0, 0)),
                                   comp.get("soft_iron_q12", (4096, 0, 0, 0, 4096, 0, 0, 0, 4096)),
                                   comp.get("declination_cdeg", 0))
        except OSError:
            self.compass = None
        try:
            self.baro = Bmp388(b.i2c, addr["barometer"])
            self.baro.init()
        except OSError:
            self.baro = None
        try:
            from ssd1306 import Ssd1306
            oled = Ssd1306(b.i2c, addr["display"])
            oled.init()
            self.display = ui.Display(oled)
        except OSError:
            self.display = None

    def _bring_up_radio(self):
        try:
            self.radio.reset()   # a cold start: nothing loaded to keep
            self.radio.init()
            self.radio_up = True
            return None
        except OSError as e:
            self.radio_up = False
            return e

    # -- frames out ---------------------------------------------------------------------
    def hello(self):
        caps = P.CAP_BENCH | P.CAP_DIRECTIONAL | P.CAP_BUZZER
        caps |= P.CAP_GNSS
        if self.compass:
            caps |= P.CAP_IMU
        if self.baro:
            caps |= P.CAP_BARO
        if self.display:
            caps |= P.CAP_DISPLAY
        self._send(P.HELLO, (FW_VERSION[0], FW_VERSION[1], FW_VERSION[2], HW_REV,
                             self.device_id, self.cal.calibration_id, caps, 128))

    def _send(self, msg_type, fields, tail=b""):
        raw = self.outbox.raw()
        struct.pack_into(P.MESSAGES[msg_type][1], raw, P.PAYLOAD_OFFSET, *fields)
        n = P.PAYLOAD_SIZE[msg_type]
        if tail:
            tail = tail[:P.MAX_PAYLOAD - n]
            raw[P.PAYLOAD_OFFSET + n:P.PAYLOAD_OFFSET + n + len(tail)] = tail
            n += len(tail)
        self.outbox.send(msg_type, n, time.ticks_ms())

    def log(self, level, text):
        self._send(P.LOG, (level,), text.encode())

    def fault_flags(self, now):
        f = self.sticky
        if not self.radio_up:
            f |= P.FAULT_RADIO
        if self.radio_reset_at is not None and \
                time.ticks_diff(now, self.radio_reset_at) < RADIO_RESET_REPORT_MS:
            f |= P.FAULT_RADIO_RESET
        if self.pos.stale:
            f |= P.FAULT_GNSS
        if self.compass is None or self.hunter.heading_faults:
            f |= P.FAULT_IMU
        if self.baro is None:
            f |= P.FAULT_BARO
        if self.outbox.dropped:
            f |= P.FAULT_USB_OVERFLOW
        if not self.hunter.n_targets:
            f |= P.FAULT_NO_TASKING
        if self.tasking_expired:
            f |= P.FAULT_TASKING_EXPIRED
        if self.clock_refused:
            f |= P.FAULT_CLOCK_REFUSED
        return f

    def clock_s(self):
        """UTC Unix seconds of the RTC (set from GNSS within the bound of _sync_clock)."""
        return self.board.utc_s()

    def status(self, now):
        mv = self.battery_mv
        pct = (mv - 3300) * 100 // 900
        pct = 0 if pct < 0 else (100 if pct > 100 else pct)
        self._send(P.STATUS, (mv, pct, self.hunter.temp_cdeg, self.gnss_fix, self.gnss_sats,
                              1 if self.radio_up and not self.hunter.radio_fault else 0,
                              self.mode, self.fault_flags(now), min(self.outbox.dropped, 65535),
                              self.hunter.active_target & 0xFF, max(-128, min(127, self.pos.floor)),
                              self.hunter.n_targets, min(self.radio_resets, 255)))

    # -- host commands ----------------------------------------------------------------
    def _read_host(self):
        usb = self.board.usb
        k = 0
        while k < 512 and usb.readable():
            if not usb.readinto(self._rx):
                break
            k += 1
            for frame in self.deframer.feed(self._rx):
                self._handle(frame)

    def _ack(self, frame):
        self._send(P.ACK, (frame.msg_type, frame.seq))

    def _nak(self, frame, reason, detail=None):
        self._send(P.NAK, (frame.msg_type, frame.seq, reason))
        if detail:
            self.log(P.LOG_WARN, "%s: %s" % (P.NAK_REASONS.get(reason, reason), detail))

    def _handle(self, frame):
        t = frame.msg_type
        if t == P.PING:
            # HELLO again, so a host that connects to a running handheld learns its ids.
            self._ack(frame)
            self.hello()
        elif t == P.TASKING:
            self._tasking_chunk(frame)
        elif t == P.SET_CALIBRATION:
            self._calibration_entry(frame)
        elif t == P.START:
            if not self.hunter.n_targets:
                self._nak(frame, P.NAK_NO_TASKING,
                          "the tasking expired" if self.tasking_expired else None)
            else:
                self.mode = P.MODE_HUNT
                self.hunter.focus = -1
                self._ack(frame)
        elif t == P.STOP:
            self.mode = P.MODE_IDLE
            self._ack(frame)
        elif t == P.SET_MODE:
            self._set_mode(frame)
        else:
            self._nak(frame, P.NAK_UNKNOWN_TYPE)

    def _set_mode(self, frame):
        mode, freq_khz, gain_db, target = frame.fields()
        if mode == P.MODE_IDLE:
            self.mode = mode
        elif mode == P.MODE_HUNT:
            if not self.hunter.n_targets:
                return self._nak(frame, P.NAK_NO_TASKING)
            if target != 255 and target >= self.hunter.n_targets:
                return self._nak(frame, P.NAK_BAD_MODE, "target %d not in the tasking" % target)
            self.hunter.focus = -1 if target == 255 else target
            self.mode = mode
        elif mode == P.MODE_BENCH:
            try:
                self.hunter.set_bench(freq_khz * 1000, gain_db)
            except ValueError as e:
                return self._nak(frame, P.NAK_BAD_MODE, str(e))
            self.mode = mode
        else:
            return self._nak(frame, P.NAK_BAD_MODE)
        self._ack(frame)

    def _calibration_entry(self, frame):
        f = frame.fields()
        cal_id, index, count = f[0], f[1], f[2]
        try:
            done = self.cal.stage(cal_id, index, count, f[3:])
        except ValueError as e:
            return self._nak(frame, P.NAK_BAD_CALIBRATION, str(e))
        if done:
            _save(CALIBRATION_FILE, self.cal.to_doc())
            self.hunter.recalibrate_bands()
        self._ack(frame)

    def _tasking_chunk(self, frame):
        index, count = frame.fields()
        if count == 0 or index >= count:
            return self._nak(frame, P.NAK_BAD_TASKING, "chunk %d of %d" % (index, count))
        if (count - 1) * _CHUNK_BYTES >= MAX_TASKING_BYTES:
            self._chunk_count = 0
            return self._nak(frame, P.NAK_BAD_TASKING, "%d chunks exceed the %d-byte limit" % (
                count, MAX_TASKING_BYTES))
        tail = frame.tail()
        n = len(tail)
        if n > _CHUNK_BYTES or (index < count - 1 and n != _CHUNK_BYTES):
            self._chunk_count = 0
            return self._nak(frame, P.NAK_BAD_TASKING, "chunk %d of %d has %d bytes" % (
                index, count, n))
        if index == 0 or count != self._chunk_count:
            self._chunk_count = count
            self._chunks_got = 0
            for i in range(count):
                self._chunk_seen[i] = 0
            with open(TASKING_PART_FILE, "wb"):
                pass
        at = index * _CHUNK_BYTES
        with open(TASKING_PART_FILE, "r+b") as f:
            f.seek(at)
            f.write(tail)
        if not self._chunk_seen[index]:
            self._chunk_seen[index] = 1
            self._chunks_got += 1
        if index == count - 1:
            self._part_size = at + n
        if self._chunks_got < count:
            return self._ack(frame)
        self._chunk_count = 0
        try:
            self._accept_tasking(_read_pieces(TASKING_PART_FILE, self._part_size))
        except tasking.TaskingError as e:
            return self._nak(frame, _NAK_BY_REASON[e.reason], e.detail)
        os.rename(TASKING_PART_FILE, TASKING_FILE)
        _save(TASKING_STATE_FILE, {"serial": self.tasking_serial,
                                   "digest": binascii.hexlify(self.tasking_digest).decode(),
                                   "floor_s": self.clock_floor_s})
        self._ack(frame)
        self.log(P.LOG_INFO, "tasking %d accepted: %d targets, %d bytes of heap free" % (
            self.tasking_serial, len(self.labels), gc.mem_free()))

    def _accept_tasking(self, blob):
        if self.key is None:
            raise tasking.TaskingError(tasking.BAD_SIGNATURE, "no operator key provisioned")
        state = _load_json(TASKING_STATE_FILE, {})
        last_digest = state.get("digest")
        now_s = self.clock_s()
        header, digest = tasking.check(
            blob, self.key, now_s, self.device_id, state.get("serial", 0),
            binascii.unhexlify(last_digest) if last_digest else None, False)
        # One target at a time, into tables sized once: a fragmented heap has no room
        # for lists that grow.
        n = header["n_targets"]
        labels = [None] * n
        schedules = [None] * n
        gc.collect()
        for i, t in enumerate(tasking.targets(blob)):
            labels[i] = t["label"]
            schedules[i] = t.get("schedule")
            try:
                self.hunter.prepare_target(i, t["uplink_hz"], t["bandwidth_hz"], t)
            except ValueError as e:      # e.g. more hopping ARFCNs than the loop holds
                raise tasking.TaskingError(tasking.MALFORMED, "target %d: %s" % (i, e))
        self.hunter.commit_targets(n)
        self.labels = labels
        self.schedules = schedules
        self.tasking_serial = header["serial"]
        self.tasking_digest = digest
        self.tasking_not_after = header["not_after"]
        self.tasking_expired = False
        # An accepted tasking proves the time was at least its issue time (and now_s, which
        # was inside its validity): GNSS may not move the clock back past that.
        # (An issued_at past not_after is the issuer's clock error; it is not trusted further.)
        floor_s = min(header.get("issued_at") or header["not_before"], header["not_after"])
        self.clock_floor_s = max(self.clock_floor_s, floor_s, now_s)
        self.selected = 0
        self._update_schedule()
        gc.collect()

    def _restore_tasking(self):
        try:
            parts = _read_pieces(TASKING_FILE, MAX_TASKING_BYTES)
        except OSError:
            return
        try:
            self._accept_tasking(parts)
        except tasking.TaskingError as e:
            self.labels = []
            self.schedules = []
            self.tasking_expired = e.reason == tasking.EXPIRED
            if self.tasking_expired:
                try:
                    os.remove(TASKING_FILE)
                except OSError:
                    pass

    def _check_expiry(self, now_s):
        # A second early: the check runs once a second and the clock counts whole seconds,
        # so nothing is measured at or after not_after.
        if self.tasking_not_after is None or now_s < self.tasking_not_after - 1:
            return
        serial, not_after = self.tasking_serial, self.tasking_not_after
        self.hunter.commit_targets(0)
        self.labels = []
        self.schedules = []
        self.selected = 0
        self.tasking_not_after = None
        self.tasking_expired = True
        if self.mode == P.MODE_HUNT:
            self.mode = P.MODE_IDLE
        try:
            os.remove(TASKING_FILE)  # never restored at boot, whatever the clock says then
        except OSError:
            pass
        self.log(P.LOG_WARN, "tasking %d expired at %d: hunt stopped" % (serial, not_after))

    def _update_schedule(self, now_s=None):
        minute = ((self.clock_s() if now_s is None else now_s) // 60) % 1440
        for i, sched in enumerate(self.schedules):
            self.hunter.enabled[i] = 1 if sched is None or tasking.active(
                {"schedule": sched}, minute) else 0

    # -- housekeeping -------------------------------------------------------------------
    def _due(self, name, now, period_ms):
        if time.ticks_diff(now, self._t[name]) >= period_ms:
            self._t[name] = now
            return True
        return False

    def _gnss_line(self, line):
        s = nmea.parse_nmea(line)
        if s is None:
            return
        if s["type"] == "GGA":
            self.gnss_sats = s["sats"]
            self.gnss_fix = s["quality"]
            if s["fix"]:
                p = self.pos
                p.lat_e7 = s["lat_e7"]
                p.lon_e7 = s["lon_e7"]
                if s["alt_dm"] is not None:
                    p.alt_dm = s["alt_dm"]
                p.valid = True
                p.stale = False
                self.last_fix_ms = time.ticks_ms()
        elif s["type"] == "RMC" and s["fix"] and s["date"] and s["utc_ms"] is not None:
            self._sync_clock(s["date"], s["utc_ms"] // 1000)

    def _sync_clock(self, date, sec_of_day):
        gnss_s = nmea.unix_s(date, sec_of_day)
        now_s = self.clock_s()
        if abs(gnss_s - now_s) <= 2:
            self.clock_refused = False
            return
        if not nmea.clock_step_ok(gnss_s, now_s, self.clock_floor_s):
            if not self.clock_refused:
                self.log(P.LOG_WARN, "GNSS time %d refused: more than %d s before %d" % (
                    gnss_s, nmea.CLOCK_MAX_BACKSTEP_S, max(now_s, self.clock_floor_s)))
            self.clock_refused = True
            return
        self.clock_refused = False
        y, mo, d = date
        self.board.set_clock(y, mo, d, sec_of_day // 3600, (sec_of_day // 60) % 60,
                             sec_of_day % 60)
        if not self.hunter.n_targets and not self.tasking_expired:
            # A tasking refused at boot by a cold RTC (not yet valid) is valid now.
            self._restore_tasking()

    def _buttons(self, now):
        pressed = self.buttons.poll()
        if not pressed:
            return
        if pressed & ui.MARK:
            self.mark_id = (self.mark_id + 1) & 0xFFFF
            p = self.pos
            self._send(P.MARK, (self.mark_id, p.lat_e7, p.lon_e7, p.alt_dm,
                                max(-128, min(127, p.floor)), self.hunter.last_heading_cdeg))
        if pressed & ui.NEXT and self.labels:
            self.selected = (self.selected + 1) % len(self.labels)
        if pressed & (ui.FLOOR_UP | ui.FLOOR_DOWN):
            step = 1 if pressed & ui.FLOOR_UP else -1
            self.pos.floor += step
            if self.pressure_pa is not None:
                self.floor.set_floor(self.pos.floor, self.pressure_pa)

    def _ui(self):
        h = self.hunter
        sel = self.selected if self.selected < h.n_targets else 0
        power = h.last_cdbm[sel]
        detected = h.n_targets and self.mode == P.MODE_HUNT and \
            not (h.last_flags[sel] & P.F_NOT_DETECTED)
        self.buzzer.sound(power, detected)
        if self.display:
            label = self.labels[sel] if self.labels else "no tasking"
            gnss = ("GNSS %d sat" % self.gnss_sats) if not self.pos.stale else "GNSS stale"
            try:
                self.display.show(label, power, detected, h.last_heading_cdeg
                                  if h.last_heading_cdeg != P.HEADING_NONE else -1,
                                  self.pos.floor, gnss)
            except OSError:
                self.display = None

    def _slow(self, now):
        if self.last_fix_ms is None or time.ticks_diff(now, self.last_fix_ms) > GNSS_STALE_MS:
            self.pos.stale = True
        if self.baro:
            try:
                self.pressure_pa, _ = self.baro.read()
                if self.floor.ref_pa is None:
                    self.floor.set_floor(self.pos.floor, self.pressure_pa)
                self.pos.floor = self.floor.update(self.pressure_pa)
            except OSError:
                self.baro = None
        if self.radio_up and not self.hunter.radio_fault:
            try:
                self.hunter.temp_cdeg = self.radio.temperature_cdeg()
            except OSError:
                self.hunter.radio_fault = True
        self.battery_mv = self.board.battery_mv()
        now_s = self.clock_s()
        self._check_expiry(now_s)
        self._update_schedule(now_s)
        self.status(now)

    def _recover_radio(self, now):
        if time.ticks_diff(now, self._radio_retry_at) < RADIO_RETRY_MS:
            return
        self._radio_retry_at = now
        err = self._bring_up_radio()
        if err is None:
            self.radio_resets += 1
            self.radio_reset_at = now
            self.hunter.radio_restored()
            self.log(P.LOG_WARN, "radio reset after a fault (%d so far)" % self.radio_resets)
        else:
            self.log(P.LOG_ERROR, str(err))

    def step(self):
        now = time.ticks_ms()
        if self.board.usb.readable():
            self._read_host()
        measured = False
        if self.radio_up and not self.hunter.radio_fault:
            try:
                if self.mode == P.MODE_HUNT and self.hunter.n_targets:
                    measured = self.hunter.cycle() >= 0
                elif self.mode == P.MODE_BENCH:
                    self.hunter.bench_cycle()
                    measured = True
            except OSError:
                self.hunter.radio_fault = True
        if self.hunter.radio_fault or not self.radio_up:
            self.radio_up = False
            self._recover_radio(now)
        self.outbox.pump()
        if self._due("wdt", now, 500):
            self.wdt.feed()
        if self._due("buttons", now, 20):
            self._buttons(now)
        if self._due("gnss", now, 50):
            for _ in range(8):
                before = self.gnss.overflows
                self.gnss.poll(self._gnss_line)
                if not self.board.gnss_uart.any() or self.gnss.overflows != before:
                    break
        if self._due("ui", now, 250):
            self._ui()
        if self._due("status", now, 1000):
            self._slow(now)
        if not measured:
            time.sleep_ms(2)

    def run(self):
        errors = 0
        reported_at = time.ticks_add(time.ticks_ms(), -1000)
        while True:
            try:
                self.step()
            except MemoryError as e:
                # Out of heap outside the (allocation-free) cycle: report and keep going.
                self._chunk_count = 0
                _trace(e)
                gc.collect()
                self.log(P.LOG_ERROR, "out of memory (%d bytes free)" % gc.mem_free())
            except Exception as e:  # one bad step must not stop the hunt; the log says why
                # At most one report a second, with the count of the others: a fault in
                # every step (the chips' bus gone) must not write tracebacks at 30 kB/s.
                errors += 1
                now = time.ticks_ms()
                if time.ticks_diff(now, reported_at) >= 1000:
                    reported_at = now
                    more = " (%d more errors this second)" % (errors - 1) if errors > 1 else ""
                    errors = 0
                    self.log(P.LOG_ERROR, "%s: %s%s" % (type(e).__name__, e, more))
                    _trace(e)


def main():
    App().run()


if __name__ == "__main__":
    main()
