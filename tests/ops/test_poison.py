"""No message stops the operations centre: each poison payload is dead-lettered, the next one archived.

Every payload is published by a team account inside its ACL (its own topics) through
a real Mosquitto, as an attacker holding one team's password would.
"""

import json
import time

import paho.mqtt.client as mqtt
import pytest

from host.ops import deadletter
from host.ops.centre import DEAD_LETTER_FILE, STATE_DIR, OpsCentre
from host.ops.localbroker import LocalMosquitto
from host.ops.topics import record_topic
from host.session import SessionReader

SID = "s-poison"
ACL = ["user ops", "topic read rfhound/v1/#", "topic write rfhound/receipts/v1/#", "",
       "pattern write rfhound/v1/%u/#", "pattern read rfhound/receipts/v1/%u/#"]


def _meas(record_id, **over):
    rec = {"id": record_id, "kind": "MEAS", "seq": record_id, "device_time_ms": 100 * record_id,
           "rx_time_s": 1795870137.0 + record_id, "target": 0, "flags": 0, "rssi_dbm": -71.5,
           "raw_rssi": 812, "gain_db": 30, "heading_deg": 12.5, "floor": 0, "dwell_ms": 50,
           "lat_deg": 31.2304, "lon_deg": 121.4737, "alt_m": 12.0}
    rec.update(over)
    return rec


def _payload(record_id, record, **over):
    body = {"v": 1, "team": "south", "session_id": SID, "record_id": record_id, "kind": "MEAS",
            "sent_s": 1795870137.25, "record": record}
    body.update(over)
    return json.dumps(body).encode()


def _deep(levels):
    # Built as text: json.dumps itself would hit the recursion limit.
    record = '{"id":%d,"kind":"MEAS","target":0,"x":' % 1 + "[" * levels + "]" * levels + "}"
    return ('{"v":1,"team":"south","session_id":"%s","record_id":1,"kind":"MEAS","sent_s":1.0,"record":%s}'
            % (SID, record)).encode()


# (name, payload, words the dead-letter reason must contain); each claims record id 1,
# which the valid message after it then takes.
POISONS = [
    ("record_id 2**64", _payload(2 ** 64, _meas(2 ** 64)), "64-bit range"),
    ("record_id 2**63", _payload(2 ** 63, _meas(1)), "64-bit range"),
    ("target 2**64", _payload(1, _meas(1, target=2 ** 64)), "64-bit range"),
    ("target 256", _payload(1, _meas(1, target=256)), "'target'"),
    ("target a list", _payload(1, _meas(1, target=[0, 1])), "'target' is a JSON list"),
    ("target a string", _payload(1, _meas(1, target="0")), "'target'"),
    ("lat a list", _payload(1, _meas(1, lat_deg=[31.2])), "'lat_deg'"),
    ("rx_time a dict", _payload(1, _meas(1, rx_time_s={"t": 1})), "'rx_time_s'"),
    ("seq negative", _payload(1, _meas(1, seq=-1)), "'seq'"),
    ("100,000-deep nesting", _deep(100_000), "exceeds"),        # 200 kB: the size bound answers first
    ("20,000-deep nesting", _deep(20_000), "nests deeper"),
    ("non-UTF-8", b'{"v":1,"record":"\xff\xfe\xfd"}', "not UTF-8 JSON"),
    ("huge", _payload(1, _meas(1, note="x" * 2_000_000)), "exceeds"),
    ("NaN latitude", _payload(1, _meas(1, lat_deg=float("nan"))), "'lat_deg'"),
    ("tasking targets a dict", json.dumps({
        "v": 1, "team": "south", "session_id": SID, "record_id": 0, "kind": "meta", "sent_s": 1.0,
        "record": {"meta": {"session_id": SID}, "tasking": {"targets": {"label": "x"}}}}).encode(),
     "'targets' is not a list"),
    ("tasking label a list", json.dumps({
        "v": 1, "team": "south", "session_id": SID, "record_id": 0, "kind": "meta", "sent_s": 1.0,
        "record": {"meta": {"session_id": SID}, "tasking": {"targets": [{"label": ["x"]}]}}}).encode(),
     "label"),
]


