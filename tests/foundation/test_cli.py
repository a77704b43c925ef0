"""The `rfhound` entry point: sub-commands listed with one line each; user mistakes are one line."""

import subprocess
import sys
from pathlib import Path

import pytest

RFHOUND = str(Path(sys.executable).parent / "rfhound")


def run(*args):
    return subprocess.run([RFHOUND, *args], capture_output=True, text=True, timeout=120)


def test_help_lists_each_subcommand_with_one_line():
    from host.cli import _command_modules
    res = run("--help")
    assert res.returncode == 0
    mods = _command_modules()
    assert {m.NAME for m in mods} >= {"export"}
    for mod in mods:
        assert mod.NAME in res.stdout
        assert "\n" not in mod.HELP and len(mod.HELP) < 100


@pytest.mark.parametrize("content", [b"", b"garbage, not a database" * 50])
def test_export_refuses_a_bad_session_in_one_line(tmp_path, content):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(content)
    res = run("export", str(bad), "--csv", str(tmp_path / "out.csv"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert lines[0].startswith("rfhound export: error: ") and str(bad) in lines[0]
    assert not (tmp_path / "out.csv").exists()


def test_missing_session_is_one_line(tmp_path):
    res = run("export", str(tmp_path / "nope.sqlite"), "--csv", str(tmp_path / "o.csv"))
    assert res.returncode == 2 and "no such session file" in res.stderr


def test_export_writes_the_measurement_csv_and_skips_readings_without_a_fix(tmp_path):
    from host.meascsv import read_measurements
    from host.session import SessionWriter
    path = str(tmp_path / "s.sqlite")
    tasking = {"targets": [{"label": "rack-A", "imsi": "460001234567812"}]}
    with SessionWriter(path, tasking=tasking) as w:
        base = {"kind": "MEAS", "target": 0, "raw_rssi": 0, "gain_db": 40, "alt_m": 12.5,
                "floor": 3, "flags": 0, "position_stale": False}
        w.record(dict(base, seq=0, rx_time_s=100.0, rssi_dbm=None, heading_deg=None,
                      lat_deg=0.0, lon_deg=0.0, position_stale=True))  # before the first fix
        w.record(dict(base, seq=1, rx_time_s=101.25, rssi_dbm=-71.5, heading_deg=90.0,
                      lat_deg=31.2, lon_deg=121.4))
        w.record(dict(base, seq=2, rx_time_s=102.5, rssi_dbm=None, heading_deg=None,
                      lat_deg=31.2001, lon_deg=121.4001))
    out = tmp_path / "m.csv"
    res = run("export", path, "--csv", str(out))
    assert res.returncode == 0, res.stderr
    assert "wrote 2 measurements" in res.stdout
    text = out.read_text()
    assert "460001234567812" not in text
    lines = text.splitlines()
    header = lines[0].split(",")
    assert {"time_s", "target", "rssi_dbm", "lat_deg", "lon_deg", "floor"} <= set(header)
    row = dict(zip(header, lines[1].split(",")))
    assert row["target"] == "rack-A" and float(row["rssi_dbm"]) == -71.5
    assert float(row["time_s"]) == 101.25 and int(row["floor"]) == 3
    second = dict(zip(header, lines[2].split(",")))
    assert second["rssi_dbm"] == ""  # measured, not detected
    data = read_measurements(str(out))
    assert data is not None
