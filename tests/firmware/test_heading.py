"""Tilt-compensated heading in MicroPython against the analytic rotation of the field."""

import json
import math

import numpy as np
import pytest

from host.virtual.chips import body_from_ned, chip_from_body

FIELD_NED = (0.20, 0.0, 0.45)  # gauss: 0.2 horizontal, 0.45 down (mid-latitude north)
LSB_PER_GAUSS = 6842           # LIS3MDL +-4 gauss (DS10819 Table 3)
LSB_PER_G = 1000 / 0.061       # LSM6DSOX +-2 g, 0.061 mg/LSB (DS12814 Table 2)

ATTITUDES = [(h, p, r) for h in (0, 45, 90, 135, 180, 225, 270, 315, 359, 7.5)
             for p, r in ((0, 0), (20, 0), (0, -30), (-35, 25), (40, 40))]


def _readings(h, p, r, soft=np.eye(3), hard=(0.0, 0.0, 0.0)):
    m = np.array(chip_from_body(body_from_ned(FIELD_NED, h, p, r)))
    m = soft @ m + np.array(hard)
    a = chip_from_body(body_from_ned((0.0, 0.0, -1.0), h, p, r))
    return ([int(round(v * LSB_PER_GAUSS)) for v in m], [int(round(v * LSB_PER_G)) for v in a])


def _err(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_heading_with_tilt_matches_the_set_heading(run_mpy):
    data = [_readings(*att) for att in ATTITUDES]
    got = run_mpy("import json, heading\nprint(json.dumps([heading.tilt_heading_cdeg(*(m + a))"
                  " for m, a in %s]))" % json.dumps(data))
    errors = [_err(g / 100.0, att[0]) for g, att in zip(got, ATTITUDES)]
    assert max(errors) < 0.3


def test_atan2_against_math(run_mpy):
    pts = [(math.sin(math.radians(a)) * 30000, math.cos(math.radians(a)) * 30000)
           for a in np.arange(0.0, 360.0, 3.7)]
    pts = [(int(y), int(x)) for y, x in pts] + [(1, 100000), (-5, -7), (0, -3)]
    got = run_mpy("import json, heading\nprint(json.dumps([heading.atan2_cdeg(y, x) for y, x in %s]))"
                  % json.dumps(pts))
    for (y, x), g in zip(pts, got):
        assert _err(g / 100.0, math.degrees(math.atan2(y, x)) % 360.0) < 0.02


def test_hard_and_soft_iron_are_corrected(run_mpy):
    soft = np.array([[1.12, 0.06, 0.0], [0.06, 0.88, 0.02], [0.0, 0.02, 1.0]])
    hard = (0.15, -0.08, 0.05)
    s_inv = np.linalg.inv(soft)
    cal = {"hard_iron": [int(round(v * LSB_PER_GAUSS)) for v in hard],
           "soft_iron_q12": [int(round(v * 4096)) for v in s_inv.ravel()]}
    atts = [(h, p, r) for h in range(0, 360, 30) for p, r in ((0, 0), (25, -15))]
    data = [_readings(h, p, r, soft, hard) for h, p, r in atts]
    got = run_mpy("""
import json, heading
class Fixed:
    def __init__(self, v):
        self.v = v
    def read_into(self, xyz):
        for i in range(3):
            xyz[i] = self.v[i]
out = []
for m, a in %s:
    raw = heading.Compass(Fixed(m), Fixed(a))
    cal = heading.Compass(Fixed(m), Fixed(a), %s, %s)
    out.append([raw.heading_cdeg(), cal.heading_cdeg()])
print(json.dumps(out))
""" % (json.dumps(data), cal["hard_iron"], cal["soft_iron_q12"]))
    raw_err = max(_err(g[0] / 100.0, a[0]) for g, a in zip(got, atts))
    cal_err = max(_err(g[1] / 100.0, a[0]) for g, a in zip(got, atts))
    assert raw_err > 10.0   # the distortion matters...
    assert cal_err < 0.5    # ...and the correction removes it
