"""JSON payloads of the operations-centre feed.

One MQTT message carries one session record (or, with ``record_id`` 0 and kind
``meta``, the session's metadata and masked tasking)::

    {"v": 1, "team": "north", "session_id": "5f0c...", "record_id": 17,
     "kind": "MEAS", "sent_s": 1795870137.25, "record": {...}}

``(session_id, record_id)`` names a record uniquely, so the receiver can drop the
duplicates that QoS 1 and a restarted relay may deliver. ``sent_s`` is the
relay's wall clock at publication (link age and delivery latency).
"""

import bisect
import json
import math
from dataclasses import dataclass

from host.ops import schema
from host.ops.topics import META_KIND, parse_topic
from host.privacy import mask_imsi

VERSION = 1


class MalformedPayload(ValueError):
    """A message on a feed topic that is not a valid envelope."""


@dataclass(frozen=True)
class Envelope:
    """One decoded feed message."""

    team: str
    session_id: str
    record_id: int
    kind: str
    sent_s: float
    record: dict


def _is_imsi_key(key):
    return key == "imsi" or key.endswith("_imsi")


def mask_imsis(value):
    """Return `value` with every unmasked IMSI (any ``imsi`` / ``*_imsi`` key) masked.

    Nested dicts and lists are walked; strings already masked pass unchanged.
    """
    if isinstance(value, dict):
        # Whatever the value (an integer, a padded or short string): never in clear.
        return {k: (mask_imsi(v) if _is_imsi_key(k) and isinstance(v, (str, int, float))
                    else mask_imsis(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_imsis(v) for v in value]
    return value


def encode(team, session_id, record_id, kind, record, sent_s):
    """Return the UTF-8 JSON payload of one record; IMSIs are masked here."""
    text = json.dumps(record, separators=(",", ":"))
    # Walking every record for IMSI keys costs as much as encoding it; the text
    # shows at once whether there is anything to mask.
    if "imsi" in text:
        text = json.dumps(mask_imsis(record), separators=(",", ":"))
    head = json.dumps({"v": VERSION, "team": team, "session_id": session_id,
                       "record_id": int(record_id), "kind": kind, "sent_s": float(sent_s)},
                      separators=(",", ":"))
    return (head[:-1] + ',"record":' + text + "}").encode("utf-8")


def _require(body, key, types, what):
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, types):
        raise MalformedPayload(f"field {key!r} missing or not {what}")
    return value


def decode(topic, payload):
    """Check and decode one feed message against the feed's schema (`host.ops.schema`).

    Parameters
    ----------
    topic : str
        The MQTT topic it arrived on.
    payload : bytes
        The message body.

    Returns
    -------
    Envelope

    Raises
    ------
    MalformedPayload
        With one line saying what is wrong: bad topic, too large, nested too deep,
        not JSON, wrong version, a missing, mistyped or out-of-range field, or
        fields that disagree with the topic. Nothing of a message that raises may
        be stored.
    """
    try:
        team, session_id, kind = parse_topic(topic)
    except ValueError as exc:
        raise MalformedPayload(str(exc)) from None
    try:
        body = schema.load(payload)
    except schema.SchemaError as exc:
        raise MalformedPayload(str(exc)) from None
    if not isinstance(body, dict):
        raise MalformedPayload("payload is not a JSON object")
    if body.get("v") != VERSION:
        raise MalformedPayload(f"payload version {str(body.get('v'))[:20]!r} is not {VERSION}")
    record_id = _require(body, "record_id", int, "an integer")
    sent_s = _require(body, "sent_s", (int, float), "a number")
    record = _require(body, "record", dict, "an object")
    for key, expected in (("team", team), ("session_id", session_id), ("kind", kind)):
        if body.get(key) != expected:
            raise MalformedPayload(f"field {key!r}={str(body.get(key))[:80]!r} disagrees with topic {topic!r}")
    if record_id < 0 or (record_id == 0) != (kind == META_KIND):
        raise MalformedPayload(f"record_id {record_id} does not fit kind {kind!r}")
    if not math.isfinite(sent_s):
        raise MalformedPayload("field 'sent_s' is not finite")
    try:
        if kind == META_KIND:
            schema.check_meta(record, session_id)
        else:
            schema.check_record(record, kind, record_id)
    except schema.SchemaError as exc:
        raise MalformedPayload(str(exc)) from None
    return Envelope(team, session_id, record_id, kind, float(sent_s), record)


# Receipts: the operations centre's own acknowledgement, per team session, of the
# records it has committed to its archive (new or already there). A relay keeps a
# record in its outbox until a receipt names it; a broker's PUBACK is not enough.
MAX_RECEIPT_RANGES = 10000


def id_ranges(record_ids):
    """Sorted ``[[lo, hi], ...]`` covering the ints of `record_ids`."""
    out = []
    for rid in sorted(set(record_ids)):
        if out and rid == out[-1][1] + 1:
            out[-1][1] = rid
        else:
            out.append([rid, rid])
    return out


def encode_receipt(session_id, record_ids, meta_sent_s, sent_s):
    """Payload of one receipt: the record ids archived, and the metadata message's ``sent_s``."""
    body = {"v": VERSION, "session_id": session_id, "ids": id_ranges(record_ids),
            "meta_sent_s": meta_sent_s, "sent_s": float(sent_s)}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Receipt:
    """One decoded receipt: id ranges (sorted, disjoint) and the metadata's ``sent_s`` or None."""

    session_id: str
    ranges: tuple
    meta_sent_s: float | None

    def __contains__(self, record_id):
        index = bisect.bisect_right(self.ranges, (record_id, math.inf)) - 1
        return index >= 0 and record_id <= self.ranges[index][1]


def decode_receipt(payload, session_id):
    """Check and decode a receipt for `session_id`; raises `MalformedPayload`."""
    try:
        body = schema.load(payload, "receipt")
    except schema.SchemaError as exc:
        raise MalformedPayload(str(exc)) from None
    if not isinstance(body, dict) or body.get("v") != VERSION or body.get("session_id") != session_id:
        raise MalformedPayload(f"receipt is not a version {VERSION} receipt for session {session_id}")
    ranges = body.get("ids")
    if not isinstance(ranges, list) or len(ranges) > MAX_RECEIPT_RANGES:
        raise MalformedPayload(f"receipt 'ids' is not a list of up to {MAX_RECEIPT_RANGES} ranges")
    clean, last = [], 0
    for pair in ranges:
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in pair)
                and last < pair[0] <= pair[1]):
            raise MalformedPayload("receipt 'ids' holds a range that is not [lo, hi] ascending from 1")
        clean.append((pair[0], pair[1]))
        last = pair[1]
    meta_sent_s = schema.number(body, "meta_sent_s")
    return Receipt(session_id, tuple(clean), None if meta_sent_s is None else float(meta_sent_s))
