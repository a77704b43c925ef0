# LIS3MDL 3-axis magnetometer on I2C (ST DS10819; register map Table 16).
from micropython import const

_WHO_AM_I = const(0x0F)
_CTRL_REG1 = const(0x20)  # TOM: OM[6:5] XY performance, DO[4:2] rate
_CTRL_REG2 = const(0x21)  # FS[6:5]: 00 = +-4 gauss (6842 LSB/gauss, Table 3)
_CTRL_REG3 = const(0x22)  # MD[1:0]: 00 = continuous conversion
_CTRL_REG4 = const(0x23)  # OMZ[3:2] Z performance
_CTRL_REG5 = const(0x24)  # BDU bit 6
_OUT_X_L = const(0x28)
_AUTO_INC = const(0x80)   # sub-address MSB: auto-increment (DS10819 5.1.1)
WHO_AM_I = const(0x3D)
LSB_PER_GAUSS = const(6842)


class Lis3mdl:
    """The magnetometer; ``read_into(xyz)`` fills a 3-int array in chip axes, raw LSB."""

    def __init__(self, i2c, addr=0x1C):
        self._i2c = i2c
        self._addr = addr
        self._one = bytearray(1)
        self._raw = bytearray(6)

    def init(self):
        self._i2c.readfrom_mem_into(self._addr, _WHO_AM_I, self._one)
        if self._one[0] != WHO_AM_I:
            raise OSError("LIS3MDL: WHO_AM_I 0x%02X at I2C 0x%02X, expected 0x3D"
                          % (self._one[0], self._addr))
        self._write(_CTRL_REG1, 0x7C)  # ultra-high-performance XY, 80 Hz
        self._write(_CTRL_REG2, 0x00)  # +-4 gauss
        self._write(_CTRL_REG4, 0x0C)  # ultra-high-performance Z
        self._write(_CTRL_REG5, 0x40)  # block data update
        self._write(_CTRL_REG3, 0x00)  # continuous conversion

    def _write(self, reg, value):
        self._one[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._one)

    def read_into(self, xyz):
        self._i2c.readfrom_mem_into(self._addr, _OUT_X_L | _AUTO_INC, self._raw)
        r = self._raw
        for i in range(3):
            v = r[2 * i] | (r[2 * i + 1] << 8)
            xyz[i] = v - 65536 if v > 32767 else v
