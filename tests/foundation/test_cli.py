"""The `rfhound` entry point: sub-commands listed with one line each; user mistakes are one line."""

import subprocess
import sys
from pathlib import Path

import pytest

RFHOUND = str(Path(sys.executable).parent / "rfhound")


def run(*args):
    return subprocess.run([RFHOUND, *args], capture_output=True, text=True, timeout=120)


def test_help_lists_each_subcommand_with_one_line():
    from host.cli import _command_modules
    res = run("--help")
    assert res.returncode == 0
    mods = _command_modules()
    assert {m.NAME for m in mods} >= {"export"}
    for mod in mods:
        assert mod.NAME in res.stdout
        assert "\n" not in mod.HELP and len(mod.HELP) < 100


@pytest.mark.parametrize("content", [b"", b"garbage, not a database" * 50])
def test_export_refuses_a_bad_session_in_one_line(tmp_path, content):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(content)
    res = run("export", str(bad), "--csv", str(tmp_path / "out.csv"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert lines[0].startswith("rfhound export: error: ") and str(bad) in lines[0]
    assert not (tmp_path / "out.csv").exists()


def test_missing_session_is_one_line(tmp_path):
    res = run("export", str(tmp_path / "nope.sqlite"), "--csv", str(tmp_path / "o.csv"))
    assert res.returncode == 2 and "no such session file" in res.stderr
