"""Register-level fake of the AD9363 receive path, written from the chip's documents.

Sources (section names as in the documents): AD9361 Reference Manual UG-570 ("RF PLL",
"BBPLL", "Gain control threshold detectors", "Received signal strength indicator"), the
AD9361 register map UG-671 (addresses and bits), the AD9363 data sheet (325-3800 MHz,
<= 20 MHz RF bandwidth) and the characterisation values ADI publishes in its open no-OS
``ad9361`` driver (VCO look-up table for a 40 MHz reference, full-table gain metadata).

What the fake holds the firmware to (each item is a way a real board fails on day one):

* BBPLL: locks (0x05E bit 7) only when the clocks are enabled (0x009 bits 0-2), the
  charge pump (0x046) and loop filter (0x048-0x04A) are programmed, frequency calibration
  is enabled (0x04B bit 7), the words (0x041-0x044) put the BBPLL in 715-1430 MHz and a
  calibration is started by 0x03F = INIT_BB_FO_CAL | BBPLL_RESET_BAR.
* RF PLL: the reference reaches the synthesizer only with 0x2AB RX_REF_RESET_BAR; the
  VCO calibration, started by writing the integer byte 0x231, succeeds only when the VCO
  look-up registers (0x23A, 0x239, 0x242, 0x238, 0x251, 0x245, 0x250, 0x23B, 0x23E-0x240)
  were written since the previous tune with the row of the table for this VCO frequency.
* RSSI (UG-570 RSSI): gain-compensated and referred to the chip input, 0 to -127.75 dB in
  0.25 dB steps (0x1A7 [8:1], 0x1AB bit 0). After a retune the registers keep the previous
  measurement until the block, configured in SPI-restart mode (0x158 mode 4, weights
  0x152-0x155 summing to 0xFF), is restarted by 0x158 bit 5. A measurement completes
  between two SPI transactions, so bytes read in one burst belong together and bytes read
  in two transactions may not.
* Overload detectors (UG-570 "Gain control threshold detectors", 0x2B8): ADC large/small
  overload when the ADC's power over N = 0x0FC[2:0] + 1 sigma-delta samples (+-4 each)
  reaches the threshold 0x105 / 0x104 (so a power of T / (16 N) of full swing); LMT
  large/small overload when the analog peak reaches 16 mV x (0x108 / 0x107 [5:0] + 1),
  0 dBFS being 625 mV peak. Unprogrammed thresholds (0) read as overloaded.
* Gain (UG-570 'Full gain table'): the manual index 0x109 points into the gain table the
  firmware loaded through 0x130-0x137; the gain is the sum of the stage gains of that row.
  An unloaded table (all rows 0) gives the minimum gain at every index.
* Product ID 0x037: 0x08 in bits [7:3], the revision in [2:0].
* The transmitter: any FORCE_TX_ON is counted in ``tx_requests`` (a test asserts 0).
"""

import math
import random
import struct
from dataclasses import dataclass

# AD9363 tuning and bandwidth limits (data sheet; ADI's driver checks the same for AD9363A)
TUNE_MIN_HZ = 325e6
TUNE_MAX_HZ = 3800e6
VCO_MIN_HZ = 6e9
VCO_MAX_HZ = 12e9
MODULUS = 8388593       # RF PLL fractional modulus, 2^23 - 15 (UG-570)
BBPLL_MODULUS = 2088960
BBPLL_MIN_HZ = 715e6    # UG-570 BBPLL range
BBPLL_MAX_HZ = 1430e6
RSSI_MIN_DB = -127.75   # 9 bits of 0.25 dB

