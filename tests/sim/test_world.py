"""World files: every shipped world loads; a broken one is refused in one line naming the field."""

import json

import pytest

from host.errors import UserError
from host.sim.world import WORLDS_DIR, WorldError, load_world, world_names


def test_shipped_worlds_load():
    names = world_names()
    assert {"old-town", "tower-row", "corner", "tdlte-b41", "gsm900-hopping"} <= set(names)
    for name in names:
        world = load_world(name)
        assert world.name == name
        assert world.targets and world.buildings


def _broken(tmp_path, edit):
    doc = json.loads((WORLDS_DIR / "corner.json").read_text())
    edit(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


def _set(path, value):
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _drop(path):
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return edit


@pytest.mark.parametrize("edit, field", [
    (_drop(["origin", "lat_deg"]), "origin.lat_deg"),
    (_set(["origin", "lat_deg"], 123.0), "origin.lat_deg"),
    (_set(["buildings", 1, "floors"], 0), "buildings[1].floors"),
    (_set(["buildings", 0, "floors"], "three"), "buildings[0].floors"),
    (_set(["buildings", 0, "wall"], "cardboard"), "buildings[0].wall"),
    (_set(["buildings", 1, "stair_m"], [500.0, 500.0]), "buildings[1].stair_m"),
    (_set(["buildings", 0, "footprint_m"], [[0, 0], [1, 1]]), "buildings[0].footprint_m"),
    (_set(["streets", "edges", 0], ["a0", "zz"]), "streets.edges[0]"),
    (_set(["route", 1], "nowhere"), "route[1]"),
    (_set(["rack", "floor"], 7), "rack.floor"),
    (_set(["rack", "x_m"], -100.0), "rack.x_m"),
    (_set(["rack", "building"], "Z9"), "rack.building"),
    (_set(["targets", 0, "channel"], 5000), "targets[0].channel"),
    (_set(["targets", 0, "imsi"], "12ab"), "targets[0].imsi"),
    (_set(["targets", 0, "sim"], 99), "targets[0].sim"),
    (_set(["officer", "start"], "q7"), "officer.start"),
    (_set(["radio", "shadowing_sigma_db"], -1.0), "radio.shadowing_sigma_db"),
    (_set(["antenna"], "dish"), "antenna"),
    (_set(["network"], {"duplex": "tdd", "downlink": {"x_m": 0, "y_m": 0}}), "targets[0].channel"),
    (_set(["network"], {"duplex": "fdd", "downlink": {"x_m": 0, "y_m": 0}}), "network.downlink"),
    (_set(["network"], {"duplex": "half"}), "network.duplex"),
    (_set(["network"], {"gsm_tdma": "yes"}), "network.gsm_tdma"),
    (_set(["network"], {"tdd_config": 7}), "network.tdd_config"),
    (_set(["targets", 0, "hopping_arfcns"], [512, 520]), "targets[0].hopping_arfcns"),
    (_set(["targets", 0, "hopping_arfcns"], [560, 10]), "targets[0].hopping_arfcns"),
    (_set(["targets", 0, "timeslot"], 8), "targets[0].timeslot"),
])
def test_broken_world_names_the_field(tmp_path, edit, field):
    path = _broken(tmp_path, edit)
    with pytest.raises(WorldError) as info:
        load_world(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert "broken.json" in message and field + ":" in message
    assert isinstance(info.value, UserError)


def test_invalid_json_gives_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "x",\n  "origin": {,}\n}\n')
    with pytest.raises(WorldError, match=r"bad.json:3:\d+: not valid JSON"):
        load_world(str(path))


def test_unknown_world_lists_the_shipped_ones():
    with pytest.raises(WorldError, match="old-town"):
        load_world("atlantis")


def test_tdd_world_is_china_mobile_td_lte_with_its_downlink():
    from dsp import bands

    w = load_world("tdlte-b41")
    assert w.network.duplex == "tdd" and w.network.downlink is not None
    assert w.network.tdd_config == 2
    for t in w.targets:
        assert t.rat == "lte" and bands.uplink_band("lte", t.channel)[1] == "B41"
        assert t.imsi.startswith("46000")                 # MCC 460 China, MNC 00 China Mobile


def test_tdd_world_without_a_downlink_is_refused(tmp_path):
    doc = json.loads((WORLDS_DIR / "tdlte-b41.json").read_text())
    del doc["network"]["downlink"]
    path = tmp_path / "nodl.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(WorldError, match="network.downlink: missing"):
        load_world(str(path))


def test_gsm900_world_hops_over_p_gsm_arfcns():
    from dsp import bands

    w = load_world("gsm900-hopping")
    assert w.network.gsm_tdma
    for t in w.targets:
        assert len(t.hopping_arfcns) >= 4 and t.channel in t.hopping_arfcns
        assert all(bands.uplink_band("gsm", a)[1] == "P-GSM" for a in t.hopping_arfcns)


def test_demo_help_lists_every_shipped_world():
    from host.commands.demo import world_help

    text = world_help()
    assert all(name in text for name in world_names())
