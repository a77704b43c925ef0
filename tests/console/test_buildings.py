"""The console locates inside the buildings it draws: estimator, target list and map outline."""

import numpy as np
import pytest

import hunt_data
from replay_helpers import replay_to_end
from host.app.estimator import ESTIMATE_CELLS, EstimatorProcess, estimate_view
from host.app.views.target_table import COLUMNS
from test_estimator import walk_readings

#: Around the emitter of ``walk_readings`` (15, -10): it is in the second one.
WALK_BUILDINGS = [np.array([[-60.0, 20.0], [-20.0, 20.0], [-20.0, 50.0], [-60.0, 50.0]]),
                  np.array([[0.0, -25.0], [30.0, -25.0], [30.0, 5.0], [0.0, 5.0]]),
                  np.array([[40.0, -70.0], [70.0, -70.0], [70.0, -40.0], [40.0, -40.0]])]


def test_without_footprints_the_estimate_is_the_plain_one():
    from dsp.answer import locate_target
    from dsp.locate import Grid

    arr = walk_readings()
    x, y, rssi = arr[:, 0], arr[:, 1], arr[:, 2]
    plain = locate_target(x, y, rssi, floor=arr[:, 3], time_s=arr[:, 4],
                          grid=Grid.around(x, y, cells=ESTIMATE_CELLS))
    for footprints in (None, ()):
        view, error, _ = estimate_view(arr, None, 0, None, footprints)
        assert error is None
        assert (view.x_m, view.y_m) == (plain.x_m, plain.y_m)
        np.testing.assert_array_equal(view.cov_m2, plain.cov_m2)
        assert view.building is None and view.building_prob is None


def test_footprints_name_the_building_in_and_out_of_the_child():
    arr = walk_readings()
    local, error, _ = estimate_view(arr, None, 0, None, WALK_BUILDINGS)
    assert error is None
    assert local.building == 1
    assert local.building_prob.shape == (3,)
    np.testing.assert_allclose(local.building_prob.sum(), 1.0, rtol=1e-9)
    assert local.building_prob[1] > 0.5
    est = EstimatorProcess()
    try:
        remote, error, _ = est.run(arr, None, 0, None, tuple(WALK_BUILDINGS))
    finally:
        est.close()
    assert error is None and remote.building == 1
    np.testing.assert_array_equal(remote.building_prob, local.building_prob)
    assert (remote.x_m, remote.y_m) == (local.x_m, local.y_m)


def test_footprints_off_the_searched_area_leave_the_plain_estimate():
    arr = walk_readings()
    far = [p + 5000.0 for p in WALK_BUILDINGS]
    view, error, _ = estimate_view(arr, None, 0, None, far)
    plain, _, _ = estimate_view(arr, None, 0)
    assert error is None and view.building is None
    assert (view.x_m, view.y_m) == (plain.x_m, plain.y_m)


def hunt_buildings():
    """The synthetic hunt's building (the emitter's) between two others across the street,
    in the console's frame (east/north of the first fix)."""
    first = hunt_data.walk_xy()[0]
    central = np.array(hunt_data.BUILDING_M)
    west = np.array([[-75.0, 10.0], [-40.0, 10.0], [-40.0, 70.0], [-75.0, 70.0]])
    east = np.array([[140.0, 10.0], [175.0, 10.0], [175.0, 70.0], [140.0, 70.0]])
    return [p - first for p in (west, central, east)], ["W", "C", "E"]


def path_points(item):
    """The vertices of a path item's (one) outline, closing vertex dropped."""
    polys = item.path().toSubpathPolygons()
    assert len(polys) == 1
    return np.array([(p.x(), p.y()) for p in polys[0]])[:-1]


def test_replay_with_buildings_names_and_outlines_the_right_one(qtbot, window, session_file):
    polys, names = hunt_buildings()
    # set before the source is opened, as `make_window(buildings=...)` does
    window.set_buildings(polys, names)
    replay_to_end(qtbot, window, session_file)
    model = window.table_model
    col = COLUMNS.index("building")
    assert model.headerData(col, 1) == "building"
    for target in (0, 1):
        est = window.hunt.targets[target].estimate
        assert est.building == 1
        np.testing.assert_allclose(est.building_prob.sum(), 1.0, rtol=1e-9)
        text = model.data(model.index(model.row_of(target), col))
        assert text == f"C {100 * est.building_prob[1]:.0f} %"
        assert est.building_prob[1] > 0.5
    np.testing.assert_allclose(path_points(window.map.likely_building), polys[1], atol=1e-9)
    assert window.map.likely_label.toPlainText() == text
    # the item is fed, never replaced: new buildings move the same item
    item = window.map.likely_building
    window.set_buildings(polys[1:] + polys[:1])  # C is now B0
    window.refresh()
    assert window.map.likely_building is item
    assert item.path().isEmpty()
    assert model.data(model.index(0, col)) == "\u2013"
    window.dsp_flush.emit()
    qtbot.waitUntil(lambda: window.hunt.targets[0].estimate.building is not None, timeout=30000)
    window.refresh()
    assert model.data(model.index(0, col)).startswith("B0 ")
    np.testing.assert_allclose(path_points(item), polys[1], atol=1e-9)


def test_bad_footprints_are_refused_at_the_door(window):
    with pytest.raises(ValueError, match="footprint 1"):
        window.set_buildings([[(0, 0), (10, 0), (10, 10)], [(0, 0), (1, 1)]])
    with pytest.raises(ValueError, match="2 building names for 1 footprints"):
        window.set_buildings([[(0, 0), (10, 0), (10, 10)]], ["a", "b"])
