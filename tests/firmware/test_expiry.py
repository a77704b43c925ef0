"""Taskings that expire stop the hunt; GNSS cannot roll the clock back to revive them;
a flood of unsigned TASKING data neither raises nor fills the heap (issue 18, items 1, 9)."""

import calendar
import json
import re
import time
from pathlib import Path

import pytest

from firmware import nmea
from firmware import protocol as P
from firmware import tasking as T
from host.link import Link
from host.virtual.device import DeviceClient
from host.virtual.env import StaticEnv
from host.virtual.handheld import VirtualHandheld

from .conftest import DEVICE_ID, KEY, tasking_body

YEAR_S = 365 * 86400


@pytest.fixture
def handheld(micropython_bin):
    made = []

    def make(env=None, **kw):
        kw.setdefault("config", {"dwell_ms": 2, "reads": 2})
        hh = VirtualHandheld(env or StaticEnv(), key=KEY, device_id=DEVICE_ID, **kw)
        link = Link(hh.start()).start()
        dev = DeviceClient(link)
        made.append((hh, link))
        dev.wait(lambda r: r["kind"] == "HELLO", 10)
        return hh, dev

    yield make
    for hh, link in made:
        link.stop()
        hh.stop()


def _statuses(dev, since):
    return [r for r in dev.records[since:] if r["kind"] == "STATUS"]


def test_hunt_stops_at_not_after_and_status_says_why(handheld):
    hh, dev = handheld()
    body = tasking_body(valid_s=4)
    not_after = body["not_after"]
    assert dev.upload_tasking(T.sign(KEY, body))["kind"] == "ACK"
    assert dev.request(P.START)["kind"] == "ACK"
    recs = dev.collect(max(0.0, not_after - time.time()) + 4.0)
    meas = [r for r in recs if r["kind"] == "MEAS"]
    assert len(meas) > 100, "the hunt ran before expiry"
    late = [r for r in meas if r["rx_time_s"] >= not_after]
    assert late == [], "%d MEAS at or after not_after" % len(late)
    after = [r for r in recs if r["kind"] == "STATUS" and r["rx_time_s"] > not_after + 1]
    assert after, "STATUS keeps coming"
    for st in after:
        assert st["fault_flags"] & P.FAULT_TASKING_EXPIRED
        assert st["fault_flags"] & P.FAULT_NO_TASKING
        assert st["mode"] == P.MODE_IDLE and st["n_targets"] == 0
    assert any(r["kind"] == "LOG" and "expired" in r["text"] for r in recs)
    # Nothing restarts it: START is refused, and the expired file is gone from the flash.
    nak = dev.request(P.START)
    assert nak["kind"] == "NAK" and nak["reason"] == P.NAK_NO_TASKING
    assert not (hh.state_dir / "tasking.rft").exists()
    assert dev.collect(1.5, kinds=("MEAS",)) == []


def test_new_tasking_after_expiry_clears_the_reason(handheld):
    hh, dev = handheld()
    body = tasking_body(valid_s=2)
    assert dev.upload_tasking(T.sign(KEY, body))["kind"] == "ACK"
    dev.collect(max(0.0, body["not_after"] - time.time()) + 1.5)
    assert dev.upload_tasking(T.sign(KEY, tasking_body(serial=2)))["kind"] == "ACK"
    since = len(dev.drain())
    dev.collect(2.2)
    st = _statuses(dev, since)[-1]
    assert not st["fault_flags"] & (P.FAULT_TASKING_EXPIRED | P.FAULT_NO_TASKING)
    assert st["n_targets"] == 1


def test_gnss_rolled_back_a_year_cannot_revive_an_expired_tasking(handheld):
    hh, dev = handheld()
    body = tasking_body(valid_s=2)
    blob = T.sign(KEY, body)
    assert dev.upload_tasking(blob)["kind"] == "ACK"
    assert dev.request(P.START)["kind"] == "ACK"
    dev.collect(max(0.0, body["not_after"] - time.time()) + 1.5)
    # The receiver now reports a date a year back (a spoofer, a week-rollover bug).
    hh._utc0 -= YEAR_S
    since = len(dev.drain())
    recs = dev.collect(3.0)
    assert [r for r in recs if r["kind"] == "MEAS"] == []
    sts = _statuses(dev, since)
    assert sts and all(st["fault_flags"] & P.FAULT_CLOCK_REFUSED for st in sts[1:])
    assert any(r["kind"] == "LOG" and "GNSS time" in r["text"] and "refused" in r["text"]
               for r in recs)
    # The RTC was never set back: the same signed tasking is still refused as expired.
    assert not (hh.state_dir / "rtc_offset_s").exists()
    nak = dev.upload_tasking(blob)
    assert nak["kind"] == "NAK" and nak["reason"] == P.NAK_EXPIRED


