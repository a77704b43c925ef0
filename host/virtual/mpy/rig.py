# The handheld's measurement parts built from the real drivers over this fake `machine`,
# wired as host/virtual/handheld.py wires the chips: the AD9363 on SPI 1 (CS pin 10, RESETB
# pin 9), LIS3MDL and LSM6DSOX on I2C 0 behind the compass, and the default calibration.
# For scripts that run the real measurement loop in the unix port (tests, benches).
import machine
import ad9363
from lis3mdl import Lis3mdl
from lsm6dsox import Lsm6dsox
from heading import Compass
from calibration import Calibration, DEFAULT_CALIBRATION


def measurement_parts():
    """Initialise the radio and the compass sensors; return (spi, radio, compass, calibration)."""
    spi = machine.SPI(1)
    radio = ad9363.Ad9363(spi, machine.Pin(10, machine.Pin.OUT, value=1),
                          machine.Pin(9, machine.Pin.OUT, value=1))
    radio.reset()
    radio.init()
    i2c = machine.I2C(0)
    mag = Lis3mdl(i2c)
    mag.init()
    imu = Lsm6dsox(i2c)
    imu.init()
    cal = Calibration()
    cal.load(DEFAULT_CALIBRATION)
    return spi, radio, Compass(mag, imu), cal
