"""`rfhound locate --footprints`: the rack is in a building, and the answer names it."""

import json
import re

import numpy as np
import pymap3d
import pytest

from host.cli import main
from host.footprints_file import read_footprints
from host.meascsv import write_measurements

# A 3 x 3 grid of 40 m square buildings, 15 m streets between them: centres at -55, 0, 55 m.
CENTRE_M = {"W": -55.0, "C": 0.0, "E": 55.0, "S": -55.0, "M": 0.0, "N": 55.0}
HALF_M = 20.0
BUILDINGS = {row + col: (CENTRE_M[col], CENTRE_M[row]) for row in "NMS" for col in "WCE"}
STREETS_M = (-82.5, -27.5, 27.5, 82.5)
# Two SIMs of one rack in building ME, a phone in NW.
TRUTH = {"T1": ("ME", 62.0, 8.0, -20.0), "T2": ("ME", 62.0, 8.0, -27.0),
         "T3": ("NW", -63.0, 50.0, -22.0)}
LAT0, LON0 = 50.0875, 14.4213
NOISE_FLOOR_DBM = -100.0


def square(name):
    cx, cy = BUILDINGS[name]
    return [[cx - HALF_M, cy - HALF_M], [cx + HALF_M, cy - HALF_M], [cx + HALF_M, cy + HALF_M],
            [cx - HALF_M, cy + HALF_M], [cx - HALF_M, cy - HALF_M]]


def street_walk(step_m=3.0):
    """Every street of the grid, west to east, then south to north."""
    s = np.arange(STREETS_M[0], STREETS_M[-1] + 1e-9, step_m)
    x = np.concatenate([s for _ in STREETS_M] + [np.full_like(s, c) for c in STREETS_M])
    y = np.concatenate([np.full_like(s, c) for c in STREETS_M] + [s for _ in STREETS_M])
    return x, y


def walk_rows(synth, seed=70, noise_db=3.0):
    rng = np.random.default_rng(seed)
    x, y = street_walk()
    rows = []
    for i, (xi, yi) in enumerate(zip(x, y)):
        for label, (_, ex, ey, p0) in TRUTH.items():
            p = float(synth.model_rssi(xi, yi, ex, ey, p0, 3.0) + rng.normal(0, noise_db))
            rows.append({"time_s": float(i), "target": label, "x_m": float(xi), "y_m": float(yi),
                         "rssi_dbm": p if p > NOISE_FLOOR_DBM else None})
    return rows


def to_lonlat(x_m, y_m):
    lat, lon, _ = pymap3d.enu2geodetic(x_m, y_m, 0.0, LAT0, LON0, 0.0)
    return float(lon), float(lat)


def feature_collection(rings_by_name):
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": name},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for name, ring in rings_by_name.items()]}


def write_local(tmp_path, synth):
    csv_path, fp_path = tmp_path / "walk.csv", tmp_path / "town.geojson"
    write_measurements(csv_path, walk_rows(synth))
    fp_path.write_text(json.dumps(feature_collection({n: square(n) for n in BUILDINGS})))
    return csv_path, fp_path


def write_wgs84(tmp_path, synth):
    rows = walk_rows(synth)
    for r in rows:
        r["lon_deg"], r["lat_deg"] = to_lonlat(r.pop("x_m"), r.pop("y_m"))
    csv_path, fp_path = tmp_path / "walk.csv", tmp_path / "town.geojson"
    write_measurements(csv_path, rows)
    rings = {n: [list(to_lonlat(*v)) for v in square(n)] for n in BUILDINGS}
    fp_path.write_text(json.dumps(feature_collection(rings)))
    return csv_path, fp_path, rings