def _wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def acl_broker(tmp_path, kit):
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=ACL) as mosq:
        yield mosq


@pytest.fixture
def vandal(acl_broker, kit):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vandal", protocol=mqtt.MQTTv5)
    client.username_pw_set("south", kit.users["south"])
    client.connect("127.0.0.1", acl_broker.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


@pytest.mark.parametrize("name, poison, why", POISONS, ids=[p[0] for p in POISONS])
def test_a_poison_payload_is_dead_lettered_and_the_next_record_archived(acl_broker, vandal, tmp_path, kit,
                                                                        name, poison, why):
    archive = tmp_path / "archive"
    centre = OpsCentre(kit.config_for(acl_broker, "ops"), archive).start(timeout_s=10)
    try:
        topic = record_topic("south", SID, "meta" if b'"kind": "meta"' in poison else "MEAS")
        assert vandal.publish(topic, poison, qos=1).wait_for_publish(10) is None
        assert vandal.publish(record_topic("south", SID, "MEAS"), _payload(1, _meas(1)),
                              qos=1).wait_for_publish(10) is None
        _wait_for(lambda: centre.stats["stored"] == 1 or centre.fatal, 20, "the valid record")
    finally:
        centre.stop()
    assert centre.fatal is None
    assert (centre.stats["malformed"], centre.stats["stored"]) == (1, 1)
    with SessionReader(str(archive / "south" / f"{SID}.sqlite")) as reader:
        (rec,) = reader.records()
        (meas,) = reader.measurements()
    assert (rec["id"], rec["target"], rec["rssi_dbm"]) == (1, 0, -71.5)
    assert meas["rssi_dbm"] == -71.5
    (dead,) = deadletter.read(archive / STATE_DIR / DEAD_LETTER_FILE)
    assert dead["topic"] == topic and why in dead["reason"]
    assert dead["size"] == len(poison)
    assert dead["payload"] == poison[:deadletter.KEEP_BYTES]
    assert dead["truncated"] == (len(poison) > deadletter.KEEP_BYTES)
    assert (archive / STATE_DIR / DEAD_LETTER_FILE).stat().st_mode & 0o777 == 0o600
    # The poison was acknowledged: a restarted centre (same client id) gets nothing again.
    centre = OpsCentre(kit.config_for(acl_broker, "ops"), archive).start(timeout_s=10)
    try:
        time.sleep(1.0)
    finally:
        centre.stop()
    assert centre.stats["received"] == 0 and centre.fatal is None
    assert len(deadletter.read(archive / STATE_DIR / DEAD_LETTER_FILE)) == 1


def test_the_poisons_in_a_row_leave_the_centre_archiving(acl_broker, vandal, tmp_path, kit):
    """All poisons, each followed by a valid record: every valid record archived, in one run."""
    archive = tmp_path / "archive"
    centre = OpsCentre(kit.config_for(acl_broker, "ops"), archive).start(timeout_s=10)
    try:
        for index, (_, poison, _) in enumerate(POISONS, start=1):
            kind = "meta" if b'"kind": "meta"' in poison else "MEAS"
            vandal.publish(record_topic("south", SID, kind), poison, qos=1).wait_for_publish(10)
            vandal.publish(record_topic("south", SID, "MEAS"), _payload(index, _meas(index)),
                           qos=1).wait_for_publish(10)
        _wait_for(lambda: centre.stats["stored"] == len(POISONS) or centre.fatal, 30, "the valid records")
    finally:
        centre.stop()
    assert centre.fatal is None and centre.stats["malformed"] == len(POISONS)
    with SessionReader(str(archive / "south" / f"{SID}.sqlite")) as reader:
        assert [r["id"] for r in reader.records()] == list(range(1, len(POISONS) + 1))
