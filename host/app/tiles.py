"""Offline raster tiles under the map: an MBTiles file or an XYZ tile folder.

MBTiles 1.3 is a SQLite file with a ``tiles(zoom_level, tile_column, tile_row,
tile_data)`` table, rows numbered TMS-style (row 0 at the south), and a
``metadata(name, value)`` table (``format``, ``minzoom``, ``maxzoom``, ...).
It is read with the standard library's sqlite3, read-only: the PyPI readers
(pymbtiles, mbutil) have had no release since 2019 and add nothing to one
SELECT.  An XYZ folder holds ``{z}/{x}/{y}.png`` (or ``.jpg``/``.jpeg``/``.webp``),
rows numbered from the north, as tile caches and ``gdal2tiles --xyz`` write them
(a ``tilemapresource.xml`` beside them, as plain ``gdal2tiles`` writes, means TMS rows).

`TileLayer.render` picks the zoom whose pixels match the view's, reads the tiles
under the view (decoded tiles kept in a small cache) and returns one mosaic with
the affine that places it in the console's east/north frame.  Tiles are Web
Mercator (EPSG:3857); over the few kilometres of a hunt the map from Mercator
pixels to local metres is affine to well under a pixel.
"""

import math
import os
import sqlite3
from collections import OrderedDict
from pathlib import Path

import numpy as np

from host.app.offline_map import MapError, affine_to_local

#: Web Mercator ground resolution at the equator, zoom 0, 256-pixel tiles (m/pixel).
EQUATOR_M_PER_PX = 2.0 * math.pi * 6378137.0 / 256.0
#: Most tiles one mosaic may hold (the view's pixels need about 12-20).
MAX_TILES = 64
#: Decoded tiles kept between renders (a pan reuses most of them).
CACHE_TILES = 256
TILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def is_tile_source(path):
    """Whether ``path`` names tiles (an ``.mbtiles`` file or a folder) rather than an image."""
    return str(path).lower().endswith(".mbtiles") or os.path.isdir(path)


def open_tiles(path):
    """Open an MBTiles file or an XYZ tile folder; raise MapError saying what is wrong."""
    if os.path.isdir(path):
        return XyzFolder(path)
    return MBTiles(path)


class MBTiles:
    """Tiles of an MBTiles file, read-only."""

    def __init__(self, path):
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise MapError(f"{path}: no such MBTiles file")
        try:
            self._db = sqlite3.connect(f"file:{Path(self.path).resolve()}?mode=ro", uri=True,
                                       check_same_thread=False)
            meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            zooms = self._db.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        except sqlite3.DatabaseError as exc:
            raise MapError(f"{path}: not an MBTiles file ({exc}); it needs the metadata and "
                           f"tiles tables of the MBTiles spec") from None
        fmt = str(meta.get("format", "png")).lower()
        if fmt in ("pbf", "mvt"):
            raise MapError(f"{path}: holds vector tiles ({fmt}); the console draws raster "
                           f"tiles (png, jpg, webp): export a raster MBTiles")
        if zooms[0] is None:
            raise MapError(f"{path}: the MBTiles file holds no tiles")
        self.min_zoom, self.max_zoom = int(zooms[0]), int(zooms[1])
        self.name = str(meta.get("name") or Path(self.path).name)
        self.attribution = str(meta.get("attribution") or "")

    def tile(self, z, x, y):
        """Image bytes of XYZ tile ``(z, x, y)`` (row 0 at the north), or None."""
        row = self._db.execute("SELECT tile_data FROM tiles WHERE zoom_level=? AND "
                               "tile_column=? AND tile_row=?",
                               (z, x, (1 << z) - 1 - y)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self):
        self._db.close()


class XyzFolder:
    """Tiles of a ``{z}/{x}/{y}.<ext>`` folder."""

    def __init__(self, path):
        self.path = Path(path)
        zooms = sorted(int(p.name) for p in self.path.iterdir() if p.is_dir() and p.name.isdigit())
        if not zooms:
            raise MapError(f"{path}: not a tile folder; it needs {{z}}/{{x}}/{{y}}.png "
                           f"sub-folders (zoom numbers at the top)")
        self.min_zoom, self.max_zoom = zooms[0], zooms[-1]
        self.name = self.path.name
        self.attribution = ""
        # gdal2tiles without --xyz writes TMS rows (0 at the south) and says so in this file
        self.tms = (self.path / "tilemapresource.xml").is_file()

    def tile(self, z, x, y):
        if self.tms:
            y = (1 << z) - 1 - y
        for suffix in TILE_SUFFIXES:
            p = self.path / str(z) / str(x) / f"{y}{suffix}"
            if p.is_file():
                return p.read_bytes()
        return None

    def close(self):
        pass


