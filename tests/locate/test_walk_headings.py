"""A handheld with a directional antenna puts a heading on every reading. Only runs at one
spot that turn through most of the circle are rotation scans; readings on the move are
signal-strength readings like any other (a session exported by `rfhound export` is this)."""

import numpy as np

from host.commands.locate import locate_file

TRUTH = np.array([60.0, 35.0])
P0_DBM, N_EXP = -20.0, 3.0


def _walk_csv(path):
    # an L-shaped street walk past the emitter, antenna pointing along the walk
    east = np.column_stack([np.arange(0.0, 120.0, 2.0), np.zeros(60)])
    north = np.column_stack([np.full(40, 120.0), np.arange(2.0, 82.0, 2.0)])
    xy = np.vstack([east, north])
    heading = np.r_[np.full(60, 90.0), np.full(40, 0.0)]
    d = np.hypot(*(xy - TRUTH).T)
    rssi = P0_DBM - 10 * N_EXP * np.log10(d)
    lines = ["time_s,target,rssi_dbm,x_m,y_m,heading_deg"]
    lines += [f"{i},T1,{p:.6f},{x},{y},{h}" for i, ((x, y), p, h)
              in enumerate(zip(xy, rssi, heading))]
    path.write_text("\n".join(lines) + "\n")
    return len(xy)


def test_readings_on_the_move_with_a_heading_are_used_for_position(tmp_path):
    path = tmp_path / "walk.csv"
    n = _walk_csv(path)
    warnings = []
    out = locate_file(str(path), warn=warnings.append)
    (t,) = out["targets"]
    assert t["n_used"] == n
    assert np.hypot(t["x_m"] - TRUTH[0], t["y_m"] - TRUTH[1]) < 0.5  # noise-free data
    assert warnings == []  # short runs of headings are not failed scans
