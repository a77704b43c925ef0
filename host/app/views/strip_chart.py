"""Power strip chart of the selected target over the last minutes."""

import numpy as np
import pyqtgraph as pg

from host.app.views.map_view import POWER_RANGE_DBM


class StripChart(pg.PlotWidget):
    """Detected power (dBm) against time; ticks at the bottom where measured but not heard.

    Parameters
    ----------
    window_s : float
        Width of the time window shown (2-10 minutes in use).
    """

    def __init__(self, window_s=300.0, parent=None):
        super().__init__(parent, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.window_s = float(window_s)
        self.setBackground("w")
        plot = self.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("left", "power", units="dBm")
        plot.setMenuEnabled(False)
        plot.setYRange(*POWER_RANGE_DBM, padding=0.02)
        plot.getViewBox().setMouseEnabled(x=False, y=True)
        self.curve = pg.PlotDataItem(pen=pg.mkPen((20, 90, 200), width=1.5), symbol="o",
                                     symbolSize=3, symbolPen=None, symbolBrush=(20, 90, 200))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.missed = pg.ScatterPlotItem(size=6, symbol="|", pen=pg.mkPen((200, 60, 60)),
                                         brush=None)
        plot.addItem(self.curve)
        plot.addItem(self.missed)

    def set_window(self, window_s):
        self.window_s = float(window_s)

    def show_series(self, time_s, rssi_dbm, now_s=None):
        """Show the series; the view ends at ``now_s`` (default: the last time)."""
        ok = np.isfinite(rssi_dbm)
        self.curve.setData(time_s[ok], rssi_dbm[ok], connect="finite")
        floor_dbm = POWER_RANGE_DBM[0] + 2.0
        self.missed.setData(time_s[~ok], np.full(np.count_nonzero(~ok), floor_dbm))
        if now_s is None:
            now_s = time_s[-1] if len(time_s) else 0.0
        self.getPlotItem().setXRange(now_s - self.window_s, now_s, padding=0.0)

    def clear_data(self):
        self.curve.setData([], [])
        self.missed.setData([], [])