# VCO look-up rows for a 40 MHz RF PLL reference, TDD table (ADI no-OS ad9361.c, SynthLUT_TDD
# for references below 50 MHz): VCO MHz (row applies from this frequency up to the next
# row), output level, varactor, bias ref, bias tcf, cal offset, varactor reference, charge
# pump current, loop filter C2, C1, R1, C3, R3.
VCO_LUT_40MHZ = (
    (12605, 13, 1, 4, 2, 15, 12, 27, 12, 15, 12, 4, 13),
    (12245, 13, 1, 4, 2, 15, 12, 27, 12, 15, 12, 4, 13),
    (11906, 13, 1, 4, 2, 15, 12, 26, 11, 15, 12, 4, 13),
    (11588, 13, 1, 4, 2, 15, 12, 28, 12, 15, 12, 4, 13),
    (11288, 13, 1, 4, 2, 15, 12, 30, 12, 15, 12, 4, 13),
    (11007, 13, 1, 4, 2, 15, 12, 32, 12, 15, 12, 4, 13),
    (10742, 13, 1, 4, 2, 15, 12, 33, 12, 15, 12, 4, 13),
    (10492, 13, 1, 6, 2, 15, 12, 35, 12, 15, 12, 4, 13),
    (10258, 13, 1, 6, 2, 15, 12, 37, 12, 15, 12, 4, 13),
    (10036, 13, 1, 6, 2, 15, 12, 38, 12, 15, 12, 4, 13),
    (9827, 13, 1, 6, 2, 14, 12, 40, 12, 15, 12, 4, 13),
    (9631, 13, 1, 6, 2, 13, 12, 42, 12, 15, 12, 4, 13),
    (9445, 13, 1, 6, 2, 12, 12, 44, 12, 15, 12, 4, 13),
    (9269, 13, 1, 6, 2, 12, 12, 45, 12, 15, 12, 4, 13),
    (9103, 13, 1, 6, 2, 12, 12, 47, 12, 15, 12, 4, 13),
    (8946, 13, 1, 6, 2, 12, 12, 49, 12, 15, 12, 4, 13),
    (8797, 12, 1, 7, 2, 12, 12, 48, 12, 15, 12, 4, 13),
    (8655, 12, 1, 7, 2, 12, 12, 50, 12, 15, 12, 4, 13),
    (8520, 12, 1, 7, 2, 12, 12, 51, 12, 15, 12, 4, 13),
    (8392, 12, 1, 7, 2, 12, 12, 53, 12, 15, 12, 4, 13),
    (8269, 12, 1, 7, 2, 12, 12, 55, 12, 15, 12, 4, 13),
    (8153, 12, 1, 7, 2, 12, 12, 56, 12, 15, 12, 4, 13),
    (8041, 12, 1, 7, 2, 13, 12, 58, 12, 15, 12, 4, 13),
    (7934, 11, 1, 7, 2, 12, 12, 57, 12, 15, 12, 4, 13),
    (7831, 11, 1, 7, 2, 12, 12, 58, 12, 15, 12, 4, 13),
    (7733, 10, 1, 7, 3, 13, 12, 56, 12, 15, 12, 4, 13),
    (7638, 10, 1, 7, 2, 12, 12, 58, 12, 15, 12, 4, 13),
    (7547, 10, 1, 7, 2, 12, 12, 59, 12, 15, 12, 4, 13),
    (7459, 10, 1, 7, 2, 12, 12, 61, 12, 15, 12, 4, 13),
    (7374, 10, 2, 7, 3, 14, 13, 49, 12, 15, 12, 4, 13),
    (7291, 10, 2, 7, 3, 14, 13, 50, 12, 15, 12, 4, 13),
    (7212, 10, 2, 7, 3, 14, 13, 51, 12, 15, 12, 4, 13),
    (7135, 10, 2, 7, 3, 14, 13, 52, 12, 15, 12, 4, 13),
    (7061, 10, 2, 7, 3, 14, 13, 53, 12, 15, 12, 4, 13),
    (6988, 10, 1, 7, 3, 12, 14, 63, 11, 14, 12, 3, 13),
    (6918, 9, 2, 7, 3, 14, 13, 52, 12, 15, 12, 4, 13),
    (6850, 9, 2, 7, 3, 14, 13, 53, 12, 15, 12, 4, 13),
    (6784, 9, 2, 7, 2, 13, 13, 54, 12, 15, 12, 4, 13),
    (6720, 9, 2, 7, 2, 13, 13, 56, 12, 15, 12, 4, 13),
    (6658, 8, 2, 7, 3, 14, 13, 53, 12, 15, 12, 4, 13),
    (6597, 8, 2, 7, 2, 13, 13, 54, 12, 15, 12, 4, 13),
    (6539, 8, 2, 7, 2, 13, 13, 55, 12, 15, 12, 4, 13),
    (6482, 8, 2, 7, 2, 13, 13, 56, 12, 15, 12, 4, 13),
    (6427, 7, 2, 7, 3, 14, 13, 54, 12, 15, 12, 4, 13),
    (6373, 7, 2, 7, 3, 15, 13, 54, 12, 15, 12, 4, 13),
    (6321, 7, 2, 7, 3, 15, 13, 55, 12, 15, 12, 4, 13),
    (6270, 7, 2, 7, 3, 15, 13, 56, 12, 15, 12, 4, 13),
    (6222, 7, 2, 7, 3, 15, 13, 57, 12, 15, 12, 4, 13),
    (6174, 6, 2, 7, 3, 15, 13, 54, 12, 15, 12, 4, 13),
    (6128, 6, 2, 7, 3, 15, 13, 55, 12, 15, 12, 4, 13),
    (6083, 6, 2, 7, 3, 15, 13, 56, 12, 15, 12, 4, 13),
    (6040, 6, 2, 7, 3, 15, 13, 57, 12, 15, 12, 4, 13),
    (5997, 6, 2, 7, 3, 15, 13, 58, 12, 15, 12, 4, 13),
)
# The registers a VCO look-up row programs (UG-671 RX synthesizer block)
VCO_LUT_REGS = (0x23A, 0x239, 0x242, 0x238, 0x251, 0x245, 0x250, 0x23B, 0x23E, 0x23F, 0x240)


