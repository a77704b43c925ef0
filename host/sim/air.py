"""When, and on which frequency, a handset or base station is on the air within its frame.

A reading of the receiver is a snapshot: what it sees depends on where in the
radio frame it falls.  Three air interfaces:

- `Continuous`: always on its one carrier (an idealised FDD uplink; the legacy model).
- `GsmBurst`: TDMA per 3GPP TS 45.002: a 4.615 ms TDMA frame (60/13 ms) of 8
  timeslots of 156.25 bit periods (48/13 us each); a handset sends one normal
  burst of 148 bits in its timeslot of each frame (clause 5.2.3) and, with
  frequency hopping, changes carrier every frame along its mobile allocation:
  cyclic hopping (HSN = 0, clause 6.2.3), MAI = (FN + MAIO) mod N.
- `TddSlots`: LTE frame structure type 2 per TS 36.211 clause 4.2: a 10 ms frame
  of ten 1 ms subframes, downlink (D), uplink (U) or special (S) after table
  4.2-2; the special subframe's DwPTS and UpPTS lengths after table 4.2-1
  (normal cyclic prefix in both links).  The base station is on the air in D
  subframes and DwPTS, a UE in U subframes.

Frame timing is GNSS time: frame ``n`` starts at ``t_s = frame_offset_s + n T_frame``
(TDD networks are synchronised to the GNSS second; a simulated hunt starts on a
whole second).  Every ``on`` and ``freq_hz`` accepts a float or a numpy array of times.
"""

import math

import numpy as np

from dsp import bands
from dsp.tdd import (LTE_FRAME_S, LTE_SPECIAL_SUBFRAMES_TS, LTE_SUBFRAME_S, LTE_TS_S,
                     LTE_UL_DL_CONFIGS)

#: GSM TDMA frame (s), TS 45.002 clause 4.3.1: 120/26 ms.
GSM_FRAME_S = 0.06 / 13.0
GSM_SLOTS = 8
#: Timeslot length in bit periods, and the bits a normal burst is on the air (TS 45.002 clause 5.2.3).
GSM_SLOT_BITS = 156.25
GSM_BURST_BITS = 148.0
GSM_BIT_S = GSM_FRAME_S / GSM_SLOTS / GSM_SLOT_BITS
#: GSM frame numbers wrap at the hyperframe, 2048 x 51 x 26 (TS 45.002 clause 4.3.3).
GSM_HYPERFRAME = 2715648

#: TS 36.211 tables 4.2-1 and 4.2-2, frame, subframe and Ts: one transcription, in dsp.tdd.
LTE_TDD_CONFIGS = LTE_UL_DL_CONFIGS
LTE_SPECIAL_SUBFRAMES = LTE_SPECIAL_SUBFRAMES_TS


class Continuous:
    """Always on one carrier."""

    def __init__(self, freq_hz):
        self.carrier_hz = float(freq_hz)

    def on(self, t_s):
        return np.ones(np.shape(t_s), dtype=bool) if np.ndim(t_s) else True

    def freq_hz(self, t_s):
        return np.full(np.shape(t_s), self.carrier_hz) if np.ndim(t_s) else self.carrier_hz

    def carriers_hz(self):
        return (self.carrier_hz,)


