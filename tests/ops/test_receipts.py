"""End to end: a record leaves the relay's outbox only on the centre's receipt.

A broker PUBACK is not enough: a broker SIGKILLed before it saved its queue, or a
team account taking over the centre's session, lose records the broker had
acknowledged. With receipts the relay sends them again and nothing is lost.
"""

import sqlite3
import stat
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from host.ops import envelope
from host.ops.archive import gap_report
from host.ops.centre import CLIENT_ID_FILE, STATE_DIR, OpsCentre, centre_client_id
from host.ops.localbroker import LocalMosquitto
from host.ops.topics import receipt_topic
from host.session import SessionWriter

# docs/ops.md's ACL: the centre reads the feed and writes receipts; a team writes
# its own feed topics and reads its own receipts.
ACL = ["user ops", "topic read rfhound/v1/#", "topic write rfhound/receipts/v1/#", "",
       "pattern write rfhound/v1/%u/#", "pattern read rfhound/receipts/v1/%u/#"]


def _wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _relay(kit, broker, tmp_path, path, *extra, log=None):
    return kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--username", "north",
                       "--password-file", kit.password_file(tmp_path, "north"), "--receipt-timeout", "2",
                       *extra, path, stdout=log or subprocess.PIPE, stderr=log or subprocess.PIPE)


def _confirmed(path):
    with sqlite3.connect(path) as con:
        return {row[0] for row in con.execute("SELECT record_id FROM outbox_acks WHERE record_id > 0")}


def test_3000_records_through_a_broker_sigkill_lose_nothing(broker, tmp_path, kit):
    n = 3000
    archive = tmp_path / "archive"
    path = tmp_path / "north.sqlite"
    centre = OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10)
    writer = SessionWriter(str(path), tasking=kit.taskings["north"])
    log = open(tmp_path / "relay.log", "w")
    relay = _relay(kit, broker, tmp_path, path, log=log)
    killed_at = []

    def feed():
        for index, rec in enumerate(kit.hunt_records(n, 21)):
            writer.record(rec)
            if index == n // 3:
                # Mid-stream, while records are in flight and queued for the centre.
                killed_at.append(centre.stats["stored"])
                broker.kill()
                time.sleep(1.0)
                broker.start()
            time.sleep(1 / 400)

    try:
        feeder = threading.Thread(target=feed)
        feeder.start()
        feeder.join()
        writer.close()
        _wait_for(lambda: centre.stats["stored"] >= n, 120, "every record in the archive")
        _wait_for(lambda: len(_confirmed(path)) >= n, 30, "every receipt in the outbox")
        relay.terminate()
        assert relay.wait(20) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
        centre.stop()
        log.close()
    assert 0 < killed_at[0] < n
    session = kit.session_records(path)
    assert len(session[2]) == n
    sid = session[0]["session_id"]
    assert kit.session_records(archive / "north" / f"{sid}.sqlite") == session
    assert centre.stats["stored"] == n and centre.stats["malformed"] == 0
    assert _confirmed(path) == set(range(1, n + 1))
    (row,) = gap_report(archive)
    assert (row["records"], row["max_id"], row["gaps"]) == (n, n, [])


