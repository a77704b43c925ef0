"""SVG figures of a bench run: calibration curve with residuals, and a polar pattern.

Plain SVG text (no plotting library), so a technician's report opens in any browser
and the figures in docs/ are reproducible from the commands that made them
(``rfhound bench calibrate --plot``, ``rfhound bench pattern --plot``).
"""
import math

import numpy as np

from host.bench import response

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_FONT = 'font-family="sans-serif" font-size="11"'


def _nice_ticks(lo, hi, n=6):
    span = hi - lo
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


class _Panel:
    """One x-y panel mapped onto a rectangle of the SVG."""

    def __init__(self, out, x0, y0, w, h, xlim, ylim, xlabel, ylabel):
        self.out, self.x0, self.y0, self.w, self.h = out, x0, y0, w, h
        self.xlim, self.ylim = xlim, ylim
        out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>')
        for t in _nice_ticks(*xlim):
            x = self.px(t)
            out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#ddd"/>')
            out.append(f'<text x="{x:.1f}" y="{y0 + h + 14}" text-anchor="middle" {_FONT}>'
                       f'{t:g}</text>')
        for t in _nice_ticks(*ylim, n=5):
            y = self.py(t)
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 5}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{t:g}</text>')
        out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 30}" text-anchor="middle" {_FONT}>'
                   f'{xlabel}</text>')
        out.append(f'<text x="{x0 - 42}" y="{y0 + h / 2}" text-anchor="middle" {_FONT} '
                   f'transform="rotate(-90 {x0 - 42} {y0 + h / 2})">{ylabel}</text>')

    def px(self, x):
        lo, hi = self.xlim
        return self.x0 + (x - lo) / (hi - lo) * self.w

    def py(self, y):
        lo, hi = self.ylim
        return self.y0 + self.h - (np.clip(y, lo, hi) - lo) / (hi - lo) * self.h

    def line(self, x, y, color, dash=None, width=1.5):
        pts = " ".join(f"{self.px(a):.1f},{self.py(b):.1f}" for a, b in zip(x, y))
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                        f'stroke-width="{width}"{extra}/>')

    def dots(self, x, y, color):
        for a, b in zip(x, y):
            self.out.append(f'<circle cx="{self.px(a):.1f}" cy="{self.py(b):.1f}" r="2.2" '
                            f'fill="{color}"/>')

    def band(self, x_lo, x_hi, y_lo, y_hi, color):
        x, y = self.px(x_lo), self.py(y_hi)
        self.out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{self.px(x_hi) - x:.1f}" '
                        f'height="{self.py(y_lo) - y:.1f}" fill="{color}" opacity="0.15"/>')


def _svg(width, height, body, title):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">\n<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-family="sans-serif" '
            f'font-size="13">{title}</text>\n' + "\n".join(body) + "\n</svg>\n")


