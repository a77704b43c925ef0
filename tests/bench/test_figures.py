"""The SVG figures are well-formed and draw what they are given."""

import xml.etree.ElementTree as ET

import numpy as np

from host.bench import calfile, figures, pattern, response

NS = "{http://www.w3.org/2000/svg}"


def test_calibration_figure_has_a_curve_and_residuals_per_band():
    true = response.BandResponse(12.3, 0.97, -32.3, 1.0, -104.5)
    rng = np.random.default_rng(0)
    points = []
    for name in ("900", "1800"):
        for level in np.arange(-120.0, -19.0, 5.0):
            points.append({"kind": "point", "band": name, "input_dbm": level,
                           "reading_db": float(response.reading_db(level, true))
                           + rng.normal(0, 0.05), "temperature_c": 25.0, "gain_db": 40,
                           "freq_hz": 1e9})
    bands = [("900", 880e6, 960e6), ("1800", 1700e6, 1880e6)]
    fitted = calfile.fit_bands(points, bands)
    root = ET.fromstring(figures.calibration_svg(points, fitted))
    # per band: the fitted curve and the two linear-range markers
    assert len(root.findall(f"{NS}polyline")) == 3 * len(bands)
    # two panels of dots (readings, residuals) plus a legend dot per band
    assert len(root.findall(f"{NS}circle")) == 2 * len(points) + len(bands)


def test_pattern_figure_draws_fit_reference_and_stops():
    a = np.arange(0.0, 360.0, 30.0)
    measured = [{"angle_deg": x, "gain_dbi": 5.0 * np.cos(np.radians(x))} for x in a]
    angles, gains, _ = pattern.fit_pattern(a, [m["gain_dbi"] for m in measured])
    root = ET.fromstring(figures.pattern_svg(angles, gains, measured, gains))
    assert len(root.findall(f"{NS}polyline")) == 2
    stops = [c for c in root.findall(f"{NS}circle") if c.get("fill") != "none"]
    assert len(stops) == len(measured)