def test_gnss_rollback_keeps_a_valid_tasking_and_small_steps_are_taken(handheld):
    hh, dev = handheld()
    assert dev.upload_tasking(T.sign(KEY, tasking_body()))["kind"] == "ACK"
    assert dev.request(P.START)["kind"] == "ACK"
    hh._utc0 -= YEAR_S
    dev.collect(2.5)
    since = len(dev.drain())
    recs = dev.collect(1.5)
    assert len([r for r in recs if r["kind"] == "MEAS"]) > 50
    st = _statuses(dev, since)[-1]
    assert st["fault_flags"] & P.FAULT_CLOCK_REFUSED and st["n_targets"] == 1
    # Back to the true time: nothing to refuse.
    hh._utc0 += YEAR_S
    recs = dev.collect(2.5)
    st = [r for r in recs if r["kind"] == "STATUS"][-1]
    assert not st["fault_flags"] & P.FAULT_CLOCK_REFUSED
    # A 100 s correction backwards (an RTC that ran fast) is inside the bound: the RTC is set.
    hh._utc0 -= 100
    deadline = time.monotonic() + 5
    while not (hh.state_dir / "rtc_offset_s").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    offset = int((hh.state_dir / "rtc_offset_s").read_text())
    assert -102 <= offset <= -98


def test_cold_rtc_after_power_loss_waits_for_a_gnss_time_past_the_floor(handheld, tmp_path):
    # First life: a tasking is accepted (the floor is saved with it), then power is lost.
    hh, dev = handheld(state_dir=tmp_path)
    assert dev.upload_tasking(T.sign(KEY, tasking_body()))["kind"] == "ACK"
    floor_s = json.loads((tmp_path / "tasking_state.json").read_text())["floor_s"]
    assert abs(floor_s - time.time()) < 5
    dev.link.stop()  # else it reconnects to the next pty of that name and reads its bytes
    hh.stop()
    # Second life: the RTC restarts in January 2000 and the receiver reports a year back.
    (tmp_path / "rtc_offset_s").write_text(str(946684800 + 86400 - int(time.time())))
    hh = VirtualHandheld(StaticEnv(), key=KEY, device_id=DEVICE_ID, state_dir=tmp_path,
                         config={"dwell_ms": 2, "reads": 2})
    hh._utc0 -= YEAR_S
    link = Link(hh.start()).start()
    try:
        dev = DeviceClient(link)
        dev.wait(lambda r: r["kind"] == "HELLO", 10)
        recs = dev.collect(2.5)
        st = [r for r in recs if r["kind"] == "STATUS"][-1]
        assert st["fault_flags"] & P.FAULT_CLOCK_REFUSED and st["fault_flags"] & P.FAULT_NO_TASKING
        assert dev.request(P.START)["kind"] == "NAK"
        # The true time arrives: the clock is set forward and the saved tasking is back.
        hh._utc0 += YEAR_S
        dev.wait(lambda r: r["kind"] == "STATUS" and r["n_targets"] == 1, 5)
        assert dev.request(P.START)["kind"] == "ACK"
        dev.wait(lambda r: r["kind"] == "MEAS", 5)
    finally:
        link.stop()
        hh.stop()


@pytest.mark.parametrize("date, sec", [((2026, 12, 2), 35999), ((2000, 2, 29), 0),
                                       ((1999, 12, 31), 86399), ((2100, 3, 1), 43200)])
def test_rmc_date_to_unix_seconds_matches_the_calendar(run_mpy, date, sec):
    want = calendar.timegm(date + (0, 0, 0)) + sec
    assert nmea.unix_s(date, sec) == want
    assert run_mpy("import json, nmea\nprint(json.dumps(nmea.unix_s(%r, %d)))" % (date, sec)) == want


def test_clock_step_bound():
    floor = 1_800_000_000
    assert nmea.clock_step_ok(floor + 10 * YEAR_S, floor, floor)          # forward: always
    assert nmea.clock_step_ok(floor - nmea.CLOCK_MAX_BACKSTEP_S, floor, 0)
    assert not nmea.clock_step_ok(floor - nmea.CLOCK_MAX_BACKSTEP_S - 1, floor, 0)
    # A cold RTC (year 2000) may be set, but not to before the last tasking's issue time.
    cold = 946684800
    assert nmea.clock_step_ok(floor + 5, cold, floor)
    assert not nmea.clock_step_ok(floor - YEAR_S, cold, floor)


# -- the deframer and the TASKING chunk store under a flood -----------------------------------

