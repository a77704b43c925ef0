"""Polar plot of the latest rotation scan: power against heading, with its bearing.

Headings are degrees clockwise from true north, drawn with north up, so a
point at heading h lies at (r sin h, r cos h).
"""

import numpy as np
import pyqtgraph as pg

from dsp.scans import coverage_deg as _coverage_deg

#: Dynamic range shown: the scan's peak at the rim, this many dB below at the centre.
RANGE_DB = 30.0
RING_STEP_DB = 10.0


class PolarPlot(pg.PlotWidget):
    """Latest scan of the selected target."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        plot = self.getPlotItem()
        plot.setAspectLocked(True)
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setMenuEnabled(False)
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        t = np.linspace(0, 2 * np.pi, 121)
        for k in range(1, int(RANGE_DB / RING_STEP_DB) + 1):
            r = k * RING_STEP_DB / RANGE_DB
            plot.addItem(pg.PlotCurveItem(r * np.sin(t), r * np.cos(t),
                                          pen=pg.mkPen((190, 190, 190), width=1)))
        for deg in range(0, 360, 30):
            a = np.radians(deg)
            plot.addItem(pg.PlotCurveItem([0, np.sin(a)], [0, np.cos(a)],
                                          pen=pg.mkPen((215, 215, 215), width=1)))
        for text, deg in (("N", 0), ("E", 90), ("S", 180), ("W", 270)):
            a = np.radians(deg)
            label = pg.TextItem(text, color=(60, 60, 60), anchor=(0.5, 0.5))
            label.setPos(1.14 * np.sin(a), 1.14 * np.cos(a))
            plot.addItem(label)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen((20, 90, 200), width=2))
        self.bearing = pg.PlotCurveItem(pen=pg.mkPen((220, 0, 0), width=3))
        self.caption = pg.TextItem("", color=(40, 40, 40), anchor=(0.5, 0.0))
        self.caption.setPos(0, -1.2)
        for item in (self.curve, self.bearing, self.caption):
            plot.addItem(item)
        plot.setRange(xRange=(-1.25, 1.25), yRange=(-1.45, 1.25), padding=0)

    def show_scan(self, scan, in_progress=False):
        """Show a ``model.Scan`` (None clears); ``in_progress`` for a turn not yet complete."""
        if scan is None or len(scan.heading_deg) == 0:
            self.curve.setData([], [])
            self.bearing.setData([], [])
            self.caption.setText("no rotation scan yet")
            return
        order = np.argsort(scan.heading_deg)
        h = np.radians(scan.heading_deg[order])
        p = scan.power_dbm[order]
        r = np.clip((p - (p.max() - RANGE_DB)) / RANGE_DB, 0.0, 1.0)
        x, y = r * np.sin(h), r * np.cos(h)
        if in_progress:
            # an open arc: closing it would draw a chord through headings not yet measured
            self.curve.setData(x, y)
            self.bearing.setData([], [])
            self.caption.setText(f"turning: {_coverage_deg(scan.heading_deg):.0f}\u00b0 "
                                 "of the circle so far")
            return
        self.curve.setData(np.append(x, x[0]), np.append(y, y[0]))
        if scan.bearing_deg is not None:
            b = np.radians(scan.bearing_deg)
            self.bearing.setData([0, np.sin(b)], [0, np.cos(b)])
            sigma = "" if scan.sigma_deg is None or not np.isfinite(scan.sigma_deg) \
                else f" \u00b1 {scan.sigma_deg:.0f}\u00b0"
            amb = " (ambiguous)" if scan.ambiguous else ""
            self.caption.setText(f"bearing {scan.bearing_deg:.0f}\u00b0{sigma}{amb}")
        else:
            self.bearing.setData([], [])
            self.caption.setText(f"no bearing: {scan.rejected}" if scan.rejected else "scan")

