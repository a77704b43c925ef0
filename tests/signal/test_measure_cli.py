"""`rfhound measure` end to end on a synthetic SigMF recording."""

import json

import numpy as np
import pytest

from dsp.sources import write_sigmf
from host.cli import main

FS = 30.72e6


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    # LTE B3 uplink EARFCN 19300 (1720.0 MHz) recorded at 1719 MHz: a -30 dBFS
    # tone at the channel centre switched on after 0.2 s, over -70 dBFS noise.
    tmp_path = tmp_path_factory.mktemp("measure")
    n = int(0.4 * FS)
    rng = np.random.default_rng(0)
    t = np.arange(n) / FS
    iq = np.sqrt(1e-7 / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    iq += np.sqrt(1e-3) * np.exp(2j * np.pi * 1e6 * t) * (t >= 0.2)
    meta = write_sigmf(tmp_path / "b3", iq.astype(np.complex64), FS, 1719e6, gain_db=30.0)
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"device_id": "test", "bands": {
        "1800": {"offset_db": -20.0, "slope": 1.0, "temp_coef_db_per_c": 0.0, "ref_temp_c": 25.0}}}))
    return meta, cal


def _rows(out):
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert lines[0] in ("time_s,power_dbm", "time_s,power_dbfs")
    return np.array([[float(v) for v in line.split(",")] for line in lines[1:]])


def test_measure_prints_calibrated_power_over_time(recording, capsys):
    meta, cal = recording
    assert main(["measure", "--sigmf", str(meta), "--rat", "lte", "--channel", "19300",
                 "--calibration", str(cal), "--interval-ms", "50"]) == 0
    rows = _rows(capsys.readouterr().out)
    np.testing.assert_allclose(rows[:, 0], np.arange(8) * 0.05, atol=1e-3)
    # Tone: -30 dBFS - 30 dB gain - 20 dB offset = -80 dBm; noise in 18 MHz of
    # 30.72 MHz: -70 dBFS + 10 log10(18 / 30.72) - 50 = -122.3 dBm.
    assert rows[5:, 1] == pytest.approx(-80.0, abs=0.1)
    assert rows[:4, 1] == pytest.approx(-122.32, abs=0.1)


def test_downlink_earfcn_and_dbfs_without_calibration(recording, capsys):
    meta, _ = recording
    assert main(["measure", "--sigmf", str(meta), "--rat", "lte", "--channel", "1300",
                 "--interval-ms", "100"]) == 0
    out = capsys.readouterr().out
    assert "uplink 1720.000 MHz" in out
    assert _rows(out)[-1, 1] == pytest.approx(-30.0, abs=0.1)


