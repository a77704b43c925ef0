"""Register-level fakes of the handheld's chips, driven by a physical environment.

Each fake answers bus transactions the way its datasheet's register map says, with values
derived from what the environment sets: the AD9363's RSSI from the power at the antenna
port (through a configurable true response), the magnetometer and accelerometer from a
heading and tilt, the barometer from a pressure, the GNSS receiver's NMEA from a position.
The firmware under test cannot tell them from the chips, so its drivers are exercised down
to the bit.

Frames: body axes are (forward, right, down); heading, pitch and roll are the aerospace
Z-Y-X angles of the body in the local north-east-down frame. Both sensor chips are mounted
with chip X = forward, chip Y = left, chip Z = up (hardware/pinmap.md).
"""

import math
import random
import struct
import time
from dataclasses import dataclass


# --------------------------------------------------------------------------- AD9363 --
@dataclass
class RssiResponse:
    """The true response of the receive chain (what a lab calibration would recover).

    The firmware's calibration inverts ``p = offset_db + slope * r - temp_coef * (T - t_ref)``
    where ``r = -rssi_db - gain_db`` is the input-referred reading; this fake produces r
    from the power at the antenna port by that model, then adds the receiver's noise floor,
    a soft compression at ``knee_dbfs`` at the ADC and Gaussian reading noise.
    """

    offset_db: float = 10.0
    slope: float = 1.0
    knee_dbfs: float = -5.0
    noise_floor_dbm: float = -100.0
    noise_db: float = 0.0
    temp_coef_db_per_c: float = 0.0
    t_ref_c: float = 25.0

    def adc_level_dbfs(self, power_dbm, gain_db, temp_c, rng):
        p_t = power_dbm + self.temp_coef_db_per_c * (temp_c - self.t_ref_c)
        p_n = 10.0 * math.log10(10.0 ** (p_t / 10.0) + 10.0 ** (self.noise_floor_dbm / 10.0))
        level = (p_n - self.offset_db) / self.slope + gain_db
        # Soft limiter: 3 dB compression at the knee, saturating at the knee.
        level -= 10.0 * math.log10(1.0 + 10.0 ** ((level - self.knee_dbfs) / 10.0))
        if self.noise_db > 0.0:
            level += rng.gauss(0.0, self.noise_db)
        return level


def full_table_min_gain_db(lo_hz):
    """Gain of full-table index 0 for the default Rx gain tables (AD9361 UG-570 gain tables:
    800 MHz table -1..73 dB, 2300 MHz table -3..71 dB, 5500 MHz table -10..62 dB; 1 dB/index)."""
    if lo_hz < 1300e6:
        return -1
    if lo_hz < 4000e6:
        return -3
    return -10


