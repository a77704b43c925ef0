"""Floors from stairwell walks; racks of SIMs grouped and estimated jointly."""

import numpy as np
import pytest

from dsp import groups
from dsp.locate import Grid, estimate_position

STAIRS = (3.0, -2.0)


def stairwell_walk(synth, floors=range(1, 7), per_floor=5):
    """Street walk (floor 0) around the block, then up the stairwell at STAIRS."""
    x, y = synth.square_walk(100.0, 2.0)
    sf = np.repeat(np.asarray(list(floors), float), per_floor)
    return (np.concatenate([x, np.full(len(sf), STAIRS[0])]),
            np.concatenate([y, np.full(len(sf), STAIRS[1])]),
            np.concatenate([np.zeros(len(x)), sf]))


def stairwell_rssi(x, y, floor, ex, ey, tx_floor, *, first_db=14.0, next_db=5.0):
    """Path loss in 3-D plus 14 dB for the first slab and 5 dB for each further one.

    Readings in the stairwell (at STAIRS) are indoors on every floor, the ground floor too.
    """
    dz = floor * 3.0 + 1.5 - (tx_floor * 3.0 + 1.0)
    d = np.maximum(np.sqrt((x - ex) ** 2 + (y - ey) ** 2 + dz**2), 1.0)
    in_stairs = (x == STAIRS[0]) & (y == STAIRS[1])
    k = np.where(in_stairs, np.abs(floor - tx_floor), 0.0)
    return -30.0 - 30.0 * np.log10(d) - first_db * (k >= 1) - next_db * np.maximum(k - 1, 0)


def test_noise_free_stairwell_recovers_floor_and_slab_losses(synth):
    x, y, fl = stairwell_walk(synth)
    grid = Grid.around(x, y, cells=32)
    est = estimate_position(x, y, stairwell_rssi(x, y, fl, 15.0, 10.0, 4), floor=fl, grid=grid)
    assert est.floor == 4
    assert est.floor_prob[4] == pytest.approx(1.0)
    assert (est.x_m, est.y_m) == pytest.approx((15.0, 10.0), abs=1e-6)
    assert est.floor_loss_db == pytest.approx((14.0, 5.0), abs=1e-6)
    assert sum(est.floor_prob.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("tx_floor", [1, 4, 6])
def test_noisy_stairwell_walk_finds_the_floor(synth, tx_floor):
    rng = np.random.default_rng(30 + tx_floor)
    x, y, fl = stairwell_walk(synth)
    grid = Grid.around(x, y, cells=24)
    hits = 0
    for _ in range(4):
        p = stairwell_rssi(x, y, fl, 15.0, 10.0, tx_floor) + rng.normal(0, 5.0, len(x))
        est = estimate_position(x, y, p, floor=fl, grid=grid, corr_m=0.0)
        hits += est.floor == tx_floor
        assert est.floor_prob[tx_floor] > 0.2
    assert hits >= 3


@pytest.mark.parametrize("tx_floor", [0, 2])
def test_climb_from_the_ground_floor_indoors(synth, tx_floor):
    """The climb starts on floor 0 inside: its slabs count, unlike the street's."""
    x, y, fl = stairwell_walk(synth, floors=range(0, 5))
    grid = Grid.around(x, y, cells=32)
    est = estimate_position(x, y, stairwell_rssi(x, y, fl, 15.0, 10.0, tx_floor), floor=fl,
                            grid=grid)
    assert est.floor == tx_floor
    assert (est.x_m, est.y_m) == pytest.approx((15.0, 10.0), abs=1e-6)
    assert est.floor_loss_db == pytest.approx((14.0, 5.0), abs=1e-6)


def test_floor_is_none_without_floor_readings(synth):
    x, y = synth.square_walk(100.0, 4.0)
    est = estimate_position(x, y, synth.model_rssi(x, y, 5.0, 5.0, -30.0, 3.0))
    assert est.floor is None and est.floor_prob is None


def test_coincident_estimates_group_and_share_a_position(synth):
    rng = np.random.default_rng(40)
    x, y = synth.square_walk(120.0, 2.0)
    truths = {"A": (10.0, 20.0, -20.0), "B": (10.0, 20.0, -32.0), "C": (-45.0, -30.0, -25.0)}
    parts, ests = [], []
    for ex, ey, p0 in truths.values():
        p = synth.model_rssi(x, y, ex, ey, p0, 3.0) + rng.normal(0, 4.0, len(x))
        parts.append({"x_m": x, "y_m": y, "rssi_dbm": p})
        ests.append(estimate_position(x, y, p, corr_m=0.0, grid=Grid.around(x, y, cells=32)))
    found = groups.coincident_groups([[e.x_m, e.y_m] for e in ests], [e.cov_m2 for e in ests])
    assert found == [[0, 1]]
    joint = groups.joint_estimate(parts[:2], corr_m=0.0)
    assert np.trace(joint.cov_m2) < min(np.trace(ests[0].cov_m2), np.trace(ests[1].cov_m2))
    assert np.hypot(joint.x_m - 10.0, joint.y_m - 20.0) < 3.0 * np.sqrt(np.trace(joint.cov_m2))
    assert joint.p0_dbm[0] - joint.p0_dbm[1] == pytest.approx(12.0, abs=2.0)


def test_joint_estimate_noise_free_in_time_order(synth):
    x, y = synth.square_walk(100.0, 4.0)
    t = np.arange(len(x), dtype=float)
    parts = [{"x_m": x, "y_m": y, "time_s": t, "rssi_dbm": synth.model_rssi(x, y, -5.0, 12.0, p0, 2.8)}
             for p0 in (-18.0, -27.0, -35.0)]
    est = groups.joint_estimate(parts)
    assert (est.x_m, est.y_m) == pytest.approx((-5.0, 12.0), abs=1e-6)
    np.testing.assert_allclose(est.p0_dbm, [-18.0, -27.0, -35.0], atol=1e-6)
