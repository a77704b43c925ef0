"""Where is the emitter: one estimate from RSS walks, bearings and floors.

`estimate_position` validates its inputs once, hands them to `dsp.fuse`
(which chains `dsp.rss`, `dsp.triangulate` and `dsp.floors`) and summarises
the answer with `dsp.ellipse` (95 % ellipse, CEP50).  `LiveLocator` keeps
per-cell sufficient statistics so that one new reading updates the heat map
in a few vectorised operations.  `crb_position` (`dsp.crb`) says how good it
can get.
"""

from dataclasses import dataclass, field

import numpy as np

from dsp import ellipse, footprints as fp, fuse, propagation, rss
from dsp.crb import crb_position  # noqa: F401  (part of this module's public API)

#: Cells per axis of the grid built around the data when none is given.
DEFAULT_GRID_CELLS = 64


@dataclass(frozen=True)
class Grid:
    """Candidate emitter positions: cell centres ``x_m`` (east) by ``y_m`` (north), metres."""

    x_m: np.ndarray
    y_m: np.ndarray

    def __post_init__(self):
        for name in ("x_m", "y_m"):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.ndim != 1 or len(a) < 2 or not np.all(np.isfinite(a)) or np.any(np.diff(a) <= 0):
                raise ValueError(f"Grid.{name} must be a 1-D increasing array of at least 2 values")
            object.__setattr__(self, name, a)

    @classmethod
    def around(cls, x_m, y_m, *, cells=DEFAULT_GRID_CELLS, margin_m=None):
        """Square-celled grid over the readings' extent plus a margin (default 30 % or 25 m)."""
        x, y = np.asarray(x_m, float), np.asarray(y_m, float)
        span = max(np.ptp(x), np.ptp(y), 1.0)
        margin = max(0.3 * span, 25.0) if margin_m is None else margin_m
        half = 0.5 * span + margin
        cx, cy = 0.5 * (x.min() + x.max()), 0.5 * (y.min() + y.max())
        axis = np.linspace(-half, half, cells)
        return cls(cx + axis, cy + axis)

    def cells(self):
        """Cell centres flattened row by row (north index major), matching ``posterior.ravel()``."""
        gx, gy = np.meshgrid(self.x_m, self.y_m)
        return gx.ravel(), gy.ravel()

    @property
    def shape(self):
        return (len(self.y_m), len(self.x_m))

    @property
    def cell_m(self):
        """Cell size (m): the larger mean spacing of the two axes."""
        return float(max(np.diff(self.x_m).mean(), np.diff(self.y_m).mean()))


def footprint_owner(footprints, grid):
    """Validated footprints and the index of the one holding each cell of ``grid`` (-1: none).

    `estimate_position` needs some cell owned; callers that would rather
    locate without the footprints than fail can test ``np.any(owner >= 0)``.
    """
    polys = fp.as_polygons(footprints)
    return polys, fp.cell_owner(polys, *grid.cells(), grid.cell_m)


@dataclass
class Estimate:
    """An emitter position with its uncertainty.

    ``ellipse`` is the 95 % ellipse (``semi_major_m``, ``semi_minor_m``,
    ``orientation_deg`` of the major axis clockwise from north); ``posterior``
    has shape ``grid.shape`` and sums to 1; ``floor`` and ``floor_prob`` are
    None when no floors were measured.  ``p0_dbm`` is one value per group
    label (a float for one target).  With footprints, ``building`` is the
    index of the most probable one and ``building_prob`` the posterior mass
    of each (both None without).
    """

    x_m: float
    y_m: float
    floor: int | None
    floor_prob: dict | None
    cov_m2: np.ndarray
    ellipse: dict
    cep50_m: float
    n_used: int
    p0_dbm: float | np.ndarray | None
    n_exp: float | None
    posterior: np.ndarray
    grid: Grid
    sigma_db: float | None = None
    corr_m: float | None = None
    floor_loss_db: tuple | None = None
    building: int | None = None
    building_prob: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def _as_1d_float(a, name, n=None):
    arr = np.atleast_1d(np.asarray(a, dtype=float))
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(f"{name} must be a 1-D array" + (f" of length {n}" if n is not None else ""))
    return arr


