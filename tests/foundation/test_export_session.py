"""`rfhound export` of a session: quality flags in the CSV, readings left out and counted,
records without a time, streaming from the measurements table."""

import subprocess
import sys

import numpy as np
import pytest

from firmware import protocol as P
from host import meascsv
from host.records import frame_to_record
from host.session import SessionWriter


def run(*argv):
    return subprocess.run([sys.executable, "-m", "host.cli", *argv], capture_output=True,
                          text=True, timeout=120)


def meas_record(seq, flags, rssi_cdbm=-7000, lat=52.52, lon=13.405, rx_time_s=None):
    """A MEAS record exactly as the link makes it from the wire frame."""
    raw = P.encode(P.MEAS, seq, 1000 * seq,
                   (0, flags, rssi_cdbm, 300, 30, 0, round(lat * 1e7), round(lon * 1e7), 345, 2,
                    10))
    frame = list(P.Deframer().feed(raw))[0]
    return frame_to_record(frame, rx_time_s=1.7e9 + seq if rx_time_s is None else rx_time_s)


CASES = [  # device flags -> (in CSV?, CSV flag names)
    (0, True, ""),
    (P.F_RADIO_FAULT, True, "radio_fault"),
    (P.F_SATURATED, True, "saturated"),
    (P.F_UNCALIBRATED, True, "uncalibrated"),
    (P.F_POSITION_STALE, True, "position_stale"),
    (P.F_SATURATED | P.F_UNCALIBRATED, True, "saturated|uncalibrated"),
    (P.F_NOT_DETECTED, True, ""),
    (P.F_BENCH, False, None),
]


@pytest.fixture
def flagged_session(tmp_path):
    path = str(tmp_path / "flags.sqlite")
    with SessionWriter(path, tasking={"targets": [{"label": "rack-A"}]}) as w:
        for seq, (flags, _, _) in enumerate(CASES):
            w.record(meas_record(seq, flags, lat=52.52 + seq * 1e-5))
        w.record(meas_record(50, P.F_POSITION_STALE, lat=0.0, lon=0.0))  # before the first fix
        w.record(meas_record(51, P.F_POSITION_STALE, lat=0.0, lon=0.0))
        # a record that lost both its times (it can arrive so over MQTT into the archive)
        rec = meas_record(52, 0)
        rec["rx_time_s"] = rec["device_time_ms"] = None
        w.record(rec)
    return path


def test_flags_column_marks_each_bad_reading_and_reads_back(flagged_session, tmp_path):
    out = tmp_path / "m.csv"
    res = run("export", flagged_session, "--csv", str(out))
    assert res.returncode == 0, res.stderr
    kept = [c for c in CASES if c[1]]
    assert f"wrote {len(kept)} measurements" in res.stdout
    assert "2 readings had no position fix" in res.stdout
    assert "1 readings had no time" in res.stdout and "1 bench-mode" in res.stdout
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    assert header[-1] == "flags"
    cells = [dict(zip(header, line.split(","))) for line in lines[1:]]
    assert [c["flags"] for c in cells] == [c[2] for c in kept]
    # the fault row is still there, with its number, and marked: nothing lost, nothing trusted
    fault = cells[1]
    assert float(fault["rssi_dbm"]) == -70.0 and fault["flags"] == "radio_fault"
    assert cells[6]["rssi_dbm"] == ""  # not detected stays 'not detected', not a flag
    data = meascsv.read_measurements(str(out))
    bits = data["flags"]
    assert bits.dtype.kind == "i"
    assert bits[1] == meascsv.FLAG_RADIO_FAULT and bits[4] == meascsv.FLAG_POSITION_STALE
    assert bits[5] == meascsv.FLAG_SATURATED | meascsv.FLAG_UNCALIBRATED
    leave_out = (bits & meascsv.FLAGS_LEAVE_OUT) != 0
    assert list(np.flatnonzero(leave_out)) == [1, 4]


def test_reader_refuses_an_unknown_flag_in_one_line(tmp_path):
    from host.errors import UserError

    path = tmp_path / "x.csv"
    path.write_text("time_s,target,rssi_dbm,x_m,y_m,flags\n0,T1,-70,0,0,saturated\n"
                    "1,T1,-71,1,0,saturated|hot\n")
    with pytest.raises(UserError) as err:
        meascsv.read_measurements(str(path))
    assert ":3: column flags: 'saturated|hot'" in str(err.value)
    path.write_text("time_s,target,rssi_dbm,x_m,y_m\n0,T1,-70,0,0\n")
    assert meascsv.read_measurements(str(path))["flags"].tolist() == [0]


