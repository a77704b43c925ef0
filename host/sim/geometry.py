"""Plane geometry of a world: building footprints and the street network.

Coordinates are local east/north metres (``x_m``, ``y_m``).  Footprints are
simple polygons given as ``(N, 2)`` vertex arrays; streets are an undirected
graph whose edges are straight segments the officer walks along.
"""

import heapq
import math

import numpy as np

# The footprint geometry lives in dsp, which uses it as the locator's building prior.
from dsp.footprints import area_m2 as polygon_area_m2  # noqa: F401
from dsp.footprints import contains as polygon_contains
from dsp.footprints import distance_m as distance_to_polygon_m  # noqa: F401


def segment_crossings(poly_m, p0, p1):
    """Walls crossed and length inside the polygon of the segment ``p0 -> p1``.

    Returns
    -------
    n_walls : int
        Number of polygon edges the open segment crosses.
    inside_m : float
        Length of the segment that lies inside the polygon.
    """
    p0 = np.asarray(p0, dtype=float)
    d = np.asarray(p1, dtype=float) - p0
    a = poly_m
    e = np.roll(poly_m, -1, axis=0) - a
    denom = d[0] * e[:, 1] - d[1] * e[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = ((a[:, 0] - p0[0]) * e[:, 1] - (a[:, 1] - p0[1]) * e[:, 0]) / denom
        u = ((a[:, 0] - p0[0]) * d[1] - (a[:, 1] - p0[1]) * d[0]) / denom
    hit = (np.abs(denom) > 1e-12) & (t > 0) & (t < 1) & (u >= 0) & (u < 1)
    ts = np.sort(np.concatenate(([0.0], t[hit], [1.0])))
    mids = p0 + np.outer(0.5 * (ts[:-1] + ts[1:]), d)
    inside = polygon_contains(poly_m, mids[:, 0], mids[:, 1])
    length = float(np.hypot(*d))
    return int(hit.sum()), float(np.sum(np.diff(ts)[inside]) * length)


class StreetNetwork:
    """Streets as an undirected graph of straight segments, with shortest walks.

    Parameters
    ----------
    nodes_m : dict
        Node id -> ``(x_m, y_m)``.
    edges : list of (str, str)
        Pairs of node ids joined by a straight street.
    """

    def __init__(self, nodes_m, edges):
        self.nodes_m = {k: np.asarray(v, dtype=float) for k, v in nodes_m.items()}
        self.edges = [tuple(e) for e in edges]
        self._adj = {k: [] for k in self.nodes_m}
        for a, b in self.edges:
            w = float(np.hypot(*(self.nodes_m[a] - self.nodes_m[b])))
            self._adj[a].append((b, w))
            self._adj[b].append((a, w))

    def nearest_points(self, xy_m):
        """The nearest point of every street to a point: ``[(distance_m, point, edge index)]``, nearest first."""
        p = np.asarray(xy_m, dtype=float)
        out = []
        for i, (a, b) in enumerate(self.edges):
            pa, pb = self.nodes_m[a], self.nodes_m[b]
            ab = pb - pa
            t = float(np.clip(np.dot(p - pa, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0))
            q = pa + t * ab
            out.append((float(np.hypot(*(q - p))), q, i))
        out.sort(key=lambda r: r[0])
        return out

    def snap(self, xy_m):
        """The nearest point on any street: ``(point, edge index, fraction along it)``."""
        _, q, i = self.nearest_points(xy_m)[0]
        pa, pb = (self.nodes_m[n] for n in self.edges[i])
        ab = pb - pa
        return q, i, float(np.dot(q - pa, ab) / max(np.dot(ab, ab), 1e-12))

    def route(self, start_m, goal_m):
        """Shortest walk along streets between two points, as an ``(N, 2)`` polyline.

        Both ends are first snapped to the nearest street; the polyline starts at
        ``start_m`` and ends at ``goal_m`` themselves, so a walk from a door to
        the street and back is included.
        """
        start_m = np.asarray(start_m, dtype=float)
        goal_m = np.asarray(goal_m, dtype=float)
        s, se, st = self.snap(start_m)
        g, ge, gt = self.snap(goal_m)
        if se == ge:
            middle = [s, g]
        else:
            middle = [s] + [self.nodes_m[n] for n in self._path_nodes(s, se, g, ge)] + [g]
        pts = [start_m] + middle + [goal_m]
        out = [pts[0]]
        for p in pts[1:]:
            if np.hypot(*(p - out[-1])) > 1e-6:
                out.append(p)
        return np.array(out)

    def _path_nodes(self, s, se, g, ge):
        """Dijkstra from the snapped start (on edge ``se``) to the snapped goal."""
        a, b = self.edges[se]
        dist = {a: float(np.hypot(*(s - self.nodes_m[a]))),
                b: float(np.hypot(*(s - self.nodes_m[b])))}
        prev = {a: None, b: None}
        ga, gb = self.edges[ge]
        tail = {ga: float(np.hypot(*(g - self.nodes_m[ga]))),
                gb: float(np.hypot(*(g - self.nodes_m[gb])))}
        heap = [(d, n) for n, d in dist.items()]
        heapq.heapify(heap)
        done = set()
        best_total, best_end = math.inf, None
        while heap:
            d, n = heapq.heappop(heap)
            if n in done:
                continue
            done.add(n)
            if n in tail and d + tail[n] < best_total:
                best_total, best_end = d + tail[n], n
            for m, w in self._adj[n]:
                if d + w < dist.get(m, math.inf):
                    dist[m] = d + w
                    prev[m] = n
                    heapq.heappush(heap, (d + w, m))
        path = []
        n = best_end
        while n is not None:
            path.append(n)
            n = prev[n]
        return path[::-1]


def polyline_length_m(points_m):
    """Total length of an ``(N, 2)`` polyline."""
    return float(np.sum(np.hypot(*np.diff(points_m, axis=0).T)))
