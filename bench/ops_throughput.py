"""Operations-centre throughput and delivery latency through a local Mosquitto.

Two phases, each with N simulated teams, every team a separate relay process, one
in-process ops centre archiving to SQLite:

1. *Upload*: each team's finished session of M records is sent once through to the
   end; records/s = all records / (first relay started -> last record confirmed in
   every team's outbox). Three modes in every round, on the same broker and load:
   - *receipts on*: a record leaves the outbox on the centre's receipt (today);
   - *receipts off*: the broker's PUBACK marks it sent, the centre sends no receipts
     (the behaviour before issue 18, which a broker SIGKILL could fool);
   - *bare paho*: QoS 1 publish -> subscribe of same-size payloads with no session
     file, no outbox and no archive (messages/s).
   Medians over the rounds.
2. *Live*: each team records R records/s for T s while its relay follows the file;
   latency percentiles of record written -> archived (includes the recorder's
   0.25 s commit interval and the relay's poll) and relay publish -> archived.

Usage: ``python bench/ops_throughput.py [--teams 4] [--records 5000] [--rounds 3] [--rate 50] [--seconds 10]``

The relay processes run this file with ``--child-relay`` (the same `host.ops.relay.Relay`
that ``rfhound relay`` runs), so both upload modes pay the same start-up.
"""

import argparse
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

from host.ops.options import BrokerConfig
from host.ops.centre import OpsCentre
from host.ops.localbroker import LocalMosquitto
from host.session import SessionWriter

PASSWORD = "bench-pw"


def meas_record(i, rng, rx_time_s):
    """One MEAS record shaped like host.records output."""
    return {"kind": "MEAS", "seq": i & 0xFFFF, "device_time_ms": 100 * i, "rx_time_s": rx_time_s,
            "target": i % 2, "flags": 0, "rssi_dbm": round(-90 + 15 * math.sin(i / 30) + rng.gauss(0, 2), 2),
            "raw_rssi": rng.randrange(4096), "gain_db": 30, "heading_deg": round(rng.uniform(0, 360), 2),
            "floor": 0, "dwell_ms": 50, "not_detected": False, "position_stale": False, "saturated": False,
            "radio_fault": False, "bench": False, "lat_deg": 31.2304 + rng.gauss(0, 1e-4),
            "lon_deg": 121.4737 + rng.gauss(0, 1e-4), "alt_m": 12.0}


def start_relay(broker, team, path, pwfile, once, log, receipts=True):
    if once:
        cmd = [sys.executable, __file__, "--child-relay", str(path), team, str(broker.port),
               "receipts" if receipts else "puback"]
        return subprocess.Popen(cmd, stdout=log, stderr=log, cwd=Path(__file__).resolve().parent.parent)
    cmd = [sys.executable, "-m", "host.cli", "relay", "--broker", broker.url, "--team", team,
           "--username", team, "--password-file", str(pwfile), "--allow-insecure", str(path)]
    return subprocess.Popen(cmd, stdout=log, stderr=log)


def child_relay(path, team, port, mode):
    """One upload relay (``--child-relay``): every record of `path` confirmed, then exit."""
    from host.ops.relay import Relay

    config = BrokerConfig("127.0.0.1", int(port), username=team, password=PASSWORD, allow_insecure=True)
    stats = Relay(path, config, team, confirm_on_puback=(mode == "puback")).run(once=True)
    return 0 if stats["sent"] == stats["records"] else 1


