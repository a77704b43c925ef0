"""Building footprints from a GeoJSON file or an OpenStreetMap extract.

Used by ``rfhound locate --footprints`` and by the console (``--buildings``,
*Load buildings...*).  `read_footprints` gives names and rings; `read_buildings`
gives a `Buildings` set that also carries each building's floor count and, once
moved into local metres, a spatial index (`Buildings.near`).

OpenStreetMap (``.osm``, ``.osm.pbf``, ``.osm.bz2``, ``.osm.gz``) is read with
pyosmium: every way or multipolygon relation tagged ``building`` is one
building, its outer rings its footprints.

Accepted: a FeatureCollection, a single Feature, or a bare Polygon or
MultiPolygon geometry.  Every Polygon, and every polygon of a MultiPolygon,
gives one footprint: its outer ring (holes are ignored: a courtyard counts as
part of its building).  Features with other geometries, or none, are skipped.

A building's name is the feature's ``properties.id``, else its address
(``addr:street`` and ``addr:housenumber``, as OpenStreetMap exports carry
them), else ``properties.name``, else the feature's own ``id`` (RFC 7946
section 3.2), else ``B<index>`` with the feature's index in the file.
OpenStreetMap buildings are named alike: address, else ``name``, else the
OSM id (``way/1005``, ``relation/7``).  ``building:levels`` is the floor count.  The polygons of one MultiPolygon, and
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


#: File name endings read as OpenStreetMap extracts (pyosmium); anything else is GeoJSON.
OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".o5m")


def is_osm(path):
    """Whether ``path`` names an OpenStreetMap extract (by its ending)."""
    return str(path).lower().endswith(OSM_SUFFIXES)


def read_footprints(path, *, wgs84):
    """Read and validate the footprints of a GeoJSON file or an OpenStreetMap extract.

    Parameters
    ----------
    path : str or path-like
    wgs84 : bool
        True: coordinates are ``[lon, lat]`` degrees; False: local ``[x_m, y_m]`` metres
        (GeoJSON only: OpenStreetMap is always in degrees).

    Returns
    -------
    Footprints
    """
    if is_osm(path):
        if not wgs84:
            raise UserError(f"{path}: an OpenStreetMap extract is in [lon, lat] degrees; "
                            f"it needs readings with lat_deg/lon_deg, not x_m/y_m")
        b = read_osm(path)
        return Footprints(b.names, b.rings)
    names, rings, _levels = _read_geojson(path, wgs84)
    return Footprints(names, rings)


def read_buildings(path, *, wgs84=True):
    """Read a footprint file (GeoJSON or OpenStreetMap) as a `Buildings` set."""
    if is_osm(path):
        return read_osm(path) if wgs84 else read_footprints(path, wgs84=False)
    names, rings, levels = _read_geojson(path, wgs84)
    return Buildings(names, rings, levels, wgs84=wgs84)


def _read_geojson(path, wgs84):
    doc = jsonfile.load(path, what="the footprint file", expect=None)
    names, rings, levels = [], [], []
    for index, feature in enumerate(_features(path, doc)):
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in POLYGON_TYPES:
            continue
        name = _name(feature, index)
        floors = _levels(_tags(feature).get("building:levels"))
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
            levels.append(floors)
    if not rings:
        raise UserError(f"{path}: no Polygon or MultiPolygon footprints in it")
    return names, rings, levels


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


def _tags(feature):
    """The feature's properties, with an osmtogeojson ``tags`` dict merged in."""
    props = feature.get("properties")
    props = dict(props) if isinstance(props, dict) else {}
    if isinstance(props.get("tags"), dict):
        props = {**props.pop("tags"), **props}
    return props


def _name(feature, index):
    props = _tags(feature)
    for value in (props.get("id"), address(props), props.get("name"), feature.get("id"),
                  props.get("@id")):
        if value is not None and str(value).strip():
            return str(value).strip()
    return f"B{index}"


def address(tags):
    """``"Torstrasse 12"`` from ``addr:street`` and ``addr:housenumber``; None without both
    (``addr:place`` stands in for the street where a place has no streets)."""
    street = tags.get("addr:street") or tags.get("addr:place")
    number = tags.get("addr:housenumber")
    if street and number and str(street).strip() and str(number).strip():
        return f"{str(street).strip()} {str(number).strip()}"
    return None


def _levels(value):
    """``building:levels`` as a whole floor count >= 1, or None (absent or not a number)."""
    try:
        levels = float(str(value).strip().replace(",", "."))
    except (TypeError, ValueError):
        return None
    return int(round(levels)) if math.isfinite(levels) and 1 <= levels <= 300 else None


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


