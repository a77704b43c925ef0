"""The AD9363 driver in the MicroPython unix port against the register-level fake written
from UG-570/UG-671 (host/virtual/ad9363.py): bring-up, limits, synthesizer, RSSI meaning."""

import itertools
import math

import pytest

from dsp import bands as B
from host.virtual import ad9363 as fake
from host.virtual import chips

REF_HZ = 40000000
# UG-570 RF PLL with ADI's divider rule (double the LO while it is <= 6 GHz):
# f_vco = f * 2^(code+1), N = f_vco / 40 MHz, Nfrac = round(frac(N) * 8388593). By hand:
FREQS_HZ = [325000000, 375000000, 700000000, 750000000, 836500000, 897600000, 1500000000,
            1747500000, 1950000000, 2535000000, 3000000000, 3800000000]
EXPECTED_WORDS = [
    (260, 0, 4),        # 325 MHz x 32 = 10.4 GHz
    (300, 0, 4),        # 375 MHz: 6.0 GHz is not above 6 GHz, so x 32 = 12 GHz (ADI)
    (280, 0, 3),        # 700 MHz x 16 = 11.2 GHz
    (300, 0, 3),        # 750 MHz: x 16 = 12 GHz, not x 8 = 6 GHz
    (167, 2516578, 2),  # 836.5 MHz x 8 = 6.692 GHz, N = 167.3; 0.3 x 8388593 = 2516577.9
    (179, 4362068, 2),  # 897.6 MHz x 8 = 7.1808 GHz, 0.52 x 8388593 = 4362068.36
    (300, 0, 2),        # 1500 MHz: x 8 = 12 GHz
    (174, 6291445, 1),  # 1747.5 MHz x 4 = 6.99 GHz, 0.75 x 8388593 = 6291444.75
    (195, 0, 1),        # 1950 MHz x 4 = 7.8 GHz
    (253, 4194297, 1),  # 2535 MHz x 4 = 10.14 GHz, 0.5 x 8388593 = 4194296.5 (half up)
    (300, 0, 1),        # 3000 MHz: x 4 = 12 GHz, not x 2 = 6 GHz
    (190, 0, 0),        # 3800 MHz x 2 = 7.6 GHz
]

RADIO_SETUP = """
import json, machine, ad9363
spi = machine.SPI(1)
cs = machine.Pin(10, machine.Pin.OUT, value=1)
rst = machine.Pin(9, machine.Pin.OUT, value=1)
r = ad9363.Ad9363(spi, cs, rst)
r.reset()
r.init()
words = bytearray(ad9363.WORDS_PER_TUNE)
def tune(f, gain_db=40):
    ad9363.pack_tune(words, 0, f, r.ref_hz)
    r.set_gain_index(ad9363.gain_index(gain_db, f))
    return r.tune_packed(words, 0)
"""


def _wire(bus, power_dbm, temp_c=25.0, response=None, **kw):
    radio = chips.Ad9363(power_dbm, lambda: temp_c, response, **kw)
    bus.wiring.spi[1] = {10: radio}
    bus.wiring.pin_out[10] = radio.cs
    bus.wiring.pin_out[9] = radio.resetb
    return radio


def test_synthesizer_words_and_divider_follow_adi(run_mpy):
    got = run_mpy("""
import json, ad9363
out = [list(ad9363.rx_synth_words(f, 40000000))[:3] for f in %r]
bad = []
for f in (300000000, 3801000000, 4850000000):
    try:
        ad9363.rx_synth_words(f, 40000000)
    except ValueError as e:
        bad.append(str(e))
print(json.dumps({"words": out, "rejected": bad}))
""" % FREQS_HZ)
    assert [tuple(w) for w in got["words"]] == EXPECTED_WORDS
    assert len(got["rejected"]) == 3
    assert "325-3800 MHz, not 4850 MHz" in got["rejected"][2]