class GsmBurst:
    """A GSM handset's uplink bursts: one timeslot per TDMA frame, hopping or not.

    Parameters
    ----------
    arfcns : sequence of int
        The mobile allocation (one ARFCN: no hopping).  Ordered ascending, as
        TS 45.002 clause 6.2.3 orders the MA (ARFCN 0 last).
    timeslot : int
        0-7.
    maio : int
        Mobile allocation index offset, 0 .. N - 1.
    frame_offset_s : float
        Start of frame 0 on the simulation clock.
    """

    def __init__(self, arfcns, timeslot, maio=0, frame_offset_s=0.0):
        ma = sorted(int(a) for a in arfcns if int(a) != 0) + [0] * (0 in [int(a) for a in arfcns])
        if not ma:
            raise ValueError("GsmBurst needs at least one ARFCN")
        if not 0 <= timeslot < GSM_SLOTS:
            raise ValueError("timeslot must be 0-7, got %r" % (timeslot,))
        if not 0 <= maio < len(ma):
            raise ValueError("maio must be 0 .. %d, got %r" % (len(ma) - 1, maio))
        self.arfcns = tuple(ma)
        self.timeslot = int(timeslot)
        self.maio = int(maio)
        self.frame_offset_s = float(frame_offset_s)
        self._freqs_hz = np.array([bands.uplink_hz("gsm", a) for a in ma], dtype=float)
        self._freqs_list = [float(f) for f in self._freqs_hz]
        self._start_s = self.timeslot * GSM_SLOT_BITS * GSM_BIT_S
        self._burst_s = GSM_BURST_BITS * GSM_BIT_S

    def _frame(self, t_s):
        u = (np.asarray(t_s, dtype=float) - self.frame_offset_s) / GSM_FRAME_S
        fn = np.floor(u)
        return fn, (u - fn) * GSM_FRAME_S

    def frame_number(self, t_s):
        """TDMA frame number FN at ``t_s`` (mod the hyperframe)."""
        fn, _ = self._frame(t_s)
        return (fn % GSM_HYPERFRAME).astype(np.int64)

    def on(self, t_s):
        """True while the normal burst's 148 bits are on the air in the handset's timeslot."""
        if np.ndim(t_s) == 0:   # the scalar path, taken on every simulated RSSI read
            into_s = (t_s - self.frame_offset_s) % GSM_FRAME_S
            return 0.0 <= into_s - self._start_s < self._burst_s
        _, into_s = self._frame(t_s)
        start_s = self.timeslot * GSM_SLOT_BITS * GSM_BIT_S
        out = (into_s >= start_s) & (into_s < start_s + GSM_BURST_BITS * GSM_BIT_S)
        return bool(out) if np.ndim(out) == 0 else out

    def freq_hz(self, t_s):
        """Uplink carrier of the frame holding ``t_s``: MA[(FN + MAIO) mod N] (cyclic hopping, HSN 0)."""
        if np.ndim(t_s) == 0:
            fn = math.floor((t_s - self.frame_offset_s) / GSM_FRAME_S) % GSM_HYPERFRAME
            return self._freqs_list[(fn + self.maio) % len(self.arfcns)]
        mai = (self.frame_number(t_s) + self.maio) % len(self.arfcns)
        out = self._freqs_hz[mai]
        return float(out) if np.ndim(out) == 0 else out

    def carriers_hz(self):
        return tuple(float(f) for f in self._freqs_hz)


class TddSlots:
    """On the air in the downlink (``link="dl"``) or uplink (``link="ul"``) parts of an LTE TDD frame.

    Parameters
    ----------
    freq_hz : float
    config : int
        Uplink-downlink configuration 0-6 (TS 36.211 table 4.2-2).
    special_subframe : int
        Special subframe configuration 0-9 (table 4.2-1, normal CP).
    link : {"dl", "ul"}
        A base station sends in D subframes and DwPTS; a UE's traffic goes in U subframes.
    frame_offset_s : float
    """

    def __init__(self, freq_hz, config, special_subframe, link, frame_offset_s=0.0):
        if config not in LTE_TDD_CONFIGS:
            raise ValueError("TDD configuration must be 0-6, got %r" % (config,))
        if special_subframe not in LTE_SPECIAL_SUBFRAMES:
            raise ValueError("special subframe configuration must be 0-9, got %r" % (special_subframe,))
        if link not in ("dl", "ul"):
            raise ValueError("link must be 'dl' or 'ul', got %r" % (link,))
        self.carrier_hz = float(freq_hz)
        self.config = config
        self.special_subframe = special_subframe
        self.link = link
        self.frame_offset_s = float(frame_offset_s)
        pattern = LTE_TDD_CONFIGS[config]
        dwpts_ts, _ = LTE_SPECIAL_SUBFRAMES[special_subframe]
        self._full = np.array([c == ("D" if link == "dl" else "U") for c in pattern])
        self._special = np.array([c == "S" for c in pattern])
        # The base station keeps on for DwPTS at the start of a special subframe;
        # UpPTS carries only sounding and random access, not the UE's traffic.
        self._special_on_s = dwpts_ts * LTE_TS_S if link == "dl" else 0.0

    def on(self, t_s):
        if np.ndim(t_s) == 0:
            u = (t_s - self.frame_offset_s) % LTE_FRAME_S
            sf = min(int(u / LTE_SUBFRAME_S), 9)
            return bool(self._full[sf] or (self._special[sf] and u - sf * LTE_SUBFRAME_S < self._special_on_s))
        u = np.mod(np.asarray(t_s, dtype=float) - self.frame_offset_s, LTE_FRAME_S)
        sf = np.minimum((u / LTE_SUBFRAME_S).astype(int), 9)
        into_s = u - sf * LTE_SUBFRAME_S
        out = self._full[sf] | (self._special[sf] & (into_s < self._special_on_s))
        return bool(out) if np.ndim(out) == 0 else out

    def freq_hz(self, t_s):
        return np.full(np.shape(t_s), self.carrier_hz) if np.ndim(t_s) else self.carrier_hz

    def carriers_hz(self):
        return (self.carrier_hz,)

    def duty(self):
        """Fraction of the frame on the air (analytic, from the tables)."""
        return (self._full.sum() * LTE_SUBFRAME_S + self._special.sum() * self._special_on_s) / LTE_FRAME_S
