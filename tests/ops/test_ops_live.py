"""Teams publish through a real Mosquitto; the ops centre's archive equals their sessions."""

import json
import logging
import time

import paho.mqtt.client as mqtt

from host.ops.centre import OpsCentre
from host.ops.topics import record_topic
from host.session import SessionWriter



def _record_session(kit, path, team, n, seed):
    with SessionWriter(str(path), tasking=kit.taskings[team]) as writer:
        for rec in kit.hunt_records(n, seed):
            writer.record(rec)
        return writer.session_id


def _wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_teams_are_archived_record_for_record(broker, tmp_path, kit):
    sessions = {"north": (tmp_path / "north.sqlite", 3000), "south": (tmp_path / "south.sqlite", 2000)}
    ids = {team: _record_session(kit, path, team, n, seed) for seed, (team, (path, n)) in enumerate(sessions.items())}
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    try:
        relays = [kit.rfhound("relay", "--broker", broker.url, "--team", team, "--username", team,
                          "--password-file", kit.password_file(tmp_path, team), "--once", path)
                  for team, (path, _) in sessions.items()]
        for proc in relays:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        total = sum(n for _, n in sessions.values())
        _wait_for(lambda: centre.stats["stored"] >= total, 30, "the archive")
        rows = {r["team"]: r for r in centre.board.rows(time.time())}
        dups = centre.board.duplicates()
    finally:
        centre.stop()
    for team, (path, n) in sessions.items():
        archived = kit.session_records(tmp_path / "archive" / team / f"{ids[team]}.sqlite")
        original = kit.session_records(path)
        assert len(original[2]) == n
        assert archived == original
        assert rows[team]["records"] == n
    assert rows["north"]["area"] == "old town" and rows["south"]["area"] == "tower row"
    # Both taskings name IMSI 460001234567812, which travels masked only.
    assert dups == {("imsi", "46000********12"): [("north", ids["north"]), ("south", ids["south"])]}
    assert rows["north"]["duplicate"] and rows["south"]["duplicate"]


def test_wrong_credentials_are_refused_in_one_line(broker, tmp_path, kit):
    path = tmp_path / "north.sqlite"
    _record_session(kit, path, "north", 10, 0)
    relay = kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--username", "north",
                    "--password-file", kit.password_file(tmp_path, "north", "wrong"), "--once", path)
    ops = kit.rfhound("ops", "--broker", broker.url, "--archive", tmp_path / "archive", "--headless",
                  "--username", "ops", "--password-file", kit.password_file(tmp_path, "ops", "wrong"))
    for proc, user, cmd in ((relay, "north", "relay"), (ops, "ops", "ops")):
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 2, err
        error_lines = [line for line in err.splitlines() if line.startswith(f"rfhound {cmd}: error:")]
        assert len(error_lines) == 1, err
        assert f"refused user '{user}'" in error_lines[0]
        # Mosquitto 2.0 answers a bad password with "Not authorized" (CONNACK 0x87).
        assert "Bad user name or password" in error_lines[0] or "Not authorized" in error_lines[0]
        assert "--password-file" in error_lines[0]
        assert "Traceback" not in err


def test_malformed_payloads_are_logged_and_skipped(broker, tmp_path, caplog, kit):
    path = tmp_path / "north.sqlite"
    sid = _record_session(kit, path, "north", 200, 3)
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    caplog.set_level(logging.WARNING, logger="rfhound.ops.centre")
    try:
        vandal = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vandal", protocol=mqtt.MQTTv5)
        vandal.username_pw_set("south", kit.config_for(broker, "south").password)
        vandal.connect("127.0.0.1", broker.port)
        vandal.loop_start()
        good = {"v": 1, "team": "south", "session_id": "s9", "kind": "MEAS", "sent_s": 1.0}
        bad = [
            (record_topic("south", "s9", "MEAS"), b"\x00\x01garbage"),
            (record_topic("south", "s9", "MEAS"), json.dumps(dict(good, record_id=5)).encode()),
            (record_topic("south", "s9", "MEAS"),
             json.dumps(dict(good, record_id=5, record={"id": 6, "kind": "MEAS", "target": 0})).encode()),
            (record_topic("south", "s9", "MEAS"),
             json.dumps(dict(good, record_id=5, record={"id": 5, "kind": "MEAS"})).encode()),
            (record_topic("south", "s9", "meta"),
             json.dumps(dict(good, kind="meta", record_id=0, record={
                 "meta": {"session_id": "s9"}, "tasking": {"targets": [{"imsi": "abc"}]}})).encode()),
            ("rfhound/v1/south/s9", b"{}"),
        ]
        for topic, payload in bad:
            vandal.publish(topic, payload, qos=1).wait_for_publish(5)
        vandal.disconnect()
        vandal.loop_stop()
        relay = kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--username", "north",
                        "--password-file", kit.password_file(tmp_path, "north"), "--once", path)
        assert relay.wait(60) == 0
        _wait_for(lambda: centre.stats["stored"] >= 200, 30, "the archive")
    finally:
        centre.stop()
    # The last topic is outside rfhound/v1/+/+/+ and never reaches the centre.
    assert centre.stats["malformed"] == len(bad) - 1
    skipped = [r.getMessage() for r in caplog.records if "skipped malformed" in r.getMessage()]
    assert len(skipped) == len(bad) - 1
    assert any("not UTF-8 JSON" in m for m in skipped) and any("not an IMSI" in m for m in skipped)
    assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)
    assert not (tmp_path / "archive" / "south" / "s9.sqlite").exists()


def test_headless_ops_command_archives_lists_and_flags(broker, tmp_path, kit):
    from host.session import SessionReader

    paths = {team: tmp_path / f"{team}.sqlite" for team in ("north", "south")}
    ids = {team: _record_session(kit, path, team, 300, seed) for seed, (team, path) in enumerate(paths.items())}
    err_path = tmp_path / "ops.err"
    with open(err_path, "w") as err:
        ops = kit.rfhound("ops", "--broker", broker.url, "--archive", tmp_path / "archive", "--headless",
                          "--every", "0.3", "--username", "ops",
                          "--password-file", kit.password_file(tmp_path, "ops"), stderr=err)
    try:
        _wait_for(lambda: "subscribed to rfhound/v1/+/+/+" in err_path.read_text(), 20, "ops to subscribe")
        for team, path in paths.items():
            relay = kit.rfhound("relay", "--broker", broker.url, "--team", team, "--username", team,
                                "--password-file", kit.password_file(tmp_path, team), "--once", path)
            assert relay.wait(60) == 0

        def archived(team):
            path = tmp_path / "archive" / team / f"{ids[team]}.sqlite"
            if not path.exists():
                return 0
            with SessionReader(str(path)) as reader:
                return reader.count()

        _wait_for(lambda: all(archived(team) == 300 for team in paths), 30, "the archive")
        _wait_for(lambda: "appears in 2 hunts" in err_path.read_text(), 10, "the duplicate warning")
    finally:
        ops.terminate()
        out, _ = ops.communicate(timeout=10)
    assert ops.returncode == 0
    for team in paths:
        assert kit.session_records(tmp_path / "archive" / team / f"{ids[team]}.sqlite") == \
            kit.session_records(paths[team])
    lines = out.splitlines()
    assert any(line.startswith("north") and "DUPLICATE" in line and "rack-A (46000********12)" in line
               for line in lines)
    assert "target imsi 46000********12 appears in 2 hunts" in err_path.read_text()
