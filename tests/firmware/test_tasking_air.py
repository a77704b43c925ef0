"""The tasking's air-interface fields: TDD frame structure and GSM hopping list, checked
by the same firmware/tasking.py the handheld runs, and filled in by `rfhound tasking sign`."""

import json
import time

import pytest

from firmware import tasking as T
from host.cli import main as rfhound

from .conftest import KEY, tasking_body

LTE_TDD = {"label": "rack B", "rat": "LTE", "channel": 38400, "uplink_hz": 1895000000,
           "bandwidth_hz": 20000000}
GSM = {"label": "rack C", "rat": "GSM", "channel": 600, "uplink_hz": 1727800000,
       "bandwidth_hz": 200000}


@pytest.mark.parametrize("target", [
    dict(LTE_TDD, tdd_config=2, special_subframe=7, tdd_offset_us=3000),
    {"label": "n78", "rat": "NR", "channel": 636666, "uplink_hz": 3549990000,
     "bandwidth_hz": 20000000, "nr_tdd": [2500, 30, 3, 10, 1, 2]},
    dict(GSM, hop_hz=[1727800000, 1729800000, 1731800000, 1733800000]),
])
def test_air_fields_are_accepted(target):
    T.validate(tasking_body(targets=[target]))


@pytest.mark.parametrize("target, detail", [
    (dict(LTE_TDD, tdd_config=7), "tdd_config must be an integer 0..6"),
    (dict(LTE_TDD, special_subframe=10), "special_subframe"),
    (dict(GSM, tdd_config=2), "tdd_config is for LTE"),
    (dict(LTE_TDD, nr_tdd=[2500, 30, 3, 10, 1, 2]), "nr_tdd is for NR"),
    ({"label": "n78", "rat": "NR", "channel": 636666, "uplink_hz": 3549990000,
      "bandwidth_hz": 20000000, "nr_tdd": [2400, 30, 3, 10, 1, 2]}, "nr_tdd is [period_us"),
    (dict(LTE_TDD, hop_hz=[1895000000, 1896000000]), "hop_hz is for GSM"),
    (dict(GSM, hop_hz=[1727800000]), "hop_hz must list 2..64"),
    (dict(GSM, hop_hz=[1727800000, 10]), "hop_hz must list 2..64"),
])
def test_bad_air_fields_are_refused(target, detail):
    with pytest.raises(T.TaskingError) as e:
        T.validate(tasking_body(targets=[target]))
    assert detail in e.value.detail


def test_sign_fills_tdd_defaults_and_hopping_frequencies(tmp_path, capsys):
    src = tmp_path / "hunt.json"
    body = tasking_body(targets=[
        {"label": "B39", "rat": "LTE", "channel": 38400, "bandwidth_hz": 20000000},
        {"label": "B41 given", "rat": "LTE", "channel": 40540, "bandwidth_hz": 20000000,
         "tdd_config": 1},
        {"label": "n78", "rat": "NR", "channel": 636666, "bandwidth_hz": 20000000},
        {"label": "B3", "rat": "LTE", "channel": 1300, "band": 3, "bandwidth_hz": 5000000},
        {"label": "hopper", "rat": "GSM", "channel": 600, "bandwidth_hz": 200000,
         "hop_arfcns": [600, 610, 620, 630]}])
    del body["not_before"], body["not_after"]
    src.write_text(json.dumps(body))
    out = tmp_path / "hunt.rft"
    assert rfhound(["tasking", "sign", str(src), "--key-hex", KEY.hex(), "-o", str(out)]) == 0
    capsys.readouterr()
    T.check(out.read_bytes(), KEY, int(time.time()))
    t = T.read_body(out.read_bytes())["targets"]
    # China Mobile F band: configuration 2 with the 3:9:2 special subframe (5)
    assert (t[0]["tdd_config"], t[0]["special_subframe"]) == (2, 5)
    # a given configuration stands; the special subframe comes from the band
    assert (t[1]["tdd_config"], t[1]["special_subframe"]) == (1, 7)
    assert t[2]["nr_tdd"] == [2500, 30, 3, 10, 1, 2]
    assert "tdd_config" not in t[3] and "nr_tdd" not in t[3]
    # DCS 1800: 1710.2 + 0.2 (n - 512) MHz
    assert t[4]["hop_hz"] == [1727800000, 1729800000, 1731800000, 1733800000]


def test_sign_refuses_a_bad_hopping_arfcn(tmp_path, capsys):
    src = tmp_path / "hunt.json"
    src.write_text(json.dumps(tasking_body(targets=[
        {"label": "hopper", "rat": "GSM", "channel": 600, "bandwidth_hz": 200000,
         "hop_arfcns": [600, 5000]}])))
    out = tmp_path / "hunt.rft"
    assert rfhound(["tasking", "sign", str(src), "--key-hex", KEY.hex(), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "hop_arfcns" in err and len(err.splitlines()) == 1
