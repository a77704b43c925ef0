"""The operator console: the live PyQt5 + pyqtgraph window of a hunt.

Entry point for other parts of rfhound (``rfhound console``, ``rfhound replay``,
``rfhound demo``)::

    from host.app import run_console
    status = run_console(source)          # blocks until the window is closed

``source`` may be

- ``None``: an empty window; the operator picks a source from the Source menu;
- a session file path (``str`` or ``pathlib.Path`` of an existing file): replayed
  with play/pause/seek/speed (``speed=0`` replays as fast as possible);
- any other ``str``: a pyserial URL of the handheld (``/dev/ttyACM0``, a pty path,
  ``socket://host:port``, ``loop://``), read through ``host.link.Link`` and
  reopened when it is unplugged and plugged back;
- a link-shaped object with ``start()``, ``stop()``, ``send(msg_type, fields, tail)``,
  ``stats()`` and a ``records`` queue of record dicts (what ``host.link.Link`` has);
- an iterable of record dicts that paces itself (a simulator generator).

Keyword options: ``speed`` (replay), ``screenshot`` (path: replay to the end,
wait for the final estimates, save the main window as PNG, exit; status 1 and the
reason in the ``screenshot_errors`` list when it cannot, see ``save_when_replayed``),
``tasking`` (masked tasking dict naming the
targets), ``buildings`` (list of ``(n, 2)`` east/north metre polygons: drawn,
and every estimate puts the emitter in one of them), ``building_names`` (one
per polygon, shown for the most probable; default ``B0``, ``B1``, ...),
``background`` (image path with a world file), ``record`` (session file to
record a live source to), ``antenna`` (pattern id for rotation scans),
``grid_n`` (heat-map cells per axis), ``size`` ((width, height) pixels; by default
the size kept in QSettings).

Layout of this package: ``model`` (hunt state, no Qt), ``geo`` (local frame),
``sources`` (record sources on their own threads), ``simulator`` (a ``host.sim``
hunt as a source), ``dsp_worker`` (heat maps on their own thread) and
``estimator`` (full estimates in a child process), ``views/`` (widgets),
``main_window`` (wiring and actions), ``export``, ``report``, ``offline_map``,
``tasking_io``.
"""

import os
import time
from pathlib import Path

#: A screenshot replay that delivers no record for this long has stalled (seconds).
SCREENSHOT_STALL_S = 120.0
#: Longest wait for the final estimates once a screenshot replay has ended (seconds).
SCREENSHOT_ESTIMATE_S = 900.0


def make_window(source=None, *, speed=1.0, tasking=None, buildings=None, building_names=None,
                background=None, record=None, antenna=None, grid_n=256, size=None,
                settings=None):
    """Build and show a ``ConsoleWindow`` on the running QApplication; return it."""
    from host.app.main_window import ConsoleWindow

    kwargs = {} if antenna is None else {"antenna": antenna}
    window = ConsoleWindow(grid_n=grid_n, settings=settings, **kwargs)
    if size is not None:
        window.resize(*size)
    if buildings is not None:
        window.set_buildings(buildings, building_names)
    if background is not None:
        window.load_background(background)
    if isinstance(source, Path) or (isinstance(source, str) and os.path.isfile(source)):
        window.open_replay(source, speed=speed)
    elif isinstance(source, str):
        window.open_port(source)
    elif hasattr(source, "records") and hasattr(source, "stats"):
        window.open_link(source)
    elif source is not None:
        window.open_records(iter(source))
    if tasking is not None:
        window.set_tasking(tasking)
    if record is not None:
        window.start_recording(record)
    window.show()
    return window


