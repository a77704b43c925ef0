"""`rfhound bench` from the command line: the simulated bench end to end, and bad input
answered in one line with exit status 2."""

import json

import pytest

from host.cli import main


def test_simulated_calibrate_then_verify(tmp_path, capsys):
    cal = tmp_path / "cal.json"
    status = main(["bench", "calibrate", "--simulated", "--bands", "1800",
                   "--levels=-120:-20:4", "--results", str(tmp_path / "r.jsonl"),
                   "--out", str(cal)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "true" in out and "residual RMS" in out and "(target < 0.5: OK)" in out
    doc = json.loads(cal.read_text())
    assert doc["format"] == "rfhound-calibration/1"
    assert doc["device_id"] == 0x52460B01
    assert [(e["band_lo_mhz"], e["band_hi_mhz"]) for e in doc["entries"]] == [(1700, 1880)]
    # the firmware table is the fitted straight line in its integer units
    entry, coef = doc["entries"][0], doc["bands"][0]["coefficients"]
    assert entry["offset_cdb"] == round(coef["offset_db"] * 100)
    assert entry["slope_e4"] == round(coef["slope"] * 1e4)

    status = main(["bench", "verify", "--simulated", "--calibration", str(cal)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count("PASS") == 5 and "FAIL" not in out


@pytest.mark.parametrize("argv, message", [
    (["bench", "calibrate", "--generator", "TCPIP::192.0.2.1::INSTR"],
     "--cable-loss-db is required"),
    (["bench", "calibrate", "--simulated", "--levels=-20:-120:2"], "need FROM <= TO"),
    (["bench", "calibrate", "--simulated", "--levels", "abc"], "expected FROM:TO:STEP"),
    (["bench", "calibrate", "--simulated", "--bands", "1900"], "unknown band '1900'"),
    (["bench", "pattern", "--out", "x.csv", "--port", "loop://"], "give --isotropic-dbm"),
])
def test_bad_arguments_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("rfhound bench: error:")


def test_missing_port_is_one_line(repo_root, capsys):
    default = repo_root / "hardware" / "calibration" / "default.json"
    assert main(["bench", "upload", "--calibration", str(default),
                 "--port", "/dev/rfhound-no-such-port"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot open the handheld's port /dev/rfhound-no-such-port" in err and "\n" not in err


def test_malformed_calibration_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "cal.json"
    bad.write_text('{"calibration_id": 5, "entries": [{"band_lo_mhz": 1700}]}')
    assert main(["bench", "upload", "--calibration", str(bad), "--port", "loop://"]) == 2
    err = capsys.readouterr().err.strip()
    assert "entries[0] lacks integer" in err and "\n" not in err


def test_upload_puts_the_table_in_the_handheld(tmp_path, capsys):
    from host.bench import calfile, simbench
    from host.virtual.env import StaticEnv
    from host.virtual.handheld import VirtualHandheld

    true = simbench.true_band_response()
    band = {"name": "1800", "lo_hz": 1700e6, "hi_hz": 1880e6}
    doc = calfile.build(simbench.SIM_DEVICE_ID, [(band, true, {})], instruments={})
    path = tmp_path / "cal.json"
    calfile.save(doc, path)
    other = tmp_path / "other.json"
    calfile.save(dict(doc, device_id=0x52460001), other)

    state = tmp_path / "handheld"
    state.mkdir()
    virtual = VirtualHandheld(StaticEnv(), device_id=simbench.SIM_DEVICE_ID, state_dir=state)
    url = virtual.start()
    try:
        assert main(["bench", "upload", "--calibration", str(other), "--port", url]) == 2
        assert "was made for device 0x52460001" in capsys.readouterr().err
        # the second connection misses the boot HELLO: the id cannot be checked any more
        assert main(["bench", "upload", "--calibration", str(path), "--port", url]) == 2
        assert "replug it" in capsys.readouterr().err
        assert main(["bench", "upload", "--calibration", str(path), "--port", url,
                     "--force"]) == 0
        assert f"calibration {doc['calibration_id']}" in capsys.readouterr().out
    finally:
        virtual.stop()
    stored = json.loads((state / "calibration.json").read_text())
    assert stored == {"calibration_id": doc["calibration_id"], "entries": doc["entries"]}
    assert stored["entries"][0]["knee_cdbm"] == round(true.knee_dbm * 100)


def test_ctrl_c_leaves_the_output_off_and_the_same_command_resumes(tmp_path, capsys):
    import signal
    import subprocess
    import sys
    import time

    results = tmp_path / "r.jsonl"
    argv = ["bench", "calibrate", "--simulated", "--bands", "1800", "--levels=-120:-20:4",
            "--results", str(results), "--out", str(tmp_path / "cal.json")]
    proc = subprocess.Popen([sys.executable, "-m", "host.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while (not results.exists() or results.read_text().count('"point"') < 5) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "RF output off; points are kept in" in err
    done = results.read_text().count('"point"')
    assert 5 <= done < 26

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"resumed: {done} points already in {results}, {26 - done} measured now" in out
    keys = [(line["freq_hz"], line["input_dbm"]) for line in map(json.loads, results.open())
            if line.get("kind") == "point"]
    assert len(keys) == len(set(keys)) == 26
