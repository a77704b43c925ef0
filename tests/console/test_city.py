"""A real city in the console: OpenStreetMap buildings named by address, MBTiles under the track.

The OSM extract and the MBTiles file are written by the test (``city_data``), offline.
"""

import subprocess
import sys

import numpy as np
import pytest

import city_data
import hunt_data
from replay_helpers import replay_to_end
from host.app.views.target_table import COLUMNS
from host.errors import UserError
from host.footprints_file import read_buildings, read_footprints

#: The synthetic hunt's emitter building (east/north metres of its first fix's origin,
#: which is city_data's origin) and its neighbours across the streets.
HUNT_CITY = [
    (501, [(20, 10), (100, 10), (100, 70), (20, 70)],
     {"building": "apartments", "addr:street": "Torstraße", "addr:housenumber": "12",
      "building:levels": "5", "name": "Not this name"}),
    (502, [(-75, 10), (-40, 10), (-40, 70), (-75, 70)], {"building": "yes", "name": "Depot"}),
    # an L: real footprints have any number of corners
    (503, [(140, 10), (175, 10), (175, 70), (160, 70), (160, 40), (140, 40)], {"building": "yes"}),
]


def write_city_osm(path, buildings=HUNT_CITY, relations=()):
    path.write_text(city_data.osm_xml(buildings, relations), encoding="utf-8")
    return path


def test_osm_buildings_are_named_by_address_else_name_else_id(tmp_path):
    relation = (77, [city_data.square_m(300, 0, 10), city_data.square_m(330, 0, 10)],
                {"building": "school", "addr:street": "Linienstraße", "addr:housenumber": "5a"})
    not_a_building = (504, city_data.square_m(400, 0, 10), {"building": "no", "name": "Lawn"})
    line = (505, [(500, 0), (510, 0), (520, 0)], {"building": "yes"})  # no area
    path = write_city_osm(tmp_path / "city.osm", HUNT_CITY + [not_a_building, line], [relation])
    b = read_buildings(path)
    assert b.wgs84
    assert b.names == ["Torstraße 12", "Depot", "way/503", "Linienstraße 5a", "Linienstraße 5a"]
    assert b.levels == [5, None, None, None, None]
    assert b.skipped == 1
    # the first ring is the building's corners in [lon, lat], to the 1e-7 degrees written
    lon, lat = zip(*(city_data.lonlat(x, y) for x, y in HUNT_CITY[0][1]))
    ring = b.rings[0]
    assert len(ring) == 4
    for corner in np.column_stack([lon, lat]):
        assert np.min(np.abs(ring - corner).max(axis=1)) < 1e-7
    # the same reader serves `rfhound locate --footprints`
    fp = read_footprints(path, wgs84=True)
    assert fp.names == b.names


def test_osm_in_local_metres_has_the_written_size_and_a_spatial_index(tmp_path):
    from host.app.geo import LocalFrame

    b = read_buildings(write_city_osm(tmp_path / "city.osm"))
    local = b.to_local(LocalFrame(city_data.LAT0_DEG, city_data.LON0_DEG))
    from dsp.footprints import area_m2

    # 80 m x 60 m written with a spherical metres-per-degree good to 0.5 %
    assert area_m2(local.rings[0]) == pytest.approx(80 * 60, rel=0.01)
    assert local.near(50, 30, 51, 31).tolist() == [0]
    assert local.near(-100, -100, 200, 100).tolist() == [0, 1, 2]
    assert local.near(1000, 1000, 1001, 1001).tolist() == []


