"""The measurement CSV: round trip, and every malformed file rejected with file, line and column."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import UserError
from host.meascsv import read_measurements, write_measurements


def test_round_trip_is_exact(tmp_path):
    rows = [
        {"time_s": 0.5, "target": "T1", "rssi_dbm": -71.25, "lat_deg": 48.2081743,
         "lon_deg": 16.3738189, "alt_m": 171.0, "floor": 0, "heading_deg": None},
        {"time_s": 1.5, "target": "T 2", "rssi_dbm": None, "lat_deg": -33.8688197,
         "lon_deg": 151.2092955, "alt_m": float("nan"), "floor": 3, "heading_deg": 359.9,
         "antenna": "lpda-700-2700", "note": "kept"},
    ]
    path = tmp_path / "m.csv"
    write_measurements(path, rows)
    assert path.read_text().splitlines()[0] == (
        "time_s,target,rssi_dbm,lat_deg,lon_deg,alt_m,floor,heading_deg,antenna,note")
    got = read_measurements(path)
    assert list(got["target"]) == ["T1", "T 2"]
    assert got["lat_deg"][0] == 48.2081743 and got["lon_deg"][1] == 151.2092955
    assert got["rssi_dbm"][0] == -71.25 and math.isnan(got["rssi_dbm"][1])
    assert math.isnan(got["heading_deg"][0]) and got["heading_deg"][1] == 359.9
    np.testing.assert_array_equal(got["floor"], [0.0, 3.0])
    assert list(got["antenna"]) == ["", "lpda-700-2700"]
    assert list(got["line"]) == [2, 3]
    assert "note" not in got


def test_any_column_order_and_unknown_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("extra,y_m,rssi_dbm,target,x_m,time_s\nz,2.5,-80,A,-1,0\n\n")
    got = read_measurements(path)
    assert got["x_m"][0] == -1.0 and got["y_m"][0] == 2.5 and got["target"][0] == "A"


HEADER = "time_s,target,rssi_dbm,x_m,y_m,floor,heading_deg\n"
GOOD = "1.0,T1,-80.5,10,20,2,\n"


@pytest.mark.parametrize("text, where", [
    ("", ":1: empty file"),
    ("time_s,target,x_m,y_m\n", ":1: header lacks column 'rssi_dbm'"),
    ("time_s,target,rssi_dbm\n", ":1: header needs a position"),
    ("time_s,target,rssi_dbm,x_m\n", ":1: column 'x_m' without 'y_m'"),
    ("time_s,target,rssi_dbm,x_m,y_m,x_m\n", ":1: column 'x_m' appears twice"),
    (HEADER + GOOD + "2.0,T1,-80.5,10,20,2\n", ":3: 6 fields where the header has 7"),
    (HEADER + GOOD + "2.0,T1,strong,10,20,2,\n", ":3: column rssi_dbm: 'strong'"),
    (HEADER + GOOD + "2.0,T1,-80,10,20,2.5,\n", ":3: column floor: '2.5'"),
    (HEADER + GOOD + "2.0,T1,-80,10,20,2,400\n", ":3: column heading_deg: '400'"),
    (HEADER + GOOD + "2.0,,-80,10,20,2,\n", ":3: column target is empty"),
    (HEADER + GOOD + GOOD + "x,T1,-80,10,20,2,\n", ":4: column time_s: 'x'"),
    (HEADER + "1,T1,-80,nan,20,2,\n", ":2: column x_m: 'nan'"),
    (HEADER + "1,T1,-80,10,,2,\n", ":2: column y_m is empty"),
    ("time_s,target,rssi_dbm,lat_deg,lon_deg\n1,T1,-80,91,16\n", ":2: column lat_deg: '91'"),
    ("time_s,target,rssi_dbm,lat_deg,lon_deg\n1,T1,-80,48,-181\n", ":2: column lon_deg: '-181'"),
])
def test_malformed_files_name_line_and_column(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_measurements(path)
    message = str(err.value)
    assert message.startswith(str(path) + where)
    assert "\n" not in message


def test_unreadable_and_non_utf8(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        read_measurements(tmp_path / "missing.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "1,Café,-80,1,2,0,\n".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        read_measurements(path)


finite = dict(allow_nan=False, allow_infinity=False)


@given(rows=st.lists(st.fixed_dictionaries({
    "time_s": st.floats(-1e9, 1e9, **finite),
    "target": st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
                .filter(lambda t: t.strip() == t and t != ""),
    "rssi_dbm": st.none() | st.floats(-200.0, 50.0, **finite),
    "x_m": st.floats(-1e7, 1e7, **finite),
    "y_m": st.floats(-1e7, 1e7, **finite),
    "floor": st.none() | st.integers(-5, 200),
    "heading_deg": st.none() | st.floats(0.0, 360.0, **finite),
}), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_any_valid_rows_round_trip(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("rt") / "m.csv"
    write_measurements(path, rows)
    got = read_measurements(path)
    assert list(got["target"]) == [r["target"] for r in rows]
    for key in ("time_s", "rssi_dbm", "x_m", "y_m", "floor", "heading_deg"):
        want = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
        np.testing.assert_array_equal(got[key], want)
