"""The hunt map: track coloured by power, posterior heat map, bearing wedges,
estimate with its 95 % ellipse, marks, buildings (the most probable one
outlined and named), offline background (raster tiles and/or an image with a
world file), a metre scale and a north arrow; ``cursor_moved`` reports the
point under the mouse.

East/north metres about the first fix; north is up.  Every plot item is made
once in ``__init__`` and later only fed with ``setData``/``setImage``/``setPath``.
"""

import math

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.GraphicsWidgetAnchor import GraphicsWidgetAnchor
from PyQt5.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QPainterPath, QPen, QPolygonF, QTransform
from PyQt5.QtWidgets import QGraphicsItem, QGraphicsPathItem

#: Fixed power colour scale of the track (dBm); fixed so colours mean the same all hunt.
POWER_RANGE_DBM = (-120.0, -50.0)
#: Number of colour steps of the track; brushes are made once per step.
POWER_STEPS = 32
#: The map zooms in again when the hunt spans less than this share of the view both ways.
SHRINK_BELOW = 0.35
#: Length of a drawn bearing wedge.
WEDGE_LENGTH_M = 400.0
#: Outline of the most probable building (the floor panel's "most likely" orange).
LIKELY_COLOUR = (220, 60, 0)


def power_colormap():
    """Return the colour map shared by the track, the strip chart and the legend."""
    return pg.colormap.get("viridis")


class MetreScale(pg.ScaleBar):
    """Scale bar that picks a round length (1, 2, 5 x 10^k m) of about a fifth of the view."""

    def __init__(self):
        super().__init__(size=10, width=4, brush=(40, 40, 40), suffix="m", offset=(-20, -30))
        self.text.setColor((20, 20, 20))

    def updateBar(self):
        view = self.parentItem()
        if view is None:
            return
        (x0, x1), _ = view.viewRange()
        target = max((x1 - x0) / 5.0, 1e-3)
        exp = math.floor(math.log10(target))
        size = max(m * 10 ** exp for m in (1, 2, 5) if m * 10 ** exp <= target)
        if size != self.size:
            self.size = size
            self.text.setText(pg.siFormat(size, suffix="m"))
        super().updateBar()


class NorthArrow(GraphicsWidgetAnchor, pg.GraphicsObject):
    """An arrow with an N pinned to the top-right corner of the view (north is up)."""

    def __init__(self):
        pg.GraphicsObject.__init__(self)
        GraphicsWidgetAnchor.__init__(self)
        self.setFlag(self.GraphicsItemFlag.ItemHasNoContents)
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(0, -18), QPointF(9, 10), QPointF(0, 4), QPointF(-9, 10),
                                   QPointF(0, -18)]))
        arrow = QGraphicsPathItem(path, self)
        arrow.setBrush(QBrush(QColor(30, 30, 30)))
        arrow.setPen(QPen(QColor(255, 255, 255), 1.2))
        label = pg.TextItem("N", color=(30, 30, 30), anchor=(0.5, 1.0))
        label.setParentItem(self)
        label.setPos(0, -18)

    def boundingRect(self):
        return QRectF()

    def setParentItem(self, parent):
        ret = pg.GraphicsObject.setParentItem(self, parent)
        self.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-26, 44))
        return ret