def test_every_supported_band_edge_tunes_with_a_locked_vco(run_mpy, bus):
    """The lowest and highest uplink channel of every band the tables hold, where the
    AD9363 reaches it; the ones above 3.8 GHz are refused with the reason."""
    edges = []
    for name, seg in B._GSM.items():
        lo = seg["segments"][0][2]
        hi = seg["segments"][-1][2] + 0.2 * (seg["segments"][-1][1] - seg["segments"][-1][0])
        edges += [lo * 1e6, hi * 1e6]
    for band, (_, _, _, _, ful, noffs, nfirst, nlast) in B._LTE.items():
        edges += [ful * 1e6 + 0.1e6 * (nfirst - noffs), ful * 1e6 + 0.1e6 * (nlast - noffs)]
    for band, (ul_first, ul_last, _, _, _) in B._NR.items():
        edges += [B._nr_freq_hz(ul_first), B._nr_freq_hz(ul_last)]
    edges = sorted({int(round(f)) for f in edges})
    inside = [f for f in edges if 325e6 <= f <= 3800e6]
    outside = [f for f in edges if f > 3800e6]
    assert len(inside) >= 30 and outside  # n77 top and n79 are beyond the chip
    radio = _wire(bus, lambda f: -80.0)
    got = run_mpy(RADIO_SETUP + """
locked = [tune(f) for f in %r]
refused = []
for f in %r:
    try:
        tune(f)
    except ValueError as e:
        refused.append(str(e))
print(json.dumps({"locked": locked, "refused": refused}))
""" % (inside, outside), bus=bus)
    assert all(got["locked"]), [f for f, ok in zip(inside, got["locked"]) if not ok]
    assert radio.vco_cal_failures == 0
    assert len(got["refused"]) == len(outside)
    assert all("325-3800 MHz" in m and "second front end" in m for m in got["refused"])
    for f, lo in zip(inside[-3:], radio.tunes[-3:]):   # refused ones never reach the chip
        assert lo == pytest.approx(f, abs=5)


def test_vco_calibration_fails_without_the_lookup_values(run_mpy, bus):
    # Writing only the synthesizer words, as a driver without the VCO look-up would, leaves
    # the fake's VCO uncalibrated; the driver's tune with the look-up row locks.
    radio = _wire(bus, lambda f: -80.0)
    got = run_mpy(RADIO_SETUP + """
ad9363.pack_tune(words, 0, 1747500000, r.ref_hz)
b = bytearray(7)
for i in range(5):
    b[2 + i] = words[i]
r._write_buf(b, 0x235)
r._write_reg(0x005, words[5])
bare = r.locked()
full = r.tune_packed(words, 0)
print(json.dumps({"bare": bare, "full": full}))
""", bus=bus)
    assert got == {"bare": False, "full": True}
    assert radio.vco_cal_failures == 1


def test_bbpll_does_not_lock_on_its_words_alone(run_mpy, bus):
    # The old bring-up: reset, BBPLL words 0x041-0x044 and nothing else.
    radio = _wire(bus, lambda f: -80.0)
    got = run_mpy(RADIO_SETUP.replace("r.init()\n", "") + """
for a, v in ((0x041, 0x0C), (0x042, 0xC0), (0x043, 0x00), (0x044, 0x18)):
    r._write_reg(a, v)
before = r._read_reg(0x05E) & 0x80
r.init()
print(json.dumps({"before": before, "after": r._read_reg(0x05E) & 0x80}))
""", bus=bus)
    assert got == {"before": 0, "after": 0x80}
    # UG-671 0x009: digital power up, the must-be-1 bit and BBPLL enable
    assert radio.regs[0x009] & 0x07 == 0x07 and radio.regs[0x03F] & 0x01


def test_init_keeps_a_loaded_profile_and_accepts_any_revision(run_mpy, bus):
    radio = _wire(bus, lambda f: -80.0, product_id=0x0B)   # AD9361 family, revision 3
    got = run_mpy(RADIO_SETUP.replace("r.init()\n", """resets = None
r.load_profile([(0x003, 0xE4), (0x004, 0x03), (0x239, 0x70)])
r.init()
""") + """
print(json.dumps({"pid": r.product_id(), "ok": tune(1950000000)}))
""", bus=bus)
    assert got == {"pid": 0x0B, "ok": True}
    assert radio.resets == 1                       # the cold start only
    assert radio.regs[0x003] == 0xE4 and radio.regs[0x004] == 0x03
    assert radio.regs[0x239] & 0xF0 == 0x70        # the profile's init ALC value kept


def test_a_wrong_product_id_is_named(run_mpy, bus):
    _wire(bus, lambda f: -80.0, product_id=0x12)
    got = run_mpy(RADIO_SETUP.replace("r.init()\n", """try:
    r.init()
    msg = None
except OSError as e:
    msg = str(e)
""") + "print(json.dumps({'msg': msg}))\n", bus=bus)
    assert "product ID reads 0x12" in got["msg"]


