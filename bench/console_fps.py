"""Operator console speed: frames/s and arrival-to-repaint latency under a live load.

The real ``ConsoleWindow`` runs offscreen with one target holding 10,000 track
points, its 256 x 256 heat map (the real DSP worker) and the strip chart, while
a simulated handheld delivers 20 measurements/s through the real live-source
thread.  Measured:

- latency: from the moment a measurement leaves the "device" (is put on the
  link's queue) to the end of the first map repaint after the refresh that
  drew it; p50 and p99;
- natural frames/s: map repaints per second during that phase;
- frames/s: whole-window repaints back to back, data still arriving;
- reference: the same back-to-back repaint of an empty window in this run.

Targets on the development machine: at least 30 frames/s, p99 under 50 ms.

Usage: ``QT_QPA_PLATFORM=offscreen python bench/console_fps.py [--seconds 10]``
"""

import argparse
import math
import os
import queue
import sys
import threading
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LAT0_DEG, LON0_DEG = 52.52, 13.405
EMITTER_XY_M = (40.0, 25.0)
RATE_HZ = 20.0
N_TRACK = 10_000
GRID_N = 256


def meas(seq, t_s, x_m, y_m, rng):
    """A MEAS record at (x_m, y_m) east/north of the anchor, log-distance power."""
    d = math.hypot(x_m - EMITTER_XY_M[0], y_m - EMITTER_XY_M[1]) + 1.0
    p = -40.0 - 30.0 * math.log10(d) + rng.normal(0.0, 6.0)
    lat = LAT0_DEG + y_m / 111_320.0
    lon = LON0_DEG + x_m / (111_320.0 * math.cos(math.radians(LAT0_DEG)))
    return {"kind": "MEAS", "seq": seq, "device_time_ms": int(t_s * 1000), "rx_time_s": t_s,
            "target": 0, "rssi_dbm": p if p > -125 else None, "heading_deg": None,
            "lat_deg": lat, "lon_deg": lon, "alt_m": 40.0, "floor": 0, "flags": 0,
            "not_detected": p <= -125, "position_stale": False}


def walk(n, rng):
    """A random street walk of n steps (1 m each), starting at the anchor."""
    angle = np.cumsum(rng.normal(0, 0.15, n))
    x = np.cumsum(np.cos(angle))
    y = np.cumsum(np.sin(angle))
    return x - x[0], y - y[0]


class PacedLink:
    """Link-shaped stand-in for the handheld: one MEAS every 1/RATE_HZ s on its queue."""

    def __init__(self, first_seq, t0_s, rng):
        self.records = queue.Queue()
        self.sent_at = {}
        self._seq = first_seq
        self._t0 = t0_s
        self._rng = rng
        self._stop = threading.Event()
        self.go = threading.Event()
        self.last_error = None

    def start(self):
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        x, y = walk(100_000, self._rng)
        self.go.wait()
        i = 0
        next_s = time.perf_counter()
        while not self._stop.is_set():
            next_s += 1.0 / RATE_HZ
            time.sleep(max(0.0, next_s - time.perf_counter()))
            rec = meas(self._seq, self._t0 + i / RATE_HZ, 0.2 * x[i], 0.2 * y[i], self._rng)
            self.sent_at[self._seq] = time.perf_counter()
            self.records.put(rec)
            self._seq += 1
            i += 1

    def stop(self):
        self._stop.set()

    def send(self, msg_type, fields=(), tail=b""):
        """Commands are not part of this benchmark."""

    def stats(self):
        return {"frames": self._seq, "crc_errors": 0, "connected": True}


def back_to_back_fps(app, window, seconds):
    """Render the whole window (every plot included) as fast as possible; return frames/s.

    ``grab()`` paints every child widget into one pixmap: one complete frame.
    """
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        window.grab()
        app.processEvents()
        n += 1
    return n / (time.perf_counter() - t0)