def test_geojson_from_osm_is_named_by_address_with_levels(tmp_path):
    import json

    ring = [[13.4, 52.52], [13.401, 52.52], [13.401, 52.521], [13.4, 52.52]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "way/1005",
         "properties": {"@id": "way/1005", "building": "yes", "addr:street": "Torstraße",
                        "addr:housenumber": "12", "building:levels": "4"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        # osmtogeojson's older shape: the tags in a nested dict
        {"type": "Feature", "id": "way/1006",
         "properties": {"type": "way", "tags": {"building": "yes", "name": "Kino"}},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "id": "way/1007", "properties": {"building:levels": "many"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(doc))
    b = read_buildings(path)
    assert b.names == ["Torstraße 12", "Kino", "way/1007"]
    assert b.levels == [4, None, None]


@pytest.mark.parametrize("content, words", [
    (b"<osm><node id='1' lat='x'", "not a readable OpenStreetMap extract"),
    (b'<?xml version="1.0"?><osm version="0.6"></osm>', "no buildings in it"),
])
def test_bad_osm_is_one_clear_line(tmp_path, content, words):
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(UserError, match=words):
        read_buildings(path)


# ------------------------------------------------------------------------- tiles
def write_checker_mbtiles(path, zoom=17):
    tiles = city_data.checker_tiles(city_data.LAT0_DEG, city_data.LON0_DEG, zoom)
    city_data.write_mbtiles(path, tiles, zoom)
    return path


def expected_colour(lat, lon, zoom=17):
    tx, ty = city_data.tile_xy(lat, lon, zoom)
    return city_data.TILE_COLOURS[(int(tx) + int(ty)) % 2]


def test_mbtiles_rows_are_tms_and_render_lands_each_tile_on_its_ground(qapp, tmp_path):
    from host.app import tiles
    from host.app.geo import LocalFrame

    path = write_checker_mbtiles(tmp_path / "city.mbtiles")
    src = tiles.open_tiles(str(path))
    assert (src.min_zoom, src.max_zoom) == (17, 17)
    tx, ty = (int(v) for v in city_data.tile_xy(city_data.LAT0_DEG, city_data.LON0_DEG, 17))
    # the XYZ row asked for is stored as TMS row 2^z - 1 - y (MBTiles 1.3)
    assert tiles.decode(src.tile(17, tx, ty))[128, 128, :3].tolist() == list(
        city_data.TILE_COLOURS[(tx + ty) % 2])
    assert src.tile(17, tx + 50, ty) is None
    frame = LocalFrame(city_data.LAT0_DEG, city_data.LON0_DEG)
    image, (a, b, c, d, e, f) = tiles.TileLayer(src).render(frame, -150, -150, 150, 150, 800)
    inv = np.linalg.inv(np.array([[a, b], [d, e]]))
    rng = np.random.default_rng(3)
    for x, y in rng.uniform(-140, 140, size=(40, 2)):
        col, row = inv @ (np.array([x, y]) - [c, f])
        lat, lon = frame.to_latlon(x, y)
        tcx, tcy = city_data.tile_xy(float(lat), float(lon), 17)
        if min(abs(tcx - round(tcx)), abs(tcy - round(tcy))) * 256 < 4:
            continue  # on a tile border (black): no colour to compare
        assert image[int(row), int(col), :3].tolist() == list(expected_colour(lat, lon))


def test_tile_folder_and_bad_maps(qapp, tmp_path):
    from host.app import tiles
    from host.app.offline_map import MapError

    folder = tmp_path / "xyz"
    for (col, row), data in city_data.checker_tiles(city_data.LAT0_DEG, city_data.LON0_DEG,
                                                    16, 1).items():
        (folder / "16" / str(col)).mkdir(parents=True, exist_ok=True)
        (folder / "16" / str(col) / f"{row}.png").write_bytes(data)
    src = tiles.open_tiles(str(folder))
    tx, ty = (int(v) for v in city_data.tile_xy(city_data.LAT0_DEG, city_data.LON0_DEG, 16))
    assert tiles.decode(src.tile(16, tx, ty))[10, 10, :3].tolist() == list(
        city_data.TILE_COLOURS[(tx + ty) % 2])
    # the same tiles in TMS rows with gdal2tiles' tilemapresource.xml: read the same
    tms = tmp_path / "tms"
    for (col, row), data in city_data.checker_tiles(city_data.LAT0_DEG, city_data.LON0_DEG,
                                                    16, 1).items():
        (tms / "16" / str(col)).mkdir(parents=True, exist_ok=True)
        (tms / "16" / str(col) / f"{2 ** 16 - 1 - row}.png").write_bytes(data)
    (tms / "tilemapresource.xml").write_text("<TileMap/>")
    assert tiles.open_tiles(str(tms)).tile(16, tx, ty) == src.tile(16, tx, ty)
    bad = tmp_path / "bad.mbtiles"
    bad.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(MapError, match="not an MBTiles file"):
        tiles.open_tiles(str(bad))
    with pytest.raises(MapError, match="not a tile folder"):
        tiles.open_tiles(str(tmp_path / "xyz" / "16" / str(tx)))


def tile_pixels(image):
    """How many pixels of the image show one of the two tile colours."""
    arr = image.convertToFormat(image.Format_RGB32)
    ptr = arr.constBits()
    ptr.setsize(arr.sizeInBytes())
    px = np.frombuffer(ptr, np.uint8).reshape(arr.height(), arr.bytesPerLine() // 4, 4)[..., 2::-1]
    return sum(int(np.all(px == c, axis=-1).sum()) for c in city_data.TILE_COLOURS)


def test_replay_in_a_city_names_the_address_and_draws_tiles(qtbot, window, session_file, tmp_path):
    osm = write_city_osm(tmp_path / "city.osm")
    assert window.load_buildings(str(osm))
    assert window.load_background(str(write_checker_mbtiles(tmp_path / "city.mbtiles")))
    replay_to_end(qtbot, window, session_file)
    assert window.hunt.building_names == ["Torstraße 12", "Depot", "way/503"]
    model = window.table_model
    row = model.row_of(0)
    building = model.data(model.index(row, COLUMNS.index("building")))
    assert building.startswith("Torstraße 12 ")
    floor = model.data(model.index(row, COLUMNS.index("floor")))
    assert floor.endswith(" of 5")
    # the floor panel draws the building's roof: floors 0-4 under it
    assert window.floors.roof.isVisible() and window.floors.roof.value() == 4.5
    assert window.map.likely_label.toPlainText() == building
    # the cursor read-out over the emitter: its degrees and the building's address
    lat, lon = window.hunt.frame.to_latlon(60.0, 40.0)
    text = window.cursor_text(60.0, 40.0)
    assert f"{float(lat):.6f} N, {float(lon):.6f} E" in text and "Torstraße 12 (5 floors)" in text
    assert "Depot" in window.cursor_text(-60.0, 40.0)
    # the L's notch is in its bounding box but not in the building (the map's origin, the
    # first fix, is 5 m east and 5 m south of city_data's origin)
    assert "way/503" in window.cursor_text(145.0 - 5.0, 25.0 + 5.0)
    assert "way/503" not in window.cursor_text(150.0 - 5.0, 55.0 + 5.0)
    # tiles: rendered once the view settled, drawn under the track in the grabbed window
    window.map.render_tiles()
    qtbot.wait(300)
    shot = window.grab().toImage()
    shot.save(str(tmp_path / "city.png"))
    map_area = window.map.width() * window.map.height()
    assert tile_pixels(shot) > 0.2 * map_area


def test_many_buildings_go_to_the_estimator_near_the_walk_only(qtbot, window, session_file,
                                                               tmp_path):
    """A city of 3,600 buildings: the estimator sees those near the walk, the table names
    the right one by its index in the whole city."""
    city = city_data.grid_city(3600, pitch_m=200.0, half_m=20.0)
    # move the building nearest the emitter (60, 40) onto the hunt's building
    city = [b for b in city if not (abs(np.mean([p[0] for p in b[1]]) - 60) < 150
                                    and abs(np.mean([p[1] for p in b[1]]) - 40) < 150)]
    city.append((99_999,) + HUNT_CITY[0][1:])  # OSM files are sorted by id: it comes last
    assert window.load_buildings(str(write_city_osm(tmp_path / "big.osm", city)))
    sent = []
    window.dsp_buildings.connect(lambda polys: sent.append(len(polys)))
    replay_to_end(qtbot, window, session_file)
    assert len(window.hunt.buildings) == len(city)
    assert sent and 0 < sent[-1] < 50
    for target in (0, 1):  # one box: one estimate for both
        likely = window.hunt.likely_building(target)
        assert likely is not None and likely[1] == "Torstraße 12"
        assert likely[0] == len(city) - 1


@pytest.mark.timeout(150)
def test_replay_command_with_footprints_and_map_writes_a_city_screenshot(session_file, tmp_path):
    from PyQt5.QtGui import QImage

    osm = write_city_osm(tmp_path / "city.osm")
    mbtiles = write_checker_mbtiles(tmp_path / "city.mbtiles")
    out = tmp_path / "shot.png"
    run = subprocess.run([sys.executable, "-m", "host.cli", "replay", str(session_file),
                          "--footprints", str(osm), "--map", str(mbtiles),
                          "--screenshot", str(out), "--size", "1000x700"],
                         capture_output=True, text=True, timeout=140)
    assert run.returncode == 0, run.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)
    assert tile_pixels(img) > 0.1 * 1000 * 700


@pytest.mark.parametrize("argv, words", [
    (["replay", "SESSION", "--buildings", "missing.osm"], "missing.osm: no such"),
    (["replay", "SESSION", "--osm", "bad.osm"], "not a readable OpenStreetMap extract"),
    (["replay", "SESSION", "--map", "bad.mbtiles"], "not an MBTiles file"),
    (["console", "--map", "nowhere.mbtiles"], "--map nowhere.mbtiles: no such"),
])
def test_city_arguments_refuse_bad_input_in_one_line(argv, words, session_file, tmp_path,
                                                     capsys, monkeypatch):
    from host.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.osm").write_text("<osm><way id='1'")
    (tmp_path / "bad.mbtiles").write_bytes(b"nonsense" * 200)
    assert main([str(session_file) if a == "SESSION" else a for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_cell_owner_with_a_city_is_the_plain_rule(tmp_path):
    """`dsp.footprints.cell_owner` skips footprints off the grid and cells outside each
    footprint's box; the owners must be those of its documented rule, applied to every
    footprint and every cell."""
    from dsp import footprints as fp

    def plain(polys, cx, cy, cell_m):
        owner = np.full(cx.shape, -1, dtype=int)
        for k, p in enumerate(polys):  # later ones win
            owner[fp.contains(p, cx, cy)] = k
        for k, p in enumerate(polys):  # a small one takes the free cell nearest its mean
            if not np.any(owner == k):
                free = np.flatnonzero(owner < 0)
                d = np.hypot(cx[free] - p[:, 0].mean(), cy[free] - p[:, 1].mean())
                if len(free) and d.min() <= cell_m:
                    owner[free[np.argmin(d)]] = k
        return owner

    rng = np.random.default_rng(5)
    axis = np.linspace(-100.0, 100.0, 41)
    gx, gy = (a.ravel() for a in np.meshgrid(axis, axis))
    for _ in range(20):
        polys = [np.array([[0, 0], [rng.uniform(0.5, 40), 0],
                           [rng.uniform(0, 40), rng.uniform(0.5, 40)]]) + rng.uniform(-160, 140, 2)
                 for _ in range(60)]
        np.testing.assert_array_equal(fp.cell_owner(polys, gx, gy, 5.0),
                                      plain(polys, gx, gy, 5.0))


def test_locate_takes_an_osm_extract_and_names_the_address(tmp_path, capsys):
    """`rfhound locate --footprints city.osm`: the same reader, the answer by address."""
    import json

    from host.cli import main
    from host.meascsv import write_measurements

    rows = [{"time_s": r["rx_time_s"], "target": "T1", "rssi_dbm": r["rssi_dbm"],
             "lat_deg": r["lat_deg"], "lon_deg": r["lon_deg"], "floor": 0}
            for r in hunt_data.hunt_records(targets=(0,))
            if r["kind"] == "MEAS" and r["heading_deg"] is None and r["rssi_dbm"] is not None]
    csv_path = tmp_path / "walk.csv"
    write_measurements(csv_path, rows)
    osm = write_city_osm(tmp_path / "city.osm")
    assert main(["locate", str(csv_path), "--footprints", str(osm), "--json"]) == 0
    (target,) = json.loads(capsys.readouterr().out)["targets"]
    assert target["building"]["id"] == "Torstraße 12"


def test_pbf_extract_reads_like_its_xml(tmp_path):
    """The same extract converted to .osm.pbf by libosmium's own writer reads the same."""
    import osmium

    xml = write_city_osm(tmp_path / "city.osm")
    pbf = tmp_path / "city.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
            elif obj.is_relation():
                writer.add_relation(obj)
    a, b = read_buildings(xml), read_buildings(pbf)
    assert b.names == a.names == ["Torstraße 12", "Depot", "way/503"]
    assert b.levels == a.levels
    for ra, rb in zip(a.rings, b.rings):
        np.testing.assert_allclose(rb, ra, atol=1e-7)


def test_the_window_offers_load_buildings(window):
    texts = [a.text() for menu in window.menuBar().actions() for a in menu.menu().actions()]
    assert "Load buildings (GeoJSON or OpenStreetMap)\u2026" in texts
    assert "End hunt (tell the operations centre)" in texts
