"""Target list: one row per target, read from the model's targets."""

from PyQt5.QtCore import QAbstractTableModel, QModelIndex, Qt
from PyQt5.QtGui import QBrush, QColor

COLUMNS = ("label", "IMSI", "channel", "last power", "state", "estimate", "lat, lon",
           "building", "floor", "group")

_STATE_COLOURS = {"detected": QColor(200, 240, 200), "lost": QColor(250, 225, 190),
                  "no data": QColor(235, 235, 235)}


class TargetTableModel(QAbstractTableModel):
    """Qt table model over ``HuntModel.targets`` (rows sorted by target index)."""

    def __init__(self, hunt, parent=None):
        super().__init__(parent)
        self._hunt = hunt
        self._order = []
        self.active = None

    def set_hunt(self, hunt):
        self.beginResetModel()
        self._hunt = hunt
        self._order = sorted(hunt.targets)
        self.endResetModel()

    def refresh(self):
        """Pick up new targets (inserted rows) and changed values."""
        order = sorted(self._hunt.targets)
        if order != self._order:
            self.beginResetModel()
            self._order = order
            self.endResetModel()
        elif order:
            self.dataChanged.emit(self.index(0, 0), self.index(len(order) - 1, len(COLUMNS) - 1))

    def target_at(self, row):
        return self._order[row] if 0 <= row < len(self._order) else None

    def row_of(self, target):
        return self._order.index(target) if target in self._order else -1

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        t = self._hunt.targets[self._order[index.row()]]
        col = index.column()
        if role == Qt.DisplayRole:
            return _cell(self._hunt, t, col, self.active)
        if role == Qt.BackgroundRole and col == 4:
            return QBrush(_STATE_COLOURS[t.detection_state()])
        if role == Qt.TextAlignmentRole and col == 3:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


def _cell(hunt, t, col, active):
    if col == 0:
        return ("\u25b6 " if t.index == active else "") + t.label
    if col == 1:
        return t.imsi_masked
    if col == 2:
        return str(t.channel)
    if col == 3:
        return "" if t.last_rssi_dbm is None else f"{t.last_rssi_dbm:.1f} dBm"
    if col == 4:
        return t.detection_state()
    if col == 5:
        return t.quality()
    if col == 6:
        return latlon_text(hunt, t)
    if col == 7:
        return building_text(hunt, t)
    if col == 8:
        return floor_text(hunt, t)
    return t.group


def latlon_text(hunt, t):
    """``"52.520123, 13.405012"``: the estimate in WGS84 degrees, six decimals (0.1 m),
    what an officer types into a phone map; empty before an estimate or a fix."""
    ll = hunt.estimate_latlon(t.index)
    return "" if ll is None else f"{ll[0]:.6f}, {ll[1]:.6f}"


def floor_text(hunt, t):
    """``"2 (71 %) of 5"``: the most likely floor (0 = street), its probability and the
    building's floor count when the map knows it; empty without floor readings."""
    likely = hunt.likely_floor(t.index)
    if likely is None:
        return ""
    floor, prob, levels = likely
    return f"{floor} ({100.0 * prob:.0f} %)" + (f" of {levels}" if levels else "")


def building_text(hunt, t):
    """``"B1N 87 %"``: the most probable building and its probability; a dash once the
    target has an estimate without one (no buildings known), empty before."""
    if t.estimate is None:
        return ""
    likely = hunt.likely_building(t.index)
    if likely is None:
        return "\u2013"
    _k, name, prob = likely
    return f"{name} {100.0 * prob:.0f} %"
