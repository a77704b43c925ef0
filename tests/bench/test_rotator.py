"""The rotctld client against Hamlib's dummy rotator (rotctld -m 1)."""

import time

import pytest

from host.bench.rotator import Rotctld, RotatorError, angle_diff_deg


def test_dummy_rotator_turns_at_its_own_speed_and_arrives(rotctld_port):
    rot = Rotctld("127.0.0.1", rotctld_port)
    try:
        assert rot.position() == (0.0, 0.0)
        t0 = time.monotonic()
        az = rot.move_to(12.0, tolerance_deg=0.5)
        elapsed = time.monotonic() - t0
        assert abs(az - 12.0) <= 0.5
        # Hamlib's dummy turns at 6 deg/s: 12 deg take about 2 s, not an instant
        assert 1.5 < elapsed < 6.0
        rot.stop()
    finally:
        rot.close()


def test_refused_position_raises_with_the_hamlib_code(rotctld_port):
    rot = Rotctld("127.0.0.1", rotctld_port)
    try:
        with pytest.raises(RotatorError, match=r"RPRT -1"):
            rot.set_position(500.0)          # beyond the dummy's max azimuth of 450
        assert rot.position() == (0.0, 0.0)  # the connection is still in step
    finally:
        rot.close()


def test_unreachable_daemon_is_one_line():
    with pytest.raises(RotatorError, match="cannot reach rotctld at 127.0.0.1:1"):
        Rotctld("127.0.0.1", 1, timeout_s=1.0)


@pytest.mark.parametrize("a, b, diff", [(10, 350, 20), (350, 10, -20), (180, 0, -180), (0, 0, 0)])
def test_angle_diff_wraps(a, b, diff):
    assert angle_diff_deg(a, b) == diff