def _readings(x_m, y_m, rssi_dbm, floor, z_m, noise_floor_dbm, group, saturated=None):
    x = _as_1d_float(x_m, "x_m")
    n = len(x)
    y = _as_1d_float(y_m, "y_m", n)
    p = _as_1d_float(rssi_dbm, "rssi_dbm", n)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x_m and y_m must be finite")
    if np.any(np.isinf(p)):
        raise ValueError("rssi_dbm must be finite or NaN (not detected)")
    fl = np.full(n, np.nan) if floor is None else _as_1d_float(floor, "floor", n)
    if z_m is not None:
        z = _as_1d_float(z_m, "z_m", n)
    else:
        z = propagation.floor_height_m(np.nan_to_num(fl), propagation.RX_ABOVE_FLOOR_M)
    nf = np.full(n, np.nan) if noise_floor_dbm is None else np.broadcast_to(
        np.asarray(noise_floor_dbm, dtype=float), (n,)).copy()
    above = np.zeros(n, dtype=bool)
    if saturated is not None:
        above = np.asarray(saturated, dtype=bool)
        if above.shape != (n,):
            raise ValueError("saturated must be a 1-D boolean array of the readings' length")
        # A saturated receiver read at most what arrived: the power was at least that.
        above = above & np.isfinite(p)
        nf = np.where(above, p, nf)
        p = np.where(above, np.nan, p)
    # A non-detection without a known noise floor says nothing usable.
    keep = np.isfinite(p) | np.isfinite(nf)
    if group is None:
        g = np.zeros(n, dtype=int)
    else:
        g = np.asarray(group)
        if g.shape != (n,) or not np.issubdtype(g.dtype, np.integer):
            raise ValueError("group must be a 1-D integer array of the readings' length")
    # A transmitter never detected has no P0 to estimate: its readings cannot place it.
    keep &= np.isin(g, g[np.isfinite(p)])
    labels, g = np.unique(g[keep], return_inverse=True)
    indoor = propagation.indoor_mask(x, y, fl)
    return rss.Readings(x[keep], y[keep], z[keep], fl[keep], p[keep], nf[keep], g.ravel(),
                        max(len(labels), 1), indoor[keep], above[keep])


def _bearings(bearings):
    if bearings is None:
        return None
    if len(bearings) != 4:
        raise ValueError("bearings must be (x_m, y_m, bearing_deg, sigma_deg)")
    bx = _as_1d_float(bearings[0], "bearings x_m")
    n = len(bx)
    out = (bx, _as_1d_float(bearings[1], "bearings y_m", n),
           _as_1d_float(bearings[2], "bearing_deg", n),
           np.broadcast_to(_as_1d_float(bearings[3], "sigma_deg"), (n,)).astype(float))
    if not all(np.all(np.isfinite(a)) for a in out) or np.any(out[3] <= 0):
        raise ValueError("bearings must be finite with positive sigma_deg")
    return out if n else None


