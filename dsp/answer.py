"""THE answer for a target or a rack: one function every caller shows.

The console (live and replay), its report and exports, ``rfhound locate``,
the simulator's summaries and the operations centre all turn a target's
readings into an answer here, so they cannot disagree.  `locate_target` owns
the choices that used to be made four ways:

* **scans**: runs of directional readings at one spot covering most of the
  circle are rotation scans (`dsp.scans`); they give bearings, and stay out
  of the signal-strength fit;
* **binning**: past `MAX_ROWS` readings, readings are averaged (in dB) over
  square spatial bins per floor, the bin doubling from `BIN_START_M` until
  they fit: readings within a bin share their shadowing, so little is lost,
  and memory and time stay bounded whatever the walk's length;
* **the noise floor**: a reading within `NEAR_FLOOR_DB` of the receiver's
  noise floor says only "weak": it is a censored reading (signal below
  that level), not a distance.  Without a stated floor it is estimated as
  the `FLOOR_PERCENTILE`-th percentile of the detections: a receiver's
  floor shows as a pile of readings at its bottom;
* **the floor**: readings tagged with floors inside the building (a
  stairwell or corridor climb) decide it (`dsp.floors.climb_floor_posterior`);
  street readings alone leave it unknown, spread evenly over the floors;
* **the building**: with footprints, the posterior mass per building
  (polygons of one name summed) and the most probable one;
* **racks**: SIMs of one rack share a position.  `locate_rack` removes
  each SIM's power offset (the median difference to the strongest SIM over
  the spots both were heard) and locates the pooled readings as one target,
  so the cost does not grow with the number of SIMs.
"""

from dataclasses import dataclass, field

import numpy as np

from dsp import floors as floors_mod, locate, propagation, scans

#: Most readings a target's fit takes before they are binned in space.
MAX_ROWS = 2000
#: First bin size tried when binning (m).
BIN_START_M = 1.0
#: Readings within this of the noise floor are censored (dB).
NEAR_FLOOR_DB = 3.0
#: Percentile of the detections taken as the receiver's noise floor when none is stated.
FLOOR_PERCENTILE = 5.0
#: Fewest detections from which the noise floor is estimated (else: the weakest detection).
MIN_FOR_FLOOR_ESTIMATE = 40
#: The SIMs' offset-corrected readings are averaged over bins of this size (m): several SIMs
#: read at one spot are one reading of that spot's shadowing, with less of its fading.
RACK_BIN_M = 1.0
#: Spot size (m) over which two SIMs of a rack are compared for their power offset.
RACK_SPOT_M = 5.0


@dataclass
class Answer:
    """Where the emitter is, how sure, which building and which floor.

    ``floor`` is the most probable floor, or None when the readings cannot
    tell (``floor_known`` False; ``floor_prob`` is then spread evenly over
    the candidate floors).  ``building`` is the name of the most probable
    building and ``building_prob`` its probability (None without
    footprints); ``buildings`` lists ``(name, prob)`` most probable first.
    ``estimate`` is the underlying `dsp.locate.Estimate` (heat map, grid,
    model parameters).
    """

    x_m: float
    y_m: float
    cov_m2: np.ndarray
    ellipse: dict
    cep50_m: float
    floor: int | None
    floor_prob: dict
    floor_known: bool
    building: str | None
    building_prob: float | None
    buildings: list
    n_used: int
    n_censored: int
    noise_floor_dbm: float | None
    estimate: locate.Estimate
    extra: dict = field(default_factory=dict)

    @property
    def posterior(self):
        return self.estimate.posterior

    @property
    def grid(self):
        return self.estimate.grid

    def to_dict(self):
        """Plain JSON-ready summary (metres in the readings' local frame)."""
        return {
            "x_m": round(self.x_m, 2), "y_m": round(self.y_m, 2),
            "ellipse": {k: round(float(v), 2) for k, v in self.ellipse.items()},
            "cep50_m": round(self.cep50_m, 2),
            "floor": self.floor, "floor_known": self.floor_known,
            "floor_prob": {str(k): round(v, 3) for k, v in self.floor_prob.items()},
            "building": self.building,
            "building_prob": None if self.building_prob is None else round(self.building_prob, 3),
            "n_used": self.n_used, "n_censored": self.n_censored,
        }


