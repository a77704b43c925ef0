"""TDD uplink gating: frame structures against TS 36.211 / TS 38.331, and IQ with known truth.

The IQ is built here from the standard's timing, not from dsp.tdd: a downlink at -50 dBm in
the downlink subframes and DwPTS, a handset at -85 dBm in its uplink subframes (sent
N_TA_offset + its timing advance early), thermal noise 25 dB below the handset.
"""

import numpy as np
import pytest

from dsp import power, tdd

from iq_truth import CHANNEL, DBM_TO_DBFS, FS, TS, tdd_capture


def _dbm(p_lin):
    return 10 * np.log10(p_lin) - DBM_TO_DBFS


@pytest.fixture(scope="module")
def capture():
    return tdd_capture()


# --- the frame structures against the standard -------------------------------------------
@pytest.mark.parametrize("config, n_ul, n_special", [
    (0, 6, 2), (1, 4, 2), (2, 2, 2), (3, 3, 1), (4, 2, 1), (5, 1, 1), (6, 5, 2)])
def test_lte_uplink_subframes_per_frame(config, n_ul, n_special):
    # TS 36.211 table 4.2-2: count of U and S subframes per configuration
    p = tdd.lte_pattern(config, 7)
    assert p.uplink_fraction == pytest.approx(n_ul / 10)
    assert len(p.pilot_s) == n_special and len(p.guard_s) == n_special
    assert p.period_s == 10e-3


@pytest.mark.parametrize("special, dw_sym, gp_sym, up_sym", [
    (0, 3, 10, 1), (1, 9, 4, 1), (2, 10, 3, 1), (3, 11, 2, 1), (4, 12, 1, 1),
    (5, 3, 9, 2), (6, 9, 3, 2), (7, 10, 2, 2), (8, 11, 1, 2), (9, 6, 6, 2)])
def test_special_subframe_lengths_in_symbols(special, dw_sym, gp_sym, up_sym):
    # DwPTS:GP:UpPTS in OFDM symbols of ~1/14 ms (normal cyclic prefix)
    p = tdd.lte_pattern(0, special)
    sym = 1e-3 / 14
    (dw_a, dw_b) = p.downlink_s[0]
    (gp_a, gp_b), (up_a, up_b) = p.guard_s[0], p.pilot_s[0]
    assert (dw_b - 1e-3) / sym == pytest.approx(dw_sym, abs=0.1)
    assert (gp_b - gp_a) / sym == pytest.approx(gp_sym, abs=0.1)
    assert (up_b - up_a) / sym == pytest.approx(up_sym, abs=0.1)
    assert up_b == pytest.approx(2e-3)


def test_nr_dddsu_and_cmcc_n41_patterns():
    # DDDSU at 30 kHz, S = 10:2:2 -> uplink 14 + 2 of 70 symbols per 2.5 ms
    p = tdd.nr_pattern(2.5, 30, 3, 10, 1, 2)
    assert p.period_s == pytest.approx(2.5e-3)
    assert p.uplink_fraction == pytest.approx(16 / 70)
    sym = 0.5e-3 / 14
    assert p.guard_s[0].tolist() == pytest.approx([1.5e-3 + 10 * sym, 2e-3 - 2 * sym])
    # 5 ms DDDDDDDSUU, S = 6:4:4
    q = tdd.band_pattern("n41")
    assert q.uplink_fraction == pytest.approx((28 + 4) / 140)
    assert q.ta_offset_s == pytest.approx(13.02e-6, abs=0.01e-6)


@pytest.mark.parametrize("args, fragment", [
    ((7, 0), "0-6"), ((2, 10), "0-9"), ((-1, 5), "0-6")])
