"""Plane geometry of a world: building footprints and the street network.

Coordinates are local east/north metres (``x_m``, ``y_m``).  Footprints are
simple polygons given as ``(N, 2)`` vertex arrays; streets are an undirected
graph whose edges are straight segments the officer walks along.
"""

import heapq
import math

import numpy as np


def polygon_contains(poly_m, x_m, y_m):
    """True where the point lies inside the polygon (even-odd rule).

    ``x_m`` and ``y_m`` broadcast; the result has their shape.
    """
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    inside = np.zeros(np.broadcast(x, y).shape, dtype=bool)
    xs, ys = poly_m[:, 0], poly_m[:, 1]
    xe, ye = np.roll(xs, -1), np.roll(ys, -1)
    for x0, y0, x1, y1 in zip(xs, ys, xe, ye):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_cross)
    return inside


def polygon_area_m2(poly_m):
    """Unsigned area of a simple polygon (shoelace formula)."""
    x, y = poly_m[:, 0], poly_m[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def distance_to_polygon_m(poly_m, x_m, y_m):
    """Distance from a point to the polygon's boundary, 0 when inside."""
    if polygon_contains(poly_m, x_m, y_m):
        return 0.0
    return min(_point_segment_distance_m(x_m, y_m, a, b)
               for a, b in zip(poly_m, np.roll(poly_m, -1, axis=0)))


def _point_segment_distance_m(x_m, y_m, a, b):
    p = np.array([x_m, y_m], dtype=float)
    ab = b - a
    t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
    return float(np.hypot(*(a + t * ab - p)))


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
