"""Faults the operator meets: each gives a clear visible line and the window keeps running."""

import os
import select
import threading
import time


import hunt_data
from replay_helpers import replay_to_end
from firmware import protocol, tasking
from host.session import SessionReader

KEY = bytes(range(32))


def signed_tasking(path, key):
    now = int(time.time())
    body = {"format": tasking.FORMAT, "serial": 7, "not_before": now - 60,
            "not_after": now + 3600, "issuer": "desk", "targets": [
                {"label": "rack-A", "rat": "LTE", "channel": 19575, "uplink_hz": 1747500000,
                 "bandwidth_hz": 10000000, "imsi": "460001234567812"}]}
    path.write_bytes(tasking.sign(key, body))
    return path


def test_missing_port_is_reported_and_window_keeps_running(qtbot, window, session_file):
    window.open_port("/dev/ttyRFHOUND-NONE")
    qtbot.waitUntil(lambda: "cannot open serial port /dev/ttyRFHOUND-NONE" in window.message.text(),
                    timeout=5000)
    assert window.status_labels["link"].text() == "link: no port"
    replay_to_end(qtbot, window, session_file)
    assert window.hunt.targets[0].estimate is not None


def _meas_frame(seq, rssi_cdbm):
    return protocol.encode(protocol.MEAS, seq, seq * 100, (
        0, 0, rssi_cdbm, 400, protocol.GAIN_AUTO, protocol.HEADING_NONE,
        int(hunt_data.LAT0_DEG * 1e7) + seq * 10, int(hunt_data.LON0_DEG * 1e7), 350, 0, 50))


def _frames_from(qtbot, fd, n, timeout_s=5.0):
    """Read what the console sent to the handheld side of a pty, as protocol frames."""
    deframer, frames = protocol.Deframer(), []
    deadline = time.monotonic() + timeout_s
    while len(frames) < n and time.monotonic() < deadline:
        qtbot.wait(20)
        ready, _, _ = select.select([fd], [], [], 0)
        if ready:
            frames += deframer.feed(os.read(fd, 4096))
    return frames


