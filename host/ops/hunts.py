"""The live-hunt board: one row per hunt heard on the feed, and targets seen in two hunts.

A model without Qt: the ops window and the headless ``rfhound ops`` both read it.
Thread-safe, because paho's network thread updates it while a GUI timer reads it.

Each hunt keeps its walked track and its current answer (the latest ESTIMATE
record: position, 95 % ellipse, building, floor) for the operations map.  A
hunt is *live* until its team ends it (an EVENT ``hunt ended``, or the
simulator's final ESTIMATE) or it falls silent: nothing sent for
``SILENT_AFTER_S``, timed by the senders' ``sent_s`` so that a retained
metadata message of a session that ended days ago, delivered to a centre that
just subscribed, is not shown as a live hunt.
"""

import math
import threading
from dataclasses import dataclass, field

from host.ops.topics import META_KIND

#: A hunt whose team has sent nothing for this long is no longer live (10 min: longer
#: than any relay reconnect back-off or a walk through a dead spot).
SILENT_AFTER_S = 600.0
#: EVENT texts with which a team ends its hunt (the console's Hunt > End hunt; the
#: simulator when stopped).
END_EVENTS = ("hunt ended", "hunt stopped early")
#: Track points kept per hunt: a point is kept once it is 2 m from the last one kept.
MAX_TRACK_POINTS = 20000
TRACK_STEP_M = 2.0
_M_PER_DEG = 111_195.0


@dataclass
class Hunt:
    """What the operations centre knows about one team's session."""

    team: str
    session_id: str
    area: str = ""
    targets: list = field(default_factory=list)   # [{"label": str, "imsi": masked str | None}]
    last_fix: tuple | None = None                  # (lat_deg, lon_deg, floor)
    last_heard_s: float = 0.0                      # ops-centre clock at the latest message
    records: int = 0
    missing: int = 0                               # record ids below the highest archived one, not archived
    last_sent_s: float = -math.inf                 # senders' clock, latest message
    ended_s: float | None = None                   # when the team ended it (its clock)
    track: list = field(default_factory=list)      # [(lat_deg, lon_deg)], thinned
    answer: dict | None = None                     # see `answer_from`
    origin: tuple | None = None                    # a simulated world's (lat, lon, alt)

    def state(self, now_s):
        """``"ended"``, ``"silent"`` (nothing sent for ``SILENT_AFTER_S``) or ``"live"``."""
        if self.ended_s is not None:
            return "ended"
        if now_s - self.last_sent_s > SILENT_AFTER_S:
            return "silent"
        return "live"


def _area(meta, tasking):
    """The hunt's area: meta ``area``, else the tasking's ``area``, else the simulator's world."""
    for source, key in ((meta, "area"), (tasking or {}, "area"), (meta, "sim_world")):
        if source.get(key):
            return str(source[key])
    return ""


def _targets(tasking):
    out = []
    for index, t in enumerate((tasking or {}).get("targets", []) or []):
        if isinstance(t, dict):
            out.append({"label": str(t.get("label", f"T{index + 1}")), "imsi": t.get("imsi")})
    return out


