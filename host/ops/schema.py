"""What a feed message may hold: bounded JSON and the typed fields the archive binds to SQL.

Everything a team account publishes inside its ACL reaches the operations centre, so
each payload is checked here before anything touches the archive: its size, its
nesting depth (measured on the bytes, before the parser could recurse), every integer
within SQLite's 64-bit range, and the type and range of every field that becomes a
column (`host.session` stores ``rx_time_s``, ``seq``, ``device_time_ms`` and the MEAS
columns as SQL values, the tasking's targets as a table). Any other field of a record
is kept as JSON text, so it only has to be bounded.
"""

import json
import math
import re

# A record is a few hundred bytes; an ESTIMATE with its ellipse about 1 kB. The
# bound leaves room for long EVENT texts and keeps a flood of huge messages cheap.
MAX_PAYLOAD_BYTES = 64 * 1024
# Deepest legitimate message: envelope > record > tasking > targets > target = 5.
MAX_DEPTH = 16
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class SchemaError(ValueError):
    """A payload or field outside the feed's schema; the message is one line."""


def _bounded_int(text):
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise SchemaError(f"integer {text[:12]}{'...' if len(text) > 12 else ''} ({len(text)} digits) "
                          "is outside the 64-bit range")
    return value


def _check_depth(payload):
    # Fast path: fewer brackets than the limit cannot nest deeper than it.
    if payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH:
        return
    depth = 0
    for match in _TOKENS.finditer(payload):
        token = match.group()
        if token[0] == 0x22:       # a string: brackets inside it do not nest
            continue
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise SchemaError(f"JSON nests deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def check_shape(payload, what="payload"):
    """Raise `SchemaError` when `payload` (bytes) is too large or nests too deep."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise SchemaError(f"{what} of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES} bytes")
    _check_depth(payload)


def load(payload, what="payload"):
    """Parse bounded UTF-8 JSON: size, depth and integer range checked.

    Raises
    ------
    SchemaError
        With one line: too large, too deep, not UTF-8 JSON, an integer beyond 64 bits.
    """
    payload = bytes(payload)
    check_shape(payload, what)
    try:
        return json.loads(payload.decode("utf-8"), parse_int=_bounded_int)
    except SchemaError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SchemaError(f"{what} is not UTF-8 JSON ({str(exc)[:120]})") from None


def _where(key, where):
    return f"{where}.{key}" if where else key


def integer(obj, key, lo=INT64_MIN, hi=INT64_MAX, *, required=False, where=""):
    """``obj[key]`` as an int in ``lo..hi`` (None when absent or null, unless `required`)."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SchemaError(f"field {_where(key, where)!r} is {_show(value)}, not an integer in {lo}..{hi}")
    return value


def number(obj, key, lo=-math.inf, hi=math.inf, *, required=False, where=""):
    """``obj[key]`` as a finite number in ``lo..hi`` (None when absent or null, unless `required`)."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise SchemaError(f"field {_where(key, where)!r} is {_show(value)}, not a finite number in {lo:g}..{hi:g}")
    return value


def text(obj, key, *, required=False, max_len=4096, where=""):
    """``obj[key]`` as a string of at most `max_len` characters (None when absent or null)."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise SchemaError(f"field {_where(key, where)!r} is {_show(value)}, not a text of up to {max_len} characters")
    return value


def _show(value):
    if isinstance(value, (list, dict)):
        return f"a JSON {'list' if isinstance(value, list) else 'object'}"
    return "missing" if value is None else f"{type(value).__name__} {str(value)[:24]!r}"


# Fields stored as SQL columns by host.session, with the ranges of the wire format
# they come from (firmware/protocol.py: MEAS is <BBhHbHiiibH, MARK <HiiibH).
def _common(rec):
    number(rec, "rx_time_s")
    integer(rec, "seq", 0, INT64_MAX)
    integer(rec, "device_time_ms", 0, INT64_MAX)


# Ranges are the wire's (lat_e7 is an int32, heading_cdeg a uint16...), not the
# plausible ones: whatever a real handheld sent is archived, not judged, here.
_I32_E7 = 2 ** 31 / 1e7


def _position(rec):
    number(rec, "lat_deg", -_I32_E7, _I32_E7)
    number(rec, "lon_deg", -_I32_E7, _I32_E7)
    number(rec, "alt_m", -2 ** 31 / 10, 2 ** 31 / 10)
    integer(rec, "floor", -128, 127)
    number(rec, "heading_deg", 0.0, 655.35)
    number(rec, "x_m")                # local-frame position some simulated records carry
    number(rec, "y_m")


def _meas(rec):
    integer(rec, "target", 0, 255, required=True)
    integer(rec, "flags", 0, 255)
    number(rec, "rssi_dbm", -327.68, 327.67)
    integer(rec, "raw_rssi", 0, 65535)
    integer(rec, "gain_db", -128, 127)
    integer(rec, "dwell_ms", 0, 65535)
    _position(rec)


def _hello(rec):
    for key in ("calibration_id", "device_id"):
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            integer(rec, key, 0, INT64_MAX)


_STATUS_U8 = ("battery_pct", "gnss_fix", "gnss_sats", "radio_lock", "mode", "active_target", "n_targets",
              "radio_resets")


def _status(rec):
    # STATUS is <HBhBBBBHHBbBB on the wire; the console shows these fields as they come.
    for key in _STATUS_U8:
        integer(rec, key, 0, 255)
    for key in ("battery_mv", "fault_flags", "dropped_frames"):
        integer(rec, key, 0, 65535)
    number(rec, "temp_c", -327.68, 327.67)
    integer(rec, "floor", -128, 127)


def _text_record(rec):
    text(rec, "text", max_len=MAX_PAYLOAD_BYTES)
    integer(rec, "level", 0, 255)


CHECKS = {"MEAS": _meas, "MARK": _position, "HELLO": _hello, "STATUS": _status, "EVENT": _text_record,
          "LOG": _text_record}


def check_record(rec, kind, record_id):
    """Check a session record (a dict) against its envelope; raises `SchemaError`."""
    if rec.get("id") != record_id or rec.get("kind") != kind:
        raise SchemaError("record's id or kind disagrees with the envelope")
    _common(rec)
    check = CHECKS.get(kind)
    if check is not None:
        check(rec)


def check_tasking(tasking):
    """Check a (masked) tasking's target table; raises `SchemaError`."""
    if not isinstance(tasking, dict):
        raise SchemaError("tasking is not a JSON object")
    targets = tasking.get("targets")
    if targets is None:
        return
    if not isinstance(targets, list) or len(targets) > 256:
        raise SchemaError("tasking 'targets' is not a list of up to 256 targets")
    for index, target in enumerate(targets):
        where = f"targets[{index}]"
        if not isinstance(target, dict):
            raise SchemaError(f"tasking {where} is not a JSON object")
        text(target, "label", max_len=200, where=where)
        imsi = target.get("imsi")
        if imsi is not None and not isinstance(imsi, str):
            raise SchemaError(f"tasking {where}.imsi is {_show(imsi)}, not a text")
        text(target, "rat", max_len=16, where=where)
        integer(target, "channel", 0, INT64_MAX, where=where)
        number(target, "freq_hz", 0.0, 1e12, where=where)


def check_meta(body, session_id):
    """Check a metadata message body ``{"meta": {...}, "tasking": {...} | null}``."""
    meta, tasking = body.get("meta"), body.get("tasking")
    if not isinstance(meta, dict) or meta.get("session_id") != session_id:
        raise SchemaError("meta message without a matching meta dict")
    for key, value in meta.items():
        if isinstance(value, (dict, list)) or len(key) > 200:
            raise SchemaError(f"meta field {key[:40]!r} is not a short key with a scalar value")
    if tasking is not None:
        check_tasking(tasking)
