"""GSM burst power: the timeslot a handset transmits in, not the whole TDMA frame.

A GSM handset in a call sends one normal burst per TDMA frame (TS 45.002): 8 timeslots of
156.25 bit periods share each 4.615 ms frame, so a power average over whole frames reads
one active slot 9.0 dB low and weighs the other users of the carrier equally.  Here the
burst is found from the channel's own power envelope (GSM base stations are not GNSS
synchronised, so no outside clock gives the slot boundaries), and its power is the mean
over the useful part of the burst only (the 147 central bits of the 148 it carries).

GMSK (BT = 0.3) puts 4.1 % of a carrier's power outside +-100 kHz, so the 200 kHz channel
reads a burst 0.18 dB below its carrier power; :data:`GMSK_IN_CHANNEL_DB` is that ratio,
from the modulation's spectrum, for converting one into the other.
"""

import numpy as np

from dsp import power

# TS 45.002 clause 4.3: a TDMA frame is 120/26 ms of 8 timeslots; a timeslot is 156.25
# bit periods of 48/13 us.
FRAME_S = 120e-3 / 26
SLOTS = 8
SLOT_S = FRAME_S / SLOTS
BIT_S = 48e-6 / 13
ACTIVE_BITS = 148
USEFUL_BITS = 147
# Centre of the active part of a normal burst, from the slot start (bits 0..148).
BURST_CENTRE_S = ACTIVE_BITS / 2 * BIT_S
USEFUL_S = USEFUL_BITS * BIT_S
# Power of a BT = 0.3 GMSK carrier inside +-100 kHz relative to its whole power.
GMSK_IN_CHANNEL_DB = -0.18


def _fold_score(phase_s, values, window_s, n_bins):
    """Circular moving mean of ``values`` folded at FRAME_S, window ``window_s``, per bin."""
    idx = np.minimum((phase_s / FRAME_S * n_bins).astype(int), n_bins - 1)
    s = np.bincount(idx, weights=values, minlength=n_bins)
    c = np.bincount(idx, minlength=n_bins).astype(float)
    w = max(1, int(round(window_s / FRAME_S * n_bins)))
    s2 = np.concatenate([s, s[:w]])
    c2 = np.concatenate([c, c[:w]])
    cs = np.concatenate([[0.0], np.cumsum(s2)])
    cc = np.concatenate([[0.0], np.cumsum(c2)])
    win_s = cs[w: w + n_bins] - cs[:n_bins]
    win_c = cc[w: w + n_bins] - cc[:n_bins]
    # bin k's window covers bins k .. k+w-1: its centre is at (k + w/2) bins
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(win_c > 0, win_s / np.maximum(win_c, 1), 0.0), w


def find_burst(iq, fs, band_hz, *, nfft=1024, stride=3, n_bins=1024):
    """The timeslot holding the most power in a channel, and where its slots start.

    Frames of ``nfft`` samples, every ``stride``-th one, give the channel's power envelope;
    it is folded at the TDMA frame period and averaged over a sliding window as long as
    the part of a burst in which a whole frame fits; the window's best position is the
    burst.  The TDMA period is not a whole number of frames, so the frames of successive
    TDMA frames fall at different phases and the fold resolves a few microseconds.

    Parameters
    ----------
    iq : ndarray of complex
        At least two TDMA frames; 100 ms (21 frames) is plenty.
    fs : float
        Sample rate, Hz.
    band_hz : array_like, shape (2,) or (n, 2)
        The channel, (low, high) offsets from the tuned centre, Hz; several channels (a
        hopping list) are summed, since the handset's burst is in one of them each frame.
    nfft, stride : int
        Envelope frame length and spacing (in frames).
    n_bins : int
        Phase resolution of the fold, per TDMA frame.

    Returns
    -------
    slot_start_s : float
        Time from the first sample to the start of the strongest slot (in the first TDMA
        frame); slot k of that frame starts ``k * SLOT_S`` later.
    slot_power : ndarray, shape (8,)
        Mean frame power of each slot from the strongest one on (linear), from the fold.
    """
    iq = np.asarray(iq)
    frame_s = nfft / float(fs)
    if iq.size / float(fs) < 2 * FRAME_S:
        raise ValueError(f"iq holds {iq.size / fs * 1e3:.2f} ms; finding a GSM burst needs at "
                         f"least two TDMA frames ({2 * FRAME_S * 1e3:.2f} ms)")
    if frame_s > USEFUL_S / 4:
        raise ValueError(f"nfft = {nfft} frames last {frame_s * 1e6:.0f} us: too long to "
                         f"resolve a {USEFUL_S * 1e6:.0f} us GSM burst")
    n_frames = iq.size // nfft
    sparse = np.arange(0, n_frames, max(1, int(stride)), dtype=np.int64) * nfft
    gates = np.stack([sparse, sparse + nfft], axis=1)
    bands = np.asarray(band_hz, float).reshape(-1, 2)
    starts, p = power.frame_band_powers(iq, fs, bands, gates, nfft=nfft)
    centre_s = (starts + nfft / 2.0) / fs
    window = USEFUL_S - frame_s
    score, w = _fold_score(centre_s % FRAME_S, p.sum(axis=1), window, n_bins)
    best = int(np.argmax(score))
    centre = (best + w / 2.0) * FRAME_S / n_bins
    slot_start = (centre - BURST_CENTRE_S) % FRAME_S
    shift = np.round(np.arange(SLOTS) * SLOT_S / FRAME_S * n_bins).astype(int)
    return float(slot_start), score[(best + shift) % n_bins]


