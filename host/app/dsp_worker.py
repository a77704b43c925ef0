"""Position and bearing estimation off the GUI thread.

The worker lives in its own ``QThread``.  The window hands it measurement
points and completed rotation scans by (queued) signal.  Two speeds:

- the heat map comes from ``dsp.locate.LiveLocator`` (one distance per cell per
  reading), refreshed every ``heat_interval_ms`` for the targets that changed;
- the full ``dsp.locate.estimate_position`` (position, 95 % ellipse, floors,
  bearings, the building footprints when there are any; seconds for a long
  walk) runs in a separate estimator process, one at a time, at most every
  ``estimate_interval_s`` per target: it never holds up the heat map, and it
  never holds the GIL the window needs to repaint.

The heat map is the live log-likelihood relative to its peak, mapped linearly
from ``HEAT_DECADES`` decades below the peak (0) to the peak (1), so the view can
use fixed levels (0, 1).  The live model takes readings as independent, but
shadowing is correlated over about ``HEAT_CORR_M``: a slow walk's hundreds of
readings hold far fewer independent ones, and the untempered map would shrink
to a few cells long before the position is that certain.  The log-likelihood is
therefore scaled by n_eff / n, with n_eff = walked distance / ``HEAT_CORR_M``.
"""

import concurrent.futures
import copy
import time

import numpy as np
from PyQt5.QtCore import QObject, QTimer, pyqtSignal, pyqtSlot

from dsp.antenna import DEFAULT_ANTENNA
from dsp.locate import Grid, LiveLocator
from host.app.estimator import EstimatorProcess
from host.app.model import Columns

#: Fewest detections before a heat map or an estimate is attempted.
MIN_DETECTIONS = 8
#: Heat-map grid margin around the walked area: this fraction of its size, at least MIN_MARGIN_M.
MARGIN_FRACTION = 0.3
MIN_MARGIN_M = 40.0
#: Longest share of time the full estimate may run (see ``estimate_interval_s``).
ESTIMATE_DUTY = 5.0
#: Decades of posterior density below the peak that the heat map spans.
HEAT_DECADES = 4.0
#: Shadowing correlation distance assumed for tempering the heat map (urban, metres).
HEAT_CORR_M = 10.0


#: Columns of the readings kept per target (the estimator process takes them in this order).
ROW_COLUMNS = ("x_m", "y_m", "rssi_dbm", "floor", "time_s")


class _TargetState:
    """Per-target readings, live locator and bearings kept by the worker."""

    def __init__(self):
        self.rows = Columns(ROW_COLUMNS)
        self.walked_m = 0.0
        self.bearings = []
        self.scan_spans = []
        self.locator = None
        self.inner = None
        self.n_detected = 0
        self.heat_dirty = False
        self.estimate_dirty = False
        self.last_estimate_s = -np.inf
        self.estimate_took_s = 0.0