def _col(a, n, name, default=np.nan):
    if a is None:
        return np.full(n, default, dtype=float)
    arr = np.asarray(a, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a 1-D array of the readings' length {n}")
    return arr


def noise_floor_for(rssi_dbm, stated_dbm=None):
    """The censoring level (dBm): ``NEAR_FLOOR_DB`` above the stated or estimated noise floor."""
    det = np.asarray(rssi_dbm, float)
    det = det[np.isfinite(det)]
    if stated_dbm is not None:
        return float(stated_dbm) + NEAR_FLOOR_DB
    if len(det) == 0:
        return None
    if len(det) < MIN_FOR_FLOOR_ESTIMATE:
        return float(det.min())
    return float(np.percentile(det, FLOOR_PERCENTILE)) + NEAR_FLOOR_DB


def bin_readings(x_m, y_m, rssi_dbm, floor, order_key, max_rows=MAX_ROWS, start_m=None):
    """Spatial bins of readings per floor, at most ``max_rows`` of them.

    Returns ``(x, y, rssi, floor, key)`` of the bins in the order of their first
    reading (``key`` = the smallest ``order_key`` in each); a bin is detected
    when at least half its readings were, its power the mean of their dB.
    Fewer readings than ``max_rows`` come back unchanged unless ``start_m``
    asks for bins of at least that size.
    """
    n = len(x_m)
    if n <= max_rows and start_m is None:
        return x_m, y_m, rssi_dbm, floor, order_key
    fcode = np.where(np.isfinite(floor), floor, -999.0)
    size = BIN_START_M if start_m is None else start_m
    while True:
        keys = np.column_stack([np.floor(x_m / size), np.floor(y_m / size), fcode])
        _, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()
        nb = inv.max() + 1
        if nb <= max_rows:
            break
        size *= 2.0
    count = np.bincount(inv, minlength=nb).astype(float)
    det = np.isfinite(rssi_dbm)
    ndet = np.bincount(inv, det, minlength=nb)
    psum = np.bincount(inv, np.where(det, rssi_dbm, 0.0), minlength=nb)
    p = np.where(ndet >= 0.5 * count, psum / np.maximum(ndet, 1), np.nan)
    bx = np.bincount(inv, x_m, minlength=nb) / count
    by = np.bincount(inv, y_m, minlength=nb) / count
    bf = np.full(nb, np.nan)
    bf[inv] = floor
    first = np.full(nb, np.inf)
    np.minimum.at(first, inv, order_key)
    o = np.argsort(first, kind="stable")
    return bx[o], by[o], p[o], bf[o], first[o]


def _bearings_from_scans(x, y, heading, rssi, pattern, freq_hz):
    """Bearings of the rotation scans among directional detections, and the rows they took."""
    from dsp.bearing import floor_sigma_deg, scan_bearing

    directional = np.flatnonzero(np.isfinite(heading) & np.isfinite(rssi))
    taken, out = [], []
    for s in scans.find_scans(x[directional], y[directional], heading[directional]):
        rows = directional[s]
        taken.append(rows)
        if pattern is None:
            continue
        try:
            brg, props = scan_bearing(heading[rows], rssi[rows], pattern, freq_hz=freq_hz)
        except ValueError:
            continue
        if props["rejected"] or props["ambiguous"] or not np.isfinite(props["sigma_deg"]):
            continue
        out.append((x[rows].mean(), y[rows].mean(), brg, floor_sigma_deg(props["sigma_deg"])))
    rows = np.concatenate(taken) if taken else np.array([], dtype=int)
    brg = tuple(np.array(c) for c in zip(*out)) if out else None
    return brg, rows


def _merge_bearings(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return tuple(np.concatenate([u, v]) for u, v in zip(a, b))


def locate_target(x_m, y_m, rssi_dbm, *, time_s=None, floor=None, heading_deg=None,
                  bearings=None, pattern=None, freq_hz=None, noise_floor_dbm=None,
                  footprints=None, building_names=None, building_floors=None,
                  position_sigma_m=None, grid=None, grid_cells=None, group=None, bin_m=None,
                  saturated=None):
    """THE answer for one target from its readings (see the module docstring).

    Parameters
    ----------
    x_m, y_m : array_like, shape (N,)
        Reading positions, local metres east and north.
    rssi_dbm : array_like, shape (N,)
        Received power (dBm), NaN = measured, not detected.
    time_s : array_like, optional
        Reading times; readings are put in time order.
    floor : array_like, optional
        Floor of each reading (0 = street, NaN = unknown).
    heading_deg : array_like, optional
        Antenna heading of directional readings (NaN = omni); rotation scans
        among them become bearings (with ``pattern``) and leave the RSS fit.
    bearings : tuple of 4 arrays, optional
        Bearings already made ``(x_m, y_m, bearing_deg, sigma_deg)``.
    pattern : dsp.antenna pattern, optional
        The antenna's pattern for the scans; ``freq_hz`` picks its row.
    noise_floor_dbm : float, optional
        The receiver's noise floor; default: estimated (`noise_floor_for`).
    footprints : sequence of (K, 2) arrays, optional
        Building footprints in the same metres; ``building_names`` names
        them (default their index), ``building_floors`` gives each one's
        floor count (the candidate floors).
    position_sigma_m : float, optional
        GNSS position error per axis (m), added to the covariance.
    grid : dsp.locate.Grid, optional
        Heat-map grid; else ``grid_cells`` cells per axis around the data.
    group : array_like of int, optional
        Transmitter of each reading (one P0 each, one position).
    bin_m : float, optional
        Average readings over spatial bins of at least this size (m) even
        when they are few (a rack's SIMs read at one spot).
    saturated : array_like of bool, optional
        Readings of a saturated receiver: bounds (the power was at least
        that), kept out of binning and censoring.

    Returns
    -------
    Answer

    Raises
    ------
    ValueError
        Too few usable readings, or degenerate ones (one line, for the user).
    """
    x = np.asarray(x_m, dtype=float)
    n = len(x)
    y, p = _col(y_m, n, "y_m"), _col(rssi_dbm, n, "rssi_dbm")
    t = _col(time_s, n, "time_s", 0.0) if time_s is not None else np.arange(n, dtype=float)
    fl, hd = _col(floor, n, "floor"), _col(heading_deg, n, "heading_deg")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("reading positions must be finite")
    if np.any(np.isfinite(fl) & ((fl < -5) | (fl > 200))):
        raise ValueError("floors must lie between -5 and 200")
    g = None if group is None else np.asarray(group)
    sat = np.zeros(n, dtype=bool) if saturated is None else np.asarray(saturated, dtype=bool)
    if sat.shape != (n,):
        raise ValueError(f"saturated must be a 1-D array of the readings' length {n}")
    o = np.argsort(t, kind="stable")
    x, y, p, t, fl, hd, sat = x[o], y[o], p[o], t[o], fl[o], hd[o], sat[o]
    g = None if g is None else g[o]

    scan_brg, scan_rows = _bearings_from_scans(x, y, hd, p, pattern, freq_hz)
    brg = _merge_bearings(bearings, scan_brg)
    keep = np.ones(n, dtype=bool)
    keep[scan_rows] = False
    bound = keep & sat & np.isfinite(p)
    keep &= ~sat
    bx_, by_, bp_, bt_, bf_ = x[bound], y[bound], p[bound], t[bound], fl[bound]
    x, y, p, t, fl = x[keep], y[keep], p[keep], t[keep], fl[keep]
    g_bound = None if g is None else g[bound]
    g = None if g is None else g[keep]

    det = np.isfinite(p)
    if det.sum() > 1 and np.ptp(p[det]) < 1e-6 and brg is None:
        raise ValueError("every detected reading has the same power: signal strength that does "
                         "not change along the walk cannot say where the emitter is")
    if g is None:
        x, y, p, fl, t = bin_readings(x, y, p, fl, t, start_m=bin_m)
    censor_dbm = noise_floor_for(p, noise_floor_dbm)
    p = p.copy()
    if censor_dbm is not None:
        p[p < censor_dbm] = np.nan
    n_censored = int(np.sum(~np.isfinite(p)))
    # Saturated readings join after binning and censoring: each a bound, not a level.
    n_plain = len(x)
    x, y, p, t, fl = (np.concatenate([a, b]) for a, b in
                      ((x, bx_), (y, by_), (p, bp_), (t, bt_), (fl, bf_)))
    g = None if g is None else np.concatenate([g, g_bound])
    is_bound = np.arange(len(x)) >= n_plain

    # The floor: from a climb inside the building when there is one.
    have_floor = np.isfinite(fl)
    indoor = propagation.indoor_mask(x, y, fl) if have_floor.any() else np.zeros(len(x), bool)
    top = floors_mod.DEFAULT_TOP_FLOOR
    if building_floors is not None and len(building_floors):
        top = max(int(max(building_floors)) - 1, 0)
    if have_floor.any():
        top = max(top, int(np.nanmax(fl)) + 1)
    candidates = np.arange(0, top + 1)
    levels, unheard = floors_mod.landing_levels(fl[indoor & ~is_bound], p[indoor & ~is_bound])
    floor_known = len(levels) >= 2
    if floor_known:
        prob = floors_mod.climb_floor_posterior(levels, candidates, unheard=unheard,
                                                noise_floor_dbm=censor_dbm)
    else:
        prob = np.full(len(candidates), 1.0 / len(candidates))
    floor_prob = {int(c): float(q) for c, q in zip(candidates, prob)}
    best_floor = int(candidates[int(np.argmax(prob))]) if floor_known else None

    if grid is None and grid_cells is not None:
        px = np.concatenate([x] + ([brg[0]] if brg else []))
        py = np.concatenate([y] + ([brg[1]] if brg else []))
        grid = locate.Grid.around(px, py, cells=grid_cells)
    kwargs = dict(noise_floor_dbm=censor_dbm, bearings=brg, grid=grid, footprints=footprints,
                  position_sigma_m=position_sigma_m, group=g,
                  saturated=is_bound if is_bound.any() else None)
    if floor_known:
        # The climb fixed the floor: the fit places the rack at its height and counts the
        # slabs between it and every reading indoors.
        kwargs.update(floor=fl, tx_floors=[best_floor])
    else:
        # Street readings: the rack's height is a nuisance; one storey up is typical.
        kwargs.update(z_m=propagation.floor_height_m(np.where(have_floor, np.nan_to_num(fl), 0.0),
                                                     propagation.RX_ABOVE_FLOOR_M))
    est = locate.estimate_position(x, y, p, **kwargs)
    cov = est.cov_m2
    if not np.all(np.isfinite(cov)) or np.linalg.eigvalsh(cov)[0] <= 0:
        raise ValueError("the readings cannot place the emitter (the fit has no curvature); "
                         "walk around the suspected area")

    # The estimate carries THE floor too, so that a caller reading it cannot show another.
    est.floor, est.floor_prob = best_floor, floor_prob
    building = building_prob = None
    ranked = []
    if est.building_prob is not None:
        names = (list(building_names) if building_names is not None
                 else [str(i) for i in range(len(est.building_prob))])
        total = {}
        for name, q in zip(names, est.building_prob):
            total[name] = total.get(name, 0.0) + float(q)
        ranked = sorted(total.items(), key=lambda item: -item[1])
        building, building_prob = ranked[0]
    return Answer(
        x_m=float(est.x_m), y_m=float(est.y_m), cov_m2=cov, ellipse=est.ellipse,
        cep50_m=est.cep50_m, floor=best_floor, floor_prob=floor_prob, floor_known=floor_known,
        building=building, building_prob=building_prob, buildings=ranked,
        n_used=int(est.n_used), n_censored=n_censored, noise_floor_dbm=censor_dbm,
        estimate=est, extra={"n_bearings": 0 if brg is None else len(brg[0])})


def rack_offsets_db(parts, spot_m=RACK_SPOT_M):
    """Power offset of each SIM of a rack relative to the one heard most (dB).

    Each SIM's detections are averaged per ``spot_m`` square; the offset of
    SIM k is the median, over the spots both were heard, of its level less
    the reference's (they share position, path and shadowing, not power).
    A SIM sharing fewer than 3 spots falls back on the difference of the
    two SIMs' upper-quartile levels.
    """
    spots = []
    for part in parts:
        p = np.asarray(part["rssi_dbm"], float)
        det = np.isfinite(p)
        keys = np.floor(np.column_stack([np.asarray(part["x_m"], float)[det],
                                         np.asarray(part["y_m"], float)[det]]) / spot_m)
        key_list = [tuple(k) for k in keys.astype(np.int64)]
        by = {}
        for k, v in zip(key_list, p[det]):
            by.setdefault(k, []).append(v)
        spots.append({k: float(np.mean(v)) for k, v in by.items()})
    ref = int(np.argmax([sum(1 for _ in s) for s in spots]))
    out = np.zeros(len(parts))
    for i, s in enumerate(spots):
        if i == ref:
            continue
        common = set(s) & set(spots[ref])
        if len(common) >= 3:
            out[i] = float(np.median([s[k] - spots[ref][k] for k in common]))
        elif s and spots[ref]:
            out[i] = (float(np.percentile(list(s.values()), 75))
                      - float(np.percentile(list(spots[ref].values()), 75)))
    return out


def locate_rack(parts, **kwargs):
    """THE answer for the SIMs of one rack: one position from all their readings.

    Parameters
    ----------
    parts : sequence of dict
        Per SIM: ``x_m``, ``y_m``, ``rssi_dbm`` and optionally ``time_s``,
        ``floor``, ``heading_deg``, ``saturated`` arrays.
    **kwargs
        As `locate_target`.

    Returns
    -------
    Answer
        ``extra["offsets_db"]`` holds each SIM's power offset.
    """
    if not parts:
        raise ValueError("a rack needs at least one SIM's readings")
    offsets = rack_offsets_db(parts)
    cols = {}
    for key in ("x_m", "y_m", "rssi_dbm", "time_s", "floor", "heading_deg", "saturated"):
        if all(part.get(key) is not None for part in parts):
            cols[key] = np.concatenate([np.asarray(part[key], float) for part in parts])
    cols["rssi_dbm"] = cols["rssi_dbm"] - np.concatenate(
        [np.full(len(part["x_m"]), off) for part, off in zip(parts, offsets)])
    ans = locate_target(cols.pop("x_m"), cols.pop("y_m"), cols.pop("rssi_dbm"),
                        time_s=cols.get("time_s"), floor=cols.get("floor"),
                        heading_deg=cols.get("heading_deg"), saturated=cols.get("saturated"),
                        bin_m=RACK_BIN_M, **kwargs)
    ans.extra["offsets_db"] = [float(v) for v in offsets]
    return ans


def coincident(answers):
    """Groups (lists of indices) of answers whose positions agree (`dsp.groups`)."""
    from dsp import groups

    return groups.coincident_groups([[a.x_m, a.y_m] for a in answers], [a.cov_m2 for a in answers])

