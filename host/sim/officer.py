"""The officer carrying the handheld: where it is, where it points, what it does.

The officer follows a plan of segments (walk a polyline, turn on the spot to
scan, stand, climb stairs) laid end to end in simulated time.  Whoever drives
the hunt appends segments as it decides; when the plan runs out the officer
waits where the last segment left it.  The true state at any time is a pure
function of the plan, so the virtual handheld's sensor threads may ask for it
at any moment.
"""

import math
import threading
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from dsp import propagation
from host.sim.geometry import polyline_length_m


@dataclass(frozen=True)
class OfficerState:
    """True state of the officer (and the handheld) at one instant."""

    x_m: float
    y_m: float
    floor: float
    heading_deg: float
    building: object
    activity: str

    @property
    def z_m(self):
        """Height of the handheld above street level (m)."""
        return float(propagation.floor_height_m(self.floor, propagation.RX_ABOVE_FLOOR_M))


def bearing_deg(from_xy, to_xy):
    """Compass bearing (deg clockwise from north) from one point to another."""
    return math.degrees(math.atan2(to_xy[0] - from_xy[0], to_xy[1] - from_xy[1])) % 360.0


class _Walk:
    def __init__(self, t0_s, points_m, speed_m_s, aim_m, floor, building):
        self.points_m = points_m
        seg = np.hypot(*np.diff(points_m, axis=0).T)
        self.cum_m = np.concatenate(([0.0], np.cumsum(seg)))
        self.length_m = float(self.cum_m[-1])
        self.t0_s, self.t1_s = t0_s, t0_s + self.length_m / speed_m_s
        self.speed = speed_m_s
        self.aim_m, self.floor, self.building = aim_m, floor, building

    def walked_m(self, t_s):
        return min(max(t_s - self.t0_s, 0.0) * self.speed, self.length_m)

    def state(self, t_s):
        s = self.walked_m(t_s)
        i = int(min(np.searchsorted(self.cum_m, s, side="right") - 1, len(self.points_m) - 2))
        a, b = self.points_m[i], self.points_m[i + 1]
        f = (s - self.cum_m[i]) / max(self.cum_m[i + 1] - self.cum_m[i], 1e-9)
        p = a + f * (b - a)
        heading = bearing_deg(p, self.aim_m) if self.aim_m is not None else bearing_deg(a, b)
        return OfficerState(float(p[0]), float(p[1]), self.floor, heading, self.building, "walk")


class _Turn:
    """Standing at one spot; the heading turns at ``rate_deg_s`` (0 = stand still)."""

    def __init__(self, t0_s, duration_s, xy_m, heading0_deg, rate_deg_s, floor, building, activity):
        self.t0_s, self.t1_s = t0_s, t0_s + duration_s
        self.xy_m, self.h0, self.rate = xy_m, heading0_deg, rate_deg_s
        self.floor, self.building, self.activity = floor, building, activity
        self.length_m = 0.0

    def walked_m(self, t_s):
        return 0.0

    def state(self, t_s):
        h = (self.h0 + self.rate * min(max(t_s - self.t0_s, 0.0), self.t1_s - self.t0_s)) % 360.0
        return OfficerState(float(self.xy_m[0]), float(self.xy_m[1]), self.floor, h, self.building,
                            self.activity)


class _Climb:
    def __init__(self, t0_s, xy_m, floor0, floor1, s_per_floor, heading_deg, building):
        self.t0_s = t0_s
        self.t1_s = t0_s + abs(floor1 - floor0) * s_per_floor
        self.xy_m, self.f0, self.f1 = xy_m, floor0, floor1
        self.heading, self.building = heading_deg, building
        self.length_m = abs(floor1 - floor0) * propagation.FLOOR_HEIGHT_M

    def walked_m(self, t_s):
        span = max(self.t1_s - self.t0_s, 1e-9)
        return self.length_m * min(max(t_s - self.t0_s, 0.0) / span, 1.0)

    def state(self, t_s):
        span = max(self.t1_s - self.t0_s, 1e-9)
        f = self.f0 + (self.f1 - self.f0) * min(max(t_s - self.t0_s, 0.0) / span, 1.0)
        return OfficerState(float(self.xy_m[0]), float(self.xy_m[1]), f, self.heading, self.building,
                            "climb")


