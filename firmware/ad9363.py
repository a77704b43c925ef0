# AD9363 (AD9361 family) receive path over SPI: reset, RX synthesizer with lock check,
# RF bandwidth, manual gain, RSSI and temperature read-back.
#
# Sources: AD9361 Register Map Reference Manual (UG-671) for addresses and bits, AD9361
# Reference Manual (UG-570) for the synthesizer equations, gain tables and the baseband
# filter tune, and the AD9363 datasheet (70 MHz - 6 GHz tuning, 'SPI interface').
# The transmitter is never configured and ENSM is only ever forced into RX: this driver
# cannot transmit.
#
# Scope: the registers the hunt uses. A production board first loads the full AD9361
# initialisation profile (clocking, Rx calibrations, gain tables: the sequence ADI's no-OS
# driver or init-script generator produces); init() here resets the chip, checks it,
# programs the BBPLL and forces RX, which is what the virtual handheld's fake models.
from micropython import const
import time

# UG-671 register map
_REG_SPI_CONF = const(0x000)        # bit 7 and its mirror bit 0: soft reset
_REG_RFPLL_DIVIDERS = const(0x005)  # [3:0] Rx LO divider code (divide by 2^(code+1))
_REG_TEMPERATURE = const(0x00E)     # die temperature, 1.14 LSB per degree C
_REG_ENSM_CONFIG_1 = const(0x014)   # bit 6 FORCE_RX_ON (bit 5 FORCE_TX_ON is never set)
_REG_CALIBRATION_CTRL = const(0x016)  # bit 7 Rx BB tune (self-clearing)
_REG_STATE = const(0x017)           # [3:0] ENSM state
_REG_PRODUCT_ID = const(0x037)
_REG_BBPLL_FRACT_2 = const(0x041)   # 0x041..0x043 fractional word (MSB first), 0x044 integer
_REG_BBPLL_INT = const(0x044)
_REG_CH1_OVERFLOW = const(0x05E)    # bit 7 BBPLL lock
_REG_AGC_CONFIG_1 = const(0x0FA)    # [1:0] Rx1 gain control mode, 00 = manual
_REG_RX1_MANUAL_GAIN = const(0x109)  # [6:0] full-table gain index
_REG_RX1_RSSI_SYMBOL = const(0x1A7)  # RSSI [8:1], 0.25 dB per LSB, dB below full scale
_REG_SYMBOL_LSB = const(0x1AB)      # bit 0: Rx1 RSSI symbol [0]
_REG_RX_BBF_TUNE_DIVIDE = const(0x1F8)
_REG_RX_BBF_TUNE_CONFIG = const(0x1F9)  # bit 0: tune divide [8]
_REG_RX_BBBW_MHZ = const(0x1FB)
_REG_RX_BBBW_KHZ = const(0x1FC)     # fraction of a MHz in 1/128 steps
_REG_RX_FRACT_BYTE_2 = const(0x235)  # 0x235..0x233 fractional word, 0x232..0x231 integer
_REG_RX_CP_VCO_LOCK = const(0x247)  # bit 1 VCO lock

PRODUCT_ID = const(0x0A)
RFPLL_MODULUS = const(8388593)      # UG-570: 2^23 - 15
BBPLL_MODULUS = const(2088960)      # UG-570 BBPLL fractional modulus
# Above 2^30: plain ints, not const(), so 32-bit ports keep them as long ints.
VCO_MIN_HZ = 6000000000
VCO_MAX_HZ = 12000000000
TUNE_MIN_HZ = 70000000
TUNE_MAX_HZ = 6000000000
_FORCE_RX_ON = const(0x40)
_ENSM_RX = const(0x8)
# Bounds on waiting for the chip (UG-570: VCO calibration and lock take well under 1 ms;
# the BB filter tune a few hundred microseconds). Past them the chip is declared faulty.
_LOCK_TIMEOUT_US = const(2000)
_CAL_TIMEOUT_US = const(10000)
MAX_GAIN_INDEX = const(76)
WORDS_PER_TUNE = const(6)  # frac[22:16], frac[15:8], frac[7:0], int[10:8], int[7:0], divider


