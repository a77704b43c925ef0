"""One set of calibration band edges: dsp.bands (what the bench calibrates), the firmware's
table, hardware/calibration/default.json and the firmware's built-in default agree, and every
supported uplink band lies inside one calibration entry."""

import json

import pytest

from dsp.bands import CALIBRATION_BANDS
from firmware.calibration import BAND_EDGES_MHZ, FIELDS, Calibration
from host.bench import calfile, response

# Uplink ranges (MHz, low <= f < high): TS 45.005 clause 2 (GSM), TS 36.101 table 5.5-1
# (LTE), TS 38.101-1 table 5.2-1 (NR FR1).
UPLINKS_MHZ = {
    "GSM900 (E-GSM)": (880, 915), "DCS1800": (1710, 1785),
    "B1": (1920, 1980), "B3": (1710, 1785), "B5": (824, 849), "B8": (880, 915),
    "B34": (2010, 2025), "B38": (2570, 2620), "B39": (1880, 1920), "B40": (2300, 2400),
    "B41": (2496, 2690),
    "n1": (1920, 1980), "n3": (1710, 1785), "n8": (880, 915), "n28": (703, 748),
    "n41": (2496, 2690), "n77": (3300, 4200), "n78": (3300, 3800), "n79": (4400, 5000),
}


@pytest.fixture(scope="module")
def default_doc(repo_root):
    return json.loads((repo_root / "hardware" / "calibration" / "default.json").read_text())


def test_firmware_band_edges_are_dsp_calibration_bands():
    assert list(BAND_EDGES_MHZ) == [(lo / 1e6, hi / 1e6) for _, lo, hi in CALIBRATION_BANDS]


def test_bench_writes_an_entry_with_the_same_edges():
    resp = response.BandResponse(offset_db=12.3, slope=0.97, knee_dbm=-32.3, smoothness=1.0,
                                 noise_floor_dbm=-104.5)
    edges = [(e["band_lo_mhz"], e["band_hi_mhz"])
             for e in (calfile.firmware_entry(lo, hi, resp, 40) for _, lo, hi in CALIBRATION_BANDS)]
    assert edges == list(BAND_EDGES_MHZ)


def test_default_table_has_one_entry_per_calibration_band(default_doc):
    assert [(e["band_lo_mhz"], e["band_hi_mhz"]) for e in default_doc["entries"]] == \
        list(BAND_EDGES_MHZ)


def test_firmware_builtin_default_is_default_json(run_mpy, bus, default_doc):
    got = run_mpy("import json, main\nprint(json.dumps(main.DEFAULT_CALIBRATION))", bus=bus)
    assert got["calibration_id"] == default_doc["calibration_id"]
    assert got["entries"] == [{f: e[f] for f in FIELDS} for e in default_doc["entries"]]


@pytest.mark.parametrize("band", sorted(UPLINKS_MHZ))
def test_every_uplink_band_lies_in_one_entry(band, default_doc):
    lo, hi = UPLINKS_MHZ[band]
    cal = Calibration()
    cal.load(default_doc)
    # the lowest and highest 100 kHz raster points of the band, and its middle
    first = cal.band_index(lo * 1000000)
    assert first >= 0, f"{band} {lo} MHz uncalibrated"
    assert cal.band_index(hi * 1000000 - 100000) == first
    assert cal.band_index((lo + hi) * 500000) == first
    assert cal.lo_mhz[first] <= lo and hi <= cal.hi_mhz[first]
