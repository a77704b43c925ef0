"""Channel power from IQ against analytic powers."""

import numpy as np
import pytest

from dsp.power import (ChannelPowerMeter, band_powers, channel_band_hz, channel_power,
                       lte_prb_bands_hz, noise_floor, periodogram_blocks, to_db, to_dbm,
                       wideband_power)

FS = 30.72e6


def _noise(n, sigma2, seed):
    rng = np.random.default_rng(seed)
    return (np.sqrt(sigma2 / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(
        np.complex64)


@pytest.mark.parametrize("freq_hz, amp", [(1.2345e6, 0.1), (-7.777e6, 0.02), (3.0e3, 0.5)])
def test_tone_power_within_0p1_db(freq_hz, amp):
    n = np.arange(2048 * 15 * 20)
    tone = (amp * np.exp(2j * np.pi * freq_hz * n / FS + 0.3j)).astype(np.complex64)
    p = band_powers(tone, FS, [(freq_hz - 200e3, freq_hz + 200e3)])
    # A tone of amplitude A has power A^2.
    assert to_db(p.mean()) == pytest.approx(to_db(amp ** 2), abs=0.1)
    assert np.ptp(to_db(p)) < 0.1


def test_band_limited_noise_power_within_0p1_db():
    # Noise occupying exactly 9 MHz (600 subcarrier-wide bins, -4.5..+4.5 MHz)
    # with total power 1e-4: any sub-band holds 1e-4 * overlap / 9 MHz.
    rng = np.random.default_rng(3)
    n = 2048 * 15 * 200
    spec = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    f = np.fft.fftfreq(n, 1 / FS)
    spec[np.abs(f) >= 4.5e6] = 0.0
    x = np.fft.ifft(spec)
    x *= np.sqrt(1e-4 / np.mean(np.abs(x) ** 2))
    x = x.astype(np.complex64)
    edges = lte_prb_bands_hz(100)
    p = band_powers(x, FS, edges).mean(axis=0)
    # PRBs touching the occupied edges lose half a bin to the window's
    # main lobe; the others are flat.
    inside = (edges[:, 0] > -4.5e6) & (edges[:, 1] < 4.5e6)
    expected = 1e-4 * 180e3 / 9e6
    np.testing.assert_allclose(to_db(p[inside]), to_db(expected), atol=0.1)
    # Leakage two PRBs beyond the occupied edge is > 30 dB down (Hann sidelobes).
    far = (edges[:, 1] <= -4.5e6 - 360e3) | (edges[:, 0] >= 4.5e6 + 360e3)
    assert np.all(to_db(p[far]) < to_db(expected) - 30)
    whole = channel_power(x, FS, "lte", bandwidth_hz=10e6).mean()
    assert to_db(whole) == pytest.approx(to_db(1e-4), abs=0.1)


def test_white_noise_band_and_wideband_power():
    x = _noise(2048 * 15 * 100, 2e-3, 1)
    p = band_powers(x, FS, [(-FS / 2, FS / 2), (-100e3, 100e3)]).mean(axis=0)
    assert to_db(p[0]) == pytest.approx(to_db(2e-3), abs=0.1)
    assert to_db(p[1]) == pytest.approx(to_db(2e-3 * 200e3 / FS), abs=0.1)
    assert to_db(wideband_power(x, 30720).mean()) == pytest.approx(to_db(2e-3), abs=0.05)


def test_gsm_channel_of_tone():
    n = np.arange(2048 * 15 * 10)
    x = (0.05 * np.exp(2j * np.pi * 2.4e6 * n / FS)).astype(np.complex64)
    on = channel_power(x, FS, "gsm", offset_hz=2.4e6)
    off = channel_power(x, FS, "gsm", offset_hz=2.8e6)
    assert to_db(on.mean()) == pytest.approx(to_db(0.05 ** 2), abs=0.1)
    assert to_db(off.mean()) < to_db(0.05 ** 2) - 50


def test_noise_floor_estimate_ignores_occupied_bins():
    sigma2 = 1e-6
    x = _noise(2048 * 15 * 8, sigma2, 5)
    n = np.arange(x.size)
    x += (1e-2 * np.exp(2j * np.pi * 5e6 * n / FS)).astype(np.complex64)
    freq_hz, bins = periodogram_blocks(x, FS, frames_per_block=15)
    assert freq_hz.size == 2048 and np.all(np.diff(freq_hz) > 0)
    per_bin = noise_floor(bins, 15)
    # Per-bin noise power of white noise of total power sigma2 over 2048 bins.
    np.testing.assert_allclose(to_db(per_bin), to_db(sigma2 / 2048), atol=0.2)
    assert to_db(np.median(per_bin)) == pytest.approx(to_db(sigma2 / 2048), abs=0.1)


def test_noise_floor_under_a_channel_filling_most_of_the_band():
    # An 18 MHz LTE-like signal 20 dB above the floor fills 59 % of the bins.
    rng = np.random.default_rng(11)
    n = 2048 * 15 * 8
    spec = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    spec[np.abs(np.fft.fftfreq(n, 1 / FS)) >= 9e6] = 0.0
    signal = np.fft.ifft(spec)
    signal *= np.sqrt(1e-4 / np.mean(np.abs(signal) ** 2))     # 1e-4 over 18 MHz
    x = (signal + _noise(n, 1e-6, 12)).astype(np.complex64)    # 1e-6 over 30.72 MHz
    _, bins = periodogram_blocks(x, FS, frames_per_block=15)
    assert to_db(np.median(noise_floor(bins, 15))) == pytest.approx(to_db(1e-6 / 2048), abs=0.1)


def test_to_dbm_formula():
    cal = {"bands": {"1800": {"offset_db": -31.0, "slope": 1.02, "temp_coef_db_per_c": -0.02,
                              "ref_temp_c": 25.0}}}
    got = to_dbm(np.array([-40.0, -60.0]), 1747.5e6, cal, gain_db=20.0, temp_c=45.0)
    # P = offset + slope (P_dBFS - gain) - temp_coef (T - T_ref)
    expected = -31.0 + 1.02 * (np.array([-40.0, -60.0]) - 20.0) + 0.02 * 20.0
    np.testing.assert_allclose(got, expected)
    with pytest.raises(ValueError, match="no entry for band 900"):
        to_dbm(-40.0, 900e6, cal)
    with pytest.raises(ValueError, match="offset_db"):
        to_dbm(-40.0, 1747.5e6, {"1800": {"slope": 1.0}})


def test_to_dbm_reads_bench_and_firmware_calibration_files(repo_root):
    import json
    default = json.loads((repo_root / "hardware" / "calibration" / "default.json").read_text())
    entry = next(e for e in default["entries"] if e["band_lo_mhz"] <= 1720 <= e["band_hi_mhz"])
    expected = entry["offset_cdb"] / 100 + entry["slope_e4"] / 1e4 * (-40.0 - 20.0)
    assert float(to_dbm(-40.0, 1720e6, default, gain_db=20.0)) == pytest.approx(expected)
    bench = {"format": "rfhound-calibration/1", "bands": [
        {"name": "b", "lo_hz": 1.7e9, "hi_hz": 1.8e9,
         "coefficients": {"offset_db": 12.0, "slope": 0.98, "knee_dbm": -30.0,
                          "temp_coeff_db_per_c": 0.05, "t_ref_c": 20.0}}]}
    got = float(to_dbm(-50.0, 1747.5e6, bench, gain_db=10.0, temp_c=30.0))
    assert got == pytest.approx(12.0 + 0.98 * (-60.0) - 0.05 * 10.0)
    with pytest.raises(ValueError, match="no band covering 900.000 MHz"):
        to_dbm(-50.0, 900e6, bench)


def test_streaming_meter_equals_function():
    x = _noise(2048 * 15 * 7 + 1234, 1e-3, 7)
    bands = lte_prb_bands_hz(25)
    whole = band_powers(x, FS, bands)
    meter = ChannelPowerMeter(FS, bands)
    parts = [meter.feed(chunk) for chunk in np.array_split(x, [1000, 50000, 50001, 150000])]
    np.testing.assert_allclose(np.vstack(parts), whole, rtol=1e-5)
    assert meter.blocks_done == whole.shape[0] == 7
    assert meter.block_s == pytest.approx(1e-3)


def test_threads_do_not_change_results():
    x = _noise(2048 * 15 * 12, 1e-3, 8)
    bands = lte_prb_bands_hz(100)
    np.testing.assert_allclose(band_powers(x, FS, bands, workers=1),
                               band_powers(x, FS, bands, workers=2), rtol=1e-6)


def test_channel_band_hz():
    np.testing.assert_allclose(channel_band_hz("lte", 20e6), [-9e6, 9e6])
    np.testing.assert_allclose(channel_band_hz("lte", 5e6, prbs=[0, 1]), [-2.25e6, -1.89e6])
    np.testing.assert_allclose(channel_band_hz("gsm"), [-100e3, 100e3])
    with pytest.raises(ValueError, match="bandwidth"):
        channel_band_hz("lte", 7e6)
    with pytest.raises(ValueError, match="NR needs bandwidth_hz"):
        channel_band_hz("nr")
    with pytest.raises(ValueError, match="LTE only"):
        channel_band_hz("gsm", prbs=[1])


@pytest.mark.parametrize("iq, match", [
    (np.ones(100000, dtype=np.float32), "complex"),
    (np.zeros(0, dtype=np.complex64), "empty"),
    (np.ones(1000, dtype=np.complex64), "fewer than one block"),
    (np.ones((2, 40000), dtype=np.complex64), "one-dimensional"),
])
def test_bad_iq(iq, match):
    with pytest.raises(ValueError, match=match):
        band_powers(iq, FS, [(-1e6, 1e6)])


def test_nan_iq_is_reported_with_its_position():
    x = _noise(2048 * 15 * 3, 1e-3, 9)
    x[40000] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite samples .in samples 30720..61439"):
        band_powers(x, FS, [(-1e6, 1e6)])
    with pytest.raises(ValueError, match="NaN"):
        wideband_power(x, 30720)


@pytest.mark.parametrize("bands", [[(1e6, 0.5e6)], [(-20e6, 0.0)], [[1.0, 2.0, 3.0]]])
def test_bad_bands(bands):
    with pytest.raises(ValueError, match="band"):
        band_powers(_noise(30720, 1e-3, 1), FS, bands)


def test_long_blocks_equal_sums_of_short_blocks():
    # 100 ms blocks (1500 frames, split into cache-sized batches inside a block)
    # are the means of the 1 ms blocks they contain.
    x = _noise(2048 * 1500 * 2, 1e-3, 10)
    bands = lte_prb_bands_hz(6)
    short = band_powers(x, FS, bands, frames_per_block=15)
    long = band_powers(x, FS, bands, frames_per_block=1500)
    np.testing.assert_allclose(long, short.reshape(2, 100, -1).mean(axis=1), rtol=1e-4)
    odd = band_powers(x[: 2048 * 67 * 3], FS, bands, frames_per_block=67)
    np.testing.assert_allclose(odd[0], band_powers(x[: 2048 * 67], FS, bands, frames_per_block=67,
                                                   workers=1)[0], rtol=1e-5)
