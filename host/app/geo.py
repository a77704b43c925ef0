"""Local east/north frame for the map: metres about an anchor fix.

The map is drawn in a flat east/north plane (x_m east, y_m north) about the
first fix of the hunt; exports convert back to WGS84.
"""

import pymap3d


class LocalFrame:
    """East/north/up metres about ``(lat0_deg, lon0_deg, alt0_m)`` on WGS84."""

    def __init__(self, lat0_deg, lon0_deg, alt0_m=0.0):
        self.lat0_deg = float(lat0_deg)
        self.lon0_deg = float(lon0_deg)
        self.alt0_m = float(alt0_m)

    @classmethod
    def through(cls, lat_deg, lon_deg, x_m, y_m):
        """The frame in which the fix ``(lat_deg, lon_deg)`` lies at ``(x_m, y_m)``."""
        lat0, lon0, _ = pymap3d.enu2geodetic(-x_m, -y_m, 0.0, lat_deg, lon_deg, 0.0)
        return cls(float(lat0), float(lon0), 0.0)

    def to_xy(self, lat_deg, lon_deg, alt_m=None):
        """Return ``(x_m, y_m)`` east and north of the anchor."""
        e, n, _ = pymap3d.geodetic2enu(lat_deg, lon_deg, self.alt0_m if alt_m is None else alt_m,
                                       self.lat0_deg, self.lon0_deg, self.alt0_m)
        return float(e), float(n)

    def to_latlon(self, x_m, y_m):
        """Return ``(lat_deg, lon_deg)`` of a local point (arrays allowed)."""
        lat, lon, _ = pymap3d.enu2geodetic(x_m, y_m, 0.0, self.lat0_deg, self.lon0_deg, self.alt0_m)
        return lat, lon
