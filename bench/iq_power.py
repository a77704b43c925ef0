"""Bench: power of all 100 LTE PRBs plus wideband power from 30.72 Msps IQ.

One run, three timings over the same complex64 data (an LTE 20 MHz uplink
capture's rate):

* ours: ``dsp.power.band_powers`` - Hann-windowed 2048-point FFTs (15 kHz bins),
  1 ms blocks, 100 PRB bands + wideband;
* bare FFT: one ``scipy.fft.fft`` over the same frames, nothing else - the
  compute floor (also shown in cache-sized batches, a stricter floor);
* Welch: ``scipy.signal.welch`` per 1 ms block (same window, nperseg, no
  overlap) then the same PRB sums - the obvious baseline.

Prints the real-time factor of each and the ratios.  Targets: >= 8x real
time, within 1.5x of the bare FFT.

Run: .venv/bin/python bench/iq_power.py [--seconds 2] [--repeat 3] [--workers N]
"""

import argparse
import os
import time

import numpy as np
import scipy.fft
import scipy.signal

from dsp.power import band_powers, band_weights, lte_prb_bands_hz

FS = 30.72e6
NFFT = 2048
FRAMES_PER_BLOCK = 15  # 1 ms LTE subframe


def _interleaved_best(repeat, fns):
    """Best time of each function, the runs interleaved so that a busy machine's
    load falls on all of them alike.  Returns (times, last results)."""
    best = [float("inf")] * len(fns)
    results = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            results[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="IQ duration (default 2 s)")
    parser.add_argument("--repeat", type=int, default=5, help="best of N interleaved runs (default 5)")
    parser.add_argument("--workers", type=int, default=None,
                        help="threads for ours and the bare FFT (default up to 2)")
    args = parser.parse_args(argv)
    workers = args.workers or min(2, os.cpu_count() or 1)

    block = NFFT * FRAMES_PER_BLOCK
    n = int(args.seconds * FS) // block * block
    duration_s = n / FS
    rng = np.random.default_rng(0)
    iq = np.empty(n, dtype=np.complex64)
    iq.real = rng.standard_normal(n, dtype=np.float32)
    iq.imag = rng.standard_normal(n, dtype=np.float32)
    iq *= np.float32(1e-2)
    bands = np.vstack([lte_prb_bands_hz(100), [[-FS / 2, FS / 2]]])

    frames = iq.reshape(-1, NFFT)
    batch = 4 * FRAMES_PER_BLOCK
    weights = band_weights(FS, NFFT, bands).astype(np.float64)

    def ours():
        return band_powers(iq, FS, bands, nfft=NFFT, frames_per_block=FRAMES_PER_BLOCK,
                           workers=workers)

    def fft_once():
        return scipy.fft.fft(frames, axis=-1, workers=workers)

    def fft_batched():
        # The same FFTs in cache-sized batches: a stricter floor than one call,
        # which also pays for writing a full-size output array.
        for s in range(0, frames.shape[0], batch):
            scipy.fft.fft(frames[s: s + batch], axis=-1, workers=workers)

    def welch():
        f, psd = scipy.signal.welch(iq.reshape(-1, block), fs=FS, window="hann", nperseg=NFFT,
                                    noverlap=0, return_onesided=False, scaling="density",
                                    detrend=False, axis=-1)
        # Density times the bin width is power per bin; welch's bins are in
        # fftfreq order, like the weights.
        return (psd * (FS / NFFT)) @ weights

    (t_ours, t_fft, t_fft_b, t_welch), (powers, _, _, ref) = _interleaved_best(
        args.repeat, [ours, fft_once, fft_batched, welch])
    agree_db = float(np.max(np.abs(10 * np.log10(powers / ref))))

    print(f"IQ: {duration_s:.2f} s of complex64 at {FS / 1e6:.2f} Msps, nfft {NFFT}, "
          f"{powers.shape[0]} blocks x {powers.shape[1]} bands (100 PRBs + wideband), "
          f"{workers} worker(s), best of {args.repeat} interleaved runs")
    print(f"ours (dsp.power.band_powers): {t_ours * 1e3:8.1f} ms   "
          f"{duration_s / t_ours:6.1f}x real time")
    print(f"bare scipy.fft pass:          {t_fft * 1e3:8.1f} ms   "
          f"{duration_s / t_fft:6.1f}x real time")
    print(f"bare FFT, {batch}-frame batches: {t_fft_b * 1e3:6.1f} ms   "
          f"{duration_s / t_fft_b:6.1f}x real time")
    print(f"scipy.signal.welch baseline:  {t_welch * 1e3:8.1f} ms   "
          f"{duration_s / t_welch:6.1f}x real time")
    print(f"ratio ours / bare FFT: {t_ours / t_fft:.2f} (target <= 1.5)")
    print(f"ratio ours / batched bare FFT: {t_ours / t_fft_b:.2f}")
    print(f"ratio welch / ours:    {t_welch / t_ours:.2f}")
    print(f"max |ours - welch| over all bands and blocks: {agree_db:.4f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
