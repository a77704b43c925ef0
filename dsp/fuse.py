"""One answer from RSS, bearings and floors: the staged fit behind `dsp.locate.estimate_position`.

Stage 1: Gaussian, independent, detections only, on a coarse grid: a start
and a first sigma.  Stage 2: `dsp.rss.refine` from there with every reading:
its residuals give sigma, the correlation distance (`dsp.rss.fit_corr_m`),
the tempering factor and the Student-t weights.  Stage 3: the full model on
the grid for every floor hypothesis (`dsp.floors`), tempered, plus the
bearings' von Mises wedges (`dsp.triangulate`): the heat map and the floor
probabilities; its maximum starts the final refinement.  See docs/locate.md.
"""

from dataclasses import dataclass

import numpy as np

from dsp import ellipse, floors, propagation, rss, triangulate

#: Posterior mass around the refined maximum above which its local covariance stands (`widened`).
PEAK_MASS = 0.9
#: A peak whose grid spread exceeds its local covariance this much is curved, not quantised.
SPREAD_FACTOR = 2.0


@dataclass
class Fit:
    """Result of `fit`; `dsp.locate.Estimate` is built from it."""

    xy_m: np.ndarray
    cov_xy: np.ndarray
    floor: int | None
    floor_prob: dict | None
    posterior: np.ndarray  # per cell, summed over floors; sums to 1
    n_used: int
    p0_dbm: np.ndarray | None = None
    n_exp: float | None = None
    sigma_db: float | None = None
    corr_m: float | None = None
    floor_loss_db: tuple | None = None
    temper: float = 1.0
    widened: bool = False


def tx_z_m(tx_floor):
    """Height of a rack on ``tx_floor`` (None: street level)."""
    return float(propagation.floor_height_m(0 if tx_floor is None else tx_floor,
                                            propagation.TX_ABOVE_FLOOR_M))


