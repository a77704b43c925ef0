# AD9363 (AD9361 family) receive path over SPI: bring-up, RX synthesizer with its VCO
# look-up values and lock check, RF bandwidth, manual full-table gain, RSSI, overload
# detectors and temperature. The transmitter is never configured and the ENSM is only
# ever forced into RX: this driver cannot transmit.
#
# Sources: AD9361 Reference Manual UG-570 (sections named in the comments), the register
# map UG-671 (addresses and bit fields), the AD9363 data sheet (325 MHz - 3.8 GHz tuning,
# <= 20 MHz RF bandwidth) and the values ADI's open no-OS ad9361 driver uses (VCO look-up
# table for a 40 MHz reference, BBPLL charge pump and loop filter, gain-table metadata,
# overload thresholds). docs/firmware.md lists the bring-up sequence register by register.
#
# Split of work: reset() pulses RESETB and soft-resets; load_profile() applies register
# writes from a file made by ADI's tools; init() brings the receive path up on top of
# whatever is loaded and never resets, so a loaded profile survives it.
from micropython import const
import time

# UG-671 register map
_REG_SPI_CONF = const(0x000)        # bit 7 and its mirror bit 0: soft reset
_REG_RFPLL_DIVIDERS = const(0x005)  # [3:0] Rx VCO divider code (LO = VCO / 2^(code+1))
_REG_CLOCK_ENABLE = const(0x009)    # bit 2 digital power up, bit 1 set to 1, bit 0 BBPLL enable
_REG_TEMPERATURE = const(0x00E)     # die temperature, 1.14 LSB per degree C
_REG_ENSM_CONFIG_1 = const(0x014)   # bit 6 FORCE_RX_ON (bit 5 FORCE_TX_ON is never set)
_REG_CALIBRATION_CTRL = const(0x016)  # bit 7 Rx BB tune (self-clearing)
_REG_STATE = const(0x017)           # [3:0] ENSM state
_REG_PRODUCT_ID = const(0x037)      # [7:3] 0x08 for the AD9361 family, [2:0] revision
_REG_SDM_CTRL_1 = const(0x03F)      # bit 2 INIT_BB_FO_CAL, bit 0 BBPLL_RESET_BAR
_REG_BBPLL_FRACT_2 = const(0x041)   # 0x041..0x043 fractional word (MSB first), 0x044 integer
_REG_BBPLL_INT = const(0x044)
_REG_CLOCK_CTRL = const(0x045)      # [1:0] BBPLL reference scaler (0 = /1)
_REG_CP_CURRENT = const(0x046)      # BBPLL charge pump, 25 uA/LSB + 25 uA
_REG_LOOP_FILTER_1 = const(0x048)   # 0x048..0x04A BBPLL loop filter
_REG_VCO_CTRL = const(0x04B)        # bit 7 frequency calibration enable, [6:5] count length
_REG_VCO_PROGRAM_1 = const(0x04C)
_REG_VCO_PROGRAM_2 = const(0x04D)
_REG_SDM_CTRL = const(0x04E)        # bit 4 calibration clock = REFCLK / 4
_REG_CH1_OVERFLOW = const(0x05E)    # bit 7 BBPLL lock
_REG_AGC_CONFIG_1 = const(0x0FA)    # [1:0] Rx1 gain control mode, 00 = manual
_REG_AGC_CONFIG_2 = const(0x0FB)    # bit 3 use full gain table
_REG_AGC_CONFIG_3 = const(0x0FC)    # [2:0] ADC overrange sample size - 1
_REG_ADC_SMALL_OVERLOAD = const(0x104)
_REG_ADC_LARGE_OVERLOAD = const(0x105)
_REG_LMT_SMALL_OVERLOAD = const(0x107)  # [5:0]: threshold 16 mV x (value + 1)
_REG_LMT_LARGE_OVERLOAD = const(0x108)
_REG_RX1_MANUAL_GAIN = const(0x109)  # [6:0] full-table gain index
_REG_GAIN_TABLE_ADDRESS = const(0x130)  # 0x130 index, 0x131..0x133 the row's three words
_REG_GAIN_TABLE_WORD_3 = const(0x133)
_REG_GAIN_TABLE_CONFIG = const(0x137)   # bit 2 write, bit 1 start clock, [4:3] receiver
_REG_RSSI_DURATION_01 = const(0x150)  # 0x150..0x158: the RSSI measurement block
_REG_RSSI_CONFIG = const(0x158)     # [4:2] restart mode (4 = SPI write), bit 5 start
_REG_SYMBOL_LSB = const(0x1AB)      # bit 0: Rx1 RSSI symbol [0]; 0x1A7 holds [8:1]
_REG_RX_BBF_TUNE_DIVIDE = const(0x1F8)
_REG_RX_BBF_TUNE_CONFIG = const(0x1F9)  # bit 0: tune divide [8]
_REG_RX_BBBW_MHZ = const(0x1FB)
_REG_RX_BBBW_KHZ = const(0x1FC)     # fraction of a MHz in 1/128 steps
_REG_RX_FRACT_BYTE_2 = const(0x235)  # 0x235..0x233 fractional word, 0x232..0x231 integer
_REG_RX_VCO_CAL_OFFSET = const(0x238)  # [6:3] VCO cal offset
_REG_RX_ALC_VARACTOR = const(0x239)  # [3:0] VCO varactor ([7:4] init ALC value kept)
_REG_RX_VCO_OUTPUT = const(0x23A)   # bit 6 PORb VCO logic, [3:0] output level
_REG_RX_CP_CURRENT = const(0x23B)   # [5:0] charge pump current ([7:6] kept)
_REG_RX_LOOP_FILTER_3 = const(0x240)  # 0x23E C2|C1, 0x23F R1|C3, 0x240 R3
_REG_RX_VCO_BIAS_1 = const(0x242)   # [4:3] bias tcf, [2:0] bias ref
_REG_RX_VCO_CAL_REF = const(0x245)  # [2:0] VCO cal ref tcf
_REG_RX_CP_VCO_LOCK = const(0x247)  # bit 1 VCO lock
_REG_RX_VARACTOR_CTRL_1 = const(0x251)  # 0x251 [3:0] varactor reference, 0x250 tcf/offset
_REG_BANDGAP_CONFIG0 = const(0x2A6)
_REG_BANDGAP_CONFIG1 = const(0x2A8)
_REG_REF_DIVIDE_CONFIG_1 = const(0x2AB)  # bit 2 set to 1, bit 1 Rx ref reset bar, bit 0 div[1]
_REG_REF_DIVIDE_CONFIG_2 = const(0x2AC)  # bit 7 Rx div[0], bit 4 Tx ref reset bar, FB delays
_REG_OVRG_SIGS_RX1 = const(0x2B8)   # bit 4 large LMT, 3 small LMT, 2 large ADC, 1 small ADC
_REG_CTRL = const(0x3DF)            # bit 0: set to 1