def estimate_position(x_m, y_m, rssi_dbm, *, floor=None, z_m=None, noise_floor_dbm=None,
                      bearings=None, grid=None, sigma_db=None, corr_m=None, robust=True,
                      group=None, tx_floors=None, whiten=False, position_sigma_m=None,
                      footprints=None, saturated=None):
    """Maximum-likelihood emitter position from RSS readings, bearings and floors.

    Parameters
    ----------
    x_m, y_m : array_like, shape (N,)
        Reading positions east and north of a local origin (m), in walk order.
    rssi_dbm : array_like, shape (N,)
        Received power (dBm); NaN = measured but not detected.
    floor : array_like, shape (N,), optional
        Floor of each reading (0 = street, NaN = unknown).  Given, the
        emitter's floor is estimated too.
    z_m : array_like, shape (N,), optional
        Height of each reading above the street (m); default from ``floor``.
    noise_floor_dbm : float or array_like, optional
        Detection threshold; without it non-detections are ignored.
    bearings : tuple of 4 array_like, optional
        ``(x_m, y_m, bearing_deg, sigma_deg)`` of rotation-scan bearings.
    grid : Grid, optional
        Candidate positions and heat-map cells; default `Grid.around` the data.
    sigma_db, corr_m : float, optional
        Shadowing standard deviation (dB) and correlation distance (m); by
        default estimated from the data (``corr_m=0`` means independent).
    robust : bool
        Student-t loss instead of Gaussian.
    whiten : bool
        Whiten the shadowing as AR(1) along the walk (generalised least
        squares) instead of working independence.  Either way the covariance
        and the heat map's width account for the correlation.
    group : array_like of int, optional
        Label of each reading's transmitter: one P0 each (``p0_dbm`` in
        sorted label order; labels never detected are left out), one shared
        position.
    tx_floors : array_like of int, optional
        Floors the emitter may be on (default `dsp.floors.candidate_floors`).
    position_sigma_m : float, optional
        Standard deviation (m, per axis) of the reading positions' error, as
        a GNSS receiver states it.  That error wanders slowly (tens of
        seconds), so neighbouring readings and a scan's bearing share it, and
        a shared offset of the readings moves the estimate by the same
        offset, which no residual can show: ``position_sigma_m^2 I`` is
        added to the covariance (the bound for an offset common to all).
    saturated : array_like of bool, shape (N,), optional
        Readings of a saturated receiver: each says the power was at least
        what it read (censored from below), not what it was.
    footprints : sequence of (N, 2) array_like, optional
        Building footprints (polygons, same local metres) of which one
        holds the emitter: the prior is uniform over them and zero in
        the streets.  Then ``building`` is the footprint with the most
        posterior mass; the position is the posterior mean over the
        block of touching footprints holding the most mass (see
        `dsp.footprints.region_mean`), and the covariance the larger of
        the posterior's second moment about it and the refined
        maximum's.  When the peak is narrower than a cell and inside the
        most probable building, the refined maximum is the position.  A
        footprint must cover at least a cell of the grid to be told apart
        from its neighbours.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.uniform(-100, 100, (2, 80))
    >>> d = np.hypot(np.hypot(x - 20, y - 30), 0.5)
    >>> est = estimate_position(x, y, -40 - 30 * np.log10(d) + rng.normal(0, 2, 80))
    >>> bool(np.hypot(est.x_m - 20, est.y_m - 30) < 10)
    True
    """
    rd = _readings(x_m, y_m, rssi_dbm, floor, z_m, noise_floor_dbm, group, saturated)
    brg = _bearings(bearings)
    if grid is None:
        px = np.concatenate([rd.x_m] + ([brg[0]] if brg else []))
        py = np.concatenate([rd.y_m] + ([brg[1]] if brg else []))
        if len(px) == 0:
            raise ValueError("no readings")
        grid = Grid.around(px, py)
    elif not isinstance(grid, Grid):
        raise ValueError("grid must be a dsp.locate.Grid")
    # Stage 1 of the fit only seeds the rest: every other grid line is enough.
    coarse = Grid(grid.x_m[::2], grid.y_m[::2]) if min(grid.shape) > 40 else grid
    cell_m = grid.cell_m
    cx, cy = grid.cells()
    polys, owner = footprint_owner(footprints, grid)
    prior = None
    if polys:
        if not np.any(owner >= 0):
            raise ValueError(f"none of the {len(polys)} footprints lies on the grid: "
                             "are they in the readings' local metres?")
        prior = fp.log_prior(owner)
    fit = fuse.fit(rd, brg, (cx, cy), coarse.cells(), cell_m, sigma_db=sigma_db,
                   corr_m=corr_m, robust=robust, whiten=whiten, tx_floors=tx_floors,
                   cell_log_prior=prior)
    xy, cov_xy = fit.xy_m, fit.cov_xy
    building = building_prob = None
    if polys:
        building_prob = fp.building_prob(fit.posterior, owner, len(polys))
        building = int(np.argmax(building_prob))
        peak_m = np.sqrt(max(np.linalg.eigvalsh(fit.cov_xy)[-1], 0.0))
        if peak_m < cell_m and fp.contains(polys[building], *fit.xy_m):
            # A peak narrower than a cell, inside the building: the grid cannot resolve
            # it, and the refined maximum is the answer.
            xy = fit.xy_m
        else:
            xy = np.array(fp.region_mean(polys, fit.posterior, owner, grid.shape, cx, cy))
        # The posterior's spread about the answer (plus a cell's quantisation), or the
        # refined maximum's covariance along any direction where that is wider.
        spread = ellipse.second_moment_m2(fit.posterior, cx, cy, xy) + np.eye(2) * cell_m**2 / 12.0
        cov_xy = ellipse.widened_m2(fit.cov_xy, spread)
    if position_sigma_m:
        if not (np.isfinite(position_sigma_m) and position_sigma_m > 0):
            raise ValueError(f"position_sigma_m must be a positive number of metres, got {position_sigma_m}")
        cov_xy = cov_xy + float(position_sigma_m) ** 2 * np.eye(2)
    ell, cep = ellipse.error_ellipse(cov_xy), ellipse.cep50_m(cov_xy)
    p0 = fit.p0_dbm
    return Estimate(
        x_m=float(xy[0]), y_m=float(xy[1]), floor=fit.floor,
        floor_prob=fit.floor_prob, cov_m2=cov_xy, ellipse=ell, cep50_m=cep,
        n_used=fit.n_used, p0_dbm=None if p0 is None else (float(p0[0]) if len(p0) == 1 else p0),
        n_exp=fit.n_exp, posterior=fit.posterior.reshape(grid.shape), grid=grid,
        sigma_db=fit.sigma_db, corr_m=fit.corr_m, floor_loss_db=fit.floor_loss_db,
        building=building, building_prob=building_prob,
        extra={"n_bearings": 0 if brg is None else len(brg[0]), "temper": fit.temper,
               "widened": fit.widened, "ml_xy_m": (float(fit.xy_m[0]), float(fit.xy_m[1]))})


