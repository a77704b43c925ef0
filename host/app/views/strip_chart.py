"""Power strip chart of the selected target over the last minutes, in session time."""

import numpy as np
import pyqtgraph as pg

from host.app.views.map_view import POWER_RANGE_DBM

#: Least time span shown (the first readings of a hunt).
MIN_SPAN_S = 5.0


class SessionTimeAxis(pg.AxisItem):
    """Time axis in minutes:seconds since the session began (hours when longer)."""

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            s = int(round(v * scale))
            sign, s = ("-" if s < 0 else ""), abs(s)
            h, rem = divmod(s, 3600)
            m, sec = divmod(rem, 60)
            out.append(f"{sign}{h}:{m:02d}:{sec:02d}" if h else f"{sign}{m}:{sec:02d}")
        return out


class StripChart(pg.PlotWidget):
    """Detected power (dBm) against session time; red ticks at the bottom where measured
    but not heard.

    The time axis counts from the session's first record (``set_origin``), so a
    replayed hunt reads the same as it did live, and a hunt shorter than the
    window fills the chart instead of a corner of it.

    Parameters
    ----------
    window_s : float
        Width of the time window shown (2-10 minutes in use).
    """

    def __init__(self, window_s=300.0, parent=None):
        super().__init__(parent, axisItems={"bottom": SessionTimeAxis("bottom")})
        self.window_s = float(window_s)
        self.origin_s = None
        self.setBackground("w")
        plot = self.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("left", "power", units="dBm")
        plot.setLabel("bottom", "session time (min:s)")
        plot.setMenuEnabled(False)
        plot.setYRange(*POWER_RANGE_DBM, padding=0.02)
        plot.getViewBox().setMouseEnabled(x=False, y=True)
        # one-pixel pens take Qt's fast line path
        self.curve = pg.PlotDataItem(pen=pg.mkPen((20, 90, 200), width=1))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        # not-heard ticks as line pairs: a curve redraws thousands of them cheaply
        self.missed = pg.PlotCurveItem(pen=pg.mkPen((200, 60, 60), width=1), connect="pairs")
        plot.addItem(self.curve)
        plot.addItem(self.missed)

    def set_window(self, window_s):
        self.window_s = float(window_s)

    def set_origin(self, origin_s):
        """Session time zero (epoch seconds of the session's first record); None: the
        first time shown."""
        self.origin_s = origin_s

    def show_series(self, time_s, rssi_dbm, now_s=None):
        """Show the series; the view ends at ``now_s`` (default: the last time)."""
        if self.origin_s is None and len(time_s):
            self.origin_s = float(time_s[0])
        t0 = self.origin_s or 0.0
        if now_s is None:
            now_s = time_s[-1] if len(time_s) else t0
        # only the window shown is handed over: a long hunt costs no more than a short one
        first = np.searchsorted(time_s, now_s - self.window_s * 1.05)
        time_s, rssi_dbm = time_s[first:] - t0, rssi_dbm[first:]
        ok = np.isfinite(rssi_dbm)
        self.curve.setData(time_s[ok], rssi_dbm[ok], connect="finite")
        t_missed = np.repeat(time_s[~ok], 2)
        tick = np.tile([POWER_RANGE_DBM[0], POWER_RANGE_DBM[0] + 4.0], np.count_nonzero(~ok))
        self.missed.setData(t_missed, tick)
        end = now_s - t0
        # a hunt shorter than the window fills the chart
        start = max(end - self.window_s, 0.0)
        self.getPlotItem().setXRange(start, max(end, start + MIN_SPAN_S), padding=0.0)

    def clear_data(self):
        self.curve.setData([], [])
        self.missed.setData([], [])
