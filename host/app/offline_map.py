"""Offline map background: an image georeferenced by its world file.

A world file (``.pgw``, ``.jgw``, ``.tfw``, ``.wld`` or ``<ext>w`` beside the
image) holds six numbers A, D, B, E, C, F mapping the centre of pixel
(col, row) to map coordinates ``X = A col + B row + C``, ``Y = D col + E row + F``.
Map coordinates in degrees are taken as WGS84 lon/lat; larger values as Web
Mercator metres (EPSG:3857, what tile exports use).  The console draws the
image in its local east/north frame through the affine fitted to three corners.
"""

import math
from pathlib import Path

import numpy as np

#: WGS84 semi-major axis, the sphere radius of Web Mercator (EPSG:3857).
_R_M = 6378137.0


class MapError(Exception):
    """An offline map that cannot be used; the message is one line for the operator."""


def world_file_for(image_path):
    """Return the world file beside ``image_path`` or raise MapError naming the names tried."""
    p = Path(image_path)
    ext = p.suffix.lstrip(".")
    names = [p.with_suffix("." + ext[0] + ext[-1] + "w"), p.with_suffix("." + ext + "w"),
             p.with_suffix(".wld")] if ext else [p.with_suffix(".wld")]
    for name in names:
        if name.exists():
            return name
    raise MapError(f"{p}: no world file beside the image (tried "
                   f"{', '.join(n.name for n in names)}); save the map with its world file")


def read_world_file(path):
    """Return (A, D, B, E, C, F) of a world file."""
    try:
        values = [float(line) for line in Path(path).read_text().split()]
    except (OSError, ValueError) as exc:
        raise MapError(f"{path}: not a world file ({exc}); it must hold six numbers") from None
    if len(values) != 6:
        raise MapError(f"{path}: a world file holds six numbers, this one {len(values)}")
    return tuple(values)


def _to_lonlat(x, y):
    if abs(x) <= 180.0 and abs(y) <= 90.0:
        return x, y
    lon = math.degrees(x / _R_M)
    lat = math.degrees(2.0 * math.atan(math.exp(y / _R_M)) - math.pi / 2.0)
    return lon, lat


def read_georeferenced(image_path):
    """Load an image and its world file.

    Returns
    -------
    rgba : ndarray, shape (rows, cols, 4), uint8
    corners_lonlat : dict
        lon/lat of the pixel-corner points ``(0, 0)``, ``(cols, 0)`` and ``(0, rows)``.
    """
    from PyQt5.QtGui import QImage

    a, d, b, e, c, f = read_world_file(world_file_for(image_path))
    image = QImage(str(image_path))
    if image.isNull():
        raise MapError(f"{image_path}: cannot read the image; use PNG, JPEG or TIFF")
    image = image.convertToFormat(QImage.Format_RGBA8888)
    rows, cols = image.height(), image.width()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rgba = np.frombuffer(ptr, np.uint8).reshape(rows, image.bytesPerLine() // 4, 4)[:, :cols].copy()
    corners = {}
    for col, row in ((0, 0), (cols, 0), (0, rows)):
        # the world file addresses pixel centres; corners are half a pixel out
        x = a * (col - 0.5) + b * (row - 0.5) + c
        y = d * (col - 0.5) + e * (row - 0.5) + f
        corners[(col, row)] = _to_lonlat(x, y)
    return rgba, corners


def affine_to_local(corners_lonlat, shape, frame):
    """Return (a, b, c, d, e, f): ``x_m = a col + b row + c``, ``y_m = d col + e row + f``."""
    rows, cols = shape[:2]
    (x0, y0), (x1, y1), (x2, y2) = (frame.to_xy(lat, lon) for lon, lat in
                                    (corners_lonlat[(0, 0)], corners_lonlat[(cols, 0)],
                                     corners_lonlat[(0, rows)]))
    return ((x1 - x0) / cols, (x2 - x0) / rows, x0, (y1 - y0) / cols, (y2 - y0) / rows, y0)