def fit(rd, brg, cells, coarse_cells, cell_m, *, sigma_db=None, corr_m=None, robust=True,
        whiten=False, tx_floors=None, cell_log_prior=None):
    """Position, covariance, floor and heat map from validated readings.

    Parameters
    ----------
    rd : dsp.rss.Readings
    brg : tuple of 4 ndarray or None
        Bearings ``(x_m, y_m, bearing_deg, sigma_deg)``.
    cells, coarse_cells : (ndarray, ndarray)
        Cell centres of the heat map and of the coarse stage-1 grid.
    cell_m : float
        Cell size of the heat map (m).
    sigma_db, corr_m, robust, whiten, tx_floors
        As in `dsp.locate.estimate_position`.
    cell_log_prior : ndarray, optional
        Log-prior of each heat-map cell (``-inf`` rules a cell out; see
        `dsp.footprints`); default uniform.

    Raises
    ------
    ValueError
        Too few detections (and bearings), or all from one spot.
    """
    cx, cy = cells
    ccx, ccy = coarse_cells
    n_det = int(rd.detected.sum())
    floors_measured = bool(np.any(np.isfinite(rd.floor)))
    if floors_measured:
        hyps = [int(f) for f in (floors.candidate_floors(rd.floor) if tx_floors is None else tx_floors)]
    else:
        hyps = [None]
    use_coefs = floors_measured and bool(np.any(rd.indoor[rd.detected]))
    n_theta = rd.n_groups + (propagation.N_FLOOR_COEFS if use_coefs else 0) + 1
    nu = rss.STUDENT_NU if robust else None
    bll = triangulate.bearing_loglik(cx, cy, *brg, nu=nu) if brg else 0.0
    if cell_log_prior is not None:
        bll = bll + cell_log_prior

    # Position and theta, plus one degree of freedom for sigma when it is not given.
    n_needed = n_theta + 2 + (sigma_db is None)
    if n_det < n_needed:
        if brg is None or len(brg[0]) < 2:
            raise ValueError(f"need at least {n_needed} detected readings or two bearings, "
                             f"got {n_det} detected")
        return _bearing_only(brg, bll)

    det_only = rd.subset(rd.detected)
    if max(np.ptp(det_only.x_m), np.ptp(det_only.y_m)) < 1.0 and brg is None:
        raise ValueError("all detections come from one spot (under 1 m apart): signal strength "
                         "from one place cannot say where the emitter is; walk, or take bearings")
    ones = np.ones(n_det)
    # Stage 1: Gaussian, independent, detections only, on every other grid line (it only
    # seeds stage 2); sigma = 1 makes L = -RSS/2.
    m1 = rss.Model(det_only, 1.0 if sigma_db is None else sigma_db, 0.0, ones, use_coefs)
    l1 = np.array([rss.profile_grid(m1, ccx, ccy, f, tx_z_m(f))[0] for f in hyps])
    if sigma_db is None:
        rss_min = -2.0 * l1.max()
        sigma0 = max(np.sqrt(rss_min / max(n_det - n_theta - 2, 1)), rss.MIN_SIGMA_DB)
        l1 = l1 / sigma0**2
    else:
        sigma0 = sigma_db
    bll1 = triangulate.bearing_loglik(ccx, ccy, *brg, nu=nu) if brg else 0.0
    fi, ci = np.unravel_index(np.argmax(l1 + bll1), l1.shape)
    cx1, cy1 = ccx[ci], ccy[ci]

    extra = _bearing_extra(brg)
    # Stage 2: refine with every reading, still independent and Gaussian, to read the residuals.
    m2 = rss.Model(rd, sigma0, 0.0, ones, use_coefs)
    th = rss.profile_grid(m2, np.array([cx1]), np.array([cy1]), hyps[fi], tx_z_m(hyps[fi]))[1][0]
    p2 = rss.refine(m2, np.concatenate([[cx1, cy1], th]), hyps[fi], tx_z_m(hyps[fi]),
                    extra, robust=False)[0]
    f2, z2 = hyps[fi], tx_z_m(hyps[fi])
    raw = rss.residuals(m2, p2, f2, z2, robust=False)[:n_det] * sigma0
    sigma = sigma_db if sigma_db is not None else max(rss.robust_sigma(raw), rss.MIN_SIGMA_DB)
    if corr_m is None:
        corr, share = rss.fit_variogram(det_only.x_m, det_only.y_m, raw, sigma)
    else:
        corr, share = corr_m, 1.0
    m3r = rss.Model(rd, sigma, corr, ones, use_coefs, whiten=whiten, corr_share=share)
    rows = rss.whiten(raw, rss.ar1_rho(det_only.x_m, det_only.y_m, m3r.whiten_m)) / sigma
    weights = rss.student_weights(rows) if robust else ones
    # How much narrower the working likelihood is than the truth allows (correlation).
    _, temper = rss.m_estimate_covariance(
        m3r, lambda p: _with_bearings(rss.residuals(m3r, p, f2, z2, robust=False), extra, p),
        p2, robust)

    # Stage 3: the full model on the grid (the heat map, tempered), then the refined maximum.
    m3 = rss.Model(rd, sigma, corr, weights, use_coefs, whiten=whiten, corr_share=share)
    grids = [rss.profile_grid(m3, cx, cy, f, tx_z_m(f)) for f in hyps]
    ll = temper * np.array([g[0] for g in grids]) + bll
    floor_prob, joint = floors.floor_posterior(ll)
    fi, ci = np.unravel_index(np.argmax(ll), ll.shape)
    start = np.concatenate([[cx[ci], cy[ci]], grids[fi][1][ci]])
    f, z = hyps[fi], tx_z_m(hyps[fi])

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
    cov_xy, widened = _widened(params[:2], cov[:2, :2], post, cx, cy, cell_m)
    n_g = rd.n_groups
    return Fit(xy_m=params[:2], cov_xy=cov_xy, floor=None if f is None else int(f),
               floor_prob=None if f is None else {int(h): float(p) for h, p in zip(hyps, floor_prob)},
               posterior=post, n_used=len(rd.x_m), p0_dbm=params[2:2 + n_g],
               n_exp=float(params[-1]), sigma_db=float(sigma), corr_m=float(corr),
               floor_loss_db=tuple(float(v) for v in params[2 + n_g:-1]) if use_coefs else None,
               temper=float(temper), widened=widened)


def _widened(ml_xy, ml_cov, post, cx, cy, cell):
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
    radius = max(3.0 * np.sqrt(max(np.linalg.eigvalsh(ml_cov)[-1], 0.0)), 2.0 * cell)
    near = np.hypot(cx - ml_xy[0], cy - ml_xy[1]) <= radius
    spread = ellipse.second_moment_m2(post, cx, cy, ml_xy) - np.eye(2) * cell**2 / 12.0
    if post[near].sum() >= PEAK_MASS and np.trace(spread) < SPREAD_FACTOR * np.trace(ml_cov):
        return ml_cov, False
    return ellipse.widened_m2(ml_cov, spread), True


def _with_bearings(r, extra, p, robust=False):
    return r if extra is None else np.concatenate([r, extra(p, robust)])


def _bearing_extra(brg):
    if brg is None:
        return None

    def extra(p, robust):
        r = triangulate.bearing_residuals(*brg, p[0], p[1])
        return rss.student_psi(r) if robust else r
    return extra


def _bearing_only(brg, bll):
    xy, cov = triangulate.ml_fix(*brg)
    post = np.exp(bll - bll.max())
    return Fit(xy_m=xy, cov_xy=cov, floor=None, floor_prob=None, posterior=post / post.sum(),
               n_used=len(brg[0]))
