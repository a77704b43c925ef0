"""The ops window: one row per hunt, duplicates highlighted, double-click opens the archive."""

import gc

from host.ops.envelope import Envelope
from host.ops.hunts import HuntBoard
from host.ops.widget import DUPLICATE_COLOUR, OpsWindow


def _board():
    board = HuntBoard()
    for team, sid, label, imsi in (("north", "s1", "rack-A", "46000********12"),
                                   ("south", "s2", "rack-C", "46000********12"),
                                   ("east", "s3", "rack-E", "23415*******21")):
        board.update(Envelope(team, sid, 0, "meta", 0.0, {"meta": {"session_id": sid},
                              "tasking": {"area": f"{team} side", "targets": [{"label": label, "imsi": imsi}]}}),
                     1000.0)
    board.update(Envelope("north", "s1", 1, "MEAS", 0.0, {"id": 1, "kind": "MEAS", "target": 0,
                                                          "lat_deg": 31.2304, "lon_deg": 121.4737, "floor": 3}),
                 1000.0)
    return board


def test_window_lists_hunts_and_flags_the_shared_imsi(qtbot, tmp_path):
    window = OpsWindow(_board(), lambda team, sid: tmp_path / team / f"{sid}.sqlite", refresh_ms=60000)
    qtbot.addWidget(window)
    window.list.refresh(now_s=1045.0)
    table = window.list.table
    rows = {table.item(i, 0).text(): [table.item(i, j).text() for j in range(table.columnCount())]
            for i in range(table.rowCount())}
    assert rows["north"][:6] == ["north", "north side", "rack-A (46000********12)",
                                 "31.230400, 121.473700  floor 3", "45 s", "1"]
    assert rows["east"][3] == "-"
    colours = {table.item(i, 0).text(): table.item(i, 0).background().color() for i in range(table.rowCount())}
    assert colours["north"] == DUPLICATE_COLOUR and colours["south"] == DUPLICATE_COLOUR
    assert colours["east"] != DUPLICATE_COLOUR
    assert "imsi 46000********12 (north, south)" in window.list.duplicates.text()
    window.show()
    assert not window.grab().isNull()


def test_double_click_on_a_hunt_without_archive_says_so(qtbot, tmp_path):
    window = OpsWindow(_board(), lambda team, sid: tmp_path / team / f"{sid}.sqlite", refresh_ms=60000)
    qtbot.addWidget(window)
    with qtbot.assertNotEmitted(window.hunt_opened):
        window.list.table.cellDoubleClicked.emit(0, 0)
    assert "nothing archived yet" in window.statusBar().currentMessage()


def test_double_click_opens_the_archived_session_in_the_hunt_view(qtbot, tmp_path):
    from host.session import SessionWriter

    path = tmp_path / "east" / "s3.sqlite"
    path.parent.mkdir()
    with SessionWriter(str(path), meta={"session_id": "s3"}) as writer:
        writer.record({"kind": "MEAS", "seq": 1, "device_time_ms": 100, "rx_time_s": 1000.0, "target": 0,
                       "rssi_dbm": -80.0, "lat_deg": 31.2304, "lon_deg": 121.4737, "floor": 0})
    window = OpsWindow(_board(), lambda team, sid: tmp_path / team / f"{sid}.sqlite", refresh_ms=60000)
    qtbot.addWidget(window)
    row = [window.list.table.item(i, 0).text() for i in range(window.list.table.rowCount())].index("east")
    with qtbot.waitSignal(window.hunt_opened, timeout=5000) as opened:
        window.list.table.cellDoubleClicked.emit(row, 0)
    assert opened.args == [str(path)]
    (console,) = window._consoles
    assert console.isVisible()
    # Close the hunt view here, its worker thread stopped and its objects collected,
    # rather than leave a half-torn-down window for Python's garbage collector to
    # meet in the middle of a later paint event (which aborts the process).
    console.close()
    qtbot.waitUntil(console.dsp_thread.isFinished, timeout=5000)
    window._consoles.clear()
    del console
    gc.collect()
