"""A whole hunt in the small 'corner' world: the firmware in the MicroPython unix port, its USB
serial on a pty read by host.link, every record in the session file, the locator's answer."""

import json
import math

import pytest

from host.cli import main
from host.session import SessionReader
from host.sim.world import load_world
from host.virtual.handheld import micropython_binary

pytestmark = pytest.mark.skipif(micropython_binary() is None, reason="MicroPython unix port missing")


def test_corner_hunt_end_to_end(tmp_path, capsys):
    session = tmp_path / "hunt.sqlite"
    report = tmp_path / "hunt.png"
    status = main(["simulate", "--world", "corner", "--seed", "2", "--speed", "6", "--out", str(session),
                   "--report", str(report), "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out)

    truth = load_world("corner").rack
    # the same point in degrees (spherical metres per degree: good to 0.5 %, 0.2 m here)
    lat0, lon0 = load_world("corner").origin[:2]
    lat, lon = result["truth"].pop("lat_deg"), result["truth"].pop("lon_deg")
    assert abs((lat - lat0) * 111_195.0 - truth.y_m) < 0.3
    assert abs((lon - lon0) * 111_195.0 * math.cos(math.radians(lat0)) - truth.x_m) < 0.3
    assert result["truth"] == {"x_m": truth.x_m, "y_m": truth.y_m, "floor": truth.floor,
                               "building": truth.building}
    assert result["handheld"] == "micropython"
    assert result["right_building"] and result["right_floor"]
    assert result["error_m"] < 12.0
    assert result["crc_errors"] == 0 and result["frames"] > 100

    with SessionReader(str(session)) as r:
        meas = r.measurements()
        records = list(r.records())
        tasking = r.tasking
        meta = r.meta
    kinds = {rec["kind"] for rec in records}
    # Nothing lost: every frame the link decoded is a record in the file.
    assert sum(rec["kind"] not in ("EVENT", "ESTIMATE") for rec in records) == result["frames"]
    assert {"HELLO", "ACK", "MEAS", "STATUS", "ESTIMATE", "EVENT"} <= kinds
    assert any(m["floor"] == 1 for m in meas), "the barometer never saw the climb"
    # Personal data: the stored tasking carries masked IMSIs only.
    imsi = load_world("corner").targets[0].imsi
    assert tasking["targets"][0]["imsi"] == imsi[:5] + "*" * (len(imsi) - 7) + imsi[-2:]
    assert meta["sim_world"] == "corner" and meta["sim_seed"] == "2"

    from PyQt5.QtGui import QImage
    img = QImage(str(report))
    assert (img.width(), img.height()) == (1400, 860)


@pytest.mark.parametrize("argv, needle", [
    (["demo", "--headless", "--world", "atlantis"], "unknown world 'atlantis'"),
    (["demo", "--headless", "--speed", "0"], "--speed 0"),
    (["demo", "--headless", "--seed", "-3"], "--seed -3"),
])
def test_demo_refuses_bad_input_in_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfhound demo: error: ") and needle in err and "\n" not in err


def test_simulate_names_the_broken_world_field(tmp_path, capsys):
    doc = json.loads(load_world("corner").path.read_text())
    doc["buildings"][1]["floors"] = -2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["simulate", "--world", str(bad), "--out", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert "buildings[1].floors" in err and "\n" not in err


def test_simulate_will_not_overwrite_a_session(tmp_path, capsys):
    existing = tmp_path / "old.sqlite"
    existing.write_bytes(b"precious")
    assert main(["simulate", "--world", "corner", "--out", str(existing)]) == 2
    assert "exists" in capsys.readouterr().err
    assert existing.read_bytes() == b"precious"
