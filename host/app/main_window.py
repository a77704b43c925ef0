"""The operator console main window: wiring of sources, model, DSP worker and views.

Data path: a source thread emits record batches -> ``_on_records`` applies them
to the ``HuntModel`` (cheap appends) and forwards the new points to the DSP
worker thread -> a coalesced refresh redraws only what changed.  Estimates
come back from the worker by signal.  Problems the operator must see go to the
message bar; the window never blocks on them.
"""

import os
import time

import numpy as np
from PyQt5.QtCore import QSettings, Qt, QThread, QTimer, pyqtSignal
from PyQt5.QtWidgets import (QAction, QActionGroup, QFileDialog, QInputDialog, QLabel,
                             QMainWindow, QSplitter, QTableView, QToolBar, QVBoxLayout, QWidget)

from dsp.antenna import DEFAULT_ANTENNA
from firmware import protocol
from host.app import export, offline_map
from host.app.dsp_worker import DspWorker
from host.app.geo import LocalFrame
from host.app.model import HuntModel
from host.app.sources import IterableLink, LiveSource, ReplaySource, SourceRunner
from host.app.views.floor_panel import FloorPanel
from host.app.views.map_view import POWER_RANGE_DBM, MapView
from host.app.views.message_bar import MessageBar
from host.app.views.polar_plot import PolarPlot
from host.app.views.replay_bar import ReplayBar
from host.app.views.strip_chart import StripChart
from host.app.views.target_table import TargetTableModel, building_text

#: Least time between two redraws (caps the redraw rate at about 60/s).
MIN_REFRESH_S = 1.0 / 60.0
#: Strip-chart windows offered (the operator looks back 2-10 minutes).
STRIP_WINDOWS_S = (120.0, 300.0, 600.0)


