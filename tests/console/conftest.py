"""Console test fixtures: an isolated QSettings file, a recorded synthetic hunt, a window."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hunt_data  # noqa: E402
from replay_helpers import replay_to_end  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def estimator_process():
    """The estimator process is shared by every window; stop it after the last test."""
    yield
    from host.app.dsp_worker import shutdown_estimator

    shutdown_estimator()


@pytest.fixture(scope="session")
def session_file(tmp_path_factory):
    """The synthetic hunt recorded with the real SessionWriter (made once per run)."""
    return hunt_data.write_session(tmp_path_factory.mktemp("hunt") / "hunt.sqlite")


@pytest.fixture
def settings(tmp_path):
    from PyQt5.QtCore import QSettings

    return QSettings(str(tmp_path / "console.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    from host.app.main_window import ConsoleWindow

    win = ConsoleWindow(settings=settings)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    win.close()


@pytest.fixture
def replayed(qtbot, window, session_file):
    """A window that has replayed the synthetic hunt to its end."""
    replay_to_end(qtbot, window, session_file)
    return window
