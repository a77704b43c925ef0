"""The session store: survives SIGKILL mid-hunt, refuses damaged and foreign files, masks IMSIs."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from host.session import SessionError, SessionReader, SessionWriter, upgrade

RECORDER = r"""
import sys, time
from host.session import SessionWriter
w = SessionWriter(sys.argv[1], calibration_id=42)
i = 0
print("ready", flush=True)
while True:
    i += 1
    w.record({"kind": "MEAS", "seq": i & 0xFFFF, "device_time_ms": i, "rx_time_s": time.time(),
              "target": i % 3, "rssi_dbm": -70.0, "raw_rssi": 300, "gain_db": 30,
              "heading_deg": None, "lat_deg": 31.2, "lon_deg": 121.4, "alt_m": 5.0,
              "floor": 0, "flags": 0})
    time.sleep(0.002)
"""


def test_sigkill_mid_hunt_keeps_everything_but_the_last_second(tmp_path):
    path = str(tmp_path / "hunt.sqlite")
    proc = subprocess.Popen([sys.executable, "-c", RECORDER, path], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(2.0)
    killed_at = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with SessionReader(path) as r:
        recs = list(r.records())
        assert r.meta["calibration_id"] == "42"
        assert len(r.measurements()) == len(recs)
    assert len(recs) > 100
    ids = [rec["id"] for rec in recs]
    assert ids == list(range(1, len(ids) + 1))  # nothing missing in the middle
    assert recs[-1]["rx_time_s"] >= killed_at - 1.0  # committed up to the last second
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_round_trip_and_masked_tasking(tmp_path):
    path = str(tmp_path / "s.sqlite")
    tasking = {"issuer": "op", "targets": [{"label": "rack-A", "imsi": "460001234567812",
                                            "rat": "gsm", "channel": 62}]}
    with SessionWriter(path, tasking=tasking) as w:
        w.record({"kind": "HELLO", "seq": 0, "device_time_ms": 1, "rx_time_s": 1.0,
                  "calibration_id": 20261128, "device_id": 7})
        w.record({"kind": "MEAS", "seq": 1, "device_time_ms": 2, "rx_time_s": 2.0, "target": 0,
                  "rssi_dbm": None, "lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 0.0, "floor": 1,
                  "flags": 1})
        w.event("tasking sent")
    with SessionReader(path) as r:
        assert r.tasking["targets"][0]["imsi"] == "46000********12"
        assert r.targets()[0]["label"] == "rack-A"
        assert r.calibration_id == "20261128"
        m = r.measurements()
        assert m[0]["target_label"] == "rack-A" and m[0]["rssi_dbm"] is None
        assert [x["kind"] for x in r.records()] == ["HELLO", "MEAS", "EVENT"]
    raw = open(path, "rb").read()
    assert b"460001234567812" not in raw


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"precious")
    with pytest.raises(SessionError, match="already exists"):
        SessionWriter(str(path))
    assert path.read_bytes() == b"precious"


@pytest.mark.parametrize("content,message", [
    (b"this is a CSV file\n1,2,3\n" * 100, "not a readable session file"),
    (None, "not an rfhound session file"),
])
def test_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "x.sqlite"
    if content is None:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (a)")
        con.commit()
        con.close()
    else:
        path.write_bytes(content)
    with pytest.raises(SessionError, match=message) as err:
        SessionReader(str(path))
    assert "\n" not in str(err.value)


def test_damaged_file_is_refused(tmp_path):
    path = str(tmp_path / "d.sqlite")
    with SessionWriter(path) as w:
        for i in range(2000):
            w.record({"kind": "LOG", "seq": i, "text": "x" * 200})
    data = bytearray(open(path, "rb").read())
    for off in range(4096 * 3, len(data) - 4096, 4096):
        data[off:off + 64] = b"\xA5" * 64  # trash the start of most pages
    open(path, "wb").write(bytes(data))
    with pytest.raises(SessionError, match="damaged|not a readable"):
        r = SessionReader(path)
        list(r.records())


def test_newer_schema_is_refused_and_older_upgraded(tmp_path):
    path = str(tmp_path / "n.sqlite")
    SessionWriter(path).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(SessionError, match="newer than this rfhound"):
        SessionReader(path)
    old = str(tmp_path / "old.sqlite")
    con = sqlite3.connect(old)
    con.execute("PRAGMA application_id = %d" % 0x52464844)
    con.commit()
    con.close()
    upgrade(old)
    with SessionReader(old) as r:
        assert r.count() == 0


def _meas(i, **extra):
    rec = {"kind": "MEAS", "seq": i & 0xFFFF, "device_time_ms": i, "rx_time_s": 1000.0 + i,
           "target": 0, "rssi_dbm": -70.0, "raw_rssi": 300, "gain_db": 30, "heading_deg": None,
           "lat_deg": 31.2, "lon_deg": 121.4, "alt_m": 5.0, "floor": 0, "flags": 0}
    rec.update(extra)
    return rec


def _limit_pages(writer, extra_pages):
    """A disk that is full ``extra_pages`` pages from now: SQLite's max_page_count, no root."""
    con = writer._con
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.execute("PRAGMA max_page_count = %d" % (pages + extra_pages))


