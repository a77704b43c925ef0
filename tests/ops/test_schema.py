"""The feed's schema: bounds at their edges, and properties over arbitrary payloads (hypothesis).

The property that matters: whatever bytes arrive, `envelope.decode` either refuses
them with `MalformedPayload` or returns an envelope the archive stores and commits
without any other error. No other exception may escape, since any other one would
be taken for a broken archive.
"""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.ops import envelope, schema
from host.ops.archive import Archive
from host.ops.topics import record_topic

SID = "s-prop"
TOPIC = record_topic("north", SID, "MEAS")


def _payload(record_id=1, **record):
    rec = {"id": record_id, "kind": "MEAS", "target": 0}
    rec.update(record)
    return envelope.encode("north", SID, record_id, "MEAS", rec, 1.0)


@pytest.mark.parametrize("field, ok, bad", [
    ("target", 255, 256),
    ("target", 0, -1),
    ("floor", -128, -129),
    ("raw_rssi", 65535, 65536),
    ("gain_db", 127, 128),
    ("flags", 255, 256),
    ("rssi_dbm", -327.68, -327.69),
    ("heading_deg", 655.35, 655.36),
    ("lat_deg", 214.7483648, 214.75),
    ("seq", 2 ** 63 - 1, 2 ** 63),
    ("device_time_ms", 0, -1),
])
def test_wire_ranges_are_the_bounds(field, ok, bad):
    assert envelope.decode(TOPIC, _payload(**{field: ok})).record[field] == ok
    with pytest.raises(envelope.MalformedPayload, match=field if bad < 2 ** 63 else "64-bit"):
        envelope.decode(TOPIC, _payload(**{field: bad}))


def test_record_id_is_within_sqlite_integers():
    assert envelope.decode(TOPIC, _payload(2 ** 63 - 1)).record_id == 2 ** 63 - 1
    with pytest.raises(envelope.MalformedPayload, match="64-bit range"):
        envelope.decode(TOPIC, _payload(2 ** 63))


def test_depth_is_measured_before_parsing_and_strings_do_not_count():
    nested = "[" * schema.MAX_DEPTH + "]" * schema.MAX_DEPTH
    body = json.loads(_payload())
    body["record"]["deep"] = json.loads("[" * (schema.MAX_DEPTH - 3) + "]" * (schema.MAX_DEPTH - 3))
    body["record"]["text"] = "[[[[{{{{" * 100       # brackets inside a string are text
    assert envelope.decode(TOPIC, json.dumps(body).encode()).record["text"].startswith("[[[[")
    body["record"]["deep"] = json.loads(nested)
    with pytest.raises(envelope.MalformedPayload, match="nests deeper"):
        envelope.decode(TOPIC, json.dumps(body).encode())


def test_size_bound_is_exact():
    base = len(_payload(note=""))
    fits = _payload(note="x" * (schema.MAX_PAYLOAD_BYTES - base))
    assert len(fits) == schema.MAX_PAYLOAD_BYTES
    envelope.decode(TOPIC, fits)
    with pytest.raises(envelope.MalformedPayload, match="exceeds"):
        envelope.decode(TOPIC, _payload(note="x" * (schema.MAX_PAYLOAD_BYTES - base + 1)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30)

record_fields = st.fixed_dictionaries({}, optional={
    key: json_values for key in ("target", "flags", "rssi_dbm", "raw_rssi", "gain_db", "heading_deg",
                                 "lat_deg", "lon_deg", "alt_m", "floor", "dwell_ms", "seq", "device_time_ms",
                                 "rx_time_s", "text", "tasking", "meta")})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=record_fields, record_id=st.integers(-5, 2 ** 64), kind=st.sampled_from(["MEAS", "MARK", "HELLO",
                                                                                        "EVENT", "meta"]))