class DspWorker(QObject):
    """Keep per-target heat maps live and re-estimate positions in the background.

    Parameters
    ----------
    grid_n : int
        Heat-map cells per axis.
    heat_interval_ms : int
        Least time between two heat-map updates of one target.
    estimate_interval_s : float
        Least time between the starts of two full estimates of one target; it
        grows to ``ESTIMATE_DUTY`` times the last estimate's duration, so a long
        walk's estimates take at most a fifth of a core from the window.
    antenna : str
        Antenna pattern id (``hardware/antennas/<id>.csv``) for rotation scans.

    Signals
    -------
    heat_ready(int, object)     : target, ``(heat 0..1 float32 (ny, nx), (x0, y0, w, h) m)``
    estimate_ready(int, object) : target, ``model.EstimateView``
    scan_ready(object)          : a ``model.Scan`` with its bearing filled in (or rejected)
    flushed()                   : every pending update has been emitted
    failed(str)                 : one line, said once per problem
    """

    heat_ready = pyqtSignal(int, object)
    estimate_ready = pyqtSignal(int, object)
    scan_ready = pyqtSignal(object)
    flushed = pyqtSignal()
    failed = pyqtSignal(str)

    def __init__(self, grid_n=256, heat_interval_ms=300, estimate_interval_s=2.0,
                 antenna=DEFAULT_ANTENNA):
        super().__init__()
        self.grid_n = int(grid_n)
        self.heat_interval_ms = int(heat_interval_ms)
        self.estimate_interval_s = float(estimate_interval_s)
        self.antenna = antenna
        self._pattern = None
        self._freq_hz = {}
        self._groups = {}
        self._footprints = None
        self._targets = {}
        self._timer = None
        # one waiting thread: it blocks on the estimator's pipe, not on the GIL
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rfhound-estimate")
        self._running = None
        self._running_members = []
        self._reported = set()
        self._generation = 0

    @pyqtSlot()
    def start(self):
        """Start the update timer; runs in the worker thread."""
        self._timer = QTimer(self)
        self._timer.setInterval(self.heat_interval_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    @pyqtSlot()
    def stop(self):
        if self._timer is not None:
            self._timer.stop()
        self._generation += 1
        self._pool.shutdown(wait=False, cancel_futures=True)

    @pyqtSlot(object)
    def set_target_freqs(self, freq_hz):
        """Take ``{target: uplink frequency in Hz}`` for evaluating the antenna pattern."""
        self._freq_hz.update(freq_hz)

    @pyqtSlot(object)
    def set_target_groups(self, groups):
        """Take ``{target: group name}``: targets of one group (the SIMs of one box) share
        one position and are estimated together, each with its own P0."""
        self._groups = {t: g for t, g in groups.items() if g}

    @pyqtSlot(object)
    def set_buildings(self, polygons):
        """Take the building footprints (``(n, 2)`` east/north metres) the emitter is in.

        Every target is estimated again; an estimate still running on the old
        footprints is dropped (its building index would name another building).
        """
        self._footprints = tuple(polygons) or None
        self._generation += 1
        for st in self._targets.values():
            st.estimate_dirty = True

    def _members(self, target):
        """The targets estimated together with ``target`` (itself included), sorted."""
        group = self._groups.get(target)
        if group is None:
            return [target]
        return sorted(t for t, g in self._groups.items() if g == group and t in self._targets)

    @pyqtSlot(object)
    def add_points(self, points):
        """Take ``(target, x_m, y_m, rssi_dbm, floor, time_s)`` tuples (rssi NaN = not heard)."""
        for target, x, y, rssi, floor, time_s in points:
            st = self._targets.setdefault(target, _TargetState())
            if st.rows.n:
                st.walked_m += float(np.hypot(x - st.rows["x_m"][-1], y - st.rows["y_m"][-1]))
            st.rows.append(x, y, rssi, floor, time_s)
            st.n_detected += bool(np.isfinite(rssi))
            if st.locator is not None and _inside(st.inner, x, y):
                st.locator.add(x, y, rssi, floor=floor)
            else:
                st.locator = None
            st.heat_dirty = st.estimate_dirty = True

    @pyqtSlot(object)
    def add_scan(self, scan):
        """Estimate the bearing of a copy of one completed ``model.Scan`` and emit it."""
        scan = copy.copy(scan)
        st = self._targets.setdefault(scan.target, _TargetState())
        # readings taken while turning carry the antenna pattern, not the distance:
        # they give the bearing and are left out of the power-distance fit
        st.scan_spans.append((scan.start_s, scan.time_s))
        st.estimate_dirty = True
        pattern = self._antenna_pattern()
        if pattern is None:
            scan.rejected = "no antenna pattern"
        else:
            from dsp.bearing import floor_sigma_deg, scan_bearing

            freq_hz = self._freq_hz.get(scan.target)
            if freq_hz is None and len(pattern.freq_hz) > 1:
                # uplink unknown (no tasking): the pattern's mid-band row is the best single guess
                freq_hz = float(np.median(pattern.freq_hz))
            try:
                bearing, props = scan_bearing(scan.heading_deg, scan.power_dbm, pattern,
                                              freq_hz=freq_hz)
            except ValueError as exc:
                scan.rejected = str(exc)
            else:
                scan.rejected = props["rejected"]
                scan.ambiguous = bool(props["ambiguous"])
                if scan.rejected is None and np.isfinite(props["sigma_deg"]):
                    scan.bearing_deg = float(bearing)
                    scan.sigma_deg = floor_sigma_deg(props["sigma_deg"])
                    st.bearings.append((scan.x_m, scan.y_m, scan.bearing_deg, scan.sigma_deg))
                    st.estimate_dirty = True
        self.scan_ready.emit(scan)

    @pyqtSlot()
    def reset(self):
        """Forget everything (new source, or a replay seeked backwards)."""
        self._generation += 1
        self._targets.clear()

    @pyqtSlot()
    def flush(self):
        """Bring every heat map and estimate up to date now, then emit ``flushed``."""
        if self._running is not None:
            # its result may reach the GUI after `flushed`: estimate that target again here
            concurrent.futures.wait([self._running])
            for t in self._running_members:
                self._targets[t].estimate_dirty = True
            self._running = None
        for target, st in sorted(self._targets.items()):
            if st.heat_dirty:
                self._update_heat(target, st)
            if st.estimate_dirty:
                members = self._members(target)
                for t in members:
                    self._targets[t].estimate_dirty = False
                job = self._estimate_job(members)
                if job is not None:
                    self._finish(self._generation, members, self._pool.submit(*job))
        self.flushed.emit()

    def _antenna_pattern(self):
        if self._pattern is None and self.antenna:
            from dsp.antenna import load_pattern

            try:
                self._pattern = load_pattern(self.antenna)
            except (OSError, ValueError) as exc:
                self._report("antenna", f"antenna pattern {self.antenna}: {exc}; "
                                        "scans are shown without bearings")
                self.antenna = None
        return self._pattern

    def _tick(self):
        for target, st in self._targets.items():
            if st.heat_dirty:
                self._update_heat(target, st)
        if self._running is not None and not self._running.done():
            return
        self._running = None
        now = time.monotonic()
        ready = [(st.last_estimate_s, target) for target, st in self._targets.items()
                 if st.estimate_dirty and now - st.last_estimate_s
                 >= max(self.estimate_interval_s, ESTIMATE_DUTY * st.estimate_took_s)]
        if ready:
            members = self._members(min(ready)[1])
            for t in members:
                self._targets[t].estimate_dirty = False
                self._targets[t].last_estimate_s = now
            job = self._estimate_job(members)
            if job is not None:
                generation = self._generation
                self._running_members = members
                self._running = self._pool.submit(*job)
                self._running.add_done_callback(
                    lambda fut, g=generation, m=members: self._finish(g, m, fut))

    def _update_heat(self, target, st):
        st.heat_dirty = False
        if st.n_detected < MIN_DETECTIONS:
            return
        if st.locator is None:
            rows = st.rows
            grid, st.inner = _heat_grid(rows["x_m"], rows["y_m"], self.grid_n)
            st.locator = LiveLocator(grid)
            for x, y, rssi, floor in zip(rows["x_m"], rows["y_m"], rows["rssi_dbm"],
                                         rows["floor"]):
                st.locator.add(x, y, rssi, floor=None if np.isnan(floor) else floor)
        grid = st.locator.grid
        temper = min(1.0, max(1.0, st.walked_m / HEAT_CORR_M) / st.n_detected)
        ll = st.locator.loglik().reshape(grid.shape) * temper
        self.heat_ready.emit(target, (heat_levels(ll), _rect(grid)))

    def _estimate_job(self, members):
        """Return ``(function, args...)`` for the estimator process, or None if too early.

        The readings of every member go in together, labelled by member; those
        taken during rotation scans stay out (see ``add_scan``).
        """
        states = [self._targets[t] for t in members]
        if sum(st.n_detected for st in states) < MIN_DETECTIONS:
            return None
        parts, labels, bearings = [], [], []
        for label, st in enumerate(states):
            arr = np.column_stack([st.rows[name] for name in ROW_COLUMNS])
            for t0, t1 in st.scan_spans:
                arr = arr[(arr[:, 4] < t0) | (arr[:, 4] > t1)]
            parts.append(arr)
            labels.append(np.full(len(arr), label))
            bearings += st.bearings
        group = np.concatenate(labels) if len(members) > 1 else None
        bearings = tuple(np.array(c) for c in zip(*bearings)) if bearings else None
        return (_ESTIMATOR.run, np.concatenate(parts), bearings, members[0], group,
                self._footprints)

    def _finish(self, generation, members, future):
        # Runs on the executor's thread (or in flush); signals cross to the GUI queued.
        try:
            view, error, took_s = future.result()
        except OSError as exc:
            self._report("estimator", f"{exc}; it is restarted with the next estimate")
            return
        if generation != self._generation:
            return
        for target in members:
            if target in self._targets:
                self._targets[target].estimate_took_s = took_s
            if view is not None:
                self.estimate_ready.emit(target, view)
        if view is None and error is not None:
            self._report(("estimate", members[0]), error)

    def _report(self, key, message):
        """Emit ``failed`` once per key, so a persistent problem is said once."""
        if key not in self._reported:
            self._reported.add(key)
            self.failed.emit(message)


#: The one estimator process of this program, shared by every window.
_ESTIMATOR = EstimatorProcess()


def shutdown_estimator():
    """Stop the estimator process (call once the last window has closed)."""
    _ESTIMATOR.close()


def _heat_grid(x, y, n):
    """Return a heat-map grid around the readings, and the inner box beyond which it is rebuilt."""
    span = max(np.ptp(x), np.ptp(y), 1.0)
    margin = max(MIN_MARGIN_M, MARGIN_FRACTION * span)
    grid = Grid.around(x, y, cells=n, margin_m=margin)
    half = margin / 2
    inner = (grid.x_m[0] + half, grid.x_m[-1] - half, grid.y_m[0] + half, grid.y_m[-1] - half)
    return grid, inner


def _inside(box, x, y):
    return box is not None and box[0] <= x <= box[1] and box[2] <= y <= box[3]


def _rect(grid):
    """Image rectangle (x0, y0, width, height) whose pixels are centred on the grid cells."""
    dx = (grid.x_m[-1] - grid.x_m[0]) / (len(grid.x_m) - 1)
    dy = (grid.y_m[-1] - grid.y_m[0]) / (len(grid.y_m) - 1)
    return (grid.x_m[0] - dx / 2, grid.y_m[0] - dy / 2, grid.x_m[-1] - grid.x_m[0] + dx,
            grid.y_m[-1] - grid.y_m[0] + dy)


def heat_levels(loglik):
    """Map a log-likelihood (nats) to 0..1: 1 at the peak, 0 at ``HEAT_DECADES`` decades
    below it and lower."""
    ll = np.asarray(loglik, dtype=float)
    rel = (ll - ll.max()) / np.log(10.0)
    return np.clip(1.0 + rel / HEAT_DECADES, 0.0, 1.0).astype(np.float32)