def test_signed_tasking_is_sent_in_chunks_over_the_link(qtbot, window, tmp_path):
    master, slave = os.openpty()
    port = os.ttyname(slave)
    os.close(slave)
    try:
        window.open_port(port)
        qtbot.waitUntil(lambda: window.status_labels["link"].text() == "link: connected",
                        timeout=5000)
        path = signed_tasking(tmp_path / "t.rft", KEY)
        assert window.load_tasking(str(path), key=KEY)
        blob = path.read_bytes()
        count = -(-len(blob) // (protocol.MAX_PAYLOAD - 2))
        frames = _frames_from(qtbot, master, count)
        assert [f.fields() for f in frames] == [(i, count) for i in range(count)]
        assert b"".join(bytes(f.tail()) for f in frames) == blob
        assert "sent to the handheld" in window.message.text()
    finally:
        os.close(master)


def test_unplugged_port_and_device_refusal_are_reported(qtbot, window):
    master, slave = os.openpty()
    port = os.ttyname(slave)
    os.close(slave)
    try:
        window.open_port(port)
        # pyserial empties the input buffer on opening: send once the port is open
        qtbot.waitUntil(lambda: window.status_labels["link"].text() == "link: connected",
                        timeout=5000)
        os.write(master, b"".join(_meas_frame(i, -7000 - i) for i in range(1, 21)))
        qtbot.waitUntil(lambda: 0 in window.hunt.targets and len(window.hunt.targets[0].meas) == 20,
                        timeout=5000)
        assert window.table_model.data(window.table_model.index(0, 3)) == "-70.2 dBm"
        window.activate_selected()
        sent = _frames_from(qtbot, master, 1)
        assert [(f.msg_type, f.fields()) for f in sent] == [
            (protocol.SET_MODE, (protocol.MODE_HUNT, 0, protocol.GAIN_AUTO, 0))]
        os.write(master, protocol.encode(protocol.NAK, 21, 2100,
                                         (protocol.TASKING, 3, protocol.NAK_BAD_SIGNATURE)))
        qtbot.waitUntil(lambda: "refused TASKING" in window.message.text(), timeout=5000)
        assert "signature does not verify" in window.message.text()
    finally:
        os.close(master)
    qtbot.waitUntil(lambda: f"link lost on {port}" in window.message.text(), timeout=5000)
    assert window.status_labels["link"].text() == "link: reconnecting"
    window.select_target(0)
    assert window.isVisible()


def test_corrupt_session_is_reported_and_window_keeps_running(qtbot, window, session_file,
                                                               tmp_path):
    bad = tmp_path / "damaged.sqlite"
    good = session_file.read_bytes()
    bad.write_bytes(good[:4096] + bytes(len(good) - 4096))
    window.open_replay(str(bad))
    qtbot.waitUntil(lambda: str(bad) in window.message.text(), timeout=5000)
    assert "damaged" in window.message.text() or "not a readable" in window.message.text()
    replay_to_end(qtbot, window, session_file)
    assert len(window.hunt.targets[0].meas) > 600


def test_tasking_with_bad_signature_is_refused_and_not_sent(window, tmp_path):
    path = signed_tasking(tmp_path / "t.rft", bytes(32))
    assert not window.load_tasking(str(path), key=KEY)
    assert "signature does not verify" in window.message.text()
    assert "not sent" in window.message.text()
    assert window.table_model.rowCount() == 0


def test_signed_tasking_shows_masked_targets(window, tmp_path):
    path = signed_tasking(tmp_path / "t.rft", KEY)
    key_file = tmp_path / "operator.key"
    key_file.write_text(KEY.hex())
    window.settings.setValue("tasking_key_file", str(key_file))
    assert window.load_tasking(str(path))
    model = window.table_model
    assert model.data(model.index(0, 0)) == "rack-A"
    assert model.data(model.index(0, 1)) == "46000********12"
    assert window.hunt.targets[0].freq_hz == 1747500000


def test_tasking_without_key_file_says_what_to_do(window, tmp_path):
    path = signed_tasking(tmp_path / "t.rft", KEY)
    assert not window.load_tasking(str(path))
    assert "no operator key file" in window.message.text()


def test_recording_stores_every_record_shown(qtbot, window, tmp_path):
    records = hunt_data.hunt_records(targets=(0,))[:300]
    go = threading.Event()

    def stream():
        go.wait(10)
        yield from records

    window.open_records(stream())
    path = tmp_path / "rec.sqlite"
    assert window.start_recording(str(path))
    assert window.status_labels["recording"].text() == "recording: rec.sqlite"
    go.set()
    qtbot.waitUntil(lambda: window.hunt.n_records == len(records), timeout=10000)
    window.mark()
    window.stop_recording()
    with SessionReader(str(path)) as reader:
        assert reader.count("MEAS") == sum(r["kind"] == "MEAS" for r in records)
        assert [e["text"] for e in reader.records(kinds=("EVENT",))] == ["mark"]
    assert window.hunt.marks.n == 1


def test_recording_a_replay_is_refused_with_a_reason(qtbot, window, session_file, tmp_path):
    window.open_replay(str(session_file), playing=False)
    assert not window.start_recording(str(tmp_path / "x.sqlite"))
    assert "a replay is already recorded" in window.message.text()


def test_simulator_source_shows_the_worlds_targets(qtbot, window):
    window.open_simulator("corner", speed=50.0, handheld="model")
    model = window.table_model
    assert model.rowCount() >= 1 and model.data(model.index(0, 0)).startswith("SIM ")
    assert "*" in model.data(model.index(0, 1))
    assert not window.map.buildings.path().isEmpty()
    from host.sim.world import load_world

    assert window.hunt.building_names == [b.id for b in load_world("corner").buildings]
    qtbot.waitUntil(lambda: sum(len(t.meas) for t in window.hunt.targets.values()) > 20,
                    timeout=30000)
    window.close_source()
