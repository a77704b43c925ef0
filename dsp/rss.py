"""Maximum-likelihood emitter position from received signal strength.

Model of detected reading i for an emitter at (x, y) on floor f (see
`dsp.propagation`)::

    y_i = P0[g_i] + n l_i(x, y, f) - A f1_i(f) - B f2_i(f) + e_i,
    l_i = -10 log10 d_i,

with one ``P0`` per group label ``g_i`` (a rack's SIMs share a position but not
a power), and shadowing ``e`` Gaussian with standard deviation ``sigma`` and
correlation ``exp(-distance / corr_m)`` between readings (Gudmundson).

For fixed (x, y, f) the model is linear in theta = (P0..., A, B, n), so theta
has the closed form of weighted least squares and the profiled log-likelihood
on a grid of candidate positions is

    L(x, y, f) = -RSS(x, y, f) / (2 sigma^2) + sum_c w_c log Phi((nf_c - mu_c) / sigma),

the second sum over the non-detections, each saying the power was below its
noise floor ``nf_c`` (censoring).  Outliers (a co-channel phone, a wrong
detection) get Student-t weights, computed from the residuals of a first fit
(one IRLS step on the grid; the refinement minimises the Student-t loss
itself).  The grid maximum starts `scipy.optimize.least_squares` over
(x, y, theta).

Correlation: by default the rows are used as if independent (working
independence) and `m_estimate_covariance` accounts for the correlation with
a sandwich over the full 2-D field; with ``Model.whiten`` the residuals are
first whitened as the AR(1) process the field is along a walk,

    e~_0 = e_0,   e~_i = (e_i - rho_i e_{i-1}) / sqrt(1 - rho_i^2),
    rho_i = exp(-|p_i - p_{i-1}| / corr_m),

(generalised least squares; ``w_c`` is then a non-detection's
effective-sample-size share).
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse, spatial, special

from dsp import propagation

#: Degrees of freedom of the Student-t loss: heavy enough tails for a co-channel phone.
STUDENT_NU = 4.0
#: Physically plausible path-loss exponents (free space 2 to deep indoor 6; a little margin).
N_BOUNDS = (1.5, 6.5)
#: Candidate correlation distances (m) tried when the data must tell it.
CORR_CANDIDATES_M = np.concatenate([[0.0], np.geomspace(0.5, 200.0, 28)])
#: Highest plausible P0 (dBm at 1 m): a 26 dBm (power class 2) handset less the 29 dB
#: free-space loss of the first metre at 700 MHz, plus 6 dB of antenna gains, rounded up.
P0_MAX_DBM = 5.0
#: Width (dB) of the soft wall that keeps grid cells below P0_MAX_DBM (the refinement uses a bound).
P0_WALL_DB = 1.0
#: Smallest shadowing sigma used (dB): keeps the posterior finite on noise-free data.
MIN_SIGMA_DB = 1e-3
#: Correlated share of the residual variance below which the residuals count as white.
MIN_CORR_SHARE = 0.1
_RIDGE = 1e-9
_CHUNK_ELEMS = 250_000  # (cells x readings) per chunk: 2 MB arrays stay in cache


@dataclass
class Readings:
    """Validated readings of one estimate, in walk order.

    ``rssi_dbm`` NaN marks a censored reading: below its ``noise_floor_dbm``
    (not detected), or, where ``above`` is True, at or above it (a saturated
    receiver: the power was at least what it read); ``floor`` NaN marks no
    floor; ``group`` indexes the P0 of each reading (0..n_groups-1).
    """

    x_m: np.ndarray
    y_m: np.ndarray
    z_m: np.ndarray
    floor: np.ndarray
    rssi_dbm: np.ndarray
    noise_floor_dbm: np.ndarray
    group: np.ndarray
    n_groups: int
    indoor: np.ndarray = None  # inside the building (slabs count); default: floor >= 1
    above: np.ndarray = None   # censored from below (saturated); default: none

    def __post_init__(self):
        if self.indoor is None:
            self.indoor = np.isfinite(self.floor) & (np.nan_to_num(self.floor) >= 1)
        if self.above is None:
            self.above = np.zeros(len(self.x_m), dtype=bool)

    def censor_sign(self):
        """+1 where a censored reading says "below its level", -1 where "at least"."""
        return np.where(self.above, -1.0, 1.0)

    @property
    def detected(self):
        return np.isfinite(self.rssi_dbm)

    def subset(self, mask):
        return Readings(self.x_m[mask], self.y_m[mask], self.z_m[mask], self.floor[mask],
                        self.rssi_dbm[mask], self.noise_floor_dbm[mask], self.group[mask],
                        self.n_groups, self.indoor[mask], self.above[mask])


def ar1_rho(x_m, y_m, corr_m):
    """Correlation of each reading with the previous one, exp(-step / corr_m); rho_0 = 0."""
    rho = np.zeros(len(x_m))
    if corr_m and corr_m > 0 and len(x_m) > 1:
        step = np.hypot(np.diff(x_m), np.diff(y_m))
        rho[1:] = np.exp(-step / corr_m)
    # rho -> 1 (two readings at one spot) would divide by zero: they carry one reading's worth.
    return np.minimum(rho, 0.999)


def whiten(a, rho, scale=None):
    """Apply the AR(1) whitening along the last axis (see module docstring).

    ``scale`` (per reading) multiplies the result: the square roots of the
    robust weights.
    """
    a = np.asarray(a, dtype=float)
    out = np.empty_like(a)
    gain = 1.0 / np.sqrt(1.0 - rho**2)
    if scale is not None:
        gain = gain * scale
    out[..., 0] = a[..., 0] * gain[0]
    np.multiply(a[..., :-1], -rho[1:], out=out[..., 1:])
    out[..., 1:] += a[..., 1:]
    out *= gain
    return out


def _distance_term_grid(rd, cx, cy, tx_z_m):
    """-10 log10 d for every (cell, reading): |c - r|^2 expanded so that BLAS does the work."""
    cells = np.column_stack([cx, cy])
    d2 = cells @ np.vstack([rd.x_m, rd.y_m]) * -2.0
    d2 += (cx * cx + cy * cy)[:, None]
    d2 += rd.x_m**2 + rd.y_m**2 + (rd.z_m - tx_z_m) ** 2
    np.maximum(d2, propagation.MIN_DISTANCE_M**2, out=d2)
    np.log10(d2, out=d2)
    d2 *= -5.0
    return d2


def effective_share(x_m, y_m, corr_m):
    """Share (0..1] of an independent reading carried by each reading of a correlated run.

    An AR(1) sequence of N readings with correlation rho carries about
    N (1 - rho) / (1 + rho) independent readings' worth of information.
    """
    rho = ar1_rho(x_m, y_m, corr_m)
    if len(rho) > 1:
        # A reading is as redundant as its closer neighbour makes it.
        rho = np.maximum(rho, np.append(rho[1:], 0.0))
    return (1.0 - rho) / (1.0 + rho)


def student_psi(r):
    """Residual whose square is the Student-t loss: sign(r) sqrt(nu log(1 + r^2 / nu))."""
    return np.sign(r) * np.sqrt(STUDENT_NU * np.log1p(r * r / STUDENT_NU))


def student_weights(r):
    """IRLS weights of the Student-t loss for standardised residuals r."""
    return (STUDENT_NU + 1.0) / (STUDENT_NU + r * r)


def robust_sigma(r):
    """Scale of residuals from their median absolute deviation (Gaussian-consistent)."""
    return 1.4826 * float(np.median(np.abs(r - np.median(r)))) if len(r) else 0.0


def fit_corr_m(x_m, y_m, resid_db, sigma_db, max_lag=80):
    """Correlation distance (m) of residuals along the walk: the distance of `fit_variogram`."""
    return fit_variogram(x_m, y_m, resid_db, sigma_db, max_lag)[0]


def fit_variogram(x_m, y_m, resid_db, sigma_db, max_lag=80):
    """Correlation distance (m) and correlated share of residuals along the walk.

    Pairs of readings up to ``max_lag`` steps apart are binned by distance h;
    each bin's semivariance is the Cressie-Hawkins estimate
    ``(mean |r_i - r_j|^(1/2))^4 / (0.914 + 0.988 / N_h)``, which one
    outlier cannot inflate (an outlier looks like decorrelation to a plain
    AR(1) fit and pulls the distance toward zero).  The model
    ``gamma(h) = c0 + s^2 (1 - exp(-h / D))`` is fitted over candidate D with
    the nugget c0 and the partial sill s^2 (both >= 0) in closed form,
    weighted by pair counts.  The nugget is what decorrelates within a
    reading's spacing (fading left in a local median, sensor noise); without
    it, a walk whose residuals are half nugget and half a slow field (the
    model error of walls and floors the locator does not know) looked
    uncorrelated, and its ellipse was as narrow as if every reading were
    independent.

    Returns
    -------
    corr_m : float
        D, or 0.0 when no correlation beyond the reading spacing is seen.
    share : float
        ``s^2 / (c0 + s^2)``: the part of the residual variance that is
        correlated over D (0.0 with ``corr_m``).
    """
    r = np.asarray(resid_db, float)
    n = len(r)
    if n < 16:
        return 0.0, 0.0
    h_parts, g_parts = [], []
    for k in range(1, min(max_lag, n - 1) + 1):
        h_parts.append(np.hypot(x_m[k:] - x_m[:-k], y_m[k:] - y_m[:-k]))
        g_parts.append(np.sqrt(np.abs(r[k:] - r[:-k])))
    h, g = np.concatenate(h_parts), np.concatenate(g_parts)
    edges = np.geomspace(max(np.percentile(h, 1), 0.1), max(h.max(), 1.0), 25)
    idx = np.digitize(h, edges)
    count = np.bincount(idx, minlength=len(edges) + 1)
    keep = count >= 10
    mean_root = np.bincount(idx, g, minlength=len(edges) + 1)[keep] / count[keep]
    gamma = mean_root**4 / (0.914 + 0.988 / count[keep])
    h_bin = np.bincount(idx, h, minlength=len(edges) + 1)[keep] / count[keep]
    sw = np.sqrt(count[keep].astype(float))
    flat_sse = float(np.sum((sw * (gamma - np.sum(sw**2 * gamma) / np.sum(sw**2))) ** 2))
    best, best_sse = (0.0, 0.0), flat_sse
    for corr_m in CORR_CANDIDATES_M[1:]:
        shape = 1.0 - np.exp(-h_bin / corr_m)
        (c0, s2), _ = optimize.nnls(np.column_stack([sw, sw * shape]), sw * gamma)
        sse = float(np.sum((sw * (gamma - c0 - s2 * shape)) ** 2))
        if sse < best_sse and s2 > 0.0:
            best, best_sse = (float(corr_m), float(s2 / (c0 + s2))), sse
    # A sill this small is the variogram's own noise over white residuals.
    return best if best[1] >= MIN_CORR_SHARE else (0.0, 0.0)


@dataclass
class Model:
    """Everything about the likelihood that does not depend on (x, y, f)."""

    readings: Readings
    sigma_db: float
    corr_m: float
    weights: np.ndarray  # robust weight of each (whitened) detected row
    use_floor_coefs: bool
    whiten: bool = False
    n_bounds: tuple = N_BOUNDS
    corr_share: float = 1.0  # part of sigma^2 correlated over corr_m; the rest is a nugget

    @property
    def whiten_m(self):
        """Correlation distance the residuals are whitened with (0: working independence)."""
        return self.corr_m if self.whiten else 0.0

    @property
    def n_theta(self):
        return self.readings.n_groups + (propagation.N_FLOOR_COEFS if self.use_floor_coefs else 0) + 1

    def fixed_columns(self, rd, tx_floor):
        """Columns of theta other than n: group intercepts, then minus the floor regressors."""
        cols = [np.eye(rd.n_groups)[rd.group]]
        if self.use_floor_coefs:
            cols.append(-propagation.floor_columns(rd.floor, tx_floor, rd.indoor))
        return np.hstack(cols)


def _grid_chunks(n_cells, n_readings):
    step = max(1, _CHUNK_ELEMS // max(n_readings, 1))
    return [slice(i, min(i + step, n_cells)) for i in range(0, n_cells, step)]


def profile_grid(model, cell_x_m, cell_y_m, tx_floor, tx_z_m):
    """Profiled log-likelihood of each candidate cell for an emitter on ``tx_floor``.

    Returns
    -------
    loglik : ndarray, shape (n_cells,)
    theta : ndarray, shape (n_cells, n_theta)
        Closed-form (P0..., A, B, n) per cell, with n held inside ``model.n_bounds``.
    """
    rd_all = model.readings
    det = rd_all.detected
    rd, rc = rd_all.subset(det), rd_all.subset(~det)
    sigma = max(model.sigma_db, MIN_SIGMA_DB)
    rho = ar1_rho(rd.x_m, rd.y_m, model.whiten_m)
    sw = np.sqrt(model.weights)

    F = whiten(model.fixed_columns(rd, tx_floor).T, rho, sw).T
    yw = whiten(rd.rssi_dbm, rho, sw)
    q = F.shape[1]
    # A floor regressor that is zero for every reading (no reading off the emitter's floor)
    # would make the normal equations singular; a tiny ridge pins its coefficient at 0.
    ridge = np.zeros(q)
    ridge[rd.n_groups:] = _RIDGE * max(1.0, np.trace(F.T @ F))
    gff = F.T @ F + np.diag(ridge)
    fy, yy = F.T @ yw, float(yw @ yw)
    gff_inv = np.linalg.inv(gff)
    n_lo, n_hi = model.n_bounds

    n_cells = len(cell_x_m)
    loglik = np.empty(n_cells)
    theta = np.empty((n_cells, q + 1))
    for sl in _grid_chunks(n_cells, len(rd.x_m) + len(rc.x_m)):
        cx, cy = cell_x_m[sl, None], cell_y_m[sl, None]
        lw = whiten(_distance_term_grid(rd, cell_x_m[sl], cell_y_m[sl], tx_z_m), rho, sw)
        lf, ll, ly = lw @ F, np.einsum("ij,ij->i", lw, lw), lw @ yw
        # Normal equations of (fixed columns, l) per cell, solved in one batch.
        gram = np.empty((len(ll), q + 1, q + 1))
        gram[:, :q, :q] = gff
        gram[:, :q, q] = gram[:, q, :q] = lf
        # The tiny ridge keeps readings from one spot (l constant, collinear with P0) solvable.
        gram[:, q, q] = ll * (1.0 + 1e-12)
        rhs = np.concatenate([np.broadcast_to(fy, (len(ll), q)), ly[:, None]], axis=1)
        th = np.linalg.solve(gram, rhs[..., None])[..., 0]
        rss = yy - np.einsum("ij,ij->i", rhs, th)
        # Where the free exponent leaves its plausible range, hold it at the bound.
        out = (th[:, q] < n_lo) | (th[:, q] > n_hi)
        if np.any(out):
            nb = np.clip(th[out, q], n_lo, n_hi)
            rest_rhs = fy[None, :] - nb[:, None] * lf[out]
            rest = rest_rhs @ gff_inv
            yy_b = yy - 2.0 * nb * ly[out] + nb * nb * ll[out]
            rss[out] = yy_b - np.einsum("ij,ij->i", rest_rhs, rest)
            th[out, :q], th[out, q] = rest, nb
        ll_cell = -0.5 * np.maximum(rss, 0.0) / sigma**2 + p0_wall(th[:, :rd.n_groups])
        if len(rc.x_m):
            ll_cell += censored_loglik(model, rc, cx, cy, tx_floor, tx_z_m, th, sigma)
        loglik[sl], theta[sl] = ll_cell, th
    return loglik, theta


def p0_wall(p0_dbm):
    """Log-prior of profiled P0 values: 0 below `P0_MAX_DBM`, a steep Gaussian wall above.

    The grid's closed form cannot hold P0 at a bound; without the wall,
    shadowing can make a far cell with an impossible P0 and a steep n fit best.
    """
    excess = np.maximum(np.asarray(p0_dbm) - P0_MAX_DBM, 0.0)
    return -0.5 * np.sum(excess**2, axis=-1) / P0_WALL_DB**2


def censored_share(model):
    """Weight of each non-detection: its effective share in a correlated run."""
    rd = model.readings
    share = effective_share(rd.x_m, rd.y_m, model.whiten_m)
    return share[~rd.detected]


def censored_loglik(model, rc, cx, cy, tx_floor, tx_z_m, theta, sigma):
    l = _distance_term_grid(rc, np.ravel(cx), np.ravel(cy), tx_z_m)
    mu = theta[:, :-1] @ model.fixed_columns(rc, tx_floor).T + theta[:, -1:] * l
    c = special.log_ndtr(rc.censor_sign() * (rc.noise_floor_dbm - mu) / sigma)
    # The Student-t cap (psi(sqrt(-2 log Phi))^2 = nu log(1 - 2 log Phi / nu)) keeps one
    # missed detection next to the emitter from vetoing it.
    c *= -2.0 / STUDENT_NU
    np.log1p(c, out=c)
    return (-0.5 * STUDENT_NU) * (c @ censored_share(model))


def residuals(model, params, tx_floor, tx_z_m, robust=True):
    """Standardised residual vector of (x, y, theta) for `scipy.optimize.least_squares`.

    Detected readings give whitened residuals / sigma; non-detections give
    sqrt(-2 log Phi(z)) times the square root of their share, so that the sum
    of squares is -2 log-likelihood.  With ``robust`` each is passed through
    `student_psi`.
    """
    rd_all = model.readings
    det = rd_all.detected
    rd, rc = rd_all.subset(det), rd_all.subset(~det)
    sigma = max(model.sigma_db, MIN_SIGMA_DB)
    x, y, th = params[0], params[1], params[2:]
    mu = model.fixed_columns(rd, tx_floor) @ th[:-1] + th[-1] * propagation.distance_term(
        propagation.distance_m(rd.x_m, rd.y_m, rd.z_m, x, y, tx_z_m))
    r = whiten(rd.rssi_dbm - mu, ar1_rho(rd.x_m, rd.y_m, model.whiten_m)) / sigma
    parts = [student_psi(r) if robust else r]
    if len(rc.x_m):
        mu_c = model.fixed_columns(rc, tx_floor) @ th[:-1] + th[-1] * propagation.distance_term(
            propagation.distance_m(rc.x_m, rc.y_m, rc.z_m, x, y, tx_z_m))
        c = np.sqrt(-2.0 * special.log_ndtr(rc.censor_sign() * (rc.noise_floor_dbm - mu_c) / sigma))
        parts.append((student_psi(c) if robust else c) * np.sqrt(censored_share(model)))
    return np.concatenate(parts)


def refine(model, start, tx_floor, tx_z_m, extra=None, robust=True):
    """Continuous ML from a grid start; returns (params, covariance, temper).

    ``extra(params, robust) -> residuals`` appends further independent
    evidence (bearings).  The covariance and the tempering factor are those
    of `m_estimate_covariance`.
    """
    n_groups = model.readings.n_groups
    lo = np.full(len(start), -np.inf)
    hi = np.full(len(start), np.inf)
    lo[-1], hi[-1] = model.n_bounds
    hi[2:2 + n_groups] = P0_MAX_DBM
    if model.use_floor_coefs:
        # A slab attenuates; it never amplifies.
        lo[2 + n_groups:2 + n_groups + propagation.N_FLOOR_COEFS] = 0.0
    start = np.clip(start, lo, hi)

    def fun(p, rob=robust):
        r = residuals(model, p, tx_floor, tx_z_m, robust=rob)
        return r if extra is None else np.concatenate([r, extra(p, rob)])

    res = optimize.least_squares(fun, start, bounds=(lo, hi), method="trf", x_scale="jac",
                                 xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=400)
    cov, temper = m_estimate_covariance(model, lambda p: fun(p, False), res.x, robust)
    return res.x, cov, temper


def whiten_transpose(u, rho):
    """Transpose of `whiten` along axis 0: (T^T u)_j = u_j / s_j - rho_{j+1} u_{j+1} / s_{j+1}."""
    s = np.ones(len(rho))
    s[1:] = np.sqrt(1.0 - rho[1:] ** 2)
    v = u / s[:, None]
    out = v.copy()
    out[:-1] -= rho[1:, None] * v[1:]
    return out


def _correlation_times(x_m, y_m, corr_m, a):
    """exp(-|p_i - p_j| / corr_m) @ a, over the pairs closer than 8 corr_m (exp(-8) = 3e-4)."""
    tree = spatial.cKDTree(np.column_stack([x_m, y_m]))
    pairs = tree.sparse_distance_matrix(tree, 8.0 * corr_m, output_type="coo_matrix")
    corr = sparse.csr_matrix((np.exp(-pairs.data / corr_m), (pairs.row, pairs.col)),
                             shape=(len(x_m), len(x_m)))
    return corr @ a


def m_estimate_covariance(model, fun, params, robust):
    """Covariance of the estimate from the standardised residuals ``fun(params)``.

    The estimator treats the rows as independent (working independence) or
    whitens them as AR(1) along the walk, while the shadowing is a 2-D field
    correlated over ``corr_m``.  So the covariance is the sandwich
    ``A^-1 M A^-1`` with the bread ``A = G^T G`` of the rows the estimator
    used and, for the detected rows, the meat ``M = (T^T G_w)^T R (T^T G_w)``,
    ``R_ij = exp(-|p_i - p_j| / corr_m)``, T the whitening (identity under
    working independence; ``M = A`` when R is exactly what the estimator
    assumed).  Non-detections and bearings enter both as independent rows.
    With the Student-t loss, rows with |r| > 3 are left out and the scalar
    ``c = mean(phi^2) / mean(phi')^2`` of ``phi(r) = r / (1 + r^2 / nu)``
    accounts for the loss (c = 1 for least squares).

    Returns
    -------
    cov : ndarray
    temper : float
        ``tr(A^-1) / tr(cov)`` over (x, y): the factor that scales the
        working log-likelihood into one as wide as the covariance (the
        effective sample size share of the readings).
    """
    r = fun(params)
    step = 1e-6 * np.maximum(np.abs(params), 1.0)
    g = np.empty((len(r), len(params)))
    for k in range(len(params)):
        dp = np.zeros(len(params))
        dp[k] = step[k]
        g[:, k] = (fun(params + dp) - fun(params - dp)) / (2.0 * step[k])
    c = 1.0
    if robust:
        inlier = np.abs(r) < 3.0
        g[~inlier] = 0.0
        ri = r[inlier]
        u = 1.0 + ri * ri / STUDENT_NU
        c = np.mean((ri / u) ** 2) / np.mean((1.0 - ri * ri / STUDENT_NU) / u**2) ** 2
    bread = g.T @ g
    meat = bread
    rd = model.readings.subset(model.readings.detected)
    if model.corr_m > 0:
        n_det = len(rd.x_m)
        rho = ar1_rho(rd.x_m, rd.y_m, model.whiten_m)
        wg = whiten_transpose(g[:n_det], rho)
        # R = share exp(-d / corr_m) + (1 - share) I: the nugget decorrelates at once.
        share = model.corr_share
        meat = (share * (wg.T @ _correlation_times(rd.x_m, rd.y_m, model.corr_m, wg))
                + (1.0 - share) * (wg.T @ wg) + g[n_det:].T @ g[n_det:])
    a_inv = np.linalg.pinv(bread)
    cov = c * a_inv @ meat @ a_inv
    return cov, float(np.trace(a_inv[:2, :2]) / max(np.trace(cov[:2, :2]), 1e-300))