def _raw_frame(msg_type, payload, seq=0):
    """A correctly CRC'd, COBS-encoded frame of any length (encode() refuses > 240 bytes)."""
    import binascii
    import struct
    body = struct.pack(P.HEADER_FMT, P.VERSION, msg_type, seq, 0) + payload
    raw = body + struct.pack("<I", binascii.crc32(body) & 0xFFFFFFFF)
    out = bytearray(len(raw) + len(raw) // 254 + 2)
    return bytes(out[:P.cobs_encode_into(raw, len(raw), out)])


def test_deframer_under_254_unsigned_13kB_tasking_chunks_in_micropython(run_mpy, tmp_path):
    big = b"".join(_raw_frame(P.TASKING, bytes([i, 254]) + bytes((i + k) % 251 + 1
                                                                  for k in range(13000)), i)
                   for i in range(254))
    good = P.encode(P.PING, 7, 0, (42,))
    (tmp_path / "flood.bin").write_bytes(big + good)
    got = run_mpy("""
import gc, json, protocol
d = protocol.Deframer()
frames = []
gc.collect()
free0 = gc.mem_free()
low = free0
with open(%r, "rb") as f:
    while True:
        piece = f.read(64)
        if not piece:
            break
        for fr in d.feed(piece):
            frames.append((fr.msg_type, fr.seq))
        gc.collect()
        m = gc.mem_free()
        low = m if m < low else low
print(json.dumps({"frames": frames, "overflows": d.overflows, "grew": free0 - low,
                  "memory_errors": d.memory_errors}))
""" % str(tmp_path / "flood.bin"), heap_kb=96)
    assert got["frames"] == [[P.PING, 7]]
    assert got["overflows"] == 254 and got["memory_errors"] == 0
    assert got["grew"] < 4096, "the deframer's memory must not grow with the flood"


def test_deframer_survives_a_full_heap(run_mpy):
    # Frames completed while nothing can be allocated: counted, never raised.
    frames = b"".join(P.encode(P.PING, i, 0, (i,)) for i in range(5))
    got = run_mpy("""
import json, micropython, protocol
d = protocol.Deframer()
data = bytearray(%r)
r = err = None
micropython.heap_lock()
try:
    r = d.feed(data)
    err = None
except Exception as e:
    err = repr(e)
micropython.heap_unlock()
again = [f.seq for f in d.feed(bytearray(%r))]
print(json.dumps({"err": err, "memory_errors": d.memory_errors, "again": again}))
""" % (frames, P.encode(P.PING, 9, 0, (9,))))
    assert got["err"] is None and got["memory_errors"] == 1
    assert got["again"] == [9]


def test_unsigned_tasking_flood_is_refused_and_the_hunt_goes_on(handheld):
    hh, dev = handheld()
    assert dev.upload_tasking(T.sign(KEY, tasking_body()))["kind"] == "ACK"
    assert dev.request(P.START)["kind"] == "ACK"
    chunk = bytes(range(1, 239))
    naks = []
    for i in range(254):
        rec = dev.request(P.TASKING, (i, 254), chunk)
        if rec["kind"] == "NAK":
            naks.append(rec)
    assert naks and all(n["reason"] == P.NAK_BAD_TASKING for n in naks)
    # Oversized frames as well: dropped by the deframer as overflows.
    for i in range(20):
        with dev.link._lock:
            dev.link._port.write(_raw_frame(P.TASKING, bytes([i, 254]) + b"\x55" * 13000, i))
    recs = dev.collect(2.0)
    assert len([r for r in recs if r["kind"] == "MEAS"]) > 50, "the hunt goes on"
    st = [r for r in recs if r["kind"] == "STATUS"][-1]
    assert st["n_targets"] == 1 and st["mode"] == P.MODE_HUNT
    assert "MemoryError" not in hh.stderr_text()
    assert not any(r["kind"] == "LOG" and "out of memory" in r["text"] for r in dev.records)
    # A 128-target tasking is still taken after the flood.
    targets = [{"label": "port %d" % i, "rat": "LTE", "channel": 19575 + i,
                "uplink_hz": 1710000000 + 200000 * i, "bandwidth_hz": 5000000} for i in range(128)]
    try:
        rec = dev.upload_tasking(T.sign(KEY, tasking_body(serial=2, targets=targets)), 20.0)
    except TimeoutError:
        raise AssertionError(hh.stderr_text()[-3000:])
    assert rec["kind"] == "ACK"


def test_tasking_budget_holds_the_largest_real_tasking():
    # 128 targets with long labels, IMSIs and two schedule windows each.
    targets = [{"label": "rack %03d port %02d basement" % (i, i % 8), "imsi": "46000%010d" % i,
                "rat": "LTE", "channel": 19575, "uplink_hz": 1710000000 + 100000 * i,
                "bandwidth_hz": 5000000, "schedule": [[0, 720], [780, 1440]]}
               for i in range(128)]
    blob = T.sign(KEY, tasking_body(serial=2, targets=targets))
    src = (Path(T.__file__).parent / "main.py").read_text()
    budget = int(re.search(r"^MAX_TASKING_BYTES = (\d+)", src, re.M).group(1))
    assert 20000 < len(blob) < budget
    # ... and the protocol's 255 chunks of 238 bytes could carry twice the budget.
    assert 255 * (P.MAX_PAYLOAD - P.PAYLOAD_SIZE[P.TASKING]) > 1.8 * budget
