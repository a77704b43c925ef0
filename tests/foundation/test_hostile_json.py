"""Hostile files (issue 18, item 8): every JSON the project reads goes through one loader
with size and depth limits; random nesting and random types in SigMF metadata,
calibration files, footprints, worlds and taskings give one line and exit 2 (or a clean
answer), never a traceback. Plus the non-JSON nonsense: ci8 declared over cf32 data and
NaN / zero / negative calibration slopes."""

import contextlib
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp.sources import write_sigmf
from host import jsonfile
from host.cli import main as rfhound
from host.errors import UserError

SETTINGS = settings(max_examples=int(os.environ.get("RFHOUND_HYPOTHESIS_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# Any JSON value, including the awkward ones: huge integers, NaN/inf, empty containers.
SCALARS = (st.none() | st.booleans() | st.integers() | st.sampled_from([2 ** 64, -2 ** 63, 10 ** 30])
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def _cli(argv):
    """Run the CLI in-process; return (exit code, stderr lines). Any exception escaping
    main() is a traceback the user would see, and fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = rfhound(argv)
    return code, err.getvalue().strip().splitlines()


def _one_line_or_ok(code, err, ok=(0,)):
    if code in ok:
        return
    assert code == 2, (code, err)
    assert len(err) == 1 and ": error: " in err[0], err


def _paths(doc, prefix=()):
    """Every path (tuple of keys/indices) into a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, doc):
    """A copy of doc with one value somewhere replaced by a random one (or deleted)."""
    doc = json.loads(json.dumps(doc))
    paths = [p for p in _paths(doc) if p]
    path = draw(st.sampled_from(paths))
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(VALUES)
    return doc


def _write(path, doc):
    path.write_text(json.dumps(doc, allow_nan=True))
    return path


# -- the loader itself ---------------------------------------------------------------------

@pytest.mark.parametrize("depth", [0, 1, 63, 64, 65, 1000, 100000])
def test_depth_limit_is_exact_and_never_recurses(depth):
    text = "[" * depth + "]" * depth
    if depth == 0:
        text = "1"
    if depth <= jsonfile.MAX_DEPTH:
        assert jsonfile.loads(text, "f", expect=None) is not None
    else:
        with pytest.raises(UserError, match="nested %d levels deep" % depth):
            jsonfile.loads(text, "f", expect=None)


def test_brackets_inside_strings_do_not_count():
    doc = {"a": "[[[[" * 100, "b": ["\\\"]]]]"]}
    assert jsonfile.loads(json.dumps(doc), "f") == doc


def test_size_limit_refuses_before_reading(tmp_path):
    p = tmp_path / "big.json"
    p.write_bytes(b"[" + b"1," * 600 + b"1]")
    with pytest.raises(UserError, match="over the 1000-byte limit"):
        jsonfile.load(p, max_bytes=1000, expect=list)


@pytest.mark.parametrize("text, fragment", [
    ("NaN", "NaN is not a JSON number"), ("[Infinity]", "Infinity"), ("[1e999]", "out of range"),
    ("1" * 5000, "not valid JSON"), ("[1,]", "f:1:4: not valid JSON"), ("[1]", "must be an object"),
])
def test_non_json_numbers_and_wrong_top_type_are_one_line(text, fragment):
    with pytest.raises(UserError) as e:
        jsonfile.loads(text, "f")
    assert fragment in str(e.value) and "\n" not in str(e.value)


@SETTINGS
@given(data=st.binary(max_size=200) | VALUES.map(lambda v: json.dumps(v).encode()))
def test_loader_returns_or_says_one_line(data):
    try:
        jsonfile.loads(data, "x.json", expect=None)
    except UserError as e:
        assert "\n" not in str(e) and str(e).startswith("x.json")


# -- taskings ------------------------------------------------------------------------------

VALID_TASKING = {"serial": 3, "issuer": "unit", "targets": [
    {"label": "rack A", "imsi": "460001234567812", "rat": "LTE", "channel": 19575,
     "bandwidth_hz": 5000000, "schedule": [[0, 600]]}]}


@pytest.fixture(scope="module")
def keyfile(tmp_path_factory):
    p = tmp_path_factory.mktemp("key") / "k"
    p.write_bytes(b"operator-key-0123")
    return p


@SETTINGS
@given(doc=VALUES | mutated(VALID_TASKING))
def test_tasking_sign_on_hostile_json(tmp_path_factory, keyfile, doc):
    tmp = tmp_path_factory.mktemp("t")
    code, err = _cli(["tasking", "sign", str(_write(tmp / "t.json", doc)), "--key-file",
                      str(keyfile), "-o", str(tmp / "t.rft")])
    _one_line_or_ok(code, err)
    assert (code == 0) == (tmp / "t.rft").exists()


def test_tasking_nested_100000_deep(tmp_path, keyfile):
    p = tmp_path / "t.json"
    p.write_text('{"targets": ' + "[" * 100000 + "]" * 100000 + "}")
    code, err = _cli(["tasking", "sign", str(p), "--key-file", str(keyfile), "-o",
                      str(tmp_path / "t.rft")])
    assert code == 2 and len(err) == 1 and "nested 100001 levels deep" in err[0]


# -- SigMF metadata and calibration files ---------------------------------------------------

FS = 1.92e6


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sigmf")
    rng = np.random.default_rng(1)
    iq = (0.01 * (rng.standard_normal(40000) + 1j * rng.standard_normal(40000))).astype(np.complex64)
    meta = write_sigmf(tmp / "rec", iq, FS, 1720e6, gain_db=30.0)
    return meta, json.loads(meta.read_text())


VALID_CAL = {"bands": {"1800": {"offset_db": -20.0, "slope": 1.0, "temp_coef_db_per_c": 0.0,
                                "ref_temp_c": 25.0}}}
MEASURE = ["measure", "--rat", "lte", "--channel", "19300", "--prbs", "48-51", "--interval-ms", "10"]


def test_the_unmutated_files_are_accepted(recording, tmp_path, keyfile, world_doc):
    # The property tests below only mean something if their starting points pass.
    meta, _ = recording
    cal = _write(tmp_path / "cal.json", VALID_CAL)
    assert _cli(MEASURE + ["--sigmf", str(meta), "--calibration", str(cal)])[0] == 0
    assert _cli(["tasking", "sign", str(_write(tmp_path / "t.json", VALID_TASKING)),
                 "--key-file", str(keyfile), "-o", str(tmp_path / "t.rft")])[0] == 0
    from host.footprints_file import read_footprints
    from host.sim.world import load_world
    assert read_footprints(_write(tmp_path / "f.json", VALID_FOOTPRINTS), wgs84=True).names == ["A"]
    assert load_world(str(_write(tmp_path / "w.json", world_doc))).name


@SETTINGS
@given(doc=VALUES | mutated(VALID_CAL))
def test_measure_on_hostile_calibration(recording, tmp_path_factory, doc):
    meta, _ = recording
    cal = _write(tmp_path_factory.mktemp("c") / "cal.json", doc)
    code, err = _cli(MEASURE + ["--sigmf", str(meta), "--calibration", str(cal)])
    _one_line_or_ok(code, err)


@SETTINGS
@given(data=st.data())
def test_measure_on_hostile_sigmf_metadata(recording, tmp_path_factory, data):
    meta, doc = recording
    tmp = tmp_path_factory.mktemp("m")
    hostile = data.draw(VALUES | mutated(doc))
    new_meta = _write(tmp / "rec.sigmf-meta", hostile)
    (tmp / "rec.sigmf-data").write_bytes(meta.with_name("rec.sigmf-data").read_bytes())
    code, err = _cli(MEASURE + ["--sigmf", str(new_meta)])
    _one_line_or_ok(code, err)


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan")])
def test_calibration_slopes_that_give_nonsense_are_refused(recording, tmp_path, slope):
    meta, _ = recording
    cal = json.loads(json.dumps(VALID_CAL))
    cal["bands"]["1800"]["slope"] = slope
    code, err = _cli(MEASURE + ["--sigmf", str(meta), "--calibration",
                                str(_write(tmp_path / "cal.json", cal))])
    assert code == 2 and len(err) == 1
    assert ("slope" in err[0]) or ("NaN" in err[0])


def test_firmware_table_with_zero_slope_is_refused(recording, tmp_path):
    meta, _ = recording
    cal = {"calibration_id": 1, "entries": [{"band_lo_mhz": 1700, "band_hi_mhz": 1800,
           "offset_cdb": 1000, "slope_e4": 0, "temp_coef_mdb_per_c": 0, "ref_temp_cdeg": 2500,
           "floor_cdbm": -10000, "knee_cdbm": -3500}]}
    code, err = _cli(MEASURE + ["--sigmf", str(meta), "--calibration",
                                str(_write(tmp_path / "cal.json", cal))])
    assert code == 2 and "slope 0" in err[0]


@pytest.mark.parametrize("declared", ["ci8", "ci16_le", "cu8"])
def test_integer_datatype_declared_over_cf32_data_is_refused(recording, tmp_path, declared):
    meta, doc = recording
    doc = json.loads(json.dumps(doc))
    doc["global"]["core:datatype"] = declared
    new_meta = _write(tmp_path / "rec.sigmf-meta", doc)
    (tmp_path / "rec.sigmf-data").write_bytes(meta.with_name("rec.sigmf-data").read_bytes())
    code, err = _cli(MEASURE + ["--sigmf", str(new_meta)])
    assert code == 2 and len(err) == 1 and "read as float32" in err[0]


def test_real_ci8_and_ci16_recordings_are_not_taken_for_floats(tmp_path):
    from dsp.sources import check_data, looks_like_float32
    rng = np.random.default_rng(2)
    for dtype, scale in (("int8", 20), ("int8", 127), ("int16", 3000), ("int8", 2)):
        raw = np.clip(rng.normal(0, scale, 65536), np.iinfo(dtype).min,
                      np.iinfo(dtype).max).astype(dtype).tobytes()
        assert not looks_like_float32(raw), (dtype, scale)
    data = tmp_path / "x.sigmf-data"
    data.write_bytes(np.clip(rng.normal(0, 20, 65536), -128, 127).astype("int8").tobytes())
    check_data("x", "ci8", data)


def test_data_size_not_a_whole_number_of_samples(recording, tmp_path):
    meta, doc = recording
    new_meta = _write(tmp_path / "rec.sigmf-meta", doc)
    (tmp_path / "rec.sigmf-data").write_bytes(meta.with_name("rec.sigmf-data").read_bytes() + b"\0" * 3)
    code, err = _cli(MEASURE + ["--sigmf", str(new_meta)])
    assert code == 2 and "not a whole number of cf32_le samples" in err[0]


def test_cf32_declared_over_integer_data_is_refused(recording, tmp_path):
    meta, doc = recording
    rng = np.random.default_rng(3)
    new_meta = _write(tmp_path / "rec.sigmf-meta", doc)
    (tmp_path / "rec.sigmf-data").write_bytes(
        rng.integers(-128, 128, 80000, dtype=np.int8).tobytes())
    code, err = _cli(MEASURE + ["--sigmf", str(new_meta)])
    assert code == 2 and "not finite numbers below 1e6" in err[0]


# -- footprints and worlds -------------------------------------------------------------------

VALID_FOOTPRINTS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"id": "A"}, "geometry": {"type": "Polygon", "coordinates": [
        [[13.40, 52.52], [13.401, 52.52], [13.401, 52.521], [13.40, 52.521], [13.40, 52.52]]]}}]}


