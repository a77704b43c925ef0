# The mean of RSSI reads in power, not in dB, and the reads worth keeping.
#
# The AD9363 reports RSSI in 0.25 dB steps below full scale (q, larger is weaker). A mean of
# q is a mean in dB: one read of four catching a -60 dBm GSM burst and three reading -100
# average to -90 in dB, while the power they saw averages to -66. Here each read becomes a
# linear power relative to the strongest read, through a table of 10^(-d/40) scaled to
# 2^16 (d = steps below the strongest), the powers are averaged, and the mean goes back to
# steps by searching the same table and interpolating within a step: integers only, nothing
# allocated, so the measurement loop can call it under heap_lock().
#
# A read `keep` steps or more below the strongest is left out: for a GSM target the reads
# that missed its burst, for a hopping one the ARFCNs it was not on.
import array
from micropython import const

_ONE = const(65536)
_STEPS = const(257)          # 64 dB below the strongest read; weaker reads add < 2^-5 of one
KEEP_ALL = const(1000)

_LIN = array.array("i", [int(_ONE * 10 ** (-d / 40) + 0.5) for d in range(_STEPS)])


class LinearMean:
    """Linear-power mean of q readings (0.25 dB steps); integer arithmetic only."""

    def __init__(self):
        self.kept = 0          # reads that entered the last mean
        self.strongest_q = 0   # the strongest read of the last call

    def mean_cq(self, q, n, keep=KEEP_ALL):
        """Mean level of q[0:n] in hundredths of a step x 25 (centi-dB below full scale).

        Averages 10^(-q/40) over the reads less than ``keep`` steps below the strongest;
        returns 25 * (level in steps), rounded to a centi-dB, i.e. the mean's dB value x 100.
        """
        lo = 511
        for i in range(n):
            if q[i] < lo:
                lo = q[i]
        total = 0
        kept = 0
        for i in range(n):
            d = q[i] - lo
            if d < keep:
                kept += 1
                if d < _STEPS:
                    total += _LIN[d]
        self.kept = kept
        self.strongest_q = lo
        m = total // kept
        # _LIN falls with d: find d with _LIN[d] >= m > _LIN[d + 1]
        a = 0
        b = _STEPS - 1
        if m <= _LIN[b]:
            return (lo + b) * 25
        while b - a > 1:
            c = (a + b) >> 1
            if _LIN[c] >= m:
                a = c
            else:
                b = c
        # within one 0.25 dB step the table is nearly linear: interpolate in centi-dB
        step = _LIN[a] - _LIN[b]
        frac = ((_LIN[a] - m) * 25 + (step >> 1)) // step
        return (lo + a) * 25 + frac
