"""Recorder: what the link decodes lands in the session, in order, before the consumer sees it."""

import os
import time

from firmware import protocol as P
from host.recorder import Recorder
from host.session import SessionReader


def test_records_before_forwarding(tmp_path):
    master, slave = os.openpty()
    path = str(tmp_path / "r.sqlite")
    seen = []

    def consumer(rec):
        # the record is already in the session (same writer connection) when we get it
        seen.append((rec["id"], rec["kind"]))

    rec = Recorder(os.ttyname(slave), path, on_record=consumer).start()
    assert rec.link.wait_connected()
    for seq in range(25):
        os.write(master, P.encode(P.MEAS, seq, seq, (1, 0, -6000, 0, 0, 0, 0, 0, 0, 2, 10)))
    deadline = time.monotonic() + 5
    while sum(k == "MEAS" for _, k in seen) < 25 and time.monotonic() < deadline:
        time.sleep(0.01)
    rec.stop()
    os.close(master)
    os.close(slave)
    with SessionReader(path) as r:
        recs = list(r.records())
    ids = [x["id"] for x in recs]
    assert ids == sorted(ids) and [i for i, _ in seen] == ids[:len(seen)]
    meas = [x for x in recs if x["kind"] == "MEAS"]
    assert [m["seq"] for m in meas] == list(range(25))
    assert meas[0]["rssi_dbm"] == -60.0 and meas[0]["floor"] == 2
    assert recs[0]["kind"] == "EVENT" and recs[0]["text"] == "link connected"
    assert recs[-1]["text"] == "recording stopped" and recs[-1]["frames"] == 25
