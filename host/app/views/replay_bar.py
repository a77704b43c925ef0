"""Replay controls: play/pause, seek slider, speed."""

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton,
                             QWidget)

#: Offered replay speeds; 0 = as fast as possible.
SPEEDS = ((0.5, "0.5\u00d7"), (1.0, "1\u00d7"), (2.0, "2\u00d7"), (5.0, "5\u00d7"),
          (20.0, "20\u00d7"), (0.0, "max"))


class ReplayBar(QWidget):
    """Emits the operator's wishes; the window passes them to the replay source."""

    play_toggled = pyqtSignal(bool)
    seek_requested = pyqtSignal(float)
    speed_changed = pyqtSignal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        self.play = QToolButton()
        self.play.setCheckable(True)
        self.play.setChecked(True)
        self._icons = {True: self.style().standardIcon(QStyle.SP_MediaPause),
                       False: self.style().standardIcon(QStyle.SP_MediaPlay)}
        self.play.setIcon(self._icons[True])
        self.play.setToolTip("play / pause")
        self.play.toggled.connect(self._toggled)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.sliderReleased.connect(lambda: self.seek_requested.emit(self.slider.value() / 10.0))
        self.time = QLabel("0:00 / 0:00")
        self.speed = QComboBox()
        for value, text in SPEEDS:
            self.speed.addItem(text, value)
        self.speed.setCurrentIndex(1)
        self.speed.currentIndexChanged.connect(lambda i: self.speed_changed.emit(self.speed.itemData(i)))
        for w in (QLabel("replay"), self.play, self.slider, self.time, self.speed):
            layout.addWidget(w)
        layout.setStretch(2, 1)
        self._end_s = 0.0

    def _toggled(self, playing):
        self.play.setIcon(self._icons[playing])
        self.play_toggled.emit(playing)

    def set_speed(self, speed):
        for i in range(self.speed.count()):
            if self.speed.itemData(i) == speed:
                self.speed.setCurrentIndex(i)

    def set_duration(self, end_s):
        self._end_s = end_s
        self.slider.setRange(0, int(end_s * 10))

    def set_position(self, pos_s):
        if not self.slider.isSliderDown():
            self.slider.setValue(int(pos_s * 10))
        self.time.setText(f"{_mmss(pos_s)} / {_mmss(self._end_s)}")


def _mmss(t_s):
    t = int(t_s)
    return f"{t // 60}:{t % 60:02d}"
