"""Decoded frames as record dicts in SI units: what the recorder, console and relay share.

Every record has ``kind``, ``seq``, ``device_time_ms`` and ``rx_time_s`` (host epoch
seconds). The wire's scaled integers (``rssi_cdbm``, ``lat_e7``...) become floats with
units in their names (``rssi_dbm``, ``lat_deg``...), and sentinels become None.
"""

from firmware import protocol as P

HOST_KINDS = ("EVENT", "ESTIMATE")


def _heading(cdeg):
    return None if cdeg == P.HEADING_NONE else cdeg / 100.0


def _position(rec, f):
    rec["lat_deg"] = f["lat_e7"] / 1e7
    rec["lon_deg"] = f["lon_e7"] / 1e7
    rec["alt_m"] = f["alt_dm"] / 10.0


def frame_to_record(frame, rx_time_s=None):
    """Turn a protocol.Frame into a record dict."""
    name, _, names, _ = P.MESSAGES[frame.msg_type]
    f = dict(zip(names, frame.fields()))
    rec = {"kind": name, "seq": frame.seq, "device_time_ms": frame.time_ms,
           "rx_time_s": rx_time_s}
    t = frame.msg_type
    if t == P.MEAS:
        flags = f["flags"]
        not_detected = bool(flags & P.F_NOT_DETECTED)
        rec.update(
            target=f["target"], flags=flags,
            rssi_dbm=None if not_detected else f["rssi_cdbm"] / 100.0,
            raw_rssi=f["raw_rssi"],
            gain_db=None if f["gain_db"] == P.GAIN_AUTO else f["gain_db"],
            heading_deg=None if flags & P.F_NO_HEADING else _heading(f["heading_cdeg"]),
            floor=f["floor"], dwell_ms=f["dwell_ms"],
            not_detected=not_detected,
            position_stale=bool(flags & P.F_POSITION_STALE),
            saturated=bool(flags & P.F_SATURATED),
            radio_fault=bool(flags & P.F_RADIO_FAULT),
            uncalibrated=bool(flags & P.F_UNCALIBRATED),
            bench=bool(flags & P.F_BENCH),
        )
        _position(rec, f)
    elif t == P.MARK:
        rec.update(mark_id=f["mark_id"], floor=f["floor"], heading_deg=_heading(f["heading_cdeg"]))
        _position(rec, f)
    elif t == P.STATUS:
        rec.update(f)
        rec["temp_c"] = rec.pop("temp_cdeg") / 100.0
    elif t == P.HELLO:
        rec.update(f)
        rec["fw_version"] = "%d.%d.%d" % (f["fw_major"], f["fw_minor"], f["fw_patch"])
    elif t == P.LOG:
        rec["level"] = f["level"]
        rec["text"] = bytes(frame.tail()).decode("utf-8", "replace")
    elif t == P.NAK:
        rec.update(f)
        rec["reason_text"] = P.NAK_REASONS.get(f["reason"], "reason %d" % f["reason"])
    elif t == P.TASKING:
        rec.update(f)
        rec["data_hex"] = bytes(frame.tail()).hex()
    else:
        rec.update(f)
    return rec
