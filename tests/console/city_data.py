"""A small city written in the test: OpenStreetMap XML and an MBTiles file, no network.

Both are written from their specifications (OSM XML 0.6; MBTiles 1.3: a SQLite
``tiles`` table in TMS row order plus a ``metadata`` table), not from the readers.
"""

import math
import sqlite3
from xml.sax.saxutils import quoteattr

#: Where the test city stands (Berlin Mitte).
LAT0_DEG, LON0_DEG = 52.5200, 13.4050
#: Metres per degree of latitude and of longitude there (spherical, good to 0.5 %).
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0_DEG))


def lonlat(x_m, y_m):
    """``(lon, lat)`` of a point ``x_m`` east and ``y_m`` north of the city origin."""
    return LON0_DEG + x_m / M_PER_DEG_LON, LAT0_DEG + y_m / M_PER_DEG_LAT


def osm_xml(buildings, relations=()):
    """OSM XML 0.6 of closed ways, one per building.

    ``buildings`` is a list of ``(osm_id, ring_m, tags)``: ``ring_m`` the corners
    (east, north metres of the origin, not closed), ``tags`` a dict.
    ``relations`` is a list of ``(osm_id, [outer ring_m, ...], tags)``: multipolygons
    whose outer ways are untagged.
    """
    nodes, ways, rels = [], [], []
    next_node = [1]
    next_way = [10_000_000]

    def way_nodes(ring_m):
        refs = []
        for x, y in ring_m:
            lon, lat = lonlat(x, y)
            nodes.append(f' <node id="{next_node[0]}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
            refs.append(next_node[0])
            next_node[0] += 1
        return refs + refs[:1]

    def tag_lines(tags):
        return "".join(f"  <tag k={quoteattr(k)} v={quoteattr(str(v))}/>\n" for k, v in tags.items())

    for osm_id, ring, tags in buildings:
        refs = way_nodes(ring)
        nds = "".join(f'  <nd ref="{r}"/>\n' for r in refs)
        ways.append(f' <way id="{osm_id}" version="1">\n{nds}{tag_lines(tags)} </way>')
    for osm_id, outers, tags in relations:
        members = []
        for ring in outers:
            refs = way_nodes(ring)
            nds = "".join(f'  <nd ref="{r}"/>\n' for r in refs)
            ways.append(f' <way id="{next_way[0]}" version="1">\n{nds} </way>')
            members.append(f'  <member type="way" ref="{next_way[0]}" role="outer"/>\n')
            next_way[0] += 1
        all_tags = {"type": "multipolygon", **tags}
        rels.append(f' <relation id="{osm_id}" version="1">\n{"".join(members)}'
                    f'{tag_lines(all_tags)} </relation>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="rfhound test">\n'
            + "\n".join(nodes + ways + rels) + "\n</osm>\n")


def square_m(cx, cy, half):
    return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half),
            (cx - half, cy + half)]


def grid_city(n, pitch_m=25.0, half_m=9.0):
    """``n`` square buildings on a grid of blocks, each with an address and a floor count."""
    side = math.ceil(math.sqrt(n))
    out = []
    for k in range(n):
        i, j = divmod(k, side)
        cx, cy = (j - side / 2) * pitch_m, (i - side / 2) * pitch_m
        out.append((1000 + k, square_m(cx, cy, half_m),
                    {"building": "yes", "addr:street": f"Street {i}",
                     "addr:housenumber": str(j + 1), "building:levels": str(1 + k % 6)}))
    return out


# ---------------------------------------------------------------- tiles (Web Mercator)
def tile_xy(lat_deg, lon_deg, zoom):
    """XYZ tile column and row (Google/OSM numbering, row 0 at the north) of a point."""
    n = 2 ** zoom
    x = (lon_deg + 180.0) / 360.0 * n
    lat = math.radians(lat_deg)
    y = (1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n
    return x, y


def png_tile(rgb, size=256):
    """A PNG tile (bytes) of one colour ``rgb`` with a 2-pixel black border."""
    from PyQt5.QtCore import QBuffer, QIODevice
    from PyQt5.QtGui import QColor, QImage

    image = QImage(size, size, QImage.Format_RGB32)
    image.fill(QColor(0, 0, 0))
    inner = QImage(size - 4, size - 4, QImage.Format_RGB32)
    inner.fill(QColor(*rgb))
    from PyQt5.QtGui import QPainter

    painter = QPainter(image)
    painter.drawImage(2, 2, inner)
    painter.end()
    buf = QBuffer()
    buf.open(QIODevice.WriteOnly)
    image.save(buf, "PNG")
    return bytes(buf.data())


#: The two colours of the test tiles' checkerboard (even and odd column + row).
TILE_COLOURS = ((250, 200, 120), (120, 200, 250))


def checker_tiles(lat_deg, lon_deg, zoom, radius_tiles=2):
    """PNG tiles around a point: ``{(col, row): bytes}``, coloured by (col + row) parity."""
    from PyQt5.QtWidgets import QApplication

    QApplication.instance() or QApplication([])
    tx, ty = (int(v) for v in tile_xy(lat_deg, lon_deg, zoom))
    colours = [png_tile(c) for c in TILE_COLOURS]
    return {(c, r): colours[(c + r) % 2]
            for c in range(tx - radius_tiles, tx + radius_tiles + 1)
            for r in range(ty - radius_tiles, ty + radius_tiles + 1)}


def write_mbtiles(path, tiles, zoom, fmt="png"):
    """Write an MBTiles 1.3 file: ``tiles`` maps XYZ ``(col, row)`` to image bytes;
    stored with the TMS row (``2**zoom - 1 - row``) as the spec says."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name text, value text)")
    db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, "
               "tile_data blob)")
    db.executemany("INSERT INTO metadata VALUES (?, ?)",
                   [("name", "test city"), ("format", fmt), ("minzoom", str(zoom)),
                    ("maxzoom", str(zoom)), ("type", "baselayer"), ("version", "1")])
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                   [(zoom, col, 2 ** zoom - 1 - row, data) for (col, row), data in tiles.items()])
    db.commit()
    db.close()