def inside(ring, px, py):
    """Even-odd point in polygon, written here so as not to test dsp with itself."""
    hit = False
    for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
        if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def run_json(capsys, *argv):
    assert main(["locate", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_building(answer, name):
    assert answer["building"]["id"] == name
    assert answer["building"]["prob"] > 0.5
    listed = answer["buildings"]
    assert listed[0] == answer["building"]
    probs = [b["prob"] for b in listed]
    assert probs == sorted(probs, reverse=True) and min(probs) >= 0.01 and sum(probs) <= 1.0 + 1e-3


def test_local_metres_name_the_building(tmp_path, capsys, synth):
    csv_path, fp_path = write_local(tmp_path, synth)
    out = run_json(capsys, csv_path, "--footprints", fp_path)
    for t in out["targets"]:
        name = TRUTH[t["target"]][0]
        check_building(t, name)
        assert inside(square(name), t["x_m"], t["y_m"])
    assert [g["targets"] for g in out["groups"]] == [["T1", "T2"]]
    check_building(out["groups"][0], "ME")


def test_wgs84_footprints_are_lon_lat(tmp_path, capsys, synth):
    csv_path, fp_path, rings = write_wgs84(tmp_path, synth)
    out = run_json(capsys, csv_path, "--footprints", fp_path)
    for t in out["targets"]:
        name = TRUTH[t["target"]][0]
        check_building(t, name)
        assert "x_m" not in t
        assert inside(rings[name], t["lon_deg"], t["lat_deg"])
    check_building(out["groups"][0], "ME")


def test_multipolygon_is_one_building(tmp_path, capsys, synth):
    """ME in two halves, one MultiPolygon named by properties.name: one building, mass summed."""
    csv_path, fp_path = write_local(tmp_path, synth)
    doc = feature_collection({n: square(n) for n in BUILDINGS if n != "ME"})
    (x0, y0), (x1, _), (_, y1) = square("ME")[:3]
    xm = 0.5 * (x0 + x1)
    halves = [[[[x0, y0], [xm, y0], [xm, y1], [x0, y1]]],
              [[[xm, y0], [x1, y0], [x1, y1], [xm, y1]]]]
    doc["features"].append({"type": "Feature", "properties": {"name": "ME"},
                            "geometry": {"type": "MultiPolygon", "coordinates": halves}})
    fp_path.write_text(json.dumps(doc))
    out = run_json(capsys, csv_path, "--footprints", fp_path)
    t1 = out["targets"][0]
    check_building(t1, "ME")
    assert [b["id"] for b in t1["buildings"]].count("ME") == 1
    assert inside(square("ME"), t1["x_m"], t1["y_m"])


def test_table_shows_the_building(tmp_path, capsys, synth):
    csv_path, fp_path = write_local(tmp_path, synth)
    assert main(["locate", str(csv_path), "--footprints", str(fp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["target", "x_m", "y_m", "building", "floor"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"T1", "T2", "T3", "T1+T2"}
    for label, line in rows.items():
        name = TRUTH[label.split("+")[0]][0]
        match = re.search(rf"\s{name} (\d\.\d\d)\s", line)
        assert match and float(match.group(1)) > 0.5


def test_without_footprints_no_building(tmp_path, capsys, synth):
    csv_path, _ = write_local(tmp_path, synth)
    out = run_json(capsys, csv_path)
    assert all("building" not in t and "buildings" not in t for t in out["targets"] + out["groups"])


def test_names_multipolygons_and_holes(tmp_path):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": 7, "name": "ignored"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 0]],
                                                         [[2, 1], [3, 1], [3, 2], [2, 1]]]}},
        {"type": "Feature", "id": "way/9", "properties": {"name": "Depot"},
         "geometry": {"type": "MultiPolygon", "coordinates": [
             [[[20, 0], [30, 0], [30, 10]]], [[[40, 0], [50, 0], [50, 10], [40, 10]]]]}},
        {"type": "Feature", "id": "way/10", "properties": None,
         "geometry": {"type": "Polygon", "coordinates": [[[60, 0], [70, 0], [70, 10]]]}},
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [[[80, 0], [90, 0], [90, 10]]]}},
        {"type": "Feature", "properties": {"id": "well"}, "geometry": {"type": "Point",
                                                                     "coordinates": [5, 5]}},
        {"type": "Feature", "properties": {"id": "nothing"}, "geometry": None}]}
    path = tmp_path / "f.geojson"
    path.write_text(json.dumps(doc))
    names, rings = read_footprints(path, wgs84=False)
    assert names == ["7", "Depot", "Depot", "way/10", "B3"]
    assert [len(r) for r in rings] == [3, 3, 4, 3, 3]  # closing vertex dropped, hole ignored
    assert rings[2].tolist() == [[40, 0], [50, 0], [50, 10], [40, 10]]
    path.write_text(json.dumps(doc["features"][1]["geometry"]))
    assert read_footprints(path, wgs84=False).names == ["B0", "B0"]


