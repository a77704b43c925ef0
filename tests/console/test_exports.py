"""Export each format from a replayed hunt and read the files back."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pymap3d

import hunt_data
from host.session import SessionReader

KML = "{http://www.opengis.net/kml/2.2}"


def metres_from_truth(lat_deg, lon_deg):
    e, n, _ = pymap3d.geodetic2enu(lat_deg, lon_deg, 0.0, hunt_data.LAT0_DEG, hunt_data.LON0_DEG,
                                   0.0)
    return np.hypot(e - hunt_data.EMITTER_XY_M[0], n - hunt_data.EMITTER_XY_M[1])


def test_kml(replayed, tmp_path):
    path = tmp_path / "hunt.kml"
    assert replayed.export("kml", str(path))
    root = ET.parse(path).getroot()
    folders = root.iter(KML + "Folder")
    assert [f.find(KML + "name").text for f in folders] == ["rack-A", "rack-B"]
    marks = {p.find(KML + "name").text: p for p in root.iter(KML + "Placemark")}
    lon, lat, _ = map(float, marks["rack-A estimate"].find(f"{KML}Point/{KML}coordinates")
                      .text.split(","))
    assert metres_from_truth(lat, lon) < 5.0
    ring = marks["rack-A 95 % ellipse"].find(f".//{KML}coordinates").text.split()
    assert ring[0] == ring[-1] and len(ring) > 10
    track = marks["rack-A track"].find(f".//{KML}coordinates").text.split()
    assert len(track) == len(replayed.hunt.targets[0].meas)
    assert "46000********12" in ET.tostring(root, encoding="unicode")


def test_geojson(replayed, tmp_path):
    path = tmp_path / "hunt.geojson"
    assert replayed.export("geojson", str(path))
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    by_kind = {}
    for f in doc["features"]:
        by_kind.setdefault((f["properties"]["kind"], f["properties"]["label"]), f)
    lon, lat = by_kind[("estimate", "rack-A")]["geometry"]["coordinates"]
    assert metres_from_truth(lat, lon) < 5.0
    ring = by_kind[("ellipse95", "rack-A")]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]
    props = by_kind[("estimate", "rack-A")]["properties"]
    assert props["imsi_masked"] == "46000********12"
    assert props["ellipse95_semi_major_m"] >= props["ellipse95_semi_minor_m"] > 0


def test_measurement_csv_round_trips_the_session(replayed, session_file, tmp_path):
    from host.meascsv import read_measurements

    path = tmp_path / "hunt.csv"
    assert replayed.export("csv", str(path))
    cols = read_measurements(str(path))
    with SessionReader(str(session_file)) as reader:
        meas = reader.measurements()
    assert len(cols["time_s"]) == len(meas)
    assert np.count_nonzero(np.isnan(cols["rssi_dbm"])) == sum(m["rssi_dbm"] is None for m in meas)
    order = np.argsort([m["rx_time_s"] for m in meas], kind="stable")
    lat = np.array([meas[i]["lat_deg"] for i in order])
    np.testing.assert_allclose(np.sort(cols["lat_deg"]), np.sort(lat), atol=2e-7)
    assert set(cols["target"]) == {"rack-A", "rack-B"}


def test_report_png(replayed, tmp_path):
    from PyQt5.QtGui import QImage

    path = tmp_path / "report.png"
    assert replayed.export("png", str(path))
    img = QImage(str(path))
    assert (img.width(), img.height()) == (1240, 1754)
    colours = {img.pixel(x, y) for x in range(0, 1240, 7) for y in range(0, 1754, 7)}
    assert len(colours) > 50


def test_report_pdf(replayed, tmp_path):
    path = tmp_path / "report.pdf"
    assert replayed.export("pdf", str(path))
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    assert len(data) > 20_000


def test_export_before_any_data_says_so(window, tmp_path):
    assert not window.export("kml", str(tmp_path / "x.kml"))
    assert "no position fix" in window.message.text()