def test_bandwidth_above_20_mhz_is_refused(run_mpy, bus):
    _wire(bus, lambda f: -80.0)
    got = run_mpy(RADIO_SETUP + """
out = [r.set_rf_bandwidth(20000000)]
try:
    r.set_rf_bandwidth(40000000)
except ValueError as e:
    out.append(str(e))
print(json.dumps(out))
""", bus=bus)
    # BB 10 MHz: ceil(983.04 MHz / (12.6906 x 10 MHz)) = ceil(7.746) = 8
    assert got[0] == 8
    assert "at most 20 MHz" in got[1]


@pytest.mark.parametrize("power_dbm, gain_db, expected_q", [
    # RSSI = input-referred level: (P - 10 dB) / 1 whatever the gain; 0.25 dB steps
    (-60.0, 40, 280),   # -70 dB (+0.0004 dB of noise floor)
    (-60.0, 10, 280),   # same input, 30 dB less gain: same RSSI
    (-90.0, 40, 398),   # 10 log10(10^-9 + 10^-10) - 10 = -99.586 dB -> 398.3
    (-30.0, 10, 160),   # -40 dB, ADC at -30 dBFS: 0.014 dB of compression
    # ADC at 0 dBFS with 40 dB gain: Rapp s = 1 at knee -5 dBFS takes 6.19 dB off:
    # 0 - 10 log10(1 + 10^0.5) = -6.193 dBFS, minus the 40 dB gain = -46.19 dB -> 184.8
    (-30.0, 40, 185),
])
def test_rssi_is_input_referred_and_gain_compensated(run_mpy, bus, power_dbm, gain_db,
                                                     expected_q):
    radio = _wire(bus, lambda f: power_dbm)
    got = run_mpy(RADIO_SETUP + """
ok = tune(1747500000, %d)
print(json.dumps({"locked": ok, "q": [r.read_rssi_q() for _ in range(3)]}))
""" % gain_db, bus=bus)
    assert got["locked"] is True
    assert got["q"] == [expected_q] * 3
    assert radio.gain_db() == gain_db


def test_gain_index_follows_adi_tables(run_mpy):
    got = run_mpy("""
import json, ad9363
print(json.dumps([[ad9363.gain_index(g, f), ad9363.index_gain_db(ad9363.gain_index(g, f), f)]
                  for f, g in ((836500000, 40), (1747500000, 40), (1747500000, -10),
                               (1747500000, 71), (3500000000, 20), (836500000, 73))]))
""")
    # ADI's tables: 800 MHz table index - 3 dB, 2300 MHz table index - 5 dB, from index 2
    assert got == [[43, 40], [45, 40], [2, -3], [76, 71], [25, 20], [76, 73]]
    # the same from the stage gains of each row of ADI's tables, as the fake sums them
    for f, idx, gain in ((836.5e6, 43, 40), (1747.5e6, 45, 40), (1747.5e6, 2, -3),
                         (836.5e6, 76, 73), (1747.5e6, 76, 71)):
        assert chips.full_table_gain_db(f, idx) == gain


def test_gain_table_is_loaded_and_follows_the_lo(run_mpy, bus):
    # Before any tune the chip's table is empty: every index gives the minimum gain. A tune
    # loads ADI's table for the LO's band, again when the LO crosses 1300 MHz.
    radio = _wire(bus, lambda f: -80.0)
    got = run_mpy(RADIO_SETUP + """
out = []
for f in (836500000, 897600000, 1747500000, 836500000):
    out.append(tune(f, 40))
print(json.dumps(out))
""", bus=bus)
    assert got == [True] * 4
    assert radio.gain_db() == 40                   # index 43 of the 800 MHz table
    assert radio.gain_table == list(fake.T800)
    empty = chips.Ad9363(lambda f: -80.0, lambda: 25.0)
    empty.lo_hz = 836.5e6
    empty.regs[0x109] = 43
    assert empty.gain_db() == -1                   # LNA 5 + mixer 0 + TIA -6 + LPF 0


def test_rssi_restarts_after_every_tune(run_mpy, bus):
    # 1950 MHz is loud, 1747.5 MHz quiet: right after the retune the reading must be the
    # quiet one; the fake keeps the old measurement until the block is restarted.
    radio = _wire(bus, lambda f: -40.0 if abs(f - 1950e6) < 1e3 else -90.0)
    got = run_mpy(RADIO_SETUP + """
tune(1950000000)
loud = r.read_rssi_q()
tune(1747500000)
quiet = r.read_rssi_q()
print(json.dumps([loud, quiet]))
""", bus=bus)
    # -50 dB with the ADC at -10 dBFS (1.19 dB into the limiter): -51.19 dB -> 204.8;
    # -99.586 dB -> 398.3
    assert got == [205, 398]
    assert radio.rssi_restarts == 2


