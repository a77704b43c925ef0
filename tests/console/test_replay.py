"""Replay a recorded hunt in the real window and check what it shows against the truth."""

import subprocess
import sys

import numpy as np
import pymap3d
import pytest

import hunt_data


def truth_xy(window):
    """The emitter's true position in the window's east/north frame."""
    lat, lon, _ = pymap3d.enu2geodetic(*hunt_data.EMITTER_XY_M, 0.0, hunt_data.LAT0_DEG,
                                       hunt_data.LON0_DEG, 0.0)
    return np.array(window.hunt.frame.to_xy(lat, lon))


def test_estimate_shown_is_near_the_emitter(replayed):
    x, y = replayed.map.estimate.getData()
    assert len(x) == 1
    shown = np.array([x[0], y[0]])
    est = replayed.hunt.targets[0].estimate
    # The ellipse shown is the 95 % ellipse of the estimate: the truth must lie inside it
    # (or within 3 m: the walk has 700 readings at 3 dB shadowing, a metre-level fix).
    d = truth_xy(replayed) - shown
    maha2 = d @ np.linalg.solve(est.cov_m2, d)
    assert maha2 < -2 * np.log(0.05) or np.hypot(*d) < 3.0
    ex, ey = replayed.map.ellipse.getData()
    assert len(ex) > 10
    r = np.hypot(ex - shown[0], ey - shown[1])
    major, minor = est.semi_axes_m()
    np.testing.assert_allclose([r.max(), r.min()], [major, minor], rtol=0.02)


def test_table_shows_masked_imsi_and_estimate_quality(replayed):
    model = replayed.table_model
    cells = [[model.data(model.index(row, col)) for col in range(model.columnCount())]
             for row in range(model.rowCount())]
    assert [c[0].lstrip("\u25b6 ") for c in cells] == ["rack-A", "rack-B"]
    assert cells[0][1] == "46000********12"
    assert all("CEP50" in c[5] for c in cells)
    assert cells[0][4] == "detected"
    # no buildings known: the building column says so with a dash, the map outlines none
    assert [c[6] for c in cells] == ["\u2013", "\u2013"]
    assert replayed.map.likely_building.path().isEmpty()
    assert cells[0][7] == "box 1"


def test_bearing_of_last_scan_points_at_the_emitter(replayed):
    scan = replayed.hunt.targets[0].scan
    assert scan is not None and scan.bearing_deg is not None
    tx, ty = truth_xy(replayed)
    true_bearing = np.degrees(np.arctan2(tx - scan.x_m, ty - scan.y_m)) % 360.0
    err = (scan.bearing_deg - true_bearing + 180.0) % 360.0 - 180.0
    assert abs(err) < max(4 * scan.sigma_deg, 3.0)
    assert "bearing" in replayed.polar.caption.toPlainText()
    assert not replayed.map.wedges.path().isEmpty()


def test_status_bar_shows_device_health(replayed):
    texts = {k: v.text() for k, v in replayed.status_labels.items()}
    assert texts["battery"] == "battery: 81 %"
    assert texts["gnss"] == "GNSS: GPS fix, 9 sats"  # GGA quality 1
    assert texts["calibration"] == "calibration: 20260917"


def test_switch_targets(qtbot, replayed):
    b = replayed.hunt.targets[1]
    replayed.set_strip_window(600.0)  # longer than the hunt: the strip shows every reading
    replayed.table.selectRow(replayed.table_model.row_of(1))
    qtbot.waitUntil(lambda: replayed.selected == 1)
    replayed.refresh()
    assert "rack-B" in replayed.map.legend.toPlainText()
    x, _ = replayed.map.path_line.getData()
    assert len(x) == len(b.meas)
    sx, _ = replayed.strip.curve.getData()
    assert len(sx) == np.count_nonzero(np.isfinite(b.meas["rssi_dbm"]))
    ex, ey = replayed.map.estimate.getData()
    assert (ex[0], ey[0]) == (b.estimate.x_m, b.estimate.y_m)


def test_grab_is_not_blank(replayed, tmp_path):
    from PyQt5.QtGui import QImage

    path = tmp_path / "window.png"
    assert replayed.grab().save(str(path))
    img = QImage(str(path)).convertToFormat(QImage.Format_RGB32)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    px = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    colours = np.unique(px[..., :3].reshape(-1, 3), axis=0)
    assert len(colours) > 200
    map_px = replayed.map.grab().toImage()
    assert map_px.width() > 300


def test_seek_back_resets_and_replays(qtbot, replayed):
    src = replayed.source
    src.pause()
    src.seek(10.0)
    qtbot.waitUntil(lambda: 0 < len(replayed.hunt.targets[0].meas) < 100, timeout=5000)
    with qtbot.waitSignal(replayed.source_finished, timeout=30000):
        src.play()
    assert len(replayed.hunt.targets[0].meas) > 600


@pytest.mark.timeout(120)
def test_replay_command_writes_screenshot(session_file, tmp_path):
    out = tmp_path / "shot.png"
    run = subprocess.run([sys.executable, "-m", "host.cli", "replay", str(session_file),
                          "--screenshot", str(out), "--size", "1000x700"],
                         capture_output=True, text=True, timeout=100)
    assert run.returncode == 0, run.stderr
    from PyQt5.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)


