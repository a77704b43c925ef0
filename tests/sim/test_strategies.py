"""Both officers finish a hunt; the model-only handheld says what it is wherever it shows up."""

import pytest

from host.cli import main
from host.sim.hunt import simulate
from host.sim.world import load_world


@pytest.mark.parametrize("strategy", ["search", "hotter-colder"])
def test_officer_finishes_and_answers_a_building_of_the_world(tmp_path, strategy):
    world = load_world("corner")
    result, hunt = simulate(world, 5, tmp_path / "s.sqlite", handheld="model", strategy=strategy,
                            speed=50.0)
    e = result["estimate"]
    assert e["building"] in {b.id for b in world.buildings}
    assert 0 <= e["floor"] < world.building(e["building"]).floors
    assert result["right_floor"] <= result["right_building"]
    # The officer climbed the building it names, floor by floor from the street.
    windows = hunt.strategy.climb_windows(e["building"])
    assert sorted(windows) == list(range(len(windows))) and len(windows) >= 1
    if strategy == "hotter-colder":
        assert e["ellipse"] is None and result["time_to_fix_s"] is None


def test_model_handheld_is_labelled(tmp_path, capsys):
    assert main(["demo", "--headless", "--world", "corner", "--handheld", "model", "--speed", "50",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MODEL-ONLY handheld: no firmware, no link" in out.splitlines()[0]
    assert (tmp_path / "demo-corner-1.sqlite").exists() and (tmp_path / "demo-corner-1.png").exists()