ONE_GOOD = {"type": "Feature", "properties": {"id": "ok"},
            "geometry": {"type": "Polygon", "coordinates": [square("ME")]}}


def bad_feature(ring, name="bad"):
    return {"type": "FeatureCollection", "features": [ONE_GOOD, {
        "type": "Feature", "properties": {"id": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}


@pytest.mark.parametrize("text, expected", [
    ('{"type": "FeatureCollection",\n "features": [}', [":2:15: not valid JSON"]),
    ("", [":1:1: not valid JSON"]),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Point", "coordinates": [0, 0]}}]}),
     ["no Polygon or MultiPolygon footprints"]),
    (json.dumps({"type": "FeatureCollection", "features": []}), ["no Polygon or MultiPolygon"]),
    (json.dumps([1, 2]), ["expected a FeatureCollection, Feature, Polygon or MultiPolygon"]),
    (json.dumps(bad_feature([[0, 0], [10, 0], [0, 0]])),
     ["feature 1 (bad)", "2 distinct vertices", "at least 3"]),
    (json.dumps(bad_feature([[0, 0], ["a", 0], [10, 10]], name="Shed")),
     ["feature 1 (Shed)", 'vertex 1 is ["a", 0]', "not a pair of numbers"]),
    (json.dumps(bad_feature([[0, 0], [5, 5], [10, 10]])), ["feature 1 (bad)", "no area"]),
    (json.dumps(feature_collection({"far": [[5000, 5000], [5040, 5000], [5040, 5040]]})),
     ["none of the 1 footprints lies in the area of the readings",
      "same local metres as the CSV's x_m/y_m"]),
    (json.dumps(feature_collection({"lonlat": [[14.42, 50.08], [14.43, 50.08], [14.43, 50.09]]})),
     ["feature 0 (lonlat)", "covers only 5e-05 m2", "not [lon, lat] degrees"]),
])
def test_bad_footprints_local(tmp_path, capsys, synth, text, expected):
    csv_path, fp_path = write_local(tmp_path, synth)
    fp_path.write_text(text)
    assert main(["locate", str(csv_path), "--footprints", str(fp_path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rfhound locate: error: {fp_path}")
    for part in expected:
        assert part in err[0]


PARIS = [[2.30, 48.80], [2.31, 48.80], [2.31, 48.81]]  # the readings are in Prague


@pytest.mark.parametrize("rings, expected", [
    ({"ok": [list(to_lonlat(*v)) for v in square("ME")], "bad": [[55, 0], [300, 0], [300, 40]]},
     ["feature 1 (bad)", "vertex 1 [300, 0] is not [lon, lat]"]),
    ({"Louvre": PARIS, "Orsay": [[lon, lat - 0.01] for lon, lat in PARIS]},
     ["none of the 2 footprints lies in the area", "[lon, lat] in degrees (RFC 7946)"]),
])
def test_bad_footprints_wgs84(tmp_path, capsys, synth, rings, expected):
    csv_path, fp_path, _ = write_wgs84(tmp_path, synth)
    fp_path.write_text(json.dumps(feature_collection(rings)))
    assert main(["locate", str(csv_path), "--footprints", str(fp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rfhound locate: error: {fp_path}")
    for part in expected:
        assert part in err[0]


def test_missing_footprint_file(tmp_path, capsys, synth):
    csv_path, fp_path = write_local(tmp_path, synth)
    missing = tmp_path / "nowhere.geojson"
    assert main(["locate", str(csv_path), "--footprints", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"rfhound locate: error: {missing}: cannot read the footprint file "
                   f"(No such file or directory)"]
