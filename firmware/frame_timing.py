# TDD frame timing off the GNSS time pulse, and where the uplink is in each frame.
#
# TDD networks are GNSS-synchronised: LTE and NR frames start on whole multiples of their
# period from the GPS second (plus an operator's offset). The receiver's PPS output marks
# the second; its GPIO interrupt only timestamps the edge (ticks_us into a preallocated
# array: nothing allocated, safe as a hard IRQ). The measurement loop then asks how far into
# the frame it is and waits for an uplink window before each RSSI read.
#
# Uplink windows (microseconds from the frame start) come from the tasking: LTE
# uplink-downlink configuration 0-6 (TS 36.211 table 4.2-2; the uplink subframes, not the
# UpPTS of the special subframe) or an NR pattern (TS 38.331 TDD-UL-DL-ConfigCommon). They
# are moved N_TA_offset earlier (a handset transmits that much ahead of the downlink) and
# shrunk by a margin at both ends for timing error.
import time

try:
    from micropython import const
except ImportError:      # CPython: the host computes the same windows for its tests
    def const(x):
        return x

MAX_WINDOWS = const(4)
# Timing holds over a few missed edges: the board's 20 ppm crystal drifts 70 us in 3.5 s,
# inside the read allowance at the end of an uplink window; no edge for longer: timing lost
PPS_MAX_AGE_US = const(3500000)
MARGIN_US = const(30)

# TS 36.211 table 4.2-2, subframes 0..9
LTE_CONFIGS = ("DSUUUDSUUU", "DSUUDDSUUD", "DSUDDDSUDD", "DSUUUDDDDD", "DSUUDDDDDD",
               "DSUDDDDDDD", "DSUUUDSUUD")
LTE_TA_OFFSET_US = const(20)      # 624 Ts = 20.3 us
NR_TA_OFFSET_US = const(13)       # 25600 Tc = 13.0 us


def lte_windows(config, offset_us=0):
    """(period_us, [(start_us, end_us), ...]) of an LTE TDD configuration's uplink."""
    if not 0 <= config < len(LTE_CONFIGS):
        raise ValueError("LTE TDD configuration %r is not 0-6" % (config,))
    wins = []
    start = -1
    kinds = LTE_CONFIGS[config] + "D"
    for k in range(11):
        if kinds[k] == "U" and start < 0:
            start = k * 1000
        elif kinds[k] != "U" and start >= 0:
            wins.append((start, k * 1000))
            start = -1
    return 10000, _finish(wins, LTE_TA_OFFSET_US, offset_us)


def nr_windows(period_us, scs_khz, dl_slots, dl_symbols, ul_slots, ul_symbols, offset_us=0):
    """(period_us, [(start_us, end_us)]) of an NR pattern's uplink (symbols 1/14 slot)."""
    slot_us = 1000 * 15 // scs_khz
    n_slots = period_us // slot_us
    if scs_khz not in (15, 30, 60) or n_slots * slot_us != period_us or n_slots < 1:
        raise ValueError("NR TDD period %r us is not whole %r kHz slots" % (period_us, scs_khz))
    ul_start = (n_slots - ul_slots) * slot_us - (ul_symbols * slot_us) // 14
    dl_end = dl_slots * slot_us + (dl_symbols * slot_us + 13) // 14
    if ul_start < dl_end or ul_slots + dl_slots > n_slots:
        raise ValueError("NR TDD pattern: uplink overlaps downlink")
    return period_us, _finish([(ul_start, period_us)], NR_TA_OFFSET_US, offset_us)


def _finish(wins, ta_offset_us, offset_us):
    out = []
    for a, b in wins:
        a = a - ta_offset_us + offset_us + MARGIN_US
        b = b - ta_offset_us + offset_us - MARGIN_US
        if b > a:
            out.append((a, b))
    if len(out) > MAX_WINDOWS:
        raise ValueError("more than %d uplink windows" % MAX_WINDOWS)
    return out


class FrameClock:
    """The GNSS PPS edge, timestamped by its interrupt; frame phase for the loop."""

    def __init__(self):
        # Plain attributes, made here: the interrupt only rebinds them to small ints, which
        # allocates nothing (an array would truncate the unix port's 64-bit ticks)
        self.edge_us = 0
        self.edges = 0

    def attach(self, pin):
        pin.irq(handler=self.isr, trigger=pin.IRQ_RISING, hard=True)

    def isr(self, _pin):
        # a hard interrupt: timestamp and count, nothing else (no allocation)
        self.edge_us = time.ticks_us()
        self.edges += 1

    def valid(self, now_us):
        return self.edges > 0 and time.ticks_diff(now_us, self.edge_us) < PPS_MAX_AGE_US

    def phase_us(self, now_us, period_us):
        """Microseconds since the last frame start (frames start on the second)."""
        return time.ticks_diff(now_us, self.edge_us) % period_us
