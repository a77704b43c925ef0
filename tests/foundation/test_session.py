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
