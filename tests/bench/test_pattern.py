"""Antenna pattern: the Fourier fit on synthetic cuts, and the whole measurement with
Hamlib's dummy rotator turning the virtual handheld in front of a fixed source."""

import numpy as np
import pytest

from dsp.antenna import load_pattern
from host.bench import pattern, simbench, sweep
from host.bench.rotator import Rotctld, angle_diff_deg

FREQ_HZ = 1747.5e6


def test_fourier_fit_is_exact_for_a_band_limited_pattern():
    a = np.arange(0.0, 360.0, 15.0)
    g = 2.0 + 3.0 * np.cos(np.radians(a)) - 1.5 * np.sin(np.radians(2 * a))
    angles, fit, props = pattern.fit_pattern(a, g)
    truth = 2.0 + 3.0 * np.cos(np.radians(angles)) - 1.5 * np.sin(np.radians(2 * angles))
    assert fit == pytest.approx(truth, abs=1e-9)
    assert props["rms_db"] < 1e-9


@pytest.mark.parametrize("step_deg, symmetric", [(10.0, False), (15.0, True)])
def test_fit_recovers_the_lpda_pattern_from_noisy_steps(step_deg, symmetric):
    true = load_pattern("lpda-700-2700", freq_hz=FREQ_HZ)
    rng = np.random.default_rng(5)
    a = np.arange(0.0, 180.0 + 1e-9 if symmetric else 360.0, step_deg)
    angles, fit, props = pattern.fit_pattern(a, true.gain(a) + rng.normal(0, 0.1, a.size),
                                             symmetric=symmetric)
    err = fit - true.gain(angles)
    assert np.abs(err).max() < 0.5
    assert abs(angle_diff_deg(props["peak_angle_deg"], 0.0)) <= 5.0
    assert props["peak_gain_dbi"] == pytest.approx(true.peak_gain_dbi[0], abs=0.2)


def test_too_few_angles_is_refused():
    with pytest.raises(ValueError, match="at least 8 distinct angles"):
        pattern.fit_pattern([0, 90, 180, 270], [1, 2, 3, 4])


class Interrupt(KeyboardInterrupt):
    """Ctrl-C at a known stop."""


def test_measured_pattern_on_the_turntable_recovers_the_true_one(rotctld_port, tmp_path):
    """13 stops over 0-180 deg (the dummy turns at 6 deg/s: about 35 s), interrupted after
    the fourth and resumed."""
    true = load_pattern("lpda-700-2700", freq_hz=FREQ_HZ)
    isotropic_dbm = -55.0
    sensor = Rotctld("127.0.0.1", rotctld_port)
    rotator = Rotctld("127.0.0.1", rotctld_port)
    env = simbench.TurntableEnv(sensor, true.gain, isotropic_dbm)
    env.temperature = 25.0
    header = {"kind": "pattern", "freq_hz": FREQ_HZ}
    new = []

    def measure(on_point=None):
        return pattern.measure_pattern(
            rotator, handheld, pattern.azimuth_plan(15.0, 180.0), freq_hz=FREQ_HZ,
            isotropic_dbm=isotropic_dbm, calibration=simbench.true_band_response(),
            settle_s=0.1, results=sweep.ResultsFile(tmp_path / "p.jsonl", header),
            on_point=on_point)

    def stop_after_4(point):
        new.append(point["azimuth_deg"])
        if len(new) == 4:
            raise Interrupt

    try:
        with simbench.virtual_handheld(env) as handheld:
            with pytest.raises(Interrupt):
                measure(stop_after_4)
            measured = measure(lambda point: new.append(point["azimuth_deg"]))
    finally:
        rotator.close()
        sensor.close()
    assert new == [15.0 * i for i in range(13)]                 # each stop measured once
    # the rotator counts as arrived within 0.5 deg of the stop
    assert all(abs(angle_diff_deg(m["angle_deg"], -15.0 * i)) <= 0.5
               for i, m in enumerate(measured))
    assert len(measured) == 13
    angles, gains, props = pattern.fit_pattern([m["angle_deg"] for m in measured],
                                               [m["gain_dbi"] for m in measured], symmetric=True)
    out = tmp_path / "handheld-lpda.csv"
    pattern.save_pattern(out, FREQ_HZ, angles, gains)
    again = load_pattern(out, freq_hz=FREQ_HZ)
    err = again.gain(angles) - true.gain(angles)
    # 0.3 dB reading noise averaged over 8 frames of 4 reads, 0.25 dB RSSI steps and the
    # Fourier truncation (0.25 dB on exact data): within 0.5 dB everywhere
    assert np.abs(err).max() < 0.5
    assert again.gain(0.0) == pytest.approx(true.gain(0.0), abs=0.3)
