# LIS3MDL 3-axis magnetometer on I2C (ST DS10819; register map Table 16).
from micropython import const

from i2c_chip import I2cChip

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


class Lis3mdl(I2cChip):
    """The magnetometer; ``read_into(xyz)`` fills a 3-int array in chip axes, raw LSB."""

    NAME = "LIS3MDL"
    ADDR = 0x1C

    def init(self):
        self._check_id(_WHO_AM_I, WHO_AM_I)
        self._write(_CTRL_REG1, 0x7C)  # ultra-high-performance XY, 80 Hz
        self._write(_CTRL_REG2, 0x00)  # +-4 gauss
        self._write(_CTRL_REG4, 0x0C)  # ultra-high-performance Z
        self._write(_CTRL_REG5, 0x40)  # block data update
        self._write(_CTRL_REG3, 0x00)  # continuous conversion

    def read_into(self, xyz):
        self._read_xyz_into(_OUT_X_L | _AUTO_INC, xyz)
