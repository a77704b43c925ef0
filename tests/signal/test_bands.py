"""Channel numbers against rows of the 3GPP tables (values written from the standards)."""

import pytest

from dsp.bands import (CALIBRATION_BANDS, bands_of_hz, calibration_band, channel_from_hz,
                       uplink_band, uplink_hz)

# TS 45.005 clause 2: (band, ARFCN, uplink MHz)
GSM_ROWS = [
    ("P-GSM", 1, 890.2), ("P-GSM", 62, 902.4), ("P-GSM", 124, 914.8),
    ("E-GSM", 0, 890.0), ("E-GSM", 975, 880.2), ("E-GSM", 1000, 885.2), ("E-GSM", 1023, 889.8),
    ("DCS1800", 512, 1710.2), ("DCS1800", 698, 1747.4), ("DCS1800", 885, 1784.8),
    ("GSM850", 128, 824.2), ("GSM850", 190, 836.6), ("GSM850", 251, 848.8),
]

# TS 36.101 table 5.7.3-1: (band, uplink EARFCN, uplink MHz): lowest, middle, highest
LTE_UL_ROWS = [
    (1, 18000, 1920.0), (1, 18300, 1950.0), (1, 18599, 1979.9),
    (3, 19200, 1710.0), (3, 19575, 1747.5), (3, 19949, 1784.9),
    (5, 20400, 824.0), (5, 20525, 836.5), (5, 20649, 848.9),
    (7, 20750, 2500.0), (7, 21100, 2535.0), (7, 21449, 2569.9),
    (8, 21450, 880.0), (8, 21625, 897.5), (8, 21799, 914.9),
    (20, 24150, 832.0), (20, 24300, 847.0), (20, 24449, 861.9),
    (28, 27210, 703.0), (28, 27435, 725.5), (28, 27659, 747.9),
    (34, 36200, 2010.0), (34, 36275, 2017.5), (34, 36349, 2024.9),
    (38, 37750, 2570.0), (38, 38000, 2595.0), (38, 38249, 2619.9),
    (39, 38250, 1880.0), (39, 38450, 1900.0), (39, 38649, 1919.9),
    (40, 38650, 2300.0), (40, 39150, 2350.0), (40, 39649, 2399.9),
    (41, 39650, 2496.0), (41, 40620, 2593.0), (41, 41589, 2689.9),
]

# Downlink EARFCNs of FDD bands resolve to the paired uplink channel.
LTE_DL_ROWS = [
    (1, 0, 1920.0), (1, 300, 1950.0), (1, 599, 1979.9),
    (3, 1200, 1710.0), (3, 1575, 1747.5), (3, 1949, 1784.9),
    (5, 2400, 824.0), (5, 2649, 848.9),
    (8, 3450, 880.0), (8, 3799, 914.9),
]

# TS 38.104 5.4.2.1 global raster, table 5.4.2.3-1 ranges: (band, NR-ARFCN, uplink MHz)
NR_ROWS = [
    ("n1", 384000, 1920.0), ("n1", 390000, 1950.0), ("n1", 396000, 1980.0),
    ("n3", 342000, 1710.0), ("n3", 349500, 1747.5), ("n3", 357000, 1785.0),
    ("n8", 176000, 880.0), ("n8", 179500, 897.5), ("n8", 183000, 915.0),
    ("n28", 140600, 703.0), ("n28", 145100, 725.5), ("n28", 149600, 748.0),
    ("n41", 499200, 2496.0), ("n41", 518601, 2593.005), ("n41", 537999, 2689.995),
    ("n77", 620000, 3300.0), ("n77", 650000, 3750.0), ("n77", 680000, 4200.0),
    ("n78", 620000, 3300.0), ("n78", 636666, 3549.99), ("n78", 653333, 3799.995),
    ("n79", 693334, 4400.01), ("n79", 713333, 4699.995), ("n79", 733333, 4999.995),
]
NR_DL_ROWS = [("n1", 422000, 1920.0), ("n1", 434000, 1980.0), ("n3", 361000, 1710.0),
              ("n8", 192000, 915.0), ("n28", 151600, 703.0)]