def cpu_per_frame_ms(app, window, n=20):
    """CPU time of the GUI thread per whole-window frame (not counting other threads)."""
    t0 = time.thread_time()
    for _ in range(n):
        window.grab()
    return (time.thread_time() - t0) / n * 1000.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="latency phase length")
    args = parser.parse_args(argv)

    from PyQt5.QtCore import QEvent, QObject, QSettings, QTimer
    from PyQt5.QtWidgets import QApplication

    from host.app.dsp_worker import shutdown_estimator
    from host.app.main_window import ConsoleWindow

    sys.setswitchinterval(0.001)  # as host.app.run_console does
    app = QApplication(sys.argv[:1])
    settings = QSettings(os.devnull, QSettings.IniFormat)
    rng = np.random.default_rng(3)

    empty = ConsoleWindow(settings=settings)
    empty.resize(1400, 880)
    empty.show()
    app.processEvents()
    ref_fps = back_to_back_fps(app, empty, 3.0)
    empty.close()

    window = ConsoleWindow(grid_n=GRID_N, settings=settings)
    window.resize(1400, 880)
    window.show()
    t_start = time.time() - N_TRACK / RATE_HZ
    link = PacedLink(N_TRACK, t_start + N_TRACK / RATE_HZ, rng)
    latencies, paints, delivered = [], [], []
    pending = {"drawn": None}
    newest = {"seq": None}

    def on_refreshed():
        pending["drawn"] = newest["seq"]

    def on_records(batch):
        newest["seq"] = max(r["seq"] for r in batch)
        now = time.perf_counter()
        for r in batch:
            if r["seq"] in link.sent_at:
                delivered.append(now - link.sent_at[r["seq"]])

    class PaintWatch(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Paint:
                seq = pending["drawn"]
                pending["drawn"] = None

                def painted():
                    now = time.perf_counter()
                    paints.append(now)
                    if seq is not None and seq in link.sent_at:
                        latencies.append(now - link.sent_at.pop(seq))
                # runs once the event loop is back, i.e. after this paint has finished
                QTimer.singleShot(0, painted)
            return False

    src = window.open_link(link, "bench")
    # noted before the window applies the batch (connections run in connection order)
    src.records.disconnect(window._on_records)
    src.records.connect(on_records)
    src.records.connect(window._on_records)

    x, y = walk(N_TRACK, rng)
    window._on_records([meas(i, t_start + i / RATE_HZ, 0.2 * x[i], 0.2 * y[i], rng)
                        for i in range(N_TRACK)])
    # steady state: the heat map and the first full estimate are in
    deadline = time.perf_counter() + 120
    target = window.hunt.targets[0]
    while (target.heat is None or target.estimate is None) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    window.refresh()
    app.processEvents()
    heat = window.hunt.targets[0].heat
    track_n = len(window.map.path_line.getData()[0])
    print(f"loaded: {track_n} track points, heat map {heat[0].shape if heat else None}, "
          f"strip chart window {window.strip.window_s:.0f} s, estimate "
          f"{'in' if target.estimate else 'missing'}")

    watch = PaintWatch()
    window.map.viewport().installEventFilter(watch)
    window.refreshed.connect(on_refreshed)
    link.go.set()

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        app.processEvents()
        time.sleep(0.001)
    natural_fps = sum(1 for p in paints if p >= t0 + 1.0) / (args.seconds - 1.0)
    lat_ms = 1000.0 * np.array(latencies)
    fps = back_to_back_fps(app, window, 5.0)
    n_track = len(window.map.path_line.getData()[0])

    p50, p99 = np.percentile(lat_ms, [50, 99]) if len(lat_ms) else (math.nan, math.nan)
    print(f"arrival->repaint latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"({len(lat_ms)} measurements at {RATE_HZ:.0f}/s; target p99 < 50 ms)")
    print(f"arrival->GUI thread: p50 {np.percentile(delivered, 50) * 1e3:.1f} ms, "
          f"p99 {np.percentile(delivered, 99) * 1e3:.1f} ms")
    print(f"map repaints driven by the data: {natural_fps:.1f} /s")
    print(f"whole-window frames/s, back to back, data arriving: {fps:.1f} "
          f"(target >= 30; {n_track} track points at the end)")
    cpu_ms = cpu_per_frame_ms(app, window)
    print(f"CPU time per whole-window frame: {cpu_ms:.1f} ms (= {1000 / cpu_ms:.0f} frames/s "
          "on an otherwise idle core)")
    print(f"machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"reference, empty window: {ref_fps:.1f} frames/s; loaded/empty ratio {fps / ref_fps:.2f}")
    window.close()
    shutdown_estimator()
    return 0 if fps >= 30 and p99 < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