def burst_gates(slot_start_s, n_samples, fs, *, slot=0, margin_s=2 * BIT_S):
    """Sample intervals of the useful part of one timeslot in every TDMA frame, (k, 2).

    Parameters
    ----------
    slot_start_s : float
        Time from sample 0 to the start of slot 0 of some TDMA frame.
    n_samples : int
    fs : float
    slot : int
        Timeslot 0-7 counted from ``slot_start_s``.
    margin_s : float
        Shrinks the useful part at both ends, for timing error (default 2 bits, 7.4 us).
    """
    if int(slot) != slot or not 0 <= slot < SLOTS:
        raise ValueError(f"GSM timeslot {slot!r} is not 0-7")
    dur = n_samples / float(fs)
    first = (slot_start_s + slot * SLOT_S) % FRAME_S - FRAME_S
    k = np.arange(int(np.ceil((dur - first) / FRAME_S)) + 1) * FRAME_S + first
    centre = k + BURST_CENTRE_S
    a = np.ceil(np.clip(centre - USEFUL_S / 2 + margin_s, 0, dur) * fs).astype(np.int64)
    b = np.floor(np.clip(centre + USEFUL_S / 2 - margin_s, 0, dur) * fs).astype(np.int64)
    keep = b > a
    return np.stack([a[keep], b[keep]], axis=1)


