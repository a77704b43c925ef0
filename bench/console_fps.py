"""Operator console speed: frames/s and arrival-to-repaint latency under a live load.

The real ``ConsoleWindow`` runs offscreen with one target holding 10,000 track
points, its 256 x 256 heat map (the real DSP worker) and the strip chart, a
city of 10,000 buildings read from an OpenStreetMap extract and raster tiles
from an MBTiles file under the map (both written by this script, the way the
tests write them: ``tests/console/city_data.py``), while a simulated handheld
delivers 20 measurements/s through the real live-source thread.  Measured, in
``--rounds`` rounds so that each figure comes with its spread:

- latency: from the moment a measurement leaves the "device" (is put on the
  link's queue) to the end of the first map repaint after the refresh that
  drew it; p50 and p99;
- natural frames/s: map repaints per second during that phase;
- frames/s: whole-window repaints back to back, data still arriving;
- reference: the same back-to-back repaint of an empty window in this run,
  one round before each loaded round;
- the time to load the 10,000 buildings (read, project, draw, index).

Targets on the development machine: at least 30 frames/s, p99 under 50 ms.

Usage: ``QT_QPA_PLATFORM=offscreen python bench/console_fps.py [--seconds 10] [--rounds 3]
[--buildings 10000]``
"""

import argparse
import math
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "console"))

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


def write_city(folder, n_buildings):
    """An OSM extract of ``n_buildings`` addressed buildings and an MBTiles file of
    zooms 15-18 around the anchor; returns their paths."""
    import city_data

    osm = Path(folder) / "city.osm"
    osm.write_text(city_data.osm_xml(city_data.grid_city(n_buildings)), encoding="utf-8")
    mbtiles = Path(folder) / "city.mbtiles"
    import sqlite3

    for zoom in (15, 16, 17, 18):
        tiles = city_data.checker_tiles(city_data.LAT0_DEG, city_data.LON0_DEG, zoom, 4)
        part = Path(folder) / f"z{zoom}.mbtiles"
        city_data.write_mbtiles(part, tiles, zoom)
        if zoom == 15:
            part.rename(mbtiles)
        else:
            db = sqlite3.connect(mbtiles)
            db.execute("ATTACH ? AS part", (str(part),))
            db.execute("INSERT INTO tiles SELECT * FROM part.tiles")
            db.commit()
            db.close()
    return osm, mbtiles


def spread(values, fmt="{:.1f}"):
    """``"median (min-max over n)"``."""
    v = np.asarray(values, dtype=float)
    return (f"{fmt.format(np.median(v))} ({fmt.format(v.min())}-{fmt.format(v.max())} "
            f"over {len(v)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="latency phase length per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement")
    parser.add_argument("--buildings", type=int, default=10_000,
                        help="buildings in the city (0: no city and no tiles, for comparison)")
    args = parser.parse_args(argv)
    folder = tempfile.TemporaryDirectory(prefix="rfhound-bench-")

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

    window = ConsoleWindow(grid_n=GRID_N, settings=settings)
    window.resize(1400, 880)
    window.show()
    t_load = time.perf_counter()
    if args.buildings:  # --buildings 0: the window without a city, for comparison
        osm, mbtiles = write_city(folder.name, args.buildings)
        t_load = time.perf_counter()
        assert window.load_buildings(str(osm))
        assert window.load_background(str(mbtiles))
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
    window._on_records([meas(0, t_start, 0.0, 0.0, rng)])  # the first fix places the city
    load_s = time.perf_counter() - t_load
    window._on_records([meas(i, t_start + i / RATE_HZ, 0.2 * x[i], 0.2 * y[i], rng)
                        for i in range(1, N_TRACK)])
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
    window.map.render_tiles()
    tiles_on = window.map.tiles.image is not None
    print(f"loaded: {track_n} track points, heat map {heat[0].shape if heat else None}, "
          f"strip chart window {window.strip.window_s:.0f} s, estimate "
          f"{'in' if target.estimate else 'missing'}, {len(window.hunt.buildings)} buildings "
          f"in {load_s:.2f} s (OSM read, projected, drawn, indexed), tiles "
          f"{'drawn' if tiles_on else 'MISSING'}, {0 if window._sent_buildings is None else len(window._sent_buildings)} buildings "
          f"near the walk sent to the estimator")

    watch = PaintWatch()
    window.map.viewport().installEventFilter(watch)
    window.refreshed.connect(on_refreshed)
    link.go.set()

    rounds = {"p50": [], "p99": [], "natural": [], "fps": [], "ref": [], "cpu": [], "load": []}
    for k in range(args.rounds):
        rounds["ref"].append(back_to_back_fps(app, empty, 2.0))
        latencies.clear()
        paints.clear()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            app.processEvents()
            time.sleep(0.001)
        rounds["natural"].append(sum(1 for p in paints if p >= t0 + 1.0) / (args.seconds - 1.0))
        lat_ms = 1000.0 * np.array(latencies)
        p50, p99 = np.percentile(lat_ms, [50, 99]) if len(lat_ms) else (math.nan, math.nan)
        rounds["p50"].append(p50)
        rounds["p99"].append(p99)
        rounds["fps"].append(back_to_back_fps(app, window, 3.0))
        rounds["cpu"].append(cpu_per_frame_ms(app, window))
        rounds["load"].append(os.getloadavg()[0])
        print(f"round {k + 1}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(lat_ms)} measurements), "
              f"{rounds['fps'][-1]:.1f} frames/s, empty window {rounds['ref'][-1]:.1f} frames/s, "
              f"load average {rounds['load'][-1]:.1f}", flush=True)
    n_track = len(window.map.path_line.getData()[0])
    fps, ref, p99 = (np.median(rounds[key]) for key in ("fps", "ref", "p99"))
    print(f"arrival->repaint latency p50: {spread(rounds['p50'])} ms")
    print(f"arrival->repaint latency p99: {spread(rounds['p99'])} ms (target < 50 ms; "
          f"{RATE_HZ:.0f} measurements/s)")
    print(f"arrival->GUI thread: p50 {np.percentile(delivered, 50) * 1e3:.1f} ms, "
          f"p99 {np.percentile(delivered, 99) * 1e3:.1f} ms")
    print(f"map repaints driven by the data: {spread(rounds['natural'])} /s")
    print(f"whole-window frames/s, back to back, data arriving: {spread(rounds['fps'])} "
          f"(target >= 30; {n_track} track points, {len(window.hunt.buildings)} buildings, "
          f"{'tiles' if args.buildings else 'no tiles'} at the end)")
    print(f"reference, empty window, same run: {spread(rounds['ref'])} frames/s; "
          f"loaded/empty ratio {fps / ref:.2f}")
    print(f"CPU time per whole-window frame: {spread(rounds['cpu'])} ms")
    print(f"machine load average while measuring: {spread(rounds['load'])} on "
          f"{os.cpu_count()} cores")
    window.close()
    empty.close()
    shutdown_estimator()
    folder.cleanup()
    return 0 if fps >= 30 and p99 < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