def lonlat_of(tx, ty, z):
    """``(lon, lat)`` degrees of the fractional XYZ tile coordinate ``(tx, ty)``."""
    n = float(1 << z)
    lon = tx / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * ty / n))))
    return lon, lat


def tile_of(lat_deg, lon_deg, z):
    """Fractional XYZ tile coordinate ``(tx, ty)`` of a point."""
    n = float(1 << z)
    lat = math.radians(max(min(lat_deg, 85.05112878), -85.05112878))
    return (lon_deg + 180.0) / 360.0 * n, (1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n


def zoom_for(m_per_px, lat_deg, min_zoom, max_zoom):
    """The zoom whose ground resolution is closest (in octaves) to ``m_per_px``."""
    z = math.log2(EQUATOR_M_PER_PX * math.cos(math.radians(lat_deg)) / max(m_per_px, 1e-3))
    return int(min(max(round(z), min_zoom), max_zoom))


class TileLayer:
    """Renders a tile source into one image in a local east/north frame.

    Parameters
    ----------
    source : MBTiles or XyzFolder
    """

    def __init__(self, source):
        self.source = source
        self._cache = OrderedDict()

    def render(self, frame, x0_m, y0_m, x1_m, y1_m, width_px):
        """Mosaic of the tiles under the box ``[x0_m, x1_m] x [y0_m, y1_m]`` for a view
        ``width_px`` pixels wide.

        Returns
        -------
        (rgba, affine) or None
            ``rgba`` (rows, cols, 4) uint8; ``affine`` (a, b, c, d, e, f) with
            ``x_m = a col + b row + c``, ``y_m = d col + e row + f`` (pixel corners);
            None when no tile of the source lies under the box.
        """
        lats, lons = frame.to_latlon(np.array([x0_m, x1_m, x1_m, x0_m]),
                                     np.array([y0_m, y0_m, y1_m, y1_m]))
        lat_mid = float(np.mean(lats))
        z = zoom_for((x1_m - x0_m) / max(width_px, 1), lat_mid, self.source.min_zoom,
                     self.source.max_zoom)
        while True:
            txs, tys = zip(*(tile_of(la, lo, z) for la, lo in zip(lats, lons)))
            n = 1 << z
            cx0, cx1 = max(int(min(txs)), 0), min(int(max(txs)), n - 1)
            cy0, cy1 = max(int(min(tys)), 0), min(int(max(tys)), n - 1)
            count = (cx1 - cx0 + 1) * (cy1 - cy0 + 1)
            if count <= MAX_TILES or z <= self.source.min_zoom:
                break
            z -= 1
        if count > 4 * MAX_TILES:
            return None
        size = None
        pieces = {}
        for tx in range(cx0, cx1 + 1):
            for ty in range(cy0, cy1 + 1):
                image = self._tile(z, tx, ty)
                if image is not None:
                    pieces[(tx, ty)] = image
                    size = size or image.shape[0]
        if not pieces:
            return None
        cols, rows = (cx1 - cx0 + 1) * size, (cy1 - cy0 + 1) * size
        mosaic = np.zeros((rows, cols, 4), dtype=np.uint8)
        for (tx, ty), image in pieces.items():
            r, c = (ty - cy0) * size, (tx - cx0) * size
            mosaic[r:r + size, c:c + size] = image[:size, :size]
        corners = {(0, 0): lonlat_of(cx0, cy0, z), (cols, 0): lonlat_of(cx1 + 1, cy0, z),
                   (0, rows): lonlat_of(cx0, cy1 + 1, z)}
        return mosaic, affine_to_local(corners, mosaic.shape, frame)

    def _tile(self, z, x, y):
        key = (z, x, y)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = self.source.tile(z, x, y)
        image = None if data is None else decode(data)
        self._cache[key] = image
        if len(self._cache) > CACHE_TILES:
            self._cache.popitem(last=False)
        return image


def decode(data):
    """RGBA uint8 array of a PNG/JPEG/WebP tile (Qt's image readers); None if unreadable."""
    from PyQt5.QtGui import QImage

    image = QImage.fromData(data)
    if image.isNull() or image.width() != image.height():
        return None
    image = image.convertToFormat(QImage.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    w = image.width()
    return np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)[:, :w].copy()
