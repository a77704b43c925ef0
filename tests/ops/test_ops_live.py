"""Teams publish through a real Mosquitto; the ops centre's archive equals their sessions."""

import json
import logging
import socket
import sqlite3
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from host.ops.centre import OpsCentre
from host.ops.topics import record_topic
from host.session import SessionError, SessionReader, SessionWriter



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


def _wait_session(path, timeout_s):
    """Wait until the simulator has made `path` a readable session file."""
    def ready():
        try:
            SessionReader(str(path)).close()
            return True
        except SessionError:
            return False
    _wait_for(ready, timeout_s, f"the simulator to create {path}")


def test_two_simulated_teams_are_archived_record_for_record(broker, tmp_path, kit):
    # Both teams hunt in the same world, so they are tasked on the same suspect SIM.
    paths = {"north": tmp_path / "north.sqlite", "south": tmp_path / "south.sqlite"}
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    sims, relays = [], []
    try:
        sims = [kit.rfhound("simulate", "--world", "corner", "--seed", seed, "--speed", "30",
                            "--out", path, stdout=subprocess.DEVNULL)
                for seed, path in enumerate(paths.values(), start=1)]
        for team, path in paths.items():
            _wait_session(path, 30)
            relays.append(kit.rfhound("relay", "--broker", broker.url, "--team", team, "--username", team,
                                      "--password-file", kit.password_file(tmp_path, team), path,
                                      stdout=subprocess.DEVNULL))
        for sim in sims:
            _, err = sim.communicate(timeout=90)
            assert sim.returncode == 0, err
        expected = {team: kit.session_records(path) for team, path in paths.items()}
        total = sum(len(records) for _, _, records in expected.values())
        _wait_for(lambda: centre.stats["stored"] >= total, 30, "the archive")
        rows = {r["team"]: r for r in centre.board.rows(time.time())}
        dups = centre.board.duplicates()
    finally:
        for proc in sims + relays:
            if proc.poll() is None:
                proc.terminate()
            proc.communicate(timeout=10)
        centre.stop()
    assert [proc.returncode for proc in relays] == [0, 0]
    ids = {}
    for team, (meta, tasking, records) in expected.items():
        assert meta["source"] == "rfhound simulator" and len(records) > 100
        ids[team] = meta["session_id"]
        archived = kit.session_records(tmp_path / "archive" / team / f"{ids[team]}.sqlite")
        assert archived == expected[team]
        assert rows[team]["records"] == len(records)
        assert rows[team]["area"] == "corner"
        assert rows[team]["last_fix"] is not None
    (target,) = expected["north"][1]["targets"]
    assert dups[("imsi", target["imsi"])] == sorted((team, ids[team]) for team in paths)
    assert dups[("label", target["label"])] == sorted((team, ids[team]) for team in paths)
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


def test_an_unwritable_archive_leaves_the_records_with_the_broker(broker, tmp_path, kit):
    path = tmp_path / "north.sqlite"
    sid = _record_session(kit, path, "north", 500, 4)
    blocked = tmp_path / "archive" / "north" / f"{sid}.sqlite"
    blocked.mkdir(parents=True)     # a directory where the archive file must go: cannot be opened
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    try:
        relay = kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--username", "north",
                            "--password-file", kit.password_file(tmp_path, "north"), "--once", path)
        assert relay.wait(60) == 0
        assert centre.wait_failed(10)
    finally:
        centre.stop()
    assert "cannot write" in centre.fatal and "start rfhound ops again" in centre.fatal
    assert centre.stats["stored"] == 0
    blocked.rmdir()
    # Same client id: the broker delivers everything the failed centre never acknowledged.
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    try:
        _wait_for(lambda: centre.stats["stored"] >= 500, 30, "the archive")
    finally:
        centre.stop()
    assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)


