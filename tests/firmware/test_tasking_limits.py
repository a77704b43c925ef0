"""Targets the AD9363 cannot receive are refused with the reason, on the handheld (MicroPython,
firmware/tasking.py) and by `rfhound tasking sign` before anything is signed."""

import json
import time

import pytest

from dsp import bands as B
from firmware import tasking as T
from host.cli import main as rfhound

from .conftest import KEY, tasking_body

N79_LOW_HZ = int(round(B._nr_freq_hz(B._NR["n79"][0])))   # 4400.01 MHz, TS 38.104


def _target(uplink_hz, bandwidth_hz=5000000, rat="NR"):
    return {"label": "rack B", "imsi": "460001234567812", "rat": rat, "channel": 1,
            "uplink_hz": uplink_hz, "bandwidth_hz": bandwidth_hz}


@pytest.mark.parametrize("uplink_hz, bandwidth_hz, reason", [
    (N79_LOW_HZ, 5000000, "outside the AD9363's 325-3800 MHz"),
    (4900000000, 20000000, "4900 band need a second front end"),
    (300000000, 200000, "outside the AD9363's 325-3800 MHz"),
    (3500000000, 100000000, "100 kHz..20 MHz"),     # an n78 carrier's 100 MHz
])
def test_handheld_refuses_targets_beyond_the_chip(run_mpy, uplink_hz, bandwidth_hz, reason):
    blob = T.sign(KEY, tasking_body(targets=[_target(uplink_hz, bandwidth_hz)]))
    got = run_mpy("""
import json, tasking
try:
    tasking.check(bytes.fromhex(%r), %r, %d)
    print(json.dumps(None))
except tasking.TaskingError as e:
    print(json.dumps([e.reason, e.detail]))
""" % (blob.hex(), KEY, int(time.time())))
    assert got is not None and got[0] == T.MALFORMED and reason in got[1]


def test_chip_edges_are_accepted():
    for f, bw in ((325000000, 200000), (3800000000, 20000000), (3799995000, 10000000)):
        T.validate(tasking_body(targets=[_target(f, bw)]))


def test_sign_refuses_n79_in_one_line(tmp_path, capsys):
    key = tmp_path / "k"
    key.write_bytes(KEY)
    src = tmp_path / "n79.json"
    body = tasking_body(targets=[_target(N79_LOW_HZ)])
    src.write_text(json.dumps(body))
    out = tmp_path / "o.rft"
    assert rfhound(["tasking", "sign", str(src), "--key-file", str(key), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "4400 MHz is outside the AD9363's 325-3800 MHz" in err
    assert not out.exists()


def test_tasking_limits_are_the_drivers(run_mpy):
    # tasking.py may import nothing but hashlib/json/struct, so it repeats the numbers:
    # the driver must refuse exactly what the tasking refuses.
    got = run_mpy("""
import json, ad9363
out = []
for f in (324999999, 325000000, 3800000000, 3800000001):
    try:
        ad9363.check_tune(f)
        out.append(True)
    except ValueError:
        out.append(False)
for bw in (20000000, 20000001):
    try:
        ad9363.check_bandwidth(bw)
        out.append(True)
    except ValueError:
        out.append(False)
print(json.dumps(out))
""")
    mine = []
    for f in (324999999, 325000000, 3800000000, 3800000001):
        try:
            T.validate(tasking_body(targets=[_target(f)]))
            mine.append(True)
        except T.TaskingError:
            mine.append(False)
    for bw in (20000000, 20000001):
        try:
            T.validate(tasking_body(targets=[_target(1747500000, bw)]))
            mine.append(True)
        except T.TaskingError:
            mine.append(False)
    assert got == mine == [False, True, True, False, True, False]