PRODUCT_ID_FAMILY = const(0x08)     # (id & 0xF8): any revision in [2:0]
RFPLL_MODULUS = const(8388593)      # UG-570: 2^23 - 15
BBPLL_MODULUS = const(2088960)      # UG-570 BBPLL fractional modulus
# Above 2^30: plain ints, not const(), so 32-bit ports keep them as long ints.
VCO_MIN_HZ = 6000000000
VCO_MAX_HZ = 12000000000
TUNE_MIN_HZ = const(325000000)      # AD9363 data sheet (ADI's driver checks the same)
TUNE_MAX_HZ = 3800000000
MAX_RF_BW_HZ = const(20000000)
_FORCE_RX_ON = const(0x40)
_TO_ALERT = const(0x05)             # FORCE_ALERT_STATE | TO_ALERT
_ENSM_RX = const(0x8)
_SATURATED = const(0x14)            # large LMT or large ADC overload
# Overload thresholds (UG-570 'Gain control threshold detectors'; ADI's defaults): ADC
# power over 4 sigma-delta samples 47 / 58 of 16 x 4; LMT peaks 704 / 800 mV.
_ADC_SAMPLES_M1 = const(3)
_ADC_SMALL = const(47)
_ADC_LARGE = const(58)
_LMT_SMALL = const(43)              # 704 mV / 16 mV - 1
_LMT_LARGE = const(49)              # 800 mV / 16 mV - 1
# RSSI block (UG-570 'RSSI'): one duration of 2^11 Rx samples weighted 0xFF, no delay or
# wait, restarted by SPI (mode 4): 0x150..0x158 in order.
_RSSI_SETUP = b"\x0b\x00\xff\x00\x00\x00\x00\x00\x10"
_RSSI_START = const(0x30)           # mode 4 | start
# Bounds on waiting for the chip (UG-570: VCO calibration and lock take well under 1 ms;
# the BB filter tune a few hundred microseconds; BBPLL calibration < 350 us).
_LOCK_TIMEOUT_US = const(2000)
_CAL_TIMEOUT_US = const(10000)
MAX_GAIN_INDEX = const(76)
# Bytes per prepared tune: frac[22:16], frac[15:8], frac[7:0], int[10:8], int[7:0],
# divider code, VCO look-up row, Rx gain table
WORDS_PER_TUNE = const(8)
_GT_RX1 = const(0x08)               # 0x137 receiver select: Rx1
_GT_ROWS = const(77)
# ADI's default full Rx gain tables (no-OS ad9361.c full_gain_table; UG-570 'Gain control:
# full gain table'), 77 rows of the words for 0x131, 0x132, 0x133: the 800 MHz table (LO
# below 1300 MHz), then the 2300 MHz table (1300-4000 MHz). Summing the stage gains the
# words select (LNA, mixer, TIA, LPF) gives index - 3 dB and index - 5 dB from index 2 up
# (rows 0 and 1 at the minimum, -1 and -3 dB): _GT_OFFSET_DB.
_GAIN_TABLES = (
    b"\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x02\x00\x00\x03\x00\x00\x04\x00\x00\x05\x00"
    b"\x01\x03\x20\x01\x04\x00\x01\x05\x00\x01\x06\x00\x01\x07\x00\x01\x08\x00\x01\x09\x00\x01\x0a\x00"
    b"\x01\x0b\x00\x01\x0c\x00\x01\x0d\x00\x01\x0e\x00\x02\x09\x20\x02\x0a\x00\x02\x0b\x00\x02\x0c\x00"
    b"\x02\x0d\x00\x02\x0e\x00\x02\x0f\x00\x02\x10\x00\x02\x2b\x20\x02\x2c\x00\x04\x28\x20\x04\x29\x00"
    b"\x04\x2a\x00\x04\x2b\x00\x24\x20\x20\x24\x21\x00\x44\x20\x20\x44\x21\x00\x44\x22\x00\x44\x23\x00"
    b"\x44\x24\x00\x44\x25\x00\x44\x26\x00\x44\x27\x00\x44\x28\x00\x44\x29\x00\x44\x2a\x00\x44\x2b\x00"
    b"\x44\x2c\x00\x44\x2d\x00\x44\x2e\x00\x44\x2f\x00\x44\x30\x00\x44\x31\x00\x44\x32\x00\x64\x2e\x20"
    b"\x64\x2f\x00\x64\x30\x00\x64\x31\x00\x64\x32\x00\x64\x33\x00\x64\x34\x00\x64\x35\x00\x64\x36\x00"
    b"\x64\x37\x00\x64\x38\x00\x65\x38\x20\x66\x38\x20\x67\x38\x20\x68\x38\x20\x69\x38\x20\x6a\x38\x20"
    b"\x6b\x38\x20\x6c\x38\x20\x6d\x38\x20\x6e\x38\x20\x6f\x38\x20\x00\x00\x20\x00\x00\x00\x00\x00\x00"
    b"\x00\x01\x00\x00\x02\x00\x00\x03\x00\x00\x04\x00\x00\x05\x00\x01\x03\x20\x01\x04\x00\x01\x05\x00"
    b"\x01\x06\x00\x01\x07\x00\x01\x08\x00\x01\x09\x00\x01\x0a\x00\x01\x0b\x00\x01\x0c\x00\x01\x0d\x00"
    b"\x01\x0e\x00\x02\x09\x20\x02\x0a\x00\x02\x0b\x00\x02\x0c\x00\x02\x0d\x00\x02\x0e\x00\x02\x0f\x00"
    b"\x02\x10\x00\x02\x2b\x20\x02\x2c\x00\x04\x27\x20\x04\x28\x00\x04\x29\x00\x04\x2a\x00\x04\x2b\x00"
    b"\x24\x21\x20\x24\x22\x00\x44\x20\x20\x44\x21\x00\x44\x22\x00\x44\x23\x00\x44\x24\x00\x44\x25\x00"
    b"\x44\x26\x00\x44\x27\x00\x44\x28\x00\x44\x29\x00\x44\x2a\x00\x44\x2b\x00\x44\x2c\x00\x44\x2d\x00"
    b"\x44\x2e\x00\x44\x2f\x00\x44\x30\x00\x44\x31\x00\x64\x2e\x20\x64\x2f\x00\x64\x30\x00\x64\x31\x00"
    b"\x64\x32\x00\x64\x33\x00\x64\x34\x00\x64\x35\x00\x64\x36\x00\x64\x37\x00\x64\x38\x00\x65\x38\x20"
    b"\x66\x38\x20\x67\x38\x20\x68\x38\x20\x69\x38\x20\x6a\x38\x20\x6b\x38\x20\x6c\x38\x20\x6d\x38\x20"
    b"\x6e\x38\x20\x6f\x38\x20"
)
_GT_OFFSET_DB = (3, 5)
_GT_MIN_INDEX = const(2)
# The two tables differ only in rows 30..54: switching from one to the other rewrites those
_GT_DIFF_FIRST = const(30)
_GT_DIFF_END = const(55)

