"""The operations-centre window: the live-hunt list, duplicate targets flagged.

Reads a `host.ops.hunts.HuntBoard` on a one-second timer (the board is filled by
paho's network thread; the GUI never waits on the broker). Double-clicking a hunt
opens its archived session in the normal console hunt view.
"""

import os
import time

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QLabel, QMainWindow, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

COLUMNS = ("Team", "Area", "Targets", "Last fix", "Link age", "Records")
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
        rows = self.board.rows(now_s)
        self.table.setRowCount(len(rows))
        self._keys = [(r["team"], r["session_id"]) for r in rows]
        for i, r in enumerate(rows):
            cells = (r["team"], r["area"] or "-", r["targets"] or "-", _fix_text(r["last_fix"]),
                     _age_text(r["link_age_s"]), str(r["records"]))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"session {r['session_id']}")
                if r["duplicate"]:
                    item.setBackground(DUPLICATE_COLOUR)
                if j == 4 and r["link_age_s"] > STALE_LINK_S:
                    item.setForeground(STALE_COLOUR)
                if j == 5:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(i, j, item)
        dup = self.board.duplicates()
        self.duplicates.setText("" if not dup else "Seen in more than one hunt: " + "; ".join(
            f"{kind} {value} ({', '.join(team for team, _ in hunts)})"
            for (kind, value), hunts in sorted(dup.items())))

    def _activated(self, row, _column):
        if 0 <= row < len(self._keys):
            self.hunt_activated.emit(*self._keys[row])


class OpsWindow(QMainWindow):
    """Main window of ``rfhound ops``.

    Parameters
    ----------
    board : host.ops.hunts.HuntBoard
    path_for : callable
        ``path_for(team, session_id) -> Path`` of the archived session file.
    """

    hunt_opened = pyqtSignal(str)   # archived session path

    def __init__(self, board, path_for, refresh_ms=1000):
        super().__init__()
        self.setWindowTitle("rfhound operations centre")
        self.path_for = path_for
        self.list = OpsListWidget(board)
        self.list.hunt_activated.connect(self.open_hunt)
        self.setCentralWidget(self.list)
        self.resize(1100, 420)
        self._consoles = []
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.list.refresh)
        self.timer.start(refresh_ms)
        self.list.refresh()

    def open_hunt(self, team, session_id):
        """Open the archived session of one hunt in a console window (replayed to now)."""
        path = str(self.path_for(team, session_id))
        if not os.path.isfile(path):
            self.statusBar().showMessage(f"{team}: nothing archived yet for session {session_id}", 5000)
            return
        from host.app import make_window

        self._consoles.append(make_window(path, speed=0.0))
        self.hunt_opened.emit(path)
