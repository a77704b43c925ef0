"""Building footprints from a GeoJSON file, for ``rfhound locate --footprints``.

Accepted: a FeatureCollection, a single Feature, or a bare Polygon or
MultiPolygon geometry.  Every Polygon, and every polygon of a MultiPolygon,
gives one footprint: its outer ring (holes are ignored: a courtyard counts as
part of its building).  Features with other geometries, or none, are skipped.

A building's name is the feature's ``properties.id``, else ``properties.name``,
else the feature's own ``id`` (RFC 7946 section 3.2), else ``B<index>`` with
the feature's index in the file.  The polygons of one MultiPolygon, and
features that share a name, are one building.

Coordinates are ``[lon, lat]`` degrees (RFC 7946) for readings in WGS84, and
local ``[x_m, y_m]`` metres (a non-standard use of GeoJSON) for readings in
local metres; the caller says which.  The reader checks every vertex and
raises `host.errors.UserError` naming the file and the feature.
"""

import json
import math
from typing import NamedTuple

import numpy as np

from dsp.footprints import area_m2
from host import jsonfile
from host.errors import UserError

POLYGON_TYPES = ("Polygon", "MultiPolygon")
#: No building is smaller; a local-metres ring below it is most likely in [lon, lat] degrees.
MIN_AREA_M2 = 1.0


class Footprints(NamedTuple):
    """One entry per polygon: the building's name and its outer ring, shape (N, 2), in the
    file's coordinates (``[lon, lat]`` or ``[x_m, y_m]``), closing vertex dropped."""

    names: list
    rings: list


def read_footprints(path, *, wgs84):
    """Read and validate the footprints of a GeoJSON file.

    Parameters
    ----------
    path : str or path-like
    wgs84 : bool
        True: coordinates are ``[lon, lat]`` degrees; False: local ``[x_m, y_m]`` metres.

    Returns
    -------
    Footprints
    """
    doc = jsonfile.load(path, what="the footprint file", expect=None)
    names, rings = [], []
    for index, feature in enumerate(_features(path, doc)):
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in POLYGON_TYPES:
            continue
        name = _name(feature, index)
        where = f"{path}: feature {index} ({name})"
        polygons = geometry.get("coordinates")
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        if not isinstance(polygons, list) or not polygons:
            raise UserError(f"{where}: {geometry['type']} has no coordinates")
        for polygon in polygons:
            if not isinstance(polygon, list) or not polygon:
                raise UserError(f"{where}: a polygon's coordinates must be a list of rings "
                                f"(outer ring first)")
            rings.append(_outer_ring(where, polygon[0], wgs84))
            names.append(name)
    if not rings:
        raise UserError(f"{path}: no Polygon or MultiPolygon footprints in it")
    return Footprints(names, rings)


def _features(path, doc):
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise UserError(f"{path}: FeatureCollection without a 'features' list")
        return [f if isinstance(f, dict) else {} for f in features]
    if kind == "Feature":
        return [doc]
    if kind in POLYGON_TYPES:
        return [{"type": "Feature", "geometry": doc}]
    raise UserError(f"{path}: not GeoJSON footprints; expected a FeatureCollection, Feature, "
                    f"Polygon or MultiPolygon object")


def _name(feature, index):
    props = feature.get("properties")
    props = props if isinstance(props, dict) else {}
    for value in (props.get("id"), props.get("name"), feature.get("id")):
        if value is not None and str(value).strip():
            return str(value).strip()
    return f"B{index}"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _outer_ring(where, ring, wgs84):
    if not isinstance(ring, list):
        raise UserError(f"{where}: the outer ring must be a list of vertices")
    unit = "[lon, lat] in degrees" if wgs84 else "[x_m, y_m] in metres"
    for k, vertex in enumerate(ring):
        if not (isinstance(vertex, list) and len(vertex) >= 2 and all(map(_is_number, vertex[:2]))):
            raise UserError(f"{where}: vertex {k} is {json.dumps(vertex)}, not a pair of "
                            f"numbers {unit}")
        if wgs84 and not (-180.0 <= vertex[0] <= 180.0 and -90.0 <= vertex[1] <= 90.0):
            raise UserError(f"{where}: vertex {k} {json.dumps(vertex)} is not [lon, lat] in "
                            f"degrees; with lat_deg/lon_deg readings the footprints must be "
                            f"WGS84 (RFC 7946)")
    xy = np.array([v[:2] for v in ring], dtype=float).reshape(-1, 2)
    if len(xy) > 1 and np.array_equal(xy[0], xy[-1]):
        xy = xy[:-1]  # GeoJSON closes a ring by repeating its first vertex
    if len(xy) < 3:
        raise UserError(f"{where}: outer ring has {len(xy)} distinct vertices; "
                        f"a footprint needs at least 3")
    # In degrees for WGS84: only the sign of the area is used then.
    area = area_m2(xy)
    if area <= 0.0:
        raise UserError(f"{where}: outer ring has no area (its vertices lie on one line)")
    if not wgs84 and area < MIN_AREA_M2:
        raise UserError(f"{where}: outer ring covers only {area:.2g} m2; with x_m/y_m readings "
                        f"the footprints must be local [x_m, y_m] metres, not [lon, lat] degrees")
    return xy
