# A register-mapped sensor on I2C, as the magnetometer, accelerometer and barometer are:
# the identity check at init, one-byte register writes, and the little-endian signed 16-bit
# x, y, z read that LIS3MDL and LSM6DSOX share.  Buffers are made once: reads allocate
# nothing, so they may run in the measurement loop under heap_lock.


class I2cChip:
    NAME = "I2C chip"  # the chip's name in error messages
    ADDR = 0x00        # its default I2C address

    def __init__(self, i2c, addr=None, raw_len=6):
        self._i2c = i2c
        self._addr = self.ADDR if addr is None else addr
        self._one = bytearray(1)
        self._raw = bytearray(raw_len)

    def _check_id(self, reg, expected, what="WHO_AM_I"):
        self._i2c.readfrom_mem_into(self._addr, reg, self._one)
        if self._one[0] != expected:
            raise OSError("%s: %s 0x%02X at I2C 0x%02X, expected 0x%02X"
                          % (self.NAME, what, self._one[0], self._addr, expected))

    def _write(self, reg, value):
        self._one[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._one)

    def _read_xyz_into(self, reg, xyz):
        """Fill the 3-int array ``xyz`` with the signed 16-bit words at ``reg`` (raw LSB)."""
        self._i2c.readfrom_mem_into(self._addr, reg, self._raw)
        r = self._raw
        for i in range(3):
            v = r[2 * i] | (r[2 * i + 1] << 8)
            xyz[i] = v - 65536 if v > 32767 else v
