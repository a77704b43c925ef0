"""Drivers in the MicroPython unix port against datasheet arithmetic and register-level fakes."""

import json

import pytest

from host.virtual import chips

# The AD9363's synthesizer, limits, bring-up and RSSI: tests/firmware/test_ad9363.py.


def _wire_radio(bus, power_dbm, temp_c=25.0, response=None):
    radio = chips.Ad9363(lambda f: power_dbm(f), lambda: temp_c, response)
    bus.wiring.spi[1] = {10: radio}
    bus.wiring.pin_out[10] = radio.cs
    bus.wiring.pin_out[9] = radio.resetb
    return radio


RADIO_SETUP = """
import json, machine, ad9363
spi = machine.SPI(1)
cs = machine.Pin(10, machine.Pin.OUT, value=1)
rst = machine.Pin(9, machine.Pin.OUT, value=1)
r = ad9363.Ad9363(spi, cs, rst)
r.reset()
r.init()
words = bytearray(ad9363.WORDS_PER_TUNE)
"""


def test_bandwidth_temperature_and_product_id(run_mpy, bus):
    radio = _wire_radio(bus, lambda f: -100.0, temp_c=40.0)
    got = run_mpy(RADIO_SETUP + """
div = r.set_rf_bandwidth(5000000)
print(json.dumps({"div": div, "t": r.temperature_cdeg(), "pid": r.product_id()}))
""", bus=bus)
    # BB bandwidth 2.5 MHz: ceil(983.04 MHz / (12.6906 x 2.5 MHz)) = ceil(30.985) = 31
    assert got["div"] == 31 and radio.regs[0x1F8] == 31 and radio.regs[0x1F9] & 1 == 0
    assert radio.regs[0x1FB] == 2 and radio.regs[0x1FC] == 64  # 2 MHz + 0.5 x 128
    # 40 C x 1.14 LSB/C = 45.6 -> register 46 -> 46 / 1.14 = 40.35 C
    assert got["t"] == 4035
    assert got["pid"] == 0x0A
    assert radio.regs[0x014] == 0x40 and radio.tx_requests == 0


def test_lock_loss_is_reported_not_hung(run_mpy, bus):
    radio = _wire_radio(bus, lambda f: -60.0)
    got = run_mpy(RADIO_SETUP + """
ad9363.pack_tune(words, 0, 1747500000, r.ref_hz)
print(json.dumps({"ok1": r.tune_packed(words, 0)}))
""", bus=bus)
    assert got["ok1"] is True
    radio.fault = "unlock"
    got = run_mpy(RADIO_SETUP.replace("r.reset()\nr.init()", "") + """
ad9363.pack_tune(words, 0, 1747500000, r.ref_hz)
print(json.dumps({"ok": r.tune_packed(words, 0)}))
""", bus=bus)
    assert got["ok"] is False


def test_silent_radio_fails_init_with_a_message(run_mpy, bus):
    radio = _wire_radio(bus, lambda f: -60.0)
    radio.fault = "silent"
    radio.fault_clears_on_reset = False
    got = run_mpy(RADIO_SETUP.replace("r.init()\n", """try:
    r.init()
    msg = None
except OSError as e:
    msg = str(e)
""") + "print(json.dumps({'msg': msg}))\n", bus=bus)
    assert "product ID reads 0x00" in got["msg"]


def test_barometer_compensation_returns_the_set_pressure(run_mpy, bus):
    state = {"p": 101325.0, "t": 21.5}
    baro = chips.Bmp388(lambda: state["p"], lambda: state["t"])
    bus.wiring.i2c[0] = {0x77: baro}
    out = []
    for p in (101325.0, 95000.0, 100900.0):
        state["p"] = p
        out.append(run_mpy("""
import json, machine, baro
b = baro.Bmp388(machine.I2C(0))
b.init()
p, t = b.read()
print(json.dumps([p, t]))
""", bus=bus))
    for (p, t), want in zip(out, (101325.0, 95000.0, 100900.0)):
        assert p == pytest.approx(want, abs=0.5)
        assert t == pytest.approx(21.5, abs=0.01)


def test_height_from_pressure_follows_the_standard_atmosphere(run_mpy):
    got = run_mpy("""
import json, baro
f = baro.FloorTracker(3.0)
f.set_floor(0, 101325.0)
print(json.dumps([baro.height_m(89874.6, 101325.0), f.update(101325.0 - 3 * 36.0)]))
""")
    # ICAO: 1000 m above MSL is 89874.6 Pa; near sea level 12.0 Pa per metre, so 108 Pa ~ 9 m = 3 floors
    assert got[0] == pytest.approx(1000.0, abs=1.0)
    assert got[1] == 3


@pytest.mark.parametrize("fake, module, cls, name, reg, found, want", [
    (chips.Lis3mdl, "lis3mdl", "Lis3mdl", "LIS3MDL", 0x0F, 0x33, "WHO_AM_I 0x33 at I2C 0x1C, expected 0x3D"),
    (chips.Lsm6dsox, "lsm6dsox", "Lsm6dsox", "LSM6DSOX", 0x0F, 0x6B, "WHO_AM_I 0x6B at I2C 0x6A, expected 0x6C"),
])
def test_a_wrong_chip_is_named_and_a_right_one_reads_signed_words(run_mpy, bus, fake, module, cls,
                                                                  name, reg, found, want):
    """At its datasheet address with the wrong identity (LIS3MDL 0x3D, LSM6DSOX 0x6C) the driver
    refuses with the chip's name; with the right one, ``read_into`` gives the fake's output
    registers decoded as little-endian int16 (struct '<3h' here, the driver's own bit
    arithmetic there), negative values included."""
    import struct

    chip = fake(lambda: (200.0, 30.0, -20.0))   # heading, pitch, roll: every axis non-zero
    bus.wiring.i2c[0] = {chip.ADDR: chip}
    code = """
import json, machine
from %s import %s
d = %s(machine.I2C(0))
try:
    d.init()
    xyz = [0, 0, 0]
    d.read_into(xyz)
    print(json.dumps({'xyz': xyz}))
except OSError as e:
    print(json.dumps({'msg': str(e)}))
""" % (module, cls, cls)
    assert run_mpy(code, bus=bus)["xyz"] == list(struct.unpack("<3h", bytes(chip.regs[0x28:0x2E])))
    assert any(v < 0 for v in struct.unpack("<3h", bytes(chip.regs[0x28:0x2E])))
    chip.regs[reg] = found
    assert run_mpy(code, bus=bus) == {"msg": "%s: %s" % (name, want)}