def burst_power(iq, fs, band_hz, block_len, *, slot_start_s=None, slot=0, nfft=1024,
                workers=None):
    """Burst power per block: the mean over the useful part of one timeslot's bursts.

    Parameters
    ----------
    iq : ndarray of complex
    fs : float
    band_hz : array_like, shape (2,)
        The 200 kHz channel, (low, high) offsets from the tuned centre, Hz.
    block_len : int
        Samples per output value.
    slot_start_s : float, optional
        Known start of slot 0 (from sample 0).  Without it each block finds its own
        strongest slot (:func:`find_burst`), which follows a drifting sample clock.
    slot : int
        Timeslot counted from ``slot_start_s``; ignored when the slot is found.
    nfft, workers
        As for :func:`dsp.power.gated_band_powers`.

    Returns
    -------
    powers : ndarray, shape (n_blocks,)
        Linear in-channel power during the bursts (add :data:`GMSK_IN_CHANNEL_DB` in dB
        for the carrier's power).
    properties : dict
        ``slot_start_s`` (per block), ``share_db`` (per block: the burst slot against the
        mean of the 8 slots; 9.0 dB for one busy slot, 0 for a continuous carrier),
        ``frames`` (FFT frames averaged per block).

    Examples
    --------
    A tone (power 0.01) in one 577 us slot of every TDMA frame, over faint noise:

    >>> fs = 30.72e6
    >>> t = np.arange(int(0.1 * fs)) / fs
    >>> on = ((t - 1e-3) % FRAME_S) < SLOT_S
    >>> rng = np.random.default_rng(1)
    >>> x = 0.1 * on * np.exp(2j * np.pi * 20e3 * t) + 1e-4 * rng.standard_normal(t.size)
    >>> p, props = burst_power(x.astype(np.complex64), fs, (-100e3, 100e3), t.size)
    >>> round(float(10 * np.log10(p[0])), 2), round(float(props["share_db"][0]), 1)
    (-20.0, 9.0)
    """
    iq = power._as_iq(iq)
    block_len = int(block_len)
    n_blocks = iq.size // block_len
    if n_blocks == 0:
        raise ValueError(f"iq has {iq.size} samples, fewer than one block of {block_len}")
    band = np.asarray(band_hz, float)[None, :]
    out = np.empty(n_blocks)
    starts = np.empty(n_blocks)
    share = np.empty(n_blocks)
    frames = np.zeros(n_blocks, dtype=int)
    for b in range(n_blocks):
        block = iq[b * block_len: (b + 1) * block_len]
        if slot_start_s is None:
            start, slots = find_burst(block, fs, band[0], nfft=nfft)
            share[b] = 10 * np.log10(max(slots[0], 1e-300) / max(np.mean(slots), 1e-300))
            use_slot = 0
        else:
            start = (slot_start_s - b * block_len / fs) % FRAME_S
            share[b] = np.nan
            use_slot = slot
        gates = burst_gates(start, block.size, fs, slot=use_slot)
        p, f = power.gated_band_powers(block, fs, band, gates, block.size, nfft=nfft,
                                       workers=workers)
        out[b] = p[0, 0]
        frames[b] = f[0]
        starts[b] = start + b * block_len / fs
    return out, {"slot_start_s": starts, "share_db": share, "frames": frames}


def hopping_burst_power(iq, fs, bands_hz, block_len, *, nfft=1024, workers=None):
    """Burst power of a handset hopping over several ARFCNs, per block.

    A hopping handset sends each frame's burst on one ARFCN of its list (the mobile
    allocation), so any one ARFCN carries it 1/N of the time.  The timeslot is found
    from the envelope summed over the list; each burst is then measured on every ARFCN
    and the strongest kept: the one the handset was on.  The power is the mean of those.

    Parameters
    ----------
    iq, fs, block_len, nfft, workers
        As for :func:`burst_power`.
    bands_hz : array_like, shape (n, 2)
        The hopping list's 200 kHz channels, offsets from the tuned centre, Hz.

    Returns
    -------
    powers : ndarray, shape (n_blocks,)
        Linear in-channel burst power.
    properties : dict
        ``arfcn_share`` (n_blocks, n): the fraction of each block's bursts found on each
        ARFCN (about 1/n each for a handset hopping over all of them); ``slot_start_s``.
    """
    iq = power._as_iq(iq)
    bands = np.asarray(bands_hz, float).reshape(-1, 2)
    block_len = int(block_len)
    n_blocks = iq.size // block_len
    if n_blocks == 0:
        raise ValueError(f"iq has {iq.size} samples, fewer than one block of {block_len}")
    out = np.empty(n_blocks)
    share = np.zeros((n_blocks, bands.shape[0]))
    starts = np.empty(n_blocks)
    for b in range(n_blocks):
        block = iq[b * block_len: (b + 1) * block_len]
        start, _ = find_burst(block, fs, bands, nfft=nfft)
        gates = burst_gates(start, block.size, fs)
        f_starts, p = power.frame_band_powers(block, fs, bands, gates, nfft=nfft,
                                              workers=workers)
        burst = np.searchsorted(gates[:, 0], f_starts, side="right") - 1
        n_bursts = gates.shape[0]
        counts = np.bincount(burst, minlength=n_bursts)
        per_burst = np.stack([np.bincount(burst, weights=p[:, j], minlength=n_bursts)
                              for j in range(bands.shape[0])], axis=1)
        seen = counts > 0
        per_burst = per_burst[seen] / counts[seen, None]
        best = np.argmax(per_burst, axis=1)
        out[b] = float(np.mean(per_burst[np.arange(best.size), best])) if best.size else np.nan
        share[b] = np.bincount(best, minlength=bands.shape[0]) / max(best.size, 1)
        starts[b] = start + b * block_len / fs
    return out, {"arfcn_share": share, "slot_start_s": starts}
