# LSM6DSOX accelerometer (the gyroscope stays off) on I2C (ST DS12814; Table 17).
from micropython import const

_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)  # ODR_XL[7:4], FS_XL[3:2]: 00 = +-2 g (0.061 mg/LSB, Table 2)
_CTRL3_C = const(0x12)   # BDU bit 6, IF_INC bit 2, SW_RESET bit 0
_OUTX_L_A = const(0x28)
WHO_AM_I = const(0x6C)


class Lsm6dsox:
    """The accelerometer; ``read_into(xyz)`` fills a 3-int array in chip axes, raw LSB."""

    def __init__(self, i2c, addr=0x6A):
        self._i2c = i2c
        self._addr = addr
        self._one = bytearray(1)
        self._raw = bytearray(6)

    def init(self):
        self._i2c.readfrom_mem_into(self._addr, _WHO_AM_I, self._one)
        if self._one[0] != WHO_AM_I:
            raise OSError("LSM6DSOX: WHO_AM_I 0x%02X at I2C 0x%02X, expected 0x6C"
                          % (self._one[0], self._addr))
        self._write(_CTRL3_C, 0x44)   # BDU + register auto-increment
        self._write(_CTRL1_XL, 0x40)  # 104 Hz, +-2 g

    def _write(self, reg, value):
        self._one[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._one)

    def read_into(self, xyz):
        self._i2c.readfrom_mem_into(self._addr, _OUTX_L_A, self._raw)
        r = self._raw
        for i in range(3):
            v = r[2 * i] | (r[2 * i + 1] << 8)
            xyz[i] = v - 65536 if v > 32767 else v
