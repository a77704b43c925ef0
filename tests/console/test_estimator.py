"""The estimator process answers as the in-process estimate does, and comes back after a crash."""

import numpy as np

from host.app.estimator import EstimatorProcess, estimate_view


def walk_readings(seed=5):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-80, 80, (2, 120))
    d = np.hypot(x - 15.0, y + 10.0) + 1.0
    rssi = -40.0 - 30.0 * np.log10(d) + rng.normal(0, 3.0, x.size)
    return np.column_stack([x, y, rssi, np.full(x.size, np.nan), np.arange(x.size, dtype=float)])


def test_child_matches_in_process_and_restarts_after_a_kill():
    arr = walk_readings()
    local, error, _ = estimate_view(arr, None, 0)
    assert error is None
    est = EstimatorProcess()
    try:
        remote, error, took_s = est.run(arr, None, 0)
        assert error is None and took_s > 0
        assert (remote.x_m, remote.y_m) == (local.x_m, local.y_m)
        np.testing.assert_array_equal(remote.cov_m2, local.cov_m2)
        assert np.hypot(remote.x_m - 15.0, remote.y_m + 10.0) < 10.0
        est._proc.kill()
        est._proc.wait()
        again, _, _ = est.run(arr, None, 0)
        assert (again.x_m, again.y_m) == (local.x_m, local.y_m)
    finally:
        est.close()


def test_too_few_readings_is_an_answer_not_a_crash():
    est = EstimatorProcess()
    try:
        view, error, _ = est.run(walk_readings()[:2], None, 3)
        assert view is None and error.startswith("target 4: no estimate yet")
    finally:
        est.close()