class HuntBoard:
    """Rows of live hunts and the duplicate-target flags, updated per envelope."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hunts = {}

    def update(self, env, now_s, new=True, missing=None):
        """Fold one envelope (already archived) into the board.

        `missing`: the archive's count of ids missing below the session's highest one.
        """
        with self._lock:
            key = (env.team, env.session_id)
            hunt = self._hunts.setdefault(key, Hunt(env.team, env.session_id))
            hunt.last_heard_s = now_s
            if missing is not None:
                hunt.missing = missing
            # a sender's clock ahead of ours must not keep a hunt live for ever
            hunt.last_sent_s = max(hunt.last_sent_s, min(env.sent_s, now_s))
            if env.kind == META_KIND:
                meta, tasking = env.record.get("meta") or {}, env.record.get("tasking")
                hunt.area = _area(meta, tasking) or hunt.area
                hunt.targets = _targets(tasking) or hunt.targets
                if meta.get("sim_world") and hunt.origin is None:
                    hunt.origin = _world_origin(meta["sim_world"])
                return
            if new:
                hunt.records += 1
            rec = env.record
            if env.kind in ("MEAS", "MARK") and rec.get("lat_deg") is not None \
                    and rec.get("lon_deg") is not None and not rec.get("position_stale") \
                    and not (rec["lat_deg"] == 0 and rec["lon_deg"] == 0):
                hunt.last_fix = (rec["lat_deg"], rec["lon_deg"], rec.get("floor"))
                _extend_track(hunt.track, rec["lat_deg"], rec["lon_deg"])
            elif env.kind == "ESTIMATE":
                final = rec.get("final")
                answer = answer_from(rec.get("estimate") if final else rec, hunt.origin)
                if answer is not None:
                    hunt.answer = answer
                if final:
                    hunt.ended_s = env.sent_s
            elif env.kind == "EVENT" and rec.get("text") in END_EVENTS:
                hunt.ended_s = env.sent_s

    def rows(self, now_s):
        """One dict per hunt, sorted by team.

        Keys: team, session_id, area, targets (text), last_fix, link_age_s (since
        the latest message from the hunt), records (received this run), missing
        (ids not archived below the highest one: a gap while it lasts), duplicate,
        state (``live``, ``ended``, ``silent``), answer (`answer_from` or None),
        silent_s (since the team last sent anything, by its own clock).
        """
        dup = self.duplicates()
        flagged = {h for hunts in dup.values() for h in hunts}
        with self._lock:
            hunts = sorted(self._hunts.values(), key=lambda h: (h.team, h.session_id))
            return [{
                "team": h.team, "session_id": h.session_id, "area": h.area,
                "targets": ", ".join(t["label"] + (f" ({t['imsi']})" if t["imsi"] else "")
                                     for t in h.targets),
                "last_fix": h.last_fix, "link_age_s": max(0.0, now_s - h.last_heard_s),
                "records": h.records, "missing": h.missing,
                "duplicate": (h.team, h.session_id) in flagged,
                "state": h.state(now_s), "answer": h.answer,
                "silent_s": max(0.0, now_s - h.last_sent_s),
            } for h in hunts]

    def tracks(self):
        """``{(team, session_id): [(lat_deg, lon_deg), ...]}`` (copies) for the map."""
        with self._lock:
            return {key: list(h.track) for key, h in self._hunts.items()}

    def duplicates(self):
        """``{("label"|"imsi", value): [(team, session_id), ...]}`` for values in two or more hunts."""
        seen = {}
        with self._lock:
            for key, hunt in self._hunts.items():
                for t in hunt.targets:
                    for kind in ("label", "imsi"):
                        if t.get(kind):
                            seen.setdefault((kind, t[kind]), set()).add(key)
        return {k: sorted(v) for k, v in seen.items() if len(v) > 1}


def _extend_track(track, lat_deg, lon_deg):
    if track:
        lat0, lon0 = track[-1]
        dn = (lat_deg - lat0) * _M_PER_DEG
        de = (lon_deg - lon0) * _M_PER_DEG * math.cos(math.radians(lat0))
        if math.hypot(de, dn) < TRACK_STEP_M:
            return
    track.append((float(lat_deg), float(lon_deg)))
    if len(track) > MAX_TRACK_POINTS:
        del track[: len(track) - MAX_TRACK_POINTS]


def _world_origin(name):
    """The geographic origin of a simulated world, or None if this centre does not know it."""
    try:
        from host.sim.world import load_world

        return tuple(load_world(str(name)).origin)
    except Exception:  # an unknown or broken world: its estimates then have no degrees
        return None


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def answer_from(rec, origin=None):
    """A hunt's answer from an ESTIMATE record, or None without a position in degrees.

    Returns a dict: ``lat_deg``, ``lon_deg``, ``building`` (name or None),
    ``building_prob``, ``floor``, ``floor_prob`` (of that floor), ``ellipse``
    (``semi_major_m``, ``semi_minor_m``, ``orientation_deg`` clockwise from north,
    95 %) or None, ``target`` (index or None).  Estimates in a simulated world's
    metres are put in degrees with the world's ``origin``.
    """
    if not isinstance(rec, dict):
        return None
    lat, lon = _number(rec.get("lat_deg")), _number(rec.get("lon_deg"))
    if (lat is None or lon is None) and origin is not None:
        x, y = _number(rec.get("x_m")), _number(rec.get("y_m"))
        if x is not None and y is not None:
            import pymap3d

            lat, lon, _ = pymap3d.enu2geodetic(x, y, 0.0, *origin)
            lat, lon = float(lat), float(lon)
    if lat is None or lon is None:
        return None
    ellipse = rec.get("ellipse")
    if isinstance(ellipse, dict) and all(_number(ellipse.get(k)) is not None for k in
                                         ("semi_major_m", "semi_minor_m", "orientation_deg")):
        ellipse = {k: float(ellipse[k]) for k in ("semi_major_m", "semi_minor_m", "orientation_deg")}
    else:
        ellipse = None
    floor = rec.get("floor")
    floor_prob = rec.get("floor_prob")
    if isinstance(floor_prob, dict) and floor is not None:
        floor_prob = _number(floor_prob.get(str(floor), floor_prob.get(floor)))
    else:
        floor_prob = _number(floor_prob)
    return {"lat_deg": lat, "lon_deg": lon,
            "building": None if rec.get("building") is None else str(rec["building"]),
            "building_prob": _number(rec.get("building_prob")),
            "floor": floor if isinstance(floor, int) and not isinstance(floor, bool) else None,
            "floor_prob": floor_prob, "ellipse": ellipse,
            "target": rec.get("target") if isinstance(rec.get("target"), int) else None}


def answer_text(answer):
    """``"Torstraße 12 87 %, floor 2 (71 %), 95 %: +-12 x +-8 m"``; ``"-"`` without."""
    if not answer:
        return "-"
    parts = []
    if answer["building"]:
        prob = answer["building_prob"]
        parts.append(answer["building"] + ("" if prob is None else f" {100 * prob:.0f} %"))
    else:
        parts.append(f"{answer['lat_deg']:.6f}, {answer['lon_deg']:.6f}")
    if answer["floor"] is not None:
        prob = answer["floor_prob"]
        parts.append(f"floor {answer['floor']}" + ("" if prob is None else f" ({100 * prob:.0f} %)"))
    ell = answer["ellipse"]
    if ell:
        parts.append(f"95 %: \u00b1{ell['semi_major_m']:.0f} x \u00b1{ell['semi_minor_m']:.0f} m")
    return ", ".join(parts)
