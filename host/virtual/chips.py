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
import struct
import time


# --------------------------------------------------------------------------- AD9363 --
# The AD9363 fake lives in its own module (host/virtual/ad9363.py); re-exported here so
# the handheld, the bench and the tests keep one import.
from host.virtual.ad9363 import Ad9363, RssiResponse, full_table_gain_db  # noqa: E402,F401


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
