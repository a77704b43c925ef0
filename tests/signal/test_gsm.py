"""GSM burst power from IQ with known truth: a GMSK normal burst in one timeslot.

The burst is built here from TS 45.002/45.004: GMSK with BT = 0.3 at 1625/6 kbit/s, 148
active bits per timeslot of 156.25 bits, 8 timeslots per 120/26 ms TDMA frame, power ramped
in the guard period.  The truth is the carrier power during the burst.
"""

import numpy as np
import pytest
import scipy.signal

from dsp import gsm, power

FS = 30.72e6
BIT_S = 6 / 1625e3            # 48/13 us
FRAME_S = 120e-3 / 26
SLOT_S = FRAME_S / 8
CHANNEL = power.channel_band_hz("gsm")
DBM_TO_DBFS = 30.0


def _db(p):
    return 10 * np.log10(p) - DBM_TO_DBFS


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


@pytest.fixture(scope="module")
def one_user():
    return gsm_capture({2: -60.0})


@pytest.fixture(scope="module")
def three_users():
    return gsm_capture({2: -60.0, 5: -66.0, 7: -70.0}, seed=1)


def test_tdma_structure():
    # TS 45.002: 156.25 bits of 48/13 us per slot, 8 slots per 4.615 ms frame
    assert gsm.SLOT_S == pytest.approx(576.923e-6, abs=1e-9)
    assert gsm.FRAME_S == pytest.approx(4.615385e-3, abs=1e-9)
    assert gsm.SLOT_S == pytest.approx(156.25 * BIT_S)


def test_gmsk_in_channel_fraction():
    # the constant against this test's own GMSK modulator (a long continuous carrier)
    x = gmsk(int(0.05 * FS), np.random.default_rng(5)).astype(np.complex64)
    p = power.channel_power(x, FS, "gsm", nfft=2048, frames_per_block=750)
    assert 10 * np.log10(p.mean()) == pytest.approx(gsm.GMSK_IN_CHANNEL_DB, abs=0.03)


def test_one_slot_burst_reads_its_burst_power(one_user):
    x = one_user
    block = int(0.1 * FS)
    p, props = gsm.burst_power(x, FS, CHANNEL, block)
    got = _db(p) - gsm.GMSK_IN_CHANNEL_DB
    assert got == pytest.approx(-60.0, abs=0.3)
    # the found slot starts where slot 2 does (modulo the frame), within a few bits
    start = (props["slot_start_s"] - 1.234e-3 - 2 * SLOT_S + FRAME_S / 2) % FRAME_S - FRAME_S / 2
    assert np.all(np.abs(start) < 3 * BIT_S)
    # one busy slot of eight: 9.0 dB above the slot mean
    assert props["share_db"] == pytest.approx(9.0, abs=0.3)


def test_frame_average_reads_nine_db_low(one_user):
    x = one_user
    whole = _db(power.channel_power(x, FS, "gsm", nfft=1024, frames_per_block=3000))
    # 148 active bits and two 2-bit ramps (mean power 3/8) of 1250 bits per frame: -9.22 dB
    assert whole - gsm.GMSK_IN_CHANNEL_DB == pytest.approx(-60.0 - 9.22, abs=0.3)


def test_other_users_of_the_carrier_do_not_add_in(three_users):
    x = three_users
    p, props = gsm.burst_power(x, FS, CHANNEL, int(0.1 * FS))
    assert _db(p) - gsm.GMSK_IN_CHANNEL_DB == pytest.approx(-60.0, abs=0.3)


def test_tasked_timeslot_with_known_timing(three_users):
    x = three_users
    p, _ = gsm.burst_power(x, FS, CHANNEL, int(0.1 * FS), slot_start_s=1.234e-3, slot=7)
    assert _db(p) - gsm.GMSK_IN_CHANNEL_DB == pytest.approx(-70.0, abs=0.3)
    p, _ = gsm.burst_power(x, FS, CHANNEL, int(0.1 * FS), slot_start_s=1.234e-3, slot=4)
    assert np.all(_db(p) < -100)


def test_burst_gates_cover_the_useful_part():
    g = gsm.burst_gates(0.0, int(0.01 * FS), FS, slot=1, margin_s=0.0)
    assert (g[0, 0] / FS) == pytest.approx(SLOT_S + 0.5 * BIT_S, abs=1 / FS)
    assert (g[0, 1] - g[0, 0]) / FS == pytest.approx(147 * BIT_S, abs=2 / FS)
    assert (g[1, 0] - g[0, 0]) / FS == pytest.approx(FRAME_S, abs=1 / FS)
    with pytest.raises(ValueError, match="0-7"):
        gsm.burst_gates(0.0, 1000, FS, slot=8)


def test_too_short_for_a_burst():
    with pytest.raises(ValueError, match="two TDMA frames"):
        gsm.find_burst(np.zeros(1000, np.complex64), FS, CHANNEL)
