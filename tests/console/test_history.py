"""History in the console: strip chart in session time, bearing history, estimate trail, changes."""

import numpy as np

from replay_helpers import replay_to_end
from host.app.views.strip_chart import SessionTimeAxis


def test_session_time_ticks_read_minutes_and_seconds(qapp):
    axis = SessionTimeAxis("bottom")
    assert axis.tickStrings([0.0, 65.0, 599.6, 3725.0], 1.0, 1.0) == ["0:00", "1:05", "10:00",
                                                                       "1:02:05"]


def test_strip_chart_counts_from_the_session_start_and_fills_with_a_short_hunt(replayed):
    hunt = replayed.hunt
    t = hunt.targets[replayed.selected]
    duration = t.meas["time_s"][-1] - hunt.start_s
    replayed.set_strip_window(600.0)  # longer than the 5.7 min hunt
    replayed.refresh()
    sx, _ = replayed.strip.curve.getData()
    assert 0.0 <= sx.min() < 2.0 and abs(sx.max() - duration) < 1e-6
    (x0, x1), _ = replayed.strip.getPlotItem().getViewBox().viewRange()
    # the whole hunt spans the chart, not the first 57 % of a 10 min window
    assert abs(x0) < 1e-6 and abs(x1 - duration) < 1e-6
    replayed.set_strip_window(120.0)
    replayed.refresh()
    (x0, x1), _ = replayed.strip.getPlotItem().getViewBox().viewRange()
    assert abs(x1 - duration) < 1e-6 and abs((x1 - x0) - 120.0) < 1e-6


def polygons(item):
    return item.path().toSubpathPolygons()


def test_bearing_history_toggles_the_earlier_scans(replayed):
    t = replayed.hunt.targets[0]
    replayed.select_target(0)
    replayed.refresh()
    assert len(t.bearings) == 2  # the synthetic hunt turns twice
    assert len(polygons(replayed.map.wedges)) == 1
    assert len(polygons(replayed.map.old_wedges)) == 1
    replayed.history_action.setChecked(False)
    replayed.refresh()
    assert len(polygons(replayed.map.wedges)) == 1
    assert polygons(replayed.map.old_wedges) == []


def test_estimate_trail_ends_at_the_estimate_shown(replayed):
    import copy

    t = replayed.hunt.targets[replayed.selected]
    n = len(t.trail)
    assert n >= 1  # a replay at full speed may be estimated once only
    moved = copy.copy(t.estimate)
    moved.x_m += 7.0
    replayed._on_estimate(t.index, moved)  # the next estimate, as the worker sends it
    replayed.refresh()
    x, y = replayed.map.trail.getData()
    assert len(x) == len(t.trail) == n + 1
    assert (x[-1], y[-1]) == (moved.x_m, moved.y_m)
    assert x[-1] - x[-2] == 7.0 if n == 1 else True
    assert np.all(np.diff(t.trail["time_s"]) >= 0)
    replayed.trail_action.setChecked(False)
    replayed.refresh()
    x, _ = replayed.map.trail.getData()
    assert x is None or len(x) == 0


def test_a_new_most_probable_building_is_said_once(qtbot, window, session_file):
    from test_buildings import hunt_buildings

    polys, names = hunt_buildings()
    window.set_buildings(polys, names)
    replay_to_end(qtbot, window, session_file)
    changes = window.hunt.targets[0].changes
    assert changes, "the first building named is a change"
    assert changes[0][1].startswith("rack-A: now ")
    # every line names a new building: two in a row never name the same one
    nows = [text.split(" now ")[1].split(" (")[0] for _, text in changes]
    assert all(a != b for a, b in zip(nows, nows[1:]))
    assert nows[-1] == "C"