def rx_synth_words(freq_hz, ref_hz):
    """RX synthesizer words for an LO frequency (UG-570 'RF PLL' equations).

    The VCO runs at 6-12 GHz; the LO is the VCO divided by 2^(code+1), code 0..6.
    f_vco = freq * 2^(code+1);  N = f_vco / f_ref;  Nint = floor(N);
    Nfrac = round((N - Nint) * 8388593).  Returns (nint, nfrac, code).
    """
    if not TUNE_MIN_HZ <= freq_hz <= TUNE_MAX_HZ:
        raise ValueError("AD9363 tunes 70 MHz - 6 GHz, not %d Hz" % freq_hz)
    code = 0
    f_vco = freq_hz * 2
    while f_vco < VCO_MIN_HZ:
        code += 1
        f_vco *= 2
    nint = f_vco // ref_hz
    rem = f_vco - nint * ref_hz
    nfrac = (rem * RFPLL_MODULUS + ref_hz // 2) // ref_hz
    if nfrac >= RFPLL_MODULUS:
        nint += 1
        nfrac = 0
    return nint, nfrac, code


def pack_tune(buf, offset, freq_hz, ref_hz):
    """Store the six tuning bytes for freq_hz in buf[offset:offset + 6], in burst order."""
    nint, nfrac, code = rx_synth_words(freq_hz, ref_hz)
    buf[offset] = (nfrac >> 16) & 0x7F
    buf[offset + 1] = (nfrac >> 8) & 0xFF
    buf[offset + 2] = nfrac & 0xFF
    buf[offset + 3] = (nint >> 8) & 0x07
    buf[offset + 4] = nint & 0xFF
    buf[offset + 5] = code


def full_table_min_gain_db(freq_hz):
    """Gain of full-table index 0 in UG-570's default Rx gain tables (1 dB per index):
    800 MHz table -1..73 dB, 2300 MHz table -3..71 dB, 5500 MHz table -10..62 dB."""
    if freq_hz < 1300000000:
        return -1
    if freq_hz < 4000000000:
        return -3
    return -10


class Ad9363:
    """The AD9363 on an SPI bus with its chip-select and RESETB pins.

    Hot-path methods (``tune_packed``, ``read_rssi_q``) allocate nothing.
    """

    def __init__(self, spi, cs, resetb, ref_hz=40000000, bbpll_hz=983040000):
        self._spi = spi
        self._cs = cs
        self._resetb = resetb
        self.ref_hz = ref_hz
        self.bbpll_hz = bbpll_hz
        self._tx = bytearray(3)
        self._rx = bytearray(3)
        self._burst = bytearray(7)

    # -- bus --------------------------------------------------------------------------
    def _read_reg(self, addr):
        # Instruction: bit 15 = 0 (read), NB = 0 (one byte), A[9:0].
        self._tx[0] = (addr >> 8) & 0x03
        self._tx[1] = addr & 0xFF
        self._tx[2] = 0
        self._cs(0)
        try:
            self._spi.write_readinto(self._tx, self._rx)
        finally:
            self._cs(1)
        return self._rx[2]

    def _write_reg(self, addr, value):
        self._tx[0] = 0x80 | ((addr >> 8) & 0x03)
        self._tx[1] = addr & 0xFF
        self._tx[2] = value & 0xFF
        self._cs(0)
        try:
            self._spi.write(self._tx)
        finally:
            self._cs(1)

    def _write_burst5(self, addr, words, offset):
        # Five bytes from addr downwards: W=1, NB=4; the address decrements per byte.
        b = self._burst
        b[0] = 0xC0 | ((addr >> 8) & 0x03)
        b[1] = addr & 0xFF
        for i in range(5):
            b[2 + i] = words[offset + i]
        self._cs(0)
        try:
            self._spi.write(b)
        finally:
            self._cs(1)

    def _wait_bit(self, addr, mask, want, timeout_us):
        # At least two reads, then until the time bound: never a hang, whatever the chip says.
        t0 = time.ticks_us()
        n = 0
        while True:
            if (self._read_reg(addr) & mask) == want:
                return True
            n += 1
            if n >= 2 and time.ticks_diff(time.ticks_us(), t0) > timeout_us:
                return False

    # -- bring-up ---------------------------------------------------------------------
    def hard_reset(self):
        self._resetb(0)
        time.sleep_ms(1)
        self._resetb(1)
        time.sleep_ms(1)

    def init(self):
        """Reset and bring up the receive path; raise OSError naming what failed."""
        self.hard_reset()
        self._write_reg(_REG_SPI_CONF, 0x81)
        self._write_reg(_REG_SPI_CONF, 0x00)
        pid = self._read_reg(_REG_PRODUCT_ID)
        if pid != PRODUCT_ID:
            raise OSError("AD9363: product ID reads 0x%02X, expected 0x%02X (SPI wiring or power)"
                          % (pid, PRODUCT_ID))
        self._set_bbpll()
        # Manual gain control on Rx1 (UG-570 'Manual gain control').
        self._write_reg(_REG_AGC_CONFIG_1, self._read_reg(_REG_AGC_CONFIG_1) & 0xFC)
        self._write_reg(_REG_ENSM_CONFIG_1, _FORCE_RX_ON)
        state = self._read_reg(_REG_STATE) & 0x0F
        if state != _ENSM_RX:
            raise OSError("AD9363: ENSM state 0x%X after forcing RX, expected 0x8" % state)

    def _set_bbpll(self):
        # f_bbpll = f_ref * (Nint + Nfrac / 2088960)
        nint = self.bbpll_hz // self.ref_hz
        rem = self.bbpll_hz - nint * self.ref_hz
        nfrac = (rem * BBPLL_MODULUS + self.ref_hz // 2) // self.ref_hz
        self._write_reg(_REG_BBPLL_FRACT_2, (nfrac >> 16) & 0x1F)
        self._write_reg(_REG_BBPLL_FRACT_2 + 1, (nfrac >> 8) & 0xFF)
        self._write_reg(_REG_BBPLL_FRACT_2 + 2, nfrac & 0xFF)
        self._write_reg(_REG_BBPLL_INT, nint & 0xFF)
        if not self._wait_bit(_REG_CH1_OVERFLOW, 0x80, 0x80, _LOCK_TIMEOUT_US):
            raise OSError("AD9363: BBPLL did not lock (reg 0x05E bit 7 stayed 0)")

    def product_id(self):
        return self._read_reg(_REG_PRODUCT_ID)

    # -- receive settings -------------------------------------------------------------
    def set_rf_bandwidth(self, bw_hz):
        """Set the Rx baseband filter for an RF bandwidth (baseband = RF / 2) and run the
        BB filter tune (UG-570 'Rx baseband filter calibration':
        divider = ceil(f_bbpll / (1.4 * 2 pi * BBBW / ln 2)))."""
        bb = bw_hz // 2
        if bb < 200000:
            bb = 200000
        elif bb > 28000000:
            bb = 28000000
        target = 126906 * (bb // 10000)  # 1.4 * 2 pi / ln 2 = 12.6906, bb in 10 kHz units
        div = (self.bbpll_hz + target - 1) // target
        if div > 511:
            div = 511
        self._write_reg(_REG_RX_BBF_TUNE_DIVIDE, div & 0xFF)
        cfg = self._read_reg(_REG_RX_BBF_TUNE_CONFIG)
        self._write_reg(_REG_RX_BBF_TUNE_CONFIG, (cfg & 0xFE) | (div >> 8))
        self._write_reg(_REG_RX_BBBW_MHZ, bb // 1000000)
        khz = ((bb % 1000000) * 128 + 500000) // 1000000
        self._write_reg(_REG_RX_BBBW_KHZ, khz if khz < 127 else 127)
        self._write_reg(_REG_CALIBRATION_CTRL, 0x80)
        if not self._wait_bit(_REG_CALIBRATION_CTRL, 0x80, 0x00, _CAL_TIMEOUT_US):
            raise OSError("AD9363: Rx BB filter tune did not finish (reg 0x016 bit 7 stuck)")
        return div

    def set_gain_index(self, index):
        if index < 0:
            index = 0
        elif index > MAX_GAIN_INDEX:
            index = MAX_GAIN_INDEX
        self._write_reg(_REG_RX1_MANUAL_GAIN, index)
        return index

    # -- hot path ---------------------------------------------------------------------
    def tune_packed(self, words, offset):
        """Tune to the frequency whose six bytes pack_tune stored at words[offset:].

        Integer byte 0 (0x231) is written last: that write starts the VCO calibration.
        Returns True when the synthesizer reports lock.
        """
        self._write_burst5(_REG_RX_FRACT_BYTE_2, words, offset)
        self._write_reg(_REG_RFPLL_DIVIDERS, words[offset + 5] & 0x0F)
        return self._wait_bit(_REG_RX_CP_VCO_LOCK, 0x02, 0x02, _LOCK_TIMEOUT_US)

    def locked(self):
        return (self._read_reg(_REG_RX_CP_VCO_LOCK) & 0x02) != 0

    def read_rssi_q(self):
        """Rx1 RSSI symbol in 0.25 dB steps below ADC full scale (0..511)."""
        hi = self._read_reg(_REG_RX1_RSSI_SYMBOL)
        lo = self._read_reg(_REG_SYMBOL_LSB)
        return (hi << 1) | (lo & 1)

    def temperature_cdeg(self):
        """Die temperature in centi-degrees C (register read as signed, 1.14 LSB/degree)."""
        raw = self._read_reg(_REG_TEMPERATURE)
        if raw > 127:
            raw -= 256
        return raw * 10000 // 114
