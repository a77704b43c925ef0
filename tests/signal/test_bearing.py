"""Rotation-scan bearings: RMS error against the Cramér-Rao bound, ambiguity, rejection."""

import numpy as np
import pytest

from dsp.antenna import AntennaPattern, load_pattern
from dsp.bearing import scan_bearing

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
        bearing, props = scan_bearing(heading, power, LPDA)
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
    # The reported sigma is the CRB with the noise estimated from the residuals.
    assert np.sqrt(np.mean(np.square(sigmas))) == pytest.approx(crb, rel=0.2)


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
