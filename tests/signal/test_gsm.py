"""GSM burst power from IQ with known truth: a GMSK normal burst in one timeslot.

The burst is built here from TS 45.002/45.004: GMSK with BT = 0.3 at 1625/6 kbit/s, 148
active bits per timeslot of 156.25 bits, 8 timeslots per 120/26 ms TDMA frame, power ramped
in the guard period.  The truth is the carrier power during the burst.
"""

import numpy as np
import pytest

from dsp import gsm, power

from iq_truth import BIT_S, DBM_TO_DBFS, FRAME_S, FS, SLOT_S, gmsk, gsm_capture, hopping_capture
from iq_truth import GSM_CHANNEL as CHANNEL


def _db(p):
    return 10 * np.log10(p) - DBM_TO_DBFS


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


HOPS_HZ = np.array([-1.2e6, -0.4e6, 0.6e6, 1.8e6])


def test_hopping_handset_over_4_arfcns_is_found_and_read():
    x, seq = hopping_capture(HOPS_HZ, -60.0)
    bands = HOPS_HZ[:, None] + CHANNEL[None, :]
    p, props = gsm.hopping_burst_power(x, FS, bands, int(0.1 * FS))
    assert _db(p) - gsm.GMSK_IN_CHANNEL_DB == pytest.approx(-60.0, abs=0.3)
    # the ARFCN each burst was found on follows the hopping sequence's own shares
    truth = np.bincount(seq[:43], minlength=4) / 43
    assert props["arfcn_share"].mean(axis=0) == pytest.approx(truth, abs=0.05)
    # one ARFCN alone holds the burst in ~1/4 of the frames: its mean burst power reads ~6 dB low
    one, _ = gsm.burst_power(x, FS, bands[0], int(0.1 * FS))
    assert np.all(_db(one) - gsm.GMSK_IN_CHANNEL_DB < -63.0)
