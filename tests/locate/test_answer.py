"""THE answer (`dsp.answer`): floors from climbs, unknown floors, the noise floor, racks, scale."""

import csv
import tracemalloc

import numpy as np
import pytest

from dsp import answer, floors
from host.app.estimator import estimate_view
from host.commands.locate import locate_file

SLAB_LOSS_DB = (13.0, 19.0, 24.0, 27.0, 29.0, 31.0, 33.0)  # cumulative, 1..7 slabs (field facts)


def climb_levels(rng, tx_floor, n_floors, landing_sigma_db):
    """Landing levels of a stairwell climb: cumulative slab loss plus landing-to-landing scatter."""
    k = np.abs(np.arange(n_floors) - tx_floor)
    loss = np.array([0.0, *SLAB_LOSS_DB])[k]
    return {f: -45.0 - loss[f] + rng.normal(0.0, landing_sigma_db) for f in range(n_floors)}


def test_climb_with_4_to_6_db_landing_variation_names_the_floor():
    """Each landing's level off the slab model by 4-6 dB (one draw per landing, the hard case):
    adjacent floors 13 dB apart are then confused about 5 % of the time at best."""
    rng = np.random.default_rng(7)
    hits = trials = 0
    for _ in range(400):
        n_floors = int(rng.integers(4, 9))
        tx = int(rng.integers(0, n_floors))
        levels = climb_levels(rng, tx, n_floors, rng.uniform(4.0, 6.0))
        prob = floors.climb_floor_posterior(levels, range(n_floors))
        hits += int(np.argmax(prob)) == tx
        trials += 1
    assert hits / trials >= 0.93


def test_two_equal_landings_above_a_weak_one_never_answer_the_weak_one():
    # The case: floors 2 and 3 read -49.6 and -49.9 dBm, floor 1 -59.6 dBm.
    prob = floors.climb_floor_posterior({0: -70.0, 1: -59.6, 2: -49.6, 3: -49.9, 4: -61.0}, range(6))
    assert int(np.argmax(prob)) in (2, 3)
    assert prob[1] < 0.05
    assert prob[2] + prob[3] > 0.8


def street_walk(rng, n=400, tx=(20.0, 30.0), sigma_db=4.0, p0=-30.0, n_exp=3.0):
    t = np.linspace(0, 2 * np.pi, n)
    x, y = 80 * np.cos(t), 80 * np.sin(t)
    d = np.hypot(np.hypot(x - tx[0], y - tx[1]), 4.0)
    return x, y, p0 - 10 * n_exp * np.log10(d) + rng.normal(0, sigma_db, n)


def test_street_readings_alone_leave_the_floor_unknown():
    rng = np.random.default_rng(1)
    x, y, p = street_walk(rng)
    ans = answer.locate_target(x, y, p, floor=np.zeros(len(x)))
    assert ans.floor is None and not ans.floor_known
    probs = np.array(list(ans.floor_prob.values()))
    assert np.allclose(probs, 1.0 / len(probs))
    assert ans.estimate.floor is None


def test_walk_and_climb_decide_the_floor_and_estimate_agrees():
    rng = np.random.default_rng(3)
    x, y, p = street_walk(rng)
    tx_floor = 3
    cf = np.repeat(np.arange(0, 7), 4).astype(float)
    loss = np.array([0.0, *SLAB_LOSS_DB])[np.abs(cf - tx_floor).astype(int)]
    cp = -40.0 - loss + np.repeat(rng.normal(0, 5.0, 7), 4) + rng.normal(0, 1.0, len(cf))
    cx, cy = 25.0 + rng.normal(0, 1, len(cf)), 22.0 + rng.normal(0, 1, len(cf))
    ans = answer.locate_target(np.r_[x, cx], np.r_[y, cy], np.r_[p, cp],
                               floor=np.r_[np.zeros(len(x)), cf])
    assert ans.floor_known and ans.floor == tx_floor
    assert ans.estimate.floor == ans.floor and ans.estimate.floor_prob == ans.floor_prob
    assert max(ans.floor_prob, key=ans.floor_prob.get) == ans.floor


def test_readings_at_the_noise_floor_do_not_send_the_answer_kilometres_away():
    """A long walk whose far readings sit at the receiver's floor: the flat tail is noise."""
    rng = np.random.default_rng(5)
    t = np.linspace(0, 1, 1500)
    x = 2000 * np.cos(9 * t) * t
    y = 2000 * np.sin(9 * t) * t
    tx = (30.0, -20.0)
    d = np.hypot(np.hypot(x - tx[0], y - tx[1]), 10.0)
    signal = -20 - 35 * np.log10(d) + rng.normal(0, 6, len(x))
    floor_dbm = -95.0
    p = 10 * np.log10(10 ** (signal / 10) + 10 ** ((floor_dbm + rng.normal(0, 1, len(x))) / 10))
    assert np.mean(p < floor_dbm + 5) > 0.6
    ans = answer.locate_target(x, y, p)
    err = np.hypot(ans.x_m - tx[0], ans.y_m - tx[1])
    assert err < 60.0
    assert ans.n_censored > 0.5 * len(x)


