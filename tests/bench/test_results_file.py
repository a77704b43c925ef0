"""Sweep plan and the resumable results file."""

import json

import numpy as np
import pytest

from host.bench import sweep

BANDS = [("900", 880.0e6, 960.0e6), ("1800", 1700.0e6, 1880.0e6)]
HEADER = {"kind": "calibration", "device_id": 7, "cable_loss_db": 10.0, "generator": "X,Y,1,2"}


def test_plan_spreads_frequencies_and_shuffles_each_level_set():
    levels = np.arange(-120.0, -19.0, 2.0)
    points = sweep.plan_points(BANDS, levels, freqs_per_band=3, seed=1)
    freqs = sorted({p.freq_hz for p in points if p.band == "900"})
    assert freqs == [888.0e6, 920.0e6, 952.0e6]          # 10 %, 50 %, 90 % of 880-960 MHz
    for f in freqs:
        mine = [p.input_dbm for p in points if p.freq_hz == f]
        assert sorted(mine) == list(levels) and mine != list(levels)
    assert len({p.key for p in points}) == len(points) == 2 * 3 * levels.size


def _point(freq_hz, input_dbm):
    return {"kind": "point", "key": [round(freq_hz), round(input_dbm * 100)], "band": "900",
            "freq_hz": freq_hz, "input_dbm": input_dbm,
            "reading_db": -80.0, "time_s": 10.0}


def test_resume_keeps_finished_points_and_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    first = sweep.ResultsFile(path, HEADER)
    first.append(_point(920e6, -100.0), {"kind": "temp", "time_s": 9.0, "temp_c": 20.0})
    first.append(_point(920e6, -98.0), {"kind": "temp", "time_s": 11.0, "temp_c": 30.0})
    with open(path, "a") as fh:
        fh.write('{"kind": "point", "band": "9')          # power cut mid-write
    again = sweep.ResultsFile(path, HEADER)
    assert again.done_keys() == {(920000000, -10000), (920000000, -9800)}
    again.append(_point(920e6, -96.0))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x.get("input_dbm") for x in lines if x.get("kind") == "point"] == [-100.0, -98.0, -96.0]
    # point temperatures are interpolated between the 1 Hz temperature reports
    assert again.measured_points()[0]["temperature_c"] == pytest.approx(25.0)


@pytest.mark.parametrize("key, value", [("device_id", 8), ("cable_loss_db", 12.0)])
def test_resume_refuses_a_file_of_another_setup(tmp_path, key, value):
    path = tmp_path / "r.jsonl"
    sweep.ResultsFile(path, HEADER)
    with pytest.raises(sweep.ResumeError, match=f"r.jsonl:1: {key} is"):
        sweep.ResultsFile(path, dict(HEADER, **{key: value}))


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("hello\n")
    with pytest.raises(sweep.ResumeError, match="not a bench results file"):
        sweep.ResultsFile(path, HEADER)
