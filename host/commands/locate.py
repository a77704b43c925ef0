"""rfhound locate: where each target (and each rack of targets) is, from a measurement CSV."""

import json
import sys

from host.errors import UserError

NAME = "locate"
HELP = "estimate each target's position, floor and 95-percent ellipse from a measurement CSV"

#: Readings of one rotation scan stay within this distance of its first reading (m).
SCAN_RADIUS_M = 5.0
#: Fewest samples that make a rotation scan.
SCAN_MIN_SAMPLES = 4


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE.csv", help="measurement CSV (docs/formats.md)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--position-sigma-m", type=float, default=None, metavar="M",
                        help="standard deviation (m, per axis) of the readings' positions, as the "
                             "GNSS receiver states it; added to every ellipse (default: none, "
                             "positions taken as exact)")
    parser.add_argument("--footprints", metavar="FILE.geojson", default=None,
                        help="building footprints (GeoJSON Polygon/MultiPolygon, outer rings): "
                             "the rack is in one of them, and each answer names its building. "
                             "Coordinates are [lon, lat] (RFC 7946) when the CSV has "
                             "lat_deg/lon_deg, else [x_m, y_m] in the CSV's local metres "
                             "(non-standard GeoJSON)")
    parser.add_argument("--noise-floor-dbm", type=float, default=None,
                        help="detection threshold for the empty-rssi (not detected) rows; "
                             "default: each target's weakest detection")
    parser.add_argument("--freq-hz", type=float, default=None,
                        help="frequency for multi-frequency antenna patterns of rotation scans "
                             "(default: the middle of the pattern's table)")


#: A run of directional readings at one spot is a rotation scan when its headings cover this
#: much of the circle; shorter runs are readings on the move (the antenna points where the
#: officer walks) and count as signal-strength readings like any other.
SCAN_MIN_COVERAGE_DEG = 270.0


def _coverage_deg(heading_deg):
    """Degrees of azimuth the headings span: 360 minus the widest gap between them."""
    import numpy as np
    h = np.sort(np.mod(heading_deg, 360.0))
    gaps = np.diff(np.concatenate([h, h[:1] + 360.0]))
    return 360.0 - float(gaps.max())


def _scans(rows, x, y, heading_deg):
    """The rotation scans among one target's directional rows (index arrays)."""
    import numpy as np
    runs, current = [], []
    for i in rows:
        if current and np.hypot(x[i] - x[current[0]], y[i] - y[current[0]]) > SCAN_RADIUS_M:
            runs.append(current)
            current = []
        current.append(i)
    if current:
        runs.append(current)
    return [np.array(r) for r in runs if len(r) >= SCAN_MIN_SAMPLES
            and _coverage_deg(heading_deg[r]) >= SCAN_MIN_COVERAGE_DEG]


