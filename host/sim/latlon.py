"""Geographic coordinates of a simulated hunt's answer.

A world is written in metres east/north of its ``origin`` (lat, lon, alt on
WGS84); the officer on the phone and any map want degrees.  `add_latlon` gives
the truth and the estimate of a result dict ``lat_deg``/``lon_deg`` beside
their ``x_m``/``y_m``, 7 decimals (1 cm).
"""

import pymap3d

#: Decimals of the degrees written: 1e-7 degree is about 1 cm.
DECIMALS = 7


def world_latlon(world, x_m, y_m):
    """``(lat_deg, lon_deg)`` of a point of ``world`` (metres east/north of its origin)."""
    lat, lon, _ = pymap3d.enu2geodetic(x_m, y_m, 0.0, *world.origin)
    return round(float(lat), DECIMALS), round(float(lon), DECIMALS)


def add_latlon(result, world):
    """Add ``lat_deg``/``lon_deg`` to ``result["truth"]`` and ``result["estimate"]``."""
    for key in ("truth", "estimate"):
        point = result.get(key)
        if point and point.get("x_m") is not None and point.get("y_m") is not None:
            point["lat_deg"], point["lon_deg"] = world_latlon(world, point["x_m"], point["y_m"])
    return result