def test_rssi_bits_come_from_one_measurement(run_mpy, bus):
    # Measurements alternate 201 / 202 (0x64 + 1, 0x65 + 0): reading [8:1] and [0] in two
    # transactions would pair them across two measurements (200 or 203).
    radio = _wire(bus, lambda f: -80.0)
    radio.rssi_sequence = itertools.cycle([201, 202])
    got = run_mpy(RADIO_SETUP + """
tune(1747500000)
print(json.dumps([r.read_rssi_q() for _ in range(8)]))
""", bus=bus)
    assert set(got) <= {201, 202} and len(set(got)) == 2


@pytest.mark.parametrize("power_dbm, gain_db, overloaded", [
    (-40.0, 40, False),   # ADC at -10 dBFS
    (-5.0, 40, True),     # ADC at +25 dBFS (before the limiter): large ADC overload
    (-5.0, 0, False),     # the same input with no gain: ADC at -15 dBFS
])
def test_saturation_comes_from_the_overload_detectors(run_mpy, bus, power_dbm, gain_db,
                                                      overloaded):
    radio = _wire(bus, lambda f: power_dbm)
    got = run_mpy(RADIO_SETUP + """
tune(1747500000, %d)
print(json.dumps(r.overloaded()))
""" % gain_db, bus=bus)
    assert got is overloaded
    # ADI's thresholds: large ADC 58 of 16 x 4 (-0.43 dB of full swing), LMT 800 mV
    assert radio.regs[0x105] == 58 and radio.regs[0x0FC] & 7 == 3 and radio.regs[0x108] == 49
    assert 10 * math.log10(58 / 64) == pytest.approx(-0.43, abs=0.01)


def test_calibration_made_at_one_gain_holds_at_another(run_mpy, bus):
    """Calibrate at 40 dB (bench), hunt at 20 dB and others: a true -80 dBm reads -80 dBm
    within 0.5 dB. With the gain subtracted a second time it read -60 dBm at 20 dB."""
    true_dbm = -80.0
    response = chips.RssiResponse(offset_db=7.0, slope=1.0, noise_floor_dbm=-130.0)
    _wire(bus, lambda f: true_dbm, response=response)
    got = run_mpy(RADIO_SETUP + """
import struct, protocol
from calibration import Calibration, FIELDS
from measure import Hunter, Position

class Outbox:
    def __init__(self):
        self.buf = bytearray(protocol.MAX_FRAME)
        self.frames = []
    def raw(self):
        return self.buf
    def send(self, msg_type, n, time_ms):
        off = protocol.PAYLOAD_OFFSET
        self.frames.append(struct.unpack("<BBhHb", self.buf[off:off + 7]))

F = 1747500000
cal = Calibration()
cal.load({"calibration_id": 1, "entries": [dict(zip(FIELDS, (1700, 1880, 0, 10000, 0, 2500,
                                                            -12000, 2000, 40)))]})
ob = Outbox()
bench = Hunter(r, None, cal, ob, Position(), dwell_ms=1, reads=4, settle_us=0, gain_db=40)
bench.set_bench(F, 40)
bench.bench_cycle()
reading_cdb = ob.frames[-1][2]        # the F_UNCALIBRATED frame: the reading itself
offset_cdb = int(%d - reading_cdb)    # the bench's fit for slope 1: offset = P - reading
cal.load({"calibration_id": 2, "entries": [dict(zip(FIELDS, (1700, 1880, offset_cdb, 10000,
                                                            0, 2500, -12000, 2000, 40)))]})
out = []
for g in (40, 20, 10, 30, 50):
    ob.frames = []
    h = Hunter(r, None, cal, ob, Position(), dwell_ms=1, reads=4, settle_us=0, gain_db=g)
    h.load_targets([(F, 5000000)])
    h.cycle()
    out.append([g, ob.frames[-1][2], ob.frames[-1][4]])
print(json.dumps(out))
""" % int(true_dbm * 100), bus=bus, heap_kb=512)
    for gain_db, cdbm, frame_gain in got:
        assert frame_gain == gain_db
        assert abs(cdbm / 100.0 - true_dbm) <= 0.5, (gain_db, cdbm)