@pytest.mark.parametrize("band, arfcn, mhz", GSM_ROWS)
def test_gsm_rows(band, arfcn, mhz):
    assert uplink_hz("gsm", arfcn, band) == pytest.approx(mhz * 1e6, abs=1.0)
    assert uplink_hz("gsm", arfcn) == pytest.approx(mhz * 1e6, abs=1.0)
    assert channel_from_hz("gsm", mhz * 1e6) == arfcn


@pytest.mark.parametrize("band, earfcn, mhz", LTE_UL_ROWS)
def test_lte_uplink_rows(band, earfcn, mhz):
    assert uplink_hz("lte", earfcn) == pytest.approx(mhz * 1e6, abs=1.0)
    assert uplink_band("lte", earfcn)[1] == f"B{band}"
    assert channel_from_hz("lte", mhz * 1e6, band=band) == earfcn


@pytest.mark.parametrize("band, earfcn, mhz", LTE_DL_ROWS)
def test_lte_downlink_earfcn_gives_paired_uplink(band, earfcn, mhz):
    assert uplink_hz("lte", earfcn, band=band) == pytest.approx(mhz * 1e6, abs=1.0)


@pytest.mark.parametrize("band, arfcn, mhz", NR_ROWS)
def test_nr_rows(band, arfcn, mhz):
    assert uplink_hz("nr", arfcn, band) == pytest.approx(mhz * 1e6, abs=1.0)
    assert channel_from_hz("nr", mhz * 1e6, band=band) == arfcn


@pytest.mark.parametrize("band, arfcn, mhz", NR_DL_ROWS)
def test_nr_downlink_gives_paired_uplink(band, arfcn, mhz):
    assert uplink_hz("nr", arfcn) == pytest.approx(mhz * 1e6, abs=1.0)


def test_band_inference_and_overlaps():
    assert uplink_band("gsm", 975)[1] == "E-GSM"
    assert uplink_band("nr", 384000)[1] == "n1"
    assert bands_of_hz("lte", 1750e6) == ["B3", "B4"]
    assert set(bands_of_hz("nr", 3500e6)) == {"n77", "n78"}
    with pytest.raises(ValueError, match="B3, B4: pass band="):
        channel_from_hz("lte", 1750e6)


@pytest.mark.parametrize("rat, channel, fragment", [
    ("lte", 70000, "B1 UL 18000-18599"),
    ("lte", 17999, "outside every supported band"),
    ("gsm", 300, "DCS1800 512-885"),
    ("nr", 384001, "384000 + k*20"),
    ("nr", 100, "n1 UL 384000-396000"),
])
def test_out_of_band_channels_name_valid_ranges(rat, channel, fragment):
    with pytest.raises(ValueError, match="outside|raster") as exc:
        uplink_hz(rat, channel)
    assert fragment in str(exc.value)


def test_explicit_band_restricts_range():
    with pytest.raises(ValueError, match="band B3"):
        uplink_hz("lte", 18000, band=3)
    with pytest.raises(ValueError, match="unknown LTE band"):
        uplink_hz("lte", 18000, band=99)


@pytest.mark.parametrize("bad", [None, "umts", 5])
def test_unknown_rat(bad):
    with pytest.raises(ValueError, match="unknown RAT"):
        uplink_hz(bad, 1)


@pytest.mark.parametrize("bad", [1.5, "12", True, None])
def test_non_integer_channel(bad):
    with pytest.raises(ValueError, match="integer"):
        uplink_hz("lte", bad)


def test_off_raster_frequencies():
    with pytest.raises(ValueError, match="100 kHz raster"):
        channel_from_hz("lte", 1920.05e6)
    with pytest.raises(ValueError, match="global raster"):
        channel_from_hz("nr", 3500.007e6)
    with pytest.raises(ValueError, match="positive"):
        channel_from_hz("lte", float("nan"))


def test_calibration_bands():
    assert calibration_band(1747.5e6) == "1800"
    assert calibration_band(897.5e6) == "900"
    assert calibration_band(3549.99e6) == "3500"
    # Every uplink frequency of every supported band has a calibration band.
    for rows in (GSM_ROWS, LTE_UL_ROWS, NR_ROWS):
        for _, _, mhz in rows:
            calibration_band(mhz * 1e6)
    names = [name for name, _, _ in CALIBRATION_BANDS]
    assert len(names) == len(set(names))
    with pytest.raises(ValueError, match="no calibration band"):
        calibration_band(100e6)