class Ad9363:
    """SPI register model of the AD9363 receive path (AD9361 register map, UG-671).

    SPI (datasheet 'SPI interface'): CS low, a 16-bit instruction ``W/Rb | NB[2:0] << 12 |
    A[9:0]`` (NB = bytes - 1), then data, MSB first, the address decrementing per byte.
    """

    PRODUCT_ID = 0x0A
    REF_HZ = 40e6
    MODULUS = 8388593  # RFPLL fractional modulus, 2^23 - 15

    def __init__(self, power_dbm, temperature_c, response=None, seed=1):
        self.power_dbm = power_dbm          # callable(freq_hz) -> dBm at the antenna port
        self.temperature_c = temperature_c  # callable() -> die temperature
        self.response = response or RssiResponse()
        self.rng = random.Random(seed)
        self.fault = None                   # None | "silent" | "unlock"
        self.fault_clears_on_reset = True
        self.tx_requests = 0                # any attempt to enable the transmitter
        self.resets = 0
        self.rssi_reads = 0
        self.tunes = []                     # LO frequencies the synthesizer was set to
        self.reset()
        self.selected = False
        self._phase = 0
        self._instr = 0
        self._addr = 0
        self._remaining = 0
        self._write = False

    def reset(self):
        self.regs = bytearray(1024)
        self.regs[0x037] = self.PRODUCT_ID
        self.lo_hz = None
        self._vco_ok = False
        self._rssi_lsb = 0

    # pins
    def resetb(self, level):
        if level == 0:
            self.resets += 1
            self.reset()
            if self.fault_clears_on_reset:
                self.fault = None

    def cs(self, level):
        self.selected = level == 0
        self._phase = 0

    # SPI
    def xfer(self, mosi):
        out = bytearray(len(mosi))
        for i, b in enumerate(mosi):
            out[i] = self._clock_byte(b)
        return bytes(out)

    def _clock_byte(self, b):
        if self.fault == "silent":
            return 0x00
        if self._phase == 0:
            self._instr = b << 8
            self._phase = 1
            return 0
        if self._phase == 1:
            self._instr |= b
            self._write = bool(self._instr & 0x8000)
            self._remaining = ((self._instr >> 12) & 0x7) + 1
            self._addr = self._instr & 0x3FF
            self._phase = 2
            return 0
        if self._remaining <= 0:
            return 0
        addr = self._addr
        self._addr = (self._addr - 1) & 0x3FF
        self._remaining -= 1
        if self._write:
            self._write_reg(addr, b)
            return 0
        return self._read_reg(addr)

    def _write_reg(self, addr, value):
        if addr == 0x000 and value & 0x81:
            self.reset()
            return
        self.regs[addr] = value
        if addr == 0x014 and value & 0x20:
            self.tx_requests += 1
        if addr == 0x231 or addr == 0x005:
            self._tune()
        if addr == 0x016:
            # Calibrations (BB tune, etc.) complete at once: the self-clearing bits drop.
            self.regs[0x016] = 0

    def _tune(self):
        r = self.regs
        nint = r[0x231] | ((r[0x232] & 0x07) << 8)
        nfrac = r[0x233] | (r[0x234] << 8) | ((r[0x235] & 0x7F) << 16)
        div = 2 ** ((r[0x005] & 0x0F) + 1)
        f_vco = self.REF_HZ * (nint + nfrac / self.MODULUS)
        self.lo_hz = f_vco / div
        self._vco_ok = 6e9 <= f_vco <= 12e9
        self.tunes.append(self.lo_hz)

    def gain_db(self):
        return (self.regs[0x109] & 0x7F) + full_table_min_gain_db(self.lo_hz or 0.0)

    def _read_reg(self, addr):
        r = self.regs
        if addr == 0x247:  # Rx CP overrange / VCO lock: bit 1 VCO lock
            locked = self.lo_hz is not None and self._vco_ok and self.fault != "unlock"
            return 0x02 if locked else 0x00
        if addr == 0x05E:  # bit 7: BBPLL lock
            return 0x80 if r[0x044] and self.fault != "unlock" else 0x00
        if addr == 0x017:  # ENSM state, bits 3:0: 0x8 = RX when forced on
            return 0x08 if r[0x014] & 0x40 else 0x05
        if addr == 0x00E:  # temperature, 1.14 LSB per degree C (signed)
            raw = int(round(self.temperature_c() * 1.14)) + struct.unpack("b", bytes([r[0x00B]]))[0]
            return max(-128, min(127, raw)) & 0xFF
        if addr == 0x1A7:  # Rx1 RSSI symbol [8:1]; LSB in 0x1AB bit 0; 0.25 dB/LSB
            q = self._rssi_q()
            self._rssi_lsb = q & 1
            return (q >> 1) & 0xFF
        if addr == 0x1AB:
            return self._rssi_lsb
        return r[addr]

    def _rssi_q(self):
        self.rssi_reads += 1
        if self.lo_hz is None or self.fault == "unlock" or not self._vco_ok:
            return 511
        level = self.response.adc_level_dbfs(self.power_dbm(self.lo_hz), self.gain_db(),
                                             self.temperature_c(), self.rng)
        return max(0, min(511, int(round(-level * 4.0))))


# --------------------------------------------------------------------- I2C sensors --
def _rot_ned_from_body(heading_deg, pitch_deg, roll_deg):
    """Rotation matrix (rows) taking body (fwd, right, down) vectors to NED, Z-Y-X order."""
    ps, th, ph = (math.radians(a) for a in (heading_deg, pitch_deg, roll_deg))
    cps, sps, cth, sth, cph, sph = (math.cos(ps), math.sin(ps), math.cos(th), math.sin(th),
                                    math.cos(ph), math.sin(ph))
    return ((cth * cps, sph * sth * cps - cph * sps, cph * sth * cps + sph * sps),
            (cth * sps, sph * sth * sps + cph * cps, cph * sth * sps - sph * cps),
            (-sth, sph * cth, cph * cth))


