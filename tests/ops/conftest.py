"""Fixtures for the operations-centre tests: a private Mosquitto, credentials, team sessions."""

import math
import os
import random
import subprocess
import sys
import time
import types

import pytest

from host.ops.options import BrokerConfig
from host.ops.localbroker import LocalMosquitto

USERS = {"north": "n0rth-pw", "south": "s0uth-pw", "ops": "0ps-pw"}


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto on 127.0.0.1 with its own config and password file, stopped after."""
    with LocalMosquitto(tmp_path / "broker", USERS) as mosq:
        yield mosq


def config_for(broker, user, password=None):
    # The local test broker is plain TCP on 127.0.0.1: allowed explicitly.
    return BrokerConfig("127.0.0.1", broker.port, username=user,
                        password=USERS[user] if password is None else password, allow_insecure=True)


def password_file(tmp_path, user, password=None):
    path = tmp_path / f"{user}.pw"
    path.write_text((USERS[user] if password is None else password) + "\n")
    return path


def rfhound(*args, **popen_kw):
    """Start ``rfhound ARGS`` as its own process (so it can be SIGKILLed).

    ``relay`` / ``ops`` against the plain-TCP test broker get ``--allow-insecure``
    (tests/ops/test_insecure.py checks the refusal without it).
    """
    args = list(args)
    if args and args[0] in ("relay", "ops") and any(str(a).startswith("mqtt://") for a in args) \
            and "--allow-insecure" not in args:
        args.append("--allow-insecure")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    popen_kw.setdefault("stdout", subprocess.PIPE)
    popen_kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "host.cli", *map(str, args)], env=env,
                            text=True, **popen_kw)


TASKINGS = {
    "north": {"targets": [{"label": "rack-A", "imsi": "460001234567812", "rat": "LTE", "channel": 1850},
                          {"label": "rack-B", "imsi": "460011112223334", "rat": "GSM", "channel": 60}],
              "area": "old town"},
    "south": {"targets": [{"label": "rack-C", "imsi": "460001234567812", "rat": "LTE", "channel": 1850}],
              "area": "tower row"},
}


def hunt_records(n, seed, t0_s=None):
    """`n` records shaped like host.records output: a HELLO, then MEAS with STATUS, MARK, EVENT."""
    rng = random.Random(seed)
    t0_s = time.time() if t0_s is None else t0_s
    yield {"kind": "HELLO", "seq": 0, "device_time_ms": 0, "rx_time_s": t0_s, "fw_version": "0.1.0",
           "device_id": 4242 + seed, "calibration_id": 7}
    lat, lon = 31.2304 + seed * 1e-3, 121.4737
    for i in range(1, n):
        t_ms = 100 * i
        base = {"seq": i & 0xFFFF, "device_time_ms": t_ms, "rx_time_s": t0_s + t_ms / 1000}
        if i % 50 == 0:
            yield dict(base, kind="STATUS", battery_mv=3900 - i // 10, temp_c=31.5)
        elif i % 97 == 0:
            yield dict(base, kind="MARK", mark_id=i // 97, floor=0, heading_deg=None,
                       lat_deg=lat, lon_deg=lon, alt_m=12.0)
        elif i % 131 == 0:
            yield {"kind": "EVENT", "text": "operator note", "rx_time_s": base["rx_time_s"]}
        else:
            lat += rng.gauss(0, 2e-6)
            lon += rng.gauss(0, 2e-6)
            detected = rng.random() > 0.1
            yield dict(base, kind="MEAS", target=i % 2, flags=0 if detected else 1,
                       rssi_dbm=round(-95 + 20 * math.sin(i / 40) + rng.gauss(0, 2), 2) if detected else None,
                       raw_rssi=rng.randrange(0, 4096), gain_db=30,
                       heading_deg=round(rng.uniform(0, 360), 2), floor=0, dwell_ms=50,
                       not_detected=not detected, position_stale=False, saturated=False,
                       radio_fault=False, bench=False, lat_deg=lat, lon_deg=lon, alt_m=12.0)


def session_records(path):
    from host.session import SessionReader

    with SessionReader(str(path)) as reader:
        return reader.meta, reader.tasking, list(reader.records())


@pytest.fixture
def kit():
    """The helpers above, for test modules (importlib mode cannot import conftest)."""
    return types.SimpleNamespace(
        users=USERS, taskings=TASKINGS, config_for=config_for, password_file=password_file,
        rfhound=rfhound, hunt_records=hunt_records, session_records=session_records)
