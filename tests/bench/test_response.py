"""The response model and its fit, against analytic values and a seeded synthetic sweep."""

import numpy as np
import pytest

from host.bench import response as R

TRUE = R.BandResponse(offset_db=12.3, slope=0.97, knee_dbm=-32.3, smoothness=1.0,
                      noise_floor_dbm=-104.5, temp_coeff_db_per_c=0.021)


def test_straight_line_in_the_middle_matches_the_firmware_formula():
    # far from floor and knee the model is the firmware's P = offset + slope r - tc (T - Tref)
    r = R.reading_db(-70.0, TRUE, 35.0)
    assert R.firmware_power_dbm(r, TRUE, 35.0) == pytest.approx(-70.0, abs=0.02)


def test_p1db_of_a_rapp_s1_limiter_is_5_87_db_below_the_knee():
    unit = R.BandResponse(0.0, 1.0, -30.0, 1.0, -200.0)
    # (10/s) log10(1 + 10^(s x/10)) = 1 dB  =>  x = 10 log10(10^0.1 - 1) = -5.868 dB
    assert R.p1db_dbm(unit) == pytest.approx(-30.0 + 10 * np.log10(10 ** 0.1 - 1), abs=1e-9)
    assert R.reading_db(-30.0, unit) == pytest.approx(-30.0 - 10 * np.log10(2), abs=1e-6)


def test_inverse_undoes_the_forward_model_between_floor_and_saturation():
    p = np.linspace(-110.0, -25.0, 50)
    t = np.linspace(10.0, 45.0, 50)
    assert R.input_dbm(R.reading_db(p, TRUE, t), TRUE, t) == pytest.approx(p, abs=1e-6)
    assert np.isnan(R.input_dbm(R.reading_db(-300.0, TRUE) - 1.0, TRUE))


def _sweep(true, rng, sigma_db=0.1, levels=np.arange(-120.0, -19.0, 2.0)):
    t = rng.uniform(15.0, 40.0, levels.size)
    r = R.reading_db(levels, true, t) + rng.normal(0.0, sigma_db, levels.size)
    return levels, r, t


def test_fit_recovers_a_known_response_within_its_stated_errors():
    rng = np.random.default_rng(7)
    p, r, t = _sweep(TRUE, rng)
    fit, props = R.fit_response(p, r, t)
    sigma = props["sigma"]
    for name in ("offset_db", "slope", "knee_dbm", "noise_floor_dbm", "temp_coeff_db_per_c"):
        assert abs(getattr(fit, name) - getattr(TRUE, name)) < 4 * sigma[name], name
    assert abs(fit.offset_db - TRUE.offset_db) < 0.3
    assert abs(fit.slope - TRUE.slope) < 0.005
    assert abs(fit.knee_dbm - TRUE.knee_dbm) < 0.3
    assert abs(fit.noise_floor_dbm - TRUE.noise_floor_dbm) < 0.3
    assert abs(fit.temp_coeff_db_per_c - TRUE.temp_coeff_db_per_c) < 0.004
    # 0.1 dB reading noise times the slope is the input-referred scatter
    assert props["rms_linear_db"] == pytest.approx(0.1 * TRUE.slope, rel=0.35)
    assert props["knee_observed"] and props["floor_observed"] and props["tc_fitted"]


def test_unreached_knee_and_constant_temperature_are_reported_not_invented():
    rng = np.random.default_rng(3)
    levels = np.arange(-120.0, -59.0, 2.0)          # stops 25 dB below the knee
    r = R.reading_db(levels, TRUE, 25.0) + rng.normal(0.0, 0.1, levels.size)
    fit, props = R.fit_response(levels, r, np.full(levels.size, 25.0))
    assert not props["knee_observed"] and not props["tc_fitted"]
    assert props["sigma"]["knee_dbm"] is None and fit.temp_coeff_db_per_c == 0.0
    assert abs(fit.slope - TRUE.slope) < 0.01
    assert props["rms_linear_db"] < 0.5


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="r_db contains NaN"):
        R.fit_response(np.arange(10.0), np.full(10, np.nan))
    with pytest.raises(ValueError, match="need >= 6 points"):
        R.fit_response([1.0, 2.0], [1.0, 2.0])
