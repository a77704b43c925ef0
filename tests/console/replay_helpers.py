"""Replaying a session in a test window (a module of its own: tests import it by name, and
a `conftest` import would find another folder's conftest)."""


def replay_to_end(qtbot, window, path, timeout_ms=60000):
    """Replay ``path`` as fast as possible and wait for the final estimates."""
    with qtbot.waitSignal(window.dsp.flushed, timeout=timeout_ms):
        with qtbot.waitSignal(window.source_finished, timeout=timeout_ms):
            window.open_replay(path, speed=0.0)
        window.dsp_flush.emit()
    qtbot.wait(50)
    window.refresh()
