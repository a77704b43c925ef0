"""Fixtures for the firmware tests: the MicroPython unix port as a subprocess, the chip
fakes on a loopback bus, the virtual handheld, and signed taskings."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from firmware import tasking as T
from host.virtual.bus import BusServer, Wiring

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
MPY_FAKES = ROOT / "host" / "virtual" / "mpy"
KEY = b"operator-key"
DEVICE_ID = 0x52460001


@pytest.fixture(scope="session")
def run_mpy(micropython_bin, tmp_path_factory):
    """Run a MicroPython script with the firmware (and optionally a bus) on its path; the
    script prints one JSON line last, which is returned decoded."""
    tmp = tmp_path_factory.mktemp("mpy")

    def run(code, heap_kb=192, bus=None, timeout=60):
        script = tmp / ("t%d.py" % time.monotonic_ns())
        script.write_text(code)
        env = dict(os.environ)
        env["MICROPYPATH"] = "%s:%s" % (MPY_FAKES, FIRMWARE)
        if bus is not None:
            env["RFHOUND_BUS"] = bus.address
        proc = subprocess.run([micropython_bin, "-X", "heapsize=%dK" % heap_kb, str(script)],
                              capture_output=True, text=True, env=env, timeout=timeout, cwd=str(tmp))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def bus():
    """A loopback bus with nothing wired yet; tests hang chip fakes on `bus.wiring`."""
    server = BusServer(Wiring())
    yield server
    server.close()


def tasking_body(targets=None, serial=1, now=None, valid_s=3600, **extra):
    now = int(time.time()) if now is None else now
    body = {"format": T.FORMAT, "serial": serial, "issuer": "unit test", "not_before": now - 60,
            "not_after": now + valid_s,
            "targets": targets or [{"label": "rack A port 1", "imsi": "460001234567812",
                                    "rat": "LTE", "channel": 19575, "uplink_hz": 1747500000,
                                    "bandwidth_hz": 5000000}]}
    body.update(extra)
    return body


@pytest.fixture
def signed():
    def make(key=KEY, **kw):
        return T.sign(key, tasking_body(**kw))
    return make
