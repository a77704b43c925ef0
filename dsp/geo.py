"""Local east/north/up metres <-> WGS84, around an origin near the data (pymap3d)."""

import numpy as np
import pymap3d


def enu_from_lla(lat_deg, lon_deg, alt_m, lat0_deg, lon0_deg, alt0_m=0.0):
    """East, north, up (m) of WGS84 points relative to the origin.

    Examples
    --------
    >>> e, n, u = enu_from_lla(0.0, 0.001, 0.0, 0.0, 0.0)
    >>> round(float(e), 2), round(float(n), 6)
    (111.32, 0.0)
    """
    e, n, u = pymap3d.geodetic2enu(np.asarray(lat_deg, float), np.asarray(lon_deg, float),
                                   np.asarray(alt_m, float), lat0_deg, lon0_deg, alt0_m)
    return np.asarray(e), np.asarray(n), np.asarray(u)


def lla_from_enu(east_m, north_m, up_m, lat0_deg, lon0_deg, alt0_m=0.0):
    """WGS84 latitude, longitude (deg) and altitude (m) of local ENU points."""
    lat, lon, alt = pymap3d.enu2geodetic(np.asarray(east_m, float), np.asarray(north_m, float),
                                         np.asarray(up_m, float), lat0_deg, lon0_deg, alt0_m)
    return np.asarray(lat), np.asarray(lon), np.asarray(alt)


def origin_of(lat_deg, lon_deg):
    """A local origin near the data: the middle of the latitudes' range and the circular
    mean of the longitudes (a walk across longitude 180 is centred on it, not on 0).

    Examples
    --------
    >>> origin_of([52.0, 53.0], [179.9, -179.9])
    (52.5, 180.0)
    """
    lat, lon = np.asarray(lat_deg, float), np.asarray(lon_deg, float)
    rad = np.radians(lon)
    mean_lon = round(float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()))), 9)
    return float(0.5 * (lat.min() + lat.max())), 180.0 if mean_lon == -180.0 else mean_lon
