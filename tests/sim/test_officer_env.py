"""The officer's motion and the sensors the env feeds the handheld's chips."""

import math

import numpy as np
import pymap3d
import pytest

from host.sim.env import make_env
from host.sim.geometry import segment_crossings
from host.sim.world import load_world


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def town():
    world = load_world("old-town")
    env = make_env(world, 3)
    return world, env


def test_walk_takes_length_over_speed(town):
    world, env = town
    o = env.officer
    start = o.end_state()
    t0, t1 = o.end_time_s(), None
    o.walk_path([[start.x_m + 70.0, start.y_m]])
    t1 = o.end_time_s()
    assert t1 - t0 == pytest.approx(70.0 / world.officer.walk_speed_m_s)
    mid = o.state(0.5 * (t0 + t1))
    assert (mid.x_m, mid.y_m) == pytest.approx((start.x_m + 35.0, start.y_m))
    assert mid.heading_deg == pytest.approx(90.0)         # walking east, antenna ahead
    assert o.walked_m(t1 + 5.0) == pytest.approx(70.0)


def test_scan_turns_at_the_scan_rate(town):
    world, env = town
    o = env.officer
    t0, t1 = o.scan()
    assert t1 - t0 == pytest.approx(360.0 / world.officer.scan_rate_deg_s)
    h0 = o.state(t0).heading_deg
    dt = 1.5
    assert (o.state(t0 + dt).heading_deg - h0) % 360.0 == pytest.approx(world.officer.scan_rate_deg_s * dt)


def test_street_routes_never_cut_through_buildings(town):
    world, env = town
    rng = np.random.default_rng(0)
    nodes = list(world.streets.nodes_m.values())
    for _ in range(20):
        a, b = (nodes[i] for i in rng.choice(len(nodes), 2, replace=False))
        route = world.streets.route(a, b)
        for p, q in zip(route[:-1], route[1:]):
            for bld in world.buildings:
                assert segment_crossings(bld.footprint_m, p, q) == (0, 0.0)


def test_stair_climb_reaches_the_floor_indoors_without_gnss(town):
    world, env = town
    o = env.officer
    b = world.building("B1S")
    o.enter(b)
    o.climb_to(3)
    t = o.end_time_s()
    s = o.state(t)
    assert s.building is b and s.floor == 3
    assert s.z_m == pytest.approx(3 * 3.0 + 1.5)
    assert env.position(t)[3] is False
    assert env.position(0.0)[3] is True


def test_barometer_sees_one_storey_as_rho_g_h(town):
    world, env = town
    o = env.officer
    b = world.building("A1N")
    o.enter(b)
    t_ground = o.dwell(60.0)
    o.climb_to(1)
    t_up = o.dwell(60.0)
    ts = np.arange(0.0, 50.0, 0.25)
    dp = np.mean([env.pressure_pa(t_ground[0] + t) - env.pressure_pa(t_up[0] + t) for t in ts])
    # Hydrostatics: dp = rho g dh with air at about 1.22 kg/m3 near sea level.
    assert dp == pytest.approx(1.22 * 9.80665 * 3.0, rel=0.05)


def test_gnss_error_has_the_world_sigma(town):
    world, env = town
    lat0, lon0, alt0 = world.origin
    ts = np.arange(0.0, 3000.0, 1.0)
    east = []
    for t in ts:
        s = env.officer.state(t)
        lat, lon, alt, ok = env.position(t)
        e, n, u = pymap3d.geodetic2enu(lat, lon, alt, lat0, lon0, alt0)
        east.append(e - s.x_m)
    # First-order Gauss-Markov with a 30 s time constant: ~100 independent samples here.
    assert np.std(east) == pytest.approx(world.officer.gnss_sigma_m, rel=0.3)


def test_heading_is_boresight_plus_compass_error(town):
    world, env = town
    o = env.officer
    err = [((env.heading_deg(t) - o.state(t).heading_deg + 180.0) % 360.0) - 180.0
           for t in np.arange(0.0, 2000.0, 1.0)]
    assert np.std(err) == pytest.approx(world.officer.heading_sigma_deg, rel=0.3)
    assert abs(np.mean(err)) < 1.5


def test_rf_power_peaks_when_the_antenna_points_at_the_rack():
    world = load_world("corner")
    env = make_env(world, 1)
    o = env.officer
    t0, t1 = o.scan()
    freq = world.targets[0].freq_hz
    ts = np.linspace(t0, t1, 361)[:-1]
    power = np.array([env.rf_power_dbm(freq, t) for t in ts])
    s = o.state(t0)
    truth = env.scenario.truth
    bearing = math.degrees(math.atan2(truth["x_m"] - s.x_m, truth["y_m"] - s.y_m)) % 360.0
    best = o.state(ts[np.argmax(power)]).heading_deg
    assert abs(((best - bearing + 180.0) % 360.0) - 180.0) < 30.0
