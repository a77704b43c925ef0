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
