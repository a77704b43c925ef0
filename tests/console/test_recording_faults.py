"""The console recording to a disk that fills up: it stops recording and says so."""

import queue

from host.session import SessionReader


class ManualLink:
    """A link-shaped record source the test feeds by hand (what host.link.Link offers)."""

    def __init__(self):
        self.records = queue.Queue()

    def start(self):
        pass

    def stop(self):
        pass

    def send(self, msg_type, fields=(), tail=b""):
        pass

    def stats(self):
        return {"frames": 0, "crc_errors": 0, "connected": True}


def meas(i):
    return {"kind": "MEAS", "seq": i & 0xFFFF, "device_time_ms": 10 * i, "rx_time_s": 1.7e9 + i,
            "target": 0, "rssi_dbm": -70.0, "raw_rssi": 0, "gain_db": 30, "heading_deg": None,
            "lat_deg": 52.52 + i * 1e-6, "lon_deg": 13.405, "alt_m": 34.0, "floor": 0,
            "flags": 0, "note": "x" * 200}


def test_full_disk_stops_console_recording_with_a_message(qtbot, window, tmp_path):
    link = ManualLink()
    window.open_link(link)
    path = tmp_path / "rec.sqlite"
    assert window.start_recording(str(path))
    writer = window.writer
    pages = writer._con.execute("PRAGMA page_count").fetchone()[0]
    writer._con.execute("PRAGMA max_page_count = %d" % (pages + 30))  # a disk about to fill
    fed = 0
    while window.writer is not None and fed < 3000:  # 100 records per 0.3 s: several commits
        for _ in range(100):
            link.records.put(meas(fed))
            fed += 1
        qtbot.wait(300)
    assert window.writer is None, "the page limit never bit"
    text = window.message.text()
    assert "recording stopped" in text and "full" in text
    assert "not recording" in window.status_labels["recording"].text()
    with SessionReader(str(path)) as r:
        n = r.count()
    assert 0 < n < fed and f"{n} records are stored" in text
    # the hunt goes on on screen
    link.records.put(meas(fed))
    qtbot.waitUntil(lambda: len(window.hunt.targets[0].meas) == fed + 1, timeout=20000)
