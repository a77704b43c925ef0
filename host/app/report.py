"""One-page hunt report (PNG or PDF): map, per-target table, floor probabilities.

Painted with QPainter on an A4 page so the PNG and the PDF look the same, and so
it can be made without a window: ``rfhound export SESSION --report F`` paints the
map itself (buildings, track coloured by power, 95 % ellipses, estimates, marks,
scale bar); the window's Export menu passes the map it shows.  Both use
``write_report``; the data are a ``host.app.export.HuntExport``.

The page is filled top to bottom: heading, the map (all the height the rest
leaves), the table (building and floor included), floor-probability bars, and
notes (how many readings had no position fix).
"""

import datetime
from pathlib import Path

import numpy as np
from PyQt5.QtCore import QMarginsF, QPointF, QRectF, Qt
from PyQt5.QtGui import (QBrush, QColor, QFont, QGuiApplication, QImage, QPageLayout, QPageSize,
                         QPainter, QPainterPath, QPdfWriter, QPen, QPolygonF)

from host.app import export

#: PNG report resolution (A4 at 150 dpi).
PNG_SIZE_PX = (1240, 1754)
COLUMNS = ("target", "IMSI", "meas", "estimate (lat, lon)", "CEP50", "95 % ellipse (axes)",
           "building", "floor")
_WIDTHS = (0.10, 0.15, 0.07, 0.21, 0.07, 0.15, 0.16, 0.09)
#: At most this many readings per target are drawn as dots (evenly thinned).
MAX_DOTS = 20000
_APP = []


def _colour(kml):
    """QColor of a KML aabbggrr colour."""
    return QColor(int(kml[6:8], 16), int(kml[4:6], 16), int(kml[2:4], 16))


def report_rows(data):
    """One tuple of strings per target, in COLUMNS order."""
    data = export.from_hunt(data)
    hunt = data.hunt
    rows = []
    dash = "\u2013"
    for t in sorted(hunt.targets.values(), key=lambda t: t.index):
        where = cep = ell = floor = building = dash
        if t.estimate is not None and hunt.frame is not None:
            props = export.estimate_summary(hunt, t)
            where = f"{props['lat_deg']:.6f}, {props['lon_deg']:.6f}"
            cep = f"{props['cep50_m']:.0f} m"
            ell = (f"{props['ellipse95_major_axis_m']:.0f} \u00d7 "
                   f"{props['ellipse95_minor_axis_m']:.0f} m")
            if props["floor"] is not None:
                p = t.estimate.floor_prob.get(props["floor"])
                floor = str(props["floor"]) + ("" if p is None else f" ({p:.0%})")
            if props.get("building") is not None:
                building = f"{props['building']} ({props['building_prob']:.0%})"
        rows.append((t.label, t.imsi_masked or dash, str(len(t.meas)), where, cep, ell, building,
                     floor))
    return rows


