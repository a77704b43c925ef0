"""The headless hunt report: one PNG drawn with QPainter (no display needed).

Left, the map: buildings (the true one outlined), streets, the officer's walk
coloured by the readings, scan bearings, the locator's heat map and 95 %
ellipse, the truth and the answer.  Right, the floor-by-floor readings of the
stairwell climb and the figures of the summary.
"""

import math
import os
import tempfile

import numpy as np

#: Colour map for RSSI dots, weakest to strongest (viridis end points and middle).
_RAMP = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def _ramp(v):
    """Colour for v in [0, 1]."""
    v = min(max(v, 0.0), 1.0) * (len(_RAMP) - 1)
    i = min(int(v), len(_RAMP) - 2)
    f = v - i
    return tuple(int(round(a + f * (b - a))) for a, b in zip(_RAMP[i], _RAMP[i + 1]))


def building_label(estimate):
    """``B1N (p=0.93)``: the answer's building with the locator's probability of it, when it gave one."""
    prob = estimate.get("building_prob")
    return "%s" % estimate.get("building") if prob is None else "%s (p=%.2f)" % (estimate.get("building"), prob)


def write_report(path, hunt, result, size=(1400, 860)):
    """Render the report of a finished hunt to ``path`` (PNG). Returns True when written."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "XDG_RUNTIME_DIR" not in os.environ:
        # Qt wants a private runtime directory and complains on stderr without one.
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rfhound-runtime-")
    from PyQt5.QtCore import QPointF, QRectF, Qt
    from PyQt5.QtGui import QBrush, QColor, QFont, QGuiApplication, QImage, QPainter, QPen, QPolygonF

    # Text needs a QGuiApplication (for fonts); painting a QImage needs no window.
    app = QGuiApplication.instance() or QGuiApplication(["rfhound report"])
    w_px, h_px = size
    img = QImage(w_px, h_px, QImage.Format_RGB32)
    img.fill(QColor(250, 250, 247))
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)

    world = hunt.world
    x0, x1, y0, y1 = world.extent_m
    map_rect = QRectF(20, 50, w_px - 440, h_px - 70)
    scale = min(map_rect.width() / (x1 - x0), map_rect.height() / (y1 - y0))

    def pt(x, y):
        return QPointF(map_rect.left() + (x - x0) * scale, map_rect.bottom() - (y - y0) * scale)

    p.setFont(QFont("Sans", 14, QFont.Bold))
    p.setPen(QColor(20, 20, 20))
    p.drawText(QPointF(20, 32), "rfhound simulated hunt - world %s, seed %d, %s officer"
               % (world.name, hunt.seed, hunt.strategy.name))

    p.setClipRect(map_rect)
    est = hunt.final or hunt.estimate
    if est is not None:
        _draw_posterior(p, est, pt, scale)

    p.setPen(QPen(QColor(215, 215, 210), max(2.0, 6.0 * scale), Qt.SolidLine, Qt.RoundCap))
    for a, b in world.streets.edges:
        p.drawLine(pt(*world.streets.nodes_m[a]), pt(*world.streets.nodes_m[b]))

    p.setFont(QFont("Sans", 8))
    probs = None if est is None else est.building_prob
    for k, b in enumerate(world.buildings):
        poly = QPolygonF([pt(x, y) for x, y in b.footprint_m])
        is_truth = b.id == result["truth"]["building"]
        p.setPen(QPen(QColor(200, 30, 30) if is_truth else QColor(90, 90, 90), 2.5 if is_truth else 1.0))
        p.setBrush(QBrush(QColor(120, 120, 120, 60)))
        p.drawPolygon(poly)
        c = b.footprint_m.mean(axis=0)
        p.setPen(QColor(60, 60, 60))
        label = "%s (%d fl)" % (b.id, b.floors)
        if probs is not None and probs[k] >= 0.005:
            # Every building still in play, not just the answer: a split says where to look next.
            label += " p=%.2f" % probs[k]
        p.drawText(pt(c[0] - 6, c[1]), label)

    a = hunt.readings()
    det = np.isfinite(a["rssi_dbm"])
    if det.any():
        lo, hi = np.percentile(a["rssi_dbm"][det], [5, 99])
        p.setPen(Qt.NoPen)
        step = max(1, int(det.sum() // 4000))
        for x, y, r in list(zip(a["x_m"][det], a["y_m"][det], a["rssi_dbm"][det]))[::step]:
            p.setBrush(QColor(*_ramp((r - lo) / max(hi - lo, 1.0))))
            p.drawEllipse(pt(x, y), 2.2, 2.2)
    track = hunt.officer.track(hunt.clock.now_s(), 1.0)
    p.setPen(QPen(QColor(30, 30, 30, 160), 1.2, Qt.DashLine))
    p.setBrush(Qt.NoBrush)
    p.drawPolyline(QPolygonF([pt(x, y) for x, y, _ in track]))

    p.setPen(QPen(QColor(230, 120, 0), 1.5))
    reach_m = 0.35 * max(x1 - x0, y1 - y0)
    for bx, by, brg, sigma in hunt.bearings:
        r = math.radians(brg)
        p.drawLine(pt(bx, by), pt(bx + reach_m * math.sin(r), by + reach_m * math.cos(r)))

    truth = result["truth"]
    p.setPen(QPen(QColor(200, 0, 0), 3))
    tp = pt(truth["x_m"], truth["y_m"])
    p.drawLine(tp + QPointF(-8, -8), tp + QPointF(8, 8))
    p.drawLine(tp + QPointF(-8, 8), tp + QPointF(8, -8))
    e = result.get("estimate")
    if e is not None:
        ep = pt(e["x_m"], e["y_m"])
        p.setPen(QPen(QColor(0, 90, 220), 3))
        p.setBrush(Qt.NoBrush)
        p.drawEllipse(ep, 6, 6)
        if e.get("ellipse") and est is not None:
            _draw_ellipse(p, e, pt, scale)

    p.setClipping(False)
    _draw_side(p, QRectF(w_px - 400, 50, 380, h_px - 70), hunt, result, lo if det.any() else None,
               hi if det.any() else None)
    p.end()
    ok = img.save(str(path), "PNG")
    del app
    return ok


def _draw_posterior(p, est, pt, scale):
    from PyQt5.QtCore import QRectF
    from PyQt5.QtGui import QImage

    post = np.asarray(est.posterior, dtype=float)
    if post.size == 0 or not np.isfinite(post).all() or post.max() <= 0:
        return
    level = np.sqrt(post / post.max())
    rgba = np.zeros(post.shape + (4,), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (140 * (1 - level)).astype(np.uint8)
    rgba[..., 3] = (170 * level).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba[::-1])
    h, w = post.shape
    img = QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()
    g = est.grid
    dx = g.x_m[1] - g.x_m[0]
    dy = g.y_m[1] - g.y_m[0]
    top_left = pt(g.x_m[0] - dx / 2, g.y_m[-1] + dy / 2)
    bottom_right = pt(g.x_m[-1] + dx / 2, g.y_m[0] - dy / 2)
    p.drawImage(QRectF(top_left, bottom_right), img)


def _draw_ellipse(p, e, pt, scale):
    from PyQt5.QtCore import Qt
    from PyQt5.QtGui import QColor, QPen, QPolygonF

    el = e["ellipse"]
    a, b = el["semi_major_m"], el["semi_minor_m"]
    th = math.radians(el["orientation_deg"])
    ts = np.linspace(0, 2 * math.pi, 73)
    # Major axis at orientation_deg clockwise from north: its unit vector is (sin, cos).
    ux, uy = math.sin(th), math.cos(th)
    vx, vy = math.cos(th), -math.sin(th)
    pts = [pt(e["x_m"] + a * math.cos(t) * ux + b * math.sin(t) * vx,
              e["y_m"] + a * math.cos(t) * uy + b * math.sin(t) * vy) for t in ts]
    p.setPen(QPen(QColor(0, 90, 220), 2, Qt.SolidLine))
    p.drawPolyline(QPolygonF(pts))


def _draw_side(p, rect, hunt, result, lo, hi):
    from PyQt5.QtCore import QPointF, QRectF
    from PyQt5.QtGui import QColor, QFont, QPen

    from host.sim.strategy import floor_levels_dbm

    p.setPen(QColor(20, 20, 20))
    p.setFont(QFont("Sans", 11, QFont.Bold))
    y = rect.top() + 10
    p.drawText(QPointF(rect.left(), y), "Result")
    p.setFont(QFont("Monospace", 9))
    e = result.get("estimate") or {}
    t = result["truth"]
    lines = [
        "truth     %s floor %s  (%.1f, %.1f) m" % (t["building"], t["floor"], t["x_m"], t["y_m"]),
        "estimate  %s floor %s  (%s, %s) m" % (building_label(e), e.get("floor"), e.get("x_m"), e.get("y_m")),
        "error     %s m" % result.get("error_m"),
        "building  %s" % ("right" if result.get("right_building") else "WRONG"),
        "floor     %s" % ("right" if result.get("right_floor") else "WRONG"),
        "fix       never" if result.get("time_to_fix_s") is None else
        "fix after %.0f s, %.0f m walked" % (result["time_to_fix_s"], result["distance_to_fix_m"]),
        "frames    %s (CRC errors %s)" % (result.get("frames"), result.get("crc_errors")),
        "bearings  %d scans" % len(hunt.bearings),
    ]
    if e.get("ellipse"):
        lines.insert(3, "95%% ell.  %.1f x %.1f m" % (e["ellipse"]["semi_major_m"], e["ellipse"]["semi_minor_m"]))
    for line in lines:
        y += 18
        p.drawText(QPointF(rect.left(), y), line)

    y += 40
    p.setFont(QFont("Sans", 11, QFont.Bold))
    building = (result.get("estimate") or {}).get("building")
    p.drawText(QPointF(rect.left(), y), "Climb in %s: median RSSI per floor" % building)
    levels = floor_levels_dbm(hunt, hunt.strategy.climb_windows(building)) if building else {}
    p.setFont(QFont("Sans", 9))
    if levels:
        vmin, vmax = min(levels.values()) - 5.0, max(levels.values())
        bar_w = rect.width() - 120
        for i, floor in enumerate(sorted(levels, reverse=True)):
            yy = y + 16 + i * 22
            frac = (levels[floor] - vmin) / max(vmax - vmin, 1.0)
            p.fillRect(QRectF(rect.left() + 60, yy, bar_w * frac, 16), QColor(0, 90, 220))
            p.setPen(QColor(20, 20, 20))
            p.drawText(QPointF(rect.left(), yy + 12), "floor %d" % floor)
            p.drawText(QPointF(rect.left() + 66 + bar_w * frac, yy + 12), "%.1f dBm" % levels[floor])
        y += 22 * len(levels) + 30
    else:
        y += 30
        p.drawText(QPointF(rect.left(), y), "(no climb)")
        y += 20

    if lo is not None:
        p.setFont(QFont("Sans", 11, QFont.Bold))
        p.drawText(QPointF(rect.left(), y), "Readings (dBm)")
        for i in range(100):
            p.fillRect(QRectF(rect.left() + 2.5 * i, y + 8, 2.6, 14), QColor(*_ramp(i / 99)))
        p.setFont(QFont("Sans", 9))
        p.drawText(QPointF(rect.left(), y + 38), "%.0f" % lo)
        p.drawText(QPointF(rect.left() + 230, y + 38), "%.0f" % hi)
        y += 60
    p.setFont(QFont("Sans", 9))
    legend = [((200, 0, 0), "x  rack (truth)"), ((0, 90, 220), "o  estimate, 95 % ellipse"),
              ((230, 120, 0), "-  scan bearings"), ((255, 80, 0), "   heat map: locator posterior")]
    for colour, text in legend:
        p.setPen(QPen(QColor(*colour)))
        p.drawText(QPointF(rect.left(), y), text)
        y += 16
