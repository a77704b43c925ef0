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
    parser.add_argument("--map", metavar="IMAGE",
                        help="offline map image with a world file beside it (.pgw/.jgw/.wld)")
    parser.add_argument("--antenna", default=None,
                        help="antenna pattern id for rotation-scan bearings (hardware/antennas/)")
    parser.add_argument("--list-ports", action="store_true",
                        help="list the serial ports pyserial sees and exit")


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
    if args.map and not os.path.isfile(args.map):
        raise UserError(f"--map {args.map}: no such image file")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM")):
        raise UserError("no display: run it on a desktop session, or use "
                        "'rfhound replay SESSION --screenshot OUT.png'")
    from host.app import run_console

    return run_console(args.replay or args.port, speed=args.speed, record=args.record,
                       background=args.map, antenna=args.antenna)
