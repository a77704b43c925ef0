"""Where is the emitter: one estimate from RSS walks, bearings and floors.

`estimate_position` validates its inputs once and chains the pieces:
`dsp.rss` (profiled maximum likelihood on a grid, then refinement),
`dsp.triangulate` (bearing wedges and fixes), `dsp.floors` (floor
hypotheses) and `dsp.ellipse` (95 % ellipse, CEP50).  `LiveLocator` keeps
per-cell sufficient statistics so that one new reading updates the heat map
in a few vectorised operations.
"""

from dataclasses import dataclass, field

import numpy as np

from dsp import ellipse, floors, propagation, rss, triangulate
from dsp.crb import crb_position  # noqa: F401  (part of this module's public API)

#: Cells per axis of the grid built around the data when none is given.
DEFAULT_GRID_CELLS = 64
#: Posterior mass around the refined maximum above which its local covariance stands (_widened).
PEAK_MASS = 0.9
#: A peak whose grid spread exceeds its local covariance this much is curved, not quantised.
SPREAD_FACTOR = 2.0


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


@dataclass
class Estimate:
    """An emitter position with its uncertainty.

    ``ellipse`` is the 95 % ellipse (``semi_major_m``, ``semi_minor_m``,
    ``orientation_deg`` of the major axis clockwise from north); ``posterior``
    has shape ``grid.shape`` and sums to 1; ``floor`` and ``floor_prob`` are
    None when no floors were measured.  ``p0_dbm`` is one value per group
    label (a float for one target).
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
    extra: dict = field(default_factory=dict)


def _as_1d_float(a, name, n=None):
    arr = np.atleast_1d(np.asarray(a, dtype=float))
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(f"{name} must be a 1-D array" + (f" of length {n}" if n is not None else ""))
    return arr


def _readings(x_m, y_m, rssi_dbm, floor, z_m, noise_floor_dbm, group):
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
                        max(len(labels), 1), indoor[keep])


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


def _tx_z(tx_floor):
    return float(propagation.floor_height_m(0 if tx_floor is None else tx_floor,
                                            propagation.TX_ABOVE_FLOOR_M))


def _summary(cov_xy):
    return ellipse.error_ellipse(cov_xy), ellipse.cep50_m(cov_xy)


def estimate_position(x_m, y_m, rssi_dbm, *, floor=None, z_m=None, noise_floor_dbm=None,
                      bearings=None, grid=None, sigma_db=None, corr_m=None, robust=True,
                      group=None, tx_floors=None, whiten=False):
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
    rd = _readings(x_m, y_m, rssi_dbm, floor, z_m, noise_floor_dbm, group)
    brg = _bearings(bearings)
    n_det = int(rd.detected.sum())
    if grid is None:
        px = np.concatenate([rd.x_m] + ([brg[0]] if brg else []))
        py = np.concatenate([rd.y_m] + ([brg[1]] if brg else []))
        if len(px) == 0:
            raise ValueError("no readings")
        grid = Grid.around(px, py)
    elif not isinstance(grid, Grid):
        raise ValueError("grid must be a dsp.locate.Grid")
    cx, cy = grid.cells()

    floors_measured = bool(np.any(np.isfinite(rd.floor)))
    if floors_measured:
        hyps = [int(f) for f in (floors.candidate_floors(rd.floor) if tx_floors is None else tx_floors)]
    else:
        hyps = [None]
    use_coefs = floors_measured and bool(np.any(rd.indoor[rd.detected]))
    n_theta = rd.n_groups + (propagation.N_FLOOR_COEFS if use_coefs else 0) + 1
    bll = triangulate.bearing_loglik(cx, cy, *brg) if brg else 0.0

    # Position and theta, plus one degree of freedom for sigma when it is not given.
    n_needed = n_theta + 2 + (sigma_db is None)
    if n_det < n_needed:
        if brg is None or len(brg[0]) < 2:
            raise ValueError(f"need at least {n_needed} detected readings or two bearings, "
                             f"got {n_det} detected")
        return _bearing_only(brg, grid, bll)

    det_only = rd.subset(rd.detected)
    if max(np.ptp(det_only.x_m), np.ptp(det_only.y_m)) < 1.0 and brg is None:
        raise ValueError("all detections come from one spot (under 1 m apart): signal strength "
                         "from one place cannot say where the emitter is; walk, or take bearings")
    ones = np.ones(n_det)
    # Stage 1: Gaussian, independent, detections only, on every other grid line (it only
    # seeds stage 2); sigma = 1 makes L = -RSS/2.
    coarse = Grid(grid.x_m[::2], grid.y_m[::2]) if min(grid.shape) > 40 else grid
    ccx, ccy = coarse.cells()
    m1 = rss.Model(det_only, 1.0 if sigma_db is None else sigma_db, 0.0, ones, use_coefs)
    l1 = np.array([rss.profile_grid(m1, ccx, ccy, f, _tx_z(f))[0] for f in hyps])
    if sigma_db is None:
        rss_min = -2.0 * l1.max()
        sigma0 = max(np.sqrt(rss_min / max(n_det - n_theta - 2, 1)), rss.MIN_SIGMA_DB)
        l1 = l1 / sigma0**2
    else:
        sigma0 = sigma_db
    bll1 = triangulate.bearing_loglik(ccx, ccy, *brg) if brg else 0.0
    fi, ci = np.unravel_index(np.argmax(l1 + bll1), l1.shape)
    cx1, cy1 = ccx[ci], ccy[ci]

    extra = _bearing_extra(brg)
    # Stage 2: refine with every reading, still independent and Gaussian, to read the residuals.
    m2 = rss.Model(rd, sigma0, 0.0, ones, use_coefs)
    th = rss.profile_grid(m2, np.array([cx1]), np.array([cy1]), hyps[fi], _tx_z(hyps[fi]))[1][0]
    p2 = rss.refine(m2, np.concatenate([[cx1, cy1], th]), hyps[fi], _tx_z(hyps[fi]),
                    extra, robust=False)[0]
    f2, z2 = hyps[fi], _tx_z(hyps[fi])
    raw = rss.residuals(m2, p2, f2, z2, robust=False)[:n_det] * sigma0
    sigma = sigma_db if sigma_db is not None else max(rss.robust_sigma(raw), rss.MIN_SIGMA_DB)
    corr = corr_m if corr_m is not None else rss.fit_corr_m(det_only.x_m, det_only.y_m, raw, sigma)
    m3r = rss.Model(rd, sigma, corr, ones, use_coefs, whiten=whiten)
    rows = rss.whiten(raw, rss.ar1_rho(det_only.x_m, det_only.y_m, m3r.whiten_m)) / sigma
    weights = rss.student_weights(rows) if robust else ones
    # How much narrower the working likelihood is than the truth allows (correlation).
    _, temper = rss.m_estimate_covariance(
        m3r, lambda p: _with_bearings(rss.residuals(m3r, p, f2, z2, robust=False), extra, p),
        p2, robust)

    # Stage 3: the full model on the grid (the heat map, tempered), then the refined maximum.
    m3 = rss.Model(rd, sigma, corr, weights, use_coefs, whiten=whiten)
    grids = [rss.profile_grid(m3, cx, cy, f, _tx_z(f)) for f in hyps]
    ll = temper * np.array([g[0] for g in grids]) + bll
    floor_prob, joint = floors.floor_posterior(ll)
    fi, ci = np.unravel_index(np.argmax(ll), ll.shape)
    start = np.concatenate([[cx[ci], cy[ci]], grids[fi][1][ci]])
    f, z = hyps[fi], _tx_z(hyps[fi])

    def cost(p):
        r = _with_bearings(rss.residuals(m3r, p, f, z, robust=robust), extra, p, robust)
        return float(r @ r)

    params, cov, _ = rss.refine(m3r, start, f, z, extra, robust=robust)
    if f2 == f:
        # The earlier fit may sit in a better basin than the grid cell (finer than the grid).
        alt, alt_cov, _ = rss.refine(m3r, p2, f, z, extra, robust=robust)
        if cost(alt) < cost(params) - 1e-9:
            params, cov = alt, alt_cov
    post = joint.sum(axis=0)
    cov_xy, widened = _widened(params[:2], cov[:2, :2], post, cx, cy, grid)
    ell, cep = _summary(cov_xy)
    n_g = rd.n_groups
    p0 = params[2:2 + n_g]
    return Estimate(
        x_m=float(params[0]), y_m=float(params[1]),
        floor=None if f is None else int(f),
        floor_prob=None if f is None else {int(h): float(p) for h, p in zip(hyps, floor_prob)},
        cov_m2=cov_xy, ellipse=ell, cep50_m=cep, n_used=len(rd.x_m),
        p0_dbm=float(p0[0]) if n_g == 1 else p0, n_exp=float(params[-1]),
        posterior=post.reshape(grid.shape), grid=grid,
        sigma_db=float(sigma), corr_m=float(corr),
        floor_loss_db=tuple(float(v) for v in params[2 + n_g:-1]) if use_coefs else None,
        extra={"n_bearings": 0 if brg is None else len(brg[0]), "temper": float(temper),
               "widened": widened})


def _widened(ml_xy, ml_cov, post, cx, cy, grid):
    """The local covariance, widened to the heat map's spread about the estimate if wider.

    The refined maximum and its covariance describe one peak, as if the
    model were linear there.  When less than `PEAK_MASS` of the (tempered)
    posterior lies within 3 standard deviations (and at least two cells) of
    the maximum, or the posterior's second moment about it exceeds
    `SPREAD_FACTOR` times the local one (a curved or split peak), the
    covariance grows to that second moment, less a cell's quantisation
    ``cell^2 / 12``.  The point stays the maximum: the posterior mean would
    cut the mean-square error of split cases but double the typical error.
    """
    cell = max(np.diff(grid.x_m).mean(), np.diff(grid.y_m).mean())
    radius = max(3.0 * np.sqrt(max(np.linalg.eigvalsh(ml_cov)[-1], 0.0)), 2.0 * cell)
    near = np.hypot(cx - ml_xy[0], cy - ml_xy[1]) <= radius
    dev = np.column_stack([cx - ml_xy[0], cy - ml_xy[1]])
    spread = (dev * post[:, None]).T @ dev - np.eye(2) * cell**2 / 12.0
    if post[near].sum() >= PEAK_MASS and np.trace(spread) < SPREAD_FACTOR * np.trace(ml_cov):
        return ml_cov, False
    lam, vec = np.linalg.eigh(spread - ml_cov)
    return ml_cov + (vec * np.clip(lam, 0.0, None)) @ vec.T, True


def _with_bearings(r, extra, p, robust=False):
    return r if extra is None else np.concatenate([r, extra(p, robust)])


def _bearing_extra(brg):
    if brg is None:
        return None

    def extra(p, robust):
        r = triangulate.bearing_residuals(*brg, p[0], p[1])
        return rss.student_psi(r) if robust else r
    return extra


def _bearing_only(brg, grid, bll):
    xy, cov = triangulate.ml_fix(*brg)
    post = np.exp(bll - bll.max())
    ell, cep = _summary(cov)
    return Estimate(x_m=float(xy[0]), y_m=float(xy[1]), floor=None, floor_prob=None, cov_m2=cov,
                    ellipse=ell, cep50_m=cep, n_used=len(brg[0]), p0_dbm=None, n_exp=None,
                    posterior=(post / post.sum()).reshape(grid.shape), grid=grid,
                    extra={"n_bearings": len(brg[0])})


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
        self._tx_z = _tx_z(None)

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
