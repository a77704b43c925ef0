"""The operations-centre window: the live-hunt list and the operations map.

Reads a `host.ops.hunts.HuntBoard` on a one-second timer (the board is filled by
paho's network thread; the GUI never waits on the broker). The list gives each
hunt's state (live, ended, silent) and current answer; the map under it shows
every team's track and answer (estimate, 95 % ellipse, building and floor) on
one map, over offline tiles and building footprints when given.
Double-clicking a hunt opens its archived session in the normal console hunt view;
selecting one centres the map on it.
"""

import os
import time

import numpy as np
from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (QLabel, QMainWindow, QSplitter, QTableWidget, QTableWidgetItem,
                             QVBoxLayout, QWidget)

from host.ops.hunts import answer_text

COLUMNS = ("Team", "Area", "Targets", "Last fix", "Link age", "Records", "State", "Answer")
#: Live hunts first, then those ended, then the silent ones.
STATE_ORDER = {"live": 0, "ended": 1, "silent": 2}
DUPLICATE_COLOUR = QColor(255, 214, 102)
# A link silent this long is shown stale: a few relay reconnect back-offs (8 s each).
STALE_LINK_S = 30.0
STALE_COLOUR = QColor(160, 160, 160)


def _age_text(age_s):
    if age_s < 60:
        return f"{age_s:.0f} s"
    if age_s < 3600:
        return f"{age_s / 60:.0f} min"
    return f"{age_s / 3600:.1f} h"


def _fix_text(fix):
    if fix is None:
        return "-"
    lat_deg, lon_deg, floor = fix
    return f"{lat_deg:.6f}, {lon_deg:.6f}" + ("" if floor is None else f"  floor {floor}")


def _state_text(row):
    if row["state"] == "silent":
        return f"silent {_age_text(row['silent_s'])}"
    return row["state"]


class OpsListWidget(QWidget):
    """Table of live hunts with the duplicate-target line under it.

    Parameters
    ----------
    board : host.ops.hunts.HuntBoard
    """

    hunt_activated = pyqtSignal(str, str)   # team, session_id

    def __init__(self, board, parent=None):
        super().__init__(parent)
        self.board = board
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(self._activated)
        self.duplicates = QLabel()
        self.duplicates.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.duplicates)
        self._keys = []

    def refresh(self, now_s=None):
        """Redraw from the board (``now_s`` defaults to the wall clock)."""
        now_s = time.time() if now_s is None else now_s
        rows = sorted(self.board.rows(now_s), key=lambda r: STATE_ORDER[r["state"]])
        self.rows = rows
        self.table.setRowCount(len(rows))
        self._keys = [(r["team"], r["session_id"]) for r in rows]
        for i, r in enumerate(rows):
            cells = (r["team"], r["area"] or "-", r["targets"] or "-", _fix_text(r["last_fix"]),
                     _age_text(r["link_age_s"]), str(r["records"]), _state_text(r),
                     answer_text(r["answer"]))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"session {r['session_id']}")
                if r["duplicate"]:
                    item.setBackground(DUPLICATE_COLOUR)
                if (j == 4 and r["link_age_s"] > STALE_LINK_S) or r["state"] != "live":
                    item.setForeground(STALE_COLOUR)
                if j == 5:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(i, j, item)
        for col in range(len(COLUMNS) - 1):  # whole coordinates, never "52.5205..."
            self.table.resizeColumnToContents(col)
        dup = self.board.duplicates()
        self.duplicates.setText("" if not dup else "Seen in more than one hunt: " + "; ".join(
            f"{kind} {value} ({', '.join(team for team, _ in hunts)})"
            for (kind, value), hunts in sorted(dup.items())))

    def _activated(self, row, _column):
        if 0 <= row < len(self._keys):
            self.hunt_activated.emit(*self._keys[row])

    def selected_key(self):
        rows = self.table.selectionModel().selectedRows()
        return self._keys[rows[0].row()] if rows and rows[0].row() < len(self._keys) else None


