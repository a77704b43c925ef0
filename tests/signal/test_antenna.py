"""Antenna pattern files: loading, interpolation, the published figures, errors."""

import csv

import numpy as np
import pytest

from dsp.antenna import ANTENNA_DIR, DEFAULT_ANTENNA, available_antennas, load_pattern

# hardware/antennas/README.md: (freq MHz, peak dBi, HPBW deg, front-to-back dB)
FIGURES = [(700, 5.0, 70.0, 14.0), (1800, 5.7, 64.0, 17.0), (2700, 6.0, 60.0, 18.0)]


def _file_rows(name):
    with open(ANTENNA_DIR / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return [(float(r["freq_hz"]), float(r["angle_deg"]), float(r["gain_dbi"]))
                for r in csv.DictReader(fh)]


def test_shipped_antennas():
    assert {"lpda-700-2700", "omni"} <= set(available_antennas())
    assert DEFAULT_ANTENNA == "lpda-700-2700"


@pytest.mark.parametrize("mhz, peak_dbi, hpbw_deg, fb_db", FIGURES)
def test_default_antenna_matches_published_figures(mhz, peak_dbi, hpbw_deg, fb_db):
    p = load_pattern(freq_hz=mhz * 1e6)
    assert p.gain(0.0) == pytest.approx(peak_dbi, abs=0.01)
    assert p.gain(0.0) - p.gain(180.0) == pytest.approx(fb_db, abs=0.01)
    # Half-power points: 3 dB down at +-HPBW/2, within the back-lobe floor's pull.
    for side in (-1, 1):
        assert p.gain(0.0) - p.gain(side * hpbw_deg / 2) == pytest.approx(3.0, abs=0.25)


def test_frequency_interpolation_is_linear_in_db_between_rows():
    rows = _file_rows("lpda-700-2700")
    g900 = {a: g for f, a, g in rows if f == 900e6}
    g1800 = {a: g for f, a, g in rows if f == 1800e6}
    p = load_pattern(freq_hz=1350e6)
    for angle in (0.0, 45.0, 90.0, 135.0, 180.0):
        assert p.gain(angle) == pytest.approx((g900[angle] + g1800[angle]) / 2, abs=1e-9)


def test_angle_interpolation_wraps():
    p = load_pattern("lpda-700-2700", freq_hz=900e6)
    assert p.gain(-10.0) == pytest.approx(p.gain(350.0))
    assert p.gain(359.5) == pytest.approx((p.gain(359.0) + p.gain(0.0)) / 2)


def test_unknown_antenna_lists_available_ids():
    with pytest.raises(ValueError) as exc:
        load_pattern("yagi-9000")
    assert "lpda-700-2700" in str(exc.value) and "omni" in str(exc.value)


def test_frequency_outside_pattern():
    with pytest.raises(ValueError, match="700-2700 MHz"):
        load_pattern(freq_hz=3.5e9)


def test_pattern_from_path_and_malformed_files(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text("angle_deg,gain_dbi,freq_hz\n" + "".join(
        f"{a},{-abs(a - 180) / 10:.2f},1e9\n" for a in range(0, 360, 30)), encoding="utf-8")
    p = load_pattern(good)
    assert p.antenna_id == "mine" and p.gain(180.0) == pytest.approx(0.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("freq_hz,angle_deg,gain_dbi\n1e9,0,1\n1e9,x,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.csv:3"):
        load_pattern(bad)
    header = tmp_path / "header.csv"
    header.write_text("freq,angle,gain\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        load_pattern(header)
    sparse = tmp_path / "sparse.csv"
    sparse.write_text("freq_hz,angle_deg,gain_dbi\n1e9,0,1\n1e9,90,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least 8"):
        load_pattern(sparse)
    with pytest.raises(ValueError, match="not found"):
        load_pattern(tmp_path / "missing.csv")


def test_pattern_arrays():
    p = load_pattern()
    assert p.gain_dbi.shape == (p.freq_hz.size, p.angle_deg.size)
    assert np.all(np.diff(p.freq_hz) > 0) and np.all(np.diff(p.angle_deg) > 0)
