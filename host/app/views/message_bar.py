"""A message line at the top of the window for problems the operator must see.

Unlike a modal dialog it never blocks the window: data keeps flowing while the
message shows, and the operator closes it when read.
"""

from PyQt5.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

_STYLE = {
    "error": "background:#fbe3e3; color:#7a1010; border:1px solid #d88;",
    "info": "background:#e3eefb; color:#10407a; border:1px solid #8ad;",
}


class MessageBar(QFrame):
    """Shows the latest message with a close button; hidden while empty."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 4, 3)
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        close = QToolButton()
        close.setText("\u2715")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text, level="error"):
        self.setStyleSheet(f"MessageBar {{{_STYLE[level]}}} QLabel {{border:none;}}")
        self.label.setText(text)
        self.show()

    def text(self):
        return self.label.text() if self.isVisible() else ""

    def dismiss(self):
        self.label.setText("")
        self.hide()
