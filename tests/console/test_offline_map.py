"""Offline background: an image with a world file lands where its corners say."""

import numpy as np
import pymap3d
import pytest

from host.app import offline_map
from host.app.geo import LocalFrame

LAT0, LON0 = 48.0, 11.0


def write_map(tmp_path, a, e, c, f, ext="png", cols=200, rows=100):
    from PyQt5.QtGui import QColor, QImage

    img = QImage(cols, rows, QImage.Format_RGB32)
    img.fill(QColor(200, 220, 240))
    path = tmp_path / f"town.{ext}"
    assert img.save(str(path))
    (tmp_path / f"town.{ext[0]}{ext[-1]}w").write_text(f"{a}\n0\n0\n{e}\n{c}\n{f}\n")
    return path


def test_degrees_world_file_maps_corners_into_the_local_frame(qapp, tmp_path):
    # 1e-5 deg pixels; pixel (0, 0) centred at LON0 + 0.5e-5, LAT0 - 0.5e-5
    path = write_map(tmp_path, 1e-5, -1e-5, LON0 + 0.5e-5, LAT0 - 0.5e-5)
    rgba, corners = offline_map.read_georeferenced(path)
    assert rgba.shape == (100, 200, 4)
    frame = LocalFrame(LAT0, LON0)
    a, b, c, d, e, f = offline_map.affine_to_local(corners, rgba.shape, frame)
    # the top-left pixel corner is the frame origin; the image is 200e-5 deg of longitude wide
    assert (c, f) == pytest.approx((0.0, 0.0), abs=1e-6)
    east, _, _ = pymap3d.geodetic2enu(LAT0, LON0 + 200e-5, 0, LAT0, LON0, 0)
    north, _ = frame.to_xy(LAT0 - 100e-5, LON0)[::-1]
    assert 200 * a == pytest.approx(east, rel=1e-4)
    assert 100 * e == pytest.approx(north, rel=1e-4)
    assert abs(b) < 1e-6 * abs(e) + 1e-3 and abs(d) < 1e-3


def test_web_mercator_world_file(qapp, tmp_path):
    x0 = np.radians(LON0) * 6378137.0
    y0 = np.log(np.tan(np.pi / 4 + np.radians(LAT0) / 2)) * 6378137.0
    path = write_map(tmp_path, 1.0, -1.0, x0 + 0.5, y0 - 0.5, ext="jpg")
    _, corners = offline_map.read_georeferenced(path)
    lon, lat = corners[(0, 0)]
    assert (lat, lon) == pytest.approx((LAT0, LON0), abs=1e-9)


def test_missing_world_file_is_one_clear_line(window, tmp_path):
    from PyQt5.QtGui import QImage

    path = tmp_path / "plain.png"
    QImage(10, 10, QImage.Format_RGB32).save(str(path))
    assert not window.load_background(str(path))
    assert "no world file beside the image" in window.message.text()
