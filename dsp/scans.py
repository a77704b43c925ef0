"""Rotation scans among a target's readings: how much of the circle a run of headings
covers, and which runs of readings at one spot are scans.

A directional reading carries the antenna's pattern as well as the distance.
Turning on the spot through most of the circle makes a scan, which gives a
bearing (`dsp.bearing.scan_bearing`); readings taken on the move with a heading
(the antenna points where the officer walks) are signal-strength readings like
any other.  This module is the one place that tells the two apart, for the
locator, the console and the simulator.
"""

import numpy as np

#: Readings of one scan stay within this distance of the scan's first reading (m).
SCAN_RADIUS_M = 5.0
#: Fewest readings that make a scan.
SCAN_MIN_SAMPLES = 4
#: A run is a scan when its headings cover at least this much of the circle (deg).
SCAN_MIN_COVERAGE_DEG = 270.0


def coverage_deg(heading_deg):
    """Degrees of azimuth the headings span: 360 minus the widest gap between them.

    Examples
    --------
    >>> coverage_deg([0.0, 90.0, 180.0, 270.0])
    270.0
    >>> coverage_deg([350.0, 10.0])
    20.0
    """
    h = np.sort(np.mod(np.asarray(heading_deg, dtype=float), 360.0))
    if len(h) < 2:
        return 0.0
    gaps = np.diff(np.concatenate([h, h[:1] + 360.0]))
    return 360.0 - float(gaps.max())


def split_runs(x_m, y_m, radius_m=SCAN_RADIUS_M):
    """Start index of each run of consecutive readings within ``radius_m`` of the run's first.

    Returns
    -------
    ndarray of int
        Run starts (the first is 0); run k is ``starts[k]:starts[k+1]``.
    """
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    starts = [0] if len(x) else []
    first = 0
    for i in range(1, len(x)):
        if np.hypot(x[i] - x[first], y[i] - y[first]) > radius_m:
            starts.append(i)
            first = i
    return np.array(starts, dtype=int)


def find_scans(x_m, y_m, heading_deg, *, radius_m=SCAN_RADIUS_M,
               min_samples=SCAN_MIN_SAMPLES, min_coverage_deg=SCAN_MIN_COVERAGE_DEG):
    """Index arrays of the rotation scans among directional readings in walk order.

    Parameters
    ----------
    x_m, y_m, heading_deg : array_like, shape (N,)
        Positions and antenna headings (degrees clockwise from north) of
        readings that all have a heading, in time order.

    Examples
    --------
    >>> h = np.r_[np.arange(0, 360, 30), [0.0, 0.0]]
    >>> x = np.r_[np.zeros(12), [20.0, 40.0]]
    >>> [len(s) for s in find_scans(x, np.zeros(14), h)]
    [12]
    """
    h = np.asarray(heading_deg, float)
    starts = split_runs(x_m, y_m, radius_m)
    ends = np.append(starts[1:], len(h))
    return [np.arange(a, b) for a, b in zip(starts, ends)
            if b - a >= min_samples and coverage_deg(h[a:b]) >= min_coverage_deg]
