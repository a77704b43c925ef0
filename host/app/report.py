"""One-page hunt report (PNG or PDF): the map, the estimate, a per-target table.

Painted with QPainter on an A4 page so the PNG and the PDF look the same.
"""

import datetime
from pathlib import Path

from PyQt5.QtCore import QMarginsF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

#: PNG report resolution (A4 at 150 dpi).
PNG_SIZE_PX = (1240, 1754)
COLUMNS = ("target", "IMSI", "channel", "meas", "last dBm", "estimate (lat, lon)",
           "CEP50", "95 % ellipse", "floor")


def report_rows(hunt):
    """Return one tuple of strings per target, in COLUMNS order."""
    rows = []
    for t in sorted(hunt.targets.values(), key=lambda t: t.index):
        est = t.estimate
        where = cep = ell = floor = "\u2013"
        if est is not None and hunt.frame is not None:
            lat, lon = hunt.frame.to_latlon(est.x_m, est.y_m)
            where = f"{float(lat):.6f}, {float(lon):.6f}"
            cep = f"{est.cep50_m:.0f} m"
            major, minor = est.semi_axes_m()
            ell = f"{major:.0f} \u00d7 {minor:.0f} m"
            floor = "" if est.floor is None else str(est.floor)
        last = "" if t.last_rssi_dbm is None else f"{t.last_rssi_dbm:.1f}"
        rows.append((t.label, t.imsi_masked, str(t.channel), str(len(t.meas)), last, where, cep,
                     ell, floor))
    return rows


def write_report(window, path):
    """Write the report of ``window`` (a ConsoleWindow) to ``path`` (.png or .pdf)."""
    path = str(path)
    map_image = window.map.grab().toImage()
    if Path(path).suffix.lower() == ".pdf":
        pdf = QPdfWriter(path)
        pdf.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Portrait,
                                      QMarginsF(12, 12, 12, 12), QPageLayout.Millimeter))
        pdf.setResolution(150)
        pdf.setTitle("rfhound hunt report")
        painter = QPainter(pdf)
        rect = QRectF(0, 0, pdf.width(), pdf.height())
        _paint(painter, rect, window, map_image)
        painter.end()
    else:
        image = QImage(*PNG_SIZE_PX, QImage.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        _paint(painter, QRectF(60, 60, PNG_SIZE_PX[0] - 120, PNG_SIZE_PX[1] - 120), window,
               map_image)
        painter.end()
        if not image.save(path):
            raise OSError(f"cannot write {path}")


def _paint(p, rect, window, map_image):
    hunt = window.hunt
    unit = rect.width() / 1120.0
    p.setRenderHint(QPainter.Antialiasing)
    y = rect.top()
    p.setFont(_font(22 * unit, bold=True))
    p.drawText(QRectF(rect.left(), y, rect.width(), 40 * unit), Qt.AlignLeft, "rfhound hunt report")
    y += 44 * unit
    p.setFont(_font(11 * unit))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s = hunt.status
    lines = [f"made {stamp}; source: {window.source_name or 'none'}",
             f"calibration id: {s.calibration_id or 'unknown'}; device: {s.device or 'unknown'}"]
    if hunt.frame is not None:
        lines.append(f"map origin: {hunt.frame.lat0_deg:.6f}, {hunt.frame.lon0_deg:.6f} "
                     "(x east, y north, metres); ellipses are 95 %")
    for line in lines:
        p.drawText(QRectF(rect.left(), y, rect.width(), 20 * unit), Qt.AlignLeft, line)
        y += 20 * unit
    y += 8 * unit
    map_h = rect.height() * 0.58
    scaled = map_image.scaled(int(rect.width()), int(map_h), Qt.KeepAspectRatio,
                              Qt.SmoothTransformation)
    target = QRectF(rect.left(), y, scaled.width(), scaled.height())
    p.drawImage(target, scaled)
    p.setPen(QPen(QColor(120, 120, 120), max(1.0, unit)))
    p.drawRect(target)
    y += scaled.height() + 18 * unit

    widths = (0.09, 0.15, 0.10, 0.06, 0.08, 0.22, 0.08, 0.13, 0.09)
    xs = [rect.left()]
    for w in widths[:-1]:
        xs.append(xs[-1] + w * rect.width())
    row_h = 22 * unit
    p.setFont(_font(10 * unit, bold=True))
    p.setPen(QColor(0, 0, 0))
    for x, w, text in zip(xs, widths, COLUMNS):
        p.drawText(QRectF(x, y, w * rect.width(), row_h), Qt.AlignLeft | Qt.AlignVCenter, text)
    y += row_h
    p.drawLine(int(rect.left()), int(y), int(rect.right()), int(y))
    p.setFont(_font(10 * unit))
    for row in report_rows(hunt):
        if y + row_h > rect.bottom():
            break
        for x, w, text in zip(xs, widths, row):
            p.drawText(QRectF(x, y, w * rect.width(), row_h), Qt.AlignLeft | Qt.AlignVCenter, text)
        y += row_h


def _font(px, bold=False):
    f = QFont("DejaVu Sans")
    f.setPixelSize(max(6, int(px)))
    f.setBold(bold)
    return f