def test_records_wait_at_the_broker_while_the_centre_is_away(broker, tmp_path, kit):
    path = tmp_path / "north.sqlite"
    sid = _record_session(kit, path, "north", 500, 5)
    archive = tmp_path / "archive"

    def relay_once(first=False):
        # No centre runs, so no receipt comes: the relay gives up waiting after 1 s
        # and leaves every record unconfirmed in its outbox.
        proc = kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--username", "north",
                           "--password-file", kit.password_file(tmp_path, "north"), "--once",
                           "--receipt-wait", "1", path)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        if first:
            assert "500 records (and the metadata) not yet confirmed by the operations centre" in err
            with sqlite3.connect(path) as con:
                assert con.execute("SELECT COUNT(*) FROM outbox_acks").fetchone()[0] == 0

    OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10).stop()   # subscribe once
    relay_once(first=True)                                # published while no centre runs
    centre = OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10)
    try:
        _wait_for(lambda: centre.stats["stored"] >= 500, 30, "the queued records")
    finally:
        centre.stop()
    # The relay saw no receipt, so it sends everything again; a restarted centre
    # knows the archived ids from disk and stores none of it twice.
    relay_once()
    centre = OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10)
    try:
        _wait_for(lambda: centre.stats["duplicates"] >= 500, 30, "the re-sent records")
    finally:
        centre.stop()
    assert centre.stats["stored"] == 0
    assert kit.session_records(archive / "north" / f"{sid}.sqlite") == kit.session_records(path)


def test_a_topic_the_acl_forbids_is_refused_and_stays_unsent(tmp_path, kit):
    from host.ops.localbroker import LocalMosquitto

    # The ACL of docs/ops.md: the centre reads everything, a team writes only its own topics.
    acl = ["user ops", "topic read rfhound/v1/#", "topic write rfhound/receipts/v1/#", "",
           "pattern write rfhound/v1/%u/#", "pattern read rfhound/receipts/v1/%u/#"]
    path = tmp_path / "north.sqlite"
    sid = _record_session(kit, path, "north", 50, 6)
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=acl) as broker:
        centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
        try:
            impostor = kit.rfhound("relay", "--broker", broker.url, "--team", "south", "--username", "north",
                                   "--password-file", kit.password_file(tmp_path, "north"), "--once", path)
            _, err = impostor.communicate(timeout=60)
            with sqlite3.connect(path) as con:
                marked = con.execute("SELECT COUNT(*) FROM outbox_acks").fetchone()[0]
            relay = kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--username", "north",
                                "--password-file", kit.password_file(tmp_path, "north"), "--once", path)
            assert relay.wait(60) == 0
            _wait_for(lambda: centre.stats["stored"] >= 50, 30, "the archive")
        finally:
            centre.stop()
    assert impostor.returncode == 2, err
    assert err.strip().splitlines()[-1].startswith("rfhound relay: error: broker mqtt://127.0.0.1:")
    assert "does not let user 'north' publish for team 'south' (Not authorized)" in err
    assert marked == 0
    assert not (tmp_path / "archive" / "south").exists()
    assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)



class _RefusalLosingLink:
    """A TCP forwarder to a real broker that loses every refused PUBACK on the way back.

    What a relay sees when the broker closes right after refusing a publication with
    more publications unread behind it: the reset discards the refused PUBACK.
    """

    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lost = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.broker_port))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._from_broker, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        _RefusalLosingLink._close(src, dst)

    def _from_broker(self, src, dst):
        buf = b""
        try:
            while data := src.recv(65536):
                buf += data
                while (packet := self._packet(buf)) is not None:
                    buf = buf[len(packet):]
                    # PUBACK (type 4) with a reason code >= 0x80 (MQTT 5.0, 3.4.2.1) is lost
                    if packet[0] >> 4 == 4 and len(packet) > 4 and packet[4] >= 0x80:
                        self.lost += 1
                        continue
                    dst.sendall(packet)
        except OSError:
            pass
        _RefusalLosingLink._close(src, dst)

    @staticmethod
    def _close(*socks):
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the other direction's recv; close alone does not
            except OSError:
                pass
            sock.close()

    @staticmethod
    def _packet(buf):
        """The first whole MQTT packet of `buf` (fixed header, variable-length size), or None."""
        size, shift = 0, 0
        for i in range(1, min(len(buf), 5)):
            size |= (buf[i] & 0x7F) << shift
            shift += 7
            if not buf[i] & 0x80:
                end = i + 1 + size
                return buf[:end] if len(buf) >= end else None
        return None

    def close(self):
        self.server.close()


