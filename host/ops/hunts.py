"""The live-hunt board: one row per hunt heard on the feed, and targets seen in two hunts.

A model without Qt: the ops window and the headless ``rfhound ops`` both read it.
Thread-safe, because paho's network thread updates it while a GUI timer reads it.
"""

import threading
from dataclasses import dataclass, field

from host.ops.topics import META_KIND


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
            if env.kind == META_KIND:
                meta, tasking = env.record.get("meta") or {}, env.record.get("tasking")
                hunt.area = _area(meta, tasking) or hunt.area
                hunt.targets = _targets(tasking) or hunt.targets
                return
            if new:
                hunt.records += 1
            rec = env.record
            if env.kind in ("MEAS", "MARK") and rec.get("lat_deg") is not None \
                    and rec.get("lon_deg") is not None and not rec.get("position_stale"):
                hunt.last_fix = (rec["lat_deg"], rec["lon_deg"], rec.get("floor"))

    def rows(self, now_s):
        """One dict per hunt, sorted by team.

        Keys: team, session_id, area, targets (text), last_fix, link_age_s (since
        the latest message from the hunt), records (received this run), missing
        (ids not archived below the highest one: a gap while it lasts), duplicate.
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
                "records": h.records, "missing": h.missing, "duplicate": (h.team, h.session_id) in flagged,
            } for h in hunts]

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