@SETTINGS
@given(doc=VALUES | mutated(VALID_FOOTPRINTS))
def test_footprints_on_hostile_geojson(tmp_path_factory, doc):
    from host.footprints_file import read_footprints
    p = _write(tmp_path_factory.mktemp("f") / "fp.geojson", doc)
    try:
        read_footprints(p, wgs84=True)
    except UserError as e:
        assert "\n" not in str(e)


@pytest.fixture(scope="module")
def world_doc():
    from host.sim.world import resolve_world
    return json.loads(resolve_world("old-town").read_text())


@SETTINGS
@given(data=st.data())
def test_worlds_on_hostile_json(tmp_path_factory, world_doc, data):
    from host.sim.world import load_world
    doc = data.draw(VALUES | mutated(world_doc))
    p = _write(tmp_path_factory.mktemp("w") / "w.json", doc)
    try:
        load_world(str(p))
    except UserError as e:
        assert "\n" not in str(e)


def test_world_nested_deep_is_one_line(tmp_path):
    from host.sim.world import WorldError, load_world
    p = tmp_path / "w.json"
    p.write_text('{"name": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(WorldError, match="nested 5001 levels deep"):
        load_world(str(p))


# -- bench calibration files ----------------------------------------------------------------

VALID_BENCH_CAL = {
    "calibration_id": 7, "device_id": None,
    "entries": [{"band_lo_mhz": 1700, "band_hi_mhz": 1880, "offset_cdb": 1000, "slope_e4": 10000,
                 "temp_coef_mdb_per_c": 0, "ref_temp_cdeg": 2500, "floor_cdbm": -10000,
                 "knee_cdbm": -3500}],
    "bands": [{"name": "1800", "lo_hz": 1.7e9, "hi_hz": 1.88e9, "linear_range_dbm": [-95.0, -40.0],
               "coefficients": {"offset_db": 10.0, "slope": 1.0, "knee_dbm": -30.0, "smoothness": 1.0,
                                "noise_floor_dbm": -100.0, "temp_coeff_db_per_c": 0.0,
                                "t_ref_c": 25.0}}]}


@SETTINGS
@given(doc=VALUES | mutated(VALID_BENCH_CAL))
def test_bench_calibration_file_is_refused_or_usable(tmp_path_factory, doc):
    from host.bench import calfile, response, verify
    p = _write(tmp_path_factory.mktemp("b") / "cal.json", doc)
    try:
        got = calfile.load(p)
    except calfile.CalibrationFileError as e:
        assert "\n" not in str(e) and str(p) in str(e)
        return
    # What the bench commands then read of it works.
    for band in got.get("bands") or []:
        try:
            resp = calfile.band_response(band)
        except calfile.CalibrationFileError as e:
            assert "no fitted coefficients" in str(e)
        else:
            assert np.isfinite(response.reading_db(-60.0, resp))
        if "linear_range_dbm" in band:
            verify.spot_levels_dbm(band)
    assert isinstance(got["calibration_id"], int)


def test_bench_calibration_zero_slope_is_refused(tmp_path):
    from host.bench import calfile
    doc = json.loads(json.dumps(VALID_BENCH_CAL))
    doc["bands"][0]["coefficients"]["slope"] = 0.0
    with pytest.raises(calfile.CalibrationFileError, match="slope and smoothness must be above 0"):
        calfile.load(_write(tmp_path / "c.json", doc))
    assert calfile.load(_write(tmp_path / "ok.json", VALID_BENCH_CAL))["calibration_id"] == 7
