# BMP388 barometer on I2C (Bosch BST-BMP388-DS001): datasheet compensation (section 9.2,
# floating point), and the pressure -> relative height used for floor changes.
#
# Read once a second outside the measurement dwell, so floats are acceptable here.
from micropython import const
import struct

from i2c_chip import I2cChip

_CHIP_ID = const(0x00)
_STATUS = const(0x03)
_DATA_0 = const(0x04)   # press xlsb, lsb, msb; temp xlsb, lsb, msb (0x04..0x09)
_PWR_CTRL = const(0x1B)  # press_en bit 0, temp_en bit 1, mode[5:4] 11 = normal
_OSR = const(0x1C)
_ODR = const(0x1D)
_CONFIG = const(0x1F)
_NVM_PAR_T1 = const(0x31)  # 21 bytes of trimming coefficients (Table 23)
_CMD = const(0x7E)
CHIP_ID = const(0x50)


class Bmp388(I2cChip):
    NAME = "BMP388"
    ADDR = 0x77

    def __init__(self, i2c, addr=None):
        super().__init__(i2c, addr)
        self.t_lin = 0.0

    def init(self):
        self._check_id(_CHIP_ID, CHIP_ID, "chip ID")
        nvm = bytearray(21)
        self._i2c.readfrom_mem_into(self._addr, _NVM_PAR_T1, nvm)
        (t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10,
         p11) = struct.unpack("<HHbhhbbHHbbhbb", nvm)
        # Table 24: scaled coefficients.
        self._t1 = t1 * 256.0          # / 2^-8
        self._t2 = t2 / 1073741824.0   # / 2^30
        self._t3 = t3 / 281474976710656.0  # / 2^48
        self._p1 = (p1 - 16384) / 1048576.0      # (P1 - 2^14) / 2^20
        self._p2 = (p2 - 16384) / 536870912.0    # (P2 - 2^14) / 2^29
        self._p3 = p3 / 4294967296.0             # / 2^32
        self._p4 = p4 / 137438953472.0           # / 2^37
        self._p5 = p5 * 8.0                      # / 2^-3
        self._p6 = p6 / 64.0                     # / 2^6
        self._p7 = p7 / 256.0                    # / 2^8
        self._p8 = p8 / 32768.0                  # / 2^15
        self._p9 = p9 / 281474976710656.0        # / 2^48
        self._p10 = p10 / 281474976710656.0      # / 2^48
        self._p11 = p11 / 36893488147419103232.0  # / 2^65
        self._write(_OSR, 0x03 | (0x00 << 3))  # pressure x8, temperature x1
        self._write(_ODR, 0x02)                # 50 Hz
        self._write(_CONFIG, 0x04)             # IIR coefficient 3
        self._write(_PWR_CTRL, 0x33)           # both sensors, normal mode

    def compensate_temperature(self, uncomp_t):
        d1 = uncomp_t - self._t1
        d2 = d1 * self._t2
        self.t_lin = d2 + d1 * d1 * self._t3
        return self.t_lin

    def compensate_pressure(self, uncomp_p):
        t = self.t_lin
        out1 = self._p5 + self._p6 * t + self._p7 * t * t + self._p8 * t * t * t
        out2 = uncomp_p * (self._p1 + self._p2 * t + self._p3 * t * t + self._p4 * t * t * t)
        d1 = uncomp_p * uncomp_p
        d2 = self._p9 + self._p10 * t
        out3 = d1 * d2 + d1 * uncomp_p * self._p11
        return out1 + out2 + out3

    def read(self):
        """Return (pressure_pa, temperature_c)."""
        self._i2c.readfrom_mem_into(self._addr, _DATA_0, self._raw)
        d = self._raw
        up = d[0] | (d[1] << 8) | (d[2] << 16)
        ut = d[3] | (d[4] << 8) | (d[5] << 16)
        t = self.compensate_temperature(ut)
        return self.compensate_pressure(up), t


def height_m(pressure_pa, ref_pa):
    """Height above the reference pressure level (ICAO standard atmosphere, troposphere):
    h = 44330.8 m * (1 - (p / p_ref)^0.190263)."""
    return 44330.8 * (1.0 - (pressure_pa / ref_pa) ** 0.190263)


class FloorTracker:
    """Floor from the officer's floor buttons plus barometric height since the last press.

    ``set_floor`` records the pressure at which the officer said which floor they are on;
    afterwards the floor follows the height change in steps of ``floor_height_m``.
    """

    def __init__(self, floor_height_m=3.0):
        self.floor_height_m = floor_height_m
        self.base_floor = 0
        self.ref_pa = None
        self.floor = 0
        self.alt_dm = 0

    def set_floor(self, floor, pressure_pa):
        self.base_floor = floor
        self.floor = floor
        self.ref_pa = pressure_pa

    def update(self, pressure_pa):
        if self.ref_pa is None:
            self.ref_pa = pressure_pa
        h = height_m(pressure_pa, self.ref_pa)
        steps = int(h / self.floor_height_m + (0.5 if h >= 0 else -0.5))
        self.floor = self.base_floor + steps
        return self.floor