def wait_until(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting for the archive")
        time.sleep(0.01)


def bare_paho(broker, n_messages, payload, tag):
    """Messages/s of plain QoS 1 publish -> subscribe through the same broker."""
    got = threading.Event()
    count = [0]

    def on_message(client, userdata, message):
        count[0] += 1
        if count[0] == n_messages:
            got.set()

    def client(name):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bare-{tag}-{name}", protocol=mqtt.MQTTv5)
        c.username_pw_set("team0", PASSWORD)
        c.max_inflight_messages_set(100)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        return c

    sub = client("sub")
    sub.on_message = on_message
    sub.subscribe(f"bare/{tag}/#", qos=1)
    time.sleep(0.3)
    pub = client("pub")
    t0 = time.perf_counter()
    for i in range(n_messages):
        pub.publish(f"bare/{tag}/{i % 8}", payload, qos=1)
    got.wait(120)
    rate = count[0] / (time.perf_counter() - t0)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=4)
    parser.add_argument("--records", type=int, default=5000, help="records per team in the upload phase")
    parser.add_argument("--rate", type=float, default=50.0, help="records/s per team in the live phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the live phase")
    parser.add_argument("--rounds", type=int, default=3, help="upload rounds (median reported)")
    parser.add_argument("--child-relay", nargs=4, metavar=("PATH", "TEAM", "PORT", "MODE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_relay:
        return child_relay(*args.child_relay)

    work = Path(tempfile.mkdtemp(prefix="rfhound-ops-bench-"))
    teams = [f"team{i}" for i in range(args.teams)]
    users = {team: PASSWORD for team in teams} | {"ops": PASSWORD}
    pwfile = work / "pw"
    pwfile.write_text(PASSWORD + "\n")
    log = open(work / "relays.log", "w")
    rng = random.Random(1)
    with LocalMosquitto(work / "broker", users) as broker:
        archived_at = {}
        lock = threading.Lock()

        def on_record(env, new):
            if new and env.record_id > 0:
                now = time.time()
                with lock:
                    archived_at[(env.session_id, env.record_id)] = (now, env.sent_s,
                                                                    env.record.get("rx_time_s"))

        centre = OpsCentre(BrokerConfig("127.0.0.1", broker.port, username="ops", password=PASSWORD,
                                        allow_insecure=True),
                           work / "archive", on_record=on_record).start(timeout_s=10)

        # Phase 1: upload finished sessions, alternating with the bare reference in
        # each round so that both see the same machine load.
        payload_bytes = [len(json.dumps(meas_record(i, rng, 0.0))) + 120 for i in range(100)]
        payload = b"x" * int(np.mean(payload_bytes))
        total = args.records * len(teams)
        rates = {"on": [], "off": []}
        reference = []
        for round_ in range(args.rounds):
            reference.append(bare_paho(broker, total, payload, f"r{round_}"))
            for mode in ("off", "on"):
                paths = {}
                for team in teams:
                    paths[team] = work / f"{team}-upload-{round_}-{mode}.sqlite"
                    with SessionWriter(str(paths[team])) as writer:
                        t0 = time.time()
                        for i in range(args.records):
                            writer.record(meas_record(i, rng, t0 + i / 10))
                archived_at.clear()
                centre.receipts = mode == "on"
                t_start = time.perf_counter()
                relays = [start_relay(broker, team, paths[team], pwfile, True, log, receipts=mode == "on")
                          for team in teams]
                # Done when the centre has every record and every relay has exited
                # with its whole outbox confirmed (receipts, or PUBACKs when off).
                wait_until(lambda: len(archived_at) >= total and all(p.poll() is not None for p in relays), 600)
                rates[mode].append(total / (time.perf_counter() - t_start))
                if any(p.returncode for p in relays):
                    raise SystemExit(f"bench: a relay ended with records unconfirmed (mode {mode}); see {log.name}")
        centre.receipts = True

        # Phase 2: live hunts, the relays following the files as they grow.
        archived_at.clear()
        stop = threading.Event()
        writers = {team: SessionWriter(str(work / f"{team}-live.sqlite")) for team in teams}
        relays = [start_relay(broker, team, writers[team].path, pwfile, False, log) for team in teams]
        time.sleep(1.0)

        def feed(writer, seed):
            frng = random.Random(seed)
            next_s = time.monotonic()
            i = 0
            while not stop.is_set():
                writer.record(meas_record(i, frng, time.time()))
                i += 1
                next_s += 1.0 / args.rate
                time.sleep(max(0.0, next_s - time.monotonic()))

        feeders = [threading.Thread(target=feed, args=(writers[t], k)) for k, t in enumerate(teams)]
        for f in feeders:
            f.start()
        time.sleep(args.seconds)
        stop.set()
        for f in feeders:
            f.join()
        for w in writers.values():
            w.close()
        live_total = sum(_count(w.path) for w in writers.values())
        wait_until(lambda: len(archived_at) >= live_total, 120)
        for proc in relays:
            proc.terminate()
            proc.wait(10)
        rows = np.array(list(archived_at.values()))
        written_ms = 1e3 * (rows[:, 0] - rows[:, 2])
        wire_ms = 1e3 * (rows[:, 0] - rows[:, 1])
        pub_ms = 1e3 * (rows[:, 1] - rows[:, 2])

        centre.stop()
    log.close()

    print(f"ops_throughput: {len(teams)} teams through Mosquitto on 127.0.0.1 ({os.cpu_count()} CPUs)")
    on_rate, off_rate = float(np.median(rates["on"])), float(np.median(rates["off"]))
    ref_rate = float(np.median(reference))
    print(f"  upload    {total} records per round and mode, medians of {args.rounds} rounds, end to end "
          "(relay processes -> broker -> archive -> outbox marked)")
    print(f"  receipts on  (centre's receipt marks a record sent): {on_rate:,.0f} records/s; "
          f"rounds {', '.join(f'{r:,.0f}' for r in rates['on'])}")
    print(f"  receipts off (broker PUBACK marks it, as before):     {off_rate:,.0f} records/s; "
          f"rounds {', '.join(f'{r:,.0f}' for r in rates['off'])}")
    print(f"  reference bare paho QoS 1 publish->subscribe, same payload size, same rounds: "
          f"{ref_rate:,.0f} messages/s")
    print(f"  ratio     receipts on / off {on_rate / off_rate:.2f}; on / bare paho {on_rate / ref_rate:.2f}; "
          f"off / bare paho {off_rate / ref_rate:.2f}")
    print(f"  live      {live_total} records at {args.rate:g}/s per team for {args.seconds:g} s")
    print(f"  latency   written->archived p50 {np.percentile(written_ms, 50):.0f} ms, "
          f"p99 {np.percentile(written_ms, 99):.0f} ms")
    print(f"  latency   written->published p50 {np.percentile(pub_ms, 50):.0f} ms, "
          f"p99 {np.percentile(pub_ms, 99):.0f} ms (recorder's 0.25 s commit, relay poll)")
    print(f"  latency   published->archived p50 {np.percentile(wire_ms, 50):.1f} ms, "
          f"p99 {np.percentile(wire_ms, 99):.1f} ms")
    return 0


def _count(path):
    with sqlite3.connect(path) as con:
        return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