# VCO look-up table for a 40 MHz RF PLL reference (ADI no-OS ad9361.c, TDD table for
# references below 50 MHz), 14 bytes a row, VCO frequency descending: VCO MHz (2 bytes,
# the row holds from there up), output level, varactor, bias ref, bias tcf, cal offset,
# varactor reference, charge pump current, loop filter C2, C1, R1, C3, R3.
_LUT_ROW = const(14)
_VCO_LUT = (
    b"\x31\x3d\x0d\x01\x04\x02\x0f\x0c\x1b\x0c\x0f\x0c\x04\x0d\x2f\xd5\x0d\x01\x04\x02\x0f\x0c\x1b\x0c"
    b"\x0f\x0c\x04\x0d\x2e\x82\x0d\x01\x04\x02\x0f\x0c\x1a\x0b\x0f\x0c\x04\x0d\x2d\x44\x0d\x01\x04\x02"
    b"\x0f\x0c\x1c\x0c\x0f\x0c\x04\x0d\x2c\x18\x0d\x01\x04\x02\x0f\x0c\x1e\x0c\x0f\x0c\x04\x0d\x2a\xff"
    b"\x0d\x01\x04\x02\x0f\x0c\x20\x0c\x0f\x0c\x04\x0d\x29\xf6\x0d\x01\x04\x02\x0f\x0c\x21\x0c\x0f\x0c"
    b"\x04\x0d\x28\xfc\x0d\x01\x06\x02\x0f\x0c\x23\x0c\x0f\x0c\x04\x0d\x28\x12\x0d\x01\x06\x02\x0f\x0c"
    b"\x25\x0c\x0f\x0c\x04\x0d\x27\x34\x0d\x01\x06\x02\x0f\x0c\x26\x0c\x0f\x0c\x04\x0d\x26\x63\x0d\x01"
    b"\x06\x02\x0e\x0c\x28\x0c\x0f\x0c\x04\x0d\x25\x9f\x0d\x01\x06\x02\x0d\x0c\x2a\x0c\x0f\x0c\x04\x0d"
    b"\x24\xe5\x0d\x01\x06\x02\x0c\x0c\x2c\x0c\x0f\x0c\x04\x0d\x24\x35\x0d\x01\x06\x02\x0c\x0c\x2d\x0c"
    b"\x0f\x0c\x04\x0d\x23\x8f\x0d\x01\x06\x02\x0c\x0c\x2f\x0c\x0f\x0c\x04\x0d\x22\xf2\x0d\x01\x06\x02"
    b"\x0c\x0c\x31\x0c\x0f\x0c\x04\x0d\x22\x5d\x0c\x01\x07\x02\x0c\x0c\x30\x0c\x0f\x0c\x04\x0d\x21\xcf"
    b"\x0c\x01\x07\x02\x0c\x0c\x32\x0c\x0f\x0c\x04\x0d\x21\x48\x0c\x01\x07\x02\x0c\x0c\x33\x0c\x0f\x0c"
    b"\x04\x0d\x20\xc8\x0c\x01\x07\x02\x0c\x0c\x35\x0c\x0f\x0c\x04\x0d\x20\x4d\x0c\x01\x07\x02\x0c\x0c"
    b"\x37\x0c\x0f\x0c\x04\x0d\x1f\xd9\x0c\x01\x07\x02\x0c\x0c\x38\x0c\x0f\x0c\x04\x0d\x1f\x69\x0c\x01"
    b"\x07\x02\x0d\x0c\x3a\x0c\x0f\x0c\x04\x0d\x1e\xfe\x0b\x01\x07\x02\x0c\x0c\x39\x0c\x0f\x0c\x04\x0d"
    b"\x1e\x97\x0b\x01\x07\x02\x0c\x0c\x3a\x0c\x0f\x0c\x04\x0d\x1e\x35\x0a\x01\x07\x03\x0d\x0c\x38\x0c"
    b"\x0f\x0c\x04\x0d\x1d\xd6\x0a\x01\x07\x02\x0c\x0c\x3a\x0c\x0f\x0c\x04\x0d\x1d\x7b\x0a\x01\x07\x02"
    b"\x0c\x0c\x3b\x0c\x0f\x0c\x04\x0d\x1d\x23\x0a\x01\x07\x02\x0c\x0c\x3d\x0c\x0f\x0c\x04\x0d\x1c\xce"
    b"\x0a\x02\x07\x03\x0e\x0d\x31\x0c\x0f\x0c\x04\x0d\x1c\x7b\x0a\x02\x07\x03\x0e\x0d\x32\x0c\x0f\x0c"
    b"\x04\x0d\x1c\x2c\x0a\x02\x07\x03\x0e\x0d\x33\x0c\x0f\x0c\x04\x0d\x1b\xdf\x0a\x02\x07\x03\x0e\x0d"
    b"\x34\x0c\x0f\x0c\x04\x0d\x1b\x95\x0a\x02\x07\x03\x0e\x0d\x35\x0c\x0f\x0c\x04\x0d\x1b\x4c\x0a\x01"
    b"\x07\x03\x0c\x0e\x3f\x0b\x0e\x0c\x03\x0d\x1b\x06\x09\x02\x07\x03\x0e\x0d\x34\x0c\x0f\x0c\x04\x0d"
    b"\x1a\xc2\x09\x02\x07\x03\x0e\x0d\x35\x0c\x0f\x0c\x04\x0d\x1a\x80\x09\x02\x07\x02\x0d\x0d\x36\x0c"
    b"\x0f\x0c\x04\x0d\x1a\x40\x09\x02\x07\x02\x0d\x0d\x38\x0c\x0f\x0c\x04\x0d\x1a\x02\x08\x02\x07\x03"
    b"\x0e\x0d\x35\x0c\x0f\x0c\x04\x0d\x19\xc5\x08\x02\x07\x02\x0d\x0d\x36\x0c\x0f\x0c\x04\x0d\x19\x8b"
    b"\x08\x02\x07\x02\x0d\x0d\x37\x0c\x0f\x0c\x04\x0d\x19\x52\x08\x02\x07\x02\x0d\x0d\x38\x0c\x0f\x0c"
    b"\x04\x0d\x19\x1b\x07\x02\x07\x03\x0e\x0d\x36\x0c\x0f\x0c\x04\x0d\x18\xe5\x07\x02\x07\x03\x0f\x0d"
    b"\x36\x0c\x0f\x0c\x04\x0d\x18\xb1\x07\x02\x07\x03\x0f\x0d\x37\x0c\x0f\x0c\x04\x0d\x18\x7e\x07\x02"
    b"\x07\x03\x0f\x0d\x38\x0c\x0f\x0c\x04\x0d\x18\x4e\x07\x02\x07\x03\x0f\x0d\x39\x0c\x0f\x0c\x04\x0d"
    b"\x18\x1e\x06\x02\x07\x03\x0f\x0d\x36\x0c\x0f\x0c\x04\x0d\x17\xf0\x06\x02\x07\x03\x0f\x0d\x37\x0c"
    b"\x0f\x0c\x04\x0d\x17\xc3\x06\x02\x07\x03\x0f\x0d\x38\x0c\x0f\x0c\x04\x0d\x17\x98\x06\x02\x07\x03"
    b"\x0f\x0d\x39\x0c\x0f\x0c\x04\x0d\x17\x6d\x06\x02\x07\x03\x0f\x0d\x3a\x0c\x0f\x0c\x04\x0d"
)
_LUT_ROWS = const(53)