class ConsoleWindow(QMainWindow):
    """The live (or replayed) hunt in one window.

    Parameters
    ----------
    grid_n : int
        Posterior grid points per axis used by the DSP worker.
    antenna : str
        Antenna pattern id for bearings from rotation scans.
    settings : QSettings or None
        Where window state and choices are kept (default: ``rfhound/console``).
    """

    dsp_points = pyqtSignal(object)
    dsp_freqs = pyqtSignal(object)
    dsp_groups = pyqtSignal(object)
    dsp_buildings = pyqtSignal(object)
    dsp_scan = pyqtSignal(object)
    dsp_reset = pyqtSignal()
    dsp_flush = pyqtSignal()
    refreshed = pyqtSignal()
    source_finished = pyqtSignal()

    def __init__(self, grid_n=256, antenna=DEFAULT_ANTENNA, settings=None):
        super().__init__()
        self.setWindowTitle("rfhound console")
        self.settings = settings or QSettings("rfhound", "console")
        self.hunt = HuntModel()
        self.runner = None
        self.writer = None
        self.selected = None
        self.source_name = ""
        self._background = None
        self._dirty = set()
        self._refresh_pending = False
        self._last_refresh = 0.0
        self._rate = []
        self._frames_seen = None
        self._colours = (None, 0, POWER_RANGE_DBM)

        self._build_views()
        self._build_actions()
        self._build_status()
        self._start_dsp(grid_n, antenna)
        self._restore_settings()

    # ----------------------------------------------------------------- layout
    def _build_views(self):
        self.message = MessageBar()
        self.map = MapView()
        self.strip = StripChart()
        self.polar = PolarPlot()
        self.floors = FloorPanel()
        self.table_model = TargetTableModel(self.hunt)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QTableView.SelectRows)
        self.table.setSelectionMode(QTableView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._table_selection)

        side = QSplitter(Qt.Vertical)
        side.addWidget(self.polar)
        side.addWidget(self.floors)
        side.setSizes([300, 200])
        centre = QSplitter(Qt.Vertical)
        centre.addWidget(self.map)
        centre.addWidget(self.strip)
        centre.setSizes([560, 200])
        body = QSplitter(Qt.Horizontal)
        body.addWidget(centre)
        body.addWidget(side)
        body.setSizes([900, 340])
        outer = QSplitter(Qt.Vertical)
        outer.addWidget(self.table)
        outer.addWidget(body)
        outer.setSizes([110, 740])
        self.splitter = outer
        self._replay_info = None

        root = QWidget()
        layout = QVBoxLayout(root)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.message)
        layout.addWidget(outer, 1)
        self.setCentralWidget(root)

        self.replay_bar = ReplayBar()
        self.replay_toolbar = QToolBar("replay")
        self.replay_toolbar.setObjectName("replay")
        self.replay_toolbar.addWidget(self.replay_bar)
        self.addToolBar(Qt.BottomToolBarArea, self.replay_toolbar)
        self.replay_toolbar.hide()
        self.replay_bar.play_toggled.connect(self._replay_play)
        self.replay_bar.seek_requested.connect(self._replay_seek)
        self.replay_bar.speed_changed.connect(self._replay_speed)
        self.resize(1400, 880)

    def _build_actions(self):
        def act(menu, text, slot, shortcut=None, toolbar=None):
            a = QAction(text, self)
            a.triggered.connect(lambda _checked=False: slot())
            if shortcut:
                a.setShortcut(shortcut)
            menu.addAction(a)
            if toolbar is not None:
                toolbar.addAction(a)
            return a

        bar = self.menuBar()
        tools = QToolBar("main")
        tools.setObjectName("main")
        self.addToolBar(tools)
        source = bar.addMenu("&Source")
        act(source, "Serial port\u2026", self._ask_port, "Ctrl+P", tools)
        act(source, "Replay session\u2026", self._ask_replay, "Ctrl+O", tools)
        act(source, "Simulator", self._start_simulator, None, tools)
        act(source, "Disconnect", self.close_source)
        source.addSeparator()
        act(source, "Offline map (image + world file)\u2026", self._ask_background)
        source.addSeparator()
        act(source, "Quit", self.close, "Ctrl+Q")

        hunt = bar.addMenu("&Hunt")
        tools.addSeparator()
        self.record_action = act(hunt, "Start recording\u2026", self._toggle_recording, "Ctrl+R", tools)
        act(hunt, "Load and send tasking\u2026", self._ask_tasking, None, tools)
        act(hunt, "Operator key file\u2026", self._ask_key_file)
        act(hunt, "Mark", self.mark, "M", tools)
        act(hunt, "Make selected target active", self.activate_selected, "A", tools)
        act(hunt, "Fit map", self.map.follow, "F")

        exp = bar.addMenu("&Export")
        for text, kind in (("KML (Google Earth)\u2026", "kml"), ("GeoJSON\u2026", "geojson"),
                           ("Measurement CSV\u2026", "csv"), ("Report PNG\u2026", "png"),
                           ("Report PDF\u2026", "pdf")):
            act(exp, text, lambda kind=kind: self._ask_export(kind))

        view = bar.addMenu("&View")
        group = QActionGroup(self)
        for window_s in STRIP_WINDOWS_S:
            a = QAction(f"Strip chart: last {window_s / 60:.0f} min", self, checkable=True)
            a.setData(window_s)
            a.triggered.connect(lambda _c=False, w=window_s: self.set_strip_window(w))
            group.addAction(a)
            view.addAction(a)
        self._strip_actions = group

    def _build_status(self):
        sb = self.statusBar()
        self.status_labels = {}
        for key in ("link", "rate", "crc", "battery", "gnss", "calibration", "recording"):
            label = QLabel()
            label.setContentsMargins(6, 0, 6, 0)
            sb.addPermanentWidget(label)
            self.status_labels[key] = label
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()
        self._update_status()

    def _start_dsp(self, grid_n, antenna):
        self.dsp = DspWorker(grid_n=grid_n, antenna=antenna)
        self.dsp_thread = QThread()
        self.dsp_thread.setObjectName("dsp")
        self.dsp.moveToThread(self.dsp_thread)
        self.dsp_thread.started.connect(self.dsp.start)
        # `finished` is emitted in the ending thread: the worker's timer is stopped there
        self.dsp_thread.finished.connect(self.dsp.stop, Qt.DirectConnection)
        self.dsp_points.connect(self.dsp.add_points)
        self.dsp_freqs.connect(self.dsp.set_target_freqs)
        self.dsp_groups.connect(self.dsp.set_target_groups)
        self.dsp_buildings.connect(self.dsp.set_buildings)
        self.dsp_scan.connect(self.dsp.add_scan)
        self.dsp_reset.connect(self.dsp.reset)
        self.dsp_flush.connect(self.dsp.flush)
        self.dsp.estimate_ready.connect(self._on_estimate)
        self.dsp.heat_ready.connect(self._on_heat)
        self.dsp.scan_ready.connect(self._on_scan)
        self.dsp.failed.connect(lambda text: self.show_message(text, "info"))
        self.dsp_thread.start()

    # --------------------------------------------------------------- settings
    def _restore_settings(self):
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splits = self.settings.value("splitter")
        if splits is not None:
            self.splitter.restoreState(splits)
        window_s = float(self.settings.value("strip_window_s", 300.0))
        self.set_strip_window(window_s)

    def _save_settings(self):
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("strip_window_s", self.strip.window_s)
        self.settings.sync()

    def _last_dir(self):
        return str(self.settings.value("last_dir", os.getcwd()))

    def _remember_dir(self, path):
        self.settings.setValue("last_dir", os.path.dirname(os.path.abspath(path)))

    def set_strip_window(self, window_s):
        self.strip.set_window(window_s)
        for a in self._strip_actions.actions():
            a.setChecked(a.data() == window_s)
        self._mark_dirty("strip")

    # ---------------------------------------------------------------- sources
    def open_replay(self, path, speed=1.0, playing=True):
        """Replay a session file (speed 0 = as fast as possible)."""
        src = ReplaySource(path, speed=speed, playing=playing)
        src.opened.connect(self._on_replay_opened)
        src.reset.connect(self._replay_reset)
        src.position.connect(self.replay_bar.set_position)
        self.replay_bar.set_speed(speed)
        self._open(src, f"replay {os.path.basename(str(path))}")
        self.replay_toolbar.show()
        self._remember_dir(path)
        return src

    def open_port(self, url, baudrate=115200):
        """Listen to the handheld on a pyserial URL; retried while it cannot be opened."""
        self.settings.setValue("last_port", url)
        return self._open(LiveSource(url=url, baudrate=baudrate), url)

    def open_link(self, link, name="simulator"):
        """Listen to a link-shaped object (``start``, ``stop``, ``send``, ``stats``, ``records``)."""
        return self._open(LiveSource(link=link), name)

    def open_records(self, records_iter, name="simulator"):
        """Listen to an iterable of record dicts that paces itself (a simulator)."""
        return self.open_link(IterableLink(records_iter), name)

    def _open(self, src, name):
        self.close_source()
        self._reset_hunt()
        self.source_name = name
        src.records.connect(self._on_records)
        src.stats.connect(self._on_stats)
        src.state.connect(self._on_state)
        src.error.connect(self.show_message)
        src.notice.connect(lambda text: self.show_message(text, "info"))
        src.finished.connect(self._on_source_finished)
        if isinstance(src, LiveSource):  # a full disk: the status bar must not say "recording"
            src.recording_failed.connect(lambda _text: self.stop_recording())
        self.runner = SourceRunner(src)
        self.runner.start()
        self.setWindowTitle(f"rfhound console \u2014 {name}")
        return src

    def close_source(self):
        """Stop the current source (and recording)."""
        if self.writer is not None:
            self.stop_recording()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        self.replay_toolbar.hide()
        self.hunt.status.state = "no source"
        self._update_status()

    def _reset_hunt(self):
        # the buildings belong to the map, which keeps them: so do the model and the worker
        buildings, names = self.hunt.buildings, self.hunt.building_names
        self.hunt = HuntModel()
        self.hunt.buildings, self.hunt.building_names = buildings, names
        self.table_model.set_hunt(self.hunt)
        self.selected = None
        self.dsp_reset.emit()
        self.map.clear_hunt()
        self.strip.clear_data()
        self.polar.show_scan(None)
        self.floors.show_floors(None)
        self._frames_seen = None
        self._mark_dirty("all")

    def set_tasking(self, tasking):
        """Name the targets from a (masked) tasking dict and pass their frequencies on."""
        self.hunt.set_tasking(tasking)
        self.dsp_freqs.emit({i: t.freq_hz for i, t in self.hunt.targets.items() if t.freq_hz})
        self.dsp_groups.emit({i: t.group for i, t in self.hunt.targets.items()})
        self.table_model.refresh()

    def _replay_reset(self):
        """A backwards seek: start the hunt afresh with the session's tasking and world."""
        self._reset_hunt()
        self._on_replay_opened(self._replay_info)

    def _on_replay_opened(self, info):
        self._replay_info = info
        self.set_tasking(info.get("tasking"))
        meta = info.get("meta") or {}
        if meta.get("calibration_id"):
            self.hunt.status.calibration_id = str(meta["calibration_id"])
        if meta.get("sim_world"):
            self._use_sim_world(meta["sim_world"])
        self.replay_bar.set_duration(info.get("end_s", 0.0))
        self.table_model.refresh()
        self._mark_dirty("all")

    def _use_sim_world(self, name):
        """Draw a simulated hunt in its world's frame, with the world's buildings."""
        from host.errors import UserError
        from host.sim.world import load_world

        try:
            world = load_world(name)
        except UserError as exc:
            self.show_message(f"simulated world {name}: {exc}; buildings not shown", "info")
            return
        self.hunt.frame = LocalFrame(*world.origin)
        self.set_buildings([b.footprint_m for b in world.buildings],
                           [b.id for b in world.buildings])

    def _replay_play(self, playing):
        if isinstance(self.source, ReplaySource):
            (self.source.play if playing else self.source.pause)()

    def _replay_seek(self, pos_s):
        if isinstance(self.source, ReplaySource):
            self.source.seek(pos_s)

    def _replay_speed(self, speed):
        if isinstance(self.source, ReplaySource):
            self.source.set_speed(speed)

    @property
    def source(self):
        return None if self.runner is None else self.runner.source

    # ------------------------------------------------------------- data path
    def _on_records(self, batch):
        touched, points, scans = self.hunt.ingest(batch)
        for rec in batch if isinstance(self.source, LiveSource) else ():
            # a replay's answers are history: only a live handheld's are news
            if rec.get("kind") == "NAK":
                self.show_message(f"the handheld refused {_type_name(rec.get('nacked_type'))}: "
                                  f"{rec.get('reason_text', rec.get('reason'))}")
            elif rec.get("kind") == "ACK" and rec.get("acked_type") == protocol.TASKING:
                self.show_message("the handheld accepted the tasking", "info")
        self._rate.append((time.monotonic(), len(batch)))
        if points:
            self.dsp_points.emit(points)
        for scan in scans:
            self.dsp_scan.emit(scan)
        if self.selected is None and touched:
            self.select_target(min(touched))
        if self.selected in touched:
            self._mark_dirty("track", "strip", "scan")
        if any(rec.get("kind") == "MARK" for rec in batch):
            self._mark_dirty("marks")
        self._mark_dirty("table")

    def _on_source_finished(self):
        for scan in self.hunt.finish_scans():
            self.dsp_scan.emit(scan)
        self._mark_dirty("scan")
        self.source_finished.emit()

    def _on_estimate(self, target, view):
        if target in self.hunt.targets:
            self.hunt.targets[target].estimate = view
            self._mark_dirty("table", "columns")
            if target == self.selected:
                self._mark_dirty("estimate")

    def _on_heat(self, target, heat):
        if target in self.hunt.targets:
            self.hunt.targets[target].heat = heat
            if target == self.selected:
                self._mark_dirty("heat")

    def _on_scan(self, scan):
        t = self.hunt.targets.get(scan.target)
        if t is None:
            return
        t.scan = scan
        if scan.bearing_deg is not None:
            t.bearings.append((scan.x_m, scan.y_m, scan.bearing_deg, scan.sigma_deg))
        if scan.target == self.selected:
            self._mark_dirty("scan")

    def _on_stats(self, stats):
        status = self.hunt.status
        status.crc_errors = int(stats.get("crc_errors", 0))
        frames = stats.get("frames")
        now = time.monotonic()
        if frames is not None:
            if self._frames_seen is not None and now > self._frames_seen[0]:
                status.frames_per_s = (frames - self._frames_seen[1]) / (now - self._frames_seen[0])
            self._frames_seen = (now, frames)

    def _on_state(self, state):
        self.hunt.status.state = state
        self._update_status()

    def _mark_dirty(self, *what):
        self._dirty.update(what)
        if not self._refresh_pending:
            self._refresh_pending = True
            wait_s = MIN_REFRESH_S - (time.perf_counter() - self._last_refresh)
            QTimer.singleShot(max(0, int(wait_s * 1000)), self.refresh)

    def refresh(self):
        """Redraw what changed since the last refresh."""
        self._refresh_pending = False
        self._last_refresh = time.perf_counter()
        dirty, self._dirty = self._dirty, set()
        everything = "all" in dirty
        t = self.hunt.targets.get(self.selected)
        if everything or "table" in dirty:
            self.table_model.refresh()
        if everything or "columns" in dirty:
            self._fit_columns()
        if t is not None:
            if everything or "track" in dirty:
                m = t.meas
                lo, hi = self._colour_range(t)
                self.map.show_track(m["x_m"], m["y_m"], m["rssi_dbm"], (lo, hi))
                self.map.show_legend(f"{t.label}: track colour {lo:.0f} (dark) to {hi:.0f} dBm "
                                     "(yellow); grey: not heard")
            if everything or "strip" in dirty:
                self.strip.show_series(t.meas["time_s"], t.meas["rssi_dbm"])
            if everything or "heat" in dirty:
                self.map.show_heat(t.heat)
            if everything or "estimate" in dirty:
                self.map.show_estimate(t.estimate)
                self.floors.show_floors(t.estimate.floor_prob if t.estimate else None)
                likely = self.hunt.likely_building(t.index)
                self.map.show_likely_building(
                    None if likely is None else self.hunt.buildings[likely[0]],
                    building_text(self.hunt, t))
            if everything or "scan" in dirty:
                live = t.live_scan()
                self.polar.show_scan(live or t.scan, in_progress=live is not None)
                self.map.show_bearings(t.bearings)
        if everything or "marks" in dirty:
            self.map.show_marks(self.hunt.marks["x_m"], self.hunt.marks["y_m"])
        if self._background is not None and self.hunt.frame is not None:
            self._apply_background()
        self.map.fit()
        self.refreshed.emit()

    def _colour_range(self, t):
        """The selected target's track colour range, recomputed when its track grew by 10 %."""
        target, n_at, span = self._colours
        n = len(t.meas)
        if target != t.index or n < n_at or n > 1.1 * n_at + 10:
            span = colour_range_dbm(t.meas["rssi_dbm"])
            self._colours = (t.index, n, span)
        return span

    # ---------------------------------------------------------------- targets
    def _table_selection(self, *_):
        rows = self.table.selectionModel().selectedRows()
        if rows:
            target = self.table_model.target_at(rows[0].row())
            if target != self.selected:
                self.select_target(target)

    def select_target(self, target):
        """Show ``target`` in the map, strip chart, polar plot and floor panel."""
        self.selected = target
        self.table_model.refresh()
        row = self.table_model.row_of(target)
        if row >= 0:
            self.table.selectRow(row)
        self.map.clear_hunt()
        self.strip.clear_data()
        self._mark_dirty("all")

    def activate_selected(self):
        """Tell the handheld to hunt the selected target (SET_MODE HUNT)."""
        if self.selected is None:
            self.show_message("no target selected: pick one in the target list first", "info")
            return
        self.table_model.active = self.selected
        self.table_model.refresh()
        if isinstance(self.source, LiveSource):
            self.source.send(protocol.SET_MODE, _hunt_mode_fields(self.selected))
            self.statusBar().showMessage(f"asked the handheld to hunt target {self.selected}", 5000)

    # ---------------------------------------------------------------- actions
    def show_message(self, text, level="error"):
        """Show one clear line in the message bar; the window keeps running."""
        self.message.show_message(text, level)
        self.statusBar().showMessage(text, 10000)

    def mark(self, text="mark"):
        """Mark the current place (drawn on the map; recorded as an event when recording)."""
        if self.hunt.position is None:
            self.show_message("cannot mark: no position fix yet", "info")
            return
        x, y = self.hunt.position
        self.hunt.marks.append(time.time(), x, y)
        if self.writer is not None:
            fields = {"x_m": x, "y_m": y}
            if self.hunt.frame is not None:
                lat, lon = self.hunt.frame.to_latlon(x, y)
                fields.update(lat_deg=float(lat), lon_deg=float(lon))
            self.writer.event(text, **fields)
        self._mark_dirty("marks")

    def start_recording(self, path):
        """Record every live record to a new session file before it is shown."""
        if not isinstance(self.source, LiveSource):
            self.show_message("recording needs a live source (serial port or simulator); "
                              "a replay is already recorded", "info")
            return False
        from host.session import SessionWriter

        try:
            self.writer = SessionWriter(path, calibration_id=self.hunt.status.calibration_id or None,
                                        meta={"source": self.source_name})
        except Exception as exc:  # sqlite3/OS errors: unwritable place, disk full
            self.show_message(f"cannot record to {path}: {exc}; pick another file")
            return False
        self.source.set_recorder(self.writer)
        self.hunt.status.recording = os.path.basename(str(path))
        self.record_action.setText("Stop recording")
        self._update_status()
        return True

    def stop_recording(self):
        if self.writer is None:
            return
        if isinstance(self.source, LiveSource):
            self.source.set_recorder(None)
        self.writer.close()
        self.writer = None
        self.hunt.status.recording = ""
        self.record_action.setText("Start recording\u2026")
        self._update_status()

    def _toggle_recording(self):
        if self.writer is not None:
            self.stop_recording()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record session", self._last_dir(),
                                              "rfhound session (*.rfh *.sqlite)")
        if path:
            self._remember_dir(path)
            self.start_recording(path)

    def load_tasking(self, path, key=None):
        """Check a signed tasking file, show its targets and send it to the handheld.

        ``key`` is the operator key (bytes); by default it is read from the key
        file chosen earlier (setting ``tasking_key_file``).  A bad signature, an
        expired or damaged file is reported in the message bar and nothing is sent.
        """
        from host.app.tasking_io import (TaskingRejected, read_key, read_signed_tasking,
                                         tasking_messages)

        try:
            if key is None:
                key_file = str(self.settings.value("tasking_key_file", ""))
                if not key_file:
                    raise TaskingRejected("no operator key file chosen: pick it with Hunt > "
                                          "Operator key file\u2026, then load the tasking again")
                key = read_key(key_file)
            blob, tasking = read_signed_tasking(path, key)
        except TaskingRejected as exc:
            self.show_message(str(exc))
            return False
        self.set_tasking(tasking)
        if self.writer is not None:
            self.writer.set_tasking(tasking)
        name = os.path.basename(str(path))
        if isinstance(self.source, LiveSource):
            for msg_type, fields, tail in tasking_messages(blob):
                self.source.send(msg_type, fields, tail)
            self.show_message(f"tasking {name} sent to the handheld ({len(tasking['targets'])} "
                              "targets); waiting for its ACK", "info")
        else:
            self.show_message(f"tasking {name} checked and shown; connect the handheld and load "
                              "it again to send it", "info")
        return True

    def _ask_tasking(self):
        path, _ = QFileDialog.getOpenFileName(self, "Signed tasking", self._last_dir(),
                                              "tasking (*.rft *.tasking *.bin);;all files (*)")
        if path:
            self._remember_dir(path)
            self.load_tasking(path)

    def _ask_key_file(self):
        path, _ = QFileDialog.getOpenFileName(self, "Operator key file (hex)", self._last_dir(),
                                              "key (*.key *.hex *.txt);;all files (*)")
        if path:
            self.settings.setValue("tasking_key_file", path)

    def _ask_port(self):
        from serial.tools import list_ports

        ports = [p.device for p in list_ports.comports()]
        last = str(self.settings.value("last_port", ""))
        choices = ([last] if last and last not in ports else []) + ports
        url, ok = QInputDialog.getItem(self, "Serial port",
                                       "Port (or any pyserial URL):", choices or ["/dev/ttyACM0"],
                                       0, True)
        if ok and url:
            self.open_port(url)

    def _ask_replay(self):
        path, _ = QFileDialog.getOpenFileName(self, "Replay session", self._last_dir(),
                                              "rfhound session (*.rfh *.sqlite);;all files (*)")
        if path:
            self.open_replay(path)

    def _start_simulator(self):
        from host.sim.world import world_names

        names = sorted(world_names())
        name, ok = QInputDialog.getItem(self, "Simulator", "World:", names, 0, False)
        if ok and name:
            self.open_simulator(name)

    def open_simulator(self, world_name, seed=1, speed=4.0, handheld=None):
        """Watch a simulated hunt in ``world_name`` (it records its own session file)."""
        from host.app.simulator import SimulatedHunt
        from host.errors import UserError
        from host.session import mask_tasking
        from host.sim.world import load_world

        try:
            world = load_world(world_name)
        except UserError as exc:
            self.show_message(f"simulator: {exc}")
            return None
        sim = SimulatedHunt(world, seed=seed, speed=speed, handheld=handheld)
        src = self.open_link(sim, f"simulator {world.name}")
        self.set_tasking(mask_tasking(sim.tasking()))
        self.hunt.frame = LocalFrame(*world.origin)
        self.set_buildings([b.footprint_m for b in world.buildings],
                           [b.id for b in world.buildings])
        self.hunt.status.recording = f"{sim.session_path} (by the simulator)"
        return src

    def _ask_background(self):
        path, _ = QFileDialog.getOpenFileName(self, "Offline map image with world file",
                                              self._last_dir(), "images (*.png *.jpg *.tif)")
        if path:
            self.load_background(path)

    def load_background(self, image_path):
        """Show a georeferenced image (world file beside it) under the map."""
        try:
            self._background = offline_map.read_georeferenced(image_path)
        except offline_map.MapError as exc:
            self.show_message(str(exc))
            return False
        self._mark_dirty("background")
        return True

    def _apply_background(self):
        image, corners_lonlat = self._background
        self._background = None
        affine = offline_map.affine_to_local(corners_lonlat, image.shape, self.hunt.frame)
        self.map.show_background(image, affine)

    def set_buildings(self, polygons, names=None):
        """Draw building outlines, each a sequence of (x_m, y_m) east/north points, and
        locate every target inside them.

        ``names`` (one per polygon) name the most probable building in the target
        list and on the map; by default ``B0``, ``B1``, ...  Raises ``ValueError`` for
        a polygon with fewer than 3 vertices or no area, or names that do not match.
        """
        self.hunt.set_buildings(polygons, names)
        self.map.show_buildings(self.hunt.buildings)
        self.dsp_buildings.emit(tuple(self.hunt.buildings))
        self._mark_dirty("buildings", "estimate", "table")

    def _ask_export(self, kind):
        filters = {"kml": "KML (*.kml)", "geojson": "GeoJSON (*.geojson)",
                   "csv": "measurement CSV (*.csv)", "png": "PNG (*.png)", "pdf": "PDF (*.pdf)"}
        path, _ = QFileDialog.getSaveFileName(self, "Export", self._last_dir(), filters[kind])
        if path:
            self._remember_dir(path)
            self.export(kind, path)

    def export(self, kind, path):
        """Write ``kind`` (kml, geojson, csv, png, pdf) to ``path``; report problems in the bar."""
        try:
            if kind in ("png", "pdf"):
                from host.app.report import write_report

                write_report(self, path)
            elif self.hunt.frame is None and kind != "csv":
                raise export.ExportError("nothing to export yet: no position fix has arrived")
            else:
                {"kml": export.write_kml, "geojson": export.write_geojson,
                 "csv": lambda _hunt, p: export.write_window_csv(self, p)}[kind](self.hunt, path)
        except (export.ExportError, OSError) as exc:
            self.show_message(f"export to {path} failed: {exc}")
            return False
        self.statusBar().showMessage(f"exported {path}", 5000)
        return True

    # ----------------------------------------------------------------- status
    def _update_status(self):
        s = self.hunt.status
        now = time.monotonic()
        self._rate = [(t, n) for t, n in self._rate if now - t < 2.0]
        if not isinstance(self.source, LiveSource) and self._rate:
            s.frames_per_s = sum(n for _, n in self._rate) / 2.0
        dash = "\u2013"
        text = {
            "link": f"link: {s.state}",
            "rate": f"{s.frames_per_s:.1f} frames/s",
            "crc": f"CRC errors: {s.crc_errors}",
            "battery": f"battery: {s.battery or dash}",
            "gnss": f"GNSS: {s.gnss or dash}",
            "calibration": f"calibration: {s.calibration_id or dash}",
            "recording": f"recording: {s.recording}" if s.recording else "not recording",
        }
        for key, label in self.status_labels.items():
            label.setText(text[key])
        self._fit_columns()

    def _fit_columns(self):
        """Fit the table's columns to their text; the last (group) keeps stretching.

        Called once a second and when estimates or targets change, not on every
        reading: fitting costs a text layout per cell."""
        for col in range(self.table_model.columnCount() - 1):
            self.table.resizeColumnToContents(col)

    def closeEvent(self, event):
        self.close_source()
        self.dsp_thread.quit()
        self.dsp_thread.wait(3000)
        self._save_settings()
        super().closeEvent(event)


def _type_name(msg_type):
    spec = protocol.MESSAGES.get(msg_type)
    return spec[0] if spec else f"message type {msg_type}"


def colour_range_dbm(rssi_dbm, step_db=5.0, min_span_db=20.0):
    """Track colour range: the 2nd to 98th percentile of the detections, in whole steps.

    Rounded to ``step_db`` so the colours stay put while the hunt goes on.
    """
    ok = rssi_dbm[np.isfinite(rssi_dbm)]
    if not len(ok):
        return POWER_RANGE_DBM
    lo = np.floor(np.percentile(ok, 2) / step_db) * step_db
    hi = np.ceil(np.percentile(ok, 98) / step_db) * step_db
    if hi - lo < min_span_db:
        mid = (lo + hi) / 2
        lo, hi = mid - min_span_db / 2, mid + min_span_db / 2
    return float(lo), float(hi)


def _hunt_mode_fields(target):
    """SET_MODE fields asking for HUNT on one target (frequency from the tasking, AGC gain)."""
    return (protocol.MODE_HUNT, 0, protocol.GAIN_AUTO, int(target))