def body_from_ned(vec_ned, heading_deg, pitch_deg, roll_deg):
    r = _rot_ned_from_body(heading_deg, pitch_deg, roll_deg)
    return tuple(sum(r[i][j] * vec_ned[i] for i in range(3)) for j in range(3))


def chip_from_body(v):
    return (v[0], -v[1], -v[2])


class _I2cRegs:
    """A register file with auto-increment, as all three sensors have."""

    def __init__(self):
        self.regs = bytearray(256)
        self.present = True

    def read(self, reg, n):
        self.refresh(reg)
        return bytes(self.regs[(reg + i) & 0xFF] for i in range(n))

    def write(self, reg, data):
        for i, b in enumerate(data):
            self.write_reg((reg + i) & 0xFF, b)

    def write_reg(self, reg, value):
        self.regs[reg] = value

    def refresh(self, reg):
        pass


def _put_i16(regs, at, value):
    v = max(-32768, min(32767, int(round(value))))
    regs[at:at + 2] = struct.pack("<h", v)


class Lis3mdl(_I2cRegs):
    """LIS3MDL magnetometer (ST DS10819, Table 16 register map). ±4 gauss: 6842 LSB/gauss.

    The I2C sub-address MSB enables auto-increment (DS10819 section 5.1.1).
    ``field_ned_gauss`` is the local geomagnetic field; ``hard_iron_gauss`` and
    ``soft_iron`` distort it as the handheld's own metal would (m = A m_true + b).
    """

    ADDR = 0x1C
    LSB_PER_GAUSS = {0x00: 6842, 0x20: 3421, 0x40: 2281, 0x60: 1711}

    def __init__(self, attitude, field_ned_gauss=(0.20, 0.0, 0.45)):
        super().__init__()
        self.attitude = attitude  # callable() -> (heading, pitch, roll) deg
        self.field_ned_gauss = field_ned_gauss
        self.hard_iron_gauss = (0.0, 0.0, 0.0)
        self.soft_iron = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
        self.regs[0x0F] = 0x3D
        self.regs[0x22] = 0x03  # power-down until configured

    def read(self, reg, n):
        return super().read(reg & 0x7F, n if reg & 0x80 else 1)

    def write(self, reg, data):
        super().write(reg & 0x7F, data if reg & 0x80 else data[:1])

    def refresh(self, reg):
        if self.regs[0x22] & 0x03 != 0x00:
            return  # not in continuous-conversion mode: outputs hold
        m = chip_from_body(body_from_ned(self.field_ned_gauss, *self.attitude()))
        a = self.soft_iron
        m = tuple(sum(a[i][j] * m[j] for j in range(3)) + self.hard_iron_gauss[i] for i in range(3))
        scale = self.LSB_PER_GAUSS[self.regs[0x21] & 0x60]
        for i in range(3):
            _put_i16(self.regs, 0x28 + 2 * i, m[i] * scale)
        self.regs[0x27] = 0x0F  # ZYXDA


class Lsm6dsox(_I2cRegs):
    """LSM6DSOX accelerometer (ST DS12814, Table 17). ±2 g: 0.061 mg/LSB. IF_INC is set
    at reset (CTRL3_C = 0x04), so multi-byte reads increment."""

    ADDR = 0x6A
    MG_PER_LSB = {0x0: 0.061, 0x8: 0.122, 0xC: 0.244, 0x4: 0.488}

    def __init__(self, attitude):
        super().__init__()
        self.attitude = attitude
        self.regs[0x0F] = 0x6C
        self.regs[0x12] = 0x04

    def write_reg(self, reg, value):
        if reg == 0x12 and value & 0x01:  # SW_RESET
            self.regs[0x10] = 0
            self.regs[0x12] = 0x04
            return
        self.regs[reg] = value

    def refresh(self, reg):
        if self.regs[0x10] >> 4 == 0:
            return  # accelerometer powered down
        # The accelerometer measures specific force: -gravity, i.e. 'up' at rest.
        f = chip_from_body(body_from_ned((0.0, 0.0, -1.0), *self.attitude()))
        mg = self.MG_PER_LSB[self.regs[0x10] & 0x0C]
        for i in range(3):
            _put_i16(self.regs, 0x28 + 2 * i, f[i] * 1000.0 / mg)
        self.regs[0x1E] = 0x01  # XLDA


