"""World files: a few city blocks, a hidden rack, its target SIMs and the cell's other phones.

A world is a small JSON file in ``host/sim/worlds/`` (or any path).  The loader
checks every field once and raises `WorldError` with one line naming the file and
the field (``buildings[2].floors``), so a typo never surfaces as a traceback deep
inside the simulation.  ``docs/simulator.md`` describes the format.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dsp import bands
from dsp.antenna import DEFAULT_ANTENNA, available_antennas
from host import jsonfile
from host.errors import UserError
from host.privacy import normalise_imsi
from host.sim.geometry import StreetNetwork, distance_to_polygon_m, polygon_area_m2, polygon_contains

WORLDS_DIR = Path(__file__).with_name("worlds")
#: LTE bands whose uplink and downlink share the frequency (TS 36.101 table 5.5-1).
TDD_LTE_BANDS = frozenset(("B34", "B38", "B39", "B40", "B41"))
DEFAULT_WORLD = "old-town"

#: Facade materials and their penetration loss at f GHz, 3GPP TR 38.901 table 7.4.3-1.
WALL_LOSS_DB = {
    "standard_glass": lambda f_ghz: 2.0 + 0.2 * f_ghz,
    "irr_glass": lambda f_ghz: 23.0 + 0.3 * f_ghz,
    "concrete": lambda f_ghz: 5.0 + 4.0 * f_ghz,
    "wood": lambda f_ghz: 4.85 + 0.12 * f_ghz,
}

#: Floor slab loss (first slab dB, each further slab dB) by building use,
#: ITU-R P.1238 floor penetration factors at 1.8-2 GHz (residential 4 n,
#: office 15 + 4 (n - 1), commercial 6 + 3 (n - 1)).
FLOOR_LOSS_DB = {
    "residential": (4.0, 4.0),
    "office": (15.0, 4.0),
    "commercial": (6.0, 3.0),
}


class WorldError(UserError):
    """A world file that cannot be simulated; the message names the file and field."""


@dataclass(frozen=True)
class Building:
    id: str
    footprint_m: np.ndarray
    floors: int
    wall: str
    use: str
    door_m: np.ndarray
    stair_m: np.ndarray

    def contains(self, x_m, y_m):
        return bool(polygon_contains(self.footprint_m, x_m, y_m))


@dataclass(frozen=True)
class Target:
    sim: int
    imsi: str
    rat: str
    channel: int
    freq_hz: float
    tx_power_dbm: float
    on_mean_s: float
    off_mean_s: float
    timeslot: int = 0
    hopping_arfcns: tuple = ()
    maio: int = 0


@dataclass(frozen=True)
class Rack:
    n_sims: int
    building: str | None
    floor: int | None
    x_m: float | None
    y_m: float | None


@dataclass(frozen=True)
class Radio:
    path_loss_exp: float = 3.0
    shadowing_sigma_db: float = 5.0
    shadowing_corr_m: float = 15.0
    rician_k_db: float = 3.0
    channel_bw_hz: float = 200e3
    indoor_loss_db_per_m: float = 0.5
    building_loss_cap_db: float = 30.0
    #: RMS azimuth spread of the diffuse waves around the emitter's bearing (deg),
    #: of the order of TR 38.901 UMi's ASA (table 7.5-6: lgASA about 1.7 in LOS, 1.8 in NLOS).
    angle_spread_los_deg: float = 45.0
    angle_spread_nlos_deg: float = 60.0


@dataclass(frozen=True)
class Downlink:
    """A TDD cell's base station, on the roof: its downlink shares the uplink's frequency."""
    x_m: float
    y_m: float
    height_m: float = 30.0
    eirp_dbm: float = 60.0


@dataclass(frozen=True)
class Network:
    """How the targets' network puts them on the air.

    ``duplex`` "fdd": uplink on its own frequency; "tdd": uplink and the cell's
    downlink share it, in the subframes of LTE configuration ``tdd_config`` and
    special subframe ``special_subframe`` (TS 36.211 tables 4.2-2, 4.2-1).
    ``gsm_tdma``: GSM handsets send one burst per TDMA frame in their timeslot
    (false: a continuous carrier, the simulator's old idealisation).
    """
    operator: str = ""
    duplex: str = "fdd"
    gsm_tdma: bool = True
    frame_offset_us: float = 0.0
    tdd_config: int = 2
    special_subframe: int = 7
    downlink: Downlink | None = None


@dataclass(frozen=True)
class Interferers:
    count: int = 0
    tx_power_dbm: tuple = (-5.0, 10.0)
    on_mean_s: float = 20.0
    off_mean_s: float = 60.0


@dataclass(frozen=True)
class OfficerSpec:
    start: str
    walk_speed_m_s: float = 1.4
    scan_rate_deg_s: float = 45.0
    scan_every_m: float = 50.0
    gnss_sigma_m: float = 3.0
    heading_sigma_deg: float = 4.0
    climb_s_per_floor: float = 15.0
    floor_dwell_s: float = 12.0


@dataclass(frozen=True)
class World:
    name: str
    description: str
    path: Path
    origin: tuple
    radio: Radio
    antenna: str
    buildings: tuple
    streets: StreetNetwork
    route: tuple
    rack: Rack
    targets: tuple
    interferers: Interferers
    officer: OfficerSpec
    extent_m: tuple = field(default=None)
    network: Network = field(default_factory=Network)

    def building(self, building_id):
        for b in self.buildings:
            if b.id == building_id:
                return b
        raise KeyError(building_id)

    def building_at(self, x_m, y_m):
        """The building whose footprint holds the point, else the nearest one."""
        inside = [b for b in self.buildings if b.contains(x_m, y_m)]
        if inside:
            return inside[0]
        return min(self.buildings, key=lambda b: distance_to_polygon_m(b.footprint_m, x_m, y_m))

    def wall_loss_db(self, building, freq_hz):
        return WALL_LOSS_DB[building.wall](freq_hz / 1e9)


def world_names():
    """Names of the worlds that ship with rfhound."""
    return sorted(p.stem for p in WORLDS_DIR.glob("*.json"))


def resolve_world(name_or_path):
    """A shipped world's name, or a path to a world file, as a Path."""
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        if not p.is_file():
            raise WorldError("world file %s: no such file" % p)
        return p
    shipped = WORLDS_DIR / (str(name_or_path) + ".json")
    if not shipped.is_file():
        raise WorldError("unknown world %r: choose one of %s, or give a path to a .json world file"
                         % (str(name_or_path), ", ".join(world_names())))
    return shipped


def load_world(name_or_path=DEFAULT_WORLD):
    """Load and check a world file.

    Raises
    ------
    WorldError
        One line naming the file and the offending field.
    """
    path = resolve_world(name_or_path)
    try:
        doc = jsonfile.load(path, what="the world file", where="world file %s" % path, expect=None)
    except UserError as e:
        raise WorldError(str(e)) from None
    return _Checker(path).world(doc)


def _hashable(value):
    # A list or object where an id belongs would make `in` raise TypeError.
    return not isinstance(value, (list, dict))


class _Checker:
    """Reads one world document, naming the path of every field it rejects."""

    def __init__(self, path):
        self.path = path

    def fail(self, where, what):
        raise WorldError("world file %s: %s: %s" % (self.path.name, where, what))

    def obj(self, doc, where):
        if not isinstance(doc, dict):
            self.fail(where, "must be an object, got %s" % type(doc).__name__)
        return doc

    def get(self, doc, key, where, default=...):
        if key not in doc:
            if default is ...:
                self.fail(where + key, "missing (required)")
            return default
        return doc[key]

    def number(self, doc, key, where, default=..., lo=-math.inf, hi=math.inf):
        v = self.get(doc, key, where, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(where + key, "must be a number, got %r" % (v,))
        if not lo <= v <= hi:
            self.fail(where + key, "must be between %g and %g, got %g" % (lo, hi, v))
        return float(v)

    def integer(self, doc, key, where, default=..., lo=-math.inf, hi=math.inf):
        v = self.get(doc, key, where, default)
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(where + key, "must be an integer, got %r" % (v,))
        if not lo <= v <= hi:
            self.fail(where + key, "must be between %g and %g, got %d" % (lo, hi, v))
        return v

    def string(self, doc, key, where, default=..., choices=None):
        v = self.get(doc, key, where, default)
        if not isinstance(v, str) or not v:
            self.fail(where + key, "must be a non-empty string, got %r" % (v,))
        if choices is not None and v not in choices:
            self.fail(where + key, "must be one of %s, got %r" % (", ".join(sorted(choices)), v))
        return v

    def point(self, doc, key, where, default=...):
        v = self.get(doc, key, where, default)
        if (not isinstance(v, list) or len(v) != 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in v)):
            self.fail(where + key, "must be a point [x_m, y_m], got %r" % (v,))
        return np.array(v, dtype=float)

    def world(self, doc):
        self.obj(doc, "top level")
        name = self.string(doc, "name", "")
        description = self.string(doc, "description", "", default=name)
        o = self.obj(self.get(doc, "origin", ""), "origin")
        origin = (self.number(o, "lat_deg", "origin.", lo=-90, hi=90),
                  self.number(o, "lon_deg", "origin.", lo=-180, hi=180),
                  self.number(o, "alt_m", "origin.", default=0.0, lo=-500, hi=9000))
        radio = self.radio(self.obj(self.get(doc, "radio", "", {}), "radio"))
        antenna = self.string(doc, "antenna", "", default=DEFAULT_ANTENNA,
                              choices=available_antennas())
        buildings = self.buildings(self.get(doc, "buildings", ""))
        streets = self.streets(self.obj(self.get(doc, "streets", ""), "streets"))
        route = self.route(self.get(doc, "route", "", []), streets)
        rack = self.rack(self.obj(self.get(doc, "rack", ""), "rack"), buildings)
        targets = self.targets(self.get(doc, "targets", ""), rack)
        network = self.network(self.obj(self.get(doc, "network", "", {}), "network"), targets)
        interferers = self.interferers(self.obj(self.get(doc, "interferers", "", {}), "interferers"))
        officer = self.officer(self.obj(self.get(doc, "officer", ""), "officer"), streets)
        pts = np.vstack([b.footprint_m for b in buildings] + [np.array(list(streets.nodes_m.values()))])
        margin_m = 20.0
        extent = (float(pts[:, 0].min() - margin_m), float(pts[:, 0].max() + margin_m),
                  float(pts[:, 1].min() - margin_m), float(pts[:, 1].max() + margin_m))
        return World(name=name, description=description, path=self.path, origin=origin,
                     radio=radio, antenna=antenna, buildings=tuple(buildings), streets=streets,
                     route=tuple(route), rack=rack, targets=tuple(targets),
                     interferers=interferers, officer=officer, extent_m=extent, network=network)

    def radio(self, r):
        w = "radio."
        d = Radio()
        return Radio(
            path_loss_exp=self.number(r, "path_loss_exp", w, d.path_loss_exp, 1.5, 6.0),
            shadowing_sigma_db=self.number(r, "shadowing_sigma_db", w, d.shadowing_sigma_db, 0.0, 20.0),
            shadowing_corr_m=self.number(r, "shadowing_corr_m", w, d.shadowing_corr_m, 1.0, 500.0),
            rician_k_db=self.number(r, "rician_k_db", w, d.rician_k_db, -30.0, 30.0),
            channel_bw_hz=self.number(r, "channel_bw_hz", w, d.channel_bw_hz, 1e3, 100e6),
            indoor_loss_db_per_m=self.number(r, "indoor_loss_db_per_m", w, d.indoor_loss_db_per_m, 0.0, 5.0),
            building_loss_cap_db=self.number(r, "building_loss_cap_db", w, d.building_loss_cap_db, 0.0, 100.0),
            angle_spread_los_deg=self.number(r, "angle_spread_los_deg", w, d.angle_spread_los_deg, 0.0, 180.0),
            angle_spread_nlos_deg=self.number(r, "angle_spread_nlos_deg", w, d.angle_spread_nlos_deg, 0.0, 180.0),
        )

    def network(self, n, targets):
        w = "network."
        d = Network()
        duplex = self.string(n, "duplex", w, d.duplex, choices=("fdd", "tdd"))
        gsm_tdma = self.get(n, "gsm_tdma", w, d.gsm_tdma)
        if not isinstance(gsm_tdma, bool):
            self.fail(w + "gsm_tdma", "must be true or false, got %r" % (gsm_tdma,))
        operator = self.get(n, "operator", w, d.operator)
        if not isinstance(operator, str):
            self.fail(w + "operator", "must be a string, got %r" % (operator,))
        downlink = None
        if duplex == "tdd":
            for i, t in enumerate(targets):
                if t.rat != "lte" or bands.uplink_band(t.rat, t.channel)[1] not in TDD_LTE_BANDS:
                    self.fail("targets[%d].channel" % i, "network.duplex is tdd: must be an LTE channel in a "
                              "TDD band (%s)" % ", ".join(sorted(TDD_LTE_BANDS)))
            dl = self.obj(self.get(n, "downlink", w), w + "downlink")
            x = self.number(dl, "x_m", w + "downlink.")
            y = self.number(dl, "y_m", w + "downlink.")
            downlink = Downlink(x_m=x, y_m=y,
                                height_m=self.number(dl, "height_m", w + "downlink.", 30.0, 3.0, 300.0),
                                eirp_dbm=self.number(dl, "eirp_dbm", w + "downlink.", 60.0, 0.0, 80.0))
        elif "downlink" in n:
            self.fail(w + "downlink", "only a TDD network puts its downlink in the uplink's channel; "
                                      "set network.duplex to tdd or drop downlink")
        return Network(
            operator=operator, duplex=duplex, gsm_tdma=gsm_tdma,
            frame_offset_us=self.number(n, "frame_offset_us", w, d.frame_offset_us, 0.0, 10000.0),
            tdd_config=self.integer(n, "tdd_config", w, d.tdd_config, 0, 6),
            special_subframe=self.integer(n, "special_subframe", w, d.special_subframe, 0, 9),
            downlink=downlink)

    def buildings(self, doc):
        if not isinstance(doc, list) or not doc:
            self.fail("buildings", "must be a non-empty list of buildings")
        out, seen = [], set()
        for i, b in enumerate(doc):
            w = "buildings[%d]." % i
            self.obj(b, w[:-1])
            bid = self.string(b, "id", w)
            if bid in seen:
                self.fail(w + "id", "duplicate building id %r" % bid)
            seen.add(bid)
            fp = self.get(b, "footprint_m", w)
            try:
                poly = np.array(fp, dtype=float)
            except (TypeError, ValueError):
                poly = None
            if poly is None or poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
                self.fail(w + "footprint_m", "must be a list of at least 3 [x_m, y_m] vertices")
            if polygon_area_m2(poly) < 4.0:
                self.fail(w + "footprint_m", "encloses less than 4 m2; check the vertex order and units")
            door = self.point(b, "door_m", w)
            stair = self.point(b, "stair_m", w)
            if not polygon_contains(poly, *stair):
                self.fail(w + "stair_m", "must lie inside the building's footprint")
            if distance_to_polygon_m(poly, *door) > 3.0 and not polygon_contains(poly, *door):
                self.fail(w + "door_m", "must lie on the building's outline (within 3 m)")
            out.append(Building(
                id=bid, footprint_m=poly, door_m=door, stair_m=stair,
                floors=self.integer(b, "floors", w, lo=1, hi=100),
                wall=self.string(b, "wall", w, default="concrete", choices=WALL_LOSS_DB),
                use=self.string(b, "use", w, default="office", choices=FLOOR_LOSS_DB),
            ))
        return out

    def streets(self, s):
        nodes = self.obj(self.get(s, "nodes", "streets."), "streets.nodes")
        if len(nodes) < 2:
            self.fail("streets.nodes", "needs at least 2 nodes")
        pts = {k: self.point(nodes, k, "streets.nodes.") for k in nodes}
        edges = self.get(s, "edges", "streets.")
        if not isinstance(edges, list) or not edges:
            self.fail("streets.edges", "must be a non-empty list of [node, node] pairs")
        for i, e in enumerate(edges):
            if not isinstance(e, list) or len(e) != 2 or e[0] == e[1]:
                self.fail("streets.edges[%d]" % i, "must be a pair of two different node ids, got %r" % (e,))
            for n in e:
                if not _hashable(n) or n not in pts:
                    self.fail("streets.edges[%d]" % i, "unknown node %r" % (n,))
        return StreetNetwork(pts, edges)

    def route(self, doc, streets):
        if not isinstance(doc, list):
            self.fail("route", "must be a list of street node ids")
        for i, n in enumerate(doc):
            if not _hashable(n) or n not in streets.nodes_m:
                self.fail("route[%d]" % i, "unknown street node %r" % (n,))
        return doc

    def rack(self, r, buildings):
        w = "rack."
        n_sims = self.integer(r, "n_sims", w, lo=1, hi=128)
        bid = self.get(r, "building", w, None)
        if bid is None:
            for key in ("floor", "x_m", "y_m"):
                if key in r:
                    self.fail(w + key, "given without rack.building; give all of building, floor, x_m, y_m "
                                       "or none (then the seed places the rack)")
            return Rack(n_sims, None, None, None, None)
        by_id = {b.id: b for b in buildings}
        if not _hashable(bid) or bid not in by_id:
            self.fail(w + "building", "unknown building %r" % (bid,))
        b = by_id[bid]
        floor = self.integer(r, "floor", w, lo=0, hi=b.floors - 1)
        x = self.number(r, "x_m", w)
        y = self.number(r, "y_m", w)
        if not b.contains(x, y):
            self.fail(w + "x_m", "rack at (%g, %g) is outside building %s" % (x, y, bid))
        return Rack(n_sims, bid, floor, x, y)

    def targets(self, doc, rack):
        if not isinstance(doc, list) or not doc:
            self.fail("targets", "must be a non-empty list of target SIMs")
        out = []
        for i, t in enumerate(doc):
            w = "targets[%d]." % i
            self.obj(t, w[:-1])
            try:
                imsi = normalise_imsi(self.get(t, "imsi", w))
            except ValueError as e:
                self.fail(w + "imsi", str(e))
            rat = self.string(t, "rat", w, default="gsm", choices=bands.RATS)
            channel = self.integer(t, "channel", w, lo=0)
            try:
                freq_hz = bands.uplink_hz(rat, channel)
            except ValueError as e:
                self.fail(w + "channel", str(e))
            hopping = self.get(t, "hopping_arfcns", w, [channel])
            if (rat != "gsm" and "hopping_arfcns" in t) or not isinstance(hopping, list) or not hopping \
                    or not all(isinstance(a, int) and not isinstance(a, bool) for a in hopping) \
                    or len(set(hopping)) != len(hopping):
                self.fail(w + "hopping_arfcns", "must be a list of distinct GSM ARFCNs (GSM targets only)")
            if channel not in hopping:
                self.fail(w + "hopping_arfcns", "must hold the tasked channel %d" % channel)
            for a in (hopping if rat == "gsm" else ()):
                try:
                    if bands.uplink_band("gsm", a)[1] != bands.uplink_band("gsm", channel)[1]:
                        raise ValueError("ARFCN %d is not in the tasked channel's band" % a)
                except ValueError as e:
                    self.fail(w + "hopping_arfcns", str(e))
            out.append(Target(
                sim=self.integer(t, "sim", w, lo=0, hi=rack.n_sims - 1),
                imsi=imsi, rat=rat, channel=channel, freq_hz=float(freq_hz),
                tx_power_dbm=self.number(t, "tx_power_dbm", w, lo=-40.0, hi=33.0),
                on_mean_s=self.number(t, "on_mean_s", w, 60.0, 0.1, 1e6),
                off_mean_s=self.number(t, "off_mean_s", w, 5.0, 0.1, 1e6),
                timeslot=self.integer(t, "timeslot", w, i % 8, 0, 7),
                hopping_arfcns=tuple(hopping),
                maio=self.integer(t, "maio", w, 0, 0, len(hopping) - 1),
            ))
        return out

    def interferers(self, r):
        w = "interferers."
        d = Interferers()
        p = self.get(r, "tx_power_dbm", w, list(d.tx_power_dbm))
        if (not isinstance(p, list) or len(p) != 2 or not all(isinstance(v, (int, float)) for v in p)
                or p[0] > p[1]):
            self.fail(w + "tx_power_dbm", "must be a range [low_dbm, high_dbm], got %r" % (p,))
        return Interferers(
            count=self.integer(r, "count", w, d.count, 0, 100),
            tx_power_dbm=(float(p[0]), float(p[1])),
            on_mean_s=self.number(r, "on_mean_s", w, d.on_mean_s, 0.1, 1e6),
            off_mean_s=self.number(r, "off_mean_s", w, d.off_mean_s, 0.1, 1e6),
        )

    def officer(self, o, streets):
        w = "officer."
        d = OfficerSpec(start="")
        start = self.string(o, "start", w)
        if not _hashable(start) or start not in streets.nodes_m:
            self.fail(w + "start", "unknown street node %r" % start)
        return OfficerSpec(
            start=start,
            walk_speed_m_s=self.number(o, "walk_speed_m_s", w, d.walk_speed_m_s, 0.1, 5.0),
            scan_rate_deg_s=self.number(o, "scan_rate_deg_s", w, d.scan_rate_deg_s, 1.0, 360.0),
            scan_every_m=self.number(o, "scan_every_m", w, d.scan_every_m, 5.0, 1000.0),
            gnss_sigma_m=self.number(o, "gnss_sigma_m", w, d.gnss_sigma_m, 0.0, 50.0),
            heading_sigma_deg=self.number(o, "heading_sigma_deg", w, d.heading_sigma_deg, 0.0, 45.0),
            climb_s_per_floor=self.number(o, "climb_s_per_floor", w, d.climb_s_per_floor, 1.0, 300.0),
            floor_dwell_s=self.number(o, "floor_dwell_s", w, d.floor_dwell_s, 1.0, 600.0),
        )