@pytest.mark.parametrize("argv, fragment", [
    (["--rat", "lte", "--channel", "99999"], "outside every supported band"),
    (["--rat", "gsm", "--channel", "975"], "is outside"),
    (["--rat", "lte", "--channel", "19300", "--prbs", "5-x"], "--prbs"),
    (["--rat", "lte", "--channel", "19300", "--calibration", "/nonexistent.json"], "cannot read"),
])
def test_bad_input_is_one_line_exit_2(recording, capsys, argv, fragment):
    meta, _ = recording
    assert main(["measure", "--sigmf", str(meta)] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfhound measure: error:") and fragment in err
    assert len(err.splitlines()) == 1


def test_calibration_without_the_band(recording, tmp_path, capsys):
    meta, _ = recording
    cal = tmp_path / "other.json"
    cal.write_text(json.dumps({"900": {"offset_db": -20.0}}))
    assert main(["measure", "--sigmf", str(meta), "--rat", "lte", "--channel", "19300",
                 "--calibration", str(cal)]) == 2
    assert "no entry for band 1800" in capsys.readouterr().err


def test_missing_recording(tmp_path, capsys):
    assert main(["measure", "--sigmf", str(tmp_path / "none.sigmf-meta"), "--rat", "lte",
                 "--channel", "19300"]) == 2
    assert "no such SigMF recording" in capsys.readouterr().err


# --- time gating: TDD uplink and GSM bursts ----------------------------------------------
@pytest.fixture(scope="module")
def tdd_recordings(tmp_path_factory):
    """B39 EARFCN 38400 (1895 MHz): a -85 dBm handset in configuration-2 uplink subframes
    under a -50 dBm downlink, frames starting 3.217 ms into the recording; with and without
    a core:datetime that puts the 10 ms GNSS boundaries there."""
    from iq_truth import tdd_capture
    tmp = tmp_path_factory.mktemp("tdd")
    x, truth = tdd_capture(duration_s=0.2, t0_s=3.217e-3)
    plain = write_sigmf(tmp / "plain", x, FS, 1895e6)
    timed = write_sigmf(tmp / "timed", x, FS, 1895e6,
                        datetime_iso="2026-11-28T12:00:00.006783000Z")
    wrong = write_sigmf(tmp / "wrong", x, FS, 1895e6, datetime_iso="2026-11-28T12:00:00.0015Z")
    return {"plain": plain, "timed": timed, "wrong": wrong}, truth + 30.0


def _measure(capsys, argv):
    assert main(["measure"] + argv) == 0
    out = capsys.readouterr().out
    return out, _rows(out)


def test_tdd_uplink_from_the_envelope(tdd_recordings, capsys):
    recs, truth_dbfs = tdd_recordings
    out, rows = _measure(capsys, ["--sigmf", str(recs["plain"]), "--rat", "lte",
                                  "--channel", "38400"])
    assert "configuration 2, special subframe 5" in out and "envelope" in out
    assert rows[:, 1] == pytest.approx(truth_dbfs, abs=0.5)
    # the same with the pattern given explicitly
    _, rows = _measure(capsys, ["--sigmf", str(recs["plain"]), "--rat", "lte", "--channel",
                                "38400", "--tdd-config", "2", "--special-subframe", "7"])
    assert rows[:, 1] == pytest.approx(truth_dbfs, abs=0.5)


def test_tdd_uplink_from_the_recordings_gnss_time(tdd_recordings, capsys):
    recs, truth_dbfs = tdd_recordings
    out, rows = _measure(capsys, ["--sigmf", str(recs["timed"]), "--rat", "lte",
                                  "--channel", "38400", "--special-subframe", "7"])
    assert "core:datetime" in out
    assert rows[:, 1] == pytest.approx(truth_dbfs, abs=0.5)
    assert "warning" not in capsys.readouterr().err
    # a datetime 5.3 ms off puts the gates on the downlink when insisted on: the time is used
    _, rows = _measure(capsys, ["--sigmf", str(recs["wrong"]), "--rat", "lte", "--channel",
                                "38400", "--special-subframe", "7", "--timing", "gnss"])
    assert np.all(rows[:, 1] > truth_dbfs + 20)
    # by default the first interval's envelope catches it: a warning, then the envelope
    assert main(["measure", "--sigmf", str(recs["wrong"]), "--rat", "lte", "--channel",
                 "38400"]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "envelope" in captured.err
    assert _rows(captured.out)[:, 1] == pytest.approx(truth_dbfs, abs=0.5)
    # and --timing envelope ignores the datetime
    _, rows = _measure(capsys, ["--sigmf", str(recs["wrong"]), "--rat", "lte", "--channel",
                                "38400", "--timing", "envelope"])
    assert rows[:, 1] == pytest.approx(truth_dbfs, abs=0.5)


def test_whole_frames_is_the_downlink(tdd_recordings, capsys):
    recs, _ = tdd_recordings
    _, rows = _measure(capsys, ["--sigmf", str(recs["plain"]), "--rat", "lte",
                                "--channel", "38400", "--whole-frames"])
    # the downlink's 7.43 ms of each 10 at -20 dBFS
    assert rows[:, 1] == pytest.approx(-20 + 10 * np.log10(0.743), abs=0.1)


@pytest.mark.parametrize("argv, fragment", [
    (["--rat", "lte", "--channel", "38400", "--tdd-config", "9"], "0-6"),
    (["--rat", "lte", "--channel", "38400", "--special-subframe", "12"], "0-9"),
    (["--rat", "lte", "--channel", "19300", "--tdd-config", "2"], "FDD band"),
    (["--rat", "lte", "--channel", "38400", "--nr-pattern", "2.5,30,3,10,1,2"], "NR option"),
    (["--rat", "lte", "--channel", "38400", "--timing", "gnss"], "no core:datetime"),
    (["--rat", "lte", "--channel", "38400", "--interval-ms", "10"], "at least 20 ms"),
])
def test_tdd_bad_options_are_one_line(tdd_recordings, capsys, argv, fragment):
    recs, _ = tdd_recordings
    assert main(["measure", "--sigmf", str(recs["plain"])] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1


def test_gsm_reports_burst_power(tmp_path, capsys):
    # DCS 1800 ARFCN 600: 1710.2 + 0.2 (600 - 512) = 1727.8 MHz; one slot at -60 dBm,
    # another user at -68 dBm
    from iq_truth import gsm_capture
    x = gsm_capture({3: -60.0, 6: -68.0}, duration_s=0.2)
    meta = write_sigmf(tmp_path / "gsm", x, FS, 1727.8e6)
    out, rows = _measure(capsys, ["--sigmf", str(meta), "--rat", "gsm", "--channel", "600"])
    assert "burst power" in out
    assert rows[:, 1] == pytest.approx(-60.0 + 30.0, abs=0.3)
    _, rows = _measure(capsys, ["--sigmf", str(meta), "--rat", "gsm", "--channel", "600",
                                "--whole-frames"])
    assert np.all(rows[:, 1] < -30.0 - 7.5)


def test_gsm_hopping_list(tmp_path, capsys):
    # ARFCNs 600, 604, 609, 615 (DCS 1800: 1727.8, 1728.6, 1729.6, 1730.8 MHz) recorded at
    # 1729.0 MHz; the handset hops over them at -60 dBm
    from iq_truth import hopping_capture
    offsets = np.array([-1.2e6, -0.4e6, 0.6e6, 1.8e6])
    x, _ = hopping_capture(offsets, -60.0)
    meta = write_sigmf(tmp_path / "hop", x, FS, 1729.0e6)
    out, rows = _measure(capsys, ["--sigmf", str(meta), "--rat", "gsm", "--channel", "600",
                                  "--hop-arfcns", "600,604,609,615"])
    assert "hopping over ARFCNs 600,604,609,615" in out
    assert rows[:, 1] == pytest.approx(-60.0 + 30.0, abs=0.3)
    # the tasked ARFCN alone: the handset is there a quarter of the frames
    _, rows = _measure(capsys, ["--sigmf", str(meta), "--rat", "gsm", "--channel", "600"])
    assert np.all(rows[:, 1] < -30.0 - 3.0)
    for argv, fragment in ((["--hop-arfcns", "600,x"], "separated by commas"),
                           (["--hop-arfcns", "600"], "two or more"),
                           (["--hop-arfcns", "600,700"], "not all inside")):
        assert main(["measure", "--sigmf", str(meta), "--rat", "gsm", "--channel", "600"]
                    + argv) == 2
        err = capsys.readouterr().err.strip()
        assert fragment in err and len(err.splitlines()) == 1