class LiveLocator:
    """Heat map updated reading by reading, for the console.

    Keeps, per cell, the sums ``sum l``, ``sum l^2``, ``sum l y`` of the
    regressor ``l = -10 log10 d`` (and the scalar sums of ``1, y, y^2``), from
    which P0 and n have the closed form of least squares:

        n = (S1 Sly - Sl Sy) / (S1 Sll - Sl^2),   P0 = (Sy - n Sl) / S1,

    so `add` costs one distance per cell.  The live model is Gaussian with
    independent shadowing and the emitter at street level (the readings'
    ``floor`` sets only their height); `estimate` runs the full model of
    `estimate_position` on everything added.
    """

    def __init__(self, grid, *, sigma_db=6.0, noise_floor_dbm=None, n_bounds=rss.N_BOUNDS):
        if not isinstance(grid, Grid):
            raise ValueError("grid must be a dsp.locate.Grid")
        self.grid = grid
        self.sigma_db = float(sigma_db)
        self.noise_floor_dbm = noise_floor_dbm
        self.n_bounds = n_bounds
        self._cx, self._cy = grid.cells()
        # |c - p|^2 = |c|^2 - 2 c.p + |p|^2: one multiply-add per axis per reading.
        self._c2 = self._cx**2 + self._cy**2
        self._sl, self._sll, self._sly = (np.zeros(self._cx.shape) for _ in range(3))
        self._buf, self._buf2 = np.empty(self._cx.shape), np.empty(self._cx.shape)
        self._s1 = self._sy = self._syy = 0.0
        self._n_missed = 0
        self._rows = []
        self._tx_z = fuse.tx_z_m(None)

    def add(self, x_m, y_m, rssi_dbm, floor=None, z_m=None):
        """Add one reading (``rssi_dbm`` NaN or None = not detected)."""
        p = np.nan if rssi_dbm is None else float(rssi_dbm)
        if z_m is None:
            z_m = float(propagation.floor_height_m(0 if floor is None else floor,
                                                   propagation.RX_ABOVE_FLOOR_M))
        x_m, y_m = float(x_m), float(y_m)
        self._rows.append((x_m, y_m, p, np.nan if floor is None else float(floor), float(z_m)))
        if np.isnan(p):
            self._n_missed += 1
            return
        l, tmp = self._buf, self._buf2
        np.multiply(self._cx, -2.0 * x_m, out=l)
        np.multiply(self._cy, -2.0 * y_m, out=tmp)
        l += tmp
        l += self._c2
        l += x_m * x_m + y_m * y_m + (z_m - self._tx_z) ** 2
        # l = -10 log10 max(d, d_min) = -5 log10 max(d^2, d_min^2)
        np.maximum(l, propagation.MIN_DISTANCE_M**2, out=l)
        np.log10(l, out=l)
        l *= -5.0
        self._sl += l
        self._sly += np.multiply(l, p, out=tmp)
        self._sll += np.multiply(l, l, out=tmp)
        self._s1 += 1.0
        self._sy += p
        self._syy += p * p

    def __len__(self):
        return len(self._rows)

    def loglik(self):
        """Log-likelihood of each cell (flattened), up to a constant.

        With ``A = Sll - Sl^2/S1``, ``B = Sly - Sl Sy/S1``, ``C = Syy - Sy^2/S1``:
        ``n = B / A`` (held within ``n_bounds``), ``RSS = C - 2 n B + n^2 A`` and
        ``P0 = (Sy - n Sl) / S1`` (with the wall of `dsp.rss.p0_wall`).
        """
        s1, sy, syy = self._s1, self._sy, self._syy
        if s1 < 3:
            return np.zeros(self._cx.shape)
        a = self._sl * self._sl
        a *= -1.0 / s1
        a += self._sll
        b = np.multiply(self._sl, -sy / s1, out=self._buf)
        b += self._sly
        n = np.divide(b, a, out=self._buf2, where=a > 0)
        n[a <= 0] = self.n_bounds[0]
        np.clip(n, *self.n_bounds, out=n)
        a *= n
        a -= b
        a -= b
        a *= n
        a += syy - sy * sy / s1
        np.maximum(a, 0.0, out=a)
        ll = a
        ll *= -0.5 / self.sigma_db**2
        # P0 = (Sy - n Sl) / S1 exceeds P0_MAX_DBM where n Sl < Sy - S1 P0_MAX_DBM.
        p0 = np.multiply(n, self._sl, out=self._buf)
        p0 -= sy
        p0 *= -1.0 / s1
        if p0.max() > rss.P0_MAX_DBM:
            # rss.p0_wall for one group, in place.
            p0 -= rss.P0_MAX_DBM
            np.maximum(p0, 0.0, out=p0)
            p0 *= p0
            p0 *= -0.5 / rss.P0_WALL_DB**2
            ll += p0
            p0 = (sy - n * self._sl) / s1
        if self._n_missed and self.noise_floor_dbm is not None:
            c = np.array([r for r in self._rows if np.isnan(r[2])])
            rc = rss.Readings(c[:, 0], c[:, 1], c[:, 4], c[:, 3], c[:, 2],
                              np.full(len(c), float(self.noise_floor_dbm)), np.zeros(len(c), int), 1)
            model = rss.Model(rc, self.sigma_db, 0.0, np.ones(0), False)
            ll = ll + rss.censored_loglik(model, rc, self._cx[:, None], self._cy[:, None], None,
                                          self._tx_z, np.column_stack([p0, n]), self.sigma_db)
        return ll

    def posterior(self):
        """Normalised heat map, shape ``grid.shape``."""
        ll = self.loglik()
        ll -= ll.max()
        w = np.exp(ll, out=ll)
        w /= w.sum()
        return w.reshape(self.grid.shape)

    def estimate(self, **kwargs):
        """Full `estimate_position` over every reading added so far."""
        a = np.array(self._rows)
        fl = a[:, 3] if np.any(np.isfinite(a[:, 3])) else None
        return estimate_position(a[:, 0], a[:, 1], a[:, 2], floor=fl, z_m=a[:, 4],
                                 noise_floor_dbm=self.noise_floor_dbm, grid=self.grid, **kwargs)
