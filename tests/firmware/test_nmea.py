"""NMEA parsing, run in MicroPython and CPython on real receiver sentences."""

import json

import pytest

from firmware import nmea

GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GGA_NO_FIX = "$GPGGA,,,,,,0,00,99.99,,,,,,*48"  # u-blox before its first fix
RMC_VOID = "$GPRMC,,V,,,,,,,,,,N*53"


def _with_checksum(body):
    c = 0
    for ch in body.encode():
        c ^= ch
    return "$%s*%02X" % (body, c)


SOUTH_WEST = _with_checksum("GNGGA,001043.00,3404.7041778,S,07044.3966270,W,1,13,1.00,-12.3,M,29.2,M,,")

CASES = [
    # 48 deg 07.038 min = 48.1173 deg; 11 deg 31.000 min = 11.5166667 deg; 545.4 m
    (GGA, {"type": "GGA", "fix": True, "quality": 1, "sats": 8, "lat_e7": 481173000,
           "lon_e7": 115166667, "alt_dm": 5454, "utc_ms": 45319000}),
    (RMC, {"type": "RMC", "fix": True, "lat_e7": 481173000, "lon_e7": 115166667,
           "utc_ms": 45319000, "date": [1994, 3, 23]}),
    (GGA_NO_FIX, {"type": "GGA", "fix": False, "quality": 0, "sats": 0, "lat_e7": None,
                  "lon_e7": None, "alt_dm": None, "utc_ms": None}),
    (RMC_VOID, {"type": "RMC", "fix": False, "lat_e7": None, "lon_e7": None, "utc_ms": None,
                "date": None}),
    # 34 deg 04.7041778 min S = -34.0784030 deg; 70 deg 44.396627 min W = -70.7399438 deg
    (SOUTH_WEST, {"type": "GGA", "fix": True, "quality": 1, "sats": 13, "lat_e7": -340784030,
                  "lon_e7": -707399438, "alt_dm": -123, "utc_ms": 643000}),
    (GGA[:-1] + "8", None),                              # bad checksum
    ("$GPGGA,123519,4807.038,N,011", None),              # truncated, no checksum
    (GGA.replace("4807.038", "4807.039"), None),         # corrupted after the checksum
    ("$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74", None),  # unused
    ("", None),
    ("garbage*00", None),
]


def _normal(d):
    return None if d is None else {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


@pytest.mark.parametrize("line, expected", CASES)
def test_parse_nmea_cpython(line, expected):
    assert _normal(nmea.parse_nmea(line)) == expected


def test_parse_nmea_micropython(run_mpy):
    got = run_mpy("import json, nmea\nprint(json.dumps([nmea.parse_nmea(l) for l in %s]))"
                  % json.dumps([c[0] for c in CASES]))
    assert [_normal(g) for g in got] == [c[1] for c in CASES]


def test_line_reader_assembles_lines_across_reads_and_resyncs():
    class Uart:
        def __init__(self, chunks):
            self.chunks = list(chunks)

        def readinto(self, buf):
            if not self.chunks:
                return None
            c = self.chunks.pop(0)
            buf[:len(c)] = c
            return len(c)

    stream = (b"xx" + GGA.encode() + b"\r\n$GPGG" + RMC.encode() + b"\r\n")
    reader = nmea.LineReader(Uart([stream[i:i + 7] for i in range(0, len(stream), 7)]))
    lines = []
    for _ in range(100):
        reader.poll(lines.append)
    assert [nmea.parse_nmea(line)["type"] for line in lines] == ["GGA", "RMC"]
