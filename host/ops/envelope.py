"""JSON payloads of the operations-centre feed.

One MQTT message carries one session record (or, with ``record_id`` 0 and kind
``meta``, the session's metadata and masked tasking)::

    {"v": 1, "team": "north", "session_id": "5f0c...", "record_id": 17,
     "kind": "MEAS", "sent_s": 1795870137.25, "record": {...}}

``(session_id, record_id)`` names a record uniquely, so the receiver can drop the
duplicates that QoS 1 and a restarted relay may deliver. ``sent_s`` is the
relay's wall clock at publication (link age and delivery latency).
"""

import json
import math
from dataclasses import dataclass

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
    """Check and decode one feed message.

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
        With one line saying what is wrong: bad topic, not JSON, wrong version,
        missing or mistyped field, or fields that disagree with the topic.
    """
    try:
        team, session_id, kind = parse_topic(topic)
    except ValueError as exc:
        raise MalformedPayload(str(exc)) from None
    try:
        body = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload(f"payload is not UTF-8 JSON ({exc})") from None
    if not isinstance(body, dict):
        raise MalformedPayload("payload is not a JSON object")
    if body.get("v") != VERSION:
        raise MalformedPayload(f"payload version {body.get('v')!r} is not {VERSION}")
    record_id = _require(body, "record_id", int, "an integer")
    sent_s = _require(body, "sent_s", (int, float), "a number")
    record = _require(body, "record", dict, "an object")
    for key, expected in (("team", team), ("session_id", session_id), ("kind", kind)):
        if body.get(key) != expected:
            raise MalformedPayload(f"field {key!r}={body.get(key)!r} disagrees with topic {topic!r}")
    if record_id < 0 or (record_id == 0) != (kind == META_KIND):
        raise MalformedPayload(f"record_id {record_id} does not fit kind {kind!r}")
    if not math.isfinite(sent_s):
        raise MalformedPayload("field 'sent_s' is not finite")
    return Envelope(team, session_id, record_id, kind, float(sent_s), record)
