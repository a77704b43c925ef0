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


class _SmallDiskWriter:
    """SessionWriter on a 'disk' that is full a few pages after the file is made
    (SQLite's max_page_count: a full disk without root)."""

    extra_pages = 200

    def __new__(cls, path, **kwargs):
        from host.session import SessionWriter

        w = SessionWriter(path, **kwargs)
        pages = w._con.execute("PRAGMA page_count").fetchone()[0]
        w._con.execute("PRAGMA max_page_count = %d" % (pages + cls.extra_pages))
        return w


def test_record_command_stops_at_a_full_disk_with_a_banner_and_exit_code(tmp_path, monkeypatch,
                                                                        capsys):
    import argparse
    import threading

    import host.recorder
    from host.commands import record

    monkeypatch.setattr(host.recorder, "SessionWriter", _SmallDiskWriter)
    master, slave = os.openpty()
    path = str(tmp_path / "full.sqlite")
    stop = threading.Event()
    sent = []

    def device():
        seq = 0
        while not stop.is_set() and seq < 60000:
            # about 1000 frames/s: the 'disk' fills in a few seconds, many commits before
            chunk = b"".join(P.encode(P.MEAS, (seq + k) & 0xFFFF, seq + k,
                                      (1, 0, -6000, 0, 0, 0, 0, 0, 0, 2, 10)) for k in range(10))
            try:
                os.write(master, chunk)
            except OSError:
                return
            seq += 10
            sent.append(seq)
            time.sleep(0.01)

    feeder = threading.Thread(target=device, daemon=True)
    feeder.start()
    args = argparse.Namespace(port=os.ttyname(slave), out=path, seconds=30.0)
    t0 = time.monotonic()
    code = record.run(args)
    took = time.monotonic() - t0
    stop.set()
    feeder.join(5)
    os.close(master)
    os.close(slave)
    out = capsys.readouterr()
    assert code == record.EXIT_STORAGE_FAULT == 1
    assert took < 15.0  # stopped at the fault, not at --seconds
    assert "RECORDING STOPPED" in out.err and "full" in out.err
    with SessionReader(path) as r:
        n = r.count()
    assert n > 0
    # what the banner and the last status line claim is what the file holds
    assert "%d records are stored" % n in out.err
    shown = [int(part.split("stored ")[1].split()[0]) for part in out.out.split("\r")
             if "stored " in part]
    assert shown and max(shown) <= n