class Buildings:
    """Building footprints with names and floor counts, one entry per outer ring.

    Parameters
    ----------
    names, rings, levels : list
        Per ring: the building's name, its outer ring (``(N, 2)``, closing vertex
        dropped) and its floor count (``building:levels``) or None.
    wgs84 : bool
        True: rings are ``[lon, lat]`` degrees; False: local east/north metres.
    skipped : int
        Buildings of the source left out: no footprint with an area (broken or
        unclosed rings, nodes missing from an extract: real map data has them).
    """

    def __init__(self, names, rings, levels=None, *, wgs84, skipped=0):
        self.names = list(names)
        self.rings = list(rings)
        self.levels = list(levels) if levels is not None else [None] * len(self.rings)
        self.wgs84 = bool(wgs84)
        self.skipped = int(skipped)
        self._tree = None

    def __len__(self):
        return len(self.rings)

    def to_local(self, frame):
        """The same buildings in east/north metres of ``frame`` (a `host.app.geo.LocalFrame`)."""
        if not self.wgs84:
            return self
        if not self.rings:
            return Buildings([], [], [], wgs84=False, skipped=self.skipped)
        lonlat = np.concatenate(self.rings)
        e, n = _enu(frame, lonlat[:, 1], lonlat[:, 0])
        ends = np.cumsum([len(r) for r in self.rings])[:-1]
        xy = np.column_stack([e, n])
        return Buildings(self.names, np.split(xy, ends), self.levels, wgs84=False,
                         skipped=self.skipped)

    def near(self, x0, y0, x1, y1):
        """Indices (sorted) of the footprints whose bounding box meets the box
        ``[x0, x1] x [y0, y1]``; a Sort-Tile-Recursive tree answers without a scan."""
        import shapely

        if not self.rings:
            return np.empty(0, dtype=int)
        if self._tree is None:
            lo = np.array([r.min(axis=0) for r in self.rings])
            hi = np.array([r.max(axis=0) for r in self.rings])
            self._tree = shapely.STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]))
        return np.sort(self._tree.query(shapely.box(x0, y0, x1, y1)))


def _enu(frame, lat_deg, lon_deg):
    import pymap3d

    e, n, _ = pymap3d.geodetic2enu(lat_deg, lon_deg, frame.alt0_m, frame.lat0_deg,
                                   frame.lon0_deg, frame.alt0_m)
    return np.asarray(e, dtype=float), np.asarray(n, dtype=float)


def osm_name(tags, kind, osm_id):
    """A building's name from its OSM tags: address, else ``name``, else ``way/<id>``."""
    name = tags.get("name")
    return address(tags) or (name.strip() if name and name.strip() else f"{kind}/{osm_id}")


def read_osm(path):
    """Read the buildings (ways and multipolygon relations tagged ``building``) of an
    OpenStreetMap extract with pyosmium; returns `Buildings` in ``[lon, lat]`` degrees.

    A footprint whose ring is broken (too few nodes, no area, nodes missing from
    the extract) is left out and counted in ``skipped``; an unreadable file or
    one without buildings raises `host.errors.UserError`.
    """
    import os

    import osmium

    if not os.path.isfile(path):
        raise UserError(f"{path}: no such OpenStreetMap file")
    names, rings, levels = [], [], []
    skipped = 0
    tagged = set()  # building ways and relations: those that make no area are broken
    try:
        processor = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY
                                          | osmium.osm.RELATION)
                     .with_areas(osmium.filter.KeyFilter("building"))
                     .with_filter(osmium.filter.KeyFilter("building")))
        for obj in processor:
            if obj.tags.get("building") == "no":
                continue
            if not obj.is_area():
                if obj.is_way() or obj.tags.get("type") == "multipolygon":
                    tagged.add(("way" if obj.is_way() else "relation", obj.id))
                continue
            tags = {t.k: t.v for t in obj.tags}
            kind = "way" if obj.from_way() else "relation"
            tagged.discard((kind, obj.orig_id()))
            name = osm_name(tags, kind, obj.orig_id())
            floors = _levels(tags.get("building:levels"))
            try:
                outers = [np.array([(n.lon, n.lat) for n in ring], dtype=float)
                          for ring in obj.outer_rings()]
            except osmium.InvalidLocationError:
                skipped += 1
                continue
            n_before = len(rings)
            for xy in outers:
                if len(xy) > 1 and np.array_equal(xy[0], xy[-1]):
                    xy = xy[:-1]
                if len(xy) >= 3 and area_m2(xy) > 0.0:
                    names.append(name)
                    rings.append(xy)
                    levels.append(floors)
            skipped += len(rings) == n_before
        skipped += len(tagged)
    except RuntimeError as exc:  # libosmium's parse and I/O errors
        raise UserError(f"{path}: not a readable OpenStreetMap extract ({exc}); export it "
                        f"as .osm XML or .osm.pbf") from None
    if not rings:
        raise UserError(f"{path}: no buildings in it (no ways or relations tagged building)")
    return Buildings(names, rings, levels, wgs84=True, skipped=skipped)
