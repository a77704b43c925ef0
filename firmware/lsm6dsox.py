# LSM6DSOX accelerometer (the gyroscope stays off) on I2C (ST DS12814; Table 17).
from micropython import const

from i2c_chip import I2cChip

_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)  # ODR_XL[7:4], FS_XL[3:2]: 00 = +-2 g (0.061 mg/LSB, Table 2)
_CTRL3_C = const(0x12)   # BDU bit 6, IF_INC bit 2, SW_RESET bit 0
_OUTX_L_A = const(0x28)
WHO_AM_I = const(0x6C)


class Lsm6dsox(I2cChip):
    """The accelerometer; ``read_into(xyz)`` fills a 3-int array in chip axes, raw LSB."""

    NAME = "LSM6DSOX"
    ADDR = 0x6A

    def init(self):
        self._check_id(_WHO_AM_I, WHO_AM_I)
        self._write(_CTRL3_C, 0x44)   # BDU + register auto-increment
        self._write(_CTRL1_XL, 0x40)  # 104 Hz, +-2 g

    def read_into(self, xyz):
        self._read_xyz_into(_OUTX_L_A, xyz)
