"""How the simulated officer decides where to go next.

`SearchOfficer` is the rfhound way: walk the scripted street route with
rotation scans, then let the locator's estimate (RSS walk plus scan bearings)
pick the next street spot, and finally climb the stairwell of the building that
holds most of the locator's posterior, floor by floor, until the floor readings
have peaked.
`HotterColderOfficer` is how hunts are done today: walk, remember where the
reading was strongest, go back there, step along the street while it gets
hotter, listen at the nearest doors, then climb the loudest building.

A strategy is asked for more plan whenever the officer is about to run out of
it; it appends segments to the `Officer` and says when the hunt is over.
"""

import numpy as np

from dsp.footprints import closest_point_in
from host.sim.geometry import distance_to_polygon_m
from host.sim.officer import bearing_deg, route_polyline, split_polyline

#: An approach that would move the officer less than this is not worth walking (m).
MIN_STEP_M = 12.0
#: Most estimate-driven approaches before committing to a building.
MAX_APPROACHES = 4
#: Stop climbing once the floor reading is this far below the best floor (dB).
FLOOR_DROP_DB = 10.0
#: Readings needed on a floor to judge it, and how many more dwells to wait for them.
MIN_FLOOR_READINGS = 5
MAX_DWELL_EXTENSIONS = 3
#: Most buildings the search officer climbs.
MAX_CLIMBS = 2
#: The cross scan: a street spot at most this far from the estimate (m) that sees it
#: at least this far round from the approach spot (deg).
CROSS_REACH_M = 60.0
CROSS_MIN_ANGLE_DEG = 60.0
#: The hotter/colder officer listens at the doors of this many buildings nearest the
#: hot spot (the two facing each other across the street, and one more), this long (s).
DOORS_TO_TRY = 3
DOOR_DWELL_S = 8.0


def floor_levels_dbm(hunt, windows):
    """Median detected RSSI (dBm) per floor over the officer's dwell windows on each floor."""
    out = {}
    for floor, (t0, t1) in windows.items():
        rssi = hunt.readings_between(t0, t1)
        if len(rssi) >= MIN_FLOOR_READINGS:
            out[floor] = float(np.median(rssi))
    return out


class _Climber:
    """Floor-by-floor stairwell climb shared by both strategies."""

    def __init__(self):
        self.building = None
        self.aim_m = None
        self.windows = {}
        self.next_floor = 0
        self.extensions = 0
        self.finished = False

    def start(self, officer, building, aim_m):
        self.building = building
        self.aim_m = aim_m
        officer.enter(building)
        self._dwell(officer)

    def _dwell(self, officer):
        end = officer.end_state()
        aim_deg = bearing_deg((end.x_m, end.y_m), self.aim_m)
        officer.climb_to(self.next_floor, aim_deg)
        # Every floor is read with the antenna on the same bearing, so that the
        # floors differ by the slabs between them and not by where it pointed.
        self.windows[self.next_floor] = officer.dwell(officer.spec.floor_dwell_s, aim_deg)
        self.next_floor += 1

    def step(self, hunt):
        """Plan the next floor, or finish when the readings have peaked or the roof is reached.

        A floor with too few readings (a busy handheld, a target between calls)
        is listened to for longer before the officer moves on.
        """
        levels = floor_levels_dbm(hunt, self.windows)
        top = self.next_floor - 1
        if top not in levels and self.extensions < MAX_DWELL_EXTENSIONS:
            self.extensions += 1
            t0, _ = self.windows[top]
            _, t1 = hunt.officer.dwell(hunt.officer.spec.floor_dwell_s)
            self.windows[top] = (t0, t1)
            return False
        self.extensions = 0
        if levels and top in levels:
            best = max(levels, key=levels.get)
            if best < top and levels[best] - levels[top] >= FLOOR_DROP_DB:
                self.finished = True
        if self.next_floor >= self.building.floors:
            self.finished = True
        if not self.finished:
            self._dwell(hunt.officer)
        return self.finished

    def floor(self, hunt):
        levels = floor_levels_dbm(hunt, self.windows)
        return max(levels, key=levels.get) if levels else None


