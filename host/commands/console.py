"""rfhound console: the operator console on a serial port, a session replay or nothing yet."""

import os

from host.errors import UserError

NAME = "console"
HELP = "open the operator console (live serial port, session replay, or pick a source in the window)"


def add_arguments(parser):
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--port", metavar="URL",
                     help="serial port or pyserial URL of the handheld (e.g. /dev/ttyACM0)")
    src.add_argument("--replay", metavar="SESSION", help="session file to replay")
    parser.add_argument("--record", metavar="SESSION",
                        help="record the live port to this new session file")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="replay speed, times real time (0 = as fast as possible)")
    add_city_arguments(parser)
    parser.add_argument("--antenna", default=None,
                        help="antenna pattern id for rotation-scan bearings (hardware/antennas/)")
    parser.add_argument("--list-ports", action="store_true",
                        help="list the serial ports pyserial sees and exit")


def add_city_arguments(parser, images=True):
    """``--buildings`` (alias ``--footprints``, ``--osm``) and ``--map``: the city under the
    hunt, shared by ``console``, ``replay`` and (tiles only, ``images=False``) ``ops``."""
    parser.add_argument("--buildings", "--footprints", "--osm", dest="buildings", metavar="FILE",
                        help="building footprints: GeoJSON ([lon, lat], RFC 7946) or an "
                             "OpenStreetMap extract (.osm, .osm.pbf); named by address")
    parser.add_argument("--map", metavar="MAP",
                        help="offline map: an .mbtiles file or an XYZ tile folder ({z}/{x}/{y}.png)"
                             + (", or an image with a world file beside it (.pgw/.jgw/.wld)"
                                if images else ""))


def read_city_arguments(args):
    """Check ``--buildings`` and ``--map`` before any window opens.

    Returns ``{"buildings_file": Buildings or None, "background": path or None}``
    for `host.app.run_console`; raises UserError with one line naming the problem.
    """
    from host.app import offline_map, tiles
    from host.footprints_file import read_buildings

    out = {"buildings_file": None, "background": None}
    if args.buildings:
        out["buildings_file"] = read_buildings(args.buildings)
    if args.map:
        if not os.path.exists(args.map):
            raise UserError(f"--map {args.map}: no such file or folder")
        try:
            if tiles.is_tile_source(args.map):
                tiles.open_tiles(args.map).close()
            else:
                offline_map.world_file_for(args.map)
        except offline_map.MapError as exc:
            raise UserError(f"--map {exc}") from None
        out["background"] = args.map
    return out


def run(args):
    if args.list_ports:
        from serial.tools import list_ports

        ports = list_ports.comports()
        for p in ports:
            print(f"{p.device}\t{p.description}")
        if not ports:
            print("no serial ports found; plug the handheld in (USB) and try again")
        return 0
    if args.record and not args.port:
        raise UserError("--record needs --port: only a live handheld can be recorded")
    if args.record and os.path.exists(args.record):
        raise UserError(f"--record {args.record}: file exists; choose a new name for a new session")
    if args.replay:
        from host.session import SessionError, SessionReader

        try:
            SessionReader(args.replay).close()
        except SessionError as exc:
            raise UserError(str(exc)) from None
    city = read_city_arguments(args)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM")):
        raise UserError("no display: run it on a desktop session, or use "
                        "'rfhound replay SESSION --screenshot OUT.png'")
    from host.app import run_console

    return run_console(args.replay or args.port, speed=args.speed, record=args.record,
                       antenna=args.antenna, **city)
