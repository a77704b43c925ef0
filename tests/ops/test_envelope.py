"""Feed payloads: round trip, IMSI masking on the wire, and every malformed form rejected."""

import json

import pytest

from host.ops import envelope
from host.ops.topics import check_team, parse_topic, record_topic
from host.errors import UserError

SID = "5f0c2a4e-0d7b-4c55-9a51-0c3f4b1a2e77"
TOPIC = record_topic("north", SID, "MEAS")


def _body(**over):
    body = {"v": 1, "team": "north", "session_id": SID, "record_id": 17, "kind": "MEAS",
            "sent_s": 1795870137.25, "record": {"id": 17, "kind": "MEAS", "target": 0, "rssi_dbm": -71.5}}
    body.update(over)
    return json.dumps(body).encode()


def test_round_trip_keeps_every_field():
    rec = {"id": 17, "kind": "MEAS", "target": 1, "rssi_dbm": None, "heading_deg": 123.45}
    payload = envelope.encode("north", SID, 17, "MEAS", rec, 1795870137.25)
    env = envelope.decode(TOPIC, payload)
    assert (env.team, env.session_id, env.record_id, env.kind, env.sent_s) == \
        ("north", SID, 17, "MEAS", 1795870137.25)
    assert env.record == rec


def test_imsis_are_masked_on_the_wire():
    # MCC+MNC (5 digits), then one '*' per hidden digit, then the last 2 digits.
    rec = {"kind": "EVENT", "imsi": "460001234567812",
           "targets": [{"label": "A", "imsi": "310260123456789"}, {"label": "B", "imsi": None}],
           "paired_imsi": "23415987654321"}
    payload = envelope.encode("north", SID, 3, "EVENT", rec, 0.0)
    text = payload.decode()
    for clear in ("460001234567812", "310260123456789", "23415987654321"):
        assert clear not in text
    body = json.loads(text)["record"]
    assert body["imsi"] == "46000********12"
    assert body["targets"][0]["imsi"] == "31026********89"
    assert body["targets"][1]["imsi"] is None
    assert body["paired_imsi"] == "23415*******21"


@pytest.mark.parametrize("topic, payload, why", [
    ("rfhound/v1/north/MEAS", _body(), "is not rfhound/v1"),
    ("rfhound/v2/north/%s/MEAS" % SID, _body(), "is not rfhound/v1"),
    (TOPIC, b"\xff\xfe not utf-8", "not UTF-8 JSON"),
    (TOPIC, b"{half", "not UTF-8 JSON"),
    (TOPIC, b"[1, 2]", "not a JSON object"),
    (TOPIC, _body(v=2), "version"),
    (TOPIC, _body(record_id=None), "record_id"),
    (TOPIC, _body(record_id=True), "record_id"),
    (TOPIC, _body(record_id="17"), "record_id"),
    (TOPIC, _body(record_id=0), "does not fit kind"),
    (TOPIC, _body(record_id=-3), "does not fit kind"),
    (TOPIC, _body(sent_s="noon"), "sent_s"),
    (TOPIC, _body(record=[1]), "record"),
    (TOPIC, _body(team="south"), "disagrees with topic"),
    (TOPIC, _body(kind="STATUS"), "disagrees with topic"),
    (TOPIC, _body(session_id="other"), "disagrees with topic"),
    (record_topic("north", SID, "meta"), _body(kind="meta"), "does not fit kind"),
])
def test_malformed_payloads_are_rejected_with_a_reason(topic, payload, why):
    with pytest.raises(envelope.MalformedPayload, match=why):
        envelope.decode(topic, payload)


def test_nan_sent_time_is_rejected():
    with pytest.raises(envelope.MalformedPayload, match="finite"):
        envelope.decode(TOPIC, _body(sent_s=float("nan")))


@pytest.mark.parametrize("team", ["", "a/b", "north+", "#", "..", "x" * 65, "-lead"])
def test_unusable_team_names_are_user_errors(team):
    with pytest.raises(UserError, match="team name"):
        check_team(team)


def test_topic_round_trip():
    assert parse_topic(record_topic("team-7", SID, "ESTIMATE")) == ("team-7", SID, "ESTIMATE")