def calibration_svg(points, fitted, title="Power calibration"):
    """Readings against input level per band (fit, firmware line) and the residuals.

    Parameters
    ----------
    points : list of dict
        Point lines with ``temperature_c`` (:meth:`ResultsFile.measured_points`).
    fitted : list
        From :func:`host.bench.calfile.fit_bands`.
    """
    body = []
    p_all = np.array([p["input_dbm"] for p in points])
    r_all = np.array([p["reading_db"] for p in points])
    xlim = (math.floor(p_all.min() / 10) * 10, math.ceil(p_all.max() / 10) * 10)
    top = _Panel(body, 70, 35, 560, 260, xlim,
                 (math.floor(r_all.min() / 10) * 10, math.ceil(r_all.max() / 10) * 10),
                 "input level at the RF port (dBm)", "reading -rssi (dB, input-referred)")
    bottom = _Panel(body, 70, 345, 560, 150, xlim, (-1.0, 1.0),
                    "input level at the RF port (dBm)", "residual (dB)")
    bottom.band(xlim[0], xlim[1], -0.5, 0.5, "#2ca02c")
    for i, (band, resp, props) in enumerate(fitted):
        color = _COLORS[i % len(_COLORS)]
        mine = [p for p in points if p["band"] == band["name"]]
        p = np.array([q["input_dbm"] for q in mine])
        r = np.array([q["reading_db"] for q in mine])
        grid = np.linspace(xlim[0], xlim[1], 300)
        top.dots(p, r, color)
        top.line(grid, response.reading_db(grid, resp), color)
        bottom.dots(p, props["residual_db"], color)
        lo, hi = band["linear_range_dbm"]
        top.line([lo, lo], top.ylim, color, dash="3,3", width=0.8)
        top.line([hi, hi], top.ylim, color, dash="3,3", width=0.8)
        y = 52 + 15 * i
        body.append(f'<circle cx="90" cy="{y - 4}" r="3" fill="{color}"/>'
                    f'<text x="98" y="{y}" {_FONT}>band {band["name"]}: RMS '
                    f'{band["residual_rms_db"]:.3f} dB in {lo:.0f}..{hi:.0f} dBm</text>')
    body.append(f'<text x="634" y="{bottom.py(0.5) + 4:.0f}" {_FONT} fill="#2ca02c">'
                '\u00b10.5 dB</text>')
    return _svg(700, 540, body, title)


def pattern_svg(angle_deg, gain_dbi, measured=None, true_dbi=None, title="Antenna pattern",
                floor_dbi=None):
    """Polar plot (boresight up, clockwise) of a fitted pattern, its points and a reference.

    Parameters
    ----------
    angle_deg, gain_dbi : array_like
        The fitted pattern.
    measured : list of dict, optional
        Stops with ``angle_deg`` and ``gain_dbi``.
    true_dbi : array_like, optional
        A reference on ``angle_deg`` (the true pattern of a simulation, or a model).
    """
    a = np.asarray(angle_deg, dtype=float)
    g = np.asarray(gain_dbi, dtype=float)
    top = math.ceil(g.max() / 5) * 5
    floor = floor_dbi if floor_dbi is not None else top - 30
    cx, cy, radius = 260, 280, 220
    body = []

    def xy(angle, gain):
        rr = radius * (np.clip(gain, floor, top) - floor) / (top - floor)
        th = np.radians(angle)
        return cx + rr * np.sin(th), cy - rr * np.cos(th)

    for ring in range(int(floor), int(top) + 1, 5):
        rr = radius * (ring - floor) / (top - floor)
        body.append(f'<circle cx="{cx}" cy="{cy}" r="{rr:.1f}" fill="none" stroke="#ddd"/>')
        lx, ly = xy(15.0, ring)
        body.append(f'<text x="{lx + 2:.1f}" y="{ly - 2:.1f}" {_FONT} fill="#888">'
                    f'{ring} dBi</text>')
    for spoke in range(0, 360, 30):
        x, y = xy(spoke, top)
        body.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        tx, ty = xy(spoke, top + (top - floor) * 0.07)
        body.append(f'<text x="{tx:.1f}" y="{ty + 4:.1f}" text-anchor="middle" {_FONT}>'
                    f'{spoke}</text>')

    def curve(gains, color, dash=None):
        x, y = xy(np.append(a, a[0]), np.append(gains, gains[0]))
        pts = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(x, y))
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                    f'stroke-width="1.8"{extra}/>')

    legend = [("fitted", _COLORS[0])]
    if true_dbi is not None:
        curve(np.asarray(true_dbi, dtype=float), "#999", dash="5,4")
        legend.append(("reference", "#999"))
    curve(g, _COLORS[0])
    if measured:
        for m in measured:
            x, y = xy(m["angle_deg"], m["gain_dbi"])
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{_COLORS[1]}"/>')
        legend.append(("measured", _COLORS[1]))
    for i, (name, color) in enumerate(legend):
        body.append(f'<rect x="440" y="{40 + 16 * i}" width="12" height="3" fill="{color}"/>'
                    f'<text x="458" y="{45 + 16 * i}" {_FONT}>{name}</text>')
    return _svg(540, 540, body, title)