def write_report(source, path):
    """Write the report of ``source`` to ``path`` (.png or .pdf).

    ``source`` is a ``ConsoleWindow`` (its map as shown goes on the page) or a
    ``HuntExport`` (the map is painted from the data).
    """
    path = str(path)
    if hasattr(source, "map") and hasattr(source, "hunt"):
        data = export.from_hunt(source.hunt, source_name=source.source_name or "none",
                                session=export.window_session(source))
        map_image = source.map.grab().toImage()
    else:
        data, map_image = export.from_hunt(source), None
        if QGuiApplication.instance() is None:
            _APP.append(QGuiApplication(["rfhound report"]))
    if Path(path).suffix.lower() == ".pdf":
        pdf = QPdfWriter(path)
        pdf.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Portrait,
                                      QMarginsF(12, 12, 12, 12), QPageLayout.Millimeter))
        pdf.setResolution(150)
        pdf.setTitle("rfhound hunt report")
        painter = QPainter(pdf)
        _paint(painter, QRectF(0, 0, pdf.width(), pdf.height()), data, map_image)
        painter.end()
    else:
        image = QImage(*PNG_SIZE_PX, QImage.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        _paint(painter, QRectF(60, 60, PNG_SIZE_PX[0] - 120, PNG_SIZE_PX[1] - 120), data,
               map_image)
        painter.end()
        if not image.save(path):
            raise OSError(f"cannot write {path}")


def _floor_blocks(hunt):
    """(title, [(floor, prob)]) per distinct estimate (the SIMs of one box share one)."""
    blocks, seen = [], {}
    for t in sorted(hunt.targets.values(), key=lambda t: t.index):
        est = t.estimate
        if est is None or not est.floor_prob:
            continue
        if id(est) in seen:
            blocks[seen[id(est)]][0].append(t.label)
            continue
        seen[id(est)] = len(blocks)
        blocks.append(([t.label], sorted((int(k), float(v)) for k, v in est.floor_prob.items())))
    return [(" + ".join(labels), floors) for labels, floors in blocks]


def _paint(p, rect, data, map_image):
    hunt = data.hunt
    unit = rect.width() / 1120.0
    p.setRenderHint(QPainter.Antialiasing)
    y = rect.top()
    p.setPen(QColor(0, 0, 0))
    p.setFont(_font(22 * unit, bold=True))
    p.drawText(QRectF(rect.left(), y, rect.width(), 40 * unit), Qt.AlignLeft, "rfhound hunt report")
    y += 44 * unit
    p.setFont(_font(11 * unit))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s = hunt.status
    lines = [f"made {stamp}; source: {data.source_name or 'none'}",
             f"calibration id: {s.calibration_id or 'unknown'}; device: {s.device or 'unknown'}"]
    if hunt.frame is not None:
        lines.append(f"map origin: {hunt.frame.lat0_deg:.6f}, {hunt.frame.lon0_deg:.6f} "
                     "(x east, y north, metres); ellipses are 95 %, sizes are full axes")
    for line in lines:
        p.drawText(QRectF(rect.left(), y, rect.width(), 20 * unit), Qt.AlignLeft, line)
        y += 20 * unit
    y += 8 * unit

    rows = report_rows(data)
    blocks = _floor_blocks(hunt)
    notes = [data.no_fix_line()] + [n for n in data.notes() if "no position fix" not in n]
    row_h = 22 * unit
    table_h = row_h * (len(rows) + 1) + 16 * unit
    per_row = 4
    bar_h = 17 * unit
    floors_h = 0.0
    if blocks:
        n_lines = max(len(f) for _, f in blocks)
        floors_h = 30 * unit + ((len(blocks) + per_row - 1) // per_row) * (22 * unit + n_lines * bar_h
                                                                           + 10 * unit)
    notes_h = 18 * unit * len(notes) + 10 * unit
    map_h = max(rect.bottom() - y - table_h - floors_h - notes_h - 12 * unit, 0.3 * rect.height())
    map_rect = QRectF(rect.left(), y, rect.width(), map_h)
    if map_image is not None:
        scaled = map_image.scaled(int(map_rect.width()), int(map_rect.height()), Qt.KeepAspectRatio,
                                  Qt.SmoothTransformation)
        map_rect = QRectF(rect.left(), y, scaled.width(), scaled.height())
        p.drawImage(map_rect, scaled)
    else:
        paint_map(p, map_rect, hunt, unit)
    p.setPen(QPen(QColor(120, 120, 120), max(1.0, unit)))
    p.setBrush(Qt.NoBrush)
    p.drawRect(map_rect)
    y += map_rect.height() + 16 * unit

    xs = [rect.left()]
    for w in _WIDTHS[:-1]:
        xs.append(xs[-1] + w * rect.width())
    p.setFont(_font(10 * unit, bold=True))
    p.setPen(QColor(0, 0, 0))
    for x, w, text in zip(xs, _WIDTHS, COLUMNS):
        p.drawText(QRectF(x, y, w * rect.width(), row_h), Qt.AlignLeft | Qt.AlignVCenter, text)
    y += row_h
    p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
    p.setFont(_font(10 * unit))
    for row in rows:
        if y + row_h > rect.bottom():
            break
        for x, w, text in zip(xs, _WIDTHS, row):
            p.drawText(QRectF(x, y, w * rect.width(), row_h), Qt.AlignLeft | Qt.AlignVCenter, text)
        y += row_h
    y += 16 * unit

    if blocks:
        p.setFont(_font(12 * unit, bold=True))
        p.drawText(QRectF(rect.left(), y, rect.width(), 24 * unit), Qt.AlignLeft,
                   "floor probabilities (0 = street level)")
        y += 30 * unit
        col_w = rect.width() / per_row
        n_lines = max(len(f) for _, f in blocks)
        for k, (title, floors) in enumerate(blocks):
            x0 = rect.left() + (k % per_row) * col_w
            y0 = y + (k // per_row) * (22 * unit + n_lines * bar_h + 10 * unit)
            p.setFont(_font(10 * unit, bold=True))
            p.setPen(QColor(0, 0, 0))
            p.drawText(QRectF(x0, y0, col_w - 10 * unit, 20 * unit), Qt.AlignLeft, title)
            p.setFont(_font(9 * unit))
            best = max(floors, key=lambda f: f[1])[0]
            for i, (floor, prob) in enumerate(sorted(floors, reverse=True)):
                yy = y0 + 22 * unit + i * bar_h
                p.setPen(QColor(0, 0, 0))
                p.drawText(QRectF(x0, yy, 34 * unit, bar_h), Qt.AlignRight | Qt.AlignVCenter,
                           f"{floor}")
                full = col_w - 110 * unit
                p.setPen(Qt.NoPen)
                p.setBrush(QColor(230, 230, 230))
                p.drawRect(QRectF(x0 + 40 * unit, yy + 2 * unit, full, bar_h - 4 * unit))
                p.setBrush(QColor(214, 39, 40) if floor == best else QColor(31, 119, 180))
                p.drawRect(QRectF(x0 + 40 * unit, yy + 2 * unit, full * prob, bar_h - 4 * unit))
                p.setPen(QColor(0, 0, 0))
                p.drawText(QRectF(x0 + 44 * unit + full, yy, 60 * unit, bar_h),
                           Qt.AlignLeft | Qt.AlignVCenter, f"{prob:.0%}")
        y += floors_h - 30 * unit
    p.setBrush(Qt.NoBrush)
    p.setPen(QColor(60, 60, 60))
    p.setFont(_font(10 * unit))
    y = max(y, rect.bottom() - notes_h + 10 * unit)
    for line in notes:
        p.drawText(QRectF(rect.left(), y, rect.width(), 18 * unit), Qt.AlignLeft, line)
        y += 18 * unit


# ------------------------------------------------------------------ the map
def _view(rect, x_m, y_m, margin=0.08, min_span_m=60.0):
    """Scale and offset mapping east/north metres into ``rect`` at one scale for both axes."""
    x0, x1 = float(np.min(x_m)), float(np.max(x_m))
    y0, y1 = float(np.min(y_m)), float(np.max(y_m))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    span_x = max(x1 - x0, min_span_m) * (1 + 2 * margin)
    span_y = max(y1 - y0, min_span_m) * (1 + 2 * margin)
    scale = min(rect.width() / span_x, rect.height() / span_y)

    def to_px(x, y):
        return (rect.center().x() + (np.asarray(x) - cx) * scale,
                rect.center().y() - (np.asarray(y) - cy) * scale)
    return to_px, scale


def _polygon(px, py):
    return QPolygonF([QPointF(float(a), float(b)) for a, b in zip(px, py)])


def paint_map(p, rect, hunt, unit=1.0):
    """Paint the hunt into ``rect``: buildings, tracks coloured by power, ellipses, estimates."""
    p.save()
    p.setClipRect(rect)
    p.fillRect(rect, QColor(248, 248, 244))
    targets = [t for t in sorted(hunt.targets.values(), key=lambda t: t.index) if len(t.meas)]
    if not targets:
        p.setPen(QColor(90, 90, 90))
        p.setFont(_font(16 * unit))
        p.drawText(rect, Qt.AlignCenter, "no reading with a position fix")
        p.restore()
        return
    xs = [t.meas["x_m"] for t in targets]
    ys = [t.meas["y_m"] for t in targets]
    ellipses, seen = [], {}
    for t in targets:
        if t.estimate is None:
            continue
        if id(t.estimate) in seen:  # the SIMs of one box share one estimate: one label
            k = seen[id(t.estimate)]
            ellipses[k] = (ellipses[k][0] + " + " + t.label,) + ellipses[k][1:]
            continue
        seen[id(t.estimate)] = len(ellipses)
        ex, ey = t.estimate.ellipse_xy()
        ellipses.append((t.label, t.estimate, ex, ey))
        xs.append(ex)
        ys.append(ey)
    to_px, scale = _view(rect, np.concatenate(xs), np.concatenate(ys))
    likely = {hunt.likely_building(t.index)[0] for t in targets
              if hunt.likely_building(t.index) is not None}
    for k, poly in enumerate(hunt.buildings):
        poly = np.asarray(poly)
        px, py = to_px(poly[:, 0], poly[:, 1])
        if px.max() < rect.left() or px.min() > rect.right() or py.max() < rect.top() \
                or py.min() > rect.bottom():
            continue
        p.setBrush(QColor(255, 200, 120, 120) if k in likely else QColor(215, 215, 210))
        p.setPen(QPen(QColor(230, 120, 0) if k in likely else QColor(150, 150, 145),
                      (3.0 if k in likely else 1.0) * unit))
        p.drawPolygon(_polygon(px, py))
    # the walk, then the first target's readings coloured by its power
    first = targets[0]
    px, py = to_px(first.meas["x_m"], first.meas["y_m"])
    path = QPainterPath()
    path.moveTo(float(px[0]), float(py[0]))
    step = max(1, len(px) // MAX_DOTS)
    for a, b in zip(px[::step], py[::step]):
        path.lineTo(float(a), float(b))
    p.setBrush(Qt.NoBrush)
    p.setPen(QPen(QColor(120, 120, 120), 1.0 * unit))
    p.drawPath(path)
    bins, scale_dbm = export.power_bins(first.meas["rssi_dbm"])
    colours = [_colour(c) for c in export.POWER_COLOURS_KML]
    grey = _colour(export.NOT_DETECTED_KML)
    r = 3.0 * unit
    p.setPen(Qt.NoPen)
    for i in range(0, len(px), step):
        p.setBrush(grey if bins[i] < 0 else colours[bins[i]])
        p.drawEllipse(QPointF(float(px[i]), float(py[i])), r, r)
    for label, est, ex, ey in ellipses:
        qx, qy = to_px(ex, ey)
        p.setBrush(QColor(230, 0, 0, 40))
        p.setPen(QPen(QColor(230, 0, 0), 2.0 * unit))
        p.drawPolygon(_polygon(qx, qy))
        cx, cy = to_px(est.x_m, est.y_m)
        p.setPen(QPen(QColor(160, 0, 0), 3.0 * unit))
        d = 9 * unit
        p.drawLine(QPointF(cx - d, cy - d), QPointF(cx + d, cy + d))
        p.drawLine(QPointF(cx - d, cy + d), QPointF(cx + d, cy - d))
        p.setFont(_font(11 * unit, bold=True))
        p.drawText(QPointF(cx + d + 3 * unit, cy - d), label)
    if hunt.marks.n:
        mx, my = to_px(hunt.marks["x_m"], hunt.marks["y_m"])
        p.setBrush(QColor(0, 0, 0))
        p.setPen(Qt.NoPen)
        for a, b in zip(mx, my):
            p.drawPolygon(_polygon([a, a - 6 * unit, a + 6 * unit], [b - 8 * unit, b + 4 * unit,
                                                                     b + 4 * unit]))
    _scale_bar(p, rect, scale, unit)
    _legend(p, rect, first.label, scale_dbm, colours, grey, unit)
    p.restore()


def _scale_bar(p, rect, px_per_m, unit):
    target_m = 120 * unit / px_per_m
    nice = 10 ** np.floor(np.log10(target_m))
    for k in (1, 2, 5, 10):
        if nice * k >= target_m:
            length_m = nice * k
            break
    length_px = length_m * px_per_m
    x0, y0 = rect.left() + 20 * unit, rect.bottom() - 24 * unit
    p.setPen(QPen(QColor(0, 0, 0), 3 * unit))
    p.drawLine(QPointF(x0, y0), QPointF(x0 + length_px, y0))
    p.setFont(_font(10 * unit, bold=True))
    p.drawText(QPointF(x0, y0 - 6 * unit), f"{length_m:g} m")
    # north arrow
    nx, ny = rect.right() - 30 * unit, rect.top() + 20 * unit
    p.setBrush(QColor(0, 0, 0))
    p.setPen(Qt.NoPen)
    p.drawPolygon(_polygon([nx, nx - 8 * unit, nx + 8 * unit], [ny, ny + 22 * unit, ny + 22 * unit]))
    p.setPen(QColor(0, 0, 0))
    p.drawText(QPointF(nx - 5 * unit, ny + 38 * unit), "N")


def _legend(p, rect, label, scale_dbm, colours, grey, unit):
    x, y = rect.left() + 14 * unit, rect.top() + 12 * unit
    w = 24 * unit
    p.setFont(_font(9 * unit))
    p.setPen(Qt.NoPen)
    for k, c in enumerate(colours):
        p.setBrush(c)
        p.drawRect(QRectF(x + k * w, y, w, 10 * unit))
    p.setBrush(grey)
    p.drawRect(QRectF(x + len(colours) * w + 8 * unit, y, w, 10 * unit))
    p.setPen(QColor(0, 0, 0))
    text = f"{label} power" if scale_dbm is None else \
        f"{label}: {scale_dbm[0]:.0f} .. {scale_dbm[1]:.0f} dBm; grey = not detected"
    p.drawText(QPointF(x, y + 24 * unit), text)


def _font(px, bold=False):
    f = QFont("DejaVu Sans")
    f.setPixelSize(max(6, int(px)))
    f.setBold(bold)
    return f