def save_when_replayed(window, path, on_saved=None, stall_s=SCREENSHOT_STALL_S,
                       estimate_s=SCREENSHOT_ESTIMATE_S):
    """Once the replay has ended and its final estimates are in, save the window as PNG.

    ``on_saved(ok, error)`` is called once: ``(True, None)`` after the file is
    written; ``(False, line)`` when the replay failed (a session that cannot be
    read to its end), stalled for ``stall_s`` (no tick of the replay clock), the final estimates took longer
    than ``estimate_s``, the estimator failed on a target with enough readings
    for the estimate the picture promises, or the PNG could not be written.
    """
    import numpy as np
    from PyQt5.QtCore import QTimer

    from host.app.dsp_worker import MIN_DETECTIONS

    state = {"done": False, "source_errors": [], "estimator_errors": [],
             "progress": time.monotonic(), "finished": None}

    def finish(ok, error):
        if state["done"]:
            return
        state["done"] = True
        watchdog.stop()
        if on_saved is not None:
            on_saved(ok, error)

    def save():
        if state["done"]:
            return
        window.refresh()
        without = [t.label for t in window.hunt.targets.values() if t.estimate is None
                   and np.count_nonzero(np.isfinite(t.meas["rssi_dbm"])) >= MIN_DETECTIONS]
        if without and state["estimator_errors"]:
            finish(False, f"no estimate for {', '.join(without)}: "
                          f"{state['estimator_errors'][0]}")
            return
        if not window.grab().save(str(path)):
            finish(False, f"{path}: could not write the PNG")
            return
        finish(True, None)

    def source_state(text):
        if text == "replay failed":
            errors = state["source_errors"]
            finish(False, errors[-1] if errors else "the replay failed")

    def finished():
        state["finished"] = time.monotonic()
        window.dsp_flush.emit()

    def progress(*_args):
        state["progress"] = time.monotonic()

    def check():
        # the source may have failed before these slots were connected: ask it too
        failure = getattr(window.source, "failure", None)
        if failure is not None:
            finish(False, failure)
            return
        now = time.monotonic()
        if state["finished"] is None and now - state["progress"] > stall_s:
            finish(False, f"the replay stopped moving for {stall_s:.0f} s; no screenshot")
        elif state["finished"] is not None and now - state["finished"] > estimate_s:
            finish(False, f"the final estimates took longer than {estimate_s:.0f} s; "
                          "no screenshot")

    window.dsp.failed.connect(state["estimator_errors"].append)
    window.dsp.flushed.connect(lambda: QTimer.singleShot(0, save))
    window.source_finished.connect(finished)
    if window.source is not None:
        window.source.error.connect(state["source_errors"].append)
        window.source.state.connect(source_state)
        # the replay clock ticks while the source thread lives, records or not
        heartbeat = getattr(window.source, "position", window.source.records)
        heartbeat.connect(progress)
    watchdog = QTimer(window)
    watchdog.setInterval(1000)
    watchdog.timeout.connect(check)
    watchdog.start()


def run_console(source=None, *, screenshot=None, screenshot_errors=None, **options):
    """Open the console on ``source`` (see the module docstring) and run it.

    Returns the exit status: 0, or 1 when a requested screenshot could not be
    made (``screenshot_errors``, a list, then receives the one-line reason).
    """
    import sys

    from PyQt5.QtWidgets import QApplication

    # The GUI thread shares the GIL with the link and DSP threads: hand it over every
    # millisecond rather than every 5 so a repaint never waits behind a numpy loop.
    sys.setswitchinterval(0.001)
    app = QApplication.instance() or QApplication(["rfhound console"])
    app.setOrganizationName("rfhound")
    app.setApplicationName("console")
    if screenshot is not None:
        options.setdefault("speed", 0.0)
    window = make_window(source, **options)
    status = {"code": 0}
    if screenshot is not None:
        def saved(ok, error):
            status["code"] = 0 if ok else 1
            if error is not None and screenshot_errors is not None:
                screenshot_errors.append(error)
            window.close()

        save_when_replayed(window, screenshot, saved)
    app.exec_()
    from host.app.dsp_worker import shutdown_estimator

    shutdown_estimator()
    return status["code"]