class Bmp388(_I2cRegs):
    """BMP388 barometer (Bosch BST-BMP388-DS001, section 9.2 compensation, Table 23/24 NVM).

    The raw ADC words are found by inverting the datasheet's own compensation polynomial,
    so the firmware's compensation (written independently from the same datasheet section)
    must return the pressure the environment set.
    """

    ADDR = 0x77
    # Plausible NVM trimming words (0x31..0x45) of the size and sign a real part carries.
    NVM = dict(t1=27394, t2=19459, t3=-7, p1=-3281, p2=-4539, p3=35, p4=1, p5=25232,
               p6=29856, p7=3, p8=-6, p9=16040, p10=5, p11=-60)

    def __init__(self, pressure_pa, temperature_c):
        super().__init__()
        self.pressure_pa = pressure_pa
        self.temperature_c = temperature_c
        self.regs[0x00] = 0x50
        n = self.NVM
        self.regs[0x31:0x46] = struct.pack("<HHbhhbbHHbbhbb", n["t1"], n["t2"], n["t3"], n["p1"],
                                           n["p2"], n["p3"], n["p4"], n["p5"], n["p6"], n["p7"],
                                           n["p8"], n["p9"], n["p10"], n["p11"])
        c = n
        self.par = dict(
            t1=c["t1"] * 2.0 ** 8, t2=c["t2"] / 2.0 ** 30, t3=c["t3"] / 2.0 ** 48,
            p1=(c["p1"] - 2 ** 14) / 2.0 ** 20, p2=(c["p2"] - 2 ** 14) / 2.0 ** 29,
            p3=c["p3"] / 2.0 ** 32, p4=c["p4"] / 2.0 ** 37, p5=c["p5"] * 2.0 ** 3,
            p6=c["p6"] / 2.0 ** 6, p7=c["p7"] / 2.0 ** 8, p8=c["p8"] / 2.0 ** 15,
            p9=c["p9"] / 2.0 ** 48, p10=c["p10"] / 2.0 ** 48, p11=c["p11"] / 2.0 ** 65)

    def write_reg(self, reg, value):
        if reg == 0x7E and value == 0xB6:  # soft reset
            self.regs[0x1B] = 0
            return
        self.regs[reg] = value

    def t_lin(self, uncomp_t):
        p = self.par
        d = uncomp_t - p["t1"]
        return d * p["t2"] + d * d * p["t3"]

    def pressure(self, uncomp_p, t):
        p = self.par
        out1 = p["p5"] + p["p6"] * t + p["p7"] * t * t + p["p8"] * t ** 3
        out2 = uncomp_p * (p["p1"] + p["p2"] * t + p["p3"] * t * t + p["p4"] * t ** 3)
        out3 = uncomp_p * uncomp_p * (p["p9"] + p["p10"] * t) + uncomp_p ** 3 * p["p11"]
        return out1 + out2 + out3

    def raw_words(self, pressure_pa, temp_c):
        ut = self._solve(lambda u: self.t_lin(u), temp_c, 0, 2 ** 24 - 1)
        t = self.t_lin(ut)
        up = self._solve(lambda u: self.pressure(u, t), pressure_pa, 0, 2 ** 24 - 1)
        return ut, up

    @staticmethod
    def _solve(f, target, lo, hi):
        # Both polynomials are monotonic over the 24-bit range (either sense): bisection.
        rising = f(hi) > f(lo)
        for _ in range(60):
            mid = (lo + hi) // 2
            if (f(mid) < target) == rising:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1:
                break
        return lo if abs(f(lo) - target) <= abs(f(hi) - target) else hi

    def refresh(self, reg):
        if self.regs[0x1B] & 0x03 != 0x03 or reg > 0x09:
            return
        ut, up = self.raw_words(self.pressure_pa(), self.temperature_c())
        self.regs[0x04:0x07] = struct.pack("<I", up)[:3]
        self.regs[0x07:0x0A] = struct.pack("<I", ut)[:3]
        self.regs[0x03] = 0x70  # cmd_rdy, drdy_press, drdy_temp