def test_the_centre_client_id_is_a_secret_kept_in_the_archive(tmp_path):
    first = centre_client_id(tmp_path / "a")
    assert centre_client_id(tmp_path / "a") == first          # the broker's queue survives restarts
    assert centre_client_id(tmp_path / "b") != first          # random, not a fixed name
    assert first.startswith("rfhound-ops-") and len(first) >= len("rfhound-ops-") + 32
    path = tmp_path / "a" / STATE_DIR / CLIENT_ID_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def _client(broker, user, password, client_id, clean_start=False):
    got, flags = [], {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_message = lambda c, u, m: got.append(m.topic)
    client.on_connect = lambda c, u, f, rc, p: flags.update(session_present=f.session_present, rc=rc)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    client.connect("127.0.0.1", broker.port, clean_start=clean_start, properties=props)
    client.loop_start()
    _wait_for(lambda: "rc" in flags, 10, f"{user} to connect")
    return client, got, flags


def test_a_team_taking_over_the_centres_session_cannot_make_records_vanish(tmp_path, kit):
    """Even knowing the centre's secret client id, a team destroys only the broker's queue, never a record."""
    n = 500
    path = tmp_path / "north.sqlite"
    with SessionWriter(str(path), tasking=kit.taskings["north"]) as writer:
        for rec in kit.hunt_records(n, 22):
            writer.record(rec)
    archive = tmp_path / "archive"
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=ACL) as broker:
        centre = OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10)
        centre.stop()                                  # subscribed once; the broker queues for it
        relay = _relay(kit, broker, tmp_path, path)
        try:
            time.sleep(3.0)                            # all published and PUBACKed, queued for the centre
            # The old fixed id holds nothing: the centre is not there.
            guess, guessed, guess_flags = _client(broker, "south", kit.users["south"], "rfhound-ops")
            # A team user with the real id, clean start off, session expiry 0: Mosquitto
            # hands it the centre's session, whose records the ACL does not let it read.
            thief, stolen, thief_flags = _client(broker, "south", kit.users["south"], centre.client_id)
            time.sleep(1.5)
            for client in (guess, thief):
                client.disconnect()
                client.loop_stop()
            centre = OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10)
            try:
                _wait_for(lambda: centre.stats["stored"] >= n, 120, "every record, re-sent for want of receipts")
                _wait_for(lambda: len(_confirmed(path)) >= n, 30, "every receipt in the outbox")
            finally:
                centre.stop()
            relay.terminate()
            _, err = relay.communicate(timeout=20)
        finally:
            if relay.poll() is None:
                relay.kill()
    assert guess_flags["session_present"] is False and guessed == []
    assert stolen == []                                # the ACL kept the feed from the thief
    sid = kit.session_records(path)[0]["session_id"]
    assert kit.session_records(archive / "north" / f"{sid}.sqlite") == kit.session_records(path)
    assert _confirmed(path) == set(range(1, n + 1))
    if thief_flags["session_present"]:
        # The queue was taken: the records came back only because the relay re-sent them.
        assert "again for want of a receipt" in err and "(0 again" not in err, err


def test_a_team_cannot_forge_another_teams_receipts(tmp_path, kit):
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=ACL) as broker:
        forger, _, _ = _client(broker, "south", kit.users["south"], "forger", clean_start=True)
        reasons = []
        forger.on_publish = lambda c, u, mid, rc, p: reasons.append(rc)
        forger.publish(receipt_topic("north", "s1"), envelope.encode_receipt("s1", range(1, 100), None, 0.0),
                       qos=1).wait_for_publish(10)
        forger.disconnect()
        forger.loop_stop()
    assert [rc.value for rc in reasons] == [135]      # Not authorized (MQTT 5 PUBACK)


def test_a_record_the_centre_would_refuse_is_reported_not_sent(broker, tmp_path, kit):
    path = tmp_path / "north.sqlite"
    with SessionWriter(str(path), tasking=kit.taskings["north"]) as writer:
        for index, rec in enumerate(kit.hunt_records(50, 23)):
            writer.record(rec)
            if index == 20:
                writer.event("operator note", text_blob="x" * 100_000)   # beyond the feed's size bound
    archive = tmp_path / "archive"
    centre = OpsCentre(kit.config_for(broker, "ops"), archive).start(timeout_s=10)
    try:
        relay = _relay(kit, broker, tmp_path, path, "--once", "--receipt-wait", "5")
        _, err = relay.communicate(timeout=60)
    finally:
        centre.stop()
    assert relay.returncode == 0, err
    assert "record 22 of session" in err and "cannot be sent" in err and "exceeds" in err
    assert "50 of 51 records confirmed" in err and "1 not sendable" in err
    (row,) = gap_report(archive)
    assert row["gaps"] == [(22, 22)] and row["records"] == 50
    assert centre.stats["malformed"] == 0
    assert 22 not in _confirmed(path)