def test_decode_refuses_or_returns_what_the_archive_can_store(tmp_path_factory, fields, record_id, kind):
    archive = Archive(tmp_path_factory.mktemp("archive"))
    rec = dict(fields, id=record_id, kind=kind)
    if kind == "meta":
        rec = {"meta": dict(fields.get("meta") if isinstance(fields.get("meta"), dict) else {}, session_id=SID),
               "tasking": fields.get("tasking")}
    body = {"v": 1, "team": "north", "session_id": SID, "record_id": record_id, "kind": kind,
            "sent_s": 1.0, "record": rec}
    payload = json.dumps(body).encode()
    try:
        env = envelope.decode(record_topic("north", SID, kind), payload)
    except envelope.MalformedPayload:
        return
    try:
        archive.store(env)
    except envelope.MalformedPayload:
        pass
    archive.commit()
    archive.close()


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_only_ever_raise_malformed(payload):
    try:
        envelope.decode(TOPIC, payload)
    except envelope.MalformedPayload as exc:
        assert "\n" not in str(exc)
    try:
        envelope.decode_receipt(payload, SID)
    except envelope.MalformedPayload:
        pass


finite = st.floats(allow_nan=False, allow_infinity=False)
valid_meas = st.fixed_dictionaries({
    "target": st.integers(0, 255), "flags": st.integers(0, 255),
    "rssi_dbm": st.none() | st.floats(-327.68, 327.67), "raw_rssi": st.integers(0, 65535),
    "gain_db": st.none() | st.integers(-128, 127), "heading_deg": st.none() | st.floats(0, 655.35),
    "lat_deg": st.floats(-90, 90), "lon_deg": st.floats(-180, 180), "alt_m": st.floats(-2e8, 2e8),
    "floor": st.integers(-128, 127), "dwell_ms": st.integers(0, 65535),
    "seq": st.integers(0, 65535), "device_time_ms": st.integers(0, 2 ** 32 - 1), "rx_time_s": finite,
    "note": st.text(max_size=50)})


@settings(max_examples=200, deadline=None)
@given(rec=valid_meas, record_id=st.integers(1, 2 ** 63 - 1))
def test_valid_measurements_round_trip(rec, record_id):
    rec = dict(rec, id=record_id, kind="MEAS")
    env = envelope.decode(TOPIC, envelope.encode("north", SID, record_id, "MEAS", rec, 5.0))
    assert env.record == rec and env.record_id == record_id and not math.isnan(env.sent_s)


@settings(max_examples=200, deadline=None)
@given(ids=st.sets(st.integers(1, 2 ** 63 - 1), max_size=200) | st.sets(st.integers(1, 400), max_size=300),
       probe=st.integers(0, 500))
def test_receipts_name_exactly_the_ids_they_were_made_from(ids, probe):
    receipt = envelope.decode_receipt(envelope.encode_receipt(SID, ids, None, 1.0), SID)
    assert all(rid in receipt for rid in ids)
    assert (probe in receipt) == (probe in ids)
    assert sum(hi - lo + 1 for lo, hi in receipt.ranges) == len(ids)


@pytest.mark.parametrize("kind, record, why", [
    ("STATUS", {"battery_mv": [3900]}, "'battery_mv'"),
    ("STATUS", {"battery_pct": 256}, "'battery_pct'"),
    ("STATUS", {"temp_c": "hot"}, "'temp_c'"),
    ("EVENT", {"text": {"a": 1}}, "'text'"),
    ("LOG", {"text": "x", "level": -1}, "'level'"),
    ("MARK", {"x_m": [1.0]}, "'x_m'"),
    ("HELLO", {"calibration_id": [7]}, "'calibration_id'"),
])
def test_displayed_fields_of_other_kinds_are_typed(kind, record, why):
    rec = dict(record, id=4, kind=kind)
    with pytest.raises(envelope.MalformedPayload, match=why):
        envelope.decode(record_topic("north", SID, kind), envelope.encode("north", SID, 4, kind, rec, 1.0))
    ok = {"STATUS": {"battery_mv": 3900, "battery_pct": 80, "temp_c": 31.5}, "EVENT": {"text": "note"},
          "LOG": {"text": "x", "level": 3}, "MARK": {"x_m": 1.0}, "HELLO": {"calibration_id": 7}}[kind]
    rec = dict(ok, id=4, kind=kind)
    assert envelope.decode(record_topic("north", SID, kind), envelope.encode("north", SID, 4, kind, rec, 1.0)).record == rec
