"""Building footprints as prior knowledge: the emitter is inside one of them.

A SIM-box rack stands in a building, never in the street the officer walks.
Given the footprints (from a city map, in the readings' local metres), the
prior over candidate positions is uniform over the footprints and zero
elsewhere; the answer to "which building" is the posterior mass each
footprint holds, and the position is the posterior mean over the block of
touching footprints that holds the most mass (`region_mean`).  Unlike the
grid maximum, that mean is not quantised to cells, and unlike the mean over
the whole map it never falls in the street between two blocks the posterior
is split over.

Footprints are simple polygons given as ``(N, 2)`` vertex arrays (east,
north metres; open or closed rings).
"""

import numpy as np
from scipy import ndimage


def as_polygons(footprints):
    """Validated footprints: a list of ``(N, 2)`` float arrays, N >= 3, finite, non-zero area.

    Raises ``ValueError`` naming the first bad footprint.
    """
    if footprints is None:
        return []
    polys = []
    for i, f in enumerate(footprints):
        try:
            p = np.asarray(f, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"footprint {i}: not an array of (x_m, y_m) vertices") from None
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"footprint {i}: expected (N, 2) vertices (x_m, y_m), got shape {p.shape}")
        if len(p) > 1 and np.array_equal(p[0], p[-1]):
            p = p[:-1]  # a closed ring (GeoJSON repeats the first vertex)
        if len(p) < 3 or not np.all(np.isfinite(p)):
            raise ValueError(f"footprint {i}: needs at least 3 finite vertices")
        if area_m2(p) <= 0.0:
            raise ValueError(f"footprint {i}: has no area (its vertices are on one line)")
        polys.append(p)
    return polys


def contains(poly_m, x_m, y_m):
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


def area_m2(poly_m):
    """Unsigned area of a simple polygon (shoelace formula)."""
    x, y = poly_m[:, 0], poly_m[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def closest_point_in(poly_m, x_m, y_m):
    """The point of the polygon (boundary included) closest to ``(x_m, y_m)``."""
    if contains(poly_m, x_m, y_m):
        return float(x_m), float(y_m)
    p = np.array([x_m, y_m], dtype=float)
    a = poly_m
    ab = np.roll(poly_m, -1, axis=0) - a
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12),
                0.0, 1.0)
    q = a + t[:, None] * ab
    k = int(np.argmin(np.hypot(q[:, 0] - p[0], q[:, 1] - p[1])))
    return float(q[k, 0]), float(q[k, 1])


def distance_m(poly_m, x_m, y_m):
    """Distance from a point to the polygon, 0 when inside."""
    qx, qy = closest_point_in(poly_m, x_m, y_m)
    return float(np.hypot(qx - x_m, qy - y_m))


def cell_owner(polys, cell_x_m, cell_y_m, cell_m):
    """Index of the footprint holding each grid cell's centre, -1 for none.

    A footprint smaller than a cell may hold no centre; it then takes the
    free cell nearest its vertex mean if that lies within a cell of it, so
    that every footprint on the grid can carry posterior mass.  Footprints
    off the grid own nothing.  Where footprints overlap, the later one wins.
    """
    cx, cy = np.asarray(cell_x_m, float), np.asarray(cell_y_m, float)
    owner = np.full(cx.shape, -1, dtype=int)
    if not len(polys) or not cx.size:
        return owner
    # A city map holds thousands of footprints, most off the grid: only the cells within
    # a footprint's bounding box are tested against it (same result, a city in a second).
    lo = np.array([p.min(axis=0) for p in polys])
    hi = np.array([p.max(axis=0) for p in polys])
    on_grid = ((hi[:, 0] >= cx.min() - cell_m) & (lo[:, 0] <= cx.max() + cell_m)
               & (hi[:, 1] >= cy.min() - cell_m) & (lo[:, 1] <= cy.max() + cell_m))
    order = np.argsort(cx, kind="stable")
    sorted_x = cx[order]
    for k in np.flatnonzero(on_grid):
        first = np.searchsorted(sorted_x, lo[k, 0], side="left")
        cand = order[first:np.searchsorted(sorted_x, hi[k, 0], side="right")]
        cand = cand[(cy[cand] >= lo[k, 1]) & (cy[cand] <= hi[k, 1])]
        if len(cand):
            owner[cand[contains(polys[k], cx[cand], cy[cand])]] = k
    held = np.bincount(owner[owner >= 0], minlength=len(polys)) > 0
    for k in np.flatnonzero(on_grid & ~held):
        mx, my = polys[k].mean(axis=0)
        free = np.flatnonzero(owner < 0)
        if len(free):
            d = np.hypot(cx[free] - mx, cy[free] - my)
            if d.min() <= cell_m:
                owner[free[np.argmin(d)]] = k
    return owner


def log_prior(owner):
    """Log-prior per cell: 0 inside a footprint, -inf outside."""
    return np.where(owner >= 0, 0.0, -np.inf)


def building_prob(posterior, owner, n_buildings):
    """Posterior mass of each footprint (sums to 1 over the footprints)."""
    post = np.ravel(posterior)
    mass = np.bincount(owner[owner >= 0], post[owner >= 0], minlength=n_buildings)
    total = mass.sum()
    return mass / total if total > 0 else np.full(n_buildings, 1.0 / max(n_buildings, 1))


def region_mean(polys, posterior, owner, grid_shape, cell_x_m, cell_y_m):
    """Posterior mean over the built-up region holding the most mass.

    A region is a 4-connected patch of footprint cells: a block of
    buildings wall to wall, cut off from the next block by a street at
    least a cell wide.  The mean over the whole map would fall in the street
    between two blocks the posterior is split over; the mean over one
    building would discard the spread across its neighbours' party walls.
    A mean outside every footprint (a courtyard) moves to the closest
    footprint point of the region.

    Returns ``(x_m, y_m)``.
    """
    post = np.ravel(posterior)
    labels, n = ndimage.label((owner >= 0).reshape(grid_shape))
    labels = labels.ravel()
    mass = np.bincount(labels, post, minlength=n + 1)
    mass[0] = -1.0
    in_region = labels == int(np.argmax(mass))
    w = post[in_region]
    if w.sum() <= 0:
        w = np.ones(int(in_region.sum()))
    x = float(np.sum(w * cell_x_m[in_region]) / w.sum())
    y = float(np.sum(w * cell_y_m[in_region]) / w.sum())
    candidates = [closest_point_in(polys[k], x, y) for k in np.unique(owner[in_region])]
    return min(candidates, key=lambda q: np.hypot(q[0] - x, q[1] - y))
