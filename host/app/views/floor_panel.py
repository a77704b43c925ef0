"""Floor panel: the estimated probability of each floor (0 = street), and the roof of the
most probable building when the map knows its floor count."""

import pyqtgraph as pg


class FloorPanel(pg.PlotWidget):
    """Horizontal bars, one per floor, probability 0..1."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setLabel("left", "floor")
        plot.setLabel("bottom", "probability")
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.setXRange(0.0, 1.0, padding=0.02)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush=(20, 90, 200))
        self.best = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush=(220, 60, 0))
        plot.addItem(self.bars)
        plot.addItem(self.best)
        self.caption = pg.TextItem("", color=(40, 40, 40), anchor=(1, 0))
        plot.addItem(self.caption)
        # OSM building:levels counts the floors above ground, the street floor included:
        # floors 0 .. levels-1, so the roof is at levels - 0.5
        self.roof = pg.InfiniteLine(angle=0, pen=pg.mkPen((90, 90, 90), width=1.5,
                                                          style=pg.QtCore.Qt.DashLine),
                                    label="roof", labelOpts={"position": 0.9, "color": (90, 90, 90)})
        self.roof.setVisible(False)
        plot.addItem(self.roof)

    def show_floors(self, floor_prob, levels=None):
        """Show ``{floor: probability}``; empty or None clears.  ``levels``: the floor
        count of the most probable building, drawn as its roof."""
        plot = self.getPlotItem()
        self.roof.setVisible(bool(levels) and bool(floor_prob))
        if levels:
            self.roof.setPos(levels - 0.5)
        if not floor_prob:
            self.bars.setOpts(x0=[], y=[], width=[])
            self.best.setOpts(x0=[], y=[], width=[])
            self.caption.setText("no floor estimate")
            self.caption.setPos(1.0, 0.5)
            plot.getAxis("left").setTicks([[]])
            plot.setYRange(-0.5, 0.5, padding=0)
            return
        floors = sorted(floor_prob)
        probs = [float(floor_prob[f]) for f in floors]
        top = max(range(len(floors)), key=probs.__getitem__)
        self.bars.setOpts(x0=[0] * len(floors), y=floors, width=probs)
        self.best.setOpts(x0=[0], y=[floors[top]], width=[probs[top]])
        plot.getAxis("left").setTicks([[(f, "street" if f == 0 else str(f)) for f in floors]])
        top_y = max(floors[-1], levels - 0.5 if levels else floors[-1])
        plot.setYRange(floors[0] - 0.6, top_y + 0.6, padding=0)
        self.caption.setText(f"floor {floors[top]}: {probs[top]:.0%}")
        self.caption.setPos(1.0, top_y + 0.55)