def vco_lut_row(vco_hz):
    """The look-up row for a VCO frequency: the first row (from the top) at or below it."""
    mhz = int(vco_hz // 1e6)
    for row in VCO_LUT_40MHZ:
        if row[0] <= mhz:
            return row
    return VCO_LUT_40MHZ[-1]


def vco_lut_expected(vco_hz):
    """{register: (mask, value)} the chip needs for this VCO frequency (UG-671 fields)."""
    (_, level, varactor, bias_ref, bias_tcf, cal_offset, var_ref, icp,
     c2, c1, r1, c3, r3) = vco_lut_row(vco_hz)
    return {
        0x23A: (0x4F, 0x40 | level),                 # PORb VCO logic | output level
        0x239: (0x0F, varactor),
        0x242: (0x1F, bias_ref | (bias_tcf << 3)),
        0x238: (0x78, cal_offset << 3),
        0x251: (0x0F, var_ref),
        0x245: (0x07, 0),                            # VCO cal ref tcf
        0x250: (0x7F, 0x70),                         # varactor ref tcf 7, offset 0
        0x23B: (0x3F, icp),
        0x23E: (0xFF, (c2 << 4) | c1),
        0x23F: (0xFF, (r1 << 4) | c3),
        0x240: (0x0F, r3),
    }


# ADI's default full Rx gain tables (no-OS ad9361.c full_gain_table; UG-570 'Full gain
# table'): per index the words for 0x131 (LNA [6:5], mixer [4:0]), 0x132 (TIA bit 5, LPF
# [4:0]) and 0x133 (digital [4:0]); the 800 MHz table serves LOs below 1300 MHz, the
# 2300 MHz table 1300-4000 MHz. The stage gains in dB per band (same source): LNA, mixer, TIA.
_COMMON = [
    (0x00, 0x00, 0x20), (0x00, 0x00, 0x00), (0x00, 0x00, 0x00),
    (0x00, 0x01, 0x00), (0x00, 0x02, 0x00), (0x00, 0x03, 0x00),
    (0x00, 0x04, 0x00), (0x00, 0x05, 0x00), (0x01, 0x03, 0x20),
    (0x01, 0x04, 0x00), (0x01, 0x05, 0x00), (0x01, 0x06, 0x00),
    (0x01, 0x07, 0x00), (0x01, 0x08, 0x00), (0x01, 0x09, 0x00),
    (0x01, 0x0A, 0x00), (0x01, 0x0B, 0x00), (0x01, 0x0C, 0x00),
    (0x01, 0x0D, 0x00), (0x01, 0x0E, 0x00), (0x02, 0x09, 0x20),
    (0x02, 0x0A, 0x00), (0x02, 0x0B, 0x00), (0x02, 0x0C, 0x00),
    (0x02, 0x0D, 0x00), (0x02, 0x0E, 0x00), (0x02, 0x0F, 0x00),
    (0x02, 0x10, 0x00), (0x02, 0x2B, 0x20), (0x02, 0x2C, 0x00),
]
_TOP = ([(0x44, 0x2E + i, 0x00) for i in range(0)]
        + [(0x64, 0x2E, 0x20)] + [(0x64, 0x2F + i, 0x00) for i in range(10)]
        + [(0x65 + i, 0x38, 0x20) for i in range(11)])
T800 = (_COMMON
        + [(0x04, 0x28, 0x20), (0x04, 0x29, 0x00), (0x04, 0x2A, 0x00), (0x04, 0x2B, 0x00),
           (0x24, 0x20, 0x20), (0x24, 0x21, 0x00), (0x44, 0x20, 0x20)]
        + [(0x44, 0x21 + i, 0x00) for i in range(18)] + _TOP)
T2300 = (_COMMON
         + [(0x04, 0x27, 0x20), (0x04, 0x28, 0x00), (0x04, 0x29, 0x00), (0x04, 0x2A, 0x00),
            (0x04, 0x2B, 0x00), (0x24, 0x21, 0x20), (0x24, 0x22, 0x00), (0x44, 0x20, 0x20)]
         + [(0x44, 0x21 + i, 0x00) for i in range(17)] + _TOP)
LNA = ((5, 17, 19, 24), (3, 14, 17, 21))
MIXER = ((0, 3, 9, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25),
         (0, 3, 9, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26))
TIA = (-6, 0)
DEFAULT_TABLES = (T800, T2300)


def stage_gain_db(lo_hz, words):
    """Receive-path gain of one gain-table row: the sum of the stage gains it selects."""
    band = 0 if lo_hz < 1300e6 else 1
    w1, w2, w3 = words
    return (LNA[band][(w1 >> 5) & 3] + MIXER[band][w1 & 0x1F] + TIA[(w2 >> 5) & 1]
            + (w2 & 0x1F) + (w3 & 0x1F))


def full_table_gain_db(lo_hz, index):
    """Gain of an index of ADI's default table for lo_hz (what a loaded chip gives)."""
    return stage_gain_db(lo_hz, DEFAULT_TABLES[0 if lo_hz < 1300e6 else 1][index])


@dataclass
class RssiResponse:
    """The true response of the receive chain (what a lab calibration would recover).

    The chip's RSSI is referred to its input: ``r = (p - offset_db) / slope`` for a power
    ``p`` at the antenna port (temperature-corrected), whatever the gain. The gain decides
    where the ADC sits: ``adc_dBFS = r + gain_db``, soft-limited at ``knee_dbfs`` (Rapp,
    s = 1); the RSSI algorithm subtracts the gain again, so compression shows in the RSSI
    at the input level ``knee_dbfs - gain_db``.
    """

    offset_db: float = 10.0
    slope: float = 1.0
    knee_dbfs: float = -5.0
    noise_floor_dbm: float = -100.0
    noise_db: float = 0.0
    temp_coef_db_per_c: float = 0.0
    t_ref_c: float = 25.0

    def input_level_db(self, power_dbm, temp_c):
        """Input-referred level (before compression) at the chip for a power at the port."""
        p_t = power_dbm + self.temp_coef_db_per_c * (temp_c - self.t_ref_c)
        p_n = 10.0 * math.log10(10.0 ** (p_t / 10.0) + 10.0 ** (self.noise_floor_dbm / 10.0))
        return (p_n - self.offset_db) / self.slope

    def adc_level_dbfs(self, power_dbm, gain_db, temp_c, rng):
        """ADC level in dBFS after the soft limiter, with the reading noise."""
        level = self.input_level_db(power_dbm, temp_c) + gain_db
        level -= 10.0 * math.log10(1.0 + 10.0 ** ((level - self.knee_dbfs) / 10.0))
        if self.noise_db > 0.0:
            level += rng.gauss(0.0, self.noise_db)
        return level

    def rssi_db(self, power_dbm, gain_db, temp_c, rng):
        """The chip's RSSI: ADC level with the receive-path gain subtracted (UG-570)."""
        return self.adc_level_dbfs(power_dbm, gain_db, temp_c, rng) - gain_db


class Ad9363:
    """SPI register model of the AD9363 receive path (AD9361 register map, UG-671).

    SPI (data sheet 'SPI interface'): CS low, a 16-bit instruction ``W/Rb | NB[2:0] << 12 |
    A[9:0]`` (NB = bytes - 1), then data, MSB first, the address decrementing per byte.
    """

    PRODUCT_ID = 0x0A   # AD9361-family id 0x08 | revision 2
    REF_HZ = 40e6

    def __init__(self, power_dbm, temperature_c, response=None, seed=1, product_id=None):
        self.power_dbm = power_dbm          # callable(freq_hz) -> dBm at the antenna port
        self.temperature_c = temperature_c  # callable() -> die temperature
        self.response = response or RssiResponse()
        self.rng = random.Random(seed)
        self.product_id = self.PRODUCT_ID if product_id is None else product_id
        self.fault = None                   # None | "silent" | "unlock"
        self.fault_clears_on_reset = True
        self.tx_requests = 0                # any attempt to enable the transmitter
        self.resets = 0
        self.rssi_reads = 0
        self.rssi_restarts = 0
        self.tunes = []                     # LO frequencies the synthesizer was set to
        self.vco_cal_failures = 0
        self.rssi_sequence = None           # test hook: iterator of successive RSSI codes
        self.reset()
        self.selected = False
        self._phase = 0
        self._instr = 0
        self._addr = 0
        self._remaining = 0
        self._write = False

    def reset(self):
        self.regs = bytearray(1024)
        self.regs[0x037] = self.product_id
        self.lo_hz = None
        self.vco_hz = None
        self._vco_ok = False
        self._bbpll_locked = False
        self._fresh = set()                 # VCO look-up registers written since the last tune
        self._rssi_running = False
        self._rssi_q = 0                    # the RSSI registers' content (0.25 dB steps)
        self.gain_table = [(0, 0, 0)] * 77  # Rx1 gain table memory: unloaded rows are 0

    # pins
    def resetb(self, level):
        if level == 0:
            self.resets += 1
            self.reset()
            if self.fault_clears_on_reset:
                self.fault = None

    def cs(self, level):
        self.selected = level == 0
        self._phase = 0
        if self.selected and self._rssi_running:
            # A new measurement completes between transactions, never inside one.
            self._rssi_q = self._measure_q()

    # SPI
    def xfer(self, mosi):
        out = bytearray(len(mosi))
        for i, b in enumerate(mosi):
            out[i] = self._clock_byte(b)
        return bytes(out)

    def _clock_byte(self, b):
        if self.fault == "silent":
            return 0x00
        if self._phase == 0:
            self._instr = b << 8
            self._phase = 1
            return 0
        if self._phase == 1:
            self._instr |= b
            self._write = bool(self._instr & 0x8000)
            self._remaining = ((self._instr >> 12) & 0x7) + 1
            self._addr = self._instr & 0x3FF
            self._phase = 2
            return 0
        if self._remaining <= 0:
            return 0
        addr = self._addr
        self._addr = (self._addr - 1) & 0x3FF
        self._remaining -= 1
        if self._write:
            self._write_reg(addr, b)
            return 0
        return self._read_reg(addr)

    # -- writes -----------------------------------------------------------------------
    def _write_reg(self, addr, value):
        if addr == 0x000 and value & 0x81:
            self.reset()
            return
        if addr == 0x037:
            return  # read-only
        self.regs[addr] = value
        if addr == 0x014 and value & 0x20:
            self.tx_requests += 1
        if addr in VCO_LUT_REGS:
            self._fresh.add(addr)
        if addr == 0x03F:
            self._bbpll_write(value)
        if addr == 0x231:
            self._tune()
        elif addr == 0x005 and self.vco_hz is not None:
            self.lo_hz = self.vco_hz / 2 ** ((value & 0x0F) + 1)
            self.tunes[-1] = self.lo_hz
        if addr == 0x016:
            # Calibrations (BB tune, etc.) complete at once: the self-clearing bits drop.
            self.regs[0x016] = 0
        if addr == 0x158 and value & 0x20:
            self._rssi_start()
        if addr == 0x137 and value & 0x06 == 0x06 and (value >> 3) & 0x01:
            # write | clock, Rx1 selected: the row at 0x130 takes 0x131-0x133
            r = self.regs
            self.gain_table[r[0x130] % 77] = (r[0x131], r[0x132], r[0x133])

    def _bbpll_write(self, value):
        r = self.regs
        if not value & 0x01:            # BBPLL_RESET_BAR low: held in reset
            self._bbpll_locked = False
            return
        if not value & 0x04:            # no INIT_BB_FO_CAL: the state stays as it was
            return
        ref = self.REF_HZ / (1, 2, 4, 0.5)[r[0x045] & 0x03]
        nint = r[0x044]
        nfrac = ((r[0x041] & 0x1F) << 16) | (r[0x042] << 8) | r[0x043]
        f_bbpll = ref * (nint + nfrac / BBPLL_MODULUS)
        self._bbpll_locked = (
            r[0x3DF] & 0x01 == 0x01           # REG_CTRL "set to 1"
            and r[0x009] & 0x07 == 0x07       # digital power up, must-be-1, BBPLL enable
            and r[0x046] & 0x3F != 0          # charge pump current
            and r[0x048] != 0 and r[0x049] != 0 and r[0x04A] != 0  # loop filter
            and r[0x04B] & 0x80 != 0          # frequency calibration enabled
            and BBPLL_MIN_HZ <= f_bbpll <= BBPLL_MAX_HZ)

    def rf_ref_hz(self):
        """The RX synthesizer reference after the 0x2AB/0x2AC scaler, or None (held in reset)."""
        r = self.regs
        if not r[0x2AB] & 0x02:           # RX_REF_RESET_BAR
            return None
        code = ((r[0x2AB] & 0x01) << 1) | (r[0x2AC] >> 7)
        return self.REF_HZ * (1.0, 0.5, 0.25, 2.0)[code]

    def _tune(self):
        r = self.regs
        nint = r[0x231] | ((r[0x232] & 0x07) << 8)
        nfrac = r[0x233] | (r[0x234] << 8) | ((r[0x235] & 0x7F) << 16)
        ref = self.rf_ref_hz()
        div = 2 ** ((r[0x005] & 0x0F) + 1)
        f_vco = (ref or 0.0) * (nint + nfrac / MODULUS)
        self.vco_hz = f_vco
        self.lo_hz = f_vco / div
        self.tunes.append(self.lo_hz)
        ok = ref is not None and self._bbpll_locked and VCO_MIN_HZ <= f_vco <= VCO_MAX_HZ
        if ok:
            for reg, (mask, want) in vco_lut_expected(f_vco).items():
                if reg not in self._fresh or r[reg] & mask != want:
                    ok = False
                    break
        if not ok:
            self.vco_cal_failures += 1
        self._vco_ok = ok
        self._fresh = set()
        # The RSSI block keeps its last result until it is restarted.
        self._rssi_running = False

    def _rssi_start(self):
        r = self.regs
        mode = (r[0x158] >> 2) & 0x07
        weights = r[0x152] + r[0x153] + r[0x154] + r[0x155]
        if mode == 4 and weights == 0xFF and r[0x150] & 0x0F:
            self._rssi_running = True
            self.rssi_restarts += 1

    # -- reads ------------------------------------------------------------------------
    def locked(self):
        return self.lo_hz is not None and self._vco_ok and self.fault != "unlock"

    def gain_index(self):
        return self.regs[0x109] & 0x7F

    def gain_db(self):
        """The receive gain: the stage gains of the table row the manual index points at."""
        return stage_gain_db(self.lo_hz or 0.0, self.gain_table[min(self.gain_index(), 76)])

    def _read_reg(self, addr):
        r = self.regs
        if addr == 0x247:  # Rx CP overrange / VCO lock: bit 1 VCO lock
            return 0x02 if self.locked() else 0x00
        if addr == 0x05E:  # bit 7: BBPLL lock
            return 0x80 if self._bbpll_locked and self.fault != "unlock" else 0x00
        if addr == 0x017:  # ENSM state, bits 3:0: 0x8 = RX when forced on with a locked BBPLL
            return 0x08 if r[0x014] & 0x40 and self._bbpll_locked else 0x05
        if addr == 0x00E:  # temperature, 1.14 LSB per degree C (signed)
            raw = int(round(self.temperature_c() * 1.14)) + struct.unpack("b", bytes([r[0x00B]]))[0]
            return max(-128, min(127, raw)) & 0xFF
        if addr == 0x1A7:  # Rx1 RSSI symbol [8:1]
            self.rssi_reads += 1
            return (self._rssi_q >> 1) & 0xFF
        if addr == 0x1AB:  # bit 0: Rx1 RSSI symbol [0]
            return self._rssi_q & 1
        if addr == 0x2B8:  # overload signals Rx1
            return self._overload_bits()
        return r[addr]

    def _adc_level_dbfs(self):
        """Uncompressed ADC level for the current tune (what the peak detectors see)."""
        r_in = self.response.input_level_db(self.power_dbm(self.lo_hz), self.temperature_c())
        return r_in + self.gain_db()

    def _measure_q(self):
        if self.rssi_sequence is not None:
            return next(self.rssi_sequence)
        if not self.locked():
            return 511
        rssi = self.response.rssi_db(self.power_dbm(self.lo_hz), self.gain_db(),
                                     self.temperature_c(), self.rng)
        return max(0, min(511, int(round(-rssi * 4.0))))

    def _overload_bits(self):
        if not self.locked():
            return 0
        r = self.regs
        level = self._adc_level_dbfs()
        n = (r[0x0FC] & 0x07) + 1
        bits = 0
        # ADC detector: sum of squares of n sigma-delta outputs (+-4 each) against T
        for thr, bit in ((r[0x105], 0x04), (r[0x104], 0x02)):
            if thr == 0 or level >= 10.0 * math.log10(thr / (16.0 * n)):
                bits |= bit
        # LMT detector: analog peak against 16 mV x (T + 1), 0 dBFS = 625 mV peak
        peak_mv = 625.0 * 10.0 ** (level / 20.0)
        for thr, bit in ((r[0x108] & 0x3F, 0x10), (r[0x107] & 0x3F, 0x08)):
            if peak_mv >= 16.0 * (thr + 1):
                bits |= bit
        return bits