class Ssd1306:
    """SSD1306 128x64 OLED over I2C: control byte 0x00 = commands, 0x40 = GDDRAM data.
    Horizontal addressing across the column/page window, as the firmware sets it."""

    ADDR = 0x3C

    def __init__(self):
        self.present = True
        self.gddram = bytearray(1024)
        self.commands = []
        self.data_writes = 0
        self._col = (0, 127)
        self._page = (0, 7)
        self._ptr = 0
        self._pending = []

    def i2c_write(self, data):
        if not data:
            return
        ctrl, body = data[0], data[1:]
        if ctrl == 0x40:
            self.data_writes += 1
            for b in body:
                self.gddram[self._ptr % 1024] = b
                self._ptr += 1
        else:
            for b in body:
                self._command(b)

    def _command(self, b):
        if self._pending:
            self._pending.append(b)
            op = self._pending[0]
            if len(self._pending) == 3:
                if op == 0x21:
                    self._col = (self._pending[1], self._pending[2])
                else:
                    self._page = (self._pending[1], self._pending[2])
                self._ptr = self._page[0] * 128 + self._col[0]
                self._pending = []
            return
        self.commands.append(b)
        if b in (0x21, 0x22):
            self._pending = [b]

    def pixel(self, x, y):
        return (self.gddram[(y // 8) * 128 + x] >> (y % 8)) & 1

    def lit_pixels(self):
        return sum(bin(b).count("1") for b in self.gddram)


# ---------------------------------------------------------------------------- GNSS --
def nmea_checksum(body):
    c = 0
    for ch in body.encode("ascii"):
        c ^= ch
    return "%02X" % c


def _nmea_lat(lat_deg):
    a = abs(lat_deg)
    d = int(a)
    return "%02d%08.5f" % (d, (a - d) * 60.0), "N" if lat_deg >= 0 else "S"


def _nmea_lon(lon_deg):
    a = abs(lon_deg)
    d = int(a)
    return "%03d%08.5f" % (d, (a - d) * 60.0), "E" if lon_deg >= 0 else "W"


def nmea_sentences(lat_deg, lon_deg, alt_m, fix_ok, utc_s, sats=9):
    """A GGA and an RMC sentence (NMEA 0183 v4.10) for one epoch, CRLF-terminated."""
    tm = time.gmtime(utc_s)
    hhmmss = "%02d%02d%06.3f" % (tm.tm_hour, tm.tm_min, tm.tm_sec + (utc_s % 1.0))
    ddmmyy = "%02d%02d%02d" % (tm.tm_mday, tm.tm_mon, tm.tm_year % 100)
    if fix_ok:
        la, ns = _nmea_lat(lat_deg)
        lo, ew = _nmea_lon(lon_deg)
        gga = "GPGGA,%s,%s,%s,%s,%s,1,%02d,0.9,%.1f,M,47.0,M,," % (hhmmss, la, ns, lo, ew, sats, alt_m)
        rmc = "GPRMC,%s,A,%s,%s,%s,%s,0.0,0.0,%s,,,A" % (hhmmss, la, ns, lo, ew, ddmmyy)
    else:
        gga = "GPGGA,%s,,,,,0,00,99.9,,M,,M,," % hhmmss
        rmc = "GPRMC,%s,V,,,,,,,%s,,,N" % (hhmmss, ddmmyy)
    return ["$%s*%s\r\n" % (s, nmea_checksum(s)) for s in (gga, rmc)]


class Gnss:
    """A GNSS receiver on a UART: one GGA + RMC burst per second from the position, with the
    bytes paced at the baud rate (a reader that falls behind sees its buffer fill)."""

    def __init__(self, position, now_s, utc_s=time.time, baud=9600, rxbuf=1024):
        self.position = position  # callable() -> (lat, lon, alt, fix_ok)
        self.now_s = now_s
        self.utc_s = utc_s
        self.baud = baud
        self.rxbuf = rxbuf
        self.silent = False
        self._queue = bytearray()
        self._next_epoch = None
        self.overruns = 0

    def _produce(self):
        t = self.now_s()
        if self._next_epoch is None:
            self._next_epoch = math.floor(t) + 1.0
        while t >= self._next_epoch:
            self._next_epoch += 1.0
            if self.silent:
                continue
            for s in nmea_sentences(*self.position(), utc_s=self.utc_s()):
                self._queue += s.encode("ascii")
        if len(self._queue) > self.rxbuf:
            self.overruns += 1
            del self._queue[:len(self._queue) - self.rxbuf]

    def available(self):
        self._produce()
        return len(self._queue)

    def read(self, n):
        self._produce()
        out = bytes(self._queue[:n])
        del self._queue[:n]
        return out