def test_gaps_command_lists_missing_ranges(tmp_path):
    archive = tmp_path / "archive"
    (archive / "north").mkdir(parents=True)
    (archive / "south").mkdir(parents=True)
    with SessionWriter(str(archive / "north" / "s-gappy.sqlite"), meta={"session_id": "s-gappy"}) as w:
        for rid in (3, 4, 5, 8, 12):
            w.record({"kind": "EVENT", "text": "x", "rx_time_s": 1.0}, record_id=rid)
    with SessionWriter(str(archive / "south" / "s-whole.sqlite"), meta={"session_id": "s-whole"}) as w:
        for _ in range(4):
            w.record({"kind": "EVENT", "text": "x", "rx_time_s": 1.0})
    proc = subprocess.run([sys.executable, "-m", "host.cli", "ops", "--archive", str(archive), "--gaps"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    north, south = proc.stdout.splitlines()
    assert north.split()[:2] == ["north", "s-gappy"]
    assert "records=5" in north and "max_id=12" in north and "missing=7: 1-2, 6-7, 9-11" in north
    assert south.split()[:2] == ["south", "s-whole"] and south.rstrip().endswith("missing=0")
    (archive / "north" / "s-gappy.sqlite").unlink()
    proc = subprocess.run([sys.executable, "-m", "host.cli", "ops", "--archive", str(archive), "--gaps"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1


def test_a_running_centre_says_when_its_session_was_taken(broker, tmp_path, kit, caplog):
    import logging

    caplog.set_level(logging.ERROR, logger="rfhound.ops.centre")
    centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
    try:
        # Mosquitto closes the centre's connection without a reason code; the thief
        # (session expiry 0) leaves before the centre's reconnection, taking the session with it.
        thief, _, flags = _client(broker, "south", kit.users["south"], centre.client_id)
        thief.disconnect()
        thief.loop_stop()
        _wait_for(lambda: centre.stats["connects"] >= 2 and centre.subscribed.is_set(), 20,
                  "the centre to reconnect")
    finally:
        centre.stop()
    assert flags["session_present"] is True
    lines = [r.getMessage() for r in caplog.records if "kept no session" in r.getMessage()]
    assert len(lines) == 1
    assert str(tmp_path / "archive" / STATE_DIR / CLIENT_ID_FILE) in lines[0]


def test_a_relay_that_hears_no_receipts_says_what_to_check(tmp_path, kit):
    # The ACL before receipts: teams write their feed, nobody may read receipts.
    # Mosquitto 2.0 grants the subscription all the same and then delivers nothing.
    acl = ["user ops", "topic read rfhound/v1/#", "", "pattern write rfhound/v1/%u/#"]
    path = tmp_path / "north.sqlite"
    with SessionWriter(str(path), tasking=kit.taskings["north"]) as writer:
        for rec in kit.hunt_records(20, 24):
            writer.record(rec)
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=acl) as broker:
        relay = _relay(kit, broker, tmp_path, path, "--once", "--receipt-wait", "2")
        _, err = relay.communicate(timeout=60)
    assert relay.returncode == 0, err
    (warning,) = [line for line in err.splitlines() if "not yet confirmed" in line]
    assert warning.startswith("rfhound relay: WARNING: 20 records (and the metadata) not yet confirmed")
    assert "may user 'north' read rfhound/receipts/v1/north/" in warning
    assert "stopped: 0 of 20 records confirmed" in err
    assert _confirmed(path) == set()


def test_a_centre_the_acl_forbids_receipts_keeps_archiving_and_says_why(tmp_path, kit, caplog):
    import logging

    # The ACL before receipts for the centre: Mosquitto 2.0.11 closes its connection
    # at every refused receipt, which without a breaker would repeat for ever.
    acl = ["user ops", "topic read rfhound/v1/#", "", "pattern write rfhound/v1/%u/#",
           "pattern read rfhound/receipts/v1/%u/#"]
    caplog.set_level(logging.ERROR, logger="rfhound.ops.centre")
    path = tmp_path / "north.sqlite"
    with SessionWriter(str(path), tasking=kit.taskings["north"]) as writer:
        for rec in kit.hunt_records(200, 25):
            writer.record(rec)
    with LocalMosquitto(tmp_path / "broker", kit.users, acl=acl) as broker:
        centre = OpsCentre(kit.config_for(broker, "ops"), tmp_path / "archive").start(timeout_s=10)
        try:
            relay = _relay(kit, broker, tmp_path, path, "--once", "--receipt-wait", "3")
            _, err = relay.communicate(timeout=60)
            _wait_for(lambda: centre.stats["stored"] >= 200, 30, "the archive")
            connects = centre.stats["connects"]
            time.sleep(3.0)
            assert centre.stats["connects"] == connects          # no more reconnections
        finally:
            centre.stop()
    assert relay.returncode == 0 and "0 of 200 records confirmed" in err
    lines = [r.getMessage() for r in caplog.records if "probably refuses them" in r.getMessage()]
    assert len(lines) == 1 and "topic write rfhound/receipts/v1/#" in lines[0]
    sid = kit.session_records(path)[0]["session_id"]
    assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)
