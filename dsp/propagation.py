"""Log-distance path loss in three dimensions, with attenuation through floors.

The mean received power of a reading at distance ``d`` from the emitter is

    mu = P0 - 10 n log10(max(d, d_min)) - A f1(k) - B f2(k)

with ``P0`` the power at 1 m (dBm), ``n`` the path-loss exponent, ``k`` the
number of floor slabs between an in-building reading and the emitter, and
``f1(k) = [k >= 1]``, ``f2(k) = max(k - 1, 0)``: the first slab costs ``A`` dB
and every further slab ``B`` dB.  ITU-R P.1238 and Seidel & Rappaport both
measured that the first slab costs far more than the next ones, so the loss is
not linear in the number of floors; ``A`` and ``B`` are estimated from the data
like ``P0`` and ``n``, never fixed to one building's values.

Street readings (floor 0) see the emitter through a facade, not through slabs:
their loss is the 3-D distance term alone, and the facade loss is part of
``P0``.  A floor-0 reading at the foot of a stairwell climb (within
`STAIRWELL_RADIUS_M` of readings on upper floors) is the ground floor
indoors, and counts its slabs.  Shadowing around the mean is log-normal (Gaussian in dB).
"""

import numpy as np

#: Storey height used to turn a floor number into a height (m).
FLOOR_HEIGHT_M = 3.0
#: Height of the handheld above the floor it is carried on (m).
RX_ABOVE_FLOOR_M = 1.5
#: Height of a rack above the floor it stands on (m).
TX_ABOVE_FLOOR_M = 1.0
#: Distances are clamped here: the far-field model means nothing closer.
MIN_DISTANCE_M = 1.0
#: A floor-0 reading this close to readings on upper floors is the foot of their stairwell (m).
STAIRWELL_RADIUS_M = 5.0
#: Number of floor-attenuation coefficients (A for the first slab, B per further slab).
N_FLOOR_COEFS = 2


def floor_height_m(floor, above_m):
    """Height (m) of a point ``above_m`` over the given floor (0 = street level)."""
    return np.asarray(floor, dtype=float) * FLOOR_HEIGHT_M + above_m


def distance_m(x_m, y_m, z_m, tx_x_m, tx_y_m, tx_z_m):
    """3-D distance (m), broadcast over the inputs and clamped at `MIN_DISTANCE_M`."""
    d2 = (x_m - tx_x_m) ** 2 + (y_m - tx_y_m) ** 2 + (z_m - tx_z_m) ** 2
    return np.maximum(np.sqrt(d2), MIN_DISTANCE_M)


def distance_term(d_m):
    """The regressor of ``n``: ``-10 log10(d)`` (dB per unit exponent)."""
    return -10.0 * np.log10(d_m)


def indoor_mask(x_m, y_m, rx_floor, radius_m=None):
    """Which readings were taken inside the building.

    Readings above the street (floor >= 1) are; so is a floor-0 reading within
    ``radius_m`` (default `STAIRWELL_RADIUS_M`) of one of them: the foot of a
    stairwell climb is the ground floor indoors, not the street.
    """
    rx = np.asarray(rx_floor, dtype=float)
    up = np.isfinite(rx) & (rx >= 1)
    indoor = up.copy()
    ground = np.flatnonzero(np.isfinite(rx) & (rx == 0))
    if len(ground) and np.any(up):
        r = STAIRWELL_RADIUS_M if radius_m is None else radius_m
        d = np.hypot(x_m[ground, None] - x_m[None, up], y_m[ground, None] - y_m[None, up])
        indoor[ground] = d.min(axis=1) <= r
    return indoor


def slabs_between(rx_floor, tx_floor, indoor=None):
    """Number of floor slabs between each reading and an emitter on ``tx_floor``.

    Indoor readings (default: those above the street, see `indoor_mask`) see
    ``|floor - tx_floor|`` slabs; street readings and readings without a floor
    (NaN) see none.
    """
    rx = np.asarray(rx_floor, dtype=float)
    if indoor is None:
        indoor = np.isfinite(rx) & (rx >= 1)
    return np.where(indoor & np.isfinite(rx), np.abs(np.nan_to_num(rx) - tx_floor), 0.0)


def floor_columns(rx_floor, tx_floor, indoor=None):
    """Regressors ``(f1(k), f2(k))`` of the floor coefficients, shape (N, 2)."""
    k = slabs_between(rx_floor, tx_floor, indoor)
    return np.column_stack([(k >= 1).astype(float), np.maximum(k - 1.0, 0.0)])


def mean_rssi_dbm(d_m, p0_dbm, n_exp, floor_cols=None, floor_coefs_db=None):
    """Mean received power (dBm) of the log-distance model with floor loss.

    Parameters
    ----------
    d_m : array_like
        3-D distance to the emitter (m), already clamped.
    p0_dbm : float or array_like
        Power at 1 m (dBm).
    n_exp : float
        Path-loss exponent.
    floor_cols : ndarray, shape (N, 2), optional
        Output of `floor_columns`.
    floor_coefs_db : array_like, shape (2,), optional
        Loss of the first slab and of each further slab (dB).

    Examples
    --------
    >>> float(mean_rssi_dbm(100.0, -30.0, 3.0))
    -90.0
    """
    mu = p0_dbm + n_exp * distance_term(d_m)
    if floor_cols is not None and floor_coefs_db is not None:
        mu = mu - floor_cols @ np.asarray(floor_coefs_db, dtype=float)
    return mu
