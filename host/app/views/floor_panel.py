"""Floor panel: the estimated probability of each floor (0 = street)."""

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

    def show_floors(self, floor_prob):
        """Show ``{floor: probability}``; empty or None clears."""
        plot = self.getPlotItem()
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
        plot.setYRange(floors[0] - 0.6, floors[-1] + 0.6, padding=0)
        self.caption.setText(f"floor {floors[top]}: {probs[top]:.0%}")
        self.caption.setPos(1.0, floors[-1] + 0.55)
