"""The operations map: every team's track and answer on one map; hunts that end or fall silent."""

import math
import time

import numpy as np
import pytest

import city_data
from host.ops.envelope import Envelope
from host.ops.hunts import SILENT_AFTER_S, HuntBoard, answer_from, answer_text


def meta(team, sid, sent_s, **extra):
    return Envelope(team, sid, 0, "meta", sent_s, {"meta": {"session_id": sid, **extra},
                                                   "tasking": {"targets": [{"label": "rack"}]}})


def meas(team, sid, rid, x_m, y_m, sent_s):
    lon, lat = city_data.lonlat(x_m, y_m)
    return Envelope(team, sid, rid, "MEAS", sent_s, {"kind": "MEAS", "target": 0, "lat_deg": lat,
                                                     "lon_deg": lon, "floor": 0, "rssi_dbm": -90.0})


def estimate(team, sid, rid, x_m, y_m, sent_s, building, orientation_deg=30.0):
    lon, lat = city_data.lonlat(x_m, y_m)
    return Envelope(team, sid, rid, "ESTIMATE", sent_s, {
        "kind": "ESTIMATE", "target": 0, "lat_deg": lat, "lon_deg": lon, "building": building,
        "building_prob": 0.87, "floor": 2, "floor_prob": {"0": 0.1, "1": 0.19, "2": 0.71},
        "ellipse": {"semi_major_m": 12.0, "semi_minor_m": 8.0, "orientation_deg": orientation_deg}})


def test_a_hunt_is_live_until_its_team_ends_it_or_it_falls_silent():
    now = 1_800_000_000.0
    board = HuntBoard()
    # a retained metadata message of a session from three days ago, delivered on subscribe
    board.update(meta("west", "old", now - 3 * 86400), now)
    board.update(meta("north", "s1", now - 5), now)
    board.update(meas("north", "s1", 1, 0, 0, now - 4), now)
    board.update(meta("south", "s2", now - 5), now)
    board.update(Envelope("south", "s2", 7, "EVENT", now - 1, {"kind": "EVENT", "text": "hunt ended"}),
                 now)
    # a sender whose clock runs an hour ahead is live now, not for an hour after it stops
    board.update(meta("east", "s3", now + 3600), now)
    state = {r["team"]: r["state"] for r in board.rows(now)}
    assert state == {"west": "silent", "north": "live", "south": "ended", "east": "live"}
    later = now + SILENT_AFTER_S + 1
    state = {r["team"]: r["state"] for r in board.rows(later)}
    assert state == {"west": "silent", "north": "silent", "south": "ended", "east": "silent"}


def test_the_simulators_final_estimate_ends_the_hunt_in_degrees():
    from host.sim.world import load_world

    origin = load_world("corner").origin
    board = HuntBoard()
    now = time.time()
    board.update(Envelope("sim", "s9", 0, "meta", now, {"meta": {"sim_world": "corner"}}), now)
    board.update(Envelope("sim", "s9", 50, "ESTIMATE", now, {
        "kind": "ESTIMATE", "final": True, "estimate": {
            "x_m": 30.0, "y_m": -40.0, "floor": 1, "building": "A1N", "building_prob": 0.9,
            "ellipse": {"semi_major_m": 7.8, "semi_minor_m": 7.6, "orientation_deg": 167.3}}}), now)
    (row,) = board.rows(now)
    assert row["state"] == "ended"
    ans = row["answer"]
    # 30 m east, 40 m south of the world's origin (spherical degrees, good to 0.5 %)
    dn = (ans["lat_deg"] - origin[0]) * 111_195.0
    de = (ans["lon_deg"] - origin[1]) * 111_195.0 * math.cos(math.radians(origin[0]))
    assert abs(de - 30.0) < 0.3 and abs(dn + 40.0) < 0.3
    assert answer_text(ans) == "A1N 90 %, floor 1, 95 %: \u00b18 x \u00b18 m"


def test_the_consoles_answer_record_is_the_one_it_shows(replayed):
    """The ESTIMATE the console records (and relays) carries the ellipse it draws."""
    from host.ops.widget import ellipse_xy

    rec = replayed.hunt.estimate_record(0)
    est = replayed.hunt.targets[0].estimate
    lat, lon = replayed.hunt.frame.to_latlon(est.x_m, est.y_m)
    assert rec["lat_deg"] == pytest.approx(float(lat), abs=1e-7)
    assert rec["lon_deg"] == pytest.approx(float(lon), abs=1e-7)
    ans = answer_from(rec)
    ell = ans["ellipse"]
    # the outline the ops map draws from (semi-axes, orientation) is the console's outline
    ox, oy = ellipse_xy(est.x_m, est.y_m, ell["semi_major_m"], ell["semi_minor_m"],
                        ell["orientation_deg"], n=721)
    cx, cy = est.ellipse_xy(n=73)
    d = np.hypot(cx[:, None] - ox[None, :], cy[:, None] - oy[None, :]).min(axis=1)
    assert d.max() < 0.02 * ell["semi_major_m"] + 0.05
    assert ans["floor"] == 0 and 0 < ans["floor_prob"] <= 1