class Officer:
    """A plan of segments in simulated time, and the officer's true state along it.

    Parameters
    ----------
    world : World
    clock : callable
        Returns the current simulated time (s); new segments never start in the past.
    """

    def __init__(self, world, clock):
        self.world = world
        self.spec = world.officer
        self._clock = clock
        self._lock = threading.RLock()
        start = world.streets.nodes_m[self.spec.start]
        first = world.streets.nodes_m[world.route[1]] if len(world.route) > 1 else start + (0.0, 1.0)
        self._segments = [_Turn(0.0, 0.0, start, bearing_deg(start, first), 0.0, 0, None, "wait")]
        self._starts = [0.0]
        self._walked_before = [0.0]

    # --- the plan -------------------------------------------------------------------------

    def end_time_s(self):
        """Simulated time at which the plan runs out."""
        with self._lock:
            return self._segments[-1].t1_s

    def end_state(self):
        """Where the plan leaves the officer."""
        with self._lock:
            seg = self._segments[-1]
            return seg.state(seg.t1_s)

    def _t0(self):
        return max(self.end_time_s(), self._clock())

    def _append(self, seg):
        with self._lock:
            last = self._segments[-1]
            self._walked_before.append(self._walked_before[-1] + last.length_m)
            self._segments.append(seg)
            self._starts.append(seg.t0_s)
        return seg.t0_s, seg.t1_s

    def walk_path(self, points_m, aim_m=None):
        """Walk a polyline from the current end position, pointing at ``aim_m`` (None: ahead)."""
        end = self.end_state()
        pts = np.vstack([[end.x_m, end.y_m], np.asarray(points_m, dtype=float)])
        keep = np.concatenate(([True], np.hypot(*np.diff(pts, axis=0).T) > 1e-6))
        pts = pts[keep]
        if len(pts) < 2:
            return
        aim = None if aim_m is None else np.asarray(aim_m, dtype=float)
        self._append(_Walk(self._t0(), pts, self.spec.walk_speed_m_s, aim, end.floor, end.building))

    def walk_to(self, goal_m, aim_m=None):
        """Walk along the streets to a point (leaving any building first)."""
        self.leave_building()
        end = self.end_state()
        route = self.world.streets.route((end.x_m, end.y_m), goal_m)
        self.walk_path(route[1:], aim_m)

    def scan(self, turns=1.0):
        """Turn on the spot through ``turns`` full circles; returns the scan's (t0_s, t1_s)."""
        end = self.end_state()
        rate = self.spec.scan_rate_deg_s
        return self._append(_Turn(self._t0(), 360.0 * turns / rate, np.array([end.x_m, end.y_m]),
                           end.heading_deg, rate, end.floor, end.building, "scan"))

    def dwell(self, duration_s, heading_deg=None):
        """Stand still, pointing at ``heading_deg`` (None: keep the current heading).

        Returns the dwell's (t0_s, t1_s).
        """
        end = self.end_state()
        h = end.heading_deg if heading_deg is None else heading_deg
        return self._append(_Turn(self._t0(), duration_s, np.array([end.x_m, end.y_m]), h, 0.0,
                           end.floor, end.building, "dwell"))

    def enter(self, building):
        """Walk to the building's door, then inside to its stairwell."""
        self.walk_to(building.door_m)
        end = self.end_state()
        self._append(_Walk(self._t0(), np.array([[end.x_m, end.y_m], building.stair_m]),
                           self.spec.walk_speed_m_s, None, 0, building))

    def climb_to(self, floor, heading_deg=None):
        """Climb (or descend) the stairwell of the building the officer is in."""
        end = self.end_state()
        if end.building is None or floor == end.floor:
            return
        h = end.heading_deg if heading_deg is None else heading_deg
        self._append(_Climb(self._t0(), np.array([end.x_m, end.y_m]), end.floor, floor,
                            self.spec.climb_s_per_floor, h, end.building))

    def leave_building(self):
        """Down to the street floor, out of the door."""
        end = self.end_state()
        if end.building is None:
            return
        b = end.building
        self.climb_to(0)
        end = self.end_state()
        self._append(_Walk(self._t0(), np.array([[end.x_m, end.y_m], b.door_m]),
                           self.spec.walk_speed_m_s, None, 0, None))

    # --- the truth ------------------------------------------------------------------------

    def _segment(self, t_s):
        with self._lock:
            i = max(bisect_right(self._starts, t_s) - 1, 0)
            return self._segments[i], self._walked_before[i]

    def state(self, t_s):
        """True state at simulated time ``t_s``."""
        seg, _ = self._segment(t_s)
        return seg.state(min(t_s, seg.t1_s))

    def walked_m(self, t_s):
        """Distance covered on foot (including stairs) up to ``t_s``."""
        seg, before = self._segment(t_s)
        return before + seg.walked_m(t_s)

    def track(self, t1_s, step_s=1.0):
        """True positions from the start to ``t1_s``, shape (N, 3): x_m, y_m, floor."""
        ts = np.arange(0.0, max(t1_s, 0.0) + step_s, step_s)
        return np.array([(s.x_m, s.y_m, s.floor) for s in map(self.state, ts)])


def route_polyline(world):
    """The world's scripted street route as an ``(N, 2)`` polyline."""
    return np.array([world.streets.nodes_m[n] for n in world.route])


def split_polyline(points_m, step_m):
    """Cut a polyline into consecutive pieces of about ``step_m`` each."""
    total = polyline_length_m(points_m)
    n = max(int(round(total / step_m)), 1)
    cum = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(points_m, axis=0).T))))
    cuts = np.linspace(0.0, total, n + 1)
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        inner = points_m[(cum > a) & (cum < b)]
        pa = _point_at(points_m, cum, a)
        pb = _point_at(points_m, cum, b)
        pieces.append(np.vstack([pa, inner, pb]) if len(inner) else np.vstack([pa, pb]))
    return pieces


def _point_at(points_m, cum, s):
    i = int(min(np.searchsorted(cum, s, side="right") - 1, len(points_m) - 2))
    f = (s - cum[i]) / max(cum[i + 1] - cum[i], 1e-9)
    return points_m[i] + f * (points_m[i + 1] - points_m[i])
