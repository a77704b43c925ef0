"""Rotation-scan bearings: RMS error against the Cramér-Rao bound, an honest stated sigma
under compass bias and diffuse multipath, ambiguity, rejection."""

import numpy as np
import pytest

from dsp.antenna import AntennaPattern, load_pattern
from dsp.bearing import (COMPASS_SIGMA_DEG, SIGMA_FLOOR_DEG, bearing_sigma_deg, floor_sigma_deg,
                         scan_bearing)

LPDA = load_pattern("lpda-700-2700", freq_hz=1747.5e6)
HEADING_DEG = np.arange(0.0, 360.0, 10.0)


def _wrap(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


def _crb_deg(theta, heading, sigma_db, pattern):
    # J = sum (dG_k - mean dG)^2 / sigma^2 with the level as nuisance parameter.
    step = 1e-3
    d = (pattern.gain(theta + step - heading) - pattern.gain(theta - step - heading)) / (2 * step)
    return 1.0 / np.sqrt(np.sum((d - d.mean()) ** 2) / sigma_db ** 2)


@pytest.mark.parametrize("sigma_db", [1.0, 3.0])
def test_rms_bearing_error_near_crb(sigma_db):
    rng = np.random.default_rng(int(sigma_db * 10))
    errors, crbs, sigmas = [], [], []
    for _ in range(300):
        theta = rng.uniform(0.0, 360.0)
        heading = HEADING_DEG + rng.uniform(0.0, 10.0)
        power = -75.0 + LPDA.gain(theta - heading) + rng.normal(0.0, sigma_db, heading.size)
        bearing, props = scan_bearing(heading, power, LPDA, compass_sigma_deg=0.0)
        assert props["rejected"] is None and not props["ambiguous"]
        errors.append(_wrap(bearing - theta))
        crbs.append(_crb_deg(theta, heading, sigma_db, LPDA))
        sigmas.append(props["sigma_deg"])
    rms = float(np.sqrt(np.mean(np.square(errors))))
    crb = float(np.sqrt(np.mean(np.square(crbs))))
    # Stated accuracy: 36-point scan, sigma 1 dB -> ~1 deg RMS; 3 dB -> ~3 deg.
    assert rms <= 1.25 * crb
    assert rms <= 1.3 * sigma_db
    assert abs(np.mean(errors)) < 0.3 * sigma_db
    # Without multipath or compass error the stated sigma is the CRB (analytic, with the
    # true noise), to within the scatter of a noise estimate from 36 residuals.
    assert np.sqrt(np.mean(np.square(sigmas))) == pytest.approx(crb, rel=0.2)


def test_compass_error_adds_in_quadrature():
    # No multipath: stated^2 = fit^2 + compass^2 exactly, the fit part ~ the CRB.
    rng = np.random.default_rng(7)
    heading = HEADING_DEG + 3.0
    power = -75.0 + LPDA.gain(77.0 - heading) + rng.normal(0.0, 1.0, heading.size)
    _, props = scan_bearing(heading, power, LPDA)
    assert props["sigma_compass_deg"] == COMPASS_SIGMA_DEG == 4.0
    assert props["sigma_deg"] ** 2 == pytest.approx(
        props["sigma_fit_deg"] ** 2 + props["sigma_diffuse_deg"] ** 2 + 16.0, rel=1e-9)
    assert props["diffuse_share"] < 0.05 and props["sigma_diffuse_deg"] < 1.0
    assert props["sigma_fit_deg"] < 2.0                    # CRB 1.15 deg; one scan's estimate
    # The case: a 4 deg compass bias, a 0.16 deg power-fit bound, 4.1 deg true error.
    assert 4.0 <= props["sigma_deg"] <= 4.5


def test_floor_is_one_rule():
    assert floor_sigma_deg(0.16) == SIGMA_FLOOR_DEG == 1.0
    assert floor_sigma_deg(7.5) == 7.5
    assert np.isinf(floor_sigma_deg(float("inf")))
    assert bearing_sigma_deg(0.1, 0.0, 0.0) == SIGMA_FLOOR_DEG
    assert bearing_sigma_deg(3.0, 0.0, 4.0) == pytest.approx(5.0)
    power = -60.0 + LPDA.gain(123.4 - HEADING_DEG)          # noise-free, no compass error
    _, props = scan_bearing(HEADING_DEG, power, LPDA, compass_sigma_deg=0.0)
    assert props["sigma_deg"] == SIGMA_FLOOR_DEG


_WAVELENGTH_M = 299792458.0 / 1747.5e6


def _multipath_scan(rng, theta_deg, k_factor, *, noise_db=1.0, compass_sigma_deg=4.0,
                    radius_m=0.4, n_waves=20):
    """One turn through a direct wave and diffuse plane waves, fields summed.

    The direct wave from theta carries K/(K+1) of the power, ``n_waves`` waves from
    uniform azimuths with random phases the rest; each arrives through the antenna's
    amplitude pattern, and the antenna, 0.4 m from the turning axis, moves through
    their interference.  The compass reads every heading of the turn with the same bias.
    """
    heading = HEADING_DEG + rng.uniform(0.0, 10.0)
    k = 2 * np.pi / _WAVELENGTH_M

    def arrival(az_deg):
        rel = np.asarray(az_deg)[..., None] - heading
        return 10 ** (LPDA.gain(rel) / 20) * np.exp(1j * k * radius_m * np.cos(np.radians(rel)))

    direct = 1.0 if np.isinf(k_factor) else np.sqrt(k_factor / (k_factor + 1))
    field = direct * arrival(theta_deg)
    if np.isfinite(k_factor):
        az = rng.uniform(0.0, 360.0, n_waves)
        phase = np.exp(1j * rng.uniform(0.0, 2 * np.pi, n_waves))[:, None]
        field = field + np.sqrt(1 / (k_factor + 1) / n_waves) * np.sum(phase * arrival(az), axis=0)
    power = -70.0 + 10 * np.log10(np.abs(field) ** 2) + rng.normal(0.0, noise_db, heading.size)
    return heading + rng.normal(0.0, compass_sigma_deg), power


@pytest.mark.parametrize("k_factor, noise_db", [(np.inf, 1.0), (3.0, 1.0), (1.0, 3.0)])
def test_stated_sigma_matches_rms_error_with_compass_bias_and_diffuse_multipath(k_factor, noise_db):
    # A 4 deg compass bias on every scan; no multipath, a Rician K of 3 (a quarter of
    # the power diffuse) and K = 1 (half).  The stated sigma must be honest scan by
    # scan: the RMS of error / stated sigma within 0.7-1.4, and the typical stated
    # sigma within 0.7-1.4x the RMS error.
    rng = np.random.default_rng({1.0: 31, 3.0: 32}.get(k_factor, 33))
    errors, sigmas, shares = [], [], []
    for _ in range(150):
        theta = rng.uniform(0.0, 360.0)
        heading, power = _multipath_scan(rng, theta, k_factor, noise_db=noise_db)
        bearing, props = scan_bearing(heading, power, LPDA)
        if props["ambiguous"]:
            continue
        errors.append(_wrap(bearing - theta))
        sigmas.append(props["sigma_deg"])
        shares.append(props["diffuse_share"])
    errors, sigmas = np.array(errors), np.array(sigmas)
    assert errors.size >= 120
    rms = float(np.sqrt(np.mean(errors ** 2)))
    assert 0.7 <= float(np.sqrt(np.mean((errors / sigmas) ** 2))) <= 1.4
    assert 0.7 * rms <= float(np.median(sigmas)) <= 1.4 * rms
    # The diffuse share is read off the scan's null fill: 1 / (K + 1) (3 dB of log-normal
    # noise biases the linear fit a little upwards).
    assert float(np.median(shares)) == pytest.approx(1.0 / (k_factor + 1.0), abs=0.08)


def test_noise_free_scan_is_exact_to_sub_degree():
    power = -60.0 + LPDA.gain(123.4 - HEADING_DEG)
    bearing, props = scan_bearing(HEADING_DEG, power, LPDA)
    assert bearing == pytest.approx(123.4, abs=0.05)
    assert props["peak_dbm"] == pytest.approx(-60.0 + LPDA.peak_gain_dbi[0], abs=0.01)


def test_omni_antenna_is_ambiguous():
    rng = np.random.default_rng(1)
    omni = load_pattern("omni", freq_hz=1747.5e6)
    _, props = scan_bearing(HEADING_DEG, rng.normal(-70.0, 1.0, HEADING_DEG.size), omni)
    assert props["ambiguous"]


def test_figure_eight_pattern_is_front_back_ambiguous():
    angle = np.arange(0.0, 360.0, 5.0)
    dipole = AntennaPattern("dipole", np.array([1e9]), angle,
                            (2.15 + 10 * np.log10(np.cos(np.radians(angle)) ** 2 + 1e-3))[None, :])
    rng = np.random.default_rng(2)
    power = -70.0 + dipole.gain(40.0 - HEADING_DEG) + rng.normal(0.0, 1.0, HEADING_DEG.size)
    bearing, props = scan_bearing(HEADING_DEG, power, dipole)
    assert props["ambiguous"]
    assert {round(bearing) % 180, round(props["alt_bearing_deg"]) % 180} <= {39, 40, 41}


def test_power_change_during_scan_is_rejected():
    rng = np.random.default_rng(3)
    # The target stepped up 6 dB halfway through the turn; the omni reference saw it.
    step = np.where(np.arange(HEADING_DEG.size) < 18, 0.0, 6.0)
    power = -70.0 + step + LPDA.gain(200.0 - HEADING_DEG) + rng.normal(0, 1, HEADING_DEG.size)
    reference = -80.0 + step + rng.normal(0.0, 1.0, HEADING_DEG.size)
    _, props = scan_bearing(HEADING_DEG, power, LPDA, reference_dbm=reference)
    assert props["rejected"] and "changed during the scan" in props["rejected"]
    steady = -80.0 + rng.normal(0.0, 1.0, HEADING_DEG.size)
    _, props = scan_bearing(HEADING_DEG, power - step, LPDA, reference_dbm=steady)
    assert props["rejected"] is None


def test_reference_gaps_are_ignored_but_a_mostly_missing_reference_rejects():
    rng = np.random.default_rng(4)
    power = -70.0 + LPDA.gain(200.0 - HEADING_DEG) + rng.normal(0, 1, HEADING_DEG.size)
    reference = -80.0 + rng.normal(0.0, 1.0, HEADING_DEG.size)
    reference[::5] = np.nan
    _, props = scan_bearing(HEADING_DEG, power, LPDA, reference_dbm=reference)
    assert props["rejected"] is None
    reference[: 3 * HEADING_DEG.size // 4] = np.nan
    _, props = scan_bearing(HEADING_DEG, power, LPDA, reference_dbm=reference)
    assert "detected the target in only" in props["rejected"]


def test_partial_turn_is_rejected():
    heading = np.arange(0.0, 180.0, 10.0)
    _, props = scan_bearing(heading, -70.0 + LPDA.gain(90.0 - heading), LPDA)
    assert "turn a full circle" in props["rejected"]


def test_pattern_by_id_and_frequency():
    power = -60.0 + LPDA.gain(300.0 - HEADING_DEG)
    bearing, _ = scan_bearing(HEADING_DEG, power, "lpda-700-2700", freq_hz=1747.5e6)
    assert bearing == pytest.approx(300.0, abs=0.05)
    with pytest.raises(ValueError, match="pass freq_hz"):
        scan_bearing(HEADING_DEG, power, load_pattern("lpda-700-2700"))


@pytest.mark.parametrize("heading, power, match", [
    ([], [], "empty"),
    ([0, 90, 180, 270], [-70, np.nan, -70, -70], "NaN"),
    ([0, 90, 180], [-70, -70, -70, -70], "samples"),
    ([0, 90, 180], [-70, -70, -70], "at least 4"),
    (np.array(["0", "1", "2", "3"]), [-70] * 4, "real numbers"),
])
def test_bad_input(heading, power, match):
    with pytest.raises(ValueError, match=match):
        scan_bearing(heading, power, LPDA)