class SearchOfficer:
    """Route with scans, then estimate-driven approaches, then the climb.

    The building to climb is the one holding most of the locator's posterior;
    when, after a climb, the estimate has moved to another building, that one
    is climbed too (at most `MAX_CLIMBS`).
    """

    name = "search"
    uses_locator = True

    def __init__(self, world):
        self.world = world
        self.pieces = split_polyline(route_polyline(world), world.officer.scan_every_m) \
            if len(world.route) > 1 else []
        self.phase = "route"
        self.approaches = 0
        self.climbs = {}
        self.climber = None

    def plan(self, hunt):
        """Append the next piece of plan; returns True when the hunt is over."""
        officer = hunt.officer
        est = hunt.estimate
        aim = None if est is None else (est.x_m, est.y_m)
        if self.phase == "route":
            if self.pieces:
                officer.walk_path(self.pieces.pop(0)[1:], aim_m=aim)
                hunt.scan()
                return False
            self.phase = "approach"
        if self.phase == "approach":
            if est is None:
                hunt.scan()
                self.approaches += 1
                if self.approaches <= MAX_APPROACHES:
                    return False
                self.phase = "climb"
            else:
                spot, _, _ = self.world.streets.snap(aim)
                end = officer.end_state()
                if self.approaches < MAX_APPROACHES and np.hypot(*(spot - (end.x_m, end.y_m))) > MIN_STEP_M:
                    self.approaches += 1
                    officer.walk_to(spot, aim_m=aim)
                    hunt.scan()
                    return False
                self.phase = "cross"
                cross = self._cross_spot(aim, spot)
                if cross is not None:
                    officer.walk_to(cross, aim_m=aim)
                    hunt.scan()
                    return False
        if self.phase == "cross":
            self.phase = "climb"
        if self.climber is not None and not self.climber.finished:
            self.climber.step(hunt)
            return False
        hunt.catch_up()
        hunt.wait_for_estimate()
        if hunt.estimate is None:
            return True
        building = hunt.likely_building(hunt.estimate)
        if building.id in self.climbs or len(self.climbs) >= MAX_CLIMBS:
            return True
        self.climber = self.climbs[building.id] = _Climber()
        self.climber.start(officer, building, (hunt.estimate.x_m, hunt.estimate.y_m))
        return False

    def _cross_spot(self, aim, spot):
        """A street spot that sees the estimate from another side than ``spot`` does.

        Bearings that cross near a right angle fix a point best; two from the
        same street only fix a line.
        """
        first_deg = bearing_deg(aim, spot)
        for dist_m, q, _ in self.world.streets.nearest_points(aim):
            if dist_m > CROSS_REACH_M:
                break
            off = abs((bearing_deg(aim, q) - first_deg + 180.0) % 360.0 - 180.0)
            if off >= CROSS_MIN_ANGLE_DEG:
                return q
        return None

    def answer(self, hunt):
        """Final (x_m, y_m, floor, building id) of the hunt."""
        est = hunt.final_estimate()
        if est is None:
            return None
        # The locator's answer names the floor too: the climb's readings reach it.
        return est.x_m, est.y_m, est.floor, hunt.likely_building(est).id

    def climb_windows(self, building_id):
        """Dwell windows of the climb in that building ({} if not climbed)."""
        climb = self.climbs.get(building_id)
        return {} if climb is None else climb.windows


class HotterColderOfficer:
    """Walk, go back to the hottest spot, follow the street while it gets hotter, listen at
    the doors of the buildings around the hot spot, climb the one that sounded loudest."""

    name = "hotter-colder"
    uses_locator = False

    def __init__(self, world):
        self.world = world
        self.pieces = split_polyline(route_polyline(world), world.officer.scan_every_m) \
            if len(world.route) > 1 else []
        self.phase = "route"
        self.best_dbm = -np.inf
        self.best_xy = None
        self.probes = 0
        self.doors = {}
        self.chosen = None
        self.climber = _Climber()

    def _hottest(self, hunt):
        x, y, rssi = hunt.smoothed_walk()
        if len(rssi) == 0:
            return None, -np.inf
        i = int(np.argmax(rssi))
        return np.array([x[i], y[i]]), float(rssi[i])

    def plan(self, hunt):
        officer = hunt.officer
        if self.phase == "route":
            if self.pieces:
                officer.walk_path(self.pieces.pop(0)[1:])
                return False
            self.phase = "probe"
        if self.phase == "probe":
            xy, level = self._hottest(hunt)
            if xy is not None and level > self.best_dbm + 1.0 and self.probes < MAX_APPROACHES:
                self.best_dbm, self.best_xy = level, xy
                self.probes += 1
                spot, edge, _ = self.world.streets.snap(xy)
                a, b = (self.world.streets.nodes_m[n] for n in self.world.streets.edges[edge])
                officer.walk_to(spot)
                # Step along the street both ways from the hot spot to feel the gradient.
                for end in (a, b):
                    d = end - spot
                    n = np.hypot(*d)
                    if n > 1.0:
                        officer.walk_path([spot + d * min(15.0 / n, 1.0), spot])
                return False
            if self.best_xy is None:
                return True
            self.phase = "doors"
            near = sorted(self.world.buildings,
                          key=lambda b: distance_to_polygon_m(b.footprint_m, *self.best_xy))
            for b in near[:DOORS_TO_TRY]:
                officer.walk_to(b.door_m)
                self.doors[b.id] = officer.dwell(DOOR_DWELL_S, bearing_deg(b.door_m, b.stair_m))
            return False
        if self.phase == "doors":
            levels = {bid: float(np.median(r)) for bid, (t0, t1) in self.doors.items()
                      if len(r := hunt.readings_between(t0, t1)) >= MIN_FLOOR_READINGS}
            bid = max(levels, key=levels.get) if levels else next(iter(self.doors))
            self.chosen = self.world.building(bid)
            self.phase = "climb"
            self.climber.start(officer, self.chosen, self.chosen.stair_m)
            return False
        if self.phase == "climb":
            return self.climber.step(hunt)
        return True

    def answer(self, hunt):
        if self.chosen is None:
            return None
        # The officer's answer is "in that building, near the hot spot": the
        # point of the building's footprint closest to the hottest reading.
        x, y = closest_point_in(self.chosen.footprint_m, *self.best_xy)
        return x, y, self.climber.floor(hunt), self.chosen.id

    def climb_windows(self, building_id):
        """Dwell windows of the climb in that building ({} if not climbed)."""
        if self.chosen is None or self.chosen.id != building_id:
            return {}
        return self.climber.windows


STRATEGIES = {"search": SearchOfficer, "hotter-colder": HotterColderOfficer}
