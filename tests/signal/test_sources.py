"""SigMF round trip and the optional SoapySDR source."""

import importlib.util
import json

import numpy as np
import pytest

from dsp.sources import (SoapySource, SourceError, iter_sigmf, parse_soapy_spec, read_sigmf,
                         sigmf_info, write_sigmf)


def test_sigmf_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    iq = (rng.standard_normal(5000) + 1j * rng.standard_normal(5000)).astype(np.complex64)
    meta = write_sigmf(tmp_path / "rec", iq, 30.72e6, 1747.5e6, gain_db=32.5,
                       description="bench tone", datetime_iso="2026-11-28T12:00:00Z")
    assert meta.name == "rec.sigmf-meta" and (tmp_path / "rec.sigmf-data").stat().st_size == 40000
    back, info = read_sigmf(meta)
    np.testing.assert_array_equal(back, iq)
    assert info["fs"] == 30.72e6 and info["center_hz"] == 1747.5e6 and info["gain_db"] == 32.5
    assert info["n_samples"] == 5000 and info["datatype"] == "cf32_le"
    # The metadata is standard SigMF that other tools read.
    doc = json.loads(meta.read_text())
    assert doc["global"]["core:datatype"] == "cf32_le"
    assert doc["captures"][0]["core:frequency"] == 1747.5e6
    # Any of the three names finds the recording; chunks reassemble it.
    assert sigmf_info(tmp_path / "rec.sigmf-data")["n_samples"] == 5000
    np.testing.assert_array_equal(np.concatenate(list(iter_sigmf(tmp_path / "rec", 1234))), iq)


def test_complex128_is_stored_as_cf32(tmp_path):
    iq = np.exp(1j * np.linspace(0, 10, 100))
    back, _ = read_sigmf(write_sigmf(tmp_path / "c128", iq, 1e6, 900e6))
    assert back.dtype == np.complex64
    np.testing.assert_allclose(back, iq, atol=1e-6)


def test_ci16_recording_is_scaled(tmp_path):
    import sigmf
    from sigmf import SigMFFile
    raw = np.array([[16384, -16384], [32767, 0]], dtype="<i2")
    raw.tofile(tmp_path / "ints.sigmf-data")
    meta = SigMFFile(data_file=str(tmp_path / "ints.sigmf-data"),
                     global_info={sigmf.DATATYPE_KEY: "ci16_le", sigmf.SAMPLE_RATE_KEY: 1e6})
    meta.add_capture(0, metadata={sigmf.FREQUENCY_KEY: 1e9})
    meta.tofile(str(tmp_path / "ints.sigmf-meta"))
    iq, info = read_sigmf(tmp_path / "ints.sigmf-meta")
    np.testing.assert_allclose(iq, [0.5 - 0.5j, 32767 / 32768], atol=1e-6)
    assert info["gain_db"] is None


def test_missing_and_foreign_recordings(tmp_path):
    with pytest.raises(SourceError, match="no such SigMF recording"):
        read_sigmf(tmp_path / "nothing")
    (tmp_path / "junk.sigmf-meta").write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match="not a readable SigMF recording"):
        read_sigmf(tmp_path / "junk.sigmf-meta")


def test_write_rejects_real_samples(tmp_path):
    with pytest.raises(ValueError, match="complex"):
        write_sigmf(tmp_path / "r", np.ones(10), 1e6, 1e9)


def test_soapy_spec_parsing():
    assert parse_soapy_spec("soapy:driver=rtlsdr,serial=01") == {"driver": "rtlsdr", "serial": "01"}
    assert parse_soapy_spec("soapy:") == {}
    with pytest.raises(SourceError, match="key=value"):
        parse_soapy_spec("soapy:driver")
    with pytest.raises(SourceError, match="expected soapy:"):
        parse_soapy_spec("rtlsdr")


@pytest.mark.skipif(importlib.util.find_spec("SoapySDR") is not None,
                    reason="SoapySDR is installed here; the missing-bindings message cannot show")
def test_soapy_missing_bindings_message():
    with pytest.raises(SourceError, match="python3-soapysdr"):
        SoapySource("soapy:driver=rtlsdr", 1747.5e6, 2e6, 30.0)


@pytest.mark.skipif(importlib.util.find_spec("SoapySDR") is None, reason="SoapySDR not installed")
def test_soapy_no_device_message():
    with pytest.raises(SourceError, match="no SoapySDR device"):
        SoapySource("soapy:driver=no-such-driver-rfhound", 1747.5e6, 2e6, 30.0)
