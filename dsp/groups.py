"""Targets that are one rack: grouping coincident estimates and their joint estimate.

A SIM-box rack holds many SIMs, each a target of its own, all at one place.
Two estimates coincide when their difference is consistent with zero given
both covariances, ``D^T (C_a + C_b)^-1 D <= chi2_2(0.99)``; coincidence is
made transitive (connected components).  The group's position is then
estimated from all its readings at once: one position and path-loss exponent,
one P0 per SIM (`dsp.locate.estimate_position` with ``group``).
"""

import numpy as np
from dsp import ellipse, locate

#: Gate of the coincidence test: 99 % of the chi-square of 2 degrees of freedom.
GATE_CHI2 = float(ellipse.chi2_2dof_quantile(0.99))


def coincident_groups(xy_m, cov_m2, *, gate_chi2=GATE_CHI2):
    """Indices of estimates that coincide, as lists of two or more.

    Parameters
    ----------
    xy_m : array_like, shape (K, 2)
    cov_m2 : array_like, shape (K, 2, 2)

    Examples
    --------
    >>> coincident_groups([[0, 0], [1, 0], [50, 0]], [np.eye(2) * 4] * 3)
    [[0, 1]]
    """
    xy = np.asarray(xy_m, float)
    cov = np.asarray(cov_m2, float)
    k = len(xy)
    parent = list(range(k))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in range(k):
        for b in range(a + 1, k):
            diff = xy[a] - xy[b]
            # pinv: noise-free estimates have (near) zero covariance.
            if diff @ np.linalg.pinv(cov[a] + cov[b], rcond=1e-12, hermitian=True) @ diff <= gate_chi2:
                parent[root(b)] = root(a)
    members = {}
    for i in range(k):
        members.setdefault(root(i), []).append(i)
    return [m for m in members.values() if len(m) > 1]


def joint_estimate(parts, **kwargs):
    """One estimate from the readings of several SIMs of one rack.

    Parameters
    ----------
    parts : sequence of dict
        Per SIM: ``x_m``, ``y_m``, ``rssi_dbm`` and optionally ``floor`` and
        ``time_s`` arrays (readings in walk order; with ``time_s`` everywhere
        the readings of all SIMs are put in one time order).
    **kwargs
        Passed on to `dsp.locate.estimate_position`.

    Returns
    -------
    dsp.locate.Estimate
        ``p0_dbm`` holds one P0 per part, in order.
    """
    keys = ["x_m", "y_m", "rssi_dbm"] + (["floor"] if all(p.get("floor") is not None for p in parts)
                                         else [])
    cat = {key: np.concatenate([np.asarray(p[key], float) for p in parts]) for key in keys}
    group = np.concatenate([np.full(len(p["x_m"]), i) for i, p in enumerate(parts)])
    if all(p.get("time_s") is not None for p in parts):
        # SIMs of one rack share the shadowing of each spot: in time order, readings of
        # different SIMs at one spot are neighbours, as the whitening (whiten=True) needs.
        order = np.argsort(np.concatenate([np.asarray(p["time_s"], float) for p in parts]),
                           kind="stable")
        cat = {key: v[order] for key, v in cat.items()}
        group = group[order]
    if "floor" in cat:
        kwargs.setdefault("floor", cat["floor"])
    return locate.estimate_position(cat["x_m"], cat["y_m"], cat["rssi_dbm"], group=group, **kwargs)