def test_flat_readings_are_refused_in_one_line():
    x = np.linspace(0, 100, 50)
    with pytest.raises(ValueError, match="same power"):
        answer.locate_target(x, np.zeros(50), np.full(50, -70.0))


def test_floors_out_of_range_are_refused():
    rng = np.random.default_rng(1)
    x, y, p = street_walk(rng, n=60)
    with pytest.raises(ValueError, match="floors"):
        answer.locate_target(x, y, p, floor=np.full(60, -300.0))


def rack(rng, n_sims, tx=(15.0, -10.0), shared_sigma_db=5.0, n=300):
    """SIMs of one rack: one position and shared shadowing, each its own power."""
    t = np.linspace(0, 2 * np.pi, n)
    x, y = 70 * np.cos(t) + rng.normal(0, 1, n), 60 * np.sin(t) + rng.normal(0, 1, n)
    d = np.hypot(np.hypot(x - tx[0], y - tx[1]), 4.0)
    shade = np.convolve(rng.normal(0, shared_sigma_db * 2.2, n + 9), np.ones(10) / 10, "valid")
    parts = []
    for k in range(n_sims):
        p = -25 - 8 * k - 30 * np.log10(d) + shade + rng.normal(0, 3.0, n)
        parts.append({"x_m": x, "y_m": y, "rssi_dbm": p, "time_s": t + 0.01 * k})
    return parts, tx


def test_rack_joint_fix_is_at_least_as_good_as_the_strongest_single_sim():
    rng = np.random.default_rng(11)
    joint, best_single = [], []
    for _ in range(8):
        parts, tx = rack(rng, 4)
        # SIM 0 is the strongest: the single-SIM fix an officer would trust most.
        a = answer.locate_target(parts[0]["x_m"], parts[0]["y_m"], parts[0]["rssi_dbm"])
        best_single.append(np.hypot(a.x_m - tx[0], a.y_m - tx[1]))
        j = answer.locate_rack(parts)
        joint.append(np.hypot(j.x_m - tx[0], j.y_m - tx[1]))
        # the offsets are the SIMs' power differences (-8 dB per SIM)
        assert np.allclose(j.extra["offsets_db"], [0, -8, -16, -24], atol=1.5)
    assert np.median(joint) <= 1.1 * np.median(best_single)


def test_a_128_sim_rack_costs_about_what_one_sim_costs():
    rng = np.random.default_rng(2)
    parts, tx = rack(rng, 128, n=200)
    for k, pt in enumerate(parts):
        pt["rssi_dbm"] = pt["rssi_dbm"] + 8 * k - rng.uniform(0, 20)
    one = answer.locate_target(parts[0]["x_m"], parts[0]["y_m"], parts[0]["rssi_dbm"])
    j = answer.locate_rack(parts)
    # the pooled spots are no more rows than one SIM's readings
    assert j.n_used <= len(parts[0]["x_m"])
    assert np.hypot(j.x_m - tx[0], j.y_m - tx[1]) <= max(1.25 * np.hypot(one.x_m - tx[0], one.y_m - tx[1]), 10.0)


def test_many_readings_are_binned_in_bounded_memory():
    rng = np.random.default_rng(4)
    n = 200_000
    t = np.linspace(0, 40 * np.pi, n)
    x, y = 150 * np.cos(t) * (0.5 + t / t[-1]), 150 * np.sin(t) * (0.5 + t / t[-1])
    d = np.hypot(np.hypot(x - 10, y + 5), 4.0)
    p = -30 - 30 * np.log10(d) + rng.normal(0, 6, n)
    tracemalloc.start()
    ans = answer.locate_target(x, y, p, time_s=t)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert ans.n_used <= answer.MAX_ROWS
    assert peak < 400e6
    assert np.hypot(ans.x_m - 10, ans.y_m + 5) < 15.0


