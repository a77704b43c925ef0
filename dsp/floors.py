"""The emitter's floor, with a probability per floor.

Each candidate floor ``f`` is a hypothesis with its own emitter height and its
own number of slabs between the emitter and every in-building reading (a
stairwell walk); `dsp.rss.profile_grid` gives the profiled log-likelihood of
each position under it.  With a uniform prior over floors and positions, the
floor posterior is the likelihood summed over the grid:

    P(f | data) = sum_c exp(L(c, f)) / sum_{f', c} exp(L(c, f')).
"""

import numpy as np
from scipy import special

#: Without readings above the street the rack may still be upstairs: consider this many floors.
DEFAULT_TOP_FLOOR = 5


def candidate_floors(rx_floor):
    """Floors the emitter may be on, given the floors the readings were taken on.

    One floor above the highest reading (a stairwell may stop short of the
    top) and at least up to `DEFAULT_TOP_FLOOR`.

    Examples
    --------
    >>> candidate_floors(np.array([0.0, 2.0, 7.0]))
    array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    """
    rx = np.asarray(rx_floor, dtype=float)
    top = int(np.nanmax(rx)) + 1 if np.any(np.isfinite(rx)) else 0
    return np.arange(0, max(top, DEFAULT_TOP_FLOOR) + 1)


def floor_posterior(loglik_by_floor):
    """Posterior of each floor and joint posterior over (floor, cell).

    Parameters
    ----------
    loglik_by_floor : ndarray, shape (n_floors, n_cells)

    Returns
    -------
    floor_prob : ndarray, shape (n_floors,)
    joint : ndarray, shape (n_floors, n_cells), sums to 1
    """
    ll = np.asarray(loglik_by_floor, dtype=float)
    joint = np.exp(ll - special.logsumexp(ll))
    return joint.sum(axis=1), joint


#: Spread (dB) of one landing's level about the slab model: the landing-to-landing variation
#: of a climb (where on the landing, doors, the stairwell's own walls), 4-6 dB in the field.
LANDING_SIGMA_DB = 5.0
#: Floors with at least this many detected readings make a landing of a climb.
MIN_LANDING_READINGS = 1


def landing_levels(rx_floor, rssi_dbm):
    """Median detected power (dBm) per floor, and the floors read but never detected.

    Returns
    -------
    levels : dict of int -> float
    unheard : list of int
    """
    fl = np.asarray(rx_floor, dtype=float)
    p = np.asarray(rssi_dbm, dtype=float)
    levels, unheard = {}, []
    for f in np.unique(fl[np.isfinite(fl)]):
        mine = p[fl == f]
        det = mine[np.isfinite(mine)]
        if len(det) >= MIN_LANDING_READINGS:
            levels[int(f)] = float(np.median(det))
        else:
            unheard.append(int(f))
    return levels, unheard


def climb_floor_posterior(levels, candidates, *, unheard=(), noise_floor_dbm=None,
                          sigma_db=LANDING_SIGMA_DB):
    """Probability of each candidate floor from a climb's landing levels.

    For an emitter on floor ``h`` a landing on floor ``f`` reads
    ``c - A [k >= 1] - B max(k - 1, 0)``, ``k = |f - h|`` (`dsp.propagation`:
    the first slab costs far more than the next), with ``c`` free and
    ``A >= B >= 0`` fitted per hypothesis by non-negative least squares; each
    landing scatters about it by ``sigma_db``.  A landing read but never heard
    says its level was below ``noise_floor_dbm``.  With a uniform prior,
    ``P(h) ~ exp(-RSS_h / (2 sigma^2)) prod Phi((nf - mu_f) / sigma)``.

    Returns
    -------
    ndarray, shape (len(candidates),)

    Examples
    --------
    >>> p = climb_floor_posterior({0: -75.0, 1: -70.0, 2: -50.0, 3: -64.0, 4: -70.0}, range(6))
    >>> int(np.argmax(p))
    2
    """
    from scipy import optimize

    floors = np.array(sorted(levels), dtype=float)
    y = np.array([levels[int(f)] for f in floors])
    cand = np.asarray(list(candidates), dtype=int)
    ll = np.empty(len(cand))
    for i, h in enumerate(cand):
        k = np.abs(floors - h)
        cols = np.column_stack([(k >= 1).astype(float), np.maximum(k - 1.0, 0.0)])
        # y = c - A f1 - B f2 with A >= B >= 0 (a further slab never costs more than the first):
        # A = B + D, and c = y_max + s, so that every unknown is non-negative.
        top = y.max()
        design = np.column_stack([np.ones(len(y)), -(cols[:, 0] + cols[:, 1]), -cols[:, 0]])
        (s, b, dd), rnorm = optimize.nnls(design, y - top)
        c, a = top + s, b + dd
        ll[i] = -0.5 * rnorm**2 / sigma_db**2
        if len(unheard) and noise_floor_dbm is not None:
            ku = np.abs(np.asarray(unheard, float) - h)
            mu = c - a * (ku >= 1) - b * np.maximum(ku - 1.0, 0.0)
            ll[i] += float(np.sum(special.log_ndtr((noise_floor_dbm - mu) / sigma_db)))
    ll -= special.logsumexp(ll)
    return np.exp(ll)
