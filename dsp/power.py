"""Calibrated channel power from complex baseband IQ.

The IQ stream (complex, centred on the tuned frequency, sample rate ``fs`` in
Hz) is cut into non-overlapping frames of ``nfft`` samples, windowed and
transformed in batches with ``scipy.fft``; ``frames_per_block`` frames are
averaged into one power estimate per block.  Powers are linear in full-scale
units (|x|^2 of a sample) unless a name says ``_db``/``_dbfs``/``_dbm``.

Power of a frequency band comes from the periodogram bins, each weighted by the
fraction of its width that lies inside the band, so a band edge between bins
is handled exactly for a flat spectrum.  With ``S_k = |X_k|^2 / (nfft sum w^2)``
the bins of a frame sum to its (window-weighted) mean power (Parseval):

    sum_k S_k = sum_n |w_n x_n|^2 / sum_n w_n^2

At 30.72 Msps and nfft = 2048 a bin is 15 kHz, an LTE subcarrier, and 15
frames are one 1 ms subframe.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft
import scipy.signal
import scipy.stats

from dsp.bands import calibration_band

LTE_PRB_HZ = 180e3
LTE_SUBCARRIER_HZ = 15e3
# TS 36.101 table 5.6-1: channel bandwidth (MHz) -> transmission bandwidth (RBs)
LTE_N_PRB = {1.4: 6, 3: 15, 5: 25, 10: 50, 15: 75, 20: 100}
GSM_CHANNEL_HZ = 200e3

# Frames per batch handed to one FFT call: large enough to amortise the call,
# small enough (~1 MB of complex64 at nfft 2048) to stay in cache while the
# window, FFT and |X|^2 passes run over it.
_BATCH_BYTES = 1 << 20


def _as_iq(iq):
    arr = np.asarray(iq)
    if arr.dtype.kind != "c":
        raise ValueError(
            f"iq must be complex baseband samples (complex64/complex128), got dtype {arr.dtype}; "
            "interleaved integer I/Q must be converted first (dsp.sources reads SigMF ci16/cf32)")
    if arr.ndim != 1:
        raise ValueError(f"iq must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("iq is empty")
    if arr.dtype != np.complex64:
        arr = arr.astype(np.complex64)
    return np.ascontiguousarray(arr)


def _check_fs(fs):
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs must be a positive sample rate in Hz, got {fs!r}")
    return fs


def _check_bands(bands_hz, fs):
    bands = np.asarray(bands_hz, dtype=float)
    if bands.ndim == 1 and bands.size == 2:
        bands = bands[None, :]
    if bands.ndim != 2 or bands.shape[1] != 2 or bands.shape[0] == 0:
        raise ValueError("bands_hz must be (low_hz, high_hz) pairs, shape (n_bands, 2)")
    if not np.all(np.isfinite(bands)) or np.any(bands[:, 1] <= bands[:, 0]):
        raise ValueError("every band in bands_hz needs finite low_hz < high_hz")
    if np.any(bands[:, 0] < -fs / 2 - 1e-6) or np.any(bands[:, 1] > fs / 2 + 1e-6):
        raise ValueError(
            f"bands_hz must lie within the sampled span -{fs / 2:g}..{fs / 2:g} Hz "
            "(offsets from the tuned centre frequency)")
    return bands


def window_array(window, nfft):
    """Window samples as float32 (scipy.signal.get_window, periodic)."""
    return scipy.signal.get_window(window, nfft, fftbins=True).astype(np.float32)


def band_weights(fs, nfft, bands_hz):
    """Weight of each FFT bin in each band, shape (nfft, n_bands).

    Bins are in ``scipy.fft`` order (``fftfreq``); a bin of width fs/nfft
    centred on f_k gets the fraction of [f_k - df/2, f_k + df/2] inside the
    band.

    Parameters
    ----------
    fs : float
        Sample rate, Hz.
    nfft : int
    bands_hz : array_like, shape (n_bands, 2)
        (low, high) offsets from the tuned centre, Hz.
    """
    fs = _check_fs(fs)
    bands = _check_bands(bands_hz, fs)
    df = fs / nfft
    f = scipy.fft.fftfreq(nfft, 1.0 / fs)
    lo = np.maximum(f[:, None] - df / 2, bands[None, :, 0])
    hi = np.minimum(f[:, None] + df / 2, bands[None, :, 1])
    return (np.clip(hi - lo, 0.0, None) / df).astype(np.float32)


def lte_prb_bands_hz(n_prb=100):
    """Uplink PRB edges relative to the carrier centre, shape (n_prb, 2).

    The SC-FDMA uplink puts subcarrier k at (k + 1/2) * 15 kHz, k = -6 n_prb ..
    6 n_prb - 1 (TS 36.211 5.6), so PRB n spans [-90 kHz n_prb + 180 kHz n,
    -90 kHz n_prb + 180 kHz (n + 1)).
    """
    if n_prb not in LTE_N_PRB.values():
        raise ValueError(f"n_prb must be one of {sorted(LTE_N_PRB.values())}, got {n_prb!r}")
    low = -n_prb * LTE_PRB_HZ / 2 + LTE_PRB_HZ * np.arange(n_prb)
    return np.stack([low, low + LTE_PRB_HZ], axis=1)


def channel_band_hz(rat, bandwidth_hz=None, prbs=None):
    """(low, high) offsets from the carrier centre that a channel occupies.

    Parameters
    ----------
    rat : {"gsm", "lte", "nr"}
    bandwidth_hz : float, optional
        LTE channel bandwidth (1.4-20 MHz; default 20 MHz) or NR channel
        bandwidth (required; the full bandwidth is used).  Ignored for GSM
        (200 kHz).
    prbs : sequence of int, optional
        LTE only: the PRBs to measure (a target's allocation); the span from
        the lowest to the highest PRB.
    """
    rat = str(rat).lower()
    if prbs is not None and rat != "lte":
        raise ValueError(f"prbs apply to LTE only, not {rat}")
    if rat == "gsm":
        return np.array([-GSM_CHANNEL_HZ / 2, GSM_CHANNEL_HZ / 2])
    if rat == "lte":
        mhz = 20.0 if bandwidth_hz is None else float(bandwidth_hz) / 1e6
        key = next((k for k in LTE_N_PRB if abs(k - mhz) < 1e-6), None)
        if key is None:
            raise ValueError(
                f"LTE channel bandwidth {mhz:g} MHz is not one of "
                f"{', '.join(f'{k:g}' for k in LTE_N_PRB)} MHz")
        edges = lte_prb_bands_hz(LTE_N_PRB[key])
        if prbs is None:
            return np.array([edges[0, 0], edges[-1, 1]])
        prbs = np.asarray(prbs, dtype=int)
        if prbs.size == 0 or prbs.min() < 0 or prbs.max() >= len(edges):
            raise ValueError(f"prbs must lie in 0..{len(edges) - 1} for {key:g} MHz LTE")
        return np.array([edges[prbs.min(), 0], edges[prbs.max(), 1]])
    if rat == "nr":
        if bandwidth_hz is None or not float(bandwidth_hz) > 0:
            raise ValueError("NR needs bandwidth_hz (the channel bandwidth, e.g. 100e6)")
        return np.array([-float(bandwidth_hz) / 2, float(bandwidth_hz) / 2])
    raise ValueError(f"unknown RAT {rat!r}: use gsm, lte or nr")


class _Spectrum:
    """Batched windowed periodogram summed over blocks; the reusable core."""

    def __init__(self, fs, nfft, frames_per_block, window, bands_hz, workers):
        self.fs = _check_fs(fs)
        if int(nfft) < 16 or int(nfft) != nfft:
            raise ValueError(f"nfft must be an integer >= 16, got {nfft!r}")
        if int(frames_per_block) < 1 or int(frames_per_block) != frames_per_block:
            raise ValueError(f"frames_per_block must be a positive integer, got {frames_per_block!r}")
        self.nfft = int(nfft)
        self.fpb = int(frames_per_block)
        self.block_len = self.nfft * self.fpb
        win = window_array(window, self.nfft)
        # Window applied to the float32 view (re, im interleaved) in one pass.
        self.win2 = np.repeat(win, 2)
        # S_k = |X_k|^2 / (nfft sum w^2), averaged over fpb frames; the scale
        # is folded into the band weights.
        scale = 1.0 / (self.nfft * float(np.sum(win.astype(float) ** 2)) * self.fpb)
        self.weights = band_weights(self.fs, self.nfft, bands_hz) * np.float32(scale)
        self.n_bands = self.weights.shape[1]
        self.batch_frames = max(1, _BATCH_BYTES // (8 * self.nfft))
        self.workers = workers if workers else min(2, os.cpu_count() or 1)
        self._ones = np.ones(max(self.fpb, self.batch_frames), dtype=np.float32)

    def _tasks(self, n_blocks):
        """Work units of (first frame, frame count, block) batches; a unit covers
        whole blocks, so threads never add into the same block."""
        fpb, bf = self.fpb, self.batch_frames
        if fpb <= bf:
            k = bf // fpb
            return [[(b * fpb, min(k, n_blocks - b) * fpb, b)] for b in range(0, n_blocks, k)]
        return [[(b * fpb + s, min(bf, fpb - s), b) for s in range(0, fpb, bf)]
                for b in range(n_blocks)]

    def _batch(self, frames_f32, buf, summed, block):
        """Add |X|^2 of the frames, re/im apart, into ``summed`` from row ``block``."""
        m = frames_f32.shape[0]
        b = buf[:m]
        np.multiply(frames_f32, self.win2, out=b)
        spec = scipy.fft.fft(b.view(np.complex64), axis=-1, overwrite_x=True, workers=1)
        sv = spec.view(np.float32)
        np.square(sv, out=sv)
        if m >= self.fpb:
            # whole blocks: one batched sum over each block's frames
            summed[block: block + m // self.fpb] = np.matmul(
                self._ones[: self.fpb], sv.reshape(m // self.fpb, self.fpb, 2 * self.nfft))
        else:
            summed[block] += self._ones[:m] @ sv

    def block_powers(self, iq):
        """(n_blocks, n_bands) powers of the whole blocks in ``iq`` (complex64)."""
        n_blocks = iq.size // self.block_len
        frames = iq[: n_blocks * self.block_len].view(np.float32).reshape(-1, 2 * self.nfft)
        tasks = self._tasks(n_blocks)
        summed = np.zeros((n_blocks, 2 * self.nfft), dtype=np.float32)

        def run(worker):
            buf = np.empty((self.batch_frames, 2 * self.nfft), dtype=np.float32)
            for task in tasks[worker::self.workers]:
                for first, count, block in task:
                    self._batch(frames[first: first + count], buf, summed, block)

        n_workers = min(self.workers, len(tasks))
        if n_workers == 1:
            run(0)
        elif n_workers > 1:
            # numpy ufuncs and scipy.fft release the GIL, so threads over
            # independent batches use both cores.
            with ThreadPoolExecutor(n_workers) as pool:
                list(pool.map(run, range(n_workers)))
        # |X|^2 = re^2 + im^2, then the band weights: one pass over the small
        # block-averaged spectra instead of every frame.
        return ((summed[:, 0::2] + summed[:, 1::2]) @ self.weights).astype(np.float64)


def _check_finite(powers, block_len):
    bad = ~np.isfinite(powers).all(axis=1)
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"iq contains NaN or infinite samples (in samples {b * block_len}.."
            f"{(b + 1) * block_len - 1})")


def band_powers(iq, fs, bands_hz, *, nfft=2048, frames_per_block=15, window="hann", workers=None):
    """Power in frequency bands, one row per block of ``nfft * frames_per_block`` samples.

    Parameters
    ----------
    iq : ndarray of complex, shape (n,)
        Baseband samples; complex128 is converted to complex64.  A trailing
        partial block is ignored.
    fs : float
        Sample rate, Hz.
    bands_hz : array_like, shape (n_bands, 2) or (2,)
        (low, high) offsets from the tuned centre, Hz.
    nfft : int
        FFT length (frequency resolution fs/nfft).
    frames_per_block : int
        Frames averaged per output row (time resolution nfft*frames_per_block/fs).
    window : str or tuple
        Any ``scipy.signal.get_window`` window.
    workers : int, optional
        Threads (default: up to 2).

    Returns
    -------
    ndarray, shape (n_blocks, n_bands)
        Linear power (full-scale units, |x|^2) in each band.

    Raises
    ------
    ValueError
        Non-complex, empty, non-finite or too-short ``iq``; bad bands.

    Examples
    --------
    A tone of amplitude 0.1 (power 0.01, -20 dBFS) at +1 MHz in white noise:

    >>> fs = 30.72e6
    >>> n = np.arange(2048 * 15 * 4)
    >>> tone = 0.1 * np.exp(2j * np.pi * 1e6 * n / fs)
    >>> p = band_powers(tone.astype(np.complex64), fs, [(0.5e6, 1.5e6)])
    >>> p.shape, round(float(10 * np.log10(p.mean())), 2)
    ((4, 1), -20.0)
    """
    iq = _as_iq(iq)
    spec = _Spectrum(fs, nfft, frames_per_block, window, bands_hz, workers)
    if iq.size < spec.block_len:
        raise ValueError(
            f"iq has {iq.size} samples, fewer than one block of nfft*frames_per_block = "
            f"{spec.block_len}")
    tail = iq[(iq.size // spec.block_len) * spec.block_len:]
    if tail.size and not np.isfinite(tail.view(np.float32)).all():
        raise ValueError("iq contains NaN or infinite samples (in the trailing partial block)")
    powers = spec.block_powers(iq)
    _check_finite(powers, spec.block_len)
    return powers


def channel_power(iq, fs, rat, *, bandwidth_hz=None, prbs=None, offset_hz=0.0, **kwargs):
    """Power of one channel (whole LTE/NR channel, a set of LTE PRBs, or a GSM channel).

    Parameters
    ----------
    iq, fs
        As for :func:`band_powers`.
    rat : {"gsm", "lte", "nr"}
    bandwidth_hz, prbs
        As for :func:`channel_band_hz`.
    offset_hz : float
        Channel centre minus the tuned centre frequency, Hz.
    **kwargs
        ``nfft``, ``frames_per_block``, ``window``, ``workers``.

    Returns
    -------
    ndarray, shape (n_blocks,)
        Linear power per block.
    """
    band = channel_band_hz(rat, bandwidth_hz, prbs) + float(offset_hz)
    return band_powers(iq, fs, band[None, :], **kwargs)[:, 0]


def wideband_power(iq, block_len):
    """Mean |x|^2 per block of ``block_len`` samples, in the time domain (no FFT).

    Returns
    -------
    ndarray, shape (n // block_len,)
    """
    iq = _as_iq(iq)
    block_len = int(block_len)
    n_blocks = iq.size // block_len if block_len > 0 else 0
    if n_blocks == 0:
        raise ValueError(f"iq has {iq.size} samples, fewer than block_len = {block_len}")
    v = iq[: n_blocks * block_len].view(np.float32).reshape(n_blocks, 2 * block_len)
    p = np.einsum("ij,ij->i", v, v, dtype=np.float64) / block_len
    _check_finite(p[:, None], block_len)
    return p


def noise_floor(bin_powers, frames_per_block, *, quantile=0.2, iterations=4):
    """Noise power per bin of an averaged periodogram with signals in it.

    A noise-only bin averaged over K frames is Gamma(K, sigma^2/K)
    distributed.  A first estimate is the ``quantile`` of the bins divided by
    the same quantile of Gamma(K, 1/K); then, ``iterations`` times, the bins
    below the 99 % point of the noise distribution are averaged and the mean
    corrected for that truncation,

        E[X | X < c] = sigma^2 P(Gamma(K+1, 1/K) < g) / P(Gamma(K, 1/K) < g),
        c = g sigma^2,  g = 99 % point of Gamma(K, 1/K),

    so bins occupied by signals well above the noise drop out even when they
    are most of the spectrum (the first estimate alone would be biased up).

    Parameters
    ----------
    bin_powers : ndarray, shape (..., nfft)
        Per-bin powers averaged over ``frames_per_block`` frames
        (:func:`periodogram_blocks`).
    frames_per_block : int
    quantile : float
    iterations : int

    Returns
    -------
    ndarray, shape (...)
        Noise power per bin (linear); divide by the bin width fs/nfft for a
        density per Hz.
    """
    p = np.asarray(bin_powers, dtype=float)
    k = int(frames_per_block)
    est = np.quantile(p, quantile, axis=-1) / scipy.stats.gamma.ppf(quantile, k, scale=1.0 / k)
    g = scipy.stats.gamma.ppf(0.99, k, scale=1.0 / k)
    truncated_mean = scipy.stats.gamma.cdf(g, k + 1, scale=1.0 / k) / 0.99
    for _ in range(int(iterations)):
        below = p < (g * est)[..., None]
        count = below.sum(axis=-1)
        mean = np.where(below, p, 0.0).sum(axis=-1) / np.maximum(count, 1)
        est = np.where(count > 0, mean / truncated_mean, est)
    return est


def periodogram_blocks(iq, fs, *, nfft=2048, frames_per_block=15, window="hann"):
    """Per-bin power averaged per block, in ascending frequency.

    Returns
    -------
    freq_hz : ndarray, shape (nfft,)
        Bin centre offsets, ascending.
    bin_powers : ndarray, shape (n_blocks, nfft)
        Linear power per bin; the bins of a row sum to the block's power.
    """
    iq = _as_iq(iq)
    spec = _Spectrum(fs, nfft, frames_per_block, window, [(-fs / 2, fs / 2)], 1)
    n_blocks = iq.size // spec.block_len
    if n_blocks == 0:
        raise ValueError(f"iq has {iq.size} samples, fewer than one block of {spec.block_len}")
    frames = iq[: n_blocks * spec.block_len].reshape(n_blocks, spec.fpb, spec.nfft)
    win = window_array(window, spec.nfft)
    spec_c = scipy.fft.fft(frames * win, axis=-1)
    norm = spec.nfft * float(np.sum(win.astype(float) ** 2))
    p = (spec_c.real ** 2 + spec_c.imag ** 2).mean(axis=1) / norm
    _check_finite(p, spec.block_len)
    freq_hz = scipy.fft.fftshift(scipy.fft.fftfreq(spec.nfft, 1.0 / spec.fs))
    return freq_hz, scipy.fft.fftshift(p, axes=-1)


def to_db(power):
    """10 log10 of a linear power; zero maps to -inf without a warning."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(power, dtype=float))


def _range_coefficients(calibration, freq_hz):
    """Coefficients from a calibration file's frequency ranges, or None if it has none.

    A bench file (``rfhound bench``) lists ``bands`` with ``lo_hz``/``hi_hz``
    and float ``coefficients``; the firmware table (``entries``, also in
    ``hardware/calibration/default.json``) holds the same in integer units.
    """
    f = float(freq_hz)
    bands = calibration.get("bands")
    if isinstance(bands, list):
        for band in bands:
            if band["lo_hz"] <= f <= band["hi_hz"]:
                c = band["coefficients"]
                return (c["offset_db"], c.get("slope", 1.0), c.get("temp_coeff_db_per_c", 0.0),
                        c.get("t_ref_c", 25.0))
        return ()
    entries = calibration.get("entries")
    if isinstance(entries, list):
        for e in entries:
            if e["band_lo_mhz"] * 1e6 <= f <= e["band_hi_mhz"] * 1e6:
                return (e["offset_cdb"] / 100.0, e["slope_e4"] / 1e4,
                        e["temp_coef_mdb_per_c"] / 1000.0, e["ref_temp_cdeg"] / 100.0)
        return ()
    return None


def _coefficients(calibration, freq_hz):
    if not isinstance(calibration, dict):
        raise ValueError("calibration must be a dict: per-band coefficients or a calibration file")
    where = f"{float(freq_hz) / 1e6:.3f} MHz"
    try:
        found = _range_coefficients(calibration, freq_hz)
        if found is None:
            table = calibration.get("bands", calibration)
            band = calibration_band(freq_hz)
            if band not in table:
                raise ValueError(
                    f"calibration has no entry for band {band} ({where}); it covers "
                    f"{', '.join(map(str, table)) or 'no bands'}: recalibrate on the bench")
            c = table[band]
            found = (c["offset_db"], c.get("slope", 1.0), c.get("temp_coef_db_per_c", 0.0),
                     c.get("ref_temp_c", 25.0))
        elif not found:
            raise ValueError(f"calibration has no band covering {where}: recalibrate on the bench")
        if any(isinstance(v, (bool, str, bytes)) for v in found):
            raise TypeError
        offset, slope, temp_coef, ref_temp = (float(v) for v in found)
    except (KeyError, TypeError, AttributeError, OverflowError):
        raise ValueError(
            f"calibration entry for {where} is malformed: it needs a numeric offset_db "
            "(and optional slope, temp_coef_db_per_c, ref_temp_c)") from None
    # A NaN, a zero or a negative slope turns every reading into nan, a constant or its
    # mirror image: exit 0 with nonsense. Refuse the entry instead.
    if not all(np.isfinite((offset, slope, temp_coef, ref_temp))):
        raise ValueError(f"calibration entry for {where} has a non-finite coefficient: "
                         "recalibrate on the bench")
    if slope <= 0:
        raise ValueError(f"calibration entry for {where} has slope {slope:g}; it must be above 0 "
                         "(a reading that rises with the input): recalibrate on the bench")
    return offset, slope, temp_coef, ref_temp


def to_dbm(power_dbfs, freq_hz, calibration, *, gain_db=0.0, temp_c=None):
    """Calibrated power in dBm from a receiver reading in dBFS.

    P_dBm = offset_db + slope (P_dBFS - gain_db) - temp_coef_db_per_c (T - ref_temp_c)

    the project's calibration model (``firmware/calibration.py``,
    ``host/bench``): ``temp_coef_db_per_c`` is how much the receiver's reading
    rises per degree for the same input, so it is taken off.  The temperature
    term is skipped when ``temp_c`` is None.

    Parameters
    ----------
    power_dbfs : float or ndarray
    freq_hz : float
        Tuned frequency, Hz; selects the band.
    calibration : dict
        Either a plain table keyed by :func:`dsp.bands.calibration_band` name,
        ``{"1800": {"offset_db": ..., "slope": ..., "temp_coef_db_per_c": ...,
        "ref_temp_c": ...}}`` (optionally under ``"bands"``), or a calibration
        file as ``rfhound bench`` writes it (``bands`` list with ``lo_hz``,
        ``hi_hz``, ``coefficients``) or as the firmware holds it (``entries``
        with ``band_lo_mhz``, ``offset_cdb``, ``slope_e4``, ...).
    gain_db : float
        Receiver gain setting in force.
    temp_c : float, optional
        Receiver temperature.

    Examples
    --------
    >>> cal = {"1800": {"offset_db": -30.0, "slope": 1.0}}
    >>> float(to_dbm(-40.0, 1747.5e6, cal, gain_db=20.0))
    -90.0
    """
    offset, slope, temp_coef, ref_temp = _coefficients(calibration, freq_hz)
    p = offset + slope * (np.asarray(power_dbfs, dtype=float) - float(gain_db))
    if temp_c is not None:
        p = p - temp_coef * (float(temp_c) - ref_temp)
    return p


class ChannelPowerMeter:
    """Streaming form of :func:`band_powers`: feed IQ chunks of any length.

    Samples that do not complete a block are kept for the next ``feed``, so
    the rows equal those of :func:`band_powers` over the concatenated stream.

    Parameters
    ----------
    fs, bands_hz, nfft, frames_per_block, window, workers
        As for :func:`band_powers`.
    """

    def __init__(self, fs, bands_hz, *, nfft=2048, frames_per_block=15, window="hann",
                 workers=None):
        self._spec = _Spectrum(fs, nfft, frames_per_block, window, bands_hz, workers)
        self._pending = np.empty(0, dtype=np.complex64)
        self.blocks_done = 0

    @property
    def block_s(self):
        """Duration of one output row, seconds."""
        return self._spec.block_len / self._spec.fs

    def feed(self, iq):
        """Band powers (n_new_blocks, n_bands) of the blocks completed by ``iq``."""
        iq = _as_iq(iq)
        data = np.concatenate([self._pending, iq]) if self._pending.size else iq
        n_whole = (data.size // self._spec.block_len) * self._spec.block_len
        self._pending = data[n_whole:].copy()
        if n_whole == 0:
            return np.empty((0, self._spec.n_bands))
        powers = self._spec.block_powers(data[:n_whole])
        _check_finite(powers, self._spec.block_len)
        self.blocks_done += powers.shape[0]
        return powers


def gate_frames(gates, nfft):
    """Start samples of the ``nfft``-sample frames that fit whole inside each gate.

    Frames are packed back to back and centred in their gate, so a gate of length L
    holds ``L // nfft`` frames and the leftover is split evenly at its two ends.

    Parameters
    ----------
    gates : array_like of int, shape (k, 2)
        [start, end) sample intervals.
    nfft : int

    Returns
    -------
    ndarray of int64, shape (n_frames,)
    """
    g = np.asarray(gates, dtype=np.int64).reshape(-1, 2)
    length = np.maximum(g[:, 1] - g[:, 0], 0)
    n = length // int(nfft)
    pad = (length - n * int(nfft)) // 2
    rep = np.repeat(np.arange(g.shape[0]), n)
    within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return g[rep, 0] + pad[rep] + within * int(nfft)


def split_gates(gates, block_len):
    """Gates cut at multiples of ``block_len``, so no frame straddles two output blocks."""
    g = np.asarray(gates, dtype=np.int64).reshape(-1, 2)
    out = []
    block_len = int(block_len)
    for a, b in g:
        cut = (a // block_len + 1) * block_len
        while cut < b:
            out.append((a, cut))
            a = cut
            cut += block_len
        if b > a:
            out.append((a, b))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def gated_band_powers(iq, fs, bands_hz, gates, block_len, *, nfft=2048, window="hann",
                      workers=None):
    """Band powers of only the samples inside ``gates``, one row per block of ``block_len``.

    The gated measurement for time-shared channels: the uplink subframes of a TDD frame,
    the timeslot of a GSM burst.  Only the ``nfft``-sample frames that fit whole inside a
    gate are transformed (:func:`gate_frames`), so nothing outside a gate leaks in and the
    work shrinks with the gated share of time.  Each block's power is the linear mean of
    its frames' powers.

    Parameters
    ----------
    iq : ndarray of complex, shape (n,)
    fs : float
        Sample rate, Hz.
    bands_hz : array_like, shape (n_bands, 2) or (2,)
        (low, high) offsets from the tuned centre, Hz.
    gates : array_like of int, shape (k, 2)
        [start, end) sample intervals to measure, sorted.
    block_len : int
        Samples per output row; a trailing partial block is ignored.
    nfft, window, workers
        As for :func:`band_powers`.

    Returns
    -------
    powers : ndarray, shape (n_blocks, n_bands)
        Linear power; NaN in a block whose gates hold no whole frame.
    frames : ndarray of int, shape (n_blocks,)
        Frames averaged per block.

    Examples
    --------
    Noise of power 1e-4 with a tone of power 1e-2 switched on in the second half of
    every millisecond; gating on those halves reads the tone plus the noise:

    >>> fs = 30.72e6
    >>> rng = np.random.default_rng(0)
    >>> n = 30720 * 20
    >>> x = np.sqrt(0.5e-4) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    >>> on = (np.arange(n) % 30720) >= 15360
    >>> x = (x + 0.1 * on * np.exp(2j * np.pi * 1e6 * np.arange(n) / fs)).astype(np.complex64)
    >>> gates = [(k * 30720 + 15360, (k + 1) * 30720) for k in range(20)]
    >>> p, f = gated_band_powers(x, fs, [(-fs / 2, fs / 2)], gates, 30720 * 10)
    >>> np.round(10 * np.log10(p[:, 0]), 2).tolist(), f.tolist()
    ([-19.96, -19.96], [70, 70])
    """
    iq = _as_iq(iq)
    block_len = int(block_len)
    if block_len < 1:
        raise ValueError(f"block_len must be a positive number of samples, got {block_len}")
    n_blocks = iq.size // block_len
    if n_blocks == 0:
        raise ValueError(f"iq has {iq.size} samples, fewer than one block of {block_len}")
    g = np.clip(np.asarray(gates, dtype=np.int64).reshape(-1, 2), 0, n_blocks * block_len)
    starts, per_frame = frame_band_powers(iq, fs, bands_hz, split_gates(g, block_len),
                                          nfft=nfft, window=window, workers=workers)
    block_of = starts // block_len
    frames = np.bincount(block_of, minlength=n_blocks)[:n_blocks]
    powers = np.empty((n_blocks, per_frame.shape[1]))
    for j in range(per_frame.shape[1]):
        s = np.bincount(block_of, weights=per_frame[:, j], minlength=n_blocks)[:n_blocks]
        with np.errstate(invalid="ignore", divide="ignore"):
            powers[:, j] = np.where(frames > 0, s / np.maximum(frames, 1), np.nan)
    return powers, frames


def frame_band_powers(iq, fs, bands_hz, gates, *, nfft=2048, window="hann", workers=None):
    """Band power of each ``nfft``-sample frame that fits whole inside a gate.

    Parameters
    ----------
    iq, fs, bands_hz, nfft, window, workers
        As for :func:`band_powers`.
    gates : array_like of int, shape (k, 2)
        [start, end) sample intervals within ``iq``, sorted.

    Returns
    -------
    starts : ndarray of int64, shape (n_frames,)
        First sample of each frame (:func:`gate_frames`).
    powers : ndarray, shape (n_frames, n_bands)
        Linear power of each frame in each band.
    """
    iq = _as_iq(iq)
    spec = _Spectrum(fs, nfft, 1, window, bands_hz, workers)
    g = np.clip(np.asarray(gates, dtype=np.int64).reshape(-1, 2), 0, iq.size)
    counts = np.maximum(g[:, 1] - g[:, 0], 0) // spec.nfft
    g, counts = g[counts > 0], counts[counts > 0]
    starts = gate_frames(g, spec.nfft)
    per_frame = np.empty((starts.size, spec.n_bands), dtype=np.float64)
    if starts.size:
        _gated_frames(spec, iq, g, counts, per_frame)
        bad = ~np.isfinite(per_frame).all(axis=1)
        if bad.any():
            a = int(starts[np.flatnonzero(bad)[0]])
            raise ValueError(f"iq contains NaN or infinite samples "
                             f"(in samples {a}..{a + spec.nfft - 1})")
    return starts, per_frame


def _gated_frames(spec, iq, gates, counts, out):
    """Per-frame band powers of the frames packed in each gate, into ``out`` in order."""
    nfft = spec.nfft
    f32 = iq.view(np.float32)
    # |X|^2 of interleaved (re, im) squares summed by the weights repeated per component.
    w2 = np.repeat(spec.weights, 2, axis=0)
    first_row = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pad = ((gates[:, 1] - gates[:, 0]) - counts * nfft) // 2
    bf = spec.batch_frames

    def run(part):
        buf = np.empty((bf, 2 * nfft), dtype=np.float32)
        filled = 0
        rows = []      # (row in out, frames) per piece in buf

        def flush():
            nonlocal filled
            b = buf[:filled]
            spec_c = scipy.fft.fft(b.view(np.complex64), axis=-1, overwrite_x=True, workers=1)
            sv = spec_c.view(np.float32)
            np.square(sv, out=sv)
            res = sv @ w2
            at = 0
            for row, m in rows:
                out[row: row + m] = res[at: at + m]
                at += m
            filled = 0
            rows.clear()

        for k in part:
            start = int(gates[k, 0] + pad[k])
            row = int(first_row[k])
            left = int(counts[k])
            while left:
                m = min(left, bf - filled)
                src = f32[2 * start: 2 * (start + m * nfft)].reshape(m, 2 * nfft)
                np.multiply(src, spec.win2, out=buf[filled: filled + m])
                rows.append((row, m))
                filled += m
                start += m * nfft
                row += m
                left -= m
                if filled == bf:
                    flush()
        if filled:
            flush()

    n_workers = min(spec.workers, len(gates))
    parts = [range(w * len(gates) // n_workers, (w + 1) * len(gates) // n_workers)
             for w in range(n_workers)]
    if n_workers <= 1:
        run(range(len(gates)))
    else:
        with ThreadPoolExecutor(n_workers) as pool:
            list(pool.map(run, parts))
