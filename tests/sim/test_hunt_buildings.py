"""The hunt names its building from the locator's building probabilities (the world's
footprints as the prior), and says how probable that building is."""

import json

import numpy as np
import pytest

from dsp.footprints import contains, distance_m
from dsp.locate import Estimate, Grid
from host.cli import main
from host.session import SessionReader
from host.sim.hunt import Hunt, simulate
from host.sim.world import load_world


@pytest.fixture(scope="module")
def corner_hunt(tmp_path_factory):
    world = load_world("corner")
    session = tmp_path_factory.mktemp("hunt") / "s.sqlite"
    result, hunt = simulate(world, 5, session, handheld="model", speed=50.0)
    return world, result, hunt, session


def test_every_estimate_spreads_its_posterior_over_the_world_buildings_only(corner_hunt):
    world, _, hunt, _ = corner_hunt
    assert len(hunt.estimates) >= 3
    for _, est in hunt.estimates:
        prob = np.asarray(est.building_prob)
        assert prob.shape == (len(world.buildings),)
        assert prob.sum() == pytest.approx(1.0, abs=1e-9) and np.all(prob >= 0.0)
        assert est.building == int(np.argmax(prob))
        # The prior rules out the streets: no posterior mass outside every footprint.
        cx, cy = est.grid.cells()
        inside = np.zeros(cx.shape, dtype=bool)
        for b in world.buildings:
            inside |= contains(b.footprint_m, cx, cy)
        assert float(np.asarray(est.posterior).ravel()[~inside].sum()) == pytest.approx(0.0, abs=1e-12)
        # The position lies in a building (its edge included), never in the street.
        assert min(distance_m(b.footprint_m, est.x_m, est.y_m) for b in world.buildings) < 1e-9
        assert hunt.likely_building(est) is world.buildings[est.building]


def test_result_and_session_carry_the_chosen_building_probability(corner_hunt):
    world, result, hunt, session = corner_hunt
    e = result["estimate"]
    final = hunt.final
    assert e["building"] == world.buildings[int(np.argmax(final.building_prob))].id
    assert e["building_prob"] == pytest.approx(float(np.max(final.building_prob)), abs=5e-4)
    assert 0.0 < e["building_prob"] <= 1.0
    with SessionReader(str(session)) as r:
        live = [rec for rec in r.records() if rec["kind"] == "ESTIMATE" and not rec.get("final")]
    assert len(live) == len(hunt.estimates)
    for rec, (_, est) in zip(live, hunt.estimates):
        assert rec["building"] == world.buildings[est.building].id
        assert rec["building_prob"] == pytest.approx(float(est.building_prob[est.building]))


def _estimate(x_m, y_m, building=None, building_prob=None):
    grid = Grid(np.arange(-20.0, 60.0, 4.0), np.arange(-20.0, 50.0, 4.0))
    cov = np.eye(2) * 4.0
    return Estimate(x_m=x_m, y_m=y_m, floor=None, floor_prob=None, cov_m2=cov,
                    ellipse={"semi_major_m": 4.9, "semi_minor_m": 4.9, "orientation_deg": 0.0},
                    cep50_m=2.4, n_used=50, p0_dbm=-10.0, n_exp=3.0,
                    posterior=np.full(grid.shape, 1.0 / np.prod(grid.shape)), grid=grid,
                    building=building, building_prob=building_prob)


def test_the_locators_building_wins_over_where_the_point_lies():
    world = load_world("corner")
    hunt = Hunt(world, 1, link_factory=None, session=None)
    south, north = world.building("A1S"), world.building("A1N")
    k_north = world.buildings.index(north)
    prob = np.zeros(len(world.buildings))
    prob[k_north], prob[world.buildings.index(south)] = 0.7, 0.3
    # A point inside the south house, but most of the posterior in the north one.
    x, y = south.footprint_m.mean(axis=0)
    est = _estimate(x, y, building=k_north, building_prob=prob)
    assert hunt.likely_building(est) is north
    assert hunt.building_prob(est, "A1N") == pytest.approx(0.7)
    assert hunt.building_prob(est, "A1S") == pytest.approx(0.3)
    # Without building probabilities (a locator given no footprints): the building at the point.
    bare = _estimate(x, y)
    assert hunt.likely_building(bare) is south
    assert hunt.building_prob(bare, "A1S") is None


def test_demo_summary_shows_the_building_probability(tmp_path, capsys):
    args = ["demo", "--headless", "--world", "corner", "--handheld", "model", "--speed", "50",
            "--out", str(tmp_path)]
    assert main(args) == 0
    text = capsys.readouterr().out
    line = next(s for s in text.splitlines() if s.startswith("estimate"))
    assert main(args + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    e = result["estimate"]
    # Old keys stay; the probability is added beside them.
    assert {"x_m", "y_m", "floor", "building", "ellipse"} <= set(e)
    assert 0.0 < e["building_prob"] <= 1.0
    assert line.startswith("estimate  building %s (p=" % e["building"])

    assert main(args + ["--json", "--strategy", "hotter-colder"]) == 0
    e = json.loads(capsys.readouterr().out)["estimate"]
    assert e["building_prob"] is None and e["ellipse"] is None
