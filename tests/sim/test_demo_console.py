"""`rfhound demo` with a display: the hunt feeds the operator console live, and closing the
window ends the hunt cleanly with its session and summary."""

import argparse

import pytest

import host.app
from host.commands import demo
from host.sim.world import load_world
from host.virtual.handheld import micropython_binary

pytestmark = pytest.mark.skipif(micropython_binary() is None, reason="MicroPython unix port missing")


def test_console_shows_the_hunt_and_closing_it_stops_the_hunt(tmp_path, monkeypatch, qapp):
    from PyQt5.QtCore import QTimer

    seen = {}
    make = host.app.make_window

    def make_and_close_later(*args, **kwargs):
        window = make(*args, **kwargs)

        def close():
            seen["records"] = window.hunt.n_records
            seen["names"] = list(window.hunt.building_names)
            window.close()
        QTimer.singleShot(6000, close)
        return window

    monkeypatch.setattr(host.app, "make_window", make_and_close_later)
    args = argparse.Namespace(seed=2, strategy="search")
    session, report = demo.new_paths(tmp_path, "console")
    result = demo._with_console(load_world("corner"), args, "micropython", 10.0, session, report)
    assert seen["records"] > 50
    # The table and the outline name the world's buildings, not B0, B1, ...
    assert seen["names"] == [b.id for b in load_world("corner").buildings]
    assert result["frames"] > 50 and session.exists()