class OpsMap(QWidget):
    """Every team's track and current answer on one map (east/north metres about the first
    position heard; offline tiles and buildings under them when given).

    Built on the console's `MapView` (tiles, buildings, scale, north arrow, cursor);
    each hunt gets its own track, answer star, ellipse and label, in its team colour,
    greyed once it has ended or fallen silent.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        from host.app.views.map_view import MapView

        self.view = MapView()
        self.cursor = QLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.cursor)
        self.view.cursor_moved.connect(self._cursor)
        self.frame = None
        self._items = {}
        self._colours = {}
        self._geo_buildings = None
        self._extents = {}

    def _cursor(self, x_m, y_m):
        if self.frame is not None:
            from host.app.main_window import format_latlon

            lat, lon = self.frame.to_latlon(x_m, y_m)
            self.cursor.setText(f"cursor {format_latlon(float(lat), float(lon))}")

    def set_buildings(self, buildings):
        """Draw a `host.footprints_file.Buildings` set (degrees) once the map has its origin."""
        self._geo_buildings = buildings
        if self.frame is not None:
            self.view.show_buildings(buildings.to_local(self.frame).rings)

    def set_tiles(self, layer):
        self.view.set_tiles(layer)

    def _anchor(self, lat, lon):
        from host.app.geo import LocalFrame

        self.frame = LocalFrame(lat, lon)
        self.view.set_frame(self.frame)
        if self._geo_buildings is not None:
            self.set_buildings(self._geo_buildings)

    def colour(self, team):
        import pyqtgraph as pg

        if team not in self._colours:
            self._colours[team] = pg.intColor(len(self._colours), hues=8, values=1, maxValue=220)
        return self._colours[team]

    def _hunt_items(self, key):
        import pyqtgraph as pg

        if key not in self._items:
            plot = self.view.getPlotItem()
            items = {"track": pg.PlotCurveItem(), "ellipse": pg.PlotCurveItem(),
                     "answer": pg.ScatterPlotItem(size=16, symbol="star"),
                     "label": pg.TextItem("", anchor=(0.0, 1.0), fill=(255, 255, 255, 200)),
                     "n": -1}
            for name in ("track", "ellipse", "answer", "label"):
                items[name].setZValue(10)
                plot.addItem(items[name])
            self._items[key] = items
        return self._items[key]

    def show_hunts(self, rows, tracks):
        """Draw the hunts of `HuntBoard.rows` with their `HuntBoard.tracks`."""
        import pyqtgraph as pg

        if self.frame is None:
            for r in rows:
                pts = tracks.get((r["team"], r["session_id"])) or []
                first = pts[0] if pts else (r["answer"] and (r["answer"]["lat_deg"],
                                                             r["answer"]["lon_deg"]))
                if first:
                    self._anchor(*first)
                    break
            if self.frame is None:
                return
        for r in rows:
            key = (r["team"], r["session_id"])
            items = self._hunt_items(key)
            live = r["state"] == "live"
            colour = self.colour(r["team"]) if live else QColor(150, 150, 150)
            pts = tracks.get(key) or []
            if len(pts) != items["n"] or items.get("live") != live:
                items["n"], items["live"] = len(pts), live
                if pts:
                    lat, lon = np.array(pts).T
                    x, y = self._xy(lat, lon)
                    items["track"].setData(x, y, pen=pg.mkPen(colour, width=2.5 if live else 1.5))
                    self._extents[key] = (x.min(), x.max(), y.min(), y.max())
            self._show_answer(items, r, colour)
        if self._extents:
            self.view._extents = {f"hunt{k}": v for k, v in enumerate(self._extents.values())}
            self.view.fit()

    def _xy(self, lat, lon):
        import pymap3d

        e, n, _ = pymap3d.geodetic2enu(lat, lon, 0.0, self.frame.lat0_deg, self.frame.lon0_deg, 0.0)
        return np.atleast_1d(np.asarray(e, float)), np.atleast_1d(np.asarray(n, float))

    def _show_answer(self, items, row, colour):
        import pyqtgraph as pg

        ans = row["answer"]
        if ans is None:
            items["answer"].setData([], [])
            items["ellipse"].setData([], [])
            items["label"].setText("")
            return
        x, y = (float(v[0]) for v in self._xy(ans["lat_deg"], ans["lon_deg"]))
        r = (ans["ellipse"] or {}).get("semi_major_m", 0.0) + 10.0
        self._extents[("answer",) + (row["team"], row["session_id"])] = (x - r, x + 4 * r, y - r, y + r)
        items["answer"].setData([x], [y], brush=pg.mkBrush(colour), pen=pg.mkPen("k"))
        ell = ans["ellipse"]
        if ell:
            ex, ey = ellipse_xy(x, y, ell["semi_major_m"], ell["semi_minor_m"], ell["orientation_deg"])
            items["ellipse"].setData(ex, ey, pen=pg.mkPen(colour, width=2))
        else:
            items["ellipse"].setData([], [])
        where = ans["building"] or f"{ans['lat_deg']:.6f}, {ans['lon_deg']:.6f}"
        floor = "" if ans["floor"] is None else f", floor {ans['floor']}"
        items["label"].setText(f"{row['team']}: {where}{floor}")
        items["label"].setColor(colour)
        items["label"].setPos(x, y)

    def centre_on(self, key):
        """Show one hunt (its track and answer) filling the map."""
        if key in self._extents:
            from PyQt5.QtCore import QRectF

            x0, x1, y0, y1 = self._extents[key]
            self.view._auto_range = False
            self.view.getPlotItem().getViewBox().setRange(
                QRectF(x0, y0, max(x1 - x0, 20.0), max(y1 - y0, 20.0)), padding=0.2)


def ellipse_xy(x_m, y_m, semi_major_m, semi_minor_m, orientation_deg, n=73):
    """Outline of an ellipse whose major axis points ``orientation_deg`` clockwise from north."""
    t = np.linspace(0.0, 2.0 * np.pi, n)
    a = np.radians(orientation_deg)
    u = semi_major_m * np.cos(t)
    v = semi_minor_m * np.sin(t)
    # major axis along (sin a, cos a) (east, north), minor along (cos a, -sin a)
    return x_m + u * np.sin(a) + v * np.cos(a), y_m + u * np.cos(a) - v * np.sin(a)


class OpsWindow(QMainWindow):
    """Main window of ``rfhound ops``.

    Parameters
    ----------
    board : host.ops.hunts.HuntBoard
    path_for : callable
        ``path_for(team, session_id) -> Path`` of the archived session file.
    """

    hunt_opened = pyqtSignal(str)   # archived session path

    def __init__(self, board, path_for, refresh_ms=1000, buildings=None, background=None):
        super().__init__()
        self.setWindowTitle("rfhound operations centre")
        self.path_for = path_for
        self.board = board
        self.list = OpsListWidget(board)
        self.list.hunt_activated.connect(self.open_hunt)
        self.map = OpsMap()
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.list)
        split.addWidget(self.map)
        split.setSizes([260, 600])
        self.setCentralWidget(split)
        self.resize(1200, 900)
        self._city = {"buildings_file": buildings, "background": background}
        if buildings is not None:
            self.map.set_buildings(buildings)
        if background is not None:
            from host.app import tiles

            self.map.set_tiles(tiles.TileLayer(tiles.open_tiles(background)))
        self.list.table.itemSelectionChanged.connect(
            lambda: self.map.centre_on(self.list.selected_key()))
        self._consoles = []
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(refresh_ms)
        self.refresh()

    def refresh(self, now_s=None):
        """Redraw the list and the map from the board."""
        self.list.refresh(now_s)
        self.map.show_hunts(self.list.rows, self.board.tracks())

    def open_hunt(self, team, session_id):
        """Open the archived session of one hunt in a console window (replayed to now)."""
        path = str(self.path_for(team, session_id))
        if not os.path.isfile(path):
            self.statusBar().showMessage(f"{team}: nothing archived yet for session {session_id}", 5000)
            return
        from host.app import make_window

        # the hunt view gets the centre's city too
        self._consoles.append(make_window(path, speed=0.0, **self._city))
        self.hunt_opened.emit(path)
