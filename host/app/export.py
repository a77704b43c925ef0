"""Hunt exports: KML (Google Earth), GeoJSON and the measurement CSV.

Plain functions over a ``HuntModel``; positions go back from the local
east/north frame to WGS84.  IMSIs appear masked only.
"""

import json
from xml.sax.saxutils import escape

import numpy as np


class ExportError(Exception):
    """An export that cannot be written; the message is one line for the operator."""


def _targets_with_data(hunt):
    targets = [t for t in sorted(hunt.targets.values(), key=lambda t: t.index) if len(t.meas)]
    if not targets or hunt.frame is None:
        raise ExportError("nothing to export yet: no measurement has arrived")
    return targets


def _lonlat(frame, x_m, y_m):
    lat, lon = frame.to_latlon(np.asarray(x_m, float), np.asarray(y_m, float))
    return np.column_stack([np.atleast_1d(lon), np.atleast_1d(lat)])


def _estimate_props(t):
    props = {"target": t.index, "label": t.label, "imsi_masked": t.imsi_masked,
             "channel": t.channel, "group": t.group, "n_meas": len(t.meas)}
    est = t.estimate
    if est is not None:
        major, minor = est.semi_axes_m()
        props.update(cep50_m=round(est.cep50_m, 2), ellipse95_semi_major_m=round(major, 2),
                     ellipse95_semi_minor_m=round(minor, 2), n_used=est.n_used, floor=est.floor)
    return props


def geojson_dict(hunt):
    """Return the hunt as a GeoJSON FeatureCollection dict (RFC 7946, lon/lat order)."""
    features = []
    for t in _targets_with_data(hunt):
        props = _estimate_props(t)
        track = _lonlat(hunt.frame, t.meas["x_m"], t.meas["y_m"])
        features.append({"type": "Feature", "properties": dict(props, kind="track"),
                         "geometry": {"type": "LineString", "coordinates": track.tolist()}})
        if t.estimate is not None:
            est = t.estimate
            point = _lonlat(hunt.frame, [est.x_m], [est.y_m])[0]
            ring = _lonlat(hunt.frame, *est.ellipse_xy())
            features.append({"type": "Feature", "properties": dict(props, kind="estimate"),
                             "geometry": {"type": "Point", "coordinates": point.tolist()}})
            features.append({"type": "Feature", "properties": dict(props, kind="ellipse95"),
                             "geometry": {"type": "Polygon", "coordinates": [ring.tolist()]}})
    if hunt.marks.n:
        for lon, lat in _lonlat(hunt.frame, hunt.marks["x_m"], hunt.marks["y_m"]):
            features.append({"type": "Feature", "properties": {"kind": "mark"},
                             "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    return {"type": "FeatureCollection", "features": features}


def write_geojson(hunt, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(geojson_dict(hunt), f, indent=1)


def _coords(lonlat):
    return " ".join(f"{lon:.7f},{lat:.7f},0" for lon, lat in lonlat)


def write_kml(hunt, path):
    """Write the hunt as KML 2.2: per target a folder with estimate, 95 % ellipse and track."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>rfhound hunt</name>',
             '<Style id="track"><LineStyle><color>ffc86414</color><width>2</width></LineStyle></Style>',
             '<Style id="ellipse"><LineStyle><color>ff0000e6</color><width>2</width></LineStyle>'
             '<PolyStyle><color>400000e6</color></PolyStyle></Style>']
    for t in _targets_with_data(hunt):
        props = _estimate_props(t)
        desc = escape("; ".join(f"{k}={v}" for k, v in props.items()))
        parts.append(f"<Folder><name>{escape(t.label)}</name>")
        if t.estimate is not None:
            est = t.estimate
            lon, lat = _lonlat(hunt.frame, [est.x_m], [est.y_m])[0]
            parts.append(f"<Placemark><name>{escape(t.label)} estimate</name>"
                         f"<description>{desc}</description>"
                         f"<Point><coordinates>{lon:.7f},{lat:.7f},0</coordinates></Point></Placemark>")
            ring = _lonlat(hunt.frame, *est.ellipse_xy())
            parts.append(f"<Placemark><name>{escape(t.label)} 95 % ellipse</name>"
                         "<styleUrl>#ellipse</styleUrl><Polygon><outerBoundaryIs><LinearRing>"
                         f"<coordinates>{_coords(ring)}</coordinates>"
                         "</LinearRing></outerBoundaryIs></Polygon></Placemark>")
        track = _lonlat(hunt.frame, t.meas["x_m"], t.meas["y_m"])
        parts.append(f"<Placemark><name>{escape(t.label)} track</name><styleUrl>#track</styleUrl>"
                     f"<LineString><coordinates>{_coords(track)}</coordinates></LineString>"
                     "</Placemark></Folder>")
    if hunt.marks.n:
        for i, (lon, lat) in enumerate(_lonlat(hunt.frame, hunt.marks["x_m"], hunt.marks["y_m"])):
            parts.append(f"<Placemark><name>mark {i + 1}</name>"
                         f"<Point><coordinates>{lon:.7f},{lat:.7f},0</coordinates></Point></Placemark>")
    parts.append("</Document></kml>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def measurement_rows(hunt):
    """Measurement CSV rows (dicts, docs/formats.md columns) of every target, in time order."""
    rows = []
    for t in _targets_with_data(hunt):
        m = t.meas
        lonlat = _lonlat(hunt.frame, m["x_m"], m["y_m"])
        for i in range(len(m)):
            rows.append({
                "time_s": round(float(m["time_s"][i]), 3), "target": t.label,
                "rssi_dbm": _opt(m["rssi_dbm"][i]),
                "lat_deg": round(float(lonlat[i, 1]), 7), "lon_deg": round(float(lonlat[i, 0]), 7),
                "alt_m": _opt(m["alt_m"][i]), "floor": _opt_int(m["floor"][i]),
                "heading_deg": _opt(m["heading_deg"][i]),
            })
    rows.sort(key=lambda r: r["time_s"])
    return rows


def write_measurement_csv(hunt, path):
    from host.meascsv import write_measurements

    write_measurements(path, measurement_rows(hunt))


def _opt(v):
    return None if not np.isfinite(v) else float(v)


def _opt_int(v):
    return None if not np.isfinite(v) else int(v)