def test_end_hunt_records_the_answers_and_stops_recording(qtbot, window, tmp_path):
    import hunt_data
    from host.session import SessionReader

    recs = hunt_data.hunt_records(targets=(0,))
    window.open_records(iter(recs), name="test")
    path = tmp_path / "rec.sqlite"
    assert window.start_recording(str(path))
    qtbot.waitUntil(lambda: window.hunt.targets.get(0) is not None
                    and len(window.hunt.targets[0].meas) > 600, timeout=30000)
    window.dsp_flush.emit()
    qtbot.waitUntil(lambda: window.hunt.targets[0].estimate is not None, timeout=30000)
    assert window.end_hunt()
    assert window.writer is None
    reader = SessionReader(str(path))
    try:
        kinds = [r["kind"] for r in reader.records(kinds=("ESTIMATE", "EVENT"))]
        ended = [r for r in reader.records(kinds=("EVENT",)) if r.get("text") == "hunt ended"]
    finally:
        reader.close()
    assert "ESTIMATE" in kinds
    assert len(ended) == 1 and ended[0]["answers"][0]["target"] == 0


def grab_pixels(widget):
    image = widget.grab().toImage().convertToFormat(4)  # QImage.Format_RGB32
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    arr = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return image, arr[..., 2::-1]


def test_ops_map_shows_every_team_over_tiles_and_buildings(qtbot, tmp_path):
    from host.footprints_file import read_buildings
    from host.ops.widget import OpsWindow
    from test_city import write_checker_mbtiles, write_city_osm

    now = time.time()
    board = HuntBoard()
    walks = {"north": [(x, 90.0) for x in np.linspace(-60, 160, 60)],
             "south": [(x, -20.0) for x in np.linspace(160, -60, 60)]}
    for team, walk in walks.items():
        board.update(meta(team, team + "1", now), now)
        for rid, (x, y) in enumerate(walk, start=1):
            board.update(meas(team, team + "1", rid, x, y, now), now)
    board.update(estimate("north", "north1", 99, 60.0, 40.0, now, "Torstraße 12"), now)
    board.update(estimate("south", "south1", 99, 157.0, 40.0, now, "way/503", 0.0), now)
    buildings = read_buildings(write_city_osm(tmp_path / "city.osm"))
    window = OpsWindow(board, lambda team, sid: tmp_path / f"{sid}.sqlite", refresh_ms=60000,
                       buildings=buildings, background=str(write_checker_mbtiles(tmp_path / "t.mbtiles")))
    qtbot.addWidget(window)
    window.show()
    window.refresh(now)
    window.map.view.render_tiles()
    qtbot.wait(200)
    image, px = grab_pixels(window)
    image.save(str(tmp_path / "ops.png"))
    table = window.list.table
    answers = {table.item(i, 0).text(): table.item(i, 7).text() for i in range(table.rowCount())}
    assert answers["north"] == "Torstraße 12 87 %, floor 2 (71 %), 95 %: \u00b112 x \u00b18 m"
    # both teams' tracks in their own colours, the tiles under them
    for team in walks:
        c = window.map.colour(team)
        assert np.all(np.abs(px.astype(int) - (c.red(), c.green(), c.blue())) <= 2, axis=-1).sum() > 200
    assert sum(int(np.all(px == c, axis=-1).sum()) for c in city_data.TILE_COLOURS) > 50_000
    # the buildings are drawn in the map's frame: three outlines
    assert len(window.map.view.buildings.path().toSubpathPolygons()) == 3
    # the answer label sits on the answer and names the team
    label = window.map._items[("north", "north1")]["label"]
    assert label.toPlainText() == "north: Torstraße 12, floor 2"
    # a hunt that ends greys out
    board.update(Envelope("north", "north1", 100, "EVENT", now, {"kind": "EVENT", "text": "hunt ended"}),
                 now)
    window.refresh(now)
    states = {table.item(i, 0).text(): table.item(i, 6).text() for i in range(table.rowCount())}
    assert states == {"south": "live", "north": "ended"}


def test_headless_ops_prints_state_and_answer(capsys):
    from host.commands.ops import _print_board

    now = time.time()
    board = HuntBoard()
    board.update(meta("north", "s1", now), now)
    board.update(estimate("north", "s1", 5, 60.0, 40.0, now, "Torstraße 12"), now)
    board.update(meta("west", "old", now - 86400), now)
    _print_board(board)
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert " live " in lines["north"]
    assert lines["north"].endswith("answer: Torstraße 12 87 %, floor 2 (71 %), 95 %: \u00b112 x \u00b18 m")
    assert " silent " in lines["west"] and lines["west"].endswith("answer: -")