def test_cli_and_console_give_the_same_building_and_floor(tmp_path):
    """The same readings through `rfhound locate` and the console's estimator: one answer."""
    rng = np.random.default_rng(9)
    x, y, p = street_walk(rng, tx=(25.0, 25.0))
    cf = np.repeat(np.arange(0, 6), 4).astype(float)
    cp = -42.0 - np.array([0.0, *SLAB_LOSS_DB])[np.abs(cf - 2).astype(int)] + rng.normal(0, 2, len(cf))
    cx, cy = 28.0 + rng.normal(0, 1, len(cf)), 24.0 + rng.normal(0, 1, len(cf))
    xs, ys, ps = np.r_[x, cx], np.r_[y, cy], np.r_[p, cp]
    fl = np.r_[np.zeros(len(x)), cf]
    ts = np.arange(len(xs), dtype=float)
    path = tmp_path / "m.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "target", "rssi_dbm", "x_m", "y_m", "floor"])
        for row in zip(ts, ["T"] * len(xs), ps, xs, ys, fl):
            w.writerow([repr(float(row[0])), row[1], repr(float(row[2])), repr(float(row[3])),
                        repr(float(row[4])), int(row[5])])
    cli = locate_file(str(path))["targets"][0]
    view, error, _ = estimate_view(np.column_stack([xs, ys, ps, fl, ts]), None, 0)
    assert error is None
    assert cli["floor"] == view.floor == 2
    assert cli["floor_prob"]["2"] == pytest.approx(view.floor_prob[2], abs=1e-3)


def test_a_walk_across_longitude_180_is_located_where_it_is(tmp_path):
    """The local frame's origin is the circular mean of the longitudes, not their plain mean."""
    rng = np.random.default_rng(12)
    t = np.linspace(0, 2 * np.pi, 300)
    east, north = 80 * np.cos(t), 80 * np.sin(t)
    m_per_deg_lat = 111_250.0
    m_per_deg_lon = m_per_deg_lat * np.cos(np.radians(52.52))
    lat = 52.52 + north / m_per_deg_lat
    lon = (180.0 + east / m_per_deg_lon + 180.0) % 360.0 - 180.0
    assert lon.min() < -179.99 and lon.max() > 179.99
    d = np.hypot(np.hypot(east - 10, north - 20), 4.0)
    p = -30 - 30 * np.log10(d) + rng.normal(0, 3, len(t))
    path = tmp_path / "dateline.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "target", "rssi_dbm", "lat_deg", "lon_deg"])
        for k in range(len(t)):
            w.writerow([k, "T", repr(float(p[k])), repr(float(lat[k])), repr(float(lon[k]))])
    row = locate_file(str(path))["targets"][0]
    assert abs(row["lat_deg"] - (52.52 + 20 / m_per_deg_lat)) < 15 / m_per_deg_lat
    east_est = ((row["lon_deg"] - 180.0 + 180.0) % 360.0 - 180.0) * m_per_deg_lon
    assert abs(east_est - 10.0) < 15.0


def test_a_saturated_reading_is_a_bound_not_a_level():
    """A saturated reading says "at least this": with it as a level the fit is pulled, as a
    bound it is consistent with the truth and the answer stays where the levels put it."""
    rng = np.random.default_rng(21)
    x, y, p = street_walk(rng, n=300, tx=(20.0, 30.0))
    sat = np.zeros(len(x), dtype=bool)
    near = np.argsort(np.hypot(x - 20.0, y - 30.0))[:6]
    clipped = p.copy()
    clipped[near] = np.minimum(p[near], p[near].min() - 15.0)   # the receiver clipped 15 dB low
    sat[near] = True
    truth = answer.locate_target(x, y, p)
    as_bound = answer.locate_target(x, y, clipped, saturated=sat)
    as_level = answer.locate_target(x, y, clipped)
    err = lambda a: np.hypot(a.x_m - 20.0, a.y_m - 30.0)  # noqa: E731
    assert err(as_bound) < err(as_level)
    assert err(as_bound) < err(truth) + 5.0


def _write_csv(path, rows, flags=None):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "target", "rssi_dbm", "x_m", "y_m"] + (["flags"] if flags else []))
        for k, row in enumerate(rows):
            w.writerow([repr(float(v)) if isinstance(v, float) else v for v in row]
                       + ([flags[k]] if flags else []))


def test_locate_leaves_out_fault_and_stale_rows_and_uncalibrated_ones(tmp_path):
    rng = np.random.default_rng(8)
    x, y, p = street_walk(rng, n=200)
    rows = [(float(k), "T", float(p[k]), float(x[k]), float(y[k])) for k in range(len(x))]
    clean = tmp_path / "clean.csv"
    _write_csv(clean, rows, [""] * len(rows))
    bad = rows + [(500.0, "T", 0.0, 70.0, -70.0), (501.0, "T", -20.0, -70.0, 70.0),
                  (502.0, "T", -95.0, 0.0, 0.0)]
    dirty = tmp_path / "dirty.csv"
    _write_csv(dirty, bad, [""] * len(rows) + ["radio_fault", "position_stale", "uncalibrated"])
    a = locate_file(str(clean))["targets"][0]
    b = locate_file(str(dirty))["targets"][0]
    assert (a["x_m"], a["y_m"], a["floor"]) == (b["x_m"], b["y_m"], b["floor"])
    assert a["ellipse"] == b["ellipse"]
