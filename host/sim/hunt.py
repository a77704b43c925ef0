"""One simulated hunt, end to end: virtual handheld, link, session file, locator, officer.

The loop takes every record off the link, stores it in the session file first,
then uses it: MEAS readings go to the locator's inputs, rotation scans become
bearings (`dsp.bearing.scan_bearing`), and the locator (`dsp.locate`) runs in a
worker thread so the officer keeps walking while it thinks.  Whenever the
officer's plan is about to run out, the strategy (`host.sim.strategy`) is asked
for more.  At the end the final estimate is scored against the truth that
only the simulator knows.
"""

import concurrent.futures
import math
import queue
import threading
import time

import numpy as np
import pymap3d

from dsp import answer
from dsp.bearing import floor_sigma_deg, scan_bearing
from dsp.locate import Grid
from firmware.tasking import FORMAT as TASKING_FORMAT
from host.sim.env import make_env
from host.sim.strategy import STRATEGIES

#: Ask the strategy for more plan when less than this remains (simulated s).
LOOKAHEAD_S = 3.0
#: Re-estimate at most this often while walking (simulated s).
ESTIMATE_EVERY_S = 15.0
#: Locator grid cell (m): coarse while walking, fine for the answer.
LIVE_CELL_M = 4.0
FINAL_CELL_M = 2.0
#: A fix needs the 95 % ellipse's semi-major axis under this (m), holding the truth.
FIX_SEMI_MAJOR_M = 10.0
CHI2_2DOF_95 = 5.991464547107979
#: Scans need this many detected samples for a bearing (sigma floor: bearing.floor_sigma_deg).
MIN_SCAN_SAMPLES = 12
#: A scan's last readings are in this long after it ends (simulated s).
SCAN_SETTLE_S = 1.0
#: Readings are averaged over this much simulated time before locating (s):
#: at walking pace that is about 8 wavelengths, which averages out fast fading
#: (Lee's local mean) and keeps the locator's work small.
BIN_S = 1.0
#: Horizontal GNSS error the locator allows for, per axis (m): a consumer receiver in a
#: street of buildings, as its own accuracy estimate typically says (the world's officer
#: draws 3 m).  It wanders over tens of seconds, so it shifts whole stretches of the walk
#: and the estimate with them, which the RSS residuals cannot show.
GNSS_SIGMA_M = 3.0
#: What the locator raises on data it cannot use (too few readings, singular fits).
_LOCATOR_ERRORS = (ValueError, np.linalg.LinAlgError)


