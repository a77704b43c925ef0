"""Secrets and personal data (issue 18, item 7): a killed demo leaves no firmware process
and no key or tasking file; IMSIs are validated where they come in and masked whatever
they are where they go out; `tasking sign` refuses a non-IMSI before writing anything."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware import tasking as T
from host.cli import main as rfhound
from host.privacy import mask_checked, mask_imsi, normalise_imsi

from .conftest import KEY, tasking_body

ROOT = Path(__file__).resolve().parents[2]


def _children(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _cmdline(pid):
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid):
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("handheld", ["micropython", "cpython"])
def test_sigkill_of_demo_leaves_no_firmware_and_no_secret_files(tmp_path, micropython_bin, handheld):
    env = dict(os.environ, TMPDIR=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    demo = subprocess.Popen([sys.executable, "-m", "host.cli", "demo", "--headless", "--handheld",
                             handheld, "--out", str(tmp_path / "out"), "--speed", "5"],
                            cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        firmware, deadline = None, time.monotonic() + 60
        while firmware is None and time.monotonic() < deadline:
            firmware = next((p for p in _children(demo.pid) if "main.py" in _cmdline(p)), None)
            time.sleep(0.1)
        assert firmware is not None, "the demo never started the firmware"
        state = Path(os.readlink("/proc/%d/cwd" % firmware))
        # Let it accept the tasking (tasking.rft holds the full IMSIs) before the kill.
        deadline = time.monotonic() + 30
        while not (state / "tasking.rft").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (state / "tasking.rft").exists()
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        for name in ("config.json", "tasking.rft"):
            assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
        demo.send_signal(signal.SIGKILL)
        demo.wait(10)
        deadline = time.monotonic() + 5
        while (_alive(firmware) or state.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(firmware), "the firmware outlived its killed parent"
        assert not state.exists(), "the key and tasking files outlived the demo"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("rfhound-hh-")]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


@pytest.mark.parametrize("value, want", [
    ("460001234567812", "460001234567812"), (" 460001234567812\t", "460001234567812"),
    (460001234567812, "460001234567812"), ("46000123456781", "46000123456781")])
def test_imsis_are_normalised_at_the_door(value, want):
    assert normalise_imsi(value) == want


@pytest.mark.parametrize("value", ["460-00-1234567812", "4600012345678", "4600012345678123",
                                   "46000123456781x", "", None, True, 4.6e14, [460001234567812],
                                   "４６０００１２３４５６７８１２"])
def test_anything_else_is_refused_in_one_line_without_the_digits(value):
    with pytest.raises(ValueError) as e:
        normalise_imsi(value)
    msg = str(e.value)
    assert "\n" not in msg and "not an IMSI" in msg
    assert "1234567" not in msg


@pytest.mark.parametrize("value, want", [
    ("460001234567812", "46000********12"), (460001234567812, "46000********12"),
    ("  460001234567812 ", "46000********12"), ("46000123456781", "46000*******81"),
    ("1234567", "*******"), ("460-00-1234567812", "*****************"), ("", "*"),
    ("46000********12", "46000********12")])
def test_masked_whatever_it_is(value, want):
    assert mask_imsi(value) == want


def test_masked_values_from_elsewhere_pass_and_bad_ones_are_refused():
    assert mask_checked("46000********12") == "46000********12"
    assert mask_checked(460001234567812) == "46000********12"
    with pytest.raises(ValueError, match="not an IMSI"):
        mask_checked("abc")


def test_feed_payloads_never_carry_an_imsi_in_clear():
    from host.ops.envelope import encode
    record = {"tasking": {"targets": [{"imsi": 460001234567812}, {"imsi": " 460001234567899 "},
                                      {"imsi": "1234567"}, {"target_imsi": "262011234567805"}]}}
    text = encode("north", "s1", 1, "meta", record, 1.0).decode()
    for clear in ("460001234567812", "460001234567899", "1234567", "262011234567805"):
        assert clear not in text
    assert "46000********12" in text and "26201********05" in text


@pytest.mark.parametrize("imsi", ["460-00-1234567812", "46000 1234567812", "12345", "abc"])
def test_tasking_sign_refuses_a_non_imsi_before_writing(tmp_path, capsys, imsi):
    key = tmp_path / "k"
    key.write_bytes(KEY)
    body = tasking_body()
    body["targets"][0]["imsi"] = imsi
    src = tmp_path / "t.json"
    src.write_text(json.dumps(body))
    out = tmp_path / "t.rft"
    assert rfhound(["tasking", "sign", str(src), "--key-file", str(key), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfhound tasking: error: ") and "\n" not in err
    assert "target 0" in err and "not an IMSI" in err
    assert not out.exists()


def test_tasking_sign_normalises_an_integer_imsi_and_writes_0600(tmp_path, capsys):
    key = tmp_path / "k"
    key.write_bytes(KEY)
    body = tasking_body()
    body["targets"][0]["imsi"] = 460001234567812
    src = tmp_path / "t.json"
    src.write_text(json.dumps(body))
    out = tmp_path / "t.rft"
    out.write_bytes(b"old")
    out.chmod(0o644)
    assert rfhound(["tasking", "sign", str(src), "--key-file", str(key), "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert T.read_body(out.read_bytes())["targets"][0]["imsi"] == "460001234567812"
    assert "460001234567812" not in capsys.readouterr().out


@pytest.mark.parametrize("imsi", ["460-00-1234567812", 460001234567812, "12345"])
def test_handheld_refuses_a_signed_tasking_with_a_bad_imsi(imsi):
    body = tasking_body()
    body["targets"][0]["imsi"] = imsi
    with pytest.raises(T.TaskingError) as e:
        T.check(T.sign(KEY, body), KEY, int(time.time()))
    assert e.value.reason == T.MALFORMED and "imsi" in e.value.detail


def test_a_firmware_whose_chips_are_gone_does_not_flood_its_log(micropython_bin):
    from host.virtual.env import StaticEnv
    from host.virtual.handheld import VirtualHandheld
    hh = VirtualHandheld(StaticEnv(), key=KEY)
    hh.start()
    try:
        time.sleep(1.5)
        # The host's chip fakes go away (as when the host dies): every bus access fails.
        hh.bus.close()
        time.sleep(1.0)
        log = hh.state_dir / "stderr.log"
        before = log.stat().st_size
        time.sleep(2.0)
        grown = log.stat().st_size - before
        assert grown < 4000, "%d bytes of tracebacks in 2 s" % grown
    finally:
        hh.stop()