def test_a_refusal_lost_with_the_dropped_connection_still_stops_the_relay(tmp_path, kit):
    from host.ops.localbroker import LocalMosquitto

    acl = ["pattern write rfhound/v1/%u/#", "pattern read rfhound/receipts/v1/%u/#"]
    path = tmp_path / "north.sqlite"
    _record_session(kit, path, "north", 50, 6)
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=acl) as broker:
        link = _RefusalLosingLink(broker.port)
        try:
            impostor = kit.rfhound("relay", "--broker", f"mqtt://127.0.0.1:{link.port}", "--team", "south",
                                   "--username", "north", "--password-file",
                                   kit.password_file(tmp_path, "north"), "--once", path)
            _, err = impostor.communicate(timeout=60)
        finally:
            link.close()
    assert link.lost >= 3  # the broker did refuse, on every connection
    assert impostor.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"rfhound relay: error: broker mqtt://127.0.0.1:{link.port} closed the connection")
    assert "user 'north' published for team 'south'" in last
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT COUNT(*) FROM outbox_acks").fetchone()[0] == 0

def test_background_relay_follows_a_session_recorded_in_the_same_process(broker, tmp_path, kit):
    from host.ops.relay import BackgroundRelay

    path = tmp_path / "north.sqlite"
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    try:
        with SessionWriter(str(path), tasking=kit.taskings["north"]) as writer:
            relay = BackgroundRelay(path, kit.config_for(broker, "north"), "north").start()
            for rec in kit.hunt_records(300, 11):
                writer.record(rec)
                time.sleep(0.001)
        _wait_for(lambda: centre.stats["stored"] >= 300, 30, "the archive")
        # The tasking was committed after the relay's first metadata snapshot; the
        # relay sends the changed metadata within its one-second poll.
        _wait_for(lambda: centre.board.rows(time.time())[0]["targets"], 10, "the tasking")
        relay.stop()
    finally:
        centre.stop()
    assert relay.error is None and relay.stats["sent"] == 300
    sid = kit.session_records(path)[0]["session_id"]
    assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)


def test_background_relay_reports_a_refused_login(broker, tmp_path, kit):
    from host.ops.relay import BackgroundRelay

    path = tmp_path / "north.sqlite"
    _record_session(kit, path, "north", 5, 0)
    relay = BackgroundRelay(path, kit.config_for(broker, "north", "wrong"), "north").start()
    _wait_for(lambda: relay.error is not None, 10, "the refusal")
    relay.stop()
    assert "refused user 'north'" in relay.error


def test_ops_window_runs_offscreen_and_stops_on_sigterm(broker, tmp_path, kit):
    # tests/conftest.py sets QT_QPA_PLATFORM=offscreen, which the process inherits.
    err_path = tmp_path / "ops.err"
    with open(err_path, "w") as err:
        ops = kit.rfhound("ops", "--broker", broker.url, "--archive", tmp_path / "archive", "--username", "ops",
                          "--password-file", kit.password_file(tmp_path, "ops"), stderr=err)
    try:
        _wait_for(lambda: "subscribed to rfhound/v1/+/+/+" in err_path.read_text(), 20, "ops to subscribe")
        time.sleep(0.5)
    finally:
        ops.terminate()
        ops.communicate(timeout=10)
    assert ops.returncode == 0, err_path.read_text()
    assert "Traceback" not in err_path.read_text()
