"""`rfhound locate` end to end on measurement CSV files."""

import json

import numpy as np
import pymap3d
import pytest

from host.cli import main
from host.meascsv import write_measurements

TARGET_KEYS = {"target", "x_m", "y_m", "floor", "floor_known", "floor_prob", "ellipse", "cep50_m",
               "n_used", "n_censored"}
ELLIPSE_KEYS = {"semi_major_m", "semi_minor_m", "orientation_deg"}
# Two SIMs of one rack and a phone elsewhere.
TRUTH = {"T1": (30.0, 40.0, -20.0), "T2": (30.0, 40.0, -29.0), "T3": (-60.0, 10.0, -24.0)}


def walk_rows(synth, rng, noise_db, floor_dbm=-97.0):
    x, y = synth.square_walk(180.0, 3.0, centre=(-10.0, 20.0))
    rows = []
    for i, (xi, yi) in enumerate(zip(x, y)):
        for name, (ex, ey, p0) in TRUTH.items():
            p = float(synth.model_rssi(xi, yi, ex, ey, p0, 3.0) + rng.normal(0, noise_db))
            rows.append({"time_s": float(i), "target": name, "x_m": float(xi), "y_m": float(yi),
                         "rssi_dbm": p if p > floor_dbm else None})
    return rows


def run_json(capsys, path):
    assert main(["locate", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_shape_targets_and_group(tmp_path, capsys, synth):
    path = tmp_path / "walk.csv"
    write_measurements(path, walk_rows(synth, np.random.default_rng(60), 0.0))
    out = run_json(capsys, path)
    assert set(out) == {"targets", "groups"}
    assert [t["target"] for t in out["targets"]] == ["T1", "T2", "T3"]
    for t in out["targets"]:
        assert set(t) == TARGET_KEYS and set(t["ellipse"]) == ELLIPSE_KEYS
        ex, ey, _ = TRUTH[t["target"]]
        assert (t["x_m"], t["y_m"]) == pytest.approx((ex, ey), abs=0.006)
        assert t["floor"] is None
        assert t["n_used"] == 240
    assert len(out["groups"]) == 1
    group = out["groups"][0]
    assert group["targets"] == ["T1", "T2"]
    assert set(group) == TARGET_KEYS - {"target"} | {"targets"}
    assert (group["x_m"], group["y_m"]) == pytest.approx((30.0, 40.0), abs=0.006)


def test_wgs84_in_wgs84_out(tmp_path, capsys, synth):
    lat0, lon0 = 50.0875, 14.4213
    rows = walk_rows(synth, np.random.default_rng(61), 0.0)
    for r in rows:
        lat, lon, _ = pymap3d.enu2geodetic(r.pop("x_m"), r.pop("y_m"), 0.0, lat0, lon0, 0.0)
        r["lat_deg"], r["lon_deg"] = float(lat), float(lon)
    path = tmp_path / "walk.csv"
    write_measurements(path, rows)
    out = run_json(capsys, path)
    t3 = out["targets"][2]
    assert "x_m" not in t3
    lat, lon, _ = pymap3d.enu2geodetic(-60.0, 10.0, 0.0, lat0, lon0, 0.0)
    assert (t3["lat_deg"], t3["lon_deg"]) == pytest.approx((float(lat), float(lon)), abs=2e-7)


def test_table_and_floor(tmp_path, capsys, synth):
    rng = np.random.default_rng(62)
    x, y = synth.square_walk(100.0, 2.0)
    rows = [{"time_s": float(i), "target": "R", "x_m": float(a), "y_m": float(b), "floor": 0,
             "rssi_dbm": float(synth.model_rssi(a, b, 15.0, 10.0, -30.0, 3.0) + rng.normal(0, 3))}
            for i, (a, b) in enumerate(zip(x, y))]
    # Up the stairwell at (3, -2): the rack is on floor 2 (first slab 14 dB, then 5 dB each).
    for f in range(1, 6):
        for _ in range(5):
            k = abs(f - 2)
            d = np.sqrt(12.0**2 + 12.0**2 + (f * 3.0 + 1.5 - 7.0) ** 2)
            p = -30.0 - 30.0 * np.log10(d) - 14.0 * (k >= 1) - 5.0 * max(k - 1, 0) + rng.normal(0, 3)
            rows.append({"time_s": float(len(rows)), "target": "R", "x_m": 3.0, "y_m": -2.0,
                         "floor": f, "rssi_dbm": float(p)})
    path = tmp_path / "stairs.csv"
    write_measurements(path, rows)
    assert run_json(capsys, path)["targets"][0]["floor"] == 2
    assert main(["locate", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["target", "x_m", "y_m", "floor"]
    assert lines[1].split()[0] == "R" and lines[1].split()[3] == "2"


def test_bad_file_is_one_line_and_status_2(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("time_s,target,rssi_dbm,x_m,y_m\n1,T1,-80,0,0\n2,T1,-80dBm,1,0\n")
    assert main(["locate", str(path), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"rfhound locate: error: {path}:3: column rssi_dbm: '-80dBm' is not a power "
                   f"in dBm between -200 and 50, or empty for 'not detected'")


def test_too_few_readings(tmp_path, capsys):
    path = tmp_path / "few.csv"
    write_measurements(path, [{"time_s": 0.0, "target": "T", "rssi_dbm": -70.0, "x_m": 0.0,
                               "y_m": 0.0}])
    assert main(["locate", str(path)]) == 2
    assert "no target has enough readings" in capsys.readouterr().err


def test_rotation_scans_become_bearings(tmp_path, capsys, synth):
    """Two full turns with the LPDA and a short omni walk: the scans pin the position down."""
    from dsp.antenna import load_pattern
    lpda = load_pattern("lpda-700-2700")
    lpda = lpda.at(lpda.freq_hz[len(lpda.freq_hz) // 2])  # the CLI's default row
    ex, ey = 40.0, 25.0
    rng = np.random.default_rng(63)
    rows, t = [], 0.0
    for sx, sy in ((-30.0, -40.0), (90.0, -35.0)):
        bearing = np.degrees(np.arctan2(ex - sx, ey - sy))
        level = float(synth.model_rssi(sx, sy, ex, ey, -25.0, 3.0))
        for heading in np.arange(0.0, 360.0, 15.0):
            t += 1.0
            rows.append({"time_s": t, "target": "S", "x_m": sx, "y_m": sy, "heading_deg": heading,
                         "antenna": "lpda-700-2700",
                         "rssi_dbm": level + float(lpda.gain(bearing - heading)) + rng.normal(0, 0.5)})
    x, y = np.arange(-60.0, 120.0, 6.0), np.full(30, -50.0)
    for xi, yi in zip(x, y):
        t += 1.0
        rows.append({"time_s": t, "target": "S", "x_m": xi, "y_m": yi, "heading_deg": None,
                     "antenna": "", "rssi_dbm": float(synth.model_rssi(xi, yi, ex, ey, -25.0, 3.0)
                                                      + rng.normal(0, 4.0))})
    path = tmp_path / "scans.csv"
    write_measurements(path, rows)
    target = run_json(capsys, path)["targets"][0]
    assert target["n_used"] == 30
    assert np.hypot(target["x_m"] - ex, target["y_m"] - ey) < 5.0


def test_position_sigma_widens_every_ellipse_by_the_gnss_term(tmp_path, capsys, synth):
    """The GNSS term adds s^2 I to the covariance: each squared 95 % semi-axis grows by
    -2 ln(0.05) s^2 = 5.991 * 16 m^2 for s = 4 m (the axes keep their directions)."""
    path = tmp_path / "walk.csv"
    write_measurements(path, walk_rows(synth, np.random.default_rng(62), 3.0))
    plain = run_json(capsys, path)
    assert main(["locate", str(path), "--json", "--position-sigma-m", "4"]) == 0
    gnss = json.loads(capsys.readouterr().out)
    k2 = -2.0 * np.log(0.05)
    for a, b in zip(plain["targets"] + plain["groups"], gnss["targets"] + gnss["groups"]):
        assert (b["x_m"], b["y_m"]) == (a["x_m"], a["y_m"])
        for axis in ("semi_major_m", "semi_minor_m"):
            assert b["ellipse"][axis] ** 2 == pytest.approx(a["ellipse"][axis] ** 2 + k2 * 16.0,
                                                             abs=0.05 * (b["ellipse"][axis] + 1))


@pytest.mark.parametrize("value", ["0", "-2", "nan"])
def test_position_sigma_must_be_positive(tmp_path, capsys, synth, value):
    path = tmp_path / "walk.csv"
    write_measurements(path, walk_rows(synth, np.random.default_rng(62), 3.0))
    assert main(["locate", str(path), f"--position-sigma-m={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--position-sigma-m must be a positive number" in err[0]
