"""Bench: power of all 100 LTE PRBs plus wideband power from 30.72 Msps IQ.

One run, three timings over the same complex64 data (an LTE 20 MHz uplink
capture's rate):

* ours: ``dsp.power.band_powers`` - Hann-windowed 2048-point FFTs (15 kHz bins),
  1 ms blocks, 100 PRB bands + wideband;
* bare FFT: one ``scipy.fft.fft`` over the same frames, nothing else - the
  compute floor (also shown in cache-sized batches, a stricter floor);
* Welch: ``scipy.signal.welch`` per 1 ms block (same window, nperseg, no
  overlap) then the same PRB sums - the obvious baseline;
* gated TDD: the 20 MHz channel in the uplink subframes of LTE configuration 2
  only (``dsp.power.gated_band_powers``), 100 ms intervals, frame timing known
  (GNSS) and found from each interval's envelope (``dsp.tdd``);
* burst-gated GSM: a 200 kHz channel's strongest timeslot per 100 ms interval
  (``dsp.gsm.burst_power``: sparse envelope frames to find the burst, then the
  burst's frames).

Prints the real-time factor of each and the ratios.  Targets: >= 8x real
time (the gated ones too), within 1.5x of the bare FFT.

Run: .venv/bin/python bench/iq_power.py [--seconds 2] [--repeat 3] [--workers N]
"""

import argparse
import os
import time

import numpy as np
import scipy.fft
import scipy.signal

from dsp import gsm, tdd
from dsp.power import (band_powers, band_weights, channel_band_hz, gated_band_powers,
                       lte_prb_bands_hz)

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

    interval = int(0.1 * FS)
    pattern = tdd.lte_pattern(2, 7)
    lte_ch = channel_band_hz("lte", 20e6)[None, :]
    gsm_ch = channel_band_hz("gsm") + 3.2e6

    def tdd_known():
        gates = tdd.uplink_gates(pattern, 3.217e-3, iq.size, FS)
        return gated_band_powers(iq, FS, lte_ch, gates, interval, nfft=NFFT, workers=workers)

    def tdd_envelope():
        out = []
        for s in range(0, iq.size - interval + 1, interval):
            block = iq[s: s + interval]
            t0, _ = tdd.frame_start_from_envelope(block, FS, pattern)
            gates = tdd.uplink_gates(pattern, t0, block.size, FS)
            out.append(gated_band_powers(block, FS, lte_ch, gates, interval, nfft=NFFT,
                                         workers=workers)[0])
        return out

    def gsm_bursts():
        return gsm.burst_power(iq, FS, gsm_ch, interval, nfft=1024, workers=workers)

    (t_ours, t_fft, t_fft_b, t_welch, t_tdd, t_tdd_env, t_gsm), (powers, _, _, ref, *_) = \
        _interleaved_best(args.repeat, [ours, fft_once, fft_batched, welch, tdd_known,
                                        tdd_envelope, gsm_bursts])
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
    print(f"gated TDD, known timing:      {t_tdd * 1e3:8.1f} ms   "
          f"{duration_s / t_tdd:6.1f}x real time   ({t_tdd / t_fft:.2f}x the bare FFT pass, "
          f"{t_tdd / t_fft_b:.2f}x the batched one)")
    print(f"gated TDD, envelope timing:   {t_tdd_env * 1e3:8.1f} ms   "
          f"{duration_s / t_tdd_env:6.1f}x real time   "
          f"({t_tdd_env / t_fft:.2f}x the bare FFT pass, "
          f"{t_tdd_env / t_fft_b:.2f}x the batched one)")
    print(f"burst-gated GSM:              {t_gsm * 1e3:8.1f} ms   "
          f"{duration_s / t_gsm:6.1f}x real time   ({t_gsm / t_fft:.2f}x the bare FFT pass, "
          f"{t_gsm / t_fft_b:.2f}x the batched one)")
    print(f"ratio ours / bare FFT: {t_ours / t_fft:.2f} (target <= 1.5)")
    print(f"ratio ours / batched bare FFT: {t_ours / t_fft_b:.2f}")
    print(f"ratio welch / ours:    {t_welch / t_ours:.2f}")
    print(f"max |ours - welch| over all bands and blocks: {agree_db:.4f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