def _bearings(idx, data, x, y, freq_hz, warn, label):
    """Bearings (x, y, bearing_deg, sigma_deg) from the target's rotation scans, or None,
    and the rows the scans took (which then carry the pattern, not the distance)."""
    import numpy as np

    from dsp.antenna import load_pattern
    from dsp.bearing import floor_sigma_deg, scan_bearing
    out, taken = [], []
    if not len(idx):
        return None, np.array([], dtype=int)
    detected = idx[np.isfinite(data["rssi_dbm"][idx])]
    for scan in _scans(detected, x, y, data["heading_deg"]):
        taken.append(scan)
        antenna = data["antenna"][scan[0]] if "antenna" in data else ""
        try:
            pattern = load_pattern(antenna) if antenna else load_pattern()
            if freq_hz is None and len(pattern.freq_hz) > 1:
                pattern = pattern.at(pattern.freq_hz[len(pattern.freq_hz) // 2])
            elif freq_hz is not None:
                pattern = pattern.at(freq_hz)
            bearing, props = scan_bearing(data["heading_deg"][scan], data["rssi_dbm"][scan], pattern)
        except (ValueError, OSError) as exc:
            raise UserError(f"line {data['line'][scan[0]]}: rotation scan of {label}: {exc}") from None
        if props["rejected"] or props["ambiguous"] or not np.isfinite(props["sigma_deg"]):
            warn(f"{label}: rotation scan at line {data['line'][scan[0]]} not used "
                 f"({props['rejected'] or 'front/back ambiguous'})")
            continue
        out.append((x[scan].mean(), y[scan].mean(), bearing, floor_sigma_deg(props["sigma_deg"])))
    rows = np.concatenate(taken) if taken else np.array([], dtype=int)
    if not out:
        return None, rows
    return tuple(np.array(col) for col in zip(*out)), rows


#: Buildings listed under "buildings" hold at least this much posterior mass.
BUILDING_MIN_PROB = 0.01


def _building_probs(names, building_prob):
    """Posterior mass per building name (a name's polygons summed), most probable first."""
    total = {}
    for name, p in zip(names, building_prob):
        total[name] = total.get(name, 0.0) + float(p)
    return sorted(total.items(), key=lambda item: -item[1])


def _report(est, to_output, names=None, warn=None, label=""):
    out = to_output(est.x_m, est.y_m)
    out.update({
        "floor": est.floor,
        "ellipse": {k: round(v, 2) for k, v in est.ellipse.items()},
        "cep50_m": round(est.cep50_m, 2),
        "n_used": int(est.n_used),
    })
    if names is not None:
        ranked = _building_probs(names, est.building_prob)
        best, prob = ranked[0]
        if names[est.building] != best and warn:
            warn(f"{label}: {best} holds the most mass over all its polygons ({prob:.2f}), but "
                 f"the position is in the most probable single footprint, of {names[est.building]}")
        out["building"] = {"id": best, "prob": round(prob, 3)}
        out["buildings"] = [{"id": name, "prob": round(p, 3)} for name, p in ranked
                            if p >= BUILDING_MIN_PROB]
    return out


def _local_footprints(fp_path, csv_path, x, y, to_local, wgs84):
    """The footprints of ``fp_path`` as (N, 2) rings in the readings' local metres, and their
    building names; a UserError when none of them lies in the readings' area."""
    import numpy as np

    from dsp import locate
    from host.footprints_file import read_footprints
    names, rings = read_footprints(fp_path, wgs84=wgs84)
    if wgs84:
        rings = [np.column_stack(to_local(r[:, 1], r[:, 0])) for r in rings]
    # The area estimate_position searches by default; a footprint outside it can hold no mass.
    if not np.any(locate.footprint_owner(rings, locate.Grid.around(x, y))[1] >= 0):
        frame = ("[lon, lat] in degrees (RFC 7946), like the CSV's lat_deg/lon_deg" if wgs84 else
                 "[x_m, y_m] in the same local metres as the CSV's x_m/y_m")
        raise UserError(f"{fp_path}: none of the {len(rings)} footprints lies in the area of the "
                        f"readings in {csv_path}; the coordinates must be {frame}")
    return rings, names


def locate_file(path, *, noise_floor_dbm=None, freq_hz=None, footprints_path=None,
                position_sigma_m=None, warn=None):
    """The JSON-ready result of ``rfhound locate`` for one CSV file.

    With ``footprints_path`` (GeoJSON, `host.footprints_file`) every estimate
    is confined to the buildings and names the most probable one.
    """
    import numpy as np

    from dsp import geo, groups, locate
    from host.meascsv import read_measurements
    warn = warn or (lambda text: None)
    if position_sigma_m is not None and not (np.isfinite(position_sigma_m) and position_sigma_m > 0):
        raise UserError(f"--position-sigma-m must be a positive number of metres, got {position_sigma_m}")
    data = read_measurements(path)
    n = len(data["line"])
    if n == 0:
        raise UserError(f"{path}: no measurements after the header")
    wgs84 = "lat_deg" in data
    if wgs84:
        lat0, lon0 = geo.origin_of(data["lat_deg"], data["lon_deg"])

        def to_local(lat, lon):
            e, nn, _ = geo.enu_from_lla(lat, lon, 0.0, lat0, lon0, 0.0)
            return e, nn

        x, y = to_local(data["lat_deg"], data["lon_deg"])

        def to_output(e, nn):
            lat, lon, _ = geo.lla_from_enu(e, nn, 0.0, lat0, lon0, 0.0)
            return {"lat_deg": round(float(lat), 7), "lon_deg": round(float(lon), 7)}
    else:
        x, y = data["x_m"], data["y_m"]
        to_local = None

        def to_output(e, nn):
            return {"x_m": round(float(e), 2), "y_m": round(float(nn), 2)}

    polys = building_names = None
    if footprints_path is not None:
        polys, building_names = _local_footprints(footprints_path, path, x, y, to_local, wgs84)
    floor = data.get("floor")
    directional = np.isfinite(data["heading_deg"]) if "heading_deg" in data else np.zeros(n, bool)
    labels = list(dict.fromkeys(data["target"]))
    parts, results, located = {}, [], []
    for label in labels:
        mine = np.flatnonzero(data["target"] == label)
        mine = mine[np.argsort(data["time_s"][mine], kind="stable")]
        brg, scan_rows = _bearings(mine[directional[mine]], data, x, y, freq_hz, warn, label)
        omni = np.setdiff1d(mine, scan_rows, assume_unique=True)
        detected = omni[np.isfinite(data["rssi_dbm"][omni])]
        nf = noise_floor_dbm
        if nf is None and len(detected):
            nf = float(data["rssi_dbm"][detected].min())
        fl = floor[omni] if floor is not None and np.any(np.isfinite(floor[omni])) else None
        part = {"x_m": x[omni], "y_m": y[omni], "rssi_dbm": data["rssi_dbm"][omni],
                "floor": fl, "time_s": data["time_s"][omni]}
        try:
            est = locate.estimate_position(part["x_m"], part["y_m"], part["rssi_dbm"], floor=fl,
                                           noise_floor_dbm=nf, bearings=brg, footprints=polys,
                                           position_sigma_m=position_sigma_m)
        except (ValueError, np.linalg.LinAlgError) as exc:
            warn(f"target {label} not located: {exc}")
            continue
        parts[label] = (part, nf)
        results.append({"target": label, **_report(est, to_output, building_names, warn, label)})
        located.append((label, est))

    if not located:
        raise UserError(f"{path}: no target has enough readings to locate (5 or more detections "
                        f"or 2 rotation scans per target; the reasons per target are above)")
    out_groups = []
    members = groups.coincident_groups([[e.x_m, e.y_m] for _, e in located],
                                       [e.cov_m2 for _, e in located])
    for member in members:
        names = [located[i][0] for i in member if located[i][0] in parts]
        part_list = [parts[name][0] for name in names]
        if any(p["floor"] is None for p in part_list):
            part_list = [dict(p, floor=None) for p in part_list]
        nf = min(parts[name][1] for name in names if parts[name][1] is not None)
        try:
            est = groups.joint_estimate(part_list, noise_floor_dbm=nf, footprints=polys,
                                        position_sigma_m=position_sigma_m)
        except (ValueError, np.linalg.LinAlgError) as exc:
            warn(f"group {', '.join(names)} not estimated jointly: {exc}")
            continue
        out_groups.append({"targets": names, **_report(est, to_output, building_names, warn,
                                                         "+".join(names))})
    return {"targets": results, "groups": out_groups}


def _table(result):
    first = (result["targets"] or [{}])[0]
    pos = ("lat_deg", "lon_deg") if "lat_deg" in first else ("x_m", "y_m")
    head = ["target", *pos, "floor", "major_m", "minor_m", "orient_deg", "cep50_m", "n_used"]
    with_buildings = "building" in first
    if with_buildings:
        head.insert(len(pos) + 1, "building")
    lines = []
    for kind, rows in (("target", result["targets"]), ("group", result["groups"])):
        for r in rows:
            name = r["target"] if kind == "target" else "+".join(r["targets"])
            e = r["ellipse"]
            line = [name, *(str(r[p]) for p in pos), "-" if r["floor"] is None else str(r["floor"]),
                    f"{e['semi_major_m']:.1f}", f"{e['semi_minor_m']:.1f}",
                    f"{e['orientation_deg']:.0f}", f"{r['cep50_m']:.1f}", str(r["n_used"])]
            if with_buildings:
                line.insert(len(pos) + 1, f"{r['building']['id']} {r['building']['prob']:.2f}")
            lines.append(line)
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*l) for l in lines])


def run(args):
    def warn(text):
        print(f"rfhound locate: {text}", file=sys.stderr)
    result = locate_file(args.file, noise_floor_dbm=args.noise_floor_dbm, freq_hz=args.freq_hz,
                         footprints_path=args.footprints, position_sigma_m=args.position_sigma_m,
                         warn=warn)
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0
