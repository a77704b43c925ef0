"""The console's estimator process: ``dsp.locate.estimate_position`` off the window's GIL.

A long walk's full estimate takes seconds of numpy and Python; run in the
console's own process it would hold the interpreter lock the window needs to
repaint.  It runs in a child process instead (``python -m host.app.estimator``),
started on first use and shared by every window of the program.

Protocol on the child's stdin/stdout: length-prefixed pickles (``<I`` length),
one request ``(arr, bearings, target, group, footprints)`` answered by one
reply ``(EstimateView or None, error line or None, seconds taken)``.
``footprints`` is the window's building polygons (a tuple of ``(n, 2)``
arrays, a few kB) sent whole with every request: the child keeps no state, so
a restarted child needs nothing replayed.  Both ends are this module, so
pickle carries only our own plain objects.
"""

import os
import pickle
import struct
import subprocess
import sys
import threading
import time

import numpy as np

#: Cells per axis of the full estimate's grid (it refines off-grid afterwards).
ESTIMATE_CELLS = 40
#: Scheduling niceness of the estimator process (Unix; 0 = as the window).
ESTIMATOR_NICE = 10


def estimate_view(arr, bearings, target, group=None, footprints=None):
    """THE answer (`dsp.answer`) for one target or one box: ``(EstimateView or None, error
    or None, seconds)``.

    ``arr`` has columns x_m, y_m, rssi_dbm (NaN = not detected), floor (NaN =
    unknown), time_s; ``bearings`` is ``(x_m, y_m, bearing_deg, sigma_deg)`` or None;
    ``group`` labels each reading's transmitter when several SIMs of one box are
    estimated together (one position, one P0 each); ``target`` names errors.
    ``footprints`` (building polygons, east/north metres) put the emitter in one
    of them; while none of them reaches the estimate's grid (the walk has not
    come near the drawn buildings yet) the estimate is made without them.
    """
    from dsp import answer
    from dsp.locate import Grid
    from host.app.model import EstimateView

    t0 = time.monotonic()
    x, y, rssi, floor, t = np.asarray(arr, dtype=float).T
    try:
        grid = Grid.around(x, y, cells=ESTIMATE_CELLS)
        kwargs = {"grid": grid, "bearings": bearings}
        if footprints and _any_on(grid, footprints):
            kwargs["footprints"] = footprints
        if group is not None and len(np.unique(group)) > 1:
            g = np.asarray(group, dtype=int)
            parts = [{"x_m": x[g == k], "y_m": y[g == k], "rssi_dbm": rssi[g == k],
                      "floor": floor[g == k], "time_s": t[g == k]} for k in np.unique(g)]
            ans = answer.locate_rack(parts, **kwargs)
        else:
            ans = answer.locate_target(x, y, rssi, floor=floor, time_s=t, **kwargs)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return None, f"target {target + 1}: no estimate yet ({exc})", time.monotonic() - t0
    est = ans.estimate
    view = EstimateView(ans.x_m, ans.y_m, ans.cov_m2, ans.cep50_m, ans.n_used,
                        floor=ans.floor, floor_prob=ans.floor_prob,
                        building=est.building, building_prob=est.building_prob)
    return view, None, time.monotonic() - t0


def _any_on(grid, footprints):
    """Whether any footprint holds a cell of ``grid`` (what ``estimate_position`` requires)."""
    from dsp.locate import footprint_owner

    return bool(np.any(footprint_owner(footprints, grid)[1] >= 0))


def _write(stream, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def _read(stream):
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack("<I", head)
    return pickle.loads(stream.read(n))


class EstimatorProcess:
    """Client end: ``run`` sends one request and waits for its reply (thread-safe)."""

    def __init__(self):
        self._proc = None
        self._lock = threading.Lock()

    def run(self, arr, bearings, target, group=None, footprints=None):
        """Estimate in the child (see ``estimate_view``); start (or restart) it when needed.

        Raises
        ------
        OSError
            The child could not be started or died mid-request.
        """
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen([sys.executable, "-m", "host.app.estimator"],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            try:
                _write(self._proc.stdin, (np.asarray(arr, dtype=float), bearings, target, group,
                                          footprints))
                reply = _read(self._proc.stdout)
            except (BrokenPipeError, EOFError, pickle.UnpicklingError) as exc:
                reply = None
                reason = exc
            else:
                reason = f"exit status {self._proc.poll()}"
            if reply is None:
                self._proc = None
                raise OSError(f"the estimator process stopped ({reason})")
            return reply

    def close(self):
        with self._lock:
            if self._proc is not None:
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
                self._proc = None


def main():
    """Child loop: answer requests until stdin closes."""
    # background work: on a two-core laptop the window's repaints go first
    os.nice(ESTIMATOR_NICE)
    while True:
        request = _read(sys.stdin.buffer)
        if request is None:
            return 0
        _write(sys.stdout.buffer, estimate_view(*request))


if __name__ == "__main__":
    sys.exit(main())