def test_full_disk_stops_recording_at_the_first_failure_and_counts_only_what_is_stored(tmp_path):
    path = str(tmp_path / "full.sqlite")
    said = []
    w = SessionWriter(path, commit_interval_s=3600)  # commits only when asked
    w.on_error = said.append
    _limit_pages(w, 6)
    stored_ids, error = [], None
    for i in range(100000):
        try:
            rid = w.record(_meas(i, text="x" * 300))
        except SessionError as exc:
            error = str(exc)
            break
        if i % 50 == 49:
            try:
                w.commit()
            except SessionError as exc:
                error = str(exc)
                break
            stored_ids.append(rid)
    assert error is not None, "the page limit never bit"
    assert said == [error] and w.error == error and "\n" not in error
    assert "recording stopped" in error and "full" in error
    # every later record is refused with the same line; nothing is counted that is not stored
    with pytest.raises(SessionError) as again:
        w.record(_meas(999999))
    assert str(again.value) == error
    with pytest.raises(SessionError):
        w.commit()
    w.close()  # never raises for the fault
    with SessionReader(path) as r:
        n = r.count()
        assert n == w.n_stored == len(stored_ids) * 50
        assert [rec["id"] for rec in r.records()] == list(range(1, n + 1))
    assert "%d records are stored" % n in error


def test_clean_stop_checkpoints_the_wal_so_the_sqlite_alone_is_complete(tmp_path):
    import shutil

    path = tmp_path / "s.sqlite"
    w = SessionWriter(str(path), calibration_id=7)
    for i in range(500):
        w.record(_meas(i))
    keep_open = sqlite3.connect(path)  # a reader holding the file: SQLite would not checkpoint
    keep_open.execute("SELECT COUNT(*) FROM records").fetchone()
    w.close()
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)  # the .sqlite alone, no -wal
    keep_open.close()
    with SessionReader(str(copy)) as r:
        assert r.count() == 500 + 0 and r.stopped_cleanly and r.missing is None
        assert r.meta["calibration_id"] == "7"


KILLED_RECORDER = r"""
import sys
from host.session import SessionWriter
w = SessionWriter(sys.argv[1])
for i in range(int(sys.argv[2])):
    w.record({"kind": "MEAS", "seq": i, "device_time_ms": i, "rx_time_s": 1000.0 + i,
              "target": 0, "rssi_dbm": -70.0, "lat_deg": 31.2, "lon_deg": 121.4, "flags": 0})
w.commit()
print("ready", flush=True)
sys.stdin.readline()
"""


def _killed_session(tmp_path, n):
    """A session whose recorder was SIGKILLed after committing ``n`` records (WAL not merged)."""
    path = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RECORDER, str(path), str(n)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.getsize(str(path) + "-wal") > 0
    return path


def test_wal_only_copy_says_what_is_missing(tmp_path):
    import shutil

    path = _killed_session(tmp_path, 40)
    with SessionReader(str(path)) as r:  # with its -wal beside it: everything is there
        assert r.count() == 40 and r.missing is None and not r.stopped_cleanly
    copy = tmp_path / "alone.sqlite"
    shutil.copyfile(path, copy)
    with pytest.raises(SessionError) as err:
        SessionReader(str(copy))
    text = str(err.value)
    assert "alone.sqlite-wal" in text and "not beside it" in text and "\n" not in text


def test_partly_checkpointed_copy_warns_what_may_be_missing(tmp_path):
    import shutil

    path = _killed_session(tmp_path, 300)
    con = sqlite3.connect(path)  # recovers the killed session; its records go into the file
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(25):  # ... and 25 more stay in the write-ahead log
        con.execute("INSERT INTO records (kind, rx_time_s, json) VALUES ('LOG', ?, '{}')", (i,))
    con.commit()
    copy = tmp_path / "partial.sqlite"
    shutil.copyfile(path, copy)  # copied while running: the -wal is left behind
    con.close()
    with SessionReader(str(copy)) as r:
        assert r.count() == 300
        assert r.missing is not None and "300 records" in r.missing
        assert "partial.sqlite-wal" in r.missing and "\n" not in r.missing