def test_replay_command_refuses_a_corrupt_session_in_one_line(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    run = subprocess.run([sys.executable, "-m", "host.cli", "replay", str(bad), "--screenshot",
                          str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rfhound replay: error:")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("argv, words", [
    (["console", "--record", "x.sqlite"], "--record needs --port"),
    (["console", "--replay", "missing.sqlite"], "no such session file"),
    (["console", "--map", "missing.png", "--replay", "SESSION"], "--map missing.png"),
    (["replay", "SESSION", "--size", "12x"], "--size 12x"),
])
def test_console_commands_refuse_bad_input_in_one_line(argv, words, session_file, tmp_path,
                                                        capsys, monkeypatch):
    from host.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([str(session_file) if a == "SESSION" else a for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_targets_of_one_box_share_one_estimate(replayed):
    # both SIMs of the synthetic hunt are tasked as group "box 1": one position, a P0 each
    a, b = replayed.hunt.targets[0].estimate, replayed.hunt.targets[1].estimate
    assert (a.x_m, a.y_m) == (b.x_m, b.y_m)
    # used: every detection of both SIMs except those taken while turning for a bearing
    recs = hunt_data.hunt_records()
    detected = sum(r["kind"] == "MEAS" and r["rssi_dbm"] is not None for r in recs)
    turning = sum(r["kind"] == "MEAS" and r["rssi_dbm"] is not None
                  and r["heading_deg"] is not None for r in recs)
    assert a.n_used == detected - turning


def _one_spot_session(path, n=30, broken_json_at=None, timeless_at=None):
    """A session whose readings all come from one spot: the estimator must refuse it."""
    import sqlite3

    from host.session import SessionWriter

    with SessionWriter(str(path), tasking={"targets": [{"label": "rack-A"}]}) as w:
        for i in range(n):
            rec = {"kind": "MEAS", "seq": i, "device_time_ms": 1000 * i,
                   "rx_time_s": 1.7e9 + i, "target": 0, "rssi_dbm": -70.0 - (i % 3),
                   "heading_deg": None, "lat_deg": 52.52, "lon_deg": 13.405, "alt_m": 34.0,
                   "floor": 0, "flags": 0}
            if i == timeless_at:
                rec["rx_time_s"] = rec["device_time_ms"] = None
            w.record(rec)
    if broken_json_at is not None:
        con = sqlite3.connect(str(path))
        con.execute("UPDATE records SET json = '{\"kind\": \"MEAS\", trunc' WHERE id = ?",
                    (broken_json_at,))
        con.commit()
        con.close()
    return path


def _replay_screenshot(session, out):
    return subprocess.run([sys.executable, "-m", "host.cli", "replay", str(session),
                           "--screenshot", str(out), "--size", "800x600"],
                          capture_output=True, text=True, timeout=90)


def test_screenshot_of_a_session_broken_part_way_exits_nonzero_in_one_line(tmp_path):
    import time

    session = _one_spot_session(tmp_path / "broken.sqlite", broken_json_at=12)
    t0 = time.monotonic()
    run = _replay_screenshot(session, tmp_path / "x.png")
    assert time.monotonic() - t0 < 60  # no 120 s wait
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "record 12 " in lines[0] and not (tmp_path / "x.png").exists()


def test_screenshot_says_when_the_estimator_fails_and_exits_nonzero(tmp_path):
    # a record without any time (it can arrive so over MQTT) is replayed, not a crash
    session = _one_spot_session(tmp_path / "spot.sqlite", timeless_at=7)
    run = _replay_screenshot(session, tmp_path / "x.png")
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "no estimate for rack-A" in lines[0] and "one spot" in lines[0]


def test_replay_source_streams_in_pages_and_delivers_every_record_in_order(qtbot, tmp_path):
    from host.app.sources import ReplaySource, SourceRunner
    from host.session import SessionWriter

    path = tmp_path / "long.sqlite"
    n = 12_345
    with SessionWriter(str(path)) as w:
        for i in range(n):
            w.record({"kind": "LOG", "seq": i & 0xFFFF, "device_time_ms": i,
                      "rx_time_s": None if i == 5000 else 1.7e9 + 0.01 * i, "text": str(i)})
    src = ReplaySource(path, speed=0.0)
    src.PAGE = 1000
    got, most_buffered = [], [0]

    def take(batch):
        got.extend(batch)
        most_buffered[0] = max(most_buffered[0], len(src._buffer))

    src.records.connect(take)
    runner = SourceRunner(src)
    with qtbot.waitSignal(src.finished, timeout=60000):
        runner.start()
    runner.stop()
    assert [r["id"] for r in got] == list(range(1, n + 1))
    assert most_buffered[0] <= src.PAGE  # never the whole session in memory
    timeless = got[5000]
    assert timeless["time_from_previous_record"] and timeless["rx_time_s"] == got[4999]["rx_time_s"]