def check_tune(freq_hz):
    """Raise ValueError unless the AD9363 can tune to freq_hz (325-3800 MHz)."""
    if not TUNE_MIN_HZ <= freq_hz <= TUNE_MAX_HZ:
        raise ValueError("AD9363 tunes 325-3800 MHz, not %d MHz (needs a second front end)"
                         % (freq_hz // 1000000))


def check_bandwidth(bw_hz):
    """Raise ValueError unless the AD9363 can filter bw_hz of RF bandwidth (<= 20 MHz)."""
    if not 0 < bw_hz <= MAX_RF_BW_HZ:
        raise ValueError("AD9363 RF bandwidth is at most 20 MHz, not %d kHz" % (bw_hz // 1000))


def rx_synth_words(freq_hz, ref_hz):
    """RX synthesizer words for an LO frequency (UG-570 'RF PLL').

    The LO is the VCO divided by 2^(code+1); the divider doubles the LO until it is above
    6 GHz, so at exactly 375/750/1500/3000 MHz the VCO runs at 12 GHz, not 6 GHz, as ADI's
    driver chooses. N = f_vco / f_ref, Nint = floor(N), Nfrac = round(frac(N) * 8388593).
    Returns (nint, nfrac, code, f_vco).
    """
    check_tune(freq_hz)
    code = -1
    f_vco = freq_hz
    while f_vco <= VCO_MIN_HZ:
        code += 1
        f_vco *= 2
    nint = f_vco // ref_hz
    rem = f_vco - nint * ref_hz
    nfrac = (rem * RFPLL_MODULUS + ref_hz // 2) // ref_hz
    if nfrac >= RFPLL_MODULUS:
        nint += 1
        nfrac = 0
    return nint, nfrac, code, f_vco


def vco_lut_row(f_vco):
    """Index of the VCO look-up row for a VCO frequency: the first at or below it."""
    mhz = f_vco // 1000000
    for i in range(_LUT_ROWS):
        if (_VCO_LUT[i * _LUT_ROW] << 8) | _VCO_LUT[i * _LUT_ROW + 1] <= mhz:
            return i
    return _LUT_ROWS - 1


def pack_tune(buf, offset, freq_hz, ref_hz):
    """Store the tuning bytes for freq_hz in buf[offset:offset + WORDS_PER_TUNE]."""
    nint, nfrac, code, f_vco = rx_synth_words(freq_hz, ref_hz)
    buf[offset] = (nfrac >> 16) & 0x7F
    buf[offset + 1] = (nfrac >> 8) & 0xFF
    buf[offset + 2] = nfrac & 0xFF
    buf[offset + 3] = (nint >> 8) & 0x07
    buf[offset + 4] = nint & 0xFF
    buf[offset + 5] = code
    buf[offset + 6] = vco_lut_row(f_vco)
    buf[offset + 7] = gain_table(freq_hz)


def gain_table(freq_hz):
    """Which of ADI's Rx gain tables applies at freq_hz: 0 below 1300 MHz, else 1."""
    return 0 if freq_hz < 1300000000 else 1


def index_gain_db(index, freq_hz):
    """Gain in dB of a full-table index at freq_hz (ADI's default table, loaded by tune)."""
    if index < _GT_MIN_INDEX:
        index = _GT_MIN_INDEX
    return index - _GT_OFFSET_DB[gain_table(freq_hz)]


def gain_index(gain_db, freq_hz):
    """The full-table index for gain_db at freq_hz (clamped to the table's range)."""
    index = gain_db + _GT_OFFSET_DB[gain_table(freq_hz)]
    if index < _GT_MIN_INDEX:
        return _GT_MIN_INDEX
    return index if index < MAX_GAIN_INDEX else MAX_GAIN_INDEX


class Ad9363:
    """The AD9363 on an SPI bus with its chip-select and RESETB pins.

    Hot-path methods (``tune_packed``, ``read_rssi_q``, ``overloaded``) allocate nothing.
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
        self._b3 = bytearray(5)
        self._b2 = bytearray(4)
        self._rssi_tx = bytearray(7)
        self._rssi_rx = bytearray(7)
        # 0x1AB down to 0x1A7 in one transaction: NB = 4 (five bytes)
        self._rssi_tx[0] = 0x40 | (_REG_SYMBOL_LSB >> 8)
        self._rssi_tx[1] = _REG_SYMBOL_LSB & 0xFF
        self._alc_hi = 0    # 0x239 [7:4] and 0x23B [7:6] as the profile left them
        self._cp_hi = 0
        self._gt = -1       # the Rx gain table in the chip (-1: not loaded by us)
        self._gt_buf = bytearray(6)

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

    def _write_buf(self, b, addr):
        # b[2:] to addr downwards in one transaction: W = 1, NB = bytes - 1.
        b[0] = 0x80 | ((len(b) - 3) << 4) | ((addr >> 8) & 0x03)
        b[1] = addr & 0xFF
        self._cs(0)
        try:
            self._spi.write(b)
        finally:
            self._cs(1)

    def _write_table(self, addr, table):
        for i in range(len(table)):
            self._write_reg(addr + i, table[i])

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
    def reset(self):
        """RESETB pulse and soft reset: every register back to its default."""
        self._resetb(0)
        time.sleep_ms(1)
        self._resetb(1)
        time.sleep_ms(1)
        self._write_reg(_REG_SPI_CONF, 0x81)
        self._write_reg(_REG_SPI_CONF, 0x00)
        self._gt = -1

    def load_profile(self, writes):
        """Apply (address, value) register writes, e.g. from ADI's init-script generator."""
        for addr, value in writes:
            self._write_reg(addr, value)

    def init(self):
        """Bring up the receive path on top of what is loaded; raise OSError naming what
        failed. Never resets: call reset() first for a cold start."""
        pid = self._read_reg(_REG_PRODUCT_ID)
        if pid & 0xF8 != PRODUCT_ID_FAMILY:
            raise OSError("AD9363: product ID reads 0x%02X, expected 0x08-0x0F (SPI wiring "
                          "or power)" % pid)
        # UG-570 'Initialization': control, master bias and bandgap trim (ADI's values)
        self._write_reg(_REG_CTRL, 0x01)
        self._write_reg(_REG_BANDGAP_CONFIG0, 0x0E)
        self._write_reg(_REG_BANDGAP_CONFIG1, 0x0E)
        # RF PLL reference: divider x1 (code 0) out of reset; doubler feedback delays 3
        self._write_reg(_REG_REF_DIVIDE_CONFIG_1, 0x06)
        self._write_reg(_REG_REF_DIVIDE_CONFIG_2, 0x73)
        # Clocks: digital power up, the must-be-1 bit, BBPLL enable (UG-671 0x009)
        self._write_reg(_REG_CLOCK_ENABLE, 0x07)
        self._set_bbpll()
        # Manual gain control on Rx1 with the full gain table (UG-570 'Manual gain control')
        self._write_reg(_REG_AGC_CONFIG_1, self._read_reg(_REG_AGC_CONFIG_1) & 0xFC)
        self._write_reg(_REG_AGC_CONFIG_2, self._read_reg(_REG_AGC_CONFIG_2) | 0x08)
        # Overload detectors: in manual gain they only report, which is what F_SATURATED reads
        cfg3 = self._read_reg(_REG_AGC_CONFIG_3)
        self._write_reg(_REG_AGC_CONFIG_3, (cfg3 & 0xF8) | _ADC_SAMPLES_M1)
        self._write_reg(_REG_ADC_SMALL_OVERLOAD, _ADC_SMALL)
        self._write_reg(_REG_ADC_LARGE_OVERLOAD, _ADC_LARGE)
        self._write_reg(_REG_LMT_SMALL_OVERLOAD,
                        (self._read_reg(_REG_LMT_SMALL_OVERLOAD) & 0xC0) | _LMT_SMALL)
        self._write_reg(_REG_LMT_LARGE_OVERLOAD, _LMT_LARGE)
        self._write_table(_REG_RSSI_DURATION_01, _RSSI_SETUP)
        # The VCO look-up writes keep what the profile put in these fields' neighbours
        self._alc_hi = self._read_reg(_REG_RX_ALC_VARACTOR) & 0xF0
        self._cp_hi = self._read_reg(_REG_RX_CP_CURRENT) & 0xC0
        self._write_reg(_REG_ENSM_CONFIG_1, _TO_ALERT)
        self._write_reg(_REG_ENSM_CONFIG_1, _FORCE_RX_ON)
        state = self._read_reg(_REG_STATE) & 0x0F
        if state != _ENSM_RX:
            raise OSError("AD9363: ENSM state 0x%X after forcing RX, expected 0x8" % state)

    def _set_bbpll(self):
        # UG-570 'BBPLL': f_bbpll = f_ref * (Nint + Nfrac / 2088960). Charge pump scaled as
        # ADI's driver does: 150 uA at 1280 MHz from 40 MHz, 25 uA/LSB with a 25 uA offset.
        ref = self.ref_hz
        nint = self.bbpll_hz // ref
        rem = self.bbpll_hz - nint * ref
        nfrac = (rem * BBPLL_MODULUS + ref // 2) // ref
        icp = ((self.bbpll_hz >> 7) * 150 // ((ref >> 7) * 32) + 12) // 25 - 1
        icp = 1 if icp < 1 else (64 if icp > 64 else icp)
        self._write_reg(_REG_CLOCK_CTRL, 0x00)
        self._write_reg(_REG_CP_CURRENT, icp)
        self._write_reg(_REG_LOOP_FILTER_1, 0xE8)
        self._write_reg(_REG_LOOP_FILTER_1 + 1, 0x5B)
        self._write_reg(_REG_LOOP_FILTER_1 + 2, 0x35)
        self._write_reg(_REG_VCO_CTRL, 0xE0)      # calibration on, count length 1024
        self._write_reg(_REG_SDM_CTRL, 0x10)      # calibration clock REFCLK / 4
        self._write_reg(_REG_BBPLL_FRACT_2, (nfrac >> 16) & 0x1F)
        self._write_reg(_REG_BBPLL_FRACT_2 + 1, (nfrac >> 8) & 0xFF)
        self._write_reg(_REG_BBPLL_FRACT_2 + 2, nfrac & 0xFF)
        self._write_reg(_REG_BBPLL_INT, nint & 0xFF)
        self._write_reg(_REG_SDM_CTRL_1, 0x05)    # start calibration, out of reset
        self._write_reg(_REG_SDM_CTRL_1, 0x01)
        self._write_reg(_REG_VCO_PROGRAM_1, 0x86)  # ADI: more KV and phase margin
        self._write_reg(_REG_VCO_PROGRAM_2, 0x01)
        self._write_reg(_REG_VCO_PROGRAM_2, 0x05)
        if not self._wait_bit(_REG_CH1_OVERFLOW, 0x80, 0x80, _LOCK_TIMEOUT_US):
            raise OSError("AD9363: BBPLL did not lock (reg 0x05E bit 7 stayed 0)")

    def product_id(self):
        return self._read_reg(_REG_PRODUCT_ID)

    # -- receive settings -------------------------------------------------------------
    def set_rf_bandwidth(self, bw_hz):
        """Set the Rx baseband filter for an RF bandwidth (baseband = RF / 2) and run the
        BB filter tune (UG-570 'Rx baseband filter calibration':
        divider = ceil(f_bbpll / (1.4 * 2 pi * BBBW / ln 2))). Raises ValueError above
        the AD9363's 20 MHz."""
        check_bandwidth(bw_hz)
        bb = bw_hz // 2
        if bb < 200000:
            bb = 200000
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
    def _write_vco_lut(self, row):
        # UG-570 'RF PLL': the VCO look-up values go in before every synthesizer change,
        # in the fields ADI's driver writes them to (UG-671 0x238-0x251).
        t = _VCO_LUT
        o = row * _LUT_ROW
        b = self._b3
        b[2] = 0x40 | t[o + 2]               # 0x23A PORb | output level
        b[3] = self._alc_hi | t[o + 3]       # 0x239 varactor
        b[4] = t[o + 6] << 3                 # 0x238 VCO cal offset
        self._write_buf(b, _REG_RX_VCO_OUTPUT)
        self._write_reg(_REG_RX_VCO_BIAS_1, t[o + 4] | (t[o + 5] << 3))
        b2 = self._b2
        b2[2] = t[o + 7]                     # 0x251 varactor reference
        b2[3] = 0x70                         # 0x250 varactor reference tcf 7, offset 0
        self._write_buf(b2, _REG_RX_VARACTOR_CTRL_1)
        self._write_reg(_REG_RX_VCO_CAL_REF, 0x00)
        self._write_reg(_REG_RX_CP_CURRENT, self._cp_hi | t[o + 8])
        b[2] = t[o + 13]                     # 0x240 R3
        b[3] = (t[o + 11] << 4) | t[o + 12]  # 0x23F R1 | C3
        b[4] = (t[o + 9] << 4) | t[o + 10]   # 0x23E C2 | C1
        self._write_buf(b, _REG_RX_LOOP_FILTER_3)

    def _load_gain_table(self, table):
        # UG-570 'Full gain table': per row the index in 0x130 and the words in 0x131-0x133
        # (one burst, 0x133 down to 0x130), then 0x137 = write | clock | Rx1. ADI loads the
        # table in the ALERT state and again whenever the LO crosses 1300 MHz; here a
        # crossing rewrites only the 25 rows where ADI's two tables differ.
        self._write_reg(_REG_ENSM_CONFIG_1, _TO_ALERT)
        self._write_reg(_REG_GAIN_TABLE_CONFIG, 0x02 | _GT_RX1)
        t = _GAIN_TABLES
        b = self._gt_buf
        first, end = 0, _GT_ROWS
        if self._gt >= 0:       # the other table is in place: only the rows that differ
            first, end = _GT_DIFF_FIRST, _GT_DIFF_END
        o = (table * _GT_ROWS + first) * 3
        for i in range(first, end):
            b[2] = t[o + 2]
            b[3] = t[o + 1]
            b[4] = t[o]
            b[5] = i
            self._write_buf(b, _REG_GAIN_TABLE_WORD_3)
            self._write_reg(_REG_GAIN_TABLE_CONFIG, 0x06 | _GT_RX1)
            o += 3
        self._write_reg(_REG_GAIN_TABLE_CONFIG, 0x02)
        self._write_reg(_REG_GAIN_TABLE_CONFIG, 0x00)
        self._write_reg(_REG_ENSM_CONFIG_1, _FORCE_RX_ON)
        self._gt = table

    def tune_packed(self, words, offset):
        """Tune to the frequency whose bytes pack_tune stored at words[offset:].

        The Rx gain table first when the LO changed table, then the VCO look-up values,
        then the synthesizer words (integer byte 0x231 last:
        that write starts the VCO calibration), then the divider; after lock the RSSI block
        is restarted so no reading holds the previous target's power.
        Returns True when the synthesizer reports lock.
        """
        if words[offset + 7] != self._gt:
            self._load_gain_table(words[offset + 7])
        self._write_vco_lut(words[offset + 6])
        b = self._burst
        for i in range(5):
            b[2 + i] = words[offset + i]
        self._write_buf(b, _REG_RX_FRACT_BYTE_2)
        self._write_reg(_REG_RFPLL_DIVIDERS, words[offset + 5] & 0x0F)
        locked = self._wait_bit(_REG_RX_CP_VCO_LOCK, 0x02, 0x02, _LOCK_TIMEOUT_US)
        self._write_reg(_REG_RSSI_CONFIG, _RSSI_START)
        return locked

    def locked(self):
        return (self._read_reg(_REG_RX_CP_VCO_LOCK) & 0x02) != 0

    def read_rssi_q(self):
        """Rx1 RSSI symbol, 0..511 in 0.25 dB steps: the input-referred level below 0 dB
        (UG-570 'RSSI': the receive-path gain is already subtracted). Both registers come
        in one burst, so the nine bits belong to one measurement."""
        self._cs(0)
        try:
            self._spi.write_readinto(self._rssi_tx, self._rssi_rx)
        finally:
            self._cs(1)
        # bytes 2..6: 0x1AB, 0x1AA, 0x1A9, 0x1A8, 0x1A7
        return (self._rssi_rx[6] << 1) | (self._rssi_rx[2] & 1)

    def overloaded(self):
        """True while the large ADC or large LMT overload detector fires (reg 0x2B8)."""
        return (self._read_reg(_REG_OVRG_SIGS_RX1) & _SATURATED) != 0

    def temperature_cdeg(self):
        """Die temperature in centi-degrees C (register read as signed, 1.14 LSB/degree)."""
        raw = self._read_reg(_REG_TEMPERATURE)
        if raw > 127:
            raw -= 256
        return raw * 10000 // 114