def test_lte_bad_configuration(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        tdd.lte_pattern(*args)


@pytest.mark.parametrize("args, fragment", [
    ((7, 30, 3, 10, 1, 2), "period"), ((3, 30, 3, 10, 1, 2), "pattern2"),
    ((2.5, 45, 3, 10, 1, 2), "spacing"),
    ((2.5, 30, 4, 10, 1, 2), "overlaps"), ((2.5, 30, 3, 14, 1, 2), "dl_symbols")])
def test_nr_bad_pattern(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        tdd.nr_pattern(*args)


def test_band_defaults_cover_the_chinese_tdd_bands():
    for band in ("B34", "B38", "B39", "B40", "B41", "n41", "n78", "n79"):
        assert tdd.band_pattern(band) is not None
    assert tdd.band_pattern("B3") is None


def test_frame_start_from_gnss_time():
    # recording starts at .0123 s past a whole second: the next 10 ms boundary is 7.7 ms on
    assert tdd.frame_start_from_time(1_800_000_000, 0.0123) == pytest.approx(7.7e-3)
    # a network offset of +3 ms moves the boundaries 3 ms later
    assert tdd.frame_start_from_time(1_800_000_000, 0.0123, 3e-3) == pytest.approx(0.7e-3)
    assert tdd.frame_start_from_time(7, 0.0, 0.0, 5e-3) == pytest.approx(0.0)


# --- gated power with known truth -------------------------------------------------------
def _gated_dbm(x, t0_s):
    pattern = tdd.lte_pattern(2, 7)
    gates = tdd.uplink_gates(pattern, t0_s, x.size, FS)
    p, frames = power.gated_band_powers(x, FS, CHANNEL, gates, x.size // 2)
    return _dbm(p[:, 0]), frames


def test_whole_frame_power_is_the_downlink(capture):
    x, _ = capture
    whole = _dbm(power.channel_power(x, FS, "lte", frames_per_block=150))
    # downlink on 7.43 ms of every 10: -50 + 10 log10(0.743) = -51.3 dBm, the UE invisible
    assert whole == pytest.approx(-51.3, abs=0.1)


def test_ue_in_uplink_subframes_reads_its_power_with_known_timing(capture):
    x, truth = capture
    got, frames = _gated_dbm(x, 3.217e-3)
    assert got == pytest.approx(truth, abs=0.5)
    assert got == pytest.approx(-85.0, abs=0.5)
    # 2 uplink subframes per 10 ms, 14 whole 2048-sample frames in each after the margins
    assert frames.tolist() == [140, 140]


def test_ue_reads_its_power_with_timing_from_the_downlink_envelope(capture):
    x, truth = capture
    t0, props = tdd.frame_start_from_envelope(x, FS, tdd.lte_pattern(2, 7))
    # configuration 2 repeats every 5 ms: either half-frame boundary is a frame start
    err = (t0 - 3.217e-3 + 2.5e-3) % 5e-3 - 2.5e-3
    assert abs(err) < 10e-6
    assert props["contrast_db"] > 30
    got, _ = _gated_dbm(x, t0)
    assert got == pytest.approx(truth, abs=0.5)


def test_envelope_timing_when_the_handset_is_stronger_than_the_downlink():
    x, truth = tdd_capture(dl_dbm=-75.0, ue_dbm=-45.0, noise_dbm=-100.0, duration_s=0.05,
                           t0_s=8.9e-3, seed=3)
    t0, _ = tdd.frame_start_from_envelope(x, FS, tdd.lte_pattern(2, 7))
    err = (t0 - 8.9e-3 + 2.5e-3) % 5e-3 - 2.5e-3
    assert abs(err) < 10e-6
    got, _ = _gated_dbm(x, t0)
    assert got == pytest.approx(truth, abs=0.5)


def test_wrong_timing_lets_the_downlink_in(capture):
    # a test that can fail: half a subframe off, the gates catch downlink
    x, _ = capture
    got, _ = _gated_dbm(x, 3.217e-3 + 0.5e-3)
    assert np.all(got > -70)


def test_gates_stay_inside_the_recording_and_clear_of_the_downlink():
    p = tdd.lte_pattern(2, 7)
    n = int(0.02 * FS)
    g = tdd.uplink_gates(p, 1e-3, n, FS)
    assert g.min() >= 0 and g.max() <= n and np.all(g[:, 1] > g[:, 0])
    starts_s = g[:, 0] / FS
    # uplink subframe 2 of the frame at 1 ms: 3 ms - N_TA_offset + 25 us margin
    assert starts_s[0] == pytest.approx(3e-3 - 624 * TS + 25e-6, abs=1 / FS)
    assert (g[0, 1] - g[0, 0]) / FS == pytest.approx(1e-3 - 50e-6, abs=2 / FS)


def test_envelope_needs_a_whole_period():
    with pytest.raises(ValueError, match="frame period"):
        tdd.frame_start_from_envelope(np.ones(1000, np.complex64), FS, tdd.lte_pattern(2, 7))


def test_repeat_period_of_the_patterns():
    # half-frames alike in configurations 0-2 (5 ms switch-point periodicity), not in 3-6
    # (6 has 5 ms switch points but subframe 9 is D where 4 is U)
    assert [tdd.lte_pattern(c, 7).repeat_s for c in range(7)] == \
        [5e-3, 5e-3, 5e-3, 10e-3, 10e-3, 10e-3, 10e-3]
    assert tdd.band_pattern("n78").repeat_s == pytest.approx(2.5e-3)