def test_flag_names_round_trip_every_combination():
    for mask in range(16):
        assert meascsv.parse_flags(meascsv.flag_names(mask)) == mask
    with pytest.raises(ValueError):
        meascsv.flag_names(0x100)


def test_export_needs_an_output(flagged_session):
    res = run("export", flagged_session)
    assert res.returncode == 2 and "give at least one of --csv" in res.stderr


def test_wal_only_copy_is_refused_naming_the_missing_file(tmp_path):
    import os
    import shutil
    import signal

    script = ("import sys\nfrom host.session import SessionWriter\nw = SessionWriter(sys.argv[1])\n"
              "w.record({'kind': 'LOG', 'seq': 0, 'text': 'x'})\nw.commit()\n"
              "print('ready', flush=True)\nsys.stdin.readline()\n")
    path = tmp_path / "k.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    os.makedirs(tmp_path / "usb")
    copy = tmp_path / "usb" / "k.sqlite"
    shutil.copyfile(path, copy)
    res = run("export", str(copy), "--csv", str(tmp_path / "o.csv"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "k.sqlite-wal" in lines[0] and "not beside it" in lines[0]


def test_malformed_archive_records_are_left_out_and_counted(tmp_path):
    """Records that came over MQTT into the archive may carry anything in any column."""
    path = str(tmp_path / "archive.sqlite")
    with SessionWriter(path) as w:
        w.record(meas_record(1, 0))
        for bad in ({"target": "rack"}, {"lat_deg": 123.0}, {"rssi_dbm": 99.0},
                    {"lon_deg": "east"}, {"floor": 2.5}):
            w.record(dict(meas_record(2, 0), **bad))
    out = tmp_path / "o.csv"
    res = run("export", path, "--csv", str(out))
    assert res.returncode == 0, res.stderr
    assert "wrote 1 measurements" in res.stdout and "5 readings had malformed values" in res.stdout
    assert len(meascsv.read_measurements(str(out))["time_s"]) == 1


def test_a_simulated_hunts_own_final_answer_is_the_one_exported(tmp_path):
    """A session that stores its final answer (the simulator's ESTIMATE record, in its
    world's metres) exports that answer, in the world's frame, with its building."""
    import json

    import pymap3d

    from host.sim.world import load_world

    world = load_world("corner")
    lat0, lon0, alt0 = world.origin
    path = str(tmp_path / "sim.sqlite")
    answer = {"x_m": 21.0, "y_m": 19.5, "floor": 2, "building": "A1N", "building_prob": 0.87,
              "ellipse": {"semi_major_m": 6.0, "semi_minor_m": 2.0, "orientation_deg": 90.0}}
    with SessionWriter(path, tasking={"targets": [{"label": "sim-1"}]},
                       meta={"sim_world": "corner"}) as w:
        for i in range(40):  # a walk along the street south of the block
            lat, lon, _ = pymap3d.enu2geodetic(-10.0 + 1.5 * i, -5.0, alt0, lat0, lon0, alt0)
            w.record(dict(meas_record(i, 0), lat_deg=round(float(lat), 7),
                          lon_deg=round(float(lon), 7)))
        w.record({"kind": "ESTIMATE", "rx_time_s": 1.7e9 + 41, "final": True,
                  "estimate": answer, "error_m": 1.0})
    out = tmp_path / "sim.geojson"
    res = run("export", path, "--geojson", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    est = [f for f in doc["features"] if f["properties"]["kind"] == "estimate"][0]
    lon, lat = est["geometry"]["coordinates"]
    e, n, _ = pymap3d.geodetic2enu(lat, lon, alt0, lat0, lon0, alt0)
    assert abs(e - 21.0) < 0.02 and abs(n - 19.5) < 0.02
    props = est["properties"]
    assert props["building"] == "A1N" and props["building_prob"] == 0.87 and props["floor"] == 2
    assert props["ellipse95_major_axis_m"] == pytest.approx(12.0, abs=0.01)
    assert props["ellipse95_minor_axis_m"] == pytest.approx(4.0, abs=0.01)
    ring = [f for f in doc["features"] if f["properties"]["kind"] == "ellipse95"][0]
    ring = np.array(ring["geometry"]["coordinates"][0])
    e, n, _ = pymap3d.geodetic2enu(ring[:, 1], ring[:, 0], alt0, lat0, lon0, alt0)
    # orientation 90 deg clockwise from north: the major axis runs east-west
    assert np.ptp(e) == pytest.approx(12.0, abs=0.05) and np.ptp(n) == pytest.approx(4.0, abs=0.05)