class MapView(pg.PlotWidget):
    """The hunt map; feed it with the ``show_*`` methods."""

    #: East/north metres under the mouse pointer.
    cursor_moved = pyqtSignal(float, float)
    #: Tiles are re-read this long after the view last moved (a drag is one re-read).
    TILE_DELAY_MS = 120

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        plot = self.getPlotItem()
        plot.setAspectLocked(True)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "east", units="m")
        plot.setLabel("left", "north", units="m")
        plot.setMenuEnabled(False)
        vb = plot.getViewBox()

        self.background = pg.ImageItem(axisOrder="row-major")
        self.background.setZValue(-20)
        self.tiles = pg.ImageItem(axisOrder="row-major")
        self.tiles.setZValue(-21)
        self._tile_layer = None
        self._frame = None
        self._tiles_box = None
        self._tile_timer = QTimer(self)
        self._tile_timer.setSingleShot(True)
        self._tile_timer.setInterval(self.TILE_DELAY_MS)
        self._tile_timer.timeout.connect(self.render_tiles)
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setLookupTable(_heat_lut())
        self.heat.setLevels((0.0, 1.0))
        self.heat.setZValue(-10)
        self.buildings = QGraphicsPathItem()
        self.buildings.setPen(pg.mkPen((90, 90, 90), width=1.5, cosmetic=True))
        self.buildings.setBrush(QBrush(QColor(120, 120, 120, 40)))
        self.buildings.setZValue(-5)
        # a city's thousands of outlines are drawn once per view, then blitted
        self.buildings.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        # the estimate's most probable building: over the other outlines, under the track
        self.likely_building = QGraphicsPathItem()
        self.likely_building.setPen(pg.mkPen(LIKELY_COLOUR, width=3.5, cosmetic=True))
        self.likely_building.setBrush(QBrush(QColor(*LIKELY_COLOUR, 30)))
        self.likely_building.setZValue(-4)
        self.likely_label = pg.TextItem("", color=LIKELY_COLOUR, fill=(255, 255, 255, 190),
                                        anchor=(0.0, 0.0))
        self.likely_label.setZValue(5)
        self.wedges = QGraphicsPathItem()
        self.wedges.setPen(pg.mkPen((230, 120, 0, 200), width=1, cosmetic=True))
        self.wedges.setBrush(QBrush(QColor(255, 160, 0, 55)))
        # earlier scans' wedges (bearing history), fainter than the latest
        self.old_wedges = QGraphicsPathItem()
        self.old_wedges.setPen(pg.mkPen((200, 130, 60, 110), width=1, cosmetic=True))
        self.old_wedges.setBrush(QBrush(QColor(255, 180, 80, 22)))
        # the estimates so far, oldest first: where the answer has been
        self.trail = pg.PlotDataItem(pen=pg.mkPen((150, 0, 0, 160), width=1.5, style=Qt.DashLine),
                                     symbol="o", symbolSize=5, symbolPen=None,
                                     symbolBrush=(150, 0, 0, 160))
        self.path_line = pg.PlotDataItem(pen=pg.mkPen((150, 150, 150), width=1))
        self.path_line.setDownsampling(auto=True, method="peak")
        self.path_line.setClipToView(True)
        # The track is drawn as round-capped dots, one curve item per colour step: a new
        # point touches one small curve, where a 10,000-point coloured scatter would
        # rebuild its whole spot table (tens of ms) on every update.
        cmap = power_colormap()
        self.track_steps = [pg.PlotCurveItem(pen=_dot_pen(c, 7), connect="pairs")
                            for c in cmap.getLookupTable(nPts=POWER_STEPS, mode="qcolor")]
        self.undetected = pg.PlotCurveItem(pen=_dot_pen(QColor(150, 150, 150), 4), connect="pairs")
        # Cached as pixmaps: a repaint blits the colour steps that did not change.
        for item in self.track_steps + [self.undetected]:
            item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.ellipse = pg.PlotCurveItem(pen=pg.mkPen((200, 0, 0), width=2.5))
        self.estimate = pg.ScatterPlotItem(size=18, symbol="star", pen=pg.mkPen("k"),
                                           brush=pg.mkBrush(230, 0, 0))
        self.marks = pg.ScatterPlotItem(size=12, symbol="t1", pen=pg.mkPen("k"),
                                        brush=pg.mkBrush(0, 120, 255))
        self.here = pg.ScatterPlotItem(size=12, symbol="o", pen=pg.mkPen("k", width=2),
                                       brush=pg.mkBrush(255, 255, 255))
        for item in ([self.tiles, self.background, self.heat, self.buildings, self.likely_building,
                      self.likely_label, self.old_wedges, self.wedges, self.path_line, self.trail,
                      self.undetected] + self.track_steps
                     + [self.ellipse, self.marks, self.here, self.estimate]):
            plot.addItem(item)
        self.scale = MetreScale()
        self.scale.setParentItem(vb)
        self.north = NorthArrow()
        self.north.setParentItem(vb)
        self.legend = pg.TextItem("", color=(40, 40, 40), anchor=(0, 0))
        self.legend.setParentItem(vb)
        self.legend.setPos(6, 4)
        self._auto_range = True
        self._extents = {}
        self._fitted = None
        vb.sigRangeChangedManually.connect(self._user_moved)
        vb.sigRangeChanged.connect(self._view_moved)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.clear_hunt()

    def _mouse_moved(self, pos):
        vb = self.getPlotItem().getViewBox()
        if vb.sceneBoundingRect().contains(pos):
            p = vb.mapSceneToView(pos)
            self.cursor_moved.emit(p.x(), p.y())

    # ----------------------------------------------------------------- tiles
    def set_frame(self, frame):
        """The geographic frame of the east/north metres (a ``geo.LocalFrame``)."""
        if frame is not self._frame:
            self._frame = frame
            self._tiles_box = None
            self._view_moved()

    def set_tiles(self, layer):
        """Draw a ``tiles.TileLayer`` under everything (None removes it)."""
        self._tile_layer = layer
        self._tiles_box = None
        if layer is None:
            self.tiles.clear()
        else:
            self._view_moved()

    def _view_moved(self, *_):
        if self._tile_layer is not None and self._frame is not None:
            self._tile_timer.start()

    def render_tiles(self):
        """Read the tiles under the view (and a quarter of it around) at the view's zoom."""
        if self._tile_layer is None or self._frame is None:
            return
        vb = self.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        width_px = max(vb.width(), 100.0)
        m_per_px = (x1 - x0) / width_px
        if self._tiles_box is not None:
            bx0, by0, bx1, by1, b_res = self._tiles_box
            if (bx0 <= x0 and x1 <= bx1 and by0 <= y0 and y1 <= by1
                    and 0.7 < m_per_px / b_res < 1.4):
                return
        pad_x, pad_y = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
        box = (x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y)
        out = self._tile_layer.render(self._frame, *box, width_px * 1.5)
        self._tiles_box = box + (m_per_px,)
        if out is None:
            self.tiles.clear()
            return
        image, (a, b, c, d, e, f) = out
        self.tiles.setImage(image, autoLevels=False, levels=(0, 255))
        self.tiles.setTransform(QTransform(a, d, b, e, c, f))

    def _user_moved(self, *_):
        self._auto_range = False

    def follow(self):
        """Fit the view to the data again after the user has panned or zoomed."""
        self._auto_range = True
        self._fitted = None
        self.fit()

    def clear_hunt(self):
        """Empty the hunt items (new source or a seek backwards); keep buildings and background."""
        for item in self.track_steps:
            item.setData([], [])
        self.undetected.setData([], [])
        self.path_line.setData([], [])
        self.ellipse.setData([], [])
        self.estimate.setData([], [])
        self.show_likely_building(None)
        self.marks.setData([], [])
        self.here.setData([], [])
        self.heat.clear()
        self.wedges.setPath(QPainterPath())
        self.old_wedges.setPath(QPainterPath())
        self.trail.setData([], [])
        self.legend.setText("")
        self._extents.pop("track", None)
        self._extents.pop("estimate", None)
        self._track_n, self._track_range = 0, None
        self._fitted = None

    def show_track(self, x_m, y_m, rssi_dbm, range_dbm=POWER_RANGE_DBM):
        """Show one target's measurement places coloured by its power over ``range_dbm``;
        grey dots where it was measured but not heard.

        The arrays only ever grow while one target is shown, so only the colour
        steps that got new points are updated; a new colour range or a shorter
        series redraws all.
        """
        n = len(x_m)
        start = self._track_n if (range_dbm == self._track_range and n >= self._track_n) else 0
        if start == 0:
            self._dots = [[] for _ in range(POWER_STEPS + 1)]
        nx, ny, nr = x_m[start:], y_m[start:], rssi_dbm[start:]
        lo, hi = range_dbm
        ok = np.isfinite(nr)
        step = np.full(len(nr), POWER_STEPS)
        step[ok] = np.clip(((nr[ok] - lo) / (hi - lo) * (POWER_STEPS - 1)).astype(int),
                           0, POWER_STEPS - 1)
        touched = range(POWER_STEPS + 1) if start == 0 else np.unique(step)
        for k in touched:
            sel = step == k
            if sel.any():
                self._dots[k].append(np.column_stack([nx[sel], ny[sel]]))
            pts = np.concatenate(self._dots[k]) if self._dots[k] else np.empty((0, 2))
            self._dots[k] = [pts]
            item = self.undetected if k == POWER_STEPS else self.track_steps[k]
            # each point is a pair of coincident-but-for-a-hair ends: a round-capped dot
            item.setData(np.repeat(pts[:, 0], 2) + np.tile([0.0, 1e-3], len(pts)),
                         np.repeat(pts[:, 1], 2))
        self._track_n, self._track_range = n, range_dbm
        self.path_line.setData(x_m, y_m)
        if n:
            self.here.setData([x_m[-1]], [y_m[-1]])
            box = self._extents.get("track") if start else None
            lo_x, hi_x, lo_y, hi_y = box if box else (np.inf, -np.inf, np.inf, -np.inf)
            self._extents["track"] = (min(lo_x, nx.min()), max(hi_x, nx.max()),
                                      min(lo_y, ny.min()), max(hi_y, ny.max()))
        else:
            self.here.setData([], [])
            self._extents.pop("track", None)

    def show_heat(self, heat):
        """Show ``(levels 0..1 (ny, nx), (x0, y0, width, height) m)``; None clears."""
        if heat is None:
            self.heat.clear()
            return
        image, rect = heat
        self.heat.setImage(image, autoLevels=False, levels=(0.0, 1.0))
        self.heat.setRect(QRectF(*rect))

    def show_estimate(self, est):
        """Show a ``model.EstimateView`` (or clear with None): point and 95 % ellipse."""
        if est is None:
            self.estimate.setData([], [])
            self.ellipse.setData([], [])
            self._extents.pop("estimate", None)
            return
        self.estimate.setData([est.x_m], [est.y_m])
        ex, ey = est.ellipse_xy()
        self.ellipse.setData(ex, ey)
        self._extents["estimate"] = (ex.min(), ex.max(), ey.min(), ey.max())

    def show_legend(self, text):
        self.legend.setText(text)

    def show_bearings(self, bearings, history=True):
        """Draw wedges ``(x_m, y_m, bearing_deg, sigma_deg)``: bearing +/- 2 sigma (about 95 %).

        The last one is the latest scan; with ``history`` the earlier ones are drawn
        fainter under it, else left out."""
        self.wedges.setPath(_wedge_path(bearings[-1:]))
        self.old_wedges.setPath(_wedge_path(bearings[:-1] if history else []))

    def show_trail(self, x_m, y_m):
        """Draw the estimates so far (oldest first) as a dotted trail; empty clears."""
        self.trail.setData(np.asarray(x_m, float), np.asarray(y_m, float))

    def show_marks(self, x_m, y_m):
        self.marks.setData(x_m, y_m)

    def show_buildings(self, polygons):
        """Draw building outlines, each an ``(n, 2)`` array of east/north metres."""
        path = QPainterPath()
        for poly in polygons:
            pts = [QPointF(float(x), float(y)) for x, y in np.asarray(poly, dtype=float)]
            if len(pts) >= 3:
                path.addPolygon(QPolygonF(pts + [pts[0]]))
        self.buildings.setPath(path)
        self.show_likely_building(None)
        box = path.boundingRect()
        if box.width() > 0:
            self._extents["buildings"] = (box.left(), box.right(), box.top(), box.bottom())

    def show_likely_building(self, polygon, text=""):
        """Outline the most probable building (``(n, 2)`` east/north metres) and name it
        with ``text`` in its north-west corner (inside: the street holds the track); None
        clears."""
        path = QPainterPath()
        self.likely_label.setVisible(polygon is not None)
        if polygon is None:
            self.likely_label.setText("")
        else:
            pts = [QPointF(float(x), float(y)) for x, y in np.asarray(polygon, dtype=float)]
            path.addPolygon(QPolygonF(pts + [pts[0]]))
            box = path.boundingRect()
            self.likely_label.setText(text)
            # bottom() is the largest y: the northern edge, drawn on top with north up
            self.likely_label.setPos(box.left(), box.bottom())
        self.likely_building.setPath(path)

    def show_background(self, image_rgba, pixel_to_xy):
        """Show an offline map image; ``pixel_to_xy`` is the affine (a, b, c, d, e, f) with
        ``x = a*col + b*row + c`` and ``y = d*col + e*row + f`` (pixel corners)."""
        a, b, c, d, e, f = pixel_to_xy
        self.background.setImage(image_rgba, autoLevels=False, levels=(0, 255))
        self.background.setTransform(QTransform(a, d, b, e, c, f))

    def fit(self):
        """Keep the track, estimate and buildings in view unless the user has moved it.

        The view changes only when something has left it, when the hunt spans
        less than ``SHRINK_BELOW`` of it both ways (an early, wide ellipse has shrunk), or
        after ``clear_hunt`` and ``follow``; then with room to spare: every
        change of view re-renders the cached track.
        """
        if not self._auto_range or not self._extents:
            return
        ext = np.array(list(self._extents.values()), dtype=float)
        x0, x1 = ext[:, 0].min(), ext[:, 1].max()
        y0, y1 = ext[:, 2].min(), ext[:, 3].max()
        box = QRectF(x0, y0, max(x1 - x0, 10.0), max(y1 - y0, 10.0))
        vb = self.getPlotItem().getViewBox()
        view = vb.viewRect()
        # after a fit the hunt spans most of the view in at least one direction (the
        # other may be set by the locked aspect), so this cannot refit on every frame
        small = (box.width() < SHRINK_BELOW * view.width()
                 and box.height() < SHRINK_BELOW * view.height())
        if self._fitted is not None and view.contains(box) and not small:
            return
        padding = 0.08 if self._fitted is None else 0.2
        self._fitted = box
        vb.setRange(box, padding=padding)
        if self._tile_layer is not None:
            # now, not after the view settles: a screenshot right after a fit has its tiles
            self._tile_timer.stop()
            self.render_tiles()


def _wedge_path(bearings):
    path = QPainterPath()
    for x, y, bearing, sigma in bearings:
        half = 2.0 * (sigma if np.isfinite(sigma) else 10.0)
        angles = np.radians(np.linspace(bearing - half, bearing + half, 12))
        pts = [QPointF(x, y)] + [QPointF(x + WEDGE_LENGTH_M * math.sin(a),
                                         y + WEDGE_LENGTH_M * math.cos(a)) for a in angles]
        path.addPolygon(QPolygonF(pts + [QPointF(x, y)]))
    return path


def _dot_pen(colour, width_px):
    return pg.mkPen(colour, width=width_px, cosmetic=True, capStyle=Qt.RoundCap)


def _heat_lut():
    """Posterior colour table: transparent at zero, opaque warm colours at the peak."""
    lut = power_colormap_heat().getLookupTable(nPts=256, alpha=True)
    lut[:, 3] = (np.linspace(0.0, 1.0, 256) ** 0.6 * 190).astype(np.ubyte)
    return lut


def power_colormap_heat():
    return pg.colormap.get("inferno")
