"""IQ with known truth for the gating tests and benches, built from the standards' timing.

TDD: LTE configuration 2 / special subframe 7 written out from TS 36.211 tables 4.2-1 and
4.2-2 (not from dsp.tdd).  GSM: GMSK (BT 0.3, 1625/6 kbit/s) normal bursts of 148 active
bits in timeslots of 156.25 bits, 8 per 120/26 ms frame (TS 45.002, 45.004).  Powers are
in dBm with 0 dBFS = 30 dBm.
"""

import numpy as np
import scipy.signal

from dsp import power

FS = 30.72e6
TS = 1 / FS                      # LTE Ts: one sample at 30.72 Msps
CHANNEL = power.channel_band_hz("lte", 20e6)
DBM_TO_DBFS = 30.0               # test scaling: 0 dBFS is 30 dBm


def _noise(rng, n, power_lin, band=None):
    """Complex Gaussian noise of `power_lin` inside `band` (Hz offsets), nothing outside."""
    x = rng.standard_normal(n, dtype=np.float32) + 1j * rng.standard_normal(n, dtype=np.float32)
    if band is not None:
        f = np.fft.fftfreq(n, 1 / FS)
        spec = np.fft.fft(x)
        spec[(f < band[0]) | (f >= band[1])] = 0
        x = np.fft.ifft(spec)
    x = x.astype(np.complex64)
    return x * np.float32(np.sqrt(power_lin / np.mean(np.abs(x) ** 2)))


def _on(t_s, intervals_s, period_s):
    ph = t_s % period_s
    m = np.zeros(t_s.size, dtype=bool)
    for a, b in intervals_s:
        m |= (ph >= a) & (ph < b)
    return m


def tdd_capture(*, duration_s=0.1, t0_s=3.217e-3, dl_dbm=-50.0, ue_dbm=-85.0,
                noise_dbm=-110.0, ta_s=2e-6, seed=0):
    """Configuration 2, special subframe 7, frame start t0_s after sample 0 (as received)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    t = np.arange(n) / FS - t0_s
    # table 4.2-2 row 2 and table 4.2-1 row 7 (DwPTS 21952 Ts, UpPTS 4384 Ts), written out
    dl = [(0, 1e-3), (1e-3, 1e-3 + 21952 * TS), (3e-3, 6e-3), (6e-3, 6e-3 + 21952 * TS),
          (8e-3, 10e-3)]
    ul = [(2e-3, 3e-3), (7e-3, 8e-3)]
    in_ch = (CHANNEL[0] + 15e3, CHANNEL[1] - 15e3)
    x = _noise(rng, n, 10 ** ((noise_dbm + DBM_TO_DBFS) / 10), in_ch)
    x += _noise(rng, n, 10 ** ((dl_dbm + DBM_TO_DBFS) / 10), in_ch) * _on(t, dl, 10e-3)
    # the handset transmits N_TA_offset = 624 Ts plus its timing advance early, in PRBs 20-69
    ue_band = (CHANNEL[0] + 20 * 180e3, CHANNEL[0] + 70 * 180e3)
    x += _noise(rng, n, 10 ** ((ue_dbm + DBM_TO_DBFS) / 10), ue_band) * \
        _on(t + 624 * TS + ta_s, ul, 10e-3)
    truth_dbm = 10 * np.log10(10 ** (ue_dbm / 10) + 10 ** (noise_dbm / 10))
    return x.astype(np.complex64), truth_dbm


BIT_S = 6 / 1625e3            # 48/13 us
FRAME_S = 120e-3 / 26
SLOT_S = FRAME_S / 8
GSM_CHANNEL = power.channel_band_hz("gsm")


def gmsk(n, rng, offset_hz=0.0):
    """Unit-amplitude GMSK (BT 0.3) of random bits, n samples at FS."""
    t = np.arange(n) / FS
    bits = rng.choice([-1.0, 1.0], size=int(n / FS / BIT_S) + 2)
    nrz = bits[(t / BIT_S).astype(int)]
    sigma = np.sqrt(np.log(2)) / (2 * np.pi * 0.3 / BIT_S)
    tt = np.arange(-4 * BIT_S, 4 * BIT_S, 1 / FS)
    h = np.exp(-tt ** 2 / (2 * sigma ** 2))
    freq = scipy.signal.oaconvolve(nrz, h / h.sum(), mode="same")
    phase = np.cumsum(freq) * (np.pi / 2) / (BIT_S * FS) + 2 * np.pi * offset_hz * t
    return np.exp(1j * phase)


def burst_envelope(t_s, slot_start_s, slot):
    """1 over the 148 active bits of `slot`, cosine ramps of 2 bits into the guard, else 0."""
    ph = (t_s - slot_start_s - slot * SLOT_S) % FRAME_S
    env = np.zeros(t_s.size)
    env[ph < 148 * BIT_S] = 1.0
    up = (ph >= FRAME_S - 2 * BIT_S)
    env[up] = 0.5 - 0.5 * np.cos(np.pi * (ph[up] - (FRAME_S - 2 * BIT_S)) / (2 * BIT_S))
    down = (ph >= 148 * BIT_S) & (ph < 150 * BIT_S)
    env[down] = 0.5 + 0.5 * np.cos(np.pi * (ph[down] - 148 * BIT_S) / (2 * BIT_S))
    return env


def gsm_capture(users, *, duration_s=0.2, slot_start_s=1.234e-3, noise_dbm=-110.0, seed=0):
    """users: {slot: carrier dBm}; one GMSK burst per TDMA frame in each."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    x = np.zeros(n, dtype=np.complex128)
    for slot, dbm in users.items():
        amp = np.sqrt(10 ** ((dbm + DBM_TO_DBFS) / 10))
        x += amp * gmsk(n, rng) * burst_envelope(t, slot_start_s, slot)
    # noise of noise_dbm in the 200 kHz channel, white over the span
    sigma2 = 10 ** ((noise_dbm + DBM_TO_DBFS) / 10) * FS / 200e3
    x += np.sqrt(sigma2 / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return x.astype(np.complex64)




def hopping_capture(offsets_hz, dbm, *, duration_s=0.2, slot=3, slot_start_s=0.777e-3,
                    noise_dbm=-110.0, seed=0):
    """One handset hopping over the ARFCNs at `offsets_hz`, one hop per TDMA frame (a fixed
    pseudo-random sequence), its burst in `slot`; returns (iq, hop index per frame)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    n_frames = int(duration_s / FRAME_S) + 2
    seq = rng.integers(0, len(offsets_hz), n_frames)
    fn = np.floor((t - slot_start_s - slot * SLOT_S) / FRAME_S).astype(int) + 1
    env = burst_envelope(t, slot_start_s, slot)
    amp = np.sqrt(10 ** ((dbm + DBM_TO_DBFS) / 10))
    x = np.zeros(n, dtype=np.complex128)
    carrier = gmsk(n, rng)
    for k, off in enumerate(offsets_hz):
        on = seq[np.clip(fn, 0, n_frames - 1)] == k
        x += amp * carrier * np.exp(2j * np.pi * off * t) * env * on
    sigma2 = 10 ** ((noise_dbm + DBM_TO_DBFS) / 10) * FS / 200e3
    x += np.sqrt(sigma2 / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return x.astype(np.complex64), seq
