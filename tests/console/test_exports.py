"""Export each format from a replayed hunt and read the files back."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pymap3d
import pytest

import hunt_data
from host.session import SessionReader

KML = "{http://www.opengis.net/kml/2.2}"


def metres_from_truth(lat_deg, lon_deg):
    e, n, _ = pymap3d.geodetic2enu(lat_deg, lon_deg, 0.0, hunt_data.LAT0_DEG, hunt_data.LON0_DEG,
                                   0.0)
    return np.hypot(e - hunt_data.EMITTER_XY_M[0], n - hunt_data.EMITTER_XY_M[1])


GX = "{http://www.google.com/kml/ext/2.2}"


def test_kml(replayed, tmp_path):
    path = tmp_path / "hunt.kml"
    assert replayed.export("kml", str(path))
    root = ET.parse(path).getroot()
    doc = root.find(KML + "Document")
    assert [f.find(KML + "name").text for f in doc.findall(KML + "Folder")] == ["rack-A", "rack-B"]
    marks = {p.find(KML + "name").text: p for p in root.iter(KML + "Placemark")
             if p.find(KML + "name") is not None}
    lon, lat, _ = map(float, marks["rack-A estimate"].find(f"{KML}Point/{KML}coordinates")
                      .text.split(","))
    assert metres_from_truth(lat, lon) < 5.0
    ring = marks["rack-A 95 % ellipse"].find(f".//{KML}coordinates").text.split()
    assert ring[0] == ring[-1] and len(ring) > 10
    assert "46000********12" in ET.tostring(root, encoding="unicode")
    # the track: timed gx:Track pieces (one per run of equal power colour) joining up
    folder = [f for f in root.iter(KML + "Folder") if f.find(KML + "name").text == "rack-A track"][0]
    pieces = folder.findall(f"{KML}Placemark")
    n = len(replayed.hunt.targets[0].meas)
    whens, coords, styles = [], [], []
    for piece in pieces:
        track = piece.find(GX + "Track")
        w = [e.text for e in track.findall(KML + "when")]
        c = [e.text for e in track.findall(GX + "coord")]
        assert len(w) == len(c) >= 1
        whens += w if not whens else w[1:]  # each piece repeats the last reading of the one before
        coords += c if not coords else c[1:]
        styles.append(piece.find(KML + "styleUrl").text)
    assert len(coords) == n and whens == sorted(whens)
    rssi = replayed.hunt.targets[0].meas["rssi_dbm"]
    # not-detected readings are grey; the strongest reading lies on a red (top-bin) piece
    assert ("#power-nd" in styles) == bool(np.isnan(rssi).any())
    assert "#power-6" in styles and "#power-0" in styles


def test_kml_from_a_session_without_the_window(session_file, tmp_path):
    # the headless exporter and the window's menu write the same estimate
    import subprocess
    import sys

    out = tmp_path / "headless.kml"
    run = subprocess.run([sys.executable, "-m", "host.cli", "export", str(session_file),
                          "--kml", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    root = ET.parse(out).getroot()
    marks = {p.find(KML + "name").text: p for p in root.iter(KML + "Placemark")
             if p.find(KML + "name") is not None}
    lon, lat, _ = map(float, marks["rack-A estimate"].find(f"{KML}Point/{KML}coordinates")
                      .text.split(","))
    assert metres_from_truth(lat, lon) < 5.0


def signed_area(ring):
    x, y = np.asarray(ring).T
    return 0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])


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
    assert signed_area(ring) > 0  # RFC 7946 3.1.6: exterior rings counter-clockwise
    props = by_kind[("estimate", "rack-A")]["properties"]
    assert props["imsi_masked"] == "46000********12"
    assert props["ellipse95_semi_major_m"] >= props["ellipse95_semi_minor_m"] > 0
    assert props["ellipse95_major_axis_m"] == pytest.approx(2 * props["ellipse95_semi_major_m"])
    assert "building" in props and "floor_prob" in props
    assert sum(props["floor_prob"].values()) == pytest.approx(1.0, abs=1e-3)
    # 7 decimals (about 1 cm), not 15
    for f in doc["features"]:
        flat = np.ravel(f["geometry"]["coordinates"])
        assert np.all(np.round(flat, 7) == flat)
    track = by_kind[("track", "rack-A")]
    assert len(track["properties"]["time_s"]) == len(track["geometry"]["coordinates"])


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
    # the window replays a session: its CSV is the session's, quality flags included
    assert "flags" in path.read_text().splitlines()[0].split(",")


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


# ---------------------------------------------------------------- headless: rfhound export
def export_cli(*argv):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "host.cli", "export", *map(str, argv)],
                          capture_output=True, text=True, timeout=300)


def lonlat_ring(points_m):
    lat, lon, _ = pymap3d.enu2geodetic(*np.asarray(points_m, float).T, 0.0, hunt_data.LAT0_DEG,
                                       hunt_data.LON0_DEG, 0.0)
    ring = np.column_stack([lon, lat]).tolist()
    return ring + ring[:1]


@pytest.fixture(scope="module")
def headless(session_file, tmp_path_factory):
    """Every export of the synthetic hunt made by one 'rfhound export' run, with footprints:
    the block the emitter is in, and one across the street."""
    out = tmp_path_factory.mktemp("headless")
    fp = out / "buildings.geojson"
    across = [[-80.0, 10.0], [-40.0, 10.0], [-40.0, 70.0], [-80.0, 70.0]]
    fp.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Hauptstr. 5"},
         "geometry": {"type": "Polygon",  # given clockwise, as many OSM extracts have it
                      "coordinates": [lonlat_ring(hunt_data.BUILDING_M[::-1])]}},
        {"type": "Feature", "properties": {"name": "Hauptstr. 8"},
         "geometry": {"type": "Polygon", "coordinates": [lonlat_ring(across)]}}]}))
    run = export_cli(session_file, "--footprints", fp, "--kml", out / "h.kml", "--geojson",
                     out / "h.geojson", "--report", out / "r.png", "--csv", out / "h.csv")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no Qt chatter, no warnings
    return out, run.stdout


def test_headless_geojson_names_the_building_and_floor_probabilities(headless):
    out, _ = headless
    doc = json.loads((out / "h.geojson").read_text())
    est = [f for f in doc["features"] if f["properties"]["kind"] == "estimate"]
    assert [f["properties"]["label"] for f in est] == ["rack-A", "rack-B"]
    props = est[0]["properties"]
    lon, lat = est[0]["geometry"]["coordinates"]
    assert metres_from_truth(lat, lon) < 5.0
    assert props["building"] == "Hauptstr. 5" and props["building_prob"] > 0.9
    assert sum(props["floor_prob"].values()) == pytest.approx(1.0, abs=1e-3)
    assert props["floor"] == int(max(props["floor_prob"], key=props["floor_prob"].get))
    building = [f for f in doc["features"] if f["properties"]["kind"] == "building"][0]
    ring = building["geometry"]["coordinates"][0]
    assert signed_area(ring) > 0 and ring[0] == ring[-1]
    # the footprint came in clockwise: the export turned it to RFC 7946's order
    assert signed_area(lonlat_ring(hunt_data.BUILDING_M[::-1])) < 0
    for f in doc["features"]:
        flat = np.ravel(f["geometry"]["coordinates"])
        assert np.all(np.round(flat, 7) == flat)


def test_headless_kml_has_a_timed_coloured_track_and_the_building(headless):
    out, _ = headless
    root = ET.parse(out / "h.kml").getroot()
    text = ET.tostring(root, encoding="unicode")
    tracks = list(root.iter(GX + "Track"))
    assert tracks and all(t.find(KML + "when") is not None for t in tracks)
    names = [p.find(KML + "name").text for p in root.iter(KML + "Placemark")
             if p.find(KML + "name") is not None]
    assert any(n.startswith("rack-A building Hauptstr. 5") for n in names)
    est = [p for p in root.iter(KML + "Placemark")
           if p.find(KML + "name") is not None and p.find(KML + "name").text == "rack-A estimate"][0]
    data = {d.get("name"): d.find(KML + "value").text for d in est.iter(KML + "Data")}
    assert data["building"] == "Hauptstr. 5" and "floor_prob" in data and "floor" in data
    assert "460001234567812" not in text


def test_headless_report_fills_its_page(headless):
    from PyQt5.QtGui import QImage

    out, stdout = headless
    img = QImage(str(out / "r.png")).convertToFormat(QImage.Format_RGB32)
    assert (img.width(), img.height()) == (1240, 1754)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    px = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[..., :3]
    inked_rows = np.flatnonzero((px < 200).any(axis=(1, 2)))
    # content from the top margin down to the last 8 % of the page, not two-thirds blank
    assert inked_rows[0] < 0.06 * img.height() and inked_rows[-1] > 0.92 * img.height()
    # the map: ellipse red, and the track's power scale from blue to red
    red = (px[..., 2] > 200) & (px[..., 1] < 60) & (px[..., 0] < 60)
    blue = (px[..., 0] > 200) & (px[..., 1] < 60) & (px[..., 2] < 60)
    assert red.sum() > 500 and blue.sum() > 100
    assert "every reading had a position fix" not in stdout  # that line is the report's


def test_headless_report_pdf_and_the_no_fix_line(session_file, tmp_path):
    import shutil
    import sqlite3

    copy = tmp_path / "s.sqlite"
    shutil.copyfile(session_file, copy)
    con = sqlite3.connect(copy)  # three readings before the first fix (0 N 0 E, stale)
    con.execute("UPDATE measurements SET lat_deg = 0, lon_deg = 0, flags = 2 "
                "WHERE record_id IN (SELECT record_id FROM measurements LIMIT 3)")
    con.commit()
    con.close()
    run = export_cli(copy, "--report", tmp_path / "r.pdf")
    assert run.returncode == 0, run.stderr
    assert "3 readings had no position fix" in run.stdout
    data = (tmp_path / "r.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:] and len(data) > 20_000


def test_headless_export_refuses_a_bad_report_name_in_one_line(session_file, tmp_path):
    run = export_cli(session_file, "--report", tmp_path / "r.jpg")
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "--report" in run.stderr and ".pdf or .png" in run.stderr


def test_fault_and_stale_rows_leave_the_exported_answer_unchanged(session_file, tmp_path):
    """Issue 18 item 4: one 0 dBm radio-fault row moved the floor and the ellipse."""
    import shutil

    from firmware import protocol as P
    from host.app import export
    from host.session import SessionReader, SessionWriter

    def answer(path):
        with SessionReader(str(path)) as reader:
            data = export.from_session(reader)
        est = data.hunt.targets[0].estimate
        return est.x_m, est.y_m, est.floor, tuple(est.cov_m2.ravel()), data.counts

    clean = answer(session_file)
    bad = tmp_path / "bad.sqlite"
    shutil.copyfile(session_file, bad)
    w = SessionWriter.__new__(SessionWriter)  # append to the copy with the real insert path
    import sqlite3
    import threading

    w.path, w._con, w._lock, w._closed, w._dirty = (str(bad), sqlite3.connect(bad),
                                                    threading.Lock(), False, False)
    with SessionReader(str(session_file)) as reader:
        first = next(reader.iter_measurements())
    for k, flags in enumerate([P.F_RADIO_FAULT] * 3 + [P.F_POSITION_STALE] * 3):
        w.record({"kind": "MEAS", "seq": 60000 + k, "device_time_ms": 1, "target": 0,
                  "rx_time_s": first[2] + 0.5 + k, "rssi_dbm": 0.0, "heading_deg": None,
                  "lat_deg": first[6], "lon_deg": first[7], "alt_m": 35.0, "floor": 4,
                  "flags": flags})
    w._con.commit()
    w._con.close()
    dirty = answer(bad)
    assert dirty[:4] == clean[:4]
    assert dirty[4].flagged["radio_fault"] == 3 and dirty[4].flagged["position_stale"] == 3


def test_window_report_counts_readings_from_the_session_it_replays(replayed, session_file):
    from host.app import export

    assert export.window_session(replayed) == str(session_file)
    data = export.from_hunt(replayed.hunt, session=export.window_session(replayed))
    with SessionReader(str(session_file)) as reader:
        n = reader.count("MEAS")
    assert data.counts.written == n and data.counts.no_fix == 0
    assert data.no_fix_line() == "every reading had a position fix"
    assert "not counted" in export.from_hunt(replayed.hunt).no_fix_line()