class Hunt:
    """A hunt in one world with one seed.

    Parameters
    ----------
    world : World
    seed : int
    link_factory : callable
        ``link_factory(env, tasking, accept) -> (link, closer)``: starts the
        handheld, hands any record it reads itself to ``accept``, and returns a
        link-shaped object (``records`` queue, ``stats()``) and a callable that
        shuts everything down.  See `host.sim.handhelds`.
    session : SessionWriter
        Every record is stored here before it is used.
    strategy : str
        A key of `host.sim.strategy.STRATEGIES`.
    speed : float
        Simulated seconds per wall-clock second.
    max_sim_s : float
        Give up after this much simulated time.
    on_record : callable, optional
        Called with each record after it is stored (for a live view).
    """

    def __init__(self, world, seed, link_factory, session, *, strategy="search", speed=10.0,
                 max_sim_s=1800.0, on_record=None):
        self.world = world
        self.seed = seed
        self.env = make_env(world, seed, speed)
        self.officer = self.env.officer
        self.clock = self.env.clock
        self.truth = self.env.scenario.truth
        self.strategy = STRATEGIES[strategy](world)
        self.session = session
        self.link_factory = link_factory
        self.max_sim_s = max_sim_s
        self.on_record = on_record
        self._stop = threading.Event()
        self.pattern = self.env.scenario.pattern
        self.freqs_hz = [t.freq_hz for t in world.targets]
        self._cols = {k: [] for k in ("t_s", "x_m", "y_m", "floor", "rssi_dbm", "heading_deg", "target")}
        self._scans = []
        self._scans_done = []
        self.bearings = []
        self.estimate = None
        self.estimates = []
        self.fix = None
        self.final = None
        # The rack stands in one of the world's buildings: the locator's prior (a city map
        # would give the same footprints on a real hunt).
        self._footprints = [b.footprint_m for b in world.buildings]
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._future = None
        self._last_submit_s = -math.inf
        self._origin = world.origin
        x0, x1, y0, y1 = world.extent_m
        self._live_grid = Grid(np.arange(x0, x1, LIVE_CELL_M), np.arange(y0, y1, LIVE_CELL_M))
        self._final_grid = Grid(np.arange(x0, x1, FINAL_CELL_M), np.arange(y0, y1, FINAL_CELL_M))
        self.stats = {}
        self.link = None

    # --- what the strategies use --------------------------------------------------------

    def scan(self):
        """Order a rotation scan at the end of the current plan."""
        t0, t1 = self.officer.scan()
        self._scans.append((t0, t1))

    def readings_between(self, t0_s, t1_s):
        """Detected RSSI (dBm) of all targets measured between two simulated times."""
        t = np.asarray(self._cols["t_s"])
        p = np.asarray(self._cols["rssi_dbm"], dtype=float)
        sel = (t >= t0_s) & (t <= t1_s) & np.isfinite(p)
        return p[sel]

    def smoothed_walk(self, window=9):
        """Walk readings (not scans) smoothed by a running median: (x_m, y_m, rssi_dbm)."""
        a = self.readings(walk_only=True)
        if len(a["t_s"]) < window:
            return np.empty(0), np.empty(0), np.empty(0)
        p = np.where(np.isfinite(a["rssi_dbm"]), a["rssi_dbm"], -200.0)
        half = window // 2
        med = np.array([np.median(p[max(i - half, 0): i + half + 1]) for i in range(len(p))])
        return a["x_m"], a["y_m"], med

    def catch_up(self):
        """Let the officer finish the plan (recording all the while), then read its scans.

        A decision that must include the last scan's bearing (which building to
        climb) waits for it instead of planning ahead.
        """
        until_s = self.officer.end_time_s() + SCAN_SETTLE_S
        while self.clock.now_s() < until_s and not self._stop.is_set():
            self._drain(self.link)
        self._finish_scans(self.clock.now_s())

    def wait_for_estimate(self):
        """Block until an estimate that includes every reading so far is in."""
        self._collect()
        self._submit(force=True)
        self._collect()

    def final_estimate(self):
        """The answer: every reading and bearing, on the fine grid.

        It is `dsp.answer`'s, floor included (the climb's readings decide
        it), and is stored in the session as the final ESTIMATE record, so
        that replay and export show this answer.
        """
        self._collect()
        job = self._job(self._final_grid)
        self.final = self.estimate
        if job is not None:
            try:
                self.final = self._run_job(job)[0]
            except _LOCATOR_ERRORS as exc:
                self.session.event("final estimate failed", error=str(exc))
        if self.final is not None:
            self._record(self.final, self.clock.now_s(), final=True)
        return self.final

    def likely_building(self, est):
        """The building most probably holding the rack.

        Given the world's footprints, the locator says which (``est.building``,
        an index into `world.buildings`).  An estimate without it (a locator
        given no footprints) falls back on the building holding the estimate's
        position, else the nearest one.
        """
        if est.building is not None:
            return self.world.buildings[est.building]
        return self.world.building_at(est.x_m, est.y_m)

    def building_prob(self, est, building_id):
        """Posterior probability that the rack is in that building, None if the estimate has none."""
        if est is None or est.building_prob is None:
            return None
        k = [b.id for b in self.world.buildings].index(building_id)
        return float(est.building_prob[k])

    # --- the loop -------------------------------------------------------------------------

    def run(self):
        """Hunt until the strategy is done; returns the result dict."""
        wall0 = time.monotonic()
        self.session.set_meta("sim_world", self.world.name)
        self.session.set_meta("sim_seed", self.seed)
        self.session.set_meta("sim_strategy", self.strategy.name)
        stored = self.tasking()
        for t in stored["targets"]:
            t["freq_hz"] = float(t["uplink_hz"])
        self.session.set_tasking(stored)
        self.clock.start()
        link, closer = self.link_factory(self.env, self.tasking(), self.accept)
        self.link = link
        try:
            self.session.event("hunt started", world=self.world.name, seed=self.seed,
                               strategy=self.strategy.name)
            done = False
            while True:
                self._drain(link)
                now = self.clock.now_s()
                self._finish_scans(now)
                self._poll_estimator(now)
                if not done and self.officer.end_time_s() - now < LOOKAHEAD_S:
                    done = self.strategy.plan(self)
                if done and now > self.officer.end_time_s() + 1.0:
                    break
                if now > self.max_sim_s or self._stop.is_set():
                    self.session.event("hunt stopped early", sim_time_s=now)
                    break
        finally:
            closer()
            self._pool.shutdown(wait=True)
        # The link is stopped: whatever it decoded before is still queued, and stored now.
        self._drain(link)
        self.stats = link.stats()
        self._finish_scans(math.inf)
        answer = self.strategy.answer(self)
        result = self._result(answer)
        result["sim_time_s"] = round(self.clock.now_s(), 1)
        result["wall_time_s"] = round(time.monotonic() - wall0, 1)
        self.session.record({"kind": "ESTIMATE", "rx_time_s": time.time(), "final": True,
                             "estimate": result["estimate"], "error_m": result["error_m"]})
        return result

    def tasking(self):
        """The hunt's tasking body (firmware/tasking.py format), valid for a day from now."""
        now = int(time.time())
        bw = int(self.world.radio.channel_bw_hz)
        return {"format": TASKING_FORMAT, "serial": 1, "issuer": "rfhound simulator",
                "not_before": now - 60, "not_after": now + 86400,
                "targets": [{"label": "SIM %d" % t.sim, "imsi": t.imsi, "rat": t.rat.upper(),
                             "channel": t.channel, "uplink_hz": int(t.freq_hz), "bandwidth_hz": bw}
                            for t in self.world.targets]}

    def _drain(self, link, timeout_s=0.02):
        try:
            rec = link.records.get(timeout=timeout_s)
        except queue.Empty:
            return
        while True:
            self.accept(rec)
            try:
                rec = link.records.get_nowait()
            except queue.Empty:
                return

    def accept(self, rec):
        """Store a record in the session, then use it."""
        self.session.record(rec)
        self._use(rec)
        if self.on_record is not None:
            self.on_record(rec)

    def stop(self):
        """Ask a running hunt to end early (from another thread)."""
        self._stop.set()

    def _use(self, rec):
        if rec.get("kind") != "MEAS" or rec.get("bench") or rec.get("radio_fault"):
            return
        lat, lon = rec.get("lat_deg"), rec.get("lon_deg")
        if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
            return
        # The handheld's clock is its own; the link stamps each record on
        # arrival, a few milliseconds after the dwell, and that stamp maps onto
        # the simulated time the officer's plan runs in.
        rx = rec.get("rx_time_s")
        t_s = self.clock.at_epoch(rx) if rx is not None else self.clock.now_s()
        x, y, _ = pymap3d.geodetic2enu(lat, lon, rec.get("alt_m") or 0.0, *self._origin)
        c = self._cols
        c["t_s"].append(t_s)
        c["x_m"].append(float(x))
        c["y_m"].append(float(y))
        c["floor"].append(np.nan if rec.get("floor") is None else float(rec["floor"]))
        c["rssi_dbm"].append(np.nan if rec.get("rssi_dbm") is None else float(rec["rssi_dbm"]))
        c["heading_deg"].append(np.nan if rec.get("heading_deg") is None else float(rec["heading_deg"]))
        c["target"].append(int(rec["target"]))

    def readings(self, walk_only=False):
        """Every usable MEAS so far as arrays: ``t_s`` (simulated), ``x_m``, ``y_m``, ``floor``,
        ``rssi_dbm`` (NaN = not detected), ``heading_deg``, ``target``; without scans if asked."""
        a = {k: np.asarray(v, dtype=float) for k, v in self._cols.items()}
        n = min(len(v) for v in a.values())
        a = {k: v[:n] for k, v in a.items()}
        if walk_only and self._scans:
            keep = np.ones(n, dtype=bool)
            for t0, t1 in self._scans:
                keep &= ~((a["t_s"] >= t0) & (a["t_s"] <= t1))
            a = {k: v[keep] for k, v in a.items()}
        return a

    def _finish_scans(self, now):
        pending = [s for s in self._scans if s not in self._scans_done and s[1] + SCAN_SETTLE_S < now]
        if not pending:
            return
        a = self.readings()
        for t0, t1 in pending:
            self._scans_done.append((t0, t1))
            sel = (a["t_s"] >= t0) & (a["t_s"] <= t1) & np.isfinite(a["heading_deg"])
            best = None
            for target, freq in enumerate(self.freqs_hz):
                s = sel & (a["target"] == target) & np.isfinite(a["rssi_dbm"])
                if s.sum() < MIN_SCAN_SAMPLES:
                    continue
                try:
                    brg, props = scan_bearing(a["heading_deg"][s], a["rssi_dbm"][s], self.pattern,
                                              freq_hz=freq)
                except ValueError:
                    continue
                if props["rejected"] or props["ambiguous"]:
                    continue
                if best is None or props["sigma_deg"] < best[1]:
                    best = (brg, props["sigma_deg"], float(a["x_m"][s].mean()), float(a["y_m"][s].mean()))
            if best is not None:
                brg, sigma, x, y = best
                self.bearings.append((x, y, brg, floor_sigma_deg(sigma)))
                self.session.event("scan bearing", x_m=x, y_m=y, bearing_deg=brg, sigma_deg=sigma)

    # --- the locator in its worker thread --------------------------------------------------

    def _job(self, grid):
        a = _local_means(self.readings(walk_only=True), BIN_S)
        if np.isfinite(a["rssi_dbm"]).sum() < 10 and len(self.bearings) < 2:
            return None
        bearings = None
        if self.bearings:
            b = np.array(self.bearings)
            bearings = (b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        return dict(t_s=self.clock.now_s(), x=a["x_m"], y=a["y_m"], rssi=a["rssi_dbm"],
                    floor=a["floor"], group=a["target"].astype(int), bearings=bearings, grid=grid,
                    footprints=self._footprints)

    @staticmethod
    def _run_job(job):
        common = dict(bearings=job["bearings"], grid=job["grid"], position_sigma_m=GNSS_SIGMA_M,
                      footprints=job["footprints"])
        g = job["group"]
        labels = np.unique(g)
        if len(labels) > 1:
            parts = [{"x_m": job["x"][g == k], "y_m": job["y"][g == k], "rssi_dbm": job["rssi"][g == k],
                      "floor": job["floor"][g == k]} for k in labels]
            est = answer.locate_rack(parts, **common).estimate
        else:
            est = answer.locate_target(job["x"], job["y"], job["rssi"], floor=job["floor"],
                                       **common).estimate
        return est, job["t_s"]

    def _submit(self, force=False):
        if not self.strategy.uses_locator:
            return
        now = self.clock.now_s()
        if not force and now - self._last_submit_s < ESTIMATE_EVERY_S:
            return
        job = self._job(self._live_grid)
        if job is None:
            return
        self._last_submit_s = now
        self._future = self._pool.submit(self._run_job, job)

    def _poll_estimator(self, now):
        if self._future is not None and self._future.done():
            self._collect()
        if self._future is None:
            self._submit()

    def _collect(self):
        """Wait for the running estimate, if any, and take it."""
        future, self._future = self._future, None
        if future is None:
            return
        try:
            self._take(future.result())
        except _LOCATOR_ERRORS as exc:
            # Too little or too degenerate data so far: keep the last estimate.
            self.session.event("estimate failed", error=str(exc))

    def _take(self, result):
        est, t_s = result
        self.estimate = est
        self.estimates.append((t_s, est))
        self._record(est, t_s)
        if self.fix is None and self._holds_truth(est):
            self.fix = (t_s, self.officer.walked_m(t_s))

    def _record(self, est, t_s, final=False):
        building = self.likely_building(est).id
        self.session.record({"kind": "ESTIMATE", "rx_time_s": time.time(), "sim_time_s": t_s,
                             "final": final, "x_m": est.x_m, "y_m": est.y_m,
                             "ellipse": est.ellipse, "floor": est.floor,
                             "floor_prob": {str(k): v for k, v in (est.floor_prob or {}).items()},
                             "building": building, "building_prob": self.building_prob(est, building)})

    def _holds_truth(self, est):
        if not est.ellipse["semi_major_m"] < FIX_SEMI_MAJOR_M:
            return False
        d = np.array([self.truth["x_m"] - est.x_m, self.truth["y_m"] - est.y_m])
        try:
            m2 = float(d @ np.linalg.solve(est.cov_m2, d))
        except np.linalg.LinAlgError:
            return False
        return m2 <= CHI2_2DOF_95

    # --- the score --------------------------------------------------------------------------

    def _result(self, answer):
        truth = dict(self.truth)
        truth["x_m"] = round(truth["x_m"], 1)
        truth["y_m"] = round(truth["y_m"], 1)
        out = {"world": self.world.name, "seed": self.seed, "strategy": self.strategy.name,
               "truth": truth}
        if answer is None:
            out.update(estimate=None, error_m=None, right_building=False, right_floor=False)
        else:
            x, y, floor, building = answer
            est = self.final or self.estimate
            ellipse = prob = None
            if self.strategy.uses_locator and est is not None:
                ellipse = {k: round(float(v), 1) for k, v in est.ellipse.items()}
                prob = self.building_prob(est, building)
            out["estimate"] = {"x_m": round(float(x), 1), "y_m": round(float(y), 1),
                               "floor": None if floor is None else int(floor),
                               "building": building,
                               "building_prob": None if prob is None else round(prob, 3),
                               "ellipse": ellipse}
            out["error_m"] = round(float(math.hypot(x - self.truth["x_m"], y - self.truth["y_m"])), 1)
            out["right_building"] = building == self.truth["building"]
            out["right_floor"] = out["right_building"] and floor == self.truth["floor"]
        out["time_to_fix_s"] = None if self.fix is None else round(self.fix[0], 1)
        out["distance_to_fix_m"] = None if self.fix is None else round(self.fix[1], 1)
        out["frames"] = int(self.stats.get("frames", 0))
        out["crc_errors"] = int(self.stats.get("crc_errors", 0))
        return out


def _local_means(a, bin_s):
    """Median RSSI, mean position per target, floor and time bin.

    A bin counts as detected when at least half its readings were; otherwise
    its RSSI is NaN (measured, not detected).
    """
    if len(a["t_s"]) == 0:
        return a
    floor_code = np.where(np.isfinite(a["floor"]), a["floor"], -999.0)
    keys = np.stack([a["target"], floor_code, np.floor(a["t_s"] / bin_s)], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    out = {k: np.empty(len(uniq)) for k in a}
    for g, idx in enumerate(np.split(order, bounds)):
        p = a["rssi_dbm"][idx]
        det = np.isfinite(p)
        out["rssi_dbm"][g] = np.median(p[det]) if det.mean() >= 0.5 else np.nan
        for k in ("t_s", "x_m", "y_m"):
            out[k][g] = a[k][idx].mean()
        out["heading_deg"][g] = a["heading_deg"][idx[0]]
        out["floor"][g] = a["floor"][idx[0]]
        out["target"][g] = a["target"][idx[0]]
    order = np.argsort(out["t_s"], kind="stable")
    return {k: v[order] for k, v in out.items()}


def simulate(world, seed, session_path, *, handheld="micropython", strategy="search", speed=10.0,
             report_path=None, on_record=None, hunt_ready=None):
    """Run one hunt into a new session file; optionally write the PNG report.

    Returns
    -------
    result : dict
        The scored outcome (see `Hunt.run`), with ``session`` and ``report`` paths.
    hunt : Hunt
    """
    from host.session import SessionWriter
    from host.sim.handhelds import HANDHELDS

    session = SessionWriter(str(session_path), meta={"source": "rfhound simulator",
                                                      "sim_handheld": handheld})
    try:
        hunt = Hunt(world, seed, HANDHELDS[handheld](), session, strategy=strategy, speed=speed,
                    on_record=on_record)
        if hunt_ready is not None:
            hunt_ready(hunt)
        result = hunt.run()
    finally:
        session.close()
    result["handheld"] = handheld
    result["session"] = str(session_path)
    result["report"] = None
    if report_path is not None:
        from host.sim.report import write_report
        if write_report(report_path, hunt, result):
            result["report"] = str(report_path)
    return result, hunt
